package diagnose

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rocm-patch/rocm-patch/internal/kb"
	"github.com/rocm-patch/rocm-patch/internal/system"
)

var update = flag.Bool("update", false, "rewrite golden files")

var testKB = func() *kb.KB {
	k, err := kb.Load()
	if err != nil {
		panic(err)
	}
	return k
}()

func newMatcher(t testing.TB, sys *system.System) *Matcher {
	t.Helper()
	m, err := New(testKB, Options{System: sys})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return m
}

func diagnoseString(t testing.TB, sys *system.System, log string) *Result {
	t.Helper()
	return newMatcher(t, sys).ScanBytes([]byte(log))
}

func topID(r *Result) string {
	if b := r.Best(); b != nil {
		return b.ID
	}
	return ""
}

func ids(r *Result) []string {
	var out []string
	for _, m := range r.Matches {
		out = append(out, m.ID)
	}
	return out
}

func readLog(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "logs", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/diagnose -update to create it)", err)
	}
	if !bytes.Equal(want, got) {
		t.Errorf("%s differs (check, then run go test ./internal/diagnose -update):\n%s", path, got)
	}
}

// sharedDir is the project's shared folder (real crash logs), which lies
// beside the repository; tests that need it skip without it.
func sharedDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join("..", "..", "..", "shared")
	if _, err := os.Stat(filepath.Join(dir, "crashlogs")); err != nil {
		t.Skipf("no shared crash logs at %s", dir)
	}
	return dir
}

func gpu(index int, target, effective, family string) system.GPU {
	node := index + 1
	g := system.GPU{Index: index, Node: &node, GFXTarget: target, EffectiveGFXTarget: effective, Family: family, Visible: true}
	if effective != target {
		g.Override = "HSA_OVERRIDE_GFX_VERSION"
	}
	return g
}

func machine(env map[string]string, gpus ...system.GPU) *system.System {
	return &system.System{Schema: system.Schema, GPUs: gpus, Env: env, KFDAccessible: true}
}

func contains(haystack, needle string) bool { return strings.Contains(haystack, needle) }

// systemAlias keeps test tables short.
type systemAlias = system.System
