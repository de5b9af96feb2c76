package cli

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/rocm-patch/rocm-patch/internal/assess"
	"github.com/rocm-patch/rocm-patch/internal/history"
	"github.com/rocm-patch/rocm-patch/internal/kb"
	"github.com/rocm-patch/rocm-patch/internal/runner"
	"github.com/rocm-patch/rocm-patch/internal/sdk"
	"github.com/rocm-patch/rocm-patch/internal/shim"
	"github.com/rocm-patch/rocm-patch/internal/supervise"
	"github.com/rocm-patch/rocm-patch/internal/system"
)

const historyFlagHelp = "the history database `PATH` (default $XDG_STATE_HOME/rocm-patch/history.db, else ~/.local/state/rocm-patch/history.db)"

func (a *app) newRunCommand() *cobra.Command {
	var (
		rootFlag, policyFlag, historyFlag, resumeFlag, resumeArgsFlag, sdkFlag string
		shimPolicyFlag, recipeFlag, logLimitFlag                               string
		force, quiet, noShim                                                   bool
		retries                                                                int
		memFraction                                                            float64
		backoff, grace                                                         time.Duration
	)
	cmd := &cobra.Command{
		Use:   "run [flags] -- COMMAND [ARGS...]",
		Short: "Run a training command supervised: environment layer, crash recognition, retries, CPU fallback",
		Long: `run starts COMMAND the way doctor planned for this machine and stays in front
of it until it is done:

  - the policy's environment layer is applied to the child only (what
    rocm-patch env prints); under --policy cpu, or when no GPU can be used,
    every GPU the job would use is hidden so that ROCm, HIP and PyTorch see
    none (torch.cuda.is_available() is False), and run says why;
  - output reaches you byte for byte as the child writes it (progress bars
    included: on a terminal the child gets a terminal of its own), and each
    attempt's output is also kept in runs/<time>-<pid>/attempt-N.log beside
    the history (its first and last --log-limit bytes: 64M by default;
    rocm-patch history --json shows each run's folder as run_dir);
  - SIGINT, SIGTERM, SIGHUP and SIGQUIT go to the child's whole process
    group; after --grace the group is killed. An interrupt is never retried;
  - a failed attempt is diagnosed. A GPU fault (gpu-memory-fault,
    aperture-violation, illegal-address, kernel-page-fault, gpu-hang, or a
    crash by signal on the GPU) is retried after --backoff (doubling),
    climbing the ladder: attempt 2 adds a conservative PyTorch allocator
    setting, the last attempt runs on the CPU. Failures a retry cannot fix
    (no kernels for the GPU, a wrong override, an ordinary exception) end the
    run with what to do instead;
  - every run and attempt goes into the history (rocm-patch history,
    rocm-patch report);
  - the in-process Python shim goes first on PYTHONPATH (its sitecustomize
    runs yours too): when torch initialises the GPU it caps each process at
    --memory-fraction of the GPU's memory, and a tensor that cannot be
    allocated on the GPU is made on the CPU (--shim-policy fallback), after
    one retry (retry), or the error is left to the job (raise). What it did
    is in the history. --no-shim leaves it out.

The child sees ROCM_PATCH_ATTEMPT (1, 2, ...), ROCM_PATCH_DEVICE (gpu or cpu)
and ROCM_PATCH_RUN_DIR, and PYTHONUNBUFFERED=1 unless you set it.

Resuming instead of starting again on a retry:
  --resume ultralytics  a retry runs: yolo train resume model=<this run's newest
                        runs/*/*/weights/last.pt> (device=cpu on the CPU);
                        "nothing to resume" means the job had finished
  --resume lightning    retries get ROCM_PATCH_RESUME=last; your script must
                        pass it on: trainer.fit(model, ckpt_path="last"), or
                        ckpt_path=os.environ.get("ROCM_PATCH_RESUME")
  --resume-args "..."   words appended to the command on retries (quoted as
                        in a shell, nothing expanded)

Training recipes, for RDNA1 and RDNA2 GPUs only (others get no changes):
  --recipe ultralytics  adds the documented thermal project's safe settings
                        (a small batch, amp=False, fewer workers) to a yolo
                        train command, each unless you set it, and says
                        what it added
  --recipe lightning    adds nothing (Lightning takes these settings from
                        your script) and says what to set there

run exits with the last attempt's exit status, 128+N when a signal N killed
it, 127 when COMMAND is not found, 126 when it cannot be started, 2 for bad
flags. See docs/run.md.`,
		Example: `  rocm-patch run -- python train.py --epochs 10
  rocm-patch run --policy cpu -- python train.py
  rocm-patch run --resume ultralytics -- yolo train model=yolov8n.pt data=coco8.yaml
  rocm-patch run --recipe ultralytics --resume ultralytics -- yolo detect train data=thermal.yaml
  rocm-patch run --resume-args "--resume" --retries 3 -- python train.py
  rocm-patch run --memory-fraction 0.6 --shim-policy retry -- python train.py
  rocm-patch run --root examples/systems/rx6700xt -q -- sh -c 'echo $ROCM_PATCH_DEVICE'`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError("run: no command given (rocm-patch run [flags] -- COMMAND [ARGS...])")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			policy, err := assess.ParsePolicy(policyFlag)
			if err != nil {
				return usageError("--policy: %v", err)
			}
			if force {
				if cmd.Flags().Changed("policy") && policy != assess.PolicyForceGPU {
					return usageError("--force-gpu-unsafe contradicts --policy %s", policy)
				}
				policy = assess.PolicyForceGPU
			}
			recipe, err := runner.ParseRecipe(resumeFlag)
			if err != nil {
				return usageError("--resume: %v", err)
			}
			var training *kb.TrainingRecipe
			if recipeFlag != "" {
				if training, err = kb.FindTrainingRecipe(recipeFlag); err != nil {
					return usageError("--recipe: %v", err)
				}
			}
			resumeArgs, err := runner.SplitArgs(resumeArgsFlag)
			if err != nil {
				return usageError("--resume-args: %v", err)
			}
			if !cmd.Flags().Changed("retries") {
				retries = runner.DefaultRetries
				if policy == assess.PolicyForceGPU {
					retries = 0
				}
			}
			switch {
			case retries < 0:
				return usageError("--retries %d: must be 0 or more", retries)
			case backoff < 0 || grace < 0:
				return usageError("--backoff and --grace must not be negative")
			}
			shimOpts, err := parseShimFlags(noShim, shimPolicyFlag, memFraction)
			if err != nil {
				return err
			}
			logLimit, err := runner.ParseSize(logLimitFlag)
			if err != nil {
				return usageError("--log-limit: %v", err)
			}
			if logLimit == 0 {
				logLimit = -1 // 0 on the command line: keep everything
			}
			return a.runCommand(cmd, args, runOptions{
				root: rootFlag, policy: policy, historyPath: historyFlag, recipe: recipe, resumeArgs: resumeArgs,
				quiet: quiet, retries: retries, backoff: backoff, grace: grace, shim: shimOpts, sdk: sdkFlag, training: training,
				logLimit: logLimit,
			})
		},
	}
	cmd.Flags().SetInterspersed(false)
	f := cmd.Flags()
	f.StringVar(&rootFlag, "root", "", rootFlagHelp)
	f.StringVar(&policyFlag, "policy", string(assess.PolicyMitigate), "mitigate (GPU with the environment layer, CPU after faults) or cpu (high-risk GPUs hidden)")
	f.BoolVar(&force, "force-gpu-unsafe", false, "use the GPU as it is: no layer beyond what it needs to load code, no retries, no CPU fallback")
	f.IntVar(&retries, "retries", runner.DefaultRetries, "retries after a GPU fault (0 under --force-gpu-unsafe unless given)")
	f.DurationVar(&backoff, "backoff", runner.DefaultBackoff, "wait before the first retry; it doubles for each further one")
	f.DurationVar(&grace, "grace", supervise.DefaultGrace, "how long the child has to exit after a stop signal before it is killed")
	f.StringVar(&resumeFlag, "resume", "", "continue the job on a retry: ultralytics or lightning")
	f.StringVar(&logLimitFlag, "log-limit", runner.FormatSize(runner.DefaultLogLimit), "how much of each attempt's output its log keeps: the first quarter and the rest from the end (`SIZE` in bytes, K, M or G; 0 keeps all)")
	f.StringVar(&recipeFlag, "recipe", "", "add a training recipe's safe settings for RDNA1/RDNA2 to the command: ultralytics or lightning")
	f.StringVar(&resumeArgsFlag, "resume-args", "", "`WORDS` appended to the command on retries, split as a shell would (no expansion)")
	f.StringVar(&historyFlag, "history", "", historyFlagHelp)
	f.StringVar(&sdkFlag, "sdk", "", "activate the ROCm tree at `PATH` (e.g. /opt/rocm_sdk_612) for the child: ROCM_PATH, ROCM_HOME, HIP_PATH, PATH, LD_LIBRARY_PATH (see rocm-patch sdk env)")
	f.BoolVarP(&quiet, "quiet", "q", false, "print no decision or retry lines (warnings and what to do after a failure still print)")
	f.BoolVar(&noShim, "no-shim", false, "leave the in-process Python shim out")
	f.Float64Var(&memFraction, "memory-fraction", shim.DefaultMemoryFraction, "the share `F` (0 < F <= 1) of each GPU's memory one process may take (the shim)")
	f.StringVar(&shimPolicyFlag, "shim-policy", string(shim.PolicyFallback), "a GPU allocation that fails: fallback (made on the CPU), retry (free the cache, try once more, then fall back) or raise")
	return cmd
}

