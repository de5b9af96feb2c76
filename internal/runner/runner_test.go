package runner

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rocm-patch/rocm-patch/internal/assess"
	"github.com/rocm-patch/rocm-patch/internal/history"
)

const allocConf = "garbage_collection_threshold:0.6,max_split_size_mb:128"

// TestFaultClimbsLadder: a child that aborts on a GPU memory fault every
// time is retried up the ladder, the allocator step on attempt 2 and the
// CPU on attempt 3, and every attempt is in the history.
func TestFaultClimbsLadder(t *testing.T) {
	f := newFixture(t, "rx6700xt", assess.PolicyMitigate)
	f.opts.Argv = f.child("fault")
	res := f.run(t)
	if res.ExitCode != 134 || res.Outcome != history.OutcomeFailed || len(res.Attempts) != 3 {
		t.Fatalf("exit %d, outcome %s, %d attempts\n%s", res.ExitCode, res.Outcome, len(res.Attempts), f.msg)
	}
	envs := f.envs(t)
	if len(envs) != 3 {
		t.Fatalf("%d children ran", len(envs))
	}
	want := []map[string]string{
		{"ROCM_PATCH_ATTEMPT": "1", "ROCM_PATCH_DEVICE": "gpu", "HSA_OVERRIDE_GFX_VERSION": "10.3.0", "PYTHONUNBUFFERED": "1"},
		{"ROCM_PATCH_ATTEMPT": "2", "ROCM_PATCH_DEVICE": "gpu", "HSA_OVERRIDE_GFX_VERSION": "10.3.0", "PYTHONUNBUFFERED": "1", "PYTORCH_HIP_ALLOC_CONF": allocConf},
		{"ROCM_PATCH_ATTEMPT": "3", "ROCM_PATCH_DEVICE": "cpu", "PYTHONUNBUFFERED": "1", "ROCR_VISIBLE_DEVICES": "", "HIP_VISIBLE_DEVICES": "", "CUDA_VISIBLE_DEVICES": ""},
	}
	for i, env := range envs {
		if env["ROCM_PATCH_RUN_DIR"] != res.RunDir || res.RunDir == "" {
			t.Errorf("attempt %d: ROCM_PATCH_RUN_DIR = %q, run dir %q", i+1, env["ROCM_PATCH_RUN_DIR"], res.RunDir)
		}
		delete(env, "ROCM_PATCH_RUN_DIR")
		delete(env, "argv")
		if !reflect.DeepEqual(env, want[i]) {
			t.Errorf("attempt %d saw\n %v\nwant\n %v", i+1, env, want[i])
		}
	}
	runs := f.runs(t)
	if len(runs) != 1 || runs[0].ID != res.RunID || runs[0].Outcome != history.OutcomeFailed {
		t.Fatalf("history: %+v", runs)
	}
	run := runs[0]
	if run.Policy != "mitigate" || run.GPU.Target != "gfx1031" || run.GPU.Family != "RDNA2" || run.ROCmVersion == "" || run.TorchVersion == "" || run.Dir != f.opts.Dir {
		t.Errorf("run = %+v", run)
	}
	wantLayers := [][]string{{"env"}, {"env", "allocator"}, {"cpu"}}
	for i, a := range run.Attempts {
		if a.N != i+1 || a.Signal != "SIGABRT" || a.ExitCode != -1 || a.Class != "gpu-memory-fault" || a.IssueID == "" {
			t.Errorf("attempt %d = %+v", i+1, a)
		}
		if !reflect.DeepEqual(a.Layers, wantLayers[i]) {
			t.Errorf("attempt %d layers %v, want %v", i+1, a.Layers, wantLayers[i])
		}
		log, err := os.ReadFile(a.LogPath)
		if err != nil || !strings.Contains(string(log), "Memory access fault by GPU node-1") {
			t.Errorf("attempt %d log %s: %v\n%s", i+1, a.LogPath, err, log)
		}
		if filepath.Dir(a.LogPath) != res.RunDir || filepath.Base(a.LogPath) != "attempt-"+string(rune('1'+i))+".log" {
			t.Errorf("log path %s", a.LogPath)
		}
	}
	if run.Attempts[0].Device != "gpu" || run.Attempts[1].Device != "gpu" || run.Attempts[2].Device != "cpu" {
		t.Errorf("devices %s %s %s", run.Attempts[0].Device, run.Attempts[1].Device, run.Attempts[2].Device)
	}
	if run.Attempts[1].Settings["PYTORCH_HIP_ALLOC_CONF"] != allocConf || run.Attempts[2].Settings["ROCR_VISIBLE_DEVICES"] != "" {
		t.Errorf("settings %v / %v", run.Attempts[1].Settings, run.Attempts[2].Settings)
	}
	if filepath.Dir(res.RunDir) != filepath.Join(filepath.Dir(f.dbPath), "runs") {
		t.Errorf("run dir %s is not beside the history", res.RunDir)
	}
	// The folder is named before the run has an id; the history keeps
	// it with the run.
	if res.RunID == 0 {
		t.Error("the run has no history id")
	}
	if run.RunDir != res.RunDir {
		t.Errorf("history has run_dir %q, want %q", run.RunDir, res.RunDir)
	}
	if entries, err := os.ReadDir(filepath.Dir(res.RunDir)); err != nil || len(entries) != 1 {
		t.Errorf("runs/ holds %v (%v), want the run's folder alone", entries, err)
	}
	wantContains(t, "messages", f.msg.String(),
		"GPU 0 AMD Radeon RX 6700 XT (gfx1031, RDNA2): risk high; policy mitigate: running on the GPU with env layer HSA_OVERRIDE_GFX_VERSION=10.3.0; CPU after 2 GPU faults (history: ~/state/history.db)",
		"attempt 1 of 3 failed: gpu-memory-fault (", "killed by SIGABRT; retrying in 10ms on the GPU with PYTORCH_HIP_ALLOC_CONF="+allocConf,
		"attempt 2 of 3 failed", "retrying in 20ms on the CPU, every GPU hidden",
		"attempt 3 on the CPU failed")
}

