package setup

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rocm-patch/rocm-patch/internal/pypath"
	"github.com/rocm-patch/rocm-patch/internal/testutil"
)

func testHome(t *testing.T, extra ...string) Home {
	t.Helper()
	h, err := HomeFromEnv(append([]string{"HOME=" + t.TempDir()}, extra...))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func openSession(t *testing.T, h Home) *Session {
	t.Helper()
	s, err := Open(h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestHomeFromEnv(t *testing.T) {
	tests := []struct {
		env                           []string
		bashrc, zshrc, fish, manifest string
		err                           bool
	}{
		{env: []string{"HOME=/home/u"}, bashrc: "/home/u/.bashrc", zshrc: "/home/u/.zshrc", fish: "/home/u/.config/fish/config.fish", manifest: "/home/u/.local/state/rocm-patch/setup.json"},
		{env: []string{"HOME=/home/u/", "ZDOTDIR=/home/u/.zsh", "XDG_CONFIG_HOME=/cfg", "XDG_STATE_HOME=/st"}, bashrc: "/home/u/.bashrc", zshrc: "/home/u/.zsh/.zshrc", fish: "/cfg/fish/config.fish", manifest: "/st/rocm-patch/setup.json"},
		// Relative XDG values are ignored, as the specification says.
		{env: []string{"HOME=/home/u", "XDG_CONFIG_HOME=cfg", "XDG_STATE_HOME=", "ZDOTDIR=z"}, bashrc: "/home/u/.bashrc", zshrc: "/home/u/.zshrc", fish: "/home/u/.config/fish/config.fish", manifest: "/home/u/.local/state/rocm-patch/setup.json"},
		{env: []string{}, err: true},
		{env: []string{"HOME=u"}, err: true},
	}
	for _, tt := range tests {
		h, err := HomeFromEnv(tt.env)
		if (err != nil) != tt.err {
			t.Errorf("%v: err %v", tt.env, err)
			continue
		}
		if err != nil {
			continue
		}
		got := []string{h.StartupFile(Bash), h.StartupFile(Zsh), h.StartupFile(Fish), h.ManifestPath()}
		want := []string{tt.bashrc, tt.zshrc, tt.fish, tt.manifest}
		for i := range got {
			if got[i] != want[i] {
				t.Errorf("%v: %s, want %s", tt.env, got[i], want[i])
			}
		}
	}
	h := Home{Dir: "/home/u"}
	for in, want := range map[string]string{"/home/u": "~", "/home/u/.bashrc": "~/.bashrc", "/home/user/.bashrc": "/home/user/.bashrc", "/etc/x": "/etc/x"} {
		if got := h.Short(in); got != want {
			t.Errorf("Short(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestBashLoginNote(t *testing.T) {
	tests := []struct {
		files map[string]string
		want  string // "" for no note
	}{
		{map[string]string{".profile": "if [ -f ~/.bashrc ]; then . ~/.bashrc; fi\n"}, ""},
		{map[string]string{".bash_profile": "[[ -f ~/.bashrc ]] && . ~/.bashrc\n", ".profile": "x\n"}, ""},
		{map[string]string{".bash_profile": "export PATH=$PATH:~/bin\n", ".profile": ". ~/.bashrc\n"}, "~/.bash_profile"},
		{map[string]string{}, "there is none here"},
	}
	for _, tt := range tests {
		h := testHome(t)
		for name, content := range tt.files {
			os.WriteFile(filepath.Join(h.Dir, name), []byte(content), 0o644)
		}
		got := BashLoginNote(h)
		if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
			t.Errorf("%v: note %q, want one mentioning %q", tt.files, got, tt.want)
		}
	}
}

// TestShellStep drives the shell step without the command line: plan,
// apply, a second plan that has nothing to do, undo.
func TestShellStep(t *testing.T) {
	h := testHome(t)
	block := mustBlock(t, Bash, BlockOptions{})
	rc := h.StartupFile(Bash)
	orig := "export A=1"
	os.WriteFile(rc, []byte(orig), 0o640)

	s := openSession(t, h)
	p, err := s.PlanShell(Bash, block)
	if err != nil || p.Action != ShellAdd || !p.Exists {
		t.Fatalf("plan: %+v, %v", p, err)
	}
	c, err := s.ApplyShell(p)
	if err != nil {
		t.Fatal(err)
	}
	if c.Created || c.Shell.Prefix != "\n\n" || len(s.Manifest.Changes) != 1 {
		t.Errorf("change %+v", c)
	}
	if fi, _ := os.Stat(rc); fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v", fi.Mode())
	}
	p, err = s.PlanShell(Bash, block)
	if err != nil || p.Action != ShellNothing || !p.Recorded {
		t.Fatalf("second plan: %+v, %v", p, err)
	}
	if c, err := s.ApplyShell(p); c != nil || err != nil {
		t.Errorf("nothing to do, yet %v, %v", c, err)
	}
	s.Close()

	// A new session reads the manifest back.
	s = openSession(t, h)
	undos, err := s.PlanUndo(context.Background(), UndoOptions{})
	if err != nil || len(undos) != 1 || undos[0].Action != UndoRestore {
		t.Fatalf("undo plan %v, %v", undos, err)
	}
	if err := s.Undo(context.Background(), undos[0]); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(rc); string(data) != orig {
		t.Errorf("undo gave %q", data)
	}
	if _, err := os.Stat(h.ManifestPath()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("manifest after the last undo: %v", err)
	}
	if _, err := os.Stat(filepath.Join(h.Dir, ".local")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the folders made for the manifest stay: %v", err)
	}
}

// TestShellStepRaces: a file that changes between plan and write is not
// written, at setup and at undo.
func TestShellStepRaces(t *testing.T) {
	h := testHome(t)
	block := mustBlock(t, Zsh, BlockOptions{})
	rc := h.StartupFile(Zsh)
	s := openSession(t, h)
	p, err := s.PlanShell(Zsh, block)
	if err != nil || p.Exists {
		t.Fatalf("%+v %v", p, err)
	}
	os.WriteFile(rc, []byte("setopt x\n"), 0o644)
	if _, err := s.ApplyShell(p); !errors.Is(err, ErrChanged) {
		t.Errorf("apply over a changed file: %v", err)
	}
	if data, _ := os.ReadFile(rc); string(data) != "setopt x\n" || len(s.Manifest.Changes) != 0 {
		t.Errorf("file %q, changes %v", data, s.Manifest.Changes)
	}

	p, _ = s.PlanShell(Zsh, block)
	if _, err := s.ApplyShell(p); err != nil {
		t.Fatal(err)
	}
	undos, err := s.PlanUndo(context.Background(), UndoOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f, _ := os.OpenFile(rc, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("alias g=git\n")
	f.Close()
	if err := s.Undo(context.Background(), undos[0]); !errors.Is(err, ErrChanged) {
		t.Errorf("undo over a changed file: %v", err)
	}
	if len(s.Manifest.Changes) != 1 {
		t.Error("the change was forgotten")
	}
}

// TestShellUndoCases: what undo decides for each state the file can be in.
func TestShellUndoCases(t *testing.T) {
	block := string(mustBlock(t, Fish, BlockOptions{}))
	tests := []struct {
		name   string
		orig   *string
		after  func(rc string) // what happens to the file after setup
		action UndoAction
		err    error
		result *string // the file after undo; nil: removed
	}{
		{"created, untouched", nil, func(string) {}, UndoRemoveFile, nil, nil},
		{"created, lines added", nil, func(rc string) { appendTo(rc, "set x 1\n") }, UndoRestore, nil, ptr("set x 1\n")},
		{"removed by the user", ptr("a\n"), func(rc string) { os.Remove(rc) }, UndoForget, nil, nil},
		{"block taken out by the user", ptr("a\n"), func(rc string) { os.WriteFile(rc, []byte("a\n"), 0o644) }, UndoForget, nil, ptr("a\n")},
		{"edited inside", ptr("a\n"), func(rc string) {
			data, _ := os.ReadFile(rc)
			os.WriteFile(rc, []byte(strings.Replace(string(data), "| source", "| source; echo hi", 1)), 0o644)
		}, 0, ErrEdited, nil},
		{"a folder now", ptr("a\n"), func(rc string) { os.Remove(rc); os.Mkdir(rc, 0o755) }, 0, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := testHome(t)
			rc := h.StartupFile(Fish)
			if tt.orig != nil {
				os.MkdirAll(filepath.Dir(rc), 0o755)
				os.WriteFile(rc, []byte(*tt.orig), 0o644)
			}
			s := openSession(t, h)
			p, err := s.PlanShell(Fish, []byte(block))
			if err != nil {
				t.Fatal(err)
			}
			c, err := s.ApplyShell(p)
			if err != nil {
				t.Fatal(err)
			}
			if tt.orig == nil && (!c.Created || len(c.Dirs) != 2) {
				t.Errorf("created %v, dirs %v", c.Created, c.Dirs)
			}
			tt.after(rc)
			undos, err := s.PlanUndo(context.Background(), UndoOptions{})
			if tt.name == "a folder now" {
				if err == nil || !strings.Contains(err.Error(), "not a regular file") {
					t.Errorf("err %v", err)
				}
				return
			}
			if !errors.Is(err, tt.err) {
				t.Fatalf("err %v, want %v", err, tt.err)
			}
			if err != nil {
				if !strings.Contains(err.Error(), rc) {
					t.Errorf("the error does not name the file: %v", err)
				}
				return
			}
			if undos[0].Action != tt.action {
				t.Errorf("action %v, want %v", undos[0].Action, tt.action)
			}
			if err := s.Undo(context.Background(), undos[0]); err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(rc)
			switch {
			case tt.result == nil && tt.action != UndoForget:
				if !errors.Is(err, os.ErrNotExist) {
					t.Errorf("file kept: %q", data)
				}
				if _, err := os.Stat(filepath.Join(h.Dir, ".config")); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("folders setup created stay: %v", err)
				}
			case tt.result != nil && string(data) != *tt.result:
				t.Errorf("file %q, want %q", data, *tt.result)
			}
			if len(s.Manifest.Changes) != 0 {
				t.Errorf("still recorded: %v", s.Manifest.Changes)
			}
		})
	}
}

func ptr(s string) *string { return &s }

func appendTo(name, text string) {
	f, _ := os.OpenFile(name, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(text)
	f.Close()
}

// TestPlanShellRefusals: files setup must not write.
func TestPlanShellRefusals(t *testing.T) {
	block := mustBlock(t, Bash, BlockOptions{})
	other := mustBlock(t, Bash, BlockOptions{Policy: "cpu"})
	tests := []struct {
		name  string
		setup func(t *testing.T, rc string)
		want  string
	}{
		{"dangling link", func(t *testing.T, rc string) { os.Symlink(filepath.Join(t.TempDir(), "gone"), rc) }, "leads nowhere"},
		{"folder", func(t *testing.T, rc string) { os.Mkdir(rc, 0o755) }, "not a regular file"},
		{"unrecorded other block", func(t *testing.T, rc string) { os.WriteFile(rc, other, 0o644) }, "edited by hand"},
		{"two blocks", func(t *testing.T, rc string) { os.WriteFile(rc, append(append([]byte{}, block...), block...), 0o644) }, "more than once"},
		{"another owner", func(t *testing.T, rc string) {
			os.WriteFile(rc, []byte("x\n"), 0o644)
			if os.Geteuid() != 0 {
				t.Skip("needs root to give the file away")
			}
			if err := os.Chown(rc, 4242, 4242); err != nil {
				t.Skip(err)
			}
		}, "belongs to user id 4242"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := testHome(t)
			rc := h.StartupFile(Bash)
			tt.setup(t, rc)
			before := testutil.ReadTree(t, h.Dir)
			s := openSession(t, h)
			_, err := s.PlanShell(Bash, block)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err %v, want one mentioning %q", err, tt.want)
			}
			if fmt.Sprint(before) != fmt.Sprint(testutil.ReadTree(t, h.Dir)) {
				t.Error("a refusal changed the home folder")
			}
		})
	}
}

func TestOpenLocks(t *testing.T) {
	h := testHome(t)
	s := openSession(t, h)
	if _, err := Open(h); !errors.Is(err, ErrBusy) {
		t.Errorf("second Open: %v", err)
	}
	s.Close()
	s2, err := Open(h)
	if err != nil {
		t.Fatalf("after Close: %v", err)
	}
	s2.Close()
	// A manifest that does not parse stops setup: it would not know what
	// it did before.
	os.MkdirAll(filepath.Dir(h.ManifestPath()), 0o700)
	os.WriteFile(h.ManifestPath(), []byte("{"), 0o600)
	if _, err := Open(h); err == nil || !strings.Contains(err.Error(), h.ManifestPath()) {
		t.Errorf("broken manifest: %v", err)
	}
}

func TestChooseExecutable(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "opt", "rocm-patch-1.2")
	os.MkdirAll(filepath.Dir(real), 0o755)
	os.WriteFile(real, []byte("#!/bin/sh\n"), 0o755)
	bin := filepath.Join(dir, "bin")
	os.Mkdir(bin, 0o755)
	os.Symlink(real, filepath.Join(bin, "rocm-patch"))
	other := filepath.Join(dir, "other")
	os.Mkdir(other, 0o755)
	os.WriteFile(filepath.Join(other, "rocm-patch"), []byte("#!/bin/sh\n"), 0o755)

	tests := []struct {
		path string
		want string
	}{
		{"PATH=" + bin, filepath.Join(bin, "rocm-patch")},
		{"PATH=" + other + ":" + bin, filepath.Join(bin, "rocm-patch")},
		{"PATH=" + other, real},
		{"PATH=bin:.", real},
	}
	for _, tt := range tests {
		if got := ChooseExecutable(real, []string{tt.path}); got.Path != tt.want {
			t.Errorf("%s: %s, want %s", tt.path, got.Path, tt.want)
		}
	}
	for p, want := range map[string]bool{
		"/tmp/go-build123/b001/exe/rocm-patch":    true,
		"/home/u/.cache/go-build/x/rocm-patch":    true,
		filepath.Join(os.TempDir(), "rocm-patch"): true,
		"/usr/local/bin/rocm-patch":               false,
		"/home/u/go/bin/rocm-patch":               false,
	} {
		if got := isTemporary(p); got != want {
			t.Errorf("isTemporary(%s) = %v", p, got)
		}
	}
}

func TestCheckHomeOwner(t *testing.T) {
	h := testHome(t)
	if err := CheckHomeOwner(h, os.Geteuid()); err != nil {
		t.Errorf("own home: %v", err)
	}
	if err := CheckHomeOwner(h, os.Geteuid()+1); err == nil || !strings.Contains(err.Error(), "sudo") {
		t.Errorf("another user's home: %v", err)
	}
	if err := CheckHomeOwner(Home{Dir: filepath.Join(h.Dir, "gone")}, 0); err == nil {
		t.Error("a missing home accepted")
	}
}

// fakePython writes an interpreter that answers pypath's question with
// site as its virtualenv's site-packages.
func fakePython(t *testing.T, site string) string {
	t.Helper()
	py := filepath.Join(t.TempDir(), "python3")
	answer := fmt.Sprintf(`{"executable": %q, "version": "3.12", "venv": true, "purelib": %q, "user_site": "", "user_site_enabled": true}`, py, site)
	if err := os.WriteFile(py, []byte("#!/bin/sh\necho '"+answer+"'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return py
}

func fakeExe(t *testing.T) string {
	t.Helper()
	exe := filepath.Join(t.TempDir(), "rocm-patch")
	os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755)
	return exe
}

// TestPythonStep: the .pth is installed and recorded with the folders
// made for it; a second plan has nothing to do; undo removes the file and
// those folders; a file rewritten since is left alone.
func TestPythonStep(t *testing.T) {
	ctx := context.Background()
	h := testHome(t)
	site := filepath.Join(t.TempDir(), "venv", "lib", "site-packages")
	env := []string{"HOME=" + h.Dir, "XDG_DATA_HOME=" + t.TempDir()}
	o := pypath.Options{Python: fakePython(t, site), Environ: env, Executable: fakeExe(t)}

	s := openSession(t, h)
	p, err := s.PlanPython(ctx, o)
	if err != nil || p.Nothing || p.Exists || p.PthFile != filepath.Join(site, pypath.PthName) {
		t.Fatalf("plan %+v, %v", p, err)
	}
	c, res, err := s.ApplyPython(ctx, p)
	if err != nil || c == nil || !res.Changed {
		t.Fatalf("apply %+v %+v %v", c, res, err)
	}
	if len(c.Dirs) != 3 || c.Dirs[2] != site {
		t.Errorf("dirs %v", c.Dirs)
	}
	if p, err := s.PlanPython(ctx, o); err != nil || !p.Nothing {
		t.Errorf("second plan %+v, %v", p, err)
	}

	undos, err := s.PlanUndo(ctx, UndoOptions{Environ: env})
	if err != nil || undos[0].Action != UndoUninstall || !strings.Contains(undos[0].Note, res.PackageDir) {
		t.Fatalf("undo plan %+v, %v", undos, err)
	}
	if err := s.Undo(ctx, undos[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Dir(filepath.Dir(site))); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("folders made for site-packages stay: %v", err)
	}

	// Installed again, then rewritten: undo forgets it and leaves it.
	p, _ = s.PlanPython(ctx, o)
	if _, _, err := s.ApplyPython(ctx, p); err != nil {
		t.Fatal(err)
	}
	appendTo(p.PthFile, "# mine\n")
	undos, err = s.PlanUndo(ctx, UndoOptions{Environ: env})
	if err != nil || undos[0].Action != UndoForget || !strings.Contains(undos[0].Note, "changed since setup") {
		t.Fatalf("undo plan %+v, %v", undos, err)
	}
	if err := s.Undo(ctx, undos[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p.PthFile); err != nil {
		t.Errorf("a rewritten .pth was removed: %v", err)
	}
}

// TestPythonUndoOtherSite: an interpreter that now reads another
// site-packages makes undo refuse, touching nothing.
func TestPythonUndoOtherSite(t *testing.T) {
	ctx := context.Background()
	h := testHome(t)
	site := t.TempDir()
	py := fakePython(t, site)
	env := []string{"HOME=" + h.Dir, "XDG_DATA_HOME=" + t.TempDir()}
	s := openSession(t, h)
	p, err := s.PlanPython(ctx, pypath.Options{Python: py, Environ: env, Executable: fakeExe(t)})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.ApplyPython(ctx, p); err != nil {
		t.Fatal(err)
	}
	// The same interpreter path now answers with another folder.
	answer := fmt.Sprintf(`{"executable": %q, "version": "3.12", "venv": true, "purelib": %q, "user_site": "", "user_site_enabled": true}`, py, t.TempDir())
	os.WriteFile(py, []byte("#!/bin/sh\necho '"+answer+"'\n"), 0o755)
	if _, err := s.PlanUndo(ctx, UndoOptions{Environ: env}); err == nil || !strings.Contains(err.Error(), "now reads") {
		t.Errorf("err %v", err)
	}
	if _, err := os.Stat(p.PthFile); err != nil {
		t.Errorf("the .pth is gone: %v", err)
	}
}