// parseShimFlags reads --no-shim, --shim-policy and --memory-fraction; nil
// means no shim.
func parseShimFlags(noShim bool, policy string, fraction float64) (*shim.Options, error) {
	p, err := shim.ParsePolicy(policy)
	if err != nil {
		return nil, usageError("--shim-policy: %v", err)
	}
	// NaN fails both comparisons, so it is refused too.
	if !(fraction > 0 && fraction <= 1) {
		return nil, usageError("--memory-fraction %v: want 0 < F <= 1", fraction)
	}
	if noShim {
		return nil, nil
	}
	return &shim.Options{Policy: p, MemoryFraction: fraction}, nil
}

// installShim installs the shim in the user's cache folder. Its fast path
// (the folder is there and complete) looks at a few small files, which is
// quicker done here than handed to another thread: on a small VM a
// goroutine waited up to 0.7 ms for a thread to run on. The result is nil
// when the shim is off.
func (a *app) installShim(opts *shim.Options) (*runner.Shim, error) {
	if opts == nil {
		return nil, nil
	}
	root, err := shim.DefaultCacheRoot(a.getenv)
	if err != nil {
		return nil, err
	}
	dir, err := shim.Install(root)
	if err != nil {
		return nil, err
	}
	return &runner.Shim{Dir: dir, Options: *opts}, nil
}

