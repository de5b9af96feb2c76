package runner

import (
	"fmt"
	"strings"

	"github.com/rocm-patch/rocm-patch/internal/assess"
	"github.com/rocm-patch/rocm-patch/internal/history"
	"github.com/rocm-patch/rocm-patch/internal/kb"
)

// Layer names as history records them. A ladder step's layer is its id.
const (
	// LayerEnv is the policy's environment layer (rocm-patch env).
	LayerEnv = "env"
	// LayerCPU is an attempt with every GPU it would have used hidden.
	LayerCPU = "cpu"
)

// UnsetMark is the value Attempt settings record for a variable a layer
// removes from the environment.
const UnsetMark = "<unset>"

// Rung is the configuration of one attempt: where it runs and which
// ladder steps it climbed.
type Rung struct {
	// N is the attempt number, from 1.
	N int
	// Device is history.DeviceGPU or history.DeviceCPU.
	Device string
	// Steps are the ladder steps applied, lowest first: GPU steps, or the
	// CPU step alone.
	Steps []*kb.LadderStep
}

// CPUFallback reports whether a plan lets the ladder move a run to the CPU:
// the plan runs on a GPU, supervised with a fallback (not under
// force-gpu-unsafe), and the ladder has a CPU step.
func CPUFallback(plan assess.Plan, l *kb.Ladder) bool {
	return plan.Device == assess.DeviceGPU && plan.Policy != assess.PolicyForceGPU &&
		plan.CPUFallback != nil && l != nil && l.CPUStep() != nil
}

// Schedule returns the rung of attempt n out of at most total: attempt 1
// runs the plan; each retry climbs one GPU step, keeping the ones below
// and repeating the highest once they run out; the last attempt takes the
// CPU step when CPUFallback allows. A plan on the CPU, or under
// force-gpu-unsafe, never climbs. It is a pure function.
func Schedule(n, total int, plan assess.Plan, l *kb.Ladder) Rung {
	r := Rung{N: n, Device: history.DeviceGPU}
	if plan.Device != assess.DeviceGPU {
		r.Device = history.DeviceCPU
		return r
	}
	if n <= 1 || plan.Policy == assess.PolicyForceGPU || l == nil {
		return r
	}
	if n == total && CPUFallback(plan, l) {
		r.Device = history.DeviceCPU
		r.Steps = []*kb.LadderStep{l.CPUStep()}
		return r
	}
	gpu := l.GPUSteps()
	r.Steps = gpu[:min(n-1, len(gpu))]
	return r
}

// Environment is the child's environment for one rung, and what history
// records about it.
type Environment struct {
	// Env is the child's whole environment, "NAME=value".
	Env []string
	// Layers name what was applied: LayerEnv, ladder step ids, LayerCPU.
	Layers []string
	// Settings are the variables the layers set (UnsetMark: removed).
	Settings map[string]string
	// Applied are the ladder settings applied, for messages.
	Applied []kb.SettingValue
	// Skipped explains each ladder setting or step left out on this
	// machine, one sentence each.
	Skipped []string
}

// BuildEnvironment applies the plan's layer and the rung's ladder steps to
// base (the user's environment). gpus are the GPUs the plan uses, for the
// catalogue's no-op rules and the steps' selectors. A ladder setting the
// user already set is left as they set it, and one that changes nothing
// on any GPU in use is skipped. The CPU rung of a GPU plan starts again
// from base, with the CPU step's hiding only: the GPU layer would do
// nothing there. It is a pure function.
func BuildEnvironment(base []string, plan assess.Plan, r Rung, gpus []assess.GPUReport, k *kb.KB) Environment {
	env := newEnvList(base)
	out := Environment{Settings: map[string]string{}}
	cpuRung := r.Device == history.DeviceCPU && plan.Device == assess.DeviceGPU
	if !cpuRung && len(plan.Env) > 0 {
		for _, v := range plan.Env {
			if v.Unset {
				env.unset(v.Name)
				out.Settings[v.Name] = UnsetMark
			} else {
				env.set(v.Name, v.Value)
				out.Settings[v.Name] = v.Value
			}
		}
		if plan.Device == assess.DeviceCPU && (len(plan.Hidden) > 0 || hidesGPUs(plan.Env)) {
			out.Layers = append(out.Layers, LayerCPU)
		} else {
			out.Layers = append(out.Layers, LayerEnv)
		}
	}
	user := newEnvList(base)
	for _, step := range r.Steps {
		if step.Device == kb.LadderCPU {
			for _, v := range step.Settings {
				name := settingName(k, v.Setting)
				apply(env, name, v, out.Settings)
				out.Applied = append(out.Applied, kb.SettingValue{Setting: name, Value: v.Value, Unset: v.Unset})
			}
			out.Layers = append(out.Layers, LayerCPU)
			continue
		}
		if !selects(step.Only, gpus) {
			out.Skipped = append(out.Skipped, fmt.Sprintf("ladder step %s is not for %s", step.ID, gpuList(gpus)))
			continue
		}
		used := false
		for _, v := range step.Settings {
			name := settingName(k, v.Setting)
			if cur, ok := user.get(name); ok {
				out.Skipped = append(out.Skipped, fmt.Sprintf("%s is kept as your environment sets it (%s=%s)", name, name, cur))
				continue
			}
			if why, noop := noOpEverywhere(k, v, gpus, env.m()); noop {
				out.Skipped = append(out.Skipped, fmt.Sprintf("%s is skipped: %s", v, why))
				continue
			}
			apply(env, name, v, out.Settings)
			out.Applied = append(out.Applied, kb.SettingValue{Setting: name, Value: v.Value, Unset: v.Unset})
			used = true
		}
		if used {
			out.Layers = append(out.Layers, step.ID)
		}
	}
	out.Env = env.list()
	return out
}

