package supervise

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// piece is a Line in a compact form for tables: the text, then P for
// Partial and G for Gap.
func piece(ln Line) string {
	s := string(ln.Text)
	if ln.Partial {
		s += "+P"
	}
	if ln.Gap {
		s += "+G"
	}
	return s
}

// split feeds chunks to a splitter of the given max; "|GAP|" as a chunk
// stands for dropped output.
func split(max int, chunks ...string) []string {
	var got []string
	sp := newSplitter(Stdout, max, func(ln Line) { got = append(got, piece(ln)) })
	for _, c := range chunks {
		if c == "|GAP|" {
			sp.dropped()
			continue
		}
		sp.feed([]byte(c))
	}
	sp.flush()
	return got
}

func TestSplitter(t *testing.T) {
	tests := []struct {
		name   string
		max    int
		chunks []string
		want   []string
	}{
		{"newlines", 8, []string{"a\nb\n"}, []string{"a", "b"}},
		{"carriage returns", 8, []string{"\r 10%\r 20%\r100%\n"}, []string{"", " 10%", " 20%", "100%"}},
		{"CRLF is one ending", 8, []string{"a\r\nb\r\n"}, []string{"a", "b"}},
		{"CRLF across chunks", 8, []string{"a\r", "\nb\n"}, []string{"a", "b"}},
		{"CR then text across chunks", 8, []string{"a\r", "b\n"}, []string{"a", "b"}},
		{"CR CR", 8, []string{"\r\r"}, []string{"", ""}},
		{"empty lines", 8, []string{"\n\n"}, []string{"", ""}},
		{"LF CR", 8, []string{"a\n\rb\n"}, []string{"a", "", "b"}},
		{"line across chunks", 8, []string{"ab", "cd", "e\n"}, []string{"abcde"}},
		{"last line without ending", 8, []string{"a\ntail"}, []string{"a", "tail"}},
		{"long line in one chunk", 4, []string{"abcdefghij\n"}, []string{"abcd+P", "efgh+P", "ij"}},
		{"long line across chunks", 4, []string{"ab", "cdef\n"}, []string{"abcd+P", "ef"}},
		{"exactly max", 4, []string{"abcd\n"}, []string{"abcd"}},
		{"exactly max, ending in the next chunk", 4, []string{"abcd", "\n"}, []string{"abcd"}},
		{"exactly max, more in the next chunk", 4, []string{"abcd", "e\n"}, []string{"abcd+P", "e"}},
		{"long line without ending", 4, []string{"abcdefghi"}, []string{"abcd+P", "efgh+P", "i"}},
		{"gap cuts the line in progress", 8, []string{"ab", "|GAP|", "cd\nef\n"}, []string{"ab+P", "cd+G", "ef"}},
		{"gap at a line boundary", 8, []string{"ab\n", "|GAP|", "cd\n"}, []string{"ab", "cd+G"}},
		{"gap forgets a CR", 8, []string{"ab\r", "|GAP|", "\ncd\n"}, []string{"ab", "+G", "cd"}},
		{"empty chunk keeps a CR", 8, []string{"a\r", "", "\nb\n"}, []string{"a", "b"}},
		{"nothing", 8, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := split(tt.max, tt.chunks...)
			if strings.Join(got, "|") != strings.Join(tt.want, "|") || len(got) != len(tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// normalize is what a stream's lines say: every ending as "\n", and a last
// line without an ending ended.
func normalize(b []byte) []byte {
	b = bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n"))
	b = bytes.ReplaceAll(b, []byte("\r"), []byte("\n"))
	if len(b) > 0 && b[len(b)-1] != '\n' {
		b = append(b, '\n')
	}
	return b
}

func FuzzSplitter(f *testing.F) {
	f.Add([]byte("epoch 1\r 10%\r100%\nloss 0.5\r\n"), uint8(3), uint16(9))
	f.Add([]byte("abcdefghij\r\n\r\n\n"), uint8(4), uint16(4))
	f.Fuzz(func(t *testing.T, data []byte, max uint8, cut uint16) {
		m := int(max%16) + 1
		var whole, parts []Line
		collect := func(dst *[]Line) func(Line) {
			return func(ln Line) {
				ln.Text = bytes.Clone(ln.Text)
				*dst = append(*dst, ln)
			}
		}
		a := newSplitter(Stdout, m, collect(&whole))
		a.feed(data)
		a.flush()
		b := newSplitter(Stdout, m, collect(&parts))
		c := int(cut) % (len(data) + 1)
		b.feed(data[:c])
		b.feed(data[c:])
		b.flush()

		var rebuilt []byte
		for _, ln := range whole {
			if len(ln.Text) > m || ln.Partial && len(ln.Text) != m || ln.Gap {
				t.Fatalf("bad line %+v (max %d)", ln, m)
			}
			if bytes.ContainsAny(ln.Text, "\r\n") {
				t.Fatalf("line holds an ending: %q", ln.Text)
			}
			rebuilt = append(rebuilt, ln.Text...)
			if !ln.Partial {
				rebuilt = append(rebuilt, '\n')
			}
		}
		if want := normalize(data); !bytes.Equal(rebuilt, want) {
			t.Fatalf("lines rebuild %q, want %q", rebuilt, want)
		}
		if fmt.Sprint(whole) != fmt.Sprint(parts) {
			t.Fatalf("split at %d changes the lines:\n%v\n%v", c, whole, parts)
		}
	})
}

func TestSideQueueDropsOldest(t *testing.T) {
	sq := newSideQueue(3*chunkCost + 30)
	for i := range 5 {
		s := Stdout
		if i == 2 {
			s = Stderr
		}
		sq.push(int(s), s, bytes.Repeat([]byte{byte('a' + i)}, smallSize)) // each fills a chunk
	}
	sq.close()
	var got []string
	for {
		c, ok := sq.pop()
		if !ok {
			break
		}
		got = append(got, fmt.Sprintf("%c%d:%t", c.buf[0], c.stream, c.gap))
	}
	// Only the newest chunk fits the limit; the rest went, oldest first,
	// and the next chunk of each stream that lost one is marked.
	if want := []string{"e1:true"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if sq.droppedBytes() != 4*smallSize {
		t.Errorf("dropped %d, want %d", sq.droppedBytes(), 4*smallSize)
	}
	// The stream that lost its only chunk marks its next one.
	sq2 := newSideQueue(0)
	sq2.push(int(Stderr), Stderr, []byte("x"))
	sq2.push(int(Stdout), Stdout, []byte("y")) // drops the stderr chunk
	sq2.push(int(Stderr), Stderr, []byte("z"))
	sq2.close()
	var got2 []string
	for c, ok := sq2.pop(); ok; c, ok = sq2.pop() {
		got2 = append(got2, fmt.Sprintf("%s%d:%t", c.buf, c.stream, c.gap))
	}
	if want := []string{"z2:true"}; fmt.Sprint(got2) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", got2, want)
	}
}

// A full read is handed over without a copy; a small one is copied so its
// read buffer can be reused at once.
func TestSideQueueTake(t *testing.T) {
	sq := newSideQueue(4 * readSize)
	big := readPool.Get().(*chunk)
	big.buf = append(big.buf[:0], bytes.Repeat([]byte("x"), handoffMin)...)
	big.src, big.stream = int(Stdout), Stdout
	if next := sq.take(big); next == big {
		t.Error("a full read was not handed over")
	}
	small := readPool.Get().(*chunk)
	small.buf = append(small.buf[:0], "tail"...)
	small.src, small.stream = int(Stderr), Stderr
	if next := sq.take(small); next != small {
		t.Error("a small read was handed over")
	}
	sq.close()
	c1, _ := sq.pop()
	c2, _ := sq.pop()
	if c1 != big || c1.stream != Stdout || string(c2.buf) != "tail" || c2.stream != Stderr || cap(c2.buf) != smallSize {
		t.Errorf("queued %d bytes of %v, then %q of %v", len(c1.buf), c1.stream, c2.buf, c2.stream)
	}
}

func TestSideQueueCoalesces(t *testing.T) {
	sq := newSideQueue(1 << 20)
	sq.push(int(Stdout), Stdout, []byte("ab"))
	sq.push(int(Stdout), Stdout, []byte("cd"))
	sq.push(int(Stderr), Stderr, []byte("ef"))
	sq.push(int(Stdout), Stdout, []byte("gh"))
	sq.push(int(Stdout), Stdout, bytes.Repeat([]byte("i"), smallSize)) // fills the chunk, spills into a new one
	sq.close()
	var got []string
	for c, ok := sq.pop(); ok; c, ok = sq.pop() {
		got = append(got, fmt.Sprintf("%s%d", c.buf, c.stream))
	}
	if want := []string{"abcd1", "ef2", "gh" + strings.Repeat("i", smallSize-2) + "1", "ii1"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func BenchmarkSplitter(b *testing.B) {
	for _, bc := range []struct {
		name string
		line string
	}{
		{"short lines", strings.Repeat("x", 99) + "\n"},
		{"progress bars", " 42%|####      | 420/1000 [00:42<00:58, 10.00it/s]\r"},
		{"10MB lines", strings.Repeat("y", 10_000_000-1) + "\n"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			buf := []byte(strings.Repeat(bc.line, max(1, (256<<10)/len(bc.line))))
			sp := newSplitter(Stdout, MaxLineBytes, func(Line) {})
			b.SetBytes(int64(len(buf)))
			for b.Loop() {
				sp.feed(buf)
			}
		})
	}
}
