// Package sdk makes the "custom ROCm SDK" workaround safe: a second ROCm
// tree (such as /opt/rocm_sdk_612, built by rocm_sdk_builder for the user's
// own GPU) that used to be activated by hand-editing PATH and
// LD_LIBRARY_PATH.
//
// Find checks that a path is a ROCm installation (one detect found, or at
// least a folder with bin/ and lib/). Activation lists the variables that
// select it, Activate applies them to a child's environment (for `rocm-patch
// run --sdk`), Render writes them for a shell, and List says, for every
// installation, whether its rocBLAS ships kernels for each detected GPU.
// Everything here is pure except Find, which reads under an fsroot.Root.
package sdk

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/rocm-patch/rocm-patch/internal/fsroot"
	"github.com/rocm-patch/rocm-patch/internal/hw"
	"github.com/rocm-patch/rocm-patch/internal/system"
)

// ErrBadPath is wrapped when a path cannot be put in PATH and
// LD_LIBRARY_PATH as one element: relative, or holding a colon (the
// separator), a newline or another control character.
var ErrBadPath = errors.New("unusable ROCm path")

// ErrNotROCm is wrapped when a path is not a ROCm installation.
var ErrNotROCm = errors.New("not a ROCm installation")

// CheckPath returns the cleaned form of an absolute path that can be an
// element of PATH and LD_LIBRARY_PATH, or an error wrapping ErrBadPath.
// Spaces, quotes and $ are fine: the renderers quote them.
func CheckPath(p string) (string, error) {
	if !strings.HasPrefix(p, "/") {
		return "", fmt.Errorf("%w: %q is not absolute", ErrBadPath, p)
	}
	for _, r := range p {
		if r < 0x20 || r == 0x7f {
			return "", fmt.Errorf("%w: %q holds a control character (a newline, a tab)", ErrBadPath, p)
		}
	}
	if strings.Contains(p, ":") {
		return "", fmt.Errorf("%w: %q holds a colon, which separates the elements of PATH and LD_LIBRARY_PATH", ErrBadPath, p)
	}
	return path.Clean(p), nil
}

// Find returns the ROCm installation at p under root: one of sys.ROCm
// whose path, or the path it resolves to, is p or where p leads; failing
// that, a folder with bin/ and lib/ (Version and ROCBLASTargets then
// empty). The result's Path is p, cleaned, as the user named it.
func Find(sys *system.System, root *fsroot.Root, p string) (system.Install, error) {
	clean, err := CheckPath(p)
	if err != nil {
		return system.Install{}, err
	}
	resolved, rerr := root.Resolve(clean)
	if rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
		return system.Install{}, fmt.Errorf("%s: %w", clean, rerr)
	}
	if sys != nil {
		for _, in := range sys.ROCm {
			for _, cand := range []string{in.Path, in.ResolvedPath} {
				if cand != "" && (cand == clean || (rerr == nil && cand == resolved)) {
					in.Path, in.ResolvedPath = clean, ""
					if rerr == nil && resolved != clean {
						in.ResolvedPath = resolved
					}
					return in, nil
				}
			}
		}
	}
	if rerr != nil {
		return system.Install{}, fmt.Errorf("%w: %s does not exist", ErrNotROCm, clean)
	}
	for _, sub := range []string{"bin", "lib"} {
		fi, err := root.Stat(clean + "/" + sub)
		if err != nil || !fi.IsDir() {
			return system.Install{}, fmt.Errorf("%w: %s was not found by detect and has no %s/ folder", ErrNotROCm, clean, sub)
		}
	}
	in := system.Install{Path: clean, ROCBLASTargets: []string{}}
	if resolved != clean {
		in.ResolvedPath = resolved
	}
	return in, nil
}

// Var is one variable of an activation.
type Var struct {
	Name string
	// Value is set as the whole value, or put in front when Prepend.
	Value   string
	Prepend bool
}

// Activation returns the variables that select the ROCm tree at p:
// ROCM_PATH and HIP_PATH (HIP lives in the ROCm tree since ROCm 6),
// ROCM_HOME (PyTorch's extension builder reads it before ROCM_PATH, and
// rocm_sdk_builder's env script sets it, so a stale one would point the
// build at another tree), and p/bin and p/lib in front of PATH and
// LD_LIBRARY_PATH.
func Activation(p string) ([]Var, error) {
	clean, err := CheckPath(p)
	if err != nil {
		return nil, err
	}
	return []Var{
		{Name: "ROCM_PATH", Value: clean},
		{Name: "ROCM_HOME", Value: clean},
		{Name: "HIP_PATH", Value: clean},
		{Name: "PATH", Value: path.Join(clean, "bin"), Prepend: true},
		{Name: "LD_LIBRARY_PATH", Value: path.Join(clean, "lib"), Prepend: true},
	}, nil
}

// Activate returns a copy of env ("NAME=value" strings) with the ROCm tree
// at p activated, for a child process. A prepended element is followed by
// the old value only when that is set and not empty: an empty element in
// PATH or LD_LIBRARY_PATH means the current folder, which nobody asked
// for. Variables keep their place in env; new ones go at the end.
func Activate(env []string, p string) ([]string, error) {
	vars, err := Activation(p)
	if err != nil {
		return nil, err
	}
	out := append([]string(nil), env...)
	for _, v := range vars {
		idx, old := -1, ""
		for i, kv := range out {
			if name, val, ok := strings.Cut(kv, "="); ok && name == v.Name {
				idx, old = i, val
			}
		}
		value := v.Value
		if v.Prepend && old != "" {
			value += ":" + old
		}
		if idx < 0 {
			out = append(out, v.Name+"="+value)
			continue
		}
		// A duplicated name: the last one is what getenv returns, so it
		// is the one replaced, and the others are dropped.
		kept := out[:0]
		for i, kv := range out {
			if name, _, _ := strings.Cut(kv, "="); name == v.Name && i != idx {
				continue
			}
			if i == idx {
				kv = v.Name + "=" + value
			}
			kept = append(kept, kv)
		}
		out = kept
	}
	return out, nil
}

