package runner

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rocm-patch/rocm-patch/internal/assess"
	"github.com/rocm-patch/rocm-patch/internal/diagnose"
	"github.com/rocm-patch/rocm-patch/internal/history"
	"github.com/rocm-patch/rocm-patch/internal/kb"
	"github.com/rocm-patch/rocm-patch/internal/report"
	"github.com/rocm-patch/rocm-patch/internal/supervise"
	"github.com/rocm-patch/rocm-patch/internal/system"
)

// Defaults of the retry loop.
const (
	// DefaultRetries is how many times a GPU fault is retried under
	// mitigate and cpu: the ladder's GPU step, then the CPU (assess's
	// FaultsBeforeCPU).
	DefaultRetries = assess.FaultsBeforeCPU
	// DefaultBackoff is the wait before the first retry; it doubles for
	// each further one, so that a GPU that reset has time to recover.
	DefaultBackoff = 5 * time.Second
	// maxBackoff caps the doubling.
	maxBackoff = time.Hour
)

// Exit codes of a run that did not get a child exit status.
const (
	// ExitNotFound: the command was not found (as a shell says).
	ExitNotFound = 127
	// ExitCannotRun: the command was found but could not be started.
	ExitCannotRun = 126
)

// Options describe a supervised run.
type Options struct {
	// Argv is the command; Dir its working directory ("" for this
	// process's).
	Argv []string
	Dir  string
	// Environ is the user's environment, the base of the child's.
	Environ []string
	// Report is doctor's report; Report.Plan is the plan that runs.
	Report *assess.Report
	// System is the machine Report assessed (for a hardware-aware
	// diagnosis and for history); may be nil.
	System *system.System
	// KB is the knowledge base: the ladder, the catalogue, the matcher.
	KB *kb.KB
	// Retries is how many times a GPU fault may be retried; Backoff the
	// wait before the first retry, doubling after.
	Retries int
	Backoff time.Duration
	// Grace and Drain are passed to supervise (zero: its defaults).
	Grace time.Duration
	Drain time.Duration
	// LogLimit is how many bytes of each attempt's output its log keeps
	// (the first quarter and the rest from the end); 0 means
	// DefaultLogLimit, a negative value keeps everything.
	LogLimit int64
	// Recipe and ResumeArgs make retries continue the job (see docs/run.md).
	Recipe     Recipe
	ResumeArgs []string
	// Stdin, Stdout and Stderr are the user's streams.
	Stdin          *os.File
	Stdout, Stderr io.Writer
	// Messages receives rocm-patch's own lines (usually stderr); nil
	// discards them. Quiet keeps only warnings and failure advice.
	Messages io.Writer
	Quiet    bool
	// Signals are forwarded to the child's process group; a stop signal
	// also ends the run (no retry), and ends a backoff wait at once.
	Signals <-chan os.Signal
	// History records the run; nil: not recorded. HistoryPath is shown in
	// messages.
	History     *history.DB
	HistoryPath string
	// OpenHistory, when History is nil, opens the history; it is called
	// in the background while the first attempt starts, so a slow open
	// never delays the job. An error leaves the run unrecorded, with a
	// warning.
	OpenHistory func() (*history.DB, error)
	// RunsDir is where the run's directory is made (runs/ beside the
	// history); "" keeps no logs.
	RunsDir string
	// Logger receives debug diagnostics; nil discards.
	Logger *slog.Logger
	// Shim loads the in-process Python shim into every attempt; nil: no
	// shim.
	Shim *Shim
}

// Attempt is one attempt of a run, as history records it, with what the
// loop made of it.
type Attempt struct {
	history.Attempt
	// Argv is the command the attempt ran.
	Argv []string
	// Verdict is how its ending was judged.
	Verdict Verdict
	// Finished says Ultralytics reported the job finished ("nothing to
	// resume").
	Finished bool
}

