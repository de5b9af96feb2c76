package diagnose

import (
	"errors"
	"fmt"
	"regexp"
	"runtime"
	"strings"
	"sync"

	"github.com/rocm-patch/rocm-patch/internal/kb"
	"github.com/rocm-patch/rocm-patch/internal/system"
)

// Options configure a Matcher.
type Options struct {
	// System is the machine the log comes from, as detect read it. With it
	// the diagnosis is hardware-aware (a wrong override, an RDNA1/RDNA2
	// GPU, WSL2, no AMD GPU); nil leaves the log as the only evidence.
	System *system.System
	// MaxEvidence caps the evidence lines kept per match (default 8).
	MaxEvidence int
	// Workers is the number of goroutines that prefilter chunks of a
	// stream in parallel (default GOMAXPROCS). 1 scans on the calling
	// goroutine's helpers only.
	Workers int
}

// Matcher holds the compiled knowledge base. It is immutable and safe for
// concurrent use; each scan keeps its own state.
type Matcher struct {
	kb       *kb.KB
	entries  []*kb.Entry
	patterns []*pattern
	lits     []kb.Literal
	litPats  [][]int32 // literal -> patterns to run
	pf       *prefilter
	hw       hardware
	opts     Options
	// ere lists every expression the scan may run, in ERE, for
	// benchmarks against grep.
	ere []string
	// chunks recycles chunk buffers between scans, so that many small
	// scans do not each allocate and clear several MiB.
	chunks sync.Pool
}

// use says that a pattern is a signature of an entry.
type use struct {
	entry    int
	rank     int
	borrowed bool
}

type factKind int

const (
	factNone     factKind = iota
	factOverride          // captures an HSA_OVERRIDE_GFX_VERSION value
	factTarget            // captures a GPU's gfx target as the log names it
)

// pattern is one distinct regular expression with everything that uses
// it: signatures of entries, context clauses, fact extraction.
type pattern struct {
	re *regexp.Regexp
	// required: one of these occurs whole in any matching normalised
	// text; checked with a substring search before re runs.
	required []kb.Literal
	source   string
	uses     []use
	context  []int // entries whose When.Context this pattern is
	fact     factKind
}

// Fact patterns read machine facts that logs print: the override (ollama's
// server config, shell exports, environment dumps) and GPU targets as the
// runtime or libraries name them. They are Go syntax with ERE twins for
// the benchmark.
var factPatterns = []struct {
	kind     factKind
	source   string
	ere      string
	literals []kb.Literal
}{
	{
		factOverride,
		`HSA_OVERRIDE_GFX_VERSION(?:_[0-9]+)?['"]?[ \t]*[=:][ \t]*['"]?([0-9][^'"\s,;})\]]*|gfx[0-9a-z]*)`,
		`HSA_OVERRIDE_GFX_VERSION(_[0-9]+)?['"]?[[:space:]]*[=:][[:space:]]*['"]?([0-9][^'"[:space:],;})]*|gfx[0-9a-z]*)`,
		[]kb.Literal{{Text: "HSA_OVERRIDE_GFX_VERSION"}},
	},
	{
		factTarget,
		`(?i)(?:amdhsa--|gpu arch ?: ?|gpu_type=|gcnarchname\W{1,4}|name:[ \t]+)(gfx[0-9]{3,4}[a-f]?)\b|\b(gfx[0-9]{3,4}[a-f]?):xnack[+-]`,
		`([aA][mM][dD][hH][sS][aA]--|[gG][pP][uU] [aA][rR][cC][hH] ?: ?|[gG][pP][uU]_[tT][yY][pP][eE]=|[gG][cC][nN][aA][rR][cC][hH][nN][aA][mM][eE][^[:alnum:]_]{1,4}|[nN][aA][mM][eE]:[[:space:]]+)[gG][fF][xX][0-9]{3,4}[a-fA-F]?|[gG][fF][xX][0-9]{3,4}[a-fA-F]?:[xX][nN][aA][cC][kK][-+]`,
		[]kb.Literal{{Text: "amdhsa--", Fold: true}, {Text: "gpu arch", Fold: true}, {Text: "gpu_type=", Fold: true},
			{Text: "gcnarchname", Fold: true}, {Text: "name:", Fold: true}, {Text: ":xnack", Fold: true}},
	},
}

