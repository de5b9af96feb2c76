package assess

import (
	"strconv"
	"strings"
	"testing"

	"github.com/rocm-patch/rocm-patch/internal/hw"
	"github.com/rocm-patch/rocm-patch/internal/kb"
	"github.com/rocm-patch/rocm-patch/internal/system"
)

func loadKB(t *testing.T) *kb.KB {
	t.Helper()
	k, err := kb.Load()
	if err != nil {
		t.Fatalf("kb.Load: %v", err)
	}
	return k
}

// rocm62 ships what ROCm 6.2's rocBLAS ships: RDNA1 gfx1010/gfx1012,
// RDNA2 only gfx1030, RDNA3 gfx1100-gfx1102.
var rocm62 = []string{"gfx1010", "gfx1012", "gfx1030", "gfx1100", "gfx1101", "gfx1102", "gfx900", "gfx906", "gfx908", "gfx90a", "gfx940", "gfx941", "gfx942"}

// torch24 ships what a PyTorch 2.4 ROCm wheel ships: no RDNA1 at all.
var torch24 = []string{"gfx1030", "gfx1100", "gfx1101", "gfx900", "gfx906", "gfx908", "gfx90a", "gfx942"}

func gpu(index int, target string) system.GPU {
	node := index + 1
	return system.GPU{
		Index: index, Node: &node, Name: "Test " + target, GFXTarget: target, EffectiveGFXTarget: target,
		Family: string(hw.FamilyOf(target)), RenderNode: "renderD" + string(rune('0'+index)), RenderAccessible: true, Visible: true,
	}
}

// machine is a plain Linux box with ROCm 6.2 and the given GPUs.
func machine(gpus ...system.GPU) *system.System {
	return &system.System{
		Schema: system.Schema, GPUs: gpus,
		ROCm:          []system.Install{{Path: "/opt/rocm", Version: "6.2.0", ROCBLASTargets: rocm62}},
		Torch:         []system.Install{},
		Env:           map[string]string{},
		AMDGPU:        system.AMDGPU{Loaded: true, Params: map[string]string{"noretry": "-1", "mtype_local": "0"}},
		KFDAccessible: true,
	}
}

func withEnv(sys *system.System, kv ...string) *system.System {
	for i := 0; i+1 < len(kv); i += 2 {
		sys.Env[kv[i]] = kv[i+1]
	}
	return sys
}

func hidden(g system.GPU, by string) system.GPU {
	g.Visible = false
	g.HiddenBy = by
	return g
}

