package setup

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/rocm-patch/rocm-patch/internal/atomicfile"
	"github.com/rocm-patch/rocm-patch/internal/lazyre"
)

// ManifestSchema names the format of the manifest.
const ManifestSchema = "rocm-patch/setup/v1"

// Step names one of setup's steps.
type Step string

// The steps, in the order setup offers them.
const (
	StepShell  Step = "shell"
	StepPython Step = "python"
	StepKernel Step = "kernel"
)

// Steps lists the steps in the order setup offers them.
var Steps = []Step{StepShell, StepPython, StepKernel}

// ParseStep reads a step name.
func ParseStep(s string) (Step, error) {
	for _, st := range Steps {
		if s == string(st) {
			return st, nil
		}
	}
	return "", fmt.Errorf("%q is not a step (want shell, python or kernel)", s)
}

// Manifest is what setup changed, oldest first. Undo takes the changes
// back newest first.
type Manifest struct {
	Schema string `json:"schema"`
	// Dirs are the folders setup created to hold the manifest, outermost
	// first; the undo that empties the manifest removes them when empty.
	Dirs    []string `json:"dirs,omitempty"`
	Changes []Change `json:"changes"`
}

// Change is one change setup made.
type Change struct {
	Step Step      `json:"step"`
	Time time.Time `json:"time"`
	// File is the file changed: an absolute path on this machine, or for
	// the kernel step the machine path under Kernel.Root.
	File string `json:"file"`
	// Created is true when File did not exist before: undo removes it
	// when nothing but setup's content is left in it.
	Created bool `json:"created,omitempty"`
	// Dirs are the folders setup created for File, outermost first; undo
	// removes those that are empty.
	Dirs []string `json:"dirs,omitempty"`
	// SHA256 is the digest of File after the change.
	SHA256 string        `json:"sha256"`
	Shell  *ShellChange  `json:"shell,omitempty"`
	Python *PythonChange `json:"python,omitempty"`
	Kernel *KernelChange `json:"kernel,omitempty"`
}

// ShellChange is the block added to a shell start-up file.
type ShellChange struct {
	Shell Shell `json:"shell"`
	// Link is the start-up file as the shell names it when it is a
	// symbolic link to File (a dotfiles manager's); the link is kept.
	Link string `json:"link,omitempty"`
	// Prefix holds the bytes put before the block (see Insert).
	Prefix string `json:"prefix"`
	Block  string `json:"block"`
}

// PythonChange is the .pth file installed.
type PythonChange struct {
	// Python is the interpreter the file was installed for; "" for
	// python3 on PATH.
	Python string `json:"python,omitempty"`
	// Executable is the rocm-patch binary it was installed for.
	Executable string `json:"executable,omitempty"`
	PackageDir string `json:"package_dir"`
}

// KernelChange is the amdgpu profile applied.
type KernelChange struct {
	// Root is the host folder that was the machine: "/" for this one.
	Root    string `json:"root"`
	Profile string `json:"profile"`
	// Applied is the time of the apply in kparams' state file; undo
	// rolls back only while that apply is the last one recorded there.
	Applied time.Time `json:"applied"`
}

var sha256Hex = lazyre.New(`^[0-9a-f]{64}$`)

// ParseManifest reads and validates a manifest. Everything undo acts on is
// checked: paths are absolute, a block has the shape of a block, so that
// an edited manifest cannot make undo take out anything but what setup
// writes.
func ParseManifest(data []byte) (*Manifest, error) {
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("data after the manifest object")
	}
	if m.Schema != ManifestSchema {
		return nil, fmt.Errorf("schema %q, want %q", m.Schema, ManifestSchema)
	}
	if err := checkDirs(m.Dirs); err != nil {
		return nil, fmt.Errorf("dirs: %w", err)
	}
	if m.Changes == nil {
		m.Changes = []Change{}
	}
	for i, c := range m.Changes {
		if err := c.check(); err != nil {
			return nil, fmt.Errorf("changes[%d]: %w", i, err)
		}
	}
	return &m, nil
}

