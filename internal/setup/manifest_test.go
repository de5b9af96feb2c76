package setup

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func validManifest(t testing.TB) *Manifest {
	t.Helper()
	block := string(mustBlock(t, Bash, BlockOptions{}))
	sum := strings.Repeat("ab", 32)
	return &Manifest{
		Schema: ManifestSchema,
		Dirs:   []string{"/home/u/.local/state/rocm-patch"},
		Changes: []Change{
			{Step: StepShell, Time: time.Unix(1, 0).UTC(), File: "/home/u/.bashrc", SHA256: sum, Shell: &ShellChange{Shell: Bash, Prefix: "\n", Block: block}},
			{Step: StepPython, Time: time.Unix(2, 0).UTC(), File: "/home/u/.local/lib/python3.11/site-packages/rocm_patch.pth", Created: true, SHA256: sum,
				Dirs: []string{"/home/u/.local/lib"}, Python: &PythonChange{Python: "/usr/bin/python3", Executable: "/usr/bin/rocm-patch", PackageDir: "/home/u/.local/share/rocm-patch/python/x"}},
			{Step: StepKernel, Time: time.Unix(3, 0).UTC(), File: "/etc/modprobe.d/rocm-patch-amdgpu.conf", SHA256: sum, Kernel: &KernelChange{Root: "/", Profile: "recommended", Applied: time.Unix(3, 0).UTC()}},
		},
	}
}

func TestManifestRoundTrip(t *testing.T) {
	m := validManifest(t)
	data, err := m.marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseManifest(data)
	if err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	again, _ := back.marshal()
	if string(again) != string(data) {
		t.Errorf("round trip differs:\n%s\n%s", data, again)
	}
}

// TestParseManifestRefusals: an edited manifest cannot make undo act on
// anything but what setup writes.
func TestParseManifestRefusals(t *testing.T) {
	tests := []struct {
		name string
		edit func(m map[string]any)
		want string
	}{
		{"schema", func(m map[string]any) { m["schema"] = "rocm-patch/setup/v9" }, "schema"},
		{"unknown field", func(m map[string]any) { m["extra"] = 1 }, "unknown field"},
		{"relative file", func(m map[string]any) { change(m, 0)["file"] = ".bashrc" }, "absolute"},
		{"unclean file", func(m map[string]any) { change(m, 0)["file"] = "/home/u/../u/.bashrc" }, "absolute"},
		{"not a block", func(m map[string]any) { change(m, 0)["shell"].(map[string]any)["block"] = "rm -rf ~\n" }, "not a rocm-patch setup block"},
		{"prefix", func(m map[string]any) { change(m, 0)["shell"].(map[string]any)["prefix"] = "export X=1\n" }, "prefix"},
		{"unknown shell", func(m map[string]any) { change(m, 0)["shell"].(map[string]any)["shell"] = "tcsh" }, "unsupported"},
		{"two records", func(m map[string]any) { change(m, 0)["python"] = change(m, 1)["python"] }, "exactly one"},
		{"step mismatch", func(m map[string]any) { change(m, 1)["step"] = "shell" }, "without its shell record"},
		{"unknown step", func(m map[string]any) { change(m, 1)["step"] = "gpu" }, "unknown step"},
		{"sha256", func(m map[string]any) { change(m, 0)["sha256"] = "xyz" }, "sha256"},
		{"root dir", func(m map[string]any) { m["dirs"] = []any{"/"} }, "folder"},
		{"kernel dirs", func(m map[string]any) { change(m, 2)["dirs"] = []any{"/etc"} }, "kernel"},
		{"kernel root", func(m map[string]any) { change(m, 2)["kernel"].(map[string]any)["root"] = "tree" }, "root"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, _ := validManifest(t).marshal()
			var doc map[string]any
			if err := json.Unmarshal(data, &doc); err != nil {
				t.Fatal(err)
			}
			tt.edit(doc)
			edited, _ := json.Marshal(doc)
			_, err := ParseManifest(edited)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err %v, want one mentioning %q", err, tt.want)
			}
		})
	}
	if _, err := ParseManifest([]byte(`{"schema":"rocm-patch/setup/v1","changes":[]} {}`)); err == nil {
		t.Error("data after the object accepted")
	}
	if m, err := ParseManifest([]byte(`{"schema":"rocm-patch/setup/v1"}`)); err != nil || m.Changes == nil {
		t.Errorf("no changes: %v, %v", m, err)
	}
}

func change(m map[string]any, i int) map[string]any {
	return m["changes"].([]any)[i].(map[string]any)
}

// FuzzParseManifest: any input is parsed or refused, never a panic; what
// parses marshals back to something that parses the same.
func FuzzParseManifest(f *testing.F) {
	data, _ := validManifest(f).marshal()
	f.Add(data)
	f.Add([]byte(`{"schema":"rocm-patch/setup/v1","changes":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseManifest(data)
		if err != nil {
			return
		}
		out, err := m.marshal()
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseManifest(out)
		if err != nil {
			t.Fatalf("re-parse: %v\n%s", err, out)
		}
		again, _ := back.marshal()
		if string(again) != string(out) {
			t.Fatalf("not stable:\n%s\n%s", out, again)
		}
	})
}
