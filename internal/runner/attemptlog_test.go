package runner

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
)

// writeLog writes data through an attemptLog in pieces of the given sizes
// (cycled) and returns what the file holds after Close.
func writeLog(t *testing.T, limit int64, data []byte, pieces []int) []byte {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "attempt-1.log")
	l := newAttemptLog(path, limit)
	for i, rest := 0, data; len(rest) > 0; i++ {
		n := min(pieces[i%len(pieces)], len(rest))
		if got, err := l.Write(rest[:n]); err != nil || got != n {
			t.Fatalf("Write(%d bytes) = %d, %v", n, got, err)
		}
		rest = rest[n:]
	}
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) == 0 {
		// Nothing printed: no file at all.
		if len(entries) != 0 || l.Created() {
			t.Fatalf("an attempt that printed nothing left %v (Created %v), want no file", entries, l.Created())
		}
		return nil
	}
	if !l.Created() {
		t.Fatal("Created() is false after a write")
	}
	if len(entries) != 1 {
		t.Fatalf("the run folder holds %d files after Close, want only the log: %v", len(entries), entries)
	}
	out, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

var omittedNote = regexp.MustCompile(`\n\[rocm-patch: (\d+) bytes of output left out of this log here; it keeps the first [^\]]+ and the last [^\]]+ of each attempt \(--log-limit\)\]\n`)

// checkCapped verifies the log is the input's head, a note naming how many
// bytes were left out, and the input's tail, and that it keeps at least
// the head plus half the tail budget.
func checkCapped(t *testing.T, limit int64, data, got []byte) {
	t.Helper()
	if int64(len(data)) <= limit/logHeadShare {
		if !bytes.Equal(got, data) {
			t.Fatalf("a log within its head budget must be the output unchanged (%d bytes in, %d out)", len(data), len(got))
		}
		return
	}
	head := limit / logHeadShare
	if !bytes.HasPrefix(got, data[:head]) {
		t.Fatalf("the log does not start with the first %d bytes of output", head)
	}
	rest := got[head:]
	loc := omittedNote.FindSubmatchIndex(rest)
	var tail []byte
	switch {
	case loc == nil:
		// Nothing was left out: the whole output is there.
		if !bytes.Equal(got, data) {
			t.Fatalf("no note, yet the log (%d bytes) differs from the output (%d bytes)", len(got), len(data))
		}
		return
	case loc[0] != 0:
		t.Fatalf("the note does not follow the head directly: %q", rest[:min(len(rest), 80)])
	default:
		tail = rest[loc[1]:]
	}
	omitted, _ := strconv.ParseInt(string(rest[loc[2]:loc[3]]), 10, 64)
	if int64(len(data)) != head+omitted+int64(len(tail)) {
		t.Fatalf("head %d + omitted %d + tail %d != output %d", head, omitted, len(tail), len(data))
	}
	if !bytes.HasSuffix(data, tail) {
		t.Fatalf("the log's tail (%d bytes) is not the end of the output", len(tail))
	}
	segMax := (limit - head) / 2
	if int64(len(tail)) < segMax || int64(len(tail)) > 2*segMax {
		t.Fatalf("tail of %d bytes, want between %d and %d", len(tail), segMax, 2*segMax)
	}
}

