package supervise

import (
	"bytes"
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// userTerminal is a pseudo-terminal standing in for the user's terminal:
// tty is what Run gets as the user's streams, and everything written to it
// is read back from the master. Output processing and echo are off so the
// bytes read back are exactly the bytes Run wrote.
type userTerminal struct {
	master, tty *os.File
	mu          sync.Mutex
	out         bytes.Buffer
	done        chan struct{}
}

func newUserTerminal(t *testing.T, rows, cols uint16) *userTerminal {
	t.Helper()
	master, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	tio, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	tio.Oflag &^= unix.OPOST
	tio.Lflag &^= unix.ECHO
	if err := unix.IoctlSetTermios(int(tty.Fd()), unix.TCSETS, tio); err != nil {
		t.Fatal(err)
	}
	if err := pty.Setsize(master, &pty.Winsize{Rows: rows, Cols: cols}); err != nil {
		t.Fatal(err)
	}
	u := &userTerminal{master: master, tty: tty, done: make(chan struct{})}
	go func() {
		defer close(u.done)
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			u.mu.Lock()
			u.out.Write(buf[:n])
			u.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { u.close() })
	return u
}

// waitFor waits until the terminal has shown s.
func (u *userTerminal) waitFor(t *testing.T, s string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		u.mu.Lock()
		ok := strings.Contains(u.out.String(), s)
		u.mu.Unlock()
		if ok {
			return
		}
	}
	t.Errorf("terminal never showed %q", s)
}

// close ends the terminal and returns all it showed.
func (u *userTerminal) close() string {
	u.tty.Close()
	<-u.done
	u.master.Close()
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.out.String()
}

