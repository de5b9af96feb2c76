package diagnose

import (
	"encoding/binary"
	"sort"

	"github.com/rocm-patch/rocm-patch/internal/kb"
)

// prefilter finds occurrences of a set of lowercase ASCII literals in raw
// bytes, case-insensitively, in one pass and without copying.
//
// Each literal is represented by one three-byte window (chosen where its
// bytes are rarest in logs) and registered under the window's two bigrams,
// in every case variant, in a 64 Ki-bit bitmap. The scan tests the bigram
// at every other byte: an occurrence of a literal puts its window at some
// offset, and of the two bigrams inside the window exactly one starts at
// an even position, so every occurrence is tested once. Only positions
// whose bigram is in the bitmap (rare for well-chosen windows) are
// verified against the literals registered under it. The loop has no
// dependency between iterations, which keeps it near memory speed in Go
// without assembly.
type prefilter struct {
	bitmap [1 << 10]uint64
	// trigrams is a second-level filter: a hashed bitmap of the windows
	// themselves, checked only where a bigram passed.
	trigrams [1 << 10]uint64
	// probes[start[v]:start[v+1]] are the probes of bigram v.
	start  []uint32
	probes []probe
	lits   []prefLit
}

// prefLit is a literal split around its window: pre must precede the
// window, post (window included) starts at it. A space in either stands
// for a run of spaces and tabs, since logs align columns with them and
// matching collapses them. fold literals are lowercase and match any case.
type prefLit struct {
	pre, post []byte
	fold      bool
}

// probe says: literal lit has the bigram at byte offset off from the
// start of its window.
type probe struct {
	lit int32
	off int32
}

// hit is one occurrence of a literal, by the offset of its window in the
// scanned data (inside the occurrence, which is all callers need).
type hit struct {
	pos int32
	lit int32
}

var lowerTable = func() (t [256]byte) {
	for i := range t {
		c := byte(i)
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		t[i] = c
	}
	return t
}()

func newPrefilter(lits []kb.Literal) *prefilter {
	p := &prefilter{}
	type keyed struct {
		v  uint16
		pr probe
	}
	var all []keyed
	for i, lit := range lits {
		l := lit.Text
		w := bestTrigram(l, lit.Fold)
		p.lits = append(p.lits, prefLit{pre: []byte(l[:w]), post: []byte(l[w:]), fold: lit.Fold})
		for _, x := range caseVariants(l[w], lit.Fold) {
			for _, y := range caseVariants(l[w+1], lit.Fold) {
				for _, z := range caseVariants(l[w+2], lit.Fold) {
					h := triHash(x, y, z)
					p.trigrams[h>>6] |= 1 << (h & 63)
				}
				v := uint16(x) | uint16(y)<<8
				p.bitmap[v>>6] |= 1 << (v & 63)
				all = append(all, keyed{v, probe{lit: int32(i), off: 0}})
			}
		}
		for _, y := range caseVariants(l[w+1], lit.Fold) {
			for _, z := range caseVariants(l[w+2], lit.Fold) {
				v := uint16(y) | uint16(z)<<8
				p.bitmap[v>>6] |= 1 << (v & 63)
				all = append(all, keyed{v, probe{lit: int32(i), off: 1}})
			}
		}
	}
	sort.Slice(all, func(a, b int) bool {
		x, y := all[a], all[b]
		if x.v != y.v {
			return x.v < y.v
		}
		if x.pr.lit != y.pr.lit {
			return x.pr.lit < y.pr.lit
		}
		return x.pr.off < y.pr.off
	})
	p.start = make([]uint32, 1<<16+1)
	k := 0
	for v := 0; v < 1<<16; v++ {
		p.start[v] = uint32(k)
		for k < len(all) && int(all[k].v) == v {
			p.probes = append(p.probes, all[k].pr)
			k++
		}
	}
	p.start[1<<16] = uint32(k)
	return p
}

// triHash maps a three-byte window to a bit of the second-level filter.
func triHash(a, b, c byte) uint32 {
	x := uint32(a) | uint32(b)<<8 | uint32(c)<<16
	return (x * 0x9E3779B1) >> 16
}

// bestTrigram returns the offset of the three-byte window of l whose two
// bigrams are least likely in logs. Windows with a space are avoided: the
// bitmap holds exact bytes, and the log may have a tab or several spaces.
// In an exact-case literal a capital letter is rare (camelCase and
// CONSTANT_NAMES are what error messages have and prose does not).
func bestTrigram(l string, fold bool) int {
	f := func(c byte) int {
		if !fold && c >= 'A' && c <= 'Z' {
			return kb.ByteFreq(c)/6 + 1
		}
		return kb.ByteFreq(c)
	}
	best, bestCost := 0, -1
	for w := 0; w+3 <= len(l); w++ {
		a, b, c := f(l[w]), f(l[w+1]), f(l[w+2])
		cost := a*b + b*c
		if l[w] == ' ' || l[w+1] == ' ' || l[w+2] == ' ' {
			cost += 1 << 20
		}
		if bestCost < 0 || cost < bestCost {
			best, bestCost = w, cost
		}
	}
	return best
}