// Result is how a run ended.
type Result struct {
	// ExitCode is what rocm-patch exits with: the last attempt's exit
	// status, 128+signal when a signal killed it, 0 when Ultralytics says
	// the job already finished, 127/126 when the command could not start,
	// 128+signal when the user stopped the run between attempts.
	ExitCode int
	Outcome  history.Outcome
	// RunID is the history's id of the run, 0 when not recorded.
	RunID int64
	// RunDir holds the attempts' logs; "" when none could be kept.
	RunDir   string
	Attempts []Attempt
	// Interrupted says the user stopped the run.
	Interrupted bool
}

// Run supervises opts.Argv until it succeeds, fails in a way a retry
// cannot fix, runs out of retries, or the user stops it. The error is
// non-nil when the run could not start at all (bad options, or the
// command could not be started); Result.ExitCode is set either way.
func Run(ctx context.Context, o Options) (Result, error) {
	if len(o.Argv) == 0 || o.Argv[0] == "" {
		return Result{ExitCode: ExitCannotRun}, errors.New("run: no command")
	}
	if o.Report == nil || o.KB == nil {
		return Result{ExitCode: 1}, errors.New("run: a doctor report and the knowledge base are required")
	}
	r := &runner{o: o, matcher: compileMatcher(o.KB, o.System), log: o.Logger, started: time.Now()}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.o.Messages == nil {
		r.o.Messages = io.Discard
	}
	if r.dir = o.Dir; r.dir == "" {
		var err error
		if r.dir, err = os.Getwd(); err != nil {
			return Result{ExitCode: 1}, fmt.Errorf("run: %w", err)
		}
	}
	r.retries = max(o.Retries, 0)
	if o.Report.Plan.Device != assess.DeviceGPU {
		// A CPU run has no GPU fault to retry.
		r.retries = 0
	}
	return r.run(ctx)
}

type runner struct {
	o Options
	// matcher compiles the diagnosis matcher on its first call.
	matcher func() (*diagnose.Matcher, error)
	log     *slog.Logger
	dir     string
	started time.Time
	retries int
	res     Result
	histErr bool
	// history is the database once begin's background work is done;
	// begun is closed then (nil when there is no history).
	history *history.DB
	begun   chan struct{}
	openErr error
}

func (r *runner) run(ctx context.Context) (Result, error) {
	plan := r.o.Report.Plan
	ladder := r.o.KB.Ladder()
	total := 1 + r.retries
	r.announce(ladder)
	r.begin(ctx)
	err := r.loop(ctx, plan, ladder, total)
	r.finish(ctx)
	return r.res, err
}

// loop runs attempts until one ends the run; r.res holds the result.
func (r *runner) loop(ctx context.Context, plan assess.Plan, ladder *kb.Ladder, total int) error {
	gpus := GPUsInUse(r.o.Report)
	for n := 1; ; n++ {
		rung := Schedule(n, total, plan, ladder)
		argv := r.argv(n, rung)
		a, err := r.attempt(ctx, rung, argv, gpus)
		if err != nil {
			r.res.ExitCode = ExitCannotRun
			if errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
				r.res.ExitCode = ExitNotFound
			}
			return err
		}
		r.res.Attempts = append(r.res.Attempts, a.Attempt)
		r.res.ExitCode = a.exit
		v := a.Verdict
		switch {
		case v.Kind == KindOK:
			if n > 1 {
				r.say("attempt %d succeeded on the %s", n, strings.ToUpper(rung.Device))
			}
			return nil
		case a.Finished:
			r.say("Ultralytics says the job is finished (%s); done", NothingToResume)
			r.res.ExitCode = 0
			return nil
		case v.Kind == KindInterrupted:
			r.res.Interrupted = true
			r.say("attempt %d %s; not retried", n, v.Summary)
			return nil
		case !v.Retry:
			r.explain(n, a)
			return nil
		case total == 1:
			r.say("attempt 1 failed: %s; not retried (no retries allowed)%s", v.Summary, r.logNote(a.LogPath))
			return nil
		case n >= total:
			r.say("attempt %d of %d failed: %s; no retries left%s", n, total, v.Summary, r.logNote(a.LogPath))
			return nil
		}
		next := Schedule(n+1, total, plan, ladder)
		wait := backoff(r.o.Backoff, n)
		r.say("attempt %d of %d failed: %s; retrying in %s %s%s", n, total, v.Summary, wait, r.rungText(next, gpus), r.logNote(a.LogPath))
		if sig := r.wait(ctx, wait); sig != 0 {
			r.res.Interrupted = true
			r.res.ExitCode = 128 + int(sig)
			r.say("stopped by %s before attempt %d", signalName(sig), n+1)
			return nil
		}
	}
}

