package diagnose

import (
	"bytes"
	"strings"
)

// state is everything one scan accumulates. Its size depends on the
// knowledge base and the evidence caps, never on the input.
type state struct {
	m *Matcher

	file    string
	fileIdx int
	line    int64 // newlines consumed in the current stream
	lines   int64 // lines of all finished streams
	bytes   int64
	lastEnd byte // last byte of the stream so far, to count an unterminated last line

	// tail is the last non-blank segment of the previous chunk, kept for
	// joining a message split across the chunk boundary.
	tail     []byte
	tailLine int64
	tailOK   bool
	// pending are patterns whose literal occurred in the last segment of
	// the previous chunk without a match; the first segment of the next
	// chunk is tried as their continuation.
	pending pendingJoin

	normBuf []byte
	gen     []uint32 // per pattern: the segment generation it was queued in
	genNow  uint32
	queue   []int32

	acc   []entryAcc
	facts logFacts
}

type pendingJoin struct {
	pats []int32
	norm string
	raw  []byte
	line int64
}

// evLine is one line of evidence before it becomes an Evidence.
type evLine struct {
	line int64
	raw  []byte
}

func (m *Matcher) newState() *state {
	return &state{
		m:   m,
		gen: make([]uint32, len(m.patterns)),
		acc: make([]entryAcc, len(m.entries)),
	}
}

func (st *state) beginFile(name string, idx int) {
	st.file, st.fileIdx = name, idx
	st.line = 0
	st.lastEnd = '\n'
	st.tailOK = false
	st.tail = st.tail[:0]
	st.pending = pendingJoin{}
}

// finishStream flushes what waits for a following line that will not come.
func (st *state) finishStream() {
	st.pending = pendingJoin{}
}

func (st *state) endFile() {
	n := st.line
	if st.lastEnd != '\n' {
		n++
	}
	st.lines += n
}

// consume processes one chunk: data ends at a line separator (or at the
// end of the stream, or at a forced cut), hits are the prefilter's
// literal occurrences in it, in order.
func (st *state) consume(data []byte, hits []hit, _ bool) {
	if len(data) == 0 {
		return
	}
	st.bytes += int64(len(data))
	cursor := 0
	if len(st.pending.pats) > 0 {
		if ns, ne, nl, ok := nextSegment(data, 0); ok {
			cur := evLine{line: st.line + int64(nl) + 1, raw: data[ns:ne]}
			st.tryJoin(st.pending.pats, st.pending.norm, st.norm(cur.raw), evLine{st.pending.line, st.pending.raw}, cur)
		}
		st.pending = pendingJoin{}
	}
	lits := st.m.litPats
	for i := 0; i < len(hits); {
		pos := int(hits[i].pos)
		s, e := segmentBounds(data, pos)
		st.genNow++
		st.queue = st.queue[:0]
		for i < len(hits) && int(hits[i].pos) < e {
			for _, p := range lits[hits[i].lit] {
				if st.gen[p] != st.genNow {
					st.gen[p] = st.genNow
					st.queue = append(st.queue, p)
				}
			}
			i++
		}
		if s > cursor {
			st.line += int64(bytes.Count(data[cursor:s], []byte{'\n'}))
			cursor = s
		}
		st.segment(data, s, e, st.line+1)
	}
	st.line += int64(bytes.Count(data[cursor:], []byte{'\n'}))
	st.lastEnd = data[len(data)-1]
	st.saveTail(data)
}

// segmentBounds returns the segment (between '\n' or '\r' separators)
// around pos, cut to a window of maxSegment bytes for very long lines.
func segmentBounds(data []byte, pos int) (int, int) {
	s := pos
	lo := max(0, pos-maxSegment/2)
	for s > lo && !isSep(data[s-1]) {
		s--
	}
	e := pos
	hi := min(len(data), pos+maxSegment/2)
	for e < hi && !isSep(data[e]) {
		e++
	}
	return s, e
}

func blank(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' {
			return false
		}
	}
	return true
}

// prevSegment finds the last non-blank segment ending before s, skipping
// at most blankLimit blank ones. nl is the number of '\n' between it and
// s. ok is false when the chunk starts first.
func prevSegment(data []byte, s int) (ps, pe, nl int, ok bool) {
	end := s
	for skipped := 0; skipped <= blankLimit; skipped++ {
		// step over the separators before end
		for end > 0 && isSep(data[end-1]) {
			if data[end-1] == '\n' {
				nl++
			}
			end--
		}
		if end == 0 {
			return 0, 0, nl, false
		}
		start := end
		for start > 0 && !isSep(data[start-1]) && end-start < maxJoin {
			start--
		}
		if !blank(data[start:end]) {
			return start, end, nl, true
		}
		end = start
	}
	return 0, 0, nl, false
}

// nextSegment finds the first non-blank segment starting at or after e,
// skipping at most blankLimit blank ones.
func nextSegment(data []byte, e int) (ns, ne, nl int, ok bool) {
	start := e
	for skipped := 0; skipped <= blankLimit; skipped++ {
		for start < len(data) && isSep(data[start]) {
			if data[start] == '\n' {
				nl++
			}
			start++
		}
		if start >= len(data) {
			return 0, 0, nl, false
		}
		end := start
		for end < len(data) && !isSep(data[end]) && end-start < maxJoin {
			end++
		}
		if !blank(data[start:end]) {
			return start, end, nl, true
		}
		start = end
	}
	return 0, 0, nl, false
}

