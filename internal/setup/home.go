package setup

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// Home is where a user's files are, from the environment.
type Home struct {
	// Dir is $HOME.
	Dir string
	// ConfigHome is $XDG_CONFIG_HOME, or Dir/.config.
	ConfigHome string
	// StateHome is $XDG_STATE_HOME, or Dir/.local/state.
	StateHome string
	// ZDotDir is $ZDOTDIR, where zsh reads .zshrc, or Dir.
	ZDotDir string
}

// HomeFromEnv reads Home from environ (NAME=value entries). HOME must be
// an absolute path. The XDG variables and ZDOTDIR count only when they are
// absolute, as the XDG base directory specification says of its own.
func HomeFromEnv(environ []string) (Home, error) {
	get := func(name string) string {
		v := ""
		for _, kv := range environ {
			if k, val, ok := strings.Cut(kv, "="); ok && k == name {
				v = val
			}
		}
		return v
	}
	h := Home{Dir: get("HOME")}
	if h.Dir == "" {
		return Home{}, errors.New("$HOME is not set")
	}
	if !filepath.IsAbs(h.Dir) {
		return Home{}, fmt.Errorf("$HOME %q is not an absolute path", h.Dir)
	}
	h.Dir = filepath.Clean(h.Dir)
	abs := func(name, fallback string) string {
		if v := get(name); filepath.IsAbs(v) {
			return filepath.Clean(v)
		}
		return fallback
	}
	h.ConfigHome = abs("XDG_CONFIG_HOME", filepath.Join(h.Dir, ".config"))
	h.StateHome = abs("XDG_STATE_HOME", filepath.Join(h.Dir, ".local", "state"))
	h.ZDotDir = abs("ZDOTDIR", h.Dir)
	return h, nil
}

// StartupFile is the file sh reads when an interactive shell starts.
//
// For bash it is ~/.bashrc, which interactive non-login shells read (every
// terminal window on most desktops). Login shells read ~/.bash_profile,
// ~/.bash_login or ~/.profile instead; the distributions' default of each
// sources ~/.bashrc, and BashLoginNote says when this user's does not.
// zsh reads .zshrc in every interactive shell, login or not. fish reads
// config.fish in every shell.
func (h Home) StartupFile(sh Shell) string {
	switch sh {
	case Zsh:
		return filepath.Join(h.ZDotDir, ".zshrc")
	case Fish:
		return filepath.Join(h.ConfigHome, "fish", "config.fish")
	}
	return filepath.Join(h.Dir, ".bashrc")
}

// ManifestPath is where setup records what it changed.
func (h Home) ManifestPath() string {
	return filepath.Join(h.StateHome, "rocm-patch", "setup.json")
}

// Short writes p with ~ for the home folder, for messages.
func (h Home) Short(p string) string {
	if p == h.Dir {
		return "~"
	}
	if rest, ok := strings.CutPrefix(p, h.Dir+string(filepath.Separator)); ok && h.Dir != "/" {
		return "~/" + rest
	}
	return p
}
