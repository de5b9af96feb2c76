package history

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func openTemp(t *testing.T) *DB {
	t.Helper()
	d, err := Open(context.Background(), filepath.Join(t.TempDir(), "state", "rocm-patch", FileName))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func pragmaInt(t *testing.T, d *DB, name string) int {
	t.Helper()
	var v int
	if err := d.db.QueryRow("PRAGMA " + name).Scan(&v); err != nil {
		t.Fatalf("PRAGMA %s: %v", name, err)
	}
	return v
}

func TestSchemaVersionIsLastMigration(t *testing.T) {
	for i, m := range migrations {
		if m.version != i+1 {
			t.Errorf("migration %d has version %d; versions must be 1, 2, ... in order", i, m.version)
		}
	}
	if last := migrations[len(migrations)-1].version; last != SchemaVersion {
		t.Errorf("SchemaVersion = %d, last migration = %d", SchemaVersion, last)
	}
}

func TestOpenCreatesFolderAndFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state", "rocm-patch")
	path := filepath.Join(dir, FileName)
	d, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.Path() != path {
		t.Errorf("Path() = %q", d.Path())
	}
	fi, err := os.Stat(dir)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("folder: %v, mode %v; want 0700", err, fi.Mode().Perm())
	}
	fi, err = os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("file: %v, mode %v; want 0600", err, fi.Mode().Perm())
	}
	var mode string
	if err := d.db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v; want wal", mode, err)
	}
	if v := pragmaInt(t, d, "user_version"); v != SchemaVersion {
		t.Errorf("user_version = %d, want %d", v, SchemaVersion)
	}
	if v := pragmaInt(t, d, "application_id"); v != ApplicationID {
		t.Errorf("application_id = %#x, want %#x", v, ApplicationID)
	}
	if v := pragmaInt(t, d, "foreign_keys"); v != 1 {
		t.Errorf("foreign_keys = %d, want 1", v)
	}
	if v := pragmaInt(t, d, "busy_timeout"); v != int(BusyTimeout.Milliseconds()) {
		t.Errorf("busy_timeout = %d, want %d", v, BusyTimeout.Milliseconds())
	}
}

func TestOpenTwiceKeepsData(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "h.db")
	d, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	id, err := d.BeginRun(ctx, Run{Command: []string{"python", "train.py"}})
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
	d, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	runs, err := d.Runs(ctx, 0)
	if err != nil || len(runs) != 1 || runs[0].ID != id {
		t.Fatalf("after reopen: %v, %+v", err, runs)
	}
}

func TestOpenPathWithURICharacters(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "odd ?name#%20", "h.db")
	d, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database not at %s: %v", path, err)
	}
}

// sqliteFile makes a plain SQLite database with the driver, as another
// program would.
func sqliteFile(t *testing.T, path string, stmts ...string) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func TestOpenRefusesAndLeavesFileAlone(t *testing.T) {
	tests := []struct {
		name    string
		make    func(t *testing.T, path string)
		wantErr error
		wantMsg []string
	}{
		{"text file", func(t *testing.T, p string) {
			os.WriteFile(p, []byte("epoch 1 loss 0.3\n"), 0o600)
		}, ErrDamaged, nil},
		{"random bytes longer than a page", func(t *testing.T, p string) {
			b := make([]byte, 8192)
			for i := range b {
				b[i] = byte(i*7 + 3)
			}
			os.WriteFile(p, b, 0o600)
		}, ErrDamaged, nil},
		{"truncated header", func(t *testing.T, p string) {
			os.WriteFile(p, []byte("SQLite for"), 0o600)
		}, ErrDamaged, nil},
		{"damaged history", func(t *testing.T, p string) {
			d, err := Open(context.Background(), p)
			if err != nil {
				t.Fatal(err)
			}
			d.Close()
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			// Keep the 100-byte header, wreck the schema table on page 1.
			for i := 100; i < len(b) && i < 4096; i++ {
				b[i] = 0xA5
			}
			os.WriteFile(p, b, 0o600)
		}, ErrDamaged, nil},
		{"another program's database", func(t *testing.T, p string) {
			sqliteFile(t, p, "CREATE TABLE photos (id INTEGER PRIMARY KEY, name TEXT)", "INSERT INTO photos(name) VALUES ('cat.jpg')")
		}, ErrNotHistory, []string{"no rocm-patch mark"}},
		{"another program's application id", func(t *testing.T, p string) {
			sqliteFile(t, p, "PRAGMA application_id = 1234", "CREATE TABLE t (x)")
		}, ErrNotHistory, []string{"0x4d2"}},
		{"newer schema", func(t *testing.T, p string) {
			d, err := Open(context.Background(), p)
			if err != nil {
				t.Fatal(err)
			}
			d.db.Exec("PRAGMA user_version = 99")
			d.Close()
		}, ErrNewerSchema, []string{"version 99", fmt.Sprintf("up to %d", SchemaVersion)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "history.db")
			tt.make(t, path)
			before, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			d, err := Open(context.Background(), path)
			if err == nil {
				d.Close()
				t.Fatal("Open succeeded")
			}
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("err = %v, want %v", err, tt.wantErr)
			}
			msg := err.Error()
			t.Log(msg)
			if !strings.Contains(msg, path) {
				t.Errorf("error %q does not name the file", msg)
			}
			for _, w := range tt.wantMsg {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not say %q", msg, w)
				}
			}
			after, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(before, after) {
				t.Error("Open changed the file it refused")
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if _, err := Open(ctx, ""); err == nil {
		t.Error("empty path: no error")
	}
	if _, err := Open(ctx, dir); err == nil || !strings.Contains(err.Error(), dir) {
		t.Errorf("folder as path: %v", err)
	}
	blocker := filepath.Join(dir, "file")
	os.WriteFile(blocker, nil, 0o600)
	p := filepath.Join(blocker, "sub", "h.db")
	if _, err := Open(ctx, p); err == nil || !strings.Contains(err.Error(), p) {
		t.Errorf("folder under a file: %v", err)
	}
}
