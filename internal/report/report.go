package report

import (
	"sort"
	"strings"
	"time"

	"github.com/rocm-patch/rocm-patch/internal/history"
)

// Schema names the contract of `rocm-patch report --json`. Fields are only
// added within a version.
const Schema = "rocm-patch/report/v1"

// Report compares the configurations the user's own runs went through.
type Report struct {
	Schema    string    `json:"schema"`
	Generated time.Time `json:"generated"`
	// Runs counts the runs in the history; FirstRun and LastRun bound
	// their start times (null when there are none).
	Runs     int            `json:"runs"`
	FirstRun *time.Time     `json:"first_run"`
	LastRun  *time.Time     `json:"last_run"`
	Outcomes map[string]int `json:"outcomes"`
	// Configurations has one row per configuration, GPU ones first.
	Configurations []Row `json:"configurations"`
	// Jobs lists the speeds each job reported, per configuration.
	Jobs []Job `json:"jobs"`
	// Notes are caveats about this data ("no CPU speed to compare with").
	Notes []string `json:"notes"`
}

// Row is one configuration: a canonical set of layers on one device.
type Row struct {
	Layers string `json:"layers"`
	Device string `json:"device"`
	// Attempts ran to an end (OK + Crashes + Errors); interrupted ones are
	// counted apart and left out of every rate.
	Attempts    int `json:"attempts"`
	OK          int `json:"ok"`
	Crashes     int `json:"crashes"`
	Errors      int `json:"errors"`
	Interrupted int `json:"interrupted"`
	// CrashRate is Crashes/Attempts, null with no attempts; CI95 its 95%
	// Wilson score interval ([0, 1] with no attempts).
	CrashRate *float64   `json:"crash_rate"`
	CI95      [2]float64 `json:"crash_rate_ci95"`
	// MTTFSeconds is RunTimeSeconds/Crashes (see MTTF), null with no
	// crashes.
	MTTFSeconds    *float64 `json:"mttf_s"`
	RunTimeSeconds float64  `json:"run_time_s"`
	// Classes counts crashes by diagnose class, most frequent first.
	Classes []ClassCount `json:"classes"`
	// SpeedupVsCPU is how many times faster than the CPU the same jobs ran
	// here (see Speedup), null where no job reported a speed in the same
	// unit on both; SpeedupJobs is how many jobs it rests on. CPU rows have
	// none.
	SpeedupVsCPU *float64 `json:"speedup_vs_cpu"`
	SpeedupJobs  int      `json:"speedup_jobs"`
}

// ClassCount is how many crashes one diagnose class accounts for.
type ClassCount struct {
	Class   string `json:"class"`
	Crashes int    `json:"crashes"`
}

// Job is one command (in one folder) that reported its speed in one unit.
type Job struct {
	Command    []string         `json:"command"`
	Dir        string           `json:"dir"`
	Unit       string           `json:"unit"`
	Throughput []JobMeasurement `json:"throughput"`
}

// JobMeasurement is a job's mean speed in one configuration.
type JobMeasurement struct {
	Layers  string  `json:"layers"`
	Device  string  `json:"device"`
	Samples int     `json:"samples"`
	Mean    float64 `json:"mean"`
}

type jobKey struct{ cmd, dir, unit string }

func keyOf(t history.ThroughputStats) jobKey {
	// NUL cannot occur in argv, so joining on it is unambiguous.
	return jobKey{strings.Join(t.Command, "\x00"), t.Dir, t.Unit}
}

