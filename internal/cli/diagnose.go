package cli

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/rocm-patch/rocm-patch/internal/diagnose"
	"github.com/rocm-patch/rocm-patch/internal/kb"
	"github.com/rocm-patch/rocm-patch/internal/system"
)

func (a *app) newDiagnoseCommand() *cobra.Command {
	var rootFlag string
	var asJSON, dmesg bool
	cmd := &cobra.Command{
		Use:   "diagnose [FILE ...|-]",
		Short: "Recognise a ROCm or PyTorch crash in logs and say what to do",
		Long: `diagnose reads logs (Python tracebacks, HIP and HSA runtime lines, dmesg and
journalctl output; plain or gzip; '-' or no FILE reads standard input) and
reports the known failures they show, best first, with the evidence lines and
what to do. Noise is expected: colours, progress bars, quote marks, kernel log
prefixes, hand-redacted addresses, CRLF. A root cause always outranks its
fallout ("Aborted (core dumped)" alone is only a process crash).

With --root (a tree or snapshot) the diagnosis also knows the machine, so an
aperture violation on a gfx1010 running with HSA_OVERRIDE_GFX_VERSION=10.3.0
names the wrong ISA family as the likely cause. --dmesg reads this machine's
kernel log (journalctl -k, else dmesg) and knows this machine.

Exit codes: 0 nothing known found, 3 a known failure found, 1 a log could
not be read, 2 bad arguments.`,
		Example: `  rocm-patch diagnose train.log
  python train.py 2>&1 | tee train.log; rocm-patch diagnose train.log
  rocm-patch diagnose --dmesg
  rocm-patch diagnose --json --root my-machine.tar.gz crash.log.gz`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if dmesg && rootFlag != "" {
				return usageError("--dmesg reads this machine's log; it cannot be combined with --root")
			}
			k, err := kb.Load()
			if err != nil {
				return err
			}
			var sys *system.System
			if rootFlag != "" || dmesg {
				root, cleanup, err := openRoot(rootFlag)
				if err != nil {
					return err
				}
				defer cleanup()
				if sys, err = system.Detect(cmd.Context(), root, a.detectOptions()); err != nil {
					return err
				}
			}
			m, err := diagnose.New(k, diagnose.Options{System: sys})
			if err != nil {
				return err
			}
			inputs, closeAll, err := a.diagnoseInputs(cmd, args, dmesg)
			if err != nil {
				return err
			}
			defer closeAll()
			res, err := m.Scan(cmd.Context(), inputs...)
			if err != nil {
				return fmt.Errorf("diagnose: %w", err)
			}
			if asJSON {
				err = res.WriteJSON(a.stdout)
			} else {
				err = res.WriteText(a.stdout)
			}
			if err != nil {
				return err
			}
			if code := res.ExitCode(); code != ExitOK {
				return withCode(code, nil)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&rootFlag, "root", "", "know the machine the log comes from: a tree `DIR` or snapshot .tar.gz")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the rocm-patch/diagnosis/v1 JSON document")
	cmd.Flags().BoolVar(&dmesg, "dmesg", false, "read this machine's kernel log (journalctl -k, else dmesg)")
	return cmd
}

// diagnoseInputs opens the logs named on the command line; they are all
// opened before any is read, so a typo fails at once, naming the file.
func (a *app) diagnoseInputs(cmd *cobra.Command, args []string, dmesg bool) ([]diagnose.Input, func(), error) {
	var closers []io.Closer
	closeAll := func() {
		for _, c := range closers {
			c.Close()
		}
	}
	var inputs []diagnose.Input
	if dmesg {
		r, name, err := diagnose.KernelLog(cmd.Context())
		if err != nil {
			return nil, closeAll, err
		}
		closers = append(closers, r)
		inputs = append(inputs, diagnose.Input{Name: name, R: r})
	}
	if len(args) == 0 && !dmesg {
		args = []string{"-"}
	}
	for _, name := range args {
		if name == "-" {
			inputs = append(inputs, diagnose.Input{Name: "stdin", R: a.stdin})
			continue
		}
		f, err := os.Open(name)
		if err != nil {
			closeAll()
			return nil, func() {}, err
		}
		closers = append(closers, f)
		inputs = append(inputs, diagnose.Input{Name: name, R: f})
	}
	if len(inputs) == 1 {
		inputs[0].Name = ""
	}
	return inputs, closeAll, nil
}
