package runner

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/rocm-patch/rocm-patch/internal/assess"
	"github.com/rocm-patch/rocm-patch/internal/kb"
)

// Prefix starts every line rocm-patch itself writes around the child's
// output, so that a reader of a log can tell the two apart.
const Prefix = "rocm-patch: "

// DecisionLine is the one line run prints before the child starts: the
// GPUs, the risk, what the policy decided and how retries will go.
// historyPath may be empty (history off). It is a pure function.
func DecisionLine(rep *assess.Report, retries int, cpuFallback bool, historyPath string) string {
	plan := rep.Plan
	var b strings.Builder
	b.WriteString(Prefix)
	used := GPUsInUse(rep)
	switch {
	case plan.Device == assess.DeviceGPU:
		fmt.Fprintf(&b, "%s: risk %s; ", describeGPUs(used), rep.Risk)
	case len(inUse(rep)) > 0:
		fmt.Fprintf(&b, "%s: risk %s; ", describeGPUs(inUse(rep)), rep.Risk)
	default:
		b.WriteString("no AMD GPU in use; ")
	}
	fmt.Fprintf(&b, "policy %s: ", plan.Policy)
	switch {
	case plan.Device != assess.DeviceGPU:
		b.WriteString("running on the CPU")
		if hide := visibility(plan.Env); hide != "" {
			fmt.Fprintf(&b, " with every GPU hidden (%s)", hide)
		}
	case plan.Policy == assess.PolicyForceGPU:
		fmt.Fprintf(&b, "running on the GPU with no safeguards, %s", layerText(plan.Env))
	default:
		fmt.Fprintf(&b, "running on the GPU with %s", layerText(plan.Env))
	}
	switch {
	case retries <= 0 || plan.Device != assess.DeviceGPU:
		b.WriteString("; no retries")
	case cpuFallback:
		fmt.Fprintf(&b, "; CPU after %d GPU %s", retries, plural(retries, "fault", "faults"))
	default:
		fmt.Fprintf(&b, "; %d %s after GPU faults, no CPU fallback", retries, plural(retries, "retry", "retries"))
	}
	if historyPath != "" {
		fmt.Fprintf(&b, " (history: %s)", historyPath)
	}
	return b.String()
}

// CPUNotice explains, once, why a run that could have used a GPU runs on
// the CPU, and how to override that; "" when the plan runs on a GPU or
// there is no GPU to use. It is a pure function.
func CPUNotice(rep *assess.Report) string {
	if rep.Plan.Device == assess.DeviceGPU {
		return ""
	}
	gpus := inUse(rep)
	if len(gpus) == 0 {
		return ""
	}
	var why []string
	for _, g := range gpus {
		d := g.Decision.For(rep.Plan.Policy)
		reason := strings.Join(g.Reasons, "; ")
		if reason == "" {
			reason = d.Reason
		}
		why = append(why, fmt.Sprintf("GPU %d %s (%s): %s", g.Index, g.Name, g.Target, reason))
	}
	override := "--force-gpu-unsafe runs it on the GPU anyway, with no safeguards"
	if rep.Plan.Policy == assess.PolicyCPU {
		override = "--policy mitigate runs it on the GPU, supervised, moving to the CPU after faults; --force-gpu-unsafe runs it with no safeguards"
	}
	return fmt.Sprintf("%sthe job runs on the CPU, so torch.cuda.is_available() is False: %s. To override: %s.",
		Prefix, strings.Join(why, "; "), override)
}

// inUse returns the GPUs a run could take part on.
func inUse(rep *assess.Report) []assess.GPUReport {
	var out []assess.GPUReport
	for _, g := range rep.GPUs {
		if g.InUse {
			out = append(out, g)
		}
	}
	return out
}

// describeGPUs names GPUs compactly: one in full, identical ones as a
// range, different ones by index and target.
func describeGPUs(gs []assess.GPUReport) string {
	if len(gs) == 0 {
		return "no GPU"
	}
	g := gs[0]
	if len(gs) == 1 {
		return fmt.Sprintf("GPU %d %s (%s, %s)", g.Index, g.Name, g.Target, g.Family)
	}
	same := true
	idx := make([]string, len(gs))
	for i, x := range gs {
		idx[i] = fmt.Sprint(x.Index)
		if x.Name != g.Name || x.Target != g.Target {
			same = false
		}
	}
	if same {
		return fmt.Sprintf("GPUs %s %dx %s (%s, %s)", indexRange(gs), len(gs), g.Name, g.Target, g.Family)
	}
	parts := make([]string, len(gs))
	for i, x := range gs {
		parts[i] = fmt.Sprintf("GPU %d %s (%s)", x.Index, x.Name, x.Target)
	}
	return strings.Join(parts, ", ")
}

func indexRange(gs []assess.GPUReport) string {
	first, last := gs[0].Index, gs[len(gs)-1].Index
	if last-first == len(gs)-1 {
		return fmt.Sprintf("%d-%d", first, last)
	}
	idx := make([]string, len(gs))
	for i, g := range gs {
		idx[i] = fmt.Sprint(g.Index)
	}
	return strings.Join(idx, ",")
}

// layerText describes an environment layer for the decision line.
func layerText(env []assess.EnvVar) string {
	if len(env) == 0 {
		return "no environment change"
	}
	parts := make([]string, len(env))
	for i, v := range env {
		parts[i] = assignment(v.Name, v.Value, v.Unset)
	}
	return "env layer " + strings.Join(parts, " ")
}

// visibility lists the plan's visibility variables, the ones that hide
// GPUs.
func visibility(env []assess.EnvVar) string {
	var parts []string
	for _, v := range env {
		switch v.Name {
		case "ROCR_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES", "CUDA_VISIBLE_DEVICES", "GPU_DEVICE_ORDINAL":
			parts = append(parts, assignment(v.Name, v.Value, v.Unset))
		}
	}
	return strings.Join(parts, " ")
}

func assignment(name, value string, unset bool) string {
	if unset {
		return "unset " + name
	}
	return name + "=" + value
}

// settingsText describes ladder settings for a retry line.
func settingsText(vs []kb.SettingValue) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = assignment(v.Setting, v.Value, v.Unset)
	}
	return strings.Join(parts, " ")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// Tilde shortens a path under home to ~/..., for messages.
func Tilde(path, home string) string {
	if home == "" || home == "/" || !filepath.IsAbs(home) {
		return path
	}
	home = filepath.Clean(home)
	if path == home {
		return "~"
	}
	if rest, ok := strings.CutPrefix(path, home+string(filepath.Separator)); ok {
		return "~/" + rest
	}
	return path
}
