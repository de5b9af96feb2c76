package diagnose

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rocm-patch/rocm-patch/internal/kb"
)

// TestExcerpts runs the committed excerpts of real logs (each file names
// its source on its first line) so that the ordinary test run covers the
// shapes of shared/crashlogs without the shared folder.
func TestExcerpts(t *testing.T) {
	tests := []struct {
		file  string
		id    string
		class kb.Class
	}{
		// AUTOMATIC1111/stable-diffusion-webui#9283: RX 5500 XT overridden to gfx1030.
		{"aperture-rx5500-override.log", "memory-aperture-violation", kb.ClassApertureViolation},
		// vllm-project/vllm#13674: the status name broken over two lines by tmux.
		{"aperture-split-line.log", "memory-aperture-violation", kb.ClassApertureViolation},
		// ROCm/rocm-jax#453: ROCm 7 dispatch dump without the error line.
		{"queue-exception-dump.log", "gpu-queue-exception-dump", kb.ClassApertureViolation},
		// ROCm/legacy-rocm-build#5824: fault then "Aborted (core dumped)".
		{"memory-fault-aborted.log", "gpu-memory-access-fault", kb.ClassGPUMemoryFault},
		// lllyasviel/stable-diffusion-webui-forge#2976: address redacted as 0x.....
		{"memory-fault-redacted.log", "gpu-memory-access-fault", kb.ClassGPUMemoryFault},
		// ROCm/legacy-rocm-build#5742: ComfyUI with timestamp prefixes.
		{"illegal-address-comfyui.log", "hip-illegal-address", kb.ClassIllegalAddress},
		// Comfy-Org/ComfyUI#10369: Markdown report with bold labels.
		{"illegal-address-markdown.log", "hip-illegal-address", kb.ClassIllegalAddress},
		// Comfy-Org/ComfyUI#9529.
		{"oom-fragmentation.log", "gpu-out-of-memory", kb.ClassOutOfMemory},
		// AUTOMATIC1111/stable-diffusion-webui#5067.
		{"no-binary-for-gpu.log", "no-code-object-for-gpu", kb.ClassUnsupportedISA},
		// ROCm/legacy-rocm-build#4386.
		{"invalid-device-function.log", "no-code-object-for-gpu", kb.ClassUnsupportedISA},
		// githubcto/FramePack-ZLUDA#4: Markdown quote, first letter lost.
		{"tensile-missing-quoted.log", "rocblas-tensile-missing-arch", kb.ClassMissingArchLibrary},
		// ROCm/MIOpen#1994.
		{"miopen-no-database.log", "miopen-missing-kernels", kb.ClassMissingArchLibrary},
		// ROCm/amdgpu#172: dmesg with timestamps.
		{"dmesg-page-fault.log", "amdgpu-vm-page-fault", kb.ClassKernelPageFault},
		// ROCm/legacy-rocm-build#5997: journalctl lines quoted in Markdown, truncated.
		{"journal-page-fault-quoted.log", "amdgpu-vm-page-fault", kb.ClassKernelPageFault},
		// ROCm/legacy-rocm-build#2429: MES hang first, page faults after the reset.
		{"mes-hang-then-page-fault.log", "gpu-hang-reset", kb.ClassGPUHang},
		// lamikr/rocm_sdk_builder#98.
		{"hw-exception-gpu-hang.log", "gpu-hang-reset", kb.ClassGPUHang},
		// ROCm/hip#3799.
		{"no-hip-gpus.log", "no-hip-gpu", kb.ClassNoGPU},
		// ollama/ollama#5143: journal lines, Tensile host finds no devices.
		{"ollama-no-devices.log", "no-hip-gpu", kb.ClassNoGPU},
		// Comfy-Org/ComfyUI#13241: only the fallout was posted.
		{"segfault-alone.log", "process-crash-abort", kb.ClassProcessCrash},
	}
	m := newMatcher(t, nil)
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			res := m.ScanBytes(readLog(t, tt.file))
			best := res.Best()
			if best == nil {
				t.Fatalf("no match, want %s", tt.id)
			}
			if best.ID != tt.id || best.Class != tt.class {
				t.Errorf("best = %s (%s), want %s (%s); all: %v", best.ID, best.Class, tt.id, tt.class, ids(res))
			}
			if len(best.Lines) == 0 || best.Lines[0].N < 2 {
				t.Errorf("evidence %+v: want line numbers after the source comment line", best.Lines)
			}
			if res.ExitCode() != ExitMatch {
				t.Errorf("exit code %d, want %d", res.ExitCode(), ExitMatch)
			}
		})
	}
}

