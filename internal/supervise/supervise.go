package supervise

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Defaults for the Spec durations left zero.
const (
	// DefaultGrace is how long the child's process group has to exit
	// after the first stop signal before it gets SIGKILL.
	DefaultGrace = 10 * time.Second
	// DefaultDrain is how long the child's output may stay open after the
	// child exited: longer means the rest of its process group (DataLoader
	// workers) holds it, and that rest is killed.
	DefaultDrain = 500 * time.Millisecond
)

// Spec describes one attempt.
type Spec struct {
	// Argv is the command and its arguments. Argv[0] is looked up in the
	// PATH of Env.
	Argv []string
	// Env is the child's whole environment; nil means this process's.
	// PYTHONUNBUFFERED=1 is added when Env does not set PYTHONUNBUFFERED,
	// or the last lines before an abort() would die in Python's buffer.
	Env []string
	// Dir is the child's working directory; empty means this process's.
	Dir string
	// Stdin is the child's input, usually os.Stdin; nil means /dev/null.
	Stdin *os.File
	// Stdout and Stderr receive the child's output byte for byte, usually
	// os.Stdout and os.Stderr; nil discards. When one of Stdin, Stdout and
	// Stderr is a terminal the child runs on a pseudo-terminal (see the
	// package documentation).
	Stdout, Stderr io.Writer
	// Log receives every byte of the child's output too, stdout and
	// stderr in the order they arrived: the attempt's log file. nil: none.
	Log io.Writer
	// OnLine, when not nil, is called with every line of output, one call
	// at a time, from a goroutine of its own. A slow OnLine never slows
	// the child: output waiting for it beyond a bound is dropped, oldest
	// first, and counted in Result.DroppedBytes. Run returns after the
	// last call has returned.
	OnLine func(Line)
	// Signals carries signals to forward to the child's process group,
	// usually from signal.Notify for SIGINT, SIGTERM, SIGHUP and SIGQUIT.
	// Those four are stop signals: they mark the run Interrupted and start
	// the Grace timer. Any other signal received is forwarded only.
	Signals <-chan os.Signal
	// Grace is how long the group has after the first stop signal before
	// it gets SIGKILL; zero means DefaultGrace.
	Grace time.Duration
	// Drain is how long the output may stay open after the child exited
	// before the rest of its group is killed; zero means DefaultDrain.
	Drain time.Duration
}

// Result is how an attempt ended.
type Result struct {
	// ExitCode is the child's exit status, or -1 when a signal killed it
	// (or, which a normal program never causes, its status could not be
	// read because SIGCHLD is ignored).
	ExitCode int
	// Signal is the signal that killed the child, or 0.
	Signal syscall.Signal
	// Interrupted says the run was asked to stop: a stop signal arrived on
	// Spec.Signals or the context ended before Run returned. An
	// interrupted run must not be retried.
	Interrupted bool
	// StopSignal is the first stop signal forwarded (SIGTERM when the
	// context ended), or 0.
	StopSignal syscall.Signal
	// Killed says the group outlived Grace after a stop signal and got
	// SIGKILL.
	Killed bool
	// LeftoversKilled says members of the group outlived the child and
	// held its output open past Drain, and got SIGKILL.
	LeftoversKilled bool
	// Terminal says the child ran on a pseudo-terminal.
	Terminal bool
	// Duration runs from the start of the child to its exit.
	Duration time.Duration
	// DroppedBytes counts output that OnLine never saw because it fell
	// behind.
	DroppedBytes int64
	// WriteErr is the first error writing Stdout, Stderr or Log. The run
	// went on; that writer got nothing more.
	WriteErr error
}

// ProcessExitCode is the code a supervisor exits with to report this
// attempt as a shell would: the child's exit status, or 128+signal when a
// signal killed it (134 for an abort()).
func (r Result) ProcessExitCode() int {
	if r.Signal != 0 {
		return 128 + int(r.Signal)
	}
	return r.ExitCode
}

// isStop reports whether sig asks the child to stop.
func isStop(sig syscall.Signal) bool {
	switch sig {
	case unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT:
		return true
	}
	return false
}

