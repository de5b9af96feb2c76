package system

import (
	"fmt"
	"strconv"
	"strings"
)

// Properties is a parsed KFD topology properties file: one "key value" pair
// a line, values unsigned decimal (hive_id and unique_id use all 64 bits).
type Properties struct {
	values map[string]string
	// Problems lists the lines that were not "key value" pairs, as
	// "line N: why", so a note can name them.
	Problems []string
}

// ParseProperties parses a properties file. It never fails: a truncated or
// garbled file yields the keys that could be read and Problems for the rest,
// because a partial answer is worth more to the user than none.
func ParseProperties(data []byte) Properties {
	p := Properties{values: map[string]string{}}
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		key, value, ok := strings.Cut(line, " ")
		value = strings.TrimSpace(value)
		if !ok || key == "" || value == "" || strings.ContainsAny(value, " \t") {
			p.Problems = append(p.Problems, fmt.Sprintf("line %d: want \"key value\", got %q", i+1, clip(line)))
			continue
		}
		if _, dup := p.values[key]; dup {
			p.Problems = append(p.Problems, fmt.Sprintf("line %d: %s repeated; keeping the first", i+1, key))
			continue
		}
		p.values[key] = value
	}
	return p
}

// Has reports whether key is present.
func (p Properties) Has(key string) bool {
	_, ok := p.values[key]
	return ok
}

// Uint returns key as an unsigned number. ok is false when the key is
// absent; err is set when it is present but not a number.
func (p Properties) Uint(key string) (v uint64, ok bool, err error) {
	s, ok := p.values[key]
	if !ok {
		return 0, false, nil
	}
	v, err = strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, true, fmt.Errorf("%s: %q is not an unsigned number", key, clip(s))
	}
	return v, true, nil
}

// Len is the number of keys read.
func (p Properties) Len() int { return len(p.values) }

// clip keeps quoted garbage short in notes.
func clip(s string) string {
	const max = 40
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}
