package kparams

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/rocm-patch/rocm-patch/internal/kb"
	"github.com/rocm-patch/rocm-patch/internal/lazyre"
)

// Module is the kernel module every parameter of this layer belongs to.
const Module = "amdgpu"

// Paths on the machine, under the root.
const (
	// ConfPath is the one file the layer writes. modprobe reads only
	// files ending in .conf, so the temporary files beside it
	// (.rocm-patch-amdgpu.conf.tmp-*) are never read as configuration.
	ConfPath = "/etc/modprobe.d/rocm-patch-amdgpu.conf"
	// StateDir holds the state file and the backups.
	StateDir = "/var/lib/rocm-patch"
	// StatePath records what every apply wrote and replaced.
	StatePath = StateDir + "/kernel-state.json"
	// BackupDir keeps the files apply replaced. It is outside
	// modprobe.d on purpose: a backup there would be read as
	// configuration if its name ended in .conf.
	BackupDir = StateDir + "/backups"
)

// Param is one amdgpu module parameter with its value, as modprobe.d and
// sysfs name it ("noretry", "0").
type Param struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// String is the modprobe.d form, name=value.
func (p Param) String() string { return p.Name + "=" + p.Value }

// CmdLine is the kernel command line form, amdgpu.name=value.
func (p Param) CmdLine() string { return Module + "." + p.Name + "=" + p.Value }

// SettingID is the catalogue id of the parameter.
func (p Param) SettingID() string { return Module + "." + p.Name }

// ErrInvalid is wrapped when a parameter name or value cannot be written:
// bad syntax, out of range, another module, a name that does not exist.
var ErrInvalid = errors.New("invalid amdgpu parameter")

// ErrUnknown is wrapped when a well-formed parameter is not in the settings
// catalogue and unknown parameters are not allowed.
var ErrUnknown = errors.New("unknown amdgpu parameter")

var (
	namePattern = lazyre.New(`^[a-z0-9_]{1,64}$`)
	// decimal is a canonical integer: the kernel reads parameters with
	// kstrtoint/kstrtouint in base 0, where a leading 0 means octal.
	decimal  = lazyre.New(`^(0|-?[1-9][0-9]{0,18})$`)
	hexValue = lazyre.New(`^0x[0-9a-f]{1,16}$`)
)

// ParseAssignment reads one assignment as a user writes it on the command
// line: "name=value" or "amdgpu.name=value". A prefix naming another module
// ("nouveau.modeset=0") is refused: this layer writes amdgpu options only.
// The result still needs Validate.
func ParseAssignment(s string) (Param, error) {
	name, value, ok := strings.Cut(s, "=")
	if !ok {
		return Param{}, fmt.Errorf("%w: %q is not name=value", ErrInvalid, s)
	}
	if mod, rest, dotted := strings.Cut(name, "."); dotted {
		if mod != Module {
			return Param{}, fmt.Errorf("%w: %q is a parameter of module %q; rocm-patch writes amdgpu options only", ErrInvalid, name, mod)
		}
		name = rest
	}
	p := Param{Name: name, Value: value}
	if err := checkSyntax(p); err != nil {
		return Param{}, err
	}
	return p, nil
}

// checkSyntax is the part of validation that needs no catalogue: what any
// line of the file must satisfy so that it cannot say anything else than
// one assignment to one amdgpu parameter.
func checkSyntax(p Param) error {
	if !namePattern().MatchString(p.Name) {
		return fmt.Errorf("%w: name %q: want lower-case letters, digits and _ only", ErrInvalid, p.Name)
	}
	if !decimal().MatchString(p.Value) && !hexValue().MatchString(p.Value) {
		return fmt.Errorf("%w: %s: value %q is not an integer (decimal without leading zeros, or 0x hex)", ErrInvalid, p.Name, p.Value)
	}
	return nil
}

// Validate checks a parameter against the settings catalogue and returns
// its record, or nil for an unknown parameter that allowUnknown lets
// through. A known parameter's value must be a canonical 32-bit decimal
// integer that the catalogue accepts; an unknown one's an integer in
// decimal or 0x hex. A name the catalogue records as non-existent
// (gtt_size) is refused even with allowUnknown: the kernel would ignore it.
func Validate(k *kb.KB, p Param, allowUnknown bool) (*kb.Setting, error) {
	if err := checkSyntax(p); err != nil {
		return nil, err
	}
	s, ok := k.Setting(p.SettingID())
	if !ok || (s.Kind != kb.KindAMDGPUParam) {
		if !allowUnknown {
			return nil, fmt.Errorf("%w: %s is not in rocm-patch's settings catalogue (allow unknown parameters to write it anyway)", ErrUnknown, p.SettingID())
		}
		if decimal().MatchString(p.Value) {
			if _, err := strconv.ParseInt(p.Value, 10, 64); err != nil {
				return nil, fmt.Errorf("%w: %s: value %q is out of range", ErrInvalid, p.Name, p.Value)
			}
		}
		return nil, nil
	}
	if s.Invalid {
		return nil, fmt.Errorf("%w: amdgpu has no parameter %q, the kernel ignores it; the real setting is %s", ErrInvalid, p.Name, s.CorrectID)
	}
	n, err := strconv.ParseInt(p.Value, 10, 32)
	if err != nil || strconv.FormatInt(n, 10) != p.Value {
		return nil, fmt.Errorf("%w: %s: value %q is not a 32-bit decimal integer%s", ErrInvalid, s.ID, p.Value, valuesHint(s))
	}
	if !s.ValidValue(p.Value) {
		return nil, fmt.Errorf("%w: %s: value %q is out of range%s", ErrInvalid, s.ID, p.Value, valuesHint(s))
	}
	return s, nil
}

// valuesHint lists the documented values of a setting for an error.
func valuesHint(s *kb.Setting) string {
	if len(s.Values) == 0 {
		return ""
	}
	var vs []string
	for _, v := range s.Values {
		vs = append(vs, v.Value+" ("+v.Meaning+")")
	}
	return "; values: " + strings.Join(vs, ", ")
}

// sameValue reports whether two spellings of an integer parameter mean the
// same number, as sysfs prints it and as modprobe.d gives it ("0x10" and
// "16"); booleans print as Y/N. Anything else compares as text.
func sameValue(a, b string) bool {
	if a == b {
		return true
	}
	x, okx := intValue(a)
	y, oky := intValue(b)
	return okx && oky && x == y
}

func intValue(s string) (int64, bool) {
	switch s {
	case "Y", "y":
		return 1, true
	case "N", "n":
		return 0, true
	}
	if h, ok := strings.CutPrefix(strings.ToLower(s), "0x"); ok {
		u, err := strconv.ParseUint(h, 16, 64)
		return int64(u), err == nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}
