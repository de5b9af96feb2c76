package assess

import (
	"fmt"
	"strings"
)

// Visibility variables, in the order a plan sets them: ROCr filters first
// (set but empty hides every GPU), then HIP indexes what ROCr left, and
// PyTorch reads CUDA_VISIBLE_DEVICES too.
var visibilityVars = []string{"ROCR_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES", "CUDA_VISIBLE_DEVICES"}

// reachable reports whether ROCm can open the GPU at all; a GPU it cannot
// reach needs no hiding.
func (s *gpuState) reachable() bool { return s.unusable == "" || s.noKernels }

// plan makes the plan of policy p. Risks must be final.
func (a *assessor) plan(p Policy) Plan {
	pl := a.makePlan(p)
	// Reasons quote values from the environment; a comment or a message
	// must stay one line.
	for i := range pl.Env {
		pl.Env[i].Why = oneLine(pl.Env[i].Why)
	}
	return pl
}

func (a *assessor) makePlan(p Policy) Plan {
	pl := Plan{Policy: p, Device: DeviceCPU, GPUs: []int{}, Hidden: []int{}, Env: []EnvVar{}, Params: []ParamAdvice{}, Warnings: []string{}}
	var used, hidden []*gpuState
	for _, s := range a.inUse {
		switch {
		case p == PolicyForceGPU:
			used = append(used, s)
		case !s.reachable():
			pl.Warnings = append(pl.Warnings, fmt.Sprintf("%s cannot be used: %s; the run goes to the CPU until that is fixed", s.label, s.unusable))
		case s.unusable != "", p == PolicyCPU && s.risk == RiskHigh:
			hidden = append(hidden, s)
		default:
			used = append(used, s)
		}
	}
	pl.GPUs = indices(used)
	pl.Hidden = indices(hidden)
	if len(used) > 0 {
		pl.Device = DeviceGPU
	}
	if len(hidden) > 0 {
		pl.Env = append(pl.Env, a.hide(p, used, hidden)...)
	}
	pl.Env = append(pl.Env, a.overrides(used, p == PolicyForceGPU)...)
	if p == PolicyForceGPU {
		for _, s := range used {
			if w := forceWarning(s); w != "" {
				pl.Warnings = append(pl.Warnings, w)
			}
		}
		return pl
	}
	pl.Env = append(pl.Env, a.mitigations(used)...)
	pl.Params = append(pl.Params, a.paramAdvice(used)...)
	if len(used) > 0 {
		pl.Supervised = true
		pl.CPUFallback = &Fallback{AfterFaults: FaultsBeforeCPU}
	}
	return pl
}

// hide makes the visibility variables that keep the run on the used GPUs
// only (none: every variable set but empty).
func (a *assessor) hide(p Policy, used, hidden []*gpuState) []EnvVar {
	rocr := make([]string, len(used))
	hip := make([]string, len(used))
	for i, s := range used {
		rocr[i] = fmt.Sprint(s.g.Index)
		hip[i] = fmt.Sprint(i)
	}
	var whyHidden []string
	for _, s := range hidden {
		if s.unusable != "" {
			whyHidden = append(whyHidden, fmt.Sprintf("%s (%s)", s.label, s.unusable))
		} else {
			whyHidden = append(whyHidden, fmt.Sprintf("%s (high risk, policy %s)", s.label, p))
		}
	}
	where := "the job runs on the CPU"
	if len(used) > 0 {
		where = "the run keeps " + describe(used)
	}
	why := fmt.Sprintf("hides %s; %s", strings.Join(whyHidden, ", "), where)
	var out []EnvVar
	for _, name := range visibilityVars {
		value := strings.Join(hip, ",")
		if name == "ROCR_VISIBLE_DEVICES" {
			value = strings.Join(rocr, ",")
		}
		v := EnvVar{Name: name, Value: value, Setting: name, Why: why, GPUs: indices(hidden)}
		if name != "ROCR_VISIBLE_DEVICES" {
			v.Why = "with ROCR_VISIBLE_DEVICES: " + why
		}
		out = append(out, v)
	}
	return out
}

func forceWarning(s *gpuState) string {
	switch {
	case s.unusable != "":
		return fmt.Sprintf("%s: %s; the run will fail on it", s.label, s.unusable)
	case s.risk.AtLeast(RiskMedium):
		var rs []string
		for _, r := range s.reasons {
			if r.risk.AtLeast(RiskMedium) {
				rs = append(rs, r.text)
			}
		}
		return fmt.Sprintf("%s is %s risk (%s) and runs with no supervision and no CPU fallback: a GPU fault kills the run", s.label, s.risk, strings.Join(rs, "; "))
	}
	return ""
}

// decide is what plan pl does with GPU s.
func (a *assessor) decide(s *gpuState, pl Plan) Decision {
	if !s.inUse {
		return Decision{Device: DeviceUnused, Reason: notInUseReason(s.g)}
	}
	idx := s.g.Index
	if containsInt(pl.GPUs, idx) {
		vars := layerFor(pl.Env, s)
		if pl.Policy == PolicyForceGPU {
			reason := "GPU with no safeguards: no mitigation layers, no supervision, no CPU fallback"
			if len(vars) > 0 {
				reason += "; only " + shellText(vars) + " so that it can load code"
			}
			return Decision{Device: DeviceGPU, Reason: reason, Warning: forceWarning(s)}
		}
		reason := fmt.Sprintf("GPU, supervised; the run moves to the CPU after %d GPU faults", FaultsBeforeCPU)
		if len(vars) > 0 {
			reason += "; environment layer: " + shellText(vars)
		} else {
			reason += "; no variable needed"
		}
		return Decision{Device: DeviceGPU, Layers: len(vars) > 0, Supervised: true, CPUFallback: true, Reason: reason}
	}
	if containsInt(pl.Hidden, idx) {
		var hide []EnvVar
		for _, v := range pl.Env {
			for _, name := range visibilityVars {
				if v.Name == name {
					hide = append(hide, v)
				}
			}
		}
		var settings []string
		for _, v := range hide {
			settings = append(settings, fmt.Sprintf("%s=%q", v.Name, v.Value))
		}
		why := "high risk"
		if s.unusable != "" {
			why = s.unusable
		}
		where := "the job runs on the CPU"
		if pl.Device == DeviceGPU {
			where = "its work goes to the GPUs the run keeps"
		}
		return Decision{Device: DeviceCPU, Hide: hide, Reason: fmt.Sprintf("%s: hidden from the run (%s); %s", why, strings.Join(settings, " "), where)}
	}
	return Decision{Device: DeviceCPU, Reason: s.unusable + ": ROCm cannot reach it, so the run goes to the CPU until that is fixed"}
}

func containsInt(list []int, v int) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
