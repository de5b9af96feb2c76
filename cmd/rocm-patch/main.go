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
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Environ())
	stop()
	os.Exit(code)
}