func (c Change) check() error {
	if !filepath.IsAbs(c.File) || filepath.Clean(c.File) != c.File {
		return fmt.Errorf("file %q is not a clean absolute path", c.File)
	}
	if err := checkDirs(c.Dirs); err != nil {
		return fmt.Errorf("dirs: %w", err)
	}
	if c.SHA256 != "" && !sha256Hex().MatchString(c.SHA256) {
		return fmt.Errorf("sha256 %q is not a hex SHA-256", c.SHA256)
	}
	n := 0
	for _, set := range []bool{c.Shell != nil, c.Python != nil, c.Kernel != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return errors.New("not exactly one of shell, python, kernel")
	}
	switch c.Step {
	case StepShell:
		if c.Shell == nil {
			return errors.New("step shell without its shell record")
		}
		if _, err := ParseShell(string(c.Shell.Shell)); err != nil {
			return err
		}
		if c.Shell.Link != "" && !filepath.IsAbs(c.Shell.Link) {
			return fmt.Errorf("link %q is not absolute", c.Shell.Link)
		}
		if err := CheckPrefix([]byte(c.Shell.Prefix)); err != nil {
			return err
		}
		return CheckBlock([]byte(c.Shell.Block))
	case StepPython:
		if c.Python == nil {
			return errors.New("step python without its python record")
		}
		return nil
	case StepKernel:
		if c.Kernel == nil {
			return errors.New("step kernel without its kernel record")
		}
		if !filepath.IsAbs(c.Kernel.Root) {
			return fmt.Errorf("kernel root %q is not absolute", c.Kernel.Root)
		}
		if len(c.Dirs) > 0 {
			return errors.New("step kernel: kernel rollback keeps its own folders")
		}
		return nil
	}
	return fmt.Errorf("unknown step %q", c.Step)
}

func checkDirs(dirs []string) error {
	for _, d := range dirs {
		if !filepath.IsAbs(d) || filepath.Clean(d) != d || d == "/" {
			return fmt.Errorf("%q is not a clean absolute folder", d)
		}
	}
	return nil
}

// marshal renders the manifest as saved.
func (m *Manifest) marshal() ([]byte, error) {
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(data, '\n'), nil
}

// find returns the index of the change of step to file, or -1.
func (m *Manifest) find(step Step, file string) int {
	return slices.IndexFunc(m.Changes, func(c Change) bool { return c.Step == step && c.File == file })
}

// readManifest loads the manifest at name; a missing one is empty.
func readManifest(name string) (*Manifest, bool, error) {
	data, err := os.ReadFile(name)
	if errors.Is(err, fs.ErrNotExist) {
		return &Manifest{Schema: ManifestSchema, Changes: []Change{}}, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read the setup manifest: %w", err)
	}
	m, err := ParseManifest(data)
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w", name, err)
	}
	return m, true, nil
}

// writeManifest saves m at name, creating its folders (and recording
// those it created) the first time. An empty manifest is removed, with
// the folders it created when they are empty: after a full undo nothing
// of setup is left.
func writeManifest(name string, m *Manifest, exists bool) error {
	if len(m.Changes) == 0 {
		if exists {
			if err := os.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("remove the setup manifest: %w", err)
			}
		}
		removeEmptyDirs(m.Dirs)
		m.Dirs = nil
		return nil
	}
	if !exists {
		created, err := makeDirs(filepath.Dir(name), 0o700)
		if err != nil {
			return fmt.Errorf("setup manifest: %w", err)
		}
		m.Dirs = append(m.Dirs, created...)
	}
	data, err := m.marshal()
	if err != nil {
		return fmt.Errorf("setup manifest: %w", err)
	}
	if err := atomicfile.WriteFile(name, data, 0o600); err != nil {
		return fmt.Errorf("save the setup manifest: %w", err)
	}
	return nil
}

// makeDirs creates dir and its missing parents and returns those it
// created, outermost first.
func makeDirs(dir string, perm fs.FileMode) ([]string, error) {
	var missing []string
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		_, err := os.Lstat(d)
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		missing = append(missing, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	slices.Reverse(missing)
	var created []string
	for _, d := range missing {
		if err := os.Mkdir(d, perm); err != nil {
			removeEmptyDirs(created)
			return nil, err
		}
		created = append(created, d)
	}
	if fi, err := os.Stat(dir); err != nil {
		return created, err
	} else if !fi.IsDir() {
		return created, fmt.Errorf("%s: not a folder", dir)
	}
	return created, nil
}

// removeEmptyDirs removes the folders of dirs (outermost first) that are
// empty, innermost first. A folder something else now uses stays.
func removeEmptyDirs(dirs []string) {
	for i := len(dirs) - 1; i >= 0; i-- {
		os.Remove(dirs[i]) // fails, as wanted, on a folder that is not empty
	}
}
