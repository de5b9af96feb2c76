package kb

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/rocm-patch/rocm-patch/internal/hw"
)

// SettingsSchema names the format of settings.yaml.
const SettingsSchema = "rocm-patch/settings/v1"

// SettingKind says which layer a setting belongs to and how it is applied.
type SettingKind string

// The kinds of setting.
const (
	// KindEnv is an environment variable read by ROCm or PyTorch.
	KindEnv SettingKind = "env"
	// KindAMDGPUParam is a parameter of the amdgpu kernel module
	// (amdgpu.<name>=<value> on the kernel command line, or
	// "options amdgpu <name>=<value>" in modprobe.d).
	KindAMDGPUParam SettingKind = "amdgpu-param"
	// KindKernelParam is a parameter of another kernel module or of the
	// kernel itself (ttm.pages_limit).
	KindKernelParam SettingKind = "kernel-param"
	// KindPolicy is a decision of rocm-patch's supervision layer (where a
	// job runs, how it is retried); it is not a knob of ROCm, but
	// mitigations must be able to name it like one.
	KindPolicy SettingKind = "policy"
)

// Setting is one knob, as the source code really treats it.
type Setting struct {
	// ID is how mitigations refer to the setting: the variable name for
	// env ("HSA_XNACK"), module.param for parameters ("amdgpu.noretry").
	ID   string      `yaml:"id"`
	Kind SettingKind `yaml:"kind"`
	// Name is what the user writes: the variable or the parameter name.
	Name string `yaml:"name"`
	// Module is the kernel module of a parameter.
	Module string `yaml:"module"`
	// ReadBy names the component that reads it (libhsakmt, ROCr, PyTorch).
	ReadBy string `yaml:"read_by"`
	// Meaning is what it really does.
	Meaning string `yaml:"meaning"`
	// Values documents the accepted values.
	Values []ValueDoc `yaml:"values"`
	// ValuePattern, when set, is a regular expression every value a
	// mitigation gives must match in full.
	ValuePattern string  `yaml:"value_pattern"`
	Default      Default `yaml:"default"`
	// NoOpWhen lists the cases where setting it changes nothing, first
	// match wins.
	NoOpWhen []Condition `yaml:"no_op_when"`
	// Cost is what it takes away (speed, safety, a tainted kernel).
	Cost string `yaml:"cost"`
	// Source names the files or pages the meaning was checked against.
	Source []string `yaml:"source"`
	// WrongClaims records what earlier write-ups said and what the source
	// shows instead.
	WrongClaims []WrongClaim `yaml:"wrong_claims"`
	// DebugAid marks a setting whose purpose is finding a bug and whose
	// cost (speed) forbids applying it unasked: tools may recommend it for
	// a diagnosis but must not put it in an environment layer by default.
	DebugAid bool `yaml:"debug_aid"`
	// Invalid marks a name that does not exist (amdgpu.gtt_size): it is in
	// the catalogue so that tools can say so. CorrectID names the real one.
	Invalid   bool     `yaml:"invalid"`
	CorrectID string   `yaml:"correct_id"`
	SeeAlso   []string `yaml:"see_also"`

	valueRe lazyRegexp
	// known: decoded from the embedded catalogue (see decodeKnown).
	known bool
}

// ValueDoc is one value and what it means.
type ValueDoc struct {
	Value   string `yaml:"value"`
	Meaning string `yaml:"meaning"`
}

// Default is a setting's default, per family or target where it differs.
type Default struct {
	Value string `yaml:"value"`
	// Families and Targets map to the effective default there; a target
	// entry wins over its family's.
	Families map[string]string `yaml:"families"`
	Targets  map[string]string `yaml:"gfx_targets"`
	// Older lists defaults that older kernels or releases declared, so
	// that a tool reading the live value does not take them for a user's
	// choice. Empty until a source for them is recorded.
	Older []string `yaml:"older"`
	Note  string   `yaml:"note"`
}

// For returns the effective default for a GPU, and false when the
// catalogue knows no per-family or per-target value (Value then applies).
func (d Default) For(target, family string) (string, bool) {
	if target != "" {
		base := target
		if i := strings.IndexByte(base, ':'); i >= 0 {
			base = base[:i]
		}
		if v, ok := d.Targets[base]; ok {
			return v, true
		}
		if family == "" {
			family = string(hw.FamilyOf(base))
		}
	}
	if v, ok := d.Families[family]; ok {
		return v, true
	}
	return d.Value, false
}

