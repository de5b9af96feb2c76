package setup

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/rocm-patch/rocm-patch/internal/kparams"
	"github.com/rocm-patch/rocm-patch/internal/pypath"
)

// PythonPlan is what the Python step would do.
type PythonPlan struct {
	// Site is where the interpreter reads .pth files, as it says itself.
	Site pypath.Site
	// PthFile is the file the step writes.
	PthFile string
	// Nothing is true when an earlier setup installed the file and it is
	// still as setup left it.
	Nothing bool
	// Exists says whether PthFile exists now.
	Exists bool

	options pypath.Options
}

// PlanPython asks the interpreter of o where its site-packages are and
// whether an earlier setup's file is still in place. It writes nothing:
// the package folder is only built by ApplyPython.
func (s *Session) PlanPython(ctx context.Context, o pypath.Options) (*PythonPlan, error) {
	site, err := pypath.FindSite(ctx, o)
	if err != nil {
		return nil, err
	}
	// Later calls name the interpreter found, so that undo asks the same
	// one whatever PATH is then.
	o.Python = site.Python
	p := &PythonPlan{Site: site, PthFile: filepath.Join(site.Dir, pypath.PthName), options: o}
	cur, fi, err := readRegular(p.PthFile)
	if err != nil {
		return nil, err
	}
	p.Exists = fi != nil
	if i := s.Manifest.find(StepPython, p.PthFile); i >= 0 && fi != nil {
		c := s.Manifest.Changes[i]
		if kparams.Digest(cur) == c.SHA256 && c.Python.Executable == o.Executable {
			if st, err := os.Stat(c.Python.PackageDir); err == nil && st.IsDir() {
				p.Nothing = true
			}
		}
	}
	return p, nil
}

// ApplyPython installs the .pth with pypath and records it when pypath
// says it changed something; a file already there as pypath would write it
// is not recorded, so that undo leaves it. Folders pypath created on the
// way to site-packages are recorded, for undo to remove when empty.
func (s *Session) ApplyPython(ctx context.Context, p *PythonPlan) (*Change, pypath.Result, error) {
	if p.Nothing {
		return nil, pypath.Result{PthFile: p.PthFile}, nil
	}
	missing := missingDirs(p.Site.Dir)
	res, err := pypath.Install(ctx, p.options)
	if err != nil {
		return nil, res, err
	}
	if !res.Changed {
		return nil, res, nil
	}
	data, _, err := readRegular(res.PthFile)
	if err != nil {
		return nil, res, err
	}
	c := Change{
		Step:    StepPython,
		Time:    s.Now().UTC(),
		File:    res.PthFile,
		Created: !p.Exists,
		SHA256:  kparams.Digest(data),
		Python:  &PythonChange{Python: p.options.Python, Executable: p.options.Executable, PackageDir: res.PackageDir},
	}
	for _, d := range missing {
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			c.Dirs = append(c.Dirs, d)
		}
	}
	if err := s.record(c); err != nil {
		return nil, res, fmt.Errorf("%w (installed %s, which rocm-patch python-path --uninstall removes)", err, res.PthFile)
	}
	return &c, res, nil
}

// missingDirs lists dir and its parents that do not exist, outermost
// first.
func missingDirs(dir string) []string {
	var out []string
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		if _, err := os.Lstat(d); !errors.Is(err, fs.ErrNotExist) {
			break
		}
		out = append([]string{d}, out...)
		if filepath.Dir(d) == d {
			break
		}
	}
	return out
}

// planPythonUndo decides the undo of the .pth: removal through pypath
// when its interpreter still reads that very file, nothing when the file
// is gone, a refusal when the interpreter now reads another one (another
// HOME, PYTHONUSERBASE) or is gone.
func planPythonUndo(ctx context.Context, c Change, o UndoOptions) (*Undo, error) {
	u := &Undo{Change: c, environ: o.Environ}
	cur, fi, err := readRegular(c.File)
	if err != nil {
		return nil, err
	}
	if fi == nil {
		u.Action = UndoForget
		u.Note = c.File + " no longer exists"
		return u, nil
	}
	if kparams.Digest(cur) != c.SHA256 {
		// Rewritten since (rocm-patch python-path --install from another
		// binary, an edit): no longer what setup added, so it stays.
		u.Action = UndoForget
		u.Note = c.File + " changed since setup, so it is left as it is (rocm-patch python-path --uninstall removes it)"
		return u, nil
	}
	site, err := pypath.FindSite(ctx, u.pythonOptions())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.File, err)
	}
	if got := filepath.Join(site.Dir, pypath.PthName); got != c.File {
		return nil, fmt.Errorf("%s: python %s now reads %s instead (another HOME, virtualenv or PYTHONUSERBASE?); run undo in the environment setup ran in", c.File, site.Python, got)
	}
	u.Action = UndoUninstall
	u.Note = fmt.Sprintf("the package folder %s stays, since another interpreter's %s may name it; rm -r it once none does", c.Python.PackageDir, pypath.PthName)
	return u, nil
}

func (u *Undo) pythonOptions() pypath.Options {
	return pypath.Options{Python: u.Change.Python.Python, Environ: u.environ, Executable: u.Change.Python.Executable}
}

func undoPython(ctx context.Context, u *Undo) error {
	res, err := pypath.Uninstall(ctx, u.pythonOptions())
	if err != nil {
		return err
	}
	if res.PthFile != u.Change.File {
		return fmt.Errorf("python path: removed %s, not %s", res.PthFile, u.Change.File)
	}
	removeEmptyDirs(u.Change.Dirs)
	return nil
}