func doctor(t *testing.T, sys *system.System) *Report {
	t.Helper()
	r, err := Doctor(sys, loadKB(t), PolicyMitigate)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func findingsWith(r *Report, id string) []Finding {
	var out []Finding
	for _, f := range r.Findings {
		if f.ID == id {
			out = append(out, f)
		}
	}
	return out
}

// TestFindings triggers every finding id, and checks the cases that must
// not trigger it.
func TestFindings(t *testing.T) {
	noKernels := machine(gpu(0, "gfx1010"))
	noKernels.ROCm[0].ROCBLASTargets = []string{"gfx1030", "gfx1100"}
	nothingInstalled := machine(gpu(0, "gfx1100"))
	nothingInstalled.ROCm = nil
	kfdClosed := machine(gpu(0, "gfx90a"))
	kfdClosed.KFDAccessible = false
	renderClosed := machine(gpu(0, "gfx90a"))
	renderClosed.GPUs[0].RenderAccessible = false
	wsl := machine()
	wsl.WSL = true
	wsl.Kernel.Release = "5.15.153.1-microsoft-standard-WSL2"
	noGPU := machine()
	noGPU.Torch = []system.Install{{Path: "/venv/torch", Version: "2.6.0+rocm6.2.4", HIPVersion: "6.2.41134", ROCBLASTargets: torch24}}
	noNode := machine(gpu(0, "gfx1100"))
	noNode.GPUs = append(noNode.GPUs, system.GPU{Index: 1, Name: "Orphan", GFXTarget: "gfx1030", Card: "card1", HiddenBy: "no KFD node"})
	paramNoOp := machine(gpu(0, "gfx1010"))
	paramNoOp.AMDGPU.Params["noretry"] = "0"
	paramUseful := machine(gpu(0, "gfx1031"))
	paramUseful.AMDGPU.Params["noretry"] = "0"

	tests := []struct {
		name string
		sys  *system.System
		id   string
		want int    // how many findings with id
		gpu  *int   // expected GPU of the first one
		text string // the message or fix must contain it
	}{
		{"rdna2 is high risk", machine(gpu(0, "gfx1031")), FindingRDNAMemoryFault, 1, ptr(0), "RDNA2"},
		{"rdna1 is high risk", machine(gpu(0, "gfx1010")), FindingRDNAMemoryFault, 1, ptr(0), "RDNA1"},
		{"rdna3 is not", machine(gpu(0, "gfx1100")), FindingRDNAMemoryFault, 0, nil, ""},
		{"cdna is not", machine(gpu(0, "gfx90a")), FindingRDNAMemoryFault, 0, nil, ""},
		{"hidden rdna2 gets nothing", machine(gpu(0, "gfx1100"), hidden(gpu(1, "gfx1031"), "HIP_VISIBLE_DEVICES")), FindingRDNAMemoryFault, 0, nil, ""},

		{"10.3.0 on gfx1010", withEnv(machine(gpu(0, "gfx1010")), "HSA_OVERRIDE_GFX_VERSION", "10.3.0"), FindingOverrideWrong, 1, ptr(0), "HSA_OVERRIDE_GFX_VERSION=10.3.0"},
		{"10.3.0 on RDNA3", withEnv(machine(gpu(0, "gfx1100")), "HSA_OVERRIDE_GFX_VERSION", "10.3.0"), FindingOverrideWrong, 1, ptr(0), "gfx1100"},
		{"11.0.0 on RDNA2", withEnv(machine(gpu(0, "gfx1031")), "HSA_OVERRIDE_GFX_VERSION", "11.0.0"), FindingOverrideWrong, 1, ptr(0), "export HSA_OVERRIDE_GFX_VERSION=10.3.0"},
		{"per-node wrong", withEnv(machine(gpu(0, "gfx1031")), "HSA_OVERRIDE_GFX_VERSION_1", "11.0.0"), FindingOverrideWrong, 1, ptr(0), "HSA_OVERRIDE_GFX_VERSION_1"},
		{"10.3.0 on gfx1031 is right", withEnv(machine(gpu(0, "gfx1031")), "HSA_OVERRIDE_GFX_VERSION", "10.3.0"), FindingOverrideWrong, 0, nil, ""},
		{"wrong override on a hidden GPU", withEnv(machine(gpu(0, "gfx1100"), hidden(gpu(1, "gfx1010"), "ROCR_VISIBLE_DEVICES")), "HSA_OVERRIDE_GFX_VERSION_2", "10.3.0"), FindingOverrideWrong, 0, nil, ""},

		{"1030", withEnv(machine(gpu(0, "gfx1031")), "HSA_OVERRIDE_GFX_VERSION", "1030"), FindingOverrideBad, 1, ptr(0), `"1030"`},
		{"10.3", withEnv(machine(gpu(0, "gfx1031")), "HSA_OVERRIDE_GFX_VERSION", "10.3"), FindingOverrideBad, 1, ptr(0), "GPU 0"},
		{"trailing space", withEnv(machine(gpu(0, "gfx1031")), "HSA_OVERRIDE_GFX_VERSION", "10.3.0 "), FindingOverrideBad, 1, ptr(0), "HSA_OVERRIDE_GFX_VERSION"},
		{"unnamed 10.16.0", withEnv(machine(gpu(0, "gfx1031")), "HSA_OVERRIDE_GFX_VERSION", "10.16.0"), FindingOverrideBad, 1, ptr(0), "10.16.0"},
		{"valid is not malformed", withEnv(machine(gpu(0, "gfx1031")), "HSA_OVERRIDE_GFX_VERSION", "10.3.0"), FindingOverrideBad, 0, nil, ""},

		{"gfx1031 needs 10.3.0", machine(gpu(0, "gfx1031")), FindingOverrideNeeded, 1, ptr(0), "export HSA_OVERRIDE_GFX_VERSION=10.3.0"},
		{"gfx1032 needs 10.3.0", machine(gpu(0, "gfx1032")), FindingOverrideNeeded, 1, ptr(0), "gfx1030"},
		{"gfx1103 needs 11.0.0", machine(gpu(0, "gfx1103")), FindingOverrideNeeded, 1, ptr(0), "HSA_OVERRIDE_GFX_VERSION=11.0.0"},
		{"gfx1031 with 10.3.0 set", withEnv(machine(gpu(0, "gfx1031")), "HSA_OVERRIDE_GFX_VERSION", "10.3.0"), FindingOverrideNeeded, 0, nil, ""},
		{"gfx1030 ships", machine(gpu(0, "gfx1030")), FindingOverrideNeeded, 0, nil, ""},
		{"gfx1010 ships", machine(gpu(0, "gfx1010")), FindingOverrideNeeded, 0, nil, ""},
		{"gfx1010 never gets 10.3.0", noKernels, FindingOverrideNeeded, 0, nil, ""},

		{"gfx1010 without RDNA1 kernels", noKernels, FindingNoKernels, 1, ptr(0), "gfx1010"},
		{"nothing installed", nothingInstalled, FindingNoKernels, 1, ptr(0), "no ROCm or PyTorch install"},
		{"kernels shipped", machine(gpu(0, "gfx1100")), FindingNoKernels, 0, nil, ""},

		{"/dev/kfd closed", kfdClosed, FindingKFDPermission, 1, ptr(0), "/dev/kfd"},
		{"render node closed", renderClosed, FindingKFDPermission, 1, ptr(0), "/dev/dri/renderD0"},
		{"permissions fine", machine(gpu(0, "gfx90a")), FindingKFDPermission, 0, nil, ""},

		{"wsl", wsl, FindingWSL, 1, nil, "/dev/dxg"},
		{"not wsl", machine(gpu(0, "gfx90a")), FindingWSL, 0, nil, ""},
		{"no gpu", noGPU, FindingNoAMDGPU, 1, nil, "PyTorch 2.6.0+rocm6.2.4"},
		{"wsl says wsl, not no gpu", wsl, FindingNoAMDGPU, 0, nil, ""},
		{"a gpu", machine(gpu(0, "gfx90a")), FindingNoAMDGPU, 0, nil, ""},

		{"HSA_XNACK on RDNA", withEnv(machine(gpu(0, "gfx1031")), "HSA_XNACK", "0"), FindingSettingNoOp, 1, ptr(0), "HSA_XNACK=0"},
		{"HSA_XNACK on CDNA does something", withEnv(machine(gpu(0, "gfx90a")), "HSA_XNACK", "1"), FindingSettingNoOp, 0, nil, ""},
		{"noretry=0 on RDNA1", paramNoOp, FindingSettingNoOp, 1, ptr(0), "amdgpu.noretry=0"},
		{"noretry=0 on RDNA2 does something", paramUseful, FindingSettingNoOp, 0, nil, ""},
		{"defaults are not settings", machine(gpu(0, "gfx1031")), FindingSettingNoOp, 0, nil, ""},
		{"override naming the own ISA", withEnv(machine(gpu(0, "gfx1030")), "HSA_OVERRIDE_GFX_VERSION", "10.3.0"), FindingSettingNoOp, 1, ptr(0), "own ISA"},
		{"no-op on a hidden GPU only", withEnv(machine(hidden(gpu(0, "gfx1031"), "ROCR_VISIBLE_DEVICES")), "HSA_XNACK", "0"), FindingSettingNoOp, 0, nil, ""},

		{"uncached allocator", withEnv(machine(gpu(0, "gfx1030")), "PYTORCH_NO_HIP_MEMORY_CACHING", "1"), FindingUncachedAlloc, 1, ptr(0), "PYTORCH_NO_HIP_MEMORY_CACHING=1"},
		{"uncached allocator, CUDA spelling", withEnv(machine(gpu(0, "gfx1030")), "PYTORCH_NO_CUDA_MEMORY_CACHING", "0"), FindingUncachedAlloc, 1, ptr(0), "PYTORCH_NO_CUDA_MEMORY_CACHING=0"},
		{"cached allocator", machine(gpu(0, "gfx1030")), FindingUncachedAlloc, 0, nil, ""},
		{"uncached, no GPU in use", withEnv(machine(hidden(gpu(0, "gfx1030"), "HIP_VISIBLE_DEVICES")), "PYTORCH_NO_HIP_MEMORY_CACHING", "1"), FindingUncachedAlloc, 0, nil, ""},

		{"unknown ISA", machine(gpu(0, "gfx10a0")), FindingUnknownTarget, 1, ptr(0), "gfx10a0"},
		{"no target", machine(gpu(0, "")), FindingUnknownTarget, 1, ptr(0), "no gfx target"},
		{"known ISA", machine(gpu(0, "gfx1100")), FindingUnknownTarget, 0, nil, ""},
		{"GPU without KFD node", noNode, FindingNoKFDNode, 1, ptr(1), "card1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := doctor(t, tt.sys)
			got := findingsWith(r, tt.id)
			if len(got) != tt.want {
				t.Fatalf("%d %s findings, want %d; all: %+v", len(got), tt.id, tt.want, r.Findings)
			}
			if tt.want == 0 {
				return
			}
			f := got[0]
			if (f.GPU == nil) != (tt.gpu == nil) || (f.GPU != nil && *f.GPU != *tt.gpu) {
				t.Errorf("gpu = %v, want %v", deref(f.GPU), deref(tt.gpu))
			}
			if !strings.Contains(f.Message+" "+f.Fix, tt.text) {
				t.Errorf("message/fix lack %q:\n%s\n%s", tt.text, f.Message, f.Fix)
			}
			checkFinding(t, r, f)
		})
	}
}

