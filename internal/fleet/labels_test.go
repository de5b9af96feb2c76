package fleet

import (
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rocm-patch/rocm-patch/internal/assess"
	"github.com/rocm-patch/rocm-patch/internal/history"
)

func gpu(index int, target, family string, risk assess.Risk, inUse bool) assess.GPUReport {
	return assess.GPUReport{Index: index, Target: target, Family: family, Risk: risk, InUse: inUse}
}

func report(risk assess.Risk, policy assess.Policy, device assess.Device, gpus ...assess.GPUReport) *assess.Report {
	return &assess.Report{Risk: risk, Policy: policy, GPUs: gpus, Plan: assess.Plan{Policy: policy, Device: device}}
}

func labelMap(labels []Label) map[string]string {
	m := map[string]string{}
	for _, l := range labels {
		m[strings.TrimPrefix(l.Name, LabelPrefix)] = l.Value
	}
	return m
}

func TestLabels(t *testing.T) {
	tests := []struct {
		name  string
		rep   *assess.Report
		crash *CrashRate
		want  map[string]string
		skips int
	}{
		{
			name: "one RDNA2",
			rep:  report(assess.RiskHigh, assess.PolicyMitigate, assess.DeviceGPU, gpu(0, "gfx1031", "RDNA2", assess.RiskHigh, true)),
			want: map[string]string{"gpu.count": "1", "gpu.family": "RDNA2", "gpu.gfx": "gfx1031", "gpu.family.RDNA2": "true",
				"risk": "high", "policy": "mitigate", "device": "gpu"},
		},
		{
			name: "RDNA1 is not RDNA2",
			rep:  report(assess.RiskHigh, assess.PolicyCPU, assess.DeviceCPU, gpu(0, "gfx1010", "RDNA1", assess.RiskHigh, true)),
			want: map[string]string{"gpu.count": "1", "gpu.family": "RDNA1", "gpu.gfx": "gfx1010", "gpu.family.RDNA1": "true",
				"risk": "high", "policy": "cpu", "device": "cpu"},
		},
		{
			name: "riskiest GPU names the family, whatever its index",
			rep: report(assess.RiskHigh, assess.PolicyMitigate, assess.DeviceGPU,
				gpu(0, "gfx1103", "RDNA3", assess.RiskLow, true), gpu(1, "gfx1031", "RDNA2", assess.RiskHigh, true), gpu(2, "gfx1150", "RDNA3.5", assess.RiskLow, true)),
			crash: &CrashRate{Runs: 3, Attempts: 4, Crashes: 1},
			want: map[string]string{"gpu.count": "3", "gpu.family": "RDNA2", "gpu.gfx": "gfx1031",
				"gpu.family.RDNA2": "true", "gpu.family.RDNA3": "true", "gpu.family.RDNA3.5": "true",
				"risk": "high", "policy": "mitigate", "device": "gpu", "crash.percent": "25", "crash.attempts": "4"},
		},
		{
			name: "equal risks: the lowest index",
			rep: report(assess.RiskNone, assess.PolicyMitigate, assess.DeviceGPU,
				gpu(1, "gfx942", "CDNA3", assess.RiskNone, true), gpu(0, "gfx90a", "CDNA2", assess.RiskNone, true)),
			want: map[string]string{"gpu.count": "2", "gpu.family": "CDNA2", "gpu.gfx": "gfx90a",
				"gpu.family.CDNA2": "true", "gpu.family.CDNA3": "true", "risk": "none", "policy": "mitigate", "device": "gpu"},
		},
		{
			name: "a GPU not in use counts for nothing",
			rep: report(assess.RiskLow, assess.PolicyMitigate, assess.DeviceGPU,
				gpu(0, "gfx1031", "RDNA2", assess.RiskNone, false), gpu(1, "gfx1100", "RDNA3", assess.RiskLow, true)),
			want: map[string]string{"gpu.count": "1", "gpu.family": "RDNA3", "gpu.gfx": "gfx1100", "gpu.family.RDNA3": "true",
				"risk": "low", "policy": "mitigate", "device": "gpu"},
		},
		{
			name:  "no GPU; a history with no GPU attempt gives no crash labels",
			rep:   report(assess.RiskNone, assess.PolicyMitigate, assess.DeviceCPU),
			crash: &CrashRate{Runs: 2},
			want:  map[string]string{"gpu.count": "0", "risk": "none", "policy": "mitigate", "device": "cpu"},
		},
		{
			name: "unknown family: no family labels, the gfx stays",
			rep:  report(assess.RiskMedium, assess.PolicyMitigate, assess.DeviceGPU, gpu(0, "gfx1200", "", assess.RiskMedium, true)),
			want: map[string]string{"gpu.count": "1", "gpu.gfx": "gfx1200", "risk": "medium", "policy": "mitigate", "device": "gpu"},
		},
		{
			name:  "a family no label can carry is skipped, not fatal",
			rep:   report(assess.RiskHigh, assess.PolicyMitigate, assess.DeviceGPU, gpu(0, "gfx1031", "RDNA 2/x", assess.RiskHigh, true)),
			want:  map[string]string{"gpu.count": "1", "gpu.gfx": "gfx1031", "risk": "high", "policy": "mitigate", "device": "gpu"},
			skips: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			labels, skipped := Labels(tt.rep, tt.crash)
			if got := labelMap(labels); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("labels:\n got %v\nwant %v", got, tt.want)
			}
			if len(skipped) != tt.skips {
				t.Errorf("skipped %q, want %d", skipped, tt.skips)
			}
			for i := 1; i < len(labels); i++ {
				if labels[i-1].Name >= labels[i].Name {
					t.Errorf("not sorted: %s before %s", labels[i-1].Name, labels[i].Name)
				}
			}
			for _, l := range labels {
				if err := ValidateLabelName(l.Name); err != nil {
					t.Error(err)
				}
				if err := ValidateLabelValue(l.Value); err != nil {
					t.Error(err)
				}
			}
		})
	}
	if labels, skipped := Labels(nil, nil); labels != nil || len(skipped) != 1 {
		t.Errorf("nil report: %v %v", labels, skipped)
	}
}

