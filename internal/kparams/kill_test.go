package kparams

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rocm-patch/rocm-patch/internal/fsroot"
	"github.com/rocm-patch/rocm-patch/internal/kb"
)

// killHelperEnv makes the test binary run killHelper instead of the tests:
// TestApplyKilled starts it on a tree and kills it with SIGKILL.
const killHelperEnv = "ROCM_PATCH_KPARAMS_KILL_HELPER"

func TestMain(m *testing.M) {
	if dir := os.Getenv(killHelperEnv); dir != "" {
		if err := killHelper(dir); err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// killHelper applies and rolls back thermal-2025 on the tree at dir, over
// and over, until it is killed.
func killHelper(dir string) error {
	root, err := fsroot.Open(dir)
	if err != nil {
		return err
	}
	k, err := kb.Load()
	if err != nil {
		return err
	}
	prof, _ := k.Profile("thermal-2025")
	fmt.Println("ready")
	for {
		m, err := ReadMachine(root, nil)
		if err != nil {
			return err
		}
		p, err := Build(k, m, Request{Profile: prof})
		if err != nil {
			return err
		}
		if p.Unchanged {
			_, err = Rollback(root, time.Now())
		} else {
			_, err = Apply(root, p, time.Now())
		}
		if err != nil {
			return err
		}
	}
}

// TestApplyKilled kills a process in the middle of apply and rollback at
// random moments. After every kill the file is byte for byte the old one or
// the new one, never a torn mix; the state file always parses; and rolling
// back everything recorded gives back the original bytes and mode, with no
// temporary file left.
func TestApplyKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("kills processes; skipped with -short")
	}
	dir := t.TempDir()
	old := []byte("# the administrator's own file\noptions amdgpu ppfeaturemask=0xfff7ffff\n")
	if err := os.MkdirAll(host(dir, "/etc/modprobe.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(host(dir, ConfPath), old, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(host(dir, ConfPath), 0o640); err != nil {
		t.Fatal(err)
	}
	root, err := fsroot.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	k := loadKB(t)
	m, err := ReadMachine(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	prof, _ := k.Profile("thermal-2025")
	p, err := Build(k, m, Request{Profile: prof})
	if err != nil {
		t.Fatal(err)
	}
	newContent := p.Content

	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	seen := map[string]int{}
	const kills = 25
	for i := 0; i < kills; i++ {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), killHelperEnv+"="+dir)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "ready\n" {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("helper did not start: %q, %v; %s", line, err, stderr.String())
		}
		time.Sleep(time.Duration(rng.Intn(30_000)) * time.Microsecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		err = cmd.Wait()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("helper ended by itself (%v): %s", err, stderr.String())
		}

		got, err := os.ReadFile(host(dir, ConfPath))
		if err != nil {
			t.Fatalf("kill %d: %v", i, err)
		}
		fi, _ := os.Stat(host(dir, ConfPath))
		switch string(got) {
		case string(old):
			seen["old"]++
			if fi.Mode().Perm() != 0o640 {
				t.Errorf("kill %d: old content with mode %v", i, fi.Mode())
			}
		case string(newContent):
			seen["new"]++
		default:
			t.Fatalf("kill %d: torn file:\n%s", i, got)
		}
		if _, err := LoadState(root); err != nil {
			t.Fatalf("kill %d: state: %v", i, err)
		}
	}
	t.Logf("after %d kills: %v", kills, seen)

	n := 0
	for ; ; n++ {
		_, err := Rollback(root, time.Now())
		if errors.Is(err, ErrNothingToRollBack) {
			break
		}
		if err != nil {
			t.Fatalf("rollback %d: %v", n, err)
		}
	}
	got, err := os.ReadFile(host(dir, ConfPath))
	if err != nil || string(got) != string(old) {
		t.Fatalf("after %d rollbacks: %q, %v", n, got, err)
	}
	if fi, _ := os.Stat(host(dir, ConfPath)); fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want 0640", fi.Mode())
	}
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.Contains(d.Name(), ".tmp-") {
			t.Errorf("temporary file left: %s", p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
