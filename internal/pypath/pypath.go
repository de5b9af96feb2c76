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
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/rocm-patch/rocm-patch/internal/verdir"
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

// apiFiles are the embedded rocm_patch/*.py, read once. sitecustomize.py
// is left out on purpose (see the package doc).
var apiFiles = sync.OnceValue(func() []verdir.File {
	var files []verdir.File
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
		files = append(files, verdir.File{Name: p, Data: data})
		return nil
	})
	sort.Slice(files, func(i, j int) bool { return files[i].Name < files[j].Name })
	return files
})

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
// returns that folder: the one to put on PYTHONPATH. The folder is
// installed whole or not at all (see package verdir): a complete one is
// reused, a damaged one replaced, concurrent callers all succeed. Its
// version covers the files and the binary the link leads to, so two
// rocm-patch binaries in different places get different folders and
// neither ever rewrites a folder that a .pth of the other names. Older
// versions stay: a .pth of another interpreter may still name one.
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
	dir, err := verdir.Install(verdir.Spec{
		Base:    filepath.Join(root, "rocm-patch", "python"),
		Version: verdir.Hash(files, exe),
		Marker:  marker,
		Files:   files,
		Links:   []verdir.Link{{Name: BinaryName, Target: exe}},
	})
	if err != nil {
		return "", fmt.Errorf("python package folder: %w", err)
	}
	return dir, nil
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
		out = append(out, f.Name)
	}
	return append(out, BinaryName)
}