// crashlogSources lists shared/crashlogs: file, the thread it was taken
// from, and its category. The test checks the files still say so.
var crashlogSources = []struct{ file, source, category string }{
	{"001.json", "AUTOMATIC1111/stable-diffusion-webui#9283", "aperture_violation"},
	{"004.json", "parthenon-hpc-lab/parthenon#1101", "aperture_violation"},
	{"007.json", "ROCm/rocm-jax#453", "aperture_violation"},
	{"008.json", "doktor83/SRBMiner-Multi#206", "gpu_memory_access_fault"},
	{"011.json", "ROCm/legacy-rocm-build#5238", "gpu_memory_access_fault"},
	{"014.json", "ROCm/legacy-rocm-build#5824", "gpu_memory_access_fault"},
	{"017.json", "lllyasviel/stable-diffusion-webui-forge#2976", "gpu_memory_access_fault"},
	{"020.json", "ROCm/legacy-rocm-build#5742", "illegal_address"},
	{"021.json", "ROCm/TheRock#1054", "out_of_memory"},
	{"024.json", "pytorch/pytorch#175431", "out_of_memory"},
	{"026.json", "AUTOMATIC1111/stable-diffusion-webui#5067", "no_binary_for_gpu / unsupported_isa"},
	{"029.json", "ROCm/legacy-rocm-build#2061", "no_binary_for_gpu / unsupported_isa"},
	{"032.json", "ROCm/legacy-rocm-build#1471", "no_binary_for_gpu / unsupported_isa"},
	{"035.json", "ROCm/amdgpu#172", "kernel_driver_page_fault (dmesg)"},
	{"038.json", "ROCm/legacy-rocm-build#5997", "kernel_driver_page_fault (dmesg)"},
	{"041.json", "FreeBSDDesktop/kms-drm#76", "kernel_driver_page_fault (dmesg)"},
	{"042.json", "ROCm/xformers#14", "gpu_hang_reset"},
	{"045.json", "ROCm/legacy-rocm-build#2429", "gpu_hang_reset"},
	{"047.json", "ROCm/TheRock#5897", "no_binary_for_gpu / unsupported_isa"},
	{"048.json", "ROCm/rocBLAS#1339", "library_missing_for_arch (rocBLAS/Tensile/MIOpen)"},
	{"051.json", "githubcto/FramePack-ZLUDA#4", "library_missing_for_arch (rocBLAS/Tensile/MIOpen)"},
	{"052.json", "ROCm/hip#3799", "no_gpu_detected"},
	{"057.json", "ROCm/MIOpen#1994", "library_missing_for_arch (rocBLAS/Tensile/MIOpen)"},
	{"058.json", "StanfordLegion/legion#1339", "other"},
	{"061.json", "ROCm/ROCmValidationSuite#128", "other"},
	{"064.json", "likelovewant/ollama-for-amd#7", "library_missing_for_arch (rocBLAS/Tensile/MIOpen)"},
	{"065.json", "ollama/ollama#5143", "no_gpu_detected"},
	{"070.json", "ROCm/legacy-rocm-build#4386", "no_binary_for_gpu / unsupported_isa"},
	{"073.json", "invoke-ai/InvokeAI#5738", "other"},
	{"076.json", "Comfy-Org/ComfyUI#13241", "other"},
	{"079.json", "Comfy-Org/ComfyUI#10369", "illegal_address"},
	{"082.json", "lamikr/rocm_sdk_builder#98", "gpu_hang_reset"},
	{"088.json", "Comfy-Org/ComfyUI#9529", "out_of_memory"},
	{"090.json", "lllyasviel/stable-diffusion-webui-forge#1556", "gpu_memory_access_fault"},
	{"093.json", "vllm-project/vllm#13674", "aperture_violation"},
	{"095.json", "ROCm/TheRock#7472", "other"},
}

