package setup

import (
	"bytes"
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"strings"
	"unicode"

	"github.com/rocm-patch/rocm-patch/internal/envlayer"
)

// Shell is a shell whose start-up file setup can extend.
type Shell string

// The shells setup supports.
const (
	Bash Shell = "bash"
	Zsh  Shell = "zsh"
	Fish Shell = "fish"
)

// Shells lists the supported shells, in the order help texts name them.
var Shells = []Shell{Bash, Zsh, Fish}

// ErrUnsupportedShell is wrapped when a shell is not one of Shells.
var ErrUnsupportedShell = errors.New("unsupported shell")

// ParseShell reads a --shell value.
func ParseShell(s string) (Shell, error) {
	for _, sh := range Shells {
		if s == string(sh) {
			return sh, nil
		}
	}
	return "", fmt.Errorf("%q: %w (want bash, zsh or fish)", s, ErrUnsupportedShell)
}

// ShellFromPath chooses the shell from $SHELL, the user's login shell
// (/bin/bash, /usr/bin/zsh, /usr/local/bin/fish ...): its base name decides.
func ShellFromPath(shellVar string) (Shell, error) {
	if shellVar == "" {
		return "", fmt.Errorf("$SHELL is not set: %w; pass --shell bash, zsh or fish", ErrUnsupportedShell)
	}
	sh, err := ParseShell(path.Base(shellVar))
	if err != nil {
		return "", fmt.Errorf("$SHELL is %s: %w; pass --shell bash, zsh or fish", shellVar, ErrUnsupportedShell)
	}
	return sh, nil
}

// The lines that open and close the block. They are what Find looks for,
// so they never change: a block written by an older rocm-patch must still
// be found.
const (
	BeginMarker = "# >>> rocm-patch setup >>>"
	EndMarker   = "# <<< rocm-patch setup <<<"
)

// BlockOptions say what the block runs.
type BlockOptions struct {
	// Executable is the absolute path of the rocm-patch binary the block
	// calls. A path and not a name: a shell's PATH is not always set up
	// when its start-up file runs, and a name could find another binary.
	Executable string
	// Policy is passed to `rocm-patch env --policy` unless it is "" or
	// "mitigate", env's default.
	Policy string
}

// Block returns the marked block for sh. The block only calls rocm-patch
// when the binary is still there (`[ -x ]`, fish's `test -x`), so a shell
// whose rocm-patch was removed starts without an error.
func Block(sh Shell, o BlockOptions) ([]byte, error) {
	if err := checkExecutable(o.Executable); err != nil {
		return nil, err
	}
	args := "env"
	switch sh {
	case Zsh, Fish:
		args += " --shell " + string(sh)
	case Bash:
	default:
		return nil, fmt.Errorf("%q: %w", sh, ErrUnsupportedShell)
	}
	if o.Policy != "" && o.Policy != "mitigate" {
		if strings.Trim(o.Policy, "abcdefghijklmnopqrstuvwxyz-") != "" {
			return nil, fmt.Errorf("policy %q: not a policy name", o.Policy)
		}
		args += " --policy " + o.Policy
	}
	var b strings.Builder
	b.WriteString(BeginMarker + "\n")
	b.WriteString("# The environment layer for this machine's AMD GPUs (rocm-patch env).\n")
	b.WriteString("# Added by rocm-patch setup; rocm-patch setup --undo removes this block.\n")
	if sh == Fish {
		q := envlayer.QuoteFish(o.Executable)
		fmt.Fprintf(&b, "if test -x %s\n    %s %s | source\nend\n", q, q, args)
	} else {
		q := envlayer.QuotePOSIX(o.Executable)
		fmt.Fprintf(&b, "if [ -x %s ]; then\n    eval \"$(%s %s)\"\nfi\n", q, q, args)
	}
	b.WriteString(EndMarker + "\n")
	return []byte(b.String()), nil
}

// checkExecutable refuses a path that would make the block hard to read or
// wrong: relative, or holding a control character (quoting would keep a
// newline safe, but nobody should have to read one in a start-up file).
func checkExecutable(p string) error {
	if p == "" || !filepath.IsAbs(p) {
		return fmt.Errorf("executable %q: not an absolute path", p)
	}
	for _, r := range p {
		if unicode.IsControl(r) || r == unicode.ReplacementChar {
			return fmt.Errorf("executable %q: holds a control character or invalid UTF-8", p)
		}
	}
	return nil
}

// The refusals of Remove and Replace. Each leaves the data as it was.
var (
	// ErrNotFound: neither the block nor a marker is in the file; the
	// user removed the block, so there is nothing to remove.
	ErrNotFound = errors.New("the rocm-patch block is no longer there")
	// ErrEdited: a marker is there but the block's bytes are not: the
	// user edited inside the block.
	ErrEdited = errors.New("the rocm-patch block was edited by hand; remove it yourself, or restore it as setup wrote it")
	// ErrAmbiguous: the block is there more than once, or a marker
	// stands outside it, so which bytes setup added is not clear.
	ErrAmbiguous = errors.New("the rocm-patch markers appear more than once; remove the extra copies by hand")
)