// checkFinding holds every finding to the contract: known id and
// severity, one line, a fix, the GPU named in the message.
func checkFinding(t *testing.T, r *Report, f Finding) {
	t.Helper()
	known := false
	for _, id := range FindingIDs {
		known = known || id == f.ID
	}
	if !known {
		t.Errorf("unknown id %q", f.ID)
	}
	switch f.Severity {
	case SeverityError, SeverityWarning, SeverityInfo:
	default:
		t.Errorf("%s: severity %q", f.ID, f.Severity)
	}
	if f.Message == "" || f.Fix == "" || f.Subject == "" {
		t.Errorf("%s: empty message, fix or subject: %+v", f.ID, f)
	}
	if strings.ContainsAny(f.Message+f.Fix, "\n\r") {
		t.Errorf("%s: not one line", f.ID)
	}
	for _, i := range f.GPUs {
		for _, g := range r.GPUs {
			if g.Index == i && len(f.GPUs) == 1 && !strings.Contains(f.Message, "GPU "+strconv.Itoa(i)+" (") {
				t.Errorf("%s: message does not name GPU %d: %s", f.ID, i, f.Message)
			}
			if g.Index == i && len(f.GPUs) == 1 && oneLine(g.Target) != "" && !strings.Contains(f.Message, oneLine(g.Target)) {
				t.Errorf("%s: message does not name target %s: %s", f.ID, g.Target, f.Message)
			}
			if g.Index == i && !g.InUse && f.ID != FindingNoKFDNode {
				t.Errorf("%s concerns GPU %d, which no run uses", f.ID, i)
			}
		}
	}
}

