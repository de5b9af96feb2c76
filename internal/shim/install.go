package shim

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"sort"
	"sync"

	"github.com/rocm-patch/rocm-patch/internal/verdir"
	pythonsrc "github.com/rocm-patch/rocm-patch/python"
)

// marker is written last into a shim folder before it is renamed into
// place; its content is the version. A folder without it is not ours, or
// not finished.
const marker = ".rocm-patch-shim"

// Dir is an installed shim folder.
type Dir struct {
	// Path is the folder to put first on PYTHONPATH.
	Path string
	// Version is the content hash of the embedded files, the folder's name.
	Version string
}

// content is read once: the embedded files and their hash.
var content = sync.OnceValues(func() ([]verdir.File, string) {
	var files []verdir.File
	src := pythonsrc.FS()
	// The embedded tree is fixed at build time: a walk error here means a
	// broken build, which the package's tests catch.
	_ = fs.WalkDir(src, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
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
	return files, verdir.Hash(files)
})

// Version returns the content hash that names the shim folder: it changes
// exactly when an embedded file does, so two rocm-patch builds with the same
// shim share one folder and different shims never mix.
func Version() string {
	_, v := content()
	return v
}

// DefaultCacheRoot returns $XDG_CACHE_HOME when it is an absolute path, else
// $HOME/.cache, as the XDG base directory rules say. getenv is os.Getenv in
// production.
func DefaultCacheRoot(getenv func(string) string) (string, error) {
	if x := getenv("XDG_CACHE_HOME"); filepath.IsAbs(x) {
		return x, nil
	}
	home := getenv("HOME")
	if home == "" {
		return "", errors.New("cache folder: neither XDG_CACHE_HOME nor HOME is set")
	}
	return filepath.Join(home, ".cache"), nil
}

// Install makes sure <cacheRoot>/rocm-patch/shim/<Version>/ holds the shim
// and returns it, whole or not at all (see package verdir): a complete
// folder is reused, a damaged one replaced, and runs racing to install all
// succeed.
func Install(cacheRoot string) (Dir, error) {
	files, version := content()
	path, err := verdir.Install(verdir.Spec{
		Base:    filepath.Join(cacheRoot, "rocm-patch", "shim"),
		Version: version,
		Marker:  marker,
		Files:   files,
	})
	if err != nil {
		return Dir{}, fmt.Errorf("install shim: %w", err)
	}
	return Dir{Path: path, Version: version}, nil
}

// Files lists the shim's files as Install writes them, slash-separated and
// relative to Dir.Path.
func Files() []string {
	files, _ := content()
	out := make([]string, len(files))
	for i, f := range files {
		out[i] = path.Clean(f.Name)
	}
	return out
}
