package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/creack/pty"

	"github.com/rocm-patch/rocm-patch/internal/kparams"
	"github.com/rocm-patch/rocm-patch/internal/setup"
	"github.com/rocm-patch/rocm-patch/internal/testutil"
)

// setupWorld is one user and one machine for setup: a temporary HOME, a
// fake rocm-patch binary for the block to name, a fake python3 that
// answers pypath's question with a site-packages folder outside HOME
// (so no real interpreter is needed), a data folder outside HOME for the
// Python package (so that HOME can be compared byte for byte after undo),
// and a copy of an example machine for the kernel step.
type setupWorld struct {
	home, exe, python, site, data, tree string
	env                                 []string
}

func newSetupWorld(t *testing.T, machine string) *setupWorld {
	t.Helper()
	w := &setupWorld{home: t.TempDir(), site: t.TempDir(), data: t.TempDir()}
	bin := t.TempDir()
	w.exe = filepath.Join(bin, "rocm-patch")
	if err := os.WriteFile(w.exe, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	w.python = filepath.Join(bin, "python3")
	answer := fmt.Sprintf(`{"executable": %q, "version": "3.11", "venv": true, "purelib": %q, "user_site": "", "user_site_enabled": true}`, w.python, w.site)
	if err := os.WriteFile(w.python, []byte("#!/bin/sh\necho '"+answer+"'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	w.tree = kernelTree(t, machine)
	w.env = []string{
		"HOME=" + w.home,
		"SHELL=/bin/bash",
		"PATH=/usr/bin:/bin",
		"XDG_DATA_HOME=" + w.data,
		"ROCM_PATCH_NO_HOST_IDS=1",
	}
	return w
}

// args are the flags every test run of setup needs: never the live
// machine, always the fake binary and interpreter.
func (w *setupWorld) args(extra ...string) []string {
	return append([]string{"setup", "--root", w.tree, "--exe", w.exe, "--python", w.python}, extra...)
}

func (w *setupWorld) run(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	return run(t, w.env, args...)
}

func (w *setupWorld) conf() string {
	return filepath.Join(w.tree, "etc/modprobe.d/rocm-patch-amdgpu.conf")
}

// snapshot is everything setup may touch.
func (w *setupWorld) snapshot(t *testing.T) map[string]map[string]string {
	t.Helper()
	return map[string]map[string]string{
		"home": testutil.ReadTree(t, w.home),
		"site": testutil.ReadTree(t, w.site),
		// Kernel rollback's promise is the file's bytes; the folders and
		// the state file it made stay, as after rocm-patch kernel rollback.
		"conf": readConf(w.conf()),
	}
}

func readConf(name string) map[string]string {
	data, err := os.ReadFile(name)
	if err != nil {
		return map[string]string{"conf": "absent"}
	}
	return map[string]string{"conf": string(data)}
}

// setEnv returns env with name set to value, replacing it.
func setEnv(env []string, name, value string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, name+"=") {
			out = append(out, kv)
		}
	}
	return append(out, name+"="+value)
}

func sameSnapshot(t *testing.T, what string, before, after map[string]map[string]string) {
	t.Helper()
	for k := range before {
		if !reflect.DeepEqual(before[k], after[k]) {
			t.Errorf("%s: %s differs:\nbefore %v\nafter  %v", what, k, before[k], after[k])
		}
	}
}

// TestSetupYesSecondRunUndo is the whole life of setup for each shell and
// each shape of start-up file: --yes does every step, a second run changes
// nothing and says so, --undo gives back the original bytes (a start-up
// file setup created is removed again, with the folders made for it).
func TestSetupYesSecondRunUndo(t *testing.T) {
	noFile := "\x00absent"
	tests := []struct {
		name  string
		shell setup.Shell
		file  string // relative to HOME
		orig  string
	}{
		{"bash, no .bashrc", setup.Bash, ".bashrc", noFile},
		{"bash, trailing newline", setup.Bash, ".bashrc", "alias ll='ls -l'\nexport EDITOR=vi\n"},
		{"bash, no trailing newline", setup.Bash, ".bashrc", "alias ll='ls -l'"},
		{"bash, empty .bashrc", setup.Bash, ".bashrc", ""},
		{"zsh", setup.Zsh, ".zshrc", "setopt autocd\n"},
		{"fish, no config folder", setup.Fish, ".config/fish/config.fish", noFile},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newSetupWorld(t, "rx7900xtx")
			w.env = setEnv(w.env, "SHELL", "/usr/bin/"+string(tt.shell))
			rc := filepath.Join(w.home, tt.file)
			if tt.orig != noFile {
				if err := os.WriteFile(rc, []byte(tt.orig), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			before := w.snapshot(t)

			out, stderr, code := w.run(t, w.args("--yes")...)
			if code != 0 {
				t.Fatalf("setup: exit %d: %s\n%s", code, stderr, out)
			}
			for _, want := range []string{
				"Risk: NONE", // doctor ran
				"Plan (policy mitigate)",
				"1. shell:", "2. python:", "3. kernel:",
				"Changed:",
				"Recorded in ~/.local/state/rocm-patch/setup.json",
				"amdgpu.cwsr_enable=0",
			} {
				if !strings.Contains(out, want) {
					t.Errorf("setup output lacks %q:\n%s", want, out)
				}
			}
			data, err := os.ReadFile(rc)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(data, []byte(setup.BeginMarker)) || !bytes.Contains(data, []byte(w.exe)) {
				t.Errorf("%s after setup:\n%s", tt.file, data)
			}
			if tt.orig != noFile {
				if !bytes.HasPrefix(data, []byte(tt.orig)) {
					t.Errorf("%s lost its start:\n%q", tt.file, data)
				}
				if fi, _ := os.Stat(rc); fi.Mode().Perm() != 0o600 {
					t.Errorf("mode %v, want 0600 kept", fi.Mode().Perm())
				}
			}
			if _, err := os.Stat(filepath.Join(w.site, "rocm_patch.pth")); err != nil {
				t.Errorf("python step: %v", err)
			}
			if _, err := os.Stat(w.conf()); err != nil {
				t.Errorf("kernel step: %v", err)
			}
			afterFirst := w.snapshot(t)

			out, stderr, code = w.run(t, w.args("--yes")...)
			if code != 0 || !strings.Contains(out, "Nothing to do: no step has anything to change.") {
				t.Errorf("second run: exit %d: %s\n%s", code, stderr, out)
			}
			sameSnapshot(t, "second run", afterFirst, w.snapshot(t))

			out, stderr, code = w.run(t, "setup", "--undo", "--yes")
			if code != 0 {
				t.Fatalf("undo: exit %d: %s\n%s", code, stderr, out)
			}
			if !strings.Contains(out, "Nothing of setup is recorded any more.") {
				t.Errorf("undo output:\n%s", out)
			}
			sameSnapshot(t, "undo", before, w.snapshot(t))
			if tt.orig != noFile {
				if data, _ := os.ReadFile(rc); string(data) != tt.orig {
					t.Errorf("undo gave %q, want %q", data, tt.orig)
				}
			}

			out, _, code = w.run(t, "setup", "--undo", "--yes")
			if code != 0 || !strings.Contains(out, "Nothing to undo") {
				t.Errorf("second undo: exit %d\n%s", code, out)
			}
		})
	}
}

// TestSetupUndoRefusesEdits: an edit inside the block, or a copy of it,
// makes undo refuse, name the file, and touch nothing at all (not even
// the other steps' changes).
func TestSetupUndoRefusesEdits(t *testing.T) {
	tests := []struct {
		name string
		edit func(string) string
		want string
	}{
		{"edited inside", func(s string) string { return strings.Replace(s, " env)", " env --policy cpu)", 1) }, "edited by hand"},
		{"copied", func(s string) string {
			i := strings.Index(s, setup.BeginMarker)
			return s + "\n" + s[i:]
		}, "more than once"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newSetupWorld(t, "rx7900xtx")
			rc := filepath.Join(w.home, ".bashrc")
			os.WriteFile(rc, []byte("export A=1\n"), 0o644)
			if _, stderr, code := w.run(t, w.args("--yes")...); code != 0 {
				t.Fatalf("setup: exit %d: %s", code, stderr)
			}
			data, _ := os.ReadFile(rc)
			os.WriteFile(rc, []byte(tt.edit(string(data))), 0o644)
			before := w.snapshot(t)
			manifest := testutil.ReadTree(t, filepath.Join(w.home, ".local/state"))

			out, stderr, code := w.run(t, "setup", "--undo", "--yes")
			if code != ExitError || !strings.Contains(stderr, rc) || !strings.Contains(stderr, tt.want) || !strings.Contains(stderr, "nothing was undone") {
				t.Errorf("exit %d, stderr %q\n%s", code, stderr, out)
			}
			sameSnapshot(t, "refused undo", before, w.snapshot(t))
			if !reflect.DeepEqual(manifest, testutil.ReadTree(t, filepath.Join(w.home, ".local/state"))) {
				t.Error("the manifest changed")
			}
			// A second setup refuses too: it would not know which block
			// to keep.
			if _, stderr, code := w.run(t, w.args("--yes")...); code != ExitError || !strings.Contains(stderr, "nothing was changed") {
				t.Errorf("setup over an edited block: exit %d: %s", code, stderr)
			}
		})
	}
}

