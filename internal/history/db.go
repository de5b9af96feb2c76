package history

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"modernc.org/sqlite"
)

// BusyTimeout is how long a write waits for another writer (another
// `rocm-patch run` on the same history) before it fails. Each write is one
// short transaction, so waits in practice are milliseconds.
const BusyTimeout = 5 * time.Second

// Errors that Open and the other calls wrap; test with errors.Is.
var (
	// ErrDamaged: the file is not an SQLite database, or SQLite found it
	// damaged. rocm-patch never writes to such a file.
	ErrDamaged = errors.New("the file is damaged or is not an SQLite database; it was left untouched (move it aside and rocm-patch starts a new history)")
	// ErrNotHistory: an SQLite database, but another program's.
	ErrNotHistory = errors.New("an SQLite database that is not a rocm-patch history; it was left untouched")
	// ErrNewerSchema: a history written by a newer rocm-patch.
	ErrNewerSchema = errors.New("history written by a newer rocm-patch")
	// ErrNoRun: the run id names no run.
	ErrNoRun = errors.New("no such run")
)

// SQLite result codes this package tells apart (sqlite3.h; stable ABI).
const (
	codeBusy            = 5
	codeCorrupt         = 11
	codeNotADB          = 26
	codeConstraintFK    = 787
	codeConstraintUniq  = 2067
	primaryCodeMask     = 0xff
	sqliteHeader        = "SQLite format 3\x00"
	maxConnsPerProcess  = 4
	idleConnsPerProcess = 2
)

// DB is an open history. Its methods are safe for concurrent use, and
// several processes may hold the same file open and write at once.
type DB struct {
	db   *sql.DB
	path string
}

// Open opens the history at path, creating its folder (0700) and the file
// (0600) when missing, switching it to WAL and bringing its schema up to
// SchemaVersion. It refuses, without writing anything to the file, a file
// that is not SQLite or is damaged (ErrDamaged), another program's database
// (ErrNotHistory), and a history from a newer rocm-patch (ErrNewerSchema).
// Every error names the file.
func Open(ctx context.Context, path string) (*DB, error) {
	return open(ctx, path, migrations)
}

func open(ctx context.Context, path string, ms []migration) (*DB, error) {
	if path == "" {
		return nil, errors.New("history: no database path")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("history %s: create folder: %w", path, err)
	}
	if err := checkFile(path); err != nil {
		return nil, err
	}
	dsn, err := dataSourceName(path)
	if err != nil {
		return nil, fmt.Errorf("history %s: %w", path, err)
	}
	sdb, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("history %s: %w", path, err)
	}
	sdb.SetMaxOpenConns(maxConnsPerProcess)
	sdb.SetMaxIdleConns(idleConnsPerProcess)
	d := &DB{db: sdb, path: path}
	if err := d.setup(ctx, ms); err != nil {
		sdb.Close()
		return nil, err
	}
	return d, nil
}

// Path is the file the history lives in.
func (d *DB) Path() string { return d.path }

// Close closes the database; the last process to close a WAL database
// folds the log back into the main file.
func (d *DB) Close() error {
	if err := d.db.Close(); err != nil {
		return fmt.Errorf("history %s: close: %w", d.path, err)
	}
	return nil
}

// checkFile creates path if missing and otherwise makes sure it starts
// with the SQLite header, so that a stray file given to --history is
// refused before SQLite is asked to open (and perhaps journal) it.
func checkFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("history %s: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("history %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("history %s: not a regular file", path)
	}
	head := make([]byte, len(sqliteHeader))
	n, err := io.ReadFull(f, head)
	switch {
	case n == 0 && (err == io.EOF || err == nil):
		return nil // new (or empty) file: SQLite treats it as an empty database
	case err != nil && !errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("history %s: %w", path, err)
	case !bytes.Equal(head[:n], []byte(sqliteHeader)):
		return fmt.Errorf("history %s: %w", path, ErrDamaged)
	}
	return nil
}

// dataSourceName builds the modernc.org/sqlite DSN. Per-connection settings
// go in the DSN because database/sql opens connections at will: busy_timeout
// (wait for other writers instead of failing with "database is locked"),
// foreign keys, synchronous=NORMAL (in WAL mode it cannot corrupt the file;
// a power cut can only lose the last commits) and BEGIN IMMEDIATE for write
// transactions, so that a transaction never has to upgrade a read lock to a
// write lock, which fails at once in WAL mode instead of waiting.
func dataSourceName(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	q := url.Values{}
	q.Set("_busy_timeout", fmt.Sprint(BusyTimeout.Milliseconds()))
	q.Set("_foreign_keys", "1")
	q.Set("_synchronous", "NORMAL")
	q.Set("_txlock", "immediate")
	q.Add("_pragma", fmt.Sprintf("wal_autocheckpoint(%d)", walAutoCheckpoint))
	return "file:" + (&url.URL{Path: abs}).EscapedPath() + "?" + q.Encode(), nil
}

// walAutoCheckpoint is how many pages the write-ahead log may hold before
// a commit folds it into the database file (SQLite's default is 1000).
// rocm-patch run exits without closing the database, to spare every job
// the close-time checkpoint's fsyncs; the next process to open the file
// then rebuilds the log's index by reading the whole log. A short log
// keeps that read to a fraction of a millisecond; the checkpoint it costs
// comes every few runs instead of after each (a run writes a few pages).
const walAutoCheckpoint = 64

