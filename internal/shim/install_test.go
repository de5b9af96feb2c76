package shim

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	pythonsrc "github.com/rocm-patch/rocm-patch/python"
)

func TestEmbeddedFiles(t *testing.T) {
	got := strings.Join(Files(), " ")
	for _, want := range []string{"sitecustomize.py", "rocm_patch/__init__.py", "rocm_patch/shim.py"} {
		if !strings.Contains(got, want) {
			t.Errorf("embedded files %q lack %s", got, want)
		}
	}
	if strings.Contains(got, "tests/") || strings.Contains(got, "README") {
		t.Errorf("embedded files %q carry more than the interpreter loads", got)
	}
	if v := Version(); len(v) != 16 {
		t.Errorf("Version() = %q, want 16 hex digits", v)
	}
}

// checkInstalled compares dir with the embedded tree, byte for byte.
func checkInstalled(t *testing.T, d Dir) {
	t.Helper()
	if filepath.Base(d.Path) != Version() || d.Version != Version() {
		t.Fatalf("Dir %+v, want version %s", d, Version())
	}
	for _, name := range Files() {
		want, err := fs.ReadFile(pythonsrc.FS(), name)
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(d.Path, filepath.FromSlash(name)))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: installed copy differs (%v)", name, err)
		}
	}
}

func TestInstallTwiceReuses(t *testing.T) {
	root := t.TempDir()
	d1, err := Install(root)
	if err != nil {
		t.Fatal(err)
	}
	checkInstalled(t, d1)
	if want := filepath.Join(root, "rocm-patch", "shim", Version()); d1.Path != want {
		t.Errorf("Path = %s, want %s", d1.Path, want)
	}
	shimPy := filepath.Join(d1.Path, "rocm_patch", "shim.py")
	before, err := os.Stat(shimPy)
	if err != nil {
		t.Fatal(err)
	}
	// Python writes its bytecode cache into the folder; that is no damage.
	os.MkdirAll(filepath.Join(d1.Path, "rocm_patch", "__pycache__"), 0o755)
	d2, err := Install(root)
	if err != nil {
		t.Fatal(err)
	}
	if d2 != d1 {
		t.Errorf("second Install = %+v, first %+v", d2, d1)
	}
	after, err := os.Stat(shimPy)
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(before, after) {
		t.Error("second Install rewrote a complete shim")
	}
	leftovers(t, filepath.Dir(d1.Path))
}

func leftovers(t *testing.T, base string) {
	t.Helper()
	entries, err := os.ReadDir(base)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != Version() {
			t.Errorf("left behind in %s: %s", base, e.Name())
		}
	}
}

func TestInstallRepairs(t *testing.T) {
	tests := []struct {
		name  string
		spoil func(t *testing.T, dir string)
	}{
		{"marker missing", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, marker)) }},
		{"marker of another version", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, marker), []byte("0123456789abcdef\n"), 0o644)
		}},
		{"file edited", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "rocm_patch", "shim.py"), []byte("raise SystemExit\n"), 0o644)
		}},
		{"file gone", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, "sitecustomize.py")) }},
		{"empty folder", func(t *testing.T, dir string) {
			os.RemoveAll(dir)
			os.Mkdir(dir, 0o755)
		}},
		{"a file in its place", func(t *testing.T, dir string) {
			os.RemoveAll(dir)
			os.WriteFile(dir, []byte("x"), 0o644)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			d, err := Install(root)
			if err != nil {
				t.Fatal(err)
			}
			tt.spoil(t, d.Path)
			d2, err := Install(root)
			if err != nil {
				t.Fatalf("Install over a spoilt shim: %v", err)
			}
			checkInstalled(t, d2)
		})
	}
}

func TestInstallConcurrent(t *testing.T) {
	root := t.TempDir()
	const n = 16
	var wg sync.WaitGroup
	dirs := make([]Dir, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dirs[i], errs[i] = Install(root)
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Errorf("Install %d: %v", i, errs[i])
		}
		if dirs[i] != dirs[0] {
			t.Errorf("Install %d = %+v, Install 0 = %+v", i, dirs[i], dirs[0])
		}
	}
	checkInstalled(t, dirs[0])
	leftovers(t, filepath.Dir(dirs[0].Path))
}

func TestInstallSweepsOldLeftovers(t *testing.T) {
	root := t.TempDir()
	base := filepath.Join(root, "rocm-patch", "shim")
	old := filepath.Join(base, ".tmp-"+Version()+"-crashed")
	fresh := filepath.Join(base, ".tmp-"+Version()+"-running")
	for _, p := range []string{old, fresh} {
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	long := time.Now().Add(-2 * time.Hour)
	os.Chtimes(old, long, long)
	if _, err := Install(root); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Errorf("a two-hour-old temporary folder survived: %v", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("a fresh temporary folder (maybe another install's) was removed: %v", err)
	}
}

func TestInstallErrors(t *testing.T) {
	root := t.TempDir()
	blocker := filepath.Join(root, "file")
	if err := os.WriteFile(blocker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Install(blocker)
	if err == nil || !strings.Contains(err.Error(), "install shim") {
		t.Errorf("Install under a file: %v, want an install shim error", err)
	}
	if os.Getuid() != 0 {
		ro := filepath.Join(root, "ro")
		os.Mkdir(ro, 0o555)
		if _, err := Install(ro); err == nil {
			t.Error("Install into a read-only folder succeeded")
		}
	}
}

func TestDefaultCacheRoot(t *testing.T) {
	tests := []struct {
		env     map[string]string
		want    string
		wantErr bool
	}{
		{map[string]string{"XDG_CACHE_HOME": "/x/cache", "HOME": "/home/u"}, "/x/cache", false},
		{map[string]string{"XDG_CACHE_HOME": "relative", "HOME": "/home/u"}, "/home/u/.cache", false},
		{map[string]string{"HOME": "/home/u"}, "/home/u/.cache", false},
		{map[string]string{}, "", true},
	}
	for _, tt := range tests {
		got, err := DefaultCacheRoot(func(k string) string { return tt.env[k] })
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("DefaultCacheRoot(%v) = %q, %v; want %q, error %v", tt.env, got, err, tt.want, tt.wantErr)
		}
	}
}
