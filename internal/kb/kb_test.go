package kb

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"testing/fstest"
)

func mustLoad(t *testing.T) *KB {
	t.Helper()
	k, err := Load()
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return k
}

func TestLoadEmbedded(t *testing.T) {
	k := mustLoad(t)
	all := k.All()
	if len(all) < 20 {
		t.Fatalf("only %d entries", len(all))
	}
	ids := make([]string, len(all))
	for i, e := range all {
		ids[i] = e.ID
	}
	if !sort.StringsAreSorted(ids) {
		t.Errorf("All() not sorted by id: %v", ids)
	}
	// The issue asks for entries for every class and for these cases.
	classes := map[Class]bool{}
	for _, e := range all {
		classes[e.Class] = true
	}
	for _, c := range Classes {
		if !classes[c] {
			t.Errorf("no entry of class %s", c)
		}
	}
	for _, id := range []string{
		"eeg2025-eegnex-spatial-conv", // production issue 1
		"thermal-yolo-page-fault",     // production issue 2
		"hsa-override-malformed",      // malformed override
		"hsa-override-wrong-family",   // wrong override
		"rocm-torch-without-amd-gpu",  // ROCm build, no AMD GPU
		"wsl2-rocm-no-gpu",            // WSL2
	} {
		if _, ok := k.Get(id); !ok {
			t.Errorf("missing entry %s", id)
		}
	}
	if _, ok := k.Get("no-such-entry"); ok {
		t.Error("Get found an entry that does not exist")
	}
	// The embedded catalogue's value patterns compile on first use; each
	// must compile.
	for _, s := range k.Settings() {
		if _, err := s.valueRe.compile(); err != nil {
			t.Errorf("setting %s: value_pattern %q: %v", s.ID, s.ValuePattern, err)
		}
	}
	// Loading the embedded entries does not check their mitigations'
	// values against the catalogue (that would compile the patterns);
	// this does, as LoadFS does for any other input.
	for _, e := range all {
		for i, m := range e.Mitigations {
			if m.Setting == "" || m.Value == "" {
				continue
			}
			if s, ok := k.Setting(m.Setting); !ok || !s.ValidValue(m.Value) {
				t.Errorf("%s: mitigations[%d]: %q is not a valid value of %s", e.ID, i, m.Value, m.Setting)
			}
		}
	}
	// The same for the embedded ladder and kernel profiles.
	for i, step := range k.Ladder().Steps {
		for j, v := range step.Settings {
			if s, ok := k.Setting(v.Setting); !ok || (!v.Unset && v.Value != "" && !s.ValidValue(v.Value)) {
				t.Errorf("ladder.yaml: steps[%d].settings[%d]: %q is not a valid value of %s", i, j, v.Value, v.Setting)
			}
		}
	}
	for _, p := range k.Profiles() {
		for j, ps := range p.Settings {
			if s, ok := k.Setting(ps.Setting); !ok || !s.ValidValue(ps.Value) {
				t.Errorf("profiles.yaml: %s: settings[%d]: %q is not a valid value of %s", p.Name, j, ps.Value, ps.Setting)
			}
		}
	}
	for _, e := range all {
		if e.kb != k {
			t.Errorf("%s: not linked to its KB", e.ID)
		}
		// The embedded patterns are compiled on first use; each must
		// compile, with literals and an ERE form.
		for _, s := range e.AllSignatures() {
			p, err := s.Compile()
			if err != nil {
				t.Errorf("%s: signature %q: %v", e.ID, s.Pattern, err)
				continue
			}
			if len(p.Literals) == 0 || p.ERE == "" {
				t.Errorf("%s: signature %q not compiled with literals and ERE", e.ID, s.Pattern)
			}
		}
		if e.When != nil {
			if ps, err := e.When.ContextPatterns(); err != nil || len(ps) != len(e.When.Context) {
				t.Errorf("%s: when.context: %d patterns, %v", e.ID, len(ps), err)
			}
		}
	}
}

