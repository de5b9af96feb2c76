package envlayer

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Shell is an output format of the environment layer.
type Shell string

// The formats Render writes.
const (
	Bash    Shell = "bash"
	Zsh     Shell = "zsh"
	Fish    Shell = "fish"
	Dotenv  Shell = "dotenv"
	Systemd Shell = "systemd"
	JSON    Shell = "json"
)

// Shells lists every format, in the order --help shows them.
var Shells = []Shell{Bash, Zsh, Fish, Dotenv, Systemd, JSON, SlurmTaskProlog}

// ParseShell reads a format name as the command line spells it.
func ParseShell(s string) (Shell, error) {
	for _, sh := range Shells {
		if string(sh) == s {
			return sh, nil
		}
	}
	names := make([]string, len(Shells))
	for i, sh := range Shells {
		names[i] = string(sh)
	}
	return "", fmt.Errorf("unknown shell %q (want %s)", s, strings.Join(names, ", "))
}

// JSONSchema names the JSON form of a Layer (docs/json.md).
const JSONSchema = "rocm-patch/env/v1"

// ErrBadName is wrapped when a variable name is not a portable identifier;
// no shell could assign it safely.
var ErrBadName = errors.New("not a valid environment variable name")

// ErrUnrepresentable is wrapped when a value cannot be written in the
// chosen format without changing it.
var ErrUnrepresentable = errors.New("value cannot be written in this format")

var namePattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// commentWidth is where comment text wraps: readable in a terminal and in
// a unit file.
const commentWidth = 78

// Render writes the layer in format sh. Every value is quoted so that the
// shell (or parser) reads back exactly the bytes of Var.Value; a value the
// format cannot carry (a NUL byte anywhere; in dotenv, a quote, backslash
// or newline) is an error rather than a silently different value.
func Render(l Layer, sh Shell) (string, error) {
	for _, v := range l.Vars {
		if !namePattern.MatchString(v.Name) {
			return "", fmt.Errorf("variable %q: %w", v.Name, ErrBadName)
		}
		if strings.IndexByte(v.Value, 0) >= 0 {
			return "", fmt.Errorf("variable %s: %w: it holds a NUL byte, which no environment can", v.Name, ErrUnrepresentable)
		}
	}
	switch sh {
	case Bash, Zsh:
		return renderPOSIX(l, sh), nil
	case Fish:
		return renderFish(l), nil
	case Dotenv:
		return renderDotenv(l)
	case Systemd:
		return renderSystemd(l), nil
	case JSON:
		return renderJSON(l)
	case SlurmTaskProlog:
		return renderSlurmTaskProlog(l)
	}
	return "", fmt.Errorf("render: unknown shell %q", sh)
}

// loadHint tells the user how to apply the output, with the flags that
// produced it.
func loadHint(sh Shell, policy string) string {
	flags := ""
	if sh != Bash {
		flags += " --shell " + string(sh)
	}
	if policy != "" && policy != "mitigate" {
		flags += " --policy " + policy
	}
	switch sh {
	case Bash, Zsh:
		return `Load with: eval "$(rocm-patch env` + flags + `)"`
	case Fish:
		return "Load with: rocm-patch env" + flags + " | source"
	case Dotenv:
		return "Use as an env file (docker compose env_file, python-dotenv, systemd EnvironmentFile=)"
	case Systemd:
		return "A drop-in for the training service: systemctl edit <unit>, paste, save"
	}
	return ""
}

func renderPOSIX(l Layer, sh Shell) string {
	var b strings.Builder
	writeHeader(&b, l, sh)
	for _, v := range l.Vars {
		writeVarComment(&b, v)
		if v.Unset {
			fmt.Fprintf(&b, "unset %s\n", v.Name)
		} else {
			fmt.Fprintf(&b, "export %s=%s\n", v.Name, QuotePOSIX(v.Value))
		}
	}
	return b.String()
}