func caseVariants(c byte, fold bool) []byte {
	if fold && c >= 'a' && c <= 'z' {
		return []byte{c, c - ('a' - 'A')}
	}
	return []byte{c}
}

// scan appends to hits every occurrence of a literal in data, in order of
// position (occurrences of different literals at one position in order of
// literal). Literals never straddle chunk boundaries because chunks end at
// line separators and literals hold none.
func (p *prefilter) scan(data []byte, hits []hit) []hit {
	n := len(data)
	i := 0
	// Four bigrams per 8-byte word: positions i, i+2, i+4, i+6.
	for ; i+8 <= n; i += 8 {
		w := binary.LittleEndian.Uint64(data[i:])
		v0 := uint16(w)
		v1 := uint16(w >> 16)
		v2 := uint16(w >> 32)
		v3 := uint16(w >> 48)
		if (p.bitmap[v0>>6]>>(v0&63)|p.bitmap[v1>>6]>>(v1&63)|p.bitmap[v2>>6]>>(v2&63)|p.bitmap[v3>>6]>>(v3&63))&1 == 0 {
			continue
		}
		hits = p.verifyAt(data, i, v0, hits)
		hits = p.verifyAt(data, i+2, v1, hits)
		hits = p.verifyAt(data, i+4, v2, hits)
		hits = p.verifyAt(data, i+6, v3, hits)
	}
	for ; i+1 < n; i += 2 {
		v := uint16(data[i]) | uint16(data[i+1])<<8
		hits = p.verifyAt(data, i, v, hits)
	}
	// A literal's start precedes the bigram that found it, so a later
	// bigram can report an earlier start; keep the list ordered.
	less := func(a, b int) bool { return hits[a].pos < hits[b].pos }
	if !sort.SliceIsSorted(hits, less) {
		sort.SliceStable(hits, less)
	}
	return hits
}

func (p *prefilter) verifyAt(data []byte, i int, v uint16, hits []hit) []hit {
	if p.bitmap[v>>6]>>(v&63)&1 == 0 {
		return hits
	}
	// The window starts at i (bigram = its first two bytes) or at i-1
	// (bigram = its last two); one of the two must be a known trigram.
	ok := false
	if i+2 < len(data) {
		h := triHash(data[i], data[i+1], data[i+2])
		ok = p.trigrams[h>>6]>>(h&63)&1 == 1
	}
	if !ok && i > 0 {
		h := triHash(data[i-1], data[i], data[i+1])
		ok = p.trigrams[h>>6]>>(h&63)&1 == 1
	}
	if !ok {
		return hits
	}
	for _, pr := range p.probes[p.start[v]:p.start[int(v)+1]] {
		ws := i - int(pr.off)
		lit := &p.lits[pr.lit]
		if ws < 0 || !matchForward(data, ws, lit.post, lit.fold) || !matchBackward(data, ws, lit.pre, lit.fold) {
			continue
		}
		hits = append(hits, hit{pos: int32(ws), lit: pr.lit})
	}
	return hits
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' }

// matchForward reports whether data at i starts with lit (case folded if
// fold), a space in lit matching one or more spaces or tabs.
func matchForward(data []byte, i int, lit []byte, fold bool) bool {
	for _, c := range lit {
		if i >= len(data) {
			return false
		}
		if c == ' ' {
			if !isBlank(data[i]) {
				return false
			}
			for i < len(data) && isBlank(data[i]) {
				i++
			}
			continue
		}
		d := data[i]
		if fold {
			d = lowerTable[d]
		}
		if d != c {
			return false
		}
		i++
	}
	return true
}

// matchBackward reports whether data just before i ends with lit, under
// the same rules.
func matchBackward(data []byte, i int, lit []byte, fold bool) bool {
	for k := len(lit) - 1; k >= 0; k-- {
		c := lit[k]
		if i <= 0 {
			return false
		}
		if c == ' ' {
			if !isBlank(data[i-1]) {
				return false
			}
			for i > 0 && isBlank(data[i-1]) {
				i--
			}
			continue
		}
		d := data[i-1]
		if fold {
			d = lowerTable[d]
		}
		if d != c {
			return false
		}
		i--
	}
	return true
}