// attemptResult carries the process exit code beside the Attempt.
type attemptResult struct {
	Attempt
	exit int
}

// attempt runs one attempt and records it.
func (r *runner) attempt(ctx context.Context, rung Rung, argv []string, gpus []assess.GPUReport) (attemptResult, error) {
	envr := BuildEnvironment(r.o.Environ, r.o.Report.Plan, rung, gpus, r.o.KB)
	env := newEnvList(envr.Env)
	env.set(EnvAttempt, strconv.Itoa(rung.N))
	env.set(EnvDevice, rung.Device)
	if r.res.RunDir != "" {
		env.set(EnvRunDir, r.res.RunDir)
	} else {
		env.unset(EnvRunDir)
	}
	if r.o.Recipe == RecipeLightning && rung.N > 1 {
		env.set(EnvResume, "last")
	} else {
		env.unset(EnvResume)
	}

	a := attemptResult{Attempt: Attempt{Argv: argv}}
	a.N, a.Device, a.Layers, a.Settings = rung.N, rung.Device, envr.Layers, envr.Settings
	r.applyShim(env, &a)
	r.resetShimReport()
	var logFile *attemptLog
	if r.res.RunDir != "" {
		limit := r.o.LogLimit
		if limit == 0 {
			limit = DefaultLogLimit
		}
		logFile = newAttemptLog(filepath.Join(r.res.RunDir, fmt.Sprintf("attempt-%d.log", rung.N)), limit)
	}
	session := &lazySession{r: r, name: fmt.Sprintf("attempt-%d", rung.N)}
	// The matcher scans in chunks; handing it one short line at a time
	// would pay its per-chunk cost for every progress-bar redraw (a child
	// printing 100-byte lines ran 20 times slower). The buffer is only
	// touched from the OnLine goroutine, and flushed before the verdict.
	toMatcher := bufio.NewWriterSize(session, 1<<20)
	pieces := map[supervise.Stream]int{} // pieces seen of the line in progress
	var meter report.Meter
	finished := false
	spec := supervise.Spec{
		Argv: argv, Env: env.list(), Dir: r.o.Dir,
		Stdin: r.o.Stdin, Stdout: r.o.Stdout, Stderr: r.o.Stderr,
		Signals: r.o.Signals, Grace: r.o.Grace, Drain: r.o.Drain,
		OnLine: func(l supervise.Line) {
			// The matcher reads text, one line per line; a gap means the
			// line before may be cut short, so it is ended here.
			if l.Gap {
				toMatcher.WriteByte('\n')
				pieces[l.Stream] = 0
			}
			// Of a line longer than one piece the matcher gets the first
			// and the last piece: failure messages are short, and scanning
			// the middle of a 10 MB line took CPU from the child and its
			// reader for nothing.
			if pieces[l.Stream] == 0 || !l.Partial {
				toMatcher.Write(l.Text)
			}
			if l.Partial {
				pieces[l.Stream]++
				return
			}
			pieces[l.Stream] = 0
			toMatcher.WriteByte('\n')
			meter.Observe(l.Text)
			if r.o.Recipe == RecipeUltralytics && resumeMarker(l.Text) {
				finished = true
			}
		},
	}
	if logFile != nil {
		spec.Log = logFile
	}
	a.Started = time.Now()
	res, err := supervise.Run(ctx, spec)
	if logFile != nil {
		if cerr := logFile.Close(); cerr != nil {
			r.warn("the log of attempt %d is incomplete: %v", rung.N, cerr)
		}
		if logFile.Created() {
			a.LogPath = logFile.path
		}
	}
	if err != nil {
		return a, err
	}
	if res.WriteErr != nil {
		r.log.Debug("output write failed", "attempt", rung.N, "err", res.WriteErr)
	}
	if res.DroppedBytes > 0 {
		// The matcher fell behind a flood of output; the diagnosis may
		// miss a line, the log and the user's stream do not.
		r.log.Debug("matcher skipped output", "attempt", rung.N, "bytes", res.DroppedBytes)
	}
	ending := Ending{
		ExitCode: res.ExitCode, Signal: res.Signal, Interrupted: res.Interrupted,
		StopSignal: res.StopSignal, GPU: rung.Device == history.DeviceGPU,
	}
	var diag *diagnose.Result
	if ending.ExitCode != 0 || ending.Signal != 0 {
		// Only a failure is diagnosed: a job that succeeded does not
		// wait for the matcher.
		toMatcher.Flush()
		diag = session.result()
	}
	a.Verdict = Judge(ending, diag)
	a.Finished = finished && a.Verdict.Kind != KindOK && a.Verdict.Kind != KindInterrupted
	a.exit = res.ProcessExitCode()
	a.Duration = res.Duration
	a.ExitCode = res.ExitCode
	if res.Signal != 0 {
		a.Signal = signalName(res.Signal)
	}
	a.Interrupted = res.Interrupted
	if m := a.Verdict.Match; m != nil && a.Verdict.Kind != KindOK {
		a.Class, a.IssueID = string(m.Class), m.ID
	}
	if v, unit, ok := meter.Throughput(); ok {
		a.Throughput, a.ThroughputUnit = &v, unit
	}
	r.collectShimReport(rung.N, &a)
	r.record(ctx, a.Attempt.Attempt)
	return a, nil
}

