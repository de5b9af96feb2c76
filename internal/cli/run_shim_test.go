package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// shimAttempts reads the attempts of the newest run in db with what the
// shim reported.
func shimAttempts(t *testing.T, db string) []struct {
	Layers []string        `json:"layers"`
	Shim   json.RawMessage `json:"shim"`
} {
	t.Helper()
	out, stderr, code := run(t, runEnv(t), "history", "--json", "--history", db)
	if code != ExitOK {
		t.Fatalf("history exit %d: %s", code, stderr)
	}
	// history --json is indented; the shim reports are compacted here.
	out = compactJSON(t, out)
	var doc struct {
		Runs []struct {
			Attempts []struct {
				Layers []string        `json:"layers"`
				Shim   json.RawMessage `json:"shim"`
			} `json:"attempts"`
		} `json:"runs"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil || len(doc.Runs) == 0 {
		t.Fatalf("history --json: %v\n%s", err, out)
	}
	return doc.Runs[0].Attempts
}

func compactJSON(t *testing.T, s string) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(s)); err != nil {
		t.Fatalf("%v\n%s", err, s)
	}
	return b.String()
}

// TestRunShimEnvironment: the child finds the shim first on PYTHONPATH
// with its settings; --no-shim leaves all of it out; the flags are checked.
func TestRunShimEnvironment(t *testing.T) {
	env := runEnv(t)
	home := strings.TrimPrefix(env[1], "HOME=")
	env = append(env, "PYTHONPATH=/mine")
	script := `echo "$PYTHONPATH|${ROCM_PATCH_MEMORY_FRACTION-unset}|${ROCM_PATCH_SHIM_POLICY-unset}"`
	db := filepath.Join(t.TempDir(), "history.db")

	stdout, stderr, code := run(t, env, "run", "-q", "--root", example(t, "rx6700xt"), "--history", db, "--memory-fraction", "0.6", "--shim-policy", "raise", "--", "sh", "-c", script)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	parts := strings.Split(strings.TrimSpace(stdout), "|")
	shimRoot := filepath.Join(home, ".cache", "rocm-patch", "shim") + string(filepath.Separator)
	if len(parts) != 3 || !strings.HasPrefix(parts[0], shimRoot) || !strings.HasSuffix(parts[0], ":/mine") || parts[1] != "0.6" || parts[2] != "raise" {
		t.Fatalf("the child saw %q", stdout)
	}
	if _, err := os.Stat(filepath.Join(strings.TrimSuffix(parts[0], ":/mine"), "sitecustomize.py")); err != nil {
		t.Errorf("the shim folder on PYTHONPATH has no sitecustomize.py: %v", err)
	}
	atts := shimAttempts(t, db)
	if len(atts) != 1 || strings.Join(atts[0].Layers, ",") != "env,shim" || !strings.Contains(string(atts[0].Shim), `"loaded":false`) {
		t.Errorf("history: %+v", atts)
	}

	stdout, stderr, code = run(t, env, "run", "-q", "--root", example(t, "rx6700xt"), "--history", db, "--no-shim", "--", "sh", "-c", script)
	if code != 0 || stdout != "/mine|unset|unset\n" {
		t.Fatalf("--no-shim: exit %d, the child saw %q: %s", code, stdout, stderr)
	}
	if atts := shimAttempts(t, db); len(atts) != 1 || strings.Join(atts[0].Layers, ",") != "env" || string(atts[0].Shim) != "null" {
		t.Errorf("--no-shim history: %+v", atts)
	}

	for _, tt := range []struct {
		args []string
		says string
	}{
		{[]string{"--memory-fraction", "0"}, "--memory-fraction 0: want 0 < F <= 1"},
		{[]string{"--memory-fraction", "1.5"}, "--memory-fraction 1.5"},
		{[]string{"--memory-fraction", "NaN"}, "--memory-fraction NaN"},
		{[]string{"--shim-policy", "ignore"}, "--shim-policy"},
	} {
		_, stderr, code := run(t, runEnv(t), append(append([]string{"run"}, tt.args...), "--", "true")...)
		if code != ExitUsage || !strings.Contains(stderr, tt.says) {
			t.Errorf("%q: exit %d, stderr %q", tt.args, code, stderr)
		}
	}
}

// TestRunShimBrokenCache: a cache the shim cannot be installed in costs a
// warning, not the run.
func TestRunShimBrokenCache(t *testing.T) {
	cache := filepath.Join(t.TempDir(), "cache")
	if err := os.WriteFile(cache, []byte("a file, not a folder"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := append(runEnv(t), "XDG_CACHE_HOME="+cache)
	db := filepath.Join(t.TempDir(), "history.db")
	stdout, stderr, code := run(t, env, "run", "-q", "--root", example(t, "no-gpu"), "--history", db, "--", "sh", "-c", `echo "[$PYTHONPATH]"`)
	if code != 0 || stdout != "[]\n" || !strings.Contains(stderr, "the Python shim is off for this run") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

// TestRunShimReportInHistory: a real torch under the real shim, forced to
// wrap without a GPU and told to fail its first allocation, falls back to
// the CPU once, and the history's attempt says so.
func TestRunShimReportInHistory(t *testing.T) {
	const python = "/usr/bin/python3"
	if err := exec.Command(python, "-c", "import torch").Run(); err != nil {
		t.Skipf("%s cannot import torch: %v", python, err)
	}
	env := append(runEnv(t), "ROCM_PATCH_SHIM_FORCE=1", "ROCM_PATCH_SHIM_TEST_FAIL=1")
	db := filepath.Join(t.TempDir(), "history.db")
	stdout, stderr, code := run(t, env, "run", "-q", "--root", example(t, "rx6700xt"), "--history", db, "--",
		python, "-c", "import torch; print(torch.zeros(3).device)")
	if code != 0 || stdout != "cpu\n" {
		t.Fatalf("exit %d, stdout %q: %s", code, stdout, stderr)
	}
	atts := shimAttempts(t, db)
	if len(atts) != 1 {
		t.Fatalf("%d attempts", len(atts))
	}
	var rep struct {
		Loaded    bool           `json:"loaded"`
		Wrapped   bool           `json:"wrapped"`
		Fallbacks int            `json:"fallbacks"`
		ByOp      map[string]int `json:"by_op"`
	}
	if err := json.Unmarshal(atts[0].Shim, &rep); err != nil {
		t.Fatalf("shim %s: %v", atts[0].Shim, err)
	}
	if !rep.Loaded || !rep.Wrapped || rep.Fallbacks != 1 || rep.ByOp["torch.zeros"] != 1 {
		t.Errorf("shim report %s", atts[0].Shim)
	}
	if !strings.Contains(stderr, "attempt 1: shim: torch") || !strings.Contains(stderr, "1 fallbacks") {
		t.Errorf("the fallback was not reported with -q: %s", stderr)
	}
}
