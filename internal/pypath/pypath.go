// Package pypath makes rocm-patch's Python API (the embedded rocm_patch
// package) importable outside `rocm-patch run`: it writes the package into a
// versioned data folder, beside a link to the rocm-patch binary that the API
// asks, and puts a rocm_patch.pth naming that folder into an interpreter's
// site-packages (the user's, or the active virtualenv's).
//
// The folder holds rocm_patch/ but never sitecustomize.py: that module
// would switch on run's shim in every Python process that has the folder on
// its path.
package pypath

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	pythonsrc "github.com/rocm-patch/rocm-patch/python"
)

// Options say which Python and which environment.
type Options struct {
	// Python is the interpreter whose site-packages get the .pth: a path,
	// or a name looked up in Environ's PATH. "" means python3 on that PATH.
	Python string
	// Environ is the environment (HOME, XDG_DATA_HOME, PATH, and whatever
	// steers the interpreter, such as PYTHONNOUSERSITE), as KEY=VALUE
	// entries. nil is an empty environment, not this process's.
	Environ []string
	// Executable is the rocm-patch binary the package should find next to
	// it; "" means os.Executable().
	Executable string
}

// Result says what happened.
type Result struct {
	// PthFile is the .pth file written or removed (or that would be).
	PthFile string
	// PackageDir is the folder that holds rocm_patch/: the one the .pth
	// names. Uninstall reports the folder the removed file named, or "".
	PackageDir string
	// Changed is false when things already were as asked.
	Changed bool
}

// PthName is the name of the file Install writes into site-packages.
const PthName = "rocm_patch.pth"

// BinaryName is the link to the rocm-patch binary in a package folder,
// where rocm_patch.api looks for it first.
const BinaryName = "rocm-patch"

// marker is written last into a package folder before it is renamed into
// place; its content is the folder's version. A folder without it is not
// ours, or not finished.
const marker = ".rocm-patch-python"

type file struct {
	name string // slash-separated, relative to the package folder
	data []byte
}

// apiFiles are the embedded rocm_patch/*.py, read once. sitecustomize.py
// is left out on purpose (see the package doc).
var apiFiles = sync.OnceValue(func() []file {
	var files []file
	src := pythonsrc.FS()
	// The embedded tree is fixed at build time; a walk error is a broken
	// build, which the tests catch (no files).
	_ = fs.WalkDir(src, "rocm_patch", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path.Ext(p) != ".py" {
			return err
		}
		data, err := fs.ReadFile(src, p)
		if err != nil {
			return err
		}
		files = append(files, file{name: p, data: data})
		return nil
	})
	sort.Slice(files, func(i, j int) bool { return files[i].name < files[j].name })
	return files
})

