package runner

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rocm-patch/rocm-patch/internal/assess"
	"github.com/rocm-patch/rocm-patch/internal/fsroot"
	"github.com/rocm-patch/rocm-patch/internal/history"
	"github.com/rocm-patch/rocm-patch/internal/system"
	"github.com/rocm-patch/rocm-patch/internal/testutil"
)

// testprog is the helper child (testutil.BuildTestprog).
var testprog string

// TestMain builds the helper child once.
func TestMain(m *testing.M) {
	path, cleanup, err := testutil.BuildTestprog()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testprog = path
	code := m.Run()
	cleanup()
	os.Exit(code)
}

// machine reads an example machine and assesses it under policy.
func machine(t *testing.T, name string, policy assess.Policy) (*assess.Report, *system.System) {
	t.Helper()
	root, err := fsroot.Open(filepath.Join("..", "..", "examples", "systems", name))
	if err != nil {
		t.Fatal(err)
	}
	sys, err := system.Detect(context.Background(), root, system.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := assess.Doctor(sys, testutil.KB(t), policy)
	if err != nil {
		t.Fatal(err)
	}
	return rep, sys
}

// syncBuffer is a bytes.Buffer safe for a writer goroutine and a reader,
// which calls hook (unlocked) after each write.
type syncBuffer struct {
	mu   sync.Mutex
	b    bytes.Buffer
	hook func(string)
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	n, err := s.b.Write(p)
	all := s.b.String()
	hook := s.hook
	s.mu.Unlock()
	if hook != nil {
		hook(all)
	}
	return n, err
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// fixture is one supervised run's setting: options ready to use, with a
// real history file and run directory under a temporary folder.
type fixture struct {
	opts     Options
	out, msg *syncBuffer
	envFile  string
	dbPath   string
}

func newFixture(t *testing.T, example string, policy assess.Policy, argv ...string) *fixture {
	t.Helper()
	rep, sys := machine(t, example, policy)
	tmp := t.TempDir()
	f := &fixture{out: &syncBuffer{}, msg: &syncBuffer{}, envFile: filepath.Join(tmp, "env.jsonl"), dbPath: filepath.Join(tmp, "state", "history.db")}
	db, err := history.Open(context.Background(), f.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	f.opts = Options{
		Argv: argv, Dir: tmp,
		Environ: []string{"PATH=/usr/bin:/bin", "HOME=" + tmp, "LANG=C"},
		Report:  rep, System: sys, KB: testutil.KB(t),
		Retries: DefaultRetries, Backoff: 10 * time.Millisecond, Grace: 2 * time.Second,
		Stdout: f.out, Stderr: f.out, Messages: f.msg,
		History: db, HistoryPath: f.dbPath, RunsDir: filepath.Join(tmp, "state", "runs"),
	}
	if policy == assess.PolicyForceGPU {
		f.opts.Retries = 0
	}
	return f
}

// child returns argv that runs testprog in mode, recording its
// environment in the fixture's env file.
func (f *fixture) child(mode ...string) []string {
	return append([]string{testprog, "-env", f.envFile}, mode...)
}

// envs reads what each attempt's child saw, in order.
func (f *fixture) envs(t *testing.T) []map[string]string {
	t.Helper()
	data, err := os.ReadFile(f.envFile)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		var m map[string]string
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

// runs reads the history file back.
func (f *fixture) runs(t *testing.T) []history.Run {
	t.Helper()
	db, err := history.Open(context.Background(), f.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	runs, err := db.Runs(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	return runs
}

func (f *fixture) run(t *testing.T) Result {
	t.Helper()
	res, err := Run(context.Background(), f.opts)
	if err != nil {
		t.Fatalf("Run: %v\nmessages:\n%s", err, f.msg)
	}
	return res
}

func wantContains(t *testing.T, what, got string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(got, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, got)
		}
	}
}
