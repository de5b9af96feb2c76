package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rocm-patch/rocm-patch/internal/testutil"

	"github.com/rocm-patch/rocm-patch/internal/system"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// run invokes the command line as a user would, with a clean environment.
func run(t *testing.T, environ []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Main(context.Background(), args, strings.NewReader(""), &out, &errb, environ)
	return out.String(), errb.String(), code
}

// repoRoot finds the module root, where examples/ lives.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, _ := os.Getwd()
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found")
		}
		dir = parent
	}
}

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	file := filepath.Join("testdata", name)
	if *update {
		os.MkdirAll(filepath.Dir(file), 0o755)
		if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/cli -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs (go test ./internal/cli -update rewrites it):\n--- want\n%s\n--- got\n%s", file, want, got)
	}
}

// TestDetectExamples runs detect over every shipped example machine and
// checks both outputs against golden files.
func TestDetectExamples(t *testing.T) {
	examples := filepath.Join(repoRoot(t), "examples", "systems")
	entries, err := os.ReadDir(examples)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		n++
		t.Run(e.Name(), func(t *testing.T) {
			dir := filepath.Join(examples, e.Name())
			// No host table: the golden files must not depend on this
			// machine's libdrm.
			env := []string{"ROCM_PATCH_NO_HOST_IDS=1"}
			stdout, stderr, code := run(t, env, "detect", "--json", "--root", dir)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			var sys system.System
			if err := json.Unmarshal([]byte(stdout), &sys); err != nil {
				t.Fatalf("not JSON: %v", err)
			}
			if sys.Schema != "rocm-patch/system/v1" {
				t.Errorf("schema = %q", sys.Schema)
			}
			golden(t, "detect/"+e.Name()+".json", stdout)
			human, _, code := run(t, env, "detect", "--root", dir)
			if code != 0 {
				t.Fatalf("exit %d", code)
			}
			golden(t, "detect/"+e.Name()+".txt", human)
		})
	}
	if n < 6 {
		t.Errorf("only %d example machines; the README promises at least 6", n)
	}
}

func TestDetectJSONContract(t *testing.T) {
	dir := testutil.WriteTree(t, map[string]string{
		"/proc/sys/kernel/osrelease":                     "6.8.0\n",
		"/sys/class/kfd/kfd/topology/nodes/1/properties": "simd_count 80\nvendor_id 4098\ndevice_id 29663\ngfx_target_version 100301\nlocation_id 768\n",
	})
	stdout, _, code := run(t, []string{"HSA_OVERRIDE_GFX_VERSION=10.3.0", "HOME=/root"}, "detect", "--json", "--root", dir)
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"schema", "gpus", "rocm", "torch", "kernel", "amdgpu", "env", "kfd_accessible", "wsl", "notes"} {
		if _, ok := doc[key]; !ok {
			t.Errorf("missing top-level %q", key)
		}
	}
	gpu := doc["gpus"].([]any)[0].(map[string]any)
	for _, key := range []string{"index", "node", "pci", "vendor_id", "device_id", "revision", "name", "gfx_target", "effective_gfx_target", "family", "generic_isa", "integrated", "vram_bytes", "gtt_bytes", "visible"} {
		if _, ok := gpu[key]; !ok {
			t.Errorf("missing gpus[].%s", key)
		}
	}
	if gpu["device_id"] != "0x73df" || gpu["effective_gfx_target"] != "gfx1030" || gpu["pci"] != "0000:03:00.0" {
		t.Errorf("gpu = %v", gpu)
	}
	env := doc["env"].(map[string]any)
	if env["HSA_OVERRIDE_GFX_VERSION"] != "10.3.0" || env["HOME"] != nil {
		t.Errorf("env = %v", env)
	}
	if doc["amdgpu"].(map[string]any)["params"] == nil {
		t.Error("amdgpu.params must be an object, not null")
	}
}

func TestDetectNoGPU(t *testing.T) {
	dir := testutil.WriteTree(t, map[string]string{"/proc/sys/kernel/osrelease": "6.1.0\n"})
	stdout, _, code := run(t, nil, "detect", "--root", dir)
	if code != 0 || !strings.HasPrefix(stdout, "No AMD GPU found.") {
		t.Fatalf("exit %d, output:\n%s", code, stdout)
	}
	stdout, _, _ = run(t, nil, "detect", "--json", "--root", dir)
	if !strings.Contains(stdout, `"gpus": []`) {
		t.Errorf("gpus should be an empty list:\n%s", stdout)
	}
}

