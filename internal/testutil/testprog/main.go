// Command testprog is the child that the supervise and runner tests and
// scripts/bench-run.sh run: each mode behaves like one kind of training
// process the supervisor must handle (one that aborts on a GPU fault, one
// that fails for a reason a retry cannot fix, one that ignores SIGTERM, one
// that leaves workers holding its pipes, one that floods its output).
//
// Usage: testprog [-env FILE] MODE [ARGS]
//
//	-env FILE            first append one JSON line to FILE: the ROCm, HIP,
//	                     PyTorch and rocm-patch variables and PYTHONPATH the
//	                     process sees, and its arguments
//	exit N               exit with status N
//	fault                print a step and a ROCm fault line, then abort (SIGABRT)
//	faultuntil N         fault while ROCM_PATCH_ATTEMPT < N, then print "trained"
//	nocode               print hipErrorNoBinaryForGpu as PyTorch raises it, exit 1
//	exception            print a Python traceback (ValueError), exit 1
//	progress N           draw a tqdm-like bar N times with \r, then a newline
//	ignoreterm           ignore SIGTERM and SIGINT, print "ready", sleep a minute
//	sigwait              print "ready", then on SIGINT/SIGTERM/SIGHUP/SIGQUIT print
//	                     "got <signal>" and die of that signal
//	spawn N              start "testprog sleep 60" sharing stdout and stderr,
//	                     print "grandchild <pid>", exit with status N
//	sleep SECONDS        sleep
//	write FLAGS          write a deterministic stream of long lines with \r
//	                     progress bars; see -h
//	tty                  report isatty and window size, draw a progress bar,
//	                     then echo input lines until end of input
//	winch                print "ready", then on SIGWINCH print the window size
//	env NAME             print the value of NAME, or "<unset>"
//	ids                  print "pid=P pgid=G sid=S"
//	fdflags              print whether fds 0, 1, 2 are non-blocking
//	interleave N         write N lines alternately to stdout and stderr
//	lines N SIZE         write N lines of SIZE bytes, then "END"
package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
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
const FaultLine = "Memory access fault by GPU node-1 (Agent handle: 0x55d0c8a3e0f0) on address 0x7f3a1c000000. Reason: Page not present or supervisor privilege."

// envPrefixes select the variables -env records.
var envPrefixes = []string{"ROCM_PATCH_", "PYTORCH_", "HIP_", "ROCR_", "CUDA_", "HSA_", "PYTHONUNBUFFERED", "PYTHONPATH"}

