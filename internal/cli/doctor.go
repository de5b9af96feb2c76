package cli

import (
	"fmt"
	"io"
	"reflect"
	"strings"

	"github.com/spf13/cobra"

	"github.com/rocm-patch/rocm-patch/internal/assess"
	"github.com/rocm-patch/rocm-patch/internal/kb"
	"github.com/rocm-patch/rocm-patch/internal/system"
)

func (a *app) newDoctorCommand() *cobra.Command {
	var rootFlag, policyFlag string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Judge the risk of training on this machine's AMD GPUs, and what each policy would do",
		Long: `doctor reads the machine as detect does and checks it against the knowledge
base: the GPU's family (every RDNA1 and RDNA2 GPU is high risk), the
HSA_OVERRIDE_GFX_VERSION in effect (malformed, or of another ISA family), the
kernels the installed ROCm and PyTorch ship for each GPU, /dev/kfd and render
node permissions, WSL, and variables or amdgpu parameters that do nothing on
this hardware.

It prints the risk (high, medium, low or none) per GPU and overall, one line
per finding with its fix, and the decision a training run would get under
each policy:
  mitigate          GPU with the environment layer (rocm-patch env), supervised,
                    moving to the CPU after repeated faults (the default)
  cpu               every high-risk GPU hidden; the job runs on the CPU
  force-gpu-unsafe  GPU as it is, no safeguards, a loud warning

--policy picks the plan printed at the end (and in --json's "plan").
--json prints one object, schema "rocm-patch/doctor/v1" (docs/json.md).
Exit status: 0 when the risk is low or none, 3 when medium or high, 1 on error.`,
		Example: `  rocm-patch doctor
  rocm-patch doctor --json | jq '.findings[] | {id, gpu, fix}'
  rocm-patch doctor --root examples/systems/rx5700xt
  rocm-patch doctor --policy cpu --root examples/systems/laptop-780m-rx6800m`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			policy, err := assess.ParsePolicy(policyFlag)
			if err != nil {
				return usageError("--policy: %v", err)
			}
			rep, _, err := a.assessMachine(cmd, rootFlag, policy)
			if err != nil {
				return err
			}
			if asJSON {
				err = writeJSON(a.stdout, rep)
			} else {
				err = writeDoctor(a.stdout, rep)
			}
			if err != nil {
				return fmt.Errorf("doctor: %w", err)
			}
			if rep.Risk.AtLeast(assess.RiskMedium) {
				return withCode(ExitFindings, nil)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&rootFlag, "root", "", rootFlagHelp)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the rocm-patch/doctor/v1 JSON document")
	cmd.Flags().StringVar(&policyFlag, "policy", string(assess.PolicyMitigate), "the policy whose plan is shown: mitigate, cpu or force-gpu-unsafe")
	return cmd
}

// assessMachine detects the machine under rootFlag and assesses it.
func (a *app) assessMachine(cmd *cobra.Command, rootFlag string, policy assess.Policy) (*assess.Report, *kb.KB, error) {
	root, cleanup, err := openRoot(rootFlag)
	if err != nil {
		return nil, nil, err
	}
	defer cleanup()
	sys, err := system.Detect(cmd.Context(), root, a.detectOptions())
	if err != nil {
		return nil, nil, err
	}
	k, err := kb.Load()
	if err != nil {
		return nil, nil, fmt.Errorf("loading the knowledge base: %w", err)
	}
	rep, err := assess.Doctor(sys, k, policy)
	if err != nil {
		return nil, nil, err
	}
	return rep, k, nil
}