func ptr(i int) *int { return &i }

func deref(p *int) any {
	if p == nil {
		return nil
	}
	return *p
}

// TestHiddenGPUHasNoFindings: whatever is wrong with a GPU the visibility
// variables hide, doctor says nothing about it and no run uses it.
func TestHiddenGPUHasNoFindings(t *testing.T) {
	sys := withEnv(machine(gpu(0, "gfx90a"), hidden(gpu(1, "gfx1010"), "HIP_VISIBLE_DEVICES")),
		"HSA_OVERRIDE_GFX_VERSION_2", "10.3.0", "HIP_VISIBLE_DEVICES", "0")
	sys.GPUs[1].RenderAccessible = false
	r := doctor(t, sys)
	for _, f := range r.Findings {
		for _, i := range f.GPUs {
			if i == 1 {
				t.Errorf("finding about hidden GPU 1: %+v", f)
			}
		}
	}
	g := r.GPUs[1]
	if g.InUse || g.Risk != RiskNone {
		t.Errorf("hidden GPU: in use %v, risk %s", g.InUse, g.Risk)
	}
	for _, p := range Policies {
		if d := g.Decision.For(p); d.Device != DeviceUnused || !strings.Contains(d.Reason, "HIP_VISIBLE_DEVICES") {
			t.Errorf("%s: %+v", p, d)
		}
	}
	if r.Risk != RiskNone {
		t.Errorf("risk %s, want none (only the hidden GPU is at risk)", r.Risk)
	}
	for _, pl := range r.Plans {
		if containsInt(pl.GPUs, 1) || containsInt(pl.Hidden, 1) {
			t.Errorf("%s plan involves hidden GPU 1: %+v", pl.Policy, pl)
		}
	}
}

