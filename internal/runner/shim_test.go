package runner

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/rocm-patch/rocm-patch/internal/assess"
	"github.com/rocm-patch/rocm-patch/internal/history"
	"github.com/rocm-patch/rocm-patch/internal/shim"
)

// shimLine is one shim.jsonl event as the Python side writes it: a torch
// call that fell back to the CPU.
const shimLine = `{"event":"status","pid":42,"torch_version":"2.5.1+rocm6.2","hip_version":"6.2","device":"gpu","policy":"fallback","wrapped":true,"fallbacks":1,"by_op":{"torch.zeros":1}}`

// TestShimOnEveryAttempt: the shim's variables reach every attempt, it is a
// layer of the GPU attempts only, and each attempt's own shim.jsonl lands
// in its history row and beside its log.
func TestShimOnEveryAttempt(t *testing.T) {
	f := newFixture(t, "rx6700xt", assess.PolicyMitigate)
	shimDir := filepath.Join(t.TempDir(), "shim", "v1")
	f.opts.Environ = append(f.opts.Environ, "PYTHONPATH=/user/lib")
	f.opts.Shim = &Shim{Dir: shim.Dir{Path: shimDir, Version: "v1"}, Options: shim.Options{Policy: shim.PolicyRetry, MemoryFraction: 0.5}}
	// Attempt 1 reports a fallback and faults; attempt 2 reports nothing
	// and faults; attempt 3 (CPU) succeeds.
	script := `test "$ROCM_PATCH_ATTEMPT" = 1 && echo '` + shimLine + `' >> "$ROCM_PATCH_RUN_DIR/shim.jsonl"
test "$ROCM_PATCH_ATTEMPT" = 3 && exit 0
exec "$0" -env "$1" fault`
	f.opts.Argv = []string{"/bin/sh", "-c", script, testprog, f.envFile}
	res := f.run(t)
	if res.ExitCode != 0 || res.Outcome != history.OutcomeFallbackCPUOK {
		t.Fatalf("exit %d, outcome %s\n%s", res.ExitCode, res.Outcome, f.msg)
	}
	envs := f.envs(t)
	if len(envs) != 2 {
		t.Fatalf("%d children recorded their environment", len(envs))
	}
	for i, env := range envs {
		want := map[string]string{
			"PYTHONPATH": shimDir + ":/user/lib", "ROCM_PATCH_SHIM_POLICY": "retry", "ROCM_PATCH_MEMORY_FRACTION": "0.5",
			"ROCM_PATCH_ALLOC_CONF": "", "ROCM_PATCH_DEVICE": "gpu", "ROCM_PATCH_RUN_DIR": res.RunDir,
		}
		for k, v := range want {
			if got, ok := env[k]; !ok || got != v {
				t.Errorf("attempt %d: %s = %q (set %t), want %q", i+1, k, got, ok, v)
			}
		}
	}
	runs := f.runs(t)
	if len(runs) != 1 || len(runs[0].Attempts) != 3 {
		t.Fatalf("history %+v", runs)
	}
	atts := runs[0].Attempts
	wantLayers := [][]string{{"env", "shim"}, {"env", "allocator", "shim"}, {"cpu"}}
	for i, a := range atts {
		if !reflect.DeepEqual(a.Layers, wantLayers[i]) {
			t.Errorf("attempt %d layers %v, want %v", i+1, a.Layers, wantLayers[i])
		}
		var rep shim.Report
		if err := json.Unmarshal(a.Shim, &rep); err != nil {
			t.Fatalf("attempt %d shim %s: %v", i+1, a.Shim, err)
		}
		wantFallbacks := 0
		if i == 0 {
			wantFallbacks = 1
		}
		if rep.Loaded != (i == 0) || rep.Fallbacks != wantFallbacks {
			t.Errorf("attempt %d shim report %s", i+1, a.Shim)
		}
	}
	if atts[0].Settings["ROCM_PATCH_SHIM_POLICY"] != "retry" || atts[0].Settings["ROCM_PATCH_MEMORY_FRACTION"] != "0.5" {
		t.Errorf("attempt 1 settings %v", atts[0].Settings)
	}
	if _, ok := atts[2].Settings["ROCM_PATCH_SHIM_POLICY"]; ok {
		t.Errorf("the CPU attempt records shim settings: %v", atts[2].Settings)
	}
	if _, err := os.Stat(filepath.Join(res.RunDir, "attempt-1.shim.jsonl")); err != nil {
		t.Errorf("attempt 1's shim report was not kept: %v", err)
	}
	if _, err := os.Stat(filepath.Join(res.RunDir, shim.ReportFile)); err == nil {
		t.Error("shim.jsonl is left in the run directory")
	}
	wantContains(t, "messages", f.msg.String(), "attempt 1: shim: torch 2.5.1+rocm6.2 (HIP 6.2), gpu", "fallback: 1 fallbacks (torch.zeros 1)")
}

// TestNoShim: without Options.Shim nothing of the shim reaches the child
// or the history.
func TestNoShim(t *testing.T) {
	f := newFixture(t, "no-gpu", assess.PolicyMitigate)
	f.opts.Argv = f.child("exit", "0")
	res := f.run(t)
	if res.ExitCode != 0 {
		t.Fatalf("exit %d\n%s", res.ExitCode, f.msg)
	}
	for k := range f.envs(t)[0] {
		switch k {
		case "PYTHONPATH", shim.EnvPolicy, shim.EnvMemoryFraction, shim.EnvAllocConf:
			t.Errorf("the child sees %s without the shim", k)
		}
	}
	if a := f.runs(t)[0].Attempts[0]; a.Shim != nil || len(a.Layers) != 0 {
		t.Errorf("attempt %+v", a)
	}
}
