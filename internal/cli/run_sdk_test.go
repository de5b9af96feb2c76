package cli

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestRunSDK activates the custom SDK tree of the rx6800 example for the
// child, and refuses a path that is no ROCm tree of that machine.
func TestRunSDK(t *testing.T) {
	root := filepath.Join(repoRoot(t), "examples", "systems", "rx6800")
	env := []string{"ROCM_PATCH_NO_HOST_IDS=1", "PATH=/usr/bin:/bin", "XDG_STATE_HOME=" + t.TempDir(), "HOME=" + t.TempDir()}
	stdout, stderr, code := run(t, env, "run", "-q", "--no-shim", "--root", root, "--sdk", "/opt/rocm_sdk_612", "--",
		"sh", "-c", `echo "ROCM_PATH=$ROCM_PATH"; echo "PATH=$PATH"; echo "LD=$LD_LIBRARY_PATH"`)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"ROCM_PATH=/opt/rocm_sdk_612\n", "PATH=/opt/rocm_sdk_612/bin:/usr/bin:/bin\n", "LD=/opt/rocm_sdk_612/lib\n"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("child output lacks %q:\n%s", want, stdout)
		}
	}
	_, stderr, code = run(t, env, "run", "-q", "--root", root, "--sdk", "/opt/nothing", "--", "true")
	if code != ExitUsage || !strings.Contains(stderr, "--sdk /opt/nothing") {
		t.Errorf("bad --sdk: exit %d, %q", code, stderr)
	}
}
