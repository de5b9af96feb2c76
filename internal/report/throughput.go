package report

import (
	"bytes"
	"math"
	"strconv"
	"unicode"
	"unicode/utf8"

	"github.com/rocm-patch/rocm-patch/internal/lazyre"
)

// ThroughputMarker starts the line a job prints to state its speed:
//
//	rocm-patch: throughput=<number> <unit>
//
// The number is a rate, larger meaning faster ("samples/s", "tok/s"); the
// unit is one word. The marker may follow a logging prefix on the line.
const ThroughputMarker = "rocm-patch: throughput="

// maxUnitLen bounds a unit so that a garbage line cannot become a table
// column.
const maxUnitLen = 32

var (
	explicitNumber = lazyre.New(`^\+?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?`)
	// tqdm's default bar ends "[elapsed<remaining, rate{postfix}]" and its
	// bar for an unknown total "[elapsed, rate{postfix}]"; elapsed is
	// mm:ss or h:mm:ss, remaining the same or "?".
	tqdmBracket = lazyre.New(`\[[0-9]+:[0-9]{2}(?::[0-9]{2})?(?:<(?:[0-9]+:[0-9]{2}(?::[0-9]{2})?|\?))?,\s*([^,\]\s]+)\s*[,\]]`)
	// tqdm's rate_fmt: "{rate}{unit}/s", or "{1/rate}s/{unit}" when slower
	// than one unit a second; with unit_scale the number carries an SI
	// prefix ("1.50k", "245M").
	tqdmForward = lazyre.New(`^([0-9]+(?:\.[0-9]+)?)([^\s/]+)/s$`)
	tqdmInverse = lazyre.New(`^([0-9]+(?:\.[0-9]+)?)([kMGTPEZY]?)s/([^\s/]+)$`)
)

// siPrefix is tqdm's format_sizeof scale (powers of 1000).
var siPrefix = map[byte]float64{'k': 1e3, 'M': 1e6, 'G': 1e9, 'T': 1e12, 'P': 1e15, 'E': 1e18, 'Z': 1e21, 'Y': 1e24}

// ParseThroughput reads a job's speed from one line of its output: either
// a ThroughputMarker line (the job's own word, preferred), or the rate a
// tqdm progress bar shows. tqdm rates are normalised to "<unit>/s": "3.21s/it"
// becomes 0.3115 "it/s", and an SI prefix is applied where tqdm's
// unit_scale put one on its default unit "it" or on "B" (bytes): "1.5kit/s"
// is 1500 "it/s", "245MB/s" is 2.45e8 "B/s". A prefix before any other unit
// is kept as part of the unit, since "kimg" cannot be told from a unit
// that merely starts with k. A line holding several carriage-return
// separated tqdm updates gives the last one. ok is false when the line
// states no speed (tqdm's "?it/s" included); a value is never negative,
// NaN or infinite.
func ParseThroughput(line []byte) (value float64, unit string, ok bool) {
	value, unit, ok, _ = parseThroughput(line)
	return value, unit, ok
}

// parseThroughput also says whether the speed came from a marker line.
func parseThroughput(line []byte) (value float64, unit string, ok, explicit bool) {
	if i := bytes.Index(line, []byte(ThroughputMarker)); i >= 0 {
		value, unit, ok = parseExplicit(line[i+len(ThroughputMarker):])
		return value, unit, ok, true
	}
	value, unit, ok = parseTQDM(line)
	return value, unit, ok, false
}

func parseExplicit(rest []byte) (float64, string, bool) {
	num := explicitNumber().Find(rest)
	if num == nil {
		return 0, "", false
	}
	v, ok := parseRate(string(num))
	if !ok {
		return 0, "", false
	}
	rest = rest[len(num):]
	// The contract puts a space between number and unit; without it
	// "0x1p4" would read as 0 in unit "x1p4".
	if len(rest) == 0 || (rest[0] != ' ' && rest[0] != '\t') {
		return 0, "", false
	}
	rest = bytes.TrimLeft(rest, " \t")
	end := bytes.IndexFunc(rest, unicode.IsSpace)
	if end < 0 {
		end = len(rest)
	}
	unit := string(rest[:end])
	if !validUnit(unit) {
		return 0, "", false
	}
	return v, unit, true
}

func parseTQDM(line []byte) (float64, string, bool) {
	segs := bytes.Split(line, []byte{'\r'})
	for i := len(segs) - 1; i >= 0; i-- {
		ms := tqdmBracket().FindAllSubmatch(segs[i], -1)
		for j := len(ms) - 1; j >= 0; j-- {
			if v, u, ok := parseTQDMRate(string(ms[j][1])); ok {
				return v, u, true
			}
		}
	}
	return 0, "", false
}

func parseTQDMRate(tok string) (float64, string, bool) {
	if m := tqdmForward().FindStringSubmatch(tok); m != nil {
		v, ok := parseRate(m[1])
		if !ok {
			return 0, "", false
		}
		unit := m[2]
		if len(unit) > 1 {
			if mult, isPrefix := siPrefix[unit[0]]; isPrefix && (unit[1:] == "it" || unit[1:] == "B") {
				v *= mult
				unit = unit[1:]
			}
		}
		return finish(v, unit)
	}
	if m := tqdmInverse().FindStringSubmatch(tok); m != nil {
		secs, ok := parseRate(m[1])
		if !ok || secs == 0 {
			return 0, "", false
		}
		if m[2] != "" {
			secs *= siPrefix[m[2][0]]
		}
		return finish(1/secs, m[3])
	}
	return 0, "", false
}

func finish(v float64, unit string) (float64, string, bool) {
	if math.IsInf(v, 0) || math.IsNaN(v) || !validUnit(unit) {
		return 0, "", false
	}
	return v, unit + "/s", true
}

// parseRate parses a non-negative finite number.
func parseRate(s string) (float64, bool) {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(v, 0) || math.IsNaN(v) || v < 0 {
		return 0, false
	}
	return v, true
}

func validUnit(u string) bool {
	if u == "" || len(u) > maxUnitLen || !utf8.ValidString(u) {
		return false
	}
	for _, r := range u {
		if !unicode.IsGraphic(r) || unicode.IsSpace(r) {
			return false
		}
	}
	return true
}

// Meter follows a job's output and keeps the speed it reported last. A
// marker line outranks tqdm for the rest of the job: once the job states
// its speed itself, progress bars (perhaps of a data loader) are ignored.
// The zero Meter is ready to use; it is not safe for concurrent use.
type Meter struct {
	value    float64
	unit     string
	ok       bool
	explicit bool
}

// Observe reads one line of output.
func (m *Meter) Observe(line []byte) {
	v, u, ok, explicit := parseThroughput(line)
	if !ok || (m.explicit && !explicit) {
		return
	}
	m.value, m.unit, m.ok, m.explicit = v, u, true, explicit
}

// Throughput is the last speed seen; ok is false when there was none.
func (m *Meter) Throughput() (value float64, unit string, ok bool) {
	return m.value, m.unit, m.ok
}
