package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/rocm-patch/rocm-patch/internal/assess"
	"github.com/rocm-patch/rocm-patch/internal/fleet"
	"github.com/rocm-patch/rocm-patch/internal/history"
)

// defaultFleetExpiry is how long published labels live without a refresh.
// The DaemonSet in deploy/kubernetes refreshes every 10 minutes, so a node
// keeps its labels through a few missed refreshes, and loses them within
// the hour when rocm-patch stops running there.
const defaultFleetExpiry = time.Hour

func (a *app) newFleetCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "fleet",
		Short: "Publish this node's GPU risk and crash history to schedulers and monitoring",
		Long: `fleet tells a cluster what rocm-patch knows about this node:

  fleet nfd      node labels for Kubernetes node-feature-discovery
                 (rocm-patch.io/gpu.family, risk, crash.percent, ...), so that
                 jobs can keep off RDNA1/RDNA2 nodes or nodes that crash
  fleet metrics  a .prom file for the Prometheus node_exporter textfile
                 collector: attempts and crashes by configuration and class,
                 CPU fallbacks, the last run's time, the risk

For Slurm, rocm-patch env --shell slurm-taskprolog prints what a TaskProlog
prints. docs/fleet.md has the DaemonSet, Slurm scripts and alerts.`,
		// NoArgs with a RunE makes "fleet <typo>" a usage error; a command
		// without RunE would print help and succeed.
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	cmd.AddCommand(a.newFleetNFDCommand(), a.newFleetMetricsCommand())
	return cmd
}

// fleetHistoryFlags are the history flags both fleet commands take.
type fleetHistoryFlags struct {
	paths []string
	runs  int
}

func (h *fleetHistoryFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringArrayVar(&h.paths, "history", nil, "read the history database at `PATH`; repeat for several (one per user, say). Default: $XDG_STATE_HOME/rocm-patch/history.db, else ~/.local/state/rocm-patch/history.db. A missing history is skipped")
	cmd.Flags().IntVar(&h.runs, "runs", fleet.DefaultCrashWindow, "the crash rate covers the GPU attempts of the newest `N` runs")
}

func (h *fleetHistoryFlags) check() error {
	if h.runs < 1 {
		return usageError("--runs %d: must be 1 or more", h.runs)
	}
	for _, p := range h.paths {
		if p == "" {
			return usageError("--history: empty path")
		}
	}
	return nil
}