// categoryClass is the table of shared/crashlogs/README.md; "other"
// accepts any class or none.
var categoryClass = map[string]kb.Class{
	"gpu_memory_access_fault":                           kb.ClassGPUMemoryFault,
	"aperture_violation":                                kb.ClassApertureViolation,
	"illegal_address":                                   kb.ClassIllegalAddress,
	"out_of_memory":                                     kb.ClassOutOfMemory,
	"no_binary_for_gpu / unsupported_isa":               kb.ClassUnsupportedISA,
	"library_missing_for_arch (rocBLAS/Tensile/MIOpen)": kb.ClassMissingArchLibrary,
	"kernel_driver_page_fault (dmesg)":                  kb.ClassKernelPageFault,
	"gpu_hang_reset":                                    kb.ClassGPUHang,
	"no_gpu_detected":                                   kb.ClassNoGPU,
}

// TestCrashlogAccuracy is the target: the right class first on at
// least 95% of the real logs of shared/crashlogs.
func TestCrashlogAccuracy(t *testing.T) {
	dir := filepath.Join(sharedDir(t), "crashlogs")
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	if len(files) != len(crashlogSources) {
		t.Errorf("%d files in %s, the table lists %d", len(files), dir, len(crashlogSources))
	}
	m := newMatcher(t, nil)
	right := 0
	for _, c := range crashlogSources {
		data, err := os.ReadFile(filepath.Join(dir, c.file))
		if err != nil {
			t.Errorf("%s (%s): %v", c.file, c.source, err)
			continue
		}
		var d struct {
			URL, Category, Log string
		}
		if err := json.Unmarshal(data, &d); err != nil {
			t.Fatalf("%s: %v", c.file, err)
		}
		if d.Category != c.category || !strings.Contains(d.URL, strings.Replace(c.source, "#", "/issues/", 1)) && !strings.Contains(d.URL, strings.Replace(c.source, "#", "/pull/", 1)) {
			t.Errorf("%s: file says %q from %s, table says %q from %s", c.file, d.Category, d.URL, c.category, c.source)
		}
		res := m.ScanBytes([]byte(d.Log))
		got := kb.Class("")
		if b := res.Best(); b != nil {
			got = b.Class
		}
		want, specific := categoryClass[c.category]
		ok := !specific || got == want
		if ok {
			right++
		} else {
			t.Logf("%s (%s): best class %q, want %q; matches %v", c.file, c.source, got, want, ids(res))
		}
	}
	pct := 100 * float64(right) / float64(len(crashlogSources))
	fmt.Printf("crashlog accuracy: right class first on %d of %d real logs (%.1f%%)\n", right, len(crashlogSources), pct)
	if pct < 95 {
		t.Errorf("right class first on %.1f%% of real logs, below the 95%% target", pct)
	}
}

func TestNoMatchIsEmptyAndExitZero(t *testing.T) {
	res := diagnoseString(t, nil, "epoch 1 loss 0.3\nall good\n")
	if len(res.Matches) != 0 || res.ExitCode() != ExitNoMatch {
		t.Fatalf("matches %v, exit %d", ids(res), res.ExitCode())
	}
	var buf bytes.Buffer
	if err := res.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `"matches": []`) || !strings.Contains(buf.String(), `"schema": "rocm-patch/diagnosis/v1"`) {
		t.Errorf("JSON for no match: %s", buf.String())
	}
	if res.Lines != 2 {
		t.Errorf("counted %d lines, want 2", res.Lines)
	}
}

