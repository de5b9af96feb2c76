package shim

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// systemPython is Debian's interpreter, the one python3-torch installs for
// (scripts/install-test-deps.sh). A python3 earlier on PATH may lack torch.
const systemPython = "/usr/bin/python3"

// needTorch skips unless systemPython can import torch.
func needTorch(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts Python with torch; skipped in -short")
	}
	if err := exec.Command(systemPython, "-c", "import torch").Run(); err != nil {
		t.Skipf("%s cannot import torch (%v): apt-get install python3-torch", systemPython, err)
	}
}

// baseEnv is this process's environment without anything that would steer
// the shim or Python's path from outside the test.
func baseEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k := key(kv)
		if strings.HasPrefix(k, "ROCM_PATCH_") || k == "PYTHONPATH" || k == "PYTORCH_CUDA_ALLOC_CONF" || k == "PYTORCH_HIP_ALLOC_CONF" {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "PYTHONDONTWRITEBYTECODE=1")
}

func runPython(t *testing.T, env []string, code string) (stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, systemPython, "-c", code)
	cmd.Env = env
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	if err := cmd.Run(); err != nil {
		t.Fatalf("python: %v\nstdout:\n%s\nstderr:\n%s", err, o.String(), e.String())
	}
	return o.String(), e.String()
}

func TestEndToEnd(t *testing.T) {
	needTorch(t)
	d, err := Install(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	childEnv := func(t *testing.T, base []string, opts Options, extra ...string) []string {
		return append(Apply(base, Env(d.Path, base, opts)), extra...)
	}

	t.Run("plain python imports no torch", func(t *testing.T) {
		runDir := t.TempDir()
		out, errOut := runPython(t, childEnv(t, baseEnv(), Options{RunDir: runDir}),
			`import sys; print("torch" in sys.modules, "rocm_patch.shim" in sys.modules)`)
		if out != "False False\n" || errOut != "" {
			t.Errorf("stdout %q, stderr %q; want torch and the shim unloaded", out, errOut)
		}
		if r, err := ReadReport(runDir); err != nil || r.Loaded {
			t.Errorf("report %+v, %v; want none", r, err)
		}
	})

	t.Run("torch on the cpu: reported, nothing wrapped", func(t *testing.T) {
		runDir := t.TempDir()
		out, _ := runPython(t, childEnv(t, baseEnv(), Options{RunDir: runDir}),
			`import torch; print(torch.zeros(2).tolist(), type(torch.zeros).__name__)`)
		if out != "[0.0, 0.0] builtin_function_or_method\n" {
			t.Errorf("stdout %q", out)
		}
		r, err := ReadReport(runDir)
		if err != nil {
			t.Fatal(err)
		}
		if !r.Loaded || r.Device != "cpu" || r.Wrapped || r.MemoryFraction != 0 || r.TorchVersion == "" || r.Exited != 1 || r.Policy != "fallback" {
			t.Errorf("report %+v", r)
		}
	})

	t.Run("forced wrapping and the test hook: fallback counted", func(t *testing.T) {
		runDir := t.TempDir()
		out, errOut := runPython(t, childEnv(t, baseEnv(), Options{RunDir: runDir, Policy: PolicyRetry}, EnvForce+"=1", EnvTestFail+"=3"),
			`import torch; a = torch.zeros(2); b = torch.ones(3); print(a.device, b.tolist())`)
		if out != "cpu [1.0, 1.0, 1.0]\n" {
			t.Errorf("stdout %q", out)
		}
		if !strings.Contains(errOut, "rocm-patch: torch.zeros: GPU allocation failed") {
			t.Errorf("stderr %q lacks the fallback warning", errOut)
		}
		r, err := ReadReport(runDir)
		if err != nil {
			t.Fatal(err)
		}
		// Fails 1 and 2 hit zeros (first try, retry): it falls back. Fail 3
		// hits ones' first try; its retry succeeds.
		if !r.Wrapped || r.Fallbacks != 1 || r.Retries != 2 || r.RetryOK != 1 || r.ByOp["torch.zeros"] != 1 || r.Policy != "retry" {
			t.Errorf("report %+v", r)
		}
		if !strings.Contains(r.LastError, "HIP out of memory") {
			t.Errorf("last error %q", r.LastError)
		}
	})

	t.Run("user sitecustomize chained once", func(t *testing.T) {
		user := t.TempDir()
		if err := os.WriteFile(filepath.Join(user, "sitecustomize.py"), []byte("print('USER-SITE')\nMARK = 42\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		base := append(baseEnv(), "PYTHONPATH="+user)
		out, errOut := runPython(t, childEnv(t, base, Options{}),
			`import sys, sitecustomize; print(sitecustomize.MARK, sum(type(f).__name__ == "_TorchImportWatcher" for f in sys.meta_path))`)
		if out != "USER-SITE\n42 1\n" || errOut != "" {
			t.Errorf("stdout %q, stderr %q", out, errOut)
		}
	})
}

// TestPythonUnittests runs the Python side's own tests, so that go test
// ./... covers them.
func TestPythonUnittests(t *testing.T) {
	needTorch(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, systemPython, "-m", "unittest", "discover", "-s", filepath.Join("..", "..", "python", "tests"), "-v")
	cmd.Env = baseEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("python unittests: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}
