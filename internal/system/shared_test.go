package system

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rocm-patch/rocm-patch/internal/fsroot"
)

// sharedFixtures returns ../shared/fixtures beside the repository, where CI
// puts the real captured sysfs trees, or skips the test when it is absent.
func sharedFixtures(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("repository root not found")
		}
		dir = parent
	}
	fixtures := filepath.Join(filepath.Dir(dir), "shared", "fixtures")
	if _, err := os.Stat(fixtures); err != nil {
		t.Skipf("real fixtures not available: %v", err)
	}
	return fixtures
}

// mount copies a fixture folder to machinePath inside a new tree. The
// fixtures are read-only and must stay out of the repository, so each test
// works on a copy.
func mount(t *testing.T, tree, from, machinePath string) {
	t.Helper()
	dest := filepath.Join(tree, filepath.FromSlash(strings.TrimPrefix(machinePath, "/")))
	err := filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		target := filepath.Join(dest, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if d.Type()&fs.ModeSymlink != 0 {
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(link, target)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestRealKFDCaptures runs detect over the real KFD topologies published in
// ROCm/k8s-device-plugin (testdata/, commit ed76468; see
// ../shared/fixtures/kfd/README.md).
func TestRealKFDCaptures(t *testing.T) {
	fixtures := sharedFixtures(t)
	tests := []struct {
		dir         string
		gpus        int
		target      string
		source      string
		family      string
		deviceID    string
		firstNode   int
		firstPCI    string
		vramNonZero bool
	}{
		// Vega10 on an old kernel: no gfx_target_version, device_id 26720 in decimal.
		{"topology-parsing/topology", 2, "gfx900", "device-table", "GCN5", "0x6860", 1, "0000:19:00.0", true},
		// MI308X: 32 GPU partitions on two CPU nodes, VRAM only in mem_banks.
		{"topology-parsing-mi308/topology", 32, "gfx942", "kfd", "CDNA3", "0x74a2", 2, "", true},
		// MI300X in CPX mode: 63 GPU nodes.
		{"topo-mi300-cpx/topology", 63, "gfx942", "kfd", "CDNA3", "0x74a1", 0, "", false},
		// 8x MI210, captured without the topology/ prefix.
		{"topo-mi210-xgmi-pcie", 8, "gfx90a", "kfd", "CDNA2", "0x740f", 2, "0000:63:00.0", false},
	}
	for _, tt := range tests {
		t.Run(tt.dir, func(t *testing.T) {
			tree := t.TempDir()
			mount(t, tree, filepath.Join(fixtures, "kfd", tt.dir), "/sys/class/kfd/kfd/topology")
			writeOSRelease(t, tree)
			root, err := fsroot.Open(tree)
			if err != nil {
				t.Fatal(err)
			}
			sys, err := Detect(context.Background(), root, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(sys.GPUs) == 0 {
				t.Fatalf("no GPUs found; notes: %+v", sys.Notes)
			}
			if tt.gpus != 0 && len(sys.GPUs) != tt.gpus {
				t.Errorf("got %d GPUs, want %d", len(sys.GPUs), tt.gpus)
			}
			prevNode := -1
			for i, g := range sys.GPUs {
				if g.Index != i || g.Node == nil || *g.Node <= prevNode {
					t.Fatalf("GPU %d out of KFD order: %+v", i, g)
				}
				prevNode = *g.Node
				if g.GFXTarget != tt.target || g.TargetSource != tt.source || g.Family != tt.family || g.DeviceID != tt.deviceID {
					t.Errorf("GPU %d = %s (%s) %s %s, want %s (%s) %s %s", i, g.GFXTarget, g.TargetSource, g.Family, g.DeviceID, tt.target, tt.source, tt.family, tt.deviceID)
				}
				if g.Name == "" {
					t.Errorf("GPU %d has no name", i)
				}
				if tt.vramNonZero && g.VRAMBytes == 0 {
					t.Errorf("GPU %d: VRAM from mem_banks missing", i)
				}
			}
			if *sys.GPUs[0].Node != tt.firstNode && tt.firstNode != 0 {
				t.Errorf("first GPU node = %d, want %d", *sys.GPUs[0].Node, tt.firstNode)
			}
			if tt.firstPCI != "" && sys.GPUs[0].PCI != tt.firstPCI {
				t.Errorf("first GPU PCI = %s, want %s", sys.GPUs[0].PCI, tt.firstPCI)
			}
			for _, n := range sys.Notes {
				if n.Level == "warning" && !strings.Contains(n.Message, "/dev/kfd") {
					t.Errorf("unexpected warning on a real capture: %+v", n)
				}
			}
		})
	}
}

// TestRealDRMCapture runs detect over a real /sys/class/drm with a Vega 64
// on amdgpu and an Intel card on i915 (prometheus/procfs testdata, commit
// 3c943fd; see ../shared/fixtures/class-drm/README.md). There is no KFD
// tree, so the Vega is reported from DRM alone and the Intel card ignored.
func TestRealDRMCapture(t *testing.T) {
	fixtures := sharedFixtures(t)
	tree := t.TempDir()
	mount(t, tree, filepath.Join(fixtures, "class-drm"), "/sys/class/drm")
	writeOSRelease(t, tree)
	root, err := fsroot.Open(tree)
	if err != nil {
		t.Fatal(err)
	}
	sys, err := Detect(context.Background(), root, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(sys.GPUs) != 1 {
		t.Fatalf("got %d GPUs, want the Vega 64 alone: %+v", len(sys.GPUs), sys.GPUs)
	}
	g := sys.GPUs[0]
	if g.DeviceID != "0x687f" || g.Revision != "0xc1" || g.SubVendorID != "0x1043" || g.SubDeviceID != "0x04c4" ||
		g.PCI != "0000:09:00.0" || g.GFXTarget != "gfx900" || g.TargetSource != "device-table" || g.Family != "GCN5" ||
		g.Driver != "amdgpu" || g.Card != "card0" || g.VRAMBytes != 8573157376 || g.Integrated || g.Node != nil || g.Visible {
		t.Errorf("Vega 64 = %+v", g)
	}
	if _, ok := noteAbout(sys, "has no KFD node"); !ok {
		t.Errorf("want a note that ROCm cannot use a GPU without a KFD node: %+v", sys.Notes)
	}
}

// writeOSRelease completes a fixture tree with the one file every machine
// has, so warnings left are about the fixture itself.
func writeOSRelease(t *testing.T, tree string) {
	t.Helper()
	p := filepath.Join(tree, "proc/sys/kernel")
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(p, "osrelease"), []byte("6.8.0-45-generic\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}