func TestSettingsCatalogueCoversFacts(t *testing.T) {
	k := mustLoad(t)
	// Every knob of shared/research/facts.md, plus the wrong name gtt_size.
	for _, id := range []string{
		"amdgpu.noretry", "amdgpu.vm_fragment_size", "amdgpu.vm_update_mode", "amdgpu.gttsize",
		"amdgpu.gtt_size", "ttm.pages_limit", "amdgpu.mtype_local", "amdgpu.cwsr_enable",
		"HSA_OVERRIDE_GFX_VERSION", "HSA_OVERRIDE_GFX_VERSION_N", "HSA_USE_SVM", "HSA_XNACK",
		"HSA_ENABLE_SDMA", "HSA_DISABLE_FRAGMENT_ALLOCATOR", "PYTORCH_NO_HIP_MEMORY_CACHING",
		"PYTORCH_NO_CUDA_MEMORY_CACHING", "PYTORCH_HIP_ALLOC_CONF", "PYTORCH_CUDA_ALLOC_CONF",
		"HIP_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES", "AMD_SERIALIZE_KERNEL",
	} {
		s, ok := k.Setting(id)
		if !ok {
			t.Errorf("settings.yaml lacks %s", id)
			continue
		}
		if s.Meaning == "" || s.Cost == "" || len(s.Source) == 0 {
			t.Errorf("%s: meaning, cost and source are required", id)
		}
	}
	// The claims of the first write-up that facts.md corrects must be
	// recorded where tools can show them.
	for _, id := range []string{"amdgpu.noretry", "amdgpu.vm_fragment_size", "amdgpu.gttsize", "amdgpu.gtt_size", "amdgpu.mtype_local"} {
		s, _ := k.Setting(id)
		if s == nil || len(s.WrongClaims) == 0 {
			t.Errorf("%s: no wrong_claims recorded", id)
		}
	}
	if s, _ := k.Setting("amdgpu.gtt_size"); s == nil || !s.Invalid || s.CorrectID != "amdgpu.gttsize" {
		t.Errorf("amdgpu.gtt_size must be marked invalid with correct_id amdgpu.gttsize")
	}
}

func b(v bool) *bool { return &v }

func TestNoOp(t *testing.T) {
	k := mustLoad(t)
	tests := []struct {
		id, value string
		ctx       Context
		want      bool
	}{
		{"HSA_XNACK", "0", Context{GFXTarget: "gfx1010"}, true},
		{"HSA_XNACK", "1", Context{GFXTarget: "gfx1100"}, true},
		{"HSA_XNACK", "1", Context{GFXTarget: "gfx90a"}, false},
		{"HSA_XNACK", "1", Context{}, false}, // unknown GPU: not sure, so not a no-op
		{"amdgpu.noretry", "0", Context{GFXTarget: "gfx1010"}, true},
		{"amdgpu.noretry", "0", Context{GFXTarget: "gfx1031"}, false},
		{"amdgpu.noretry", "1", Context{GFXTarget: "gfx1031"}, true},
		{"amdgpu.noretry", "1", Context{GFXTarget: "gfx1010"}, false},
		{"amdgpu.noretry", "1", Context{GFXTarget: "gfx900"}, true},
		{"amdgpu.noretry", "-1", Context{}, true},
		{"amdgpu.vm_fragment_size", "9", Context{GFXTarget: "gfx1012"}, true},
		{"amdgpu.vm_fragment_size", "9", Context{Family: "RDNA2"}, true},
		{"amdgpu.vm_fragment_size", "9", Context{GFXTarget: "gfx1100"}, false},
		{"amdgpu.vm_fragment_size", "12", Context{}, true},
		{"amdgpu.vm_fragment_size", "4", Context{GFXTarget: "gfx1010"}, false},
		{"amdgpu.mtype_local", "1", Context{GFXTarget: "gfx1010"}, true},
		{"amdgpu.mtype_local", "1", Context{GFXTarget: "gfx942"}, false},
		{"amdgpu.gtt_size", "8192", Context{}, true},
		{"amdgpu.gttsize", "16", Context{}, true},
		{"amdgpu.gttsize", "8192", Context{}, false},
		{"amdgpu.vm_update_mode", "0", Context{LargeBAR: b(false)}, true},
		{"amdgpu.vm_update_mode", "0", Context{LargeBAR: b(true)}, false},
		{"amdgpu.vm_update_mode", "0", Context{}, false},
		{"amdgpu.cwsr_enable", "1", Context{}, true},
		{"amdgpu.cwsr_enable", "0", Context{}, false},
		{"HSA_USE_SVM", "1", Context{}, true},
		{"HSA_USE_SVM", "0", Context{}, false},
		{"HSA_DISABLE_FRAGMENT_ALLOCATOR", "0", Context{}, true},
		{"PYTORCH_HIP_ALLOC_CONF", "expandable_segments:True", Context{Env: map[string]string{"PYTORCH_CUDA_ALLOC_CONF": "x:1"}}, true},
		{"PYTORCH_HIP_ALLOC_CONF", "expandable_segments:True", Context{}, false},
		{"HSA_OVERRIDE_GFX_VERSION", "10.3.0", Context{GFXTarget: "gfx1030"}, true},
		{"HSA_OVERRIDE_GFX_VERSION", "10.3.0", Context{GFXTarget: "gfx1031:xnack-"}, false},
		{"HSA_OVERRIDE_GFX_VERSION", "1030", Context{GFXTarget: "gfx1030"}, false},
		{"PYTORCH_NO_HIP_MEMORY_CACHING", "0", Context{}, false}, // older releases read any value as on
	}
	for _, tt := range tests {
		got, why, err := k.NoOp(tt.id, tt.value, tt.ctx)
		if err != nil {
			t.Fatalf("%s: %v", tt.id, err)
		}
		if got != tt.want {
			t.Errorf("NoOp(%s=%s, %+v) = %v (%q), want %v", tt.id, tt.value, tt.ctx, got, why, tt.want)
		}
		if got && why == "" {
			t.Errorf("NoOp(%s=%s): no reason given", tt.id, tt.value)
		}
	}
	if _, _, err := k.NoOp("NOPE", "1", Context{}); err == nil {
		t.Error("NoOp of an unknown setting did not fail")
	}
}

