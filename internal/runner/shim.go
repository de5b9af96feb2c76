package runner

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/rocm-patch/rocm-patch/internal/history"
	"github.com/rocm-patch/rocm-patch/internal/shim"
)

// LayerShim is the layer name history records for the in-process shim.
const LayerShim = "shim"

// Shim is the in-process Python shim's part in a run (package shim).
type Shim struct {
	// Dir is the installed shim folder (shim.Install).
	Dir shim.Dir
	// Options are the shim's settings. RunDir and Device are the
	// runner's: the run directory and each attempt's device.
	Options shim.Options
}

// shimReportName is where an attempt's shim.jsonl is kept once the attempt
// is over, beside its log: the shim appends to one file name in the run
// directory, so each attempt's is moved aside before the next starts.
func shimReportName(n int) string { return fmt.Sprintf("attempt-%d.shim.jsonl", n) }

// applyShim loads the shim into an attempt's environment and notes it in
// the attempt's layers and settings. The shim goes on every attempt, so
// that each one reports what torch it found; on the CPU it changes
// nothing and only reports, so it is a layer of GPU attempts only: CPU
// attempts compare alike with and without --no-shim.
func (r *runner) applyShim(env *envList, a *attemptResult) {
	s := r.o.Shim
	if s == nil {
		return
	}
	opts := s.Options
	opts.Device = a.Device
	opts.RunDir = r.res.RunDir
	for _, kv := range shim.Env(s.Dir.Path, env.list(), opts) {
		name, val, _ := strings.Cut(kv, "=")
		env.set(name, val)
	}
	if opts.RunDir == "" {
		// No run directory, no report; and the child sees no
		// ROCM_PATCH_RUN_DIR, as without the shim.
		env.unset(shim.EnvRunDir)
	}
	if a.Device != history.DeviceGPU {
		return
	}
	a.Layers = append(a.Layers, LayerShim)
	if a.Settings == nil {
		a.Settings = map[string]string{}
	}
	for _, name := range []string{shim.EnvPolicy, shim.EnvMemoryFraction, shim.EnvAllocConf} {
		if v, ok := env.get(name); ok && v != "" {
			a.Settings[name] = v
		}
	}
}

// resetShimReport makes sure the attempt starts with no shim.jsonl, so
// that what is read after it is its own.
func (r *runner) resetShimReport() {
	if r.o.Shim == nil || r.res.RunDir == "" {
		return
	}
	err := os.Remove(filepath.Join(r.res.RunDir, shim.ReportFile))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		r.log.Debug("shim report left from before", "err", err)
	}
}

// collectShimReport reads what the shim reported during attempt n into
// a, keeps the file as attempt-N.shim.jsonl, and says what the job should
// know: allocations that fell back to the CPU, and the shim's own errors.
func (r *runner) collectShimReport(n int, a *attemptResult) {
	if r.o.Shim == nil || r.res.RunDir == "" {
		return
	}
	rep, err := shim.ReadReport(r.res.RunDir)
	if err != nil {
		r.warn("attempt %d: cannot read the shim's report: %v", n, err)
		return
	}
	if b, err := json.Marshal(rep); err == nil {
		a.Shim = b
	}
	from := filepath.Join(r.res.RunDir, shim.ReportFile)
	if err := os.Rename(from, filepath.Join(r.res.RunDir, shimReportName(n))); err != nil && !errors.Is(err, fs.ErrNotExist) {
		r.log.Debug("keep shim report", "err", err)
	}
	switch {
	case rep.Fallbacks > 0 || rep.Raised > 0 || len(rep.Errors) > 0:
		// Said even with -q: a job that quietly made tensors on the CPU
		// is slower than it looks.
		r.warn("attempt %d: %s", n, rep.Summary())
	case rep.Loaded:
		r.say("attempt %d: %s", n, rep.Summary())
	}
}
