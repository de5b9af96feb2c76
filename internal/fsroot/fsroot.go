// Package fsroot reads a machine's files under one root directory.
//
// Every file rocm-patch reads about a machine goes through a Root, so that the
// live system ("/"), a hand-built tree under examples/systems and an unpacked
// snapshot run exactly the same code. Paths given to a Root are absolute
// machine paths ("/sys/class/drm"); symbolic links are resolved as the kernel
// would inside a chroot: an absolute target starts again at the root and ".."
// never climbs above it, so a tree can never make the tool read outside it.
package fsroot

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
)

// maxLinks bounds symbolic-link expansion, as the kernel's ELOOP limit does.
const maxLinks = 40

// MaxFileSize caps ReadFile: sysfs and version files are tiny, and a tree
// that puts a huge or endless file where a small one belongs must not make
// the tool read it whole.
const MaxFileSize = 8 << 20

// ErrLoop reports a chain of symbolic links too long to follow.
var ErrLoop = errors.New("too many levels of symbolic links")

// ErrTooLarge reports a file over MaxFileSize.
var ErrTooLarge = errors.New("file too large")

// Root is a directory that stands for "/" of a machine. It is safe for
// concurrent use.
type Root struct {
	dir string

	mu sync.Mutex
	// dirs caches resolved directories (machine path -> resolved machine
	// path); detect reads many files in few directories, and resolving each
	// parent once keeps a whole detect to a few hundred system calls.
	dirs map[string]string
	// real holds resolved machine paths known to be folders, not links, so
	// walks through the same folders (a sysfs class with a hundred links
	// into /sys/devices) cost one lstat each, not one per walk.
	real map[string]bool
	// listings caches the names in resolved folders that Glob listed:
	// detect's site-packages patterns list /home, /usr/lib and the like
	// once each instead of once per pattern.
	listings map[string][]string
	trace    *Trace
}

// Open returns a Root for dir, which must be an existing directory.
func Open(dir string) (*Root, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("root %s: %w", dir, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("root %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("root %s: not a directory", dir)
	}
	return &Root{dir: abs, dirs: map[string]string{"/": "/"}, real: map[string]bool{"/": true}}, nil
}

// Dir is the host directory that stands for "/".
func (r *Root) Dir() string { return r.dir }

// IsHost reports whether the root is the live machine's "/".
func (r *Root) IsHost() bool { return r.dir == "/" }

// host maps a resolved machine path to the host path.
func (r *Root) host(machine string) string {
	if r.dir == "/" {
		return machine
	}
	return filepath.Join(r.dir, filepath.FromSlash(machine))
}

// clean turns any path into an absolute, cleaned machine path.
func clean(name string) string {
	return path.Clean("/" + name)
}

// Resolve follows every symbolic link in name and returns the machine path it
// leads to. The final element must exist.
func (r *Root) Resolve(name string) (string, error) {
	return r.resolve(clean(name), true)
}

// resolve walks name one element at a time. With follow false the final
// element is returned as is (Lstat and Readlink semantics).
func (r *Root) resolve(name string, follow bool) (string, error) {
	if name == "/" {
		return "/", nil
	}
	dir, base := path.Split(name)
	dir = path.Clean(dir)
	rdir, err := r.resolveDir(dir)
	if err != nil {
		return "", err
	}
	if !follow {
		return path.Join(rdir, base), nil
	}
	return r.walk(rdir, []string{base}, 0)
}

// resolveDir resolves a folder through its parent, so every ancestor is
// resolved once and cached.
func (r *Root) resolveDir(dir string) (string, error) {
	r.mu.Lock()
	cached, ok := r.dirs[dir]
	r.mu.Unlock()
	if ok {
		return cached, nil
	}
	parent, err := r.resolveDir(path.Dir(dir))
	if err != nil {
		return "", err
	}
	resolved, err := r.walk(parent, []string{path.Base(dir)}, 0)
	if err != nil {
		return "", err
	}
	r.mu.Lock()
	r.dirs[dir] = resolved
	r.mu.Unlock()
	return resolved, nil
}

// walk resolves the elements todo starting at the resolved machine path cur.
func (r *Root) walk(cur string, todo []string, links int) (string, error) {
	for len(todo) > 0 {
		elem := todo[0]
		todo = todo[1:]
		switch elem {
		case "", ".":
			continue
		case "..":
			cur = path.Dir(cur)
			continue
		}
		next := path.Join(cur, elem)
		r.mu.Lock()
		known := r.real[next]
		r.mu.Unlock()
		if known {
			cur = next
			continue
		}
		fi, err := os.Lstat(r.host(next))
		if err != nil {
			return "", &fs.PathError{Op: "resolve", Path: next, Err: unwrapPathErr(err)}
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			if fi.IsDir() {
				r.mu.Lock()
				r.real[next] = true
				r.mu.Unlock()
			}
			cur = next
			continue
		}
		links++
		if links > maxLinks {
			return "", &fs.PathError{Op: "resolve", Path: next, Err: ErrLoop}
		}
		target, err := os.Readlink(r.host(next))
		if err != nil {
			return "", &fs.PathError{Op: "readlink", Path: next, Err: unwrapPathErr(err)}
		}
		r.recordLink(next, target)
		if strings.HasPrefix(target, "/") {
			cur = "/"
		}
		todo = append(strings.Split(target, "/"), todo...)
	}
	return cur, nil
}

// unwrapPathErr keeps the cause (ENOENT, EACCES) but drops the host path, so
// errors name the machine path the user knows.
func unwrapPathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// ReadFile reads a whole file of at most MaxFileSize bytes.
func (r *Root) ReadFile(name string) ([]byte, error) {
	name = clean(name)
	resolved, err := r.Resolve(name)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(r.host(resolved))
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: unwrapPathErr(err)}
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: name, Err: unwrapPathErr(err)}
	}
	if len(data) > MaxFileSize {
		return nil, &fs.PathError{Op: "read", Path: name, Err: ErrTooLarge}
	}
	r.recordFile(resolved, data)
	return data, nil
}

