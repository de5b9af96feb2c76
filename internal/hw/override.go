package hw

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Limits libhsakmt puts on HSA_OVERRIDE_GFX_VERSION (topology.c): the major
// is stored in 6 bits, minor and stepping in 8.
const (
	maxOverrideMajor = 63
	maxOverrideMinor = 255
	maxOverrideStep  = 255
)

const wantOverride = "want major.minor.stepping such as 10.3.0"

// ParseOverride parses HSA_OVERRIDE_GFX_VERSION the way libhsakmt does:
//
//	sscanf(value, "%u.%u.%u%c", &major, &minor, &step, &dummy) == 3
//	&& major <= 63 && minor <= 255 && step <= 255
//
// so a value libhsakmt rejects is rejected here and one it takes yields the
// version it uses. That includes glibc's %u quirks: whitespace before each
// number is skipped, a '+' or '-' sign is taken (a '-' wraps around, so
// "-1" reads as 4294967295 and fails the limit), and numbers wider than 32
// bits are cut to their low 32 bits. Any character after the third number,
// a trailing newline or space included, fills %c and makes the value
// invalid. Errors wrap ErrMalformedOverride and say why in plain words.
//
// One deliberate difference: a NUL byte is rejected outright. C would stop
// reading at it, but no environment variable can hold one.
func ParseOverride(s string) (GFXVersion, error) {
	if strings.IndexByte(s, 0) >= 0 {
		return GFXVersion{}, malformed(s, "contains a NUL byte, which no environment variable can hold")
	}
	var nums [3]uint32
	var texts [3]string
	pos := 0
	for k := range 3 {
		if k > 0 {
			if pos >= len(s) {
				return GFXVersion{}, malformed(s, fmt.Sprintf("%s, got %d of 3 numbers", wantOverride, k))
			}
			if s[pos] != '.' {
				return GFXVersion{}, malformed(s, fmt.Sprintf("%s, got %q after number %d where a dot belongs", wantOverride, s[pos:pos+1], k))
			}
			pos++
		}
		for pos < len(s) && isCSpace(s[pos]) {
			pos++
		}
		if pos >= len(s) {
			if k == 0 && s == "" {
				return GFXVersion{}, malformed(s, wantOverride+", got an empty value")
			}
			if k == 0 {
				return GFXVersion{}, malformed(s, wantOverride+", got only whitespace")
			}
			return GFXVersion{}, malformed(s, fmt.Sprintf("%s, got %d of 3 numbers", wantOverride, k))
		}
		start := pos
		v, next, ok := scanUnsigned(s, pos)
		if !ok {
			bad := next
			if bad >= len(s) {
				return GFXVersion{}, malformed(s, fmt.Sprintf("%s, got a sign with no digits for number %d", wantOverride, k+1))
			}
			return GFXVersion{}, malformed(s, fmt.Sprintf("%s, got %q where number %d should start", wantOverride, s[bad:bad+1], k+1))
		}
		nums[k], texts[k] = v, s[start:next]
		pos = next
	}
	if pos < len(s) {
		return GFXVersion{}, malformed(s, fmt.Sprintf("trailing %q after the stepping; libhsakmt rejects any character after the third number", s[pos:]))
	}
	limits := [3]uint32{maxOverrideMajor, maxOverrideMinor, maxOverrideStep}
	names := [3]string{"major", "minor", "stepping"}
	for k := range 3 {
		if nums[k] > limits[k] {
			if texts[k] == strconv.FormatUint(uint64(nums[k]), 10) {
				return GFXVersion{}, malformed(s, fmt.Sprintf("%s %d is above %d", names[k], nums[k], limits[k]))
			}
			return GFXVersion{}, malformed(s, fmt.Sprintf("%s %q reads as %d, above %d", names[k], texts[k], nums[k], limits[k]))
		}
	}
	return GFXVersion{Major: int(nums[0]), Minor: int(nums[1]), Stepping: int(nums[2])}, nil
}

func malformed(s, reason string) error {
	return fmt.Errorf("%w %q: %s", ErrMalformedOverride, s, reason)
}

// isCSpace is isspace() in the C locale, what %u skips.
func isCSpace(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\v', '\f', '\r':
		return true
	}
	return false
}

// scanUnsigned reads what glibc's %u reads at s[pos] (whitespace already
// skipped): an optional sign and at least one decimal digit. The value is
// strtoul's (saturating at 2^64-1 on overflow, negated modulo 2^64 after a
// '-') cut to 32 bits, as scanf stores it into an unsigned int. When no
// digit follows, ok is false and next is the offending position.
func scanUnsigned(s string, pos int) (v uint32, next int, ok bool) {
	neg := false
	if s[pos] == '+' || s[pos] == '-' {
		neg = s[pos] == '-'
		pos++
	}
	start := pos
	var acc uint64
	overflow := false
	for pos < len(s) && s[pos] >= '0' && s[pos] <= '9' {
		d := uint64(s[pos] - '0')
		if acc > (math.MaxUint64-d)/10 {
			overflow = true
		} else {
			acc = acc*10 + d
		}
		pos++
	}
	if pos == start {
		return 0, pos, false
	}
	switch {
	case overflow:
		acc = math.MaxUint64
	case neg:
		acc = -acc
	}
	return uint32(acc), pos, true
}
