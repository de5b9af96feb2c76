package setup

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/rocm-patch/rocm-patch/internal/atomicfile"
	"github.com/rocm-patch/rocm-patch/internal/kparams"
)

// ErrChanged is wrapped when a file changed between the plan and the write.
var ErrChanged = errors.New("changed since setup read it; run setup again")

// ShellAction is what the shell step does to the start-up file.
type ShellAction int

// The actions of the shell step.
const (
	// ShellAdd appends the block (creating the file when there is none).
	ShellAdd ShellAction = iota
	// ShellUpdate replaces a block an earlier setup recorded with this
	// one (another binary path or policy), in place.
	ShellUpdate
	// ShellNothing: the block is already there, byte for byte.
	ShellNothing
)

// ShellPlan is what the shell step would do; PlanShell makes it and
// ApplyShell carries it out.
type ShellPlan struct {
	Shell Shell
	// File is the start-up file as the shell names it.
	File string
	// Target is the file written: File, or where File's symbolic link
	// leads (the link is kept, not replaced by a file).
	Target string
	Block  []byte
	Action ShellAction
	// Exists says whether Target exists now.
	Exists bool
	// Recorded says, for ShellNothing, whether the manifest records the
	// block, so that undo removes it; a block setup did not record (the
	// manifest was deleted) is left alone by undo.
	Recorded bool

	current []byte
	mode    fs.FileMode
	prior   *Change
}

// PlanShell reads the start-up file of sh and decides what adding block
// takes. It refuses, naming the file, when the file holds a rocm-patch
// block that setup did not write as it is (an edit, a copy), when the file
// is a link to nothing or not a regular file, or when it belongs to another
// user (rewriting it would make it this user's).
func (s *Session) PlanShell(sh Shell, block []byte) (*ShellPlan, error) {
	if err := CheckBlock(block); err != nil {
		return nil, err
	}
	p := &ShellPlan{Shell: sh, File: s.Home.StartupFile(sh), Block: block}
	target, err := resolveLink(p.File)
	if err != nil {
		return nil, err
	}
	p.Target = target
	cur, fi, err := readRegular(target)
	if err != nil {
		return nil, err
	}
	p.Exists = fi != nil
	p.current = cur
	p.mode = 0o644
	if fi != nil {
		p.mode = fi.Mode().Perm()
		if err := checkOwner(target, fi); err != nil {
			return nil, err
		}
	}
	var prior *Change
	if i := s.Manifest.find(StepShell, target); i >= 0 {
		c := s.Manifest.Changes[i]
		prior = &c
	}
	switch Find(cur, block) {
	case Present:
		p.Action = ShellNothing
		p.Recorded = prior != nil && bytes.Equal([]byte(prior.Shell.Block), block)
		return p, nil
	case Absent:
		p.Action = ShellAdd
		return p, nil
	}
	if prior != nil {
		if _, err := locate(cur, []byte(prior.Shell.Block)); err == nil {
			p.Action = ShellUpdate
			p.prior = prior
			return p, nil
		}
	}
	if _, err := locate(cur, block); errors.Is(err, ErrAmbiguous) {
		return nil, fmt.Errorf("%s: %w", target, ErrAmbiguous)
	}
	return nil, fmt.Errorf("%s: %w", target, ErrEdited)
}