// argv is the command of attempt n: the user's, or on a retry the resume
// recipe's, with --resume-args appended.
func (r *runner) argv(n int, rung Rung) []string {
	argv := append([]string(nil), r.o.Argv...)
	if n == 1 {
		return argv
	}
	if r.o.Recipe == RecipeUltralytics {
		w, ok, err := FindUltralyticsWeights(r.dir, r.started)
		switch {
		case err != nil:
			r.warn("--resume ultralytics: %v; attempt %d starts the command again", err, n)
		case !ok:
			r.say("--resume ultralytics: this run saved no %s yet; attempt %d starts the command again", ultralyticsWeights, n)
		default:
			argv = UltralyticsResumeArgv(r.o.Argv, w, rung.Device == history.DeviceCPU)
		}
	}
	if r.o.Recipe == RecipeLightning {
		r.say("--resume lightning: attempt %d runs with %s=last; trainer.fit must pass ckpt_path=\"last\" (or os.environ.get(%q)) to continue from the last checkpoint", n, EnvResume, EnvResume)
	}
	return append(argv, r.o.ResumeArgs...)
}

// rungText says where the next attempt runs and what it changes.
func (r *runner) rungText(next Rung, gpus []assess.GPUReport) string {
	envr := BuildEnvironment(r.o.Environ, r.o.Report.Plan, next, gpus, r.o.KB)
	var b strings.Builder
	if next.Device == history.DeviceCPU {
		b.WriteString("on the CPU, every GPU hidden")
	} else {
		b.WriteString("on the GPU")
		if len(envr.Applied) > 0 {
			b.WriteString(" with " + settingsText(envr.Applied))
		} else {
			b.WriteString(", same configuration")
		}
	}
	for _, s := range envr.Skipped {
		b.WriteString("; " + s)
	}
	return b.String()
}

