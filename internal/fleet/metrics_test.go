package fleet

import (
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/rocm-patch/rocm-patch/internal/assess"
	"github.com/rocm-patch/rocm-patch/internal/history"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// promSample is one parsed sample.
type promSample struct {
	labels map[string]string
	value  float64
}

// promFamily is one parsed metric family.
type promFamily struct {
	help, typ string
	samples   []promSample
}

var (
	metricNameRE = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
	labelNameRE  = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
)

// parseExposition reads the Prometheus text format (0.0.4) as strictly as
// node_exporter's textfile collector needs and more: UTF-8 throughout, a
// final newline, no blank lines, every family introduced by exactly one HELP
// and one TYPE before its samples, a family's samples together, valid metric
// and label names, only the \\, \" and \n escapes in label values (\\ and \n
// in HELP), no duplicate label or series, no timestamps (the collector
// rejects them), counters named *_total and never negative.
func parseExposition(text string) (map[string]*promFamily, []string, error) {
	if !utf8.ValidString(text) {
		return nil, nil, fmt.Errorf("not UTF-8")
	}
	if text != "" && !strings.HasSuffix(text, "\n") {
		return nil, nil, fmt.Errorf("no final newline")
	}
	families := map[string]*promFamily{}
	var order []string
	current := ""
	closed := map[string]bool{}
	series := map[string]bool{}
	start := func(name string) (*promFamily, error) {
		if !metricNameRE.MatchString(name) {
			return nil, fmt.Errorf("metric name %q", name)
		}
		f := families[name]
		if f == nil {
			if closed[name] {
				return nil, fmt.Errorf("%s appears in two places", name)
			}
			if current != "" {
				closed[current] = true
			}
			f = &promFamily{}
			families[name] = f
			order = append(order, name)
			current = name
		} else if name != current {
			return nil, fmt.Errorf("%s appears in two places", name)
		}
		return f, nil
	}
	for i, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		if text == "" {
			break
		}
		fail := func(format string, args ...any) error {
			return fmt.Errorf("line %d %q: %s", i+1, line, fmt.Sprintf(format, args...))
		}
		switch {
		case line == "":
			return nil, nil, fail("blank line")
		case strings.HasPrefix(line, "# HELP "), strings.HasPrefix(line, "# TYPE "):
			fields := strings.SplitN(line[len("# HELP "):], " ", 2)
			if len(fields) != 2 {
				return nil, nil, fail("no text")
			}
			f, err := start(fields[0])
			if err != nil {
				return nil, nil, fail("%v", err)
			}
			if len(f.samples) > 0 {
				return nil, nil, fail("after the samples")
			}
			if strings.HasPrefix(line, "# HELP ") {
				if f.help != "" {
					return nil, nil, fail("second HELP")
				}
				help, err := unescape(fields[1], false)
				if err != nil || help == "" {
					return nil, nil, fail("HELP %v", err)
				}
				f.help = help
			} else {
				if f.typ != "" {
					return nil, nil, fail("second TYPE")
				}
				switch fields[1] {
				case "counter", "gauge", "untyped", "summary", "histogram":
					f.typ = fields[1]
				default:
					return nil, nil, fail("type %q", fields[1])
				}
			}
		case strings.HasPrefix(line, "#"):
			// A plain comment: allowed by the format.
		default:
			name, rest, s, err := parseSample(line)
			if err != nil {
				return nil, nil, fail("%v", err)
			}
			f, err := start(name)
			if err != nil {
				return nil, nil, fail("%v", err)
			}
			if f.help == "" || f.typ == "" {
				return nil, nil, fail("sample before HELP and TYPE")
			}
			if strings.TrimSpace(rest) != rest || strings.Contains(rest, " ") {
				return nil, nil, fail("a timestamp or trailing text")
			}
			if f.typ == "counter" && (s.value < 0 || math.IsNaN(s.value) || !strings.HasSuffix(name, "_total")) {
				return nil, nil, fail("counter %s = %v", name, s.value)
			}
			id := name + fmt.Sprint(sortedLabelPairs(s.labels))
			if series[id] {
				return nil, nil, fail("duplicate series")
			}
			series[id] = true
			f.samples = append(f.samples, s)
		}
	}
	for name, f := range families {
		if f.help == "" || f.typ == "" {
			return nil, nil, fmt.Errorf("%s lacks HELP or TYPE", name)
		}
	}
	return families, order, nil
}

