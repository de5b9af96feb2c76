package pypath

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/rocm-patch/rocm-patch/internal/atomicfile"
)

// ErrUserSiteDisabled is wrapped by Install's error when the interpreter,
// outside a virtualenv, reads no user site-packages, so a .pth there would
// do nothing.
var ErrUserSiteDisabled = errors.New("user site-packages disabled")

// Site is where an interpreter reads .pth files from, as it says itself.
type Site struct {
	// Python is the interpreter that was asked, as found.
	Python string
	// Executable is its sys.executable.
	Executable string
	// Version is its "major.minor".
	Version string
	// Venv is true inside a virtualenv (sys.prefix != sys.base_prefix).
	Venv bool
	// Dir is the folder that gets the .pth: the virtualenv's purelib, else
	// the user site-packages.
	Dir string
	// UserSiteEnabled is Python's site.ENABLE_USER_SITE: false under
	// PYTHONNOUSERSITE, -s, or in a setuid process.
	UserSiteEnabled bool
}

// queryTimeout bounds the interpreter's answer; Python starts in tens of
// milliseconds, a minute means it hangs (a sitecustomize waiting on
// something).
const queryTimeout = time.Minute

// query prints one JSON line: what Site needs. It imports nothing that
// site.py has not imported already, besides json and sysconfig.
const query = `import json, site, sys, sysconfig
venv = sys.prefix != getattr(sys, "base_prefix", sys.prefix) or hasattr(sys, "real_prefix")
try:
    user = site.getusersitepackages()
except Exception:
    user = ""
print(json.dumps({"executable": sys.executable, "version": "%d.%d" % sys.version_info[:2], "venv": venv,
    "purelib": sysconfig.get_paths()["purelib"], "user_site": user, "user_site_enabled": site.ENABLE_USER_SITE is True}))
`

// FindSite asks the interpreter of o where its site-packages are.
func FindSite(ctx context.Context, o Options) (Site, error) {
	python, err := resolvePython(o.Python, getenv(o.Environ, "PATH"))
	if err != nil {
		return Site{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, "-c", query)
	// A nil Env would hand the child this process's environment.
	cmd.Env = append([]string{}, o.Environ...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if i := strings.LastIndexByte(msg, '\n'); i >= 0 {
			msg = msg[i+1:]
		}
		if msg != "" {
			return Site{}, fmt.Errorf("python %s: %w: %s", python, err, msg)
		}
		return Site{}, fmt.Errorf("python %s: %w", python, err)
	}
	s, err := parseSite(stdout.Bytes())
	if err != nil {
		return Site{}, fmt.Errorf("python %s: %w", python, err)
	}
	s.Python = python
	return s, nil
}

// parseSite reads query's answer: the last line of out that is a JSON
// object (a user's sitecustomize may print before it).
func parseSite(out []byte) (Site, error) {
	var ans struct {
		Executable      string `json:"executable"`
		Version         string `json:"version"`
		Venv            bool   `json:"venv"`
		Purelib         string `json:"purelib"`
		UserSite        string `json:"user_site"`
		UserSiteEnabled bool   `json:"user_site_enabled"`
	}
	lines := bytes.Split(bytes.TrimSpace(out), []byte("\n"))
	found := false
	for i := len(lines) - 1; i >= 0 && !found; i-- {
		if l := bytes.TrimSpace(lines[i]); bytes.HasPrefix(l, []byte("{")) {
			if err := json.Unmarshal(l, &ans); err != nil {
				return Site{}, fmt.Errorf("unreadable answer about site-packages: %w", err)
			}
			found = true
		}
	}
	if !found {
		return Site{}, errors.New("no answer about site-packages")
	}
	s := Site{Executable: ans.Executable, Version: ans.Version, Venv: ans.Venv, UserSiteEnabled: ans.UserSiteEnabled}
	s.Dir = ans.UserSite
	if s.Venv {
		s.Dir = ans.Purelib
	}
	if !filepath.IsAbs(s.Dir) {
		return Site{}, fmt.Errorf("site-packages %q is not an absolute path", s.Dir)
	}
	s.Dir = filepath.Clean(s.Dir)
	return s, nil
}

// resolvePython finds name ("" is python3) the way a shell with PATH
// would.
func resolvePython(name, path string) (string, error) {
	if name == "" {
		name = "python3"
	}
	if strings.Contains(name, "/") {
		if err := isExecutable(name); err != nil {
			return "", fmt.Errorf("python %s: %w", name, err)
		}
		return name, nil
	}
	for _, dir := range filepath.SplitList(path) {
		if dir == "" || !filepath.IsAbs(dir) {
			continue // as exec.LookPath: nothing found through "." by surprise
		}
		if p := filepath.Join(dir, name); isExecutable(p) == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("python %s: not found on PATH (name one with --python)", name)
}

func isExecutable(p string) error {
	st, err := os.Stat(p)
	if err != nil {
		return err
	}
	if st.IsDir() || st.Mode()&0o111 == 0 {
		return fmt.Errorf("%s: not an executable file", p)
	}
	return nil
}

// pthHeader starts every .pth Install writes; Uninstall removes only a
// file that starts with it (and holds nothing but a folder besides).
const pthHeader = "# rocm-patch python-path"

func pthContent(dir string) []byte {
	return []byte(pthHeader + " --install wrote this file: the folder below holds the rocm_patch package.\n" +
		"# `rocm-patch python-path --uninstall` removes it.\n" + dir + "\n")
}

// ownedPth reports whether data is a .pth that Install wrote (or one of
// its later versions would), and the folder it names: the header first,
// then comments and exactly one absolute path. Anything else, an "import"
// line above all, is someone else's and stays.
func ownedPth(data []byte) (dir string, ok bool) {
	text := string(data)
	if !strings.HasPrefix(text, pthHeader) {
		return "", false
	}
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimRight(line, "\r")
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case dir == "" && filepath.IsAbs(line) && strings.TrimSpace(line) == line && !strings.ContainsAny(line, "\r\x00"):
			dir = line
		default:
			return "", false
		}
	}
	return dir, dir != ""
}

