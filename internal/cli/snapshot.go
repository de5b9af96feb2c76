package cli

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/rocm-patch/rocm-patch/internal/atomicfile"
	"github.com/rocm-patch/rocm-patch/internal/snapshot"
)

func (a *app) newSnapshotCommand() *cobra.Command {
	var rootFlag, output string
	cmd := &cobra.Command{
		Use:   "snapshot -o FILE.tar.gz",
		Short: "Capture the files detect reads, for a bug report",
		Long: `snapshot runs detect and records exactly the files it read (KFD topology,
the AMD cards' device files, amdgpu parameters, kernel release, ROCm and
PyTorch version files, and rocBLAS library file NAMES as empty files) into a
tar.gz, with serial numbers and unique ids replaced. The ROCm, HIP and
PyTorch variables of your environment are recorded too.

Attach the file to a bug report; anyone can replay it with
'rocm-patch detect --root FILE.tar.gz' and see what you see.`,
		Example: `  rocm-patch snapshot -o my-machine.tar.gz
  rocm-patch detect --root my-machine.tar.gz`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if output == "" {
				return usageError("-o FILE.tar.gz is required")
			}
			if !strings.HasSuffix(output, ".tar.gz") && !strings.HasSuffix(output, ".tgz") {
				return usageError("-o %s: the file name must end in .tar.gz or .tgz", output)
			}
			root, cleanup, err := openRoot(rootFlag)
			if err != nil {
				return err
			}
			defer cleanup()
			opts := snapshot.Options{Detect: a.detectOptions(), Tool: "rocm-patch " + Version()}
			var gpus int
			err = atomicfile.Write(output, 0o644, func(w io.Writer) error {
				sys, err := snapshot.Capture(cmd.Context(), root, w, opts)
				if err == nil {
					gpus = len(sys.GPUs)
				}
				return err
			})
			if err != nil {
				return fmt.Errorf("snapshot -o %s: %w", output, err)
			}
			fmt.Fprintf(a.stdout, "wrote %s (%d AMD GPU%s); replay it with: rocm-patch detect --root %s\n", output, gpus, plural(gpus), output)
			return nil
		},
	}
	cmd.Flags().StringVar(&rootFlag, "root", "", rootFlagHelp)
	cmd.Flags().StringVarP(&output, "output", "o", "", "write the snapshot to `FILE.tar.gz`")
	return cmd
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func sortStrings(s []string) { sort.Strings(s) }
