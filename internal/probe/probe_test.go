package probe

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/rocm-patch/rocm-patch/internal/testutil"

	"github.com/rocm-patch/rocm-patch/internal/history"
)

// systemPython is the interpreter with torch on the development machines
// and in CI; tests that need torch skip without it.
const systemPython = DefaultPython

// tiny is smaller than Quick: the tests measure nothing.
var tiny = Size{Steps: 2, Warmup: 0, Batch: 32, Channels: 4, Samples: 64}

func needTorch(t *testing.T) {
	t.Helper()
	if err := exec.Command(systemPython, "-c", "import torch").Run(); err != nil {
		t.Skipf("%s cannot import torch: %v", systemPython, err)
	}
}

// TestRunCPUEndToEnd runs every configuration on an example machine with
// an RX 6700 XT this machine does not have: torch, asked once, sees no
// GPU, so the GPU configurations are skipped with that reason, and the
// cpu configuration trains, is timed and lands in the history.
func TestRunCPUEndToEnd(t *testing.T) {
	needTorch(t)
	rep, sys := machine(t, "rx6700xt")
	tmp := t.TempDir()
	wl, err := InstallWorkload(filepath.Join(tmp, "cache"))
	if err != nil {
		t.Fatal(err)
	}
	dbPath := filepath.Join(tmp, "state", "history.db")
	db, err := history.Open(context.Background(), dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var progress []string
	res, err := Run(context.Background(), Options{
		Python: systemPython, Workload: wl, Size: tiny, Quick: true, Iterations: 1, Configs: Configs,
		Environ: []string{"PATH=/usr/bin:/bin", "HOME=" + tmp},
		Report:  rep, System: sys, KB: testutil.KB(t),
		History: db, HistoryPath: dbPath, RunsDir: filepath.Join(tmp, "state", "runs"),
		Progress: func(p Progress) {
			progress = append(progress, string(p.Config)+map[bool]string{true: " done", false: " start"}[p.Attempt != nil])
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(progress, []string{"cpu start", "cpu done"}) {
		t.Errorf("progress %v", progress)
	}
	if len(res.Configurations) != 4 || res.Torch == "" {
		t.Fatalf("result %+v", res)
	}
	for _, row := range res.Configurations[:3] {
		if row.Skipped == nil || !strings.HasPrefix(*row.Skipped, "torch sees no GPU") || len(row.Runs) != 0 {
			t.Errorf("%s: %+v", row.Config, row)
		}
	}
	cpu := res.Configurations[3]
	if cpu.Skipped != nil || cpu.Attempts != 1 || cpu.OK != 1 || cpu.MedianStepMS == nil || cpu.Throughput == nil || *cpu.SpeedupVsCPU != 1 {
		t.Fatalf("cpu row %+v\nlog: %s", cpu, readLog(cpu))
	}
	a := cpu.Runs[0]
	if a.Output == nil || a.Output.Device != "cpu" || a.Output.Steps != tiny.Steps || a.RunID == 0 || a.Shim != nil {
		t.Errorf("cpu attempt %+v", a)
	}
	runs, err := db.Runs(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 1 || len(runs[0].Attempts) != 1 || runs[0].ID != a.RunID {
		t.Fatalf("history %+v", runs)
	}
	h := runs[0]
	ha := h.Attempts[0]
	if !reflect.DeepEqual(h.Command, res.Workload.Command) || h.Dir != filepath.Dir(wl) || h.Outcome != history.OutcomeOK {
		t.Errorf("history run %+v", h)
	}
	if ha.Device != "cpu" || ha.Configuration() != "cpu" || ha.ThroughputUnit != "steps/s" || ha.Throughput == nil || ha.Settings["ROCR_VISIBLE_DEVICES"] != "" {
		t.Errorf("history attempt %+v", ha)
	}
}

func readLog(r Row) string {
	if len(r.Runs) == 0 {
		return ""
	}
	b, _ := os.ReadFile(r.Runs[0].LogPath)
	return string(b)
}

// TestCheckTorch: an interpreter without torch is named in a plain error;
// one that does not exist too; the system one passes without importing
// torch.
func TestCheckTorch(t *testing.T) {
	tmp := t.TempDir()
	wl, err := InstallWorkload(tmp)
	if err != nil {
		t.Fatal(err)
	}
	// A python without torch: the same interpreter, told to find no
	// packages but the standard library's.
	fake := filepath.Join(tmp, "python-without-torch")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\nexec "+systemPython+" -I -S \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	env := []string{"PATH=/usr/bin:/bin"}
	_, err = CheckTorch(context.Background(), fake, wl, env)
	if !errors.Is(err, ErrNoTorch) || !strings.Contains(err.Error(), fake) || !strings.Contains(err.Error(), "PyTorch is not installed") {
		t.Errorf("python without torch: %v", err)
	}
	if _, err := CheckTorch(context.Background(), filepath.Join(tmp, "nope"), wl, env); !errors.Is(err, ErrNoPython) {
		t.Errorf("missing python: %v", err)
	}
	if _, err := exec.LookPath(systemPython); err == nil {
		if c, err := CheckTorch(context.Background(), systemPython, wl, env); err == nil && c.Torch != "present" {
			t.Errorf("torch was imported, or misreported: %+v", c)
		}
	}
}

func TestResolvePython(t *testing.T) {
	tmp := t.TempDir()
	py := filepath.Join(tmp, "bin", "python3")
	os.MkdirAll(filepath.Dir(py), 0o755)
	os.WriteFile(py, []byte("#!/bin/sh\n"), 0o755)
	os.WriteFile(filepath.Join(tmp, "bin", "notexec"), nil, 0o644)
	env := []string{"PATH=relative:" + filepath.Join(tmp, "bin") + ":/nonexistent"}
	tests := []struct {
		name, want string
		err        bool
	}{
		{"python3", py, false},
		{py, py, false},
		{"notexec", "", true},
		{filepath.Join(tmp, "bin"), "", true},
		{"missing", "", true},
		{"", "", true},
	}
	for _, tt := range tests {
		got, err := ResolvePython(tt.name, env)
		if got != tt.want || (err != nil) != tt.err || err != nil && !errors.Is(err, ErrNoPython) {
			t.Errorf("ResolvePython(%q) = %q, %v", tt.name, got, err)
		}
	}
}

func TestInstallWorkload(t *testing.T) {
	root := t.TempDir()
	p, err := InstallWorkload(root)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(root, "rocm-patch", "probe", WorkloadVersion(), WorkloadName); p != want {
		t.Errorf("path %s, want %s", p, want)
	}
	// An edited copy is replaced; an intact one is left as it is.
	os.WriteFile(p, []byte("edited"), 0o644)
	if _, err := InstallWorkload(root); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != string(workloadPy) {
		t.Error("an edited workload was kept")
	}
	if _, err := InstallWorkload(filepath.Join(p, "under-a-file")); err == nil {
		t.Error("installing under a file: no error")
	}
}

func TestRunRefusesBadOptions(t *testing.T) {
	rep, _ := machine(t, "no-gpu")
	good := Options{Python: "/p", Workload: "/w", Iterations: 1, Configs: []Config{ConfigCPU}, Report: rep, KB: testutil.KB(t)}
	for name, o := range map[string]Options{
		"no python":     func() Options { o := good; o.Python = ""; return o }(),
		"no report":     func() Options { o := good; o.Report = nil; return o }(),
		"no iterations": func() Options { o := good; o.Iterations = 0; return o }(),
		"no configs":    func() Options { o := good; o.Configs = nil; return o }(),
	} {
		if _, err := Run(context.Background(), o); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
