package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/rocm-patch/rocm-patch/internal/history"
	"github.com/rocm-patch/rocm-patch/internal/report"
)

func (a *app) newHistoryCommand() *cobra.Command {
	var historyFlag string
	var asJSON bool
	var limit int
	cmd := &cobra.Command{
		Use:   "history",
		Short: "List the supervised runs and their attempts, newest first",
		Long: `history lists what rocm-patch run recorded, newest first: each run's command,
folder, policy, GPU, ROCm and PyTorch versions and outcome (ok, ok-after-retry,
fallback-cpu-ok, failed, interrupted, or running while it still is), and each
attempt's device, layers, exit status or signal, matched failure class and
knowledge-base id, and duration.

--json prints schema "rocm-patch/history/v1": {"schema", "runs": [{"id",
"command", "started", "outcome", "attempts": [{"n", "device", "exit_code",
"signal", "class", "issue_id", "duration_s", ...}], ...}]}.`,
		Example: `  rocm-patch history
  rocm-patch history --limit 5
  rocm-patch history --json | jq '.runs[0].attempts[] | {n, device, class}'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if limit < 0 {
				return usageError("--limit %d: must be 0 (all) or more", limit)
			}
			path, err := a.historyPath(historyFlag)
			if err != nil {
				return err
			}
			runs, err := readRuns(cmd.Context(), path, limit)
			if err != nil {
				return err
			}
			if asJSON {
				err = writeJSON(a.stdout, history.NewDocument(runs))
			} else if len(runs) == 0 {
				_, err = fmt.Fprintf(a.stdout, "No runs recorded yet (history: %s). Start one with: rocm-patch run -- COMMAND\n", path)
			} else {
				err = report.WriteHistory(a.stdout, runs, a.location())
			}
			if err != nil {
				return fmt.Errorf("history: %w", err)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the rocm-patch/history/v1 JSON document")
	cmd.Flags().IntVarP(&limit, "limit", "n", 0, "show the newest `N` runs only (0: all)")
	cmd.Flags().StringVar(&historyFlag, "history", "", historyFlagHelp)
	return cmd
}

// readRuns reads the newest runs; a history that does not exist yet has
// none, and is not created by reading it.
func readRuns(ctx context.Context, path string, limit int) ([]history.Run, error) {
	db, err := openExisting(ctx, path)
	if db == nil || err != nil {
		return nil, err
	}
	defer db.Close()
	return db.Runs(ctx, limit)
}

// openExisting opens the history at path, or returns nil when there is
// none yet.
func openExisting(ctx context.Context, path string) (*history.DB, error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return history.Open(ctx, path)
}

// location is the time zone for listings: TZ from the command's
// environment when it names one, else the process's.
func (a *app) location() *time.Location {
	if tz := a.getenv("TZ"); tz != "" {
		if loc, err := time.LoadLocation(tz); err == nil {
			return loc
		}
	}
	return time.Local
}