// TestSetupUndoKeepsUserLines: lines the user added after the block since
// setup stay; only what setup added goes.
func TestSetupUndoKeepsUserLines(t *testing.T) {
	w := newSetupWorld(t, "rx6700xt")
	rc := filepath.Join(w.home, ".bashrc")
	os.WriteFile(rc, []byte("export A=1"), 0o644)
	if _, stderr, code := w.run(t, w.args("--yes", "--skip", "python")...); code != 0 {
		t.Fatalf("setup: exit %d: %s", code, stderr)
	}
	f, _ := os.OpenFile(rc, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("export B=2\n")
	f.Close()
	out, stderr, code := w.run(t, "setup", "--undo", "--yes")
	if code != 0 {
		t.Fatalf("undo: exit %d: %s", code, stderr)
	}
	if !strings.Contains(out, "changed since setup") {
		t.Errorf("no note that the file changed:\n%s", out)
	}
	if data, _ := os.ReadFile(rc); string(data) != "export A=1\nexport B=2\n" {
		t.Errorf("got %q", data)
	}
}

// TestSetupUpdateAndLink: a second setup with another policy replaces the
// block in place; a .bashrc that is a link (a dotfiles manager's) stays a
// link; undo still gives back the original bytes.
func TestSetupUpdateAndLink(t *testing.T) {
	w := newSetupWorld(t, "rx6700xt")
	dotfiles := t.TempDir()
	real := filepath.Join(dotfiles, "bashrc")
	orig := "# my bashrc\n"
	os.WriteFile(real, []byte(orig), 0o644)
	link := filepath.Join(w.home, ".bashrc")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	flags := []string{"--yes", "--skip", "python", "--skip", "kernel"}
	if out, stderr, code := w.run(t, w.args(flags...)...); code != 0 || !strings.Contains(out, "a link to "+real) {
		t.Fatalf("setup: exit %d: %s\n%s", code, stderr, out)
	}
	out, stderr, code := w.run(t, w.args(append(flags, "--policy", "cpu")...)...)
	if code != 0 || !strings.Contains(out, "replace the rocm-patch block") {
		t.Fatalf("setup --policy cpu: exit %d: %s\n%s", code, stderr, out)
	}
	data, _ := os.ReadFile(real)
	if !strings.Contains(string(data), "env --policy cpu)") || strings.Count(string(data), setup.BeginMarker) != 1 {
		t.Errorf("after the update:\n%s", data)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf(".bashrc is no longer a link: %v", err)
	}
	if _, stderr, code := w.run(t, "setup", "--undo", "--yes"); code != 0 {
		t.Fatalf("undo: exit %d: %s", code, stderr)
	}
	if data, _ := os.ReadFile(real); string(data) != orig {
		t.Errorf("undo gave %q", data)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf(".bashrc is no longer a link after undo: %v", err)
	}
}

// TestSetupNoTerminal: without --yes and without a terminal setup refuses
// before changing anything; --dry-run lists and changes nothing.
func TestSetupNoTerminal(t *testing.T) {
	w := newSetupWorld(t, "rx7900xtx")
	before := w.snapshot(t)
	_, stderr, code := w.run(t, w.args()...)
	if code != ExitUsage || !strings.Contains(stderr, "stdin is not a terminal") || !strings.Contains(stderr, "--yes") {
		t.Errorf("exit %d: %s", code, stderr)
	}
	sameSnapshot(t, "refusal", before, w.snapshot(t))

	out, stderr, code := w.run(t, w.args("--dry-run")...)
	if code != 0 || !strings.Contains(out, "Dry run: nothing was changed.") || !strings.Contains(out, "create ~/.bashrc with this block (7 lines)") {
		t.Errorf("dry run: exit %d: %s\n%s", code, stderr, out)
	}
	sameSnapshot(t, "dry run", before, w.snapshot(t))
}

// TestSetupAnswers answers each question on a pseudo-terminal: "n" skips
// a step, "y" does it.
func TestSetupAnswers(t *testing.T) {
	tests := []struct {
		answers               string
		shell, python, kernel bool
		code                  int
	}{
		{"n\ny\nn\n", false, true, false, 0},
		{"y\nn\ny\n", true, false, true, 0},
		{"n\nn\nn\n", false, false, false, 0},
		{"y\n", true, false, false, ExitError}, // then the input ends
	}
	for _, tt := range tests {
		t.Run(strings.ReplaceAll(tt.answers, "\n", ","), func(t *testing.T) {
			w := newSetupWorld(t, "rx7900xtx")
			ptmx, tty, err := pty.Open()
			if err != nil {
				t.Skipf("no pseudo-terminal: %v", err)
			}
			defer ptmx.Close()
			defer tty.Close()
			if _, err := ptmx.Write([]byte(tt.answers)); err != nil {
				t.Fatal(err)
			}
			if tt.code != 0 {
				ptmx.Write([]byte{4}) // ^D: end of input
			}
			var out, errb bytes.Buffer
			code := Main(context.Background(), w.args(), tty, &out, &errb, w.env)
			if code != tt.code {
				t.Fatalf("exit %d, want %d: %s\n%s", code, tt.code, errb.String(), out.String())
			}
			for _, q := range []string{"Add the block to ~/.bashrc? [y/N]", "Install ", "Write /etc/modprobe.d/rocm-patch-amdgpu.conf? [y/N]"} {
				if tt.code == 0 && !strings.Contains(errb.String(), q) {
					t.Errorf("no question %q: %s", q, errb.String())
				}
			}
			exists := func(p string) bool { _, err := os.Stat(p); return err == nil }
			if got := exists(filepath.Join(w.home, ".bashrc")); got != tt.shell {
				t.Errorf("shell step done: %v, want %v", got, tt.shell)
			}
			if got := exists(filepath.Join(w.site, "rocm_patch.pth")); got != tt.python {
				t.Errorf("python step done: %v, want %v", got, tt.python)
			}
			if got := exists(w.conf()); got != tt.kernel {
				t.Errorf("kernel step done: %v, want %v", got, tt.kernel)
			}
			if !tt.shell && !tt.python && !tt.kernel && !strings.Contains(out.String(), "Nothing was changed.") {
				t.Errorf("no 'Nothing was changed':\n%s", out.String())
			}
			if tt.shell && !strings.Contains(out.String(), "Changed:\n  - shell: ") {
				t.Errorf("the change is not listed:\n%s", out.String())
			}
		})
	}
}

// TestSetupUndoAnswers: "n" keeps a change recorded; a later undo takes it.
func TestSetupUndoAnswers(t *testing.T) {
	w := newSetupWorld(t, "rx7900xtx")
	before := w.snapshot(t)
	if _, stderr, code := w.run(t, w.args("--yes")...); code != 0 {
		t.Fatalf("setup: exit %d: %s", code, stderr)
	}
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	defer ptmx.Close()
	defer tty.Close()
	ptmx.Write([]byte("n\ny\ny\n")) // kernel kept; python and shell undone
	var out, errb bytes.Buffer
	if code := Main(context.Background(), []string{"setup", "--undo"}, tty, &out, &errb, w.env); code != 0 {
		t.Fatalf("undo: exit %d: %s\n%s", code, errb.String(), out.String())
	}
	if !strings.Contains(out.String(), "Kept the kernel change.") || !strings.Contains(out.String(), "1 change(s) still recorded") {
		t.Errorf("undo output:\n%s", out.String())
	}
	if _, err := os.Stat(w.conf()); err != nil {
		t.Errorf("the kept kernel change is gone: %v", err)
	}
	if _, stderr, code := w.run(t, "setup", "--undo", "--yes"); code != 0 {
		t.Fatalf("second undo: exit %d: %s", code, stderr)
	}
	sameSnapshot(t, "two undos", before, w.snapshot(t))
}

// TestSetupKernelMoved: after setup's kernel apply, another apply makes
// undo refuse rather than roll back someone else's.
func TestSetupKernelMoved(t *testing.T) {
	w := newSetupWorld(t, "rx7900xtx")
	if _, stderr, code := w.run(t, w.args("--yes", "--skip", "shell", "--skip", "python")...); code != 0 {
		t.Fatalf("setup: exit %d: %s", code, stderr)
	}
	if _, stderr, code := run(t, kernelEnv, "kernel", "apply", "--yes", "--profile", "thermal-2025", "--root", w.tree); code != 0 {
		t.Fatalf("kernel apply: exit %d: %s", code, stderr)
	}
	before := w.snapshot(t)
	_, stderr, code := w.run(t, "setup", "--undo", "--yes")
	if code != ExitError || !strings.Contains(stderr, "a later kernel apply is recorded") {
		t.Errorf("exit %d: %s", code, stderr)
	}
	sameSnapshot(t, "refused undo", before, w.snapshot(t))
	// Once that apply is rolled back, undo goes through.
	if _, stderr, code := run(t, kernelEnv, "kernel", "rollback", "--yes", "--root", w.tree); code != 0 {
		t.Fatalf("kernel rollback: exit %d: %s", code, stderr)
	}
	if _, stderr, code := w.run(t, "setup", "--undo", "--yes"); code != 0 {
		t.Fatalf("undo: exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(w.conf()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("conf after undo: %v", err)
	}
}

// TestSetupNothingForTheKernel: on RDNA2 the recommended profile changes
// nothing, so the kernel step is not offered.
func TestSetupNothingForTheKernel(t *testing.T) {
	w := newSetupWorld(t, "rx6700xt")
	out, stderr, code := w.run(t, w.args("--yes", "--skip", "python", "--skip", "shell")...)
	if code != 0 || !strings.Contains(out, "3. kernel: nothing to do: no parameter of profile recommended changes") ||
		!strings.Contains(out, "skipped (--skip shell)") || !strings.Contains(out, "Nothing to do: no step has anything to change.") {
		t.Errorf("exit %d: %s\n%s", code, stderr, out)
	}
	if _, err := os.Stat(filepath.Join(w.home, ".local")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a setup that changed nothing created %v", err)
	}
}

// TestSetupTemporaryBinary: a binary that go test (or go run) built in a
// temporary folder is never written into a start-up file.
func TestSetupTemporaryBinary(t *testing.T) {
	w := newSetupWorld(t, "rx6700xt")
	self, err := os.Executable()
	if err != nil || !setup.ChooseExecutable(self, w.env).Temporary {
		t.Skipf("the test binary %s is not in a temporary folder", self)
	}
	out, stderr, code := w.run(t, "setup", "--yes", "--root", w.tree, "--python", w.python)
	if code != 0 || strings.Count(out, "temporary build") != 2 {
		t.Errorf("exit %d: %s\n%s", code, stderr, out)
	}
	if _, err := os.Stat(filepath.Join(w.home, ".bashrc")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf(".bashrc: %v", err)
	}
}

func TestSetupUsageErrors(t *testing.T) {
	w := newSetupWorld(t, "rx6700xt")
	tests := []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"policy", nil, w.args("--yes", "--policy", "force-gpu-unsafe"), "--policy"},
		{"skip", nil, w.args("--yes", "--skip", "docs"), "--skip"},
		{"shell flag", nil, w.args("--yes", "--shell", "tcsh"), "--shell"},
		{"SHELL", []string{"SHELL=/bin/dash"}, w.args("--yes"), "$SHELL is /bin/dash"},
		{"exe", nil, append(w.args("--yes"), "--exe", w.home), "--exe"},
		{"profile", nil, w.args("--yes", "--profile", "turbo"), "--profile"},
		{"undo with root", nil, []string{"setup", "--undo", "--root", w.tree}, "--root has no meaning"},
		{"no HOME", []string{"HOME="}, w.args("--yes"), "$HOME is not set"},
		{"relative HOME", []string{"HOME=home"}, w.args("--yes"), "not an absolute path"},
		{"args", nil, []string{"setup", "now"}, "unknown command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := w.snapshot(t)
			env := w.env
			for _, kv := range tt.env {
				k, v, _ := strings.Cut(kv, "=")
				env = setEnv(env, k, v)
			}
			_, stderr, code := run(t, env, tt.args...)
			if code != ExitUsage || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want exit 2 mentioning %q", code, stderr, tt.want)
			}
			sameSnapshot(t, tt.name, before, w.snapshot(t))
		})
	}
}

