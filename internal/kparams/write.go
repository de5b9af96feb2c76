package kparams

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rocm-patch/rocm-patch/internal/atomicfile"
	"github.com/rocm-patch/rocm-patch/internal/fsroot"
)

// The refusals of Apply and Rollback. Each leaves every file as it was.
var (
	// ErrNothingToDo: the plan writes no parameter, or the file already
	// holds exactly what it would write.
	ErrNothingToDo = errors.New("nothing to do")
	// ErrChanged: the file changed between plan and apply.
	ErrChanged = errors.New("changed since it was planned; plan again")
	// ErrNothingToRollBack: no apply is recorded.
	ErrNothingToRollBack = errors.New("nothing to roll back: no apply is recorded in " + StatePath)
	// ErrNotRoot: writing under "/" needs root.
	ErrNotRoot = errors.New("writing " + ConfPath + " needs root")
	// ErrNotWritable: under another root, the user cannot write the
	// folders.
	ErrNotWritable = errors.New("not writable by this user")
	// ErrBusy: another rocm-patch kernel command holds the lock.
	ErrBusy = errors.New("another rocm-patch kernel command is running")
	// ErrBackupMismatch: a backup's bytes differ from the digest the
	// state file recorded, so it cannot be the file apply replaced.
	ErrBackupMismatch = errors.New("backup does not match the recorded SHA-256")
)

// lockName is the lock file inside StateDir.
const lockName = ".lock"

// CheckPermission refuses early what Apply and Rollback would fail to do.
// On the live machine (root "/") they need root. Under another root (a
// test tree, an image being built) any user may write, as long as the
// folders that will be written, or the nearest of their parents that
// exists, are writable.
func CheckPermission(root *fsroot.Root) error {
	if root.IsHost() {
		if os.Geteuid() != 0 {
			return ErrNotRoot
		}
		return nil
	}
	for _, dir := range []string{path.Dir(ConfPath), BackupDir} {
		host, machine, err := nearestDir(root, dir)
		if err != nil {
			return err
		}
		if err := unix.Access(host, unix.W_OK|unix.X_OK); err != nil {
			return fmt.Errorf("%s under %s: %w", machine, root.Dir(), ErrNotWritable)
		}
	}
	return nil
}

// nearestDir returns the host and machine paths of dir or of its nearest
// existing ancestor.
func nearestDir(root *fsroot.Root, dir string) (host, machine string, err error) {
	for d := dir; ; d = path.Dir(d) {
		resolved, err := root.Resolve(d)
		if err == nil {
			return filepath.Join(root.Dir(), filepath.FromSlash(resolved)), d, nil
		}
		if !errors.Is(err, fs.ErrNotExist) || d == "/" {
			return "", "", fmt.Errorf("%s: %w", d, err)
		}
	}
}

// makeDir returns the host path of the machine folder dir, creating the
// missing parts. Existing parts are resolved through root, so a link in
// the tree leads inside the tree; a name that exists but does not resolve
// (a dangling link) is refused rather than created through.
func makeDir(root *fsroot.Root, dir string) (string, error) {
	cur := "/"
	for _, part := range strings.Split(strings.Trim(dir, "/"), "/") {
		next := path.Join(cur, part)
		resolved, err := root.Resolve(next)
		if err == nil {
			cur = resolved
			continue
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("%s: %w", next, err)
		}
		host := filepath.Join(root.Dir(), filepath.FromSlash(next))
		if err := os.Mkdir(host, 0o755); err != nil {
			return "", fmt.Errorf("create %s: %w", next, unwrapPath(err))
		}
		cur = next
	}
	host := filepath.Join(root.Dir(), filepath.FromSlash(cur))
	fi, err := os.Lstat(host)
	if err != nil {
		return "", fmt.Errorf("%s: %w", dir, unwrapPath(err))
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("%s: not a folder", dir)
	}
	return host, nil
}

// dirs are the host folders a write uses, created as needed.
type dirs struct {
	conf, state, backup string
}

func openDirs(root *fsroot.Root) (dirs, error) {
	var d dirs
	var err error
	if d.conf, err = makeDir(root, path.Dir(ConfPath)); err != nil {
		return d, err
	}
	if d.state, err = makeDir(root, StateDir); err != nil {
		return d, err
	}
	if d.backup, err = makeDir(root, BackupDir); err != nil {
		return d, err
	}
	return d, nil
}

