package hw

// Device is what the project's own table knows about a PCI device id.
type Device struct {
	Target   string // "gfx1031"
	Codename string // "Navi 22"
	Name     string // fallback marketing name, e.g. "AMD Radeon RX 6700 XT / 6800M (Navi 22)"
}

type idRange struct{ lo, hi uint16 }

// one is a range of a single id.
func one(id uint16) idRange { return idRange{id, id} }

type deviceGroup struct {
	Device
	ids []idRange
}

// Sources, named in the comment above each group:
//
//   - pciidlist: the kernel's amdgpu_drv.c device table, which names the
//     chip (CHIP_NAVY_FLOUNDER...) of every id of pre-IP-discovery ASICs; its
//     ids are listed exactly, never widened to a whole block, because blocks
//     have holes (0x73a4, 0x73c4 and 0x73e4 are the boards' USB controllers)
//     and strays (0x73f0 is Navi 33, not Navi 23).
//   - kfd: the kernel's kfd_device.c, which maps each chip or GC IP version
//     to the gfx_target_version KFD publishes (CHIP_POLARIS10 -> 80003, GC
//     9.3.0 -> 90012 ...).
//   - pci.ids: the PCI ID Repository (pciutils/pciids), for the codename of
//     ids the kernel does not list because it discovers them by IP.
//   - amdgpu.ids: libdrm's data/amdgpu.ids, for product names of an id.
//   - The ISA of a codename or product: LLVM's AMDGPUUsage processor table,
//     ROCm's compatibility matrix (RX 9070/R9700 gfx1201, RX 9060 XT gfx1200,
//     RX 7800 XT/7700 XT/PRO W7700/V710 gfx1101, MI300X/MI300A/MI325X gfx942,
//     MI350X/MI355X gfx950), llvm/llvm-project#155577 (RX 9060 gfx1200,
//     RX 9070 gfx1201), and Gentoo's amdgpu_targets USE flag descriptions
//     (navi31 gfx1100, navi32 gfx1101, navi33 gfx1102, Radeon 700M/780M
//     gfx1103, Strix Point 890M gfx1150, Strix Halo 8060S gfx1151).
var deviceTable = []deviceGroup{
	// GCN4, gfx803 (kfd: 80003 for Fiji, Polaris10/11/12 and VegaM alike).
	// pciidlist: CHIP_FIJI.
	{Device{"gfx803", "Fiji", "AMD Radeon R9 Fury / Nano (Fiji)"},
		[]idRange{one(0x7300), one(0x730F)}},
	// pciidlist: CHIP_POLARIS10.
	{Device{"gfx803", "Polaris 10", "AMD Radeon RX 470/480/570/580/590 (Polaris 10)"},
		[]idRange{{0x67C0, 0x67C2}, one(0x67C4), {0x67C7, 0x67CA}, one(0x67CC), {0x67CF, 0x67D0}, one(0x67DF), one(0x6FDF)}},
	// pciidlist: CHIP_POLARIS11.
	{Device{"gfx803", "Polaris 11", "AMD Radeon RX 460/560 (Polaris 11)"},
		[]idRange{{0x67E0, 0x67E1}, one(0x67E3), {0x67E7, 0x67E9}, one(0x67EB), one(0x67EF), one(0x67FF)}},
	// pciidlist: CHIP_POLARIS12.
	{Device{"gfx803", "Polaris 12", "AMD Radeon 540/550 (Polaris 12)"},
		[]idRange{{0x6980, 0x6981}, {0x6985, 0x6987}, one(0x6995), one(0x6997), one(0x699F)}},
	// pciidlist: CHIP_VEGAM.
	{Device{"gfx803", "Vega M", "AMD Radeon RX Vega M (Vega M)"},
		[]idRange{one(0x694C), {0x694E, 0x694F}}},

	// GCN5. pciidlist: CHIP_VEGA10; kfd: GC 9.0.1 -> 90000.
	{Device{"gfx900", "Vega 10", "AMD Radeon RX Vega 56/64 / Instinct MI25 (Vega 10)"},
		[]idRange{{0x6860, 0x6864}, {0x6867, 0x686F}, one(0x687F)}},
	// pciidlist: CHIP_VEGA12; kfd: GC 9.2.1 -> 90004.
	{Device{"gfx904", "Vega 12", "AMD Radeon Pro Vega 16/20 (Vega 12)"},
		[]idRange{{0x69A0, 0x69A3}, one(0x69AF)}},
	// pciidlist: CHIP_VEGA20; kfd: GC 9.4.0 -> 90006.
	{Device{"gfx906", "Vega 20", "AMD Radeon VII / Instinct MI50/MI60 (Vega 20)"},
		[]idRange{{0x66A0, 0x66A4}, one(0x66A7), one(0x66AF)}},
	// pciidlist: CHIP_RAVEN; kfd: GC 9.1.0 and 9.2.2 (Raven, Picasso,
	// Raven2) -> 90002.
	{Device{"gfx902", "Raven", "AMD Radeon Vega Graphics (Raven Ridge)"},
		[]idRange{one(0x15DD)}},
	{Device{"gfx902", "Picasso", "AMD Radeon Vega Graphics (Picasso / Raven 2)"},
		[]idRange{one(0x15D8)}},
	// pciidlist: CHIP_RENOIR (codenames from pci.ids); kfd: GC 9.3.0
	// (Renoir, Green Sardine) -> 90012.
	{Device{"gfx90c", "Renoir", "AMD Radeon Graphics (Renoir)"},
		[]idRange{one(0x1636)}},
	{Device{"gfx90c", "Cezanne", "AMD Radeon Graphics (Cezanne)"},
		[]idRange{one(0x1638)}},
	{Device{"gfx90c", "Lucienne", "AMD Radeon Graphics (Lucienne)"},
		[]idRange{one(0x164C)}},
	{Device{"gfx90c", "Barcelo", "AMD Radeon Graphics (Barcelo)"},
		[]idRange{one(0x15E7)}},

	// CDNA. pciidlist: CHIP_ARCTURUS; kfd: GC 9.4.1 -> 90008.
	{Device{"gfx908", "Arcturus", "AMD Instinct MI100 (Arcturus)"},
		[]idRange{one(0x7388), one(0x738C), one(0x738E), one(0x7390)}},
	// pciidlist: CHIP_ALDEBARAN; kfd: GC 9.4.2 -> 90010.
	{Device{"gfx90a", "Aldebaran", "AMD Instinct MI200 series (Aldebaran)"},
		[]idRange{one(0x7408), one(0x740C), one(0x740F), one(0x7410)}},
	// IP discovery. pci.ids: Aqua Vanjaram; amdgpu.ids names; ROCm matrix:
	// MI300X, MI300A, MI325X are gfx942 (MI308X and the VF/HF ids are
	// MI300X-class boards, and real KFD captures of 0x74A1 and 0x74A2
	// report 90402).
	{Device{"gfx942", "Aqua Vanjaram", "AMD Instinct MI300A"},
		[]idRange{one(0x74A0)}},
	{Device{"gfx942", "Aqua Vanjaram", "AMD Instinct MI300X"},
		[]idRange{one(0x74A1), one(0x74A9), one(0x74B5), one(0x74BD)}},
	{Device{"gfx942", "Aqua Vanjaram", "AMD Instinct MI308X"},
		[]idRange{one(0x74A2), one(0x74B6)}},
	{Device{"gfx942", "Aqua Vanjaram", "AMD Instinct MI325X"},
		[]idRange{one(0x74A5), one(0x74B9)}},
	// amdgpu.ids names; ROCm matrix: MI350X and MI355X are gfx950.
	{Device{"gfx950", "MI350", "AMD Instinct MI350X"},
		[]idRange{one(0x75A0), one(0x75B0)}},
	{Device{"gfx950", "MI350", "AMD Instinct MI355X"},
		[]idRange{one(0x75A3), one(0x75B3)}},

	// RDNA1. pciidlist: CHIP_NAVI10; kfd: GC 10.1.10 -> 100100.
	{Device{"gfx1010", "Navi 10", "AMD Radeon RX 5600/5700 series (Navi 10)"},
		[]idRange{one(0x7310), one(0x7312), {0x7318, 0x731B}, {0x731E, 0x731F}}},
	// pciidlist: CHIP_NAVI12; kfd: GC 10.1.2 -> 100101.
	{Device{"gfx1011", "Navi 12", "AMD Radeon Pro 5600M / V520 (Navi 12)"},
		[]idRange{one(0x7360), one(0x7362)}},
	// pciidlist: CHIP_NAVI14; kfd: GC 10.1.1 -> 100102.
	{Device{"gfx1012", "Navi 14", "AMD Radeon RX 5300/5500 series (Navi 14)"},
		[]idRange{{0x7340, 0x7341}, one(0x7347), one(0x734F)}},
	// pciidlist: CHIP_CYAN_SKILLFISH; kfd: GC 10.1.3 -> 100103.
	{Device{"gfx1013", "Cyan Skillfish", "AMD BC-250 (Cyan Skillfish)"},
		[]idRange{one(0x13FE)}},

	// RDNA2. pciidlist: CHIP_SIENNA_CICHLID; kfd: GC 10.3.0 -> 100300.
	{Device{"gfx1030", "Navi 21", "AMD Radeon RX 6800/6900 series / PRO W6800 (Navi 21)"},
		[]idRange{{0x73A0, 0x73A3}, one(0x73A5), {0x73A8, 0x73A9}, {0x73AB, 0x73AF}, one(0x73BF)}},
	// pciidlist: CHIP_NAVY_FLOUNDER; kfd: GC 10.3.2 -> 100301.
	{Device{"gfx1031", "Navi 22", "AMD Radeon RX 6700 XT / 6800M (Navi 22)"},
		[]idRange{{0x73C0, 0x73C1}, one(0x73C3), {0x73DA, 0x73DF}}},
	// pciidlist: CHIP_DIMGREY_CAVEFISH; kfd: GC 10.3.4 -> 100302.
	{Device{"gfx1032", "Navi 23", "AMD Radeon RX 6600/6650 series (Navi 23)"},
		[]idRange{{0x73E0, 0x73E3}, {0x73E8, 0x73ED}, one(0x73EF), one(0x73FF)}},
	// pciidlist: CHIP_BEIGE_GOBY; kfd: GC 10.3.5 -> 100304. 0x7424 (RX 6300)
	// is not in the kernel list that was checked; pci.ids calls it Navi 24
	// and amdgpu.ids names it.
	{Device{"gfx1034", "Navi 24", "AMD Radeon RX 6400/6500 series (Navi 24)"},
		[]idRange{{0x7420, 0x7424}, one(0x743F)}},
	// pciidlist: CHIP_VANGOGH; kfd: GC 10.3.1 -> 100303.
	{Device{"gfx1033", "Van Gogh", "AMD Custom GPU 0405 (Van Gogh)"},
		[]idRange{one(0x163F)}},
	// pciidlist: CHIP_YELLOW_CARP; kfd: GC 10.3.3 -> 100305.
	{Device{"gfx1035", "Rembrandt", "AMD Radeon 660M/680M (Rembrandt)"},
		[]idRange{one(0x164D), one(0x1681)}},
	// IP discovery. pci.ids: Raphael; ROCm/Tensile#1907 reports gfx1036 on
	// a Ryzen 7 7700 (Raphael).
	{Device{"gfx1036", "Raphael", "AMD Radeon Graphics (Raphael)"},
		[]idRange{one(0x164E)}},
	// pci.ids: Granite Ridge; ROCm issue 4390 (legacy-rocm-build) reports
	// gfx1036 for the iGPU of a Ryzen 5 9600X (Granite Ridge).
	{Device{"gfx1036", "Granite Ridge", "AMD Radeon Graphics (Granite Ridge)"},
		[]idRange{one(0x13C0)}},

	// RDNA3, IP discovery. pci.ids: Navi 31.
	{Device{"gfx1100", "Navi 31", "AMD Radeon RX 7900 series / PRO W7800/W7900 (Navi 31)"},
		[]idRange{{0x7448, 0x744C}, one(0x745E)}},
	// pci.ids: Navi 32.
	{Device{"gfx1101", "Navi 32", "AMD Radeon RX 7700 XT/7800 XT / PRO W7700 (Navi 32)"},
		[]idRange{{0x7460, 0x7461}, one(0x7470), one(0x747E)}},
	// pci.ids: Navi 33 (0x73F0 sits among the Navi 23 ids but is Navi 33).
	{Device{"gfx1102", "Navi 33", "AMD Radeon RX 7600 series / PRO W7500/W7600 (Navi 33)"},
		[]idRange{one(0x73F0), {0x7480, 0x7481}, one(0x7483), one(0x7487), one(0x7489), one(0x748B), one(0x7499), one(0x749F)}},
	// pci.ids: Phoenix1, Phoenix2, HawkPoint1, HawkPoint2; amdgpu.ids names
	// them Radeon 740M/760M/780M.
	{Device{"gfx1103", "Phoenix", "AMD Radeon 740M/760M/780M (Phoenix)"},
		[]idRange{one(0x15BF), one(0x15C8)}},
	{Device{"gfx1103", "Hawk Point", "AMD Radeon 740M/760M/780M (Hawk Point)"},
		[]idRange{{0x1900, 0x1901}}},

	// RDNA3.5, IP discovery. pci.ids: Strix; amdgpu.ids: Radeon 880M/890M.
	{Device{"gfx1150", "Strix Point", "AMD Radeon 880M/890M (Strix Point)"},
		[]idRange{one(0x150E)}},
	// pci.ids: Strix Halo; amdgpu.ids: Radeon 8040S/8050S/8060S.
	{Device{"gfx1151", "Strix Halo", "AMD Radeon 8040S/8050S/8060S (Strix Halo)"},
		[]idRange{one(0x1586)}},
	// pci.ids: Krackan; amdgpu.ids: Radeon 840M/860M; a user report of a
	// Radeon 860M as gfx1152 (likelovewant/ROCmLibs-for-gfx1103-AMD780M-APU#40).
	{Device{"gfx1152", "Krackan Point", "AMD Radeon 840M/860M (Krackan Point)"},
		[]idRange{one(0x1114)}},

	// RDNA4, IP discovery. pci.ids: Navi 48 (RX 9070 series, AI PRO R9700).
	{Device{"gfx1201", "Navi 48", "AMD Radeon RX 9070 series / AI PRO R9700 (Navi 48)"},
		[]idRange{{0x7550, 0x7551}}},
	// pci.ids: Navi 44 (RX 9060 XT).
	{Device{"gfx1200", "Navi 44", "AMD Radeon RX 9060 series (Navi 44)"},
		[]idRange{one(0x7590)}},
}

// LookupDevice finds a PCI device id (vendor 0x1002) in the project's table.
// It serves when KFD publishes no gfx_target_version (old kernels) and as
// the last-resort name when amdgpu.ids does not know the id.
func LookupDevice(deviceID uint16) (Device, bool) {
	for _, g := range deviceTable {
		for _, r := range g.ids {
			if deviceID >= r.lo && deviceID <= r.hi {
				return g.Device, true
			}
		}
	}
	return Device{}, false
}
