package setup

import (
	"errors"
	"fmt"

	"github.com/rocm-patch/rocm-patch/internal/fsroot"
	"github.com/rocm-patch/rocm-patch/internal/kparams"
)

// ErrKernelMoved is wrapped when the apply setup made is no longer the last
// one kparams recorded: rolling back would undo someone else's.
var ErrKernelMoved = errors.New("a later kernel apply is recorded; roll that back first with rocm-patch kernel rollback")

// ApplyKernel applies the amdgpu plan under root with kparams (backup,
// state file, atomic write) and records it. kparams' own state file keeps
// what rollback needs; the manifest only says that setup made this apply.
func (s *Session) ApplyKernel(root *fsroot.Root, p *kparams.Plan) (*Change, *kparams.Applied, error) {
	applied, err := kparams.Apply(root, p, s.Now())
	if err != nil {
		return nil, nil, err
	}
	c := Change{
		Step:    StepKernel,
		Time:    s.Now().UTC(),
		File:    kparams.ConfPath,
		Created: applied.Previous.Absent,
		SHA256:  applied.SHA256,
		Kernel:  &KernelChange{Root: root.Dir(), Profile: p.Profile, Applied: applied.Time},
	}
	if err := s.record(c); err != nil {
		return nil, applied, fmt.Errorf("%w (the apply itself is recorded in %s; rocm-patch kernel rollback undoes it)", err, kparams.StatePath)
	}
	return &c, applied, nil
}

// planKernelUndo decides the undo of a kernel change: a rollback while
// setup's apply is the last one recorded, nothing when it is no longer
// recorded (rolled back already), a refusal when a later apply is.
func planKernelUndo(c Change) (*Undo, error) {
	u := &Undo{Change: c}
	root, err := fsroot.Open(c.Kernel.Root)
	if err != nil {
		return nil, fmt.Errorf("kernel step: %w", err)
	}
	u.root = root
	state, err := kparams.LoadState(root)
	if err != nil {
		return nil, fmt.Errorf("kernel step: %w", err)
	}
	var applies []kparams.Applied
	if state != nil {
		applies = state.Applies
	}
	at := -1
	for i, a := range applies {
		if a.SHA256 == c.SHA256 && a.Time.Equal(c.Kernel.Applied) {
			at = i
		}
	}
	switch {
	case at < 0:
		u.Action = UndoForget
		u.Note = fmt.Sprintf("the apply setup made is no longer recorded in %s (rolled back already)", kparams.StatePath)
		return u, nil
	case at != len(applies)-1:
		return nil, fmt.Errorf("%s under %s: %w", kparams.ConfPath, c.Kernel.Root, ErrKernelMoved)
	}
	if err := kparams.CheckPermission(root); err != nil {
		return nil, fmt.Errorf("kernel step: %w", err)
	}
	u.Action = UndoRollback
	if applies[at].Previous.Absent {
		u.Action = UndoRollbackRemove
	}
	return u, nil
}
