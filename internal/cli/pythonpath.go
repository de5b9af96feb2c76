package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/rocm-patch/rocm-patch/internal/pypath"
)

func (a *app) newPythonPathCommand() *cobra.Command {
	var install, uninstall bool
	var python string
	cmd := &cobra.Command{
		Use:   "python-path",
		Short: "Print the folder of the rocm_patch Python API, or make Python import it",
		Long: `python-path prints the folder that holds rocm-patch's Python API (the
rocm_patch package, beside a link to this binary, which the API asks):

  PYTHONPATH="$(rocm-patch python-path)" python train.py

--install writes rocm_patch.pth into the site-packages of a Python (the
active virtualenv's, else your user site-packages), so that
"import rocm_patch" works with no PYTHONPATH and no rocm-patch run;
--uninstall removes that file (and only a file rocm-patch wrote). --python
names the interpreter; the default is python3 on PATH.

In a script:

  import rocm_patch
  device = rocm_patch.safeguard()      # "cuda" or "cpu"; call it before torch uses the GPU

The folder is $XDG_DATA_HOME/rocm-patch/python/<version>/
(~/.local/share/... without XDG_DATA_HOME). See docs/python.md.`,
		Example: `  rocm-patch python-path
  rocm-patch python-path --install
  rocm-patch python-path --install --python ~/venvs/rocm/bin/python
  rocm-patch python-path --uninstall`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if install && uninstall {
				return usageError("python-path: --install and --uninstall exclude each other")
			}
			if python != "" && !install && !uninstall {
				return usageError("python-path: --python goes with --install or --uninstall")
			}
			o := pypath.Options{Python: python, Environ: a.environ}
			switch {
			case install:
				res, err := pypath.Install(cmd.Context(), o)
				if err != nil {
					return fmt.Errorf("python-path: %w", err)
				}
				if res.Changed {
					_, err = fmt.Fprintf(a.stdout, "wrote %s: import rocm_patch now loads %s\n", res.PthFile, res.PackageDir)
				} else {
					_, err = fmt.Fprintf(a.stdout, "already installed: %s names %s\n", res.PthFile, res.PackageDir)
				}
				return err
			case uninstall:
				res, err := pypath.Uninstall(cmd.Context(), o)
				if err != nil {
					return fmt.Errorf("python-path: %w", err)
				}
				if res.Changed {
					_, err = fmt.Fprintf(a.stdout, "removed %s\n", res.PthFile)
				} else {
					_, err = fmt.Fprintf(a.stdout, "nothing to remove: %s does not exist\n", res.PthFile)
				}
				return err
			}
			dir, err := pypath.PackageDir(o)
			if err != nil {
				return fmt.Errorf("python-path: %w", err)
			}
			_, err = fmt.Fprintln(a.stdout, dir)
			return err
		},
	}
	f := cmd.Flags()
	f.BoolVar(&install, "install", false, "write rocm_patch.pth into the interpreter's site-packages (virtualenv's, else the user's)")
	f.BoolVar(&uninstall, "uninstall", false, "remove the rocm_patch.pth that --install wrote")
	f.StringVar(&python, "python", "", "the interpreter to install for (default python3 on PATH)")
	return cmd
}