func TestSnapshotCommandRoundTrip(t *testing.T) {
	dir := testutil.WriteTree(t, map[string]string{
		"/proc/sys/kernel/osrelease":                     "6.8.0\n",
		"/sys/class/kfd/kfd/topology/nodes/1/properties": "simd_count 80\nvendor_id 4098\ndevice_id 29663\ngfx_target_version 100301\n",
		"/opt/rocm-6.2.0/.info/version":                  "6.2.0\n",
		"/opt/rocm":                                      "->/opt/rocm-6.2.0",
	})
	out := filepath.Join(t.TempDir(), "snap.tar.gz")
	stdout, stderr, code := run(t, []string{"HSA_OVERRIDE_GFX_VERSION=10.3.0"}, "snapshot", "-o", out, "--root", dir)
	if code != 0 || !strings.Contains(stdout, "wrote "+out) {
		t.Fatalf("exit %d: %s %s", code, stdout, stderr)
	}
	direct, _, _ := run(t, []string{"HSA_OVERRIDE_GFX_VERSION=10.3.0"}, "detect", "--json", "--root", dir)
	replayed, stderr, code := run(t, nil, "detect", "--json", "--root", out)
	if code != 0 {
		t.Fatalf("replay exit %d: %s", code, stderr)
	}
	if direct != replayed {
		t.Fatalf("replay differs:\n%s\n---\n%s", direct, replayed)
	}
	leftovers, _ := filepath.Glob(filepath.Join(os.TempDir(), "rocm-patch-snapshot-*"))
	for _, l := range leftovers {
		if fi, err := os.Stat(l); err == nil && fi.ModTime().After(startTime) {
			t.Errorf("replay left %s behind", l)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	dir := testutil.WriteTree(t, map[string]string{"/a": ""})
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"detect", "--bogus"}, ExitUsage, "unknown flag: --bogus"},
		{[]string{"nosuchcommand"}, ExitUsage, "unknown command"},
		{[]string{"detect", "extra"}, ExitUsage, "unknown command"},
		{[]string{"detect", "--root", filepath.Join(dir, "missing")}, ExitUsage, "--root"},
		{[]string{"detect", "--root", filepath.Join(dir, "a")}, ExitError, "not a gzip file"},
		{[]string{"snapshot"}, ExitUsage, "-o FILE.tar.gz is required"},
		{[]string{"snapshot", "-o", filepath.Join(dir, "x.zip")}, ExitUsage, "must end in .tar.gz"},
		{[]string{"snapshot", "-o", filepath.Join(dir, "no", "such", "x.tar.gz"), "--root", dir}, ExitError, "snapshot -o"},
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

func TestHelpAndVersion(t *testing.T) {
	stdout, _, code := run(t, nil, "--help")
	if code != 0 || !strings.Contains(stdout, "Exit codes:") || !strings.Contains(stdout, "3  diagnose matched") {
		t.Errorf("--help must document exit codes:\n%s", stdout)
	}
	stdout, _, code = run(t, nil, "--version")
	if code != 0 || !strings.HasPrefix(stdout, "rocm-patch version ") {
		t.Errorf("--version: %q", stdout)
	}
	for _, shell := range []string{"bash", "zsh", "fish"} {
		stdout, _, code = run(t, nil, "completion", shell)
		if code != 0 || !strings.Contains(stdout, "rocm-patch") {
			t.Errorf("completion %s: exit %d", shell, code)
		}
	}
}

// TestSnapshotReplaysEveryExample captures each example machine and checks
// that detect over the snapshot prints the very same JSON.
func TestSnapshotReplaysEveryExample(t *testing.T) {
	examples := filepath.Join(repoRoot(t), "examples", "systems")
	entries, err := os.ReadDir(examples)
	if err != nil {
		t.Fatal(err)
	}
	env := []string{"ROCM_PATCH_NO_HOST_IDS=1"}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		t.Run(e.Name(), func(t *testing.T) {
			dir := filepath.Join(examples, e.Name())
			out := filepath.Join(t.TempDir(), e.Name()+".tar.gz")
			if _, stderr, code := run(t, env, "snapshot", "-o", out, "--root", dir); code != 0 {
				t.Fatalf("snapshot: exit %d: %s", code, stderr)
			}
			direct, _, _ := run(t, env, "detect", "--json", "--root", dir)
			replayed, stderr, code := run(t, env, "detect", "--json", "--root", out)
			if code != 0 || direct != replayed {
				t.Fatalf("replay of %s differs (exit %d, %s):\n%s\n---\n%s", e.Name(), code, stderr, direct, replayed)
			}
		})
	}
}
