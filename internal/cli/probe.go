package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/rocm-patch/rocm-patch/internal/assess"
	"github.com/rocm-patch/rocm-patch/internal/history"
	"github.com/rocm-patch/rocm-patch/internal/probe"
	"github.com/rocm-patch/rocm-patch/internal/runner"
	"github.com/rocm-patch/rocm-patch/internal/shim"
	"github.com/rocm-patch/rocm-patch/internal/system"
)

func (a *app) newProbeCommand() *cobra.Command {
	var (
		rootFlag, historyFlag, configsFlag, pythonFlag string
		quick, asJSON                                  bool
		iterations                                     int
	)
	cmd := &cobra.Command{
		Use:   "probe [--iterations N] [--configs LIST] [--quick] [--json]",
		Short: "Measure on this machine how often a fault-prone PyTorch workload crashes under each mitigation, and how fast it runs",
		Long: `probe runs a small PyTorch training loop built from what the documented
ROCm memory access faults have in common (view/reshape/permute chains,
EEGNeX-like spatial and depthwise-separable convolutions, batch 32, mixed
precision, frequent allocation and release) under each configuration, N
times each, every attempt in a child process of its own (a fault kills only
that child) supervised as rocm-patch run supervises a job:

  none       the GPU, with your environment as it is
  env        the GPU, with the environment layer of rocm-patch env
  env+shim   as env, with the in-process Python shim (see rocm-patch run)
  cpu        every GPU hidden: the baseline for the speedup

It prints, per configuration, the attempts, crashes, crash rate with its 95%
interval, the median step time and the speedup over the CPU: the documented
issues, measured on your own machine. Every attempt also goes into the
history, so rocm-patch report shows them beside your own runs.

GPU configurations are skipped, with the reason, when no AMD GPU is visible
or usable, or when torch sees none. The workload needs PyTorch in the
interpreter --python names (default /usr/bin/python3, where distribution
packages install it; the python3 first on PATH may be a virtual environment
without it). --quick runs each configuration once on tiny inputs: it ends
within a minute. See docs/run.md.`,
		Example: `  rocm-patch probe --quick
  rocm-patch probe --iterations 10 --configs env,env+shim
  rocm-patch probe --configs cpu --json
  rocm-patch probe --python ~/venvs/rocm/bin/python`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			configs, err := probe.ParseConfigs(configsFlag)
			if err != nil {
				return usageError("--configs: %v", err)
			}
			if !cmd.Flags().Changed("iterations") && quick {
				iterations = 1
			}
			if iterations < 1 {
				return usageError("--iterations %d: must be 1 or more", iterations)
			}
			size := probe.Full
			if quick {
				size = probe.Quick
			}
			return a.probeCommand(cmd, probeOptions{
				root: rootFlag, historyPath: historyFlag, python: pythonFlag,
				configs: configs, iterations: iterations, size: size, quick: quick, json: asJSON,
			})
		},
	}
	f := cmd.Flags()
	f.IntVar(&iterations, "iterations", probe.DefaultIterations, "attempts of each configuration (1 under --quick unless given)")
	f.StringVar(&configsFlag, "configs", "all", "the configurations to run, comma-separated: none, env, env+shim, cpu, or all")
	f.BoolVar(&quick, "quick", false, "tiny inputs, a few steps, one attempt each: done within a minute")
	f.BoolVar(&asJSON, "json", false, "print the result as JSON (schema rocm-patch/probe/v1)")
	f.StringVar(&pythonFlag, "python", probe.DefaultPython, "the Python `PATH` (or name on PATH) whose PyTorch runs the workload")
	f.StringVar(&rootFlag, "root", "", rootFlagHelp)
	f.StringVar(&historyFlag, "history", "", historyFlagHelp)
	return cmd
}

// probeOptions are probe's parsed flags.
type probeOptions struct {
	root, historyPath, python string
	configs                   []probe.Config
	iterations                int
	size                      probe.Size
	quick, json               bool
}