// ReadString reads a file and trims surrounding white space, the form in
// which sysfs holds single values.
func (r *Root) ReadString(name string) (string, error) {
	data, err := r.ReadFile(name)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(data)), nil
}

// ReadDir lists a directory, sorted by name.
func (r *Root) ReadDir(name string) ([]fs.DirEntry, error) {
	name = clean(name)
	resolved, err := r.Resolve(name)
	if err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(r.host(resolved))
	if err != nil {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: unwrapPathErr(err)}
	}
	r.recordDir(resolved, entries)
	return entries, nil
}

// Stat follows links and describes the file name leads to.
func (r *Root) Stat(name string) (fs.FileInfo, error) {
	name = clean(name)
	resolved, err := r.Resolve(name)
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(r.host(resolved))
	if err != nil {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: unwrapPathErr(err)}
	}
	r.recordStat(resolved, fi)
	return fi, nil
}

// Exists reports whether name exists after following links.
func (r *Root) Exists(name string) bool {
	_, err := r.Stat(name)
	return err == nil
}

// Readlink returns the target of the link name, whose parent directories are
// resolved first. A capture tool that flattened links into small regular
// files holding the target text (as some sysfs fixtures are published) is
// accepted too, so the same reader works on both.
func (r *Root) Readlink(name string) (string, error) {
	name = clean(name)
	resolved, err := r.resolve(name, false)
	if err != nil {
		return "", err
	}
	target, err := os.Readlink(r.host(resolved))
	if err == nil {
		r.recordLink(resolved, target)
		return target, nil
	}
	fi, serr := os.Lstat(r.host(resolved))
	if serr == nil && fi.Mode().IsRegular() && fi.Size() < 4096 {
		data, rerr := r.ReadFile(resolved)
		if rerr == nil {
			return strings.TrimSpace(string(data)), nil
		}
	}
	return "", &fs.PathError{Op: "readlink", Path: name, Err: unwrapPathErr(err)}
}

// HostPath resolves name and returns the host path of the file it leads to,
// for the rare checks that need the real file (access permissions).
func (r *Root) HostPath(name string) (string, error) {
	resolved, err := r.Resolve(name)
	if err != nil {
		return "", err
	}
	return r.host(resolved), nil
}

// Glob returns the machine paths that match pattern (path.Match syntax, one
// level of wildcards per element), sorted. Unreadable directories are
// skipped: a glob over a live system must not fail on one private folder.
// A trace records the matches only, not the folders searched on the way,
// so a snapshot never carries the names of unrelated files (a home folder's
// contents, say).
func (r *Root) Glob(pattern string) []string {
	pattern = clean(pattern)
	parts := strings.Split(strings.TrimPrefix(pattern, "/"), "/")
	matches := []string{"/"}
	for _, part := range parts {
		var next []string
		literal := !strings.ContainsAny(part, `*?[\`)
		for _, m := range matches {
			candidate := path.Join(m, part)
			if literal {
				if _, err := r.lstatResolved(candidate); err == nil {
					next = append(next, candidate)
				}
				continue
			}
			resolved, err := r.Resolve(m)
			if err != nil {
				continue
			}
			names, err := r.listNames(resolved)
			if err != nil {
				continue
			}
			for _, n := range names {
				if ok, _ := path.Match(part, n); ok {
					next = append(next, path.Join(m, n))
				}
			}
		}
		matches = next
		if len(matches) == 0 {
			return nil
		}
	}
	for _, m := range matches {
		r.recordMatch(m)
	}
	return matches
}

// listNames returns the sorted names in the resolved folder dir, listing
// it once per Root.
func (r *Root) listNames(dir string) ([]string, error) {
	r.mu.Lock()
	names, ok := r.listings[dir]
	r.mu.Unlock()
	if ok {
		return names, nil
	}
	f, err := os.Open(r.host(dir))
	if err != nil {
		return nil, err
	}
	names, err = f.Readdirnames(-1)
	f.Close()
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	r.mu.Lock()
	if r.listings == nil {
		r.listings = map[string][]string{}
	}
	r.listings[dir] = names
	r.mu.Unlock()
	return names, nil
}

// recordMatch records a glob match as a link or as a file of its mode.
func (r *Root) recordMatch(name string) {
	resolved, err := r.resolve(name, false)
	if err != nil {
		return
	}
	fi, err := os.Lstat(r.host(resolved))
	if err != nil {
		return
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		if target, err := os.Readlink(r.host(resolved)); err == nil {
			r.recordLink(resolved, target)
		}
		return
	}
	r.recordStat(resolved, fi)
}

// Lexists reports whether name exists without following its final link, so
// a dangling link can be told from a missing file.
func (r *Root) Lexists(name string) bool {
	_, err := r.lstatResolved(clean(name))
	return err == nil
}

// lstatResolved checks that name exists without following its final link.
func (r *Root) lstatResolved(name string) (fs.FileInfo, error) {
	resolved, err := r.resolve(name, false)
	if err != nil {
		return nil, err
	}
	return os.Lstat(r.host(resolved))
}
