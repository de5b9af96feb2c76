package snapshot

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rocm-patch/rocm-patch/internal/testutil"

	"github.com/rocm-patch/rocm-patch/internal/fsroot"
	"github.com/rocm-patch/rocm-patch/internal/system"
)

const dev = "/sys/devices/pci0000:00/0000:00:01.1/0000:03:00.0"

// machine is an RX 6700 XT box with ROCm, torch, and files detect never
// reads (which must stay out of the snapshot).
var machine = map[string]string{
	"/proc/sys/kernel/osrelease":                     "6.8.0-45-generic\n",
	"/sys/module/amdgpu/parameters/noretry":          "-1\n",
	"/sys/class/kfd/kfd/topology/nodes/0/properties": "cpu_cores_count 16\nsimd_count 0\n",
	"/sys/class/kfd/kfd/topology/nodes/1/properties": "simd_count 80\nvendor_id 4098\ndevice_id 29663\nlocation_id 768\ndomain 0\ndrm_render_minor 128\ngfx_target_version 100301\nunique_id 81991393117441776\n",
	"/sys/class/kfd/kfd/topology/nodes/1/gpu_id":     "4242\n",
	dev + "/vendor":                 "0x1002\n",
	dev + "/device":                 "0x73df\n",
	dev + "/revision":               "0xc1\n",
	dev + "/mem_info_vram_total":    "12868124672\n",
	dev + "/mem_info_gtt_total":     "16777216000\n",
	dev + "/mem_info_vram_vendor":   "samsung\n",
	dev + "/serial_number":          "SECRET-SERIAL\n",
	dev + "/unique_id":              "1234abcd5678ef0\n",
	dev + "/driver":                 "->../../../../bus/pci/drivers/amdgpu",
	dev + "/drm/card0/device":       "->../../../0000:03:00.0",
	dev + "/drm/renderD128/device":  "->../../../0000:03:00.0",
	"/sys/class/drm/card0":          "->../../devices/pci0000:00/0000:00:01.1/0000:03:00.0/drm/card0",
	"/sys/class/drm/renderD128":     "->../../devices/pci0000:00/0000:00:01.1/0000:03:00.0/drm/renderD128",
	"/sys/class/drm/version":        "drm 1.1.0\n",
	"/dev/kfd":                      "",
	"/dev/dri/renderD128":           "",
	"/opt/rocm-6.2.0/.info/version": "6.2.0-66\n",
	"/opt/rocm-6.2.0/lib/rocblas/library/TensileLibrary_lazy_gfx1030.dat": "real tensile data",
	"/opt/rocm-6.2.0/lib/librocblas.so":                                   "binary",
	"/opt/rocm":                                                           "->/opt/rocm-6.2.0",
	"/usr/share/libdrm/amdgpu.ids":                                        "1.0.0\n# comment\n6860,\t00,\tAMD Radeon Instinct MI25\n73DF,\tC1,\tAMD Radeon RX 6700 XT\n73DF,\tC3,\tAMD Radeon RX 6800M\n",
	"/home/alice/venv/lib/python3.10/site-packages/torch/version.py":      "__version__ = '2.4.1+rocm6.1'\nhip = '6.1.40091-a8dbc0c19'\n",
	"/home/alice/secrets.txt":                                             "password",
	"/etc/shadow":                                                         "root:x",
}

func capture(t *testing.T, files map[string]string, environ []string) ([]byte, *system.System) {
	t.Helper()
	root, err := fsroot.Open(testutil.WriteTree(t, files))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	sys, err := Capture(context.Background(), root, &buf, Options{Detect: system.Options{Environ: environ}, Tool: "test", Now: time.Unix(0, 0)})
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), sys
}

func replay(t *testing.T, archive []byte) (*system.System, string) {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, "snap.tar.gz")
	if err := os.WriteFile(file, archive, 0o644); err != nil {
		t.Fatal(err)
	}
	tree := filepath.Join(dir, "tree")
	if err := os.Mkdir(tree, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := Unpack(file, tree); err != nil {
		t.Fatal(err)
	}
	root, err := fsroot.Open(tree)
	if err != nil {
		t.Fatal(err)
	}
	sys, err := system.Detect(context.Background(), root, system.Options{Environ: []string{"HSA_OVERRIDE_GFX_VERSION=11.0.0"}})
	if err != nil {
		t.Fatal(err)
	}
	return sys, tree
}

