// Package kparams is rocm-patch's kernel-parameter layer ("Layer 1"): it
// decides which amdgpu module parameters a profile of the knowledge base
// would write to /etc/modprobe.d/rocm-patch-amdgpu.conf on a machine, writes
// that file safely, rolls it back byte for byte, and checks after a reboot
// which parameters took.
//
// # Deciding (pure)
//
// Build turns a profile (kb.Profile), explicit --set assignments and what
// is known about the machine (Machine) into a Plan: for every parameter its
// true meaning and cost (from the settings catalogue), whether it changes
// anything on the detected GPUs (the catalogue's no-op rules, the GPU's
// family and whether all its VRAM is CPU-visible), its live value, the
// file to write, the diff against the current one, the kernel command line
// equivalent and the initramfs command of the distribution. Every value is
// validated before a plan exists: a parameter name is [a-z0-9_]+ and known to
// the catalogue (unknown names only with AllowUnknown), a value is a
// canonical integer in the catalogue's range. Verify compares wanted values
// with the live ones. ParseModprobe, ParseOSRelease and ParseState read the
// files involved; none of these functions does I/O.
//
// # Doing (I/O, in machine.go and write.go)
//
// ReadMachine reads the facts Build needs under an fsroot.Root. Apply and
// Rollback write under the root's directory: the target folder is resolved
// through the root so that links stay inside the tree, files are written
// with package atomicfile (a temporary file in the same folder, fsync,
// rename, fsync of the folder), the replaced file is kept in
// /var/lib/rocm-patch/backups, and /var/lib/rocm-patch/kernel-state.json
// records every apply, so that a process killed at any moment leaves the old
// file or the new one and a later rollback still restores the original.
package kparams
