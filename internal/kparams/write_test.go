package kparams

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rocm-patch/rocm-patch/internal/fsroot"
	"github.com/rocm-patch/rocm-patch/internal/system"
	"github.com/rocm-patch/rocm-patch/internal/testutil"
)

// examplesDir finds examples/systems from the package folder.
func examplesDir(t testing.TB) string {
	t.Helper()
	dir, err := filepath.Abs("../../examples/systems")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

// copyTree copies an example tree to a temporary folder, links as links,
// so that a test may write into it: examples/ is never written.
func copyTree(t testing.TB, name string) string {
	t.Helper()
	src := filepath.Join(examplesDir(t), name)
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(link, target)
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		default:
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(target, data, 0o644)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func sameTree(t *testing.T, before, after map[string]string) {
	t.Helper()
	for k, v := range after {
		if b, ok := before[k]; !ok {
			t.Errorf("created %s", k)
		} else if b != v {
			t.Errorf("changed %s", k)
		}
	}
	for k := range before {
		if _, ok := after[k]; !ok {
			t.Errorf("removed %s", k)
		}
	}
}

// plan detects the machine under dir and plans a profile.
func plan(t testing.TB, dir, profileName string, set ...Param) (*fsroot.Root, *Machine, *Plan) {
	t.Helper()
	root, err := fsroot.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	sys, err := system.Detect(context.Background(), root, system.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := ReadMachine(root, sys)
	if err != nil {
		t.Fatal(err)
	}
	k := loadKB(t)
	req := Request{Set: set}
	if profileName != "" {
		p, ok := k.Profile(profileName)
		if !ok {
			t.Fatalf("no profile %s", profileName)
		}
		req.Profile = p
	}
	p, err := Build(k, m, req)
	if err != nil {
		t.Fatal(err)
	}
	return root, m, p
}

func host(dir, machine string) string { return filepath.Join(dir, filepath.FromSlash(machine)) }

func readState(t *testing.T, root *fsroot.Root) *State {
	t.Helper()
	s, err := LoadState(root)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var now = time.Date(2025, 7, 1, 12, 0, 0, 0, time.UTC)

// TestApplyVerifyRollback is the workflow over a copy of an
// example tree: plan, apply, write the live values into the tree as a
// reboot would, verify, then roll back to the very same bytes.
func TestApplyVerifyRollback(t *testing.T) {
	dir := copyTree(t, "rx5700xt")
	root, m, p := plan(t, dir, "thermal-2025")
	if m.GPUs[0].LargeBAR() == nil || *m.GPUs[0].LargeBAR() {
		t.Fatalf("rx5700xt: large BAR %v, want false (256 MiB visible)", m.GPUs[0].LargeBAR())
	}
	if len(p.Params) != 1 || p.Params[0] != (Param{"gttsize", "8192"}) {
		t.Fatalf("params = %v", p.Params)
	}
	if err := CheckPermission(root); err != nil {
		t.Fatal(err)
	}
	applied, err := Apply(root, p, now)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(host(dir, ConfPath))
	if err != nil || string(got) != string(p.Content) {
		t.Fatalf("written %q, %v", got, err)
	}
	if fi, _ := os.Stat(host(dir, ConfPath)); fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v", fi.Mode())
	}
	st := readState(t, root)
	if len(st.Applies) != 1 || !st.Applies[0].Previous.Absent || st.Applies[0].SHA256 != Digest(p.Content) || st.Applies[0].Profile != "thermal-2025" || !st.Applies[0].Time.Equal(now) {
		t.Fatalf("state = %+v", st)
	}
	if applied.SHA256 != st.Applies[0].SHA256 {
		t.Errorf("returned %+v", applied)
	}

	// Before the reboot the driver still has the default.
	v := verifyTree(t, dir, st.Last().Params)
	if v.AllTook() || v.Checks[0].Live != "-1" {
		t.Errorf("before reboot: %+v", v)
	}
	// "Reboot": the driver now reports the value.
	if err := os.WriteFile(host(dir, "/sys/module/amdgpu/parameters/gttsize"), []byte("8192\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if v := verifyTree(t, dir, st.Last().Params); !v.AllTook() {
		t.Errorf("after reboot: %+v", v)
	}
	// A parameter that did not take is named.
	if v := verifyTree(t, dir, []Param{{"gttsize", "8192"}, {"noretry", "0"}}); v.AllTook() || v.Checks[1].Took || v.Checks[1].Param.Name != "noretry" {
		t.Errorf("noretry: %+v", v)
	}

	// Plan again: nothing to change.
	_, _, again := plan(t, dir, "thermal-2025")
	if !again.Unchanged {
		t.Error("second plan is not Unchanged")
	}
	if _, err := Apply(root, again, now); !errors.Is(err, ErrNothingToDo) {
		t.Errorf("second apply: %v", err)
	}

	res, err := Rollback(root, now)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Removed || res.Remaining != 0 || res.SavedEdited != "" {
		t.Errorf("rollback = %+v", res)
	}
	if _, err := os.Lstat(host(dir, ConfPath)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("file still there: %v", err)
	}
	if _, err := Rollback(root, now); !errors.Is(err, ErrNothingToRollBack) {
		t.Errorf("second rollback: %v", err)
	}
}

func verifyTree(t *testing.T, dir string, wanted []Param) Verification {
	t.Helper()
	root, err := fsroot.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	sys, err := system.Detect(context.Background(), root, system.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := ReadMachine(root, sys)
	if err != nil {
		t.Fatal(err)
	}
	return Verify(wanted, m.Loaded, m.Live, m.Others)
}

// TestRollbackIdenticalBytes: a file apply replaced comes back byte for
// byte with its mode, through two stacked applies.
func TestRollbackIdenticalBytes(t *testing.T) {
	dir := copyTree(t, "rx6800")
	orig := []byte("# mine\noptions amdgpu ppfeaturemask=0xffffffff\r\n\x00\xff no newline")
	if err := os.MkdirAll(host(dir, "/etc/modprobe.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(host(dir, ConfPath), orig, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(host(dir, ConfPath), 0o600); err != nil {
		t.Fatal(err)
	}
	root, _, p1 := plan(t, dir, "thermal-2025")
	if _, err := Apply(root, p1, now); err != nil {
		t.Fatal(err)
	}
	st := readState(t, root)
	prev := st.Last().Previous
	if prev.Absent || prev.Mode != 0o600 || prev.SHA256 != Digest(orig) {
		t.Fatalf("previous = %+v", prev)
	}
	backup, err := os.ReadFile(host(dir, prev.Backup))
	if err != nil || string(backup) != string(orig) {
		t.Fatalf("backup %q, %v", backup, err)
	}
	_, _, p2 := plan(t, dir, "thermal-2025", Param{"gttsize", "4096"})
	if _, err := Apply(root, p2, now); err != nil {
		t.Fatal(err)
	}
	if st := readState(t, root); len(st.Applies) != 2 || st.Applies[1].Previous.Backup == prev.Backup {
		t.Fatalf("state = %+v", st)
	}
	if res, err := Rollback(root, now); err != nil || res.Removed || res.Remaining != 1 {
		t.Fatalf("rollback 1: %+v, %v", res, err)
	}
	if got, _ := os.ReadFile(host(dir, ConfPath)); string(got) != string(p1.Content) {
		t.Fatalf("after rollback 1: %q", got)
	}
	if _, err := Rollback(root, now); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(host(dir, ConfPath))
	if err != nil || string(got) != string(orig) {
		t.Fatalf("after rollback 2: %q, %v", got, err)
	}
	if fi, _ := os.Stat(host(dir, ConfPath)); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode())
	}
}

func TestRollbackKeepsEdits(t *testing.T) {
	dir := copyTree(t, "rx6800")
	root, _, p := plan(t, dir, "thermal-2025")
	if _, err := Apply(root, p, now); err != nil {
		t.Fatal(err)
	}
	edited := append(append([]byte{}, p.Content...), "options amdgpu dc=1\n"...)
	if err := os.WriteFile(host(dir, ConfPath), edited, 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := Rollback(root, now)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Removed || res.SavedEdited == "" {
		t.Fatalf("rollback = %+v", res)
	}
	if saved, _ := os.ReadFile(host(dir, res.SavedEdited)); string(saved) != string(edited) {
		t.Errorf("saved %q", saved)
	}
}

func TestRollbackRefusesBadBackup(t *testing.T) {
	dir := copyTree(t, "rx6800")
	if err := os.MkdirAll(host(dir, "/etc/modprobe.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(host(dir, ConfPath), []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	root, _, p := plan(t, dir, "thermal-2025")
	if _, err := Apply(root, p, now); err != nil {
		t.Fatal(err)
	}
	backup := host(dir, readState(t, root).Last().Previous.Backup)
	if err := os.WriteFile(backup, []byte("tampered\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := testutil.ReadTree(t, dir)
	if _, err := Rollback(root, now); !errors.Is(err, ErrBackupMismatch) {
		t.Fatalf("err = %v", err)
	}
	sameTree(t, before, testutil.ReadTree(t, dir))
	if err := os.Remove(backup); err != nil {
		t.Fatal(err)
	}
	if _, err := Rollback(root, now); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing backup: err = %v", err)
	}
}

// TestApplyRefusals: every refusal leaves the tree exactly as it was.
func TestApplyRefusals(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string, p *Plan)
		err   error
	}{
		{"nothing to do", func(t *testing.T, dir string, p *Plan) { *p = Plan{NothingToDo: true} }, ErrNothingToDo},
		{"hostile param", func(t *testing.T, dir string, p *Plan) {
			p.Params = append(p.Params, Param{"noretry", "0\noptions nouveau modeset=0"})
		}, ErrInvalid},
		{"hostile content", func(t *testing.T, dir string, p *Plan) {
			p.Content = append(p.Content, "options nouveau modeset=0\n"...)
		}, ErrInvalid},
		{"changed since plan", func(t *testing.T, dir string, p *Plan) {
			os.MkdirAll(host(dir, "/etc/modprobe.d"), 0o755)
			if err := os.WriteFile(host(dir, ConfPath), []byte("x\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, ErrChanged},
		{"link in place of the file", func(t *testing.T, dir string, p *Plan) {
			os.MkdirAll(host(dir, "/etc/modprobe.d"), 0o755)
			if err := os.Symlink("/etc/passwd", host(dir, ConfPath)); err != nil {
				t.Fatal(err)
			}
		}, ErrNotRegular},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := copyTree(t, "rx5700xt")
			root, _, p := plan(t, dir, "thermal-2025")
			tt.setup(t, dir, p)
			before := testutil.ReadTree(t, dir)
			if _, err := Apply(root, p, now); !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			// The folders may have been created; no file may be.
			after := testutil.ReadTree(t, dir)
			for k := range after {
				if strings.HasSuffix(k, "/") {
					delete(after, k)
					delete(before, k)
				}
			}
			for k := range before {
				if strings.HasSuffix(k, "/") {
					delete(before, k)
				}
			}
			delete(after, "var/lib/rocm-patch/.lock")
			sameTree(t, before, after)
		})
	}
}

func TestReadMachineRefusesLink(t *testing.T) {
	dir := testutil.WriteTree(t, map[string]string{ConfPath: "->/etc/other.conf", "/etc/other.conf": "options amdgpu noretry=1\n"})
	root, err := fsroot.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ReadMachine(root, nil); !errors.Is(err, ErrNotRegular) {
		t.Errorf("err = %v", err)
	}
}

// TestApplyFollowsLinksInsideTree: a folder link in the tree is followed
// inside the tree, as the kernel would in a chroot, and a dangling one is
// refused rather than created through.
func TestApplyFollowsLinksInsideTree(t *testing.T) {
	dir := testutil.WriteTree(t, map[string]string{"/etc": "->/realetc", "/realetc/hostname": "x\n", "/var": "->../data/var", "/data/var/keep": ""})
	root, err := fsroot.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	k := loadKB(t)
	m, err := ReadMachine(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Build(k, m, Request{Set: []Param{{"noretry", "1"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Apply(root, p, now); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "realetc/modprobe.d/rocm-patch-amdgpu.conf")); err != nil {
		t.Error(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "data/var/lib/rocm-patch/kernel-state.json")); err != nil {
		t.Error(err)
	}

	outside := t.TempDir()
	dir = testutil.WriteTree(t, map[string]string{"/etc/modprobe.d": "->" + outside + "/nowhere"})
	root, err = fsroot.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Apply(root, p, now); err == nil {
		t.Fatal("applied through a dangling link")
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Errorf("wrote outside the tree: %v", entries)
	}
}

func TestApplyCleansStaleTemporaries(t *testing.T) {
	dir := copyTree(t, "rx6800")
	stale := []string{
		"/etc/modprobe.d/.rocm-patch-amdgpu.conf.tmp-123",
		"/var/lib/rocm-patch/.kernel-state.json.tmp-456",
		"/var/lib/rocm-patch/backups/.rocm-patch-amdgpu.conf.20250101T000000.000000000Z.tmp-789",
	}
	keep := "/etc/modprobe.d/other.conf"
	for _, s := range append(stale, keep) {
		os.MkdirAll(filepath.Dir(host(dir, s)), 0o755)
		if err := os.WriteFile(host(dir, s), []byte("partial"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	root, _, p := plan(t, dir, "thermal-2025")
	if _, err := Apply(root, p, now); err != nil {
		t.Fatal(err)
	}
	for _, s := range stale {
		if _, err := os.Lstat(host(dir, s)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s not removed", s)
		}
	}
	if _, err := os.Stat(host(dir, keep)); err != nil {
		t.Errorf("%s removed", keep)
	}
}

func TestApplyBusy(t *testing.T) {
	dir := copyTree(t, "rx6800")
	root, _, p := plan(t, dir, "thermal-2025")
	os.MkdirAll(host(dir, StateDir), 0o755)
	f, err := os.OpenFile(host(dir, StateDir+"/"+lockName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	if _, err := Apply(root, p, now); !errors.Is(err, ErrBusy) {
		t.Errorf("apply: %v", err)
	}
	if _, err := Rollback(root, now); !errors.Is(err, ErrBusy) {
		t.Errorf("rollback: %v", err)
	}
}

func TestCheckPermission(t *testing.T) {
	dir := t.TempDir()
	root, err := fsroot.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckPermission(root); err != nil {
		t.Errorf("writable tree: %v", err)
	}
	hostRoot, err := fsroot.Open("/")
	if err != nil {
		t.Fatal(err)
	}
	err = CheckPermission(hostRoot)
	if (os.Geteuid() == 0) != (err == nil) || (err != nil && !errors.Is(err, ErrNotRoot)) {
		t.Errorf("host root as uid %d: %v", os.Geteuid(), err)
	}
	if os.Geteuid() == 0 {
		t.Log("running as root: the read-only tree case cannot be checked")
		return
	}
	if err := os.Chmod(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(dir, 0o755)
	if err := CheckPermission(root); !errors.Is(err, ErrNotWritable) {
		t.Errorf("read-only tree: %v", err)
	}
}
