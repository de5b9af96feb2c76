package diagnose

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestKernelLog(t *testing.T) {
	tests := []struct {
		name     string
		commands [][]string
		want     string // output, or "" for an error
		from     string
	}{
		{"journalctl answers", [][]string{{"sh", "-c", "echo '[1.0] amdgpu: GPU reset begin!'"}, {"sh", "-c", "echo dmesg"}}, "[1.0] amdgpu: GPU reset begin!\n", "sh"},
		{"journal has no entries", [][]string{{"sh", "-c", "echo '-- No entries --'"}, {"sh", "-c", "echo from-dmesg"}}, "from-dmesg\n", "sh"},
		{"journalctl missing", [][]string{{"rocm-patch-no-such-command"}, {"sh", "-c", "echo from-dmesg"}}, "from-dmesg\n", "sh"},
		{"journalctl fails", [][]string{{"sh", "-c", "echo denied >&2; exit 1"}, {"sh", "-c", "echo ok"}}, "ok\n", "sh"},
		{"nothing works", [][]string{{"rocm-patch-no-such-command"}, {"sh", "-c", "echo 'dmesg: read kernel buffer failed: Operation not permitted' >&2; exit 1"}}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc, from, err := kernelLog(context.Background(), tt.commands)
			if tt.want == "" {
				if !errors.Is(err, ErrNoKernelLog) || !strings.Contains(err.Error(), "Operation not permitted") {
					t.Fatalf("error %v: want ErrNoKernelLog with the command's message", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			got, _ := io.ReadAll(rc)
			if string(got) != tt.want || !strings.HasPrefix(from, tt.from) {
				t.Errorf("got %q from %q, want %q", got, from, tt.want)
			}
		})
	}
}

func TestKernelLogCloseStopsCommand(t *testing.T) {
	rc, _, err := kernelLog(context.Background(), [][]string{{"sh", "-c", "echo first; sleep 30"}})
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 6)
	if _, err := io.ReadFull(rc, buf); err != nil || string(buf) != "first\n" {
		t.Fatalf("read %q, %v", buf, err)
	}
	if err := rc.Close(); err != nil {
		t.Fatal(err)
	}
}
