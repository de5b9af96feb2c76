package history

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"sort"
	"time"
)

// Runs returns the newest limit runs (limit <= 0: all), newest first, each
// with its attempts in order. Both queries run in one read transaction, so
// a run and its attempts come from the same moment even while other
// processes write.
func (d *DB) Runs(ctx context.Context, limit int) ([]Run, error) {
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	tx, err := d.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, d.fail("read runs", err)
	}
	defer tx.Rollback()

	const newest = `SELECT id FROM runs ORDER BY started DESC, id DESC LIMIT ?`
	rows, err := tx.QueryContext(ctx, `SELECT id, command, dir, run_dir, started, finished, policy,
		gpu_target, gpu_family, gpu_name, rocm_version, torch_version, outcome
		FROM runs WHERE id IN (`+newest+`) ORDER BY started DESC, id DESC`, limit)
	if err != nil {
		return nil, d.fail("read runs", err)
	}
	var runs []Run
	index := map[int64]int{}
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			rows.Close()
			return nil, d.fail("read runs", err)
		}
		index[r.ID] = len(runs)
		runs = append(runs, r)
	}
	if err := closeRows(rows); err != nil {
		return nil, d.fail("read runs", err)
	}

	rows, err = tx.QueryContext(ctx, `SELECT run_id, n, device, layers, settings, started,
		duration_ns, exit_code, signal, interrupted, class, issue_id, throughput, throughput_unit, log_path,
		shim_json
		FROM attempts WHERE run_id IN (`+newest+`) ORDER BY run_id, n`, limit)
	if err != nil {
		return nil, d.fail("read attempts", err)
	}
	for rows.Next() {
		runID, a, err := scanAttempt(rows)
		if err != nil {
			rows.Close()
			return nil, d.fail("read attempts", err)
		}
		if i, ok := index[runID]; ok {
			runs[i].Attempts = append(runs[i].Attempts, a)
		}
	}
	if err := closeRows(rows); err != nil {
		return nil, d.fail("read attempts", err)
	}
	return runs, nil
}

func closeRows(rows *sql.Rows) error {
	err := rows.Err()
	if cerr := rows.Close(); err == nil {
		err = cerr
	}
	return err
}

func scanRun(rows *sql.Rows) (Run, error) {
	var (
		r        Run
		cmd      string
		started  string
		finished sql.NullString
		outcome  string
	)
	if err := rows.Scan(&r.ID, &cmd, &r.Dir, &r.RunDir, &started, &finished, &r.Policy,
		&r.GPU.Target, &r.GPU.Family, &r.GPU.Name, &r.ROCmVersion, &r.TorchVersion, &outcome); err != nil {
		return r, err
	}
	r.Outcome = Outcome(outcome)
	if err := json.Unmarshal([]byte(cmd), &r.Command); err != nil {
		return r, fmt.Errorf("run %d: command %q: %w", r.ID, cmd, err)
	}
	var err error
	if r.Started, err = parseTime(started); err != nil {
		return r, fmt.Errorf("run %d: %w", r.ID, err)
	}
	if finished.Valid {
		if r.Finished, err = parseTime(finished.String); err != nil {
			return r, fmt.Errorf("run %d: %w", r.ID, err)
		}
	}
	return r, nil
}

