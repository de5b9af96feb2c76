package cli

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/rocm-patch/rocm-patch/internal/atomicfile"
	"github.com/rocm-patch/rocm-patch/internal/history"
	"github.com/rocm-patch/rocm-patch/internal/report"
)

func (a *app) newReportCommand() *cobra.Command {
	var historyFlag, htmlFlag string
	var asJSON, asMarkdown bool
	cmd := &cobra.Command{
		Use:   "report",
		Short: "Compare the configurations your runs went through: crash rate, MTTF, speed",
		Long: `report sums the history up per configuration (the layers applied, on the GPU
or the CPU): attempts, crashes, crash rate with its 95% Wilson interval, mean
time to failure, the failure classes, and how much faster than the CPU the same
jobs ran where they reported a speed (tqdm rates, or a line
"rocm-patch: throughput=<number> <unit>").

Formats: a table (default), --json (schema "rocm-patch/report/v1"),
--markdown (GFM tables, for an issue or a wiki), --html FILE (one
self-contained page with a chart, written atomically).`,
		Example: `  rocm-patch report
  rocm-patch report --markdown >> NOTES.md
  rocm-patch report --html report.html`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			formats := 0
			for _, on := range []bool{asJSON, asMarkdown, htmlFlag != ""} {
				if on {
					formats++
				}
			}
			if formats > 1 {
				return usageError("--json, --markdown and --html exclude each other")
			}
			path, err := a.historyPath(historyFlag)
			if err != nil {
				return err
			}
			var st history.Stats
			db, err := openExisting(cmd.Context(), path)
			if err != nil {
				return err
			}
			if db != nil {
				defer db.Close()
				if st, err = db.Aggregate(cmd.Context()); err != nil {
					return fmt.Errorf("report: %w", err)
				}
			}
			rep := report.Build(st, time.Now().UTC())
			switch {
			case asJSON:
				err = report.WriteJSON(a.stdout, rep)
			case asMarkdown:
				err = report.WriteMarkdown(a.stdout, rep)
			case htmlFlag != "":
				err = atomicfile.Write(htmlFlag, 0o644, func(w io.Writer) error { return report.WriteHTML(w, rep) })
				if err == nil {
					_, err = fmt.Fprintf(a.stdout, "wrote %s (%d runs)\n", htmlFlag, rep.Runs)
				}
			default:
				err = report.WriteText(a.stdout, rep)
			}
			if err != nil {
				return fmt.Errorf("report: %w", err)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the rocm-patch/report/v1 JSON document")
	cmd.Flags().BoolVar(&asMarkdown, "markdown", false, "print Markdown")
	cmd.Flags().StringVar(&htmlFlag, "html", "", "write one self-contained HTML page to `FILE`")
	cmd.Flags().StringVar(&historyFlag, "history", "", historyFlagHelp)
	return cmd
}