func TestDefaultFor(t *testing.T) {
	k := mustLoad(t)
	s, _ := k.Setting("amdgpu.noretry")
	for _, tt := range []struct{ target, want string }{
		{"gfx1010", "0"}, {"gfx1031", "1"}, {"gfx906", "1"}, {"gfx90c", "0"}, {"gfx1100", "1"},
	} {
		if got, ok := s.Default.For(tt.target, ""); !ok || got != tt.want {
			t.Errorf("noretry default on %s = %q, %v; want %q", tt.target, got, ok, tt.want)
		}
	}
	if got, ok := s.Default.For("", ""); ok || got != "-1" {
		t.Errorf("noretry default without GPU = %q, %v", got, ok)
	}
}

func TestCheckOverride(t *testing.T) {
	tests := []struct {
		value, own string
		want       OverrideKind
		target     string
	}{
		{"10.3.0", "gfx1010", OverrideOtherFamily, "gfx1030"},
		{"10.3.0", "gfx1012:xnack-", OverrideOtherFamily, "gfx1030"},
		{"10.3.0", "gfx1031", OverrideSameFamily, "gfx1030"},
		{"10.3.0", "gfx1030", OverrideSameTarget, "gfx1030"},
		{"11.0.0", "gfx1032", OverrideOtherFamily, "gfx1100"},
		{"10.3.0", "gfx1100", OverrideOtherFamily, "gfx1030"},
		{"11.0.0", "gfx1151", OverrideSameFamily, "gfx1100"},
		{"9.0.12", "gfx1010", OverrideOtherFamily, "gfx90c"},
		{"1030", "gfx1031", OverrideMalformed, ""},
		{"10.3.0 ", "gfx1031", OverrideMalformed, ""},
		{`"10.3.0"`, "gfx1031", OverrideMalformed, ""},
		{"gfx1030", "gfx1031", OverrideMalformed, ""},
		{"10.3.16", "gfx1031", OverrideUnnamed, ""},
		{"10.3.0", "", OverrideUnknownOwn, "gfx1030"},
		{"10.3.0", "gfx1250", OverrideUnknownOwn, "gfx1030"},
	}
	for _, tt := range tests {
		v := CheckOverride(tt.value, tt.own)
		if v.Kind != tt.want || v.Target != tt.target {
			t.Errorf("CheckOverride(%q, %q) = %s %q (%s), want %s %q", tt.value, tt.own, v.Kind, v.Target, v.Reason, tt.want, tt.target)
		}
		if v.Reason == "" {
			t.Errorf("CheckOverride(%q, %q): empty reason", tt.value, tt.own)
		}
		wantWrong := tt.want == OverrideMalformed || tt.want == OverrideUnnamed || tt.want == OverrideOtherFamily
		if v.Wrong() != wantWrong {
			t.Errorf("CheckOverride(%q, %q).Wrong() = %v", tt.value, tt.own, v.Wrong())
		}
	}
}

