package history

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func f64(v float64) *float64 { return &v }

var t0 = time.Date(2025, 3, 1, 9, 30, 0, 123456789, time.UTC)

// fixtureRuns are three runs as the supervisor would record them: a
// fallback to the CPU after two GPU faults, a clean run with the env layer,
// and a run still going.
func fixtureRuns() []Run {
	return []Run{
		{
			Command:     []string{"python", "train.py", "--epochs", "3"},
			Dir:         "/home/u/eeg",
			RunDir:      "/home/u/.local/state/rocm-patch/runs/20250301T093000Z-4242",
			Started:     t0,
			Policy:      "mitigate",
			GPU:         GPU{Target: "gfx1031", Family: "RDNA2", Name: "AMD Radeon RX 6700 XT"},
			ROCmVersion: "6.2.4", TorchVersion: "2.5.1+rocm6.2",
			Outcome:  OutcomeFallbackCPUOK,
			Finished: t0.Add(20 * time.Minute),
			Attempts: []Attempt{
				{N: 1, Device: DeviceGPU, Layers: []string{}, Started: t0, Duration: 90 * time.Second, ExitCode: -1, Signal: "SIGABRT",
					Class: "gpu-memory-fault", IssueID: "ROCm/ROCm#2536", Throughput: f64(41.5), ThroughputUnit: "it/s",
					LogPath: "/tmp/a1.log", Settings: map[string]string{}},
				{N: 2, Device: DeviceGPU, Layers: []string{"shim", "env"}, Settings: map[string]string{"HSA_OVERRIDE_GFX_VERSION": "10.3.0", "PYTORCH_NO_HIP_MEMORY_CACHING": "1"},
					Started: t0.Add(2 * time.Minute), Duration: 5 * time.Minute, ExitCode: -1, Signal: "SIGSEGV", Class: "gpu-memory-fault",
					Throughput: f64(38.5), ThroughputUnit: "it/s",
					Shim: json.RawMessage(`{"loaded":true,"device":"gpu","wrapped":true,"fallbacks":3,"by_op":{"torch.zeros":3},"exited":1}`)},
				{N: 3, Device: DeviceCPU, Layers: []string{"cpu"}, Settings: map[string]string{"HIP_VISIBLE_DEVICES": ""},
					Started: t0.Add(8 * time.Minute), Duration: 12 * time.Minute, ExitCode: 0, Throughput: f64(4), ThroughputUnit: "it/s"},
			},
		},
		{
			Command: []string{"python", "train.py", "--epochs", "3"},
			Dir:     "/home/u/eeg",
			Started: t0.Add(time.Hour),
			Policy:  "mitigate",
			GPU:     GPU{Target: "gfx1031", Family: "RDNA2", Name: "AMD Radeon RX 6700 XT"},
			Outcome: OutcomeOK, Finished: t0.Add(time.Hour + 10*time.Minute),
			Attempts: []Attempt{
				{N: 1, Device: DeviceGPU, Layers: []string{"env", "shim"}, Started: t0.Add(time.Hour), Duration: 10 * time.Minute,
					Throughput: f64(40), ThroughputUnit: "it/s", Settings: map[string]string{}},
			},
		},
		{
			Command: []string{"python", "-c", "import torch"},
			Dir:     "/tmp",
			Started: t0.Add(2 * time.Hour),
			Outcome: OutcomeRunning,
		},
	}
}

