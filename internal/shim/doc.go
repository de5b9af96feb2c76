// Package shim installs rocm-patch's in-process Python shim and reads what it
// reported.
//
// The Python side lives in the repository's python/ folder (package
// pythonsrc embeds it). Install writes it once per content version into a
// cache folder; Env gives a child the variables that load and configure it;
// ReadReport folds the shim.jsonl the child's Python processes appended into
// one Report that run records in history. The Python side's own
// documentation, every variable included, is python/rocm_patch/README.md.
//
// Nothing here starts a process or decides a policy: the runner does.
package shim