// WrongClaim is a claim of an earlier write-up and what the source shows.
type WrongClaim struct {
	Claim  string `yaml:"claim"`
	Truth  string `yaml:"truth"`
	Source string `yaml:"source"`
}

// Condition is one case in which a setting is a no-op. Every field that is
// set must hold.
type Condition struct {
	// Values: the value is one of these.
	Values []string `yaml:"values"`
	// ValuesNot: the value is none of these.
	ValuesNot []string `yaml:"values_not"`
	// Outside: the value is an integer outside [lo, hi].
	Outside []int `yaml:"outside"`
	// Below: the value is an integer below this.
	Below *int `yaml:"below"`
	// Families, Targets: the GPU is in one of them.
	Families []string `yaml:"families"`
	Targets  []string `yaml:"gfx_targets"`
	// LargeBAR: the GPU's VRAM is (true) or is not (false) all
	// CPU-visible.
	LargeBAR *bool `yaml:"large_bar"`
	// EnvSet: this other variable is set.
	EnvSet string `yaml:"env_set"`
	// OwnTarget: the value, read as HSA_OVERRIDE_GFX_VERSION, names the
	// GPU's own target.
	OwnTarget bool `yaml:"own_target"`
	// Always: holds unconditionally (a setting that does not exist).
	Always bool `yaml:"always"`
	// Reason is the sentence a tool shows.
	Reason string `yaml:"reason"`
}

// Context is what no-op evaluation knows about the GPU and environment.
// Zero fields mean "unknown", and a condition that needs an unknown fact
// does not hold: NoOp answers true only when it is sure.
type Context struct {
	// GFXTarget is the GPU's own target ("gfx1010").
	GFXTarget string
	// Family is the GPU's family; derived from GFXTarget when empty.
	Family string
	// LargeBAR is whether all VRAM is CPU-visible, nil when unknown.
	LargeBAR *bool
	// Env is the environment the setting would join.
	Env map[string]string
}

func (c Context) family() string {
	if c.Family != "" || c.GFXTarget == "" {
		return c.Family
	}
	return string(hw.FamilyOf(c.GFXTarget))
}

// NoOp reports whether setting the variable or parameter to value changes
// nothing in this context, and why. It is a pure function.
func (s *Setting) NoOp(value string, c Context) (bool, string) {
	value = strings.TrimSpace(value)
	for _, cond := range s.NoOpWhen {
		if cond.holds(value, c) {
			return true, cond.Reason
		}
	}
	return false, ""
}

func (cond Condition) holds(value string, c Context) bool {
	if cond.Always {
		return true
	}
	if len(cond.Values) > 0 && !contains(cond.Values, value) {
		return false
	}
	if len(cond.ValuesNot) > 0 && contains(cond.ValuesNot, value) {
		return false
	}
	if len(cond.Outside) == 2 {
		n, err := strconv.Atoi(value)
		if err != nil || (n >= cond.Outside[0] && n <= cond.Outside[1]) {
			return false
		}
	}
	if cond.Below != nil {
		n, err := strconv.Atoi(value)
		if err != nil || n >= *cond.Below {
			return false
		}
	}
	if len(cond.Families) > 0 || len(cond.Targets) > 0 {
		if c.GFXTarget == "" && c.Family == "" {
			return false
		}
		if !selectorMatches(cond.Families, cond.Targets, c.GFXTarget, c.family(), false) {
			return false
		}
	}
	if cond.LargeBAR != nil && (c.LargeBAR == nil || *c.LargeBAR != *cond.LargeBAR) {
		return false
	}
	if cond.EnvSet != "" {
		if _, ok := c.Env[cond.EnvSet]; !ok {
			return false
		}
	}
	if cond.OwnTarget {
		if c.GFXTarget == "" {
			return false
		}
		v, err := hw.ParseOverride(value)
		if err != nil {
			return false
		}
		t, err := v.Target()
		if err != nil || t != baseTarget(c.GFXTarget) {
			return false
		}
	}
	return true
}