// TestRecoveries: a fault that goes away is an ok-after-retry on the
// GPU, or a fallback-cpu-ok when only the CPU attempt succeeds.
func TestRecoveries(t *testing.T) {
	for _, tt := range []struct {
		until   string
		outcome history.Outcome
		devices []string
	}{
		{"2", history.OutcomeOKAfterRetry, []string{"gpu", "gpu"}},
		{"3", history.OutcomeFallbackCPUOK, []string{"gpu", "gpu", "cpu"}},
	} {
		t.Run(string(tt.outcome), func(t *testing.T) {
			f := newFixture(t, "rx6700xt", assess.PolicyMitigate)
			f.opts.Argv = f.child("faultuntil", tt.until)
			res := f.run(t)
			if res.ExitCode != 0 || res.Outcome != tt.outcome {
				t.Fatalf("exit %d outcome %s\n%s", res.ExitCode, res.Outcome, f.msg)
			}
			run := f.runs(t)[0]
			var devs []string
			for _, a := range run.Attempts {
				devs = append(devs, a.Device)
			}
			if run.Outcome != tt.outcome || !reflect.DeepEqual(devs, tt.devices) {
				t.Errorf("history: outcome %s devices %v", run.Outcome, devs)
			}
			if last := run.Attempts[len(run.Attempts)-1]; last.ExitCode != 0 || last.Class != "" {
				t.Errorf("last attempt %+v", last)
			}
			wantContains(t, "output", f.out.String(), "trained\n")
		})
	}
}

// TestNotRetried: failures a retry cannot fix end the run at once with
// the child's exit status, and a known one prints what to do instead.
func TestNotRetried(t *testing.T) {
	for _, tt := range []struct {
		name  string
		mode  []string
		exit  int
		class string
		says  []string
	}{
		{"missing code object", []string{"nocode"}, 1, "unsupported-isa",
			[]string{"attempt 1 failed: unsupported-isa (no-code-object-for-gpu), exit status 1", "a retry cannot fix this", "what to do instead:", "HSA_OVERRIDE_GFX_VERSION=10.3.0", "rocm-patch issues show no-code-object-for-gpu"}},
		{"python exception", []string{"exception"}, 1, "",
			[]string{"attempt 1 failed: exit status 1, with no GPU failure in its output; not retried"}},
		{"plain exit code", []string{"exit", "3"}, 3, "",
			[]string{"exit status 3, with no GPU failure"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, "rx6700xt", assess.PolicyMitigate)
			f.opts.Argv = f.child(tt.mode...)
			res := f.run(t)
			if res.ExitCode != tt.exit || len(res.Attempts) != 1 || res.Outcome != history.OutcomeFailed {
				t.Fatalf("exit %d, %d attempts, outcome %s\n%s", res.ExitCode, len(res.Attempts), res.Outcome, f.msg)
			}
			if got := f.runs(t)[0].Attempts[0].Class; got != tt.class {
				t.Errorf("class %q, want %q", got, tt.class)
			}
			wantContains(t, "messages", f.msg.String(), tt.says...)
		})
	}
}