func sortedLabelPairs(m map[string]string) []string {
	var out []string
	for k, v := range m {
		out = append(out, k+"="+strconv.Quote(v))
	}
	sort.Strings(out)
	return out
}

// parseSample reads `name{a="b",...} value`; rest is what follows the value's
// first character run (it must be empty).
func parseSample(line string) (name, rest string, s promSample, err error) {
	i := strings.IndexAny(line, "{ ")
	if i < 0 {
		return "", "", s, fmt.Errorf("no value")
	}
	name, line = line[:i], line[i:]
	s.labels = map[string]string{}
	if strings.HasPrefix(line, "{") {
		line = line[1:]
		for !strings.HasPrefix(line, "}") {
			eq := strings.Index(line, `="`)
			if eq < 0 {
				return "", "", s, fmt.Errorf("label without =\"")
			}
			lname := line[:eq]
			if !labelNameRE.MatchString(lname) || strings.HasPrefix(lname, "__") {
				return "", "", s, fmt.Errorf("label name %q", lname)
			}
			line = line[eq+2:]
			var raw strings.Builder
			closedQuote := false
			for j := 0; j < len(line); j++ {
				if line[j] == '\\' && j+1 < len(line) {
					raw.WriteString(line[j : j+2])
					j++
					continue
				}
				if line[j] == '"' {
					line = line[j+1:]
					closedQuote = true
					break
				}
				raw.WriteByte(line[j])
			}
			if !closedQuote {
				return "", "", s, fmt.Errorf("unterminated value of %s", lname)
			}
			v, err := unescape(raw.String(), true)
			if err != nil {
				return "", "", s, err
			}
			if _, dup := s.labels[lname]; dup {
				return "", "", s, fmt.Errorf("label %s twice", lname)
			}
			s.labels[lname] = v
			switch {
			case strings.HasPrefix(line, ",}"):
				return "", "", s, fmt.Errorf("trailing comma")
			case strings.HasPrefix(line, ","):
				line = line[1:]
			case !strings.HasPrefix(line, "}"):
				return "", "", s, fmt.Errorf("expected , or }")
			}
		}
		line = line[1:]
	}
	value, ok := strings.CutPrefix(line, " ")
	if !ok {
		return "", "", s, fmt.Errorf("no space before the value")
	}
	value, rest, _ = strings.Cut(value, " ")
	if rest != "" {
		rest = " " + rest
	}
	s.value, err = strconv.ParseFloat(value, 64)
	if err != nil {
		return "", "", s, fmt.Errorf("value %q", value)
	}
	return name, rest, s, nil
}

// unescape resolves \\ and \n, and \" when quote is set; any other escape is
// an error, and so is a raw line feed or, in a label value, a raw quote.
func unescape(s string, quote bool) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\n' || (quote && c == '"') {
			return "", fmt.Errorf("raw %q in %q", c, s)
		}
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		if i+1 == len(s) {
			return "", fmt.Errorf("lone backslash in %q", s)
		}
		i++
		switch s[i] {
		case '\\':
			b.WriteByte('\\')
		case 'n':
			b.WriteByte('\n')
		case '"':
			if !quote {
				return "", fmt.Errorf(`\" in HELP %q`, s)
			}
			b.WriteByte('"')
		default:
			return "", fmt.Errorf("escape \\%c in %q", s[i], s)
		}
	}
	return b.String(), nil
}

