package supervise

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/rocm-patch/rocm-patch/internal/testutil"
)

var (
	// testprog is the helper child (testutil.BuildTestprog).
	testprog string
	long     = flag.Bool("long", false, "also pass 1 GiB of 10 MB lines through Run")
)

// TestMain builds the helper child once.
func TestMain(m *testing.M) {
	flag.Parse()
	path, cleanup, err := testutil.BuildTestprog()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testprog = path
	code := m.Run()
	cleanup()
	os.Exit(code)
}

// lineLog records what OnLine saw. Its calls come from Run's line
// goroutine while the test reads it from another.
type lineLog struct {
	mu    sync.Mutex
	lines []Line
	hook  func(Line) // called, unlocked, after each line is recorded
}

func (l *lineLog) onLine(ln Line) {
	ln.Text = bytes.Clone(ln.Text)
	l.mu.Lock()
	l.lines = append(l.lines, ln)
	hook := l.hook
	l.mu.Unlock()
	if hook != nil {
		hook(ln)
	}
}

func (l *lineLog) texts() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]string, len(l.lines))
	for i, ln := range l.lines {
		out[i] = string(ln.Text)
	}
	return out
}

func (l *lineLog) has(stream Stream, text string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, ln := range l.lines {
		if ln.Stream == stream && string(ln.Text) == text {
			return true
		}
	}
	return false
}

// syncBuffer is a bytes.Buffer that two goroutines may write.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
