// Package snapshot captures the files detect reads into a tar.gz, and
// unpacks such an archive safely so that detect can replay it.
//
// A snapshot is how a user sends their machine in a bug report: it holds
// exactly what detect read (recorded by fsroot.Trace), with serial numbers
// and unique ids replaced, so it carries nothing detect did not use.
package snapshot

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/rocm-patch/rocm-patch/internal/fsroot"
	"github.com/rocm-patch/rocm-patch/internal/lazyre"
	"github.com/rocm-patch/rocm-patch/internal/system"
)

// Schema names the manifest format inside a snapshot.
const Schema = "rocm-patch/snapshot/v1"

// ManifestPath is the manifest's place inside the archive.
const ManifestPath = ".rocm-patch/snapshot.json"

// Manifest says what made a snapshot.
type Manifest struct {
	Schema  string    `json:"schema"`
	Created time.Time `json:"created"`
	Tool    string    `json:"tool"`
	Kernel  string    `json:"kernel"`
	GPUs    int       `json:"gpus"`
}

// Options tune a capture.
type Options struct {
	Detect system.Options
	// Tool is the rocm-patch version, written into the manifest.
	Tool string
	// Now is the capture time; zero means time.Now.
	Now time.Time
}

// Capture runs detect on root while recording what it reads, and writes
// the recording as a tar.gz to w. It returns the System it saw.
func Capture(ctx context.Context, root *fsroot.Root, w io.Writer, opts Options) (*system.System, error) {
	trace := root.StartTrace()
	var hostTrace *fsroot.Trace
	if h := opts.Detect.HostIDs; h != nil && h.Dir() != root.Dir() {
		hostTrace = h.StartTrace()
	}
	sys, err := system.Detect(ctx, root, opts.Detect)
	if err != nil {
		return nil, err
	}
	s, err := newScrubber()
	if err != nil {
		return nil, err
	}
	b := &builder{root: root, entries: map[string]*entry{}, scrub: s}
	b.addTrace(trace)
	b.addIDTables(trace, hostTrace, sys)
	b.addRecorded(trace, sys)
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	manifest, err := json.MarshalIndent(Manifest{Schema: Schema, Created: now.UTC(), Tool: opts.Tool, Kernel: sys.Kernel.Release, GPUs: len(sys.GPUs)}, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("snapshot manifest: %w", err)
	}
	b.file("/"+ManifestPath, append(manifest, '\n'))
	if err := b.write(w, now); err != nil {
		return nil, err
	}
	return sys, nil
}

// entry is one member of the archive, keyed by machine path.
type entry struct {
	kind   byte // tar.TypeDir, tar.TypeReg, tar.TypeSymlink
	data   []byte
	target string
}

type builder struct {
	root    *fsroot.Root
	entries map[string]*entry
	scrub   *scrubber
}

func (b *builder) dir(p string) {
	for p != "/" && p != "." {
		if e, ok := b.entries[p]; ok && e.kind != tar.TypeDir {
			return // a file or link already stands here
		}
		b.entries[p] = &entry{kind: tar.TypeDir}
		p = path.Dir(p)
	}
}

func (b *builder) file(p string, data []byte) {
	b.dir(path.Dir(p))
	b.entries[p] = &entry{kind: tar.TypeReg, data: data}
}

func (b *builder) link(p, target string) {
	b.dir(path.Dir(p))
	b.entries[p] = &entry{kind: tar.TypeSymlink, target: target}
}

// addTrace turns the record into archive members. Names that were listed
// but never opened become empty stand-ins of the same kind: detect used only
// their names (rocBLAS library files, for instance).
func (b *builder) addTrace(t *fsroot.Trace) {
	for dir, list := range t.Dirs {
		b.dir(dir)
		for _, e := range list {
			p := path.Join(dir, e.Name)
			switch {
			case e.Type.IsDir():
				b.dir(p)
			case e.Type&fs.ModeSymlink != 0:
				if target, ok := t.Links[p]; ok {
					b.link(p, target)
				} else if target, err := b.root.Readlink(p); err == nil {
					b.link(p, target)
				}
			default:
				b.file(p, nil)
			}
		}
	}
	for p, mode := range t.Stats {
		if mode.IsDir() {
			b.dir(p)
		} else if _, ok := b.entries[p]; !ok {
			b.file(p, nil)
		}
	}
	for p, target := range t.Links {
		b.link(p, target)
	}
	for p, data := range t.Files {
		if strings.HasPrefix(p, "/.rocm-patch/") {
			continue // rewritten from what detect concluded, below
		}
		b.file(p, b.scrub.file(p, data))
	}
}

// addIDTables keeps only the amdgpu.ids lines of the GPUs found, and folds
// the lines the host's table contributed into the archive's own table, so
// the snapshot names the GPUs the same way on any machine.
func (b *builder) addIDTables(t, host *fsroot.Trace, sys *system.System) {
	devices := map[string]bool{}
	for _, g := range sys.GPUs {
		devices[strings.TrimPrefix(g.DeviceID, "0x")] = true
	}
	for p, data := range t.Files {
		if path.Base(p) == "amdgpu.ids" {
			b.file(p, trimIDTable(data, devices, true))
		}
	}
	if host == nil {
		return
	}
	hostData, ok := host.Files[system.DefaultIDTable]
	if !ok {
		return
	}
	extra := trimIDTable(hostData, devices, false)
	if len(extra) == 0 {
		return
	}
	if e, ok := b.entries[system.DefaultIDTable]; ok && e.kind == tar.TypeReg {
		b.file(system.DefaultIDTable, append(append([]byte{}, e.data...), extra...))
		return
	}
	b.file(system.DefaultIDTable, append([]byte("1.0.0\n# excerpt captured by rocm-patch snapshot\n"), extra...))
}