// Presence is what Find says about a file.
type Presence int

// The answers of Find.
const (
	// Absent: no marker line.
	Absent Presence = iota
	// Present: the block, byte for byte, once, and no other marker.
	Present
	// Different: markers that are not exactly one copy of the block
	// (another version of it, an edit, a copy).
	Different
)

// Find says whether data holds block. Markers count only as whole lines.
func Find(data, block []byte) Presence {
	markers := countMarkers(data)
	if markers == 0 {
		return Absent
	}
	if len(lineStarts(data, block)) == 1 && markers == countMarkers(block) {
		return Present
	}
	return Different
}

// Insert returns data with block appended and the bytes put before the
// block (the prefix), which Remove needs to give data back. The prefix
// ends the last line when data does not, and adds one blank line to set
// the block apart, unless data is empty or already ends with one.
func Insert(data, block []byte) (out, prefix []byte) {
	switch {
	case len(data) == 0, bytes.HasSuffix(data, []byte("\n\n")):
		prefix = nil
	case data[len(data)-1] == '\n':
		prefix = []byte("\n")
	default:
		prefix = []byte("\n\n")
	}
	out = make([]byte, 0, len(data)+len(prefix)+len(block))
	out = append(append(append(out, data...), prefix...), block...)
	return out, prefix
}

// locate finds the one copy of block in data, or says why it cannot.
func locate(data, block []byte) (int, error) {
	at := lineStarts(data, block)
	switch {
	case len(at) > 1:
		return 0, ErrAmbiguous
	case len(at) == 1 && countMarkers(data) == countMarkers(block):
		return at[0], nil
	case len(at) == 1:
		return 0, ErrAmbiguous
	case countMarkers(data) == 0:
		return 0, ErrNotFound
	}
	return 0, ErrEdited
}

// Remove takes out of data the block and the prefix that Insert added,
// so that Remove(Insert(x)) gives x back byte for byte. Lines the user added
// around the block since are kept: if the prefix is no longer right before
// the block, only the block goes, and a line before it is never joined to a
// line after it.
func Remove(data, prefix, block []byte) ([]byte, error) {
	i, err := locate(data, block)
	if err != nil {
		return nil, err
	}
	before, after := data[:i], data[i+len(block):]
	// Insert's prefix always leaves a blank line right before the block;
	// without one the user changed what is there, and it stays.
	if len(prefix) > 0 && bytes.HasSuffix(before, []byte("\n\n")) {
		before = before[:len(before)-len(prefix)]
	}
	out := make([]byte, 0, len(before)+1+len(after))
	out = append(out, before...)
	if len(before) > 0 && before[len(before)-1] != '\n' && len(after) > 0 {
		out = append(out, '\n')
	}
	return append(out, after...), nil
}

// Replace puts next where old is, for a second setup that writes another
// block (another binary path, another policy); the prefix stays, so Remove
// with the same prefix still gives the original back.
func Replace(data, old, next []byte) ([]byte, error) {
	i, err := locate(data, old)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(data)-len(old)+len(next))
	out = append(append(append(out, data[:i]...), next...), data[i+len(old):]...)
	return out, nil
}

// CheckBlock accepts only what Block can produce in shape: the begin
// marker first, the end marker last, both once. An edited manifest can
// then never make Remove take out anything but a marked block.
func CheckBlock(block []byte) error {
	if !bytes.HasPrefix(block, []byte(BeginMarker+"\n")) || !bytes.HasSuffix(block, []byte("\n"+EndMarker+"\n")) || countMarkers(block) != 2 {
		return errors.New("not a rocm-patch setup block")
	}
	return nil
}

// CheckPrefix accepts only the prefixes Insert produces.
func CheckPrefix(prefix []byte) error {
	switch string(prefix) {
	case "", "\n", "\n\n":
		return nil
	}
	return fmt.Errorf("prefix %q: not one setup writes", prefix)
}

// lineStarts returns every offset at which block starts a line of data.
func lineStarts(data, block []byte) []int {
	var at []int
	if len(block) == 0 {
		return nil
	}
	for off := 0; off <= len(data)-len(block); {
		j := bytes.Index(data[off:], block)
		if j < 0 {
			break
		}
		i := off + j
		if i == 0 || data[i-1] == '\n' {
			at = append(at, i)
		}
		off = i + 1
	}
	return at
}

// countMarkers counts the lines of data that are a marker, ignoring a
// carriage return and spaces around it so that a file converted to CRLF
// or re-indented still shows that a block was there.
func countMarkers(data []byte) int {
	n := 0
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		switch string(bytes.TrimSpace(line)) {
		case BeginMarker, EndMarker:
			n++
		}
	}
	return n
}
