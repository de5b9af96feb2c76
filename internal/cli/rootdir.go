package cli

import (
	"fmt"
	"os"
	"strings"

	"github.com/rocm-patch/rocm-patch/internal/fsroot"
	"github.com/rocm-patch/rocm-patch/internal/snapshot"
	"github.com/rocm-patch/rocm-patch/internal/system"
)

const rootFlagHelp = "read the machine under `DIR` (a tree such as examples/systems/rx6700xt) or from a snapshot .tar.gz, instead of /"

// openRoot opens --root: "" is the live machine; a regular file is a
// snapshot, unpacked into a temporary folder that cleanup removes.
func openRoot(name string) (root *fsroot.Root, cleanup func(), err error) {
	cleanup = func() {}
	if name == "" {
		name = "/"
	}
	if snapshot.IsArchive(name) {
		tmp, err := os.MkdirTemp("", "rocm-patch-snapshot-")
		if err != nil {
			return nil, cleanup, fmt.Errorf("--root %s: %w", name, err)
		}
		cleanup = func() { os.RemoveAll(tmp) }
		if err := snapshot.Unpack(name, tmp); err != nil {
			cleanup()
			return nil, func() {}, fmt.Errorf("--root: %w", err)
		}
		name = tmp
		root, err = fsroot.Open(tmp)
		if err != nil {
			cleanup()
			return nil, func() {}, fmt.Errorf("--root: %w", err)
		}
		return root, cleanup, nil
	}
	root, err = fsroot.Open(name)
	if err != nil {
		return nil, cleanup, withCode(ExitUsage, fmt.Errorf("--root: %w", err))
	}
	return root, cleanup, nil
}

// detectOptions are the options every command detects with: the process
// environment, and the host's amdgpu.ids as the naming fallback.
func (a *app) detectOptions() system.Options {
	opts := system.Options{Environ: a.environ, Logger: a.log}
	// ROCM_PATCH_NO_HOST_IDS=1 turns the host fallback off, so that output
	// over a tree does not depend on this machine's libdrm (golden tests).
	if a.getenv("ROCM_PATCH_NO_HOST_IDS") == "" {
		if host, err := fsroot.Open("/"); err == nil {
			opts.HostIDs = host
		}
	}
	return opts
}

// getenv reads the environment the command was started with.
func (a *app) getenv(name string) string {
	for _, kv := range a.environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k == name {
			return v
		}
	}
	return ""
}
