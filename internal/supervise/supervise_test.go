package supervise

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// faultLine must match testprog's FaultLine.
const faultLine = "Memory access fault by GPU node-1 (Agent handle: 0x55d0c8a3e0f0) on address 0x7f3a1c000000. Reason: Page not present or supervisor privilege."

func TestExitStatus(t *testing.T) {
	tests := []struct {
		name     string
		argv     []string
		code     int
		signal   syscall.Signal
		exitCode int
	}{
		{"success", []string{testprog, "exit", "0"}, 0, 0, 0},
		{"failure", []string{testprog, "exit", "3"}, 3, 0, 3},
		{"status 255", []string{testprog, "exit", "255"}, 255, 0, 255},
		{"abort after a fault", []string{testprog, "fault"}, -1, unix.SIGABRT, 134},
		{"killed by SIGTERM", []string{"sh", "-c", "kill -TERM $$"}, -1, unix.SIGTERM, 143},
		{"killed by SIGKILL", []string{"sh", "-c", "kill -KILL $$"}, -1, unix.SIGKILL, 137},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Run(context.Background(), Spec{Argv: tt.argv})
			if err != nil {
				t.Fatal(err)
			}
			if res.ExitCode != tt.code || res.Signal != tt.signal || res.ProcessExitCode() != tt.exitCode {
				t.Errorf("got exit %d signal %v process exit %d, want %d %v %d",
					res.ExitCode, res.Signal, res.ProcessExitCode(), tt.code, tt.signal, tt.exitCode)
			}
			if res.Interrupted || res.Killed || res.LeftoversKilled {
				t.Errorf("unexpected flags: %+v", res)
			}
		})
	}
}

func TestFaultLineReachesUserLogAndMatcher(t *testing.T) {
	var stdout, stderr bytes.Buffer
	var log syncBuffer
	var lines lineLog
	res, err := Run(context.Background(), Spec{
		Argv:   []string{testprog, "fault"},
		Stdout: &stdout, Stderr: &stderr, Log: &log,
		OnLine: lines.onLine,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.ProcessExitCode() != 134 {
		t.Errorf("process exit %d, want 134", res.ProcessExitCode())
	}
	if got, want := stdout.String(), "epoch 0 step 1 loss 2.3\n"; got != want {
		t.Errorf("stdout %q, want %q", got, want)
	}
	if got, want := stderr.String(), faultLine+"\n"; got != want {
		t.Errorf("stderr %q, want %q", got, want)
	}
	if l := log.String(); !strings.Contains(l, "epoch 0 step 1 loss 2.3\n") || !strings.Contains(l, faultLine+"\n") {
		t.Errorf("log lacks a line: %q", l)
	}
	if !lines.has(Stderr, faultLine) || !lines.has(Stdout, "epoch 0 step 1 loss 2.3") {
		t.Errorf("OnLine saw %q", lines.texts())
	}
}

func TestStartErrors(t *testing.T) {
	dir := t.TempDir()
	notExec := filepath.Join(dir, "train.sh")
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		spec Spec
		msg  string
		is   error
	}{
		{"not on PATH", Spec{Argv: []string{"no-such-command-rocm"}},
			"run no-such-command-rocm: executable file not found in $PATH", exec.ErrNotFound},
		{"not on the child's PATH", Spec{Argv: []string{"sh"}, Env: []string{"PATH=" + dir}},
			"run sh: executable file not found in $PATH", exec.ErrNotFound},
		{"missing path", Spec{Argv: []string{"/nonexistent/python3"}},
			"run /nonexistent/python3: stat /nonexistent/python3: no such file or directory", fs.ErrNotExist},
		{"not executable", Spec{Argv: []string{notExec}},
			"run " + notExec + ": permission denied", fs.ErrPermission},
		{"no command", Spec{}, "run: no command", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Run(context.Background(), tt.spec)
			if err == nil || err.Error() != tt.msg {
				t.Fatalf("error %v, want %q", err, tt.msg)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v is not %v", err, tt.is)
			}
		})
	}
}

