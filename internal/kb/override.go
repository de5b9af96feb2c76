package kb

import (
	"fmt"

	"github.com/rocm-patch/rocm-patch/internal/hw"
)

// OverrideKind classifies an HSA_OVERRIDE_GFX_VERSION value against a GPU.
type OverrideKind string

// The verdicts of CheckOverride.
const (
	// OverrideMalformed: libhsakmt rejects the value; topology fails and
	// ROCm sees no GPU at all.
	OverrideMalformed OverrideKind = "malformed"
	// OverrideUnnamed: it parses, but minor or stepping exceeds one hex
	// digit, so it names no ISA and no code object can match.
	OverrideUnnamed OverrideKind = "unnamed"
	// OverrideUnknownOwn: the GPU's own target is unknown, so the value
	// cannot be judged.
	OverrideUnknownOwn OverrideKind = "unknown-gpu"
	// OverrideSameTarget: it names the GPU's own ISA and changes nothing.
	OverrideSameTarget OverrideKind = "same-target"
	// OverrideSameFamily: another ISA of the same LLVM generic family
	// (10.3.0 on gfx1031): the common, working trick.
	OverrideSameFamily OverrideKind = "same-family"
	// OverrideOtherFamily: an ISA of another family (10.3.0 on gfx1010,
	// 11.0.0 on RDNA2): faults or wrong results are the expected outcome.
	OverrideOtherFamily OverrideKind = "other-family"
)

// OverrideVerdict is CheckOverride's answer.
type OverrideVerdict struct {
	Value string
	Kind  OverrideKind
	// Target is the ISA ROCm loads code for under the override; empty when
	// malformed or unnamed.
	Target string
	// Reason is a sentence for the user.
	Reason string
}

// Wrong reports whether the override is a likely cause of failure:
// malformed, unnamed or of another family.
func (v OverrideVerdict) Wrong() bool {
	switch v.Kind {
	case OverrideMalformed, OverrideUnnamed, OverrideOtherFamily:
		return true
	}
	return false
}

// CheckOverride judges an HSA_OVERRIDE_GFX_VERSION value for a GPU whose
// own target is own ("" when unknown). Parsing is libhsakmt's (see
// hw.ParseOverride); families are LLVM's generic ISAs (see hw.GenericISA).
// It is a pure function.
func CheckOverride(value, own string) OverrideVerdict {
	v := OverrideVerdict{Value: value}
	ver, err := hw.ParseOverride(value)
	if err != nil {
		v.Kind = OverrideMalformed
		v.Reason = fmt.Sprintf("HSA_OVERRIDE_GFX_VERSION=%q is rejected by libhsakmt (%v); topology setup fails and ROCm reports no GPU", value, err)
		return v
	}
	target, err := ver.Target()
	if err != nil {
		v.Kind = OverrideUnnamed
		v.Reason = fmt.Sprintf("HSA_OVERRIDE_GFX_VERSION=%s parses, but %v; no code object can match it", value, err)
		return v
	}
	v.Target = target
	ownBase := baseTarget(own)
	_, perr := hw.ParseTarget(ownBase)
	unknownOwn := own == "" || perr != nil ||
		(hw.FamilyOf(ownBase) == hw.Unknown && hw.GenericISA(ownBase) == "" && ownBase != target)
	if unknownOwn {
		v.Kind = OverrideUnknownOwn
		v.Reason = fmt.Sprintf("HSA_OVERRIDE_GFX_VERSION=%s makes ROCm load %s code; the GPU's own target is unknown, so the override cannot be judged", value, target)
		return v
	}
	switch {
	case ownBase == target:
		v.Kind = OverrideSameTarget
		v.Reason = fmt.Sprintf("HSA_OVERRIDE_GFX_VERSION=%s names the GPU's own ISA (%s); it changes nothing", value, target)
	case hw.SameGenericFamily(ownBase, target):
		v.Kind = OverrideSameFamily
		v.Reason = fmt.Sprintf("HSA_OVERRIDE_GFX_VERSION=%s makes ROCm load %s code on a %s; both are %s, so the code is built for the same ISA family", value, target, ownBase, hw.GenericISA(ownBase))
	default:
		v.Kind = OverrideOtherFamily
		v.Reason = fmt.Sprintf("HSA_OVERRIDE_GFX_VERSION=%s makes ROCm load %s code (%s) on a %s (%s): another ISA family, so memory faults or wrong results are the expected outcome",
			value, target, familyName(target), ownBase, familyName(ownBase))
	}
	return v
}

// familyName describes a target's ISA family for messages.
func familyName(target string) string {
	if g := hw.GenericISA(target); g != "" {
		return g
	}
	if f := hw.FamilyOf(target); f != hw.Unknown {
		return string(f) + ", no generic ISA"
	}
	return "unknown family"
}