// explain says why a failed attempt is not retried, and what to do
// instead when the knowledge base knows the failure.
func (r *runner) explain(n int, a attemptResult) {
	v := a.Verdict
	logText := r.logNote(a.LogPath)
	switch v.Kind {
	case KindOrdinary:
		r.say("attempt %d failed: %s, with no GPU failure in its output; not retried%s", n, v.Summary, logText)
		return
	case KindCPUFailure:
		r.say("attempt %d on the CPU failed: %s; not retried (no GPU to blame)%s", n, v.Summary, logText)
	case KindKnown:
		fmt.Fprintf(r.o.Messages, "%sattempt %d failed: %s: %s; a retry cannot fix this%s\n", Prefix, n, v.Summary, v.Match.Title, logText)
	}
	m := v.Match
	if m == nil || v.Kind == KindCPUFailure && retryable(m.Class) {
		return
	}
	if len(m.Advice) > 0 {
		fmt.Fprintf(r.o.Messages, "%swhat to do instead:\n", Prefix)
		for _, adv := range m.Advice {
			fmt.Fprintf(r.o.Messages, "  - %s\n", adv)
		}
	}
	fmt.Fprintf(r.o.Messages, "%smore: rocm-patch issues show %s\n", Prefix, m.ID)
}

// announce prints the decision before the child starts.
func (r *runner) announce(l *kb.Ladder) {
	rep := r.o.Report
	for _, w := range rep.Plan.Warnings {
		r.warn("WARNING: %s", w)
	}
	r.say("%s", strings.TrimPrefix(DecisionLine(rep, r.retries, CPUFallback(rep.Plan, l), r.tilde(r.o.HistoryPath)), Prefix))
	if n := CPUNotice(rep); n != "" {
		// Said even with -q: a job that silently loses its GPU is a
		// surprise nobody wants.
		fmt.Fprintln(r.o.Messages, n)
	}
	if r.o.Recipe == RecipeLightning && r.retries > 0 {
		for _, s := range LightningCheck(r.o.Argv, r.dir) {
			r.warn("--resume lightning: %s mentions neither ckpt_path=\"last\" nor %s; a retry will start training from the beginning", s, EnvResume)
		}
	}
}

// begin makes the run's directory and records the run in the history.
// The job does not wait for the history: the directory is named by the
// time and pid, known at once, and the database is opened and the run
// inserted in the background while the first attempt starts. The history
// keeps the directory's path with the run (`rocm-patch history --json`
// shows it as run_dir).
func (r *runner) begin(ctx context.Context) {
	if r.o.RunsDir != "" {
		dir, err := makeRunDir(r.o.RunsDir, r.started)
		if err != nil {
			r.warn("no log files for this run: %v", err)
		} else {
			r.res.RunDir = dir
		}
	}
	if r.o.History == nil && r.o.OpenHistory == nil {
		return
	}
	run := history.Run{
		Command: r.o.Argv, Dir: r.dir, RunDir: r.res.RunDir, Started: r.started,
		Policy: string(r.o.Report.Plan.Policy),
	}
	if r.o.System != nil {
		run.GPU = runGPU(r.o.Report)
		if len(r.o.System.ROCm) > 0 {
			run.ROCmVersion = r.o.System.ROCm[0].Version
		}
		if len(r.o.System.Torch) > 0 {
			run.TorchVersion = r.o.System.Torch[0].Version
		}
	}
	r.begun = make(chan struct{})
	go func() {
		defer close(r.begun)
		db := r.o.History
		if db == nil {
			var err error
			if db, err = r.o.OpenHistory(); err != nil {
				r.openErr = fmt.Errorf("%w; this run is not recorded", err)
				return
			}
		}
		id, err := db.BeginRun(ctx, run)
		if err != nil {
			r.openErr = fmt.Errorf("history: %w (the run goes on unrecorded)", err)
			return
		}
		r.history, r.res.RunID = db, id
	}()
}

// recorded waits for begin's background work and says whether the run is
// in the history; the first time it is not, it says why.
func (r *runner) recorded() bool {
	if r.begun == nil {
		return false
	}
	<-r.begun
	if r.openErr != nil {
		if !r.histErr {
			r.warn("%v", r.openErr)
		}
		r.histErr = true
		return false
	}
	return true
}

