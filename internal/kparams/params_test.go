package kparams

import (
	"errors"
	"strings"
	"testing"

	"github.com/rocm-patch/rocm-patch/internal/kb"
)

func loadKB(t testing.TB) *kb.KB {
	t.Helper()
	k, err := kb.Load()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestParseAssignment(t *testing.T) {
	tests := []struct {
		in   string
		want Param
		err  string // substring; "" for success
	}{
		{"noretry=0", Param{"noretry", "0"}, ""},
		{"amdgpu.noretry=1", Param{"noretry", "1"}, ""},
		{"gttsize=-1", Param{"gttsize", "-1"}, ""},
		{"ppfeaturemask=0xfff7bfff", Param{"ppfeaturemask", "0xfff7bfff"}, ""},
		{"noretry", Param{}, "not name=value"},
		{"nouveau.modeset=0", Param{}, `module "nouveau"`},
		{"ttm.pages_limit=1", Param{}, `module "ttm"`},
		{"amdgpu.ttm.x=1", Param{}, "name"},
		{"noretry=0\noptions nouveau modeset=0", Param{}, "not an integer"},
		{"noretry=0 vm_update_mode=3", Param{}, "not an integer"},
		{"noretry=0=1", Param{}, "not an integer"},
		{"noretry=options", Param{}, "not an integer"},
		{"noretry=", Param{}, "not an integer"},
		{"noretry=01", Param{}, "not an integer"},
		{"noretry=+1", Param{}, "not an integer"},
		{"noretry=1 ", Param{}, "not an integer"},
		{"noretry=0x", Param{}, "not an integer"},
		{"no retry=0", Param{}, "name"},
		{"NoRetry=0", Param{}, "name"},
		{"=0", Param{}, "name"},
		{"options=1\n", Param{}, "not an integer"},
		{"a\x00b=1", Param{}, "name"},
		{"gttsize=99999999999999999999", Param{}, "not an integer"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseAssignment(tt.in)
			if tt.err == "" {
				if err != nil || got != tt.want {
					t.Fatalf("got %v, %v; want %v", got, err, tt.want)
				}
				return
			}
			if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("err = %v; want ErrInvalid containing %q", err, tt.err)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	k := loadKB(t)
	tests := []struct {
		p            Param
		allowUnknown bool
		known        bool
		err          error
		msg          string
	}{
		{Param{"noretry", "0"}, false, true, nil, ""},
		{Param{"noretry", "-1"}, false, true, nil, ""},
		{Param{"noretry", "2"}, false, false, ErrInvalid, "out of range"},
		{Param{"vm_fragment_size", "9"}, false, true, nil, ""},
		{Param{"vm_fragment_size", "10"}, false, false, ErrInvalid, "out of range"},
		{Param{"vm_fragment_size", "3"}, false, false, ErrInvalid, "out of range"},
		{Param{"vm_update_mode", "4"}, false, false, ErrInvalid, "out of range"},
		{Param{"gttsize", "8192"}, false, true, nil, ""},
		{Param{"gttsize", "2147483648"}, false, false, ErrInvalid, "32-bit"},
		{Param{"gttsize", "0x2000"}, false, false, ErrInvalid, "32-bit"},
		{Param{"cwsr_enable", "0"}, false, true, nil, ""},
		{Param{"gtt_size", "8192"}, false, false, ErrInvalid, "gttsize"},
		{Param{"gtt_size", "8192"}, true, false, ErrInvalid, "gttsize"},
		{Param{"ppfeaturemask", "0xfff7bfff"}, false, false, ErrUnknown, "catalogue"},
		{Param{"ppfeaturemask", "0xfff7bfff"}, true, false, nil, ""},
		{Param{"dc", "-1"}, true, false, nil, ""},
		{Param{"dc", "99999999999999999999"}, true, false, ErrInvalid, ""},
		{Param{"dc", "1;reboot"}, true, false, ErrInvalid, "not an integer"},
		{Param{"Dc", "1"}, true, false, ErrInvalid, "name"},
	}
	for _, tt := range tests {
		t.Run(tt.p.String(), func(t *testing.T) {
			s, err := Validate(k, tt.p, tt.allowUnknown)
			if tt.err == nil {
				if err != nil {
					t.Fatal(err)
				}
				if (s != nil) != tt.known {
					t.Errorf("setting = %v, want known %v", s, tt.known)
				}
				return
			}
			if !errors.Is(err, tt.err) || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("err = %v; want %v containing %q", err, tt.err, tt.msg)
			}
		})
	}
}

func TestSameValue(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"0", "0", true},
		{"-1", "-1", true},
		{"0x10", "16", true},
		{"0xfff7bfff", "4294426623", true},
		{"Y", "1", true},
		{"N", "0", true},
		{"1", "0", false},
		{"-1", "0", false},
		{"abc", "abc", true},
		{"abc", "abd", false},
	}
	for _, tt := range tests {
		if got := sameValue(tt.a, tt.b); got != tt.want {
			t.Errorf("sameValue(%q, %q) = %v", tt.a, tt.b, got)
		}
	}
}

// FuzzParseAssignment: whatever the command line holds, an accepted
// assignment renders as one options line that CheckContent accepts, and
// nothing can add a line, a module or a second parameter.
func FuzzParseAssignment(f *testing.F) {
	for _, s := range []string{"noretry=0", "amdgpu.gttsize=8192", "x=0x1f", "noretry=0\noptions nouveau modeset=0", "a=1 b=2", "nouveau.x=1", "amdgpu.=1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseAssignment(s)
		if err != nil {
			return
		}
		line := "options amdgpu " + p.String()
		if strings.ContainsAny(line, "\n\r\t\x00#") || strings.Count(line, " ") != 2 || strings.Count(p.String(), "=") != 1 {
			t.Fatalf("%q accepted as %q", s, line)
		}
		if err := CheckContent([]byte(line + "\n")); err != nil {
			t.Fatalf("%q: %v", s, err)
		}
	})
}
