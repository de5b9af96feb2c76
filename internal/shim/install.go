package shim

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

type file struct {
	name string // slash-separated, relative to the shim folder
	data []byte
}

// content is read once: the embedded files and their hash.
var content = sync.OnceValues(func() ([]file, string) {
	var files []file
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
		files = append(files, file{name: p, data: data})
		return nil
	})
	sort.Slice(files, func(i, j int) bool { return files[i].name < files[j].name })
	h := sha256.New()
	for _, f := range files {
		h.Write([]byte(f.name))
		h.Write([]byte{0})
		h.Write([]byte(strconv.Itoa(len(f.data))))
		h.Write([]byte{0})
		h.Write(f.data)
	}
	return files, hex.EncodeToString(h.Sum(nil))[:16]
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
// and returns it. A complete folder (marker and every file as embedded) is
// reused as it is; otherwise the files are written into a private temporary
// folder that is renamed into place, so a Python process never sees half a
// shim. Runs racing to install all succeed: the first rename wins and the
// others find its folder complete. A folder that is there but wrong (edited,
// or cut short by something other than Install) is moved aside and
// replaced.
func Install(cacheRoot string) (Dir, error) {
	files, version := content()
	base := filepath.Join(cacheRoot, "rocm-patch", "shim")
	dir := Dir{Path: filepath.Join(base, version), Version: version}
	if complete(dir.Path, files, version) {
		return dir, nil
	}
	if err := os.MkdirAll(base, 0o755); err != nil {
		return Dir{}, fmt.Errorf("install shim: %w", err)
	}
	tmp, err := os.MkdirTemp(base, ".tmp-"+version+"-")
	if err != nil {
		return Dir{}, fmt.Errorf("install shim: %w", err)
	}
	defer os.RemoveAll(tmp) // a no-op once renamed
	if err := populate(tmp, files, version); err != nil {
		return Dir{}, fmt.Errorf("install shim in %s: %w", base, err)
	}
	for attempt := 0; ; attempt++ {
		err := os.Rename(tmp, dir.Path)
		if err == nil {
			break
		}
		if complete(dir.Path, files, version) {
			return dir, nil // another run installed it first
		}
		if attempt > 0 {
			return Dir{}, fmt.Errorf("install shim: %w", err)
		}
		// Something that is not a complete shim sits at the target: move
		// it aside (a rename, so a racer never sees it half-deleted).
		aside := filepath.Join(base, ".stale-"+version+"-"+strconv.FormatInt(time.Now().UnixNano(), 36))
		if err := os.Rename(dir.Path, aside); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return Dir{}, fmt.Errorf("install shim: move aside %s: %w", dir.Path, err)
		}
		os.RemoveAll(aside)
	}
	if err := syncDir(base); err != nil {
		return Dir{}, fmt.Errorf("install shim: %w", err)
	}
	sweep(base)
	return dir, nil
}

func populate(tmp string, files []file, version string) error {
	// MkdirTemp makes 0700; the shim is read by the user's Python only, but
	// a cache folder is conventionally world-readable.
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
	// The marker goes last: its presence says every file above is there.
	return writeSynced(filepath.Join(tmp, marker), []byte(version+"\n"))
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

// complete reports whether dir holds this version of the shim, byte for
// byte. The files are small (tens of KB), so checking them all on each run
// is cheap and repairs a shim someone edited in place.
func complete(dir string, files []file, version string) bool {
	m, err := os.ReadFile(filepath.Join(dir, marker))
	if err != nil || strings.TrimSpace(string(m)) != version {
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

// sweep removes temporary and moved-aside folders that crashed installs
// left, once they are old enough that no install can still be using them.
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

// Files lists the shim's files as Install writes them, slash-separated and
// relative to Dir.Path.
func Files() []string {
	files, _ := content()
	out := make([]string, len(files))
	for i, f := range files {
		out[i] = path.Clean(f.name)
	}
	return out
}