func (a *app) probeCommand(cmd *cobra.Command, po probeOptions) error {
	var shimOpts *shim.Options // the shim's defaults, for env+shim only
	for _, c := range po.configs {
		if c == probe.ConfigEnvShim {
			shimOpts = &shim.Options{}
		}
	}
	rep, sys, k, err := a.detectAndAssess(cmd, po.root, assess.PolicyMitigate, "")
	if err != nil {
		return err
	}
	python, err := probe.ResolvePython(po.python, a.environ)
	if err != nil {
		return fmt.Errorf("probe: --python: %w", err)
	}
	cache, err := shim.DefaultCacheRoot(a.getenv)
	if err != nil {
		return fmt.Errorf("probe: %w", err)
	}
	workload, err := probe.InstallWorkload(cache)
	if err != nil {
		return fmt.Errorf("probe: %w", err)
	}
	// As in run, the first ^C goes to the attempt's child and history
	// still records how it ended.
	ctx := context.WithoutCancel(cmd.Context())
	if _, err := probe.CheckTorch(ctx, python, workload, a.environ); err != nil {
		if errors.Is(err, probe.ErrNoTorch) {
			return errors.New(noTorchMessage(python, sys))
		}
		return fmt.Errorf("probe: %w", err)
	}

	o := probe.Options{
		Python: python, Workload: workload, Size: po.size, Quick: po.quick,
		Iterations: po.iterations, Configs: po.configs, Environ: a.environ,
		Report: rep, System: sys, KB: k, Logger: a.log,
		Progress: a.probeProgress,
	}
	if o.Shim, err = a.installShim(shimOpts); err != nil {
		fmt.Fprintf(a.stderr, "rocm-patch: probe: the Python shim could not be installed (%v); env+shim is skipped\n", err)
	}
	path, err := a.historyPath(po.historyPath)
	if err != nil {
		fmt.Fprintf(a.stderr, "rocm-patch: %v; the probe's attempts are not recorded\n", err)
	} else {
		db, err := history.Open(ctx, path)
		if err != nil {
			fmt.Fprintf(a.stderr, "rocm-patch: %v; the probe's attempts are not recorded\n", err)
		} else {
			defer db.Close()
			o.History, o.HistoryPath = db, path
		}
		o.RunsDir = filepath.Join(filepath.Dir(path), "runs")
	}
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, StopSignals...)
	defer signal.Stop(sigs)
	o.Signals = sigs

	res, runErr := probe.Run(ctx, o)
	var werr error
	if po.json {
		werr = probe.WriteJSON(a.stdout, res)
	} else {
		werr = probe.WriteText(a.stdout, res)
	}
	switch {
	case runErr != nil:
		return fmt.Errorf("probe: %w", runErr)
	case werr != nil:
		return werr
	case res.Interrupted:
		fmt.Fprintln(a.stderr, "rocm-patch: probe: stopped; the table shows the attempts that ran")
		return withCode(130, nil)
	}
	return nil
}

// probeProgress says on stderr what the probe is doing: attempts take
// seconds to minutes each.
func (a *app) probeProgress(p probe.Progress) {
	if p.Attempt == nil {
		fmt.Fprintf(a.stderr, "rocm-patch: probe: %s, attempt %d of %d ...\n", p.Config, p.Iteration, p.Of)
		return
	}
	at := p.Attempt
	var what string
	switch {
	case at.Skipped != "":
		what = "skipped: " + at.Skipped
	case at.Result == history.ResultOK && at.Output != nil:
		what = fmt.Sprintf("ok, %s ms a step, %.1f steps/s", stepMS(at.Output.MedianStepMS), at.Output.Throughput)
	default:
		what = string(at.Result)
		if at.Summary != "" {
			what += ": " + at.Summary
		}
	}
	log := ""
	if at.LogPath != "" && at.Result != history.ResultOK {
		log = " (log: " + runner.Tilde(at.LogPath, a.getenv("HOME")) + ")"
	}
	fmt.Fprintf(a.stderr, "rocm-patch: probe: %s, attempt %d of %d: %s%s\n", p.Config, p.Iteration, p.Of, what, log)
}

// stepMS shows a step time with the digits that matter.
func stepMS(v float64) string {
	switch {
	case v < 10:
		return strconv.FormatFloat(v, 'f', 2, 64)
	case v < 100:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 0, 64)
}

// noTorchMessage tells the user plainly that the interpreter lacks torch,
// and where detect found PyTorch on this machine.
func noTorchMessage(python string, sys *system.System) string {
	var b strings.Builder
	fmt.Fprintf(&b, "probe: %s cannot import torch: PyTorch is not installed for this interpreter. Install PyTorch for it, or pass --python with an interpreter that has it", python)
	if python != probe.DefaultPython {
		fmt.Fprintf(&b, " (the default is %s)", probe.DefaultPython)
	}
	if sys != nil && len(sys.Torch) > 0 {
		var found []string
		for _, t := range sys.Torch {
			s := t.Path
			if t.Version != "" {
				s += " (" + t.Version + ")"
			}
			found = append(found, s)
		}
		fmt.Fprintf(&b, ". PyTorch found on this machine: %s", strings.Join(found, ", "))
	}
	return b.String()
}
