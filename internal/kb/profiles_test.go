package kb

import (
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
)

// TestEmbeddedProfiles checks the shipped profiles against what the
// research notes say (shared/research/facts.md) and what `rocm-patch
// kernel` relies on.
func TestEmbeddedProfiles(t *testing.T) {
	k, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if len(k.Profiles()) < 2 {
		t.Fatalf("profiles = %d, want recommended and thermal-2025", len(k.Profiles()))
	}
	rec, ok := k.Profile("recommended")
	if !ok {
		t.Fatal("no recommended profile")
	}
	// recommended must change nothing on RDNA1 and RDNA2: no amdgpu
	// parameter is known to help there.
	for _, ps := range rec.Settings {
		for _, fam := range []string{"RDNA1", "RDNA2"} {
			if ps.Only == nil || ps.Only.Matches("", fam) {
				t.Errorf("recommended: %s reaches %s", ps.SettingValue, fam)
			}
		}
		for _, fam := range []string{"RDNA3", "RDNA4"} {
			if !ps.Only.Matches("", fam) {
				t.Errorf("recommended: %s misses %s", ps.SettingValue, fam)
			}
		}
	}

	th, ok := k.Profile("thermal-2025")
	if !ok {
		t.Fatal("no thermal-2025 profile")
	}
	want := []string{"amdgpu.noretry=0", "amdgpu.vm_fragment_size=9", "amdgpu.vm_update_mode=0", "amdgpu.gttsize=8192"}
	var got []string
	for _, ps := range th.Settings {
		got = append(got, ps.SettingValue.String())
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("thermal-2025 = %v, want %v", got, want)
	}
	if th.Settings[3].WrittenAs != "amdgpu.gtt_size" {
		t.Errorf("gttsize written_as = %q", th.Settings[3].WrittenAs)
	}
	// The catalogue must know that noretry=0 and vm_fragment_size=9 are
	// already the RDNA1 defaults, and that vm_update_mode=0 is a no-op
	// only without large BAR.
	no, yes := false, true
	cases := []struct {
		id, value string
		c         Context
		noop      bool
	}{
		{"amdgpu.noretry", "0", Context{Family: "RDNA1"}, true},
		{"amdgpu.noretry", "0", Context{Family: "RDNA2"}, false},
		{"amdgpu.vm_fragment_size", "9", Context{Family: "RDNA1"}, true},
		{"amdgpu.vm_fragment_size", "9", Context{Family: "RDNA2"}, true},
		{"amdgpu.vm_fragment_size", "9", Context{Family: "RDNA3"}, false},
		{"amdgpu.vm_update_mode", "0", Context{Family: "RDNA1", LargeBAR: &no}, true},
		{"amdgpu.vm_update_mode", "0", Context{Family: "RDNA1", LargeBAR: &yes}, false},
		{"amdgpu.gttsize", "8192", Context{Family: "RDNA1"}, false},
	}
	for _, c := range cases {
		noop, _, err := k.NoOp(c.id, c.value, c.c)
		if err != nil || noop != c.noop {
			t.Errorf("%s=%s on %+v: noop %v, %v; want %v", c.id, c.value, c.c, noop, err, c.noop)
		}
	}
	for _, p := range k.Profiles() {
		if p.File != "profiles.yaml" {
			t.Errorf("%s: File = %q", p.Name, p.File)
		}
	}
	if _, ok := k.Profile("nope"); ok {
		t.Error("unknown profile found")
	}
}

// TestProfilesWithoutFile: a knowledge base without profiles.yaml loads,
// with no profiles.
func TestProfilesWithoutFile(t *testing.T) {
	k, err := LoadFS(testFS(map[string]string{"a.md": entry("a", "", "")}, ladderSettings))
	if err != nil {
		t.Fatal(err)
	}
	if len(k.Profiles()) != 0 {
		t.Errorf("profiles = %v", k.Profiles())
	}
}

const validProfiles = `schema: rocm-patch/profiles/v1
profiles:
  - name: p
    description: d
    settings:
      - setting: amdgpu.noretry
        value: "1"
        written_as: amdgpu.gtt_size
        only: {families: [RDNA3]}
        why: w
`

