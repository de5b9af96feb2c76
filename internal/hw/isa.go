package hw

// Family is the GPU architecture generation an ISA belongs to.
type Family string

// The families rocm-patch tells apart.
const (
	GCN4    Family = "GCN4"
	GCN5    Family = "GCN5"
	RDNA1   Family = "RDNA1"
	RDNA2   Family = "RDNA2"
	RDNA3   Family = "RDNA3"
	RDNA35  Family = "RDNA3.5"
	RDNA4   Family = "RDNA4"
	CDNA1   Family = "CDNA1"
	CDNA2   Family = "CDNA2"
	CDNA3   Family = "CDNA3"
	CDNA4   Family = "CDNA4"
	Unknown Family = "unknown"
)

// apuKind records what the ISA alone says about the GPU being integrated.
type apuKind int

const (
	dGPU apuKind = iota
	integrated
	// eitherKind marks an ISA shared by integrated and discrete parts, so
	// the ISA cannot decide (gfx942 is both MI300A and MI300X).
	eitherKind
)

type isaInfo struct {
	family  Family
	generic string
	kind    apuKind
}

// isaTable is keyed by bare processor name.
//
// Generic ISA membership is LLVM's "AMDGPU Generic Processors" table in
// llvm/docs/AMDGPUUsage.rst (checked against the llvmorg-20.1.0 text):
// gfx9-generic = gfx900 902 904 906 909 90c; gfx9-4-generic = gfx940 941 942
// 950; gfx10-1-generic = gfx1010-1013; gfx10-3-generic = gfx1030-1036;
// gfx11-generic = gfx1100-1103 and gfx1150-1153; gfx12-generic = gfx1200
// 1201. gfx803, gfx908 and gfx90a belong to no generic ISA.
//
// dGPU/APU is the column of the same document's processor table: APU for
// gfx902, 909, 90c, 1013, 1033, 1035, 1036, 1103, 1150, 1151, 1152. gfx1153
// is not in that table; it is marked APU because the kernel puts GC 11.5.3
// in the same AMDGPU_FAMILY_GC_11_5_0 as the Strix/Krackan APUs
// (amdgpu_discovery.c) and ROCm's TheRock CI treats it as a small gfx115x
// APU. LLVM lists gfx940-942 as dGPU, but MI300A is an APU on gfx942, so
// those are left undecided.
var isaTable = map[string]isaInfo{
	// Polaris (gfx803). Fiji shares this ISA: LLVM lists fiji, polaris10
	// and polaris11 under gfx803, and KFD reports 80003 for Fiji, all
	// Polaris and VegaM alike.
	"gfx803": {GCN4, "", dGPU},

	"gfx900": {GCN5, "gfx9-generic", dGPU},
	"gfx902": {GCN5, "gfx9-generic", integrated},
	"gfx904": {GCN5, "gfx9-generic", dGPU},
	"gfx906": {GCN5, "gfx9-generic", dGPU},
	"gfx909": {GCN5, "gfx9-generic", integrated},
	"gfx90c": {GCN5, "gfx9-generic", integrated},

	"gfx908": {CDNA1, "", dGPU},
	"gfx90a": {CDNA2, "", dGPU},
	"gfx940": {CDNA3, "gfx9-4-generic", eitherKind},
	"gfx941": {CDNA3, "gfx9-4-generic", eitherKind},
	"gfx942": {CDNA3, "gfx9-4-generic", eitherKind},
	"gfx950": {CDNA4, "gfx9-4-generic", dGPU},

	"gfx1010": {RDNA1, "gfx10-1-generic", dGPU},
	"gfx1011": {RDNA1, "gfx10-1-generic", dGPU},
	"gfx1012": {RDNA1, "gfx10-1-generic", dGPU},
	"gfx1013": {RDNA1, "gfx10-1-generic", integrated},

	"gfx1030": {RDNA2, "gfx10-3-generic", dGPU},
	"gfx1031": {RDNA2, "gfx10-3-generic", dGPU},
	"gfx1032": {RDNA2, "gfx10-3-generic", dGPU},
	"gfx1033": {RDNA2, "gfx10-3-generic", integrated},
	"gfx1034": {RDNA2, "gfx10-3-generic", dGPU},
	"gfx1035": {RDNA2, "gfx10-3-generic", integrated},
	"gfx1036": {RDNA2, "gfx10-3-generic", integrated},

	"gfx1100": {RDNA3, "gfx11-generic", dGPU},
	"gfx1101": {RDNA3, "gfx11-generic", dGPU},
	"gfx1102": {RDNA3, "gfx11-generic", dGPU},
	"gfx1103": {RDNA3, "gfx11-generic", integrated},

	"gfx1150": {RDNA35, "gfx11-generic", integrated},
	"gfx1151": {RDNA35, "gfx11-generic", integrated},
	"gfx1152": {RDNA35, "gfx11-generic", integrated},
	"gfx1153": {RDNA35, "gfx11-generic", integrated},

	"gfx1200": {RDNA4, "gfx12-generic", dGPU},
	"gfx1201": {RDNA4, "gfx12-generic", dGPU},
}

// lookupISA finds a target in isaTable after stripping the HSA prefix and
// target features. Only exact processor spellings match, so "gfx1031x" or
// "GFX1031" are unknown rather than guessed at.
func lookupISA(target string) (isaInfo, bool) {
	info, ok := isaTable[canonicalTarget(target)]
	return info, ok
}

// FamilyOf maps a gfx target name (feature suffixes allowed) to its family;
// anything not in the table is Unknown.
func FamilyOf(target string) Family {
	if info, ok := lookupISA(target); ok {
		return info.family
	}
	return Unknown
}

// GenericISA returns LLVM's generic ISA of a target ("gfx10-3-generic" for
// gfx1031), or "" when LLVM defines none for it or the target is unknown.
func GenericISA(target string) string {
	if info, ok := lookupISA(target); ok {
		return info.generic
	}
	return ""
}

// SameGenericFamily reports whether two targets are the same processor
// (features aside) or share a generic ISA. It is the test for "code built
// for one may run on the other"; targets that are not processor names never
// match.
func SameGenericFamily(a, b string) bool {
	if _, err := ParseTarget(a); err != nil {
		return false
	}
	if _, err := ParseTarget(b); err != nil {
		return false
	}
	if canonicalTarget(a) == canonicalTarget(b) {
		return true
	}
	ga, gb := GenericISA(a), GenericISA(b)
	return ga != "" && ga == gb
}

// KnownAPU reports whether a target is an integrated GPU's ISA. known is
// false when the table does not know the target, and also for the MI300
// ISAs (gfx940-942), which both APUs and discrete cards use.
func KnownAPU(target string) (apu bool, known bool) {
	info, ok := lookupISA(target)
	if !ok || info.kind == eitherKind {
		return false, false
	}
	return info.kind == integrated, true
}