const faultLine = "Memory access fault by GPU node-1 (Agent handle: 0x55d1c2a3f4e0) on address 0x7f3a1c000000. Reason: Page not present or supervisor privilege."

// TestNoise feeds the same failures in the shapes real logs give them.
func TestNoise(t *testing.T) {
	gz := func(s string) string {
		var b bytes.Buffer
		w := gzip.NewWriter(&b)
		io.WriteString(w, s)
		w.Close()
		return b.String()
	}
	long := strings.Repeat("x", 200<<10)
	tests := []struct {
		name, log, id string
		line          int64
	}{
		{"plain", "start\n" + faultLine + "\n", "gpu-memory-access-fault", 2},
		{"ansi colours", "start\n\x1b[1;31m" + faultLine + "\x1b[0m\n", "gpu-memory-access-fault", 2},
		{"ansi lost its ESC", "start\n[1;31mHIP out of memory. Tried to allocate 2.00 GiB[0m\n", "gpu-out-of-memory", 2},
		{"ansi inside the message", "x\nHSA_STATUS_ERROR_\x1b[31mMEMORY_APERTURE_VIOLATION\x1b[0m: The agent attempted to access memory beyond the largest legal address.\n", "memory-aperture-violation", 2},
		{"progress bar glued", "  45%|████▌     | 450/1000 [01:23<01:42,  5.37it/s]" + faultLine + "\n", "gpu-memory-access-fault", 1},
		{"progress bar with carriage returns", "Epoch 1:  10%|█ | 1/10\rEpoch 1:  20%|██ | 2/10\r" + faultLine + "\n", "gpu-memory-access-fault", 1},
		{"split at a space", "a\nHIP error: an illegal memory access\nwas encountered\n", "hip-illegal-address", 2},
		{"split inside a word", "a\nRuntimeError: HIP error: invalid device fun\nction\n", "no-code-object-for-gpu", 2},
		{"split status name (tmux)", "aborting with error : HSA[52/1890]\nRROR_MEMORY_APERTURE_VIOLATION: The agent attempted\n", "memory-aperture-violation", 2},
		{"CRLF", "start\r\n" + faultLine + "\r\nAborted (core dumped)\r\n", "gpu-memory-access-fault", 2},
		{"redacted address", "Memory access fault by GPU node-1 (Agent handle: 0x....) on address 0x........ Reason: Page not present or supervisor privilege.\n", "gpu-memory-access-fault", 1},
		{"dmesg seconds", "[ 4778.915423] amdgpu 0000:c6:00.0: amdgpu: [gfxhub0] no-retry page fault (src_id:0 ring:24 vmid:3 pasid:32769)\n", "amdgpu-vm-page-fault", 1},
		{"dmesg relative", "[  +0.851431] amdgpu 0000:0e:00.0: amdgpu: [gfxhub] page fault (src_id:0 ring:157 vmid:0 pasid:0)\n", "amdgpu-vm-page-fault", 1},
		{"dmesg human", "[Thu Sep 10 14:36:16 2026] amdgpu 0000:03:00.0: amdgpu: ring gfx_0.0.0 timeout, signaled seq=7292300, emitted seq=7292304\n", "gpu-hang-reset", 1},
		{"journalctl", "Jul 24 12:26:16 macross kernel: [drm:amdgpu_job_timedout [amdgpu]] *ERROR* ring gfx_0.0.0 timeout, signaled seq=5000163, emitted seq=5000165\n", "gpu-hang-reset", 1},
		{"journalctl split message", "Jul 24 12:26:16 host kernel: amdgpu 0000:08:00.0: amdgpu: [gfxhub0] retry pa\nJul 24 12:26:16 host kernel: ge fault (src_id:0 ring:0 vmid:8 pasid:32770)\n", "amdgpu-vm-page-fault", 1},
		{"markdown quote and bold", "> **Error:** `hipErrorNoBinaryForGpu: Unable to find code object for all current devices!`\n", "no-code-object-for-gpu", 1},
		{"markdown nested quote", ">> > RuntimeError: No HIP GPUs are available\n", "no-hip-gpu", 1},
		{"tabs and aligned columns", "./test.sh: line 13: 31203 Aborted\t\t (core dumped) python3 x.py\n", "process-crash-abort", 1},
		{"iso timestamps", "2025-12-21T05:01:44.469315 - torch.AcceleratorError: HIP error: an illegal memory access was encountered\n", "hip-illegal-address", 1},
		{"gzip", gz("start\n" + faultLine + "\n"), "gpu-memory-access-fault", 2},
		{"very long line", "a\n" + long + faultLine + long + "\nz\n", "gpu-memory-access-fault", 2},
		{"no final newline", "a\nb\n" + faultLine, "gpu-memory-access-fault", 3},
		{"lowercase month journal quoted", "> feb 16 17:33:10 x kernel: amdgpu 0000:0c:00.0: amdgpu: [gfxhub] page fault (src_id:0 ring:169 vmid:0 pasid>\n", "amdgpu-vm-page-fault", 1},
	}
	m := newMatcher(t, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := m.ScanBytes([]byte(tt.log))
			best := res.Best()
			if best == nil || best.ID != tt.id {
				t.Fatalf("best %v, want %s", ids(res), tt.id)
			}
			if best.Lines[0].N != tt.line {
				t.Errorf("first evidence on line %d, want %d: %+v", best.Lines[0].N, tt.line, best.Lines)
			}
			for _, l := range best.Lines {
				if strings.ContainsRune(l.Text, 0x1b) || len(l.Text) > maxEvidenceText+3 {
					t.Errorf("evidence text not cleaned: %q", l.Text)
				}
			}
		})
	}
}

