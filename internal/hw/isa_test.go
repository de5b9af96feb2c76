package hw

import "testing"

func TestFamilyOf(t *testing.T) {
	tests := []struct {
		target string
		want   Family
	}{
		{"gfx803", GCN4},
		{"gfx900", GCN5}, {"gfx902", GCN5}, {"gfx904", GCN5}, {"gfx906", GCN5}, {"gfx909", GCN5}, {"gfx90c", GCN5},
		{"gfx908", CDNA1},
		{"gfx90a", CDNA2}, {"gfx90a:xnack-", CDNA2},
		{"gfx940", CDNA3}, {"gfx941", CDNA3}, {"gfx942", CDNA3}, {"gfx942:sramecc+:xnack-", CDNA3},
		{"gfx950", CDNA4},
		{"gfx1010", RDNA1}, {"gfx1011", RDNA1}, {"gfx1012", RDNA1}, {"gfx1013", RDNA1},
		{"gfx1030", RDNA2}, {"gfx1031", RDNA2}, {"gfx1032", RDNA2}, {"gfx1033", RDNA2},
		{"gfx1034", RDNA2}, {"gfx1035", RDNA2}, {"gfx1036", RDNA2},
		{"gfx1100", RDNA3}, {"gfx1101", RDNA3}, {"gfx1102", RDNA3}, {"gfx1103", RDNA3},
		{"gfx1150", RDNA35}, {"gfx1151", RDNA35}, {"gfx1152", RDNA35}, {"gfx1153", RDNA35},
		{"gfx1200", RDNA4}, {"gfx1201", RDNA4},
		{"amdgcn-amd-amdhsa--gfx1031", RDNA2},
		{"gfx1037", Unknown}, {"gfx801", Unknown}, {"gfx1250", Unknown},
		{"gfx10-3-generic", Unknown}, {"GFX1031", Unknown}, {"", Unknown}, {"gfx1031x", Unknown},
	}
	for _, tt := range tests {
		if got := FamilyOf(tt.target); got != tt.want {
			t.Errorf("FamilyOf(%q) = %q, want %q", tt.target, got, tt.want)
		}
	}
}

func TestGenericISA(t *testing.T) {
	tests := []struct{ target, want string }{
		{"gfx900", "gfx9-generic"}, {"gfx902", "gfx9-generic"}, {"gfx904", "gfx9-generic"},
		{"gfx906", "gfx9-generic"}, {"gfx909", "gfx9-generic"}, {"gfx90c", "gfx9-generic"},
		{"gfx940", "gfx9-4-generic"}, {"gfx941", "gfx9-4-generic"}, {"gfx942", "gfx9-4-generic"}, {"gfx950", "gfx9-4-generic"},
		{"gfx1010", "gfx10-1-generic"}, {"gfx1011", "gfx10-1-generic"}, {"gfx1012", "gfx10-1-generic"}, {"gfx1013", "gfx10-1-generic"},
		{"gfx1030", "gfx10-3-generic"}, {"gfx1031:xnack-", "gfx10-3-generic"}, {"gfx1032", "gfx10-3-generic"},
		{"gfx1033", "gfx10-3-generic"}, {"gfx1034", "gfx10-3-generic"}, {"gfx1035", "gfx10-3-generic"}, {"gfx1036", "gfx10-3-generic"},
		{"gfx1100", "gfx11-generic"}, {"gfx1101", "gfx11-generic"}, {"gfx1102", "gfx11-generic"}, {"gfx1103", "gfx11-generic"},
		{"gfx1150", "gfx11-generic"}, {"gfx1151", "gfx11-generic"}, {"gfx1152", "gfx11-generic"}, {"gfx1153", "gfx11-generic"},
		{"gfx1200", "gfx12-generic"}, {"gfx1201", "gfx12-generic"},
		{"gfx803", ""}, {"gfx908", ""}, {"gfx90a", ""}, {"gfx1037", ""}, {"nonsense", ""},
	}
	for _, tt := range tests {
		if got := GenericISA(tt.target); got != tt.want {
			t.Errorf("GenericISA(%q) = %q, want %q", tt.target, got, tt.want)
		}
	}
}

func TestSameGenericFamily(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"gfx1031", "gfx1030", true},
		{"gfx1035", "gfx1030", true},
		{"gfx1010", "gfx1030", false}, // RDNA1 with an RDNA2 override: the classic fault
		{"gfx1030", "gfx1100", false},
		{"gfx1103", "gfx1100", true},
		{"gfx1151", "gfx1100", true},
		{"gfx1201", "gfx1200", true},
		{"gfx90a", "gfx942", false},
		{"gfx90a", "gfx90a:xnack-", true},
		{"gfx908", "gfx908", true},
		{"gfx1037", "gfx1037", true}, // unknown to the table, but the same processor
		{"gfx1037", "gfx1030", false},
		{"gfx906", "gfx900", true},
		{"gfx942", "gfx950", true},
		{"bogus", "bogus", false},
		{"", "", false},
		{"gfx10-3-generic", "gfx10-3-generic", false},
	}
	for _, tt := range tests {
		if got := SameGenericFamily(tt.a, tt.b); got != tt.want {
			t.Errorf("SameGenericFamily(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
		if got := SameGenericFamily(tt.b, tt.a); got != tt.want {
			t.Errorf("SameGenericFamily(%q, %q) = %v, want %v (not symmetric)", tt.b, tt.a, got, tt.want)
		}
	}
}

func TestKnownAPU(t *testing.T) {
	tests := []struct {
		target     string
		apu, known bool
	}{
		{"gfx902", true, true}, {"gfx909", true, true}, {"gfx90c", true, true},
		{"gfx1013", true, true}, {"gfx1033", true, true}, {"gfx1035", true, true}, {"gfx1036", true, true},
		{"gfx1103", true, true}, {"gfx1150", true, true}, {"gfx1151", true, true}, {"gfx1152", true, true}, {"gfx1153", true, true},
		{"gfx803", false, true}, {"gfx900", false, true}, {"gfx906", false, true}, {"gfx908", false, true}, {"gfx90a", false, true},
		{"gfx950", false, true}, {"gfx1010", false, true}, {"gfx1030", false, true}, {"gfx1031", false, true},
		{"gfx1100", false, true}, {"gfx1201", false, true},
		{"gfx942", false, false}, // MI300A (APU) and MI300X (dGPU) share it
		{"gfx1037", false, false}, {"", false, false},
	}
	for _, tt := range tests {
		apu, known := KnownAPU(tt.target)
		if apu != tt.apu || known != tt.known {
			t.Errorf("KnownAPU(%q) = %v, %v; want %v, %v", tt.target, apu, known, tt.apu, tt.known)
		}
	}
}

// TestISATableNamesParse keeps the table's keys in the one spelling
// ParseTarget and Target agree on.
func TestISATableNamesParse(t *testing.T) {
	for name, info := range isaTable {
		v, err := ParseTarget(name)
		if err != nil {
			t.Errorf("table key %q does not parse: %v", name, err)
			continue
		}
		if back, err := v.Target(); err != nil || back != name {
			t.Errorf("table key %q round-trips to %q, %v", name, back, err)
		}
		if info.family == Unknown || info.family == "" {
			t.Errorf("table key %q has no family", name)
		}
	}
}
