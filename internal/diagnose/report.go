package diagnose

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// Report is the JSON form of a diagnosis:
//
//	{"schema":"rocm-patch/diagnosis/v1","matches":[{"id","class","title","score","lines":[{"n","text"}], ...}]}
//
// matches is best first and is an empty list, not null, when nothing
// matched. Fields beyond those named in the schema line (hits, fallout,
// hardware_note, root_cause, advice, and file on lines when several inputs
// were read) are additions a reader may ignore.
type Report struct {
	Schema  string  `json:"schema"`
	Matches []Match `json:"matches"`
}

// Report returns the JSON-ready form of the result.
func (r *Result) Report() Report {
	rep := Report{Schema: Schema, Matches: []Match{}}
	if r != nil {
		rep.Matches = append(rep.Matches, r.Matches...)
	}
	for i := range rep.Matches {
		if rep.Matches[i].Lines == nil {
			rep.Matches[i].Lines = []Evidence{}
		}
		if rep.Matches[i].Advice == nil {
			rep.Matches[i].Advice = []string{}
		}
	}
	return rep
}

// WriteJSON writes the report as indented JSON followed by a newline.
func (r *Result) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r.Report())
}

// WriteText writes the diagnosis for a terminal: each match best first
// with its evidence, the likely cause and what to do, then a pointer to
// `rocm-patch issues show`. Fallout matches that follow a cause are listed
// in one line each.
func (r *Result) WriteText(w io.Writer) error {
	bw := bufio.NewWriter(w)
	if r == nil || len(r.Matches) == 0 {
		lines := int64(0)
		if r != nil {
			lines = r.Lines
		}
		fmt.Fprintf(bw, "No known failure found in %d lines.\n", lines)
		return bw.Flush()
	}
	cause := false
	for i, m := range r.Matches {
		if m.Fallout && cause {
			if i == firstFallout(r.Matches) {
				fmt.Fprintln(bw, "Also seen (consequences, not causes):")
			}
			fmt.Fprintf(bw, "  - %s [%s]: %s\n", m.ID, m.Class, firstLineRef(m))
			continue
		}
		if !m.Fallout {
			cause = true
		}
		fmt.Fprintf(bw, "%d. %s [%s] score %d\n", i+1, m.Title, m.Class, m.Score)
		fmt.Fprintf(bw, "   id: %s\n", m.ID)
		if m.HardwareNote != "" {
			fmt.Fprintf(bw, "   machine: %s\n", m.HardwareNote)
		}
		plural := "s"
		if m.Hits == 1 {
			plural = ""
		}
		fmt.Fprintf(bw, "   evidence (%d matching line%s):\n", m.Hits, plural)
		for _, e := range m.Lines {
			fmt.Fprintf(bw, "     %s %s\n", lineRef(e), e.Text)
		}
		fmt.Fprintf(bw, "   likely cause: %s\n", firstSentences(m.RootCause, 2))
		if len(m.Advice) > 0 {
			fmt.Fprintln(bw, "   what to do:")
			for j, a := range m.Advice {
				if j == 3 {
					fmt.Fprintf(bw, "     ... %d more in `rocm-patch issues show %s`\n", len(m.Advice)-3, m.ID)
					break
				}
				fmt.Fprintf(bw, "     - %s\n", a)
			}
		}
		fmt.Fprintf(bw, "   details: rocm-patch issues show %s\n\n", m.ID)
	}
	return bw.Flush()
}

func firstFallout(ms []Match) int {
	for i, m := range ms {
		if m.Fallout {
			return i
		}
	}
	return -1
}

func lineRef(e Evidence) string {
	if e.File != "" {
		return fmt.Sprintf("%s:%d:", e.File, e.N)
	}
	return fmt.Sprintf("line %d:", e.N)
}

func firstLineRef(m Match) string {
	if len(m.Lines) == 0 {
		return m.Title
	}
	return lineRef(m.Lines[0]) + " " + m.Lines[0].Text
}

// firstSentences returns the first n sentences of a paragraph.
func firstSentences(s string, n int) string {
	out := s
	count := 0
	for i := 0; i+1 < len(s); i++ {
		if s[i] == '.' && s[i+1] == ' ' {
			count++
			if count == n {
				out = s[:i+1]
				break
			}
		}
	}
	return strings.TrimSpace(out)
}
