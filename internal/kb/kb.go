package kb

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
)

// embedded holds the knowledge base compiled into the binary.
//
//go:embed settings.yaml ladder.yaml profiles.yaml entries/*.md
var embedded embed.FS

// The layout LoadFS expects.
const (
	settingsFileName = "settings.yaml"
	entriesDir       = "entries"
)

// KB is a loaded, validated knowledge base.
type KB struct {
	entries  []*Entry
	byID     map[string]*Entry
	settings []*Setting
	setByID  map[string]*Setting
	ladder   *Ladder
	profiles []*Profile
}

// Load returns the knowledge base embedded in the binary.
func Load() (*KB, error) {
	return loadFS(embedded, true)
}

// LoadFS loads a knowledge base from fsys, which must hold settings.yaml
// and entries/*.md at its root, and may hold ladder.yaml (the retry
// ladder; without it the ladder is empty) and profiles.yaml (the kernel
// parameter profiles; without it there are none). Every file is validated;
// the first problem found is returned, naming the file and field.
func LoadFS(fsys fs.FS) (*KB, error) {
	return loadFS(fsys, false)
}

// loadFS is LoadFS; embedded says fsys is the binary's own knowledge base,
// whose entry files are found among the generated values by a hash read
// through one buffer instead of being read whole (see loadEntry). Other
// file systems read each file once, as ParseEntry takes it.
func loadFS(fsys fs.FS, embedded bool) (*KB, error) {
	data, err := fs.ReadFile(fsys, settingsFileName)
	if err != nil {
		return nil, fmt.Errorf("knowledge base: %w", err)
	}
	settings, err := parseSettings(settingsFileName, data)
	if err != nil {
		return nil, fmt.Errorf("knowledge base: %w", err)
	}
	k := &KB{
		byID:     map[string]*Entry{},
		settings: settings,
		setByID:  map[string]*Setting{},
	}
	for _, s := range settings {
		k.setByID[s.ID] = s
	}
	switch data, err := fs.ReadFile(fsys, ladderFileName); {
	case err == nil:
		if k.ladder, err = parseLadder(ladderFileName, data, k.setByID); err != nil {
			return nil, fmt.Errorf("knowledge base: %w", err)
		}
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("knowledge base: %w", err)
	}
	switch data, err := fs.ReadFile(fsys, profilesFileName); {
	case err == nil:
		if k.profiles, err = parseProfiles(profilesFileName, data, k.setByID); err != nil {
			return nil, fmt.Errorf("knowledge base: %w", err)
		}
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("knowledge base: %w", err)
	}
	names, err := fs.Glob(fsys, entriesDir+"/*.md")
	if err != nil {
		return nil, fmt.Errorf("knowledge base: %w", err)
	}
	if len(names) == 0 {
		return nil, errors.New("knowledge base: no entries under " + entriesDir + "/")
	}
	sort.Strings(names)
	var buf []byte
	if embedded {
		buf = make([]byte, 32<<10)
	}
	for _, name := range names {
		e, err := loadEntry(fsys, name, buf)
		if err != nil {
			return nil, fmt.Errorf("knowledge base: %w", err)
		}
		if stem := strings.TrimSuffix(path.Base(name), ".md"); stem != e.ID {
			return nil, fmt.Errorf("knowledge base: %w", ferr(name, "id", "%q differs from the file name %q", e.ID, stem))
		}
		if prev, dup := k.byID[e.ID]; dup {
			return nil, fmt.Errorf("knowledge base: %w", ferr(name, "id", "duplicate id %q (also in %s)", e.ID, prev.File))
		}
		e.kb = k
		k.byID[e.ID] = e
		k.entries = append(k.entries, e)
	}
	sort.Slice(k.entries, func(i, j int) bool { return k.entries[i].ID < k.entries[j].ID })
	for _, e := range k.entries {
		if err := k.resolve(e); err != nil {
			return nil, fmt.Errorf("knowledge base: %w", err)
		}
	}
	return k, nil
}

