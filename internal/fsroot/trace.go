package fsroot

import (
	"io/fs"
	"sort"
)

// Trace records what a Root read: the files with their contents, the
// directory listings, the links it followed and the files whose existence or
// mode it checked. A snapshot built from a Trace holds exactly what detect
// read, no more, so a bug report carries nothing that detect did not use.
type Trace struct {
	Files map[string][]byte
	Dirs  map[string][]DirEntry
	Links map[string]string
	Stats map[string]fs.FileMode
}

// DirEntry is one name in a recorded directory listing.
type DirEntry struct {
	Name string
	Type fs.FileMode
}

// StartTrace makes the root record every read from now on and returns the
// record, which fills as reads happen.
func (r *Root) StartTrace() *Trace {
	t := &Trace{
		Files: map[string][]byte{},
		Dirs:  map[string][]DirEntry{},
		Links: map[string]string{},
		Stats: map[string]fs.FileMode{},
	}
	r.mu.Lock()
	r.trace = t
	// Cached directories were resolved before tracing began; forget them so
	// that the links they went through are recorded again.
	r.dirs = map[string]string{"/": "/"}
	r.real = map[string]bool{"/": true}
	r.mu.Unlock()
	return t
}

func (r *Root) recordFile(name string, data []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.trace != nil {
		r.trace.Files[name] = append([]byte(nil), data...)
	}
}

func (r *Root) recordDir(name string, entries []fs.DirEntry) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.trace == nil {
		return
	}
	list := make([]DirEntry, 0, len(entries))
	for _, e := range entries {
		list = append(list, DirEntry{Name: e.Name(), Type: e.Type()})
	}
	r.trace.Dirs[name] = list
}

func (r *Root) recordLink(name, target string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.trace != nil {
		r.trace.Links[name] = target
	}
}

func (r *Root) recordStat(name string, fi fs.FileInfo) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.trace != nil {
		r.trace.Stats[name] = fi.Mode()
	}
}

// Paths returns every recorded path, sorted, for tests and debugging.
func (t *Trace) Paths() []string {
	seen := map[string]bool{}
	for p := range t.Files {
		seen[p] = true
	}
	for p := range t.Dirs {
		seen[p] = true
	}
	for p := range t.Links {
		seen[p] = true
	}
	for p := range t.Stats {
		seen[p] = true
	}
	out := make([]string, 0, len(seen))
	for p := range seen {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}
