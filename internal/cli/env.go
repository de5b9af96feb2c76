package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/rocm-patch/rocm-patch/internal/assess"
	"github.com/rocm-patch/rocm-patch/internal/envlayer"
)

func (a *app) newEnvCommand() *cobra.Command {
	var rootFlag, policyFlag, shellFlag string
	cmd := &cobra.Command{
		Use:   "env",
		Short: "Print the environment layer for this machine's AMD GPUs",
		Long: `env prints the variables a training run on this machine should have: only
those that do something on the detected hardware (for example
HSA_OVERRIDE_GFX_VERSION=10.3.0 for an RX 6700 XT when no install ships gfx1031
kernels, never for an RX 5700 XT), each with a comment saying why this machine
gets it, what it does and what it costs. A harmful setting (an override of
another ISA family) is unset.

With --policy cpu, high-risk GPUs are hidden (ROCR_VISIBLE_DEVICES,
HIP_VISIBLE_DEVICES and CUDA_VISIBLE_DEVICES) and the job runs on the CPU when
none is left. With no AMD GPU, env prints only a comment saying so.

Values are quoted for the chosen --shell so that they read back exactly:
  bash, zsh   eval "$(rocm-patch env)"
  fish        rocm-patch env --shell fish | source
  dotenv      an env file (docker compose, python-dotenv, EnvironmentFile=)
  systemd     a [Service] drop-in with Environment= lines
  slurm-taskprolog  export lines for a Slurm TaskProlog (taken literally by slurmstepd; docs/fleet.md)
  json        schema "rocm-patch/env/v1" (docs/json.md)`,
		Example: `  eval "$(rocm-patch env)"
  rocm-patch env --policy cpu
  rocm-patch env --shell systemd > /etc/systemd/system/train.service.d/rocm.conf
  rocm-patch env --shell json --root examples/systems/rx6700xt`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			shell, err := envlayer.ParseShell(shellFlag)
			if err != nil {
				return usageError("--shell: %v", err)
			}
			policy, err := assess.ParsePolicy(policyFlag)
			if err != nil || policy == assess.PolicyForceGPU {
				return usageError("--policy: %q is not mitigate or cpu", policyFlag)
			}
			rep, k, err := a.assessMachine(cmd, rootFlag, policy)
			if err != nil {
				return err
			}
			layer, err := envlayer.FromReport(rep, policy, k)
			if err != nil {
				return fmt.Errorf("env: %w", err)
			}
			out, err := envlayer.Render(layer, shell)
			if err != nil {
				return fmt.Errorf("env --shell %s: %w", shell, err)
			}
			if _, err := io.WriteString(a.stdout, out); err != nil {
				return fmt.Errorf("env: %w", err)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&rootFlag, "root", "", rootFlagHelp)
	cmd.Flags().StringVar(&policyFlag, "policy", string(assess.PolicyMitigate), "mitigate or cpu (cpu hides high-risk GPUs)")
	cmd.Flags().StringVar(&shellFlag, "shell", string(envlayer.Bash), "output format: bash, zsh, fish, dotenv, systemd or json")
	return cmd
}
