package kparams

// This file and write.go are the package's only I/O.

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/rocm-patch/rocm-patch/internal/fsroot"
	"github.com/rocm-patch/rocm-patch/internal/system"
)

// ErrNotRegular is wrapped when ConfPath or a backup is a symbolic link or
// not a regular file: rocm-patch neither writes through nor replaces such a
// thing.
var ErrNotRegular = errors.New("not a regular file")

// ReadMachine reads under root what Build and Verify need beyond sys, the
// detect result for the same root: whether each GPU's VRAM is all
// CPU-visible, the current file, the other amdgpu options, the
// distribution, the initramfs tools and the state file. Only a file that
// would mislead a write fails it (an unreadable or non-regular ConfPath, a
// state file that does not parse); anything else unreadable is left out.
func ReadMachine(root *fsroot.Root, sys *system.System) (*Machine, error) {
	m := &Machine{Live: map[string]string{}}
	if sys != nil {
		m.Loaded = sys.AMDGPU.Loaded
		for k, v := range sys.AMDGPU.Params {
			m.Live[k] = v
		}
		for _, g := range sys.GPUs {
			m.GPUs = append(m.GPUs, readGPU(root, g))
		}
	}
	cur, err := readConf(root)
	if err != nil {
		return nil, err
	}
	m.Current = cur
	m.Others = readOthers(root)
	for _, name := range []string{"/etc/os-release", "/usr/lib/os-release"} {
		if data, err := root.ReadFile(name); err == nil {
			m.OS = ParseOSRelease(data)
			break
		}
	}
	for _, p := range InitramfsCandidates() {
		if root.Exists(p) {
			m.Tools = append(m.Tools, p)
		}
	}
	if m.State, err = LoadState(root); err != nil {
		return nil, err
	}
	return m, nil
}

// readGPU adds to a detected GPU the size of its CPU-visible VRAM, which
// System does not carry: mem_info_vis_vram_total beside mem_info_vram_total
// in the GPU's PCI device folder.
func readGPU(root *fsroot.Root, g system.GPU) GPU {
	out := GPU{Index: g.Index, Name: g.Name, Target: g.GFXTarget, Family: g.Family, VRAMBytes: g.VRAMBytes, GTTBytes: g.GTTBytes}
	if g.Card == "" || strings.ContainsAny(g.Card, "/") {
		return out
	}
	dev := "/sys/class/drm/" + g.Card + "/device/"
	size := func(name string) uint64 {
		s, err := root.ReadString(dev + name)
		if err != nil {
			return 0
		}
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return 0
		}
		return n
	}
	// Both sizes from the same folder, so they compare like with like.
	if total, vis := size("mem_info_vram_total"), size("mem_info_vis_vram_total"); total > 0 && vis > 0 {
		out.VRAMBytes, out.VisibleVRAMBytes = total, vis
	}
	return out
}

// readOthers collects the amdgpu options of every modprobe.d file modprobe
// would read, except ConfPath, and of the kernel command line.
func readOthers(root *fsroot.Root) []Source {
	var out []Source
	seen := map[string]bool{path.Base(ConfPath): true}
	for _, dir := range ModprobeDirs {
		for _, name := range root.Glob(dir + "/*.conf") {
			base := path.Base(name)
			// A name in an earlier folder hides the same name in later
			// ones, as modprobe reads them.
			if seen[base] {
				continue
			}
			seen[base] = true
			if data, err := root.ReadFile(name); err == nil {
				out = append(out, ParseModprobe(name, data)...)
			}
		}
	}
	if data, err := root.ReadFile("/proc/cmdline"); err == nil {
		out = append(out, ParseCmdline(data)...)
	}
	return out
}

// readConf reads ConfPath without following a link in its last element.
func readConf(root *fsroot.Root) (File, error) {
	dir, err := root.Resolve(path.Dir(ConfPath))
	if errors.Is(err, fs.ErrNotExist) {
		return File{}, nil
	}
	if err != nil {
		return File{}, fmt.Errorf("read %s: %w", ConfPath, err)
	}
	return readRegular(filepath.Join(root.Dir(), filepath.FromSlash(dir), path.Base(ConfPath)), ConfPath)
}

// readRegular reads a host file that must be a regular file (not a link),
// of at most fsroot.MaxFileSize bytes. A missing file is File{}. machine
// names the file in errors.
func readRegular(host, machine string) (File, error) {
	fi, err := os.Lstat(host)
	if errors.Is(err, fs.ErrNotExist) {
		return File{}, nil
	}
	if err != nil {
		return File{}, fmt.Errorf("read %s: %w", machine, unwrapPath(err))
	}
	if !fi.Mode().IsRegular() {
		return File{}, fmt.Errorf("%s: %w (%v)", machine, ErrNotRegular, fi.Mode().Type())
	}
	if fi.Size() > fsroot.MaxFileSize {
		return File{}, fmt.Errorf("%s: %w", machine, fsroot.ErrTooLarge)
	}
	data, err := os.ReadFile(host)
	if err != nil {
		return File{}, fmt.Errorf("read %s: %w", machine, unwrapPath(err))
	}
	return File{Exists: true, Data: data, Mode: fi.Mode().Perm()}, nil
}

// LoadState reads the state file under root; nil when there is none.
func LoadState(root *fsroot.Root) (*State, error) {
	dir, err := root.Resolve(StateDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", StatePath, err)
	}
	f, err := readRegular(filepath.Join(root.Dir(), filepath.FromSlash(dir), path.Base(StatePath)), StatePath)
	if err != nil || !f.Exists {
		return nil, err
	}
	return ParseState(f.Data)
}

// unwrapPath drops the host path from an error, so that messages name the
// machine path the user knows.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
