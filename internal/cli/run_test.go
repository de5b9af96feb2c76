package cli

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/rocm-patch/rocm-patch/internal/history"
)

// faultLine is a ROCm memory access fault as the HSA runtime prints it.
const faultLine = "Memory access fault by GPU node-1 (Agent handle: 0x55) on address 0x7f. Reason: Page not present or supervisor privilege."

// runEnv is a small, fixed environment for run tests: the child finds sh,
// and the host's GPU tables do not matter.
func runEnv(t *testing.T) []string {
	t.Helper()
	return []string{"PATH=/usr/bin:/bin", "HOME=" + t.TempDir(), "ROCM_PATCH_NO_HOST_IDS=1", "TZ=UTC"}
}

// example is the path of an example machine.
func example(t *testing.T, name string) string {
	return filepath.Join(repoRoot(t), "examples", "systems", name)
}

// historyDoc is the part of rocm-patch/history/v1 the tests read.
type historyDoc struct {
	Schema string `json:"schema"`
	Runs   []struct {
		ID       int64    `json:"id"`
		Command  []string `json:"command"`
		Started  string   `json:"started"`
		Outcome  string   `json:"outcome"`
		Dir      string   `json:"dir"`
		Policy   string   `json:"policy"`
		Attempts []struct {
			N           int               `json:"n"`
			Device      string            `json:"device"`
			ExitCode    int               `json:"exit_code"`
			Signal      string            `json:"signal"`
			Class       string            `json:"class"`
			IssueID     string            `json:"issue_id"`
			DurationS   *float64          `json:"duration_s"`
			Interrupted bool              `json:"interrupted"`
			Layers      []string          `json:"layers"`
			Settings    map[string]string `json:"settings"`
			LogPath     string            `json:"log_path"`
		} `json:"attempts"`
		GPU struct {
			Target string `json:"gfx_target"`
			Family string `json:"family"`
			Name   string `json:"name"`
		} `json:"gpu"`
	} `json:"runs"`
}

// readHistory runs `history --json` on db.
func readHistory(t *testing.T, db string, extra ...string) historyDoc {
	t.Helper()
	out, stderr, code := run(t, runEnv(t), append([]string{"history", "--json", "--history", db}, extra...)...)
	if code != ExitOK {
		t.Fatalf("history exit %d: %s", code, stderr)
	}
	var doc historyDoc
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("history --json: %v\n%s", err, out)
	}
	if doc.Schema != "rocm-patch/history/v1" {
		t.Errorf("schema %q", doc.Schema)
	}
	return doc
}

// TestRunLadder: through the command line, a child that faults every time
// climbs the ladder and ends on the CPU, and history shows it.
func TestRunLadder(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "h", "history.db")
	seen := filepath.Join(dir, "seen")
	script := `echo "$ROCM_PATCH_ATTEMPT $ROCM_PATCH_DEVICE ${PYTORCH_HIP_ALLOC_CONF-none} [${ROCR_VISIBLE_DEVICES-unset}] [${HIP_VISIBLE_DEVICES-unset}] [${CUDA_VISIBLE_DEVICES-unset}] ${HSA_OVERRIDE_GFX_VERSION-none} $PYTHONUNBUFFERED" >> ` + seen + `
echo "` + faultLine + `" >&2
kill -ABRT $$`
	_, stderr, code := run(t, runEnv(t), "run", "--root", example(t, "rx6700xt"), "--history", db, "--backoff", "10ms", "--", "sh", "-c", script)
	if code != 134 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	if strings.Count(stderr, faultLine+"\n") != 3 {
		t.Errorf("the child's output did not reach the user three times:\n%s", stderr)
	}
	data, err := os.ReadFile(seen)
	if err != nil {
		t.Fatal(err)
	}
	want := "1 gpu none [unset] [unset] [unset] 10.3.0 1\n" +
		"2 gpu garbage_collection_threshold:0.6,max_split_size_mb:128 [unset] [unset] [unset] 10.3.0 1\n" +
		"3 cpu none [] [] [] none 1\n"
	if string(data) != want {
		t.Errorf("the attempts saw\n%s\nwant\n%s", data, want)
	}
	for _, w := range []string{"risk high; policy mitigate: running on the GPU with env layer HSA_OVERRIDE_GFX_VERSION=10.3.0; CPU after 2 GPU faults",
		"attempt 1 of 3 failed: gpu-memory-fault", "retrying in 10ms on the GPU with PYTORCH_HIP_ALLOC_CONF=", "retrying in 20ms on the CPU"} {
		if !strings.Contains(stderr, w) {
			t.Errorf("stderr lacks %q:\n%s", w, stderr)
		}
	}
	doc := readHistory(t, db)
	if len(doc.Runs) != 1 || len(doc.Runs[0].Attempts) != 3 || doc.Runs[0].Outcome != "failed" || doc.Runs[0].GPU.Target != "gfx1031" {
		t.Fatalf("history %+v", doc)
	}
	for i, a := range doc.Runs[0].Attempts {
		if a.N != i+1 || a.Class != "gpu-memory-fault" || a.IssueID == "" || a.Signal != "SIGABRT" || a.ExitCode != -1 || a.DurationS == nil {
			t.Errorf("attempt %+v", a)
		}
		if filepath.Dir(filepath.Dir(a.LogPath)) != filepath.Join(dir, "h", "runs") {
			t.Errorf("log %s is not under runs/ beside the history", a.LogPath)
		}
	}
}