// loadEntry reads the entry file name. With a buffer (the embedded
// knowledge base), the file is hashed through it and taken from the
// generated values without keeping a copy of its text; a file the
// generator did not see, and every file without a buffer, is read whole
// and parsed.
func loadEntry(fsys fs.FS, name string, buf []byte) (*Entry, error) {
	if buf != nil {
		if sum, ok := fileSum(fsys, name, buf); ok {
			if e, ok := predecodedEntry(sum); ok {
				return e.loaded(name)
			}
		}
	}
	data, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, err
	}
	return ParseEntry(name, data)
}

// resolve links borrowed signatures and checks setting references.
func (k *KB) resolve(e *Entry) error {
	for i, id := range e.SignaturesOf {
		src, ok := k.byID[id]
		if !ok {
			return ferr(e.File, fmt.Sprintf("signatures_of[%d]", i), "unknown entry %q", id)
		}
		if len(src.SignaturesOf) > 0 {
			// One level only: a chain would make an entry's evidence
			// depend on edits far away.
			return ferr(e.File, fmt.Sprintf("signatures_of[%d]", i), "%q borrows signatures itself; borrow from the entries that declare them", id)
		}
		if src.Fallout && !e.Fallout {
			return ferr(e.File, fmt.Sprintf("signatures_of[%d]", i), "%q is fallout; a cause cannot be recognised by fallout alone", id)
		}
		e.borrowed = append(e.borrowed, src.Signatures...)
	}
	check := func(field string, v SettingValue, needValue bool) error {
		s, ok := k.setByID[v.Setting]
		if !ok {
			return ferr(e.File, field+".setting", "unknown setting %q (see settings.yaml)", v.Setting)
		}
		if s.Invalid && needValue {
			return ferr(e.File, field+".setting", "%q does not exist; the real setting is %q", v.Setting, s.CorrectID)
		}
		// Refuted values are claims and may be invalid by nature; only
		// values rocm-patch would apply are checked.
		// Values of the embedded files are checked by the tests, which
		// keeps the patterns' compilation off the load.
		if needValue && v.Value != "" && !(e.known && s.known) && !s.ValidValue(v.Value) {
			return ferr(e.File, field+".value", "%q is not a valid value of %s (pattern %s)", v.Value, s.ID, s.ValuePattern)
		}
		return nil
	}
	for i, m := range e.Mitigations {
		if m.Setting == "" {
			continue
		}
		if err := check(fmt.Sprintf("mitigations[%d]", i), m.SettingValue, true); err != nil {
			return err
		}
	}
	for i, r := range e.Refuted {
		field := fmt.Sprintf("refuted[%d]", i)
		if err := check(field, r, false); err != nil {
			return err
		}
		if len(k.setByID[r.Setting].WrongClaims) == 0 && !k.setByID[r.Setting].Invalid {
			return ferr(e.File, field+".setting", "%q has no wrong_claims in settings.yaml to show", r.Setting)
		}
	}
	return nil
}

// All returns every entry, sorted by id. The slice is a copy; the entries
// are shared and must not be modified.
func (k *KB) All() []*Entry {
	return append([]*Entry(nil), k.entries...)
}

// Get returns the entry with this id.
func (k *KB) Get(id string) (*Entry, bool) {
	e, ok := k.byID[id]
	return e, ok
}

// Settings returns the catalogue in file order.
func (k *KB) Settings() []*Setting {
	return append([]*Setting(nil), k.settings...)
}

// Setting returns the catalogue record with this id.
func (k *KB) Setting(id string) (*Setting, bool) {
	s, ok := k.setByID[id]
	return s, ok
}

// NoOp evaluates Setting.NoOp by id. It fails only for an unknown id.
func (k *KB) NoOp(id, value string, c Context) (bool, string, error) {
	s, ok := k.setByID[id]
	if !ok {
		return false, "", fmt.Errorf("unknown setting %q", id)
	}
	noop, why := s.NoOp(value, c)
	return noop, why, nil
}