// TestInterruptNeverRetried: SIGINT during a faulting run's attempt is
// forwarded, ends the run, and is not retried.
func TestInterruptNeverRetried(t *testing.T) {
	f := newFixture(t, "rx6700xt", assess.PolicyMitigate)
	sigs := make(chan os.Signal, 1)
	f.opts.Signals = sigs
	f.opts.Argv = f.child("sigwait")
	sent := false
	f.out.hook = func(all string) {
		if !sent && strings.Contains(all, "ready\n") {
			sent = true
			sigs <- syscall.SIGINT
		}
	}
	res := f.run(t)
	if res.ExitCode != 130 || !res.Interrupted || len(res.Attempts) != 1 || res.Outcome != history.OutcomeInterrupted {
		t.Fatalf("exit %d interrupted %v attempts %d outcome %s\n%s", res.ExitCode, res.Interrupted, len(res.Attempts), res.Outcome, f.msg)
	}
	wantContains(t, "output", f.out.String(), "got SIGINT")
	if a := f.runs(t)[0].Attempts[0]; !a.Interrupted || a.Signal != "SIGINT" {
		t.Errorf("attempt %+v", a)
	}
}

// TestInterruptDuringBackoff: a stop signal while waiting to retry ends
// the run at once, with 128+signal.
func TestInterruptDuringBackoff(t *testing.T) {
	f := newFixture(t, "rx6700xt", assess.PolicyMitigate)
	sigs := make(chan os.Signal, 1)
	f.opts.Signals = sigs
	f.opts.Backoff = time.Minute
	f.opts.Argv = f.child("fault")
	sent := false
	f.msg.hook = func(all string) {
		if !sent && strings.Contains(all, "retrying in 1m0s") {
			sent = true
			sigs <- syscall.SIGTERM
		}
	}
	start := time.Now()
	res := f.run(t)
	if time.Since(start) > 20*time.Second {
		t.Errorf("took %s", time.Since(start))
	}
	if res.ExitCode != 143 || !res.Interrupted || len(res.Attempts) != 1 || res.Outcome != history.OutcomeInterrupted {
		t.Fatalf("exit %d interrupted %v attempts %d outcome %s", res.ExitCode, res.Interrupted, len(res.Attempts), res.Outcome)
	}
	wantContains(t, "messages", f.msg.String(), "stopped by SIGTERM before attempt 2")
}

// TestGraceKill: a child that ignores SIGTERM is killed when --grace runs
// out, and the run exits 137.
func TestGraceKill(t *testing.T) {
	f := newFixture(t, "rx6700xt", assess.PolicyMitigate)
	sigs := make(chan os.Signal, 1)
	f.opts.Signals = sigs
	f.opts.Grace = 200 * time.Millisecond
	f.opts.Argv = f.child("ignoreterm")
	sent := false
	f.out.hook = func(all string) {
		if !sent && strings.Contains(all, "ready\n") {
			sent = true
			sigs <- syscall.SIGTERM
		}
	}
	start := time.Now()
	res := f.run(t)
	if res.ExitCode != 137 || len(res.Attempts) != 1 || !res.Interrupted {
		t.Fatalf("exit %d, %d attempts, interrupted %v", res.ExitCode, len(res.Attempts), res.Interrupted)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %s with a 200ms grace", d)
	}
}

// TestGrandchildHoldsPipes: workers left holding the output do not keep
// the run waiting.
func TestGrandchildHoldsPipes(t *testing.T) {
	f := newFixture(t, "rx6700xt", assess.PolicyMitigate)
	f.opts.Argv = f.child("spawn", "0")
	start := time.Now()
	res := f.run(t)
	if res.ExitCode != 0 || res.Outcome != history.OutcomeOK {
		t.Fatalf("exit %d outcome %s", res.ExitCode, res.Outcome)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %s", d)
	}
}