// TestRunDefaultHistory: without --history, the run goes into
// $XDG_STATE_HOME/rocm-patch, logs in runs/ beside the database.
func TestRunDefaultHistory(t *testing.T) {
	state := t.TempDir()
	env := append(runEnv(t), "XDG_STATE_HOME="+state)
	stdout, stderr, code := run(t, env, "run", "-q", "--root", example(t, "no-gpu"), "--", "sh", "-c", `echo "$ROCM_PATCH_RUN_DIR"`)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(state, "rocm-patch", "history.db")); err != nil {
		t.Error(err)
	}
	runDir := strings.TrimSpace(stdout)
	if filepath.Dir(runDir) != filepath.Join(state, "rocm-patch", "runs") {
		t.Errorf("ROCM_PATCH_RUN_DIR %q is not in runs/ beside the history", runDir)
	}
	if log, err := os.ReadFile(filepath.Join(runDir, "attempt-1.log")); err != nil || string(log) != stdout {
		t.Errorf("attempt log %q (%v), want the output %q", log, err, stdout)
	}
	out, _, _ := run(t, env, "history")
	if !strings.Contains(out, `sh -c 'echo "$ROCM_PATCH_RUN_DIR"'`) {
		t.Errorf("history:\n%s", out)
	}
	js, _, _ := run(t, env, "history", "--json")
	var doc history.Document
	if err := json.Unmarshal([]byte(js), &doc); err != nil || len(doc.Runs) != 1 || doc.Runs[0].RunDir != runDir ||
		doc.Runs[0].Attempts[0].LogPath != filepath.Join(runDir, "attempt-1.log") {
		t.Errorf("history --json (%v):\n%s", err, js)
	}
}

// TestRunPolicyCPU: the CPU decision hides the GPUs in the child's
// environment and says why and how to override.
func TestRunPolicyCPU(t *testing.T) {
	db := filepath.Join(t.TempDir(), "history.db")
	stdout, stderr, code := run(t, runEnv(t), "run", "--policy", "cpu", "--root", example(t, "rx6700xt"), "--history", db, "--",
		"sh", "-c", `echo "[${ROCR_VISIBLE_DEVICES-unset}][${HIP_VISIBLE_DEVICES-unset}][${CUDA_VISIBLE_DEVICES-unset}] $ROCM_PATCH_DEVICE"`)
	if code != 0 || stdout != "[][][] cpu\n" {
		t.Fatalf("exit %d, stdout %q\n%s", code, stdout, stderr)
	}
	for _, w := range []string{"policy cpu: running on the CPU with every GPU hidden", "torch.cuda.is_available() is False", "To override: --policy mitigate", "--force-gpu-unsafe"} {
		if !strings.Contains(stderr, w) {
			t.Errorf("stderr lacks %q:\n%s", w, stderr)
		}
	}
}

