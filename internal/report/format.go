package report

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Method explains the numbers; every human rendering ends with it.
var Method = []string{
	"Crash rate: crashes / attempts that ran to an end (interrupted attempts left out), with the 95% Wilson score interval.",
	"A crash is an attempt killed by a signal or one whose output matched a known failure class; a non-zero exit that matched nothing counts as an error, not a crash.",
	"MTTF: the configuration's total run time, crashed or not, divided by its crashes.",
	"Speedup: the job's mean speed here over its mean speed on the CPU, same job and unit only, geometric mean over jobs.",
}

const dash = "—"

func pct(v float64) string { return strconv.FormatFloat(100*v, 'f', 1, 64) + "%" }

func rateText(r Row) string {
	if r.CrashRate == nil {
		return dash
	}
	return pct(*r.CrashRate)
}

func ciText(r Row) string {
	if r.CrashRate == nil {
		return dash
	}
	return strconv.FormatFloat(100*r.CI95[0], 'f', 1, 64) + "–" + pct(r.CI95[1])
}

func mttfText(r Row) string {
	if r.MTTFSeconds == nil {
		if r.Attempts == 0 {
			return dash
		}
		return "> " + durText(r.RunTimeSeconds)
	}
	return durText(*r.MTTFSeconds)
}

func speedupText(r Row) string {
	if r.SpeedupVsCPU == nil {
		return dash
	}
	jobs := "jobs"
	if r.SpeedupJobs == 1 {
		jobs = "job"
	}
	return fmt.Sprintf("%s× (%d %s)", strconv.FormatFloat(*r.SpeedupVsCPU, 'f', 1, 64), r.SpeedupJobs, jobs)
}

func classesText(r Row) string {
	parts := make([]string, 0, len(r.Classes))
	for _, c := range r.Classes {
		parts = append(parts, fmt.Sprintf("%s %d", c.Class, c.Crashes))
	}
	return strings.Join(parts, ", ")
}

// durText is a duration the way people say it: 45s, 12m30s, 3h05m, 2d04h.
func durText(seconds float64) string {
	if math.IsNaN(seconds) || seconds < 0 {
		return dash
	}
	if seconds < 10 {
		return strconv.FormatFloat(seconds, 'f', 1, 64) + "s"
	}
	s := int64(math.Round(seconds))
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
	case s < 86400:
		return fmt.Sprintf("%dh%02dm", s/3600, s%3600/60)
	}
	return fmt.Sprintf("%dd%02dh", s/86400, s%86400/3600)
}

func timeText(t *time.Time) string {
	if t == nil {
		return dash
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

func speedText(v float64) string {
	switch {
	case v == 0:
		return "0"
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

// clean makes a string from the history safe to print on a terminal or in
// a table cell: control characters (an ANSI escape in a command, a newline
// in a class) are shown escaped rather than acted on.
func clean(s string) string {
	for _, r := range s {
		if !unicode.IsGraphic(r) && r != ' ' {
			q := strconv.QuoteToGraphic(s)
			return q[1 : len(q)-1]
		}
	}
	return s
}

// shellQuote renders argv as a POSIX shell would need it typed.
func shellQuote(args []string) string {
	parts := make([]string, len(args))
	for i, a := range args {
		parts[i] = quoteArg(a)
	}
	return strings.Join(parts, " ")
}

func quoteArg(a string) string {
	if a == "" {
		return "''"
	}
	safe := true
	for _, r := range a {
		if !(r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("_-./=:,+@%", r))) {
			safe = false
			break
		}
	}
	if safe {
		return a
	}
	if c := clean(a); c != a {
		return "$'" + strings.ReplaceAll(c, "'", `\'`) + "'"
	}
	return "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
}

// configName is how a configuration is named in one cell or chart label.
func configName(layers, device string) string {
	return layers + " · " + device
}
