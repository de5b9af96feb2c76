package system

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/rocm-patch/rocm-patch/internal/testutil"

	"github.com/rocm-patch/rocm-patch/internal/fsroot"
)

// fakeGPU describes one GPU of a synthetic tree.
type fakeGPU struct {
	node      int
	deviceID  int // decimal, as KFD writes it
	target    int // gfx_target_version; 0 leaves the key out
	revision  string
	bus       int
	uniqueID  uint64
	vramBytes uint64
}

// synthTree returns the files of a machine with the given GPUs, with a CPU
// node 0, DRM entries linked like real sysfs, and /dev nodes.
func synthTree(gpus ...fakeGPU) map[string]string {
	files := map[string]string{
		"/proc/sys/kernel/osrelease":                     "6.8.0-45-generic\n",
		"/sys/module/amdgpu/parameters/noretry":          "-1\n",
		"/sys/class/kfd/kfd/topology/nodes/0/properties": "cpu_cores_count 16\nsimd_count 0\nvendor_id 0\ndevice_id 0\n",
		"/sys/class/kfd/kfd/topology/nodes/0/gpu_id":     "0\n",
		"/dev/kfd":                     "",
		"/usr/share/libdrm/amdgpu.ids": "1.0.0\n73DF,\tC1,\tAMD Radeon RX 6700 XT\n731F,\tC1,\tAMD Radeon RX 5700 XT\n",
		"/sys/devices/pci0000:00/0000:00:01.1/power/control": "auto\n",
	}
	for i, g := range gpus {
		pci := fmt.Sprintf("0000:%02x:00.0", g.bus)
		dev := "/sys/devices/pci0000:00/0000:00:01.1/" + pci
		nodeDir := fmt.Sprintf("/sys/class/kfd/kfd/topology/nodes/%d", g.node)
		props := fmt.Sprintf("cpu_cores_count 0\nsimd_count 80\nvendor_id 4098\ndevice_id %d\nlocation_id %d\ndomain 0\ndrm_render_minor %d\nunique_id %d\n",
			g.deviceID, g.bus<<8, 128+i, g.uniqueID)
		if g.target != 0 {
			props += fmt.Sprintf("gfx_target_version %d\n", g.target)
		}
		files[nodeDir+"/properties"] = props
		files[nodeDir+"/gpu_id"] = fmt.Sprintf("%d\n", 1000+i)
		files[dev+"/vendor"] = "0x1002\n"
		files[dev+"/device"] = fmt.Sprintf("0x%04x\n", g.deviceID)
		files[dev+"/revision"] = g.revision + "\n"
		files[dev+"/mem_info_vram_total"] = fmt.Sprintf("%d\n", g.vramBytes)
		files[dev+"/mem_info_gtt_total"] = "16777216000\n"
		files[dev+"/mem_info_vram_vendor"] = "samsung\n"
		files[dev+"/driver"] = "->../../../../bus/pci/drivers/amdgpu"
		files[fmt.Sprintf("%s/drm/card%d/device", dev, i)] = "->../../../" + pci
		files[fmt.Sprintf("%s/drm/renderD%d/device", dev, 128+i)] = "->../../../" + pci
		files[fmt.Sprintf("/sys/class/drm/card%d", i)] = fmt.Sprintf("->../../devices/pci0000:00/0000:00:01.1/%s/drm/card%d", pci, i)
		files[fmt.Sprintf("/sys/class/drm/renderD%d", 128+i)] = fmt.Sprintf("->../../devices/pci0000:00/0000:00:01.1/%s/drm/renderD%d", pci, 128+i)
		files[fmt.Sprintf("/dev/dri/renderD%d", 128+i)] = ""
	}
	return files
}

var (
	rx6700xt = fakeGPU{node: 1, deviceID: 0x73df, target: 100301, revision: "0xc1", bus: 3, uniqueID: 0x1234abcd5678ef01, vramBytes: 12 << 30}
	rx5700xt = fakeGPU{node: 2, deviceID: 0x731f, target: 100100, revision: "0xc1", bus: 4, uniqueID: 0x0badc0ffee000002, vramBytes: 8 << 30}
)

// detectTree runs Detect over files with the given environment.
func detectTree(t testing.TB, files map[string]string, environ ...string) *System {
	t.Helper()
	root, err := fsroot.Open(testutil.WriteTree(t, files))
	if err != nil {
		t.Fatal(err)
	}
	sys, err := Detect(context.Background(), root, Options{Environ: environ})
	if err != nil {
		t.Fatal(err)
	}
	return sys
}

// noteAbout returns the first note whose source or message contains s.
func noteAbout(sys *System, s string) (Note, bool) {
	for _, n := range sys.Notes {
		if strings.Contains(n.Source, s) || strings.Contains(n.Message, s) {
			return n, true
		}
	}
	return Note{}, false
}
