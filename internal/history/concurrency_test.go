package history

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The writer-process protocol: the parent re-executes the test binary with
// these variables; the child opens the history, prints "ready", waits for
// the go file so that every writer starts at the same moment, writes, and
// exits non-zero on any error.
const (
	envHelperDB     = "ROCM_PATCH_HISTORY_TEST_DB"
	envHelperWriter = "ROCM_PATCH_HISTORY_TEST_WRITER"
	envHelperGo     = "ROCM_PATCH_HISTORY_TEST_GO"
)

const (
	runsPerWriter     = 15
	attemptsPerRun    = 3
	goroutineWriters  = 4
	processWriters    = 2
	goroutineOwnOpens = 2 // of the goroutine writers, how many open their own DB
)

// writeRuns is one writer's work: runsPerWriter runs of attemptsPerRun
// attempts, each write its own transaction, reading in between as the
// report command would.
func writeRuns(ctx context.Context, d *DB, writer string) error {
	for i := range runsPerWriter {
		start := time.Now()
		id, err := d.BeginRun(ctx, Run{Command: []string{"train", writer, strconv.Itoa(i)}, Dir: "/w", Started: start})
		if err != nil {
			return err
		}
		for n := 1; n <= attemptsPerRun; n++ {
			a := Attempt{N: n, Device: DeviceGPU, Layers: []string{"env"}, Started: start, Duration: time.Millisecond, ExitCode: -1, Signal: "SIGABRT", Class: "gpu-memory-fault"}
			if n == attemptsPerRun {
				a = Attempt{N: n, Device: DeviceCPU, Started: start, Duration: time.Millisecond}
			}
			if err := d.RecordAttempt(ctx, id, a); err != nil {
				return err
			}
		}
		if i%5 == 0 {
			if _, err := d.Aggregate(ctx); err != nil {
				return err
			}
		}
		if err := d.FinishRun(ctx, id, OutcomeFallbackCPUOK, time.Now()); err != nil {
			return err
		}
	}
	return nil
}

// TestHelperWriterProcess is the child side; it does nothing in a normal
// test run.
func TestHelperWriterProcess(t *testing.T) {
	path := os.Getenv(envHelperDB)
	if path == "" {
		t.Skip("only runs as a writer process started by TestConcurrentWriters")
	}
	ctx := context.Background()
	d, err := Open(ctx, path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	defer d.Close()
	fmt.Println("ready")
	goFile := os.Getenv(envHelperGo)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(time.Millisecond) {
		if _, err := os.Stat(goFile); err == nil {
			break
		}
		if time.Now().After(deadline) {
			fmt.Fprintln(os.Stderr, "no go signal")
			os.Exit(4)
		}
	}
	if err := writeRuns(ctx, d, os.Getenv(envHelperWriter)); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(5)
	}
}

func TestConcurrentWriters(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "history.db")
	goFile := filepath.Join(dir, "go")
	shared, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer shared.Close()

	type child struct {
		cmd    *exec.Cmd
		stderr strings.Builder
	}
	var children []*child
	for p := range processWriters {
		c := &child{cmd: exec.Command(os.Args[0], "-test.run=^TestHelperWriterProcess$", "-test.count=1")}
		c.cmd.Env = append(os.Environ(), envHelperDB+"="+path, envHelperGo+"="+goFile, fmt.Sprintf("%s=proc%d", envHelperWriter, p))
		c.cmd.Stderr = &c.stderr
		out, err := c.cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := c.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Wait until the child has opened the history.
		line, err := bufio.NewReader(out).ReadString('\n')
		if err != nil || strings.TrimSpace(line) != "ready" {
			c.cmd.Wait()
			t.Fatalf("writer process %d: %q, %v; stderr: %s", p, line, err, c.stderr.String())
		}
		go func() { bufio.NewReader(out).WriteTo(discard{}) }()
		children = append(children, c)
	}

	var wg sync.WaitGroup
	errs := make(chan error, goroutineWriters)
	start := make(chan struct{})
	for g := range goroutineWriters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := shared
			if g < goroutineOwnOpens {
				own, err := Open(ctx, path)
				if err != nil {
					errs <- err
					return
				}
				defer own.Close()
				d = own
			}
			<-start
			if err := writeRuns(ctx, d, fmt.Sprintf("goroutine%d", g)); err != nil {
				errs <- fmt.Errorf("goroutine %d: %w", g, err)
			}
		}()
	}
	if err := os.WriteFile(goFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for i, c := range children {
		if err := c.cmd.Wait(); err != nil {
			t.Errorf("writer process %d: %v; stderr: %s", i, err, c.stderr.String())
		}
	}

	runs, err := shared.Runs(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	writers := goroutineWriters + processWriters
	if len(runs) != writers*runsPerWriter {
		t.Errorf("%d runs, want %d", len(runs), writers*runsPerWriter)
	}
	seen := map[string]bool{}
	for _, r := range runs {
		key := strings.Join(r.Command, " ")
		if seen[key] {
			t.Errorf("run %q recorded twice", key)
		}
		seen[key] = true
		if len(r.Attempts) != attemptsPerRun || r.Outcome != OutcomeFallbackCPUOK {
			t.Errorf("run %d (%s): %d attempts, outcome %s", r.ID, key, len(r.Attempts), r.Outcome)
		}
	}
	st, err := shared.Aggregate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, c := range st.Configs {
		total += c.Attempts
	}
	if total != writers*runsPerWriter*attemptsPerRun {
		t.Errorf("%d attempts aggregated, want %d", total, writers*runsPerWriter*attemptsPerRun)
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
