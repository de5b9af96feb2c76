package shim

import (
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
)

// Policy is what the shim does when a wrapped tensor factory fails to
// allocate GPU memory.
type Policy string

// The policies (ROCM_PATCH_SHIM_POLICY).
const (
	// PolicyFallback makes the tensor on the CPU, warns once and goes on.
	PolicyFallback Policy = "fallback"
	// PolicyRetry collects garbage, empties torch's GPU cache and tries
	// once more, then falls back.
	PolicyRetry Policy = "retry"
	// PolicyRaise leaves the error to the job, counting it.
	PolicyRaise Policy = "raise"
)

// Policies lists the policies, the default first.
var Policies = []Policy{PolicyFallback, PolicyRetry, PolicyRaise}

// ParsePolicy reads a policy name; "" is the default, PolicyFallback.
func ParsePolicy(s string) (Policy, error) {
	if s == "" {
		return PolicyFallback, nil
	}
	for _, p := range Policies {
		if string(p) == s {
			return p, nil
		}
	}
	return "", fmt.Errorf("shim policy %q: want fallback, retry or raise", s)
}

// DefaultMemoryFraction is the share of each GPU's memory that torch's
// caching allocator may take in one process unless told otherwise.
const DefaultMemoryFraction = 0.8

// The environment variables that carry settings to the shim. The Python
// side documents each in python/rocm_patch/README.md.
const (
	EnvPolicy         = "ROCM_PATCH_SHIM_POLICY"
	EnvMemoryFraction = "ROCM_PATCH_MEMORY_FRACTION"
	EnvAllocConf      = "ROCM_PATCH_ALLOC_CONF"
	EnvRunDir         = "ROCM_PATCH_RUN_DIR"
	EnvDevice         = "ROCM_PATCH_DEVICE"
	EnvDisable        = "ROCM_PATCH_SHIM_DISABLE"
	EnvForce          = "ROCM_PATCH_SHIM_FORCE"
	EnvTestFail       = "ROCM_PATCH_SHIM_TEST_FAIL"
)

// Options are the shim's settings for one child. The zero value is the
// shim's defaults with no report.
type Options struct {
	// Policy for failed GPU allocations; "" is PolicyFallback.
	Policy Policy
	// MemoryFraction is the per-process memory fraction, 0 < f <= 1. Zero
	// means DefaultMemoryFraction; a negative value sets no fraction (and
	// so no garbage_collection_threshold either).
	MemoryFraction float64
	// AllocConf replaces the PYTORCH_HIP_ALLOC_CONF the shim would choose;
	// "" keeps the shim's choice and NoAllocConf sets none. Either way a
	// value the user set in PYTORCH_CUDA_ALLOC_CONF or PYTORCH_HIP_ALLOC_CONF
	// wins.
	AllocConf   string
	NoAllocConf bool
	// RunDir is the folder the shim appends shim.jsonl to; "" means no
	// report.
	RunDir string
	// Device is where the supervisor runs this attempt: "gpu" ("") or
	// "cpu", on which the shim only reports.
	Device string
}

// Validate reports settings the shim would refuse.
func (o Options) Validate() error {
	if _, err := ParsePolicy(string(o.Policy)); err != nil {
		return err
	}
	if math.IsNaN(o.MemoryFraction) || o.MemoryFraction > 1 {
		return fmt.Errorf("memory fraction %v: want 0 < f <= 1", o.MemoryFraction)
	}
	switch o.Device {
	case "", "gpu", "cpu":
	default:
		return fmt.Errorf("shim device %q: want gpu or cpu", o.Device)
	}
	if strings.ContainsAny(o.AllocConf, "\x00\n") {
		return fmt.Errorf("allocator options %q: control characters", o.AllocConf)
	}
	return nil
}

// Env returns the variables to add to base, a child's environment as
// KEY=VALUE entries, so that its Python processes load the shim in dir
// (Dir.Path) with opts. PYTHONPATH gets dir in front of what base has
// (once: a dir already there moves to the front). Every setting is
// written, empty when unset, so that none leaks in from a surrounding run.
// Apply merges the result into base; os/exec, which keeps the last of
// duplicate keys, may also take base followed by it.
func Env(dir string, base []string, opts Options) []string {
	pp := dir
	if old, ok := lookup(base, "PYTHONPATH"); ok && old != "" {
		parts := []string{dir}
		for _, p := range strings.Split(old, string(os.PathListSeparator)) {
			if p != dir {
				parts = append(parts, p)
			}
		}
		pp = strings.Join(parts, string(os.PathListSeparator))
	}
	policy := opts.Policy
	if policy == "" {
		policy = PolicyFallback
	}
	frac := "off"
	switch {
	case opts.MemoryFraction == 0:
		frac = strconv.FormatFloat(DefaultMemoryFraction, 'g', -1, 64)
	case opts.MemoryFraction > 0:
		frac = strconv.FormatFloat(opts.MemoryFraction, 'g', -1, 64)
	}
	conf := opts.AllocConf
	if opts.NoAllocConf {
		conf = "none"
	}
	device := opts.Device
	if device == "" {
		device = "gpu"
	}
	return []string{
		"PYTHONPATH=" + pp,
		EnvPolicy + "=" + string(policy),
		EnvMemoryFraction + "=" + frac,
		EnvAllocConf + "=" + conf,
		EnvRunDir + "=" + opts.RunDir,
		EnvDevice + "=" + device,
	}
}

// Apply returns base with each KEY=VALUE of add set: an existing key is
// replaced where it stands (every copy of it), a new one is appended.
// base is not modified.
func Apply(base, add []string) []string {
	idx := make(map[string]int, len(add))
	for i, kv := range add {
		idx[key(kv)] = i
	}
	out := make([]string, 0, len(base)+len(add))
	done := make([]bool, len(add))
	for _, kv := range base {
		i, ok := idx[key(kv)]
		if !ok {
			out = append(out, kv)
			continue
		}
		if !done[i] {
			out = append(out, add[i])
			done[i] = true
		}
	}
	for i, kv := range add {
		if !done[i] && idx[key(kv)] == i {
			out = append(out, kv)
		}
	}
	return out
}

func key(kv string) string {
	k, _, _ := strings.Cut(kv, "=")
	return k
}

// lookup returns the value of the last k in env, as exec would use it.
func lookup(env []string, k string) (string, bool) {
	for i := len(env) - 1; i >= 0; i-- {
		if kk, v, ok := strings.Cut(env[i], "="); ok && kk == k {
			return v, true
		}
	}
	return "", false
}
