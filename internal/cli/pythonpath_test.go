package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPythonPathPrintsTheFolder(t *testing.T) {
	home := t.TempDir()
	env := []string{"HOME=" + home, "PATH=/usr/bin:/bin"}
	stdout, stderr, code := run(t, env, "python-path")
	dir := strings.TrimSuffix(stdout, "\n")
	if code != ExitOK || stderr != "" || strings.Contains(dir, "\n") {
		t.Fatalf("exit %d, stdout %q, stderr %q; want one line", code, stdout, stderr)
	}
	if !strings.HasPrefix(dir, filepath.Join(home, ".local", "share", "rocm-patch", "python")+string(filepath.Separator)) {
		t.Errorf("folder %s is not under the user's data folder", dir)
	}
	for _, f := range []string{"rocm_patch/__init__.py", "rocm_patch/api.py", "rocm-patch"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "sitecustomize.py")); err == nil {
		t.Error("the folder holds sitecustomize.py, which would load run's shim in every Python")
	}
	again, _, _ := run(t, env, "python-path")
	if again != stdout {
		t.Errorf("second call printed %q, first %q", again, stdout)
	}
}

func TestPythonPathInstallUninstall(t *testing.T) {
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Skipf("/usr/bin/python3: %v", err)
	}
	home := t.TempDir()
	env := []string{"HOME=" + home, "PATH=/usr/bin:/bin"}
	steps := []struct {
		args []string
		want string
	}{
		{[]string{"python-path", "--install"}, "wrote " + home},
		{[]string{"python-path", "--install", "--python", "/usr/bin/python3"}, "already installed: "},
		{[]string{"python-path", "--uninstall"}, "removed " + home},
		{[]string{"python-path", "--uninstall"}, "nothing to remove: "},
	}
	for _, s := range steps {
		stdout, stderr, code := run(t, env, s.args...)
		if code != ExitOK || !strings.HasPrefix(stdout, s.want) || !strings.Contains(stdout, "rocm_patch.pth") || stderr != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want %q...", s.args, code, stdout, stderr, s.want)
		}
	}
}

func TestPythonPathErrors(t *testing.T) {
	home := t.TempDir()
	tests := []struct {
		name string
		env  []string
		args []string
		code int
		want string
	}{
		{"both", []string{"HOME=" + home}, []string{"--install", "--uninstall"}, ExitUsage, "exclude each other"},
		{"python alone", []string{"HOME=" + home}, []string{"--python", "/usr/bin/python3"}, ExitUsage, "--python goes with --install"},
		{"an argument", []string{"HOME=" + home}, []string{"extra"}, ExitUsage, "unknown command"},
		{"no home", nil, nil, ExitError, "neither XDG_DATA_HOME nor HOME"},
		{"no such python", []string{"HOME=" + home}, []string{"--install", "--python", filepath.Join(home, "nopython")}, ExitError, filepath.Join(home, "nopython")},
		{"no python on PATH", []string{"HOME=" + home, "PATH=" + home}, []string{"--uninstall"}, ExitError, "python3: not found on PATH"},
	}
	if _, err := os.Stat("/usr/bin/python3"); err == nil {
		tests = append(tests, struct {
			name string
			env  []string
			args []string
			code int
			want string
		}{"user site disabled", []string{"HOME=" + home, "PATH=/usr/bin:/bin", "PYTHONNOUSERSITE=1"}, []string{"--install"}, ExitError, "PYTHONNOUSERSITE is set"})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, stderr, code := run(t, tt.env, append([]string{"python-path"}, tt.args...)...)
			if code != tt.code || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want exit %d mentioning %q", code, stderr, tt.code, tt.want)
			}
		})
	}
}