// TestBytesPassThrough: 20 MB of random bytes reach the user and the log
// exactly as the child wrote them.
func TestBytesPassThrough(t *testing.T) {
	f := newFixture(t, "rx6700xt", assess.PolicyMitigate)
	copyFile := filepath.Join(f.opts.Dir, "written")
	f.opts.Argv = []string{"sh", "-c", "head -c 20000000 /dev/urandom | tee " + copyFile}
	h := sha256.New()
	f.opts.Stdout = h
	res := f.run(t)
	if res.ExitCode != 0 {
		t.Fatalf("exit %d\n%s", res.ExitCode, f.msg)
	}
	written, err := os.ReadFile(copyFile)
	if err != nil || len(written) != 20000000 {
		t.Fatalf("%d bytes, %v", len(written), err)
	}
	want := sha256.Sum256(written)
	if got := h.Sum(nil); string(got) != string(want[:]) {
		t.Error("the bytes the user got differ from what the child wrote")
	}
	log, err := os.ReadFile(res.Attempts[0].LogPath)
	if err != nil {
		t.Fatal(err)
	}
	if sha256.Sum256(log) != want {
		t.Error("the log differs from what the child wrote")
	}
}

// TestProgressBars: \r progress bars pass through unchanged, and the rate
// they show is recorded.
func TestProgressBars(t *testing.T) {
	f := newFixture(t, "rx6700xt", assess.PolicyMitigate)
	f.opts.Argv = []string{testprog, "progress", "40"}
	res := f.run(t)
	direct, err := exec.Command(testprog, "progress", "40").Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := f.out.String(); got != string(direct) || strings.Count(got, "\r") != 40 {
		t.Errorf("output differs from the child's own:\n%q\n%q", got, direct)
	}
	a := f.runs(t)[0].Attempts[0]
	if res.ExitCode != 0 || a.Throughput == nil || *a.Throughput != 42 || a.ThroughputUnit != "it/s" {
		t.Errorf("exit %d throughput %v %q", res.ExitCode, a.Throughput, a.ThroughputUnit)
	}
}

// TestForceGPUUnsafe: no ladder, no CPU, the warning, and with retries
// the same configuration again.
func TestForceGPUUnsafe(t *testing.T) {
	f := newFixture(t, "rx6700xt", assess.PolicyForceGPU)
	f.opts.Argv = f.child("fault")
	res := f.run(t)
	if res.ExitCode != 134 || len(res.Attempts) != 1 {
		t.Fatalf("exit %d, %d attempts\n%s", res.ExitCode, len(res.Attempts), f.msg)
	}
	wantContains(t, "messages", f.msg.String(), "WARNING: GPU 0 (AMD Radeon RX 6700 XT, gfx1031) is high risk", "policy force-gpu-unsafe: running on the GPU with no safeguards", "; no retries", "not retried (no retries allowed)")

	f = newFixture(t, "rx6700xt", assess.PolicyForceGPU)
	f.opts.Argv = f.child("fault")
	f.opts.Retries = 2
	res = f.run(t)
	if len(res.Attempts) != 3 {
		t.Fatalf("%d attempts", len(res.Attempts))
	}
	for i, env := range f.envs(t) {
		if env["ROCM_PATCH_DEVICE"] != "gpu" || env["PYTORCH_HIP_ALLOC_CONF"] != "" || env["HSA_OVERRIDE_GFX_VERSION"] != "10.3.0" {
			t.Errorf("attempt %d saw %v", i+1, env)
		}
	}
}

// TestPolicyCPU: the CPU decision hides the GPU from the child and says
// why and how to override, even with -q.
func TestPolicyCPU(t *testing.T) {
	f := newFixture(t, "rx6700xt", assess.PolicyCPU)
	f.opts.Argv = f.child("fault")
	f.opts.Quiet = true
	res := f.run(t)
	if res.ExitCode != 134 || len(res.Attempts) != 1 || res.Attempts[0].Device != "cpu" {
		t.Fatalf("exit %d attempts %d\n%s", res.ExitCode, len(res.Attempts), f.msg)
	}
	env := f.envs(t)[0]
	for _, name := range []string{"ROCR_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES", "CUDA_VISIBLE_DEVICES"} {
		if v, ok := env[name]; !ok || v != "" {
			t.Errorf("%s = %q (set %v), want set and empty", name, v, ok)
		}
	}
	if env["ROCM_PATCH_DEVICE"] != "cpu" {
		t.Errorf("device %q", env["ROCM_PATCH_DEVICE"])
	}
	msg := f.msg.String()
	wantContains(t, "messages", msg, "torch.cuda.is_available() is False", "GPU 0 AMD Radeon RX 6700 XT (gfx1031)", "--policy mitigate", "--force-gpu-unsafe")
	if strings.Contains(msg, "policy cpu: running") || strings.Count(msg, "is_available") != 1 {
		t.Errorf("-q still printed the decision line, or the notice twice:\n%s", msg)
	}
	if a := f.runs(t)[0].Attempts[0]; !reflect.DeepEqual(a.Layers, []string{"cpu"}) {
		t.Errorf("layers %v", a.Layers)
	}
}

