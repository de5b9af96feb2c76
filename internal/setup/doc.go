// Package setup holds what `rocm-patch setup` changes on a user's machine
// and how it takes each change back.
//
// Three steps exist. The shell step adds a marked block to the user's shell
// start-up file (~/.bashrc, $ZDOTDIR/.zshrc or fish's config.fish) that loads
// `rocm-patch env` in every new shell. The Python step installs the .pth
// file of package pypath. The kernel step applies an amdgpu profile through
// package kparams. Every change is recorded in a manifest
// ($XDG_STATE_HOME/rocm-patch/setup.json) before or as it is made, so that
// undo removes exactly what setup added: the original bytes of a start-up
// file come back, a file or folder setup created is removed again, and
// nothing a user wrote is ever lost. Where the user edited inside the
// block, or a file changed in a way that makes the removal ambiguous, undo
// refuses and names the file.
//
// block.go is pure (the block text, inserting, finding and removing it in a
// file's bytes); the other files do the I/O. Nothing here prints or asks:
// the cli package does.
package setup
