package cli

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const systemPython = "/usr/bin/python3"

// TestProbeCPU runs probe --quick --configs cpu end to end: the workload
// trains on the CPU, the table or the JSON says so, and every attempt is in
// the history.
func TestProbeCPU(t *testing.T) {
	if err := exec.Command(systemPython, "-c", "import torch").Run(); err != nil {
		t.Skipf("%s cannot import torch: %v", systemPython, err)
	}
	env := runEnv(t)
	db := filepath.Join(t.TempDir(), "history.db")
	stdout, stderr, code := run(t, env, "probe", "--quick", "--configs", "cpu", "--json", "--root", example(t, "no-gpu"), "--history", db)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var doc struct {
		Schema         string `json:"schema"`
		Python         string `json:"python"`
		Iterations     int    `json:"iterations"`
		Configurations []struct {
			Name         string   `json:"name"`
			Device       string   `json:"device"`
			Skipped      *string  `json:"skipped"`
			Attempts     int      `json:"attempts"`
			Crashes      int      `json:"crashes"`
			CrashRate    *float64 `json:"crash_rate"`
			MedianStepMS *float64 `json:"median_step_ms"`
			SpeedupVsCPU *float64 `json:"speedup_vs_cpu"`
			Runs         []struct {
				RunID int64 `json:"run_id"`
			} `json:"runs"`
		} `json:"configurations"`
	}
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatalf("%v\n%s", err, stdout)
	}
	if doc.Schema != "rocm-patch/probe/v1" || doc.Python != systemPython || doc.Iterations != 1 || len(doc.Configurations) != 1 {
		t.Fatalf("document %+v", doc)
	}
	c := doc.Configurations[0]
	if c.Name != "cpu" || c.Device != "cpu" || c.Skipped != nil || c.Attempts != 1 || c.Crashes != 0 || c.CrashRate == nil || c.MedianStepMS == nil || c.SpeedupVsCPU == nil || len(c.Runs) != 1 {
		t.Errorf("cpu row %+v", c)
	}
	if !strings.Contains(stderr, "cpu, attempt 1 of 1: ok") {
		t.Errorf("progress: %s", stderr)
	}
	h := readHistory(t, db)
	if len(h.Runs) != 1 || h.Runs[0].ID != c.Runs[0].RunID || len(h.Runs[0].Attempts) != 1 {
		t.Fatalf("history %+v", h)
	}
	if a := h.Runs[0].Attempts[0]; a.Device != "cpu" || strings.Join(a.Layers, ",") != "cpu" || a.Settings["ROCR_VISIBLE_DEVICES"] != "" {
		t.Errorf("history attempt %+v", a)
	}

	// The table: GPU configurations skipped with the reason, cpu measured.
	stdout, stderr, code = run(t, env, "probe", "--quick", "--configs", "env,cpu", "--root", example(t, "no-gpu"), "--history", db)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, w := range []string{"CONFIGURATION", "env            gpu", "skipped: no AMD GPU visible", "cpu            cpu     1         0        0% (0–79%)", "1.00×"} {
		if !strings.Contains(stdout, w) {
			t.Errorf("table lacks %q:\n%s", w, stdout)
		}
	}
	if h := readHistory(t, db); len(h.Runs) != 2 {
		t.Errorf("%d runs in the history, want 2", len(h.Runs))
	}
}

// TestProbeNoTorch: an interpreter without torch is refused with a plain
// message naming it, before anything runs.
func TestProbeNoTorch(t *testing.T) {
	if _, err := os.Stat(systemPython); err != nil {
		t.Skip("no " + systemPython)
	}
	dir := t.TempDir()
	fake := filepath.Join(dir, "python3")
	// The system interpreter with site-packages off: no torch, whatever
	// the machine has.
	if err := os.WriteFile(fake, []byte("#!/bin/sh\nexec "+systemPython+" -I -S \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	env := append(runEnv(t), "PATH="+dir+":/usr/bin:/bin")
	db := filepath.Join(t.TempDir(), "history.db")
	stdout, stderr, code := run(t, env, "probe", "--quick", "--python", "python3", "--root", example(t, "no-gpu"), "--history", db)
	if code != ExitError || stdout != "" {
		t.Fatalf("exit %d, stdout %q", code, stdout)
	}
	for _, w := range []string{fake + " cannot import torch", "PyTorch is not installed for this interpreter", "--python", "the default is /usr/bin/python3"} {
		if !strings.Contains(stderr, w) {
			t.Errorf("stderr lacks %q: %s", w, stderr)
		}
	}
	if _, err := os.Stat(db); err == nil {
		if h := readHistory(t, db); len(h.Runs) != 0 {
			t.Errorf("history has %d runs", len(h.Runs))
		}
	}
	_, stderr, code = run(t, env, "probe", "--python", filepath.Join(dir, "missing"), "--root", example(t, "no-gpu"))
	if code != ExitError || !strings.Contains(stderr, "--python") || !strings.Contains(stderr, "missing") {
		t.Errorf("missing interpreter: exit %d, %s", code, stderr)
	}
}

func TestProbeUsage(t *testing.T) {
	for _, tt := range []struct {
		args []string
		says string
	}{
		{[]string{"probe", "--configs", "gpu"}, `--configs: unknown configuration "gpu"`},
		{[]string{"probe", "--iterations", "0"}, "--iterations 0"},
		{[]string{"probe", "extra"}, "unknown command"},
	} {
		_, stderr, code := run(t, runEnv(t), tt.args...)
		if code != ExitUsage || !strings.Contains(stderr, tt.says) {
			t.Errorf("%q: exit %d, stderr %q", tt.args, code, stderr)
		}
	}
}
