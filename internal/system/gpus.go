package system

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"strconv"
	"strings"

	"github.com/rocm-patch/rocm-patch/internal/hw"
)

// kfdTopologies are where the KFD topology lives; the class link is the
// documented path, the virtual device the fallback for trees that lack it.
var kfdTopologies = []string{"/sys/class/kfd/kfd/topology", "/sys/devices/virtual/kfd/kfd/topology"}

// kfdNode is what one KFD GPU node says.
type kfdNode struct {
	id          int
	dir         string
	props       Properties
	gpuID       uint64
	deviceID    uint64
	hasDevice   bool
	targetVer   uint64
	hasTarget   bool
	pci         string
	renderMinor uint64
	cpuCores    uint64
	localMem    uint64
}

// drmDevice is one AMD PCI display device seen under /sys/class/drm.
type drmDevice struct {
	devPath    string // resolved machine path of the PCI device
	pci        string
	card       string
	render     string
	vendor     string
	device     string
	revision   string
	subVendor  string
	subDevice  string
	driver     string
	vram       uint64
	gtt        uint64
	hasVRAM    bool
	discreteHW bool // mem_info_vram_vendor or board_info present
}

var pciAddr = regexp.MustCompile(`^[0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]$`)

func (d *detector) readGPUs() {
	nodes := d.readKFD()
	devices := d.readDRM()

	byRender := map[string]*drmDevice{}
	byPCI := map[string]*drmDevice{}
	for _, dev := range devices {
		if dev.render != "" {
			byRender[dev.render] = dev
		}
		if dev.pci != "" {
			byPCI[dev.pci] = dev
		}
	}
	used := map[*drmDevice]bool{}
	for _, n := range nodes {
		var dev *drmDevice
		if n.renderMinor > 0 {
			dev = byRender[fmt.Sprintf("renderD%d", n.renderMinor)]
		}
		if dev == nil && n.pci != "" {
			dev = byPCI[n.pci]
		}
		if dev != nil {
			used[dev] = true
		}
		d.addGPU(n, dev)
	}
	for _, dev := range devices {
		if used[dev] {
			continue
		}
		d.addGPU(nil, dev)
		g := &d.sys.GPUs[len(d.sys.GPUs)-1]
		d.note("warning", "/sys/class/drm/"+firstNonEmpty(dev.card, dev.render),
			"GPU %d (%s) has no KFD node: ROCm cannot use it (amdgpu's KFD is disabled or does not support this GPU)", g.Index, g.PCI)
	}
	d.applyOverrides()
	d.applyVisibility()
}

// readKFD returns the GPU nodes of the KFD topology in node order.
func (d *detector) readKFD() []*kfdNode {
	var topo string
	var entries []fs.DirEntry
	for _, t := range kfdTopologies {
		e, err := d.root.ReadDir(t + "/nodes")
		if err == nil {
			topo, entries = t, e
			break
		}
		if !errors.Is(err, fs.ErrNotExist) {
			d.noteReadError(t+"/nodes", err)
			return nil
		}
	}
	if topo == "" {
		d.log.Debug("no KFD topology", "tried", kfdTopologies)
		return nil
	}
	ids, others := numericNames(entries)
	for _, o := range others {
		d.note("warning", topo+"/nodes/"+o, "unexpected entry %q in the KFD topology; ignored", o)
	}
	var nodes []*kfdNode
	for _, id := range ids {
		if n := d.readKFDNode(topo, id); n != nil {
			nodes = append(nodes, n)
		}
	}
	return nodes
}

func (d *detector) readKFDNode(topo string, id int) *kfdNode {
	dir := fmt.Sprintf("%s/nodes/%d", topo, id)
	file := dir + "/properties"
	data, err := d.root.ReadFile(file)
	if err != nil {
		d.noteReadError(file, err)
		return nil
	}
	props := ParseProperties(data)
	for _, p := range props.Problems {
		d.note("warning", file, "%s", p)
	}
	n := &kfdNode{id: id, dir: dir, props: props}
	get := func(key string) (uint64, bool) {
		v, ok, err := props.Uint(key)
		if err != nil {
			d.note("warning", file, "%v", err)
			return 0, false
		}
		return v, ok
	}
	simd, _ := get("simd_count")
	if simd == 0 {
		return nil // a CPU node
	}
	if vendor, ok := get("vendor_id"); ok && vendor != AMDVendorID {
		d.log.Debug("skipping non-AMD KFD node", "node", id, "vendor", vendor)
		return nil
	}
	n.deviceID, n.hasDevice = get("device_id")
	if n.hasDevice && n.deviceID > 0xffff {
		d.note("warning", file, "device_id %d is out of range for a PCI device id; ignored", n.deviceID)
		n.deviceID, n.hasDevice = 0, false
	}
	n.targetVer, n.hasTarget = get("gfx_target_version")
	n.renderMinor, _ = get("drm_render_minor")
	n.cpuCores, _ = get("cpu_cores_count")
	n.localMem, _ = get("local_mem_size")
	if loc, ok := get("location_id"); ok && loc > 0 {
		domain, _ := get("domain")
		n.pci = fmt.Sprintf("%04x:%02x:%02x.%x", domain, (loc>>8)&0xff, (loc>>3)&0x1f, loc&0x7)
	}
	if s, err := d.root.ReadString(dir + "/gpu_id"); err == nil {
		if v, perr := strconv.ParseUint(s, 10, 64); perr == nil {
			n.gpuID = v
		} else {
			d.note("warning", dir+"/gpu_id", "gpu_id %q is not a number", clip(s))
		}
	}
	return n
}

