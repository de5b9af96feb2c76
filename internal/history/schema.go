package history

// ApplicationID marks a SQLite file as a rocm-patch history ("ROCP"), so
// that Open can refuse another program's database instead of adding
// tables to it.
const ApplicationID = 0x524f4350

// migration moves the schema from version-1 to version. Migrations only
// ever add (tables, columns, indexes) or copy; none drops user data.
type migration struct {
	version int
	name    string
	stmts   []string
}

// migrations is the schema's history, oldest first; versions are 1, 2, ...
// in order. PRAGMA user_version holds the last one applied. To change the
// schema, append a migration; never edit one that has shipped.
//
// Version 1:
//
//	runs: one supervised command.
//	  id INTEGER PRIMARY KEY AUTOINCREMENT (never reused, so a run id in a
//	    log stays unambiguous after deletions)
//	  command TEXT      JSON array of argv
//	  dir TEXT          working directory
//	  started TEXT      UTC, fixed-width RFC 3339 with nanoseconds, so text
//	                    order is time order
//	  finished TEXT     NULL while running
//	  policy TEXT, gpu_target TEXT, gpu_family TEXT, gpu_name TEXT,
//	  rocm_version TEXT, torch_version TEXT
//	  outcome TEXT      see Outcome
//	attempts: one execution of the command.
//	  id INTEGER PRIMARY KEY, run_id INTEGER -> runs(id) ON DELETE CASCADE,
//	  n INTEGER (UNIQUE with run_id), device TEXT ("gpu"/"cpu"),
//	  layers TEXT (JSON array, in order applied),
//	  config TEXT (CanonicalLayers, for grouping),
//	  settings TEXT (JSON object), started TEXT, duration_ns INTEGER,
//	  exit_code INTEGER, signal TEXT, interrupted INTEGER (0/1),
//	  result TEXT (see Result), class TEXT, issue_id TEXT,
//	  throughput REAL (NULL when none), throughput_unit TEXT, log_path TEXT
//
// Version 2:
//
//	attempts.shim_json TEXT: what the in-process Python shim reported for
//	  the attempt (shim.Report as JSON, a JSON object); NULL when the shim
//	  was not loaded (--no-shim, and every attempt recorded before
//	  version 2), so that "no shim" and "a shim that saw no torch" differ.
//
// Version 3:
//
//	runs.run_dir TEXT: the folder that holds the run's attempt logs and
//	  shim reports (runs/<time>-<pid>/ beside the database); '' when the
//	  run kept none, and for every run recorded before version 3.
var migrations = []migration{
	{
		version: 1,
		name:    "runs and attempts",
		stmts: []string{
			`CREATE TABLE runs (
				id            INTEGER PRIMARY KEY AUTOINCREMENT,
				command       TEXT NOT NULL,
				dir           TEXT NOT NULL DEFAULT '',
				started       TEXT NOT NULL,
				finished      TEXT,
				policy        TEXT NOT NULL DEFAULT '',
				gpu_target    TEXT NOT NULL DEFAULT '',
				gpu_family    TEXT NOT NULL DEFAULT '',
				gpu_name      TEXT NOT NULL DEFAULT '',
				rocm_version  TEXT NOT NULL DEFAULT '',
				torch_version TEXT NOT NULL DEFAULT '',
				outcome       TEXT NOT NULL DEFAULT 'running'
			)`,
			`CREATE INDEX runs_started ON runs(started)`,
			`CREATE TABLE attempts (
				id              INTEGER PRIMARY KEY,
				run_id          INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
				n               INTEGER NOT NULL,
				device          TEXT NOT NULL,
				layers          TEXT NOT NULL DEFAULT '[]',
				config          TEXT NOT NULL DEFAULT 'none',
				settings        TEXT NOT NULL DEFAULT '{}',
				started         TEXT NOT NULL,
				duration_ns     INTEGER NOT NULL DEFAULT 0,
				exit_code       INTEGER NOT NULL DEFAULT 0,
				signal          TEXT NOT NULL DEFAULT '',
				interrupted     INTEGER NOT NULL DEFAULT 0,
				result          TEXT NOT NULL,
				class           TEXT NOT NULL DEFAULT '',
				issue_id        TEXT NOT NULL DEFAULT '',
				throughput      REAL,
				throughput_unit TEXT NOT NULL DEFAULT '',
				log_path        TEXT NOT NULL DEFAULT '',
				UNIQUE (run_id, n)
			)`,
			`CREATE INDEX attempts_config ON attempts(device, config)`,
		},
	},
	{
		version: 2,
		name:    "attempts.shim_json",
		stmts:   []string{`ALTER TABLE attempts ADD COLUMN shim_json TEXT`},
	},
	{
		version: 3,
		name:    "runs.run_dir",
		stmts:   []string{`ALTER TABLE runs ADD COLUMN run_dir TEXT NOT NULL DEFAULT ''`},
	},
}

// SchemaVersion is the schema version this build writes: the last
// migration's (a test keeps the two equal).
const SchemaVersion = 3