// runOptions are run's parsed flags.
type runOptions struct {
	root, historyPath string
	policy            assess.Policy
	recipe            runner.Recipe
	resumeArgs        []string
	quiet             bool
	retries           int
	backoff, grace    time.Duration
	// shim is nil under --no-shim.
	shim *shim.Options
	// sdk is --sdk: a ROCm tree to activate for the child, or "".
	sdk string
	// training is --recipe, or nil.
	training *kb.TrainingRecipe
	// logLimit is --log-limit in bytes; negative keeps all output.
	logLimit int64
}

func (a *app) runCommand(cmd *cobra.Command, argv []string, ro runOptions) error {
	// The run must outlive the first ^C: the child gets the signal and
	// its grace, and history still records how it ended. So the command's
	// context, which main cancels on SIGINT/SIGTERM, does not stop it;
	// the signals arrive on their own channel instead.
	ctx := context.WithoutCancel(cmd.Context())
	// Opening the history (a file, its schema, WAL mode) starts now and
	// goes on while the machine is read and the job starts; the runner
	// records the run once it is open. The database is not closed before the process exits: closing the
	// last connection checkpoints the write-ahead log into the file and
	// deletes it, two or three fsyncs (2-5 ms here) after every job, and
	// the next run pays again to create the log. Left open, the commits
	// are already in the log (as durable as synchronous=NORMAL makes
	// them), SQLite's automatic checkpoint folds the log in every 64
	// pages, and the next process to open the file takes over the log as
	// WAL mode is designed to. history and report close normally.
	histPath, histPathErr := a.historyPath(ro.historyPath)
	var histReady func() (*history.DB, error)
	if histPathErr == nil {
		histReady = openHistory(ctx, histPath)
		// An early return still waits for the open, so that a first
		// run's schema migration is never cut short by the exit.
		defer histReady()
	}
	rep, sys, k, err := a.detectAndAssess(cmd, ro.root, ro.policy, ro.sdk)
	if err != nil {
		return err
	}
	if ro.training != nil {
		// The recipe's additions become the command itself: every attempt
		// that starts it again trains alike, and history records what ran.
		tc := runner.PlanTraining(ro.training, argv, rep)
		argv = tc.Argv
		if tc.Debug != "" {
			a.log.Debug(tc.Debug)
		}
		for _, l := range tc.Warnings {
			fmt.Fprintln(a.stderr, l)
		}
		if !ro.quiet {
			for _, l := range tc.Lines {
				fmt.Fprintln(a.stderr, l)
			}
		}
	}
	environ := a.environ
	if ro.sdk != "" {
		if environ, err = sdk.Activate(a.environ, ro.sdk); err != nil {
			return usageError("--sdk %s: %v", ro.sdk, err)
		}
	}
	o := runner.Options{
		Argv: argv, Environ: environ,
		Report: rep, System: sys, KB: k,
		Retries: ro.retries, Backoff: ro.backoff, Grace: ro.grace,
		Recipe: ro.recipe, ResumeArgs: ro.resumeArgs,
		Stdout: a.stdout, Stderr: a.stderr, Messages: a.stderr, Quiet: ro.quiet,
		Logger: a.log, LogLimit: ro.logLimit,
	}
	if f, ok := a.stdin.(*os.File); ok {
		o.Stdin = f
	}
	if histPathErr != nil {
		fmt.Fprintf(a.stderr, "rocm-patch: %v; this run is not recorded and keeps no logs\n", histPathErr)
	} else {
		// The runner takes the database when the open is done, without
		// holding the job back for it.
		o.HistoryPath, o.OpenHistory = histPath, histReady
		o.RunsDir = filepath.Join(filepath.Dir(histPath), "runs")
	}
	if o.Shim, err = a.installShim(ro.shim); err != nil {
		fmt.Fprintf(a.stderr, "rocm-patch: the Python shim is off for this run: %v\n", err)
	}
	// Caught from before the child starts until run returns. main has
	// usually registered the same signals by now, which makes this free;
	// else it waits for main's registration to finish, as late as it can.
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, StopSignals...)
	defer signal.Stop(sigs)
	o.Signals = sigs

	res, err := runner.Run(ctx, o)
	if err != nil {
		return withCode(res.ExitCode, err)
	}
	if res.ExitCode != 0 {
		return withCode(res.ExitCode, nil)
	}
	return nil
}