// Install writes rocm_patch.pth into the site-packages of o's interpreter
// (its virtualenv's, else the user's), naming PackageDir(o), so that the
// interpreter imports rocm_patch with no PYTHONPATH. The write is atomic.
// A .pth of that name that Install did not write is left alone, with an
// error. Outside a virtualenv, an interpreter whose user site-packages are
// disabled gets nothing and an error wrapping ErrUserSiteDisabled.
func Install(ctx context.Context, o Options) (Result, error) {
	site, err := FindSite(ctx, o)
	if err != nil {
		return Result{}, fmt.Errorf("install: %w", err)
	}
	if !site.Venv && !site.UserSiteEnabled {
		why := "Python disables it for this process (python -s, or a setuid process)"
		if getenv(o.Environ, "PYTHONNOUSERSITE") != "" {
			why = "PYTHONNOUSERSITE is set"
		}
		return Result{}, fmt.Errorf("install: python %s reads no user site-packages (%s), so %s would do nothing: %w; unset it, activate a virtualenv, or use PYTHONPATH=\"$(rocm-patch python-path)\"",
			site.Python, why, filepath.Join(site.Dir, PthName), ErrUserSiteDisabled)
	}
	dir, err := PackageDir(o)
	if err != nil {
		return Result{}, fmt.Errorf("install: %w", err)
	}
	if strings.ContainsAny(dir, "\n\r") || strings.TrimSpace(dir) != dir {
		return Result{}, fmt.Errorf("install: folder %q cannot be named in a .pth file (line breaks or edge spaces)", dir)
	}
	res := Result{PthFile: filepath.Join(site.Dir, PthName), PackageDir: dir}
	want := pthContent(dir)
	old, err := os.ReadFile(res.PthFile)
	switch {
	case err == nil && bytes.Equal(old, want):
		return res, nil
	case err == nil:
		if _, ours := ownedPth(old); !ours {
			return Result{}, fmt.Errorf("install: %s exists and was not written by rocm-patch; left as it is", res.PthFile)
		}
	case !errors.Is(err, fs.ErrNotExist):
		return Result{}, fmt.Errorf("install: %w", err)
	}
	if err := os.MkdirAll(site.Dir, 0o755); err != nil {
		return Result{}, fmt.Errorf("install: %w", err)
	}
	if err := atomicfile.WriteFile(res.PthFile, want, 0o644); err != nil {
		return Result{}, fmt.Errorf("install: %w", err)
	}
	res.Changed = true
	return res, nil
}

// Uninstall removes the rocm_patch.pth that Install wrote for o's
// interpreter. No file is no change; a file of that name that Install did
// not write stays, with an error. The package folder stays too: another
// interpreter's .pth may name it.
func Uninstall(ctx context.Context, o Options) (Result, error) {
	site, err := FindSite(ctx, o)
	if err != nil {
		return Result{}, fmt.Errorf("uninstall: %w", err)
	}
	res := Result{PthFile: filepath.Join(site.Dir, PthName)}
	data, err := os.ReadFile(res.PthFile)
	if errors.Is(err, fs.ErrNotExist) {
		return res, nil
	}
	if err != nil {
		return Result{}, fmt.Errorf("uninstall: %w", err)
	}
	dir, ours := ownedPth(data)
	if !ours {
		return Result{}, fmt.Errorf("uninstall: %s was not written by rocm-patch; left as it is", res.PthFile)
	}
	if err := os.Remove(res.PthFile); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return Result{}, fmt.Errorf("uninstall: %w", err)
	}
	if err := atomicfile.SyncDir(site.Dir); err != nil {
		return Result{}, fmt.Errorf("uninstall: %w", err)
	}
	res.PackageDir, res.Changed = dir, true
	return res, nil
}
