package history_test

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rocm-patch/rocm-patch/internal/history"
	"github.com/rocm-patch/rocm-patch/internal/report"
)

// TestReportFromSQLite is what `rocm-patch run` then `rocm-patch report`
// do: attempts go into a real SQLite file, with their speeds read from
// output lines the way the supervisor reads them, and come out as the
// report's table.
func TestReportFromSQLite(t *testing.T) {
	ctx := context.Background()
	d, err := history.Open(ctx, filepath.Join(t.TempDir(), "history.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	start := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	speed := func(lines ...string) (*float64, string) {
		var m report.Meter
		for _, l := range lines {
			m.Observe([]byte(l))
		}
		v, u, ok := m.Throughput()
		if !ok {
			return nil, ""
		}
		return &v, u
	}
	// Four runs: the bare GPU faults twice of three, env+shim holds; the
	// CPU takes over once.
	type att struct {
		dev    string
		layers []string
		crash  bool
		secs   int
		output []string
	}
	runs := [][]att{
		{{"gpu", nil, true, 60, []string{"  5%| | 5/100 [00:01<00:19,  40.00it/s]"}},
			{"gpu", []string{"shim", "env"}, false, 600, []string{"100%| | 100/100 [00:02<00:00,  38.00it/s]"}}},
		{{"gpu", nil, true, 30, nil},
			{"gpu", []string{"env", "shim"}, true, 300, nil},
			{"cpu", []string{"cpu"}, false, 1200, []string{"rocm-patch: throughput=4 it/s"}}},
		{{"gpu", nil, false, 100, []string{"100%| | 100/100 [00:02<00:00,  42.00it/s]"}}},
		{{"gpu", []string{"env", "shim"}, false, 500, []string{"  2%| | 2/100 [00:06<05:14,  0.025s/it]"}}},
	}
	for i, as := range runs {
		id, err := d.BeginRun(ctx, history.Run{Command: []string{"python", "train.py"}, Dir: "/w", Started: start.Add(time.Duration(i) * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		var recorded []history.Attempt
		for n, a := range as {
			tp, unit := speed(a.output...)
			at := history.Attempt{N: n + 1, Device: a.dev, Layers: a.layers, Started: start, Duration: time.Duration(a.secs) * time.Second,
				Throughput: tp, ThroughputUnit: unit}
			if a.crash {
				at.ExitCode, at.Signal, at.Class = -1, "SIGABRT", "gpu-memory-fault"
			}
			if err := d.RecordAttempt(ctx, id, at); err != nil {
				t.Fatal(err)
			}
			recorded = append(recorded, at)
		}
		if err := d.FinishRun(ctx, id, history.DecideOutcome(recorded, false), time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	st, err := d.Aggregate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r := report.Build(st, start.Add(24*time.Hour))
	var buf bytes.Buffer
	if err := report.WriteMarkdown(&buf, r); err != nil {
		t.Fatal(err)
	}
	md := buf.String()
	// none·gpu: 2 of 3 crashed, MTTF 190s/2; env+shim: 1 of 3 crashed,
	// 1400s/1; speedups: 41/4 and (38+40)/2 / 4.
	for _, row := range []string{
		"| none | gpu | 3 | 2 | 66.7% | 20.8–93.9% | 1m35s | 10.2× (1 job) | gpu-memory-fault 2 |",
		"| env+shim | gpu | 3 | 1 | 33.3% | 6.1–79.2% | 23m20s | 9.8× (1 job) | gpu-memory-fault 1 |",
		"| cpu | cpu | 1 | 0 | 0.0% | 0.0–79.3% | > 20m00s | — |  |",
	} {
		if !strings.Contains(md, row) {
			t.Errorf("report lacks row\n%s\nin\n%s", row, md)
		}
	}
	if r.Outcomes["fallback-cpu-ok"] != 1 || r.Outcomes["ok-after-retry"] != 1 || r.Outcomes["ok"] != 2 {
		t.Errorf("outcomes %v", r.Outcomes)
	}
}
