package fsroot

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/rocm-patch/rocm-patch/internal/testutil"
)

func TestResolveStaysInsideRoot(t *testing.T) {
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("host"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := testutil.WriteTree(t, map[string]string{
		"opt/rocm-6.2.0/.info/version": "6.2.0-66\n",
		"opt/rocm":                     "->/opt/rocm-6.2.0", // absolute: inside the root
		"etc/alternatives/rocm":        "->../../opt/rocm-6.2.0",
		"opt/alt":                      "->/etc/alternatives/rocm",
		"sys/class/drm/card0":          "->../../devices/pci0000:00/0000:03:00.0/drm/card0",
		"sys/devices/pci0000:00/0000:03:00.0/drm/card0/device": "->../../../0000:03:00.0",
		"sys/devices/pci0000:00/0000:03:00.0/vendor":           "0x1002\n",
		"escape":      "->../../../../../../../../" + outside[1:] + "/secret",
		"absescape":   "->" + outside + "/secret",
		"loop/a":      "->b",
		"loop/b":      "->a",
		"dangling":    "->/nowhere",
		"dotdot/file": "->../../../../opt/rocm-6.2.0/.info/version",
	})
	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		path    string
		want    string
		wantErr error
	}{
		{"absolute link", "/opt/rocm/.info/version", "6.2.0-66", nil},
		{"chain of links", "/opt/alt/.info/version", "6.2.0-66", nil},
		{"sysfs style relative links", "/sys/class/drm/card0/device/vendor", "0x1002", nil},
		{"dot-dot climbs no higher than the root", "/dotdot/file", "6.2.0-66", nil},
		{"relative escape is clamped", "/escape", "", fs.ErrNotExist},
		{"absolute escape is re-rooted", "/absescape", "", fs.ErrNotExist},
		{"loop", "/loop/a", "", ErrLoop},
		{"dangling", "/dangling", "", fs.ErrNotExist},
		{"missing", "/no/such/file", "", fs.ErrNotExist},
		{"path with dot-dot", "/../../opt/rocm/.info/version", "6.2.0-66", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := r.ReadString(tt.path)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("ReadString(%s) error = %v, want %v", tt.path, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ReadString(%s) = %q, %v; want %q", tt.path, got, err, tt.want)
			}
		})
	}
}

func TestErrorsNameTheMachinePath(t *testing.T) {
	r, err := Open(testutil.WriteTree(t, map[string]string{"a": "x"}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.ReadFile("/sys/class/kfd/kfd/topology/nodes/1/properties")
	var pe *fs.PathError
	if !errors.As(err, &pe) || pe.Path != "/sys" {
		t.Fatalf("error %v should name the machine path that is missing, not the host path", err)
	}
}

func TestReadlinkAcceptsFlattenedLinks(t *testing.T) {
	r, err := Open(testutil.WriteTree(t, map[string]string{
		"dev/a/driver": "->../../../bus/pci/drivers/amdgpu",
		"dev/b/driver": "../../../bus/pci/drivers/i915",
	}))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"/dev/a/driver": "../../../bus/pci/drivers/amdgpu", "/dev/b/driver": "../../../bus/pci/drivers/i915"} {
		got, err := r.Readlink(name)
		if err != nil || got != want {
			t.Errorf("Readlink(%s) = %q, %v; want %q", name, got, err, want)
		}
	}
}

func TestGlob(t *testing.T) {
	r, err := Open(testutil.WriteTree(t, map[string]string{
		"opt/rocm-6.1.0/.info/version":   "6.1.0",
		"opt/rocm-6.2.0/.info/version":   "6.2.0",
		"opt/rocm_sdk_612/.info/version": "6.1.2",
		"opt/rocm":                       "->rocm-6.2.0",
		"opt/other/x":                    "",
	}))
	if err != nil {
		t.Fatal(err)
	}
	got := r.Glob("/opt/rocm-*/.info/version")
	want := []string{"/opt/rocm-6.1.0/.info/version", "/opt/rocm-6.2.0/.info/version"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Glob = %v, want %v", got, want)
	}
	if got := r.Glob("/opt/rocm"); !reflect.DeepEqual(got, []string{"/opt/rocm"}) {
		t.Errorf("literal Glob = %v", got)
	}
	if got := r.Glob("/nothing/*"); got != nil {
		t.Errorf("Glob of a missing folder = %v, want nil", got)
	}
	// A Root lists a folder once: detect's many patterns over /home or
	// /usr/lib share one listing, and see one state of the folder.
	dir := r.dir
	if err := os.Mkdir(filepath.Join(dir, "opt", "rocm-7.0.0"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got := r.Glob("/opt/rocm-*"); !reflect.DeepEqual(got, []string{"/opt/rocm-6.1.0", "/opt/rocm-6.2.0"}) {
		t.Errorf("second Glob of a listed folder = %v, want the first listing", got)
	}
	fresh, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := fresh.Glob("/opt/rocm-*"); len(got) != 3 {
		t.Errorf("a new Root sees the folder as it is now: %v", got)
	}
}

func TestReadFileTooLarge(t *testing.T) {
	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, "big"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(MaxFileSize + 1); err != nil {
		t.Fatal(err)
	}
	f.Close()
	r, _ := Open(dir)
	if _, err := r.ReadFile("/big"); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("ReadFile of an oversized file: %v, want ErrTooLarge", err)
	}
}

func TestOpenRejectsFiles(t *testing.T) {
	dir := testutil.WriteTree(t, map[string]string{"file": "x"})
	if _, err := Open(filepath.Join(dir, "file")); err == nil {
		t.Fatal("Open of a regular file should fail")
	}
	if _, err := Open(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Open of a missing folder: %v", err)
	}
}

func TestTraceRecordsWhatWasRead(t *testing.T) {
	r, err := Open(testutil.WriteTree(t, map[string]string{
		"opt/rocm-6.2.0/.info/version":             "6.2.0",
		"opt/rocm-6.2.0/lib/rocblas/library/a.dat": "",
		"opt/rocm":    "->/opt/rocm-6.2.0",
		"unread/file": "x",
	}))
	if err != nil {
		t.Fatal(err)
	}
	tr := r.StartTrace()
	if _, err := r.ReadFile("/opt/rocm/.info/version"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.ReadDir("/opt/rocm/lib/rocblas/library"); err != nil {
		t.Fatal(err)
	}
	if string(tr.Files["/opt/rocm-6.2.0/.info/version"]) != "6.2.0" {
		t.Errorf("file not recorded at its resolved path: %v", tr.Paths())
	}
	if tr.Links["/opt/rocm"] != "/opt/rocm-6.2.0" {
		t.Errorf("link not recorded: %v", tr.Links)
	}
	if len(tr.Dirs["/opt/rocm-6.2.0/lib/rocblas/library"]) != 1 {
		t.Errorf("listing not recorded: %v", tr.Dirs)
	}
	for _, p := range tr.Paths() {
		if p == "/unread/file" {
			t.Errorf("an unread file was recorded")
		}
	}
}
