package setup

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// Executable is the rocm-patch binary the block and the Python path call.
type Executable struct {
	// Path is absolute.
	Path string
	// Temporary is true for a binary that will soon be gone: one that
	// `go run` or `go test` built in a temporary folder. Writing its path
	// into a start-up file would leave a block that does nothing.
	Temporary bool
}

// ChooseExecutable picks the path to write for the running binary self
// (os.Executable, which Linux gives with links resolved). When a
// rocm-patch on environ's PATH is the same file, that path is used
// instead: a link such as /usr/local/bin/rocm-patch keeps working when a
// package manager points it at a new version.
func ChooseExecutable(self string, environ []string) Executable {
	if fi, err := os.Stat(self); err == nil {
		for _, dir := range filepath.SplitList(lastValue(environ, "PATH")) {
			if !filepath.IsAbs(dir) {
				continue // "" and relative entries depend on the current folder
			}
			cand := filepath.Join(dir, "rocm-patch")
			if ci, err := os.Stat(cand); err == nil && os.SameFile(fi, ci) {
				return Executable{Path: cand}
			}
		}
	}
	return Executable{Path: self, Temporary: isTemporary(self)}
}

// isTemporary recognises the folders go run and go test build in.
func isTemporary(p string) bool {
	if strings.Contains(p, string(filepath.Separator)+"go-build") {
		return true
	}
	tmp := filepath.Clean(os.TempDir())
	return strings.HasPrefix(p, tmp+string(filepath.Separator))
}

// CheckHomeOwner refuses a home folder that belongs to another user than
// euid: under sudo, HOME often stays the invoking user's, and every file
// setup wrote there would then belong to root.
func CheckHomeOwner(h Home, euid int) error {
	fi, err := os.Stat(h.Dir)
	if err != nil {
		return fmt.Errorf("home folder: %w", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || int(st.Uid) == euid {
		return nil
	}
	return fmt.Errorf("HOME (%s) belongs to user id %d, but setup runs as user id %d (sudo keeps HOME): what it wrote there would belong to the wrong user; run rocm-patch setup as that user without sudo (it prints the sudo command for the kernel step)", h.Dir, st.Uid, euid)
}

// lastValue returns the last value of key in environ, as a child sees it.
func lastValue(environ []string, key string) string {
	for i := len(environ) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(environ[i], "="); ok && k == key {
			return v
		}
	}
	return ""
}
