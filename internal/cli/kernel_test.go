package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rocm-patch/rocm-patch/internal/testutil"

	"github.com/creack/pty"

	"github.com/rocm-patch/rocm-patch/internal/kparams"
)

// kernelEnv keeps the output independent of this machine's libdrm.
var kernelEnv = []string{"ROCM_PATCH_NO_HOST_IDS=1"}

// kernelTree copies an example machine to a temporary folder, so that
// apply can write into it: examples/ is never written.
func kernelTree(t *testing.T, name string) string {
	t.Helper()
	dst := t.TempDir()
	copyTree(t, filepath.Join(repoRoot(t), "examples", "systems", name), dst)
	return dst
}

func sameFiles(t *testing.T, before, after map[string]string) {
	t.Helper()
	for k, v := range after {
		if b, ok := before[k]; !ok || b != v {
			t.Errorf("%s was created or changed", k)
		}
	}
	for k := range before {
		if _, ok := after[k]; !ok {
			t.Errorf("%s was removed", k)
		}
	}
}

// TestKernelPlanGolden: the plans the issue asks to pin down.
func TestKernelPlanGolden(t *testing.T) {
	tests := []struct {
		tree, profile, golden string
	}{
		{"rx5700xt", "thermal-2025", "kernel/plan-thermal-2025-rx5700xt.txt"},
		{"rx7900xtx", "recommended", "kernel/plan-recommended-rx7900xtx.txt"},
		{"rx6700xt", "recommended", "kernel/plan-recommended-rx6700xt.txt"},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			dir := kernelTree(t, tt.tree)
			stdout, stderr, code := run(t, kernelEnv, "kernel", "plan", "--profile", tt.profile, "--root", dir)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			golden(t, tt.golden, strings.ReplaceAll(stdout, dir, "<root>"))
		})
	}
}

// TestKernelPlanFacts checks the facts the plans must state, whatever the
// wording: what the thermal fix really does on RDNA1, and that recommended
// writes nothing on RDNA2 and cwsr_enable=0 on RDNA3.
func TestKernelPlanFacts(t *testing.T) {
	out, _, code := run(t, kernelEnv, "kernel", "plan", "--profile", "thermal-2025", "--root", example(t, "rx5700xt"))
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{
		"amdgpu.noretry=0: changes nothing here, not written",
		"0 means retry is ENABLED",
		"amdgpu.vm_fragment_size=9: changes nothing here, not written",
		"2 MiB",
		"amdgpu.vm_update_mode=0: changes nothing here, not written",
		"256 MiB of 8 GiB VRAM CPU-visible: not large BAR",
		"amdgpu.gttsize=8192: changes something here, written",
		"amdgpu.gtt_size, which does not exist",
		"ttm.pages_limit",
		"+options amdgpu gttsize=8192\n",
		"  amdgpu.gttsize=8192\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("thermal-2025 on rx5700xt lacks %q", want)
		}
	}
	out, _, code = run(t, kernelEnv, "kernel", "plan", "--root", example(t, "rx6700xt"))
	if code != 0 || !strings.Contains(out, "Nothing to do: no parameter of profile recommended changes anything") || strings.Contains(out, "Diff") {
		t.Errorf("recommended on rx6700xt (exit %d):\n%s", code, out)
	}
	out, _, code = run(t, kernelEnv, "kernel", "plan", "--root", example(t, "rx7900xtx"))
	if code != 0 || !strings.Contains(out, "+options amdgpu cwsr_enable=0\n") || !strings.Contains(out, "amdgpu.cwsr_enable=0: changes something here, written") {
		t.Errorf("recommended on rx7900xtx (exit %d):\n%s", code, out)
	}
}