// TestRunNotRetried: failures a retry cannot fix exit with the child's
// status at once.
func TestRunNotRetried(t *testing.T) {
	for _, tt := range []struct {
		name, script string
		code         int
		says         string
	}{
		{"no code object", `echo "RuntimeError: HIP error: hipErrorNoBinaryForGpu: Unable to find code object for all current devices!" >&2; exit 1`, 1, "rocm-patch issues show no-code-object-for-gpu"},
		{"exception", `echo "ValueError: bad" >&2; exit 1`, 1, "with no GPU failure in its output; not retried"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			db := filepath.Join(t.TempDir(), "history.db")
			_, stderr, code := run(t, runEnv(t), "run", "--root", example(t, "rx6700xt"), "--history", db, "--backoff", "10ms", "--", "sh", "-c", tt.script)
			if code != tt.code || !strings.Contains(stderr, tt.says) {
				t.Errorf("exit %d\n%s", code, stderr)
			}
			if doc := readHistory(t, db); len(doc.Runs[0].Attempts) != 1 {
				t.Errorf("%d attempts", len(doc.Runs[0].Attempts))
			}
		})
	}
}

// TestRunForceGPUUnsafe: the loud warning, no retry.
func TestRunForceGPUUnsafe(t *testing.T) {
	db := filepath.Join(t.TempDir(), "history.db")
	_, stderr, code := run(t, runEnv(t), "run", "--force-gpu-unsafe", "--root", example(t, "rx6700xt"), "--history", db, "--",
		"sh", "-c", `echo "`+faultLine+`" >&2; kill -ABRT $$`)
	if code != 134 || !strings.Contains(stderr, "WARNING: GPU 0 (AMD Radeon RX 6700 XT, gfx1031) is high risk") || !strings.Contains(stderr, "not retried") {
		t.Errorf("exit %d\n%s", code, stderr)
	}
	doc := readHistory(t, db)
	if len(doc.Runs[0].Attempts) != 1 || doc.Runs[0].Policy != "force-gpu-unsafe" {
		t.Errorf("%+v", doc.Runs[0])
	}
}

// TestRunArguments: flags after the command belong to the command; a
// missing command, a bad policy or recipe are usage errors.
func TestRunArguments(t *testing.T) {
	db := filepath.Join(t.TempDir(), "history.db")
	stdout, stderr, code := run(t, runEnv(t), "run", "-q", "--root", example(t, "no-gpu"), "--history", db, "sh", "-c", `echo "$@"`, "sh", "--retries", "5", "-q")
	if code != 0 || stdout != "--retries 5 -q\n" || stderr != "" {
		t.Errorf("exit %d stdout %q stderr %q", code, stdout, stderr)
	}
	for _, tt := range []struct {
		args []string
		says string
	}{
		{[]string{"run"}, "no command given"},
		{[]string{"run", "--"}, "no command given"},
		{[]string{"run", "--policy", "fast", "--", "true"}, "--policy"},
		{[]string{"run", "--policy", "cpu", "--force-gpu-unsafe", "--", "true"}, "contradicts"},
		{[]string{"run", "--retries", "-1", "--", "true"}, "--retries"},
		{[]string{"run", "--backoff", "-1s", "--", "true"}, "must not be negative"},
		{[]string{"run", "--resume", "keras", "--", "true"}, "unknown recipe"},
		{[]string{"run", "--resume-args", "'open", "--", "true"}, "unterminated quote"},
		{[]string{"run", "--bogus", "--", "true"}, "unknown flag"},
		{[]string{"run", "--log-limit", "lots", "--", "true"}, "--log-limit"},
		{[]string{"run", "--log-limit", "5T", "--", "true"}, "--log-limit"},
	} {
		_, stderr, code := run(t, runEnv(t), tt.args...)
		if code != ExitUsage || !strings.Contains(stderr, tt.says) {
			t.Errorf("%q: exit %d, stderr %q", tt.args, code, stderr)
		}
	}
}