// hidesGPUs reports whether a layer hides every GPU: it sets a
// visibility variable to "" (ROCr, HIP or CUDA then see none). A CPU plan
// with such a layer is the cpu layer even where no GPU was detected to
// hide (rocm-patch probe's cpu configuration on any machine).
func hidesGPUs(env []assess.EnvVar) bool {
	for _, v := range env {
		switch v.Name {
		case "ROCR_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES", "CUDA_VISIBLE_DEVICES":
			if !v.Unset && v.Value == "" {
				return true
			}
		}
	}
	return false
}

func apply(env *envList, name string, v kb.SettingValue, settings map[string]string) {
	if v.Unset {
		env.unset(name)
		settings[name] = UnsetMark
		return
	}
	env.set(name, v.Value)
	settings[name] = v.Value
}

// settingName is the variable a catalogue id stands for.
func settingName(k *kb.KB, id string) string {
	if k != nil {
		if s, ok := k.Setting(id); ok {
			return s.Name
		}
	}
	return id
}

// selects reports whether a step's selector takes any GPU in use.
func selects(only *kb.Selector, gpus []assess.GPUReport) bool {
	if only == nil {
		return true
	}
	for _, g := range gpus {
		if only.Matches(g.Target, g.Family) {
			return true
		}
	}
	return false
}

// noOpEverywhere reports whether v changes nothing on every GPU in use,
// with the catalogue's reason. With no GPU known it is never sure.
func noOpEverywhere(k *kb.KB, v kb.SettingValue, gpus []assess.GPUReport, env map[string]string) (string, bool) {
	if k == nil || v.Unset {
		return "", false
	}
	ctxs := []kb.Context{{Env: env}}
	if len(gpus) > 0 {
		ctxs = ctxs[:0]
		for _, g := range gpus {
			ctxs = append(ctxs, kb.Context{GFXTarget: g.Target, Family: g.Family, Env: env})
		}
	}
	why := ""
	for _, c := range ctxs {
		noop, reason, err := k.NoOp(v.Setting, v.Value, c)
		if err != nil || !noop {
			return "", false
		}
		why = reason
	}
	return why, true
}

// gpuList names GPUs for a message: "GPU 0 (gfx1031)".
func gpuList(gpus []assess.GPUReport) string {
	if len(gpus) == 0 {
		return "this machine"
	}
	parts := make([]string, len(gpus))
	for i, g := range gpus {
		parts[i] = fmt.Sprintf("GPU %d (%s)", g.Index, g.Target)
	}
	return strings.Join(parts, ", ")
}

// GPUsInUse returns the reports of the GPUs a plan runs on.
func GPUsInUse(rep *assess.Report) []assess.GPUReport {
	if rep == nil {
		return nil
	}
	var out []assess.GPUReport
	for _, idx := range rep.Plan.GPUs {
		for _, g := range rep.GPUs {
			if g.Index == idx {
				out = append(out, g)
			}
		}
	}
	return out
}

// envList is an environment that keeps the order of its variables, so the
// child sees the user's environment as it was, with changes in place.
type envList struct {
	names []string
	vals  map[string]string
}

func newEnvList(kv []string) *envList {
	e := &envList{vals: map[string]string{}}
	for _, s := range kv {
		name, val, ok := strings.Cut(s, "=")
		if !ok || name == "" {
			continue
		}
		e.set(name, val)
	}
	return e
}

func (e *envList) set(name, val string) {
	if _, ok := e.vals[name]; !ok {
		e.names = append(e.names, name)
	}
	e.vals[name] = val
}

func (e *envList) unset(name string) {
	if _, ok := e.vals[name]; !ok {
		return
	}
	delete(e.vals, name)
	for i, n := range e.names {
		if n == name {
			e.names = append(e.names[:i], e.names[i+1:]...)
			break
		}
	}
}

func (e *envList) get(name string) (string, bool) {
	v, ok := e.vals[name]
	return v, ok
}

func (e *envList) m() map[string]string {
	out := make(map[string]string, len(e.vals))
	for k, v := range e.vals {
		out[k] = v
	}
	return out
}

func (e *envList) list() []string {
	out := make([]string, len(e.names))
	for i, n := range e.names {
		out[i] = n + "=" + e.vals[n]
	}
	return out
}