// record writes runs through the public API and returns them with ids.
func record(t *testing.T, d *DB, runs []Run) []Run {
	t.Helper()
	ctx := context.Background()
	out := make([]Run, len(runs))
	for i, r := range runs {
		id, err := d.BeginRun(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		r.ID = id
		for _, a := range r.Attempts {
			if err := d.RecordAttempt(ctx, id, a); err != nil {
				t.Fatal(err)
			}
		}
		if r.Outcome != OutcomeRunning {
			if err := d.FinishRun(ctx, id, r.Outcome, r.Finished); err != nil {
				t.Fatal(err)
			}
		}
		out[i] = r
	}
	return out
}

func TestRunsRoundTrip(t *testing.T) {
	d := openTemp(t)
	want := record(t, d, fixtureRuns())
	got, err := d.Runs(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d runs, want %d", len(got), len(want))
	}
	for i := range got {
		w := want[len(want)-1-i] // newest first
		if !reflect.DeepEqual(got[i], w) {
			t.Errorf("run %d:\n got %+v\nwant %+v", i, got[i], w)
		}
	}

	limited, err := d.Runs(context.Background(), 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(limited) != 2 || limited[0].ID != want[2].ID || limited[1].ID != want[1].ID {
		t.Errorf("Runs(2) = %d runs, ids %v", len(limited), ids(limited))
	}
	if len(limited[1].Attempts) != 1 {
		t.Errorf("Runs(2): run %d has %d attempts, want 1", limited[1].ID, len(limited[1].Attempts))
	}
}

func ids(runs []Run) []int64 {
	var out []int64
	for _, r := range runs {
		out = append(out, r.ID)
	}
	return out
}

func TestHistoryRowsInSQLite(t *testing.T) {
	d := openTemp(t)
	record(t, d, fixtureRuns()[:1])
	// Read the rows with plain SQL: what other tools (sqlite3, fleet
	// metrics) will see in the file.
	rows, err := d.db.Query(`SELECT n, device, layers, config, settings, started, duration_ns, exit_code, signal, result, class, issue_id, throughput, throughput_unit FROM attempts ORDER BY n`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	type row struct {
		n                                         int
		device, layers, config, settings, started string
		ns                                        int64
		exit                                      int
		signal, result, class, issue              string
		tp                                        *float64
		unit                                      string
	}
	want := []row{
		{1, "gpu", "[]", "none", "{}", "2025-03-01T09:30:00.123456789Z", int64(90 * time.Second), -1, "SIGABRT", "crash", "gpu-memory-fault", "ROCm/ROCm#2536", f64(41.5), "it/s"},
		{2, "gpu", `["shim","env"]`, "env+shim", `{"HSA_OVERRIDE_GFX_VERSION":"10.3.0","PYTORCH_NO_HIP_MEMORY_CACHING":"1"}`, "2025-03-01T09:32:00.123456789Z", int64(5 * time.Minute), -1, "SIGSEGV", "crash", "gpu-memory-fault", "", f64(38.5), "it/s"},
		{3, "cpu", `["cpu"]`, "cpu", `{"HIP_VISIBLE_DEVICES":""}`, "2025-03-01T09:38:00.123456789Z", int64(12 * time.Minute), 0, "", "ok", "", "", f64(4), "it/s"},
	}
	var got []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.n, &r.device, &r.layers, &r.config, &r.settings, &r.started, &r.ns, &r.exit, &r.signal, &r.result, &r.class, &r.issue, &r.tp, &r.unit); err != nil {
			t.Fatal(err)
		}
		got = append(got, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("attempt rows:\n got %+v\nwant %+v", got, want)
	}
	var cmd, outcome, finished string
	if err := d.db.QueryRow(`SELECT command, outcome, finished FROM runs`).Scan(&cmd, &outcome, &finished); err != nil {
		t.Fatal(err)
	}
	if cmd != `["python","train.py","--epochs","3"]` || outcome != "fallback-cpu-ok" || finished != "2025-03-01T09:50:00.123456789Z" {
		t.Errorf("run row: %s %s %s", cmd, outcome, finished)
	}
}

func TestWriteErrors(t *testing.T) {
	ctx := context.Background()
	d := openTemp(t)
	id, err := d.BeginRun(ctx, Run{Command: []string{"x"}})
	if err != nil {
		t.Fatal(err)
	}
	good := Attempt{N: 1, Device: DeviceGPU, Started: t0}
	if err := d.RecordAttempt(ctx, id, good); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		run    int64
		a      Attempt
		is     error
		saying string
	}{
		{"duplicate n", id, good, nil, "already recorded"},
		{"no such run", id + 100, Attempt{N: 1, Device: DeviceGPU, Started: t0}, ErrNoRun, "no such run"},
		{"n zero", id, Attempt{N: 0, Device: DeviceGPU, Started: t0}, nil, "count from 1"},
		{"bad device", id, Attempt{N: 2, Device: "tpu", Started: t0}, nil, `"tpu"`},
		{"no start", id, Attempt{N: 2, Device: DeviceCPU}, nil, "no start time"},
		{"negative duration", id, Attempt{N: 2, Device: DeviceCPU, Started: t0, Duration: -1}, nil, "negative"},
		{"NaN throughput", id, Attempt{N: 2, Device: DeviceCPU, Started: t0, Throughput: f64(nan())}, nil, "finite"},
		{"shim report not JSON", id, Attempt{N: 2, Device: DeviceCPU, Started: t0, Shim: json.RawMessage(`{"loaded":`)}, nil, "shim report"},
		{"shim report not an object", id, Attempt{N: 2, Device: DeviceCPU, Started: t0, Shim: json.RawMessage(`[1]`)}, nil, "not a JSON object"},
		{"shim report null", id, Attempt{N: 2, Device: DeviceCPU, Started: t0, Shim: json.RawMessage(`null`)}, nil, "not a JSON object"},
	}
	for _, tt := range tests {
		err := d.RecordAttempt(ctx, tt.run, tt.a)
		if err == nil {
			t.Errorf("%s: no error", tt.name)
			continue
		}
		if tt.is != nil && !errors.Is(err, tt.is) {
			t.Errorf("%s: %v is not %v", tt.name, err, tt.is)
		}
		if !strings.Contains(err.Error(), tt.saying) || !strings.Contains(err.Error(), d.Path()) {
			t.Errorf("%s: error %q should say %q and name the file", tt.name, err, tt.saying)
		}
	}
	if _, err := d.BeginRun(ctx, Run{}); err == nil {
		t.Error("BeginRun with no command: no error")
	}
	if err := d.FinishRun(ctx, id+100, OutcomeOK, t0); !errors.Is(err, ErrNoRun) {
		t.Errorf("FinishRun of a missing run: %v", err)
	}
	for _, o := range []Outcome{OutcomeRunning, "", "exploded"} {
		if err := d.FinishRun(ctx, id, o, t0); err == nil {
			t.Errorf("FinishRun(%q): no error", o)
		}
	}
	runs, _ := d.Runs(ctx, 0)
	if len(runs) != 1 || len(runs[0].Attempts) != 1 || runs[0].Outcome != OutcomeRunning {
		t.Errorf("failed writes changed the history: %+v", runs)
	}
}

func nan() float64 {
	var zero float64
	return zero / zero
}

func TestAggregate(t *testing.T) {
	d := openTemp(t)
	record(t, d, fixtureRuns())
	st, err := d.Aggregate(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Runs != 3 || !st.FirstStarted.Equal(t0) || !st.LastStarted.Equal(t0.Add(2*time.Hour)) {
		t.Errorf("runs %d, first %v, last %v", st.Runs, st.FirstStarted, st.LastStarted)
	}
	wantOutcomes := map[Outcome]int{OutcomeFallbackCPUOK: 1, OutcomeOK: 1, OutcomeRunning: 1}
	if !reflect.DeepEqual(st.Outcomes, wantOutcomes) {
		t.Errorf("outcomes %v, want %v", st.Outcomes, wantOutcomes)
	}
	job := []string{"python", "train.py", "--epochs", "3"}
	want := []ConfigStats{
		{Layers: "none", Device: "gpu", Attempts: 1, Crashes: 1, Duration: 90 * time.Second, CrashDuration: 90 * time.Second,
			Classes:    map[string]int{"gpu-memory-fault": 1},
			Throughput: []ThroughputStats{{Command: job, Dir: "/home/u/eeg", Unit: "it/s", Samples: 1, Sum: 41.5}}},
		{Layers: "env+shim", Device: "gpu", Attempts: 2, OK: 1, Crashes: 1, Duration: 15 * time.Minute, CrashDuration: 5 * time.Minute,
			Classes:    map[string]int{"gpu-memory-fault": 1},
			Throughput: []ThroughputStats{{Command: job, Dir: "/home/u/eeg", Unit: "it/s", Samples: 2, Sum: 78.5}}},
		{Layers: "cpu", Device: "cpu", Attempts: 1, OK: 1, Duration: 12 * time.Minute, Classes: map[string]int{},
			Throughput: []ThroughputStats{{Command: job, Dir: "/home/u/eeg", Unit: "it/s", Samples: 1, Sum: 4}}},
	}
	if !reflect.DeepEqual(st.Configs, want) {
		t.Errorf("configs:\n got %+v\nwant %+v", st.Configs, want)
	}
	if m := st.Configs[1].Throughput[0].Mean(); m != 39.25 {
		t.Errorf("mean throughput %v, want 39.25", m)
	}
}

func TestAggregateCountsInterruptedAndErrorsApart(t *testing.T) {
	ctx := context.Background()
	d := openTemp(t)
	id, _ := d.BeginRun(ctx, Run{Command: []string{"x"}})
	attempts := []Attempt{
		{N: 1, Device: DeviceGPU, Started: t0, Duration: time.Second, ExitCode: 1},
		{N: 2, Device: DeviceGPU, Started: t0, Duration: 2 * time.Second, ExitCode: -1, Signal: "SIGKILL"},
		{N: 3, Device: DeviceGPU, Started: t0, Duration: 4 * time.Second, ExitCode: -1, Signal: "SIGINT", Interrupted: true},
	}
	for _, a := range attempts {
		if err := d.RecordAttempt(ctx, id, a); err != nil {
			t.Fatal(err)
		}
	}
	st, err := d.Aggregate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []ConfigStats{{Layers: "none", Device: "gpu", Attempts: 2, Crashes: 1, Errors: 1, Interrupted: 1,
		Duration: 7 * time.Second, CrashDuration: 2 * time.Second, Classes: map[string]int{Unclassified: 1}}}
	if !reflect.DeepEqual(st.Configs, want) {
		t.Errorf("configs:\n got %+v\nwant %+v", st.Configs, want)
	}
}

func TestAggregateEmpty(t *testing.T) {
	st, err := openTemp(t).Aggregate(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Runs != 0 || len(st.Configs) != 0 || !st.LastStarted.IsZero() {
		t.Errorf("empty history: %+v", st)
	}
}

func TestDocumentGolden(t *testing.T) {
	d := openTemp(t)
	recorded := record(t, d, fixtureRuns())
	runs, err := d.Runs(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != len(recorded) {
		t.Fatalf("%d runs", len(runs))
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(NewDocument(runs)); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "history.json")
	if *update {
		os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("history --json differs from %s (run with -update if intended):\n%s", golden, buf.String())
	}

	// The fields issue 4 names, by their exact names.
	var doc map[string]any
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc["schema"] != "rocm-patch/history/v1" {
		t.Errorf("schema = %v", doc["schema"])
	}
	run := doc["runs"].([]any)[2].(map[string]any)
	for _, k := range []string{"id", "command", "started", "outcome", "attempts"} {
		if _, ok := run[k]; !ok {
			t.Errorf("run has no %q", k)
		}
	}
	att := run["attempts"].([]any)[0].(map[string]any)
	for _, k := range []string{"n", "device", "exit_code", "signal", "class", "issue_id", "duration_s"} {
		if _, ok := att[k]; !ok {
			t.Errorf("attempt has no %q", k)
		}
	}
	if att["duration_s"] != 90.0 {
		t.Errorf("duration_s = %v, want 90", att["duration_s"])
	}
	if empty := doc["runs"].([]any)[0].(map[string]any); empty["attempts"] == nil || empty["finished"] != nil {
		t.Errorf("running run: attempts %v (want []), finished %v (want null)", empty["attempts"], empty["finished"])
	}
}

func TestDocumentEmpty(t *testing.T) {
	b, err := json.Marshal(NewDocument(nil))
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"schema":"rocm-patch/history/v1","runs":[]}` {
		t.Errorf("empty document: %s", b)
	}
}