// TestLabelNamesListed keeps LabelNames in step with what Labels emits.
func TestLabelNamesListed(t *testing.T) {
	rep := report(assess.RiskHigh, assess.PolicyMitigate, assess.DeviceGPU, gpu(0, "gfx1031", "RDNA2", assess.RiskHigh, true))
	labels, _ := Labels(rep, &CrashRate{Attempts: 1})
	known := map[string]bool{}
	for _, n := range LabelNames {
		known[n] = true
	}
	for _, l := range labels {
		if !known[l.Name] && !strings.HasPrefix(l.Name, LabelPrefix+LabelGPUFamily+".") {
			t.Errorf("%s is not in LabelNames", l.Name)
		}
		delete(known, l.Name)
	}
	if len(known) != 0 {
		t.Errorf("LabelNames has names Labels never emits: %v", known)
	}
}

func TestCrashRatePercent(t *testing.T) {
	tests := []struct {
		attempts, crashes int
		want              int
		ok                bool
	}{
		{0, 0, 0, false},
		{4, 0, 0, true},
		{4, 1, 25, true},
		{3, 1, 33, true},
		{3, 2, 67, true},
		{8, 1, 13, true}, // 12.5 rounds half up
		{200, 1, 1, true},
		{1000, 1, 1, true}, // 0.1% is not "no crash"
		{5, 5, 100, true},
	}
	for _, tt := range tests {
		got, ok := CrashRate{Attempts: tt.attempts, Crashes: tt.crashes}.Percent()
		if got != tt.want || ok != tt.ok {
			t.Errorf("%d/%d: %d %v, want %d %v", tt.crashes, tt.attempts, got, ok, tt.want, tt.ok)
		}
	}
	if r := (CrashRate{Attempts: 4, Crashes: 1}).Ratio(); r != 0.25 {
		t.Errorf("ratio %v", r)
	}
	if r := (CrashRate{}).Ratio(); r != 0 {
		t.Errorf("ratio without attempts %v", r)
	}
}

var t0 = time.Date(2025, 3, 1, 9, 30, 0, 0, time.UTC)

func attempt(n int, device string, exit int, signal, class string) history.Attempt {
	return history.Attempt{N: n, Device: device, Started: t0, Duration: time.Minute, ExitCode: exit, Signal: signal, Class: class}
}

func TestRecentCrashRate(t *testing.T) {
	crash := attempt(1, history.DeviceGPU, -1, "SIGABRT", "gpu-memory-fault")
	ok := attempt(1, history.DeviceGPU, 0, "", "")
	runs := []history.Run{
		{Started: t0, Attempts: []history.Attempt{crash, crash}},                                                         // oldest
		{Started: t0.Add(2 * time.Hour), Attempts: []history.Attempt{ok}},                                                // newest
		{Started: t0.Add(time.Hour), Attempts: []history.Attempt{crash, {N: 2, Device: history.DeviceCPU, Started: t0}}}, // CPU attempt left out
		{Started: t0.Add(90 * time.Minute), Attempts: []history.Attempt{
			{N: 1, Device: history.DeviceGPU, Started: t0, ExitCode: -1, Signal: "SIGINT", Interrupted: true}, // interrupted: no verdict
			attempt(2, history.DeviceGPU, 1, "", ""),                                                          // a job's own error counts as an attempt, not a crash
		}},
	}
	tests := []struct {
		window int
		want   CrashRate
	}{
		{1, CrashRate{Runs: 1, Attempts: 1}},
		{2, CrashRate{Runs: 2, Attempts: 2}},
		{3, CrashRate{Runs: 3, Attempts: 3, Crashes: 1}},
		{0, CrashRate{Runs: 4, Attempts: 5, Crashes: 3}},
		{100, CrashRate{Runs: 4, Attempts: 5, Crashes: 3}},
	}
	for _, tt := range tests {
		if got := RecentCrashRate(runs, tt.window); got != tt.want {
			t.Errorf("window %d: %+v, want %+v", tt.window, got, tt.want)
		}
	}
	if runs[0].Started != t0 {
		t.Error("RecentCrashRate reordered its argument")
	}
	if got := RecentCrashRate(nil, 20); got != (CrashRate{}) {
		t.Errorf("no runs: %+v", got)
	}
}