func TestSnapshotReplaysTheSameSystem(t *testing.T) {
	environ := []string{"HSA_OVERRIDE_GFX_VERSION=10.3.0", "HIP_VISIBLE_DEVICES=0", "HOME=/home/alice", "GITHUB_TOKEN=secret"}
	archive, original := capture(t, machine, environ)
	replayed, tree := replay(t, archive)

	want, _ := json.MarshalIndent(original, "", " ")
	got, _ := json.MarshalIndent(replayed, "", " ")
	if !bytes.Equal(want, got) {
		t.Fatalf("replay differs:\n--- original\n%s\n--- replay\n%s", want, got)
	}
	if len(original.GPUs) != 1 || !original.GPUs[0].Visible || original.GPUs[0].EffectiveGFXTarget != "gfx1030" {
		t.Fatalf("the test machine should have one visible, overridden GPU: %+v", original.GPUs)
	}

	// Only what detect read is there: no library contents, no unrelated files.
	for _, absent := range []string{"/home/alice/secrets.txt", "/etc/shadow", "/opt/rocm-6.2.0/lib/librocblas.so", dev + "/serial_number", "/sys/class/drm/version/x"} {
		if _, err := os.Lstat(filepath.Join(tree, absent)); err == nil {
			t.Errorf("%s should not be in the snapshot", absent)
		}
	}
	if data, _ := os.ReadFile(filepath.Join(tree, "opt/rocm-6.2.0/lib/rocblas/library/TensileLibrary_lazy_gfx1030.dat")); len(data) != 0 {
		t.Errorf("library files must be empty name stand-ins, got %q", data)
	}
	props, _ := os.ReadFile(filepath.Join(tree, "sys/class/kfd/kfd/topology/nodes/1/properties"))
	if bytes.Contains(props, []byte("81991393117441776")) || !bytes.Contains(props, []byte("unique_id ")) {
		t.Errorf("unique_id not scrubbed: %s", props)
	}
	env, _ := os.ReadFile(filepath.Join(tree, ".rocm-patch/environ"))
	if bytes.Contains(env, []byte("GITHUB_TOKEN")) || bytes.Contains(env, []byte("HOME=")) {
		t.Errorf("recorded environment leaks: %s", env)
	}
	ids, _ := os.ReadFile(filepath.Join(tree, "usr/share/libdrm/amdgpu.ids"))
	if bytes.Contains(ids, []byte("6860")) || !bytes.Contains(ids, []byte("73DF,\tC1")) {
		t.Errorf("amdgpu.ids should keep only this machine's devices: %s", ids)
	}
	if link, err := os.Readlink(filepath.Join(tree, "opt/rocm")); err != nil || link != "/opt/rocm-6.2.0" {
		t.Errorf("/opt/rocm link = %q, %v", link, err)
	}
}

// A GPU chosen by its unique id stays chosen after the id is replaced: the
// same pseudonym goes into the KFD properties and into the variable.
func TestSnapshotScrubsUUIDsConsistently(t *testing.T) {
	archive, original := capture(t, machine, []string{"ROCR_VISIBLE_DEVICES=GPU-1234abcd5678ef0"})
	replayed, tree := replay(t, archive)
	if !original.GPUs[0].Visible || !replayed.GPUs[0].Visible {
		t.Fatalf("visibility by uuid lost: original %v, replay %v; notes %+v", original.GPUs[0].Visible, replayed.GPUs[0].Visible, replayed.Notes)
	}
	env, _ := os.ReadFile(filepath.Join(tree, ".rocm-patch/environ"))
	if bytes.Contains(bytes.ToLower(env), []byte("1234abcd5678ef0")) || !bytes.Contains(env, []byte("ROCR_VISIBLE_DEVICES=GPU-")) {
		t.Errorf("uuid not replaced in the recorded environment: %s", env)
	}
}

func TestSnapshotOfSnapshotIsStable(t *testing.T) {
	archive, original := capture(t, machine, nil)
	_, tree := replay(t, archive)
	root, _ := fsroot.Open(tree)
	var again bytes.Buffer
	second, err := Capture(context.Background(), root, &again, Options{})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(original)
	b, _ := json.Marshal(second)
	if !bytes.Equal(a, b) {
		t.Fatalf("second capture differs:\n%s\n%s", a, b)
	}
}

func TestSnapshotCarriesHostNames(t *testing.T) {
	files := map[string]string{}
	for k, v := range machine {
		files[k] = v
	}
	delete(files, "/usr/share/libdrm/amdgpu.ids")
	host, _ := fsroot.Open(testutil.WriteTree(t, map[string]string{"/usr/share/libdrm/amdgpu.ids": "1.0.0\n73DF,\tC1,\tHost Named RX 6700 XT\n"}))
	root, _ := fsroot.Open(testutil.WriteTree(t, files))
	var buf bytes.Buffer
	sys, err := Capture(context.Background(), root, &buf, Options{Detect: system.Options{HostIDs: host}})
	if err != nil {
		t.Fatal(err)
	}
	replayed, _ := replay(t, buf.Bytes())
	if sys.GPUs[0].Name != "Host Named RX 6700 XT" || replayed.GPUs[0].Name != sys.GPUs[0].Name {
		t.Fatalf("names: captured %q, replayed %q", sys.GPUs[0].Name, replayed.GPUs[0].Name)
	}
}

