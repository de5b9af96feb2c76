package history

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// seedV1 writes a run and an attempt the way a version-1 build did, with
// version 1's columns only.
func seedV1(t *testing.T, d *DB) int64 {
	t.Helper()
	res, err := d.db.Exec(`INSERT INTO runs (command, started, outcome) VALUES ('["python","train.py"]', '2025-03-01T12:00:00.000000000Z', 'failed')`)
	if err != nil {
		t.Fatal(err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.db.Exec(`INSERT INTO attempts (run_id, n, device, started, duration_ns, exit_code, signal, result, class)
		VALUES (?, 1, 'gpu', '2025-03-01T12:00:00.000000000Z', 60000000000, -1, 'SIGABRT', 'crash', 'gpu-memory-fault')`, id); err != nil {
		t.Fatal(err)
	}
	return id
}

func seedRun(t *testing.T, d *DB) int64 {
	t.Helper()
	ctx := context.Background()
	start := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	id, err := d.BeginRun(ctx, Run{Command: []string{"python", "train.py"}, RunDir: "/state/runs/x", Started: start})
	if err != nil {
		t.Fatal(err)
	}
	a := Attempt{N: 1, Device: DeviceGPU, Started: start, Duration: time.Minute, ExitCode: -1, Signal: "SIGABRT", Class: "gpu-memory-fault",
		Shim: json.RawMessage(`{"loaded":true,"fallbacks":2}`)}
	if err := d.RecordAttempt(ctx, id, a); err != nil {
		t.Fatal(err)
	}
	if err := d.FinishRun(ctx, id, OutcomeFailed, start.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	return id
}

func TestMigrateFromV1(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "h.db")
	v1 := migrations[:1]
	d, err := open(ctx, path, v1)
	if err != nil {
		t.Fatal(err)
	}
	id := seedV1(t, d)
	d.Close()

	d, err = Open(ctx, path)
	if err != nil {
		t.Fatalf("upgrade to v%d: %v", SchemaVersion, err)
	}
	if v := pragmaInt(t, d, "user_version"); v != SchemaVersion {
		t.Errorf("user_version = %d after upgrade, want %d", v, SchemaVersion)
	}
	runs, err := d.Runs(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 1 || runs[0].ID != id || len(runs[0].Attempts) != 1 || runs[0].Attempts[0].Class != "gpu-memory-fault" || runs[0].RunDir != "" {
		t.Fatalf("v1 data after upgrade: %+v", runs)
	}
	if s := runs[0].Attempts[0].Shim; s != nil {
		t.Errorf("an attempt from before the shim has shim report %s, want none", s)
	}
	var shim sql.NullString
	if err := d.db.QueryRow(`SELECT shim_json FROM attempts WHERE run_id = ?`, id).Scan(&shim); err != nil || shim.Valid {
		t.Errorf("new column on an old row: %+v, %v", shim, err)
	}
	// A current build writes and reads the shim report and the run folder
	// beside the old rows.
	id2 := seedRun(t, d)
	runs, err = d.Runs(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 2 || runs[0].ID != id2 || string(runs[0].Attempts[0].Shim) != `{"loaded":true,"fallbacks":2}` || runs[0].RunDir != "/state/runs/x" {
		t.Errorf("after a current write: %+v", runs)
	}
	d.Close()

	// The v1 build now meets a newer file and must refuse it.
	_, err = open(ctx, path, v1)
	if !errors.Is(err, ErrNewerSchema) || !strings.Contains(err.Error(), fmt.Sprintf("version %d", SchemaVersion)) || !strings.Contains(err.Error(), "up to 1") {
		t.Errorf("v1 opening a current file: %v", err)
	}
}

func TestFailedMigrationRollsBack(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "h.db")
	d, err := open(ctx, path, migrations[:1])
	if err != nil {
		t.Fatal(err)
	}
	seedV1(t, d)
	d.Close()

	broken := migration{version: 2, name: "broken", stmts: []string{
		`ALTER TABLE attempts ADD COLUMN shim_json TEXT`,
		`THIS IS NOT SQL`,
	}}
	_, err = open(ctx, path, []migration{migrations[0], broken})
	if err == nil || !strings.Contains(err.Error(), "migrate to schema 2 (broken)") || !strings.Contains(err.Error(), path) {
		t.Fatalf("broken migration: %v", err)
	}
	d, err = open(ctx, path, migrations[:1])
	if err != nil {
		t.Fatalf("reopen at v1 after a failed upgrade: %v", err)
	}
	defer d.Close()
	if v := pragmaInt(t, d, "user_version"); v != 1 {
		t.Errorf("user_version = %d, want 1", v)
	}
	var n int
	d.db.QueryRow(`SELECT count(*) FROM pragma_table_info('attempts') WHERE name = 'shim_json'`).Scan(&n)
	if n != 0 {
		t.Error("half a migration was kept")
	}
	var runs int
	if err := d.db.QueryRow(`SELECT count(*) FROM runs`).Scan(&runs); err != nil || runs != 1 {
		t.Errorf("data after a failed upgrade: %v, %d runs", err, runs)
	}
}

// Two processes opening a brand-new file at once must not both run
// migration 1; BEGIN IMMEDIATE makes the second wait and find it done.
func TestConcurrentFirstOpen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "h.db")
	const n = 6
	errs := make(chan error, n)
	for range n {
		go func() {
			d, err := Open(ctx, path)
			if err == nil {
				_, err = d.BeginRun(ctx, Run{Command: []string{"true"}})
				d.Close()
			}
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	d, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	runs, _ := d.Runs(ctx, 0)
	if len(runs) != n {
		t.Errorf("%d runs, want %d", len(runs), n)
	}
}
