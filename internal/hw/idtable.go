package hw

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ErrNoEntries is returned by ParseIDTable when the input has lines other
// than blanks, comments and a version, yet not one valid entry: most likely
// the file is not an amdgpu.ids at all.
var ErrNoEntries = errors.New("no valid amdgpu.ids entry")

// maxIDLine caps how much of one line is kept. Real lines are under 100
// bytes; the cap keeps a hostile or binary file from costing memory.
const maxIDLine = 4096

// LineError names one line of amdgpu.ids that was skipped and why.
type LineError struct {
	Line   int // 1-based
	Reason string
}

// Error implements error.
func (e LineError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Reason) }

type idKey struct{ device, revision uint16 }

type idEntry struct {
	key  idKey
	name string
}

// IDTable is libdrm's amdgpu.ids: "DEVICE,\tREVISION,\tNAME" lines of hex
// ids (e.g. "73DF,\tC1,\tAMD Radeon RX 6700 XT"), '#' comments, blank lines,
// and a first non-comment line that is the table's version, "1.0.0".
type IDTable struct {
	version string
	// versionSeen is set by the first content line, the only one that may
	// be the version.
	versionSeen bool
	entries     []idEntry
	exact       map[idKey]int  // first entry for (device, revision)
	byDev       map[uint16]int // first entry for device
	bad         []LineError
}

// ParseIDTable reads an amdgpu.ids. A malformed line is skipped, not fatal:
// its line number and the reason are kept in BadLines so a caller can name
// them. Spaces work as well as tabs around fields (upstream has a line with
// spaces), CRLF endings and a UTF-8 BOM are tolerated, and a name keeps any
// commas it contains.
//
// The error is non-nil for a read error (wrapped), or ErrNoEntries when the
// input is not empty of content yet yields no entry. In both cases the
// returned table is still usable and holds what was read, so the caller can
// report BadLines; empty input, or only comments and a version, gives an
// empty table and no error.
func ParseIDTable(r io.Reader) (*IDTable, error) {
	t := &IDTable{exact: map[idKey]int{}, byDev: map[uint16]int{}}
	br := bufio.NewReader(r)
	lineNo := 0
	content := false // saw a line that is not blank or a comment
	for {
		raw, tooLong, err := readBoundedLine(br)
		if err != nil && !errors.Is(err, io.EOF) {
			return t, fmt.Errorf("reading amdgpu.ids after line %d: %w", lineNo, err)
		}
		if raw == nil && errors.Is(err, io.EOF) {
			break
		}
		lineNo++
		if lineNo == 1 {
			raw = bytes.TrimPrefix(raw, []byte("\xef\xbb\xbf"))
		}
		t.parseLine(lineNo, raw, tooLong, &content)
		if errors.Is(err, io.EOF) {
			break
		}
	}
	if content && len(t.entries) == 0 {
		return t, fmt.Errorf("%w in %d lines (%d skipped as malformed)", ErrNoEntries, lineNo, len(t.bad))
	}
	return t, nil
}

func (t *IDTable) parseLine(lineNo int, raw []byte, tooLong bool, content *bool) {
	line := strings.TrimSpace(string(raw))
	if line == "" || line[0] == '#' {
		return
	}
	if tooLong {
		*content = true
		t.bad = append(t.bad, LineError{lineNo, fmt.Sprintf("longer than %d bytes", maxIDLine)})
		return
	}
	first := !t.versionSeen
	t.versionSeen = true
	// libdrm takes the first non-comment line as the version, whatever it
	// says; accept the usual form and flag anything else.
	if first && isVersion(line) {
		t.version = line
		return
	}
	*content = true
	if first {
		if _, _, reason := parseIDEntry(line); reason != "" {
			t.bad = append(t.bad, LineError{lineNo, "neither a version such as 1.0.0 nor an entry: " + reason})
			return
		}
		t.bad = append(t.bad, LineError{lineNo, "no version line such as 1.0.0 before the first entry"})
		// Go on: the entry itself is good and is kept.
	}
	key, name, reason := parseIDEntry(line)
	if reason != "" {
		t.bad = append(t.bad, LineError{lineNo, reason})
		return
	}
	t.add(key, name)
}

func (t *IDTable) add(key idKey, name string) {
	i := len(t.entries)
	t.entries = append(t.entries, idEntry{key, name})
	if _, ok := t.exact[key]; !ok {
		t.exact[key] = i
	}
	if _, ok := t.byDev[key.device]; !ok {
		t.byDev[key.device] = i
	}
}

// parseIDEntry splits "DEVICE, REVISION, NAME". reason is "" on success.
func parseIDEntry(line string) (idKey, string, string) {
	parts := strings.SplitN(line, ",", 3)
	if len(parts) < 3 {
		return idKey{}, "", "want DEVICE,<tab>REVISION,<tab>NAME"
	}
	dev, err := parseHexField(strings.TrimSpace(parts[0]), 4)
	if err != "" {
		return idKey{}, "", "device id " + err
	}
	rev, err := parseHexField(strings.TrimSpace(parts[1]), 2)
	if err != "" {
		return idKey{}, "", "revision " + err
	}
	name := strings.TrimSpace(parts[2])
	if name == "" {
		return idKey{}, "", "empty product name"
	}
	return idKey{dev, rev}, name, ""
}

func parseHexField(s string, maxDigits int) (uint16, string) {
	if s == "" {
		return 0, "is empty"
	}
	if len(s) > maxDigits {
		return 0, fmt.Sprintf("%q has more than %d hex digits", s, maxDigits)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return 0, fmt.Sprintf("%q is not hexadecimal", s)
		}
	}
	v, _ := strconv.ParseUint(s, 16, 16) // cannot fail: at most 4 hex digits
	return uint16(v), ""
}

// isVersion accepts dotted decimal numbers such as "1.0.0".
func isVersion(s string) bool {
	for _, part := range strings.Split(s, ".") {
		if !allDecimal(part) {
			return false
		}
	}
	return true
}

// readBoundedLine returns one line without its newline, keeping at most
// maxIDLine bytes of it; tooLong reports that the rest was dropped. At the
// end of input it returns io.EOF, with the last line if it had no newline.
func readBoundedLine(br *bufio.Reader) (line []byte, tooLong bool, err error) {
	for {
		chunk, err := br.ReadSlice('\n')
		chunk = bytes.TrimSuffix(chunk, []byte("\n"))
		room := maxIDLine - len(line)
		if len(chunk) > room {
			chunk, tooLong = chunk[:room], true
		}
		line = append(line, chunk...)
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil && len(line) == 0 && !tooLong {
			return nil, false, err
		}
		return line, tooLong, err
	}
}

// Version is the table's version line ("1.0.0"), or "" if it had none.
func (t *IDTable) Version() string { return t.version }

// BadLines lists the skipped lines in file order.
func (t *IDTable) BadLines() []LineError {
	return append([]LineError(nil), t.bad...)
}

// Len is the number of entries kept.
func (t *IDTable) Len() int { return len(t.entries) }

// Lookup finds the name for a device: the first entry with the same device
// and revision if there is one (exact is true), else the first entry for the
// device alone, which is how libdrm-based tools name a board of an unlisted
// revision. ok is false when the device is not in the table.
func (t *IDTable) Lookup(deviceID, revision uint16) (name string, exact bool, ok bool) {
	if t == nil {
		return "", false, false
	}
	if i, found := t.exact[idKey{deviceID, revision}]; found {
		return t.entries[i].name, true, true
	}
	if i, found := t.byDev[deviceID]; found {
		return t.entries[i].name, false, true
	}
	return "", false, false
}