func TestRisk(t *testing.T) {
	kfdClosed := machine(gpu(0, "gfx90a"))
	kfdClosed.KFDAccessible = false
	wsl := machine()
	wsl.WSL = true
	tests := []struct {
		name string
		sys  *system.System
		want Risk
	}{
		{"no gpu", machine(), RiskNone},
		{"mi210", machine(gpu(0, "gfx90a")), RiskNone},
		{"rx7900xtx", machine(gpu(0, "gfx1100")), RiskNone},
		{"rx6800", machine(gpu(0, "gfx1030")), RiskHigh},
		{"rx5700xt", machine(gpu(0, "gfx1010")), RiskHigh},
		{"780M needing an override", machine(gpu(0, "gfx1103")), RiskMedium},
		{"780M with its override", withEnv(machine(gpu(0, "gfx1103")), "HSA_OVERRIDE_GFX_VERSION", "11.0.0"), RiskLow},
		{"RDNA3 with 10.3.0", withEnv(machine(gpu(0, "gfx1100")), "HSA_OVERRIDE_GFX_VERSION", "10.3.0"), RiskHigh},
		{"no-op setting", withEnv(machine(gpu(0, "gfx1100")), "HSA_XNACK", "1"), RiskLow},
		{"kfd closed", kfdClosed, RiskHigh},
		{"wsl", wsl, RiskMedium},
		{"mixed takes the highest", machine(gpu(0, "gfx90a"), gpu(1, "gfx1031")), RiskHigh},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := doctor(t, tt.sys)
			if r.Risk != tt.want {
				t.Errorf("risk %s, want %s; reasons %q", r.Risk, tt.want, r.Reasons)
			}
			if r.Risk != RiskNone && len(r.Reasons) == 0 {
				t.Error("a risk without reasons")
			}
			for _, g := range r.GPUs {
				if g.InUse && g.Risk != RiskNone && len(g.Reasons) == 0 {
					t.Errorf("GPU %d: risk %s without reasons", g.Index, g.Risk)
				}
			}
		})
	}
}

func envOf(pl Plan) map[string]*EnvVar {
	m := map[string]*EnvVar{}
	for i := range pl.Env {
		m[pl.Env[i].Name] = &pl.Env[i]
	}
	return m
}