// QuotePOSIX quotes s for bash, zsh and any POSIX shell as one
// single-quoted word; a quote inside closes the quoting, adds an escaped
// quote and reopens it. Inside single quotes nothing is special ($,
// backticks, backslashes and newlines are literal), so eval reads back
// exactly s.
func QuotePOSIX(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func renderFish(l Layer) string {
	var b strings.Builder
	writeHeader(&b, l, Fish)
	for _, v := range l.Vars {
		writeVarComment(&b, v)
		if v.Unset {
			fmt.Fprintf(&b, "set -e %s\n", v.Name)
		} else {
			fmt.Fprintf(&b, "set -gx %s %s\n", v.Name, QuoteFish(v.Value))
		}
	}
	return b.String()
}

// QuoteFish quotes s for fish: single quotes, in which only \\ and \' are
// escapes; $, double quotes and newlines are literal.
func QuoteFish(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	s = strings.ReplaceAll(s, `'`, `\'`)
	return "'" + s + "'"
}

func renderDotenv(l Layer) (string, error) {
	var b strings.Builder
	writeHeader(&b, l, Dotenv)
	for _, v := range l.Vars {
		writeVarComment(&b, v)
		if v.Unset {
			// An env file can only assign; saying so beats writing NAME=,
			// which sets an empty value and means something else.
			fmt.Fprintf(&b, "# UNSET %s: an env file cannot remove a variable; remove it where it is set\n", v.Name)
			continue
		}
		q, err := QuoteDotenv(v.Value)
		if err != nil {
			return "", fmt.Errorf("variable %s: %w", v.Name, err)
		}
		fmt.Fprintf(&b, "%s=%s\n", v.Name, q)
	}
	return b.String(), nil
}

// QuoteDotenv writes s so that the common env-file readers (python-dotenv,
// the dotenv of Node, docker compose, systemd's EnvironmentFile=) all read
// the same value. They agree on a bare value made of safe characters and
// on a single-quoted value with no quote, backslash, newline or $ inside;
// they disagree about every escape, and python-dotenv expands ${VAR} even
// in single quotes, so a value that would need one of those is refused
// with ErrUnrepresentable.
func QuoteDotenv(s string) (string, error) {
	if s != "" && isDotenvBare(s) {
		return s, nil
	}
	if strings.ContainsAny(s, "'\\\n\r$") {
		return "", fmt.Errorf("%w: dotenv readers disagree on quotes, backslashes, newlines and $; use --shell json", ErrUnrepresentable)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return "", fmt.Errorf("%w: control character %U", ErrUnrepresentable, r)
		}
	}
	return "'" + s + "'", nil
}

func isDotenvBare(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("_.,:/+@-", c) >= 0:
		default:
			return false
		}
	}
	return true
}

func renderSystemd(l Layer) string {
	var b strings.Builder
	writeHeader(&b, l, Systemd)
	if len(l.Vars) == 0 {
		return b.String()
	}
	b.WriteString("[Service]\n")
	for _, v := range l.Vars {
		writeVarComment(&b, v)
		if v.Unset {
			fmt.Fprintf(&b, "UnsetEnvironment=%s\n", v.Name)
		} else {
			fmt.Fprintf(&b, "Environment=%s\n", QuoteSystemd(v.Name+"="+v.Value))
		}
	}
	return b.String()
}

