package kb

import (
	"errors"
	"fmt"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// Limits on prefilter literals. A literal shorter than minLiteral would
// match too much noise to be worth a prefilter; one longer than
// maxLiteral is cut to windows so that a message split over two lines,
// or noise inserted into it, still leaves one window whole.
const (
	minLiteral    = 3
	maxLiteral    = 16
	literalWindow = 12
)

// Pattern is a compiled regular expression of the knowledge base together
// with what a fast matcher needs to avoid running it on most lines.
type Pattern struct {
	// Source is the expression as written (Go RE2 syntax, restricted to
	// what POSIX ERE can also express; see ERE).
	Source string
	// Re is the compiled expression.
	Re *regexp.Regexp
	// Literals are strings at least one of which occurs in every line the
	// expression matches (a space standing for any run of spaces and
	// tabs), unless the line was split or decorated in the middle of the
	// literal. Matchers scan for these and run Re only on lines that
	// contain one.
	Literals []Literal
	// Required are strings one of which every match contains whole: the
	// literals derived from the expression before they are cut into
	// prefilter windows (or the declared literals when none is derived).
	// On normalised text, where whitespace is collapsed, a matcher can
	// test them with a plain substring search before running Re.
	Required []Literal
	// ERE is the same expression in POSIX extended syntax as GNU grep -E
	// reads it, for benchmarks and for users who want to grep themselves.
	ERE string
}

// Literal is a prefilter string. Fold literals are lowercase and match any
// case; the others match exactly, as the case-sensitive part of the
// expression they come from does, which makes them far more selective in
// noisy logs.
type Literal struct {
	Text string
	Fold bool
}

// compilePattern compiles src and derives its literals and ERE form. The
// declared literals, when given, replace the derived ones; each must be at
// least minLiteral bytes of printable ASCII. A declared literal written in
// lowercase matches any case; one with a capital matches exactly.
func compilePattern(src string, declared []string) (*Pattern, error) {
	if src == "" {
		return nil, errors.New("empty pattern")
	}
	for i := 0; i < len(src); i++ {
		if src[i] >= utf8.RuneSelf {
			return nil, errors.New("pattern must be ASCII (GNU grep in the C locale must read it the same way)")
		}
	}
	re, err := regexp.Compile(src)
	if err != nil {
		return nil, err
	}
	tree, err := syntax.Parse(src, syntax.Perl)
	if err != nil {
		return nil, err
	}
	ere, err := toERE(tree)
	if err != nil {
		return nil, fmt.Errorf("cannot be written as POSIX ERE: %w", err)
	}
	var lits []Literal
	derived := requiredLiterals(tree).set
	var required []Literal
	if len(derived) > 0 && minLen(derived) > 0 {
		required = derived
	}
	if len(declared) > 0 {
		for _, l := range declared {
			if len(l) < minLiteral {
				return nil, fmt.Errorf("literal %q: shorter than %d bytes", l, minLiteral)
			}
			if !isASCIIPrintable(l) {
				return nil, fmt.Errorf("literal %q: only printable ASCII is allowed", l)
			}
			lits = append(lits, Literal{Text: l, Fold: strings.ToLower(l) == l})
		}
		if required == nil {
			required = lits
		}
	} else {
		set := derived
		if len(set) == 0 || minLen(set) < minLiteral {
			return nil, fmt.Errorf("no literal of %d or more bytes occurs in every match; declare literals: for the prefilter", minLiteral)
		}
		for _, l := range set {
			for _, w := range windows(l.Text) {
				lits = append(lits, Literal{Text: w, Fold: l.Fold})
			}
		}
	}
	return &Pattern{Source: src, Re: re, Literals: dedupe(lits), Required: dedupe(append([]Literal(nil), required...)), ERE: ere}, nil
}

func isASCIIPrintable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

func minLen(set []Literal) int {
	m := -1
	for _, s := range set {
		if m < 0 || len(s.Text) < m {
			m = len(s.Text)
		}
	}
	return m
}

func dedupe(in []Literal) []Literal {
	seen := make(map[Literal]bool, len(in))
	out := in[:0]
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// litInfo is what requiredLiterals knows of a subexpression: set holds
// strings one of which every match contains; exact means the
// subexpression matches exactly set[0] (in any case when it is a fold
// literal), so neighbours may be joined to it.
type litInfo struct {
	set   []Literal
	exact bool
}

// requiredLiterals walks the parse tree. It is conservative: when in
// doubt it returns no set, and compilePattern then asks the author to
// declare literals.
func requiredLiterals(re *syntax.Regexp) litInfo {
	switch re.Op {
	case syntax.OpLiteral:
		if re.Flags&syntax.FoldCase != 0 {
			return litInfo{set: []Literal{{Text: strings.ToLower(string(re.Rune)), Fold: true}}, exact: true}
		}
		return litInfo{set: []Literal{{Text: string(re.Rune)}}, exact: true}
	case syntax.OpCharClass:
		if c, fold, ok := singleFoldedChar(re.Rune); ok {
			return litInfo{set: []Literal{{Text: string(c), Fold: fold}}, exact: true}
		}
		return litInfo{}
	case syntax.OpEmptyMatch, syntax.OpBeginLine, syntax.OpEndLine, syntax.OpBeginText,
		syntax.OpEndText, syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		// Zero-width: transparent, so literals on both sides join.
		return litInfo{set: []Literal{{}}, exact: true}
	case syntax.OpCapture:
		return requiredLiterals(re.Sub[0])
	case syntax.OpPlus:
		sub := requiredLiterals(re.Sub[0])
		return litInfo{set: sub.set}
	case syntax.OpRepeat:
		if re.Min >= 1 {
			sub := requiredLiterals(re.Sub[0])
			return litInfo{set: sub.set}
		}
		return litInfo{}
	case syntax.OpConcat:
		return concatLiterals(re.Sub)
	case syntax.OpAlternate:
		var set []Literal
		for _, sub := range re.Sub {
			s := requiredLiterals(sub)
			if len(s.set) == 0 {
				return litInfo{}
			}
			set = append(set, s.set...)
		}
		return litInfo{set: set}
	}
	return litInfo{}
}

// concatLiterals joins runs of exact children into longer literals and
// keeps the best candidate: the set whose shortest member is longest.
func concatLiterals(subs []*syntax.Regexp) litInfo {
	var best []Literal
	consider := func(set []Literal) {
		if len(set) == 0 {
			return
		}
		if best == nil || minLen(set) > minLen(best) || (minLen(set) == minLen(best) && len(set) < len(best)) {
			best = set
		}
	}
	var run Literal
	allExact := true
	for _, sub := range subs {
		info := requiredLiterals(sub)
		if info.exact {
			run = joinLiteral(run, info.set[0])
			continue
		}
		allExact = false
		consider([]Literal{run})
		run = Literal{}
		consider(info.set)
	}
	if allExact {
		return litInfo{set: []Literal{run}, exact: true}
	}
	consider([]Literal{run})
	if best != nil && minLen(best) == 0 {
		return litInfo{}
	}
	return litInfo{set: best}
}

// joinLiteral concatenates two literals; if either folds case, the result
// folds case (and is lowercase).
func joinLiteral(a, b Literal) Literal {
	if a.Fold || b.Fold {
		return Literal{Text: strings.ToLower(a.Text + b.Text), Fold: true}
	}
	return Literal{Text: a.Text + b.Text}
}

// foldOnly are the non-ASCII runes Go's case folding adds to ASCII letters
// (ſ for s, the Kelvin sign for k); they change nothing for log text.
func foldOnly(r rune) bool { return r == 0x17F || r == 0x212A }

// singleFoldedChar reports whether a class is one character (fold false),
// or one letter in both cases (fold true, returned lowercased).
func singleFoldedChar(ranges []rune) (rune, bool, bool) {
	var members []rune
	for i := 0; i+1 < len(ranges); i += 2 {
		lo, hi := ranges[i], ranges[i+1]
		if hi-lo > 2 {
			return 0, false, false
		}
		for r := lo; r <= hi; r++ {
			if foldOnly(r) {
				continue
			}
			members = append(members, r)
		}
	}
	switch len(members) {
	case 1:
		return members[0], false, members[0] < utf8.RuneSelf
	case 2:
		a, b := members[0], members[1]
		if a < utf8.RuneSelf && b < utf8.RuneSelf && a != b && unicode.ToLower(a) == unicode.ToLower(b) {
			return unicode.ToLower(a), true, true
		}
	}
	return 0, false, false
}

// ByteFreq is a rough frequency, per mille, of bytes in training logs and
// kernel logs: what a prefilter window should avoid. Spaces, vowels and
// digits are everywhere; underscores, brackets and rare letters are not.
// Matchers use the same table to order their scans.
func ByteFreq(c byte) int {
	switch {
	case c == ' ':
		return 160
	case c >= '0' && c <= '9':
		return 50
	}
	switch c | 0x20 {
	case 'e':
		return 90
	case 't', 'a', 'o':
		return 70
	case 'i', 'n', 's', 'r':
		return 60
	case 'h', 'l', 'd', 'c', 'u':
		return 35
	case 'm', 'f', 'p', 'g':
		return 25
	case 'w', 'y', 'b':
		return 15
	case 'v', 'k':
		return 8
	case 'x', 'j', 'q', 'z':
		return 3
	}
	switch c {
	case '.', ',', ':', '/', '-', '=', '|', '%':
		return 30
	case '(', ')', '[', ']', '\'', '"':
		return 15
	}
	return 5
}

// windows cuts a long literal into at most two windows, one from each
// half, each placed where its bytes are rarest.
func windows(lit string) []string {
	if len(lit) <= maxLiteral {
		return []string{lit}
	}
	half := len(lit) / 2
	return []string{bestWindow(lit[:half]), bestWindow(lit[half:])}
}

func bestWindow(s string) string {
	w := literalWindow
	if len(s) <= w {
		return s
	}
	bestAt, bestCost := 0, -1
	for i := 0; i+w <= len(s); i++ {
		cost := 0
		for j := i; j < i+w; j++ {
			cost += ByteFreq(s[j])
		}
		// A window may not start or end in a space: split messages lose
		// or gain whitespace at the break.
		if s[i] == ' ' || s[i+w-1] == ' ' {
			cost += 1000
		}
		if bestCost < 0 || cost < bestCost {
			bestAt, bestCost = i, cost
		}
	}
	return s[bestAt : bestAt+w]
}

// toERE prints a parsed expression in POSIX extended syntax (with the GNU
// \b and \B extensions). It rejects what ERE cannot say: non-greedy
// repetition, non-ASCII classes, empty alternatives.
func toERE(re *syntax.Regexp) (string, error) {
	var b strings.Builder
	if err := writeERE(&b, re); err != nil {
		return "", err
	}
	return b.String(), nil
}

func writeERE(b *strings.Builder, re *syntax.Regexp) error {
	switch re.Op {
	case syntax.OpNoMatch:
		return errors.New("expression matches nothing")
	case syntax.OpEmptyMatch:
		return errors.New("empty subexpression")
	case syntax.OpLiteral:
		for _, r := range re.Rune {
			if r >= utf8.RuneSelf {
				return fmt.Errorf("non-ASCII literal %q", r)
			}
			if re.Flags&syntax.FoldCase != 0 && unicode.IsLetter(r) {
				b.WriteByte('[')
				b.WriteRune(unicode.ToLower(r))
				b.WriteRune(unicode.ToUpper(r))
				b.WriteByte(']')
				continue
			}
			writeEscaped(b, byte(r))
		}
	case syntax.OpCharClass:
		return writeClass(b, re.Rune)
	case syntax.OpAnyCharNotNL, syntax.OpAnyChar:
		b.WriteByte('.')
	case syntax.OpBeginLine, syntax.OpBeginText:
		b.WriteByte('^')
	case syntax.OpEndLine, syntax.OpEndText:
		b.WriteByte('$')
	case syntax.OpWordBoundary:
		b.WriteString(`\b`)
	case syntax.OpNoWordBoundary:
		b.WriteString(`\B`)
	case syntax.OpCapture:
		b.WriteByte('(')
		if err := writeERE(b, re.Sub[0]); err != nil {
			return err
		}
		b.WriteByte(')')
	case syntax.OpStar, syntax.OpPlus, syntax.OpQuest, syntax.OpRepeat:
		if re.Flags&syntax.NonGreedy != 0 {
			return errors.New("non-greedy repetition")
		}
		if err := writeAtom(b, re.Sub[0]); err != nil {
			return err
		}
		switch re.Op {
		case syntax.OpStar:
			b.WriteByte('*')
		case syntax.OpPlus:
			b.WriteByte('+')
		case syntax.OpQuest:
			b.WriteByte('?')
		default:
			b.WriteByte('{')
			b.WriteString(strconv.Itoa(re.Min))
			if re.Max != re.Min {
				b.WriteByte(',')
				if re.Max >= 0 {
					b.WriteString(strconv.Itoa(re.Max))
				}
			}
			b.WriteByte('}')
		}
	case syntax.OpConcat:
		for _, sub := range re.Sub {
			if sub.Op == syntax.OpAlternate {
				b.WriteByte('(')
				if err := writeERE(b, sub); err != nil {
					return err
				}
				b.WriteByte(')')
				continue
			}
			if err := writeERE(b, sub); err != nil {
				return err
			}
		}
	case syntax.OpAlternate:
		for i, sub := range re.Sub {
			if i > 0 {
				b.WriteByte('|')
			}
			if err := writeERE(b, sub); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("unsupported construct %v", re.Op)
	}
	return nil
}

// writeAtom writes sub so that a following repetition operator applies to
// all of it.
func writeAtom(b *strings.Builder, sub *syntax.Regexp) error {
	single := false
	switch sub.Op {
	case syntax.OpLiteral:
		single = len(sub.Rune) == 1
	case syntax.OpCharClass, syntax.OpAnyChar, syntax.OpAnyCharNotNL, syntax.OpCapture:
		single = true
	}
	if single {
		return writeERE(b, sub)
	}
	b.WriteByte('(')
	if err := writeERE(b, sub); err != nil {
		return err
	}
	b.WriteByte(')')
	return nil
}

func writeEscaped(b *strings.Builder, c byte) {
	if strings.IndexByte(`.[]()*+?{}|^$\`, c) >= 0 {
		b.WriteByte('\\')
	}
	b.WriteByte(c)
}

// writeClass prints a class as a bracket expression over ASCII. A class
// that also holds every non-ASCII rune (a negated class in the source) is
// printed negated; one that holds some non-ASCII runes cannot be written
// for grep in the C locale and is rejected.
func writeClass(b *strings.Builder, ranges []rune) error {
	var ascii [128]bool
	allHigh, someHigh := true, false
	covered := rune(utf8.RuneSelf) // next non-ASCII rune not yet known to be in the class
	for i := 0; i+1 < len(ranges); i += 2 {
		lo, hi := ranges[i], ranges[i+1]
		for r := lo; r <= hi && r < utf8.RuneSelf; r++ {
			ascii[r] = true
		}
		if hi >= utf8.RuneSelf {
			l := max(lo, utf8.RuneSelf)
			if !(l == hi && foldOnly(l)) {
				someHigh = true
			}
			if l > covered {
				allHigh = false
			}
			if hi+1 > covered {
				covered = hi + 1
			}
		}
	}
	if covered <= unicode.MaxRune {
		allHigh = false
	}
	negate := false
	switch {
	case allHigh:
		negate = true
		for i := range ascii {
			ascii[i] = !ascii[i]
		}
	case someHigh:
		return errors.New("class holds non-ASCII characters")
	}
	ascii['\n'] = false // grep never sees a newline inside a line
	var members []byte
	for c := range 128 {
		if ascii[c] {
			members = append(members, byte(c))
		}
	}
	if len(members) == 0 {
		if negate {
			b.WriteByte('.')
			return nil
		}
		return errors.New("empty class")
	}
	b.WriteByte('[')
	if negate {
		b.WriteByte('^')
	}
	// POSIX bracket rules: ']' first, '-' last, '^' anywhere but first,
	// backslash is an ordinary character.
	hasClose, hasDash := false, false
	var body []byte
	for _, c := range members {
		switch c {
		case ']':
			hasClose = true
		case '-':
			hasDash = true
		default:
			body = append(body, c)
		}
	}
	if hasClose {
		b.WriteByte(']')
	}
	writeRanges(b, body, !hasClose && !negate)
	if hasDash {
		b.WriteByte('-')
	}
	b.WriteByte(']')
	return nil
}

// writeRanges writes sorted members, folding runs of letters or digits into
// ranges. caretFirst reports whether the next byte would be first in the
// bracket, where '^' must not stand.
func writeRanges(b *strings.Builder, body []byte, caretFirst bool) {
	if caretFirst && len(body) > 0 && body[0] == '^' {
		if len(body) == 1 {
			b.WriteByte('^') // "[^]" would be read as a negation; callers never build it
			return
		}
		body = append(body[1:], '^')
	}
	for i := 0; i < len(body); {
		j := i
		for j+1 < len(body) && body[j+1] == body[j]+1 && sameRangeKind(body[i], body[j+1]) {
			j++
		}
		if j-i >= 2 {
			b.WriteByte(body[i])
			b.WriteByte('-')
			b.WriteByte(body[j])
		} else {
			for k := i; k <= j; k++ {
				b.WriteByte(body[k])
			}
		}
		i = j + 1
	}
}

func sameRangeKind(a, c byte) bool {
	kind := func(x byte) int {
		switch {
		case x >= '0' && x <= '9':
			return 1
		case x >= 'a' && x <= 'z':
			return 2
		case x >= 'A' && x <= 'Z':
			return 3
		}
		return 0
	}
	return kind(a) != 0 && kind(a) == kind(c)
}

// lazyPattern compiles a pattern once, on first use. Compiling every
// signature took a third of loading the knowledge base, and most runs of
// rocm-patch never match a log.
type lazyPattern struct {
	src      string
	declared []string
	once     sync.Once
	p        *Pattern
	err      error
}

func (l *lazyPattern) get() (*Pattern, error) {
	l.once.Do(func() { l.p, l.err = compilePattern(l.src, l.declared) })
	return l.p, l.err
}

// Compile returns the signature's compiled pattern, compiling it on first
// use. An error is possible only for a knowledge base whose patterns were
// not compiled when it was loaded, which LoadFS does for every file but
// the embedded ones (whose patterns the package's tests compile).
func (s *Signature) Compile() (*Pattern, error) { return s.compiled.get() }

// ContextPatterns returns the compiled Context patterns, in order,
// compiling them on first use (see Signature.Compile for the error).
func (w *When) ContextPatterns() ([]*Pattern, error) {
	out := make([]*Pattern, len(w.contexts))
	for i := range w.contexts {
		p, err := w.contexts[i].get()
		if err != nil {
			return nil, fmt.Errorf("when.context[%d] %q: %w", i, w.contexts[i].src, err)
		}
		out[i] = p
	}
	return out, nil
}

// lazyRegexp is a setting's value pattern, compiled on first use for the
// embedded catalogue (whose patterns the tests compile) and at load for
// any other.
type lazyRegexp struct {
	src  string
	once sync.Once
	re   *regexp.Regexp
	err  error
}

func (l *lazyRegexp) compile() (*regexp.Regexp, error) {
	l.once.Do(func() {
		if l.src != "" {
			l.re, l.err = regexp.Compile(l.src)
		}
	})
	return l.re, l.err
}
