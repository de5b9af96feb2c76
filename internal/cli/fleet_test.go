package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rocm-patch/rocm-patch/internal/fleet"
	"github.com/rocm-patch/rocm-patch/internal/history"
)

var fleetT0 = time.Date(2025, 3, 1, 9, 30, 0, 0, time.UTC)

// fleetAttempt is one recorded attempt: a crash when signal or class is set.
func fleetAttempt(n int, device, signal, class string, exit int) history.Attempt {
	return history.Attempt{N: n, Device: device, Started: fleetT0, Duration: time.Minute, ExitCode: exit, Signal: signal, Class: class}
}

// writeFleetHistory records runs through the history package, as
// rocm-patch run would, and returns the file. Run i starts i hours after
// fleetT0.
func writeFleetHistory(t *testing.T, runs ...[]history.Attempt) string {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "history.db")
	db, err := history.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for i, attempts := range runs {
		start := fleetT0.Add(time.Duration(i) * time.Hour)
		id, err := db.BeginRun(ctx, history.Run{Command: []string{"python", "train.py"}, Dir: "/work", Started: start, Policy: "mitigate"})
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range attempts {
			a.Started = start
			if err := db.RecordAttempt(ctx, id, a); err != nil {
				t.Fatal(err)
			}
		}
		if err := db.FinishRun(ctx, id, history.DecideOutcome(attempts, false), start.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

// crashyHistory: 4 runs, 5 GPU attempts, 2 crashes, one fallback to the CPU.
func crashyHistory(t *testing.T) string {
	gpuFault := fleetAttempt(1, history.DeviceGPU, "SIGABRT", "gpu-memory-fault", -1)
	second := fleetAttempt(2, history.DeviceGPU, "SIGSEGV", "", -1)
	second.Layers = []string{"env"}
	cpu := fleetAttempt(3, history.DeviceCPU, "", "", 0)
	cpu.Layers = []string{"cpu"}
	ok := fleetAttempt(1, history.DeviceGPU, "", "", 0)
	ok.Layers = []string{"env"}
	return writeFleetHistory(t,
		[]history.Attempt{gpuFault, second, cpu},
		[]history.Attempt{ok},
		[]history.Attempt{ok},
		[]history.Attempt{ok},
	)
}

var labelLine = regexp.MustCompile(`^(rocm-patch\.io/[^=]+)=(.*)$`)

// checkFeatureFile checks every line by the local feature file grammar (the
// full NFD parser lives in internal/fleet's tests) and returns the labels.
func checkFeatureFile(t *testing.T, data string) map[string]string {
	t.Helper()
	if len(data) > fleet.MaxFeatureFileSize || !strings.HasSuffix(data, "\n") {
		t.Fatalf("%d bytes, final newline %v", len(data), strings.HasSuffix(data, "\n"))
	}
	labels := map[string]string{}
	for _, line := range strings.Split(strings.TrimSuffix(data, "\n"), "\n") {
		if strings.HasPrefix(line, "#") {
			if d, ok := strings.CutPrefix(line, "# +"); ok && !strings.HasPrefix(d, "expiry-time=") {
				t.Errorf("unexpected directive %q", line)
			}
			continue
		}
		m := labelLine.FindStringSubmatch(line)
		if m == nil {
			t.Errorf("not a rocm-patch.io label: %q", line)
			continue
		}
		if err := fleet.ValidateLabelName(m[1]); err != nil {
			t.Error(err)
		}
		if err := fleet.ValidateLabelValue(m[2]); err != nil {
			t.Error(err)
		}
		labels[strings.TrimPrefix(m[1], fleet.LabelPrefix)] = m[2]
	}
	return labels
}

// TestFleetNFDExamples pins the labels of the example machines, with and
// without a history.
func TestFleetNFDExamples(t *testing.T) {
	hist := crashyHistory(t)
	missing := filepath.Join(t.TempDir(), "none", "history.db")
	tests := []struct {
		machine, policy string
		withHistory     bool
		want            map[string]string
	}{
		{"rx6700xt", "mitigate", true, map[string]string{"gpu.family": "RDNA2", "gpu.gfx": "gfx1031", "risk": "high", "crash.percent": "40", "crash.attempts": "5"}},
		{"rx6700xt", "cpu", false, map[string]string{"policy": "cpu", "device": "cpu"}},
		{"rx5700xt", "mitigate", false, map[string]string{"gpu.family": "RDNA1", "gpu.gfx": "gfx1010", "gpu.family.RDNA1": "true"}},
		{"laptop-780m-rx6800m", "mitigate", true, map[string]string{"gpu.count": "2", "gpu.family": "RDNA2", "gpu.family.RDNA3": "true"}},
		{"rx7900xtx", "mitigate", false, map[string]string{"gpu.family": "RDNA3", "gpu.gfx": "gfx1100"}},
		{"eight-mi300x", "mitigate", false, map[string]string{"gpu.count": "8", "gpu.family": "CDNA3", "risk": "none"}},
		{"no-gpu", "mitigate", false, map[string]string{"gpu.count": "0", "device": "cpu"}},
		{"rx6600-wsl", "mitigate", false, map[string]string{"gpu.count": "0", "risk": "medium"}},
	}
	for _, tt := range tests {
		t.Run(tt.machine+"/"+tt.policy, func(t *testing.T) {
			h := missing
			name := tt.machine
			if tt.policy != "mitigate" {
				name += "." + tt.policy
			}
			if tt.withHistory {
				h = hist
				name += ".history"
			}
			dir := filepath.Join(repoRoot(t), "examples", "systems", tt.machine)
			out, stderr, code := run(t, noHostIDs, "fleet", "nfd", "--print", "--expiry", "0", "--policy", tt.policy, "--root", dir, "--history", h)
			if code != ExitOK {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			if stderr != "" {
				t.Errorf("stderr: %s", stderr)
			}
			golden(t, "fleet/"+name+".nfd", out)
			got := checkFeatureFile(t, out)
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s = %q, want %q", k, got[k], v)
				}
			}
			if _, ok := got["crash.percent"]; ok != tt.withHistory {
				t.Errorf("crash.percent present %v with history %v", ok, tt.withHistory)
			}
			if strings.Contains(out, "expiry-time") {
				t.Error("--expiry 0 wrote an expiry")
			}
		})
	}
}

// TestFleetNFDWrite writes into a folder as the DaemonSet does.
func TestFleetNFDWrite(t *testing.T) {
	dir := t.TempDir()
	machine := filepath.Join(repoRoot(t), "examples", "systems", "rx6700xt")
	before := time.Now()
	out, stderr, code := run(t, noHostIDs, "fleet", "nfd", "--dir", dir, "--expiry", "90m", "--root", machine, "--history", crashyHistory(t))
	if code != ExitOK || out != "" {
		t.Fatalf("exit %d, stdout %q: %s", code, out, stderr)
	}
	data, err := os.ReadFile(filepath.Join(dir, fleet.FeatureFileName))
	if err != nil {
		t.Fatal(err)
	}
	labels := checkFeatureFile(t, string(data))
	if labels["crash.percent"] != "40" {
		t.Errorf("labels %v", labels)
	}
	m := regexp.MustCompile(`(?m)^# \+expiry-time=(\S+)$`).FindStringSubmatch(string(data))
	if m == nil {
		t.Fatalf("no expiry:\n%s", data)
	}
	expiry, err := time.Parse(time.RFC3339, m[1])
	if err != nil {
		t.Fatal(err)
	}
	if lo, hi := before.Add(90*time.Minute-time.Second), time.Now().Add(90*time.Minute); expiry.Before(lo) || expiry.After(hi) {
		t.Errorf("expiry %v not 90 minutes from now", expiry)
	}
	if strings.Index(string(data), "# +expiry-time=") > strings.Index(string(data), "rocm-patch.io/") {
		t.Error("the expiry comes after labels it should cover")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("folder holds %d entries (a temporary file left?)", len(entries))
	}
}

func TestFleetErrors(t *testing.T) {
	machine := filepath.Join(repoRoot(t), "examples", "systems", "rx6700xt")
	missingDir := filepath.Join(t.TempDir(), "features.d")
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"force policy", []string{"fleet", "nfd", "--print", "--policy", "force-gpu-unsafe"}, ExitUsage, "--policy"},
		{"negative expiry", []string{"fleet", "nfd", "--print", "--expiry", "-1h"}, ExitUsage, "--expiry"},
		{"bad expiry", []string{"fleet", "nfd", "--print", "--expiry", "soon"}, ExitUsage, "expiry"},
		{"no runs", []string{"fleet", "nfd", "--print", "--runs", "0"}, ExitUsage, "--runs"},
		{"empty history", []string{"fleet", "nfd", "--print", "--history", ""}, ExitUsage, "--history"},
		{"missing folder", []string{"fleet", "nfd", "--root", machine, "--dir", missingDir, "--history", "/nonexistent"}, ExitError, missingDir},
		{"metrics needs a target", []string{"fleet", "metrics", "--root", machine}, ExitUsage, "--textfile"},
		{"missing textfile folder", []string{"fleet", "metrics", "--root", machine, "--textfile", missingDir, "--history", "/nonexistent"}, ExitError, missingDir},
		{"unknown subcommand", []string{"fleet", "slurm"}, ExitUsage, ""},
		{"stray argument", []string{"fleet", "nfd", "--print", "extra"}, ExitUsage, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, stderr, code := run(t, noHostIDs, tt.args...)
			if code != tt.code || !strings.Contains(stderr, tt.stderr) {
				t.Errorf("exit %d, want %d; stderr %q should name %q", code, tt.code, stderr, tt.stderr)
			}
		})
	}
	if _, err := os.Stat(missingDir); err == nil {
		t.Error("a missing folder was created")
	}
}

