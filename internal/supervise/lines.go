package supervise

import (
	"bytes"
	"sync"
)

// Stream names the child's output stream a Line came from.
type Stream uint8

const (
	// Stdout is the child's standard output. A child on a pseudo-terminal
	// writes stdout and stderr into the same terminal, and both arrive as
	// the stream of the user's terminal (Stdout when the user's stdout is
	// one).
	Stdout Stream = 1
	// Stderr is the child's standard error.
	Stderr Stream = 2
)

// String returns "stdout" or "stderr".
func (s Stream) String() string {
	switch s {
	case Stdout:
		return "stdout"
	case Stderr:
		return "stderr"
	}
	return "stream?"
}

// MaxLineBytes is the most bytes one Line carries. A longer line is not cut
// short: it reaches OnLine as consecutive pieces of MaxLineBytes with Partial
// set, then the rest, so a matcher sees every byte while the supervisor
// holds at most MaxLineBytes of any one line.
const MaxLineBytes = 64 << 10

// Line is one line of the child's output as OnLine sees it. A line ends at
// "\n", at "\r" (progress bars redraw with a bare carriage return) or at
// "\r\n", which counts as one ending. Empty lines are delivered too.
type Line struct {
	// Text is the line without its ending. It is only valid during the
	// OnLine call: copy it to keep it.
	Text []byte
	// Stream is the stream the line was written to.
	Stream Stream
	// Partial says Text is not the whole line: the line was longer than
	// MaxLineBytes and the next Line of the same Stream continues it, or
	// output after it was dropped and the next Line has Gap set.
	Partial bool
	// Gap says output of this Stream was dropped right before this Line
	// because OnLine fell behind, so Text may start in the middle of a line.
	Gap bool
}

// splitter cuts one stream's bytes into Lines. It runs on the side
// goroutine, never on the path that copies bytes to the user.
type splitter struct {
	stream  Stream
	max     int
	pending []byte // head of the current line, at most max bytes
	cr      bool   // the last byte fed was '\r': a '\n' right after it ends nothing
	gap     bool   // the next Line gets Gap
	emit    func(Line)
}

func newSplitter(stream Stream, max int, emit func(Line)) *splitter {
	return &splitter{stream: stream, max: max, emit: emit}
}

// feed splits b. Lines that lie wholly inside b are passed on without a
// copy; only a line that spans calls is gathered in pending. The next '\n'
// and '\r' positions are remembered across lines so that a stretch of
// progress bars without '\n' (or long text without '\r') is scanned once,
// not once per line.
func (s *splitter) feed(b []byte) {
	if len(b) == 0 {
		return
	}
	off := 0
	if s.cr && b[0] == '\n' {
		off = 1
	}
	s.cr = false
	nextNL, nextCR := -1, -1
	for off < len(b) {
		if nextNL < off {
			nextNL = indexFrom(b, off, '\n')
		}
		if nextCR < off {
			nextCR = indexFrom(b, off, '\r')
		}
		end := min(nextNL, nextCR)
		if end == len(b) {
			s.text(b[off:], false)
			return
		}
		s.text(b[off:end], true)
		off = end + 1
		if b[end] == '\r' {
			if off == len(b) {
				s.cr = true
			} else if b[off] == '\n' {
				off++
			}
		}
	}
}

// indexFrom returns the index of c in b at or after off, or len(b).
func indexFrom(b []byte, off int, c byte) int {
	if i := bytes.IndexByte(b[off:], c); i >= 0 {
		return off + i
	}
	return len(b)
}

// text adds t to the current line; ends says the line ends after t.
func (s *splitter) text(t []byte, ends bool) {
	for {
		if len(s.pending) == 0 {
			if len(t) <= s.max {
				if ends {
					s.send(t, false)
				} else if len(t) > 0 {
					if s.pending == nil {
						s.pending = make([]byte, 0, s.max)
					}
					s.pending = append(s.pending, t...)
				}
				return
			}
			s.send(t[:s.max], true)
			t = t[s.max:]
			continue
		}
		room := s.max - len(s.pending)
		if len(t) <= room {
			s.pending = append(s.pending, t...)
			if ends {
				s.send(s.pending, false)
				s.pending = s.pending[:0]
			}
			return
		}
		s.pending = append(s.pending, t[:room]...)
		t = t[room:]
		s.send(s.pending, true)
		s.pending = s.pending[:0]
	}
}

func (s *splitter) send(text []byte, partial bool) {
	s.emit(Line{Text: text, Stream: s.stream, Partial: partial, Gap: s.gap})
	s.gap = false
}

// dropped tells the splitter that output was lost before the next feed:
// the line in progress is passed on as a cut piece and the next Line is
// marked as following a gap.
func (s *splitter) dropped() {
	if len(s.pending) > 0 {
		s.send(s.pending, true)
		s.pending = s.pending[:0]
	}
	s.cr = false
	s.gap = true
}

// flush passes on a last line that had no ending.
func (s *splitter) flush() {
	if len(s.pending) > 0 {
		s.send(s.pending, false)
		s.pending = s.pending[:0]
	}
}

// sideLimit is how many bytes of buffers may wait for OnLine before the
// oldest are dropped. The newest are kept on purpose: the line that names a
// crash comes last, right before the child dies. A variable so tests can
// make a slow consumer drop sooner.
var sideLimit = 8 << 20

const (
	// readSize is the buffer each output stream is read into, as large as
	// the pipe (see newPipe) so a full pipe is emptied in one read. A read
	// of at least handoffMin is handed to the line goroutine as it is,
	// without a copy, and the reader takes a fresh buffer; smaller ones
	// are copied, so that they do not each hold a whole buffer.
	readSize   = 1 << 20
	handoffMin = readSize / 8
	// smallSize is the capacity of the buffers that smaller reads are
	// copied into; consecutive small reads of one stream share one.
	smallSize = 16 << 10
	// chunkCost is charged per chunk on top of its capacity.
	chunkCost = 64
)