// representative targets per family, for checking mitigations.
var representative = map[string]string{
	"GCN5": "gfx906", "RDNA1": "gfx1010", "RDNA2": "gfx1031", "RDNA3": "gfx1100",
	"RDNA3.5": "gfx1151", "RDNA4": "gfx1201", "CDNA2": "gfx90a", "CDNA3": "gfx942",
}

// TestMitigationsAreNotNoOps guards the rule of facts.md: never recommend
// a setting that does nothing on the hardware the mitigation is for.
func TestMitigationsAreNotNoOps(t *testing.T) {
	k := mustLoad(t)
	for _, e := range k.All() {
		for i, m := range e.Mitigations {
			s := m.SettingInfo(k)
			if s == nil || m.Unset || s.Kind == KindPolicy {
				continue
			}
			var targets []string
			if m.Only != nil {
				targets = append(targets, m.Only.Targets...)
				for _, f := range m.Only.Families {
					targets = append(targets, representative[f])
				}
			} else if len(e.AppliesTo.Families) > 0 || len(e.AppliesTo.Targets) > 0 {
				targets = append(targets, e.AppliesTo.Targets...)
				for _, f := range e.AppliesTo.Families {
					if r := representative[f]; r != "" {
						targets = append(targets, r)
					}
				}
			} else {
				targets = []string{""}
			}
			for _, tg := range targets {
				if noop, why := s.NoOp(m.Value, Context{GFXTarget: tg}); noop {
					t.Errorf("%s: mitigations[%d] %s is a no-op on %q: %s", e.ID, i, m.SettingValue, tg, why)
				}
			}
		}
	}
}

func TestNoMalwareReference(t *testing.T) {
	// A crash-log thread links a password-protected "fix.zip": a known
	// malware pattern. No entry may point users at it, or at any archive.
	err := fs.WalkDir(embedded, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(embedded, path)
		if err != nil {
			return err
		}
		if strings.Contains(strings.ToLower(string(data)), "fix.zip") {
			t.Errorf("%s mentions fix.zip", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	archive := regexp.MustCompile(`(?i)\.(zip|rar|7z|exe|msi)(\?|#|$)`)
	for _, e := range mustLoad(t).All() {
		for _, r := range e.References {
			if archive.MatchString(r) {
				t.Errorf("%s: reference %s is a download, not a document", e.ID, r)
			}
		}
	}
}

// TestBodyExamplesAreRecognised checks that each entry's own examples (its
// code blocks) contain a line its signatures match.
func TestBodyExamplesAreRecognised(t *testing.T) {
	for _, e := range mustLoad(t).All() {
		for bi, block := range codeBlocks(e.Body) {
			if !anyLineMatches(e, block) {
				t.Errorf("%s: code block %d has no line its signatures match:\n%s", e.ID, bi, strings.Join(block, "\n"))
			}
		}
	}
}

func codeBlocks(body string) [][]string {
	var blocks [][]string
	var cur []string
	in := false
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			if in {
				blocks = append(blocks, cur)
				cur = nil
			}
			in = !in
			continue
		}
		if in {
			cur = append(cur, line)
		}
	}
	return blocks
}

func anyLineMatches(e *Entry, lines []string) bool {
	for _, l := range lines {
		for _, s := range e.AllSignatures() {
			if p, err := s.Compile(); err == nil && p.Re.MatchString(l) {
				return true
			}
		}
	}
	return false
}

func TestRenderEveryEntry(t *testing.T) {
	for _, e := range mustLoad(t).All() {
		var sb strings.Builder
		if err := e.Render(&sb); err != nil {
			t.Fatalf("%s: %v", e.ID, err)
		}
		out := sb.String()
		for _, want := range []string{e.ID + ": " + e.Title, "ROOT CAUSE", "WHAT TO DO", "SIGNATURES"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s: rendering lacks %q", e.ID, want)
			}
		}
		if len(e.Refuted) > 0 && !strings.Contains(out, "WHAT THE SOURCE SHOWS") {
			t.Errorf("%s: refuted settings not rendered", e.ID)
		}
	}
}

