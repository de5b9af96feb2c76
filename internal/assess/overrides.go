package assess

import (
	"fmt"
	"sort"
	"strings"

	"github.com/rocm-patch/rocm-patch/internal/hw"
	"github.com/rocm-patch/rocm-patch/internal/kb"
)

// acceptable reports whether the override now in effect for s can stay:
// none at all, one naming the GPU's own ISA (a no-op), or one of the same
// ISA family whose code some install ships.
func (s *gpuState) acceptable() bool {
	if !s.ovSet {
		return true
	}
	switch s.verdict.Kind {
	case kb.OverrideSameTarget, kb.OverrideUnknownOwn:
		return true
	case kb.OverrideSameFamily:
		return s.effShipped
	}
	return false
}

// working reports whether the GPU already loads code that is installed
// and of its own family, as things stand.
func (s *gpuState) working() bool {
	if !s.judged || !s.acceptable() {
		return false
	}
	if s.ovSet && s.verdict.Kind == kb.OverrideSameFamily {
		return s.effShipped
	}
	return s.ownShipped
}

// overrides makes the HSA_OVERRIDE_GFX_VERSION part of a layer for the
// GPUs a run uses. Correcting (additive false), every GPU gets the
// override it needs (its final value) and a harmful one is unset.
// Additive (force-gpu-unsafe), only a GPU with no override at all gets the
// one it needs to load code; the user's own settings stay as they are.
//
// One global variable serves when every GPU concerned wants the same
// value; otherwise each GPU gets its per-node variable, which libhsakmt
// prefers to the global one.
func (a *assessor) overrides(used []*gpuState, additive bool) []EnvVar {
	var judged []*gpuState
	for _, s := range used {
		if s.judged && s.g.Node != nil {
			judged = append(judged, s)
		}
	}
	if len(judged) == 0 {
		return nil
	}
	if additive {
		return a.additiveOverrides(used, judged)
	}
	// The global form only when it reaches exactly the GPUs concerned:
	// every GPU with a KFD node is used, judged and wants the same value.
	same := len(judged) == len(used) && len(judged) == a.kfdGPUs()
	for _, s := range judged[1:] {
		if s.final != judged[0].final {
			same = false
		}
	}
	var out []EnvVar
	if same {
		value := judged[0].final
		if value != "" {
			out = append(out, a.setOverride(overrideVar, value, judged))
		} else if harmed := a.harmedBy(judged, overrideVar); len(harmed) > 0 {
			out = append(out, a.unsetOverride(overrideVar, harmed))
		}
		// A per-node variable wins over the global one, so one that
		// disagrees with the global value, or harms its GPU, goes.
		for _, s := range judged {
			name := perNode(s)
			v, set := a.sys.Env[name]
			if set && ((value != "" && normOverride(v) != value) || (value == "" && !s.acceptable())) {
				out = append(out, a.unsetOverride(name, []*gpuState{s}))
			}
		}
		return out
	}
	// Per node. The global variable is left alone unless it harms a GPU
	// that gets no per-node variable.
	var bare []*gpuState
	for _, s := range judged {
		if s.final == "" {
			bare = append(bare, s)
		}
	}
	if harmed := a.harmedBy(bare, overrideVar); len(harmed) > 0 {
		out = append(out, a.unsetOverride(overrideVar, harmed))
	}
	for _, s := range judged {
		name := perNode(s)
		switch {
		case s.final != "":
			out = append(out, a.setOverride(name, s.final, []*gpuState{s}))
		case s.ovSet && s.ovName == name && !s.acceptable():
			out = append(out, a.unsetOverride(name, []*gpuState{s}))
		}
	}
	return out
}

// kfdGPUs counts the GPUs with a KFD node: those an override reaches.
func (a *assessor) kfdGPUs() int {
	n := 0
	for _, s := range a.gpus {
		if s.g.Node != nil {
			n++
		}
	}
	return n
}

func (a *assessor) additiveOverrides(used, judged []*gpuState) []EnvVar {
	var need []*gpuState
	for _, s := range judged {
		if !s.ovSet && s.want != "" {
			need = append(need, s)
		}
	}
	if len(need) == 0 {
		return nil
	}
	// A global variable would also reach every other GPU without an
	// override of its own; it is used only when they all want it.
	bare := 0
	for _, s := range used {
		if !s.ovSet {
			bare++
		}
	}
	same := bare == len(need) && len(used) == a.kfdGPUs()
	for _, s := range need[1:] {
		if s.want != need[0].want {
			same = false
		}
	}
	if same {
		return []EnvVar{a.setOverride(overrideVar, need[0].want, need)}
	}
	var out []EnvVar
	for _, s := range need {
		out = append(out, a.setOverride(perNode(s), s.want, []*gpuState{s}))
	}
	return out
}