// TestCommandNotFound: exit 127, a clear error, a failed run with no
// attempts.
func TestCommandNotFound(t *testing.T) {
	f := newFixture(t, "rx6700xt", assess.PolicyMitigate)
	f.opts.Argv = []string{"rocm-patch-no-such-command"}
	res, err := Run(context.Background(), f.opts)
	if !errors.Is(err, exec.ErrNotFound) || res.ExitCode != 127 || !strings.Contains(err.Error(), "rocm-patch-no-such-command") {
		t.Fatalf("exit %d, err %v", res.ExitCode, err)
	}
	runs := f.runs(t)
	if len(runs) != 1 || runs[0].Outcome != history.OutcomeFailed || len(runs[0].Attempts) != 0 {
		t.Errorf("history %+v", runs)
	}
}

// TestNoHistory: a run without history still supervises, and keeps logs
// in a directory named by time.
func TestNoHistory(t *testing.T) {
	f := newFixture(t, "no-gpu", assess.PolicyMitigate)
	f.opts.History, f.opts.HistoryPath = nil, ""
	f.opts.Argv = f.child("progress", "3")
	res := f.run(t)
	if res.ExitCode != 0 || res.RunID != 0 || res.RunDir == "" || res.Outcome != history.OutcomeOK {
		t.Fatalf("%+v", res)
	}
	if log, err := os.ReadFile(res.Attempts[0].LogPath); err != nil || !bytes.Contains(log, []byte("3/3")) {
		t.Errorf("log %q: %v", log, err)
	}
	wantContains(t, "messages", f.msg.String(), "no AMD GPU in use; policy mitigate: running on the CPU; no retries\n")
	if env := f.envs(t)[0]; env["ROCM_PATCH_DEVICE"] != "cpu" {
		t.Errorf("env %v", env)
	}
}

// TestSilentAttemptNoLog: an attempt that prints nothing leaves no log
// file, and its history row names none.
func TestSilentAttemptNoLog(t *testing.T) {
	f := newFixture(t, "no-gpu", assess.PolicyMitigate)
	f.opts.Argv = f.child("exit", "0")
	res := f.run(t)
	if res.ExitCode != 0 || res.RunDir == "" {
		t.Fatalf("%+v", res)
	}
	if p := res.Attempts[0].LogPath; p != "" {
		t.Errorf("log path %q for an attempt that printed nothing", p)
	}
	entries, err := os.ReadDir(res.RunDir)
	if err != nil || len(entries) != 0 {
		t.Errorf("run folder holds %v (%v), want nothing", entries, err)
	}
	runs := f.runs(t)
	if len(runs) != 1 || len(runs[0].Attempts) != 1 || runs[0].Attempts[0].LogPath != "" {
		t.Errorf("history %+v", runs)
	}
}

// TestResumeArgs: --resume-args are appended on retries only.
func TestResumeArgs(t *testing.T) {
	f := newFixture(t, "rx6700xt", assess.PolicyMitigate)
	f.opts.Argv = f.child("faultuntil", "2")
	f.opts.ResumeArgs = []string{"--resume", "from here"}
	f.run(t)
	envs := f.envs(t)
	if len(envs) != 2 || strings.Contains(envs[0]["argv"], "--resume") || !strings.HasSuffix(envs[1]["argv"], "faultuntil 2 --resume from here") {
		t.Errorf("argv: %v", envs)
	}
	if got := f.runs(t)[0].Attempts[1].Settings; got["PYTORCH_HIP_ALLOC_CONF"] != allocConf {
		t.Errorf("settings %v", got)
	}
}

