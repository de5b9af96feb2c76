package system

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/rocm-patch/rocm-patch/internal/fsroot"
)

// AMDVendorID is the PCI vendor id of AMD (ATI) GPUs.
const AMDVendorID = 0x1002

// Recorded facts that files alone cannot carry live under this folder of a
// root: a snapshot writes them, and hand-built trees may too.
const (
	// RecordedEnviron holds NAME=value lines: the ROCm, HIP and PyTorch
	// variables of the captured machine.
	RecordedEnviron = "/.rocm-patch/environ"
	// RecordedAccess holds "PATH rw|-" lines: whether the capturing user
	// could open each device node for reading and writing.
	RecordedAccess = "/.rocm-patch/access"
)

// Options tune a detection.
type Options struct {
	// Environ is the process environment as "NAME=value" strings. It is
	// ignored when the root holds a recorded environment.
	Environ []string
	// HostIDs is a root from which the host's libdrm amdgpu.ids is read when
	// the tree's own tables do not name a GPU; nil disables the fallback.
	HostIDs *fsroot.Root
	// Logger receives debug diagnostics; nil discards them.
	Logger *slog.Logger
}

// Detect reads the machine under root into a System. It fails only when ctx
// is cancelled: anything unreadable becomes a Note naming the file or
// variable, and the rest of the picture is still returned.
func Detect(ctx context.Context, root *fsroot.Root, opts Options) (*System, error) {
	d := &detector{root: root, opts: opts, log: opts.Logger, uuids: map[int]uint64{}}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	sys := &System{
		Schema: Schema,
		GPUs:   []GPU{},
		ROCm:   []Install{},
		Torch:  []Install{},
		Env:    map[string]string{},
		AMDGPU: AMDGPU{Params: map[string]string{}},
		Notes:  []Note{},
	}
	d.sys = sys
	d.env = d.loadEnviron()
	for k, v := range d.env {
		if relevantVar(k) {
			sys.Env[k] = v
		}
	}
	steps := []func(){
		d.readKernel,
		d.readAMDGPUModule,
		d.readGPUs,
		d.readAccess,
		d.readInstalls,
	}
	for _, step := range steps {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("detect: %w", err)
		}
		step()
	}
	return sys, nil
}

// detector carries the state of one detection.
type detector struct {
	root *fsroot.Root
	opts Options
	log  *slog.Logger
	sys  *System
	env  map[string]string
	// recordedAccess is non-nil when the root carries RecordedAccess.
	recordedAccess map[string]bool
	// uuids maps GPU index to its ROCr uuid (KFD unique_id in hex), for
	// ROCR_VISIBLE_DEVICES=GPU-<uuid>. Kept out of System: it identifies a
	// physical board and has no use beyond visibility.
	uuids map[int]uint64
	// idTables are libdrm's amdgpu.ids tables, loaded on first use.
	idTables       []idTable
	idTablesLoaded bool
}

func (d *detector) note(level, source, format string, args ...any) {
	d.sys.Notes = append(d.sys.Notes, Note{Level: level, Source: source, Message: fmt.Sprintf(format, args...)})
}

// noteReadError turns an unexpected read failure into a note. A missing file
// is often normal (old kernels, no ROCm), so callers decide whether to call
// this for fs.ErrNotExist.
func (d *detector) noteReadError(name string, err error) {
	d.note("warning", name, "could not read %s: %v", name, causeText(err))
}

// causeText names the cause of a read failure in plain words.
func causeText(err error) string {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "it does not exist (or a link on the way is dangling)"
	case errors.Is(err, fs.ErrPermission):
		return "permission denied"
	case errors.Is(err, fsroot.ErrLoop):
		return "too many levels of symbolic links"
	case errors.Is(err, fsroot.ErrTooLarge):
		return "the file is larger than any such file should be"
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// loadEnviron returns the variables detect honours: the root's recorded
// environment when present (a snapshot replays its machine's variables, not
// the replaying user's), else the process environment.
func (d *detector) loadEnviron() map[string]string {
	env := map[string]string{}
	data, err := d.root.ReadFile(RecordedEnviron)
	if err == nil {
		for i, line := range strings.Split(string(data), "\n") {
			line = strings.TrimRight(line, "\r")
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			k, v, ok := strings.Cut(line, "=")
			if !ok || k == "" {
				d.note("warning", RecordedEnviron, "line %d: want NAME=value, got %q", i+1, clip(line))
				continue
			}
			env[k] = v
		}
		return env
	}
	if !errors.Is(err, fs.ErrNotExist) {
		d.noteReadError(RecordedEnviron, err)
	}
	for _, kv := range d.opts.Environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
			env[k] = v
		}
	}
	return env
}

// relevantVar reports whether a variable belongs to the ROCm, HIP, HSA or
// PyTorch stack and so is shown by detect.
func relevantVar(name string) bool {
	if strings.HasPrefix(name, "ROCM_PATCH_") {
		return false
	}
	for _, p := range []string{"HSA_", "ROCR_", "ROCM_", "HIP_", "HCC_", "AMD_", "AMDGPU_", "GPU_", "MIOPEN_", "ROCBLAS_", "TENSILE_", "PYTORCH_", "TORCH_"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return name == "CUDA_VISIBLE_DEVICES"
}

func (d *detector) readKernel() {
	const osrelease = "/proc/sys/kernel/osrelease"
	rel, err := d.root.ReadString(osrelease)
	if err != nil {
		d.noteReadError(osrelease, err)
	}
	d.sys.Kernel.Release = rel
	lower := strings.ToLower(rel)
	d.sys.WSL = strings.Contains(lower, "microsoft") || strings.Contains(lower, "wsl")
	if !d.sys.WSL && d.root.Exists("/dev/dxg") {
		d.sys.WSL = true
	}
	if d.sys.WSL {
		d.note("info", osrelease, "WSL: GPUs are reached through /dev/dxg, not the amdgpu driver, so sysfs lists none; ROCm on WSL needs AMD's WSL driver and runtime")
	}
}

func (d *detector) readAMDGPUModule() {
	const module = "/sys/module/amdgpu"
	if !d.root.Exists(module) {
		return
	}
	d.sys.AMDGPU.Loaded = true
	entries, err := d.root.ReadDir(module + "/parameters")
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			d.noteReadError(module+"/parameters", err)
		}
		return
	}
	var unreadable []string
	for _, e := range entries {
		value, err := d.root.ReadString(module + "/parameters/" + e.Name())
		if err != nil {
			unreadable = append(unreadable, e.Name())
			continue
		}
		d.sys.AMDGPU.Params[e.Name()] = value
	}
	if len(unreadable) > 0 {
		d.note("info", module+"/parameters", "%d amdgpu parameters are not readable by this user: %s", len(unreadable), strings.Join(unreadable, ", "))
	}
}

// numericNames returns the entries of dir whose names are decimal numbers,
// in numeric order, and notes the others.
func numericNames(entries []fs.DirEntry) (nums []int, others []string) {
	for _, e := range entries {
		n, err := strconv.Atoi(e.Name())
		if err != nil || n < 0 {
			others = append(others, e.Name())
			continue
		}
		nums = append(nums, n)
	}
	sort.Ints(nums)
	return nums, others
}

// joinPath is path.Join for machine paths built from parts.
func joinPath(parts ...string) string { return path.Join(parts...) }