func TestDecisions(t *testing.T) {
	k := loadKB(t)
	t.Run("rx6700xt", func(t *testing.T) {
		r, err := Doctor(machine(gpu(0, "gfx1031")), k, PolicyCPU)
		if err != nil {
			t.Fatal(err)
		}
		d := r.GPUs[0].Decision
		if d.Mitigate.Device != DeviceGPU || !d.Mitigate.Supervised || !d.Mitigate.CPUFallback || !d.Mitigate.Layers {
			t.Errorf("mitigate: %+v", d.Mitigate)
		}
		if d.CPU.Device != DeviceCPU || len(d.CPU.Hide) != 3 {
			t.Fatalf("cpu: %+v", d.CPU)
		}
		for _, v := range d.CPU.Hide {
			if v.Value != "" || v.Unset {
				t.Errorf("hiding every GPU needs %s set and empty, got %+v", v.Name, v)
			}
		}
		if d.ForceGPU.Device != DeviceGPU || d.ForceGPU.Supervised || d.ForceGPU.CPUFallback || !strings.Contains(d.ForceGPU.Warning, "high risk") {
			t.Errorf("force: %+v", d.ForceGPU)
		}
		if r.Plan.Policy != PolicyCPU || r.Plan.Device != DeviceCPU || len(r.Plan.GPUs) != 0 || !containsInt(r.Plan.Hidden, 0) {
			t.Errorf("cpu plan: %+v", r.Plan)
		}
		env := envOf(r.Plan)
		for _, name := range visibilityVars {
			if v := env[name]; v == nil || v.Value != "" {
				t.Errorf("cpu plan lacks %s=\"\"", name)
			}
		}
		if _, set := env[overrideVar]; set {
			t.Error("the cpu plan sets an override for a GPU it hides")
		}
		mit, _ := r.PlanFor(PolicyMitigate)
		if v := envOf(mit)[overrideVar]; v == nil || v.Value != "10.3.0" {
			t.Errorf("mitigate plan: %+v", mit.Env)
		}
		if mit.CPUFallback == nil || mit.CPUFallback.AfterFaults != FaultsBeforeCPU || !mit.Supervised {
			t.Errorf("mitigate plan: %+v", mit)
		}
		force, _ := r.PlanFor(PolicyForceGPU)
		if force.Supervised || force.CPUFallback != nil || len(force.Warnings) == 0 {
			t.Errorf("force plan: %+v", force)
		}
		for _, v := range force.Env {
			if v.Setting != overrideVar {
				t.Errorf("force plan applies a mitigation: %+v", v)
			}
		}
	})
	t.Run("mixed keeps the safe GPU", func(t *testing.T) {
		r, err := Doctor(machine(gpu(0, "gfx90a"), gpu(1, "gfx1031")), k, PolicyCPU)
		if err != nil {
			t.Fatal(err)
		}
		env := envOf(r.Plan)
		if env["ROCR_VISIBLE_DEVICES"].Value != "0" || env["HIP_VISIBLE_DEVICES"].Value != "0" || env["CUDA_VISIBLE_DEVICES"].Value != "0" {
			t.Errorf("env: %+v", r.Plan.Env)
		}
		if r.Plan.Device != DeviceGPU || len(r.Plan.GPUs) != 1 || r.Plan.GPUs[0] != 0 {
			t.Errorf("plan: %+v", r.Plan)
		}
		if r.GPUs[0].Decision.CPU.Device != DeviceGPU || r.GPUs[1].Decision.CPU.Device != DeviceCPU {
			t.Errorf("decisions: %+v / %+v", r.GPUs[0].Decision.CPU, r.GPUs[1].Decision.CPU)
		}
		// The only GPU that wants an override is hidden, and a global one
		// would reach the MI210: no override at all.
		for _, v := range r.Plan.Env {
			if strings.HasPrefix(v.Name, overrideVar) {
				t.Errorf("cpu plan sets %s", v.Name)
			}
		}
		mit, _ := r.PlanFor(PolicyMitigate)
		menv := envOf(mit)
		if menv[overrideVar] != nil || menv[overrideVar+"_2"] == nil || menv[overrideVar+"_2"].Value != "10.3.0" {
			t.Errorf("mitigate must set the override for node 2 only: %+v", mit.Env)
		}
	})
	t.Run("no kernels hides the GPU under mitigate", func(t *testing.T) {
		sys := machine(gpu(0, "gfx1010"))
		sys.ROCm[0].ROCBLASTargets = []string{"gfx1030"}
		r, err := Doctor(sys, k, PolicyMitigate)
		if err != nil {
			t.Fatal(err)
		}
		if r.GPUs[0].Decision.Mitigate.Device != DeviceCPU || !containsInt(r.Plan.Hidden, 0) {
			t.Errorf("mitigate: %+v", r.GPUs[0].Decision.Mitigate)
		}
		if r.GPUs[0].Decision.ForceGPU.Device != DeviceGPU || !strings.Contains(r.GPUs[0].Decision.ForceGPU.Warning, "fail") {
			t.Errorf("force: %+v", r.GPUs[0].Decision.ForceGPU)
		}
	})
	t.Run("closed /dev/kfd needs no hiding", func(t *testing.T) {
		sys := machine(gpu(0, "gfx1030"))
		sys.KFDAccessible = false
		r, err := Doctor(sys, k, PolicyMitigate)
		if err != nil {
			t.Fatal(err)
		}
		if d := r.GPUs[0].Decision.Mitigate; d.Device != DeviceCPU || len(d.Hide) != 0 {
			t.Errorf("mitigate: %+v", d)
		}
		if len(r.Plan.Env) != 0 || len(r.Plan.Warnings) == 0 {
			t.Errorf("plan: %+v", r.Plan)
		}
	})
	t.Run("wrong override is unset", func(t *testing.T) {
		r, err := Doctor(withEnv(machine(gpu(0, "gfx1010")), "HSA_OVERRIDE_GFX_VERSION", "10.3.0"), k, PolicyMitigate)
		if err != nil {
			t.Fatal(err)
		}
		v := envOf(r.Plan)[overrideVar]
		if v == nil || !v.Unset {
			t.Fatalf("plan: %+v", r.Plan.Env)
		}
		force, _ := r.PlanFor(PolicyForceGPU)
		if len(force.Env) != 0 {
			t.Errorf("force changes the user's override: %+v", force.Env)
		}
	})
	t.Run("per-node override that disagrees with the global one", func(t *testing.T) {
		r, err := Doctor(withEnv(machine(gpu(0, "gfx1031")), "HSA_OVERRIDE_GFX_VERSION_1", "11.0.0"), k, PolicyMitigate)
		if err != nil {
			t.Fatal(err)
		}
		env := envOf(r.Plan)
		if env[overrideVar] == nil || env[overrideVar].Value != "10.3.0" || env[overrideVar+"_1"] == nil || !env[overrideVar+"_1"].Unset {
			t.Errorf("plan: %+v", r.Plan.Env)
		}
	})
}