// TestResumeLightning: retries see ROCM_PATCH_RESUME=last, and a script
// that would ignore it is named before the run.
func TestResumeLightning(t *testing.T) {
	f := newFixture(t, "rx6700xt", assess.PolicyMitigate)
	if err := os.WriteFile(filepath.Join(f.opts.Dir, "train.py"), []byte("trainer.fit(model)\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f.opts.Argv = f.child("faultuntil", "2", "train.py")
	f.opts.Recipe = RecipeLightning
	f.opts.Quiet = true
	f.run(t)
	envs := f.envs(t)
	if _, ok := envs[0]["ROCM_PATCH_RESUME"]; ok || envs[1]["ROCM_PATCH_RESUME"] != "last" {
		t.Errorf("ROCM_PATCH_RESUME: %q then %q", envs[0]["ROCM_PATCH_RESUME"], envs[1]["ROCM_PATCH_RESUME"])
	}
	wantContains(t, "messages", f.msg.String(), `train.py mentions neither ckpt_path="last" nor ROCM_PATCH_RESUME`)
}

// yoloScript stands in for Ultralytics' yolo: it records its arguments,
// and its first call saves runs/detect/train/weights/last.pt and faults.
// Later calls behave as YOLO_MODE says.
const yoloScript = `#!/bin/sh
echo "$*" >> "$YOLO_ARGS"
if [ ! -f runs/detect/train/weights/last.pt ] || [ "$YOLO_MODE" = faulty ]; then
  mkdir -p runs/detect/train/weights
  echo weights > runs/detect/train/weights/last.pt
  echo "Memory access fault by GPU node-1 (Agent handle: 0x55) on address 0x7f. Reason: Page not present or supervisor privilege." >&2
  kill -ABRT $$
fi
if [ "$YOLO_MODE" = finished ]; then
  echo "AssertionError: runs/detect/train/weights/last.pt training to 3 epochs is finished, nothing to resume." >&2
  exit 1
fi
echo resumed
`

func TestResumeUltralytics(t *testing.T) {
	for _, tt := range []struct {
		mode    string
		exit    int
		outcome history.Outcome
		calls   []string
	}{
		{"resume", 0, history.OutcomeOKAfterRetry, []string{"train model=yolov8n.pt epochs=3", "train resume model=%W"}},
		{"finished", 0, history.OutcomeOKAfterRetry, []string{"train model=yolov8n.pt epochs=3", "train resume model=%W"}},
		{"faulty", 134, history.OutcomeFailed, []string{"train model=yolov8n.pt epochs=3", "train resume model=%W", "train resume model=%W device=cpu"}},
	} {
		t.Run(tt.mode, func(t *testing.T) {
			f := newFixture(t, "rx6700xt", assess.PolicyMitigate)
			bin := filepath.Join(f.opts.Dir, "bin")
			if err := os.Mkdir(bin, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(bin, "yolo"), []byte(yoloScript), 0o755); err != nil {
				t.Fatal(err)
			}
			work := filepath.Join(f.opts.Dir, "work")
			os.Mkdir(work, 0o755)
			// A checkpoint of an older run must not be resumed.
			old := filepath.Join(work, "runs", "detect", "old", "weights", "last.pt")
			os.MkdirAll(filepath.Dir(old), 0o755)
			os.WriteFile(old, nil, 0o644)
			os.Chtimes(old, time.Now().Add(-time.Hour), time.Now().Add(-time.Hour))
			argsFile := filepath.Join(f.opts.Dir, "yolo-args")
			f.opts.Dir = work
			f.opts.Environ = append(f.opts.Environ, "PATH="+bin+":/usr/bin:/bin", "YOLO_ARGS="+argsFile, "YOLO_MODE="+tt.mode)
			f.opts.Argv = []string{"yolo", "train", "model=yolov8n.pt", "epochs=3"}
			f.opts.Recipe = RecipeUltralytics
			res := f.run(t)
			if res.ExitCode != tt.exit || res.Outcome != tt.outcome {
				t.Fatalf("exit %d outcome %s\n%s", res.ExitCode, res.Outcome, f.msg)
			}
			data, err := os.ReadFile(argsFile)
			if err != nil {
				t.Fatal(err)
			}
			weights := filepath.Join(work, "runs", "detect", "train", "weights", "last.pt")
			var want []string
			for _, c := range tt.calls {
				want = append(want, strings.ReplaceAll(c, "%W", weights))
			}
			if got := strings.Split(strings.TrimSpace(string(data)), "\n"); !reflect.DeepEqual(got, want) {
				t.Errorf("yolo calls:\n%q\nwant\n%q", got, want)
			}
			if got := f.runs(t)[0].Outcome; got != tt.outcome {
				t.Errorf("history outcome %s", got)
			}
		})
	}
}