// The child of a supervisor on a terminal sees a terminal on all three
// streams, of the user's size; its progress bar reaches the user byte for
// byte; what the user types reaches it, once, and ^D ends its input.
func TestTerminalChild(t *testing.T) {
	u := newUserTerminal(t, 33, 101)
	var lines lineLog
	type ran struct {
		res Result
		err error
	}
	done := make(chan ran, 1)
	go func() {
		res, err := Run(context.Background(), Spec{
			Argv:  []string{testprog, "tty"},
			Stdin: u.tty, Stdout: u.tty, Stderr: u.tty,
			OnLine: lines.onLine,
		})
		done <- ran{res, err}
	}()
	u.waitFor(t, "prompt> ")
	// A cooked terminal hands over a line at Enter, and end of input at
	// ^D on an empty line.
	if _, err := u.master.Write([]byte("hello\n")); err != nil {
		t.Fatal(err)
	}
	u.waitFor(t, `got "hello"`)
	if _, err := u.master.Write([]byte{4}); err != nil {
		t.Fatal(err)
	}
	var r ran
	select {
	case r = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after end of input")
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
	shown := u.close()
	want := "stdin=true stdout=true stderr=true rows=33 cols=101\n" +
		"\r 50%|#    |\r100%|##|\n" +
		"prompt> got \"hello\"\neof\n"
	if shown != want {
		t.Errorf("terminal showed %q\nwant %q", shown, want)
	}
	if !r.res.Terminal || r.res.ExitCode != 0 {
		t.Errorf("result %+v", r.res)
	}
	wantLines := []string{"stdin=true stdout=true stderr=true rows=33 cols=101", "", " 50%|#    |", "100%|##|", `prompt> got "hello"`, "eof"}
	if got := lines.texts(); strings.Join(got, "|") != strings.Join(wantLines, "|") {
		t.Errorf("OnLine saw %q, want %q", got, wantLines)
	}
}

// Only the streams that are the user's terminal go through the
// pseudo-terminal; the others stay pipes and reach their own writer.
func TestTerminalStdoutOnly(t *testing.T) {
	u := newUserTerminal(t, 24, 80)
	var stderr bytes.Buffer
	res, err := Run(context.Background(), Spec{
		Argv:   []string{"sh", "-c", testprog + " tty; echo to-stderr >&2"},
		Stdout: u.tty, Stderr: &stderr,
	})
	if err != nil {
		t.Fatal(err)
	}
	shown := u.close()
	if want := "stdin=false stdout=true stderr=false rows=24 cols=80\n\r 50%|#    |\r100%|##|\nprompt> eof\n"; shown != want {
		t.Errorf("terminal showed %q, want %q", shown, want)
	}
	if stderr.String() != "to-stderr\n" || !res.Terminal {
		t.Errorf("stderr %q, result %+v", stderr.String(), res)
	}
}

// A resize of the user's terminal reaches the child as SIGWINCH with the
// new size.
func TestTerminalResize(t *testing.T) {
	u := newUserTerminal(t, 24, 80)
	var lines lineLog
	resized := make(chan struct{})
	lines.hook = func(ln Line) {
		if string(ln.Text) == "ready" {
			close(resized)
		}
	}
	signaled, quit := make(chan struct{}), make(chan struct{})
	defer func() { close(quit); <-signaled }()
	go func() {
		defer close(signaled)
		select {
		case <-resized:
		case <-quit:
			return
		}
		_ = pty.Setsize(u.master, &pty.Winsize{Rows: 40, Cols: 120})
		// The test's terminal is not its controlling terminal, so the
		// kernel does not signal the resize; a shell's terminal would.
		_ = unix.Kill(os.Getpid(), unix.SIGWINCH)
	}()
	res, err := Run(context.Background(), Spec{Argv: []string{testprog, "winch"}, Stdout: u.tty, OnLine: lines.onLine})
	if err != nil {
		t.Fatal(err)
	}
	if !lines.has(Stdout, "rows=40 cols=120") || res.ExitCode != 0 {
		t.Errorf("result %+v, lines %q", res, lines.texts())
	}
}

// Stop signals work the same on a terminal.
func TestTerminalInterrupt(t *testing.T) {
	u := newUserTerminal(t, 24, 80)
	sigs := make(chan os.Signal, 1)
	var lines lineLog
	res, err := Run(context.Background(), Spec{
		Argv:  []string{testprog, "sigwait"},
		Stdin: u.tty, Stdout: u.tty, Stderr: u.tty, Signals: sigs,
		OnLine: sendOnReady(&lines, func() { sigs <- unix.SIGINT }),
	})
	if err != nil {
		t.Fatal(err)
	}
	if shown := u.close(); shown != "ready\ngot SIGINT\n" {
		t.Errorf("terminal showed %q", shown)
	}
	if !res.Interrupted || res.ProcessExitCode() != 130 {
		t.Errorf("result %+v", res)
	}
}

// A terminal on stdin alone still puts the child on a pseudo-terminal, so
// it can read the user's typing without being stopped as a background
// process; its output stays a pipe.
func TestTerminalStdinOnly(t *testing.T) {
	u := newUserTerminal(t, 24, 80)
	var out syncBuffer
	done := make(chan Result, 1)
	go func() {
		res, err := Run(context.Background(), Spec{Argv: []string{testprog, "tty"}, Stdin: u.tty, Stdout: &out})
		if err != nil {
			t.Error(err)
		}
		done <- res
	}()
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(out.String(), "prompt> "); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no prompt: %q", out.String())
		}
	}
	if _, err := u.master.Write([]byte("hi\n\x04")); err != nil {
		t.Fatal(err)
	}
	res := <-done
	if want := "stdin=true stdout=false stderr=false\n\r 50%|#    |\r100%|##|\nprompt> got \"hi\"\neof\n"; out.String() != want {
		t.Errorf("output %q, want %q", out.String(), want)
	}
	if !res.Terminal || res.ExitCode != 0 {
		t.Errorf("result %+v", res)
	}
}

// Run must not take what the user types after it returns: that belongs to
// the shell or the next attempt.
func TestTerminalInputAfterRunIsLeft(t *testing.T) {
	u := newUserTerminal(t, 24, 80)
	if _, err := Run(context.Background(), Spec{Argv: []string{testprog, "exit", "0"}, Stdin: u.tty, Stdout: u.tty}); err != nil {
		t.Fatal(err)
	}
	if _, err := u.master.Write([]byte("next\n")); err != nil {
		t.Fatal(err)
	}
	fd := int(u.tty.Fd())
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	if n, err := unix.Poll(fds, 5000); err != nil || n != 1 {
		t.Fatalf("typed line gone: poll %d %v", n, err)
	}
	buf := make([]byte, 64)
	n, err := unix.Read(fd, buf)
	if err != nil || string(buf[:n]) != "next\n" {
		t.Errorf("read %q %v, want %q", buf[:n], err, "next\n")
	}
}
