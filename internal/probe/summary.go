package probe

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/rocm-patch/rocm-patch/internal/history"
	"github.com/rocm-patch/rocm-patch/internal/report"
)

// Schema names the JSON contract of `rocm-patch probe --json`. Fields are
// only added within a version.
const Schema = "rocm-patch/probe/v1"

// Attempt is one run of the workload under one configuration.
type Attempt struct {
	// Iteration counts the configuration's attempts from 1.
	Iteration int `json:"iteration"`
	// RunID is the history's run id, 0 when it was not recorded.
	RunID int64 `json:"run_id"`
	// Result is history's: ok, crash, error or interrupted.
	Result   history.Result `json:"result"`
	ExitCode int            `json:"exit_code"`
	Signal   string         `json:"signal"`
	// Class and IssueID are what diagnose matched in the output.
	Class   string `json:"class"`
	IssueID string `json:"issue_id"`
	// Summary says in a few words how it ended.
	Summary   string  `json:"summary"`
	DurationS float64 `json:"duration_s"`
	LogPath   string  `json:"log_path"`
	// Output is what the workload reported, null when it wrote nothing (it
	// died first).
	Output *Output `json:"output"`
	// Shim is what the in-process shim reported, null without the shim.
	Shim json.RawMessage `json:"shim"`
	// Skipped is set when the workload found no GPU to run on; the
	// attempt then counts in no rate. "" otherwise.
	Skipped string `json:"skipped"`
}

// Counts reports whether the attempt counts in the crash rate: it ran to
// an end, on the device it was meant for.
func (a Attempt) Counts() bool {
	return a.Skipped == "" && a.Result != history.ResultInterrupted
}

// Row is one configuration's measurements.
type Row struct {
	Config Config `json:"name"`
	Device string `json:"device"`
	// Configuration is history's name for the layers the attempts ran
	// with ("env+shim"), what rocm-patch report groups by.
	Configuration string `json:"configuration"`
	// Skipped is why the configuration did not run here; null when it ran.
	Skipped *string `json:"skipped"`
	// Attempts ran to an end (OK + Crashes + Errors); Interrupted and
	// Skipped ones are counted apart and left out of every rate.
	Attempts       int `json:"attempts"`
	OK             int `json:"ok"`
	Crashes        int `json:"crashes"`
	Errors         int `json:"errors"`
	Interrupted    int `json:"interrupted"`
	SkippedRunning int `json:"skipped_attempts"`
	// CrashRate is Crashes/Attempts (null with none), CI95 its 95% Wilson
	// score interval.
	CrashRate *float64   `json:"crash_rate"`
	CI95      [2]float64 `json:"crash_rate_ci95"`
	// MedianStepMS and Throughput (steps/s) are medians over the attempts
	// that succeeded; null with none.
	MedianStepMS *float64 `json:"median_step_ms"`
	Throughput   *float64 `json:"throughput"`
	// SpeedupVsCPU is Throughput over the cpu configuration's, null when
	// either is missing.
	SpeedupVsCPU *float64 `json:"speedup_vs_cpu"`
	// Classes counts crashes by diagnose class, most frequent first.
	Classes []report.ClassCount `json:"classes"`
	// AMP is the mixed precision the workload used ("float16",
	// "bfloat16", "off (why)"), from its last report.
	AMP string `json:"amp"`
	// Stopped says why the configuration ran fewer attempts than asked,
	// "" when it did not.
	Stopped string    `json:"stopped"`
	Runs    []Attempt `json:"runs"`
}

// Workload describes what each attempt ran.
type Workload struct {
	Path    string   `json:"path"`
	Command []string `json:"command"`
	Size
}

// Result is a whole probe: its JSON form is `rocm-patch probe --json`.
type Result struct {
	Schema    string    `json:"schema"`
	Generated time.Time `json:"generated"`
	// Python is the interpreter; Torch the version it imported.
	Python string `json:"python"`
	Torch  string `json:"torch"`
	Quick  bool   `json:"quick"`
	// Iterations is the number of attempts asked of each configuration.
	Iterations int      `json:"iterations"`
	Workload   Workload `json:"workload"`
	// History is the database the attempts went into, "" when none.
	History string `json:"history"`
	// Configurations are in Configs order, the ones asked for.
	Configurations []Row `json:"configurations"`
	// Interrupted: the user stopped the probe; the rows hold what ran.
	Interrupted bool     `json:"interrupted"`
	Notes       []string `json:"notes"`
}