func main() {
	argv := os.Args[1:]
	if len(argv) >= 2 && argv[0] == "-env" {
		dumpEnv(argv[1])
		argv = argv[2:]
	}
	if len(argv) == 0 {
		fmt.Fprintln(os.Stderr, "usage: testprog [-env FILE] MODE [ARGS]")
		os.Exit(2)
	}
	mode, args := argv[0], argv[1:]
	switch mode {
	case "exit":
		os.Exit(atoi(arg(args, 0)))
	case "fault":
		fault()
	case "faultuntil":
		n, _ := strconv.Atoi(os.Getenv("ROCM_PATCH_ATTEMPT"))
		if n < atoi(arg(args, 0)) {
			fault()
		}
		fmt.Println("trained")
	case "nocode":
		fmt.Fprintln(os.Stderr, "RuntimeError: HIP error: hipErrorNoBinaryForGpu: Unable to find code object for all current devices!")
		os.Exit(1)
	case "exception":
		fmt.Fprintln(os.Stderr, "Traceback (most recent call last):\n  File \"train.py\", line 3, in <module>\n    raise ValueError(\"bad learning rate\")\nValueError: bad learning rate")
		os.Exit(1)
	case "progress":
		n := atoi(arg(args, 0))
		for i := 1; i <= n; i++ {
			fmt.Printf("\r%3d%%|%-20s| %d/%d [00:01<00:00, 42.00it/s]", i*100/n, strings.Repeat("#", i*20/n), i, n)
		}
		fmt.Println()
	case "ignoreterm":
		signal.Ignore(syscall.SIGTERM, syscall.SIGINT)
		fmt.Println("ready")
		time.Sleep(time.Minute)
	case "sigwait":
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
		fmt.Println("ready")
		sig := (<-ch).(syscall.Signal)
		fmt.Printf("got %s\n", unix.SignalName(sig))
		die(sig)
	case "spawn":
		self, err := os.Executable()
		check(err)
		cmd := exec.Command(self, "sleep", "60")
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		check(cmd.Start())
		fmt.Printf("grandchild %d\n", cmd.Process.Pid)
		os.Exit(atoi(arg(args, 0)))
	case "sleep":
		d, err := strconv.ParseFloat(arg(args, 0), 64)
		check(err)
		time.Sleep(time.Duration(d * float64(time.Second)))
	case "write":
		write(args)
	case "tty":
		ttyMode()
	case "winch":
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, syscall.SIGWINCH)
		fmt.Println("ready")
		select {
		case <-ch:
			ws, err := unix.IoctlGetWinsize(1, unix.TIOCGWINSZ)
			check(err)
			fmt.Printf("rows=%d cols=%d\n", ws.Row, ws.Col)
		case <-time.After(30 * time.Second):
			fmt.Println("no SIGWINCH")
			os.Exit(1)
		}
	case "env":
		if v, ok := os.LookupEnv(arg(args, 0)); ok {
			fmt.Println(v)
		} else {
			fmt.Println("<unset>")
		}
	case "ids":
		sid, err := unix.Getsid(0)
		check(err)
		fmt.Printf("pid=%d pgid=%d sid=%d\n", os.Getpid(), unix.Getpgrp(), sid)
	case "fdflags":
		for fd := 0; fd < 3; fd++ {
			fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
			check(err)
			fmt.Printf("fd%d nonblock=%t\n", fd, fl&unix.O_NONBLOCK != 0)
		}
	case "interleave":
		n := atoi(arg(args, 0))
		for i := range n {
			f := os.Stdout
			if i%2 == 1 {
				f = os.Stderr
			}
			fmt.Fprintf(f, "%s %d\n", f.Name(), i)
		}
	case "lines":
		n, size := atoi(arg(args, 0)), atoi(arg(args, 1))
		w := bufio.NewWriterSize(os.Stdout, 64<<10)
		line := []byte(strings.Repeat("x", max(size-1, 0)) + "\n")
		for range n {
			_, err := w.Write(line)
			check(err)
		}
		_, err := w.WriteString("END\n")
		check(err)
		check(w.Flush())
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

// die ends the process by sig's default action, as a C program's abort()
// or an unhandled signal does. The Go runtime turns SIGABRT and SIGQUIT
// into a goroutine dump and exit status 2, so the process replaces itself
// with a shell (same pid, same descriptors) that signals itself.
func die(sig syscall.Signal) {
	signal.Reset()
	err := syscall.Exec("/bin/sh", []string{"sh", "-c", "kill -" + strconv.Itoa(int(sig)) + " $$"}, os.Environ())
	fmt.Fprintln(os.Stderr, "testprog: exec sh:", err)
	os.Exit(99)
}

// write floods stdout like a training run whose progress bar redraws with
// "\r" and whose log has very long lines, and records what it wrote.
func write(args []string) {
	fs := flag.NewFlagSet("write", flag.ExitOnError)
	total := fs.Int64("total", 64<<20, "bytes to write at least")
	lineLen := fs.Int("line", 1<<20, "bytes of text in each long line")
	bars := fs.Int("bars", 3, "\\r progress redraws before each long line")
	stats := fs.String("stats", "", "file to write \"sha256 bytes lines bars\" to")
	check(fs.Parse(args))

	h := sha256.New()
	var out io.Writer = os.Stdout
	if *stats != "" {
		out = io.MultiWriter(os.Stdout, h)
	}
	payload := make([]byte, *lineLen+1)
	for i := range *lineLen {
		payload[i] = "abcdefghijklmnopqrstuvwxyz0123456789 "[i%37]
	}
	payload[*lineLen] = '\n'
	var written, lines, nbars int64
	for line := 0; written < *total; line++ {
		var head []byte
		for b := range *bars {
			head = fmt.Appendf(head, "\rline %d: %3d%% |%s|", line, (b+1)*100 / *bars, strings.Repeat("#", b+1))
			nbars++
		}
		head = fmt.Appendf(head, "\rline %d: ", line)
		_, err := out.Write(head)
		check(err)
		_, err = out.Write(payload)
		check(err)
		written += int64(len(head) + len(payload))
		lines++
	}
	if *stats != "" {
		check(os.WriteFile(*stats, fmt.Appendf(nil, "%s %d %d %d\n", hex.EncodeToString(h.Sum(nil)), written, lines, nbars), 0o644))
	}
}

func ttyMode() {
	var sz string
	if ws, err := unix.IoctlGetWinsize(1, unix.TIOCGWINSZ); err == nil {
		sz = fmt.Sprintf(" rows=%d cols=%d", ws.Row, ws.Col)
	}
	fmt.Printf("stdin=%t stdout=%t stderr=%t%s\n", isatty(0), isatty(1), isatty(2), sz)
	os.Stdout.WriteString("\r 50%|#    |\r100%|##|\n")
	os.Stdout.WriteString("prompt> ")
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		fmt.Printf("got %q\n", in.Text())
	}
	fmt.Println("eof")
}

func isatty(fd int) bool {
	_, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	return err == nil
}

func arg(args []string, i int) string {
	if i < len(args) {
		return args[i]
	}
	fmt.Fprintln(os.Stderr, "testprog: missing argument")
	os.Exit(2)
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
		os.Exit(2)
	}
}