// TestSetupHomeOfAnotherUser: under sudo HOME often stays the user's;
// setup refuses to write files there that root would own.
func TestSetupHomeOfAnotherUser(t *testing.T) {
	w := newSetupWorld(t, "rx6700xt")
	old := setupEUID
	setupEUID = func() int { return os.Geteuid() + 4242 }
	defer func() { setupEUID = old }()
	for _, args := range [][]string{w.args("--yes"), {"setup", "--undo", "--yes"}} {
		_, stderr, code := w.run(t, args...)
		if code != ExitUsage || !strings.Contains(stderr, "belongs to user id") || !strings.Contains(stderr, "without sudo") {
			t.Errorf("%v: exit %d: %s", args, code, stderr)
		}
	}
}

// TestSetupUnderSudo: as root with SUDO_USER set, setup says whose start-up
// file it is changing.
func TestSetupUnderSudo(t *testing.T) {
	w := newSetupWorld(t, "rx6700xt")
	old := setupEUID
	setupEUID = func() int { return 0 }
	defer func() { setupEUID = old }()
	if os.Geteuid() != 0 {
		t.Skip("HOME must belong to root for setup to go on")
	}
	out, stderr, code := run(t, append(w.env, "SUDO_USER=alice"), w.args("--dry-run")...)
	if code != 0 || !strings.Contains(out, "running under sudo: the shell and Python steps are root's, not") || !strings.Contains(out, "alice's") {
		t.Errorf("exit %d: %s\n%s", code, stderr, out)
	}
}

// TestSetupKernelSkipReason: without root on the live machine the kernel
// step is not offered; the exact command to run is.
func TestSetupKernelSkipReason(t *testing.T) {
	got := kernelSkipReason(kparams.ErrNotRoot, &kernelFlags{profile: "thermal-2025"}, []string{"amdgpu.gttsize=8192"})
	for _, want := range []string{"needs root", "sudo rocm-patch kernel apply --profile thermal-2025", "amdgpu.gttsize=8192"} {
		if !strings.Contains(got, want) {
			t.Errorf("%q lacks %q", got, want)
		}
	}
	got = kernelSkipReason(fmt.Errorf("/etc/modprobe.d under /x: %w", kparams.ErrNotWritable), &kernelFlags{profile: "recommended", root: "/x"}, nil)
	if !strings.Contains(got, "not writable") || !strings.Contains(got, "--root /x") {
		t.Errorf("%q", got)
	}
}