func TestEnvironmentAndDirectory(t *testing.T) {
	dir := t.TempDir()
	// A command found only on the child's PATH.
	if err := os.Symlink(testprog, filepath.Join(dir, "mytool")); err != nil {
		t.Fatal(err)
	}
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		spec Spec
		want string
	}{
		{"PYTHONUNBUFFERED added", Spec{Argv: []string{testprog, "env", "PYTHONUNBUFFERED"}}, "1\n"},
		{"PYTHONUNBUFFERED kept", Spec{Argv: []string{testprog, "env", "PYTHONUNBUFFERED"}, Env: []string{"PYTHONUNBUFFERED=0"}}, "0\n"},
		{"caller's variables passed", Spec{Argv: []string{testprog, "env", "ROCM_PATCH_ATTEMPT"}, Env: []string{"ROCM_PATCH_ATTEMPT=2"}}, "2\n"},
		{"child's PATH searched", Spec{Argv: []string{"mytool", "env", "PATH"}, Env: []string{"PATH=" + dir}}, dir + "\n"},
		{"directory", Spec{Argv: []string{"/bin/sh", "-c", "pwd -P"}, Dir: dir}, real + "\n"},
		{"relative command in directory", Spec{Argv: []string{"./mytool", "exit", "0"}, Dir: dir}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			tt.spec.Stdout = &out
			res, err := Run(context.Background(), tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			if res.ExitCode != 0 || out.String() != tt.want {
				t.Errorf("exit %d output %q, want 0 %q", res.ExitCode, out.String(), tt.want)
			}
		})
	}
}

// The child must lead its own session and process group (so signals reach
// its workers and terminal keys reach only the supervisor), and its pipes
// must be blocking, as a program expects of its standard streams.
func TestChildProcessSetup(t *testing.T) {
	var out bytes.Buffer
	if _, err := Run(context.Background(), Spec{Argv: []string{testprog, "ids"}, Stdout: &out}); err != nil {
		t.Fatal(err)
	}
	var pid, pgid, sid int
	if _, err := fmt.Sscanf(out.String(), "pid=%d pgid=%d sid=%d", &pid, &pgid, &sid); err != nil {
		t.Fatalf("parse %q: %v", out.String(), err)
	}
	if pgid != pid || sid != pid {
		t.Errorf("pid %d pgid %d sid %d: the child leads no group or session of its own", pid, pgid, sid)
	}
	if pgid == unix.Getpgrp() {
		t.Error("child shares the supervisor's process group")
	}

	out.Reset()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if _, err := Run(context.Background(), Spec{Argv: []string{testprog, "fdflags"}, Stdin: r, Stdout: &out, Stderr: io.Discard}); err != nil {
		t.Fatal(err)
	}
	if want := "fd0 nonblock=false\nfd1 nonblock=false\nfd2 nonblock=false\n"; out.String() != want {
		t.Errorf("child's descriptors: %q, want %q", out.String(), want)
	}
}

// sendOnReady returns an OnLine that sends sig on ch once the child says
// "ready", so the signal cannot arrive before the child handles it.
func sendOnReady(lines *lineLog, fire func()) func(Line) {
	lines.hook = func(ln Line) {
		if string(ln.Text) == "ready" {
			fire()
		}
	}
	return lines.onLine
}

func TestStopSignalsAreForwarded(t *testing.T) {
	for _, sig := range []syscall.Signal{unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT} {
		t.Run(unix.SignalName(sig), func(t *testing.T) {
			sigs := make(chan os.Signal, 1)
			var lines lineLog
			res, err := Run(context.Background(), Spec{
				Argv:    []string{testprog, "sigwait"},
				Signals: sigs,
				OnLine:  sendOnReady(&lines, func() { sigs <- sig }),
			})
			if err != nil {
				t.Fatal(err)
			}
			if !lines.has(Stdout, "got "+unix.SignalName(sig)) {
				t.Errorf("child did not get %v: %q", sig, lines.texts())
			}
			if !res.Interrupted || res.StopSignal != sig || res.Signal != sig || res.Killed {
				t.Errorf("result %+v, want interrupted by %v, dead of it, not killed", res, sig)
			}
			if res.ProcessExitCode() != 128+int(sig) {
				t.Errorf("process exit %d, want %d", res.ProcessExitCode(), 128+int(sig))
			}
		})
	}
}