// lock takes the exclusive lock of the state folder. The kernel drops it
// when the process dies, so a killed apply never leaves it held.
func (d dirs) lock() (release func(), err error) {
	f, err := os.OpenFile(filepath.Join(d.state, lockName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", StateDir, unwrapPath(err))
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, ErrBusy
		}
		return nil, fmt.Errorf("lock %s: %w", StateDir, err)
	}
	return func() { f.Close() }, nil
}

// cleanStale removes the temporary files a killed apply or rollback left
// (atomicfile names them ".<name>.tmp-*"). It runs under the lock, so no
// other rocm-patch is writing them. None of them was ever read as
// configuration: modprobe reads only names ending in .conf.
func (d dirs) cleanStale() error {
	patterns := []string{
		filepath.Join(d.conf, "."+path.Base(ConfPath)+".tmp-*"),
		filepath.Join(d.state, "."+path.Base(StatePath)+".tmp-*"),
		filepath.Join(d.backup, "."+path.Base(ConfPath)+".*.tmp-*"),
	}
	for _, p := range patterns {
		names, err := filepath.Glob(p)
		if err != nil {
			return fmt.Errorf("clean temporary files: %w", err)
		}
		for _, n := range names {
			if err := os.Remove(n); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("remove stale %s: %w", filepath.Base(n), unwrapPath(err))
			}
		}
	}
	return nil
}

func (d dirs) confHost() string  { return filepath.Join(d.conf, path.Base(ConfPath)) }
func (d dirs) stateHost() string { return filepath.Join(d.state, path.Base(StatePath)) }

func (d dirs) loadState() (*State, error) {
	f, err := readRegular(d.stateHost(), StatePath)
	if err != nil {
		return nil, err
	}
	if !f.Exists {
		return &State{Schema: StateSchema, File: ConfPath, Applies: []Applied{}}, nil
	}
	return ParseState(f.Data)
}

func (d dirs) saveState(s *State) error {
	data, err := marshalState(s)
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(d.stateHost(), data, 0o644); err != nil {
		return fmt.Errorf("%s: %w", StatePath, unwrapPath(err))
	}
	return nil
}

// backup keeps a copy of f under BackupDir and returns how the state file
// records it. The name carries the time to the nanosecond, and a counter
// when that is taken.
func (d dirs) keep(f File, now time.Time) (Previous, error) {
	base := path.Base(ConfPath) + "." + now.UTC().Format("20060102T150405.000000000Z")
	name := base
	for i := 1; ; i++ {
		if _, err := os.Lstat(filepath.Join(d.backup, name)); errors.Is(err, fs.ErrNotExist) {
			break
		}
		name = base + "-" + strconv.Itoa(i)
	}
	if err := atomicfile.WriteFile(filepath.Join(d.backup, name), f.Data, f.Mode.Perm()); err != nil {
		return Previous{}, fmt.Errorf("back up %s: %w", ConfPath, unwrapPath(err))
	}
	return Previous{Backup: BackupDir + "/" + name, SHA256: Digest(f.Data), Mode: f.Mode.Perm()}, nil
}

// Apply writes the plan's file under root. In order: the current file is
// copied to BackupDir (when there is one), the state file records the
// apply, then the new file replaces the old with atomicfile. A process
// killed at any point leaves the old file or the new one, and the state
// file always lets Rollback restore the old: if the kill came before the
// new file landed, rolling back rewrites the same old bytes.
//
// Apply refuses, writing nothing, when the plan has nothing to do, when a
// parameter or line of the file fails validation, or when the file
// changed since the plan read it.
func Apply(root *fsroot.Root, p *Plan, now time.Time) (*Applied, error) {
	if p == nil || p.NothingToDo || p.Unchanged {
		return nil, ErrNothingToDo
	}
	for _, pr := range p.Params {
		if err := checkSyntax(pr); err != nil {
			return nil, err
		}
	}
	if err := CheckContent(p.Content); err != nil {
		return nil, err
	}
	d, err := openDirs(root)
	if err != nil {
		return nil, err
	}
	release, err := d.lock()
	if err != nil {
		return nil, err
	}
	defer release()
	if err := d.cleanStale(); err != nil {
		return nil, err
	}
	cur, err := readRegular(d.confHost(), ConfPath)
	if err != nil {
		return nil, err
	}
	if cur.Exists != p.Current.Exists || string(cur.Data) != string(p.Current.Data) {
		return nil, fmt.Errorf("%s %w", ConfPath, ErrChanged)
	}
	state, err := d.loadState()
	if err != nil {
		return nil, err
	}
	prev := Previous{Absent: true}
	if cur.Exists {
		if prev, err = d.keep(cur, now); err != nil {
			return nil, err
		}
	}
	entry := Applied{
		Time:     now.UTC(),
		Profile:  p.Profile,
		Params:   append([]Param{}, p.Params...),
		SHA256:   Digest(p.Content),
		Previous: prev,
	}
	state.Applies = append(state.Applies, entry)
	if err := d.saveState(state); err != nil {
		return nil, err
	}
	if err := atomicfile.WriteFile(d.confHost(), p.Content, 0o644); err != nil {
		return nil, fmt.Errorf("%s: %w", ConfPath, unwrapPath(err))
	}
	return &entry, nil
}