// pump is one stream of the child's output as the supervisor reads it.
type pump struct {
	r      *os.File
	dst    io.Writer
	stream Stream
	src    int // index in plumbing.pumps
}

// run holds the state of one Run.
type run struct {
	spec     Spec
	side     *sideQueue
	logQ     chan *chunk // to writeLog; nil without a log
	log      io.Writer   // used by writeLog alone; nil after a write error
	errMu    sync.Mutex
	writeErr error
}

func (r *run) noteErr(err error) {
	r.errMu.Lock()
	if r.writeErr == nil {
		r.writeErr = err
	}
	r.errMu.Unlock()
}

// copyOut passes the child's bytes on: to the user first, so nothing adds
// latency in front of them; then, when there is a log, to the log
// goroutine, so that writing the log overlaps the next read instead of
// following it; else straight to the line goroutine, which cannot block
// this loop.
func (r *run) copyOut(p pump) {
	c := readPool.Get().(*chunk)
	defer func() { recycle(c) }()
	dst := p.dst
	for {
		n, err := p.r.Read(c.buf[:readSize])
		if n > 0 {
			c.buf = c.buf[:n]
			c.src, c.stream = p.src, p.stream
			if dst != nil {
				if _, werr := dst.Write(c.buf); werr != nil {
					r.noteErr(fmt.Errorf("write %s: %w", p.stream, werr))
					dst = nil
				}
			}
			switch {
			case r.logQ != nil:
				r.logQ <- c
				c = readPool.Get().(*chunk)
			case r.side != nil:
				c = r.side.take(c)
			}
		}
		if err != nil {
			// io.EOF on a pipe, EIO on a pseudo-terminal master once the
			// last slave is closed, a deadline when Run gave up waiting.
			return
		}
	}
}

// writeLog writes what the pumps send, in the order they send it, to the
// log, then passes it to the line goroutine. The queue is short: a log
// that cannot keep up holds the child back rather than lose output.
func (r *run) writeLog() {
	for c := range r.logQ {
		if r.log != nil {
			if _, err := r.log.Write(c.buf); err != nil {
				r.noteErr(fmt.Errorf("write log: %w", err))
				r.log = nil
			}
		}
		if r.side != nil {
			c = r.side.take(c)
		}
		recycle(c)
	}
}

// plumbing is the child's three descriptors and the supervisor's ends.
type plumbing struct {
	child      [3]*os.File
	closeAfter []*os.File // child-side ends to close once the child has them
	pumps      []pump     // at most maxSources
	master     *os.File   // pseudo-terminal master, or nil
	ctty       int        // child descriptor of the controlling terminal, or -1
	relayIn    *os.File   // user's terminal whose input is relayed, or nil
	sizeFrom   *os.File   // user's terminal whose size the pty copies, or nil
	eof        byte
}

func (p *plumbing) closeAll() {
	for _, f := range p.closeAfter {
		f.Close()
	}
	for _, pp := range p.pumps {
		pp.r.Close()
	}
	if p.master != nil {
		p.master.Close()
	}
}

// plumb sets up the child's descriptors: a pseudo-terminal for the
// standard streams that are the user's terminal, pipes for the others.
func plumb(spec Spec) (*plumbing, error) {
	p := &plumbing{ctty: -1}
	inTTY := terminalFile(spec.Stdin)
	outTTY := terminalFile(spec.Stdout)
	errTTY := terminalFile(spec.Stderr)
	if inTTY != nil || outTTY != nil || errTTY != nil {
		if err := p.withPTY(spec, inTTY, outTTY, errTTY); err != nil {
			// A container without /dev/pts: pipes still work, only
			// isatty() changes for the child.
			slog.Debug("supervise: no pseudo-terminal, using pipes", "err", err)
			p.closeAll()
			p = &plumbing{ctty: -1}
		}
	}
	if p.child[0] == nil {
		if spec.Stdin != nil {
			p.child[0] = spec.Stdin
		} else {
			null, err := os.Open(os.DevNull)
			if err != nil {
				return nil, fmt.Errorf("open %s: %w", os.DevNull, err)
			}
			p.child[0] = null
			p.closeAfter = append(p.closeAfter, null)
		}
	}
	if p.child[1] == nil && p.child[2] == nil && sameFile(spec.Stdout, spec.Stderr) {
		r, w, err := newPipe()
		if err != nil {
			p.closeAll()
			return nil, err
		}
		p.child[1], p.child[2] = w, w
		p.closeAfter = append(p.closeAfter, w)
		p.pumps = append(p.pumps, pump{r: r, dst: spec.Stdout, stream: Stdout})
	}
	for _, w := range []io.Writer{spec.Stdout, spec.Stderr} {
		enlargePipe(w)
	}
	for i, dst := range []io.Writer{nil, spec.Stdout, spec.Stderr} {
		if i == 0 || p.child[i] != nil {
			continue
		}
		r, w, err := newPipe()
		if err != nil {
			p.closeAll()
			return nil, err
		}
		p.child[i] = w
		p.closeAfter = append(p.closeAfter, w)
		p.pumps = append(p.pumps, pump{r: r, dst: dst, stream: Stream(i)})
	}
	return p, nil
}