// setup checks what the file is, turns on WAL and migrates.
func (d *DB) setup(ctx context.Context, ms []migration) error {
	conn, err := d.db.Conn(ctx)
	if err != nil {
		return d.fail("open", err)
	}
	defer conn.Close()
	// Look before writing anything: the journal-mode switch below is a
	// write, and a foreign or newer file must stay as it was. The three
	// reads share one read transaction, or another process's migration
	// could commit between them and make a history look foreign.
	rtx, err := conn.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return d.fail("read schema version", err)
	}
	id, err := readIdentity(ctx, rtx)
	rtx.Rollback()
	if err != nil {
		return d.fail("read schema version", err)
	}
	if err := id.check(d.path, ms); err != nil {
		return err
	}
	mode, err := setWAL(ctx, conn)
	if err != nil {
		return d.fail("set WAL mode", err)
	}
	if !strings.EqualFold(mode, "wal") {
		// Some filesystems (network mounts) cannot share the WAL index;
		// SQLite then keeps a rollback journal, which is still safe for
		// several writers, only slower.
		slog.Warn("history: WAL mode unavailable, using a rollback journal", "file", d.path, "journal_mode", mode)
	}
	if len(ms) > 0 && id.version == ms[len(ms)-1].version {
		return nil // current: no need to take the write lock
	}
	return d.migrate(ctx, conn, ms)
}

// setWAL switches the file to WAL mode, once in its life. The switch needs
// an exclusive lock and SQLite returns SQLITE_BUSY for it at once, without
// the busy handler, when another process holds a lock (several `rocm-patch
// run` creating a new history together), so it is retried here for up to
// BusyTimeout.
func setWAL(ctx context.Context, conn *sql.Conn) (string, error) {
	var mode string
	if err := conn.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return "", err
	}
	if strings.EqualFold(mode, "wal") {
		return mode, nil
	}
	deadline := time.Now().Add(BusyTimeout)
	delay := time.Millisecond
	for {
		err := conn.QueryRowContext(ctx, "PRAGMA journal_mode=WAL").Scan(&mode)
		if err == nil || sqliteCode(err)&primaryCodeMask != codeBusy || time.Now().After(deadline) {
			return mode, err
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(delay):
		}
		delay = min(2*delay, 50*time.Millisecond)
	}
}

// identity is what the file's header says about it.
type identity struct {
	appID, version, objects int
}

type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func readIdentity(ctx context.Context, q queryer) (identity, error) {
	var id identity
	if err := q.QueryRowContext(ctx, "PRAGMA application_id").Scan(&id.appID); err != nil {
		return id, err
	}
	if err := q.QueryRowContext(ctx, "PRAGMA user_version").Scan(&id.version); err != nil {
		return id, err
	}
	err := q.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master").Scan(&id.objects)
	return id, err
}

func (id identity) check(path string, ms []migration) error {
	latest := 0
	if len(ms) > 0 {
		latest = ms[len(ms)-1].version
	}
	switch {
	case id.appID != 0 && id.appID != ApplicationID:
		return fmt.Errorf("history %s: %w (its application_id is %#x)", path, ErrNotHistory, uint32(id.appID))
	case id.appID == 0 && (id.version != 0 || id.objects != 0):
		return fmt.Errorf("history %s: %w (it has %d schema objects and no rocm-patch mark)", path, ErrNotHistory, id.objects)
	case id.version > latest:
		return fmt.Errorf("history %s: %w: the file is at schema version %d, this rocm-patch understands up to %d; upgrade rocm-patch, or pass --history to use another file", path, ErrNewerSchema, id.version, latest)
	}
	return nil
}

// migrate applies the migrations newer than the file's user_version in one
// write transaction. BEGIN IMMEDIATE serialises processes opening a new
// file at once: the second one waits, then finds the schema current.
func (d *DB) migrate(ctx context.Context, conn *sql.Conn, ms []migration) error {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return d.fail("migrate", err)
	}
	defer tx.Rollback()
	id, err := readIdentity(ctx, tx)
	if err != nil {
		return d.fail("migrate", err)
	}
	if err := id.check(d.path, ms); err != nil {
		return err
	}
	applied := id.version
	for _, m := range ms {
		if m.version <= id.version {
			continue
		}
		for _, stmt := range m.stmts {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return d.fail(fmt.Sprintf("migrate to schema %d (%s)", m.version, m.name), err)
			}
		}
		applied = m.version
	}
	if applied == id.version {
		return nil // already current; the rollback releases the lock
	}
	// PRAGMA takes no bound parameters; both values are integers we control.
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA application_id = %d", ApplicationID)); err != nil {
		return d.fail("migrate", err)
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", applied)); err != nil {
		return d.fail("migrate", err)
	}
	if err := tx.Commit(); err != nil {
		return d.fail("migrate", err)
	}
	slog.Debug("history: schema migrated", "file", d.path, "from", id.version, "to", applied)
	return nil
}

// fail wraps err with the file and the operation, marking damage.
func (d *DB) fail(op string, err error) error {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & primaryCodeMask {
		case codeCorrupt, codeNotADB:
			return fmt.Errorf("history %s: %s: %w: %w", d.path, op, ErrDamaged, err)
		}
	}
	return fmt.Errorf("history %s: %s: %w", d.path, op, err)
}

// sqliteCode is the extended result code of err, 0 when it is not SQLite's.
func sqliteCode(err error) int {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code()
	}
	return 0
}