func TestParseProfilesErrors(t *testing.T) {
	tests := []struct {
		name     string
		old, new string
		want     string // "" for a valid file
	}{
		{"valid", "", "", ""},
		{"schema", "profiles/v1", "profiles/v0", "field schema"},
		{"unknown field", "    description: d", "    descr: d", "descr"},
		{"bad name", "name: p", "name: P_x", `profiles[0] (P_x).name: "P_x" is not kebab-case`},
		{"no description", "description: d", "description: ' '", "description: empty"},
		{"unknown setting", "setting: amdgpu.noretry", "setting: amdgpu.nope", `unknown setting "amdgpu.nope" (see settings.yaml)`},
		{"invalid setting", "setting: amdgpu.noretry\n        value: \"1\"\n        written_as: amdgpu.gtt_size", "setting: amdgpu.gtt_size\n        value: \"1\"", `"amdgpu.gtt_size" does not exist; the real setting is "amdgpu.noretry"`},
		{"env setting", "setting: amdgpu.noretry", "setting: ALLOC", "profiles hold amdgpu module parameters only"},
		{"unset", `value: "1"`, "unset: true", "unset"},
		{"empty value", `value: "1"`, `value: ""`, "value: empty"},
		{"bad value", `value: "1"`, `value: "x"`, `"x" is not`},
		{"octal value", `value: "1"`, `value: "01"`, "canonical 32-bit decimal"},
		{"no why", "why: w", "why: ''", "why: empty"},
		{"written_as unknown", "written_as: amdgpu.gtt_size", "written_as: amdgpu.x", `written_as: unknown setting "amdgpu.x"`},
		{"written_as valid name", "written_as: amdgpu.gtt_size", "written_as: HSA_XNACK", "is not an invalid name corrected to"},
		{"only empty", "only: {families: [RDNA3]}", "only: {}", "only: empty"},
		{"only family", "only: {families: [RDNA3]}", "only: {families: [RDNA9]}", `unknown family "RDNA9"`},
		{"only target", "only: {families: [RDNA3]}", "only: {gfx_targets: [gfxzz]}", "only.gfx_targets"},
		{"twice", "        why: w\n", "        why: w\n      - setting: amdgpu.noretry\n        value: \"0\"\n        why: w\n", "set twice"},
		{"duplicate", "        why: w\n", "        why: w\n  - name: p\n    description: d\n", `duplicate name "p"`},
		{"null profile", "profiles:\n", "profiles:\n  - null\n", "profiles[0]: empty"},
		{"not yaml", "schema:", "schema: [", "profiles.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := strings.Replace(validProfiles, tt.old, tt.new, 1)
			if tt.old != "" && data == validProfiles {
				t.Fatalf("replacement %q not found", tt.old)
			}
			fsys := testFS(map[string]string{"a.md": entry("a", "", "")}, ladderSettings)
			fsys["profiles.yaml"] = &fstest.MapFile{Data: []byte(data)}
			k, err := LoadFS(fsys)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				p, ok := k.Profile("p")
				if !ok || len(p.Settings) != 1 || p.Settings[0].Value != "1" {
					t.Errorf("profile = %+v", p)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted:\n%s", data)
			}
			if !strings.Contains(err.Error(), "profiles.yaml") || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q lacks profiles.yaml or %q", err, tt.want)
			}
		})
	}
}

// FuzzParseProfiles: the parser never panics, and what it accepts can be
// written to modprobe.d as it stands.
func FuzzParseProfiles(f *testing.F) {
	f.Add([]byte(validProfiles))
	f.Add([]byte("schema: rocm-patch/profiles/v1\nprofiles: [null]\n"))
	f.Add([]byte("schema: rocm-patch/profiles/v1\nprofiles:\n  - name: a\n    description: d\n    settings: [{setting: amdgpu.noretry, value: '-1', why: w}]\n"))
	settings, err := parseSettings("settings.yaml", []byte(ladderSettings))
	if err != nil {
		f.Fatal(err)
	}
	byID := map[string]*Setting{}
	for _, s := range settings {
		byID[s.ID] = s
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ps, err := parseProfiles("profiles.yaml", data, byID)
		if err != nil {
			if !strings.Contains(err.Error(), "profiles.yaml") {
				t.Errorf("error does not name the file: %v", err)
			}
			return
		}
		for _, p := range ps {
			if p.Name == "" || strings.TrimSpace(p.Description) == "" {
				t.Errorf("accepted %+v", p)
			}
			for _, s := range p.Settings {
				set := byID[s.Setting]
				if set == nil || set.Kind != KindAMDGPUParam || set.Invalid {
					t.Errorf("accepted setting %q", s.Setting)
				}
				if n, err := strconv.Atoi(s.Value); err != nil || strconv.Itoa(n) != s.Value {
					t.Errorf("accepted value %q", s.Value)
				}
			}
		}
	})
}