// version names a package folder by what it holds: the files and the
// binary the link leads to. Two rocm-patch binaries in different places
// get different folders, so neither ever rewrites a folder that a .pth of
// the other names.
func version(files []file, exe string) string {
	h := sha256.New()
	for _, f := range files {
		h.Write([]byte(f.name))
		h.Write([]byte{0})
		h.Write([]byte(strconv.Itoa(len(f.data))))
		h.Write([]byte{0})
		h.Write(f.data)
	}
	h.Write([]byte("\x00binary\x00"))
	h.Write([]byte(exe))
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// DataRoot returns $XDG_DATA_HOME when it is an absolute path, else
// $HOME/.local/share, as the XDG base directory rules say.
func DataRoot(environ []string) (string, error) {
	if x := getenv(environ, "XDG_DATA_HOME"); filepath.IsAbs(x) {
		return x, nil
	}
	home := getenv(environ, "HOME")
	if home == "" {
		return "", errors.New("data folder: neither XDG_DATA_HOME nor HOME is set")
	}
	return filepath.Join(home, ".local", "share"), nil
}

func executable(name string) (string, error) {
	if name == "" {
		exe, err := os.Executable()
		if err != nil {
			return "", fmt.Errorf("find the rocm-patch binary: %w", err)
		}
		return exe, nil
	}
	abs, err := filepath.Abs(name)
	if err != nil {
		return "", fmt.Errorf("rocm-patch binary %s: %w", name, err)
	}
	st, err := os.Stat(abs)
	if err != nil {
		return "", fmt.Errorf("rocm-patch binary: %w", err)
	}
	if st.IsDir() || st.Mode()&0o111 == 0 {
		return "", fmt.Errorf("rocm-patch binary %s: not an executable file", abs)
	}
	return abs, nil
}

// PackageDir makes sure <DataRoot>/rocm-patch/python/<version>/ holds the
// rocm_patch package and a link named BinaryName to the binary, and
// returns that folder: the one to put on PYTHONPATH. A complete folder is
// reused as it is; otherwise it is built in a private temporary folder and
// renamed into place, so a Python process never sees half of it, and
// concurrent callers all succeed (the first rename wins). A folder that is
// there but wrong (edited, cut short) is moved aside and replaced.
func PackageDir(o Options) (string, error) {
	root, err := DataRoot(o.Environ)
	if err != nil {
		return "", fmt.Errorf("python package folder: %w", err)
	}
	exe, err := executable(o.Executable)
	if err != nil {
		return "", fmt.Errorf("python package folder: %w", err)
	}
	files := apiFiles()
	v := version(files, exe)
	base := filepath.Join(root, "rocm-patch", "python")
	dir := filepath.Join(base, v)
	if complete(dir, files, exe, v) {
		return dir, nil
	}
	if err := os.MkdirAll(base, 0o755); err != nil {
		return "", fmt.Errorf("python package folder: %w", err)
	}
	tmp, err := os.MkdirTemp(base, ".tmp-"+v+"-")
	if err != nil {
		return "", fmt.Errorf("python package folder: %w", err)
	}
	defer os.RemoveAll(tmp) // a no-op once renamed
	if err := populate(tmp, files, exe, v); err != nil {
		return "", fmt.Errorf("python package folder in %s: %w", base, err)
	}
	for attempt := 0; ; attempt++ {
		err := os.Rename(tmp, dir)
		if err == nil {
			break
		}
		if complete(dir, files, exe, v) {
			return dir, nil // another call built it first
		}
		if attempt > 0 {
			return "", fmt.Errorf("python package folder: %w", err)
		}
		// Not a complete folder: move it aside with a rename, so that a
		// racing caller never sees it half deleted.
		aside := filepath.Join(base, ".stale-"+v+"-"+strconv.FormatInt(time.Now().UnixNano(), 36))
		if err := os.Rename(dir, aside); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("python package folder: move aside %s: %w", dir, err)
		}
		os.RemoveAll(aside)
	}
	if err := syncDir(base); err != nil {
		return "", fmt.Errorf("python package folder: %w", err)
	}
	sweep(base)
	return dir, nil
}

func populate(tmp string, files []file, exe, v string) error {
	// MkdirTemp makes 0700; other users' Pythons may read a shared home's
	// data folder, as they may read site-packages.
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	for _, f := range files {
		name := filepath.Join(tmp, filepath.FromSlash(f.name))
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			return err
		}
		if err := writeSynced(name, f.data); err != nil {
			return err
		}
	}
	if err := os.Symlink(exe, filepath.Join(tmp, BinaryName)); err != nil {
		return err
	}
	// The marker goes last: its presence says everything above is there.
	return writeSynced(filepath.Join(tmp, marker), []byte(v+"\n"))
}

func writeSynced(name string, data []byte) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// complete reports whether dir holds this version byte for byte, with its
// link leading to exe. The files are a few tens of KB: checking them on
// every call is cheap and repairs a folder someone edited.
func complete(dir string, files []file, exe, v string) bool {
	m, err := os.ReadFile(filepath.Join(dir, marker))
	if err != nil || strings.TrimSpace(string(m)) != v {
		return false
	}
	if target, err := os.Readlink(filepath.Join(dir, BinaryName)); err != nil || target != exe {
		return false
	}
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f.name)))
		if err != nil || !bytes.Equal(data, f.data) {
			return false
		}
	}
	return true
}

// sweep removes temporary and moved-aside folders that crashed calls left,
// once they are old enough that no call can still be using them. Older
// versions stay: a .pth of another interpreter may still name one.
func sweep(base string) {
	entries, err := os.ReadDir(base)
	if err != nil {
		return
	}
	for _, e := range entries {
		n := e.Name()
		if !strings.HasPrefix(n, ".tmp-") && !strings.HasPrefix(n, ".stale-") {
			continue
		}
		if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > time.Hour {
			os.RemoveAll(filepath.Join(base, n))
		}
	}
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	// Some filesystems cannot sync a directory; the rename has happened.
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// getenv returns the last value of key in environ, as a child would see
// it.
func getenv(environ []string, key string) string {
	for i := len(environ) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(environ[i], "="); ok && k == key {
			return v
		}
	}
	return ""
}

// Files lists the files PackageDir writes besides its marker,
// slash-separated and relative to the folder.
func Files() []string {
	files := apiFiles()
	out := make([]string, 0, len(files)+1)
	for _, f := range files {
		out = append(out, f.name)
	}
	return append(out, BinaryName)
}