func (st *state) norm(raw []byte) string {
	s, buf := normalize(st.normBuf, raw)
	st.normBuf = buf
	return s
}

// segment matches the queued patterns against one segment, and against
// the segment joined to its neighbours for patterns whose literal it holds
// but which do not match it alone.
func (st *state) segment(data []byte, s, e int, lineNo int64) {
	cur := evLine{line: lineNo, raw: data[s:e]}
	norm := st.norm(cur.raw)
	lower := lazyLower(norm)
	var partial []int32
	for _, pi := range st.queue {
		p := st.m.patterns[pi]
		if p.mayMatch(norm, lower) && p.re.MatchString(norm) {
			st.record(pi, norm, cur)
			continue
		}
		partial = append(partial, pi)
	}
	if len(partial) == 0 {
		return
	}
	if ps, pe, nl, ok := prevSegment(data, s); ok {
		prev := evLine{line: lineNo - int64(nl), raw: data[ps:pe]}
		partial = st.tryJoin(partial, st.norm(prev.raw), norm, prev, cur)
	} else if st.tailOK {
		prev := evLine{line: st.tailLine, raw: st.tail}
		partial = st.tryJoin(partial, st.norm(prev.raw), norm, prev, cur)
	}
	if len(partial) == 0 {
		return
	}
	if ns, ne, nl, ok := nextSegment(data, e); ok {
		next := evLine{line: lineNo + int64(nl), raw: data[ns:ne]}
		st.tryJoin(partial, norm, st.norm(next.raw), cur, next)
		return
	}
	// The continuation is in the next chunk, if any.
	raw := cur.raw
	if len(raw) > maxJoin {
		raw = raw[len(raw)-maxJoin:]
	}
	st.pending = pendingJoin{
		pats: append([]int32(nil), partial...),
		norm: norm,
		raw:  append([]byte(nil), raw...),
		line: lineNo,
	}
}

// tryJoin matches each pattern against a joined to b, directly and with a
// space (a hard wrap may or may not eat the space), and records those
// whose match spans the join. It returns the patterns still unmatched.
func (st *state) tryJoin(pats []int32, a, b string, la, lb evLine) []int32 {
	var rest []int32
	for _, pi := range pats {
		p := st.m.patterns[pi]
		matched := ""
		for _, sep := range []string{"", " "} {
			j := a + sep + b
			// The required literal must be whole in the join, and not in
			// a alone (then a would have matched, or cannot).
			if !p.mayMatch(j, lazyLower(j)) {
				continue
			}
			loc := p.re.FindStringIndex(j)
			if loc != nil && loc[0] < len(a) && loc[1] > len(a)+len(sep) {
				matched = j
				break
			}
		}
		if matched == "" {
			rest = append(rest, pi)
			continue
		}
		st.record(pi, matched, la, lb)
	}
	return rest
}

// lazyLower returns a function that lowers s once, when first asked.
func lazyLower(s string) func() string {
	var lower string
	done := false
	return func() string {
		if !done {
			lower, done = strings.ToLower(s), true
		}
		return lower
	}
}

// saveTail keeps a copy of the chunk's last non-blank segment.
func (st *state) saveTail(data []byte) {
	ps, pe, nl, ok := prevSegment(data, len(data))
	if !ok {
		// The chunk was all separators; the previous tail stays valid.
		return
	}
	st.tail = append(st.tail[:0], data[ps:pe]...)
	// The segment holds no newline; nl of them follow it to the chunk end.
	st.tailLine = st.line - int64(nl) + 1
	st.tailOK = true
}

// record applies one pattern match: facts, context flags, signature hits.
func (st *state) record(pi int32, norm string, lines ...evLine) {
	p := st.m.patterns[pi]
	switch p.fact {
	case factOverride:
		if sm := p.re.FindStringSubmatch(norm); sm != nil {
			st.facts.addOverride(strings.TrimSpace(sm[1]), st.evidence(lines[0]))
		}
		return
	case factTarget:
		for _, sm := range p.re.FindAllStringSubmatch(norm, 4) {
			for _, g := range sm[1:] {
				if g != "" {
					st.facts.addTarget(strings.ToLower(g), st.evidence(lines[0]))
				}
			}
		}
		return
	}
	for _, e := range p.context {
		st.acc[e].context = true
	}
	if len(p.uses) == 0 {
		return
	}
	ev := make([]Evidence, len(lines))
	for i, l := range lines {
		ev[i] = st.evidence(l)
	}
	for _, u := range p.uses {
		a := &st.acc[u.entry]
		side := &a.own
		if u.borrowed {
			side = &a.borrowed
		}
		side.add(pi, u.rank, ev, st.m.opts.MaxEvidence)
	}
}

func (st *state) evidence(l evLine) Evidence {
	return Evidence{File: st.file, fileIdx: st.fileIdx, N: l.line, Text: evidenceText(l.raw)}
}