func scanAttempt(rows *sql.Rows) (int64, Attempt, error) {
	var (
		runID       int64
		a           Attempt
		layers      string
		settings    string
		started     string
		durationNS  int64
		interrupted int
		throughput  sql.NullFloat64
		shim        sql.NullString
	)
	if err := rows.Scan(&runID, &a.N, &a.Device, &layers, &settings, &started, &durationNS,
		&a.ExitCode, &a.Signal, &interrupted, &a.Class, &a.IssueID, &throughput,
		&a.ThroughputUnit, &a.LogPath, &shim); err != nil {
		return 0, a, err
	}
	if shim.Valid {
		if !isJSONObject([]byte(shim.String)) {
			return 0, a, fmt.Errorf("run %d attempt %d: shim report %q is not a JSON object", runID, a.N, shim.String)
		}
		a.Shim = json.RawMessage(shim.String)
	}
	a.Duration = time.Duration(durationNS)
	a.Interrupted = interrupted != 0
	if throughput.Valid {
		v := throughput.Float64
		a.Throughput = &v
	}
	if err := json.Unmarshal([]byte(layers), &a.Layers); err != nil {
		return 0, a, fmt.Errorf("run %d attempt %d: layers %q: %w", runID, a.N, layers, err)
	}
	if err := json.Unmarshal([]byte(settings), &a.Settings); err != nil {
		return 0, a, fmt.Errorf("run %d attempt %d: settings %q: %w", runID, a.N, settings, err)
	}
	var err error
	if a.Started, err = parseTime(started); err != nil {
		return 0, a, fmt.Errorf("run %d attempt %d: %w", runID, a.N, err)
	}
	return runID, a, nil
}

// Stats is the history summed up, what report and fleet metrics need.
type Stats struct {
	// Runs counts every run; Outcomes splits them by outcome.
	Runs     int
	Outcomes map[Outcome]int
	// FirstStarted and LastStarted bound the runs' start times (zero when
	// there are no runs).
	FirstStarted time.Time
	LastStarted  time.Time
	// Configs has one entry per configuration that has attempts, GPU
	// configurations first, then by layers with NoLayers first.
	Configs []ConfigStats
}

// Unclassified is the Classes key of crashes diagnose did not match (a
// signal with no recognised message).
const Unclassified = "unclassified"

// ConfigStats sums up the attempts of one configuration: one canonical set
// of layers (CanonicalLayers) on one device.
type ConfigStats struct {
	Layers string
	Device string
	// Attempts counts the attempts that ran to an end: OK + Crashes +
	// Errors. Interrupted attempts are counted apart, since they say
	// nothing about whether the configuration crashes.
	Attempts    int
	OK          int
	Crashes     int
	Errors      int
	Interrupted int
	// Duration is the time of every attempt, interrupted ones included:
	// the time the configuration ran, whether or not it crashed.
	Duration time.Duration
	// CrashDuration is the time of the attempts that crashed.
	CrashDuration time.Duration
	// Classes counts crashes by diagnose class (Unclassified when none
	// matched).
	Classes map[string]int
	// Throughput has one entry per job (command and folder) and unit that
	// reported a speed in this configuration.
	Throughput []ThroughputStats
}

// ThroughputStats sums the speeds one job reported in one unit.
type ThroughputStats struct {
	Command []string
	Dir     string
	Unit    string
	// Samples is how many attempts reported a speed; Sum adds them.
	Samples int
	Sum     float64
}

// Mean is the average speed, 0 with no samples.
func (t ThroughputStats) Mean() float64 {
	if t.Samples == 0 {
		return 0
	}
	return t.Sum / float64(t.Samples)
}

type configKey struct{ device, layers string }