// maxSources is the most output sources one run reads: a pipe for
// stdout, one for stderr, and a pseudo-terminal.
const maxSources = 3

// A chunk is a piece of one source's output on its way to the splitter.
// Sources, not streams, keep their own line state: with a terminal on
// stdin alone, the pseudo-terminal and the stderr pipe both count as
// stderr, and their bytes must not be joined into one line.
type chunk struct {
	src    int // index of the source, below maxSources
	stream Stream
	buf    []byte
	gap    bool // output of this source was dropped right before this chunk
}

func (c *chunk) cost() int { return cap(c.buf) + chunkCost }

var (
	readPool  = sync.Pool{New: func() any { return &chunk{buf: make([]byte, 0, readSize)} }}
	smallPool = sync.Pool{New: func() any { return &chunk{buf: make([]byte, 0, smallSize)} }}
)

// recycle returns a chunk's buffer for reuse.
func recycle(c *chunk) {
	c.buf, c.gap = c.buf[:0], false
	switch cap(c.buf) {
	case readSize:
		readPool.Put(c)
	case smallSize:
		smallPool.Put(c)
	}
}

// sideQueue hands output from the copying goroutines to the line
// goroutine. Pushing never waits for the consumer: when the buffers queued
// exceed limit (counted by capacity, which is the memory they hold) the
// oldest chunks are dropped and counted.
type sideQueue struct {
	mu      sync.Mutex
	cond    sync.Cond
	q       []*chunk
	bytes   int
	limit   int
	dropped int64
	gapNext [maxSources]bool // per source: the next chunk pushed follows a drop
	closed  bool
}

func newSideQueue(limit int) *sideQueue {
	sq := &sideQueue{limit: limit}
	sq.cond.L = &sq.mu
	return sq
}

// take queues the output in c.buf (of source c.src), taking c over when
// the read filled enough of it to be worth passing on whole. It returns the
// buffer the caller may reuse: c again, or a fresh one.
func (sq *sideQueue) take(c *chunk) *chunk {
	if len(c.buf) < handoffMin {
		sq.push(c.src, c.stream, c.buf)
		return c
	}
	sq.mu.Lock()
	sq.enqueue(c)
	sq.mu.Unlock()
	sq.cond.Signal()
	return readPool.Get().(*chunk)
}

// push copies b into the queue, into the newest chunk when it is of the
// same source, not yet taken by the consumer, and has room.
func (sq *sideQueue) push(src int, stream Stream, b []byte) {
	sq.mu.Lock()
	for len(b) > 0 {
		if n := len(sq.q); n > 0 {
			if t := sq.q[n-1]; t.src == src && cap(t.buf) == smallSize && len(t.buf) < smallSize {
				k := min(len(b), smallSize-len(t.buf))
				t.buf = append(t.buf, b[:k]...)
				b = b[k:]
				continue
			}
		}
		c := smallPool.Get().(*chunk)
		c.src, c.stream = src, stream
		k := min(len(b), smallSize)
		c.buf = append(c.buf[:0], b[:k]...)
		b = b[k:]
		sq.enqueue(c)
	}
	sq.mu.Unlock()
	sq.cond.Signal()
}

// enqueue appends c and drops the oldest chunks while over the limit,
// never the newest. sq.mu is held.
func (sq *sideQueue) enqueue(c *chunk) {
	c.gap = sq.gapNext[c.src]
	sq.gapNext[c.src] = false
	sq.q = append(sq.q, c)
	sq.bytes += c.cost()
	for sq.bytes > sq.limit && len(sq.q) > 1 {
		old := sq.q[0]
		sq.q[0] = nil
		sq.q = sq.q[1:]
		sq.bytes -= old.cost()
		sq.dropped += int64(len(old.buf))
		marked := false
		for _, next := range sq.q {
			if next.src == old.src {
				next.gap = true
				marked = true
				break
			}
		}
		if !marked {
			sq.gapNext[old.src] = true
		}
		recycle(old)
	}
}

// pop waits for the oldest chunk; ok is false once the queue is closed
// and empty.
func (sq *sideQueue) pop() (c *chunk, ok bool) {
	sq.mu.Lock()
	defer sq.mu.Unlock()
	for len(sq.q) == 0 {
		if sq.closed {
			return nil, false
		}
		sq.cond.Wait()
	}
	c = sq.q[0]
	sq.q[0] = nil
	sq.q = sq.q[1:]
	sq.bytes -= c.cost()
	return c, true
}

func (sq *sideQueue) close() {
	sq.mu.Lock()
	sq.closed = true
	sq.mu.Unlock()
	sq.cond.Broadcast()
}

func (sq *sideQueue) droppedBytes() int64 {
	sq.mu.Lock()
	defer sq.mu.Unlock()
	return sq.dropped
}

// consumeLines runs on the side goroutine: it splits every chunk and calls
// onLine, until the queue is closed and empty.
func consumeLines(sq *sideQueue, onLine func(Line)) {
	var splitters [maxSources]*splitter
	for {
		c, ok := sq.pop()
		if !ok {
			break
		}
		sp := splitters[c.src]
		if sp == nil {
			sp = newSplitter(c.stream, MaxLineBytes, onLine)
			splitters[c.src] = sp
		}
		if c.gap {
			sp.dropped()
		}
		sp.feed(c.buf)
		recycle(c)
	}
	for _, sp := range splitters {
		if sp != nil {
			sp.flush()
		}
	}
}
