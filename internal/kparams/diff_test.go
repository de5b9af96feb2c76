package kparams

import (
	"bytes"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestUnifiedDiff(t *testing.T) {
	tests := []struct {
		name     string
		from, to string
		want     string
	}{
		{"equal", "a\n", "a\n", ""},
		{"new file", "", "a\nb\n", "--- x\n+++ y\n@@ -0,0 +1,2 @@\n+a\n+b\n"},
		{"removed file", "a\n", "", "--- x\n+++ y\n@@ -1 +0,0 @@\n-a\n"},
		{"change", "a\nb\nc\n", "a\nB\nc\n", "--- x\n+++ y\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n"},
		{"no newline", "a", "b\n", "--- x\n+++ y\n@@ -1 +1 @@\n-a\n\\ No newline at end of file\n+b\n"},
		{"two hunks", "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n", "X\n2\n3\n4\n5\n6\n7\n8\n9\n10\nY\n",
			"--- x\n+++ y\n@@ -1,4 +1,4 @@\n-1\n+X\n 2\n 3\n 4\n@@ -8,4 +8,4 @@\n 8\n 9\n 10\n-11\n+Y\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := UnifiedDiff("x", "y", []byte(tt.from), []byte(tt.to)); got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

// TestUnifiedDiffPatches checks random diffs with patch(1): applying the
// diff to the old text must give the new one.
func TestUnifiedDiffPatches(t *testing.T) {
	patch, err := exec.LookPath("patch")
	if err != nil {
		t.Skip("patch not installed")
	}
	rng := rand.New(rand.NewSource(1))
	lines := []string{"a\n", "b\n", "c\n", "d\n", "# options amdgpu x=1\n", "\n"}
	gen := func() string {
		var b strings.Builder
		for n := rng.Intn(14); n > 0; n-- {
			b.WriteString(lines[rng.Intn(len(lines))])
		}
		return b.String()
	}
	dir := t.TempDir()
	for i := 0; i < 60; i++ {
		from, to := gen(), gen()
		d := UnifiedDiff("old", "new", []byte(from), []byte(to))
		if from == to {
			if d != "" {
				t.Fatalf("equal texts gave a diff")
			}
			continue
		}
		file := filepath.Join(dir, "f")
		if err := os.WriteFile(file, []byte(from), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(patch, "-s", "-f", file)
		cmd.Stdin = strings.NewReader(d)
		var stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stderr, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("patch failed (%v): %s\nfrom %q\nto %q\ndiff:\n%s", err, stderr.String(), from, to, d)
		}
		got, _ := os.ReadFile(file)
		if string(got) != to {
			t.Fatalf("patched %q, want %q; diff:\n%s", got, to, d)
		}
	}
}
