// Command testprog is the child the runner and cli tests supervise: each
// mode behaves like one kind of training process (one that faults on the
// GPU, one that fails for a reason a retry cannot fix, one that ignores
// SIGTERM, one that leaves workers holding its pipes, one that draws
// progress bars).
//
// Usage: testprog [-env FILE] MODE [ARGS]
//
//	-env FILE      first append one JSON line to FILE: the ROCm, HIP,
//	               PyTorch and rocm-patch variables and PYTHONPATH the
//	               process sees
//	fault          print a step and a ROCm memory access fault, then abort
//	faultuntil N   fault while ROCM_PATCH_ATTEMPT < N, then print "trained"
//	nocode         print hipErrorNoBinaryForGpu as PyTorch raises it, exit 1
//	exception      print a Python traceback (ValueError), exit 1
//	exit N         exit with status N
//	sigwait        print "ready", then die of the first stop signal
//	ignoreterm     ignore SIGTERM and SIGINT, print "ready", sleep a minute
//	spawn N        start a grandchild that sleeps a minute holding stdout
//	               and stderr, print "grandchild <pid>", exit with status N
//	progress N     draw a tqdm-like bar N times with \r, then a newline
//	isatty         print whether stdin, stdout and stderr are terminals
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// FaultLine is a ROCm memory access fault as the HSA runtime prints it.
const FaultLine = "Memory access fault by GPU node-1 (Agent handle: 0x55) on address 0x7f. Reason: Page not present or supervisor privilege."

// envPrefixes select the variables -env records.
var envPrefixes = []string{"ROCM_PATCH_", "PYTORCH_", "HIP_", "ROCR_", "CUDA_", "HSA_", "PYTHONUNBUFFERED", "PYTHONPATH"}

func main() {
	args := os.Args[1:]
	if len(args) >= 2 && args[0] == "-env" {
		dumpEnv(args[1])
		args = args[2:]
	}
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: testprog [-env FILE] MODE [ARGS]")
		os.Exit(2)
	}
	mode, rest := args[0], args[1:]
	switch mode {
	case "fault":
		fault()
	case "faultuntil":
		n, _ := strconv.Atoi(os.Getenv("ROCM_PATCH_ATTEMPT"))
		if n < atoi(arg(rest, 0)) {
			fault()
		}
		fmt.Println("trained")
	case "nocode":
		fmt.Fprintln(os.Stderr, "RuntimeError: HIP error: hipErrorNoBinaryForGpu: Unable to find code object for all current devices!")
		os.Exit(1)
	case "exception":
		fmt.Fprintln(os.Stderr, "Traceback (most recent call last):\n  File \"train.py\", line 3, in <module>\n    raise ValueError(\"bad learning rate\")\nValueError: bad learning rate")
		os.Exit(1)
	case "exit":
		os.Exit(atoi(arg(rest, 0)))
	case "sigwait":
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
		fmt.Println("ready")
		sig := (<-ch).(syscall.Signal)
		fmt.Printf("got %s\n", unix.SignalName(sig))
		die(sig)
	case "ignoreterm":
		signal.Ignore(syscall.SIGTERM, syscall.SIGINT)
		fmt.Println("ready")
		time.Sleep(time.Minute)
	case "spawn":
		self, err := os.Executable()
		check(err)
		cmd := exec.Command(self, "ignoreterm")
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		check(cmd.Start())
		fmt.Printf("grandchild %d\n", cmd.Process.Pid)
		os.Exit(atoi(arg(rest, 0)))
	case "progress":
		n := atoi(arg(rest, 0))
		for i := 1; i <= n; i++ {
			fmt.Printf("\r%3d%%|%-20s| %d/%d [00:01<00:00, 42.00it/s]", i*100/n, strings.Repeat("#", i*20/n), i, n)
		}
		fmt.Println()
	case "isatty":
		var parts []string
		for fd, name := range []string{"stdin", "stdout", "stderr"} {
			_, err := unix.IoctlGetTermios(fd, unix.TCGETS)
			parts = append(parts, fmt.Sprintf("%s=%t", name, err == nil))
		}
		fmt.Println(strings.Join(parts, " "))
	default:
		fmt.Fprintf(os.Stderr, "testprog: unknown mode %q\n", mode)
		os.Exit(2)
	}
}

func fault() {
	fmt.Println("epoch 0 step 1 loss 2.3")
	fmt.Fprintln(os.Stderr, FaultLine)
	die(syscall.SIGABRT)
}

// dumpEnv appends the selected variables as one JSON object; a variable
// set but empty is recorded as "", an unset one is absent.
func dumpEnv(file string) {
	vars := map[string]string{}
	for _, kv := range os.Environ() {
		name, val, _ := strings.Cut(kv, "=")
		for _, p := range envPrefixes {
			if strings.HasPrefix(name, p) {
				vars[name] = val
			}
		}
	}
	vars["argv"] = strings.Join(os.Args[1:], " ")
	line, err := json.Marshal(vars)
	check(err)
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	check(err)
	_, err = f.Write(append(line, '\n'))
	check(err)
	check(f.Close())
}

// die ends the process by sig's default action, as abort() or an
// unhandled signal does. The Go runtime turns SIGABRT and SIGQUIT into a
// goroutine dump and exit status 2, so the process replaces itself with a
// shell (same pid, same descriptors) that signals itself.
func die(sig syscall.Signal) {
	signal.Reset()
	err := syscall.Exec("/bin/sh", []string{"sh", "-c", "kill -" + strconv.Itoa(int(sig)) + " $$"}, os.Environ())
	fmt.Fprintln(os.Stderr, "testprog: exec sh:", err)
	os.Exit(3)
}

func arg(args []string, i int) string {
	if i < len(args) {
		return args[i]
	}
	return ""
}

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	check(err)
	return n
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "testprog:", err)
		os.Exit(3)
	}
}
