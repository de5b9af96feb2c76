package cli

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/rocm-patch/rocm-patch/internal/envlayer"
	"github.com/rocm-patch/rocm-patch/internal/sdk"
	"github.com/rocm-patch/rocm-patch/internal/system"
)

func (a *app) newSDKCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sdk",
		Short: "List ROCm installations and print the environment that activates one",
		Long: `sdk makes the "custom ROCm SDK" workaround safe: a second ROCm tree, such as
/opt/rocm_sdk_612 built by rocm_sdk_builder for your own GPU, that used to be
activated by editing PATH and LD_LIBRARY_PATH by hand.

  list       every ROCm installation detect finds, its version, the gfx
             targets its rocBLAS ships kernels for, and whether that covers
             each detected GPU (its own target, or only its ISA family)
  env PATH   the variables that activate the installation at PATH, quoted
             for the chosen shell

rocm-patch run --sdk PATH applies the same variables to the job it runs.`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(a.newSDKListCommand(), a.newSDKEnvCommand())
	return cmd
}

func (a *app) newSDKListCommand() *cobra.Command {
	var rootFlag string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List ROCm installations and whether they ship kernels for your GPUs",
		Long: `list shows every ROCm installation found (best candidate first), where it
leads, its version, the gfx targets its rocBLAS ships kernels for
(TensileLibrary files), the variables that select it (ROCM_PATH, ROCM_HOME,
HIP_PATH), and for each detected GPU whether it ships kernels for the GPU's
own target, only for another target of the same ISA family (usable with
HSA_OVERRIDE_GFX_VERSION), or none.

--json prints schema "rocm-patch/sdk/v1".`,
		Example: `  rocm-patch sdk list
  rocm-patch sdk list --json --root examples/systems/rx6800`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			root, cleanup, err := openRoot(rootFlag)
			if err != nil {
				return err
			}
			defer cleanup()
			sys, err := system.Detect(cmd.Context(), root, a.detectOptions())
			if err != nil {
				return err
			}
			l := sdk.List(sys)
			if asJSON {
				return writeJSON(a.stdout, l)
			}
			_, err = io.WriteString(a.stdout, sdkListText(l))
			return err
		},
	}
	cmd.Flags().StringVar(&rootFlag, "root", "", rootFlagHelp)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the rocm-patch/sdk/v1 JSON document")
	return cmd
}

func sdkListText(l sdk.Listing) string {
	var b strings.Builder
	if len(l.Installs) == 0 {
		b.WriteString("No ROCm installation found.\n")
		return b.String()
	}
	for i, in := range l.Installs {
		if i > 0 {
			b.WriteString("\n")
		}
		line := in.Path
		if in.ResolvedPath != "" {
			line += " -> " + in.ResolvedPath
		}
		line += "  " + dash(in.Version)
		if len(in.SelectedBy) > 0 {
			line += "  (selected by " + strings.Join(in.SelectedBy, ", ") + ")"
		}
		b.WriteString(line + "\n")
		fmt.Fprintf(&b, "  rocBLAS kernels: %s\n", targetsHuman(in.ROCBLASTargets))
		for _, c := range in.Coverage {
			fmt.Fprintf(&b, "  GPU %d %s (%s): %s\n", c.GPU, dash(c.Name), dash(c.Target), coverageText(c))
		}
	}
	if len(l.GPUs) == 0 {
		b.WriteString("\nNo AMD GPU detected.\n")
	}
	b.WriteString("\nActivate one in a shell with: eval \"$(rocm-patch sdk env PATH)\"; for one job: rocm-patch run --sdk PATH -- ...\n")
	return b.String()
}

func coverageText(c sdk.Coverage) string {
	switch c.Kernels {
	case sdk.KernelsOwn:
		return "kernels for its own target"
	case sdk.KernelsFamily:
		return fmt.Sprintf("only %s kernels, same ISA family: usable with HSA_OVERRIDE_GFX_VERSION=%s", strings.Join(c.Via, ", "), c.Override)
	case sdk.KernelsNone:
		return "no kernels for its target or ISA family"
	}
	if c.Target == "" {
		return "unknown: the GPU's target is unknown"
	}
	return "unknown: no rocBLAS library found"
}

func (a *app) newSDKEnvCommand() *cobra.Command {
	var rootFlag, shellFlag string
	cmd := &cobra.Command{
		Use:   "env PATH",
		Short: "Print the environment that activates the ROCm installation at PATH",
		Long: `env prints ROCM_PATH, ROCM_HOME and HIP_PATH set to PATH, and PATH/bin and
PATH/lib put in front of PATH and LD_LIBRARY_PATH, for the chosen --shell.
PATH must be a ROCm installation detect finds (see sdk list) or at least a
folder with bin/ and lib/. Values are quoted so that they read back exactly;
a path holding a newline or a colon is refused, since PATH and
LD_LIBRARY_PATH cannot hold it as one element.

  bash, zsh   eval "$(rocm-patch sdk env /opt/rocm_sdk_612)"
  fish        rocm-patch sdk env --shell fish /opt/rocm_sdk_612 | source
  dotenv, systemd   PATH and LD_LIBRARY_PATH resolved against the current
              environment (these formats cannot refer to a variable)
  json        schema "rocm-patch/sdk-env/v1", each variable set or prepended`,
		Example: `  eval "$(rocm-patch sdk env /opt/rocm_sdk_612)"
  rocm-patch sdk env --shell fish /opt/rocm-6.2.0 | source`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			shell, err := envlayer.ParseShell(shellFlag)
			if err != nil {
				return usageError("--shell: %v", err)
			}
			root, cleanup, err := openRoot(rootFlag)
			if err != nil {
				return err
			}
			defer cleanup()
			p := args[0]
			if root.IsHost() && !filepath.IsAbs(p) && p != "" {
				if p, err = filepath.Abs(p); err != nil {
					return fmt.Errorf("sdk env: %w", err)
				}
			}
			sys, err := system.Detect(cmd.Context(), root, a.detectOptions())
			if err != nil {
				return err
			}
			in, err := sdk.Find(sys, root, p)
			if errors.Is(err, sdk.ErrBadPath) || errors.Is(err, sdk.ErrNotROCm) {
				return usageError("sdk env: %v", err)
			}
			if err != nil {
				return fmt.Errorf("sdk env: %w", err)
			}
			out, err := sdk.Render(in, shell, a.environ)
			if err != nil {
				return fmt.Errorf("sdk env --shell %s: %w", shell, err)
			}
			_, err = io.WriteString(a.stdout, out)
			return err
		},
	}
	cmd.Flags().StringVar(&rootFlag, "root", "", rootFlagHelp)
	cmd.Flags().StringVar(&shellFlag, "shell", string(envlayer.Bash), "output format: bash, zsh, fish, dotenv, systemd or json")
	return cmd
}
