package diagnose

import (
	"fmt"
	"sort"
	"strings"

	"github.com/rocm-patch/rocm-patch/internal/hw"
	"github.com/rocm-patch/rocm-patch/internal/kb"
)

// Schema names the JSON contract of a diagnosis. It changes only when a
// field is removed or changes meaning.
const Schema = "rocm-patch/diagnosis/v1"

// Exit codes of `rocm-patch diagnose`.
const (
	// ExitNoMatch: the logs were read and nothing matched.
	ExitNoMatch = 0
	// ExitError: a log could not be read.
	ExitError = 1
	// ExitUsage: bad flags or arguments.
	ExitUsage = 2
	// ExitMatch: at least one known issue matched.
	ExitMatch = 3
)

// Scoring. A match scores the best rank among its signatures, plus
// distinctBonus per further distinct signature (at most maxDistinctBonus),
// plus a bonus when a specialisation's condition holds.
const (
	distinctBonus    = 1
	maxDistinctBonus = 3
	contextBonus     = 15
	logFactBonus     = 15
	systemBonus      = 25
)

// Evidence is one log line that supports a match.
type Evidence struct {
	// File names the input when several were scanned.
	File    string `json:"file,omitempty"`
	fileIdx int
	// N is the 1-based line number; lines end at '\n' (a '\r' inside a
	// line separates progress-bar updates for matching, not lines).
	N int64 `json:"n"`
	// Text is the line (or the progress-bar segment) as written, without
	// terminal escapes, trimmed, at most 400 bytes.
	Text string `json:"text"`

	rank int
}

// Match is one knowledge-base entry that the logs support.
type Match struct {
	ID    string   `json:"id"`
	Class kb.Class `json:"class"`
	Title string   `json:"title"`
	// Score orders matches; see the package documentation.
	Score int `json:"score"`
	// Lines are the evidence, in log order, at most Options.MaxEvidence,
	// the most specific first kept.
	Lines []Evidence `json:"lines"`
	// Hits counts every matching line, including those not kept.
	Hits int `json:"hits"`
	// Fallout marks consequences of other failures (an abort): such
	// matches always come last.
	Fallout bool `json:"fallout,omitempty"`
	// HardwareNote says which fact about the machine (or read from the
	// log) made a specialised entry apply.
	HardwareNote string `json:"hardware_note,omitempty"`
	// RootCause is the entry's explanation.
	RootCause string `json:"root_cause"`
	// Advice lists what to do, best first, as sentences; with a detected
	// machine, only advice for its GPUs.
	Advice []string `json:"advice"`

	// Entry is the knowledge-base entry.
	Entry *kb.Entry `json:"-"`

	first pos
}

type pos struct {
	file int
	line int64
}

func (p pos) less(q pos) bool {
	return p.file < q.file || p.file == q.file && p.line < q.line
}

// Result is a diagnosis: the matches, best first.
type Result struct {
	Matches []Match
	// Lines and Bytes count what was read, over all inputs.
	Lines int64
	Bytes int64
	// Inputs is the number of streams scanned.
	Inputs int
}

// Best returns the best match, or nil.
func (r *Result) Best() *Match {
	if r == nil || len(r.Matches) == 0 {
		return nil
	}
	return &r.Matches[0]
}

// ExitCode is ExitMatch when anything matched, else ExitNoMatch.
func (r *Result) ExitCode() int {
	if r != nil && len(r.Matches) > 0 {
		return ExitMatch
	}
	return ExitNoMatch
}

// side accumulates the hits of one entry's own or borrowed signatures.
type side struct {
	best  int
	pats  []int32
	hits  int
	last  pos // the last line counted in hits
	first pos
	ev    []Evidence
}

func (s *side) add(pi int32, rank int, ev []Evidence, maxEv int) {
	for _, e := range ev {
		// Patterns matching one line arrive together; count the line once.
		if p := (pos{e.fileIdx + 1, e.N}); p != s.last {
			s.hits++
			s.last = p
		}
	}
	if s.best == 0 || rank > s.best {
		s.best = rank
	}
	known := false
	for _, p := range s.pats {
		if p == pi {
			known = true
			break
		}
	}
	if !known {
		s.pats = append(s.pats, pi)
	}
	for _, e := range ev {
		p := pos{e.fileIdx, e.N}
		if s.first == (pos{}) || p.less(s.first) {
			s.first = p
		}
		e.rank = rank
		s.keep(e, maxEv)
	}
}

// keep adds a line unless one with the same text is kept; when full, it
// replaces the least specific, latest line by a more specific one.
func (s *side) keep(e Evidence, maxEv int) {
	for i, k := range s.ev {
		if k.Text == e.Text {
			if e.rank > k.rank {
				s.ev[i].rank = e.rank
			}
			return
		}
	}
	if len(s.ev) < maxEv {
		s.ev = append(s.ev, e)
		return
	}
	worst := -1
	for i, k := range s.ev {
		if k.rank < e.rank && (worst < 0 || k.rank < s.ev[worst].rank || k.rank == s.ev[worst].rank && s.ev[worst].less(k)) {
			worst = i
		}
	}
	if worst >= 0 {
		s.ev[worst] = e
	}
}

func (e Evidence) less(f Evidence) bool {
	return pos{e.fileIdx, e.N}.less(pos{f.fileIdx, f.N})
}

type entryAcc struct {
	own, borrowed side
	context       bool
}

// logFacts are machine facts the log itself printed.
type logFacts struct {
	overrides []factValue
	targets   []factValue
}