func TestRenderGolden(t *testing.T) {
	e, _ := mustLoad(t).Get("hsa-override-wrong-family")
	var sb strings.Builder
	if err := e.Render(&sb); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, filepath.Join("testdata", "render-hsa-override-wrong-family.golden"), sb.String())
}

// TestDocsUpToDate regenerates docs/issues/ in memory and compares it with
// the committed pages.
func TestDocsUpToDate(t *testing.T) {
	dir := filepath.Join("..", "..", "docs", "issues")
	k := mustLoad(t)
	want := map[string]bool{}
	for _, f := range k.Docs() {
		want[f.Name] = true
		got, err := os.ReadFile(filepath.Join(dir, f.Name))
		if err != nil {
			t.Errorf("docs/issues/%s is missing: run go generate ./internal/kb (%v)", f.Name, err)
			continue
		}
		if string(got) != string(f.Content) {
			t.Errorf("docs/issues/%s is stale: run go generate ./internal/kb", f.Name)
		}
	}
	pages, _ := filepath.Glob(filepath.Join(dir, "*.md"))
	for _, p := range pages {
		name := filepath.Base(p)
		if want[name] {
			continue
		}
		data, _ := os.ReadFile(p)
		if strings.HasPrefix(string(data), GeneratedMarker) {
			t.Errorf("docs/issues/%s belongs to no entry: run go generate ./internal/kb", name)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "TEMPLATE.md")); err != nil {
		t.Errorf("docs/issues/TEMPLATE.md is missing: %v", err)
	}
}

// validEntry is a minimal entry that loads; tests break one field at a
// time.
const validEntry = `---
id: %ID%
title: A test entry
class: gpu-hang
signatures:
  - pattern: 'GPU reset begin'
    rank: 70
root_cause: Because.
mitigations:
  - setting: HSA_XNACK
    value: "1"
    why: Because.
---
# Body
`

const validSettings = `schema: rocm-patch/settings/v1
settings:
  - id: HSA_XNACK
    kind: env
    name: HSA_XNACK
    meaning: m
    cost: none
    source: [ROCr]
    value_pattern: '0|1'
`

func testFS(entries map[string]string, settings string) fstest.MapFS {
	m := fstest.MapFS{"settings.yaml": {Data: []byte(settings)}}
	for name, body := range entries {
		m["entries/"+name] = &fstest.MapFile{Data: []byte(body)}
	}
	return m
}

func entry(id, old, new string) string {
	s := strings.ReplaceAll(validEntry, "%ID%", id)
	return strings.Replace(s, old, new, 1)
}

