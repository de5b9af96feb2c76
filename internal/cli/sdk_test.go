package cli

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"

	"github.com/rocm-patch/rocm-patch/internal/testutil"
)

func TestSDKListGolden(t *testing.T) {
	dir := example(t, "rx6800")
	out, stderr, code := run(t, kernelEnv, "sdk", "list", "--root", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	golden(t, "sdk/list-rx6800.txt", out)
	js, _, code := run(t, kernelEnv, "sdk", "list", "--json", "--root", dir)
	if code != 0 {
		t.Fatalf("json: exit %d", code)
	}
	golden(t, "sdk/list-rx6800.json", js)
	var doc struct {
		Schema   string `json:"schema"`
		Installs []struct {
			Path       string   `json:"path"`
			SelectedBy []string `json:"selected_by"`
			Coverage   []struct {
				Kernels string `json:"kernels"`
			} `json:"coverage"`
		} `json:"installs"`
	}
	if err := json.Unmarshal([]byte(js), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Schema != "rocm-patch/sdk/v1" || len(doc.Installs) != 2 || doc.Installs[0].Path != "/opt/rocm_sdk_612" ||
		len(doc.Installs[0].SelectedBy) != 1 || doc.Installs[0].Coverage[0].Kernels != "own" {
		t.Errorf("doc = %+v", doc)
	}
}

// TestSDKListCoverage: an RX 6700 XT (gfx1031) under ROCm 6.2 has only the
// gfx1030 kernels of its family; an RX 5700 XT (gfx1010) has none.
func TestSDKListCoverage(t *testing.T) {
	out, _, code := run(t, kernelEnv, "sdk", "list", "--root", example(t, "rx6700xt"))
	if code != 0 || !strings.Contains(out, "(gfx1031): only gfx1030 kernels, same ISA family: usable with HSA_OVERRIDE_GFX_VERSION=10.3.0") {
		t.Errorf("rx6700xt: exit %d\n%s", code, out)
	}
	// ROCm 6.2 ships gfx1010 kernels; a gfx1030-only SDK does not, and
	// gfx1030 is another ISA family than gfx1010.
	rdna1 := testutil.WriteTree(t, map[string]string{
		"/sys/class/kfd/kfd/topology/nodes/1/properties":                        "simd_count 80\nvendor_id 4098\ndevice_id 29471\ngfx_target_version 100100\n",
		"/opt/rocm_sdk_612/.info/version":                                       "6.1.2-1\n",
		"/opt/rocm_sdk_612/lib/rocblas/library/TensileLibrary_lazy_gfx1030.dat": "",
	})
	out, _, code = run(t, kernelEnv, "sdk", "list", "--root", rdna1)
	if code != 0 || !strings.Contains(out, "(gfx1010): no kernels for its target or ISA family") {
		t.Errorf("gfx1010 with a gfx1030 SDK: exit %d\n%s", code, out)
	}
	out, _, code = run(t, kernelEnv, "sdk", "list", "--root", example(t, "no-gpu"))
	if code != 0 || !strings.Contains(out, "No ROCm installation found.") {
		t.Errorf("no-gpu: exit %d\n%s", code, out)
	}
}

func TestSDKEnv(t *testing.T) {
	dir := example(t, "rx6800")
	out, stderr, code := run(t, []string{"ROCM_PATCH_NO_HOST_IDS=1", "PATH=/usr/bin:/bin"}, "sdk", "env", "--root", dir, "/opt/rocm_sdk_612")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{
		"# Activates the ROCm installation at /opt/rocm_sdk_612 (6.1.2-1).\n",
		"export ROCM_PATH='/opt/rocm_sdk_612'\n",
		"export HIP_PATH='/opt/rocm_sdk_612'\n",
		`export PATH='/opt/rocm_sdk_612/bin'"${PATH:+:$PATH}"` + "\n",
		`export LD_LIBRARY_PATH='/opt/rocm_sdk_612/lib'"${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"` + "\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("bash output lacks %q:\n%s", want, out)
		}
	}
	if bash, err := exec.LookPath("bash"); err == nil {
		cmd := exec.Command(bash, "-c", out+"\nprintf '%s|%s' \"$PATH\" \"$LD_LIBRARY_PATH\"")
		cmd.Env = []string{"PATH=/usr/bin:/bin"}
		got, err := cmd.Output()
		if err != nil || string(got) != "/opt/rocm_sdk_612/bin:/usr/bin:/bin|/opt/rocm_sdk_612/lib" {
			t.Errorf("evaluated: %q, %v", got, err)
		}
	}
	out, _, code = run(t, []string{"PATH=/usr/bin"}, "sdk", "env", "--shell", "dotenv", "--root", dir, "/opt/rocm/")
	if code != 0 || !strings.Contains(out, "PATH=/opt/rocm/bin:/usr/bin\n") || !strings.Contains(out, "ROCM_PATH=/opt/rocm\n") {
		t.Errorf("dotenv: exit %d\n%s", code, out)
	}
	out, _, code = run(t, nil, "sdk", "env", "--shell", "json", "--root", dir, "/opt/rocm-6.1.3")
	if code != 0 || !strings.Contains(out, `"schema": "rocm-patch/sdk-env/v1"`) || !strings.Contains(out, `"action": "prepend"`) {
		t.Errorf("json: exit %d\n%s", code, out)
	}
}

func TestSDKEnvRefusals(t *testing.T) {
	dir := example(t, "rx6800")
	odd := testutil.WriteTree(t, map[string]string{"/opt/a b/bin/x": "", "/opt/a b/lib/y": "", "/opt/$x/bin/x": "", "/opt/$x/lib/y": ""})
	tests := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"newline", []string{"--root", dir, "/opt/rocm_sdk_612\nexport X=1"}, ExitUsage, "control character"},
		{"colon", []string{"--root", dir, "/opt/rocm:/tmp"}, ExitUsage, "colon"},
		{"relative under root", []string{"--root", dir, "opt/rocm"}, ExitUsage, "not absolute"},
		{"not rocm", []string{"--root", dir, "/usr"}, ExitUsage, "not a ROCm installation"},
		{"missing", []string{"--root", dir, "/opt/rocm-9"}, ExitUsage, "does not exist"},
		{"bad shell", []string{"--shell", "csh", "--root", dir, "/opt/rocm"}, ExitUsage, "unknown shell"},
		{"no path", []string{"--root", dir}, ExitUsage, "accepts 1 arg"},
		{"dotenv cannot carry $", []string{"--shell", "dotenv", "--root", odd, "/opt/$x"}, ExitError, "--shell json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, stderr, code := run(t, kernelEnv, append([]string{"sdk", "env"}, tt.args...)...)
			if code != tt.code || !strings.Contains(stderr, tt.msg) || out != "" {
				t.Errorf("exit %d, stderr %q, stdout %q; want %d and %q", code, stderr, out, tt.code, tt.msg)
			}
		})
	}
	// A tree detect does not list, with bin/ and lib/, and a space.
	out, _, code := run(t, kernelEnv, "sdk", "env", "--root", odd, "/opt/a b")
	if code != 0 || !strings.Contains(out, "export ROCM_PATH='/opt/a b'\n") {
		t.Errorf("space: exit %d\n%s", code, out)
	}
}
