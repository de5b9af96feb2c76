package probe

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/rocm-patch/rocm-patch/internal/atomicfile"
)

// workloadPy is the Python training loop the probe runs in each attempt.
//
//go:embed workload.py
var workloadPy []byte

// WorkloadName is the workload's file name.
const WorkloadName = "workload.py"

// Exit statuses of the workload besides 0 and a failure's.
const (
	// ExitNoTorch: the interpreter cannot import torch.
	ExitNoTorch = 3
	// ExitSkipped: a GPU configuration where torch sees no GPU.
	ExitSkipped = 77
)

// Size is how much work one attempt does.
type Size struct {
	// Steps are timed training steps, after Warmup untimed ones.
	Steps  int `json:"steps"`
	Warmup int `json:"warmup_steps"`
	// Batch is the batch size: above 16, where the documented faults
	// appear.
	Batch int `json:"batch"`
	// Channels (electrodes) and Samples (time points) shape one input.
	Channels int `json:"channels"`
	Samples  int `json:"samples"`
}

// The sizes. Full is an EEG recording's shape (22 electrodes, 4 s at
// 250 Hz) trained long enough for the allocator to churn; Quick keeps the
// same layers and batch with tiny inputs and a few steps, so that a run of
// every configuration ends within a minute on a small CPU.
var (
	Full  = Size{Steps: 200, Warmup: 5, Batch: 32, Channels: 22, Samples: 1000}
	Quick = Size{Steps: 5, Warmup: 1, Batch: 32, Channels: 8, Samples: 128}
)

// Args is the command of one attempt: python running the workload at
// path with size s. The command is the same for every configuration, so
// that report pairs the GPU's speed with the CPU's.
func Args(python, path string, s Size) []string {
	return []string{python, path,
		"--steps", strconv.Itoa(s.Steps), "--warmup", strconv.Itoa(s.Warmup),
		"--batch", strconv.Itoa(s.Batch), "--channels", strconv.Itoa(s.Channels),
		"--samples", strconv.Itoa(s.Samples)}
}

// CheckArgs is the command that asks the interpreter about torch without
// training: with ROCM_PATCH_DEVICE=cpu it only looks for torch (no
// import), otherwise it imports torch and asks whether it sees a GPU.
func CheckArgs(python, path string) []string {
	return []string{python, path, "--check"}
}

// WorkloadVersion names the workload's folder: a hash of its content.
func WorkloadVersion() string {
	sum := sha256.Sum256(workloadPy)
	return hex.EncodeToString(sum[:8])
}

// InstallWorkload makes sure <cacheRoot>/rocm-patch/probe/<version>/
// holds the workload and returns its path. The path is stable for one
// workload, so that the history's runs of it, from any folder, are one
// job to report.
func InstallWorkload(cacheRoot string) (string, error) {
	dir := filepath.Join(cacheRoot, "rocm-patch", "probe", WorkloadVersion())
	path := filepath.Join(dir, WorkloadName)
	if have, err := os.ReadFile(path); err == nil && bytes.Equal(have, workloadPy) {
		return path, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("install the probe workload: %w", err)
	}
	if err := atomicfile.WriteFile(path, workloadPy, 0o644); err != nil {
		return "", fmt.Errorf("install the probe workload: %w", err)
	}
	return path, nil
}