// Build computes the report from the history's sums. It does no I/O;
// generated is the time to stamp it with.
func Build(st history.Stats, generated time.Time) Report {
	r := Report{
		Schema:         Schema,
		Generated:      generated.UTC(),
		Runs:           st.Runs,
		Outcomes:       map[string]int{},
		Configurations: []Row{},
		Jobs:           []Job{},
		Notes:          []string{},
	}
	if !st.FirstStarted.IsZero() {
		t := st.FirstStarted.UTC()
		r.FirstRun = &t
	}
	if !st.LastStarted.IsZero() {
		t := st.LastStarted.UTC()
		r.LastRun = &t
	}
	for o, n := range st.Outcomes {
		r.Outcomes[string(o)] = n
	}

	// The CPU's speed per job, pooled over every CPU configuration: the
	// baseline each GPU configuration is compared with.
	type sum struct {
		n int
		s float64
	}
	cpu := map[jobKey]sum{}
	for _, c := range st.Configs {
		if c.Device != history.DeviceCPU {
			continue
		}
		for _, t := range c.Throughput {
			k := keyOf(t)
			cpu[k] = sum{cpu[k].n + t.Samples, cpu[k].s + t.Sum}
		}
	}

	jobs := map[jobKey]*Job{}
	var jobOrder []jobKey
	gpuSpeeds, unmatched := false, false
	for _, c := range st.Configs {
		row := Row{
			Layers:         c.Layers,
			Device:         c.Device,
			Attempts:       c.Attempts,
			OK:             c.OK,
			Crashes:        c.Crashes,
			Errors:         c.Errors,
			Interrupted:    c.Interrupted,
			RunTimeSeconds: c.Duration.Seconds(),
			Classes:        classCounts(c.Classes),
		}
		row.CI95[0], row.CI95[1] = Wilson(c.Crashes, c.Attempts, Z95)
		if c.Attempts > 0 {
			rate := float64(c.Crashes) / float64(c.Attempts)
			row.CrashRate = &rate
		}
		if m, ok := MTTF(c.Duration, c.Crashes); ok {
			s := m.Seconds()
			row.MTTFSeconds = &s
		}
		var g, b []float64
		for _, t := range c.Throughput {
			k := keyOf(t)
			j := jobs[k]
			if j == nil {
				j = &Job{Command: nonNil(t.Command), Dir: t.Dir, Unit: t.Unit}
				jobs[k] = j
				jobOrder = append(jobOrder, k)
			}
			j.Throughput = append(j.Throughput, JobMeasurement{Layers: c.Layers, Device: c.Device, Samples: t.Samples, Mean: t.Mean()})
			if c.Device != history.DeviceGPU {
				continue
			}
			gpuSpeeds = true
			if base, ok := cpu[k]; ok && base.n > 0 {
				g = append(g, t.Mean())
				b = append(b, base.s/float64(base.n))
			} else {
				unmatched = true
			}
		}
		if s, n, ok := Speedup(g, b); ok {
			row.SpeedupVsCPU = &s
			row.SpeedupJobs = n
		}
		r.Configurations = append(r.Configurations, row)
	}
	sort.SliceStable(jobOrder, func(i, j int) bool {
		a, b := jobOrder[i], jobOrder[j]
		if a.cmd != b.cmd {
			return a.cmd < b.cmd
		}
		if a.dir != b.dir {
			return a.dir < b.dir
		}
		return a.unit < b.unit
	})
	for _, k := range jobOrder {
		r.Jobs = append(r.Jobs, *jobs[k])
	}

	if st.Runs == 0 {
		r.Notes = append(r.Notes, "The history is empty: run a job with `rocm-patch run -- COMMAND` first.")
	}
	if gpuSpeeds && unmatched {
		r.Notes = append(r.Notes, "Some jobs reported a GPU speed but no CPU speed in the same unit, so they have no speedup.")
	}
	if !gpuSpeeds && st.Runs > 0 {
		r.Notes = append(r.Notes, "No job reported its speed on the GPU: print `rocm-patch: throughput=<number> <unit>` or use tqdm to get a speedup.")
	}
	return r
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func classCounts(m map[string]int) []ClassCount {
	out := make([]ClassCount, 0, len(m))
	for c, n := range m {
		out = append(out, ClassCount{Class: c, Crashes: n})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Crashes != out[j].Crashes {
			return out[i].Crashes > out[j].Crashes
		}
		return out[i].Class < out[j].Class
	})
	return out
}
