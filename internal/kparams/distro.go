package kparams

import (
	"strconv"
	"strings"
)

// OSRelease is what /etc/os-release says about the distribution.
type OSRelease struct {
	ID     string
	IDLike []string
	Name   string
}

// ParseOSRelease reads an os-release file (man os-release): NAME=value
// lines, values optionally quoted with shell-like escapes, '#' comments.
// Lines it cannot read are skipped.
func ParseOSRelease(data []byte) OSRelease {
	var o OSRelease
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		value = unquoteOSRelease(value)
		switch key {
		case "ID":
			o.ID = strings.ToLower(value)
		case "ID_LIKE":
			o.IDLike = strings.Fields(strings.ToLower(value))
		case "PRETTY_NAME":
			o.Name = value
		case "NAME":
			if o.Name == "" {
				o.Name = value
			}
		}
	}
	return o
}

func unquoteOSRelease(v string) string {
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
		if v[0] == '"' {
			if u, err := strconv.Unquote(v); err == nil {
				return u
			}
		}
		return v[1 : len(v)-1]
	}
	return v
}

// distroFamily groups distributions by the tools they boot with.
type distroFamily string

const (
	familyDebian distroFamily = "debian"
	familyFedora distroFamily = "fedora"
	familySUSE   distroFamily = "suse"
	familyArch   distroFamily = "arch"
	familyNone   distroFamily = ""
)

var distroFamilies = map[string]distroFamily{
	"debian": familyDebian, "ubuntu": familyDebian, "linuxmint": familyDebian, "pop": familyDebian,
	"elementary": familyDebian, "zorin": familyDebian, "kali": familyDebian, "raspbian": familyDebian, "neon": familyDebian,
	"fedora": familyFedora, "rhel": familyFedora, "centos": familyFedora, "rocky": familyFedora,
	"almalinux": familyFedora, "ol": familyFedora, "nobara": familyFedora,
	"suse": familySUSE, "opensuse": familySUSE, "opensuse-leap": familySUSE, "opensuse-tumbleweed": familySUSE, "sles": familySUSE,
	"arch": familyArch, "manjaro": familyArch, "endeavouros": familyArch, "cachyos": familyArch, "garuda": familyArch,
}

func (o OSRelease) family() distroFamily {
	for _, id := range append([]string{o.ID}, o.IDLike...) {
		if f, ok := distroFamilies[id]; ok {
			return f
		}
	}
	return familyNone
}

// Initramfs is the command that rebuilds the initramfs, so that a
// modprobe.d change reaches an amdgpu loaded at early boot.
type Initramfs struct {
	// Tool is "update-initramfs", "dracut" or "mkinitcpio"; empty when
	// the distribution and tools are unknown.
	Tool string
	Args []string
	// Why says how the tool was chosen.
	Why string
}

// Command is the command line to run, or "" when unknown.
func (i Initramfs) Command() string {
	if i.Tool == "" {
		return ""
	}
	return strings.Join(append([]string{i.Tool}, i.Args...), " ")
}

// initramfsTools are the tools in the order used to break a tie, with the
// machine paths where each is looked for.
var initramfsTools = []struct {
	tool   string
	args   []string
	family distroFamily
	paths  []string
}{
	{"update-initramfs", []string{"-u"}, familyDebian, []string{"/usr/sbin/update-initramfs", "/sbin/update-initramfs"}},
	{"dracut", []string{"-f"}, familyFedora, []string{"/usr/bin/dracut", "/usr/sbin/dracut", "/sbin/dracut"}},
	{"mkinitcpio", []string{"-P"}, familyArch, []string{"/usr/bin/mkinitcpio", "/usr/sbin/mkinitcpio"}},
}

// InitramfsCandidates are the machine paths ReadMachine checks.
func InitramfsCandidates() []string {
	var out []string
	for _, t := range initramfsTools {
		out = append(out, t.paths...)
	}
	return out
}

// ChooseInitramfs picks the initramfs tool from the distribution and the
// tools present (machine paths among InitramfsCandidates). The
// distribution's own tool wins when it is installed or when no tool is
// found; otherwise the one tool installed; otherwise none.
func ChooseInitramfs(o OSRelease, present []string) Initramfs {
	have := map[string]bool{}
	for _, t := range initramfsTools {
		for _, p := range t.paths {
			for _, q := range present {
				if p == q {
					have[t.tool] = true
				}
			}
		}
	}
	fam := o.family()
	if fam == familySUSE {
		fam = familyFedora // openSUSE uses dracut too
	}
	name := o.Name
	if name == "" {
		name = o.ID
	}
	for _, t := range initramfsTools {
		if fam != familyNone && t.family == fam && (have[t.tool] || len(have) == 0) {
			why := name + " uses " + t.tool
			if !have[t.tool] {
				why += " (not found under this root)"
			}
			return Initramfs{Tool: t.tool, Args: t.args, Why: why}
		}
	}
	var found []string
	for _, t := range initramfsTools {
		if have[t.tool] {
			found = append(found, t.tool)
		}
	}
	for _, t := range initramfsTools {
		if have[t.tool] {
			why := t.tool + " is installed"
			if len(found) > 1 {
				why += " (so are " + strings.Join(found[1:], ", ") + "; check which one your system uses)"
			}
			return Initramfs{Tool: t.tool, Args: t.args, Why: why}
		}
	}
	return Initramfs{Why: "the distribution is unknown (no /etc/os-release) and no initramfs tool was found"}
}

// GrubUpdate is the command that regenerates grub.cfg after editing
// /etc/default/grub, for this distribution; "" when unknown.
func GrubUpdate(o OSRelease) string {
	switch o.family() {
	case familyDebian:
		return "update-grub"
	case familyFedora, familySUSE:
		return "grub2-mkconfig -o /boot/grub2/grub.cfg"
	case familyArch:
		return "grub-mkconfig -o /boot/grub/grub.cfg"
	}
	return ""
}
