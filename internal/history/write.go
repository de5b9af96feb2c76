package history

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"
)

// timeLayout stores instants in UTC with a fixed number of fraction digits,
// so that comparing the text compares the times (ORDER BY started).
const timeLayout = "2006-01-02T15:04:05.000000000Z"

func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

func parseTime(s string) (time.Time, error) { return time.Parse(time.RFC3339Nano, s) }

// BeginRun records the start of a run and returns its id. The run is
// "running" until FinishRun. r.ID, r.Outcome, r.Finished and r.Attempts are
// ignored; a zero r.Started means now. The insert is its own transaction.
func (d *DB) BeginRun(ctx context.Context, r Run) (int64, error) {
	if len(r.Command) == 0 {
		return 0, fmt.Errorf("history %s: begin run: no command", d.path)
	}
	if r.Started.IsZero() {
		r.Started = time.Now()
	}
	cmd, err := json.Marshal(r.Command)
	if err != nil {
		return 0, fmt.Errorf("history %s: begin run: %w", d.path, err)
	}
	res, err := d.db.ExecContext(ctx, `INSERT INTO runs
		(command, dir, run_dir, started, policy, gpu_target, gpu_family, gpu_name, rocm_version, torch_version, outcome)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		string(cmd), r.Dir, r.RunDir, formatTime(r.Started), r.Policy,
		r.GPU.Target, r.GPU.Family, r.GPU.Name, r.ROCmVersion, r.TorchVersion, string(OutcomeRunning))
	if err != nil {
		return 0, d.fail("begin run", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, d.fail("begin run", err)
	}
	return id, nil
}

// RecordAttempt adds one finished attempt to run runID, in its own
// transaction. a.N must be at least 1 and unique within the run, a.Device
// DeviceGPU or DeviceCPU, a.Started set, a.Duration not negative, and
// a.Throughput (when set) finite and not negative, and a.Shim (when set) a
// JSON object.
func (d *DB) RecordAttempt(ctx context.Context, runID int64, a Attempt) error {
	op := fmt.Sprintf("record attempt %d of run %d", a.N, runID)
	if err := validateAttempt(a); err != nil {
		return fmt.Errorf("history %s: %s: %w", d.path, op, err)
	}
	layers := a.Layers
	if layers == nil {
		layers = []string{}
	}
	lj, err := json.Marshal(layers)
	if err != nil {
		return fmt.Errorf("history %s: %s: %w", d.path, op, err)
	}
	settings := a.Settings
	if settings == nil {
		settings = map[string]string{}
	}
	sj, err := json.Marshal(settings)
	if err != nil {
		return fmt.Errorf("history %s: %s: %w", d.path, op, err)
	}
	var tp any // NULL unless the job reported a speed
	if a.Throughput != nil {
		tp = *a.Throughput
	}
	interrupted := 0
	if a.Interrupted {
		interrupted = 1
	}
	var shim any // NULL unless the shim was loaded
	if a.Shim != nil {
		var b bytes.Buffer
		if err := json.Compact(&b, a.Shim); err != nil {
			return fmt.Errorf("history %s: %s: shim report: %w", d.path, op, err)
		}
		shim = b.String()
	}
	_, err = d.db.ExecContext(ctx, `INSERT INTO attempts
		(run_id, n, device, layers, config, settings, started, duration_ns, exit_code, signal,
		 interrupted, result, class, issue_id, throughput, throughput_unit, log_path, shim_json)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		runID, a.N, a.Device, string(lj), a.Configuration(), string(sj), formatTime(a.Started),
		int64(a.Duration), a.ExitCode, a.Signal, interrupted, string(a.Result()), a.Class, a.IssueID,
		tp, a.ThroughputUnit, a.LogPath, shim)
	switch sqliteCode(err) {
	case 0:
	case codeConstraintFK:
		return fmt.Errorf("history %s: %s: %w", d.path, op, ErrNoRun)
	case codeConstraintUniq:
		return fmt.Errorf("history %s: %s: attempt %d is already recorded", d.path, op, a.N)
	}
	if err != nil {
		return d.fail(op, err)
	}
	return nil
}

func validateAttempt(a Attempt) error {
	switch {
	case a.N < 1:
		return fmt.Errorf("attempt number %d: attempts count from 1", a.N)
	case a.Device != DeviceGPU && a.Device != DeviceCPU:
		return fmt.Errorf("device %q: want %q or %q", a.Device, DeviceGPU, DeviceCPU)
	case a.Started.IsZero():
		return errors.New("no start time")
	case a.Duration < 0:
		return fmt.Errorf("negative duration %v", a.Duration)
	case a.Throughput != nil && (math.IsNaN(*a.Throughput) || math.IsInf(*a.Throughput, 0) || *a.Throughput < 0):
		return fmt.Errorf("throughput %v: want a finite number, 0 or more", *a.Throughput)
	case a.Shim != nil && !isJSONObject(a.Shim):
		return errors.New("shim report: not a JSON object")
	}
	return nil
}

// isJSONObject reports whether b is one valid JSON object, the only shape
// a shim report has.
func isJSONObject(b []byte) bool {
	var m map[string]json.RawMessage
	return json.Unmarshal(b, &m) == nil && m != nil
}

// FinishRun sets the outcome of run runID (any outcome but
// OutcomeRunning) and when it finished (zero: now), in its own
// transaction. Finishing a run twice keeps the second verdict.
func (d *DB) FinishRun(ctx context.Context, runID int64, outcome Outcome, finished time.Time) error {
	op := fmt.Sprintf("finish run %d", runID)
	if !outcome.Valid() || outcome == OutcomeRunning {
		return fmt.Errorf("history %s: %s: outcome %q is not a final outcome", d.path, op, outcome)
	}
	if finished.IsZero() {
		finished = time.Now()
	}
	res, err := d.db.ExecContext(ctx, `UPDATE runs SET outcome = ?, finished = ? WHERE id = ?`,
		string(outcome), formatTime(finished), runID)
	if err != nil {
		return d.fail(op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return d.fail(op, err)
	}
	if n == 0 {
		return fmt.Errorf("history %s: %s: %w", d.path, op, ErrNoRun)
	}
	return nil
}
