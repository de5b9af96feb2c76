package supervise

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// lookPath finds name the way exec.LookPath does, but in the PATH of the
// child's environment: the caller may have changed PATH for the child, and
// the command must be the one the child's own shell would have found.
func lookPath(name, path string) (string, error) {
	if strings.Contains(name, "/") {
		if err := executable(name); err != nil {
			return "", err
		}
		return name, nil
	}
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, name)
		if executable(p) != nil {
			continue
		}
		if !filepath.IsAbs(p) {
			// As exec.LookPath: a command found through a relative PATH
			// entry is refused rather than run by surprise.
			return "", exec.ErrDot
		}
		return p, nil
	}
	return "", exec.ErrNotFound
}

func executable(p string) error {
	st, err := os.Stat(p)
	if err != nil {
		return err
	}
	if st.IsDir() || st.Mode()&0o111 == 0 {
		return fs.ErrPermission
	}
	return nil
}

// envValue returns the last value of key in env, as the child will see it.
func envValue(env []string, key string) (string, bool) {
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(env[i], "="); ok && k == key {
			return v, true
		}
	}
	return "", false
}
