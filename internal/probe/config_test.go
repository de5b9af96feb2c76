package probe

import (
	"context"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/rocm-patch/rocm-patch/internal/testutil"

	"github.com/rocm-patch/rocm-patch/internal/assess"
	"github.com/rocm-patch/rocm-patch/internal/fsroot"
	"github.com/rocm-patch/rocm-patch/internal/system"
)

func TestParseConfigs(t *testing.T) {
	tests := []struct {
		in      string
		want    []Config
		wantErr string
	}{
		{"", Configs, ""},
		{"all", Configs, ""},
		{"cpu", []Config{ConfigCPU}, ""},
		{"cpu,none", []Config{ConfigNone, ConfigCPU}, ""},
		{" CPU , env ", []Config{ConfigEnv, ConfigCPU}, ""},
		{"shim+env", []Config{ConfigEnvShim}, ""},
		{"env+shim,env+shim,cpu", []Config{ConfigEnvShim, ConfigCPU}, ""},
		{"cpu,,", []Config{ConfigCPU}, ""},
		{"all,cpu", Configs, ""},
		{"gpu", nil, `unknown configuration "gpu": want none, env, env+shim, cpu, or all`},
		{"shim", nil, `unknown configuration "shim"`},
		{"cpu,env+cpu", nil, `"env+cpu"`},
	}
	for _, tt := range tests {
		got, err := ParseConfigs(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseConfigs(%q) error %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseConfigs(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

// machine reads an example machine and assesses it.
func machine(t *testing.T, name string) (*assess.Report, *system.System) {
	t.Helper()
	root, err := fsroot.Open(filepath.Join("..", "..", "examples", "systems", name))
	if err != nil {
		t.Fatal(err)
	}
	sys, err := system.Detect(context.Background(), root, system.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := assess.Doctor(sys, testutil.KB(t), assess.PolicyMitigate)
	if err != nil {
		t.Fatal(err)
	}
	return rep, sys
}

func envNames(p assess.Plan) string {
	var parts []string
	for _, v := range p.Env {
		parts = append(parts, v.Name+"="+v.Value)
	}
	return strings.Join(parts, " ")
}

func TestPlanFor(t *testing.T) {
	k := testutil.KB(t)
	rx, _ := machine(t, "rx6700xt")
	none, _ := machine(t, "no-gpu")
	hide := `ROCR_VISIBLE_DEVICES= HIP_VISIBLE_DEVICES= CUDA_VISIBLE_DEVICES=`
	tests := []struct {
		name   string
		c      Config
		rep    *assess.Report
		device assess.Device
		env    string
		shim   bool
		skip   string
		config string
	}{
		{"bare gpu", ConfigNone, rx, assess.DeviceGPU, "", false, "", "none"},
		{"env layer", ConfigEnv, rx, assess.DeviceGPU, "HSA_OVERRIDE_GFX_VERSION=10.3.0", false, "", "env"},
		{"env and shim", ConfigEnvShim, rx, assess.DeviceGPU, "HSA_OVERRIDE_GFX_VERSION=10.3.0", true, "", "env+shim"},
		{"cpu hides the gpu", ConfigCPU, rx, assess.DeviceCPU, hide, false, "", "cpu"},
		{"no gpu: gpu configurations skipped", ConfigEnv, none, "", "", false, SkipNoGPU, "none"},
		{"no gpu: cpu still hides", ConfigCPU, none, assess.DeviceCPU, hide, false, "", "cpu"},
		{"no report", ConfigNone, nil, "", "", false, SkipNoGPU, "none"},
	}
	for _, tt := range tests {
		s := PlanFor(tt.c, tt.rep, k)
		if s.Skip != tt.skip {
			t.Errorf("%s: skip %q, want %q", tt.name, s.Skip, tt.skip)
		}
		if s.Skip != "" {
			continue
		}
		if s.Plan.Device != tt.device || envNames(s.Plan) != tt.env || s.Shim != tt.shim || configuration(s) != tt.config {
			t.Errorf("%s: device %s env %q shim %t configuration %s", tt.name, s.Plan.Device, envNames(s.Plan), s.Shim, configuration(s))
		}
		if len(s.Plan.Warnings) > 0 || s.Plan.CPUFallback != nil {
			t.Errorf("%s: a probe attempt has warnings or a fallback: %+v", tt.name, s.Plan)
		}
	}
	if s := PlanFor(ConfigCPU, rx, k); !reflect.DeepEqual(s.Plan.Hidden, []int{0}) {
		t.Errorf("cpu on rx6700xt hides %v", s.Plan.Hidden)
	}
}

// TestPlanForUnusableGPU: a GPU that is there but that policy mitigate
// keeps off (no kernels for it, say) skips the GPU configurations with
// doctor's reason.
func TestPlanForUnusableGPU(t *testing.T) {
	rep := &assess.Report{
		GPUs: []assess.GPUReport{{Index: 0, InUse: true, Decision: assess.Decisions{
			Mitigate: assess.Decision{Device: assess.DeviceCPU, Reason: "no kernels for gfx1010 in this PyTorch"}}}},
		Plan:  assess.Plan{Policy: assess.PolicyMitigate, Device: assess.DeviceCPU},
		Plans: []assess.Plan{{Policy: assess.PolicyMitigate, Device: assess.DeviceCPU}},
	}
	s := PlanFor(ConfigEnv, rep, testutil.KB(t))
	if want := "no AMD GPU usable (GPU 0: no kernels for gfx1010 in this PyTorch)"; s.Skip != want {
		t.Errorf("skip %q, want %q", s.Skip, want)
	}
	if s := PlanFor(ConfigCPU, rep, testutil.KB(t)); s.Skip != "" || s.Plan.Device != assess.DeviceCPU {
		t.Errorf("cpu: %+v", s)
	}
}
