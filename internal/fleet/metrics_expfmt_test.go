// This test reads the metrics with Prometheus's own text parser
// (github.com/prometheus/common/expfmt, a test-only dependency: nothing in
// the binary imports it), so what node_exporter accepts is what is tested.

package fleet

import (
	"reflect"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/rocm-patch/rocm-patch/internal/assess"
	"github.com/rocm-patch/rocm-patch/internal/history"
)

// expfmtSample is a sample as expfmt read it.
type expfmtSample struct {
	labels    map[string]string
	value     float64
	timestamp bool
}

// expfmtFamily is a family as expfmt read it.
type expfmtFamily struct {
	help, typ string
	samples   []expfmtSample
}

// parseWithExpfmt reads text with Prometheus's parser and copies what it
// read into plain types (so that this file needs no other import of the
// Prometheus modules).
func parseWithExpfmt(t *testing.T, text string) map[string]expfmtFamily {
	t.Helper()
	// Legacy names: what every node_exporter accepts.
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatalf("expfmt: %v\n%s", err, text)
	}
	out := map[string]expfmtFamily{}
	for name, mf := range fams {
		f := expfmtFamily{help: mf.GetHelp(), typ: strings.ToLower(mf.GetType().String())}
		for _, m := range mf.GetMetric() {
			s := expfmtSample{labels: map[string]string{}, timestamp: m.TimestampMs != nil}
			for _, lp := range m.GetLabel() {
				s.labels[lp.GetName()] = lp.GetValue()
			}
			switch f.typ {
			case "counter":
				s.value = m.GetCounter().GetValue()
			case "gauge":
				s.value = m.GetGauge().GetValue()
			default:
				t.Fatalf("%s: type %s", name, f.typ)
			}
			f.samples = append(f.samples, s)
		}
		out[name] = f
	}
	return out
}

// TestMetricsExpfmt: expfmt reads the same families, types and values as
// the strict parser of metrics_test.go.
func TestMetricsExpfmt(t *testing.T) {
	stats := fixtureStats()
	rep := report(assess.RiskHigh, assess.PolicyMitigate, assess.DeviceGPU,
		gpu(0, "gfx1031", "RDNA2", assess.RiskHigh, true), gpu(1, "gfx1103", "RDNA3", assess.RiskLow, true))
	inputs := []MetricsInput{
		{Report: rep, Stats: &stats, Recent: &CrashRate{Runs: 5, Attempts: 8, Crashes: 3}},
		{Report: rep},
		{},
		{Stats: &history.Stats{Configs: []history.ConfigStats{{Layers: "a\"b\\c\nd\xff", Device: "gpu", Crashes: 1, Classes: map[string]int{"} 1": 1}}}}},
	}
	for _, in := range inputs {
		text := Metrics(in)
		mine, _, err := parseExposition(text)
		if err != nil {
			t.Fatalf("strict parser: %v", err)
		}
		theirs := parseWithExpfmt(t, text)
		if len(theirs) != len(mine) {
			t.Errorf("expfmt read %d families, the strict parser %d", len(theirs), len(mine))
		}
		for name, f := range mine {
			mf, ok := theirs[name]
			if !ok {
				t.Errorf("expfmt lacks %s", name)
				continue
			}
			if mf.typ != f.typ || mf.help != f.help {
				t.Errorf("%s: type %s help %q, want %s %q", name, mf.typ, mf.help, f.typ, f.help)
			}
			if len(mf.samples) != len(f.samples) {
				t.Fatalf("%s: %d samples, want %d", name, len(mf.samples), len(f.samples))
			}
			for i, m := range mf.samples {
				s := f.samples[i]
				if !reflect.DeepEqual(m.labels, s.labels) || m.value != s.value || m.timestamp {
					t.Errorf("%s #%d: expfmt %+v, strict parser %+v", name, i, m, s)
				}
			}
		}
	}
}

// FuzzMetricsExpfmt: expfmt accepts the output whatever names the history
// holds.
func FuzzMetricsExpfmt(f *testing.F) {
	f.Add("env+shim", "gpu", "gpu-memory-fault")
	f.Add(`a"b\c`, "gpu\n", "} 1")
	f.Fuzz(func(t *testing.T, layers, device, class string) {
		stats := history.Stats{Configs: []history.ConfigStats{{Layers: layers, Device: device, Crashes: 1, Classes: map[string]int{class: 1}}}}
		fams := parseWithExpfmt(t, Metrics(MetricsInput{Stats: &stats}))
		got := fams["rocm_patch_crashes_total"].samples[0].labels
		valid := func(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }
		if got["config"] != valid(layers) || got["device"] != valid(device) || got["class"] != valid(class) {
			t.Fatalf("read back %q", got)
		}
	})
}