// member describes one tar entry of a hand-made archive.
type member struct {
	name, link string
	typ        byte
	body       string
	size       int64
}

func makeArchive(t *testing.T, members ...member) string {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, m := range members {
		hdr := &tar.Header{Name: m.name, Linkname: m.link, Typeflag: m.typ, Mode: 0o644, Size: int64(len(m.body))}
		if m.size != 0 {
			hdr.Size = m.size
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if m.body != "" {
			tw.Write([]byte(m.body))
		}
	}
	tw.Close()
	gz.Close()
	file := filepath.Join(t.TempDir(), "a.tar.gz")
	if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

func TestUnpackRejectsUnsafeArchives(t *testing.T) {
	outside := t.TempDir()
	tests := []struct {
		name    string
		members []member
		want    string
	}{
		{"dot-dot", []member{{name: "../evil", typ: tar.TypeReg, body: "x"}}, `".."`},
		{"dot-dot inside", []member{{name: "a/../../evil", typ: tar.TypeReg, body: "x"}}, `".."`},
		{"absolute", []member{{name: "/etc/evil", typ: tar.TypeReg, body: "x"}}, "absolute"},
		{"link escapes", []member{{name: "sys/x", typ: tar.TypeSymlink, link: "../../../etc/passwd"}}, "outside the tree"},
		{"write through link", []member{{name: "d", typ: tar.TypeSymlink, link: outside}, {name: "d/evil", typ: tar.TypeReg, body: "x"}}, "through the link"},
		{"hard link", []member{{name: "h", typ: tar.TypeLink, link: "etc/passwd"}}, "not a folder, file or link"},
		{"device", []member{{name: "dev/kfd", typ: tar.TypeChar}}, "not a folder, file or link"},
		{"duplicate", []member{{name: "f", typ: tar.TypeReg, body: "1"}, {name: "f", typ: tar.TypeReg, body: "2"}}, "exists"},
		{"huge member", []member{{name: "big", typ: tar.TypeReg, size: fsroot.MaxFileSize + 1}}, "larger than any file"},
		{"file then folder", []member{{name: "f", typ: tar.TypeReg, body: "1"}, {name: "f/g", typ: tar.TypeReg, body: "2"}}, "not a folder"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			archive := makeArchive(t, tt.members...)
			err := Unpack(archive, t.TempDir())
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), archive) {
				t.Fatalf("Unpack error = %v, want one naming the archive and saying %q", err, tt.want)
			}
			if entries, _ := os.ReadDir(outside); len(entries) != 0 {
				t.Fatalf("something was written outside the tree")
			}
		})
	}
}

func TestUnpackRejectsCorruptFiles(t *testing.T) {
	dir := t.TempDir()
	notGzip := filepath.Join(dir, "plain.tar.gz")
	os.WriteFile(notGzip, []byte("not gzip at all"), 0o644)
	if err := Unpack(notGzip, t.TempDir()); err == nil || !strings.Contains(err.Error(), "not a gzip file") {
		t.Errorf("not gzip: %v", err)
	}
	good := makeArchive(t, member{name: "f", typ: tar.TypeReg, body: strings.Repeat("x", 10000)})
	data, _ := os.ReadFile(good)
	truncated := filepath.Join(dir, "trunc.tar.gz")
	os.WriteFile(truncated, data[:len(data)/2], 0o644)
	if err := Unpack(truncated, t.TempDir()); err == nil {
		t.Errorf("truncated archive accepted")
	}
	if err := Unpack(filepath.Join(dir, "missing.tar.gz"), t.TempDir()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

func TestUnpackKeepsAbsoluteLinksInsideTheRoot(t *testing.T) {
	archive := makeArchive(t,
		member{name: "opt/rocm-6.2.0/.info/version", typ: tar.TypeReg, body: "6.2.0\n"},
		member{name: "opt/rocm", typ: tar.TypeSymlink, link: "/opt/rocm-6.2.0"},
	)
	tree := t.TempDir()
	if err := Unpack(archive, tree); err != nil {
		t.Fatal(err)
	}
	root, _ := fsroot.Open(tree)
	if v, err := root.ReadString("/opt/rocm/.info/version"); err != nil || v != "6.2.0" {
		t.Fatalf("absolute link resolved to %q, %v", v, err)
	}
}