// Aggregate sums the whole history up by configuration, in SQL, in one
// read transaction.
func (d *DB) Aggregate(ctx context.Context) (Stats, error) {
	st := Stats{Outcomes: map[Outcome]int{}}
	tx, err := d.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return st, d.fail("aggregate", err)
	}
	defer tx.Rollback()

	var first, last sql.NullString
	if err := tx.QueryRowContext(ctx, `SELECT count(*), min(started), max(started) FROM runs`).
		Scan(&st.Runs, &first, &last); err != nil {
		return st, d.fail("aggregate runs", err)
	}
	if first.Valid {
		if st.FirstStarted, err = parseTime(first.String); err != nil {
			return st, d.fail("aggregate runs", err)
		}
	}
	if last.Valid {
		if st.LastStarted, err = parseTime(last.String); err != nil {
			return st, d.fail("aggregate runs", err)
		}
	}

	rows, err := tx.QueryContext(ctx, `SELECT outcome, count(*) FROM runs GROUP BY outcome`)
	if err != nil {
		return st, d.fail("aggregate outcomes", err)
	}
	for rows.Next() {
		var o string
		var n int
		if err := rows.Scan(&o, &n); err != nil {
			rows.Close()
			return st, d.fail("aggregate outcomes", err)
		}
		st.Outcomes[Outcome(o)] = n
	}
	if err := closeRows(rows); err != nil {
		return st, d.fail("aggregate outcomes", err)
	}

	configs := map[configKey]*ConfigStats{}
	get := func(k configKey) *ConfigStats {
		c := configs[k]
		if c == nil {
			c = &ConfigStats{Layers: k.layers, Device: k.device, Classes: map[string]int{}}
			configs[k] = c
		}
		return c
	}

	rows, err = tx.QueryContext(ctx, `SELECT device, config, result, class, count(*), total(duration_ns)
		FROM attempts GROUP BY device, config, result, class`)
	if err != nil {
		return st, d.fail("aggregate attempts", err)
	}
	for rows.Next() {
		var (
			k      configKey
			result string
			class  string
			n      int
			ns     float64
		)
		if err := rows.Scan(&k.device, &k.layers, &result, &class, &n, &ns); err != nil {
			rows.Close()
			return st, d.fail("aggregate attempts", err)
		}
		c := get(k)
		dur := time.Duration(ns)
		c.Duration += dur
		switch Result(result) {
		case ResultOK:
			c.OK += n
		case ResultCrash:
			c.Crashes += n
			c.CrashDuration += dur
			if class == "" {
				class = Unclassified
			}
			c.Classes[class] += n
		case ResultError:
			c.Errors += n
		case ResultInterrupted:
			c.Interrupted += n
		}
	}
	if err := closeRows(rows); err != nil {
		return st, d.fail("aggregate attempts", err)
	}

	rows, err = tx.QueryContext(ctx, `SELECT a.device, a.config, r.command, r.dir, a.throughput_unit,
		count(*), total(a.throughput)
		FROM attempts a JOIN runs r ON r.id = a.run_id
		WHERE a.throughput IS NOT NULL
		GROUP BY a.device, a.config, r.command, r.dir, a.throughput_unit
		ORDER BY r.command, r.dir, a.throughput_unit`)
	if err != nil {
		return st, d.fail("aggregate throughput", err)
	}
	for rows.Next() {
		var (
			k   configKey
			cmd string
			t   ThroughputStats
		)
		if err := rows.Scan(&k.device, &k.layers, &cmd, &t.Dir, &t.Unit, &t.Samples, &t.Sum); err != nil {
			rows.Close()
			return st, d.fail("aggregate throughput", err)
		}
		if err := json.Unmarshal([]byte(cmd), &t.Command); err != nil {
			rows.Close()
			return st, d.fail("aggregate throughput", fmt.Errorf("command %q: %w", cmd, err))
		}
		c := get(k)
		c.Throughput = append(c.Throughput, t)
	}
	if err := closeRows(rows); err != nil {
		return st, d.fail("aggregate throughput", err)
	}

	for _, c := range configs {
		c.Attempts = c.OK + c.Crashes + c.Errors
		st.Configs = append(st.Configs, *c)
	}
	sort.Slice(st.Configs, func(i, j int) bool { return configLess(st.Configs[i], st.Configs[j]) })
	return st, nil
}

// configLess orders GPU before CPU, then the bare configuration before
// mitigated ones, then by name.
func configLess(a, b ConfigStats) bool {
	if ra, rb := deviceRank(a.Device), deviceRank(b.Device); ra != rb {
		return ra < rb
	}
	if a.Device != b.Device {
		return a.Device < b.Device
	}
	if (a.Layers == NoLayers) != (b.Layers == NoLayers) {
		return a.Layers == NoLayers
	}
	return a.Layers < b.Layers
}

func deviceRank(d string) int {
	switch d {
	case DeviceGPU:
		return 0
	case DeviceCPU:
		return 1
	}
	return 2
}