// withPTY puts the child's terminal streams on a new pseudo-terminal. Its
// output goes to the user's terminal stream: stdout when that is a
// terminal, else stderr; a stderr on another terminal than stdout keeps a
// pipe of its own.
func (p *plumbing) withPTY(spec Spec, inTTY, outTTY, errTTY *os.File) error {
	master, slave, err := openPTY()
	if err != nil {
		return err
	}
	p.master = master
	p.closeAfter = append(p.closeAfter, slave)
	settings := inTTY
	if settings == nil {
		settings = outTTY
	}
	if settings == nil {
		settings = errTTY
	}
	if p.eof, err = configurePTY(slave, settings); err != nil {
		return err
	}
	p.sizeFrom = outTTY
	if p.sizeFrom == nil {
		p.sizeFrom = errTTY
	}
	if p.sizeFrom == nil {
		p.sizeFrom = inTTY
	}
	copySize(p.sizeFrom, master)

	var dst io.Writer = spec.Stderr
	stream := Stderr
	if outTTY != nil {
		dst, stream = spec.Stdout, Stdout
		p.child[1] = slave
		if errTTY != nil && sameFile(spec.Stdout, spec.Stderr) {
			p.child[2] = slave
		}
	} else if errTTY != nil {
		p.child[2] = slave
	}
	if inTTY != nil {
		p.child[0] = slave
		p.relayIn = inTTY
	}
	for i, f := range p.child {
		if f != nil {
			p.ctty = i
			break
		}
	}
	p.pumps = append(p.pumps, pump{r: master, dst: dst, stream: stream})
	return nil
}

// newPipe returns a pipe whose read end is in Go's poller, so Run can stop
// a read held up by a process that escaped the group. The pipe is made
// large (when the system allows) so that a burst of output is absorbed
// without stalling the child while the supervisor writes the previous one.
func newPipe() (r, w *os.File, err error) {
	r, w, err = os.Pipe()
	if err != nil {
		return nil, nil, fmt.Errorf("create pipe: %w", err)
	}
	if fd, ok := fdOf(r); ok {
		_, _ = unix.FcntlInt(uintptr(fd), unix.F_SETPIPE_SZ, readSize)
	}
	return r, w, nil
}

// enlargePipe grows w to readSize when it is a smaller pipe (the user's
// "| tee log"). Each read of the child's output is then written in one go
// instead of one pipe-full at a time, each waiting for the reader to wake:
// with the supervisor as a third process in the chain, those wake-ups
// otherwise cost more than the copying. Only the pipe's capacity changes.
func enlargePipe(w io.Writer) {
	f, ok := w.(*os.File)
	if !ok || f == nil {
		return
	}
	fd, ok := fdOf(f)
	if !ok {
		return
	}
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFIFO {
		return
	}
	if n, err := unix.FcntlInt(uintptr(fd), unix.F_GETPIPE_SZ, 0); err == nil && n < readSize {
		_, _ = unix.FcntlInt(uintptr(fd), unix.F_SETPIPE_SZ, readSize)
	}
}