func TestAttemptLogKeepsHeadAndTail(t *testing.T) {
	data := make([]byte, 1<<20)
	for i := range data {
		data[i] = "abcdefghij\n"[i%11]
	}
	// Line numbers make every position distinct, so a wrong piece shows.
	copy(data, []byte("first line\n"))
	copy(data[len(data)-len("the fault\n"):], "the fault\n")
	tests := []struct {
		name   string
		limit  int64
		size   int
		pieces []int
	}{
		{"unlimited", -1, len(data), []int{4096}},
		{"within the head", 64 << 10, 10 << 10, []int{100}},
		{"exactly the head", 64 << 10, 16 << 10, []int{16 << 10}},
		{"head plus a little", 64 << 10, 20 << 10, []int{777}},
		{"fills one segment", 64 << 10, 40 << 10, []int{4096}},
		{"many segment switches, small writes", 64 << 10, len(data), []int{1, 3, 1000, 65536}},
		{"writes larger than the whole limit", 64 << 10, len(data), []int{300 << 10}},
		{"tiny limit", 8, 1000, []int{7}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := data[:tt.size]
			got := writeLog(t, tt.limit, in, tt.pieces)
			if tt.limit < 0 {
				if !bytes.Equal(got, in) {
					t.Fatalf("an unlimited log must keep every byte: %d in, %d out", len(in), len(got))
				}
				return
			}
			checkCapped(t, tt.limit, in, got)
			if int64(len(in)) > tt.limit && !bytes.HasSuffix(got, []byte("the fault\n")) && tt.size == len(data) {
				t.Fatal("the last line of output is not at the end of the log")
			}
		})
	}
}

func FuzzAttemptLog(f *testing.F) {
	f.Add(int64(100), uint64(1), 5000)
	f.Add(int64(7), uint64(2), 300)
	f.Add(int64(4096), uint64(3), 4096)
	f.Fuzz(func(t *testing.T, limit int64, seed uint64, size int) {
		if limit < 4 || limit > 1<<16 || size < 0 || size > 1<<18 {
			t.Skip()
		}
		r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
		data := make([]byte, size)
		for i := range data {
			data[i] = byte('a' + r.IntN(26))
		}
		pieces := []int{1 + r.IntN(5000), 1 + r.IntN(50), 1 + r.IntN(int(limit))}
		checkCapped(t, limit, data, writeLog(t, limit, data, pieces))
	})
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr bool
	}{
		{"0", 0, false},
		{"4096", 4096, false},
		{"64M", 64 << 20, false},
		{"64MiB", 64 << 20, false},
		{"64mb", 64 << 20, false},
		{"2 G", 2 << 30, false},
		{"512k", 512 << 10, false},
		{"10B", 10, false},
		{"", 0, true},
		{"M", 0, true},
		{"-1", 0, true},
		{"1.5G", 0, true},
		{"12T", 0, true},
		{"99999999999999999999", 0, true},
		{"9999999999999G", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseSize(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"0", "64M", "1KiB", " 7 g ", "x", "1e9", "9223372036854775807"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseSize(s)
		if err != nil {
			return
		}
		if n < 0 {
			t.Fatalf("ParseSize(%q) = %d, negative", s, n)
		}
		// What FormatSize writes for a whole number of K reads back the same.
		if n >= 1024 && n%1024 == 0 {
			f := FormatSize(n)
			if back, err := ParseSize(f); err != nil || back != n {
				t.Fatalf("FormatSize(%d) = %q reads back as %d, %v", n, f, back, err)
			}
		}
	})
}

// TestAttemptLogFileOnFirstWrite checks that the log file appears with the
// first byte of output, not before, and that a log that cannot be created
// says so from Write and again from Close.
func TestAttemptLogFileOnFirstWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "attempt-1.log")
	l := newAttemptLog(path, DefaultLogLimit)
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("the log exists before any output: %v", err)
	}
	if writeLog(t, DefaultLogLimit, nil, []int{1}) != nil {
		t.Fatal("an empty log returned content")
	}
	if _, err := l.Write([]byte("x\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("no log after the first write: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	bad := newAttemptLog(filepath.Join(dir, "missing", "attempt-1.log"), DefaultLogLimit)
	if _, err := bad.Write([]byte("x")); err == nil {
		t.Fatal("Write into a missing folder succeeded")
	}
	if bad.Created() {
		t.Error("Created() is true for a log that could not be made")
	}
	if err := bad.Close(); err == nil {
		t.Error("Close hid the error that stopped the log")
	}
}
