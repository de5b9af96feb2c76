package verdir

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func spec(base string) Spec {
	files := []File{{Name: "a.py", Data: []byte("print(1)\n")}, {Name: "pkg/b.py", Data: []byte("x = 2\n")}}
	return Spec{
		Base:    base,
		Version: Hash(files, "/usr/bin/tool"),
		Marker:  ".marker",
		Files:   files,
		Links:   []Link{{Name: "tool", Target: "/usr/bin/tool"}},
	}
}

// check fails unless dir holds exactly what s says.
func check(t *testing.T, dir string, s Spec) {
	t.Helper()
	if !complete(dir, s) {
		t.Fatalf("%s is not a complete install", dir)
	}
	var n int
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			n++
		}
		return nil
	})
	if want := len(s.Files) + len(s.Links) + 1; n != want {
		t.Fatalf("%s holds %d entries, want %d (files, links, marker)", dir, n, want)
	}
}

func TestInstallWritesReusesAndRepairs(t *testing.T) {
	base := filepath.Join(t.TempDir(), "versions")
	s := spec(base)
	dir, err := Install(s)
	if err != nil {
		t.Fatal(err)
	}
	if dir != filepath.Join(base, s.Version) {
		t.Fatalf("installed in %s, want %s", dir, filepath.Join(base, s.Version))
	}
	check(t, dir, s)
	info, _ := os.Stat(filepath.Join(dir, "a.py"))

	// A second install leaves the complete folder alone.
	if again, err := Install(s); err != nil || again != dir {
		t.Fatalf("second Install = %s, %v", again, err)
	}
	if now, _ := os.Stat(filepath.Join(dir, "a.py")); !os.SameFile(info, now) {
		t.Fatal("a complete folder was rewritten")
	}

	// Damage of each kind is repaired.
	for name, damage := range map[string]func() error{
		"edited file":  func() error { return os.WriteFile(filepath.Join(dir, "pkg", "b.py"), []byte("x = 3\n"), 0o644) },
		"missing file": func() error { return os.Remove(filepath.Join(dir, "a.py")) },
		"moved link": func() error {
			os.Remove(filepath.Join(dir, "tool"))
			return os.Symlink("/elsewhere", filepath.Join(dir, "tool"))
		},
		"no marker":     func() error { return os.Remove(filepath.Join(dir, ".marker")) },
		"other version": func() error { return os.WriteFile(filepath.Join(dir, ".marker"), []byte("0000\n"), 0o644) },
	} {
		if err := damage(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got, err := Install(s); err != nil || got != dir {
			t.Fatalf("%s: Install = %s, %v", name, got, err)
		}
		check(t, dir, s)
	}
	leftovers, _ := filepath.Glob(filepath.Join(base, ".*"))
	if len(leftovers) != 0 {
		t.Errorf("repairs left %v", leftovers)
	}
}

func TestInstallConcurrent(t *testing.T) {
	base := t.TempDir()
	s := spec(base)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = Install(s)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("install %d: %v", i, err)
		}
	}
	check(t, filepath.Join(base, s.Version), s)
}

func TestInstallSweepsOldLeftoversOnly(t *testing.T) {
	base := t.TempDir()
	old, fresh, other := filepath.Join(base, ".tmp-x-1"), filepath.Join(base, ".stale-x-2"), filepath.Join(base, "0123456789abcdef")
	for _, d := range []string{old, fresh, other} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	long := time.Now().Add(-2 * staleAfter)
	os.Chtimes(old, long, long)
	if _, err := Install(spec(base)); err != nil {
		t.Fatal(err)
	}
	for d, want := range map[string]bool{old: false, fresh: true, other: true} {
		if _, err := os.Stat(d); (err == nil) != want {
			t.Errorf("%s: present %v, want %v", filepath.Base(d), err == nil, want)
		}
	}
}

func TestInstallRefuses(t *testing.T) {
	base := t.TempDir()
	for _, s := range []Spec{
		{Base: base, Version: "", Marker: ".m"},
		{Base: base, Version: "../up", Marker: ".m"},
		{Base: base, Version: "v", Marker: ""},
	} {
		if _, err := Install(s); err == nil {
			t.Errorf("Install(%+v) succeeded", s)
		}
	}
	// A base that cannot be created: a file stands in the way.
	file := filepath.Join(base, "file")
	os.WriteFile(file, nil, 0o644)
	if _, err := Install(spec(filepath.Join(file, "sub"))); err == nil {
		t.Error("Install under a file succeeded")
	}
}

func TestHash(t *testing.T) {
	a := []File{{Name: "x", Data: []byte("1")}}
	b := []File{{Name: "x", Data: []byte("2")}}
	if Hash(a) == Hash(b) || Hash(a) == Hash(a, "exe") || Hash(a, "e1") == Hash(a, "e2") || len(Hash(a)) != 16 {
		t.Error("Hash does not tell contents and extras apart")
	}
	if Hash(a, "exe") != Hash(a, "exe") {
		t.Error("Hash is not stable")
	}
}
