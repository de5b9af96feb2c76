// Package history stores every supervised run and each of its attempts in
// an SQLite database (modernc.org/sqlite, no cgo), by default
// $XDG_STATE_HOME/rocm-patch/history.db, and reads them back: the run list
// for `rocm-patch history` and per-configuration sums for `rocm-patch
// report` and fleet metrics.
//
// All SQL lives in this package. The file is in WAL mode and every write
// (BeginRun, RecordAttempt, FinishRun) is one short transaction that waits
// up to BusyTimeout for other writers, so several `rocm-patch run`
// processes can record into one history at once. The schema is versioned
// with PRAGMA user_version and grows only by appended migrations (see
// schema.go); a history from a newer rocm-patch, another program's
// database or a damaged file is refused and left untouched.
package history
