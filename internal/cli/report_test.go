package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// reportHistory makes a history with a run that faults to the CPU and one
// that reports its speed on the GPU.
func reportHistory(t *testing.T) string {
	t.Helper()
	db := filepath.Join(t.TempDir(), "history.db")
	rx := example(t, "rx6700xt")
	run(t, runEnv(t), "run", "-q", "--root", rx, "--history", db, "--backoff", "1ms", "--",
		"sh", "-c", `if [ "$ROCM_PATCH_DEVICE" = cpu ]; then echo "rocm-patch: throughput=4 it/s"; exit 0; fi; echo "`+faultLine+`" >&2; kill -ABRT $$`)
	run(t, runEnv(t), "run", "-q", "--root", rx, "--history", db, "--",
		"sh", "-c", `printf ' 50%%|##   | 5/10 [00:01<00:01, 40.00it/s]\r100%%|#####| 10/10 [00:02<00:00, 42.00it/s]\n'`)
	return db
}

func TestReport(t *testing.T) {
	db := reportHistory(t)
	out, stderr, code := run(t, runEnv(t), "report", "--json", "--history", db)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var rep struct {
		Schema         string `json:"schema"`
		Runs           int    `json:"runs"`
		Configurations []struct {
			Layers   string `json:"layers"`
			Device   string `json:"device"`
			Attempts int    `json:"attempts"`
			Crashes  int    `json:"crashes"`
			Classes  []struct {
				Class string `json:"class"`
			} `json:"classes"`
		} `json:"configurations"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if rep.Schema != "rocm-patch/report/v1" || rep.Runs != 2 {
		t.Errorf("schema %q runs %d", rep.Schema, rep.Runs)
	}
	got := map[string][2]int{}
	for _, c := range rep.Configurations {
		got[c.Layers+"/"+c.Device] = [2]int{c.Attempts, c.Crashes}
	}
	// run loads the shim on GPU attempts, so it is one of their layers.
	want := map[string][2]int{"env+shim/gpu": {2, 1}, "allocator+env+shim/gpu": {1, 1}, "cpu/cpu": {1, 0}}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: attempts, crashes = %v, want %v (all: %v)", k, got[k], v, got)
		}
	}

	md, _, code := run(t, runEnv(t), "report", "--markdown", "--history", db)
	if code != 0 || !strings.Contains(md, "| env+shim ") || !strings.Contains(md, "gpu-memory-fault") {
		t.Errorf("markdown exit %d:\n%s", code, md)
	}
	text, _, code := run(t, runEnv(t), "report", "--history", db)
	if code != 0 || !strings.Contains(text, "CRASH RATE") {
		t.Errorf("text exit %d:\n%s", code, text)
	}

	page := filepath.Join(t.TempDir(), "report.html")
	out, stderr, code = run(t, runEnv(t), "report", "--html", page, "--history", db)
	if code != 0 || out != "wrote "+page+" (2 runs)\n" {
		t.Fatalf("html exit %d: %q %s", code, out, stderr)
	}
	html, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"<html", "<svg", "gpu-memory-fault", "</html>"} {
		if !strings.Contains(string(html), w) {
			t.Errorf("the page lacks %q", w)
		}
	}
	for _, ref := range []string{`src="http`, `href="http`, "<link", `<script src`} {
		if strings.Contains(string(html), ref) {
			t.Errorf("the page is not self-contained: %q", ref)
		}
	}
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(page), "*"))
	if len(left) != 1 {
		t.Errorf("temporary files left beside the page: %v", left)
	}
}

func TestReportEmptyAndUsage(t *testing.T) {
	db := filepath.Join(t.TempDir(), "none", "history.db")
	out, stderr, code := run(t, runEnv(t), "report", "--json", "--history", db)
	if code != 0 || !strings.Contains(out, `"runs": 0`) {
		t.Errorf("exit %d: %s %s", code, out, stderr)
	}
	if _, err := os.Stat(filepath.Dir(db)); !os.IsNotExist(err) {
		t.Error("report created the history")
	}
	if _, stderr, code := run(t, runEnv(t), "report", "--json", "--markdown"); code != ExitUsage || !strings.Contains(stderr, "exclude each other") {
		t.Errorf("exit %d: %s", code, stderr)
	}
	if _, stderr, code := run(t, runEnv(t), "report", "--html", filepath.Join(t.TempDir(), "no", "such", "dir", "r.html"), "--history", db); code != ExitError {
		t.Errorf("unwritable page: exit %d: %s", code, stderr)
	}
}
