package system

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/rocm-patch/rocm-patch/internal/fsroot"
	"github.com/rocm-patch/rocm-patch/internal/testutil"
)

func TestDetectTwoGPUs(t *testing.T) {
	sys := detectTree(t, synthTree(rx6700xt, rx5700xt))
	if len(sys.GPUs) != 2 {
		t.Fatalf("got %d GPUs, want 2: %+v", len(sys.GPUs), sys.Notes)
	}
	want := []struct {
		node                               int
		pci, device, rev, target, fam, isa string
		name, nameSource, card, render     string
		vram                               uint64
	}{
		{1, "0000:03:00.0", "0x73df", "0xc1", "gfx1031", "RDNA2", "gfx10-3-generic", "AMD Radeon RX 6700 XT", "amdgpu.ids:exact", "card0", "renderD128", 12 << 30},
		{2, "0000:04:00.0", "0x731f", "0xc1", "gfx1010", "RDNA1", "gfx10-1-generic", "AMD Radeon RX 5700 XT", "amdgpu.ids:exact", "card1", "renderD129", 8 << 30},
	}
	for i, w := range want {
		g := sys.GPUs[i]
		if g.Index != i || g.Node == nil || *g.Node != w.node || g.PCI != w.pci || g.DeviceID != w.device ||
			g.Revision != w.rev || g.GFXTarget != w.target || g.EffectiveGFXTarget != w.target ||
			g.Family != w.fam || g.GenericISA != w.isa || g.Name != w.name || g.NameSource != w.nameSource ||
			g.Card != w.card || g.RenderNode != w.render || g.VRAMBytes != w.vram || !g.Visible ||
			g.Integrated || g.Driver != "amdgpu" || g.TargetSource != "kfd" {
			t.Errorf("GPU %d = %+v", i, g)
		}
	}
	if !sys.AMDGPU.Loaded || sys.AMDGPU.Params["noretry"] != "-1" {
		t.Errorf("amdgpu = %+v", sys.AMDGPU)
	}
	if sys.Kernel.Release != "6.8.0-45-generic" || sys.WSL {
		t.Errorf("kernel = %+v wsl=%v", sys.Kernel, sys.WSL)
	}
	if !sys.KFDAccessible {
		t.Errorf("kfd should be accessible in a tree this user wrote")
	}
}

func TestDetectNoGPU(t *testing.T) {
	sys := detectTree(t, map[string]string{"/proc/sys/kernel/osrelease": "6.1.0-18-amd64\n"})
	if len(sys.GPUs) != 0 || sys.GPUs == nil {
		t.Fatalf("GPUs = %#v, want an empty list", sys.GPUs)
	}
	if sys.Schema != Schema {
		t.Errorf("schema = %q", sys.Schema)
	}
}