// withUnbuffered adds PYTHONUNBUFFERED=1 unless env sets it.
func withUnbuffered(env []string) []string {
	if _, ok := envValue(env, "PYTHONUNBUFFERED"); ok {
		return env
	}
	out := make([]string, len(env), len(env)+1)
	copy(out, env)
	return append(out, "PYTHONUNBUFFERED=1")
}

// Run runs one attempt of spec.Argv and waits until it is over: the child
// has exited, its output is drained or its holders killed, and OnLine has
// seen every line it will see.
//
// The child leads a new session and process group, so signals typed at
// the user's terminal reach only this process, which forwards them to the
// whole group (see Spec.Signals); a stop signal, or the end of ctx, starts
// the Grace timer, after which the group gets SIGKILL.
//
// The error is non-nil only when the child could not be started; it then
// names the command ("run python3: executable file not found in $PATH")
// and wraps the cause (errors.Is(err, exec.ErrNotFound)). Every way the
// child ends, signals included, is a Result.
func Run(ctx context.Context, spec Spec) (Result, error) {
	if len(spec.Argv) == 0 || spec.Argv[0] == "" {
		return Result{}, errors.New("run: no command")
	}
	name := spec.Argv[0]
	if err := ctx.Err(); err != nil {
		return Result{}, fmt.Errorf("run %s: %w", name, err)
	}
	env := spec.Env
	if env == nil {
		env = os.Environ()
	}
	env = withUnbuffered(env)
	pathEnv, _ := envValue(env, "PATH")
	lookName := name
	if spec.Dir != "" && !filepath.IsAbs(name) && filepath.Base(name) != name {
		lookName = filepath.Join(spec.Dir, name)
	}
	path, err := lookPath(lookName, pathEnv)
	if err != nil {
		return Result{}, fmt.Errorf("run %s: %w", name, err)
	}
	if spec.Grace <= 0 {
		spec.Grace = DefaultGrace
	}
	if spec.Drain <= 0 {
		spec.Drain = DefaultDrain
	}

	pl, err := plumb(spec)
	if err != nil {
		return Result{}, fmt.Errorf("run %s: %w", name, err)
	}
	sys := &syscall.SysProcAttr{Setsid: true}
	if pl.ctty >= 0 {
		sys.Setctty, sys.Ctty = true, pl.ctty
	}
	start := time.Now()
	proc, err := os.StartProcess(path, spec.Argv, &os.ProcAttr{
		Dir:   spec.Dir,
		Env:   env,
		Files: pl.child[:],
		Sys:   sys,
	})
	// The child has its copies now; the parent's must go, or the output
	// would never reach end of file.
	for _, f := range pl.closeAfter {
		f.Close()
	}
	pl.closeAfter = nil
	if err != nil {
		pl.closeAll()
		return Result{}, fmt.Errorf("run %s: %w", name, err)
	}
	r := &run{spec: spec, log: spec.Log}
	return r.supervise(ctx, proc, pl, start), nil
}