// finish records the outcome.
func (r *runner) finish(ctx context.Context) {
	var atts []history.Attempt
	for _, a := range r.res.Attempts {
		atts = append(atts, a.Attempt)
	}
	if n := len(atts); n > 0 && r.res.Attempts[n-1].Finished {
		// The job had finished before the fault that made rocm-patch
		// retry it; the last attempt only confirmed that.
		atts[n-1].ExitCode, atts[n-1].Signal = 0, ""
	}
	r.res.Outcome = history.DecideOutcome(atts, r.res.Interrupted)
	if !r.recorded() {
		return
	}
	if err := r.history.FinishRun(ctx, r.res.RunID, r.res.Outcome, time.Time{}); err != nil {
		r.historyFailed(err)
	}
}

func (r *runner) record(ctx context.Context, a history.Attempt) {
	if !r.recorded() {
		return
	}
	if err := r.history.RecordAttempt(ctx, r.res.RunID, a); err != nil {
		r.historyFailed(err)
	}
}

// historyFailed warns once: a broken history must not stop training.
func (r *runner) historyFailed(err error) {
	if !r.histErr {
		r.warn("history: %v (the run goes on unrecorded)", err)
	}
	r.histErr = true
}

// wait sleeps d, or less when a stop signal arrives; it returns that
// signal, or 0. A pending signal is seen even when d is zero.
func (r *runner) wait(ctx context.Context, d time.Duration) syscall.Signal {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case s, ok := <-r.o.Signals:
			if !ok {
				r.o.Signals = nil
				continue
			}
			if sig, isStop := s.(syscall.Signal); isStop && stopSignal(sig) {
				return sig
			}
		case <-ctx.Done():
			return syscall.SIGTERM
		case <-t.C:
			return 0
		}
	}
}

func stopSignal(s syscall.Signal) bool {
	switch s {
	case syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT:
		return true
	}
	return false
}

// backoff is the wait before retry n: base, doubled for each retry
// after the first.
func backoff(base time.Duration, n int) time.Duration {
	d := base
	for i := 1; i < n && d < maxBackoff; i++ {
		d *= 2
	}
	return min(d, maxBackoff)
}

// makeRunDir makes runs/<time>-<pid>, 0700 like the history beside it:
// logs hold whatever the job printed. The name is known before the run
// has a history id; two runs cannot share it (one pid, one process), and
// a clash with a leftover folder gets a suffix.
func makeRunDir(runsDir string, started time.Time) (string, error) {
	if err := os.MkdirAll(runsDir, 0o700); err != nil {
		return "", err
	}
	stamp := started.UTC().Format("20060102T150405Z") + "-" + strconv.Itoa(os.Getpid())
	var err error
	for i := 0; i < 10; i++ {
		name := stamp
		if i > 0 {
			name += "-" + strconv.Itoa(i)
		}
		dir := filepath.Join(runsDir, name)
		if err = os.Mkdir(dir, 0o700); err == nil || !errors.Is(err, fs.ErrExist) {
			if err != nil {
				return "", err
			}
			return dir, nil
		}
	}
	return "", err
}

// runGPU is the GPU history shows for a run: the first GPU it uses, else
// the first GPU in use at all.
func runGPU(rep *assess.Report) history.GPU {
	gpus := GPUsInUse(rep)
	if len(gpus) == 0 {
		gpus = inUse(rep)
	}
	if len(gpus) == 0 {
		return history.GPU{}
	}
	return history.GPU{Target: gpus[0].Target, Family: gpus[0].Family, Name: gpus[0].Name}
}

func (r *runner) say(format string, args ...any) {
	if !r.o.Quiet {
		fmt.Fprintf(r.o.Messages, Prefix+format+"\n", args...)
	}
}

func (r *runner) warn(format string, args ...any) {
	fmt.Fprintf(r.o.Messages, Prefix+format+"\n", args...)
}

// logNote is " (log: PATH)", or "" when the attempt kept no log.
func (r *runner) logNote(p string) string {
	if p == "" {
		return ""
	}
	return " (log: " + r.tilde(p) + ")"
}

func (r *runner) tilde(p string) string {
	if p == "" {
		return ""
	}
	return Tilde(p, newEnvList(r.o.Environ).vals["HOME"])
}