// TestKernelApplyVerifyRollback is the whole workflow through the command
// line over a copy of an example tree.
func TestKernelApplyVerifyRollback(t *testing.T) {
	dir := kernelTree(t, "rx6800")
	conf := filepath.Join(dir, "etc/modprobe.d/rocm-patch-amdgpu.conf")
	orig := []byte("options amdgpu ppfeaturemask=0xfff7ffff\n")
	os.MkdirAll(filepath.Dir(conf), 0o755)
	if err := os.WriteFile(conf, orig, 0o644); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "etc/os-release"), []byte("ID=ubuntu\nID_LIKE=debian\nPRETTY_NAME=\"Ubuntu 22.04.4 LTS\"\n"), 0o644)

	out, stderr, code := run(t, kernelEnv, "kernel", "apply", "--profile", "thermal-2025", "--yes", "--update-initramfs", "--root", dir)
	if code != 0 {
		t.Fatalf("apply: exit %d: %s\n%s", code, stderr, out)
	}
	for _, want := range []string{
		"Wrote /etc/modprobe.d/rocm-patch-amdgpu.conf",
		"The file it replaced is kept in /var/lib/rocm-patch/backups/rocm-patch-amdgpu.conf.",
		"Initramfs: update-initramfs -u (Ubuntu 22.04.4 LTS uses update-initramfs",
		"then run update-grub:",
		"amdgpu.noretry=0 amdgpu.vm_update_mode=0 amdgpu.gttsize=8192",
		"--update-initramfs: not run, because --root is not this machine.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("apply output lacks %q:\n%s", want, out)
		}
	}
	written, _ := os.ReadFile(conf)
	if !bytes.Contains(written, []byte("\noptions amdgpu noretry=0\n")) || !bytes.Contains(written, []byte("\noptions amdgpu gttsize=8192\n")) {
		t.Errorf("written:\n%s", written)
	}

	// Before a reboot nothing took.
	out, _, code = run(t, kernelEnv, "kernel", "verify", "--root", dir)
	if code != ExitFindings || !strings.Contains(out, "amdgpu.gttsize: wanted 8192, live -1: DID NOT TAKE") || !strings.Contains(out, "3 of 3 did not take: noretry, vm_update_mode, gttsize") {
		t.Errorf("verify before reboot: exit %d\n%s", code, out)
	}
	// The reboot: the driver reports the wanted values, except one.
	params := filepath.Join(dir, "sys/module/amdgpu/parameters")
	for name, v := range map[string]string{"noretry": "0", "vm_update_mode": "0", "gttsize": "-1"} {
		if err := os.WriteFile(filepath.Join(params, name), []byte(v+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(dir, "proc/cmdline"), []byte("ro quiet amdgpu.gttsize=-1\n"), 0o644)
	out, _, code = run(t, kernelEnv, "kernel", "verify", "--root", dir)
	if code != ExitFindings || !strings.Contains(out, "1 of 3 did not take: gttsize") || !strings.Contains(out, "amdgpu.noretry: wanted 0, live 0: ok") || !strings.Contains(out, "also set to -1 in /proc/cmdline") {
		t.Errorf("verify, gttsize overridden: exit %d\n%s", code, out)
	}
	os.WriteFile(filepath.Join(params, "gttsize"), []byte("8192\n"), 0o644)
	out, _, code = run(t, kernelEnv, "kernel", "verify", "--root", dir)
	if code != 0 || !strings.Contains(out, "All 3 took.") {
		t.Errorf("verify after reboot: exit %d\n%s", code, out)
	}

	out, stderr, code = run(t, kernelEnv, "kernel", "rollback", "--yes", "--root", dir)
	if code != 0 || !strings.Contains(out, "Restored /etc/modprobe.d/rocm-patch-amdgpu.conf.") {
		t.Fatalf("rollback: exit %d: %s\n%s", code, stderr, out)
	}
	if got, _ := os.ReadFile(conf); !bytes.Equal(got, orig) {
		t.Errorf("after rollback: %q, want %q", got, orig)
	}
	out, _, code = run(t, kernelEnv, "kernel", "rollback", "--yes", "--root", dir)
	if code != 0 || !strings.Contains(out, "Nothing to roll back") {
		t.Errorf("second rollback: exit %d\n%s", code, out)
	}
	_, stderr, code = run(t, kernelEnv, "kernel", "verify", "--root", dir)
	if code != ExitUsage || !strings.Contains(stderr, "nothing to verify") {
		t.Errorf("verify without state: exit %d: %s", code, stderr)
	}
}

// TestKernelRefusals: hostile values and missing confirmation are refused
// with exit 2, and the tree is left exactly as it was.
func TestKernelRefusals(t *testing.T) {
	tests := []struct {
		name string
		args []string
		msg  string
	}{
		{"newline in value", []string{"--set", "noretry=0\noptions nouveau modeset=0"}, "not an integer"},
		{"newline in name", []string{"--set", "noretry\noptions nouveau modeset=0=1"}, "name"},
		{"other module", []string{"--set", "nouveau.modeset=0"}, `module "nouveau"`},
		{"kernel module ttm", []string{"--set", "ttm.pages_limit=4194304"}, `module "ttm"`},
		{"out of range", []string{"--set", "vm_fragment_size=12"}, "out of range"},
		{"too large", []string{"--set", "gttsize=4294967296"}, "32-bit"},
		{"octal", []string{"--set", "gttsize=010"}, "not an integer"},
		{"space", []string{"--set", "noretry=0 vm_update_mode=3"}, "not an integer"},
		{"options word", []string{"--set", "options=1"}, "catalogue"},
		{"unknown parameter", []string{"--set", "ppfeaturemask=0xffffffff"}, "--allow-unknown"},
		{"misspelled parameter", []string{"--set", "gtt_size=8192", "--allow-unknown"}, "gttsize"},
		{"unknown profile", []string{"--profile", "fast"}, "unknown profile"},
		{"none without set", []string{"--profile", "none"}, "--set"},
		{"no terminal, no --yes", []string{"--profile", "thermal-2025"}, "--yes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := kernelTree(t, "rx5700xt")
			before := testutil.ReadTree(t, dir)
			args := append([]string{"kernel", "apply", "--root", dir}, tt.args...)
			if tt.name != "no terminal, no --yes" {
				args = append(args, "--yes")
			}
			out, stderr, code := run(t, kernelEnv, args...)
			if code != ExitUsage || !strings.Contains(stderr, tt.msg) {
				t.Errorf("exit %d, stderr %q; want 2 and %q\n%s", code, stderr, tt.msg, out)
			}
			sameFiles(t, before, testutil.ReadTree(t, dir))
		})
	}
}