// harmedBy lists the GPUs among gs for which the variable name is the
// override in effect and is not acceptable.
func (a *assessor) harmedBy(gs []*gpuState, name string) []*gpuState {
	if _, set := a.sys.Env[name]; !set {
		return nil
	}
	var out []*gpuState
	for _, s := range gs {
		if s.ovSet && s.ovName == name && !s.acceptable() {
			out = append(out, s)
		}
	}
	return out
}

// perNodeSetting is the catalogue id of HSA_OVERRIDE_GFX_VERSION_<node>.
const perNodeSetting = overrideVar + "_N"

// overrideSetting is the catalogue id for an override variable.
func overrideSetting(name string) string {
	if name == overrideVar {
		return overrideVar
	}
	return perNodeSetting
}

func perNode(s *gpuState) string {
	if s.g.Node == nil {
		return overrideVar
	}
	return fmt.Sprintf("%s_%d", overrideVar, *s.g.Node)
}

// normOverride writes a valid override the canonical way ("10.3.0"), so
// that " 10.3.0" and "10.3.0" compare equal; an invalid one is returned
// as it is.
func normOverride(v string) string {
	ver, err := hw.ParseOverride(v)
	if err != nil {
		return v
	}
	return ver.String()
}

func (a *assessor) setOverride(name, value string, gs []*gpuState) EnvVar {
	var why []string
	for _, s := range gs {
		why = append(why, a.overrideWhy(s, value))
	}
	return EnvVar{Name: name, Value: value, Setting: overrideSetting(name), Why: strings.Join(why, "; "), GPUs: indices(gs)}
}

func (a *assessor) overrideWhy(s *gpuState, value string) string {
	target := overrideTarget(value)
	switch {
	case s.ovSet && s.acceptable() && normOverride(s.ovValue) == value:
		return fmt.Sprintf("%s: keeps %s=%s, which loads %s code of the same ISA family (%s), shipped by %s",
			s.label, s.ovName, clean(s.ovValue), target, hw.GenericISA(s.own), a.shippedBy(target))
	case !s.ownShipped:
		return fmt.Sprintf("%s: no install ships %s kernels; %s ship%s %s, the same ISA family (%s)",
			s.label, s.own, a.shippedBy(target), pluralS(len(a.shipped[target])), target, hw.GenericISA(s.own))
	}
	return fmt.Sprintf("%s: loads %s code (same ISA family %s)", s.label, target, hw.GenericISA(s.own))
}

func (a *assessor) unsetOverride(name string, gs []*gpuState) EnvVar {
	var why []string
	for _, s := range gs {
		w := fmt.Sprintf("%s: %s", s.label, strings.TrimPrefix(s.verdict.Reason, overrideVar))
		if strings.HasPrefix(s.verdict.Reason, overrideVar) {
			w = fmt.Sprintf("%s: %s%s", s.label, name, strings.TrimPrefix(s.verdict.Reason, overrideVar))
		}
		if s.ownShipped && s.final == "" {
			w += fmt.Sprintf("; %s ship%s %s kernels, so no override is needed", a.shippedBy(s.own), pluralS(len(a.shipped[s.own])), s.own)
		}
		why = append(why, w)
	}
	return EnvVar{Name: name, Unset: true, Setting: overrideSetting(name), Why: strings.Join(why, "; "), GPUs: indices(gs)}
}

// pluralS agrees "ships" with one install and "ship" with several.
func pluralS(n int) string {
	if n == 1 {
		return "s"
	}
	return ""
}

func overrideTarget(value string) string {
	v, err := hw.ParseOverride(value)
	if err != nil {
		return ""
	}
	t, err := v.Target()
	if err != nil {
		return ""
	}
	return t
}

// layerFor returns the variables of layer that concern GPU s.
func layerFor(layer []EnvVar, s *gpuState) []EnvVar {
	var out []EnvVar
	for _, v := range layer {
		for _, i := range v.GPUs {
			if i == s.g.Index {
				out = append(out, v)
				break
			}
		}
	}
	return out
}

// shellText writes variables as the commands a user would type.
func shellText(vars []EnvVar) string {
	parts := make([]string, 0, len(vars))
	for _, v := range vars {
		if v.Unset {
			parts = append(parts, "unset "+v.Name)
		} else {
			parts = append(parts, fmt.Sprintf("export %s=%s", v.Name, v.Value))
		}
	}
	sort.SliceStable(parts, func(i, j int) bool {
		return strings.HasPrefix(parts[i], "unset ") && !strings.HasPrefix(parts[j], "unset ")
	})
	return strings.Join(parts, "; ")
}
