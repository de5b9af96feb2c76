package diagnose

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/rocm-patch/rocm-patch/internal/hw"
	"github.com/rocm-patch/rocm-patch/internal/kb"
	"github.com/rocm-patch/rocm-patch/internal/system"
)

// hardware is what the detected machine says about the predicates entries
// may require. It is computed once per Matcher; it reads nothing.
type hardware struct {
	known           bool
	gpus            []system.GPU // visible AMD GPUs
	noAMD           bool
	wsl             bool
	kfdInaccessible bool
	wrongFamily     []string // one sentence per GPU whose override crosses families
	malformed       []string // one sentence per malformed override value
}

func readHardware(s *system.System) hardware {
	if s == nil {
		return hardware{}
	}
	// Under WSL2 detect sees no GPU through KFD even when one is there.
	h := hardware{known: true, wsl: s.WSL, noAMD: len(s.GPUs) == 0 && !s.WSL}
	h.kfdInaccessible = len(s.GPUs) > 0 && !s.KFDAccessible
	seenMalformed := map[string]bool{}
	noteMalformed := func(name, value string) {
		if _, err := hw.ParseOverride(value); err == nil || seenMalformed[name] {
			return
		}
		seenMalformed[name] = true
		h.malformed = append(h.malformed, kb.CheckOverride(value, "").Reason+" ("+name+")")
	}
	for name, value := range s.Env {
		if name == "HSA_OVERRIDE_GFX_VERSION" || strings.HasPrefix(name, "HSA_OVERRIDE_GFX_VERSION_") {
			noteMalformed(name, value)
		}
	}
	for _, g := range s.GPUs {
		if !g.Visible {
			continue
		}
		h.gpus = append(h.gpus, g)
		name, value := overrideFor(s, g)
		if value == "" {
			if g.EffectiveGFXTarget != "" && g.GFXTarget != "" && g.EffectiveGFXTarget != g.GFXTarget &&
				!hw.SameGenericFamily(g.GFXTarget, g.EffectiveGFXTarget) {
				h.wrongFamily = append(h.wrongFamily, fmt.Sprintf("GPU %d (%s) is %s but ROCm loads %s code: another ISA family",
					g.Index, gpuName(g), g.GFXTarget, g.EffectiveGFXTarget))
			}
			continue
		}
		v := kb.CheckOverride(value, g.GFXTarget)
		switch v.Kind {
		case kb.OverrideOtherFamily, kb.OverrideUnnamed:
			h.wrongFamily = append(h.wrongFamily, fmt.Sprintf("GPU %d (%s): %s", g.Index, gpuName(g), strings.Replace(v.Reason, "HSA_OVERRIDE_GFX_VERSION", name, 1)))
		case kb.OverrideMalformed:
			noteMalformed(name, value)
		}
	}
	return h
}

// overrideFor returns the override variable that applies to a GPU and its
// value: the one detect recorded, else the per-node form, else the global.
func overrideFor(s *system.System, g system.GPU) (string, string) {
	if g.Override != "" {
		if v, ok := s.Env[g.Override]; ok {
			return g.Override, v
		}
	}
	if g.Node != nil {
		name := "HSA_OVERRIDE_GFX_VERSION_" + strconv.Itoa(*g.Node)
		if v, ok := s.Env[name]; ok {
			return name, v
		}
	}
	if v, ok := s.Env["HSA_OVERRIDE_GFX_VERSION"]; ok {
		return "HSA_OVERRIDE_GFX_VERSION", v
	}
	return "", ""
}

func gpuName(g system.GPU) string {
	var parts []string
	if g.Name != "" {
		parts = append(parts, g.Name)
	}
	if g.GFXTarget != "" {
		parts = append(parts, g.GFXTarget)
	}
	fam := g.Family
	if fam == "" && g.GFXTarget != "" {
		fam = string(hw.FamilyOf(g.GFXTarget))
	}
	if fam != "" && fam != string(hw.Unknown) {
		parts = append(parts, fam)
	}
	if len(parts) == 0 {
		return "unknown GPU"
	}
	return strings.Join(parts, ", ")
}

// holds evaluates a predicate for an entry against the detected machine,
// with a sentence saying why it holds.
func (h hardware) holds(e *kb.Entry, p kb.Predicate) (bool, string) {
	if !h.known {
		return false, ""
	}
	switch p {
	case kb.PredAppliesTo:
		var hits []string
		for _, g := range h.gpus {
			if e.AppliesTo.Matches(g.GFXTarget, g.Family) {
				hits = append(hits, fmt.Sprintf("GPU %d (%s)", g.Index, gpuName(g)))
			}
		}
		if len(hits) > 0 {
			return true, strings.Join(hits, ", ") + " is within this issue's scope"
		}
	case kb.PredOverrideWrongFamily:
		if len(h.wrongFamily) > 0 {
			return true, strings.Join(h.wrongFamily, "; ")
		}
	case kb.PredOverrideMalformed:
		if len(h.malformed) > 0 {
			return true, strings.Join(h.malformed, "; ")
		}
	case kb.PredNoAMDGPU:
		if h.noAMD {
			return true, "the machine has no AMD GPU"
		}
	case kb.PredWSL:
		if h.wsl {
			return true, "the machine runs WSL2"
		}
	case kb.PredKFDInaccessible:
		if h.kfdInaccessible {
			return true, "/dev/kfd cannot be opened by this user"
		}
	}
	return false, ""
}