// TestStrictParser checks the checker: it must refuse what node_exporter or
// the format refuses.
func TestStrictParser(t *testing.T) {
	good := "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"q\\\"\\\\\\n\"} 1\n# HELP b B \\\\ \\n.\n# TYPE b gauge\nb 2.5\n"
	fams, order, err := parseExposition(good)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(order, []string{"a_total", "b"}) || fams["a_total"].samples[0].labels["x"] != "q\"\\\n" || fams["b"].help != "B \\ \n." {
		t.Errorf("%v %+v %+v", order, fams["a_total"], fams["b"])
	}
	bad := []string{
		"# HELP a A.\n# TYPE a gauge\na 1",                                          // no final newline
		"# HELP a A.\n# TYPE a gauge\n\na 1\n",                                      // blank line
		"# TYPE a gauge\na 1\n",                                                     // no HELP
		"# HELP a A.\na 1\n",                                                        // no TYPE
		"# HELP a A.\n# TYPE a gauge\na 1 1700000000000\n",                          // timestamp
		"# HELP a A.\n# TYPE a gauge\na{x=\"1\"} 1\na{x=\"1\"} 2\n",                 // duplicate series
		"# HELP a A.\n# TYPE a gauge\na{x=\"\\t\"} 1\n",                             // unknown escape
		"# HELP a A.\n# TYPE a gauge\na{x=\"1\",} 1\n",                              // trailing comma
		"# HELP a A.\n# TYPE a gauge\na{x=\"1\",x=\"2\"} 1\n",                       // label twice
		"# HELP a A.\n# TYPE a gauge\na{1x=\"1\"} 1\n",                              // label name
		"# HELP a A.\n# TYPE a counter\na 1\n",                                      // counter not _total
		"# HELP a_total A.\n# TYPE a_total counter\na_total -1\n",                   // negative counter
		"# HELP a A.\n# TYPE a gauge\na one\n",                                      // value
		"# HELP a A.\n# TYPE a gauge\na 1\n# HELP b B.\n# TYPE b gauge\nb 1\na 2\n", // split family
		"# HELP a A.\n# TYPE a gauge\n# TYPE a gauge\na 1\n",                        // TYPE twice
		"# HELP a A.\n# TYPE a gaug\na 1\n",                                         // type
		"# HELP a A.\n# TYPE a gauge\na{x=\"\xff\"} 1\n",                            // not UTF-8
	}
	for _, b := range bad {
		if _, _, err := parseExposition(b); err == nil {
			t.Errorf("accepted %q", b)
		}
	}
}

func fixtureStats() history.Stats {
	return history.Stats{
		Runs:         6,
		Outcomes:     map[history.Outcome]int{history.OutcomeOK: 2, history.OutcomeFallbackCPUOK: 1, history.OutcomeFailed: 1, history.OutcomeInterrupted: 1, history.OutcomeRunning: 1},
		FirstStarted: t0,
		LastStarted:  t0.Add(5 * time.Hour),
		Configs: []history.ConfigStats{
			{Layers: "none", Device: "gpu", Attempts: 3, OK: 0, Crashes: 3, Classes: map[string]int{"gpu-memory-fault": 2, "unclassified": 1}},
			{Layers: "env+shim", Device: "gpu", Attempts: 4, OK: 3, Crashes: 1, Interrupted: 1, Classes: map[string]int{"gpu-hang": 1}},
			{Layers: "cpu", Device: "cpu", Attempts: 2, OK: 1, Errors: 1, Classes: map[string]int{}},
		},
	}
}

