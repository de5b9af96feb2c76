package system

import (
	"context"
	"fmt"
	"testing"

	"github.com/rocm-patch/rocm-patch/internal/fsroot"
	"github.com/rocm-patch/rocm-patch/internal/testutil"
)

// BenchmarkDetect8GPUs measures a whole detection of an eight-GPU machine,
// the cost every later command pays first.
func BenchmarkDetect8GPUs(b *testing.B) {
	var gpus []fakeGPU
	for i := 0; i < 8; i++ {
		gpus = append(gpus, fakeGPU{node: i + 1, deviceID: 0x74a1, target: 90402, revision: "0x00", bus: 0x10 + i*0x10, uniqueID: uint64(1000 + i), vramBytes: 192 << 30})
	}
	files := synthTree(gpus...)
	files["/opt/rocm-6.2.0/.info/version"] = "6.2.0-66\n"
	for _, t := range []string{"gfx900", "gfx906", "gfx908", "gfx90a", "gfx942", "gfx1030", "gfx1100"} {
		for _, kind := range []string{"TensileLibrary_lazy_%s.dat", "Kernels.so-000-%s.hsaco", "TensileLibrary_Type_SS_Contraction_l_Ailk_Bljk_Cijk_Dijk_%s.co"} {
			files["/opt/rocm-6.2.0/lib/rocblas/library/"+fmt.Sprintf(kind, t)] = ""
		}
	}
	files["/opt/rocm"] = "->/opt/rocm-6.2.0"
	root, err := fsroot.Open(testutil.WriteTree(b, files))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		// A fresh Root each time: the CLI pays for cold caches too.
		r, _ := fsroot.Open(root.Dir())
		sys, err := Detect(context.Background(), r, Options{})
		if err != nil || len(sys.GPUs) != 8 {
			b.Fatalf("detect: %v, %d GPUs", err, len(sys.GPUs))
		}
	}
}