// TestLayerOnlyUseful: no variable of any plan is a no-op, in the
// catalogue's judgement, on every GPU it is meant for.
func TestLayerOnlyUseful(t *testing.T) {
	k := loadKB(t)
	targets := []string{"gfx1010", "gfx1012", "gfx1030", "gfx1031", "gfx1032", "gfx1100", "gfx1103", "gfx90a", "gfx942"}
	for _, target := range targets {
		for _, p := range Policies {
			r, err := Doctor(machine(gpu(0, target)), k, p)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range r.Plan.Env {
				s, ok := k.Setting(v.Setting)
				if !ok {
					t.Errorf("%s %s: %s refers to unknown setting %q", target, p, v.Name, v.Setting)
					continue
				}
				if v.Unset {
					continue
				}
				if noop, why := s.NoOp(v.Value, kb.Context{GFXTarget: target}); noop {
					t.Errorf("%s %s: %s=%s is a no-op: %s", target, p, v.Name, v.Value, why)
				}
				if v.Name == overrideVar && v.Value == "10.3.0" && hw.FamilyOf(target) != hw.RDNA2 {
					t.Errorf("%s: 10.3.0 on a non-RDNA2 GPU", target)
				}
				if v.Why == "" {
					t.Errorf("%s %s: %s without a why", target, p, v.Name)
				}
			}
		}
	}
}

