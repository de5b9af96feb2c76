package kb

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/rocm-patch/rocm-patch/internal/hw"
)

// ProfilesSchema names the format of profiles.yaml.
const ProfilesSchema = "rocm-patch/profiles/v1"

// profilesFileName is the kernel-parameter profiles' file, beside
// settings.yaml.
const profilesFileName = "profiles.yaml"

// Profile is a named set of amdgpu module parameters that `rocm-patch
// kernel` can write to modprobe.d: the "Layer 1" of the project. What each
// parameter does and costs is the catalogue's (settings.yaml); a profile
// only says which values, for which GPUs, and why.
type Profile struct {
	// Name is kebab-case; users pick a profile with --profile NAME.
	Name string `yaml:"name"`
	// Description says what the profile is for and where it comes from.
	Description string `yaml:"description"`
	// Settings are amdgpu parameters of the catalogue with their values,
	// in the order the modprobe.d file lists them. May be empty: a profile
	// that has nothing to offer some hardware says so in its description.
	Settings []ProfileSetting `yaml:"settings"`
	// File is the path the profile was loaded from.
	File string `yaml:"-"`
}

// ProfileSetting is one parameter of a profile.
type ProfileSetting struct {
	SettingValue `yaml:",inline"`
	// Only narrows the setting to some GPUs. A module parameter applies to
	// every GPU the driver runs, so a tool includes the setting when at
	// least one detected GPU is selected, and says which.
	Only *Selector `yaml:"only"`
	// Why says why the profile holds the setting.
	Why string `yaml:"why"`
	// WrittenAs is the name an earlier write-up used for the setting, when
	// that name does not exist ("amdgpu.gtt_size" for amdgpu.gttsize): it
	// must be a catalogue setting marked invalid whose correct_id is this
	// setting, so tools can show the correction.
	WrittenAs string `yaml:"written_as"`
}

type profilesFile struct {
	Schema   string     `yaml:"schema"`
	Profiles []*Profile `yaml:"profiles"`
}

// Profiles returns the kernel-parameter profiles in file order; empty when
// the knowledge base has no profiles.yaml.
func (k *KB) Profiles() []*Profile {
	return append([]*Profile(nil), k.profiles...)
}

// Profile returns the profile with this name.
func (k *KB) Profile(name string) (*Profile, bool) {
	for _, p := range k.profiles {
		if p.Name == name {
			return p, true
		}
	}
	return nil, false
}

// parseProfiles decodes and validates profiles.yaml against the settings
// catalogue. It never panics, whatever the input.
func parseProfiles(name string, data []byte, settings map[string]*Setting) ([]*Profile, error) {
	var pf profilesFile
	known, err := decodeKnown(data, &pf)
	if err != nil {
		return nil, &fieldError{file: name, err: err}
	}
	if pf.Schema != ProfilesSchema {
		return nil, ferr(name, "schema", "%q, want %q", pf.Schema, ProfilesSchema)
	}
	seen := map[string]bool{}
	for i, p := range pf.Profiles {
		field := fmt.Sprintf("profiles[%d]", i)
		if p == nil {
			return nil, ferr(name, field, "empty")
		}
		if p.Name != "" {
			field = fmt.Sprintf("profiles[%d] (%s)", i, p.Name)
		}
		switch {
		case !idPattern.MatchString(p.Name):
			return nil, ferr(name, field+".name", "%q is not kebab-case", p.Name)
		case seen[p.Name]:
			return nil, ferr(name, field+".name", "duplicate name %q", p.Name)
		case strings.TrimSpace(p.Description) == "":
			return nil, ferr(name, field+".description", "empty")
		}
		seen[p.Name] = true
		used := map[string]bool{}
		for j, ps := range p.Settings {
			sf := fmt.Sprintf("%s.settings[%d]", field, j)
			if err := checkProfileSetting(name, sf, ps, settings, known); err != nil {
				return nil, err
			}
			if used[ps.Setting] {
				return nil, ferr(name, sf+".setting", "%s is set twice in one profile", ps.Setting)
			}
			used[ps.Setting] = true
		}
		p.File = name
	}
	return pf.Profiles, nil
}

// checkProfileSetting checks that rocm-patch could write the setting to
// modprobe.d as it stands: a real amdgpu parameter with a valid integer.
// Values in the embedded profiles (known) of embedded settings are checked
// by the package's tests, which keeps the patterns' compilation off the load.
func checkProfileSetting(name, field string, ps ProfileSetting, settings map[string]*Setting, known bool) error {
	s, ok := settings[ps.Setting]
	switch {
	case !ok:
		return ferr(name, field+".setting", "unknown setting %q (see settings.yaml)", ps.Setting)
	case s.Invalid:
		return ferr(name, field+".setting", "%q does not exist; the real setting is %q", ps.Setting, s.CorrectID)
	case s.Kind != KindAMDGPUParam:
		return ferr(name, field+".setting", "%q is a %s; profiles hold amdgpu module parameters only", ps.Setting, s.Kind)
	case ps.Unset:
		return ferr(name, field+".unset", "a profile sets parameters; leave a parameter out to keep its default")
	case ps.Value == "":
		return ferr(name, field+".value", "empty")
	case !(known && s.known) && !s.ValidValue(ps.Value):
		return ferr(name, field+".value", "%q is not a valid value of %s (pattern %s)", ps.Value, s.ID, s.ValuePattern)
	case strings.TrimSpace(ps.Why) == "":
		return ferr(name, field+".why", "empty: say why the profile holds it")
	}
	// The kernel reads integer parameters with kstrtoint, base 0: "010"
	// would be octal, so only the canonical decimal spelling is accepted.
	if n, err := strconv.ParseInt(ps.Value, 10, 32); err != nil || strconv.FormatInt(n, 10) != ps.Value {
		return ferr(name, field+".value", "%q is not a canonical 32-bit decimal integer", ps.Value)
	}
	if ps.WrittenAs != "" {
		w, ok := settings[ps.WrittenAs]
		switch {
		case !ok:
			return ferr(name, field+".written_as", "unknown setting %q (see settings.yaml)", ps.WrittenAs)
		case !w.Invalid || w.CorrectID != ps.Setting:
			return ferr(name, field+".written_as", "%q is not an invalid name corrected to %q in settings.yaml", ps.WrittenAs, ps.Setting)
		}
	}
	if ps.Only != nil {
		if len(ps.Only.Families)+len(ps.Only.Targets) == 0 {
			return ferr(name, field+".only", "empty: list families or gfx_targets, or leave only out")
		}
		for _, f := range ps.Only.Families {
			if !knownFamily(f) {
				return ferr(name, field+".only.families", "unknown family %q", f)
			}
		}
		for _, t := range ps.Only.Targets {
			if _, err := hw.ParseTarget(t); err != nil {
				return ferr(name, field+".only.gfx_targets", "%v", err)
			}
		}
	}
	return nil
}