// TestSplitAcrossChunks puts each half of a split message on either side
// of the 1 MiB chunk boundary, both ways round.
func TestSplitAcrossChunks(t *testing.T) {
	for _, tt := range []struct{ first, second string }{
		{"HIP error: an illegal memory access", "was encountered"}, // literal in the first half: pending join
		{"HIP error: an illegal", "memory access was encountered"}, // literal in the second half: tail join
	} {
		first := tt.first + "\n"
		fill := chunkSize - len(first)
		var b bytes.Buffer
		line := strings.Repeat("y", 99) + "\n"
		for b.Len()+len(line) <= fill {
			b.WriteString(line)
		}
		b.WriteString(strings.Repeat("z", fill-b.Len()-1) + "\n")
		lines := int64(strings.Count(b.String(), "\n"))
		b.WriteString(first)
		b.WriteString(tt.second + "\n")
		if got := bytes.IndexByte(b.Bytes()[chunkSize-len(first):], '\n'); got != len(first)-1 {
			t.Fatalf("test setup: first half does not end the chunk")
		}
		for _, workers := range []int{1, 4} {
			m, _ := New(testKB, Options{Workers: workers})
			res, err := m.Scan(context.Background(), Input{R: bytes.NewReader(b.Bytes())})
			if err != nil {
				t.Fatal(err)
			}
			best := res.Best()
			if best == nil || best.ID != "hip-illegal-address" {
				t.Fatalf("%q|%q workers %d: %v", tt.first, tt.second, workers, ids(res))
			}
			if len(best.Lines) != 2 || best.Lines[0].N != lines+1 || best.Lines[1].N != lines+2 {
				t.Errorf("%q|%q: evidence %+v, want lines %d and %d", tt.first, tt.second, best.Lines, lines+1, lines+2)
			}
		}
	}
}