// ApplyShell carries out p: the manifest records the change first, then
// the file is written atomically (the old bytes or the new ones, never a
// mix), with its permissions kept. Folders missing on the way to a new
// file (fish's ~/.config/fish) are created and recorded.
func (s *Session) ApplyShell(p *ShellPlan) (*Change, error) {
	if p.Action == ShellNothing {
		return nil, nil
	}
	cur, fi, err := readRegular(p.Target)
	if err != nil {
		return nil, err
	}
	if (fi != nil) != p.Exists || !bytes.Equal(cur, p.current) {
		return nil, fmt.Errorf("%s: %w", p.Target, ErrChanged)
	}
	var out []byte
	var c Change
	switch p.Action {
	case ShellAdd:
		var prefix []byte
		out, prefix = Insert(cur, p.Block)
		c = Change{
			Step:    StepShell,
			File:    p.Target,
			Created: !p.Exists,
			Shell:   &ShellChange{Shell: p.Shell, Prefix: string(prefix), Block: string(p.Block)},
		}
		if p.Target != p.File {
			c.Shell.Link = p.File
		}
		if !p.Exists {
			if c.Dirs, err = makeDirs(filepath.Dir(p.Target), 0o755); err != nil {
				return nil, fmt.Errorf("%s: %w", p.Target, err)
			}
		}
	case ShellUpdate:
		if out, err = Replace(cur, []byte(p.prior.Shell.Block), p.Block); err != nil {
			return nil, fmt.Errorf("%s: %w", p.Target, err)
		}
		c = *p.prior
		sc := *c.Shell
		sc.Block = string(p.Block)
		c.Shell = &sc
	}
	c.Time = s.Now().UTC()
	c.SHA256 = kparams.Digest(out)
	if err := s.record(c); err != nil {
		removeEmptyDirs(c.Dirs)
		return nil, err
	}
	if err := writeFile(p.Target, out, p.mode); err != nil {
		if p.Action == ShellAdd {
			s.forget(c)
			removeEmptyDirs(c.Dirs)
		}
		return nil, err
	}
	return &c, nil
}

// BashLoginNote says, when it matters, that bash login shells (ssh, a text
// console) will not read ~/.bashrc: bash reads the first of ~/.bash_profile,
// ~/.bash_login and ~/.profile that exists instead, and only the
// distributions' default versions of them source ~/.bashrc. It returns ""
// when the one bash reads mentions .bashrc.
func BashLoginNote(h Home) string {
	for _, name := range []string{".bash_profile", ".bash_login", ".profile"} {
		data, err := os.ReadFile(filepath.Join(h.Dir, name))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err == nil && bytes.Contains(data, []byte(".bashrc")) {
			return ""
		}
		return fmt.Sprintf("bash login shells (ssh, a text console) read ~/%s instead of ~/.bashrc, and it does not source ~/.bashrc: add `. ~/.bashrc` to it for them to get the block", name)
	}
	return "bash login shells (ssh, a text console) read ~/.bash_profile, ~/.bash_login or ~/.profile, and there is none here, so they will not read ~/.bashrc"
}

// resolveLink returns where name leads when it is a symbolic link, so
// that the link is kept, and name otherwise. A link that leads nowhere is
// refused: writing through it would create a file somewhere unexpected.
func resolveLink(name string) (string, error) {
	fi, err := os.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return name, nil
	}
	if err != nil {
		return "", err
	}
	if fi.Mode()&fs.ModeSymlink == 0 {
		return name, nil
	}
	target, err := filepath.EvalSymlinks(name)
	if err != nil {
		return "", fmt.Errorf("%s is a symbolic link that leads nowhere (%w); fix or remove the link", name, err)
	}
	abs, err := filepath.Abs(target)
	if err != nil {
		return "", err
	}
	return abs, nil
}

// readRegular reads a regular file; a missing one reads as nil with a nil
// FileInfo. Anything else (a folder, a device) is refused.
func readRegular(name string) ([]byte, fs.FileInfo, error) {
	fi, err := os.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("%s: not a regular file", name)
	}
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, nil, err
	}
	return data, fi, nil
}

// checkOwner refuses a file another user owns: the atomic rename would
// replace it with one this user owns.
func checkOwner(name string, fi fs.FileInfo) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	if uid := os.Geteuid(); int(st.Uid) != uid {
		return fmt.Errorf("%s belongs to user id %d, not to this user (%d): rewriting it would change its owner; run setup as its owner", name, st.Uid, uid)
	}
	return nil
}

// writeFile replaces name atomically with data.
func writeFile(name string, data []byte, perm fs.FileMode) error {
	return atomicfile.WriteFile(name, data, perm)
}