func TestOverrides(t *testing.T) {
	tests := []struct {
		name      string
		env       []string
		effective []string // per GPU: rx6700xt (node 1), rx5700xt (node 2)
		override  []string
		note      string // a note must mention this
	}{
		{"none", nil, []string{"gfx1031", "gfx1010"}, []string{"", ""}, ""},
		{"global", []string{"HSA_OVERRIDE_GFX_VERSION=10.3.0"}, []string{"gfx1030", "gfx1030"}, []string{"HSA_OVERRIDE_GFX_VERSION", "HSA_OVERRIDE_GFX_VERSION"}, "ROCm loads gfx1030 code on GPU 1"},
		{"per node wins", []string{"HSA_OVERRIDE_GFX_VERSION=10.3.0", "HSA_OVERRIDE_GFX_VERSION_2=10.1.0"}, []string{"gfx1030", "gfx1010"}, []string{"HSA_OVERRIDE_GFX_VERSION", "HSA_OVERRIDE_GFX_VERSION_2"}, ""},
		{"missing dots", []string{"HSA_OVERRIDE_GFX_VERSION=1030"}, []string{"gfx1031", "gfx1010"}, []string{"", ""}, `HSA_OVERRIDE_GFX_VERSION="1030" is malformed`},
		{"two parts", []string{"HSA_OVERRIDE_GFX_VERSION=10.3"}, []string{"gfx1031", "gfx1010"}, []string{"", ""}, `"10.3" is malformed`},
		{"letters", []string{"HSA_OVERRIDE_GFX_VERSION=abc"}, []string{"gfx1031", "gfx1010"}, []string{"", ""}, `"abc" is malformed`},
		{"no such ISA", []string{"HSA_OVERRIDE_GFX_VERSION=10.30.0"}, []string{"gfx1031", "gfx1010"}, []string{"", ""}, "names no real ISA"},
		{"bad per-node name", []string{"HSA_OVERRIDE_GFX_VERSION_X=10.3.0"}, []string{"gfx1031", "gfx1010"}, []string{"", ""}, "not a per-node override"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sys := detectTree(t, synthTree(rx6700xt, rx5700xt), tt.env...)
			for i, g := range sys.GPUs {
				if g.EffectiveGFXTarget != tt.effective[i] || g.Override != tt.override[i] {
					t.Errorf("GPU %d: effective %s via %q, want %s via %q", i, g.EffectiveGFXTarget, g.Override, tt.effective[i], tt.override[i])
				}
				if g.GFXTarget != []string{"gfx1031", "gfx1010"}[i] {
					t.Errorf("GPU %d: own target changed to %s", i, g.GFXTarget)
				}
			}
			if tt.note != "" {
				if _, ok := noteAbout(sys, tt.note); !ok {
					t.Errorf("no note mentions %q: %+v", tt.note, sys.Notes)
				}
			}
		})
	}
}

func TestVisibility(t *testing.T) {
	tests := []struct {
		name    string
		env     []string
		visible []bool
		by      []string
		note    string
	}{
		{"all", nil, []bool{true, true}, []string{"", ""}, ""},
		{"rocr index", []string{"ROCR_VISIBLE_DEVICES=1"}, []bool{false, true}, []string{"ROCR_VISIBLE_DEVICES", ""}, ""},
		{"rocr uuid", []string{"ROCR_VISIBLE_DEVICES=GPU-1234ABCD5678EF01"}, []bool{true, false}, []string{"", "ROCR_VISIBLE_DEVICES"}, ""},
		{"rocr empty hides all", []string{"ROCR_VISIBLE_DEVICES="}, []bool{false, false}, []string{"ROCR_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES"}, ""},
		{"rocr bad token", []string{"ROCR_VISIBLE_DEVICES=0,x"}, []bool{true, false}, []string{"", "ROCR_VISIBLE_DEVICES"}, `"x" is not a GPU index`},
		{"hip indexes what rocr left", []string{"ROCR_VISIBLE_DEVICES=1,0", "HIP_VISIBLE_DEVICES=0"}, []bool{false, true}, []string{"HIP_VISIBLE_DEVICES", ""}, ""},
		{"hip wins over cuda", []string{"HIP_VISIBLE_DEVICES=0", "CUDA_VISIBLE_DEVICES=1"}, []bool{true, false}, []string{"", "HIP_VISIBLE_DEVICES"}, "HIP uses HIP_VISIBLE_DEVICES first"},
		{"cuda alone", []string{"CUDA_VISIBLE_DEVICES=1"}, []bool{false, true}, []string{"CUDA_VISIBLE_DEVICES", ""}, ""},
		{"hip stops at first invalid", []string{"HIP_VISIBLE_DEVICES=1,7,0"}, []bool{false, true}, []string{"HIP_VISIBLE_DEVICES", ""}, `"7" is not an index`},
		{"gpu device ordinal", []string{"GPU_DEVICE_ORDINAL=0"}, []bool{true, false}, []string{"", "GPU_DEVICE_ORDINAL"}, ""},
		{"hip empty hides all", []string{"HIP_VISIBLE_DEVICES="}, []bool{false, false}, []string{"HIP_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sys := detectTree(t, synthTree(rx6700xt, rx5700xt), tt.env...)
			for i, g := range sys.GPUs {
				if g.Visible != tt.visible[i] || g.HiddenBy != tt.by[i] {
					t.Errorf("GPU %d visible=%v by %q, want %v by %q", i, g.Visible, g.HiddenBy, tt.visible[i], tt.by[i])
				}
			}
			if tt.note != "" {
				if _, ok := noteAbout(sys, tt.note); !ok {
					t.Errorf("no note mentions %q: %+v", tt.note, sys.Notes)
				}
			}
			for _, kv := range tt.env {
				k, v, _ := strings.Cut(kv, "=")
				if sys.Env[k] != v {
					t.Errorf("env[%s] = %q, want %q", k, sys.Env[k], v)
				}
			}
		})
	}
}