func TestRanking(t *testing.T) {
	tests := []struct {
		name string
		log  string
		want []string
	}{
		{"abort alone is process-crash", "python train.py\nAborted (core dumped)\n", []string{"process-crash-abort"}},
		{"abort loses to the fault before it", faultLine + "\nAborted (core dumped)\n", []string{"gpu-memory-access-fault", "process-crash-abort"}},
		{"abort loses to a weak match after it", "Segmentation fault (core dumped)\nGPU core dump failed\n", []string{"gpu-queue-exception-dump", "process-crash-abort"}},
		{"first error wins a tie: hang then fault",
			"[1.0] amdgpu: MES failed to respond msg=3\n[2.0] amdgpu 0000:0e:00.0: amdgpu: [gfxhub] page fault (src_id:0 ring:157 vmid:0 pasid:0)\n",
			[]string{"gpu-hang-reset", "amdgpu-vm-page-fault"}},
		{"first error wins a tie: fault then hang",
			"[1.0] amdgpu 0000:0e:00.0: amdgpu: [gfxhub] page fault (src_id:0 ring:157 vmid:0 pasid:32770)\n[2.0] amdgpu: MES failed to respond msg=3\n",
			[]string{"amdgpu-vm-page-fault", "gpu-hang-reset"}},
		{"specific no-gpu beats the generic Tensile line",
			"rocBLAS error: Could not initialize Tensile host: No devices found\n",
			[]string{"no-hip-gpu", "rocblas-tensile-missing-arch"}},
		{"context promotes the production issue",
			"from braindecode.models import EEGNeX\n" + faultLine + "\n",
			[]string{"eeg2025-eegnex-spatial-conv", "gpu-memory-access-fault"}},
		{"ultralytics context",
			"Ultralytics YOLOv8.2.0 Python-3.10 torch-2.3.0+rocm6.0\n" + faultLine + "\n",
			[]string{"thermal-yolo-page-fault", "gpu-memory-access-fault"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ids(diagnoseString(t, nil, tt.log))
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("matches %v, want %v", got, tt.want)
			}
		})
	}
}

// TestHardwareAware: the same log, read with the machine it came from.
func TestHardwareAware(t *testing.T) {
	aperture := string(readLog(t, "aperture-rx5500-override.log"))
	noGPU := "RuntimeError: No HIP GPUs are available\n"
	tests := []struct {
		name, log string
		sys       func() any
		want      string
		note      []string
	}{
		{"gfx1010 with 10.3.0: wrong ISA family",
			aperture, func() any {
				return machine(map[string]string{"HSA_OVERRIDE_GFX_VERSION": "10.3.0"}, gpu(0, "gfx1010", "gfx1030", "RDNA1"))
			}, "hsa-override-wrong-family", []string{"gfx1010", "gfx1030", "another ISA family"}},
		{"gfx1031 with 10.3.0: same family, the fault stays an aperture violation",
			aperture, func() any {
				return machine(map[string]string{"HSA_OVERRIDE_GFX_VERSION": "10.3.0"}, gpu(0, "gfx1031", "gfx1030", "RDNA2"))
			}, "memory-aperture-violation", nil},
		{"RDNA2 memory fault: the conservative rule",
			faultLine + "\n", func() any { return machine(nil, gpu(0, "gfx1031", "gfx1031", "RDNA2")) },
			"rdna12-consumer-memory-fault", []string{"gfx1031"}},
		{"RDNA3 memory fault stays generic",
			faultLine + "\n", func() any { return machine(nil, gpu(0, "gfx1100", "gfx1100", "RDNA3")) },
			"gpu-memory-access-fault", nil},
		{"malformed override",
			noGPU, func() any {
				return machine(map[string]string{"HSA_OVERRIDE_GFX_VERSION": "1030"}, gpu(0, "gfx1031", "gfx1031", "RDNA2"))
			},
			"hsa-override-malformed", []string{"1030"}},
		{"ROCm torch on a machine without an AMD GPU",
			noGPU, func() any { return machine(nil) }, "rocm-torch-without-amd-gpu", []string{"no AMD GPU"}},
		{"WSL2",
			noGPU, func() any {
				s := machine(nil)
				s.WSL = true
				return s
			}, "wsl2-rocm-no-gpu", []string{"WSL2"}},
		{"hidden GPU does not count",
			faultLine + "\n", func() any {
				g := gpu(0, "gfx1031", "gfx1031", "RDNA2")
				g.Visible = false
				return machine(nil, g)
			}, "gpu-memory-access-fault", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sys := tt.sys().(interface{})
			s := sys.(*systemAlias)
			res := diagnoseString(t, s, tt.log)
			best := res.Best()
			if best == nil || best.ID != tt.want {
				t.Fatalf("best %v, want %s", ids(res), tt.want)
			}
			for _, n := range tt.note {
				if !strings.Contains(best.HardwareNote, n) {
					t.Errorf("hardware note %q lacks %q", best.HardwareNote, n)
				}
			}
		})
	}
}

