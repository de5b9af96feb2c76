package setup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/rocm-patch/rocm-patch/internal/fsroot"
	"github.com/rocm-patch/rocm-patch/internal/kparams"
)

// UndoAction is what undo does for one change.
type UndoAction int

// The actions of undo.
const (
	// UndoRestore writes the start-up file back without what setup added.
	UndoRestore UndoAction = iota
	// UndoRemoveFile removes the start-up file setup created, which holds
	// nothing else, and the folders setup created for it when empty.
	UndoRemoveFile
	// UndoForget only drops the record: what setup added is already gone.
	UndoForget
	// UndoUninstall removes the Python path file.
	UndoUninstall
	// UndoRollback restores the modprobe.d file the kernel apply replaced.
	UndoRollback
	// UndoRollbackRemove removes the modprobe.d file the kernel apply
	// created.
	UndoRollbackRemove
)

// Undo is the undo of one change, decided before anything is touched.
type Undo struct {
	Change Change
	Action UndoAction
	// Note says something the user should know: that the file changed
	// since setup, or why there is nothing to do.
	Note string
	// Rollback is what the kernel rollback did, after Do.
	Rollback *kparams.RollbackResult

	current []byte
	exists  bool
	result  []byte
	mode    fs.FileMode
	root    *fsroot.Root
	environ []string
}

// UndoOptions are what undo needs beyond the manifest.
type UndoOptions struct {
	// Environ is the environment the Python path package is given (HOME,
	// PATH, VIRTUAL_ENV ...).
	Environ []string
}

// PlanUndo decides the undo of every recorded change, newest first,
// touching nothing. If any change cannot be taken back safely (the user
// edited inside the block, the block appears twice, a later kernel apply
// is recorded, the user may not write a file) it refuses the whole undo,
// naming the file, so that nothing is half undone.
func (s *Session) PlanUndo(ctx context.Context, o UndoOptions) ([]*Undo, error) {
	var out []*Undo
	for i := len(s.Manifest.Changes) - 1; i >= 0; i-- {
		c := s.Manifest.Changes[i]
		var u *Undo
		var err error
		switch c.Step {
		case StepShell:
			u, err = planShellUndo(c)
		case StepPython:
			u, err = planPythonUndo(ctx, c, o)
		case StepKernel:
			u, err = planKernelUndo(c)
		default:
			err = fmt.Errorf("unknown step %q", c.Step)
		}
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, nil
}

func planShellUndo(c Change) (*Undo, error) {
	u := &Undo{Change: c}
	cur, fi, err := readRegular(c.File)
	if err != nil {
		return nil, err
	}
	if fi == nil {
		u.Action = UndoForget
		u.Note = c.File + " no longer exists"
		return u, nil
	}
	if err := checkOwner(c.File, fi); err != nil {
		return nil, err
	}
	u.current, u.exists, u.mode = cur, true, fi.Mode().Perm()
	out, err := Remove(cur, []byte(c.Shell.Prefix), []byte(c.Shell.Block))
	switch {
	case errors.Is(err, ErrNotFound):
		u.Action = UndoForget
		u.Note = "the block is no longer in " + c.File
		return u, nil
	case err != nil:
		return nil, fmt.Errorf("%s: %w", c.File, err)
	}
	u.result = out
	u.Action = UndoRestore
	changed := kparams.Digest(cur) != c.SHA256
	switch {
	case c.Created && len(out) == 0:
		u.Action = UndoRemoveFile
	case c.Created:
		u.Note = "setup created it, and it now holds lines added since: it is kept, without the block"
	case changed:
		u.Note = "it changed since setup: only the block, and the blank line setup put before it, are taken out"
	}
	return u, nil
}

// Undo carries out u and drops its change from the manifest. A start-up
// file is checked once more against the bytes PlanUndo read: if it
// changed in between, nothing is written.
func (s *Session) Undo(ctx context.Context, u *Undo) error {
	switch u.Action {
	case UndoRestore, UndoRemoveFile:
		cur, fi, err := readRegular(u.Change.File)
		if err != nil {
			return err
		}
		if fi == nil || !bytes.Equal(cur, u.current) {
			return fmt.Errorf("%s: %w", u.Change.File, ErrChanged)
		}
		if u.Action == UndoRestore {
			if err := writeFile(u.Change.File, u.result, u.mode); err != nil {
				return err
			}
		} else {
			if err := os.Remove(u.Change.File); err != nil {
				return err
			}
			removeEmptyDirs(u.Change.Dirs)
		}
	case UndoUninstall:
		if err := undoPython(ctx, u); err != nil {
			return err
		}
	case UndoRollback, UndoRollbackRemove:
		// Once more, just before: an apply in between would otherwise be
		// the one rolled back.
		again, err := planKernelUndo(u.Change)
		if err != nil {
			return err
		}
		if again.Action != u.Action {
			return fmt.Errorf("%s under %s: %w", kparams.ConfPath, u.Change.Kernel.Root, ErrChanged)
		}
		res, err := kparams.Rollback(u.root, s.Now())
		if err != nil {
			return fmt.Errorf("kernel rollback: %w", err)
		}
		u.Rollback = res
	case UndoForget:
	}
	return s.forget(u.Change)
}
