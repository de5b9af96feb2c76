package probe

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/rocm-patch/rocm-patch/internal/assess"
	"github.com/rocm-patch/rocm-patch/internal/history"
	"github.com/rocm-patch/rocm-patch/internal/kb"
	"github.com/rocm-patch/rocm-patch/internal/runner"
	"github.com/rocm-patch/rocm-patch/internal/shim"
	"github.com/rocm-patch/rocm-patch/internal/system"
)

// DefaultPython is the interpreter the probe runs by default: the
// system's, which distributions' PyTorch packages install into, rather
// than whatever python3 is first on PATH (a pyenv or a venv without torch,
// often).
const DefaultPython = "/usr/bin/python3"

// DefaultIterations is how many attempts each configuration gets.
const DefaultIterations = 5

// Errors the checks wrap; test with errors.Is.
var (
	// ErrNoPython: the interpreter does not exist or cannot be run.
	ErrNoPython = errors.New("cannot run the Python interpreter")
	// ErrNoTorch: the interpreter has no torch to import.
	ErrNoTorch = errors.New("PyTorch is not installed for this interpreter")
)

// checkTimeout bounds the GPU check (importing torch takes seconds; a
// runtime that hangs while enumerating GPUs should not hang the probe).
const checkTimeout = 2 * time.Minute

// Options describe a probe.
type Options struct {
	// Python is the interpreter (ResolvePython); Workload the path of the
	// installed workload (InstallWorkload).
	Python   string
	Workload string
	Size     Size
	Quick    bool
	// Iterations is the number of attempts of each configuration.
	Iterations int
	// Configs are the configurations to measure (ParseConfigs).
	Configs []Config
	// Environ is the user's environment, the base of every attempt's.
	Environ []string
	// Report is doctor's report (any policy), System the machine it
	// assessed (may be nil), KB the knowledge base.
	Report *assess.Report
	System *system.System
	KB     *kb.KB
	// Shim is loaded in the env+shim configuration; nil skips it.
	Shim *runner.Shim
	// History, HistoryPath and RunsDir record every attempt as run does.
	History     *history.DB
	HistoryPath string
	RunsDir     string
	// Signals stop the attempt running (and the probe), as in run.
	Signals <-chan os.Signal
	// Grace is passed to the runner (zero: its default).
	Grace time.Duration
	// Progress, when not nil, is told before and after each attempt.
	Progress func(Progress)
	Logger   *slog.Logger
}

// Progress is one step of a probe, for a progress line.
type Progress struct {
	Config    Config
	Iteration int
	Of        int
	// Attempt is nil before the attempt and its result after it.
	Attempt *Attempt
}

// ResolvePython finds name the way the attempts' environment would: a
// name with a slash as it is, made absolute; otherwise looked up in
// environ's PATH. The absolute path keeps the history's command the same
// from any folder.
func ResolvePython(name string, environ []string) (string, error) {
	if name == "" {
		return "", fmt.Errorf("--python: empty: %w", ErrNoPython)
	}
	if strings.Contains(name, "/") {
		p, err := filepath.Abs(name)
		if err != nil {
			return "", fmt.Errorf("%s: %w: %w", name, ErrNoPython, err)
		}
		if err := executable(p); err != nil {
			return "", fmt.Errorf("%s: %w: %w", p, ErrNoPython, err)
		}
		return p, nil
	}
	path, _ := lookup(environ, "PATH")
	for _, dir := range filepath.SplitList(path) {
		if dir == "" || !filepath.IsAbs(dir) {
			continue
		}
		p := filepath.Join(dir, name)
		if executable(p) == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: %w: not found in PATH", name, ErrNoPython)
}

func executable(p string) error {
	fi, err := os.Stat(p)
	switch {
	case err != nil:
		return err
	case fi.IsDir():
		return errors.New("is a folder")
	case fi.Mode()&0o111 == 0:
		return fs.ErrPermission
	}
	return nil
}

func lookup(env []string, k string) (string, bool) {
	for i := len(env) - 1; i >= 0; i-- {
		if kk, v, ok := strings.Cut(env[i], "="); ok && kk == k {
			return v, true
		}
	}
	return "", false
}

// CheckTorch asks python, in environ, whether it can import torch, without
// importing it (tens of milliseconds). The error wraps ErrNoTorch or
// ErrNoPython and names the interpreter.
func CheckTorch(ctx context.Context, python, workload string, environ []string) (Check, error) {
	env := shim.Apply(environ, []string{shim.EnvDevice + "=" + history.DeviceCPU})
	c, err := runCheck(ctx, python, workload, env)
	if err != nil {
		return c, err
	}
	if c.Torch == "" {
		return c, fmt.Errorf("%s: %w", python, ErrNoTorch)
	}
	return c, nil
}

// runCheck runs the workload's --check in env and reads its answer.
func runCheck(ctx context.Context, python, workload string, env []string) (Check, error) {
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, CheckArgs(python, workload)[1:]...)
	cmd.Env = env
	cmd.Dir = filepath.Dir(workload)
	var out, errb tail
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		return Check{}, fmt.Errorf("%s %s --check: %v%s", python, workload, err, errb.lastLine())
	default:
		return Check{}, fmt.Errorf("%s: %w: %w", python, ErrNoPython, err)
	}
	c, ok, _ := ParseCheck(bytes.NewReader(out.Bytes()))
	if !ok {
		return Check{}, fmt.Errorf("%s %s --check gave no answer%s", python, workload, errb.lastLine())
	}
	return c, nil
}

