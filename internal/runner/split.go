package runner

import (
	"errors"
	"strings"
)

// ErrUnterminatedQuote and ErrTrailingBackslash are wrapped by SplitArgs.
var (
	ErrUnterminatedQuote = errors.New("unterminated quote")
	ErrTrailingBackslash = errors.New("backslash at the end")
)

// SplitArgs splits s into words the way a POSIX shell splits a simple
// command line, without any expansion: blanks (space, tab, newline)
// separate words; inside single quotes every byte is literal; inside
// double quotes a backslash escapes only $ ` " \ and newline; elsewhere a
// backslash escapes the next byte, and backslash-newline is removed. A
// pair of quotes with nothing inside makes an empty word. $VAR, globs and substitutions stay as written:
// --resume-args is data, and a shell that expanded it would already have
// done so before rocm-patch saw it.
func SplitArgs(s string) ([]string, error) {
	var (
		words []string
		cur   strings.Builder
		in    bool // a word has started (possibly empty, from quotes)
	)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case ' ', '\t', '\n':
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		case '\'':
			end := strings.IndexByte(s[i+1:], '\'')
			if end < 0 {
				return nil, ErrUnterminatedQuote
			}
			cur.WriteString(s[i+1 : i+1+end])
			i += end + 1
			in = true
		case '"':
			in = true
			i++
			for ; ; i++ {
				if i >= len(s) {
					return nil, ErrUnterminatedQuote
				}
				if s[i] == '"' {
					break
				}
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("$`\"\\\n", s[i+1]) >= 0 {
					i++
					if s[i] == '\n' {
						continue
					}
				}
				cur.WriteByte(s[i])
			}
		case '\\':
			if i+1 >= len(s) {
				return nil, ErrTrailingBackslash
			}
			i++
			if s[i] == '\n' {
				continue
			}
			cur.WriteByte(s[i])
			in = true
		default:
			cur.WriteByte(c)
			in = true
		}
	}
	if in {
		words = append(words, cur.String())
	}
	return words, nil
}