func TestBadInput(t *testing.T) {
	const node = "/sys/class/kfd/kfd/topology/nodes/1/properties"
	tests := []struct {
		name   string
		modify func(files map[string]string)
		source string // a note must name this file or variable
		check  func(t *testing.T, sys *System)
	}{
		{"truncated properties", func(f map[string]string) {
			f[node] = "cpu_cores_count 0\nsimd_count 80\nvendor_id 4098\ndevice_id 29663\nlocation_id 768\ndrm_render_minor 128\ngfx_target_vers"
		}, node, func(t *testing.T, sys *System) {
			if len(sys.GPUs) != 1 || sys.GPUs[0].GFXTarget != "gfx1031" || sys.GPUs[0].TargetSource != "device-table" {
				t.Errorf("want the GPU identified from its device id: %+v", sys.GPUs)
			}
		}},
		{"garbage value", func(f map[string]string) {
			f[node] = strings.Replace(f[node], "gfx_target_version 100301", "gfx_target_version 1o0301", 1)
		}, node, nil},
		{"out-of-range target", func(f map[string]string) {
			f[node] = strings.Replace(f[node], "gfx_target_version 100301", "gfx_target_version 101700", 1)
		}, node, nil},
		{"out-of-range device id", func(f map[string]string) {
			f[node] = strings.Replace(f[node], "device_id 29663", "device_id 99999999", 1)
		}, node, nil},
		{"missing properties", func(f map[string]string) {
			delete(f, node)
			f["/sys/class/kfd/kfd/topology/nodes/1/gpu_id"] = "1\n"
		}, node, nil},
		{"properties is a dangling link", func(f map[string]string) {
			f[node] = "->/nowhere"
		}, node, nil},
		{"link loop", func(f map[string]string) {
			f[node] = "->properties2"
			f["/sys/class/kfd/kfd/topology/nodes/1/properties2"] = "->properties"
		}, node, nil},
		{"binary garbage", func(f map[string]string) {
			f[node] = "\x00\xff\xfe simd_count\n\n\n=== \x01"
		}, "", nil},
		{"dangling drm link", func(f map[string]string) {
			f["/sys/class/drm/card0"] = "->../../devices/gone/drm/card0"
		}, "", func(t *testing.T, sys *System) {
			if len(sys.GPUs) != 1 || sys.GPUs[0].Node == nil {
				t.Errorf("the KFD GPU should still be reported: %+v", sys.GPUs)
			}
		}},
		{"bad vram size", func(f map[string]string) {
			f["/sys/devices/pci0000:00/0000:00:01.1/0000:03:00.0/mem_info_vram_total"] = "lots\n"
		}, "mem_info_vram_total", nil},
		{"bad recorded environ", func(f map[string]string) {
			f[RecordedEnviron] = "HSA_OVERRIDE_GFX_VERSION=10.3.0\nnot a pair\n"
		}, RecordedEnviron, func(t *testing.T, sys *System) {
			if sys.GPUs[0].EffectiveGFXTarget != "gfx1030" {
				t.Errorf("the good line of the recorded environment should apply")
			}
		}},
		{"bad amdgpu.ids", func(f map[string]string) {
			f["/usr/share/libdrm/amdgpu.ids"] = "1.0.0\nZZZZ,\tC1,\tbad\n73DF,\tC1,\tAMD Radeon RX 6700 XT\n"
		}, "amdgpu.ids", func(t *testing.T, sys *System) {
			if sys.GPUs[0].Name != "AMD Radeon RX 6700 XT" {
				t.Errorf("good lines should still name the GPU: %q", sys.GPUs[0].Name)
			}
		}},
		{"bad rocm version file", func(f map[string]string) {
			f["/opt/rocm-6.2.0/.info/version"] = "->/nowhere"
			f["/opt/rocm-6.2.0/lib/rocblas/library/TensileLibrary_lazy_gfx1030.dat"] = ""
		}, "/opt/rocm-6.2.0/.info/version", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := synthTree(rx6700xt)
			tt.modify(files)
			sys := detectTree(t, files)
			if tt.source != "" {
				if _, ok := noteAbout(sys, tt.source); !ok {
					t.Errorf("no note names %s: %+v", tt.source, sys.Notes)
				}
			}
			if tt.check != nil {
				tt.check(t, sys)
			}
		})
	}
}

