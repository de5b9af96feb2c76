package system

import (
	"bytes"
	"errors"
	"io/fs"
	"strings"

	"github.com/rocm-patch/rocm-patch/internal/fsroot"
	"github.com/rocm-patch/rocm-patch/internal/hw"
)

// DefaultIDTable is where libdrm installs amdgpu.ids on Debian, Ubuntu,
// Fedora and Arch.
const DefaultIDTable = "/usr/share/libdrm/amdgpu.ids"

// idTableVar lists extra amdgpu.ids locations, colon separated, as libdrm
// honours it; an entry may be the file or the folder holding it.
const idTableVar = "AMDGPU_ASIC_ID_TABLE_PATHS"

// idTable is one parsed amdgpu.ids and where it came from.
type idTable struct {
	path  string
	host  bool
	table *hw.IDTable
}

// loadIDTables reads, in order of precedence, the tables named by
// AMDGPU_ASIC_ID_TABLE_PATHS, the root's own table, and the host's table.
func (d *detector) loadIDTables() {
	d.idTablesLoaded = true
	var paths []string
	if v := d.env[idTableVar]; v != "" {
		for _, p := range strings.Split(v, ":") {
			if p = strings.TrimSpace(p); p == "" {
				continue
			}
			if fi, err := d.root.Stat(p); err == nil && fi.IsDir() {
				p = joinPath(p, "amdgpu.ids")
			}
			paths = append(paths, p)
		}
	}
	paths = append(paths, DefaultIDTable)
	seen := map[string]bool{}
	for _, p := range paths {
		if seen[p] {
			continue
		}
		seen[p] = true
		if t := d.readIDTable(d.root, p, p != DefaultIDTable); t != nil {
			d.idTables = append(d.idTables, *t)
		}
	}
	if d.opts.HostIDs != nil && d.opts.HostIDs.Dir() != d.root.Dir() {
		if t := d.readIDTable(d.opts.HostIDs, DefaultIDTable, false); t != nil {
			t.host = true
			d.idTables = append(d.idTables, *t)
		}
	}
}

// readIDTable parses one table; named says whether the user asked for it
// (through the variable), which makes its absence worth a note.
func (d *detector) readIDTable(root *fsroot.Root, name string, named bool) *idTable {
	data, err := root.ReadFile(name)
	if err != nil {
		if named || !errors.Is(err, fs.ErrNotExist) {
			d.noteReadError(name, err)
		}
		return nil
	}
	t, err := hw.ParseIDTable(bytes.NewReader(data))
	if err != nil {
		d.note("warning", name, "not a usable amdgpu.ids table: %v", err)
		return nil
	}
	if bad := t.BadLines(); len(bad) > 0 {
		d.note("warning", name, "%d malformed lines skipped (first: %v)", len(bad), bad[0])
	}
	return &idTable{path: name, table: t}
}

// lookupName finds a marketing name: an exact device+revision entry in any
// table wins over a device-only entry, so a precise name from the host is
// preferred to a vague one from the tree.
func (d *detector) lookupName(device, revision uint16, haveRevision bool) (name string, exact, ok bool) {
	if device == 0 {
		return "", false, false
	}
	if !d.idTablesLoaded {
		d.loadIDTables()
	}
	var fallback string
	for _, t := range d.idTables {
		n, ex, found := t.table.Lookup(device, revision)
		if !found {
			continue
		}
		if ex && haveRevision {
			return n, true, true
		}
		if fallback == "" {
			fallback = n
		}
	}
	if fallback != "" {
		return fallback, false, true
	}
	return "", false, false
}
