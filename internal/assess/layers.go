package assess

import (
	"fmt"
	"strings"

	"github.com/rocm-patch/rocm-patch/internal/kb"
)

// faultClasses are the failure classes whose mitigations form the
// environment layer of a GPU: the ones a supervised run guards against.
var faultClasses = map[kb.Class]bool{
	kb.ClassGPUMemoryFault:    true,
	kb.ClassApertureViolation: true,
	kb.ClassIllegalAddress:    true,
	kb.ClassKernelPageFault:   true,
	kb.ClassGPUHang:           true,
}

// handled are settings a plan computes itself from the machine rather
// than copying from an entry: the override depends on the kernels
// installed, visibility on the policy.
func handled(id string) bool {
	if strings.HasPrefix(id, overrideVar) {
		return true
	}
	for _, v := range visibilityVars {
		if v == id {
			return true
		}
	}
	return false
}

// layerEntry pairs a mitigation with the entry it comes from.
type layerEntry struct {
	entry *kb.Entry
	m     kb.Mitigation
	set   *kb.Setting
}

// candidates lists, for a GPU, the setting mitigations of the fault
// entries that apply to it and that the catalogue does not call a no-op
// there, in entry order then mitigation order.
func (a *assessor) candidates(s *gpuState, kind kb.SettingKind) []layerEntry {
	if !s.judged {
		return nil
	}
	ctx := kb.Context{GFXTarget: s.own, Family: string(s.family), Env: a.sys.Env}
	var out []layerEntry
	for _, e := range a.k.All() {
		// Only entries that name the GPU's family or target: a proactive
		// layer is for what is known about this hardware, not for every
		// GPU that ever faulted. Log-context specialisations are for
		// diagnose.
		named := len(e.AppliesTo.Families) > 0 || len(e.AppliesTo.Targets) > 0
		if !faultClasses[e.Class] || !named || (e.When != nil && len(e.When.Context) > 0) || !e.AppliesTo.Matches(s.own, string(s.family)) {
			continue
		}
		for _, m := range e.Mitigations {
			if m.Setting == "" || m.Unset || handled(m.Setting) || !m.Only.Matches(s.own, string(s.family)) {
				continue
			}
			set, ok := a.k.Setting(m.Setting)
			// A debugging aid costs too much to apply unasked.
			if !ok || set.Kind != kind || set.Invalid || set.DebugAid {
				continue
			}
			if noop, _ := set.NoOp(m.Value, ctx); noop {
				continue
			}
			out = append(out, layerEntry{entry: e, m: m, set: set})
		}
	}
	return out
}

// mitigations makes the environment variables of the layer for the GPUs
// a run uses. A variable is process-wide, so one that helps any used GPU
// is set; the first value found wins when entries disagree.
func (a *assessor) mitigations(used []*gpuState) []EnvVar {
	var out []EnvVar
	pos := map[string]int{}
	for _, s := range used {
		for _, c := range a.candidates(s, kb.KindEnv) {
			name := c.set.Name
			if i, ok := pos[name]; ok {
				if out[i].Value == c.m.Value && !containsInt(out[i].GPUs, s.g.Index) {
					out[i].GPUs = append(out[i].GPUs, s.g.Index)
					out[i].Why = fmt.Sprintf("%s; %s", out[i].Why, s.label)
				}
				continue
			}
			pos[name] = len(out)
			out = append(out, EnvVar{
				Name: name, Value: c.m.Value, Setting: c.set.ID, GPUs: []int{s.g.Index},
				Why: fmt.Sprintf("%s (%s): %s", oneLine(c.m.Why), c.entry.ID, s.label),
			})
		}
	}
	return out
}

// paramAdvice lists the amdgpu parameters the fault entries recommend
// for the used GPUs, skipping those already set to that value.
func (a *assessor) paramAdvice(used []*gpuState) []ParamAdvice {
	var out []ParamAdvice
	pos := map[string]int{}
	for _, s := range used {
		for _, c := range a.candidates(s, kb.KindAMDGPUParam) {
			if cur, ok := a.sys.AMDGPU.Params[c.set.Name]; ok && strings.TrimSpace(cur) == c.m.Value {
				continue
			}
			if i, ok := pos[c.set.ID]; ok {
				if out[i].Value == c.m.Value && !containsInt(out[i].GPUs, s.g.Index) {
					out[i].GPUs = append(out[i].GPUs, s.g.Index)
				}
				continue
			}
			pos[c.set.ID] = len(out)
			out = append(out, ParamAdvice{Setting: c.set.ID, Value: c.m.Value, GPUs: []int{s.g.Index},
				Why: fmt.Sprintf("%s (%s)", oneLine(c.m.Why), c.entry.ID)})
		}
	}
	return out
}