// RollbackResult says what Rollback did.
type RollbackResult struct {
	// Undone is the apply rolled back.
	Undone Applied
	// Removed is true when there was no file before that apply, so the
	// file was removed; otherwise the replaced bytes were restored.
	Removed bool
	// SavedEdited is the backup of the file as Rollback found it, when it
	// had been edited since the apply (so the edit is not lost).
	SavedEdited string
	// Remaining is the number of applies still recorded.
	Remaining int
}

// Rollback undoes the last apply recorded in the state file: it restores
// the replaced file byte for byte, after checking the backup against the
// recorded SHA-256, or removes the file when there was none; then it drops
// the apply from the state file. A file edited by hand since the apply is
// first copied to BackupDir. Killed half way, Rollback can simply be run
// again.
func Rollback(root *fsroot.Root, now time.Time) (*RollbackResult, error) {
	d, err := openDirs(root)
	if err != nil {
		return nil, err
	}
	release, err := d.lock()
	if err != nil {
		return nil, err
	}
	defer release()
	if err := d.cleanStale(); err != nil {
		return nil, err
	}
	state, err := d.loadState()
	if err != nil {
		return nil, err
	}
	last := state.Last()
	if last == nil {
		return nil, ErrNothingToRollBack
	}
	res := &RollbackResult{Undone: *last}
	cur, err := readRegular(d.confHost(), ConfPath)
	if err != nil {
		return nil, err
	}
	var restore []byte
	if !last.Previous.Absent {
		b, err := readRegular(filepath.Join(d.backup, path.Base(last.Previous.Backup)), last.Previous.Backup)
		if err != nil {
			return nil, err
		}
		if !b.Exists {
			return nil, fmt.Errorf("%s: %w", last.Previous.Backup, fs.ErrNotExist)
		}
		if Digest(b.Data) != last.Previous.SHA256 {
			return nil, fmt.Errorf("%s: %w", last.Previous.Backup, ErrBackupMismatch)
		}
		restore = b.Data
	}
	if cur.Exists {
		sum := Digest(cur.Data)
		if sum != last.SHA256 && (last.Previous.Absent || sum != last.Previous.SHA256) {
			saved, err := d.keep(cur, now)
			if err != nil {
				return nil, err
			}
			res.SavedEdited = saved.Backup
		}
	}
	if last.Previous.Absent {
		res.Removed = true
		if cur.Exists {
			if err := os.Remove(d.confHost()); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("remove %s: %w", ConfPath, unwrapPath(err))
			}
			if err := syncDir(d.conf); err != nil {
				return nil, err
			}
		}
	} else {
		mode := last.Previous.Mode.Perm()
		if mode == 0 {
			mode = 0o644
		}
		if err := atomicfile.WriteFile(d.confHost(), restore, mode); err != nil {
			return nil, fmt.Errorf("%s: %w", ConfPath, unwrapPath(err))
		}
	}
	state.Applies = state.Applies[:len(state.Applies)-1]
	if err := d.saveState(state); err != nil {
		return nil, err
	}
	res.Remaining = len(state.Applies)
	return res, nil
}

// syncDir makes a removal in dir survive a power loss.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", path.Dir(ConfPath), unwrapPath(err))
	}
	defer f.Close()
	if err := f.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return fmt.Errorf("sync %s: %w", path.Dir(ConfPath), err)
	}
	return nil
}
