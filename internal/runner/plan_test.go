package runner

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rocm-patch/rocm-patch/internal/testutil"

	"github.com/rocm-patch/rocm-patch/internal/assess"
	"github.com/rocm-patch/rocm-patch/internal/kb"
)

func TestSchedule(t *testing.T) {
	k := testutil.KB(t)
	l := k.Ladder()
	mitigate, _ := machine(t, "rx6700xt", assess.PolicyMitigate)
	force, _ := machine(t, "rx6700xt", assess.PolicyForceGPU)
	cpu, _ := machine(t, "rx6700xt", assess.PolicyCPU)
	// rung renders a rung as "device:step+step".
	rung := func(r Rung) string {
		var ids []string
		for _, s := range r.Steps {
			ids = append(ids, s.ID)
		}
		return r.Device + ":" + strings.Join(ids, "+")
	}
	tests := []struct {
		name  string
		plan  assess.Plan
		total int
		want  []string
	}{
		{"default retries", mitigate.Plan, 3, []string{"gpu:", "gpu:allocator", "cpu:cpu"}},
		{"more retries repeat the top gpu step", mitigate.Plan, 5, []string{"gpu:", "gpu:allocator", "gpu:allocator", "gpu:allocator", "cpu:cpu"}},
		{"one retry goes to the cpu", mitigate.Plan, 2, []string{"gpu:", "cpu:cpu"}},
		{"no retries", mitigate.Plan, 1, []string{"gpu:"}},
		{"force never climbs", force.Plan, 3, []string{"gpu:", "gpu:", "gpu:"}},
		{"a cpu plan stays on the cpu", cpu.Plan, 3, []string{"cpu:", "cpu:", "cpu:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for n := 1; n <= tt.total; n++ {
				got = append(got, rung(Schedule(n, tt.total, tt.plan, l)))
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
	if r := Schedule(2, 3, mitigate.Plan, &kb.Ladder{}); len(r.Steps) != 0 || r.Device != "gpu" {
		t.Errorf("an empty ladder repeats the plan: %+v", r)
	}
	if CPUFallback(mitigate.Plan, &kb.Ladder{}) || !CPUFallback(mitigate.Plan, l) || CPUFallback(force.Plan, l) {
		t.Error("CPUFallback")
	}
}

func TestBuildEnvironment(t *testing.T) {
	k := testutil.KB(t)
	rep, _ := machine(t, "rx6700xt", assess.PolicyMitigate)
	wrong, _ := machine(t, "rx5700xt", assess.PolicyMitigate)
	l := k.Ladder()
	base := []string{"PATH=/bin", "HOME=/home/u", "HSA_OVERRIDE_GFX_VERSION=9.9.9"}
	tests := []struct {
		name     string
		rep      *assess.Report
		base     []string
		n        int
		env      []string
		layers   []string
		skipped  string
		settings map[string]string
	}{
		{"plan layer replaces in place", rep, base, 1,
			[]string{"PATH=/bin", "HOME=/home/u", "HSA_OVERRIDE_GFX_VERSION=10.3.0"}, []string{"env"}, "",
			map[string]string{"HSA_OVERRIDE_GFX_VERSION": "10.3.0"}},
		{"ladder step on top", rep, base, 2,
			[]string{"PATH=/bin", "HOME=/home/u", "HSA_OVERRIDE_GFX_VERSION=10.3.0", "PYTORCH_HIP_ALLOC_CONF=" + allocConf}, []string{"env", "allocator"}, "",
			map[string]string{"HSA_OVERRIDE_GFX_VERSION": "10.3.0", "PYTORCH_HIP_ALLOC_CONF": allocConf}},
		{"the user's allocator setting is kept", rep, append(base, "PYTORCH_HIP_ALLOC_CONF=expandable_segments:True"), 2,
			[]string{"PATH=/bin", "HOME=/home/u", "HSA_OVERRIDE_GFX_VERSION=10.3.0", "PYTORCH_HIP_ALLOC_CONF=expandable_segments:True"}, []string{"env"},
			"PYTORCH_HIP_ALLOC_CONF is kept as your environment sets it",
			map[string]string{"HSA_OVERRIDE_GFX_VERSION": "10.3.0"}},
		{"a no-op is skipped", rep, append(base, "PYTORCH_CUDA_ALLOC_CONF=x:1"), 2,
			[]string{"PATH=/bin", "HOME=/home/u", "HSA_OVERRIDE_GFX_VERSION=10.3.0", "PYTORCH_CUDA_ALLOC_CONF=x:1"}, []string{"env"},
			"is skipped: PYTORCH_CUDA_ALLOC_CONF is set",
			map[string]string{"HSA_OVERRIDE_GFX_VERSION": "10.3.0"}},
		{"cpu rung hides and drops the gpu layer", rep, base, 3,
			[]string{"PATH=/bin", "HOME=/home/u", "HSA_OVERRIDE_GFX_VERSION=9.9.9", "ROCR_VISIBLE_DEVICES=", "HIP_VISIBLE_DEVICES=", "CUDA_VISIBLE_DEVICES="}, []string{"cpu"}, "",
			map[string]string{"ROCR_VISIBLE_DEVICES": "", "HIP_VISIBLE_DEVICES": "", "CUDA_VISIBLE_DEVICES": ""}},
		{"unset by the plan", wrong, []string{"HSA_OVERRIDE_GFX_VERSION=10.3.0", "PATH=/bin"}, 1,
			[]string{"PATH=/bin"}, []string{"env"}, "",
			map[string]string{"HSA_OVERRIDE_GFX_VERSION": UnsetMark}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Schedule(tt.n, 3, tt.rep.Plan, l)
			got := BuildEnvironment(tt.base, tt.rep.Plan, r, GPUsInUse(tt.rep), k)
			if !reflect.DeepEqual(got.Env, tt.env) {
				t.Errorf("env\n %q\nwant\n %q", got.Env, tt.env)
			}
			if !reflect.DeepEqual(got.Layers, tt.layers) {
				t.Errorf("layers %v, want %v", got.Layers, tt.layers)
			}
			if !reflect.DeepEqual(got.Settings, tt.settings) {
				t.Errorf("settings %v, want %v", got.Settings, tt.settings)
			}
			joined := strings.Join(got.Skipped, "\n")
			if (tt.skipped == "") != (joined == "") || !strings.Contains(joined, tt.skipped) {
				t.Errorf("skipped %q, want %q", joined, tt.skipped)
			}
		})
	}
}

// TestStepSelector: a step narrowed to other GPUs is skipped, and says so.
func TestStepSelector(t *testing.T) {
	k := testutil.KB(t)
	rep, _ := machine(t, "rx6700xt", assess.PolicyMitigate)
	step := &kb.LadderStep{ID: "cdna-only", Device: kb.LadderGPU, Only: &kb.Selector{Families: []string{"CDNA3"}},
		Settings: []kb.SettingValue{{Setting: "PYTORCH_HIP_ALLOC_CONF", Value: "expandable_segments:True"}}}
	got := BuildEnvironment(nil, rep.Plan, Rung{N: 2, Device: "gpu", Steps: []*kb.LadderStep{step}}, GPUsInUse(rep), k)
	if len(got.Applied) != 0 || len(got.Skipped) != 1 || !strings.Contains(got.Skipped[0], "cdna-only is not for GPU 0 (gfx1031)") {
		t.Errorf("%+v", got)
	}
}

func TestBackoff(t *testing.T) {
	for _, tt := range []struct {
		base time.Duration
		n    int
		want time.Duration
	}{
		{5 * time.Second, 1, 5 * time.Second},
		{5 * time.Second, 2, 10 * time.Second},
		{5 * time.Second, 3, 20 * time.Second},
		{time.Minute, 40, time.Hour},
		{0, 3, 0},
	} {
		if got := backoff(tt.base, tt.n); got != tt.want {
			t.Errorf("backoff(%s, %d) = %s, want %s", tt.base, tt.n, got, tt.want)
		}
	}
}

// TestCPULayerWithoutGPUs: a CPU plan whose layer hides every GPU is the
// cpu layer even on a machine where no GPU was detected; a CPU plan with
// no layer has none.
func TestCPULayerWithoutGPUs(t *testing.T) {
	hide := []assess.EnvVar{{Name: "ROCR_VISIBLE_DEVICES"}, {Name: "HIP_VISIBLE_DEVICES"}}
	tests := []struct {
		name string
		plan assess.Plan
		want []string
	}{
		{"hiding", assess.Plan{Device: assess.DeviceCPU, Env: hide}, []string{"cpu"}},
		{"unsetting is not hiding", assess.Plan{Device: assess.DeviceCPU, Env: []assess.EnvVar{{Name: "ROCR_VISIBLE_DEVICES", Unset: true}}}, []string{"env"}},
		{"no layer", assess.Plan{Device: assess.DeviceCPU}, nil},
	}
	for _, tt := range tests {
		env := BuildEnvironment([]string{"PATH=/bin"}, tt.plan, Rung{N: 1, Device: "cpu"}, nil, testutil.KB(t))
		if !reflect.DeepEqual(env.Layers, tt.want) {
			t.Errorf("%s: layers %v, want %v", tt.name, env.Layers, tt.want)
		}
	}
}
