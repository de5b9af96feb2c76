// Command rocm-patch keeps PyTorch training alive on AMD GPUs that crash
// under ROCm. All the work is in internal/; this file only wires the process
// to the command line.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/rocm-patch/rocm-patch/internal/cli"
)

func main() {
	// SIGINT and SIGTERM cancel the command's context. They are caught in
	// the background: signal.Notify waits for the runtime's signal thread
	// to start and answer, a fifth of a millisecond on a small VM that
	// every command, `rocm-patch run` before each job included, paid
	// before doing anything. Until then a signal acts as it does before
	// main runs. run catches its own signals before its child starts.
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		c := make(chan os.Signal, 1)
		signal.Notify(c, os.Interrupt, syscall.SIGTERM)
		<-c
		cancel()
	}()
	os.Exit(cli.Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Environ()))
}