// writeDoctor prints the concise human report: the risk, one block per
// GPU with its decision under each policy, one line per finding with its
// fix, and the chosen plan.
func writeDoctor(w io.Writer, rep *assess.Report) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Risk: %s\n", strings.ToUpper(string(rep.Risk)))
	for _, r := range rep.Reasons {
		fmt.Fprintf(&b, "  - %s\n", r)
	}
	if len(rep.GPUs) == 0 {
		b.WriteString("\nNo AMD GPU to assess.\n")
	}
	for _, grp := range groupGPUs(rep.GPUs) {
		g := grp[0]
		label := fmt.Sprintf("GPU %d", g.Index)
		if len(grp) > 1 {
			label = fmt.Sprintf("GPUs %d-%d", g.Index, grp[len(grp)-1].Index)
		}
		fmt.Fprintf(&b, "\n%s  %s  %s  %s  risk %s\n", label, dash(g.Name), dash(g.Target), dash(g.Family), g.Risk)
		if !g.InUse {
			fmt.Fprintf(&b, "  not used: %s\n", strings.Join(g.Reasons, "; "))
			continue
		}
		for _, p := range assess.Policies {
			d := g.Decision.For(p)
			fmt.Fprintf(&b, "  %-17s %-4s %s\n", p, d.Device, d.Reason)
			if d.Warning != "" {
				fmt.Fprintf(&b, "  %-17s      WARNING: %s\n", "", d.Warning)
			}
		}
	}
	if len(rep.Findings) > 0 {
		b.WriteString("\nFindings:\n")
		for _, f := range rep.Findings {
			fmt.Fprintf(&b, "  %-7s %s: %s  Fix: %s\n", f.Severity, f.ID, f.Message, f.Fix)
		}
	}
	writePlan(&b, rep.Plan)
	_, err := io.WriteString(w, b.String())
	return err
}

// groupGPUs gathers consecutive GPUs that would print the same block, so
// that eight identical accelerators take one.
func groupGPUs(gpus []assess.GPUReport) [][]assess.GPUReport {
	var out [][]assess.GPUReport
	for _, g := range gpus {
		if n := len(out); n > 0 {
			last := out[n-1][len(out[n-1])-1]
			if last.Index+1 == g.Index && sameBlock(last, g) {
				out[n-1] = append(out[n-1], g)
				continue
			}
		}
		out = append(out, []assess.GPUReport{g})
	}
	return out
}

func sameBlock(a, b assess.GPUReport) bool {
	a.Index, b.Index = 0, 0
	return reflect.DeepEqual(a, b)
}

func writePlan(b *strings.Builder, pl assess.Plan) {
	fmt.Fprintf(b, "\nPlan (policy %s): ", pl.Policy)
	if pl.Device == assess.DeviceGPU {
		fmt.Fprintf(b, "train on GPU %s", joinInts(pl.GPUs))
	} else {
		b.WriteString("train on the CPU")
	}
	if len(pl.Hidden) > 0 {
		fmt.Fprintf(b, "; hide GPU %s", joinInts(pl.Hidden))
	}
	if pl.Supervised {
		b.WriteString("; supervised")
	}
	if pl.CPUFallback != nil {
		fmt.Fprintf(b, "; CPU after %d GPU faults", pl.CPUFallback.AfterFaults)
	}
	b.WriteString(".\n")
	if len(pl.Env) > 0 {
		var parts []string
		for _, v := range pl.Env {
			if v.Unset {
				parts = append(parts, "unset "+v.Name)
			} else {
				parts = append(parts, fmt.Sprintf("%s=%q", v.Name, v.Value))
			}
		}
		fmt.Fprintf(b, "  environment: %s\n", strings.Join(parts, " "))
		flag := ""
		if pl.Policy != assess.PolicyMitigate {
			flag = " --policy " + string(pl.Policy)
		}
		fmt.Fprintf(b, "  apply with:  eval \"$(rocm-patch env%s)\"\n", flag)
	}
	for _, p := range pl.Params {
		fmt.Fprintf(b, "  consider:    %s=%s (%s)\n", p.Setting, p.Value, p.Why)
	}
	for _, w := range pl.Warnings {
		fmt.Fprintf(b, "  WARNING: %s\n", w)
	}
}

func joinInts(v []int) string {
	parts := make([]string, len(v))
	for i, x := range v {
		parts[i] = fmt.Sprint(x)
	}
	return strings.Join(parts, ", ")
}
