package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// exampleMachines lists the example trees under examples/systems.
func exampleMachines(t *testing.T) []string {
	t.Helper()
	dir := filepath.Join(repoRoot(t), "examples", "systems")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	if len(out) < 6 {
		t.Fatalf("only %d example machines", len(out))
	}
	return out
}

// noHostIDs keeps the output independent of this machine's libdrm.
var noHostIDs = []string{"ROCM_PATCH_NO_HOST_IDS=1"}

// doctorJSON is the part of rocm-patch/doctor/v1 the tests read.
type doctorJSON struct {
	Schema string `json:"schema"`
	Risk   string `json:"risk"`
	GPUs   []struct {
		Index    int                        `json:"index"`
		Risk     string                     `json:"risk"`
		Decision map[string]json.RawMessage `json:"decision"`
	} `json:"gpus"`
	Findings []struct {
		ID       string `json:"id"`
		Severity string `json:"severity"`
		GPU      *int   `json:"gpu"`
		Message  string `json:"message"`
		Fix      string `json:"fix"`
	} `json:"findings"`
	Plan struct {
		Policy string `json:"policy"`
		Env    []struct {
			Name  string `json:"name"`
			Value string `json:"value"`
			Unset bool   `json:"unset"`
		} `json:"env"`
	} `json:"plan"`
}

// TestDoctorExamples runs doctor over every example machine, checks the
// JSON contract and the exit status, and compares both outputs with
// golden files.
func TestDoctorExamples(t *testing.T) {
	for _, name := range exampleMachines(t) {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(repoRoot(t), "examples", "systems", name)
			stdout, stderr, code := run(t, noHostIDs, "doctor", "--json", "--root", dir)
			if code != ExitOK && code != ExitFindings {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			var doc doctorJSON
			if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
				t.Fatalf("not JSON: %v", err)
			}
			if doc.Schema != "rocm-patch/doctor/v1" {
				t.Errorf("schema %q", doc.Schema)
			}
			wantCode := ExitOK
			if doc.Risk == "medium" || doc.Risk == "high" {
				wantCode = ExitFindings
			}
			if code != wantCode {
				t.Errorf("risk %s, exit %d; want exit %d", doc.Risk, code, wantCode)
			}
			for _, g := range doc.GPUs {
				for _, p := range []string{"mitigate", "cpu", "force-gpu-unsafe"} {
					if _, ok := g.Decision[p]; !ok {
						t.Errorf("GPU %d has no %s decision", g.Index, p)
					}
				}
			}
			for _, f := range doc.Findings {
				if f.ID == "" || f.Message == "" || f.Fix == "" || strings.Contains(f.Message, "\n") {
					t.Errorf("finding breaks the contract: %+v", f)
				}
			}
			golden(t, "doctor/"+name+".json", stdout)
			human, _, hcode := run(t, noHostIDs, "doctor", "--root", dir)
			if hcode != code {
				t.Errorf("text exit %d, JSON exit %d", hcode, code)
			}
			golden(t, "doctor/"+name+".txt", human)
		})
	}
}

// TestDoctorExpectations pins what the issue asks of specific machines.
func TestDoctorExpectations(t *testing.T) {
	type want struct {
		risk     string
		findings []string // ids that must be present
		absent   []string // ids that must not be
	}
	tests := map[string]want{
		"rx5700xt":            {"high", []string{"rdna-memory-fault-risk", "override-wrong-family"}, []string{"override-needed"}},
		"rx6700xt":            {"high", []string{"rdna-memory-fault-risk", "override-needed"}, []string{"override-wrong-family"}},
		"rx6800":              {"high", []string{"rdna-memory-fault-risk"}, []string{"override-needed", "no-rocm-kernels"}},
		"rx7900xtx":           {"none", nil, []string{"rdna-memory-fault-risk"}},
		"mi210":               {"none", nil, []string{"rdna-memory-fault-risk"}},
		"eight-mi300x":        {"none", nil, []string{"rdna-memory-fault-risk"}},
		"laptop-780m-rx6800m": {"high", []string{"rdna-memory-fault-risk"}, []string{"override-wrong-family", "override-needed"}},
		"no-gpu":              {"none", []string{"no-amd-gpu"}, []string{"wsl"}},
		"rx6600-wsl":          {"medium", []string{"wsl"}, []string{"no-amd-gpu"}},
	}
	for name, w := range tests {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(repoRoot(t), "examples", "systems", name)
			if _, err := os.Stat(dir); err != nil {
				t.Skip("example not present")
			}
			stdout, _, _ := run(t, noHostIDs, "doctor", "--json", "--root", dir)
			var doc doctorJSON
			if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
				t.Fatal(err)
			}
			if doc.Risk != w.risk {
				t.Errorf("risk %s, want %s", doc.Risk, w.risk)
			}
			ids := map[string]bool{}
			for _, f := range doc.Findings {
				ids[f.ID] = true
			}
			for _, id := range w.findings {
				if !ids[id] {
					t.Errorf("missing finding %s", id)
				}
			}
			for _, id := range w.absent {
				if ids[id] {
					t.Errorf("unexpected finding %s", id)
				}
			}
		})
	}
}