// supervise waits for the child, forwarding signals and enforcing the
// grace and drain limits, then collects its status.
func (r *run) supervise(ctx context.Context, proc *os.Process, pl *plumbing, start time.Time) Result {
	spec := r.spec
	pgid := proc.Pid // leader of its own session and group
	res := Result{ExitCode: -1, Terminal: pl.master != nil}

	var lines sync.WaitGroup
	if spec.OnLine != nil {
		r.side = newSideQueue(sideLimit)
		lines.Add(1)
		go func() {
			defer lines.Done()
			consumeLines(r.side, spec.OnLine)
		}()
	}
	var logger sync.WaitGroup
	if r.log != nil {
		r.logQ = make(chan *chunk, 4)
		logger.Add(1)
		go func() {
			defer logger.Done()
			r.writeLog()
		}()
	}
	var pumps sync.WaitGroup
	for i, p := range pl.pumps {
		p.src = i
		pumps.Add(1)
		go func() {
			defer pumps.Done()
			r.copyOut(p)
		}()
	}
	pumpsDone := make(chan struct{})
	go func() {
		pumps.Wait()
		close(pumpsDone)
	}()

	var relay sync.WaitGroup
	wakeR, wakeW := -1, -1
	if pl.relayIn != nil {
		var fds [2]int
		if err := unix.Pipe2(fds[:], unix.O_CLOEXEC); err == nil {
			wakeR, wakeW = fds[0], fds[1]
			relay.Add(1)
			go func() {
				defer relay.Done()
				relayInput(pl.relayIn, pl.master, pl.eof, wakeR)
			}()
		}
	}
	var winch chan os.Signal
	if pl.sizeFrom != nil && pl.master != nil {
		winch = make(chan os.Signal, 1)
		signal.Notify(winch, unix.SIGWINCH)
		defer signal.Stop(winch)
	}

	// The leader is waited for without being reaped: while it is a
	// zombie its pid, and so the group id, cannot be reused, so signals
	// sent to the group below can only reach the child's own processes.
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		var info unix.Siginfo
		for {
			err := unix.Waitid(unix.P_PID, pgid, &info, unix.WEXITED|unix.WNOWAIT, nil)
			if !errors.Is(err, unix.EINTR) {
				return
			}
		}
	}()

	killGroup := func(sig syscall.Signal) {
		if err := unix.Kill(-pgid, sig); err != nil && !errors.Is(err, unix.ESRCH) {
			slog.Debug("supervise: signal group", "pgid", pgid, "signal", sig, "err", err)
		}
	}
	var graceC, drainC <-chan time.Time
	stop := func(sig syscall.Signal) {
		if !res.Interrupted {
			res.Interrupted, res.StopSignal = true, sig
			graceC = time.After(spec.Grace)
		}
		killGroup(sig)
		// A stopped process acts on the signal only once continued.
		killGroup(unix.SIGCONT)
	}

	sigs, done := spec.Signals, ctx.Done()
	exitedC, pumpsC := (<-chan struct{})(exited), (<-chan struct{})(pumpsDone)
	leaderGone, outputDone, gaveUp := false, false, false
	for !leaderGone || !outputDone {
		select {
		case s, ok := <-sigs:
			if !ok {
				sigs = nil
				continue
			}
			sig, isSys := s.(syscall.Signal)
			if !isSys {
				continue
			}
			if isStop(sig) {
				stop(sig)
			} else {
				killGroup(sig)
			}
		case <-done:
			done = nil
			stop(unix.SIGTERM)
		case <-graceC:
			graceC = nil
			res.Killed = true
			killGroup(unix.SIGKILL)
		case <-winch:
			copySize(pl.sizeFrom, pl.master)
		case <-exitedC:
			exitedC = nil
			leaderGone = true
			res.Duration = time.Since(start)
			if !outputDone {
				drainC = time.After(spec.Drain)
			}
		case <-pumpsC:
			pumpsC = nil
			outputDone = true
			drainC = nil
		case <-drainC:
			if !res.LeftoversKilled {
				// The child is gone but its output is still open:
				// processes it left behind (DataLoader workers) hold it.
				res.LeftoversKilled = true
				killGroup(unix.SIGKILL)
				drainC = time.After(spec.Drain)
			} else if !gaveUp {
				// Still open: a process that left the group holds it.
				// Stop reading rather than wait for it.
				gaveUp = true
				drainC = nil
				slog.Debug("supervise: output held open outside the process group; no longer reading it", "pid", pgid)
				for _, p := range pl.pumps {
					_ = p.r.SetReadDeadline(time.Now())
				}
			}
		}
	}

	state, err := proc.Wait()
	if err == nil {
		if ws, ok := state.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			res.Signal = ws.Signal()
		} else {
			res.ExitCode = state.ExitCode()
		}
	} else {
		slog.Debug("supervise: reap child", "pid", pgid, "err", err)
	}

	if wakeW >= 0 {
		unix.Close(wakeW)
	}
	for _, p := range pl.pumps {
		p.r.Close() // for the master, this also frees a relay blocked on a full input queue
	}
	relay.Wait()
	if wakeR >= 0 {
		unix.Close(wakeR)
	}
	if r.logQ != nil {
		close(r.logQ)
		logger.Wait()
	}
	if r.side != nil {
		r.side.close()
		lines.Wait()
		res.DroppedBytes = r.side.droppedBytes()
	}
	r.errMu.Lock()
	res.WriteErr = r.writeErr
	r.errMu.Unlock()
	return res
}