// New compiles a matcher for the knowledge base.
func New(k *kb.KB, opts Options) (*Matcher, error) {
	if k == nil {
		return nil, errors.New("diagnose: nil knowledge base")
	}
	if opts.MaxEvidence <= 0 {
		opts.MaxEvidence = 8
	}
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}
	m := &Matcher{kb: k, entries: k.All(), opts: opts}
	m.chunks.New = func() any { return &chunk{buf: make([]byte, chunkSize)} }
	bySource := map[string]int32{}
	litIndex := map[kb.Literal]int32{}
	addLit := func(l kb.Literal, p int32) {
		i, ok := litIndex[l]
		if !ok {
			i = int32(len(m.lits))
			litIndex[l] = i
			m.lits = append(m.lits, l)
			m.litPats = append(m.litPats, nil)
		}
		for _, q := range m.litPats[i] {
			if q == p {
				return
			}
		}
		m.litPats[i] = append(m.litPats[i], p)
	}
	// get returns the pattern for a compiled expression, sharing one
	// pattern among all entries that use the same source.
	get := func(c *kb.Pattern) int32 {
		if i, ok := bySource[c.Source]; ok {
			return i
		}
		m.patterns = append(m.patterns, &pattern{re: c.Re, required: c.Required, source: c.Source})
		m.ere = append(m.ere, c.ERE)
		idx := int32(len(m.patterns) - 1)
		bySource[c.Source] = idx
		for _, l := range c.Literals {
			addLit(l, idx)
		}
		return idx
	}
	compiled := func(e *kb.Entry, s *kb.Signature) (*pattern, error) {
		c, err := s.Compile()
		if err != nil {
			return nil, fmt.Errorf("diagnose: %s: signature %q: %w", e.File, s.Pattern, err)
		}
		return m.patterns[get(c)], nil
	}
	for ei, e := range m.entries {
		for _, s := range e.Signatures {
			p, err := compiled(e, s)
			if err != nil {
				return nil, err
			}
			p.uses = append(p.uses, use{entry: ei, rank: s.Rank})
		}
		for _, s := range e.Borrowed() {
			p, err := compiled(e, s)
			if err != nil {
				return nil, err
			}
			p.uses = append(p.uses, use{entry: ei, rank: s.Rank, borrowed: true})
		}
		if e.When != nil {
			contexts, err := e.When.ContextPatterns()
			if err != nil {
				return nil, fmt.Errorf("diagnose: %s: %w", e.File, err)
			}
			for _, c := range contexts {
				p := m.patterns[get(c)]
				p.context = append(p.context, ei)
			}
		}
	}
	for _, f := range factPatterns {
		re, err := regexp.Compile(f.source)
		if err != nil {
			return nil, fmt.Errorf("diagnose: fact pattern: %w", err)
		}
		p := &pattern{re: re, source: f.source, fact: f.kind}
		if f.kind == factOverride {
			p.required = f.literals
		}
		m.patterns = append(m.patterns, p)
		m.ere = append(m.ere, f.ere)
		for _, l := range f.literals {
			addLit(l, int32(len(m.patterns)-1))
		}
	}
	for _, l := range m.lits {
		if len(l.Text) < 3 {
			return nil, fmt.Errorf("diagnose: literal %q shorter than 3 bytes", l.Text)
		}
	}
	m.pf = newPrefilter(m.lits)
	m.hw = readHardware(opts.System)
	return m, nil
}

// mayMatch reports whether normalised text holds one of the pattern's
// required literals, without which the expression cannot match. lower
// returns the text in lower case, for fold literals; it is called only
// when one is needed.
func (p *pattern) mayMatch(text string, lower func() string) bool {
	if len(p.required) == 0 {
		return true
	}
	for _, l := range p.required {
		if l.Fold {
			if strings.Contains(lower(), l.Text) {
				return true
			}
		} else if strings.Contains(text, l.Text) {
			return true
		}
	}
	return false
}

// Patterns returns every regular expression a scan may run (signatures,
// context clauses and fact extractors), each once, in POSIX ERE as GNU
// grep -E reads it. Benchmarks give this list to grep -E -f.
func (m *Matcher) Patterns() []string {
	return append([]string(nil), m.ere...)
}
