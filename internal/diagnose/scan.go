package diagnose

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
)

const (
	// chunkSize is the unit of reading and of parallel prefiltering. A
	// scan holds at most Workers+2 chunks and one carry buffer, whatever
	// the size of the log.
	chunkSize = 1 << 20
	// maxSegment bounds the bytes of one line that are normalised and
	// matched around a literal; longer lines are matched in windows of
	// this size and still counted whole.
	maxSegment = 64 << 10
	// maxJoin bounds each half of a two-line join.
	maxJoin = 4 << 10
	// blankLimit is how many blank lines a join may skip.
	blankLimit = 2
)

// Input is one log stream. Name is shown with evidence lines when several
// inputs are scanned together; it may be empty for a single one. A stream
// that starts with the gzip magic bytes is decompressed transparently.
type Input struct {
	Name string
	R    io.Reader
}

// ErrClosed is returned by Session.Write after Result.
var ErrClosed = errors.New("diagnose: session already finished")

// chunk is one buffer of a stream, cut at a line separator.
type chunk struct {
	buf  []byte
	data []byte
	hits []hit
	done chan struct{}
}

// Scan reads every input to its end, in order, and returns the matches.
// Memory use is bounded by (Workers+3) chunks of 1 MiB, whatever the size
// of the inputs. It stops early only when ctx is done or a read fails.
func (m *Matcher) Scan(ctx context.Context, inputs ...Input) (*Result, error) {
	st := m.newState()
	for i, in := range inputs {
		st.beginFile(in.Name, i)
		if err := m.scanOne(ctx, st, in.R); err != nil {
			name := in.Name
			if name == "" {
				name = "input"
			}
			return nil, fmt.Errorf("diagnose: %s: %w", name, err)
		}
		st.endFile()
	}
	return st.result(len(inputs)), nil
}

// ScanBytes is Scan over one in-memory log; a convenience for tests and
// small inputs.
func (m *Matcher) ScanBytes(data []byte) *Result {
	res, err := m.Scan(context.Background(), Input{R: bytes.NewReader(data)})
	if err != nil {
		// A bytes.Reader cannot fail; keep the contract of never
		// panicking by returning an empty result.
		return &Result{}
	}
	return res
}

func (m *Matcher) scanOne(ctx context.Context, st *state, r io.Reader) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var src io.Reader = br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("gzip: %w", err)
		}
		defer zr.Close()
		src = zr
	}
	return m.pipeline(ctx, st, src)
}

// pipeline reads chunks on one goroutine, prefilters them on Workers
// goroutines, and consumes them in order on the caller's goroutine.
func (m *Matcher) pipeline(ctx context.Context, st *state, src io.Reader) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	workers := m.opts.Workers
	nbuf := workers + 2
	pool := make(chan *chunk, nbuf)
	for range nbuf {
		pool <- m.chunks.Get().(*chunk)
	}
	defer func() {
		// Every chunk is back in the pool channel once the consumer and
		// the reader are done; keep them for the next scan.
		for range nbuf {
			m.chunks.Put(<-pool)
		}
	}()
	work := make(chan *chunk, nbuf)
	order := make(chan *chunk, nbuf)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range work {
				c.hits = m.pf.scan(c.data, c.hits[:0])
				close(c.done)
			}
		}()
	}
	readErr := make(chan error, 1)
	go func() {
		defer close(order)
		defer close(work)
		readErr <- readChunks(ctx, src, pool, work, order)
	}()
	for c := range order {
		<-c.done
		if ctx.Err() == nil {
			st.consume(c.data, c.hits, false)
		}
		pool <- c
	}
	wg.Wait()
	if err := <-readErr; err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	st.finishStream()
	return nil
}

// readChunks fills pooled buffers from src, cuts each after its last line
// separator and carries the rest into the next one. A buffer with no
// separator at all (a line longer than a chunk) is cut where it ends.
func readChunks(ctx context.Context, src io.Reader, pool chan *chunk, work, order chan<- *chunk) error {
	var carry []byte
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		c := <-pool
		n := copy(c.buf, carry)
		carry = carry[:0]
		eof := false
		for n < len(c.buf) {
			k, err := src.Read(c.buf[n:])
			n += k
			if errors.Is(err, io.EOF) {
				eof = true
				break
			}
			if err != nil {
				pool <- c
				return err
			}
			if k == 0 {
				// A reader that returns nothing without an error must
				// not spin us forever; treat it as a short read.
				if err := ctx.Err(); err != nil {
					pool <- c
					return err
				}
			}
		}
		cut := n
		if !eof {
			if j := lastSeparator(c.buf[:n]); j >= 0 {
				cut = j + 1
			}
		}
		carry = append(carry, c.buf[cut:n]...)
		c.data = c.buf[:cut]
		c.done = make(chan struct{})
		order <- c
		work <- c
		if eof {
			return nil
		}
	}
}

// lastSeparator returns the index of the last '\n' or '\r', or -1.
func lastSeparator(b []byte) int {
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == '\n' || b[i] == '\r' {
			return i
		}
	}
	return -1
}

func isSep(c byte) bool { return c == '\n' || c == '\r' }

// Session diagnoses a stream pushed to it with Write, for callers that
// already copy a child's output somewhere (rocm-patch run). It is not safe
// for concurrent use; it buffers at most one chunk.
type Session struct {
	m      *Matcher
	st     *state
	buf    []byte
	hits   []hit
	closed bool
}

// NewSession starts a push-mode diagnosis of one stream named name.
// Compressed data is not detected here: write text.
func (m *Matcher) NewSession(name string) *Session {
	st := m.newState()
	st.beginFile(name, 0)
	return &Session{m: m, st: st, buf: make([]byte, 0, chunkSize)}
}

// Write consumes p. It never retains p and always accepts all of it.
func (s *Session) Write(p []byte) (int, error) {
	if s.closed {
		return 0, ErrClosed
	}
	total := len(p)
	for len(p) > 0 {
		room := chunkSize - len(s.buf)
		take := min(room, len(p))
		s.buf = append(s.buf, p[:take]...)
		p = p[take:]
		if len(s.buf) >= chunkSize/4 {
			s.flush(false)
		}
	}
	return total, nil
}

// flush processes the buffered complete lines (all of the buffer when
// final, or when it is full and holds no separator).
func (s *Session) flush(final bool) {
	cut := len(s.buf)
	if !final {
		if j := lastSeparator(s.buf); j >= 0 {
			cut = j + 1
		} else if len(s.buf) < chunkSize {
			return
		}
	}
	data := s.buf[:cut]
	s.hits = s.m.pf.scan(data, s.hits[:0])
	s.st.consume(data, s.hits, false)
	rest := copy(s.buf, s.buf[cut:])
	s.buf = s.buf[:rest]
}

// Result finishes the session and returns the diagnosis. Later Writes
// fail with ErrClosed; later Results return the same diagnosis.
func (s *Session) Result() *Result {
	if !s.closed {
		s.flush(true)
		s.st.finishStream()
		s.st.endFile()
		s.closed = true
	}
	return s.st.result(1)
}
