package runner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rocm-patch/rocm-patch/internal/testutil"
)

// TestDocsMatchLadder keeps docs/run.md in step with the ladder and the
// retry rules it describes.
func TestDocsMatchLadder(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "docs", "run.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	l := testutil.KB(t).Ladder()
	for _, s := range l.Steps {
		if !strings.Contains(doc, "step `"+s.ID+"`") {
			t.Errorf("docs/run.md does not describe ladder step %s", s.ID)
		}
		for _, v := range s.Settings {
			want := v.Setting + "=" + v.Value
			if v.Value == "" {
				want = v.Setting + `=""`
			}
			if !strings.Contains(doc, want) {
				t.Errorf("docs/run.md lacks %s", want)
			}
		}
	}
	for _, lo := range l.LeftOut {
		if !strings.Contains(doc, lo.Setting) && !strings.HasPrefix(lo.Setting, "amdgpu.") {
			t.Errorf("docs/run.md does not say why %s is left out", lo.Setting)
		}
	}
	for _, c := range RetryableClasses {
		if !strings.Contains(doc, "`"+string(c)+"`") {
			t.Errorf("docs/run.md does not list retryable class %s", c)
		}
	}
	for _, v := range []string{EnvAttempt, EnvDevice, EnvRunDir, EnvResume} {
		if !strings.Contains(doc, v) {
			t.Errorf("docs/run.md does not document %s", v)
		}
	}
}
