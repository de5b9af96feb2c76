package probe

import (
	"fmt"
	"strings"

	"github.com/rocm-patch/rocm-patch/internal/assess"
	"github.com/rocm-patch/rocm-patch/internal/history"
	"github.com/rocm-patch/rocm-patch/internal/kb"
)

// Config is one mitigation configuration the probe measures.
type Config string

// The configurations, in the order the probe runs and prints them.
const (
	// ConfigNone: the GPU with the user's environment as it is, no layer,
	// no shim.
	ConfigNone Config = "none"
	// ConfigEnv: the GPU with the environment layer of policy mitigate
	// (what rocm-patch env prints).
	ConfigEnv Config = "env"
	// ConfigEnvShim: as ConfigEnv, with the in-process Python shim.
	ConfigEnvShim Config = "env+shim"
	// ConfigCPU: every GPU hidden as the cpu policy hides them, and
	// ROCM_PATCH_DEVICE=cpu: the baseline that speedups are relative to.
	ConfigCPU Config = "cpu"
)

// Configs lists every configuration in order.
var Configs = []Config{ConfigNone, ConfigEnv, ConfigEnvShim, ConfigCPU}

// GPU reports whether the configuration runs on a GPU.
func (c Config) GPU() bool { return c != ConfigCPU }

// Device is where the configuration runs, as history names devices.
func (c Config) Device() string {
	if c.GPU() {
		return history.DeviceGPU
	}
	return history.DeviceCPU
}

// ParseConfigs reads --configs: names separated by commas, in any order
// and case, "shim+env" for "env+shim" (layers name a set), "all" for every
// one. The result is in Configs order without repeats; "" is all.
func ParseConfigs(s string) ([]Config, error) {
	want := map[Config]bool{}
	for _, part := range strings.Split(s, ",") {
		name := strings.TrimSpace(part)
		if name == "" {
			continue
		}
		if strings.EqualFold(name, "all") {
			for _, c := range Configs {
				want[c] = true
			}
			continue
		}
		c := Config(history.CanonicalLayers(strings.Split(name, "+")))
		if !known(c) {
			return nil, fmt.Errorf("unknown configuration %q: want %s, or all", name, configList())
		}
		want[c] = true
	}
	if len(want) == 0 {
		return append([]Config(nil), Configs...), nil
	}
	var out []Config
	for _, c := range Configs {
		if want[c] {
			out = append(out, c)
		}
	}
	return out, nil
}

func known(c Config) bool {
	for _, k := range Configs {
		if c == k {
			return true
		}
	}
	return false
}

func configList() string {
	names := make([]string, len(Configs))
	for i, c := range Configs {
		names[i] = string(c)
	}
	return strings.Join(names, ", ")
}

// Setup is how one configuration runs on this machine.
type Setup struct {
	Config Config
	// Plan is the plan the runner runs the workload under.
	Plan assess.Plan
	// Shim says the in-process shim is loaded.
	Shim bool
	// Skip, when not empty, says why the configuration cannot run here.
	Skip string
}

// Reasons a configuration is skipped.
const (
	SkipNoGPU      = "no AMD GPU visible"
	SkipUnusable   = "no AMD GPU usable"
	SkipTorchNoGPU = "torch sees no GPU"
	SkipNoShim     = "the shim could not be installed"
)

// PlanFor makes configuration c's setup from doctor's report (any policy's:
// the plans of every policy are in it) and the knowledge base. It is a pure
// function.
func PlanFor(c Config, rep *assess.Report, k *kb.KB) Setup {
	s := Setup{Config: c, Shim: c == ConfigEnvShim}
	if !c.GPU() {
		s.Plan = cpuPlan(rep, k)
		return s
	}
	if rep == nil {
		s.Skip = SkipNoGPU
		return s
	}
	mit, ok := rep.PlanFor(assess.PolicyMitigate)
	if !ok {
		mit = rep.Plan
	}
	switch {
	case len(gpusInUse(rep)) == 0:
		s.Skip = SkipNoGPU
		return s
	case mit.Device != assess.DeviceGPU || len(mit.GPUs) == 0:
		s.Skip = SkipUnusable + unusableWhy(rep)
		return s
	}
	// Each attempt runs once: no retries, so no fallback and no ladder; the
	// plan's warnings are about running a job unsupervised, which the
	// probe's attempts are not meant to be read as.
	base := assess.Plan{
		Policy: assess.PolicyMitigate, Device: assess.DeviceGPU,
		GPUs: append([]int(nil), mit.GPUs...), Hidden: append([]int(nil), mit.Hidden...),
		Supervised: true,
	}
	if c == ConfigNone {
		base.Policy, base.Hidden = assess.PolicyForceGPU, nil
		s.Plan = base
		return s
	}
	base.Env = append([]assess.EnvVar(nil), mit.Env...)
	s.Plan = base
	return s
}

// cpuPlan hides every GPU with the ladder's CPU step (the variables the
// cpu policy sets), whether or not one was detected: a GPU detection missed
// must not turn the baseline into a GPU run.
func cpuPlan(rep *assess.Report, k *kb.KB) assess.Plan {
	p := assess.Plan{Policy: assess.PolicyCPU, Device: assess.DeviceCPU, Supervised: true}
	for _, g := range gpusInUse(rep) {
		p.Hidden = append(p.Hidden, g.Index)
	}
	var step *kb.LadderStep
	if k != nil && k.Ladder() != nil {
		step = k.Ladder().CPUStep()
	}
	if step == nil {
		for _, name := range []string{"ROCR_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES", "CUDA_VISIBLE_DEVICES"} {
			p.Env = append(p.Env, assess.EnvVar{Name: name, Setting: name, Why: "the probe's cpu configuration"})
		}
		return p
	}
	for _, v := range step.Settings {
		name := v.Setting
		if s, ok := k.Setting(v.Setting); ok {
			name = s.Name
		}
		p.Env = append(p.Env, assess.EnvVar{Name: name, Value: v.Value, Unset: v.Unset, Setting: v.Setting, Why: "the probe's cpu configuration"})
	}
	return p
}

func gpusInUse(rep *assess.Report) []assess.GPUReport {
	var out []assess.GPUReport
	if rep == nil {
		return nil
	}
	for _, g := range rep.GPUs {
		if g.InUse {
			out = append(out, g)
		}
	}
	return out
}

// unusableWhy is " (GPU i: doctor's reason)" for the first GPU in use
// that policy mitigate keeps off the GPU.
func unusableWhy(rep *assess.Report) string {
	for _, g := range gpusInUse(rep) {
		if d := g.Decision.For(assess.PolicyMitigate); d.Device != assess.DeviceGPU && d.Reason != "" {
			return fmt.Sprintf(" (GPU %d: %s)", g.Index, d.Reason)
		}
	}
	return ""
}
