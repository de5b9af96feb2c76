package diagnose

import (
	"unicode/utf8"
)

// maxEvidenceText caps the text of one evidence line in reports.
const maxEvidenceText = 400

// stripANSI removes terminal escape sequences and control characters:
// CSI (ESC [ ... final), OSC (ESC ] ... BEL or ESC \), two-byte escapes,
// and the "[31m" remnants left when a paste lost the ESC byte. Other
// control bytes become spaces so that words stay apart.
func stripANSI(dst, src []byte) []byte {
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch {
		case c == 0x1b:
			i = skipEscape(src, i)
		case c == '[' && orphanSGR(src, i) > 0:
			i += orphanSGR(src, i) - 1
		case c < 0x20 && c != '\t', c == 0x7f:
			dst = append(dst, ' ')
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// skipEscape returns the index of the last byte of the escape sequence
// starting at src[i] (an ESC).
func skipEscape(src []byte, i int) int {
	if i+1 >= len(src) {
		return i
	}
	switch src[i+1] {
	case '[':
		j := i + 2
		for j < len(src) && (src[j] < 0x40 || src[j] > 0x7e) {
			j++
		}
		if j >= len(src) {
			return len(src) - 1
		}
		return j
	case ']':
		for j := i + 2; j < len(src); j++ {
			if src[j] == 0x07 {
				return j
			}
			if src[j] == 0x1b && j+1 < len(src) && src[j+1] == '\\' {
				return j + 1
			}
		}
		return len(src) - 1
	}
	return i + 1
}

// orphanSGR returns the length of a colour code that lost its ESC
// ("[0;31m"), or 0.
func orphanSGR(src []byte, i int) int {
	j := i + 1
	for j < len(src) && j-i <= 12 && (src[j] >= '0' && src[j] <= '9' || src[j] == ';') {
		j++
	}
	if j < len(src) && src[j] == 'm' && j > i+1 {
		return j - i + 1
	}
	return 0
}

// normalize turns one raw line (or \r-separated segment) into the form
// signatures are matched against: escapes removed, Markdown quote marks,
// bold and backticks removed, dmesg, journalctl and timestamp prefixes
// removed, hand-redacted addresses ("0x....") made hex, whitespace runs
// collapsed to one space and trimmed. buf is scratch space that may be
// reused between calls.
func normalize(buf []byte, raw []byte) (string, []byte) {
	buf = stripANSI(buf[:0], raw)
	s := buf
	s = trimSpace(s)
	for k := 0; k < 6; k++ {
		n := len(s)
		s = trimSpace(stripQuote(s))
		s = trimSpace(stripPrefix(s))
		if len(s) == n {
			break
		}
	}
	out := make([]byte, 0, len(s))
	space := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '`':
			continue
		case c == '*' && i+1 < len(s) && s[i+1] == '*':
			i++
			continue
		case c == ' ' || c == '\t':
			space = true
			continue
		case c == '0' && i+1 < len(s) && (s[i+1] == 'x' || s[i+1] == 'X'):
			if n := redactedHex(s[i+2:]); n > 0 {
				if space && len(out) > 0 {
					out = append(out, ' ')
				}
				space = false
				out = append(out, "0x0"...)
				i += 1 + n
				continue
			}
		}
		if space && len(out) > 0 {
			out = append(out, ' ')
		}
		space = false
		out = append(out, c)
	}
	return string(out), buf
}

// redactedHex returns how many bytes after "0x" form a hand redaction:
// two or more of '.', 'x', 'X', '*', or the ellipsis character.
func redactedHex(s []byte) int {
	n := 0
	count := 0
	for n < len(s) {
		switch {
		case s[n] == '.' || s[n] == 'x' || s[n] == 'X' || s[n] == '*':
			n++
			count++
		case len(s)-n >= 3 && s[n] == 0xe2 && s[n+1] == 0x80 && s[n+2] == 0xa6: // …
			n += 3
			count += 2
		default:
			if count >= 2 {
				return n
			}
			return 0
		}
	}
	if count >= 2 {
		return n
	}
	return 0
}