type factValue struct {
	value string
	ev    Evidence
}

const maxFacts = 16

func (f *logFacts) addOverride(v string, ev Evidence) {
	if v == "" {
		return // ollama prints the variable empty when it is unset
	}
	f.overrides = addFact(f.overrides, v, ev)
}

func (f *logFacts) addTarget(v string, ev Evidence) {
	f.targets = addFact(f.targets, v, ev)
}

func addFact(list []factValue, v string, ev Evidence) []factValue {
	for _, x := range list {
		if x.value == v {
			return list
		}
	}
	if len(list) >= maxFacts {
		return list
	}
	return append(list, factValue{v, ev})
}

// holds evaluates a predicate from the log's own facts.
func (f logFacts) holds(p kb.Predicate) (bool, string, []Evidence) {
	switch p {
	case kb.PredOverrideMalformed:
		for _, o := range f.overrides {
			if _, err := hw.ParseOverride(o.value); err != nil {
				v := kb.CheckOverride(o.value, "")
				return true, "the log shows " + v.Reason, []Evidence{o.ev}
			}
		}
	case kb.PredOverrideWrongFamily:
		for _, o := range f.overrides {
			for _, t := range f.targets {
				v := kb.CheckOverride(o.value, t.value)
				if v.Kind == kb.OverrideOtherFamily || v.Kind == kb.OverrideUnnamed {
					return true, "read from the log: " + v.Reason, []Evidence{o.ev, t.ev}
				}
			}
		}
	}
	return false, "", nil
}

// result ranks the accumulated matches.
func (st *state) result(inputs int) *Result {
	res := &Result{Lines: st.lines, Bytes: st.bytes, Inputs: inputs, Matches: []Match{}}
	m := st.m
	for i, e := range m.entries {
		a := st.acc[i]
		use := a.own
		bonus := 0
		note := ""
		var extra []Evidence
		if a.borrowed.best > 0 {
			ok := e.When == nil
			if e.When != nil {
				if a.context {
					ok, bonus = true, contextBonus
				}
				if h := e.When.Hardware; h != "" {
					if yes, why := m.hw.holds(e, h); yes {
						ok, bonus, note = true, max(bonus, systemBonus), why
					} else if yes, why, ev := st.facts.holds(h); yes {
						ok, note, extra = true, why, ev
						bonus = max(bonus, logFactBonus)
					}
				}
			}
			if ok {
				use = merge(a.own, a.borrowed, m.opts.MaxEvidence)
			}
		} else if e.When != nil && a.own.best > 0 && e.When.Hardware != "" {
			// An own signature is conclusive, but the machine may still
			// say why.
			if yes, why := m.hw.holds(e, e.When.Hardware); yes {
				note = why
			} else if yes, why, ev := st.facts.holds(e.When.Hardware); yes {
				note, extra = why, ev
			}
		}
		if use.best == 0 {
			continue
		}
		for _, x := range extra {
			x.rank = use.best
			use.keep(x, m.opts.MaxEvidence+len(extra))
		}
		score := use.best + min(maxDistinctBonus, distinctBonus*(len(use.pats)-1)) + bonus
		lines := append([]Evidence(nil), use.ev...)
		sort.SliceStable(lines, func(i, j int) bool { return lines[i].less(lines[j]) })
		res.Matches = append(res.Matches, Match{
			ID:           e.ID,
			Class:        e.Class,
			Title:        e.Title,
			Score:        score,
			Lines:        lines,
			Hits:         use.hits,
			Fallout:      e.Fallout,
			HardwareNote: note,
			RootCause:    strings.Join(strings.Fields(e.RootCause), " "),
			Advice:       advice(e, m.hw),
			Entry:        e,
			first:        use.first,
		})
	}
	sort.SliceStable(res.Matches, func(i, j int) bool {
		a, b := res.Matches[i], res.Matches[j]
		if a.Fallout != b.Fallout {
			return !a.Fallout
		}
		if a.Score != b.Score {
			return a.Score > b.Score
		}
		if a.first != b.first {
			return a.first.less(b.first)
		}
		return a.ID < b.ID
	})
	return res
}

func merge(a, b side, maxEv int) side {
	out := side{best: max(a.best, b.best), hits: a.hits + b.hits}
	out.pats = append(append([]int32(nil), a.pats...), b.pats...)
	switch {
	case a.best == 0:
		out.first = b.first
	case b.best == 0:
		out.first = a.first
	case b.first.less(a.first):
		out.first = b.first
	default:
		out.first = a.first
	}
	for _, e := range a.ev {
		out.keep(e, maxEv)
	}
	for _, e := range b.ev {
		out.keep(e, maxEv)
	}
	return out
}

// advice renders an entry's mitigations as sentences; with a detected
// machine, a mitigation limited to some GPUs is kept only when one of the
// machine's GPUs is among them.
func advice(e *kb.Entry, h hardware) []string {
	out := []string{}
	for _, m := range e.Mitigations {
		if m.Only != nil && h.known {
			keep := false
			for _, g := range h.gpus {
				if m.Only.Matches(g.GFXTarget, g.Family) {
					keep = true
				}
			}
			if !keep {
				continue
			}
		}
		out = append(out, e.MitigationText(m))
	}
	return out
}

// String is a one-line summary, for logs.
func (m Match) String() string {
	return fmt.Sprintf("%s (%s, score %d, %d lines)", m.ID, m.Class, m.Score, m.Hits)
}