// TestRunLogLimit: the terminal gets every byte; the log keeps the head,
// a note and the tail under --log-limit, everything with --log-limit 0.
func TestRunLogLimit(t *testing.T) {
	// 4000 numbered lines of 25 bytes: 100000 bytes, the fault last.
	script := `i=0; while [ $i -lt 3999 ]; do printf 'line %019d\n' $i; i=$((i+1)); done; echo "` + faultLine + `"`
	for _, tt := range []struct {
		limit  string
		capped bool
	}{{"16K", true}, {"0", false}, {"1M", false}} {
		t.Run(tt.limit, func(t *testing.T) {
			db := filepath.Join(t.TempDir(), "history.db")
			stdout, stderr, code := run(t, runEnv(t), "run", "-q", "--root", example(t, "no-gpu"), "--history", db, "--log-limit", tt.limit, "--", "sh", "-c", script)
			if code != 0 || len(stdout) != 3999*25+len(faultLine)+1 {
				t.Fatalf("exit %d, %d bytes on stdout: %s", code, len(stdout), stderr)
			}
			doc := readHistory(t, db)
			log, err := os.ReadFile(doc.Runs[0].Attempts[0].LogPath)
			if err != nil {
				t.Fatal(err)
			}
			if !tt.capped {
				if string(log) != stdout {
					t.Fatalf("the log (%d bytes) is not the output (%d bytes)", len(log), len(stdout))
				}
				return
			}
			head, rest, ok := strings.Cut(string(log), "\n[rocm-patch: ")
			if !ok || !strings.HasPrefix(stdout, head) || len(head) != 4<<10 {
				t.Fatalf("the log does not start with the output's first 4K and a note:\n%.200s", log)
			}
			note, tail, _ := strings.Cut(rest, "]\n")
			if !strings.Contains(note, "bytes of output left out of this log") || !strings.HasSuffix(stdout, tail) || !strings.HasSuffix(tail, faultLine+"\n") || len(log) > 16<<10+200 {
				t.Fatalf("note %q, tail of %d bytes, log of %d", note, len(tail), len(log))
			}
		})
	}
}

// TestRunNotFound: 127 and the command's name.
func TestRunNotFound(t *testing.T) {
	db := filepath.Join(t.TempDir(), "history.db")
	_, stderr, code := run(t, runEnv(t), "run", "-q", "--root", example(t, "no-gpu"), "--history", db, "--", "rocm-patch-no-such-command", "x")
	if code != 127 || !strings.Contains(stderr, "rocm-patch-no-such-command") || !strings.Contains(stderr, "not found") {
		t.Errorf("exit %d: %s", code, stderr)
	}
	if doc := readHistory(t, db); len(doc.Runs) != 1 || doc.Runs[0].Outcome != "failed" || len(doc.Runs[0].Attempts) != 0 {
		t.Errorf("history %+v", doc)
	}
}

// TestRunGrandchild: a worker left holding the output does not hang run.
func TestRunGrandchild(t *testing.T) {
	db := filepath.Join(t.TempDir(), "history.db")
	start := time.Now()
	stdout, stderr, code := run(t, runEnv(t), "run", "-q", "--root", example(t, "rx6700xt"), "--history", db, "--", "sh", "-c", "(sleep 30 &); echo started")
	if code != 0 || stdout != "started\n" {
		t.Errorf("exit %d stdout %q: %s", code, stdout, stderr)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %s", d)
	}
}

// TestRunNoTerminal: with pipes, the child sees no terminal either.
func TestRunNoTerminal(t *testing.T) {
	db := filepath.Join(t.TempDir(), "history.db")
	stdout, _, _ := run(t, runEnv(t), "run", "-q", "--root", example(t, "no-gpu"), "--history", db, "--", "sh", "-c", isattyScript)
	if stdout != "NOT-TTY\n" {
		t.Errorf("stdout %q", stdout)
	}
}

const isattyScript = `if test -t 0 && test -t 1 && test -t 2; then echo ALL-TTY; else echo NOT-TTY; fi`