// TestRecentCrashRateFromHistory reads the rate through the history package,
// as the command does, so that a change in how history reports attempts
// shows here.
func TestRecentCrashRateFromHistory(t *testing.T) {
	ctx := context.Background()
	db, err := history.Open(ctx, filepath.Join(t.TempDir(), "history.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for i, attempts := range [][]history.Attempt{
		{attempt(1, history.DeviceGPU, -1, "SIGSEGV", ""), attempt(2, history.DeviceCPU, 0, "", "")},
		{attempt(1, history.DeviceGPU, 0, "", "")},
		{attempt(1, history.DeviceGPU, 0, "", "")},
		{attempt(1, history.DeviceGPU, 0, "", "")},
	} {
		id, err := db.BeginRun(ctx, history.Run{Command: []string{"python", "train.py"}, Started: t0.Add(time.Duration(i) * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range attempts {
			if err := db.RecordAttempt(ctx, id, a); err != nil {
				t.Fatal(err)
			}
		}
		if err := db.FinishRun(ctx, id, history.DecideOutcome(attempts, false), t0.Add(time.Duration(i)*time.Hour+time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	runs, err := db.Runs(ctx, 20)
	if err != nil {
		t.Fatal(err)
	}
	c := RecentCrashRate(runs, 20)
	if c != (CrashRate{Runs: 4, Attempts: 4, Crashes: 1}) {
		t.Fatalf("%+v", c)
	}
	labels, _ := Labels(report(assess.RiskHigh, assess.PolicyMitigate, assess.DeviceGPU), &c)
	if m := labelMap(labels); m["crash.percent"] != "25" || m["crash.attempts"] != "4" {
		t.Errorf("%v", m)
	}
}

func TestValidateLabel(t *testing.T) {
	long := strings.Repeat("a", 63)
	names := []struct {
		key string
		ok  bool
	}{
		{"rocm-patch.io/gpu.family", true},
		{"rocm-patch.io/gpu.family.RDNA3.5", true},
		{"rocm-patch.io/" + long, true},
		{"rocm-patch.io/" + long + "a", false},
		{"plain", true},
		{"rocm-patch.io/", false},
		{"/name", false},
		{"Rocm-Patch.io/name", false}, // the prefix is lower case
		{"rocm_patch.io/name", false},
		{"rocm-patch..io/name", false},
		{"-rocm.io/name", false},
		{"rocm-patch.io/-name", false},
		{"rocm-patch.io/name-", false},
		{"rocm-patch.io/na me", false},
		{"rocm-patch.io/a/b", false},
		{"rocm-patch.io/na=me", false},
		{strings.Repeat("a.", 127) + "io/name", false}, // prefix over 253
		{"", false},
	}
	for _, tt := range names {
		err := ValidateLabelName(tt.key)
		if (err == nil) != tt.ok {
			t.Errorf("name %q: %v", tt.key, err)
		}
		if err != nil && !errors.Is(err, ErrInvalidLabel) {
			t.Errorf("name %q: %v does not wrap ErrInvalidLabel", tt.key, err)
		}
	}
	values := []struct {
		v  string
		ok bool
	}{
		{"", true}, {"RDNA3.5", true}, {"gfx1031", true}, {"0", true}, {"a_b-c.d", true}, {long, true},
		{long + "a", false}, {"25%", false}, {"-1", false}, {".5", false}, {"a b", false}, {"true\n", false},
		{"x=y", false}, {"ümlaut", false},
	}
	for _, tt := range values {
		err := ValidateLabelValue(tt.v)
		if (err == nil) != tt.ok {
			t.Errorf("value %q: %v", tt.v, err)
		}
		if err != nil && !errors.Is(err, ErrInvalidLabel) {
			t.Errorf("value %q: %v does not wrap ErrInvalidLabel", tt.v, err)
		}
	}
}