func TestOtherSignalsAreOnlyForwarded(t *testing.T) {
	sigs := make(chan os.Signal, 1)
	var lines lineLog
	// Not a Go child: the Go runtime ignores an unhandled SIGUSR1.
	res, err := Run(context.Background(), Spec{
		Argv:    []string{"sh", "-c", "echo ready; exec sleep 30"},
		Signals: sigs,
		OnLine:  sendOnReady(&lines, func() { sigs <- unix.SIGUSR1 }),
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Interrupted || res.Signal != unix.SIGUSR1 {
		t.Errorf("result %+v, want not interrupted, dead of SIGUSR1", res)
	}
}

func TestGraceThenSIGKILL(t *testing.T) {
	const grace = 300 * time.Millisecond
	sigs := make(chan os.Signal, 1)
	var sent time.Time
	var lines lineLog
	res, err := Run(context.Background(), Spec{
		Argv:    []string{testprog, "ignoreterm"},
		Signals: sigs,
		Grace:   grace,
		OnLine:  sendOnReady(&lines, func() { sent = time.Now(); sigs <- unix.SIGTERM }),
	})
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(sent)
	if !res.Interrupted || !res.Killed || res.Signal != unix.SIGKILL || res.ProcessExitCode() != 137 {
		t.Errorf("result %+v, want interrupted, killed, SIGKILL", res)
	}
	if took < grace || took > grace+3*time.Second {
		t.Errorf("returned %v after SIGTERM, want just over the %v grace", took, grace)
	}
}

func TestContextEndStopsTheChild(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var lines lineLog
	res, err := Run(ctx, Spec{
		Argv:   []string{testprog, "sigwait"},
		OnLine: sendOnReady(&lines, cancel),
	})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Interrupted || res.StopSignal != unix.SIGTERM || res.Signal != unix.SIGTERM {
		t.Errorf("result %+v, want interrupted by SIGTERM", res)
	}
	if _, err := Run(ctx, Spec{Argv: []string{testprog, "exit", "0"}}); !errors.Is(err, context.Canceled) {
		t.Errorf("Run with an ended context: %v, want context.Canceled", err)
	}
}

// processGone reports whether pid no longer runs (absent or a zombie
// waiting for init to reap it).
func processGone(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	i := bytes.LastIndexByte(b, ')')
	return i >= 0 && i+2 < len(b) && b[i+2] == 'Z'
}

func waitGone(t *testing.T, pid int) {
	t.Helper()
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if processGone(pid) {
			return
		}
	}
	t.Errorf("process %d still runs", pid)
}

func TestGrandchildrenHoldingPipes(t *testing.T) {
	const drain = 200 * time.Millisecond
	tests := []struct {
		name      string
		argv      []string
		code      int
		leftovers bool
	}{
		// A trainer that dies while its DataLoader workers live on.
		{"worker holds stdout", []string{testprog, "spawn", "3"}, 3, true},
		{"shell background job", []string{"sh", "-c", "sleep 30 & echo grandchild $!; exit 3"}, 3, true},
		// A worker that closed its output is left alone.
		{"worker closed its output", []string{"sh", "-c", "sleep 1 >/dev/null 2>&1 & echo grandchild $!; exit 5"}, 5, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out syncBuffer
			start := time.Now()
			res, err := Run(context.Background(), Spec{Argv: tt.argv, Stdout: &out, Drain: drain})
			if err != nil {
				t.Fatal(err)
			}
			took := time.Since(start)
			if res.ExitCode != tt.code || res.LeftoversKilled != tt.leftovers {
				t.Errorf("result %+v, want exit %d, leftovers killed %t", res, tt.code, tt.leftovers)
			}
			if took > 2*time.Second {
				t.Errorf("Run took %v", took)
			}
			var pid int
			if _, err := fmt.Sscanf(out.String(), "grandchild %d", &pid); err != nil {
				t.Fatalf("parse %q: %v", out.String(), err)
			}
			if tt.leftovers {
				waitGone(t, pid)
			} else {
				_ = unix.Kill(pid, unix.SIGKILL)
			}
		})
	}
}