func (a *app) newFleetNFDCommand() *cobra.Command {
	var rootFlag, dirFlag, policyFlag string
	var expiry time.Duration
	var toStdout bool
	var hist fleetHistoryFlags
	cmd := &cobra.Command{
		Use:   "nfd",
		Short: "Write node labels for Kubernetes node-feature-discovery",
		Long: `nfd writes a node-feature-discovery local feature file, ` + fleet.FeatureFileName + `, into
--dir (nfd-worker's features.d), through a hidden temporary file renamed into
place. nfd-worker turns each line into a node label:

  rocm-patch.io/gpu.count       GPUs a training run here can use ("0": none)
  rocm-patch.io/gpu.family      ISA family of the riskiest one: RDNA1, RDNA2,
                                RDNA3, RDNA3.5, CDNA3, ... (AMD's own labeller
                                calls RDNA1 and RDNA2 both "NV")
  rocm-patch.io/gpu.gfx         its gfx target, e.g. gfx1031
  rocm-patch.io/gpu.family.<F>  "true" for every family present
  rocm-patch.io/risk            none, low, medium or high (rocm-patch doctor)
  rocm-patch.io/policy          the --policy these labels assume
  rocm-patch.io/device          where that policy trains: gpu or cpu
  rocm-patch.io/crash.percent   GPU crash rate of the newest --runs runs, a
                                whole percentage (node affinity's Gt and Lt
                                compare integers only)
  rocm-patch.io/crash.attempts  the GPU attempts that rate rests on

The crash labels are left out when no history exists (that is not an
error). --expiry puts "# +expiry-time=" before the labels, so that they
disappear when rocm-patch stops refreshing them; refresh more often than
that. --print writes the file to standard output instead.`,
		Example: `  rocm-patch fleet nfd --print --root examples/systems/rx6700xt
  rocm-patch fleet nfd --history /var/lib/rocm-patch/history.db
  rocm-patch fleet nfd --root /host --expiry 1h --history /var/lib/rocm-patch/history.db`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			policy, err := assess.ParsePolicy(policyFlag)
			if err != nil || policy == assess.PolicyForceGPU {
				return usageError("--policy: %q is not mitigate or cpu", policyFlag)
			}
			if expiry < 0 {
				return usageError("--expiry %v: must not be negative (0: no expiry)", expiry)
			}
			if err := hist.check(); err != nil {
				return err
			}
			if !toStdout && dirFlag == "" {
				return usageError("--dir: empty folder")
			}
			rep, _, err := a.assessMachine(cmd, rootFlag, policy)
			if err != nil {
				return err
			}
			recent, _ := a.fleetReadHistories(cmd.Context(), hist, false)
			labels, skipped := fleet.Labels(rep, recent)
			for _, s := range skipped {
				a.log.Warn("label left out", "reason", s)
			}
			var until time.Time
			if expiry > 0 {
				until = time.Now().Add(expiry)
			}
			data, err := fleet.FeatureFile(labels, until)
			if err != nil {
				return fmt.Errorf("fleet nfd: %w", err)
			}
			if toStdout {
				if _, err := a.stdout.Write(data); err != nil {
					return fmt.Errorf("fleet nfd: %w", err)
				}
				return nil
			}
			path, err := fleet.WriteFeatureFile(dirFlag, data)
			if err != nil {
				return fmt.Errorf("fleet nfd: %w", err)
			}
			a.log.Info("wrote node labels", "file", path, "labels", len(labels))
			return nil
		},
	}
	cmd.Flags().StringVar(&rootFlag, "root", "", rootFlagHelp)
	cmd.Flags().StringVar(&dirFlag, "dir", fleet.DefaultFeaturesDir, "node-feature-discovery's features.d `DIR`; it must exist")
	cmd.Flags().DurationVar(&expiry, "expiry", defaultFleetExpiry, "the labels expire this long after writing (0: never)")
	cmd.Flags().BoolVar(&toStdout, "print", false, "write the feature file to standard output instead of --dir")
	cmd.Flags().StringVar(&policyFlag, "policy", string(assess.PolicyMitigate), "the policy the labels assume: mitigate or cpu")
	hist.register(cmd)
	return cmd
}