// Summarize fills every row's counts, rates, medians and speedups from its
// runs. It is a pure function of the runs and may be called again.
func (r *Result) Summarize() {
	for i := range r.Configurations {
		r.Configurations[i].summarize()
	}
	var cpu *float64
	for _, row := range r.Configurations {
		if row.Config == ConfigCPU {
			cpu = row.Throughput
		}
	}
	for i := range r.Configurations {
		row := &r.Configurations[i]
		row.SpeedupVsCPU = nil
		if cpu != nil && *cpu > 0 && row.Throughput != nil && *row.Throughput > 0 {
			v := *row.Throughput / *cpu
			row.SpeedupVsCPU = &v
		}
	}
}

func (row *Row) summarize() {
	row.Attempts, row.OK, row.Crashes, row.Errors, row.Interrupted, row.SkippedRunning = 0, 0, 0, 0, 0, 0
	classes := map[string]int{}
	var steps, tputs []float64
	for _, a := range row.Runs {
		switch {
		case a.Skipped != "":
			row.SkippedRunning++
			continue
		case a.Result == history.ResultInterrupted:
			row.Interrupted++
			continue
		}
		row.Attempts++
		switch a.Result {
		case history.ResultOK:
			row.OK++
			if o := a.Output; o != nil && o.Steps > 0 {
				steps = append(steps, o.MedianStepMS)
				tputs = append(tputs, o.Throughput)
			}
		case history.ResultCrash:
			row.Crashes++
			c := a.Class
			if c == "" {
				c = history.Unclassified
			}
			classes[c]++
		default:
			row.Errors++
		}
		if o := a.Output; o != nil && o.AMP != "" {
			row.AMP = o.AMP
			if o.AMPNote != "" {
				row.AMP += " (" + o.AMPNote + ")"
			}
		}
	}
	row.CrashRate, row.CI95 = nil, [2]float64{0, 1}
	if row.Attempts > 0 {
		v := float64(row.Crashes) / float64(row.Attempts)
		row.CrashRate = &v
		row.CI95[0], row.CI95[1] = report.Wilson(row.Crashes, row.Attempts, report.Z95)
	}
	row.MedianStepMS, row.Throughput = median(steps), median(tputs)
	row.Classes = row.Classes[:0]
	for c, n := range classes {
		row.Classes = append(row.Classes, report.ClassCount{Class: c, Crashes: n})
	}
	sort.Slice(row.Classes, func(i, j int) bool {
		a, b := row.Classes[i], row.Classes[j]
		if a.Crashes != b.Crashes {
			return a.Crashes > b.Crashes
		}
		return a.Class < b.Class
	})
}

// median is nil for no values.
func median(vs []float64) *float64 {
	if len(vs) == 0 {
		return nil
	}
	s := append([]float64(nil), vs...)
	sort.Float64s(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return &m
}

// WriteJSON writes r as rocm-patch/probe/v1, indented; lists are never
// null.
func WriteJSON(w io.Writer, r Result) error {
	r.Schema = Schema
	if r.Notes == nil {
		r.Notes = []string{}
	}
	if r.Configurations == nil {
		r.Configurations = []Row{}
	}
	if r.Workload.Command == nil {
		r.Workload.Command = []string{}
	}
	rows := make([]Row, len(r.Configurations))
	for i, row := range r.Configurations {
		if row.Classes == nil {
			row.Classes = []report.ClassCount{}
		}
		if row.Runs == nil {
			row.Runs = []Attempt{}
		}
		rows[i] = row
	}
	r.Configurations = rows
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("probe: write JSON: %w", err)
	}
	return nil
}

const dash = "—"

