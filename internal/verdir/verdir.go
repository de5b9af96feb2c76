// Package verdir installs a folder of files under a versioned name, whole or
// not at all: the shim folder that `rocm-patch run` puts on PYTHONPATH and
// the Python API's folder that `rocm-patch python-path` names are both
// written this way.
//
// A folder is <base>/<version>/. It is built in a private temporary folder
// and renamed into place, so a Python process never sees half of it, and
// callers racing to install it all succeed (the first rename wins and the
// others find its folder complete). A marker file, written last, holds the
// version; a folder without it is not finished, or not ours. A folder that
// is there but differs (edited, cut short by something else) is moved aside
// with a rename, so no racer sees it half deleted, and replaced.
package verdir

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/rocm-patch/rocm-patch/internal/atomicfile"
)

// File is one file of a folder.
type File struct {
	// Name is slash-separated, relative to the folder.
	Name string
	Data []byte
}

// Link is a symbolic link in a folder.
type Link struct {
	// Name is slash-separated, relative to the folder; Target is what the
	// link holds.
	Name, Target string
}

// Spec is a folder to install.
type Spec struct {
	// Base is the folder that holds the versions; it is created if needed.
	Base string
	// Version names the folder and is the marker's content.
	Version string
	// Marker is the name of the file written last.
	Marker string
	Files  []File
	Links  []Link
}

// Hash returns a 16-digit version for files and extra strings: it changes
// exactly when a file's name or bytes, or an extra, does.
func Hash(files []File, extra ...string) string {
	h := sha256.New()
	for _, f := range files {
		h.Write([]byte(f.Name))
		h.Write([]byte{0})
		h.Write([]byte(strconv.Itoa(len(f.Data))))
		h.Write([]byte{0})
		h.Write(f.Data)
	}
	for _, e := range extra {
		h.Write([]byte("\x00extra\x00"))
		h.Write([]byte(e))
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// staleAfter is how old a temporary or moved-aside folder must be before
// Install removes it: no install still running can be using it.
const staleAfter = time.Hour

// Install makes sure <Base>/<Version> holds exactly s and returns its
// path. A complete folder is reused as it is, after reading its files to
// compare them (they are small; this repairs a folder edited in place).
func Install(s Spec) (string, error) {
	if s.Version == "" || s.Marker == "" || strings.ContainsAny(s.Version, `/\`) {
		return "", fmt.Errorf("install in %s: bad version %q or marker %q", s.Base, s.Version, s.Marker)
	}
	dir := filepath.Join(s.Base, s.Version)
	if complete(dir, s) {
		return dir, nil
	}
	if err := os.MkdirAll(s.Base, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(s.Base, ".tmp-"+s.Version+"-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp) // a no-op once renamed
	if err := populate(tmp, s); err != nil {
		return "", fmt.Errorf("in %s: %w", s.Base, err)
	}
	for attempt := 0; ; attempt++ {
		err := os.Rename(tmp, dir)
		if err == nil {
			break
		}
		if complete(dir, s) {
			return dir, nil // another caller installed it first
		}
		if attempt > 0 {
			return "", err
		}
		aside := filepath.Join(s.Base, ".stale-"+s.Version+"-"+strconv.FormatInt(time.Now().UnixNano(), 36))
		if err := os.Rename(dir, aside); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("move aside %s: %w", dir, err)
		}
		os.RemoveAll(aside)
	}
	if err := atomicfile.SyncDir(s.Base); err != nil {
		return "", err
	}
	sweep(s.Base)
	return dir, nil
}

func populate(tmp string, s Spec) error {
	// MkdirTemp makes 0700; the folder is read by the user's Python, and
	// cache and data folders are conventionally world-readable.
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	for _, f := range s.Files {
		name := filepath.Join(tmp, filepath.FromSlash(f.Name))
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			return err
		}
		if err := writeSynced(name, f.Data); err != nil {
			return err
		}
	}
	for _, l := range s.Links {
		if err := os.Symlink(l.Target, filepath.Join(tmp, filepath.FromSlash(l.Name))); err != nil {
			return err
		}
	}
	// The marker goes last: its presence says everything above is there.
	return writeSynced(filepath.Join(tmp, s.Marker), []byte(s.Version+"\n"))
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

// complete reports whether dir holds s: the marker, every file byte for
// byte, every link with its target.
func complete(dir string, s Spec) bool {
	m, err := os.ReadFile(filepath.Join(dir, s.Marker))
	if err != nil || strings.TrimSpace(string(m)) != s.Version {
		return false
	}
	for _, l := range s.Links {
		if target, err := os.Readlink(filepath.Join(dir, filepath.FromSlash(l.Name))); err != nil || target != l.Target {
			return false
		}
	}
	for _, f := range s.Files {
		data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f.Name)))
		if err != nil || !bytes.Equal(data, f.Data) {
			return false
		}
	}
	return true
}

// sweep removes temporary and moved-aside folders that crashed installs
// left, once they are older than staleAfter. Other versions stay: someone
// may still use one.
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
		if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > staleAfter {
			os.RemoveAll(filepath.Join(base, n))
		}
	}
}
