package probe

import (
	"bytes"
	"encoding/json"
	"flag"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/rocm-patch/rocm-patch/internal/history"
	"github.com/rocm-patch/rocm-patch/internal/report"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func okRun(it int, ms, tput float64) Attempt {
	return Attempt{Iteration: it, Result: history.ResultOK, Output: &Output{Device: "cuda", AMP: "float16", Steps: 5, MedianStepMS: ms, Throughput: tput}}
}

func crashRun(it int, class string) Attempt {
	return Attempt{Iteration: it, Result: history.ResultCrash, ExitCode: -1, Signal: "SIGABRT", Class: class}
}

// fixture is a probe on a GPU that faults without the layer.
func fixture() Result {
	noGPU := "no AMD GPU visible"
	return Result{
		Generated: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC), Python: "/usr/bin/python3", Torch: "2.5.1+rocm6.2", Iterations: 3,
		Workload: Workload{Path: "/c/workload.py", Command: []string{"/usr/bin/python3", "/c/workload.py"}, Size: Quick},
		History:  "/s/history.db",
		Configurations: []Row{
			{Config: ConfigNone, Device: "gpu", Configuration: "none", Runs: []Attempt{crashRun(1, "gpu-memory-fault"), crashRun(2, "gpu-memory-fault"), okRun(3, 20, 50)}},
			{Config: ConfigEnv, Device: "gpu", Configuration: "env", Runs: []Attempt{okRun(1, 10, 100), crashRun(2, ""), okRun(3, 12, 80)}},
			{Config: ConfigEnvShim, Device: "gpu", Configuration: "env+shim", Skipped: &noGPU},
			{Config: ConfigCPU, Device: "cpu", Configuration: "cpu", Runs: []Attempt{
				{Iteration: 1, Result: history.ResultOK, Output: &Output{Device: "cpu", AMP: "off", AMPNote: "this CPU has no native bfloat16", Steps: 5, MedianStepMS: 200, Throughput: 5}},
				{Iteration: 2, Result: history.ResultError, ExitCode: 1},
				{Iteration: 3, Result: history.ResultInterrupted, ExitCode: -1, Signal: "SIGINT"},
			}},
		},
	}
}

func TestSummarize(t *testing.T) {
	r := fixture()
	r.Summarize()
	r.Summarize() // idempotent
	f := func(v float64) *float64 { return &v }
	lo, hi := report.Wilson(2, 3, report.Z95)
	tests := []struct {
		row                                      Row
		attempts, ok, crashes, errors, interrupt int
		rate                                     *float64
		ci                                       [2]float64
		step, tput, speedup                      *float64
		classes                                  []report.ClassCount
	}{
		{r.Configurations[0], 3, 1, 2, 0, 0, f(2.0 / 3), [2]float64{lo, hi}, f(20), f(50), f(10), []report.ClassCount{{Class: "gpu-memory-fault", Crashes: 2}}},
		{r.Configurations[1], 3, 2, 1, 0, 0, f(1.0 / 3), [2]float64{1 - hi, 1 - lo}, f(11), f(90), f(18), []report.ClassCount{{Class: "unclassified", Crashes: 1}}},
		{r.Configurations[2], 0, 0, 0, 0, 0, nil, [2]float64{0, 1}, nil, nil, nil, []report.ClassCount{}},
		{r.Configurations[3], 2, 1, 0, 1, 1, f(0), [2]float64{0, hiZero(2)}, f(200), f(5), f(1), []report.ClassCount{}},
	}
	for _, tt := range tests {
		row := tt.row
		if row.Attempts != tt.attempts || row.OK != tt.ok || row.Crashes != tt.crashes || row.Errors != tt.errors || row.Interrupted != tt.interrupt {
			t.Errorf("%s: counts %d/%d/%d/%d/%d", row.Config, row.Attempts, row.OK, row.Crashes, row.Errors, row.Interrupted)
		}
		if !near(row.CrashRate, tt.rate) || !near(&row.CI95[0], &tt.ci[0]) || !near(&row.CI95[1], &tt.ci[1]) {
			t.Errorf("%s: rate %v ci %v", row.Config, deref(row.CrashRate), row.CI95)
		}
		if !near(row.MedianStepMS, tt.step) || !near(row.Throughput, tt.tput) || !near(row.SpeedupVsCPU, tt.speedup) {
			t.Errorf("%s: step %v tput %v speedup %v", row.Config, deref(row.MedianStepMS), deref(row.Throughput), deref(row.SpeedupVsCPU))
		}
		if len(row.Classes) != len(tt.classes) || len(tt.classes) > 0 && !reflect.DeepEqual(row.Classes, tt.classes) {
			t.Errorf("%s: classes %v", row.Config, row.Classes)
		}
	}
	if got := r.Configurations[3].AMP; got != "off (this CPU has no native bfloat16)" {
		t.Errorf("cpu AMP %q", got)
	}
}

func hiZero(n int) float64 { _, hi := report.Wilson(0, n, report.Z95); return hi }

func near(a, b *float64) bool {
	if a == nil || b == nil {
		return a == b
	}
	return math.Abs(*a-*b) < 1e-9
}

func deref(v *float64) any {
	if v == nil {
		return nil
	}
	return *v
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	file := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(file, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (go test ./internal/probe -update writes it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test ./internal/probe -update rewrites it):\n%s", file, got)
	}
}

func TestWriteGolden(t *testing.T) {
	r := fixture()
	r.Summarize()
	var text, js bytes.Buffer
	if err := WriteText(&text, r); err != nil {
		t.Fatal(err)
	}
	golden(t, "table.txt", text.Bytes())
	if err := WriteJSON(&js, r); err != nil {
		t.Fatal(err)
	}
	golden(t, "probe.json", js.Bytes())
	var doc map[string]any
	if err := json.Unmarshal(js.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc["schema"] != Schema {
		t.Errorf("schema %v", doc["schema"])
	}
	rows := doc["configurations"].([]any)
	if rows[2].(map[string]any)["skipped"] != "no AMD GPU visible" || rows[0].(map[string]any)["skipped"] != nil {
		t.Errorf("skipped: %v / %v", rows[2].(map[string]any)["skipped"], rows[0].(map[string]any)["skipped"])
	}
	if runs := rows[2].(map[string]any)["runs"]; runs == nil {
		t.Error("runs of a skipped configuration is null, want []")
	}
}