func TestDoctorErrors(t *testing.T) {
	k := loadKB(t)
	if _, err := Doctor(nil, k, PolicyMitigate); err == nil {
		t.Error("nil system accepted")
	}
	if _, err := Doctor(machine(), nil, PolicyMitigate); err == nil {
		t.Error("nil kb accepted")
	}
	if _, err := Doctor(machine(), k, Policy("yolo")); err == nil || !strings.Contains(err.Error(), "mitigate, cpu, force-gpu-unsafe") {
		t.Errorf("unknown policy: %v", err)
	}
}

func TestParsePolicy(t *testing.T) {
	for _, p := range Policies {
		if got, err := ParsePolicy(string(p)); err != nil || got != p {
			t.Errorf("ParsePolicy(%q) = %q, %v", p, got, err)
		}
	}
	if _, err := ParsePolicy("gpu"); err == nil {
		t.Error("ParsePolicy(gpu) accepted")
	}
}

// TestHostileNames: text from the machine cannot break a one-line
// message.
func TestHostileNames(t *testing.T) {
	g := gpu(0, "gfx1031")
	g.Name = "Evil\nGPU\x1b[31m"
	r := doctor(t, withEnv(machine(g), "HSA_OVERRIDE_GFX_VERSION", "10.3.0\nrm -rf /"))
	for _, f := range r.Findings {
		if strings.ContainsAny(f.Message+f.Fix, "\n\r\x1b") {
			t.Errorf("%s: control characters in %q", f.ID, f.Message)
		}
	}
}

func TestDescribe(t *testing.T) {
	var gs []*gpuState
	for i := 0; i < 8; i++ {
		g := gpu(i, "gfx942")
		g.Name = "AMD Instinct MI300X"
		gs = append(gs, &gpuState{g: g, label: gpuLabel(g)})
	}
	if got := describe(gs); got != "GPUs 0-7 (AMD Instinct MI300X, gfx942)" {
		t.Errorf("describe = %q", got)
	}
	if got := describe(gs[:1]); got != "GPU 0 (AMD Instinct MI300X, gfx942)" {
		t.Errorf("describe = %q", got)
	}
	if got := indexRange([]int{0, 2}); got != "0, 2" {
		t.Errorf("indexRange = %q", got)
	}
}

// FuzzDoctor feeds the assessor arbitrary targets, overrides, visibility,
// permissions and installed kernels: it must never panic, and every
// finding must keep the contract (one line, GPU named, known id).
func FuzzDoctor(f *testing.F) {
	k, err := kb.Load()
	if err != nil {
		f.Fatal(err)
	}
	f.Add("gfx1031", "10.3.0", false, true, true, "gfx1030,gfx1100")
	f.Fuzz(func(t *testing.T, target, override string, perNode, visible, kfd bool, shipped string) {
		g := gpu(0, target)
		g.Visible = visible
		if !visible {
			g.HiddenBy = "HIP_VISIBLE_DEVICES"
		}
		sys := machine(g, gpu(1, "gfx1030"))
		sys.KFDAccessible = kfd
		sys.ROCm[0].ROCBLASTargets = strings.Split(shipped, ",")
		name := overrideVar
		if perNode {
			name += "_1"
		}
		sys.Env[name] = override
		for _, p := range Policies {
			r, err := Doctor(sys, k, p)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range r.Findings {
				checkFinding(t, r, f)
			}
			for _, v := range r.Plan.Env {
				if v.Name == "" || v.Setting == "" || strings.ContainsAny(v.Why, "\n\r") {
					t.Errorf("bad variable %+v", v)
				}
			}
		}
	})
}
