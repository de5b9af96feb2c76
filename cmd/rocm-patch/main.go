// Command rocm-patch keeps PyTorch training alive on AMD GPUs that crash
// under ROCm. All the work is in internal/; this file only wires the process
// to the command line.
package main

import (
	"context"
	"os"
	"os/signal"

	"github.com/rocm-patch/rocm-patch/internal/cli"
)

func main() {
	// The stop signals (SIGINT, SIGTERM, SIGHUP, SIGQUIT) cancel the
	// command's context; run forwards them to its child instead. They are
	// caught in the background: signal.Notify waits for the runtime's
	// signal thread to start and answer for each signal, 0.2-0.7 ms on a
	// small VM that every command, `rocm-patch run` before each job
	// included, paid before doing anything. Until then a signal acts as it
	// does before main runs; run registers the same four itself before its
	// child starts, which costs nothing once this is done.
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		c := make(chan os.Signal, 1)
		signal.Notify(c, cli.StopSignals...)
		<-c
		cancel()
	}()
	os.Exit(cli.Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Environ()))
}
