package hw

import (
	"fmt"
	"testing"
)

func TestLookupDevice(t *testing.T) {
	tests := []struct {
		id       uint16
		target   string
		codename string
	}{
		{0x67DF, "gfx803", "Polaris 10"}, {0x67EF, "gfx803", "Polaris 11"}, {0x699F, "gfx803", "Polaris 12"},
		{0x7300, "gfx803", "Fiji"},
		{0x6860, "gfx900", "Vega 10"}, {26720, "gfx900", "Vega 10"}, // decimal, as a real KFD capture writes it
		{0x687F, "gfx900", "Vega 10"},
		{0x66A0, "gfx906", "Vega 20"}, {0x66AF, "gfx906", "Vega 20"},
		{0x69AF, "gfx904", "Vega 12"},
		{0x15DD, "gfx902", "Raven"}, {0x15D8, "gfx902", "Picasso"},
		{0x1636, "gfx90c", "Renoir"}, {0x1638, "gfx90c", "Cezanne"}, {0x164C, "gfx90c", "Lucienne"},
		{0x738C, "gfx908", "Arcturus"}, {0x738E, "gfx908", "Arcturus"},
		{0x7408, "gfx90a", "Aldebaran"}, {0x740C, "gfx90a", "Aldebaran"}, {0x740F, "gfx90a", "Aldebaran"},
		{0x74A0, "gfx942", "Aqua Vanjaram"}, {0x74A1, "gfx942", "Aqua Vanjaram"}, {0x74A2, "gfx942", "Aqua Vanjaram"},
		{0x74A5, "gfx942", "Aqua Vanjaram"}, {0x74A9, "gfx942", "Aqua Vanjaram"}, {0x74B5, "gfx942", "Aqua Vanjaram"},
		{0x74BD, "gfx942", "Aqua Vanjaram"},
		{0x75A0, "gfx950", "MI350"},
		{0x7310, "gfx1010", "Navi 10"}, {0x7312, "gfx1010", "Navi 10"}, {0x7318, "gfx1010", "Navi 10"},
		{0x7319, "gfx1010", "Navi 10"}, {0x731A, "gfx1010", "Navi 10"}, {0x731B, "gfx1010", "Navi 10"},
		{0x731E, "gfx1010", "Navi 10"}, {0x731F, "gfx1010", "Navi 10"},
		{0x7360, "gfx1011", "Navi 12"}, {0x7362, "gfx1011", "Navi 12"},
		{0x7340, "gfx1012", "Navi 14"}, {0x7341, "gfx1012", "Navi 14"}, {0x7347, "gfx1012", "Navi 14"}, {0x734F, "gfx1012", "Navi 14"},
		{0x13FE, "gfx1013", "Cyan Skillfish"},
		{0x73A0, "gfx1030", "Navi 21"}, {0x73AF, "gfx1030", "Navi 21"}, {0x73BF, "gfx1030", "Navi 21"},
		{0x73C0, "gfx1031", "Navi 22"}, {0x73DF, "gfx1031", "Navi 22"},
		{0x73E0, "gfx1032", "Navi 23"}, {0x73EF, "gfx1032", "Navi 23"}, {0x73FF, "gfx1032", "Navi 23"},
		{0x7420, "gfx1034", "Navi 24"}, {0x7424, "gfx1034", "Navi 24"}, {0x743F, "gfx1034", "Navi 24"},
		{0x163F, "gfx1033", "Van Gogh"},
		{0x1681, "gfx1035", "Rembrandt"},
		{0x164E, "gfx1036", "Raphael"},
		{0x744C, "gfx1100", "Navi 31"}, {0x7448, "gfx1100", "Navi 31"}, {0x745E, "gfx1100", "Navi 31"},
		{0x747E, "gfx1101", "Navi 32"},
		{0x7480, "gfx1102", "Navi 33"}, {0x7483, "gfx1102", "Navi 33"}, {0x7489, "gfx1102", "Navi 33"},
		{0x73F0, "gfx1102", "Navi 33"},
		{0x15BF, "gfx1103", "Phoenix"}, {0x15C8, "gfx1103", "Phoenix"},
		{0x1900, "gfx1103", "Hawk Point"}, {0x1901, "gfx1103", "Hawk Point"},
		{0x150E, "gfx1150", "Strix Point"},
		{0x1586, "gfx1151", "Strix Halo"},
		{0x1114, "gfx1152", "Krackan Point"},
		{0x7550, "gfx1201", "Navi 48"},
		{0x7590, "gfx1200", "Navi 44"},
	}
	for _, tt := range tests {
		d, ok := LookupDevice(tt.id)
		if !ok {
			t.Errorf("LookupDevice(%#04x) not found", tt.id)
			continue
		}
		if d.Target != tt.target || d.Codename != tt.codename {
			t.Errorf("LookupDevice(%#04x) = %s %q, want %s %q", tt.id, d.Target, d.Codename, tt.target, tt.codename)
		}
		if d.Name == "" {
			t.Errorf("LookupDevice(%#04x) has no name", tt.id)
		}
	}
}

func TestLookupDeviceUnknown(t *testing.T) {
	// USB controllers on GPU boards, ids in no table, and 0.
	for _, id := range []uint16{0x0000, 0x73A4, 0x73C4, 0x73E4, 0x7446, 0x6870, 0x66AE, 0xFFFF, 0x1506} {
		if d, ok := LookupDevice(id); ok {
			t.Errorf("LookupDevice(%#04x) = %+v, want not found", id, d)
		}
	}
}

// TestDeviceTableSound checks every group: ranges ordered and disjoint from
// all others, and a target the ISA table knows, so FamilyOf and GenericISA
// never come back empty for a device the project names.
func TestDeviceTableSound(t *testing.T) {
	seen := map[uint16]string{}
	for _, g := range deviceTable {
		if _, ok := isaTable[g.Target]; !ok {
			t.Errorf("group %q: target %q is not in the ISA table", g.Name, g.Target)
		}
		if g.Codename == "" || g.Name == "" || len(g.ids) == 0 {
			t.Errorf("group %+v is incomplete", g.Device)
		}
		for _, r := range g.ids {
			if r.lo > r.hi {
				t.Errorf("group %q: range %#04x-%#04x is reversed", g.Name, r.lo, r.hi)
			}
			for id := uint32(r.lo); id <= uint32(r.hi); id++ {
				if prev, dup := seen[uint16(id)]; dup {
					t.Errorf("id %#04x is in both %q and %q", id, prev, g.Name)
				}
				seen[uint16(id)] = g.Name
			}
		}
	}
	if len(seen) < 100 {
		t.Errorf("device table covers %d ids; expected the full list", len(seen))
	}
}

func ExampleLookupDevice() {
	d, _ := LookupDevice(0x73DF)
	fmt.Println(d.Target, FamilyOf(d.Target), GenericISA(d.Target))
	// Output: gfx1031 RDNA2 gfx10-3-generic
}