// TestLogDerivedOverride: without a machine, the log itself may print the
// override and the GPU's real target.
func TestLogDerivedOverride(t *testing.T) {
	tests := []struct {
		name, log, want string
	}{
		{"ollama config and target",
			`time=2024-07-19T10:47:59 level=INFO source=routes.go:1100 msg="server config" env="map[HSA_OVERRIDE_GFX_VERSION:10.3.0 OLLAMA_DEBUG:false]"` + "\n" +
				`time=2024-07-19T10:47:59 level=INFO source=amd_linux.go:345 msg="amdgpu is supported" gpu=0 gpu_type=gfx1010` + "\n" + faultLine + "\n",
			"hsa-override-wrong-family"},
		{"shell export and xnack target",
			"$ export HSA_OVERRIDE_GFX_VERSION=10.3.0\nDevice: gfx1012:xnack-\n" + faultLine + "\n", "hsa-override-wrong-family"},
		{"same family is fine",
			"$ export HSA_OVERRIDE_GFX_VERSION=10.3.0\nDevice: gfx1031:xnack-\n" + faultLine + "\n", "gpu-memory-access-fault"},
		{"malformed value in an environment dump",
			"HSA_OVERRIDE_GFX_VERSION=1030\nRuntimeError: No HIP GPUs are available\n", "hsa-override-malformed"},
		{"libhsakmt's own message",
			"HSA_OVERRIDE_GFX_VERSION 10.3 is invalid\n", "hsa-override-malformed"},
		{"ollama prints it empty when unset",
			`env="map[HSA_OVERRIDE_GFX_VERSION: OLLAMA_DEBUG:false]"` + "\nRuntimeError: No HIP GPUs are available\n", "no-hip-gpu"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := diagnoseString(t, nil, tt.log)
			if got := topID(res); got != tt.want {
				t.Errorf("best %v, want %s", ids(res), tt.want)
			}
		})
	}
}

func TestGoldenJSON(t *testing.T) {
	for _, tt := range []struct {
		golden string
		files  []string
		sys    *systemAlias
	}{
		{"memory-fault-aborted.json", []string{"memory-fault-aborted.log"}, nil},
		{"mes-hang-then-page-fault.json", []string{"mes-hang-then-page-fault.log"}, nil},
		{"two-inputs.json", []string{"no-binary-for-gpu.log", "dmesg-page-fault.log"}, nil},
		{"aperture-gfx1010-override.json", []string{"aperture-rx5500-override.log"},
			machine(map[string]string{"HSA_OVERRIDE_GFX_VERSION": "10.3.0"}, gpu(0, "gfx1010", "gfx1030", "RDNA1"))},
	} {
		t.Run(tt.golden, func(t *testing.T) {
			m := newMatcher(t, tt.sys)
			var inputs []Input
			for _, f := range tt.files {
				name := ""
				if len(tt.files) > 1 {
					name = f
				}
				inputs = append(inputs, Input{Name: name, R: bytes.NewReader(readLog(t, f))})
			}
			res, err := m.Scan(context.Background(), inputs...)
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if err := res.WriteJSON(&buf); err != nil {
				t.Fatal(err)
			}
			checkGolden(t, filepath.Join("testdata", "golden", tt.golden), buf.Bytes())
			var generic struct {
				Schema  string
				Matches []struct {
					ID, Class, Title string
					Score            int
					Lines            []struct {
						N    int64
						Text string
					}
				}
			}
			if err := json.Unmarshal(buf.Bytes(), &generic); err != nil || generic.Schema != Schema || len(generic.Matches) == 0 {
				t.Errorf("JSON does not follow the schema: %v %+v", err, generic)
			}
		})
	}
}

