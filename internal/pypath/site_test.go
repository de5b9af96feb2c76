package pypath

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// systemPython is Debian's interpreter, the one the project's Python tests
// use (scripts/install-test-deps.sh).
const systemPython = "/usr/bin/python3"

func needPython(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(systemPython); err != nil {
		t.Skipf("%s: %v: the .pth tests need Debian's python3", systemPython, err)
	}
}

func TestPypathParseSite(t *testing.T) {
	tests := []struct {
		name    string
		out     string
		want    Site
		wantErr string
	}{
		{"user site", `{"executable": "/usr/bin/python3", "version": "3.11", "venv": false, "purelib": "/usr/local/lib/python3.11/dist-packages", "user_site": "/h/.local/lib/python3.11/site-packages", "user_site_enabled": true}`,
			Site{Executable: "/usr/bin/python3", Version: "3.11", Dir: "/h/.local/lib/python3.11/site-packages", UserSiteEnabled: true}, ""},
		{"venv", `{"executable": "/v/bin/python", "version": "3.12", "venv": true, "purelib": "/v/lib/python3.12/site-packages/", "user_site": "/h/x", "user_site_enabled": false}`,
			Site{Executable: "/v/bin/python", Version: "3.12", Venv: true, Dir: "/v/lib/python3.12/site-packages"}, ""},
		{"a sitecustomize printed first", "hello {\n{\"version\": \"3.11\", \"user_site\": \"/u\", \"user_site_enabled\": true}\n",
			Site{Version: "3.11", Dir: "/u", UserSiteEnabled: true}, ""},
		{"nothing", "", Site{}, "no answer"},
		{"broken json", "{\"version\": ", Site{}, "unreadable answer"},
		{"relative folder", `{"user_site": "lib"}`, Site{}, "not an absolute path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseSite([]byte(tt.out))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error %v; want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("parseSite = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func FuzzParseSite(f *testing.F) {
	f.Add([]byte(`{"venv": true, "purelib": "/v/lib", "user_site": "/u"}`))
	f.Add([]byte("noise\n{\"user_site\": \"/u\", \"user_site_enabled\": true}"))
	f.Fuzz(func(t *testing.T, out []byte) {
		s, err := parseSite(out)
		if err == nil && !filepath.IsAbs(s.Dir) {
			t.Errorf("accepted a relative folder %q", s.Dir)
		}
	})
}

func TestPypathOwnedPth(t *testing.T) {
	tests := []struct {
		name    string
		data    string
		wantDir string
		ours    bool
	}{
		{"as written", string(pthContent("/h/.local/share/rocm-patch/python/abc")), "/h/.local/share/rocm-patch/python/abc", true},
		{"CRLF", strings.ReplaceAll(string(pthContent("/p")), "\n", "\r\n"), "/p", true},
		{"a later header", pthHeader + " v2\n/p\n", "/p", true},
		{"someone else's", "/opt/other\n", "", false},
		{"an import line added", string(pthContent("/p")) + "import os\n", "", false},
		{"two folders", string(pthContent("/p")) + "/q\n", "", false},
		{"relative folder", pthHeader + "\nrel\n", "", false},
		{"no folder", pthHeader + "\n", "", false},
		{"empty", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, ok := ownedPth([]byte(tt.data))
			if dir != tt.wantDir || ok != tt.ours {
				t.Errorf("ownedPth = %q, %v; want %q, %v", dir, ok, tt.wantDir, tt.ours)
			}
		})
	}
}

func FuzzOwnedPth(f *testing.F) {
	f.Add([]byte(pthContent("/h/.local/share/rocm-patch/python/abc")))
	f.Add([]byte("import os; os.system('x')\n"))
	f.Add([]byte(pthHeader + "\n/a\n/b\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir, ok := ownedPth(data)
		if ok && (!filepath.IsAbs(dir) || strings.ContainsAny(dir, "\r\n")) {
			t.Errorf("owned with folder %q", dir)
		}
		if ok {
			// Whatever we call ours we could have written.
			if again, ok2 := ownedPth(pthContent(dir)); !ok2 || again != dir {
				t.Errorf("round trip of %q: %q, %v", dir, again, ok2)
			}
		}
	})
}

func TestPypathResolvePython(t *testing.T) {
	dir := t.TempDir()
	py := filepath.Join(dir, "python3")
	os.WriteFile(py, []byte("#!/bin/sh\n"), 0o755)
	plain := filepath.Join(dir, "plain")
	os.WriteFile(plain, nil, 0o644)
	tests := []struct {
		name, python, path, want, wantErr string
	}{
		{"default on PATH", "", "/nonexistent:" + dir, py, ""},
		{"a name", "python3", dir, py, ""},
		{"a path", py, "", py, ""},
		{"relative PATH entries skipped", "", ".", "", "not found on PATH"},
		{"missing", "", "", "", "python python3: not found on PATH"},
		{"not executable", plain, "", "", "not an executable file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := resolvePython(tt.python, tt.path)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error %v; want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("resolvePython = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// importCheck runs python -c "import rocm_patch" in environ and returns
// where the package came from, or "" when the import fails.
func importCheck(t *testing.T, python string, environ []string) string {
	t.Helper()
	cmd := exec.Command(python, "-c", "import rocm_patch, os; print(os.path.dirname(os.path.dirname(rocm_patch.__file__)))")
	cmd.Env = environ
	out, err := cmd.CombinedOutput()
	if err != nil {
		if !strings.Contains(string(out), "No module named 'rocm_patch'") {
			t.Fatalf("%s: %v\n%s", python, err, out)
		}
		return ""
	}
	return strings.TrimSpace(string(out))
}

// userEnv is a user with a fresh home and only the system folders on PATH.
func userEnv(t *testing.T) []string {
	return []string{"HOME=" + t.TempDir(), "PATH=/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE=1"}
}

func TestPypathInstallUninstallUserSite(t *testing.T) {
	needPython(t)
	ctx := context.Background()
	env := userEnv(t)
	o := Options{Environ: env, Executable: fakeExe(t)}
	if got := importCheck(t, systemPython, env); got != "" {
		t.Fatalf("rocm_patch importable before install, from %s", got)
	}

	res, err := Install(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	home := strings.TrimPrefix(env[0], "HOME=")
	if !res.Changed || filepath.Base(res.PthFile) != PthName || !strings.HasPrefix(res.PthFile, filepath.Join(home, ".local", "lib")) {
		t.Errorf("install: %+v", res)
	}
	if got := importCheck(t, systemPython, env); got != res.PackageDir {
		t.Errorf("after install rocm_patch comes from %q, want %s", got, res.PackageDir)
	}
	again, err := Install(ctx, o)
	if err != nil || again.Changed || again.PthFile != res.PthFile || again.PackageDir != res.PackageDir {
		t.Errorf("second install: %+v, %v; want no change", again, err)
	}

	un, err := Uninstall(ctx, o)
	if err != nil || !un.Changed || un.PthFile != res.PthFile || un.PackageDir != res.PackageDir {
		t.Errorf("uninstall: %+v, %v", un, err)
	}
	if got := importCheck(t, systemPython, env); got != "" {
		t.Errorf("rocm_patch importable after uninstall, from %s", got)
	}
	if _, err := os.Stat(res.PackageDir); err != nil {
		t.Errorf("uninstall removed the package folder another .pth may name: %v", err)
	}
	un, err = Uninstall(ctx, o)
	if err != nil || un.Changed {
		t.Errorf("second uninstall: %+v, %v; want no change", un, err)
	}

	t.Run("a .pth that is not ours stays", func(t *testing.T) {
		foreign := "import something_else\n"
		if err := os.WriteFile(res.PthFile, []byte(foreign), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Install(ctx, o); err == nil || !strings.Contains(err.Error(), "not written by rocm-patch") || !strings.Contains(err.Error(), res.PthFile) {
			t.Errorf("install over a foreign file: %v", err)
		}
		if _, err := Uninstall(ctx, o); err == nil || !strings.Contains(err.Error(), "not written by rocm-patch") {
			t.Errorf("uninstall of a foreign file: %v", err)
		}
		if data, _ := os.ReadFile(res.PthFile); string(data) != foreign {
			t.Errorf("foreign file now %q", data)
		}
		os.Remove(res.PthFile)
	})

	t.Run("an older install is replaced", func(t *testing.T) {
		os.WriteFile(res.PthFile, pthContent("/old/folder"), 0o644)
		r, err := Install(ctx, o)
		if err != nil || !r.Changed {
			t.Fatalf("%+v, %v", r, err)
		}
		if data, _ := os.ReadFile(res.PthFile); !strings.Contains(string(data), r.PackageDir) {
			t.Errorf("pth %q", data)
		}
		Uninstall(ctx, o)
	})

	t.Run("user site disabled", func(t *testing.T) {
		no := Options{Environ: append(append([]string{}, env...), "PYTHONNOUSERSITE=1"), Executable: o.Executable}
		_, err := Install(ctx, no)
		if !errors.Is(err, ErrUserSiteDisabled) || !strings.Contains(err.Error(), "PYTHONNOUSERSITE is set") || !strings.Contains(err.Error(), systemPython) {
			t.Errorf("error %v", err)
		}
		if _, err := os.Stat(res.PthFile); err == nil {
			t.Error("a .pth was written anyway")
		}
	})

	t.Run("python not found", func(t *testing.T) {
		_, err := Install(ctx, Options{Environ: []string{"HOME=/h", "PATH=" + t.TempDir()}, Executable: o.Executable})
		if err == nil || !strings.Contains(err.Error(), "python3: not found on PATH") {
			t.Errorf("error %v", err)
		}
	})

	t.Run("python fails", func(t *testing.T) {
		bad := filepath.Join(t.TempDir(), "python")
		os.WriteFile(bad, []byte("#!/bin/sh\necho 'no such interpreter' >&2\nexit 9\n"), 0o755)
		_, err := Install(ctx, Options{Python: bad, Environ: env, Executable: o.Executable})
		if err == nil || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), "no such interpreter") {
			t.Errorf("error %v", err)
		}
	})
}

func TestPypathInstallUninstallVenv(t *testing.T) {
	needPython(t)
	if testing.Short() {
		t.Skip("creates a virtualenv; skipped in -short")
	}
	ctx := context.Background()
	env := userEnv(t)
	venv := filepath.Join(t.TempDir(), "venv")
	if out, err := exec.Command(systemPython, "-m", "venv", "--without-pip", venv).CombinedOutput(); err != nil {
		t.Skipf("%s -m venv: %v (apt-get install python3-venv)\n%s", systemPython, err, out)
	}
	vpy := filepath.Join(venv, "bin", "python")
	// As an activated virtualenv: its bin first on PATH, so the default
	// python3 is the venv's.
	venvEnv := append(append([]string{}, env...), "VIRTUAL_ENV="+venv, "PATH="+filepath.Join(venv, "bin")+":/usr/bin:/bin")
	o := Options{Environ: venvEnv, Executable: fakeExe(t)}
	res, err := Install(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Changed || !strings.HasPrefix(res.PthFile, venv+string(filepath.Separator)) {
		t.Errorf("install: %+v; want a .pth inside %s", res, venv)
	}
	if got := importCheck(t, vpy, venvEnv); got != res.PackageDir {
		t.Errorf("venv python imports rocm_patch from %q, want %s", got, res.PackageDir)
	}
	if got := importCheck(t, systemPython, env); got != "" {
		t.Errorf("the system python imports it too, from %s", got)
	}
	if un, err := Uninstall(ctx, o); err != nil || !un.Changed || un.PthFile != res.PthFile {
		t.Errorf("uninstall: %+v, %v", un, err)
	}
	if got := importCheck(t, vpy, venvEnv); got != "" {
		t.Errorf("importable after uninstall, from %s", got)
	}
}