// buildBinary builds the real rocm-patch command, with the race detector
// when the tests have it, so that the build reuses their compiled
// packages.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "rocm-patch")
	args := []string{"build", "-o", bin}
	if raceEnabled {
		args = append(args, "-race")
	}
	cmd := exec.Command("go", append(args, "./cmd/rocm-patch")...)
	cmd.Dir = repoRoot(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestRunBinary runs the built rocm-patch as a user does, for what only a
// real process shows: signals sent to rocm-patch itself, a terminal, and
// large output through real pipes.
func TestRunBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	rx := example(t, "rx6700xt")
	env := runEnv(t)

	// start runs bin with args, returning its stdout as lines.
	start := func(t *testing.T, args ...string) (*exec.Cmd, *bufio.Reader, *bytes.Buffer) {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd, bufio.NewReader(out), &stderr
	}
	waitReady := func(t *testing.T, r *bufio.Reader) {
		t.Helper()
		line, err := r.ReadString('\n')
		if err != nil || line != "ready\n" {
			t.Fatalf("read %q, %v", line, err)
		}
	}
	exitCode := func(err error) int {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			return -1
		}
		return 0
	}

	t.Run("SIGINT is forwarded, not retried, exit 130", func(t *testing.T) {
		db := filepath.Join(t.TempDir(), "history.db")
		cmd, out, stderr := start(t, "run", "--root", rx, "--history", db, "--backoff", "10ms", "--", "sh", "-c", "echo ready; sleep 30")
		waitReady(t, out)
		if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, out)
		if code := exitCode(cmd.Wait()); code != 130 {
			t.Fatalf("exit %d\n%s", code, stderr)
		}
		doc := readHistory(t, db)
		r := doc.Runs[0]
		if r.Outcome != "interrupted" || len(r.Attempts) != 1 || !r.Attempts[0].Interrupted || r.Attempts[0].Signal != "SIGINT" {
			t.Errorf("history %+v", r)
		}
	})

	t.Run("SIGTERM ignored, killed after the grace, exit 137", func(t *testing.T) {
		db := filepath.Join(t.TempDir(), "history.db")
		cmd, out, stderr := start(t, "run", "--root", rx, "--history", db, "--grace", "200ms", "--", "sh", "-c", `trap "" TERM; echo ready; sleep 30`)
		waitReady(t, out)
		began := time.Now()
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, out)
		if code := exitCode(cmd.Wait()); code != 137 {
			t.Fatalf("exit %d\n%s", code, stderr)
		}
		if d := time.Since(began); d > 10*time.Second {
			t.Errorf("took %s", d)
		}
		if a := readHistory(t, db).Runs[0].Attempts; len(a) != 1 || a[0].Signal != "SIGKILL" {
			t.Errorf("attempts %+v", a)
		}
	})

	t.Run("bytes pass through unchanged", func(t *testing.T) {
		db := filepath.Join(t.TempDir(), "history.db")
		copyFile := filepath.Join(t.TempDir(), "written")
		cmd, out, stderr := start(t, "run", "-q", "--root", rx, "--history", db, "--", "sh", "-c", "head -c 20000000 /dev/urandom | tee "+copyFile)
		h := sha256.New()
		n, err := io.Copy(h, out)
		if err != nil {
			t.Fatal(err)
		}
		if code := exitCode(cmd.Wait()); code != 0 {
			t.Fatalf("exit %d\n%s", code, stderr)
		}
		written, err := os.ReadFile(copyFile)
		if err != nil {
			t.Fatal(err)
		}
		if sum := sha256.Sum256(written); n != 20000000 || string(h.Sum(nil)) != string(sum[:]) {
			t.Errorf("got %d bytes with another hash than the child's %d", n, len(written))
		}
	})

	t.Run("under a terminal the child sees one", func(t *testing.T) {
		db := filepath.Join(t.TempDir(), "history.db")
		cmd := exec.Command(bin, "run", "-q", "--root", rx, "--history", db, "--", "sh", "-c", isattyScript+`; printf '10%%\r50%%\r100%%\n'`)
		cmd.Env = env
		tty, err := pty.Start(cmd)
		if err != nil {
			t.Skipf("no pseudo-terminal: %v", err)
		}
		defer tty.Close()
		var got bytes.Buffer
		io.Copy(&got, tty) // ends with EIO once the child side closes
		if code := exitCode(cmd.Wait()); code != 0 {
			t.Fatalf("exit %d: %q", code, got.String())
		}
		if !strings.Contains(got.String(), "ALL-TTY") {
			t.Errorf("the child saw no terminal: %q", got.String())
		}
		if !strings.Contains(got.String(), "10%\r50%\r100%") {
			t.Errorf("the progress bar was changed: %q", got.String())
		}
	})
}