func TestWriteText(t *testing.T) {
	res := newMatcher(t, nil).ScanBytes(readLog(t, "memory-fault-aborted.log"))
	var buf bytes.Buffer
	if err := res.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"1. Memory access fault by GPU", "line 5: Memory access fault", "what to do:", "rocm-patch issues show gpu-memory-access-fault", "Also seen (consequences, not causes):", "process-crash-abort"} {
		if !strings.Contains(out, want) {
			t.Errorf("text output lacks %q:\n%s", want, out)
		}
	}
}

// TestSessionEqualsScan: pushing a log in small writes gives the same
// diagnosis as scanning it.
func TestSessionEqualsScan(t *testing.T) {
	m := newMatcher(t, nil)
	for _, f := range []string{"mes-hang-then-page-fault.log", "aperture-split-line.log", "illegal-address-comfyui.log"} {
		data := readLog(t, f)
		want := m.ScanBytes(data)
		s := m.NewSession("")
		for i := 0; i < len(data); i += 7 {
			s.Write(data[i:min(len(data), i+7)])
		}
		got := s.Result()
		if fmt.Sprint(summary(got)) != fmt.Sprint(summary(want)) {
			t.Errorf("%s: session %v, scan %v", f, summary(got), summary(want))
		}
		if _, err := s.Write([]byte("x")); !errors.Is(err, ErrClosed) {
			t.Errorf("Write after Result: %v", err)
		}
	}
}

func summary(r *Result) []string {
	var out []string
	for _, m := range r.Matches {
		var ls []string
		for _, l := range m.Lines {
			ls = append(ls, fmt.Sprintf("%d", l.N))
		}
		out = append(out, fmt.Sprintf("%s:%d:%s", m.ID, m.Score, strings.Join(ls, ",")))
	}
	return append(out, fmt.Sprintf("lines=%d", r.Lines))
}

type failingReader struct{ n int }

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n > 0 {
		f.n--
		return copy(p, "line\n"), nil
	}
	return 0, errors.New("disk on fire")
}

func TestReadErrorAndCancel(t *testing.T) {
	m := newMatcher(t, nil)
	_, err := m.Scan(context.Background(), Input{Name: "bad.log", R: &failingReader{n: 3}})
	if err == nil || !strings.Contains(err.Error(), "bad.log") || !strings.Contains(err.Error(), "disk on fire") {
		t.Errorf("error %v: want the file name and the cause", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := m.Scan(ctx, Input{R: strings.NewReader(faultLine)}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled scan: %v", err)
	}
	if _, err := m.Scan(context.Background(), Input{R: strings.NewReader("\x1f\x8bnot gzip")}); err == nil {
		t.Error("a corrupt gzip stream did not fail")
	}
}

// TestPrefilterFindsExamples: for every example line in the knowledge
// base that a signature matches, the prefilter finds one of that
// signature's literals, so declared literals cannot silently disable a
// signature.
func TestPrefilterFindsExamples(t *testing.T) {
	for _, e := range testKB.All() {
		for _, line := range exampleLines(e.Body) {
			for _, s := range e.Signatures {
				norm, _ := normalize(nil, []byte(line))
				c, err := s.Compile()
				if err != nil {
					t.Fatalf("%s: %q: %v", e.ID, s.Pattern, err)
				}
				if !c.Re.MatchString(norm) {
					continue
				}
				p := newPrefilter(c.Literals)
				if len(p.scan([]byte(line), nil)) == 0 {
					t.Errorf("%s: %q matches %q but none of %v is found in it", e.ID, s.Pattern, line, c.Literals)
				}
			}
		}
	}
}

func exampleLines(body string) []string {
	var out []string
	in := false
	for _, l := range strings.Split(body, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "```") {
			in = !in
			continue
		}
		if in {
			out = append(out, l)
		}
	}
	return out
}
