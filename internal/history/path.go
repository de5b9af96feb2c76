package history

import (
	"fmt"
	"path/filepath"
)

// FileName is the history database's name inside its state folder.
const FileName = "history.db"

// DefaultPath is where the history lives unless --history says otherwise:
// $XDG_STATE_HOME/rocm-patch/history.db, else
// $HOME/.local/state/rocm-patch/history.db. env looks variables up
// (os.Getenv in production). The XDG spec says a relative XDG_STATE_HOME is
// invalid and must be ignored, and a relative HOME would put the history
// wherever the command happened to run, so both must be absolute.
func DefaultPath(env func(string) string) (string, error) {
	if env == nil {
		return "", fmt.Errorf("history path: no environment to read XDG_STATE_HOME or HOME from")
	}
	if x := env("XDG_STATE_HOME"); x != "" && filepath.IsAbs(x) {
		return filepath.Join(x, "rocm-patch", FileName), nil
	}
	home := env("HOME")
	if home == "" {
		return "", fmt.Errorf("history path: neither XDG_STATE_HOME nor HOME is set to an absolute path; pass --history PATH")
	}
	if !filepath.IsAbs(home) {
		return "", fmt.Errorf("history path: HOME=%q is not an absolute path (and XDG_STATE_HOME is unset or relative); pass --history PATH", home)
	}
	return filepath.Join(home, ".local", "state", "rocm-patch", FileName), nil
}