func TestLoadFSErrors(t *testing.T) {
	tests := []struct {
		name     string
		entries  map[string]string
		settings string
		want     []string // substrings of the error: file, field, reason
	}{
		{"valid", map[string]string{"a.md": entry("a", "", "")}, validSettings, nil},
		{"unknown class", map[string]string{"a.md": entry("a", "class: gpu-hang", "class: gpu-exploded")}, validSettings,
			[]string{"entries/a.md", "field class", "unknown class"}},
		{"new class with reason", map[string]string{"a.md": entry("a", "class: gpu-hang", "class: gpu-exploded\nclass_reason: Nothing else fits.")}, validSettings, nil},
		{"id differs from file", map[string]string{"a.md": entry("b", "", "")}, validSettings,
			[]string{"entries/a.md", "field id", "differs from the file name"}},
		{"id not kebab", map[string]string{"A_b.md": entry("A_b", "", "")}, validSettings,
			[]string{"field id", "kebab-case"}},
		{"bad regexp", map[string]string{"a.md": entry("a", "'GPU reset begin'", "'GPU (reset'")}, validSettings,
			[]string{"entries/a.md", "signatures[0].pattern", "missing closing )"}},
		{"no literal", map[string]string{"a.md": entry("a", "'GPU reset begin'", "'[0-9]+'")}, validSettings,
			[]string{"signatures[0].pattern", "declare literals"}},
		{"not ERE", map[string]string{"a.md": entry("a", "'GPU reset begin'", "'GPU reset.*?begin'")}, validSettings,
			[]string{"signatures[0].pattern", "non-greedy"}},
		{"rank", map[string]string{"a.md": entry("a", "rank: 70", "rank: 700")}, validSettings,
			[]string{"signatures[0].rank", "outside 1..100"}},
		{"empty title", map[string]string{"a.md": entry("a", "title: A test entry", "title: ''")}, validSettings,
			[]string{"entries/a.md", "field title", "empty"}},
		{"unknown field", map[string]string{"a.md": entry("a", "title: A test entry", "title: A test entry\ncolour: red")}, validSettings,
			[]string{"entries/a.md", "colour"}},
		{"unknown setting", map[string]string{"a.md": entry("a", "setting: HSA_XNACK", "setting: HSA_XNACKK")}, validSettings,
			[]string{"entries/a.md", "mitigations[0].setting", "unknown setting"}},
		{"bad setting value", map[string]string{"a.md": entry("a", `value: "1"`, `value: "2"`)}, validSettings,
			[]string{"mitigations[0].value", "not a valid value"}},
		{"setting and action", map[string]string{"a.md": entry("a", "    why: Because.", "    action: Do it.\n    why: Because.")}, validSettings,
			[]string{"mitigations[0]", "exactly one of setting or action"}},
		{"no front matter", map[string]string{"a.md": "# just markdown\n"}, validSettings,
			[]string{"entries/a.md", "no front matter"}},
		{"unclosed front matter", map[string]string{"a.md": "---\nid: a\n"}, validSettings,
			[]string{"entries/a.md", "closing line missing"}},
		{"unknown family", map[string]string{"a.md": entry("a", "class: gpu-hang", "class: gpu-hang\napplies_to:\n  families: [RDNA9]")}, validSettings,
			[]string{"applies_to.families[0]", "unknown family"}},
		{"borrow unknown", map[string]string{"a.md": entry("a", "root_cause:", "signatures_of: [nope]\nroot_cause:")}, validSettings,
			[]string{"signatures_of[0]", "unknown entry"}},
		{"fallout rank", map[string]string{"a.md": entry("a", "class: gpu-hang", "class: process-crash\nfallout: true")}, validSettings,
			[]string{"signatures[0].rank", "fallout"}},
		{"empty body", map[string]string{"a.md": strings.TrimSuffix(entry("a", "# Body\n", ""), "")}, validSettings,
			[]string{"field body", "empty"}},
		{"duplicate setting", map[string]string{"a.md": entry("a", "", "")}, validSettings + strings.TrimPrefix(validSettings, "schema: rocm-patch/settings/v1\nsettings:\n"),
			[]string{"settings.yaml", "duplicate id"}},
		{"setting kind", map[string]string{"a.md": entry("a", "", "")}, strings.Replace(validSettings, "kind: env", "kind: magic", 1),
			[]string{"settings.yaml", ".kind", "unknown kind"}},
		{"settings schema", map[string]string{"a.md": entry("a", "", "")}, strings.Replace(validSettings, "settings/v1", "settings/v9", 1),
			[]string{"settings.yaml", "schema"}},
		{"no entries", map[string]string{}, validSettings, []string{"no entries"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadFS(testFS(tt.entries, tt.settings))
			if tt.want == nil {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("loaded, want an error containing %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestParseEntryErrorIsFieldError(t *testing.T) {
	_, err := ParseEntry("entries/x.md", []byte("nope"))
	if !errors.Is(err, ErrNoFrontMatter) {
		t.Errorf("error %v does not wrap ErrNoFrontMatter", err)
	}
}