func TestMetricsGolden(t *testing.T) {
	stats := fixtureStats()
	rep := report(assess.RiskHigh, assess.PolicyMitigate, assess.DeviceGPU,
		gpu(0, "gfx1031", "RDNA2", assess.RiskHigh, true), gpu(1, "gfx1031", "RDNA2", assess.RiskHigh, true),
		gpu(2, "gfx1103", "RDNA3", assess.RiskLow, true), gpu(3, "gfx1030", "RDNA2", assess.RiskNone, false), gpu(4, "gfx1200", "", assess.RiskMedium, true))
	out := Metrics(MetricsInput{Report: rep, Stats: &stats, Recent: &CrashRate{Runs: 5, Attempts: 8, Crashes: 3}})
	goldenFile(t, filepath.Join("testdata", "metrics.prom"), out)
	fams, _, err := parseExposition(out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	value := func(name string, labels map[string]string) float64 {
		t.Helper()
		f := fams[name]
		if f == nil {
			t.Fatalf("no %s", name)
		}
		for _, s := range f.samples {
			if reflect.DeepEqual(s.labels, labels) {
				return s.value
			}
		}
		t.Fatalf("no %s%v", name, labels)
		return 0
	}
	checks := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"rocm_patch_attempts_total", map[string]string{"config": "none", "device": "gpu", "result": "crash"}, 3},
		{"rocm_patch_attempts_total", map[string]string{"config": "env+shim", "device": "gpu", "result": "ok"}, 3},
		{"rocm_patch_attempts_total", map[string]string{"config": "env+shim", "device": "gpu", "result": "interrupted"}, 1},
		{"rocm_patch_attempts_total", map[string]string{"config": "cpu", "device": "cpu", "result": "error"}, 1},
		{"rocm_patch_crashes_total", map[string]string{"config": "none", "device": "gpu", "class": "gpu-memory-fault"}, 2},
		{"rocm_patch_crashes_total", map[string]string{"config": "env+shim", "device": "gpu", "class": "gpu-hang"}, 1},
		{"rocm_patch_runs_total", map[string]string{"outcome": "fallback-cpu-ok"}, 1},
		{"rocm_patch_runs_total", map[string]string{"outcome": "ok-after-retry"}, 0},
		{"rocm_patch_runs_unfinished", map[string]string{}, 1},
		{"rocm_patch_cpu_fallbacks_total", map[string]string{}, 1},
		{"rocm_patch_last_run_timestamp_seconds", map[string]string{}, float64(t0.Add(5 * time.Hour).Unix())},
		{"rocm_patch_history_read", map[string]string{}, 1},
		{"rocm_patch_recent_gpu_attempts", map[string]string{}, 8},
		{"rocm_patch_recent_gpu_crash_ratio", map[string]string{}, 0.375},
		{"rocm_patch_risk", map[string]string{}, 3},
		{"rocm_patch_gpus", map[string]string{"family": "RDNA2", "gfx": "gfx1031"}, 2},
		{"rocm_patch_gpus", map[string]string{"family": "RDNA3", "gfx": "gfx1103"}, 1},
		{"rocm_patch_gpus", map[string]string{"family": "unknown", "gfx": "gfx1200"}, 1},
	}
	for _, c := range checks {
		if got := value(c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if n := len(fams["rocm_patch_gpus"].samples); n != 3 {
		t.Errorf("%d GPU series: a GPU not in use was counted", n)
	}
	if _, ok := fams["rocm_patch_runs_total"]; ok {
		for _, s := range fams["rocm_patch_runs_total"].samples {
			if s.labels["outcome"] == string(history.OutcomeRunning) {
				t.Error("running runs in a counter: they leave it when they finish")
			}
		}
	}
}

// TestMetricsWithoutHistory: the node's gauges stay, the history's go, and
// rocm_patch_history_read says why.
func TestMetricsWithoutHistory(t *testing.T) {
	for _, tt := range []struct {
		name string
		in   MetricsInput
		want []string
	}{
		{"report only", MetricsInput{Report: report(assess.RiskNone, assess.PolicyMitigate, assess.DeviceCPU)},
			[]string{"rocm_patch_history_read", "rocm_patch_risk"}},
		{"nothing", MetricsInput{}, []string{"rocm_patch_history_read"}},
		{"empty history", MetricsInput{Stats: &history.Stats{}, Recent: &CrashRate{}},
			[]string{"rocm_patch_runs_total", "rocm_patch_runs_unfinished", "rocm_patch_cpu_fallbacks_total", "rocm_patch_history_read", "rocm_patch_recent_gpu_attempts"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out := Metrics(tt.in)
			fams, order, err := parseExposition(out)
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if !reflect.DeepEqual(order, tt.want) {
				t.Errorf("families %v, want %v", order, tt.want)
			}
			wantRead := 0.0
			if tt.in.Stats != nil {
				wantRead = 1
			}
			if got := fams["rocm_patch_history_read"].samples[0].value; got != wantRead {
				t.Errorf("history_read %v", got)
			}
		})
	}
}

// TestMetricsHostileValues: whatever a history holds as a layer or class
// name, the file stays valid and the value reads back.
func TestMetricsHostileValues(t *testing.T) {
	for _, v := range []string{`a"b`, `back\slash`, "line\nfeed", `\n`, "\xff\xferaw", "ümlaut ✓", "} 1\nfake_metric 2", ""} {
		stats := history.Stats{Configs: []history.ConfigStats{{Layers: v, Device: "gpu", Crashes: 1, Classes: map[string]int{v: 1}}}}
		out := Metrics(MetricsInput{Stats: &stats})
		fams, _, err := parseExposition(out)
		if err != nil {
			t.Fatalf("%q: %v\n%s", v, err, out)
		}
		want := strings.ToValidUTF8(v, "\uFFFD")
		if got := fams["rocm_patch_crashes_total"].samples[0].labels; got["config"] != want || got["class"] != want {
			t.Errorf("%q read back as %q", v, got)
		}
		if _, ok := fams["fake_metric"]; ok {
			t.Errorf("%q injected a metric", v)
		}
	}
}

func TestMergeStats(t *testing.T) {
	a := fixtureStats()
	b := history.Stats{
		Runs:         2,
		Outcomes:     map[history.Outcome]int{history.OutcomeOK: 1, history.OutcomeFailed: 1},
		FirstStarted: t0.Add(-time.Hour),
		LastStarted:  t0.Add(time.Hour),
		Configs: []history.ConfigStats{
			{Layers: "none", Device: "gpu", Attempts: 1, Crashes: 1, Classes: map[string]int{"gpu-memory-fault": 1}, Duration: time.Minute},
			{Layers: "env", Device: "gpu", Attempts: 1, OK: 1, Classes: map[string]int{}},
			{Layers: "none", Device: "cpu", Attempts: 1, OK: 1, Classes: map[string]int{}},
		},
	}
	m := MergeStats(a, b)
	if m.Runs != 8 || m.Outcomes[history.OutcomeOK] != 3 || m.Outcomes[history.OutcomeFailed] != 2 || m.Outcomes[history.OutcomeRunning] != 1 {
		t.Errorf("runs %d outcomes %v", m.Runs, m.Outcomes)
	}
	if !m.FirstStarted.Equal(t0.Add(-time.Hour)) || !m.LastStarted.Equal(t0.Add(5*time.Hour)) {
		t.Errorf("bounds %v %v", m.FirstStarted, m.LastStarted)
	}
	var order []string
	for _, c := range m.Configs {
		order = append(order, c.Device+"/"+c.Layers)
	}
	if want := []string{"gpu/none", "gpu/env", "gpu/env+shim", "cpu/none", "cpu/cpu"}; !reflect.DeepEqual(order, want) {
		t.Errorf("order %v, want %v", order, want)
	}
	if c := m.Configs[0]; c.Attempts != 4 || c.Crashes != 4 || c.Classes["gpu-memory-fault"] != 3 || c.Classes["unclassified"] != 1 || c.Duration != time.Minute {
		t.Errorf("merged gpu/none: %+v", c)
	}
	if a.Configs[0].Classes["gpu-memory-fault"] != 2 {
		t.Error("MergeStats changed its input")
	}
	if e := MergeStats(); e.Runs != 0 || e.Outcomes == nil || len(e.Configs) != 0 {
		t.Errorf("no stats: %+v", e)
	}
}

func TestWriteMetricsFile(t *testing.T) {
	dir := t.TempDir()
	text := Metrics(MetricsInput{})
	path, err := WriteMetricsFile(dir, text)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(path); err != nil || string(got) != text || filepath.Base(path) != MetricsFileName {
		t.Errorf("%s: %q %v", path, got, err)
	}
	assertOnlyFiles(t, dir, MetricsFileName)
	missing := filepath.Join(dir, "textfile")
	if _, err := WriteMetricsFile(missing, text); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing folder: %v", err)
	}
}

// FuzzMetrics: any layer, device or class name gives a file the strict
// parser accepts, with the names read back (as valid UTF-8).
func FuzzMetrics(f *testing.F) {
	f.Add("env+shim", "gpu", "gpu-memory-fault")
	f.Add(`a"b\c`, "gpu\n", "} 1")
	f.Add("\xff", "", `\n`)
	f.Fuzz(func(t *testing.T, layers, device, class string) {
		stats := history.Stats{Configs: []history.ConfigStats{{Layers: layers, Device: device, Crashes: 1, Classes: map[string]int{class: 1}}}}
		out := Metrics(MetricsInput{Stats: &stats})
		fams, _, err := parseExposition(out)
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		got := fams["rocm_patch_crashes_total"].samples[0].labels
		valid := func(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }
		if got["config"] != valid(layers) || got["device"] != valid(device) || got["class"] != valid(class) {
			t.Fatalf("read back %q", got)
		}
	})
}

func goldenFile(t *testing.T, file, got string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (go test ./internal/fleet -update creates it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs (go test ./internal/fleet -update rewrites it):\n--- want\n%s\n--- got\n%s", file, want, got)
	}
}
