package diagnose

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"time"
)

// kernelLogCommands are tried in order by KernelLog: the systemd journal's
// kernel messages, then the kernel ring buffer.
var kernelLogCommands = [][]string{
	{"journalctl", "-k", "--no-pager", "-o", "short-precise"},
	{"dmesg"},
}

// ErrNoKernelLog is wrapped when no command could read the kernel log.
var ErrNoKernelLog = errors.New("cannot read the kernel log (tried journalctl -k and dmesg; dmesg may need root or kernel.dmesg_restrict=0)")

// KernelLog streams this machine's kernel log: `journalctl -k --no-pager`,
// or `dmesg` when journalctl is missing, fails or has no entries. The
// returned name says which command answered. Close the reader to stop and
// reap the command. Errors wrap ErrNoKernelLog and say what each command
// said.
func KernelLog(ctx context.Context) (io.ReadCloser, string, error) {
	return kernelLog(ctx, kernelLogCommands)
}

func kernelLog(ctx context.Context, commands [][]string) (io.ReadCloser, string, error) {
	var reasons []string
	for _, argv := range commands {
		rc, err := startLog(ctx, argv)
		if err == nil {
			return rc, strings.Join(argv, " "), nil
		}
		reasons = append(reasons, fmt.Sprintf("%s: %v", argv[0], err))
	}
	return nil, "", fmt.Errorf("%w: %s", ErrNoKernelLog, strings.Join(reasons, "; "))
}

// cmdReader streams a command's output and reaps it on Close.
type cmdReader struct {
	io.Reader
	cmd    *exec.Cmd
	stderr *bytes.Buffer
}

func (c *cmdReader) Close() error {
	if c.cmd.Process != nil {
		_ = c.cmd.Process.Kill()
	}
	_ = c.cmd.Wait()
	return nil
}

// startLog runs one command and returns its output once it has produced
// some; a command that fails before writing, or writes only journalctl's
// "-- No entries --", counts as failed so the next one is tried.
func startLog(ctx context.Context, argv []string) (io.ReadCloser, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	// A child that leaves a descendant holding stderr open must not make
	// Close (which waits for stderr to be copied) hang.
	cmd.WaitDelay = 250 * time.Millisecond
	var stderr bytes.Buffer
	cmd.Stderr = &limitedBuffer{buf: &stderr, max: 4096}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	br := bufio.NewReaderSize(out, 64<<10)
	// Wait for the first bytes only: a short first line must not block
	// until more output comes.
	const noEntries = "-- No entries --"
	head, _ := br.Peek(1)
	if len(head) > 0 {
		head, _ = br.Peek(br.Buffered())
		if len(head) < len(noEntries) && strings.HasPrefix(noEntries, string(head)) {
			head, _ = br.Peek(len(noEntries))
		}
	}
	if len(head) == 0 || strings.HasPrefix(string(head), noEntries) {
		_ = cmd.Wait()
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = "no output"
		}
		return nil, errors.New(msg)
	}
	return &cmdReader{Reader: br, cmd: cmd, stderr: &stderr}, nil
}

// limitedBuffer keeps the first max bytes of a command's stderr.
type limitedBuffer struct {
	buf *bytes.Buffer
	max int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := l.max - l.buf.Len(); room > 0 {
		l.buf.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}
