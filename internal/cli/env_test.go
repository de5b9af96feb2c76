package cli

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

type envJSON struct {
	Schema    string   `json:"schema"`
	Policy    string   `json:"policy"`
	Notes     []string `json:"notes"`
	Variables []struct {
		Name    string  `json:"name"`
		Value   *string `json:"value"`
		Action  string  `json:"action"`
		Setting string  `json:"setting"`
		Does    string  `json:"does"`
		Cost    string  `json:"cost"`
		Why     string  `json:"why"`
	} `json:"variables"`
}

// TestEnvExamples compares env's bash and JSON output, under both
// policies, with golden files for every example machine.
func TestEnvExamples(t *testing.T) {
	for _, name := range exampleMachines(t) {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(repoRoot(t), "examples", "systems", name)
			for _, policy := range []string{"mitigate", "cpu"} {
				suffix := ""
				if policy == "cpu" {
					suffix = ".cpu"
				}
				out, stderr, code := run(t, noHostIDs, "env", "--policy", policy, "--root", dir)
				if code != ExitOK {
					t.Fatalf("exit %d: %s", code, stderr)
				}
				golden(t, "env/"+name+suffix+".bash", out)
				js, stderr, code := run(t, noHostIDs, "env", "--policy", policy, "--shell", "json", "--root", dir)
				if code != ExitOK {
					t.Fatalf("json exit %d: %s", code, stderr)
				}
				var doc envJSON
				if err := json.Unmarshal([]byte(js), &doc); err != nil {
					t.Fatalf("not JSON: %v", err)
				}
				if doc.Schema != "rocm-patch/env/v1" || doc.Policy != policy {
					t.Errorf("schema %q policy %q", doc.Schema, doc.Policy)
				}
				for _, v := range doc.Variables {
					if v.Does == "" || v.Cost == "" || v.Why == "" || v.Setting == "" {
						t.Errorf("%s lacks what it does, costs, or why: %+v", v.Name, v)
					}
				}
				golden(t, "env/"+name+suffix+".json", js)
				evalMatches(t, out, doc)
			}
		})
	}
}

// evalMatches runs the bash output through eval, as users do, starting
// from an environment where every variable the layer touches is set to a
// marker, and checks that each ends up as the JSON says.
func evalMatches(t *testing.T, script string, doc envJSON) {
	t.Helper()
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash not installed")
	}
	env := []string{"PATH=/usr/bin:/bin", "LAYER=" + script}
	var printer strings.Builder
	for _, v := range doc.Variables {
		env = append(env, v.Name+"=before")
		printer.WriteString(`printf '%s\0' "${` + v.Name + `-<unset>}"` + "\n")
	}
	cmd := exec.Command(bash, "-c", "eval \"$LAYER\"\n"+printer.String())
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil || errb.Len() > 0 {
		t.Fatalf("eval: %v %s", err, errb.String())
	}
	got := strings.Split(out.String(), "\x00")
	for i, v := range doc.Variables {
		want := "<unset>"
		if v.Value != nil {
			want = *v.Value
		}
		if got[i] != want {
			t.Errorf("after eval, %s = %q, want %q", v.Name, got[i], want)
		}
	}
}

func TestEnvSpecifics(t *testing.T) {
	root := filepath.Join(repoRoot(t), "examples", "systems")
	tests := []struct {
		machine, policy string
		has, lacks      []string
	}{
		{"rx6700xt", "mitigate", []string{"export HSA_OVERRIDE_GFX_VERSION='10.3.0'"}, []string{"HSA_XNACK", "VISIBLE_DEVICES"}},
		{"rx5700xt", "mitigate", []string{"unset HSA_OVERRIDE_GFX_VERSION"}, []string{"export HSA_OVERRIDE_GFX_VERSION", "HSA_XNACK", "noretry"}},
		{"rx6800", "mitigate", nil, []string{"HSA_OVERRIDE_GFX_VERSION", "HSA_XNACK"}},
		{"rx6700xt", "cpu", []string{"export ROCR_VISIBLE_DEVICES=''", "export HIP_VISIBLE_DEVICES=''", "export CUDA_VISIBLE_DEVICES=''"}, []string{"HSA_OVERRIDE_GFX_VERSION"}},
		{"laptop-780m-rx6800m", "cpu", []string{"export ROCR_VISIBLE_DEVICES='1'", "export HSA_OVERRIDE_GFX_VERSION_2='11.0.0'"}, []string{"HSA_OVERRIDE_GFX_VERSION='10.3.0'"}},
		{"rx7900xtx", "cpu", nil, []string{"VISIBLE_DEVICES", "HSA_OVERRIDE_GFX_VERSION"}},
		{"mi210", "mitigate", nil, []string{"HSA_XNACK", "HSA_OVERRIDE_GFX_VERSION"}},
	}
	for _, tt := range tests {
		t.Run(tt.machine+"/"+tt.policy, func(t *testing.T) {
			out, _, code := run(t, noHostIDs, "env", "--policy", tt.policy, "--root", filepath.Join(root, tt.machine))
			if code != 0 {
				t.Fatalf("exit %d", code)
			}
			for _, s := range tt.has {
				if !strings.Contains(out, s) {
					t.Errorf("lacks %q:\n%s", s, out)
				}
			}
			for _, s := range tt.lacks {
				for _, line := range strings.Split(out, "\n") {
					if !strings.HasPrefix(line, "#") && strings.Contains(line, s) {
						t.Errorf("has %q: %s", s, line)
					}
				}
			}
		})
	}
}

// TestEnvNoGPU: nothing but a comment, exit 0, in every format but JSON.
func TestEnvNoGPU(t *testing.T) {
	dir := filepath.Join(repoRoot(t), "examples", "systems", "no-gpu")
	for _, shell := range []string{"bash", "zsh", "fish", "dotenv", "systemd"} {
		for _, policy := range []string{"mitigate", "cpu"} {
			out, _, code := run(t, noHostIDs, "env", "--shell", shell, "--policy", policy, "--root", dir)
			if code != 0 {
				t.Errorf("%s: exit %d", shell, code)
			}
			lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			if len(lines) != 1 || !strings.HasPrefix(lines[0], "# ") || !strings.Contains(lines[0], "no AMD GPU") {
				t.Errorf("%s %s: %q", shell, policy, out)
			}
		}
	}
	out, _, _ := run(t, noHostIDs, "env", "--shell", "json", "--root", dir)
	var doc envJSON
	if err := json.Unmarshal([]byte(out), &doc); err != nil || len(doc.Variables) != 0 || len(doc.Notes) != 1 {
		t.Errorf("json: %v %+v", err, doc)
	}
}

// TestEnvShells checks that every format renders every example.
func TestEnvShells(t *testing.T) {
	for _, name := range exampleMachines(t) {
		dir := filepath.Join(repoRoot(t), "examples", "systems", name)
		for _, shell := range []string{"bash", "zsh", "fish", "dotenv", "systemd", "json"} {
			if _, stderr, code := run(t, noHostIDs, "env", "--shell", shell, "--policy", "cpu", "--root", dir); code != 0 {
				t.Errorf("%s --shell %s: exit %d: %s", name, shell, code, stderr)
			}
		}
	}
}