func TestKernelNothingToDo(t *testing.T) {
	dir := kernelTree(t, "rx6700xt")
	before := testutil.ReadTree(t, dir)
	out, _, code := run(t, kernelEnv, "kernel", "apply", "--root", dir)
	if code != 0 || !strings.Contains(out, "Nothing to do") {
		t.Errorf("exit %d\n%s", code, out)
	}
	sameFiles(t, before, testutil.ReadTree(t, dir))
	// An explicit no-op is written: the user insisted, and is told.
	out, _, code = run(t, kernelEnv, "kernel", "apply", "--profile", "none", "--set", "amdgpu.vm_fragment_size=9", "--yes", "--root", dir)
	if code != 0 || !strings.Contains(out, "amdgpu.vm_fragment_size=9: changes nothing here, written") {
		t.Errorf("explicit no-op: exit %d\n%s", code, out)
	}
	out, _, code = run(t, kernelEnv, "kernel", "apply", "--profile", "none", "--set", "amdgpu.vm_fragment_size=9", "--yes", "--root", dir)
	if code != 0 || !strings.Contains(out, "already holds exactly this") {
		t.Errorf("again: exit %d\n%s", code, out)
	}
}

// TestKernelConfirmOnTerminal answers the question on a pseudo-terminal.
func TestKernelConfirmOnTerminal(t *testing.T) {
	for _, answer := range []string{"y", "n", ""} {
		t.Run("answer "+answer, func(t *testing.T) {
			dir := kernelTree(t, "rx5700xt")
			ptmx, tty, err := pty.Open()
			if err != nil {
				t.Skipf("no pseudo-terminal: %v", err)
			}
			defer ptmx.Close()
			defer tty.Close()
			if _, err := ptmx.Write([]byte(answer + "\n")); err != nil {
				t.Fatal(err)
			}
			var out, errb bytes.Buffer
			code := Main(context.Background(), []string{"kernel", "apply", "--profile", "thermal-2025", "--root", dir}, tty, &out, &errb, kernelEnv)
			if !strings.Contains(errb.String(), "Write /etc/modprobe.d/rocm-patch-amdgpu.conf? [y/N]") {
				t.Errorf("no question: %s", errb.String())
			}
			_, statErr := os.Stat(filepath.Join(dir, "etc/modprobe.d/rocm-patch-amdgpu.conf"))
			if answer == "y" {
				if code != 0 || statErr != nil {
					t.Errorf("yes: exit %d, %v: %s", code, statErr, errb.String())
				}
				return
			}
			if code != ExitError || statErr == nil || !strings.Contains(errb.String(), "nothing was written") {
				t.Errorf("%q: exit %d, file %v: %s", answer, code, statErr, errb.String())
			}
		})
	}
}

func TestKernelVerifyNotLoaded(t *testing.T) {
	out, _, code := run(t, kernelEnv, "kernel", "verify", "--profile", "thermal-2025", "--root", example(t, "no-gpu"))
	if code != ExitFindings || !strings.Contains(out, "amdgpu not loaded") {
		t.Errorf("exit %d\n%s", code, out)
	}
}

func TestKernelSnapshotRootRefused(t *testing.T) {
	archive := filepath.Join(t.TempDir(), "m.tar.gz")
	if err := os.WriteFile(archive, []byte("\x1f\x8b"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, code := run(t, kernelEnv, "kernel", "apply", "--yes", "--root", archive)
	if code != ExitUsage || !strings.Contains(stderr, "snapshot") {
		t.Errorf("exit %d: %s", code, stderr)
	}
}

func TestKernelStatePath(t *testing.T) {
	// The documented paths are the ones the package uses.
	if kparams.ConfPath != "/etc/modprobe.d/rocm-patch-amdgpu.conf" || kparams.StatePath != "/var/lib/rocm-patch/kernel-state.json" {
		t.Errorf("paths %s %s", kparams.ConfPath, kparams.StatePath)
	}
}
