package system

import (
	"errors"
	"io/fs"
	"strings"

	"golang.org/x/sys/unix"
)

// KFDDevice is the node through which ROCm talks to the kernel driver.
const KFDDevice = "/dev/kfd"

// readAccess decides whether the current user can open /dev/kfd and each
// GPU's render node, which ROCm needs read-write.
func (d *detector) readAccess() {
	d.loadRecordedAccess()
	if len(d.sys.GPUs) == 0 && !d.root.Exists(KFDDevice) {
		return
	}
	kfdOK, exists := d.accessible(KFDDevice)
	d.sys.KFDAccessible = kfdOK
	switch {
	case !exists && len(d.sys.GPUs) > 0 && !d.sys.WSL:
		d.note("warning", KFDDevice, "%s does not exist: the amdgpu driver's compute interface (KFD) is not available, so ROCm sees no GPU", KFDDevice)
	case exists && !kfdOK:
		d.note("warning", KFDDevice, "this user cannot open %s: join the render and video groups (sudo usermod -aG render,video $USER), then log in again", KFDDevice)
	}
	var denied []string
	for i := range d.sys.GPUs {
		g := &d.sys.GPUs[i]
		if g.RenderNode == "" {
			continue
		}
		ok, exists := d.accessible("/dev/dri/" + g.RenderNode)
		g.RenderAccessible = ok
		if exists && !ok {
			denied = append(denied, "/dev/dri/"+g.RenderNode)
		}
	}
	if len(denied) > 0 {
		d.note("warning", denied[0], "this user cannot open %s: join the render and video groups (sudo usermod -aG render,video $USER), then log in again", strings.Join(denied, ", "))
	}
}

// accessible reports whether name can be opened read-write, and whether it
// exists. A recorded answer (from a snapshot) wins: access belongs to the
// user who captured the machine, not to whoever replays it.
func (d *detector) accessible(name string) (ok, exists bool) {
	if d.recordedAccess != nil {
		ok, exists = d.recordedAccess[name]
		return ok, exists
	}
	host, err := d.root.HostPath(name)
	if err != nil {
		return false, false
	}
	if _, err := d.root.Stat(name); err != nil {
		return false, false
	}
	// Checked with access(2) against the effective ids rather than by
	// opening: opening /dev/kfd creates a KFD process context.
	err = unix.Faccessat(unix.AT_FDCWD, host, unix.R_OK|unix.W_OK, unix.AT_EACCESS)
	return err == nil, true
}

func (d *detector) loadRecordedAccess() {
	data, err := d.root.ReadFile(RecordedAccess)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			d.noteReadError(RecordedAccess, err)
		}
		return
	}
	d.recordedAccess = map[string]bool{}
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, mode, ok := strings.Cut(line, " ")
		if !ok || (mode != "rw" && mode != "-") {
			d.note("warning", RecordedAccess, "line %d: want \"PATH rw\" or \"PATH -\", got %q", i+1, clip(line))
			continue
		}
		d.recordedAccess[name] = mode == "rw"
	}
}
