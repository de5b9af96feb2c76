package diagnose

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestPatternsForGrep: every expression the matcher runs is exported in a
// form GNU grep -E accepts, and grep finds the same excerpts matching.
func TestPatternsForGrep(t *testing.T) {
	pats := newMatcher(t, nil).Patterns()
	if len(pats) < 50 {
		t.Fatalf("only %d patterns", len(pats))
	}
	for _, p := range pats {
		if strings.ContainsAny(p, "\n") || p == "" {
			t.Errorf("pattern %q cannot be a line of a patterns file", p)
		}
	}
	grep, err := exec.LookPath("grep")
	if err != nil {
		t.Skip("no grep")
	}
	if out, _ := exec.Command(grep, "--version").Output(); !bytes.Contains(out, []byte("GNU grep")) {
		t.Skip("grep is not GNU grep")
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "patterns")
	if err := os.WriteFile(file, []byte(strings.Join(pats, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	logs, _ := filepath.Glob(filepath.Join("testdata", "logs", "*.log"))
	for _, l := range logs {
		cmd := exec.Command(grep, "-E", "-c", "-f", file, l)
		cmd.Env = append(os.Environ(), "LC_ALL=C")
		out, err := cmd.Output()
		if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == 2 {
			t.Fatalf("grep rejected the patterns: %s", ee.Stderr)
		}
		if strings.TrimSpace(string(out)) == "0" {
			t.Errorf("%s: diagnose matches it, grep -E with the same patterns finds nothing", l)
		}
	}
}
