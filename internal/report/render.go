package report

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/rocm-patch/rocm-patch/internal/history"
)

// WriteJSON writes r as indented JSON (the rocm-patch/report/v1 contract).
func WriteJSON(w io.Writer, r Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("write report JSON: %w", err)
	}
	return nil
}

// errWriter keeps the first write error so the renderers can write freely
// and check once.
type errWriter struct {
	w   *bufio.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, args...)
	}
}

func (e *errWriter) flush() error {
	if e.err == nil {
		e.err = e.w.Flush()
	}
	return e.err
}

func summaryLine(r Report) string {
	runs := "runs"
	if r.Runs == 1 {
		runs = "run"
	}
	if r.Runs == 0 {
		return "0 runs"
	}
	return fmt.Sprintf("%d %s, %s to %s", r.Runs, runs, timeText(r.FirstRun), timeText(r.LastRun))
}

// WriteText writes r as a table for the terminal.
func WriteText(w io.Writer, r Report) error {
	ew := &errWriter{w: bufio.NewWriter(w)}
	ew.printf("rocm-patch report: %s\n\n", summaryLine(r))
	if len(r.Configurations) > 0 {
		tw := tabwriter.NewWriter(ew.w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "LAYERS\tDEVICE\tATTEMPTS\tCRASHES\tCRASH RATE\t95% CI\tMTTF\tSPEEDUP\tCLASSES")
		for _, row := range r.Configurations {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\t%s\t%s\t%s\n", clean(row.Layers), clean(row.Device),
				row.Attempts, row.Crashes, rateText(row), ciText(row), mttfText(row), speedupText(row), clean(classesText(row)))
		}
		if err := tw.Flush(); err != nil && ew.err == nil {
			ew.err = err
		}
		ew.printf("\n")
	}
	if len(r.Jobs) > 0 {
		ew.printf("Speeds reported:\n")
		tw := tabwriter.NewWriter(ew.w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  COMMAND\tCONFIGURATION\tSAMPLES\tMEAN")
		for _, j := range r.Jobs {
			for _, m := range j.Throughput {
				fmt.Fprintf(tw, "  %s\t%s\t%d\t%s %s\n", shellQuote(j.Command), clean(configName(m.Layers, m.Device)),
					m.Samples, speedText(m.Mean), clean(j.Unit))
			}
		}
		if err := tw.Flush(); err != nil && ew.err == nil {
			ew.err = err
		}
		ew.printf("\n")
	}
	for _, n := range r.Notes {
		ew.printf("Note: %s\n", n)
	}
	for _, m := range Method {
		ew.printf("%s\n", m)
	}
	return ew.flush()
}

// mdCell escapes text for a Markdown table cell: a pipe would end the
// cell, and HTML or emphasis characters from a command or class must show
// as typed rather than be rendered.
func mdCell(s string) string {
	var b strings.Builder
	for _, r := range clean(s) {
		switch r {
		case '|', '\\', '`', '*', '_', '[', ']', '#', '~':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '&':
			b.WriteString("&amp;")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// mdCode puts s in a code span fit for a table cell: a fence longer than
// any backtick run inside it, and pipes escaped (GFM splits cells on them
// even inside code).
func mdCode(s string) string {
	s = strings.ReplaceAll(clean(s), "|", `\|`)
	longest, run := 0, 0
	for _, r := range s {
		if r == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	fence := strings.Repeat("`", longest+1)
	if longest > 0 || strings.HasPrefix(s, " ") || strings.HasSuffix(s, " ") {
		return fence + " " + s + " " + fence
	}
	return fence + s + fence
}

// WriteMarkdown writes r as a Markdown document with GFM tables.
func WriteMarkdown(w io.Writer, r Report) error {
	ew := &errWriter{w: bufio.NewWriter(w)}
	ew.printf("# rocm-patch report\n\n%s. Generated %s.\n\n", summaryLine(r), timeText(&r.Generated))
	if len(r.Configurations) > 0 {
		ew.printf("| layers | device | attempts | crashes | crash rate | 95%% CI | MTTF | speedup vs CPU | crash classes |\n")
		ew.printf("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n")
		for _, row := range r.Configurations {
			ew.printf("| %s | %s | %d | %d | %s | %s | %s | %s | %s |\n", mdCell(row.Layers), mdCell(row.Device),
				row.Attempts, row.Crashes, rateText(row), ciText(row), mttfText(row), speedupText(row), mdCell(classesText(row)))
		}
		ew.printf("\n")
	}
	if len(r.Jobs) > 0 {
		ew.printf("## Speeds reported\n\n")
		ew.printf("| command | folder | configuration | samples | mean |\n")
		ew.printf("| --- | --- | --- | ---: | ---: |\n")
		for _, j := range r.Jobs {
			for _, m := range j.Throughput {
				ew.printf("| %s | %s | %s | %d | %s %s |\n", mdCode(shellQuote(j.Command)), mdCode(j.Dir),
					mdCell(configName(m.Layers, m.Device)), m.Samples, speedText(m.Mean), mdCell(j.Unit))
			}
		}
		ew.printf("\n")
	}
	if len(r.Notes) > 0 {
		for _, n := range r.Notes {
			ew.printf("> %s\n", n)
		}
		ew.printf("\n")
	}
	for _, m := range Method {
		ew.printf("- %s\n", m)
	}
	return ew.flush()
}

// WriteHistory writes runs (newest first, as history.DB.Runs returns them)
// as the terminal listing of `rocm-patch history`, times shown in loc.
func WriteHistory(w io.Writer, runs []history.Run, loc *time.Location) error {
	if loc == nil {
		loc = time.UTC
	}
	ew := &errWriter{w: bufio.NewWriter(w)}
	if len(runs) == 0 {
		ew.printf("No runs recorded yet.\n")
		return ew.flush()
	}
	tw := tabwriter.NewWriter(ew.w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTARTED\tTOOK\tOUTCOME\tATTEMPTS\tCOMMAND")
	for _, run := range runs {
		took := dash
		if !run.Finished.IsZero() {
			took = durText(run.Finished.Sub(run.Started).Seconds())
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", run.ID, run.Started.In(loc).Format("2006-01-02 15:04:05"),
			took, clean(string(run.Outcome)), attemptsText(run.Attempts), shellQuote(run.Command))
	}
	if err := tw.Flush(); err != nil && ew.err == nil {
		ew.err = err
	}
	return ew.flush()
}

// attemptsText sums a run's attempts up in one cell:
// "gpu:none crash(gpu-memory-fault), gpu:env+shim ok".
func attemptsText(as []history.Attempt) string {
	if len(as) == 0 {
		return dash
	}
	parts := make([]string, len(as))
	for i, a := range as {
		p := clean(a.Device) + ":" + clean(a.Configuration()) + " " + string(a.Result())
		if a.Class != "" {
			p += "(" + clean(a.Class) + ")"
		} else if a.Signal != "" {
			p += "(" + clean(a.Signal) + ")"
		}
		parts[i] = p
	}
	return strings.Join(parts, ", ")
}