// openHistory opens the history database at path in the background and
// returns a function that waits for it (and may be called again).
func openHistory(ctx context.Context, path string) func() (*history.DB, error) {
	var (
		db   *history.DB
		err  error
		done = make(chan struct{})
	)
	go func() {
		defer close(done)
		db, err = history.Open(ctx, path)
	}()
	return func() (*history.DB, error) {
		<-done
		return db, err
	}
}

// detectAndAssess reads the machine under root and makes doctor's report
// for policy; run needs the System too, for history and the matcher.
// A non-empty sdkPath must be a ROCm tree of that machine.
func (a *app) detectAndAssess(cmd *cobra.Command, rootFlag string, policy assess.Policy, sdkPath string) (*assess.Report, *system.System, *kb.KB, error) {
	root, cleanup, err := openRoot(rootFlag)
	if err != nil {
		return nil, nil, nil, err
	}
	defer cleanup()
	sys, err := system.Detect(cmd.Context(), root, a.detectOptions())
	if err != nil {
		return nil, nil, nil, err
	}
	if sdkPath != "" {
		if _, err := sdk.Find(sys, root, sdkPath); err != nil {
			return nil, nil, nil, usageError("--sdk %s: %v ('rocm-patch sdk list' shows the trees found)", sdkPath, err)
		}
	}
	k, err := kb.Load()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("loading the knowledge base: %w", err)
	}
	rep, err := assess.Doctor(sys, k, policy)
	if err != nil {
		return nil, nil, nil, err
	}
	return rep, sys, k, nil
}

// historyPath is --history, or the default path from the environment.
func (a *app) historyPath(flag string) (string, error) {
	if flag != "" {
		p, err := filepath.Abs(flag)
		if err != nil {
			return "", fmt.Errorf("--history: %w", err)
		}
		return p, nil
	}
	return history.DefaultPath(a.getenv)
}