// Run measures every configuration of o.Configs, o.Iterations times each,
// each attempt a supervised child recorded in the history as run records
// it. Configurations take turns (attempt 1 of each, then attempt 2, ...),
// so that a GPU left worse by one configuration's fault, or a machine
// busier for a while, weighs on all of them alike. A configuration stops
// early after a failure another attempt cannot change (a missing code
// object, torch seeing no GPU). The error is non-nil when the probe could
// not run at all, or an attempt could not be started; the Result holds
// what ran either way.
func Run(ctx context.Context, o Options) (res Result, err error) {
	res = Result{
		Schema: Schema, Generated: time.Now().UTC(), Python: o.Python, Quick: o.Quick,
		Iterations: o.Iterations, History: o.HistoryPath,
		Workload: Workload{Path: o.Workload, Command: Args(o.Python, o.Workload, o.Size), Size: o.Size},
	}
	switch {
	case o.Python == "" || o.Workload == "":
		return res, errors.New("probe: no interpreter or workload")
	case o.Report == nil || o.KB == nil:
		return res, errors.New("probe: a doctor report and the knowledge base are required")
	case o.Iterations < 1:
		return res, fmt.Errorf("probe: %d iterations: want at least 1", o.Iterations)
	case len(o.Configs) == 0:
		return res, errors.New("probe: no configuration to run")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	setups := make([]Setup, len(o.Configs))
	for i, c := range o.Configs {
		setups[i] = PlanFor(c, o.Report, o.KB)
	}
	res.Notes = o.checkGPU(ctx, setups, &res)
	for i := range setups {
		// After the GPU check: no GPU is the better reason to give.
		if setups[i].Shim && o.Shim == nil && setups[i].Skip == "" {
			setups[i].Skip = SkipNoShim
		}
	}
	res.Configurations = make([]Row, len(setups))
	for i, s := range setups {
		row := Row{Config: s.Config, Device: s.Config.Device(), Configuration: configuration(s)}
		if s.Skip != "" {
			why := s.Skip
			row.Skipped = &why
		}
		res.Configurations[i] = row
	}
	// The named result is summed up on every return, early ones included.
	defer res.Summarize()
	for it := 1; it <= o.Iterations; it++ {
		for i, s := range setups {
			row := &res.Configurations[i]
			if row.Skipped != nil || row.Stopped != "" {
				continue
			}
			if o.Progress != nil {
				o.Progress(Progress{Config: s.Config, Iteration: it, Of: o.Iterations})
			}
			a, stop, interrupted, err := o.attempt(ctx, s, it)
			if err != nil {
				return res, err
			}
			row.Runs = append(row.Runs, a)
			if res.Torch == "" && a.Output != nil {
				res.Torch = a.Output.Torch
			}
			if o.Progress != nil {
				o.Progress(Progress{Config: s.Config, Iteration: it, Of: o.Iterations, Attempt: &a})
			}
			if interrupted {
				res.Interrupted = true
				return res, nil
			}
			row.Stopped = stop
		}
	}
	return res, nil
}

// configuration is history's name for a setup's layers, as the runner
// will record them.
func configuration(s Setup) string {
	if s.Config == ConfigCPU {
		return string(ConfigCPU)
	}
	layers := []string{}
	if len(s.Plan.Env) > 0 {
		layers = append(layers, runner.LayerEnv)
	}
	if s.Shim {
		layers = append(layers, runner.LayerShim)
	}
	return history.CanonicalLayers(layers)
}

// checkGPU asks torch, once, whether it sees a GPU under the environment
// layer, when a GPU configuration is to run: without one, every GPU
// attempt would only find that out, and be counted as an error rather
// than as nothing. A check that fails (crashes, hangs) leaves the GPU
// configurations to run, and to be counted.
func (o Options) checkGPU(ctx context.Context, setups []Setup, res *Result) []string {
	var gpu []int
	for i, s := range setups {
		if s.Config.GPU() && s.Skip == "" {
			gpu = append(gpu, i)
		}
	}
	if len(gpu) == 0 {
		return nil
	}
	envSetup := PlanFor(ConfigEnv, o.Report, o.KB)
	rep := *o.Report
	rep.Plan = envSetup.Plan
	env := runner.BuildEnvironment(o.Environ, envSetup.Plan, runner.Rung{N: 1, Device: history.DeviceGPU}, runner.GPUsInUse(&rep), o.KB).Env
	env = shim.Apply(env, []string{shim.EnvDevice + "=" + history.DeviceGPU})
	c, err := runCheck(ctx, o.Python, o.Workload, env)
	if err != nil {
		o.Logger.Debug("GPU check failed", "err", err)
		return []string{fmt.Sprintf("asking torch whether it sees a GPU failed (%v); the GPU configurations ran anyway", err)}
	}
	res.Torch = c.Torch
	if c.GPU {
		return nil
	}
	why := SkipTorchNoGPU
	if c.HIP == "" {
		why += " (torch " + c.Torch + " is not a ROCm build)"
	}
	for _, i := range gpu {
		setups[i].Skip = why
	}
	return nil
}

// attempt runs configuration s once through the runner, as `rocm-patch
// run --retries 0` would. stop, when not empty, says why the
// configuration should not be tried again.
func (o Options) attempt(ctx context.Context, s Setup, it int) (a Attempt, stop string, interrupted bool, err error) {
	rep := *o.Report
	rep.Plan = s.Plan
	var out, errb tail
	ro := runner.Options{
		Argv: Args(o.Python, o.Workload, o.Size), Dir: filepath.Dir(o.Workload), Environ: o.Environ,
		Report: &rep, System: o.System, KB: o.KB,
		Stdout: &out, Stderr: &errb, Messages: io.Discard, Quiet: true,
		Signals: o.Signals, Grace: o.Grace,
		History: o.History, HistoryPath: o.HistoryPath, RunsDir: o.RunsDir,
		Logger: o.Logger,
	}
	if s.Shim {
		ro.Shim = o.Shim
	}
	rr, err := runner.Run(ctx, ro)
	if err != nil {
		return a, "", false, fmt.Errorf("probe %s: %w", s.Config, err)
	}
	a = Attempt{Iteration: it, RunID: rr.RunID, Result: history.ResultInterrupted}
	if len(rr.Attempts) == 0 {
		return a, "", rr.Interrupted, nil
	}
	ra := rr.Attempts[0]
	a.Result, a.ExitCode, a.Signal = ra.Result(), ra.ExitCode, ra.Signal
	a.Class, a.IssueID, a.Summary = ra.Class, ra.IssueID, ra.Verdict.Summary
	a.DurationS, a.LogPath, a.Shim = ra.Duration.Seconds(), ra.LogPath, ra.Shim
	if outp, ok, _ := ParseOutput(bytes.NewReader(out.Bytes())); ok {
		a.Output = &outp
		a.Skipped = outp.Skipped
	}
	switch {
	case a.Skipped != "":
		stop = "stopped: torch saw no GPU"
	case ra.ExitCode == ExitNoTorch && a.Output == nil && strings.Contains(out.String(), "cannot import torch"):
		stop = "stopped: torch cannot be imported"
	case ra.Verdict.Kind == runner.KindKnown:
		stop = fmt.Sprintf("stopped after attempt %d: another attempt cannot fix %s (rocm-patch issues show %s)", it, ra.Class, ra.IssueID)
	}
	return a, stop, rr.Interrupted, nil
}

// tail keeps the last tailMax bytes written to it; the workload's own
// lines come last, and a chatty library cannot make the probe hold its
// whole output.
type tail struct {
	mu  sync.Mutex
	buf []byte
}

const tailMax = 256 << 10

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := len(p)
	if len(p) >= tailMax {
		t.buf = append(t.buf[:0], p[len(p)-tailMax:]...)
		return n, nil
	}
	if over := len(t.buf) + len(p) - tailMax; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	t.buf = append(t.buf, p...)
	return n, nil
}

func (t *tail) Bytes() []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]byte(nil), t.buf...)
}

func (t *tail) String() string { return string(t.Bytes()) }

// lastLine is ": <the last non-empty line>", or "".
func (t *tail) lastLine() string {
	lines := strings.Split(strings.TrimSpace(t.String()), "\n")
	if l := strings.TrimSpace(lines[len(lines)-1]); l != "" {
		return ": " + l
	}
	return ""
}
