package fleet

import (
	"sort"
	"strconv"
	"strings"

	"github.com/rocm-patch/rocm-patch/internal/assess"
	"github.com/rocm-patch/rocm-patch/internal/history"
)

// MetricsFileName is the file rocm-patch owns in node_exporter's textfile
// folder; the collector reads every *.prom file there.
const MetricsFileName = "rocm-patch.prom"

// MetricsInput is what the metrics are made of. Each part may be missing:
// a nil Report drops the risk and GPU gauges, a nil Stats the history
// counters (rocm_patch_history_read then says 0), a nil Recent the recent
// crash gauges.
type MetricsInput struct {
	Report *assess.Report
	Stats  *history.Stats
	Recent *CrashRate
}

// Metrics writes the Prometheus text exposition format (version 0.0.4) for
// node_exporter's textfile collector: every family with HELP and TYPE, its
// samples together and in a fixed order, label values escaped (\\, \",
// \n) and made valid UTF-8, and no timestamps, which the collector rejects.
//
// The families:
//
//	rocm_patch_attempts_total{config,device,result}  counter
//	rocm_patch_crashes_total{config,device,class}    counter
//	rocm_patch_runs_total{outcome}                   counter (finished runs)
//	rocm_patch_runs_unfinished                       gauge
//	rocm_patch_cpu_fallbacks_total                   counter
//	rocm_patch_last_run_timestamp_seconds            gauge (only with runs)
//	rocm_patch_history_read                          gauge, 1 or 0
//	rocm_patch_recent_gpu_attempts                   gauge
//	rocm_patch_recent_gpu_crash_ratio                gauge (only with attempts)
//	rocm_patch_risk                                  gauge, 0 none .. 3 high
//	rocm_patch_gpus{family,gfx}                      gauge
//
// A family with no sample (no GPU in use, an empty history) is left out.
// Attempts carry a result rather than a class because only a crash has a
// class; crash rate = crashes / attempts{result!="interrupted"}.
func Metrics(in MetricsInput) string {
	var w metricsWriter
	if s := in.Stats; s != nil {
		attempts := w.family("rocm_patch_attempts_total", "counter",
			`Attempts recorded in the rocm-patch history, by configuration (the mitigation layers applied, "none" for none), device and result (ok, crash, error, interrupted).`)
		crashes := w.family("rocm_patch_crashes_total", "counter",
			`Crashed attempts recorded in the rocm-patch history, by configuration, device and the class rocm-patch diagnose matched ("unclassified" when none).`)
		for _, c := range s.Configs {
			for _, r := range []struct {
				result string
				n      int
			}{{"ok", c.OK}, {"crash", c.Crashes}, {"error", c.Errors}, {"interrupted", c.Interrupted}} {
				attempts.sample(num(r.n), "config", c.Layers, "device", c.Device, "result", r.result)
			}
			for _, class := range sortedKeys(c.Classes) {
				crashes.sample(num(c.Classes[class]), "config", c.Layers, "device", c.Device, "class", class)
			}
		}
		runs := w.family("rocm_patch_runs_total", "counter",
			"Finished supervised runs in the rocm-patch history, by outcome.")
		for _, o := range history.Outcomes {
			if o != history.OutcomeRunning {
				runs.sample(num(s.Outcomes[o]), "outcome", string(o))
			}
		}
		w.family("rocm_patch_runs_unfinished", "gauge",
			"Runs in the rocm-patch history with no outcome yet: still running, or cut short with their supervisor.").
			sample(num(s.Outcomes[history.OutcomeRunning]))
		w.family("rocm_patch_cpu_fallbacks_total", "counter",
			"Runs that finished on the CPU after their GPU attempts failed (outcome fallback-cpu-ok).").
			sample(num(s.Outcomes[history.OutcomeFallbackCPUOK]))
		if !s.LastStarted.IsZero() {
			w.family("rocm_patch_last_run_timestamp_seconds", "gauge",
				"Start time of the newest run in the rocm-patch history, in seconds since the Unix epoch.").
				sample(strconv.FormatInt(s.LastStarted.Unix(), 10))
		}
	}
	read := 0
	if in.Stats != nil {
		read = 1
	}
	w.family("rocm_patch_history_read", "gauge",
		"1 when a rocm-patch history was read for these metrics, 0 when none exists or none could be read.").
		sample(num(read))
	if c := in.Recent; c != nil {
		w.family("rocm_patch_recent_gpu_attempts", "gauge",
			"GPU attempts that ran to an end in the newest runs of the rocm-patch history (fleet --runs, default 20).").
			sample(num(c.Attempts))
		if c.Attempts > 0 {
			w.family("rocm_patch_recent_gpu_crash_ratio", "gauge",
				"Share of those GPU attempts that crashed, from 0 to 1.").
				sample(strconv.FormatFloat(c.Ratio(), 'g', -1, 64))
		}
	}
	if rep := in.Report; rep != nil {
		w.family("rocm_patch_risk", "gauge",
			"Risk of GPU training on this node as rocm-patch doctor judges it: 0 none, 1 low, 2 medium, 3 high.").
			sample(num(max(riskLevel(rep.Risk), 0)))
		type key struct{ family, gfx string }
		counts := map[key]int{}
		for _, g := range rep.GPUs {
			if g.InUse {
				counts[key{orUnknown(g.Family), orUnknown(g.Target)}]++
			}
		}
		keys := make([]key, 0, len(counts))
		for k := range counts {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool {
			if keys[i].family != keys[j].family {
				return keys[i].family < keys[j].family
			}
			return keys[i].gfx < keys[j].gfx
		})
		gpus := w.family("rocm_patch_gpus", "gauge",
			"AMD GPUs a training run on this node can use, by ISA family and gfx target.")
		for _, k := range keys {
			gpus.sample(num(counts[k]), "family", k.family, "gfx", k.gfx)
		}
	}
	return w.String()
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

func num(n int) string { return strconv.Itoa(n) }

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// metricsWriter collects families in the order they are declared.
type metricsWriter struct {
	families []*metricFamily
}

type metricFamily struct {
	name, typ, help string
	lines           []string
}

func (w *metricsWriter) family(name, typ, help string) *metricFamily {
	f := &metricFamily{name: name, typ: typ, help: help}
	w.families = append(w.families, f)
	return f
}

// sample adds one sample; labels are name, value pairs.
func (f *metricFamily) sample(value string, labels ...string) {
	var b strings.Builder
	b.WriteString(f.name)
	if len(labels) > 0 {
		b.WriteByte('{')
		for i := 0; i+1 < len(labels); i += 2 {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(labels[i] + `="` + escapeLabelValue(labels[i+1]) + `"`)
		}
		b.WriteByte('}')
	}
	b.WriteString(" " + value)
	f.lines = append(f.lines, b.String())
}

func (w *metricsWriter) String() string {
	var b strings.Builder
	for _, f := range w.families {
		// A family without samples says nothing; expfmt drops it anyway.
		if len(f.lines) == 0 {
			continue
		}
		b.WriteString("# HELP " + f.name + " " + escapeHelp(f.help) + "\n")
		b.WriteString("# TYPE " + f.name + " " + f.typ + "\n")
		for _, l := range f.lines {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// In the text format a label value escapes backslash, double quote and
// line feed; HELP text escapes backslash and line feed. The format is
// UTF-8, and the parsers reject anything else, so invalid bytes (a layer
// name read from a damaged history) become U+FFFD.
var (
	labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
)

func escapeLabelValue(s string) string {
	return labelEscaper.Replace(strings.ToValidUTF8(s, "\uFFFD"))
}

func escapeHelp(s string) string {
	return helpEscaper.Replace(strings.ToValidUTF8(s, "\uFFFD"))
}

// MergeStats adds up the summaries of several histories (a node whose users
// each keep their own): runs and outcomes are summed, configurations with the
// same layers and device are added together, the time bounds widened.
// Throughput lists are concatenated, not merged.
func MergeStats(all ...history.Stats) history.Stats {
	out := history.Stats{Outcomes: map[history.Outcome]int{}}
	type key struct{ layers, device string }
	index := map[key]int{}
	for _, s := range all {
		out.Runs += s.Runs
		for o, n := range s.Outcomes {
			out.Outcomes[o] += n
		}
		if !s.FirstStarted.IsZero() && (out.FirstStarted.IsZero() || s.FirstStarted.Before(out.FirstStarted)) {
			out.FirstStarted = s.FirstStarted
		}
		if s.LastStarted.After(out.LastStarted) {
			out.LastStarted = s.LastStarted
		}
		for _, c := range s.Configs {
			k := key{c.Layers, c.Device}
			i, ok := index[k]
			if !ok {
				index[k] = len(out.Configs)
				out.Configs = append(out.Configs, history.ConfigStats{Layers: c.Layers, Device: c.Device, Classes: map[string]int{}})
				i = index[k]
			}
			m := &out.Configs[i]
			m.Attempts += c.Attempts
			m.OK += c.OK
			m.Crashes += c.Crashes
			m.Errors += c.Errors
			m.Interrupted += c.Interrupted
			m.Duration += c.Duration
			m.CrashDuration += c.CrashDuration
			for class, n := range c.Classes {
				m.Classes[class] += n
			}
			m.Throughput = append(m.Throughput, c.Throughput...)
		}
	}
	// history's order: GPU configurations first, then by layers with
	// NoLayers first.
	sort.SliceStable(out.Configs, func(i, j int) bool {
		a, b := out.Configs[i], out.Configs[j]
		if (a.Device == history.DeviceGPU) != (b.Device == history.DeviceGPU) {
			return a.Device == history.DeviceGPU
		}
		if a.Device != b.Device {
			return a.Device < b.Device
		}
		if (a.Layers == history.NoLayers) != (b.Layers == history.NoLayers) {
			return a.Layers == history.NoLayers
		}
		return a.Layers < b.Layers
	})
	return out
}

// WriteMetricsFile writes text as MetricsFileName in dir (node_exporter's
// --collector.textfile.directory), through a hidden temporary file renamed
// into place, and returns the file's path.
func WriteMetricsFile(dir string, text string) (string, error) {
	return writeInto(dir, "textfile folder", MetricsFileName, []byte(text))
}