func baseTarget(t string) string {
	if i := strings.IndexByte(t, ':'); i >= 0 {
		return t[:i]
	}
	return t
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// ValidValue reports whether a value is acceptable for the setting: it
// matches ValuePattern when one is declared.
func (s *Setting) ValidValue(v string) bool {
	re, err := s.valueRe.compile()
	if err != nil {
		return false // the catalogue's tests make this unreachable
	}
	return re == nil || re.MatchString(v)
}

type settingsFile struct {
	Schema   string     `yaml:"schema"`
	Settings []*Setting `yaml:"settings"`
}

// parseSettings decodes and validates settings.yaml.
func parseSettings(name string, data []byte) ([]*Setting, error) {
	var sf settingsFile
	known, err := decodeKnown(data, &sf)
	if err != nil {
		return nil, &fieldError{file: name, err: err}
	}
	if sf.Schema != SettingsSchema {
		return nil, ferr(name, "schema", "%q, want %q", sf.Schema, SettingsSchema)
	}
	seen := map[string]bool{}
	for i, s := range sf.Settings {
		field := fmt.Sprintf("settings[%d]", i)
		if s == nil {
			return nil, ferr(name, field, "empty")
		}
		if s.ID != "" {
			field = fmt.Sprintf("settings[%d] (%s)", i, s.ID)
		}
		switch {
		case s.ID == "":
			return nil, ferr(name, field+".id", "empty")
		case seen[s.ID]:
			return nil, ferr(name, field+".id", "duplicate id %q", s.ID)
		case s.Name == "":
			return nil, ferr(name, field+".name", "empty")
		case strings.TrimSpace(s.Meaning) == "":
			return nil, ferr(name, field+".meaning", "empty")
		case strings.TrimSpace(s.Cost) == "":
			return nil, ferr(name, field+".cost", "empty (write what it costs, or \"none\")")
		case len(s.Source) == 0:
			return nil, ferr(name, field+".source", "empty: every setting cites where its meaning was checked")
		}
		seen[s.ID] = true
		switch s.Kind {
		case KindEnv, KindPolicy:
		case KindAMDGPUParam:
			if s.Module != "amdgpu" {
				return nil, ferr(name, field+".module", "%q: amdgpu-param settings have module amdgpu", s.Module)
			}
		case KindKernelParam:
			if s.Module == "" {
				return nil, ferr(name, field+".module", "empty: name the kernel module")
			}
		default:
			return nil, ferr(name, field+".kind", "unknown kind %q (env, amdgpu-param, kernel-param, policy)", s.Kind)
		}
		if s.Invalid && s.CorrectID == "" {
			return nil, ferr(name, field+".correct_id", "an invalid name must say which one is right")
		}
		s.known = known
		if s.ValuePattern != "" {
			s.valueRe.src = `^(?:` + s.ValuePattern + `)$`
			if !known {
				if _, err := s.valueRe.compile(); err != nil {
					return nil, ferr(name, field+".value_pattern", "%v", err)
				}
			}
		}
		for fam := range s.Default.Families {
			if !knownFamily(fam) {
				return nil, ferr(name, field+".default.families", "unknown family %q", fam)
			}
		}
		for t := range s.Default.Targets {
			if _, err := hw.ParseTarget(t); err != nil {
				return nil, ferr(name, field+".default.gfx_targets", "%v", err)
			}
		}
		for j, c := range s.NoOpWhen {
			cf := fmt.Sprintf("%s.no_op_when[%d]", field, j)
			if strings.TrimSpace(c.Reason) == "" {
				return nil, ferr(name, cf+".reason", "empty")
			}
			if len(c.Outside) != 0 && len(c.Outside) != 2 {
				return nil, ferr(name, cf+".outside", "want [low, high]")
			}
			for _, fam := range c.Families {
				if !knownFamily(fam) {
					return nil, ferr(name, cf+".families", "unknown family %q", fam)
				}
			}
			for _, t := range c.Targets {
				if _, err := hw.ParseTarget(t); err != nil {
					return nil, ferr(name, cf+".gfx_targets", "%v", err)
				}
			}
		}
		for j, w := range s.WrongClaims {
			if strings.TrimSpace(w.Claim) == "" || strings.TrimSpace(w.Truth) == "" {
				return nil, ferr(name, fmt.Sprintf("%s.wrong_claims[%d]", field, j), "claim and truth are both required")
			}
		}
	}
	for i, s := range sf.Settings {
		if s.CorrectID != "" && !seen[s.CorrectID] {
			return nil, ferr(name, fmt.Sprintf("settings[%d] (%s).correct_id", i, s.ID), "unknown setting %q", s.CorrectID)
		}
		for _, id := range s.SeeAlso {
			if !seen[id] {
				return nil, ferr(name, fmt.Sprintf("settings[%d] (%s).see_also", i, s.ID), "unknown setting %q", id)
			}
		}
	}
	return sf.Settings, nil
}
