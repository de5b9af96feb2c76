package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestHistoryEmpty: a history that does not exist yet lists nothing and
// is not created by reading it.
func TestHistoryEmpty(t *testing.T) {
	db := filepath.Join(t.TempDir(), "none", "history.db")
	out, stderr, code := run(t, runEnv(t), "history", "--history", db)
	if code != 0 || !strings.HasPrefix(out, "No runs recorded yet (history: "+db+")") {
		t.Errorf("exit %d out %q err %q", code, out, stderr)
	}
	out, _, code = run(t, runEnv(t), "history", "--json", "--history", db)
	var doc map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &doc) != nil || doc["schema"] != "rocm-patch/history/v1" {
		t.Fatalf("exit %d: %s", code, out)
	}
	if runs, ok := doc["runs"].([]any); !ok || len(runs) != 0 {
		t.Errorf("runs must be an empty list: %s", out)
	}
	if _, err := os.Stat(filepath.Dir(db)); !os.IsNotExist(err) {
		t.Errorf("reading created %s", filepath.Dir(db))
	}
}

// TestHistoryNewestFirst: runs come back newest first, in the JSON
// contract and in the listing, and --limit keeps the newest.
func TestHistoryNewestFirst(t *testing.T) {
	db := filepath.Join(t.TempDir(), "history.db")
	for _, script := range []string{"echo first", "echo second; exit 4"} {
		run(t, runEnv(t), "run", "-q", "--root", example(t, "rx6700xt"), "--history", db, "--", "sh", "-c", script)
	}
	doc := readHistory(t, db)
	if len(doc.Runs) != 2 {
		t.Fatalf("%d runs", len(doc.Runs))
	}
	newest, oldest := doc.Runs[0], doc.Runs[1]
	if newest.ID <= oldest.ID || newest.Command[2] != "echo second; exit 4" || newest.Outcome != "failed" || oldest.Outcome != "ok" {
		t.Errorf("order or outcomes wrong: %+v", doc.Runs)
	}
	if newest.Started < oldest.Started || newest.Policy != "mitigate" || newest.Dir == "" || newest.GPU.Name != "AMD Radeon RX 6700 XT" {
		t.Errorf("run fields: %+v", newest)
	}
	a := newest.Attempts[0]
	if a.N != 1 || a.Device != "gpu" || a.ExitCode != 4 || a.Signal != "" || a.Class != "" || strings.Join(a.Layers, ",") != "env,shim" || a.Settings["HSA_OVERRIDE_GFX_VERSION"] != "10.3.0" {
		t.Errorf("attempt %+v", a)
	}
	// The raw document carries every field the contract names, nulls
	// where they apply, never a missing key.
	raw, _, _ := run(t, runEnv(t), "history", "--json", "--history", db)
	var generic struct {
		Runs []map[string]any `json:"runs"`
	}
	if err := json.Unmarshal([]byte(raw), &generic); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"id", "command", "started", "outcome", "attempts", "dir", "finished", "policy", "gpu", "rocm_version", "torch_version"} {
		if _, ok := generic.Runs[0][key]; !ok {
			t.Errorf("run lacks %q", key)
		}
	}
	att := generic.Runs[0]["attempts"].([]any)[0].(map[string]any)
	for _, key := range []string{"n", "device", "exit_code", "signal", "class", "issue_id", "duration_s", "layers", "settings", "started", "log_path", "shim"} {
		if _, ok := att[key]; !ok {
			t.Errorf("attempt lacks %q", key)
		}
	}
	if limited := readHistory(t, db, "--limit", "1"); len(limited.Runs) != 1 || limited.Runs[0].ID != newest.ID {
		t.Errorf("--limit 1: %+v", limited.Runs)
	}
	out, _, code := run(t, runEnv(t), "history", "--history", db)
	first, second := strings.Index(out, "echo second"), strings.Index(out, "echo first")
	if code != 0 || first < 0 || second < 0 || first > second {
		t.Errorf("listing not newest first:\n%s", out)
	}
	if _, stderr, code := run(t, runEnv(t), "history", "--limit", "-1", "--history", db); code != ExitUsage {
		t.Errorf("--limit -1: exit %d %s", code, stderr)
	}
}

// TestHistoryDamaged: a file that is not a history is an error naming it,
// and is left alone.
func TestHistoryDamaged(t *testing.T) {
	db := filepath.Join(t.TempDir(), "history.db")
	junk := []byte("this is not a database\n")
	if err := os.WriteFile(db, junk, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{"history", "report"} {
		_, stderr, code := run(t, runEnv(t), cmd, "--history", db)
		if code != ExitError || !strings.Contains(stderr, db) {
			t.Errorf("%s: exit %d: %s", cmd, code, stderr)
		}
	}
	// run goes on without recording.
	stdout, stderr, code := run(t, runEnv(t), "run", "--root", example(t, "no-gpu"), "--history", db, "--", "echo", "trained")
	if code != 0 || stdout != "trained\n" || !strings.Contains(stderr, "this run is not recorded") {
		t.Errorf("run: exit %d %q %q", code, stdout, stderr)
	}
	if data, _ := os.ReadFile(db); string(data) != string(junk) {
		t.Error("the damaged file was changed")
	}
}
