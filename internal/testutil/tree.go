// Package testutil holds helpers shared by the tests of several packages.
// Nothing in the rocm-patch binary imports it.
package testutil

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// WriteTree builds a machine tree in a new temporary folder from a map of
// machine paths ("/sys/class/drm/card0") to contents. A content that starts
// with "->" makes a symbolic link to the rest of it, so trees can mimic
// sysfs's relative links and /opt/rocm's absolute ones.
func WriteTree(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(strings.TrimPrefix(name, "/")))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if target, ok := strings.CutPrefix(content, "->"); ok {
			if err := os.Symlink(target, p); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