// trimIDTable keeps the version line (when header is set) and the lines of
// the given device ids, lower-case hex without 0x.
func trimIDTable(data []byte, devices map[string]bool, header bool) []byte {
	var out bytes.Buffer
	sawVersion := false
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		if !sawVersion {
			sawVersion = true
			if !strings.Contains(trimmed, ",") {
				if header {
					out.WriteString(line + "\n")
				}
				continue
			}
		}
		id, _, _ := strings.Cut(trimmed, ",")
		if devices[strings.ToLower(strings.TrimSpace(id))] {
			out.WriteString(line + "\n")
		}
	}
	return out.Bytes()
}

// addRecorded writes the facts files cannot carry: the ROCm variables of
// the captured environment and the capturing user's device access.
func (b *builder) addRecorded(t *fsroot.Trace, sys *system.System) {
	names := make([]string, 0, len(sys.Env))
	for k := range sys.Env {
		names = append(names, k)
	}
	sort.Strings(names)
	var env strings.Builder
	env.WriteString("# ROCm, HIP and PyTorch variables of the captured machine\n")
	for _, k := range names {
		v := b.scrub.env(sys.Env[k])
		if strings.ContainsAny(v, "\n\r") {
			continue // cannot be written as one NAME=value line
		}
		env.WriteString(k + "=" + v + "\n")
	}
	b.file(system.RecordedEnviron, []byte(env.String()))

	var access strings.Builder
	if _, ok := t.Stats[system.KFDDevice]; ok {
		access.WriteString(system.KFDDevice + " " + rw(sys.KFDAccessible) + "\n")
	}
	for _, g := range sys.GPUs {
		p := "/dev/dri/" + g.RenderNode
		if _, ok := t.Stats[p]; ok && g.RenderNode != "" {
			access.WriteString(p + " " + rw(g.RenderAccessible) + "\n")
		}
	}
	b.file(system.RecordedAccess, []byte(access.String()))
}

func rw(ok bool) string {
	if ok {
		return "rw"
	}
	return "-"
}

// write emits the members sorted, so parents precede children.
func (b *builder) write(w io.Writer, now time.Time) error {
	names := make([]string, 0, len(b.entries))
	for p := range b.entries {
		names = append(names, p)
	}
	sort.Strings(names)
	gz := gzip.NewWriter(w)
	tw := tar.NewWriter(gz)
	for _, p := range names {
		e := b.entries[p]
		hdr := &tar.Header{Name: strings.TrimPrefix(p, "/"), ModTime: now, Typeflag: e.kind, Format: tar.FormatPAX}
		switch e.kind {
		case tar.TypeDir:
			hdr.Name += "/"
			hdr.Mode = 0o755
		case tar.TypeSymlink:
			hdr.Linkname = e.target
			hdr.Mode = 0o777
		default:
			hdr.Mode = 0o644
			hdr.Size = int64(len(e.data))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("snapshot %s: %w", p, err)
		}
		if e.kind == tar.TypeReg {
			if _, err := tw.Write(e.data); err != nil {
				return fmt.Errorf("snapshot %s: %w", p, err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	if err := gz.Close(); err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	return nil
}

// scrubber replaces unique ids with stable pseudonyms: the same id maps to
// the same fake everywhere in one snapshot (KFD properties, the DRM
// unique_id file, GPU-<uuid> in ROCR_VISIBLE_DEVICES), so visibility still
// replays, but no two snapshots share fakes.
type scrubber struct {
	salt [16]byte
	ids  map[uint64]uint64
}

func newScrubber() (*scrubber, error) {
	s := &scrubber{ids: map[uint64]uint64{}}
	if _, err := rand.Read(s.salt[:]); err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	return s, nil
}

func (s *scrubber) fake(id uint64) uint64 {
	if id == 0 {
		return 0
	}
	if f, ok := s.ids[id]; ok {
		return f
	}
	var buf [24]byte
	copy(buf[:], s.salt[:])
	binary.LittleEndian.PutUint64(buf[16:], id)
	sum := sha256.Sum256(buf[:])
	f := binary.LittleEndian.Uint64(sum[:8]) | 1
	s.ids[id] = f
	return f
}

var uniqueIDLine = lazyre.New(`(?m)^unique_id ([0-9]+)$`)
var uuidToken = lazyre.New(`(?i)GPU-([0-9a-f]{1,16})\b`)

func (s *scrubber) file(p string, data []byte) []byte {
	switch path.Base(p) {
	case "serial_number":
		return nil
	case "unique_id":
		v, err := strconv.ParseUint(strings.TrimSpace(string(data)), 16, 64)
		if err != nil {
			return nil
		}
		return []byte(fmt.Sprintf("%016x\n", s.fake(v)))
	case "properties":
		return uniqueIDLine().ReplaceAllFunc(data, func(m []byte) []byte {
			v, err := strconv.ParseUint(string(m[len("unique_id "):]), 10, 64)
			if err != nil {
				return []byte("unique_id 0")
			}
			return []byte(fmt.Sprintf("unique_id %d", s.fake(v)))
		})
	}
	return data
}

func (s *scrubber) env(v string) string {
	return uuidToken().ReplaceAllStringFunc(v, func(m string) string {
		id, err := strconv.ParseUint(m[4:], 16, 64)
		if err != nil {
			return m
		}
		return fmt.Sprintf("GPU-%016x", s.fake(id))
	})
}