func (a *app) newFleetMetricsCommand() *cobra.Command {
	var rootFlag, textfileFlag string
	var toStdout bool
	var hist fleetHistoryFlags
	cmd := &cobra.Command{
		Use:   "metrics",
		Short: "Write Prometheus metrics for the node_exporter textfile collector",
		Long: `metrics writes ` + fleet.MetricsFileName + ` into --textfile (node_exporter's
--collector.textfile.directory) through a hidden temporary file renamed into
place, in the Prometheus text format:

  rocm_patch_attempts_total{config,device,result}  attempts by configuration
                                                   (layers), device, result
  rocm_patch_crashes_total{config,device,class}    crashes by diagnosed class
  rocm_patch_runs_total{outcome}                   finished runs
  rocm_patch_runs_unfinished                       runs with no outcome yet
  rocm_patch_cpu_fallbacks_total                   runs that ended on the CPU
  rocm_patch_last_run_timestamp_seconds            start of the newest run
  rocm_patch_history_read                          1 when a history was read
  rocm_patch_recent_gpu_attempts                   GPU attempts of the newest
  rocm_patch_recent_gpu_crash_ratio                --runs runs, and the share
                                                   that crashed (0 to 1)
  rocm_patch_risk                                  0 none, 1 low, 2 medium,
                                                   3 high
  rocm_patch_gpus{family,gfx}                      usable GPUs

Without a history only the node's gauges are written. --print writes the
metrics to standard output (as well, when --textfile is given).`,
		Example: `  rocm-patch fleet metrics --textfile /var/lib/node_exporter/textfile_collector
  rocm-patch fleet metrics --print --root examples/systems/rx6700xt`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if textfileFlag == "" && !toStdout {
				return usageError("fleet metrics: give --textfile DIR, --print, or both")
			}
			if err := hist.check(); err != nil {
				return err
			}
			// The risk is the machine's, whatever the policy.
			rep, _, err := a.assessMachine(cmd, rootFlag, assess.PolicyMitigate)
			if err != nil {
				return err
			}
			recent, stats := a.fleetReadHistories(cmd.Context(), hist, true)
			text := fleet.Metrics(fleet.MetricsInput{Report: rep, Stats: stats, Recent: recent})
			if textfileFlag != "" {
				path, err := fleet.WriteMetricsFile(textfileFlag, text)
				if err != nil {
					return fmt.Errorf("fleet metrics: %w", err)
				}
				a.log.Info("wrote metrics", "file", path)
			}
			if toStdout {
				if _, err := io.WriteString(a.stdout, text); err != nil {
					return fmt.Errorf("fleet metrics: %w", err)
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&rootFlag, "root", "", rootFlagHelp)
	cmd.Flags().StringVar(&textfileFlag, "textfile", "", "node_exporter's textfile collector `DIR`; it must exist")
	cmd.Flags().BoolVar(&toStdout, "print", false, "write the metrics to standard output")
	hist.register(cmd)
	return cmd
}

// fleetReadHistories reads every history given (or the default one) and
// returns the crash rate of their newest runs and, when wantStats, their
// merged summary; both are nil when no history could be read. A missing
// history is normal (nothing has run here yet) and only logged at info
// level; one that cannot be read is a warning, not a failure, since the
// node's own labels and gauges are still worth publishing.
func (a *app) fleetReadHistories(ctx context.Context, h fleetHistoryFlags, wantStats bool) (*fleet.CrashRate, *history.Stats) {
	paths := h.paths
	if len(paths) == 0 {
		p, err := history.DefaultPath(a.getenv)
		if err != nil {
			a.log.Info("no default history", "reason", err)
			return nil, nil
		}
		paths = []string{p}
	}
	var runs []history.Run
	var all []history.Stats
	read := 0
	for _, p := range paths {
		r, s, err := fleetReadHistory(ctx, p, h.runs, wantStats)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			a.log.Info("no history here yet; its labels and counters are left out", "history", p)
			continue
		case err != nil:
			a.log.Warn("history not read; its labels and counters are left out", "history", p, "err", err)
			continue
		}
		read++
		runs = append(runs, r...)
		if s != nil {
			all = append(all, *s)
		}
	}
	if read == 0 {
		return nil, nil
	}
	recent := fleet.RecentCrashRate(runs, h.runs)
	var stats *history.Stats
	if wantStats {
		merged := fleet.MergeStats(all...)
		stats = &merged
	}
	return &recent, stats
}

// fleetReadHistory reads the newest window runs of the history at path and,
// when wantStats, its summary. A history that does not exist is reported as
// fs.ErrNotExist and is not created: history.Open would create it.
func fleetReadHistory(ctx context.Context, path string, window int, wantStats bool) ([]history.Run, *history.Stats, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, nil, err
	}
	db, err := history.Open(ctx, path)
	if err != nil {
		return nil, nil, err
	}
	defer db.Close()
	runs, err := db.Runs(ctx, window)
	if err != nil {
		return nil, nil, err
	}
	if !wantStats {
		return runs, nil, nil
	}
	s, err := db.Aggregate(ctx)
	if err != nil {
		return nil, nil, err
	}
	return runs, &s, nil
}