func TestUnreadableFile(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads every file")
	}
	files := synthTree(rx6700xt)
	dir := testutil.WriteTree(t, files)
	if err := os.Chmod(dir+"/sys/class/kfd/kfd/topology/nodes/1/properties", 0); err != nil {
		t.Fatal(err)
	}
	root, _ := fsroot.Open(dir)
	sys, err := Detect(context.Background(), root, Options{})
	if err != nil {
		t.Fatal(err)
	}
	n, ok := noteAbout(sys, "nodes/1/properties")
	if !ok || !strings.Contains(n.Message, "permission denied") {
		t.Errorf("want a note saying permission denied, got %+v", sys.Notes)
	}
}

func TestInstalls(t *testing.T) {
	files := synthTree(rx6700xt)
	files["/opt/rocm-6.2.0/.info/version"] = "6.2.0-66\n"
	for _, f := range []string{"TensileLibrary_lazy_gfx1030.dat", "TensileLibrary_lazy_gfx90a.dat", "Kernels.so-000-gfx942.hsaco", "TensileLibrary_Type_HH_Contraction_l_Ailk_Bljk_Cijk_Dijk_gfx1100.co", "README"} {
		files["/opt/rocm-6.2.0/lib/rocblas/library/"+f] = ""
	}
	files["/opt/rocm"] = "->/opt/rocm-6.2.0"
	files["/opt/rocm_sdk_612/lib/rocblas/library/TensileLibrary_lazy_gfx1031.dat"] = ""
	files["/opt/rocm-notrocm/share/x"] = ""
	site := "/home/alice/venv/lib/python3.10/site-packages/torch"
	files[site+"/version.py"] = "__version__ = '2.4.1+rocm6.1'\ndebug = False\ncuda: Optional[str] = None\nhip: Optional[str] = '6.1.40091-a8dbc0c19'\n"
	files[site+"/lib/rocblas/library/TensileLibrary_lazy_gfx1030.dat"] = ""
	sys := detectTree(t, files, "ROCM_PATH=/opt/rocm_sdk_612")

	if len(sys.ROCm) != 2 {
		t.Fatalf("ROCm = %+v", sys.ROCm)
	}
	sdk, opt := sys.ROCm[0], sys.ROCm[1]
	if sdk.Path != "/opt/rocm_sdk_612" || sdk.Version != "6.1.2" || strings.Join(sdk.ROCBLASTargets, ",") != "gfx1031" {
		t.Errorf("ROCM_PATH install = %+v", sdk)
	}
	if opt.Path != "/opt/rocm" || opt.ResolvedPath != "/opt/rocm-6.2.0" || opt.Version != "6.2.0-66" ||
		strings.Join(opt.ROCBLASTargets, ",") != "gfx90a,gfx942,gfx1030,gfx1100" {
		t.Errorf("/opt/rocm = %+v", opt)
	}
	if len(sys.Torch) != 1 || sys.Torch[0].Version != "2.4.1+rocm6.1" || sys.Torch[0].HIPVersion != "6.1.40091-a8dbc0c19" ||
		strings.Join(sys.Torch[0].ROCBLASTargets, ",") != "gfx1030" {
		t.Errorf("torch = %+v", sys.Torch)
	}
}