// TestDoctorCPUPlanHides applies the cpu plan's variables to the same
// machine and detects it again: every GPU the plan hides must be hidden,
// every GPU it keeps visible.
func TestDoctorCPUPlanHides(t *testing.T) {
	for _, name := range exampleMachines(t) {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(repoRoot(t), "examples", "systems", name)
			stdout, _, _ := run(t, noHostIDs, "doctor", "--json", "--policy", "cpu", "--root", dir)
			var doc struct {
				Plan struct {
					GPUs   []int `json:"gpus"`
					Hidden []int `json:"hidden"`
					Env    []struct {
						Name, Value string
						Unset       bool
					} `json:"env"`
				} `json:"plan"`
			}
			if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
				t.Fatal(err)
			}
			// A tree's recorded environment replaces the process one, so
			// the plan is applied to a copy of it.
			tree := filepath.Join(t.TempDir(), "m")
			copyTree(t, dir, tree)
			environ := readEnviron(t, filepath.Join(tree, ".rocm-patch", "environ"))
			for _, v := range doc.Plan.Env {
				delete(environ, v.Name)
				if !v.Unset {
					environ[v.Name] = v.Value
				}
			}
			writeEnviron(t, filepath.Join(tree, ".rocm-patch", "environ"), environ)
			out, _, code := run(t, noHostIDs, "detect", "--json", "--root", tree)
			if code != 0 {
				t.Fatalf("detect exit %d", code)
			}
			var sys struct {
				GPUs []struct {
					Index   int  `json:"index"`
					Visible bool `json:"visible"`
				} `json:"gpus"`
			}
			if err := json.Unmarshal([]byte(out), &sys); err != nil {
				t.Fatal(err)
			}
			for _, g := range sys.GPUs {
				for _, h := range doc.Plan.Hidden {
					if g.Index == h && g.Visible {
						t.Errorf("GPU %d should be hidden by %v", h, doc.Plan.Env)
					}
				}
				for _, k := range doc.Plan.GPUs {
					if g.Index == k && !g.Visible {
						t.Errorf("GPU %d should stay visible under %v", k, doc.Plan.Env)
					}
				}
			}
		})
	}
}

func TestDoctorPolicies(t *testing.T) {
	dir := filepath.Join(repoRoot(t), "examples", "systems", "rx6700xt")
	for _, p := range []string{"mitigate", "cpu", "force-gpu-unsafe"} {
		stdout, stderr, code := run(t, noHostIDs, "doctor", "--json", "--policy", p, "--root", dir)
		if code != ExitFindings {
			t.Fatalf("%s: exit %d: %s", p, code, stderr)
		}
		var doc doctorJSON
		if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
			t.Fatal(err)
		}
		if doc.Plan.Policy != p {
			t.Errorf("plan policy %q, want %q", doc.Plan.Policy, p)
		}
		text, _, _ := run(t, noHostIDs, "doctor", "--policy", p, "--root", dir)
		if !strings.Contains(text, "Plan (policy "+p+")") {
			t.Errorf("%s: text lacks the plan:\n%s", p, text)
		}
	}
}

func TestDoctorUsage(t *testing.T) {
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"doctor", "--policy", "yolo"}, ExitUsage, "--policy"},
		{[]string{"doctor", "extra"}, ExitUsage, "unknown command"},
		{[]string{"doctor", "--root", "/nonexistent/rocm-patch"}, ExitUsage, "--root"},
		{[]string{"env", "--shell", "tcsh"}, ExitUsage, "--shell"},
		{[]string{"env", "--policy", "force-gpu-unsafe"}, ExitUsage, "--policy"},
		{[]string{"env", "--root", "/nonexistent/rocm-patch"}, ExitUsage, "--root"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, stderr, code := run(t, nil, tt.args...)
			if code != tt.code || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want exit %d mentioning %q", code, stderr, tt.code, tt.want)
			}
		})
	}
}

// copyTree copies an example tree, links included.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		to := filepath.Join(dst, rel)
		switch {
		case d.Type()&os.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(link, to)
		case d.IsDir():
			return os.MkdirAll(to, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(to, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func readEnviron(t *testing.T, file string) map[string]string {
	t.Helper()
	m := map[string]string{}
	data, err := os.ReadFile(file)
	if err != nil {
		return m
	}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			m[k] = v
		}
	}
	return m
}

func writeEnviron(t *testing.T, file string, m map[string]string) {
	t.Helper()
	var b strings.Builder
	for _, k := range sortedKeys(m) {
		b.WriteString(k + "=" + m[k] + "\n")
	}
	os.MkdirAll(filepath.Dir(file), 0o755)
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}
