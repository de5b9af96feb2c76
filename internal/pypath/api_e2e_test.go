package pypath

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rocm-patch/rocm-patch/internal/report"
)

// repoRoot is the module root, two folders up from this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root: %v", err)
	}
	return root
}

// needTorch skips unless systemPython can import torch, saying why.
func needTorch(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts Python with torch; skipped in -short")
	}
	needPython(t)
	if out, err := exec.Command(systemPython, "-c", "import torch").CombinedOutput(); err != nil {
		t.Skipf("%s cannot import torch (%v: %s): apt-get install python3-torch", systemPython, err, bytes.TrimSpace(out))
	}
}

// buildBinary builds rocm-patch into a temporary folder.
func buildBinary(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go tool, to build rocm-patch: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "rocm-patch")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goTool, "build", "-o", bin, "./cmd/rocm-patch")
	cmd.Dir = repoRoot(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// cleanEnv is this process's environment without anything that would
// steer rocm-patch or Python's path from outside the test.
func cleanEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "ROCM_PATCH_") || strings.HasPrefix(k, "PYTHON") || strings.HasSuffix(k, "_VISIBLE_DEVICES") || strings.HasPrefix(k, "HSA_") {
			continue
		}
		env = append(env, kv)
	}
	return append(append(env, "PYTHONDONTWRITEBYTECODE=1"), extra...)
}

func runCmd(t *testing.T, env []string, name string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

// TestPypathPythonAPI runs python/tests/test_api.py against a freshly built
// binary (nothing may be skipped), then the whole path a user takes:
// `rocm-patch python-path --install`, a plain `python3` that imports
// rocm_patch and finds the binary next to the package, and --uninstall.
func TestPypathPythonAPI(t *testing.T) {
	needTorch(t)
	bin := buildBinary(t)
	repo := repoRoot(t)
	systems := filepath.Join(repo, "examples", "systems")

	t.Run("unittests", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, systemPython, "-m", "unittest", "discover", "-s", filepath.Join(repo, "python", "tests"), "-p", "test_api.py", "-v")
		cmd.Env = cleanEnv("ROCM_PATCH_TEST_BINARY=" + bin)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("python unittests: %v\n%s", err, out)
		}
		if bytes.Contains(out, []byte("skipped=")) {
			t.Fatalf("python unittests skipped tests that this run gives everything to:\n%s", out)
		}
		t.Logf("%s", out)
	})

	t.Run("installed", func(t *testing.T) {
		home := t.TempDir()
		// No rocm-patch on PATH: the API must find the link beside the
		// package.
		user := cleanEnv("HOME="+home, "PATH=/usr/bin:/bin")
		out, errOut, err := runCmd(t, user, bin, "python-path", "--install")
		if err != nil {
			t.Fatalf("python-path --install: %v\n%s%s", err, out, errOut)
		}
		dir, _, err := runCmd(t, user, bin, "python-path")
		dir = strings.TrimSpace(dir)
		if err != nil || !strings.HasPrefix(dir, home) || !strings.Contains(out, dir) {
			t.Fatalf("python-path printed %q (%v); --install said %q", dir, err, out)
		}
		if target, err := os.Readlink(filepath.Join(dir, BinaryName)); err != nil || target != bin {
			t.Errorf("link beside the package: %q, %v; want %s", target, err, bin)
		}
		code := `import rocm_patch; print(rocm_patch.select_device(policy="cpu"), rocm_patch.safeguard())`
		for _, tt := range []struct{ machine, want, stderr string }{
			{"rx5700xt", "cpu cpu\n", "rocm-patch: hiding GPU 0 (AMD Radeon RX 5700 XT, gfx1010)"},
			{"mi210", "cuda cuda\n", ""},
		} {
			env := append(append([]string{}, user...), "ROCM_PATCH_ROOT="+filepath.Join(systems, tt.machine))
			got, errOut, err := runCmd(t, env, systemPython, "-c", code)
			if err != nil || got != tt.want || !strings.Contains(errOut, tt.stderr) || (tt.stderr == "" && errOut != "") {
				t.Errorf("%s: stdout %q, stderr %q, %v; want %q and %q", tt.machine, got, errOut, err, tt.want, tt.stderr)
			}
			// PYTHONPATH=$(rocm-patch python-path) works as well as the .pth.
			got, _, err = runCmd(t, append(env, "PYTHONPATH="+dir, "PYTHONNOUSERSITE=1"), systemPython, "-c", code)
			if err != nil || got != tt.want {
				t.Errorf("%s through PYTHONPATH: %q, %v", tt.machine, got, err)
			}
		}

		out, errOut, err = runCmd(t, user, bin, "python-path", "--uninstall")
		if err != nil || !strings.Contains(out, "removed") {
			t.Fatalf("python-path --uninstall: %v\n%s%s", err, out, errOut)
		}
		_, errOut, err = runCmd(t, user, systemPython, "-c", "import rocm_patch")
		if err == nil || !strings.Contains(errOut, "No module named 'rocm_patch'") {
			t.Errorf("after --uninstall: %v, %s", err, errOut)
		}
	})

	t.Run("report_throughput reads back", func(t *testing.T) {
		code := `import rocm_patch
for v, u in ((123.5, "samples/s"), (7, "tok/s"), (0, "it/s"), (1e20, "img/s"), (2.5e-7, "batch/s"), (10**15, "B/s")):
    rocm_patch.report_throughput(v, u)
`
		out, errOut, err := runCmd(t, cleanEnv("PYTHONPATH="+filepath.Join(repo, "python")), systemPython, "-c", code)
		if err != nil || errOut != "" {
			t.Fatalf("%v\n%s", err, errOut)
		}
		want := []struct {
			v    float64
			unit string
		}{{123.5, "samples/s"}, {7, "tok/s"}, {0, "it/s"}, {1e20, "img/s"}, {2.5e-7, "batch/s"}, {1e15, "B/s"}}
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		if len(lines) != len(want) {
			t.Fatalf("lines %q", lines)
		}
		for i, l := range lines {
			v, unit, ok := report.ParseThroughput([]byte(l))
			if !ok || v != want[i].v || unit != want[i].unit {
				t.Errorf("%q reads as %v %q (%v); want %v %q", l, v, unit, ok, want[i].v, want[i].unit)
			}
		}
	})
}