func TestWSLAndAccess(t *testing.T) {
	sys := detectTree(t, map[string]string{
		"/proc/sys/kernel/osrelease": "5.15.153.1-microsoft-standard-WSL2\n",
		"/dev/dxg":                   "",
	})
	if !sys.WSL {
		t.Error("WSL not detected")
	}
	files := synthTree(rx6700xt)
	files[RecordedAccess] = "/dev/kfd -\n/dev/dri/renderD128 -\n"
	sys = detectTree(t, files)
	if sys.KFDAccessible || sys.GPUs[0].RenderAccessible {
		t.Error("recorded access should win")
	}
	if n, ok := noteAbout(sys, "usermod -aG render,video"); !ok || n.Level != "warning" {
		t.Errorf("want a note telling the user to join render and video: %+v", sys.Notes)
	}
	delete(files, RecordedAccess)
	delete(files, "/dev/kfd")
	sys = detectTree(t, files)
	if _, ok := noteAbout(sys, "/dev/kfd does not exist"); !ok {
		t.Errorf("want a note on the missing /dev/kfd: %+v", sys.Notes)
	}
}

func TestRecordedEnvironReplacesProcessEnv(t *testing.T) {
	files := synthTree(rx6700xt)
	files[RecordedEnviron] = "# captured\nHIP_VISIBLE_DEVICES=0\n"
	sys := detectTree(t, files, "HSA_OVERRIDE_GFX_VERSION=11.0.0")
	if sys.GPUs[0].EffectiveGFXTarget != "gfx1031" {
		t.Errorf("the process override leaked into a replay: %+v", sys.GPUs[0])
	}
	if _, ok := sys.Env["HSA_OVERRIDE_GFX_VERSION"]; ok || sys.Env["HIP_VISIBLE_DEVICES"] != "0" {
		t.Errorf("env = %v", sys.Env)
	}
}

func TestHostNameTableFallback(t *testing.T) {
	files := synthTree(rx6700xt)
	delete(files, "/usr/share/libdrm/amdgpu.ids")
	host := testutil.WriteTree(t, map[string]string{"/usr/share/libdrm/amdgpu.ids": "1.0.0\n73DF,\tC1,\tHost Name\n"})
	hostRoot, _ := fsroot.Open(host)
	root, _ := fsroot.Open(testutil.WriteTree(t, files))
	sys, err := Detect(context.Background(), root, Options{HostIDs: hostRoot})
	if err != nil {
		t.Fatal(err)
	}
	if sys.GPUs[0].Name != "Host Name" {
		t.Errorf("name = %q, want the host table's", sys.GPUs[0].Name)
	}
	sys, _ = Detect(context.Background(), root, Options{})
	if sys.GPUs[0].NameSource != "family-table" || sys.GPUs[0].Name == "" {
		t.Errorf("without any table the family table should name it: %+v", sys.GPUs[0])
	}
	// AMDGPU_ASIC_ID_TABLE_PATHS comes first, as a folder or a file.
	files["/etc/ids/amdgpu.ids"] = "1.0.0\n73DF,\tC1,\tFrom Variable\n"
	sys = detectTree(t, files, "AMDGPU_ASIC_ID_TABLE_PATHS=/etc/ids")
	if sys.GPUs[0].Name != "From Variable" {
		t.Errorf("name = %q, want the table named by the variable", sys.GPUs[0].Name)
	}
}

func TestContextCancelled(t *testing.T) {
	root, _ := fsroot.Open(testutil.WriteTree(t, synthTree(rx6700xt)))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Detect(ctx, root, Options{}); err == nil {
		t.Fatal("want an error from a cancelled context")
	}
}