// WriteText writes the comparison table for people.
func WriteText(w io.Writer, r Result) error {
	bw := bufio.NewWriter(w)
	s := r.Workload.Size
	fmt.Fprintf(bw, "rocm-patch probe: EEGNeX-like training, batch %d, %d channels x %d samples, %d steps after %d warm-up, %d %s per configuration\n",
		s.Batch, s.Channels, s.Samples, s.Steps, s.Warmup, r.Iterations, plural(r.Iterations, "attempt", "attempts"))
	torch := r.Torch
	if torch == "" {
		torch = "unknown"
	}
	fmt.Fprintf(bw, "python %s, torch %s\n\n", clean(r.Python), clean(torch))
	tw := tabwriter.NewWriter(bw, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CONFIGURATION\tDEVICE\tATTEMPTS\tCRASHES\tCRASH RATE (95% CI)\tSTEP (MEDIAN)\tSPEEDUP VS CPU\tNOTES")
	for _, row := range r.Configurations {
		if row.Skipped != nil {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\tskipped: %s\n", row.Config, row.Device, dash, dash, dash, dash, dash, clean(*row.Skipped))
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\t%s\t%s\n", row.Config, row.Device, row.Attempts, row.Crashes,
			rateText(row), msText(row.MedianStepMS), speedupText(row.SpeedupVsCPU), clean(notesText(row)))
	}
	tw.Flush()
	fmt.Fprintln(bw)
	for _, n := range r.Notes {
		fmt.Fprintf(bw, "Note: %s\n", clean(n))
	}
	fmt.Fprintln(bw, "Crash rate: crashes / attempts that ran to an end, with the 95% Wilson score interval; a crash is an attempt killed by a signal or whose output matched a known failure, an error a non-zero exit that matched nothing.")
	fmt.Fprintln(bw, "Speedup: the median throughput (steps/s) over the cpu configuration's; the same training runs everywhere.")
	if r.History != "" {
		fmt.Fprintf(bw, "Every attempt is in the history (%s): rocm-patch history lists them, rocm-patch report compares them with your own runs.\n", clean(r.History))
	}
	return bw.Flush()
}

func rateText(row Row) string {
	if row.CrashRate == nil {
		return dash
	}
	return fmt.Sprintf("%s (%s–%s)", pct(*row.CrashRate), strconv.FormatFloat(100*row.CI95[0], 'f', 0, 64), pct(row.CI95[1]))
}

func pct(v float64) string { return strconv.FormatFloat(100*v, 'f', 0, 64) + "%" }

func msText(v *float64) string {
	switch {
	case v == nil:
		return dash
	case *v < 10:
		return strconv.FormatFloat(*v, 'f', 2, 64) + " ms"
	case *v < 100:
		return strconv.FormatFloat(*v, 'f', 1, 64) + " ms"
	}
	return strconv.FormatFloat(*v, 'f', 0, 64) + " ms"
}

func speedupText(v *float64) string {
	if v == nil {
		return dash
	}
	return strconv.FormatFloat(*v, 'f', 2, 64) + "×"
}

func notesText(row Row) string {
	var parts []string
	for _, c := range row.Classes {
		parts = append(parts, fmt.Sprintf("%s %d", c.Class, c.Crashes))
	}
	if row.Errors > 0 {
		parts = append(parts, fmt.Sprintf("%d %s (exit without a known failure; see the log)", row.Errors, plural(row.Errors, "error", "errors")))
	}
	if row.Interrupted > 0 {
		parts = append(parts, fmt.Sprintf("%d interrupted", row.Interrupted))
	}
	if row.SkippedRunning > 0 {
		parts = append(parts, fmt.Sprintf("%d skipped: torch saw no GPU", row.SkippedRunning))
	}
	if row.Stopped != "" {
		parts = append(parts, row.Stopped)
	}
	if row.AMP != "" {
		parts = append(parts, "AMP "+row.AMP)
	}
	return strings.Join(parts, "; ")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// clean keeps text from the workload or the machine from moving the
// terminal's cursor or breaking the table.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' {
			return ' '
		}
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, s)
}