// vramFromBanks sums the frame-buffer heaps (heap_type 1 public, 2
// private) of a node's memory banks, for trees without DRM sysfs.
func (d *detector) vramFromBanks(n *kfdNode) uint64 {
	entries, err := d.root.ReadDir(n.dir + "/mem_banks")
	if err != nil {
		return n.localMem
	}
	ids, _ := numericNames(entries)
	var total uint64
	for _, id := range ids {
		file := fmt.Sprintf("%s/mem_banks/%d/properties", n.dir, id)
		data, err := d.root.ReadFile(file)
		if err != nil {
			d.noteReadError(file, err)
			continue
		}
		p := ParseProperties(data)
		heap, _, _ := p.Uint("heap_type")
		size, _, err := p.Uint("size_in_bytes")
		if err != nil {
			d.note("warning", file, "%v", err)
			continue
		}
		if heap == 1 || heap == 2 {
			total += size
		}
	}
	if total == 0 {
		return n.localMem
	}
	return total
}

// readDRM returns the AMD display devices under /sys/class/drm, one per PCI
// device, with their card and render node names.
func (d *detector) readDRM() []*drmDevice {
	const class = "/sys/class/drm"
	entries, err := d.root.ReadDir(class)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			d.noteReadError(class, err)
		}
		return nil
	}
	var devices []*drmDevice
	byPath := map[string]*drmDevice{}
	for _, e := range entries {
		name := e.Name()
		isCard := isNumbered(name, "card")
		isRender := isNumbered(name, "renderD")
		if !isCard && !isRender {
			continue
		}
		devPath, err := d.root.Resolve(class + "/" + name + "/device")
		if err != nil {
			d.log.Debug("drm entry without device", "entry", name, "err", err)
			continue
		}
		dev := byPath[devPath]
		if dev == nil {
			dev = d.readDRMDevice(devPath)
			if dev == nil {
				continue
			}
			byPath[devPath] = dev
			devices = append(devices, dev)
		}
		if isCard {
			dev.card = name
		} else {
			dev.render = name
		}
	}
	return devices
}

// readDRMDevice reads one PCI device's identity and memory sizes; nil when
// it is not an AMD device.
func (d *detector) readDRMDevice(devPath string) *drmDevice {
	dev := &drmDevice{devPath: devPath}
	read := func(name string) string {
		v, err := d.root.ReadString(devPath + "/" + name)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			d.noteReadError(devPath+"/"+name, err)
		}
		return strings.ToLower(v)
	}
	if target, err := d.root.Readlink(devPath + "/driver"); err == nil {
		dev.driver = path.Base(target)
	}
	dev.vendor = read("vendor")
	if dev.vendor != "0x1002" {
		d.log.Debug("skipping non-AMD DRM device", "path", devPath, "vendor", dev.vendor, "driver", dev.driver)
		return nil
	}
	dev.device = read("device")
	dev.revision = read("revision")
	dev.subVendor = read("subsystem_vendor")
	dev.subDevice = read("subsystem_device")
	if base := path.Base(devPath); pciAddr.MatchString(base) {
		dev.pci = strings.ToLower(base)
	} else if uevent, err := d.root.ReadString(devPath + "/uevent"); err == nil {
		for _, line := range strings.Split(uevent, "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "PCI_SLOT_NAME="); ok && pciAddr.MatchString(v) {
				dev.pci = strings.ToLower(v)
			}
		}
	}
	if v, ok := d.readSize(devPath + "/mem_info_vram_total"); ok {
		dev.vram, dev.hasVRAM = v, true
	}
	dev.gtt, _ = d.readSize(devPath + "/mem_info_gtt_total")
	dev.discreteHW = d.root.Exists(devPath+"/mem_info_vram_vendor") || d.root.Exists(devPath+"/board_info")
	return dev
}

// readSize reads a byte count; a missing file is silent, a bad one noted.
func (d *detector) readSize(name string) (uint64, bool) {
	s, err := d.root.ReadString(name)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			d.noteReadError(name, err)
		}
		return 0, false
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		d.note("warning", name, "%q is not a byte count", clip(s))
		return 0, false
	}
	return v, true
}

