package pypath

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// fakeExe is an executable file standing in for the rocm-patch binary.
func fakeExe(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "rocm-patch")
	if err := os.WriteFile(p, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPypathDataRoot(t *testing.T) {
	tests := []struct {
		name    string
		environ []string
		want    string
		wantErr bool
	}{
		{"xdg", []string{"HOME=/h", "XDG_DATA_HOME=/x"}, "/x", false},
		{"relative xdg is ignored", []string{"HOME=/h", "XDG_DATA_HOME=x"}, "/h/.local/share", false},
		{"home", []string{"HOME=/h"}, "/h/.local/share", false},
		{"last value wins", []string{"HOME=/a", "HOME=/b"}, "/b/.local/share", false},
		{"nothing", nil, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DataRoot(tt.environ)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("DataRoot = %q, %v; want %q (error %v)", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestPypathPackageDir(t *testing.T) {
	home := t.TempDir()
	exe := fakeExe(t)
	o := Options{Environ: []string{"HOME=" + home}, Executable: exe}
	dir, err := PackageDir(o)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(home, ".local", "share", "rocm-patch", "python"); filepath.Dir(dir) != want {
		t.Errorf("folder %s, want one under %s", dir, want)
	}
	files := Files()
	for _, want := range []string{"rocm_patch/__init__.py", "rocm_patch/api.py", BinaryName} {
		if !slices.Contains(files, want) {
			t.Errorf("Files() = %v lacks %s", files, want)
		}
	}
	for _, f := range files {
		if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(f))); err != nil {
			t.Error(err)
		}
	}
	// sitecustomize.py would switch run's shim on in every Python that
	// has the folder on its path.
	if _, err := os.Stat(filepath.Join(dir, "sitecustomize.py")); err == nil || slices.Contains(files, "sitecustomize.py") {
		t.Error("the API folder holds sitecustomize.py")
	}
	if target, err := os.Readlink(filepath.Join(dir, BinaryName)); err != nil || target != exe {
		t.Errorf("link %q, %v; want %s", target, err, exe)
	}

	t.Run("reused as it is", func(t *testing.T) {
		api := filepath.Join(dir, "rocm_patch", "api.py")
		before, _ := os.Stat(api)
		again, err := PackageDir(o)
		if err != nil || again != dir {
			t.Fatalf("second call: %s, %v; want %s", again, err, dir)
		}
		if after, _ := os.Stat(api); !os.SameFile(before, after) {
			t.Error("a complete folder was rewritten")
		}
	})

	t.Run("edited folder repaired", func(t *testing.T) {
		api := filepath.Join(dir, "rocm_patch", "api.py")
		if err := os.WriteFile(api, []byte("raise SystemExit\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := PackageDir(o); err != nil {
			t.Fatal(err)
		}
		if data, _ := os.ReadFile(api); bytes.Contains(data, []byte("raise SystemExit")) {
			t.Error("the edited api.py stayed")
		}
	})

	t.Run("another binary, another folder", func(t *testing.T) {
		other, err := PackageDir(Options{Environ: o.Environ, Executable: fakeExe(t)})
		if err != nil {
			t.Fatal(err)
		}
		if other == dir {
			t.Error("two binaries share one folder: one would repoint the other's link")
		}
	})

	t.Run("xdg data home", func(t *testing.T) {
		xdg := t.TempDir()
		got, err := PackageDir(Options{Environ: []string{"HOME=" + home, "XDG_DATA_HOME=" + xdg}, Executable: exe})
		if err != nil || !strings.HasPrefix(got, xdg+string(filepath.Separator)) {
			t.Errorf("%s, %v; want a folder under %s", got, err, xdg)
		}
	})
}

func TestPypathPackageDirConcurrent(t *testing.T) {
	o := Options{Environ: []string{"HOME=" + t.TempDir()}, Executable: fakeExe(t)}
	const n = 8
	dirs := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dirs[i], errs[i] = PackageDir(o)
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || dirs[i] != dirs[0] {
			t.Errorf("call %d: %s, %v; want %s", i, dirs[i], errs[i], dirs[0])
		}
	}
	entries, _ := os.ReadDir(filepath.Dir(dirs[0]))
	if len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("left behind: %v", names)
	}
}

func TestPypathPackageDirErrors(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain")
	os.WriteFile(plain, nil, 0o644)
	tests := []struct {
		name string
		o    Options
		want string
	}{
		{"no home", Options{Executable: fakeExe(t)}, "neither XDG_DATA_HOME nor HOME"},
		{"binary missing", Options{Environ: []string{"HOME=" + dir}, Executable: filepath.Join(dir, "gone")}, "gone"},
		{"binary not executable", Options{Environ: []string{"HOME=" + dir}, Executable: plain}, "not an executable file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := PackageDir(tt.o)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v; want one mentioning %q", err, tt.want)
			}
		})
	}
}