// A grandchild that left the process group cannot be killed with it: Run
// stops reading rather than wait for it.
func TestEscapedGrandchildDoesNotHang(t *testing.T) {
	if _, err := exec.LookPath("setsid"); err != nil {
		t.Skip("no setsid command")
	}
	var out syncBuffer
	start := time.Now()
	res, err := Run(context.Background(), Spec{
		Argv:   []string{"sh", "-c", "setsid sleep 30 & echo escaped $!; exit 4"},
		Stdout: &out, Drain: 200 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	var pid int
	if _, err := fmt.Sscanf(out.String(), "escaped %d", &pid); err == nil {
		defer unix.Kill(pid, unix.SIGKILL)
	}
	if res.ExitCode != 4 || !res.LeftoversKilled {
		t.Errorf("result %+v, want exit 4 after trying to kill leftovers", res)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Run took %v", took)
	}
}

// hashPipe returns a pipe's write end and a function that waits for the
// end of what was written and returns its SHA-256 and length.
func hashPipe(t *testing.T) (*os.File, func() (string, int64)) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	type sum struct {
		hex string
		n   int64
	}
	done := make(chan sum, 1)
	go func() {
		h := sha256.New()
		n, _ := io.Copy(h, r)
		r.Close()
		done <- sum{hex.EncodeToString(h.Sum(nil)), n}
	}()
	return w, func() (string, int64) {
		w.Close()
		s := <-done
		return s.hex, s.n
	}
}

type writerStats struct {
	sha   string
	bytes int64
	lines int64
	bars  int64
}

func readStats(t *testing.T, path string) writerStats {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var s writerStats
	if _, err := fmt.Sscanf(string(b), "%s %d %d %d", &s.sha, &s.bytes, &s.lines, &s.bars); err != nil {
		t.Fatalf("parse %q: %v", b, err)
	}
	return s
}

// passThrough runs testprog write and checks that the user's stream and
// the log got exactly the bytes the child wrote.
func passThrough(t *testing.T, total, line, bars int, onLine func(Line)) (Result, writerStats) {
	t.Helper()
	stats := filepath.Join(t.TempDir(), "stats")
	stdout, stdoutSum := hashPipe(t)
	logHash := sha256.New()
	res, err := Run(context.Background(), Spec{
		Argv: []string{testprog, "write", "-total", strconv.Itoa(total), "-line", strconv.Itoa(line),
			"-bars", strconv.Itoa(bars), "-stats", stats},
		Stdout: stdout, Stderr: os.Stderr, Log: logHash, OnLine: onLine,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 0 || res.WriteErr != nil {
		t.Fatalf("result %+v", res)
	}
	want := readStats(t, stats)
	got, n := stdoutSum()
	if got != want.sha || n != want.bytes {
		t.Errorf("user got %d bytes sha256 %s, child wrote %d bytes sha256 %s", n, got, want.bytes, want.sha)
	}
	if l := hex.EncodeToString(logHash.Sum(nil)); l != want.sha {
		t.Errorf("log sha256 %s, child wrote %s", l, want.sha)
	}
	return res, want
}

func TestPassThroughAndLines(t *testing.T) {
	const lineLen, bars = 200 << 10, 3
	var lines lineLog
	res, st := passThrough(t, 4<<20, lineLen, bars, lines.onLine)
	if res.DroppedBytes != 0 {
		t.Fatalf("dropped %d bytes of 4 MiB", res.DroppedBytes)
	}
	// Every long line starts with a "\r" that ends an empty line, then its
	// bars, each ended by the next "\r", then the text up to "\n".
	payload := make([]byte, lineLen)
	for i := range payload {
		payload[i] = "abcdefghijklmnopqrstuvwxyz0123456789 "[i%37]
	}
	var want []string
	for i := range st.lines {
		want = append(want, "")
		for b := range bars {
			want = append(want, fmt.Sprintf("line %d: %3d%% |%s|", i, (b+1)*100/bars, strings.Repeat("#", b+1)))
		}
		want = append(want, fmt.Sprintf("line %d: %s", i, payload))
	}
	var got []string
	var cur []byte
	for _, ln := range lines.lines {
		if len(ln.Text) > MaxLineBytes || ln.Partial && len(ln.Text) != MaxLineBytes || ln.Gap || ln.Stream != Stdout {
			t.Fatalf("bad piece: %d bytes partial %t gap %t %v", len(ln.Text), ln.Partial, ln.Gap, ln.Stream)
		}
		cur = append(cur, ln.Text...)
		if !ln.Partial {
			got = append(got, string(cur))
			cur = nil
		}
	}
	if len(got) != len(want) {
		t.Fatalf("OnLine saw %d lines, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("line %d: %.60q..., want %.60q...", i, got[i], want[i])
		}
	}
	if st.bars != st.lines*bars {
		t.Errorf("writer drew %d bars for %d lines", st.bars, st.lines)
	}
}

func TestPassThroughLarge(t *testing.T) {
	total, line := 64<<20, 1<<20
	if *long {
		total, line = 1<<30, 10_000_000
	}
	var n int64
	res, st := passThrough(t, total, line, 5, func(Line) { n++ })
	t.Logf("%d MiB in %v, %d lines, %d bytes dropped by OnLine", st.bytes>>20, res.Duration, n, res.DroppedBytes)
}

// A consumer far slower than the child must cost the child nothing: lines
// are dropped, oldest first, and the last line still arrives.
func TestSlowConsumerNeverBlocksTheChild(t *testing.T) {
	defer func(old int) { sideLimit = old }(sideLimit)
	sideLimit = 256 << 10
	const n, size = 20000, 1024
	var lines lineLog
	slow := func(ln Line) {
		lines.onLine(ln)
		time.Sleep(time.Millisecond)
	}
	var out bytes.Buffer
	res, err := Run(context.Background(), Spec{Argv: []string{testprog, "lines", strconv.Itoa(n), strconv.Itoa(size)}, Stdout: &out, OnLine: slow})
	if err != nil {
		t.Fatal(err)
	}
	// Blocking on this consumer would keep the child alive for 20 s.
	if res.Duration > 5*time.Second {
		t.Errorf("child ran %v under a slow consumer", res.Duration)
	}
	if out.Len() != n*size+len("END\n") {
		t.Errorf("user got %d bytes, want %d", out.Len(), n*size+4)
	}
	if res.DroppedBytes == 0 {
		t.Error("nothing dropped for a consumer 20 times too slow")
	}
	texts := lines.texts()
	if len(texts) == 0 || texts[len(texts)-1] != "END" {
		t.Errorf("last line seen is not END (of %d)", len(texts))
	}
	gap := false
	for _, ln := range lines.lines {
		gap = gap || ln.Gap
	}
	if !gap {
		t.Error("no Line marked Gap after drops")
	}
	t.Logf("child ran %v, OnLine saw %d of %d lines, %d bytes dropped", res.Duration, len(texts), n+1, res.DroppedBytes)
}

// With stdout and stderr on the same file (2>&1) the child gets one pipe
// for both, so the user sees them in the order the child wrote them.
func TestSameFileKeepsOrder(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(r)
		got <- string(b)
	}()
	const n = 500
	res, err := Run(context.Background(), Spec{Argv: []string{testprog, "interleave", strconv.Itoa(n)}, Stdout: w, Stderr: w})
	w.Close()
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("%+v %v", res, err)
	}
	var want strings.Builder
	for i := range n {
		name := "/dev/stdout"
		if i%2 == 1 {
			name = "/dev/stderr"
		}
		fmt.Fprintf(&want, "%s %d\n", name, i)
	}
	if s := <-got; s != want.String() {
		t.Errorf("order lost:\n%.200s", s)
	}
}

// When the user's stream breaks (a closed pipe), the child runs on and the
// log still gets everything.
func TestBrokenUserStream(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	defer w.Close()
	var log bytes.Buffer
	res, err := Run(context.Background(), Spec{Argv: []string{testprog, "lines", "1000", "100"}, Stdout: w, Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 0 || !errors.Is(res.WriteErr, syscall.EPIPE) {
		t.Errorf("result %+v, want exit 0 and EPIPE", res)
	}
	if log.Len() != 1000*100+4 {
		t.Errorf("log has %d bytes, want %d", log.Len(), 1000*100+4)
	}
}

func TestNilStreams(t *testing.T) {
	var lines lineLog
	res, err := Run(context.Background(), Spec{Argv: []string{testprog, "fault"}, OnLine: lines.onLine})
	if err != nil {
		t.Fatal(err)
	}
	if res.ProcessExitCode() != 134 || !lines.has(Stderr, faultLine) {
		t.Errorf("result %+v lines %q", res, lines.texts())
	}
	// Stdin nil is /dev/null: a reader ends at once.
	var out bytes.Buffer
	sc := bufio.NewScanner(&out)
	if _, err := Run(context.Background(), Spec{Argv: []string{"sh", "-c", "cat; echo done"}, Stdout: &out}); err != nil {
		t.Fatal(err)
	}
	if !sc.Scan() || sc.Text() != "done" {
		t.Errorf("output %q", out.String())
	}
}

// Every goroutine Run starts ends before it returns: a supervisor runs many
// attempts in one process.
func TestNoGoroutinesLeft(t *testing.T) {
	before := runtime.NumGoroutine()
	for range 5 {
		var lines lineLog
		if _, err := Run(context.Background(), Spec{Argv: []string{testprog, "spawn", "1"}, Stdout: io.Discard, Stderr: io.Discard, OnLine: lines.onLine, Drain: 50 * time.Millisecond}); err != nil {
			t.Fatal(err)
		}
	}
	var after int
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if after = runtime.NumGoroutine(); after <= before {
			return
		}
	}
	buf := make([]byte, 1<<16)
	t.Errorf("%d goroutines before, %d after:\n%s", before, after, buf[:runtime.Stack(buf, true)])
}

// Python block-buffers a pipe: without PYTHONUNBUFFERED=1 the last line
// before an abort() would die in its buffer.
func TestPythonLastLineBeforeAbort(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3")
	}
	var lines lineLog
	var out bytes.Buffer
	res, err := Run(context.Background(), Spec{
		Argv:   []string{py, "-c", "import os; print('HIP error: an illegal memory access was encountered'); os.abort()"},
		Stdout: &out, OnLine: lines.onLine,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.ProcessExitCode() != 134 || !lines.has(Stdout, "HIP error: an illegal memory access was encountered") {
		t.Errorf("result %+v, lines %q", res, lines.texts())
	}
}

// The user's pipe is enlarged to a whole read, so that passing a read on
// does not wait for the reader once per 64 KiB.
func TestUserPipeEnlarged(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if _, err := Run(context.Background(), Spec{Argv: []string{testprog, "exit", "0"}, Stdout: w}); err != nil {
		t.Fatal(err)
	}
	n, err := unix.FcntlInt(w.Fd(), unix.F_GETPIPE_SZ, 0)
	if err != nil {
		t.Fatal(err)
	}
	if max, _ := os.ReadFile("/proc/sys/fs/pipe-max-size"); n < readSize && atoiOr(strings.TrimSpace(string(max)), 0) >= readSize {
		t.Errorf("user's pipe holds %d bytes, want %d", n, readSize)
	}
}

func atoiOr(s string, def int) int {
	if n, err := strconv.Atoi(s); err == nil {
		return n
	}
	return def
}