func isNumbered(name, prefix string) bool {
	rest, ok := strings.CutPrefix(name, prefix)
	if !ok || rest == "" {
		return false
	}
	for _, c := range rest {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// addGPU merges what KFD and DRM say about one GPU and appends it.
func (d *detector) addGPU(n *kfdNode, dev *drmDevice) {
	g := GPU{Index: len(d.sys.GPUs), VendorID: "0x1002", Visible: true}
	if n != nil {
		id := n.id
		g.Node = &id
		g.GPUID = n.gpuID
		g.PCI = n.pci
		if n.hasDevice {
			g.DeviceID = fmt.Sprintf("0x%04x", n.deviceID)
		}
		if uid, ok, _ := n.props.Uint("unique_id"); ok && uid != 0 {
			d.uuids[g.Index] = uid
		}
		if n.renderMinor > 0 {
			g.RenderNode = fmt.Sprintf("renderD%d", n.renderMinor)
		}
	}
	if dev != nil {
		if dev.pci != "" {
			g.PCI = dev.pci
		}
		if g.DeviceID == "" {
			g.DeviceID = normHex(dev.device, 4)
		}
		g.Revision = normHex(dev.revision, 2)
		g.SubVendorID = normHex(dev.subVendor, 4)
		g.SubDeviceID = normHex(dev.subDevice, 4)
		g.Card = dev.card
		if dev.render != "" {
			g.RenderNode = dev.render
		}
		g.Driver = dev.driver
		g.VRAMBytes = dev.vram
		g.GTTBytes = dev.gtt
	}
	if n != nil && (dev == nil || !dev.hasVRAM) {
		g.VRAMBytes = d.vramFromBanks(n)
	}
	d.identify(&g, n, dev)
	d.sys.GPUs = append(d.sys.GPUs, g)
}

// normHex writes a sysfs hex id ("0x73DF") as lowercase, zero-padded hex.
func normHex(s string, width int) string {
	v, err := strconv.ParseUint(strings.TrimPrefix(strings.ToLower(s), "0x"), 16, 32)
	if err != nil || s == "" {
		return ""
	}
	return fmt.Sprintf("0x%0*x", width, v)
}

// identify fills target, family, ISA family, name and integration.
func (d *detector) identify(g *GPU, n *kfdNode, dev *drmDevice) {
	devID, _ := strconv.ParseUint(strings.TrimPrefix(g.DeviceID, "0x"), 16, 16)
	known, haveKnown := hw.LookupDevice(uint16(devID))
	if n != nil && n.hasTarget && n.targetVer != 0 {
		source := fmt.Sprintf("%s/properties", n.dir)
		v, err := hw.FromTargetVersion(n.targetVer)
		if err == nil {
			g.GFXTarget, err = v.Target()
		}
		if err != nil {
			d.note("warning", source, "gfx_target_version %d is not a valid ISA version: %v", n.targetVer, err)
		} else {
			g.TargetSource = "kfd"
		}
	}
	if g.GFXTarget == "" && haveKnown {
		g.GFXTarget, g.TargetSource = known.Target, "device-table"
		if n != nil {
			d.note("info", n.dir+"/properties", "no gfx_target_version (an older kernel); %s taken from the device id %s", known.Target, g.DeviceID)
		}
	}
	if g.GFXTarget == "" {
		d.note("warning", "", "GPU %d (device %s): gfx target unknown; the kernel did not report one and the device id is not in rocm-patch's table", g.Index, g.DeviceID)
	}
	g.EffectiveGFXTarget = g.GFXTarget
	g.Family = string(hw.FamilyOf(g.GFXTarget))
	if g.GFXTarget != "" && g.Family == string(hw.Unknown) {
		d.note("warning", "", "GPU %d reports %s, an ISA rocm-patch does not know; its family is unknown", g.Index, g.GFXTarget)
	}
	g.GenericISA = hw.GenericISA(g.GFXTarget)

	g.Integrated = d.integrated(g, n, dev)

	rev, _ := strconv.ParseUint(strings.TrimPrefix(g.Revision, "0x"), 16, 16)
	if name, exact, ok := d.lookupName(uint16(devID), uint16(rev), g.Revision != ""); ok {
		g.Name = name
		g.NameSource = "amdgpu.ids:device"
		if exact {
			g.NameSource = "amdgpu.ids:exact"
		}
	} else if haveKnown {
		g.Name, g.NameSource = known.Name, "family-table"
	}
}

// integrated decides whether a GPU shares the CPU's memory. The ISA table
// is exact for known APUs; otherwise an APU's KFD node also has CPU cores,
// and failing both the memory shape decides (a small carve-out and a large
// GTT), as ollama does.
func (d *detector) integrated(g *GPU, n *kfdNode, dev *drmDevice) bool {
	if apu, known := hw.KnownAPU(g.GFXTarget); known {
		return apu
	}
	if n != nil && n.cpuCores > 0 {
		return true
	}
	if dev == nil || dev.discreteHW {
		return false
	}
	const gib = 1 << 30
	return g.VRAMBytes <= 4*gib && g.GTTBytes >= 8*gib && g.GTTBytes >= 4*g.VRAMBytes
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
