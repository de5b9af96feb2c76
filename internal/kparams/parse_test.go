package kparams

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseModprobe(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []Source
	}{
		{"empty", "", nil},
		{"one", "options amdgpu noretry=0\n", []Source{{"f", 1, Param{"noretry", "0"}}}},
		{"several", "# c\n\noptions amdgpu ppfeaturemask=0xffffffff  gttsize=8192\n", []Source{
			{"f", 3, Param{"ppfeaturemask", "0xffffffff"}}, {"f", 3, Param{"gttsize", "8192"}}}},
		{"comment", "#options amdgpu noretry=0\n", nil},
		{"trailing comment", "options amdgpu noretry=0 # x=1\n", []Source{{"f", 1, Param{"noretry", "0"}}}},
		{"other module", "options nouveau modeset=0\noptions amdgpu_x a=1\n", nil},
		{"dash", "options amd-gpu noretry=1\n", nil},
		{"boolean", "options amdgpu dc\n", []Source{{"f", 1, Param{"dc", "1"}}}},
		{"quoted", `options amdgpu x="1"` + "\n", []Source{{"f", 1, Param{"x", "1"}}}},
		{"continued", "options amdgpu \\\n noretry=1\n", []Source{{"f", 1, Param{"noretry", "1"}}}},
		{"crlf", "options amdgpu noretry=1\r\n", []Source{{"f", 1, Param{"noretry", "1"}}}},
		{"blacklist", "blacklist amdgpu\ninstall amdgpu /bin/true\n", nil},
		{"tabs", "options\tamdgpu\tnoretry=1\n", []Source{{"f", 1, Param{"noretry", "1"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ParseModprobe("f", []byte(tt.in)); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseCmdline(t *testing.T) {
	got := ParseCmdline([]byte("BOOT_IMAGE=/vmlinuz root=UUID=x ro amdgpu.noretry=1 amdgpu.vm-fragment-size=9 quiet amdgpu.dc splash ttm.pages_limit=1\n"))
	want := []Source{
		{"/proc/cmdline", 0, Param{"noretry", "1"}},
		{"/proc/cmdline", 0, Param{"vm_fragment_size", "9"}},
		{"/proc/cmdline", 0, Param{"dc", "1"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestParseOSRelease(t *testing.T) {
	tests := []struct {
		in   string
		want OSRelease
	}{
		{"ID=ubuntu\nID_LIKE=debian\nPRETTY_NAME=\"Ubuntu 22.04.4 LTS\"\n", OSRelease{"ubuntu", []string{"debian"}, "Ubuntu 22.04.4 LTS"}},
		{"NAME=\"Fedora Linux\"\nID=fedora\n", OSRelease{"fedora", nil, "Fedora Linux"}},
		{"ID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\n", OSRelease{"rocky", []string{"rhel", "centos", "fedora"}, ""}},
		{"ID='arch'\n# c\nbad line\n", OSRelease{"arch", nil, ""}},
		{"PRETTY_NAME=\"a \\\"b\\\"\"\n", OSRelease{"", nil, `a "b"`}},
		{"", OSRelease{}},
	}
	for _, tt := range tests {
		if got := ParseOSRelease([]byte(tt.in)); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%q: got %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func TestChooseInitramfs(t *testing.T) {
	ubuntu := OSRelease{ID: "ubuntu", IDLike: []string{"debian"}, Name: "Ubuntu"}
	fedora := OSRelease{ID: "fedora", Name: "Fedora"}
	tumbleweed := OSRelease{ID: "opensuse-tumbleweed", IDLike: []string{"opensuse", "suse"}, Name: "openSUSE Tumbleweed"}
	manjaro := OSRelease{ID: "manjaro", IDLike: []string{"arch"}, Name: "Manjaro"}
	tests := []struct {
		name    string
		os      OSRelease
		present []string
		want    string
		why     string
	}{
		{"ubuntu installed", ubuntu, []string{"/usr/sbin/update-initramfs"}, "update-initramfs -u", "Ubuntu uses update-initramfs"},
		{"ubuntu bare tree", ubuntu, nil, "update-initramfs -u", "not found under this root"},
		{"ubuntu with dracut", ubuntu, []string{"/usr/bin/dracut"}, "dracut -f", "dracut is installed"},
		{"fedora", fedora, []string{"/usr/bin/dracut"}, "dracut -f", "Fedora uses dracut"},
		{"suse", tumbleweed, nil, "dracut -f", "openSUSE Tumbleweed uses dracut"},
		{"manjaro", manjaro, []string{"/usr/bin/mkinitcpio"}, "mkinitcpio -P", "Manjaro uses mkinitcpio"},
		{"unknown distro, one tool", OSRelease{}, []string{"/usr/bin/mkinitcpio"}, "mkinitcpio -P", "mkinitcpio is installed"},
		{"unknown distro, two tools", OSRelease{}, []string{"/usr/bin/dracut", "/sbin/update-initramfs"}, "update-initramfs -u", "so are dracut"},
		{"nothing", OSRelease{ID: "nixos"}, nil, "", "unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ChooseInitramfs(tt.os, tt.present)
			if got.Command() != tt.want || !strings.Contains(got.Why, tt.why) {
				t.Errorf("got %q (%s), want %q (%s)", got.Command(), got.Why, tt.want, tt.why)
			}
		})
	}
	if g := GrubUpdate(ubuntu); g != "update-grub" {
		t.Errorf("grub on ubuntu = %q", g)
	}
	if g := GrubUpdate(fedora); !strings.HasPrefix(g, "grub2-mkconfig") {
		t.Errorf("grub on fedora = %q", g)
	}
	if g := GrubUpdate(OSRelease{}); g != "" {
		t.Errorf("grub unknown = %q", g)
	}
}

func FuzzParseModprobe(f *testing.F) {
	f.Add([]byte("options amdgpu noretry=0\n"))
	f.Add([]byte("options amdgpu \\\n"))
	f.Add([]byte("\\\n\\"))
	f.Add([]byte("options amdgpu a=\"b c\" # d\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, s := range ParseModprobe("f", data) {
			if s.Line < 1 || strings.ContainsAny(s.Param.Name, " \t\n") {
				t.Errorf("bad source %+v", s)
			}
		}
		for _, s := range ParseCmdline(data) {
			if strings.ContainsAny(s.Param.Name+s.Param.Value, " \t\n") {
				t.Errorf("bad source %+v", s)
			}
		}
	})
}

func FuzzParseOSRelease(f *testing.F) {
	f.Add([]byte("ID=ubuntu\nID_LIKE=debian\n"))
	f.Add([]byte("ID=\"\n"))
	f.Add([]byte("ID='\"'\nNAME=\"\\x\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		o := ParseOSRelease(data)
		for _, id := range o.IDLike {
			if id == "" || strings.ContainsAny(id, " \t\n") {
				t.Errorf("bad ID_LIKE %q", o.IDLike)
			}
		}
		// Whatever it says, the choice is one of the three tools or none.
		switch ChooseInitramfs(o, nil).Tool {
		case "", "update-initramfs", "dracut", "mkinitcpio":
		default:
			t.Errorf("tool for %+v", o)
		}
	})
}
