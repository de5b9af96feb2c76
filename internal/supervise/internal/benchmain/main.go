// Command benchmain is the smallest supervisor built on package supervise,
// so scripts/bench-run.sh can measure what supervision costs before
// "rocm-patch run" exists: it runs one attempt with the user's streams,
// forwards the four stop signals, counts lines as a matcher would, keeps a
// log when asked, and exits as the child did.
//
// Usage: benchmain [-log FILE] [-grace DURATION] -- COMMAND [ARGS...]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/rocm-patch/rocm-patch/internal/supervise"
)

func main() {
	logPath := flag.String("log", "", "also write the child's output to this file")
	grace := flag.Duration("grace", supervise.DefaultGrace, "time between a stop signal and SIGKILL")
	stats := flag.Bool("stats", false, "print lines seen, bytes dropped and this process's own peak RSS to stderr at the end")
	match := flag.Bool("lines", true, "split the output into lines for a matcher, as rocm-patch run does")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: benchmain [-log FILE] [-grace D] -- COMMAND [ARGS...]")
		os.Exit(2)
	}

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)

	var lines int64
	spec := supervise.Spec{
		Argv:    flag.Args(),
		Stdin:   os.Stdin,
		Stdout:  os.Stdout,
		Stderr:  os.Stderr,
		Signals: sigs,
		Grace:   *grace,
	}
	if *match {
		spec.OnLine = func(supervise.Line) { lines++ }
	}
	var logFile *os.File
	if *logPath != "" {
		f, err := os.Create(*logPath)
		if err != nil {
			fmt.Fprintln(os.Stderr, "benchmain:", err)
			os.Exit(1)
		}
		logFile, spec.Log = f, f
	}
	res, err := supervise.Run(context.Background(), spec)
	if logFile != nil {
		if cerr := logFile.Close(); cerr != nil {
			fmt.Fprintln(os.Stderr, "benchmain:", cerr)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchmain:", err)
		os.Exit(127)
	}
	if *stats {
		fmt.Fprintf(os.Stderr, "benchmain: lines=%d dropped=%d interrupted=%t peak_rss_kb=%s\n",
			lines, res.DroppedBytes, res.Interrupted, peakRSS())
	}
	os.Exit(res.ProcessExitCode())
}

// peakRSS returns this process's own high-water RSS in KiB. GNU time's %M
// would report the child's instead whenever the child is the larger, as
// the rusage of a waited-for process covers its descendants.
func peakRSS() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "?"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			return strings.TrimSuffix(strings.TrimSpace(v), " kB")
		}
	}
	return "?"
}