func trimSpace(s []byte) []byte {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// stripQuote removes one level of Markdown block quote ("> ").
func stripQuote(s []byte) []byte {
	if len(s) > 0 && s[0] == '>' {
		return s[1:]
	}
	return s
}

// stripPrefix removes one known line prefix: a dmesg timestamp
// ("[ 1234.5678]", "[  +0.000388]", "[Nov19 10:33]", "[Thu Sep 10
// 14:36:15 2026]"), a journalctl/syslog prefix ("Feb 16 17:33:10 host
// kernel: "), or an ISO timestamp ("2025-12-21T05:01:44.469315 - ").
func stripPrefix(s []byte) []byte {
	if n := bracketStamp(s); n > 0 {
		return s[n:]
	}
	if n := syslogPrefix(s); n > 0 {
		return s[n:]
	}
	if n := isoStamp(s); n > 0 {
		return s[n:]
	}
	return s
}

func isDigit(c byte) bool  { return c >= '0' && c <= '9' }
func isLetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

// bracketStamp matches "[...]" at the start whose content is a timestamp:
// digits with '.' or ':', optional '+', letters and spaces only.
func bracketStamp(s []byte) int {
	if len(s) < 3 || s[0] != '[' {
		return 0
	}
	digits, punct := 0, 0
	for i := 1; i < len(s) && i <= 40; i++ {
		c := s[i]
		switch {
		case c == ']':
			if digits > 0 && punct > 0 {
				return i + 1
			}
			return 0
		case isDigit(c):
			digits++
		case c == '.' || c == ':':
			punct++
		case c == ' ' || c == '+' || isLetter(c):
		default:
			return 0
		}
	}
	return 0
}

// syslogPrefix matches "Mon DD HH:MM:SS[.frac] host ident[pid]: " as
// journalctl and syslog print it (any case for the month).
func syslogPrefix(s []byte) int {
	if len(s) < 16 || !isLetter(s[0]) || !isLetter(s[1]) || !isLetter(s[2]) || s[3] != ' ' {
		return 0
	}
	i := 4
	if s[i] == ' ' {
		i++
	}
	start := i
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	if i-start < 1 || i-start > 2 || i >= len(s) || s[i] != ' ' {
		return 0
	}
	i++
	n := clock(s[i:])
	if n == 0 {
		return 0
	}
	i += n
	if i >= len(s) || s[i] != ' ' {
		return 0
	}
	i++
	// host
	h := i
	for i < len(s) && s[i] != ' ' {
		i++
	}
	if i == h || i >= len(s) {
		return 0
	}
	i++
	// ident, ending in ':'
	id := i
	for i < len(s) && s[i] != ' ' && s[i] != ':' {
		i++
	}
	if i == id || i >= len(s) || s[i] != ':' {
		return 0
	}
	return i + 1
}

// clock matches HH:MM:SS with optional fractional seconds and returns its
// length.
func clock(s []byte) int {
	if len(s) < 8 || !isDigit(s[0]) || !isDigit(s[1]) || s[2] != ':' || !isDigit(s[3]) || !isDigit(s[4]) || s[5] != ':' || !isDigit(s[6]) || !isDigit(s[7]) {
		return 0
	}
	i := 8
	if i < len(s) && (s[i] == '.' || s[i] == ',') {
		i++
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	}
	return i
}

// isoStamp matches "YYYY-MM-DD[T ]HH:MM:SS[.frac][Z|+hh:mm]" and a
// following " - ", " | " or space.
func isoStamp(s []byte) int {
	if len(s) < 19 {
		return 0
	}
	for _, k := range []int{0, 1, 2, 3, 5, 6, 8, 9} {
		if !isDigit(s[k]) {
			return 0
		}
	}
	if s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != ' ') {
		return 0
	}
	n := clock(s[11:])
	if n == 0 {
		return 0
	}
	i := 11 + n
	if i < len(s) && s[i] == 'Z' {
		i++
	} else if i+5 < len(s) && (s[i] == '+' || s[i] == '-') && isDigit(s[i+1]) && isDigit(s[i+2]) {
		i += 3
		if s[i] == ':' {
			i++
		}
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	}
	for _, sep := range []string{" - ", " | ", " "} {
		if len(s)-i >= len(sep) && string(s[i:i+len(sep)]) == sep {
			return i + len(sep)
		}
	}
	return i
}

// evidenceText is the text reported for a line: escapes removed, trimmed,
// capped at maxEvidenceText bytes on a character boundary.
func evidenceText(raw []byte) string {
	b := trimSpace(stripANSI(make([]byte, 0, len(raw)), raw))
	if len(b) > maxEvidenceText {
		cut := maxEvidenceText
		for cut > 0 && !utf8.RuneStart(b[cut]) {
			cut--
		}
		b = append(b[:cut:cut], "..."...)
	}
	return string(b)
}