// TestFleetBadHistory: a history that cannot be read costs the crash
// labels and a warning, not the node's other labels.
func TestFleetBadHistory(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "history.db")
	if err := os.WriteFile(bad, []byte("this is not SQLite, and it is long enough to have a header\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	machine := filepath.Join(repoRoot(t), "examples", "systems", "rx6700xt")
	out, stderr, code := run(t, noHostIDs, "fleet", "nfd", "--print", "--expiry", "0", "--root", machine, "--history", bad)
	if code != ExitOK || !strings.Contains(stderr, bad) {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	labels := checkFeatureFile(t, out)
	if labels["risk"] != "high" || labels["crash.percent"] != "" {
		t.Errorf("labels %v", labels)
	}
	if got, _ := os.ReadFile(bad); !strings.HasPrefix(string(got), "this is not SQLite") {
		t.Error("the bad history was changed")
	}
}

// TestFleetHistories: several histories add up; a missing one is skipped
// and not created.
func TestFleetHistories(t *testing.T) {
	crash := fleetAttempt(1, history.DeviceGPU, "SIGABRT", "gpu-memory-fault", -1)
	ok := fleetAttempt(1, history.DeviceGPU, "", "", 0)
	a := writeFleetHistory(t, []history.Attempt{crash}, []history.Attempt{ok})
	b := writeFleetHistory(t, []history.Attempt{ok}, []history.Attempt{ok})
	missing := filepath.Join(t.TempDir(), "missing.db")
	machine := filepath.Join(repoRoot(t), "examples", "systems", "rx6700xt")
	out, stderr, code := run(t, noHostIDs, "fleet", "nfd", "--print", "--root", machine, "--history", a, "--history", missing, "--history", b)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	labels := checkFeatureFile(t, out)
	if labels["crash.percent"] != "25" || labels["crash.attempts"] != "4" {
		t.Errorf("labels %v", labels)
	}
	if _, err := os.Stat(missing); err == nil {
		t.Error("reading a missing history created it")
	}
	out, _, _ = run(t, noHostIDs, "fleet", "nfd", "--print", "--root", machine, "--history", a, "--history", b, "--runs", "1")
	// Both histories' first runs start at the same time; the newest single
	// run is one of the two second runs, both clean.
	if labels := checkFeatureFile(t, out); labels["crash.percent"] != "0" || labels["crash.attempts"] != "1" {
		t.Errorf("--runs 1: %v", labels)
	}
}

// TestFleetDefaultHistory: without --history the default path is read,
// from XDG_STATE_HOME.
func TestFleetDefaultHistory(t *testing.T) {
	hist := crashyHistory(t)
	state := t.TempDir()
	if err := os.MkdirAll(filepath.Join(state, "rocm-patch"), 0o700); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(hist)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(state, "rocm-patch", history.FileName), data, 0o600); err != nil {
		t.Fatal(err)
	}
	machine := filepath.Join(repoRoot(t), "examples", "systems", "rx6700xt")
	env := append([]string{"XDG_STATE_HOME=" + state}, noHostIDs...)
	out, stderr, code := run(t, env, "fleet", "nfd", "--print", "--root", machine)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if labels := checkFeatureFile(t, out); labels["crash.percent"] != "40" {
		t.Errorf("labels %v", labels)
	}
	// No HOME, no XDG_STATE_HOME: no history, no error.
	out, _, code = run(t, noHostIDs, "fleet", "nfd", "--print", "--root", machine)
	if labels := checkFeatureFile(t, out); code != ExitOK || labels["crash.percent"] != "" {
		t.Errorf("exit %d, labels %v", code, labels)
	}
}

// TestFleetMetrics writes the textfile and pins its content.
func TestFleetMetrics(t *testing.T) {
	hist := crashyHistory(t)
	dir := t.TempDir()
	machine := filepath.Join(repoRoot(t), "examples", "systems", "rx6700xt")
	out, stderr, code := run(t, noHostIDs, "fleet", "metrics", "--textfile", dir, "--print", "--root", machine, "--history", hist)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	golden(t, "fleet/rx6700xt.history.prom", out)
	data, err := os.ReadFile(filepath.Join(dir, fleet.MetricsFileName))
	if err != nil || string(data) != out {
		t.Fatalf("file differs from --print: %v", err)
	}
	for _, want := range []string{
		`rocm_patch_attempts_total{config="none",device="gpu",result="crash"} 1`,
		`rocm_patch_attempts_total{config="env",device="gpu",result="ok"} 3`,
		`rocm_patch_crashes_total{config="none",device="gpu",class="gpu-memory-fault"} 1`,
		`rocm_patch_crashes_total{config="env",device="gpu",class="unclassified"} 1`,
		"rocm_patch_cpu_fallbacks_total 1\n",
		"rocm_patch_last_run_timestamp_seconds 1740832200\n",
		"rocm_patch_recent_gpu_crash_ratio 0.4\n",
		"rocm_patch_risk 3\n",
		`rocm_patch_gpus{family="RDNA2",gfx="gfx1031"} 1`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("lacks %q", want)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("folder holds %d entries", len(entries))
	}
	// Without a history: the node's gauges only.
	out, _, code = run(t, noHostIDs, "fleet", "metrics", "--print", "--root", filepath.Join(repoRoot(t), "examples", "systems", "no-gpu"), "--history", filepath.Join(dir, "none.db"))
	if code != ExitOK || !strings.Contains(out, "rocm_patch_history_read 0\n") || !strings.Contains(out, "rocm_patch_risk 0\n") || strings.Contains(out, "attempts_total") {
		t.Errorf("exit %d:\n%s", code, out)
	}
}

// TestEnvSlurmTaskProlog: on every example and policy, the TaskProlog form
// holds only comments, export and unset lines, and sets what the JSON form
// says, byte for byte as slurmstepd reads it (the value runs to the end of
// the line).
func TestEnvSlurmTaskProlog(t *testing.T) {
	for _, name := range exampleMachines(t) {
		dir := filepath.Join(repoRoot(t), "examples", "systems", name)
		for _, policy := range []string{"mitigate", "cpu"} {
			out, stderr, code := run(t, noHostIDs, "env", "--shell", "slurm-taskprolog", "--policy", policy, "--root", dir)
			if code != ExitOK {
				t.Fatalf("%s %s: exit %d: %s", name, policy, code, stderr)
			}
			js, _, _ := run(t, noHostIDs, "env", "--shell", "json", "--policy", policy, "--root", dir)
			var doc envJSON
			if err := json.Unmarshal([]byte(js), &doc); err != nil {
				t.Fatal(err)
			}
			env := map[string]string{}
			unset := map[string]bool{}
			for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
				switch {
				case line == "" || strings.HasPrefix(line, "#"):
				case strings.HasPrefix(line, "export "):
					k, v, ok := strings.Cut(strings.TrimPrefix(line, "export "), "=")
					if !ok {
						t.Errorf("%s: %q", name, line)
					}
					env[k] = v
				case strings.HasPrefix(line, "unset "):
					unset[strings.TrimPrefix(line, "unset ")] = true
				default:
					t.Errorf("%s %s: a line Slurm would not read as intended: %q", name, policy, line)
				}
			}
			if len(env)+len(unset) != len(doc.Variables) {
				t.Errorf("%s %s: %d exports, %d unsets, %d variables", name, policy, len(env), len(unset), len(doc.Variables))
			}
			for _, v := range doc.Variables {
				if v.Value == nil {
					if !unset[v.Name] {
						t.Errorf("%s %s: %s not unset", name, policy, v.Name)
					}
				} else if got, ok := env[v.Name]; !ok || got != *v.Value {
					t.Errorf("%s %s: %s=%q, want %q", name, policy, v.Name, got, *v.Value)
				}
			}
		}
	}
}