// Kernels says whether an installation's rocBLAS can serve a GPU.
type Kernels string

// The verdicts of Cover.
const (
	// KernelsOwn: rocBLAS ships kernels for the GPU's own target.
	KernelsOwn Kernels = "own"
	// KernelsFamily: only for another target of the same LLVM generic
	// family, which HSA_OVERRIDE_GFX_VERSION can make ROCm load.
	KernelsFamily Kernels = "family"
	// KernelsNone: no kernels for the GPU's target or family.
	KernelsNone Kernels = "none"
	// KernelsUnknown: no rocBLAS library found, or the GPU's target is
	// unknown.
	KernelsUnknown Kernels = "unknown"
)

// Coverage is the verdict for one GPU.
type Coverage struct {
	GPU     int     `json:"gpu"`
	Name    string  `json:"name"`
	Target  string  `json:"gfx_target"`
	Kernels Kernels `json:"kernels"`
	// Via are the same-family targets shipped, when Kernels is family.
	Via []string `json:"via,omitempty"`
	// Override is the HSA_OVERRIDE_GFX_VERSION that loads Via[0].
	Override string `json:"override,omitempty"`
}

// Cover judges an installation against each GPU, on rocBLAS's
// TensileLibrary files: the honest test of "does this install ship kernels
// for my GPU" (shared/research/facts.md).
func Cover(in system.Install, gpus []system.GPU) []Coverage {
	out := []Coverage{}
	for _, g := range gpus {
		c := Coverage{GPU: g.Index, Name: g.Name, Target: g.GFXTarget, Kernels: KernelsNone}
		switch {
		case g.GFXTarget == "" || len(in.ROCBLASTargets) == 0:
			c.Kernels = KernelsUnknown
		default:
			for _, t := range in.ROCBLASTargets {
				if baseTarget(t) == baseTarget(g.GFXTarget) {
					c.Kernels = KernelsOwn
					break
				}
				if hw.SameGenericFamily(t, g.GFXTarget) && !contains(c.Via, baseTarget(t)) {
					c.Via = append(c.Via, baseTarget(t))
				}
			}
			if c.Kernels == KernelsOwn {
				c.Via = nil
			} else if len(c.Via) > 0 {
				c.Kernels = KernelsFamily
				if v, err := hw.ParseTarget(c.Via[0]); err == nil {
					c.Override = v.String()
				}
			}
		}
		out = append(out, c)
	}
	return out
}

func baseTarget(t string) string {
	if i := strings.IndexByte(t, ':'); i >= 0 {
		return t[:i]
	}
	return t
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// ListSchema names the JSON form of a Listing.
const ListSchema = "rocm-patch/sdk/v1"

// Listing is every ROCm installation with its coverage of the GPUs.
type Listing struct {
	Schema   string    `json:"schema"`
	Installs []Listed  `json:"installs"`
	GPUs     []ListGPU `json:"gpus"`
}

// ListGPU names a detected GPU.
type ListGPU struct {
	Index  int    `json:"index"`
	Name   string `json:"name"`
	Target string `json:"gfx_target"`
	Family string `json:"family"`
}

// Listed is one installation.
type Listed struct {
	Path           string   `json:"path"`
	ResolvedPath   string   `json:"resolved_path,omitempty"`
	Version        string   `json:"version"`
	ROCBLASTargets []string `json:"rocblas_targets"`
	// SelectedBy names the variables (ROCM_PATH, ROCM_HOME, HIP_PATH)
	// that point at it.
	SelectedBy []string   `json:"selected_by"`
	Coverage   []Coverage `json:"coverage"`
}

// selectors are the variables that choose a ROCm tree.
var selectors = []string{"ROCM_PATH", "ROCM_HOME", "HIP_PATH"}

// List builds the listing from a detection, installations in detect's
// order (best candidate first).
func List(sys *system.System) Listing {
	l := Listing{Schema: ListSchema, Installs: []Listed{}, GPUs: []ListGPU{}}
	if sys == nil {
		return l
	}
	for _, g := range sys.GPUs {
		l.GPUs = append(l.GPUs, ListGPU{Index: g.Index, Name: g.Name, Target: g.GFXTarget, Family: g.Family})
	}
	for _, in := range sys.ROCm {
		e := Listed{Path: in.Path, ResolvedPath: in.ResolvedPath, Version: in.Version,
			ROCBLASTargets: append([]string{}, in.ROCBLASTargets...), SelectedBy: []string{}, Coverage: Cover(in, sys.GPUs)}
		for _, name := range selectors {
			v, ok := sys.Env[name]
			if !ok || v == "" {
				continue
			}
			v = path.Clean(v)
			if v == in.Path || (in.ResolvedPath != "" && v == in.ResolvedPath) {
				e.SelectedBy = append(e.SelectedBy, name)
			}
		}
		l.Installs = append(l.Installs, e)
	}
	return l
}