// QuoteSystemd quotes one NAME=value assignment for Environment= in a unit
// file. systemd splits the setting into words, removes double quotes,
// resolves C escapes inside them, and expands %-specifiers first; so
// backslash and double quote are escaped, % is doubled, and newlines and
// other control characters become \n, \t or \xNN. $ needs nothing:
// Environment= never expands variables.
func QuoteSystemd(assignment string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(assignment); {
		r, size := utf8.DecodeRuneInString(assignment[i:])
		if r == utf8.RuneError && size == 1 {
			fmt.Fprintf(&b, `\x%02x`, assignment[i])
			i++
			continue
		}
		i += size
		switch r {
		case '\\':
			b.WriteString(`\\`)
		case '"':
			b.WriteString(`\"`)
		case '%':
			b.WriteString("%%")
		case '\n':
			b.WriteString(`\n`)
		case '\t':
			b.WriteString(`\t`)
		case '\r':
			b.WriteString(`\r`)
		default:
			if r < 0x20 || r == 0x7f {
				fmt.Fprintf(&b, `\x%02x`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

// jsonLayer is the rocm-patch/env/v1 document.
type jsonLayer struct {
	Schema    string    `json:"schema"`
	Policy    string    `json:"policy"`
	Notes     []string  `json:"notes"`
	Variables []jsonVar `json:"variables"`
}

type jsonVar struct {
	Name    string  `json:"name"`
	Value   *string `json:"value"`
	Action  string  `json:"action"`
	Setting string  `json:"setting"`
	Does    string  `json:"does"`
	Cost    string  `json:"cost"`
	Why     string  `json:"why"`
	GPUs    []int   `json:"gpus"`
}

func renderJSON(l Layer) (string, error) {
	doc := jsonLayer{Schema: JSONSchema, Policy: l.Policy, Notes: append([]string{}, l.Notes...), Variables: []jsonVar{}}
	for _, v := range l.Vars {
		jv := jsonVar{Name: v.Name, Action: "set", Setting: v.Setting, Does: v.Does, Cost: v.Cost, Why: v.Why, GPUs: append([]int{}, v.GPUs...)}
		if v.Unset {
			jv.Action = "unset"
		} else {
			value := v.Value
			jv.Value = &value
		}
		doc.Variables = append(doc.Variables, jv)
	}
	data, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return "", fmt.Errorf("render json: %w", err)
	}
	return string(data) + "\n", nil
}

func writeHeader(b *strings.Builder, l Layer, sh Shell) {
	for _, line := range l.Header {
		writeComment(b, "", line)
	}
	for _, n := range l.Notes {
		writeComment(b, "", n)
	}
	if len(l.Vars) > 0 {
		if hint := loadHint(sh, l.Policy); hint != "" {
			writeComment(b, "", hint)
		}
	}
}

func writeVarComment(b *strings.Builder, v Var) {
	b.WriteString("\n")
	// The value itself stays out of comments: the assignment below shows
	// it, quoted, and a comment has no quoting.
	if v.Unset {
		writeComment(b, "", "unset "+v.Name)
	} else {
		writeComment(b, "", v.Name)
	}
	if v.Why != "" {
		writeComment(b, "  why:  ", v.Why)
	}
	if v.Does != "" {
		writeComment(b, "  does: ", v.Does)
	}
	if v.Cost != "" {
		writeComment(b, "  cost: ", v.Cost)
	}
}

// writeComment writes text as '#' lines, wrapped at commentWidth, the first
// line led by label and the others indented to match. Control characters
// are replaced so that nothing can end the comment early: in every format
// a comment stops at the end of its line.
func writeComment(b *strings.Builder, label, text string) {
	text = CommentSafe(text)
	indent := strings.Repeat(" ", utf8.RuneCountInString(label))
	line := "#"
	if label != "" || text != "" {
		line += " " + label
	}
	width := utf8.RuneCountInString(line)
	first := true
	for _, word := range strings.Fields(text) {
		wl := utf8.RuneCountInString(word)
		if !first && width+1+wl > commentWidth {
			b.WriteString(endComment(line))
			line = "# " + indent
			width = utf8.RuneCountInString(line)
			first = true
		}
		if !first {
			line += " "
			width++
		}
		line += word
		width += wl
		first = false
	}
	b.WriteString(endComment(line))
}

// endComment finishes a comment line. A line ending in a backslash would
// continue onto the next line in a systemd unit, so one gets a final dot.
func endComment(line string) string {
	line = strings.TrimRight(line, " ")
	if strings.HasSuffix(line, `\`) {
		line += "."
	}
	return line + "\n"
}

// CommentSafe replaces every control character (newlines included) and
// invalid UTF-8 with a space, so that text taken from the machine (a GPU
// name, a variable's value) cannot break out of a comment line.
func CommentSafe(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		if (r == utf8.RuneError && size == 1) || unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			b.WriteByte(' ')
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
