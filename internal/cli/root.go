// Package cli wires rocm-patch's commands to the packages that do the work.
// Commands parse flags, call one package, and print; they hold no policy.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
)

// Exit codes, documented in the README and in --help.
const (
	ExitOK       = 0 // success; for doctor: risk low or none
	ExitError    = 1 // the command failed (unreadable input, I/O error)
	ExitUsage    = 2 // bad flags or arguments
	ExitFindings = 3 // diagnose matched a known failure; doctor found medium or high risk
)

// version is set at build time with -ldflags "-X .../internal/cli.version=v1.2.3".
var version = ""

// Version returns the build's version: the linker-set one, else the module
// version Go recorded, else "devel".
func Version() string {
	if version != "" {
		return version
	}
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
		return info.Main.Version
	}
	return "devel"
}

const exitCodesHelp = `Exit codes:
  0  success (doctor: risk low or none; diagnose: no known failure found)
  1  error
  2  bad flags or arguments
  3  diagnose matched a known failure; doctor found medium or high risk`

// exitError carries an exit code through cobra's error return.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}
func (e *exitError) Unwrap() error { return e.err }

// withCode makes a command end with code; err may be nil for a silent exit.
func withCode(code int, err error) error { return &exitError{code: code, err: err} }

// usageError marks bad input from the command line.
func usageError(format string, args ...any) error {
	return withCode(ExitUsage, fmt.Errorf(format, args...))
}

// app holds what every command shares.
type app struct {
	stdout, stderr io.Writer
	stdin          io.Reader
	environ        []string
	verbose        bool
	log            *slog.Logger
}

// NewRootCommand builds the command tree. Tests call it with their own
// streams and environment.
func NewRootCommand(stdin io.Reader, stdout, stderr io.Writer, environ []string) *cobra.Command {
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr, environ: environ}
	root := &cobra.Command{
		Use:   "rocm-patch",
		Short: "Keep PyTorch training alive on AMD GPUs that crash under ROCm",
		Long: `rocm-patch reads your machine, recognises ROCm crashes, and keeps training
runs alive on AMD GPUs that ROCm does not officially support, above all the
RDNA1 (RX 5000) and RDNA2 (RX 6000) cards.

Start with:
  rocm-patch detect            what GPUs, targets, ROCm and PyTorch you have
  rocm-patch detect --json     the same, as a stable JSON document

` + exitCodesHelp,
		Version:       Version(),
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRun: func(cmd *cobra.Command, args []string) {
			level := slog.LevelWarn
			if a.verbose {
				level = slog.LevelDebug
			}
			a.log = slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: level}))
		},
	}
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.PersistentFlags().BoolVarP(&a.verbose, "verbose", "v", false, "print debug diagnostics on stderr")
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return withCode(ExitUsage, fmt.Errorf("%w (see %s --help)", err, cmd.CommandPath()))
	})
	root.AddCommand(
		a.newDetectCommand(),
		a.newSnapshotCommand(),
		a.newDoctorCommand(), a.newEnvCommand(),
		a.newDiagnoseCommand(),
		a.newIssuesCommand(),
		a.newFleetCommand(),
		a.newRunCommand(), a.newHistoryCommand(), a.newReportCommand(), a.newProbeCommand(),
		a.newKernelCommand(), a.newSDKCommand(),
		a.newPythonPathCommand(),
		a.newSetupCommand(),
	)
	return root
}

// StopSignals are the signals that stop a command: run catches them and
// forwards them to the child's process group, where each also ends the
// run without a retry; other commands stop when they arrive (main cancels their context).
var StopSignals = []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT}

// Main runs the command line and returns the process exit code.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, environ []string) int {
	root := NewRootCommand(stdin, stdout, stderr, environ)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	code := ExitError
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
		if ee.err == nil {
			return code
		}
	} else if isCobraUsageError(err) {
		code = ExitUsage
	}
	fmt.Fprintf(stderr, "rocm-patch: %v\n", err)
	return code
}

// isCobraUsageError recognises the errors cobra returns for unknown
// commands and bad argument counts, which are usage errors too.
func isCobraUsageError(err error) bool {
	msg := strings.ToLower(err.Error())
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand", "accepts ", "requires at least", "requires at most", "invalid argument"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}
