package kb

import (
	"strings"
	"testing"
	"testing/fstest"
)

// TestEmbeddedLadder checks the shipped ladder's shape: what run relies on.
func TestEmbeddedLadder(t *testing.T) {
	k, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	l := k.Ladder()
	if l.File != "ladder.yaml" {
		t.Errorf("File = %q", l.File)
	}
	gpu := l.GPUSteps()
	if len(gpu) == 0 {
		t.Fatal("no gpu step")
	}
	if gpu[0].ID != "allocator" || gpu[0].Settings[0].Setting != "PYTORCH_HIP_ALLOC_CONF" {
		t.Errorf("first gpu step = %+v", gpu[0])
	}
	cpu := l.CPUStep()
	if cpu == nil || l.Steps[len(l.Steps)-1] != cpu {
		t.Fatal("the cpu step must exist and be last")
	}
	got := map[string]string{}
	for _, v := range cpu.Settings {
		got[v.Setting] = v.Value
	}
	for _, name := range []string{"ROCR_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES", "CUDA_VISIBLE_DEVICES"} {
		if v, ok := got[name]; !ok || v != "" {
			t.Errorf("cpu step: %s = %q, %v; want set and empty", name, v, ok)
		}
	}
	// Every step's settings must do something on the RDNA1/RDNA2 GPUs the
	// ladder exists for.
	for _, s := range l.Steps {
		for _, v := range s.Settings {
			for _, fam := range []string{"RDNA1", "RDNA2"} {
				noop, why, err := k.NoOp(v.Setting, v.Value, Context{Family: fam})
				if err != nil || noop {
					t.Errorf("%s: %s on %s: no-op %v (%s), %v", s.ID, v, fam, noop, why, err)
				}
			}
		}
	}
	for _, lo := range l.LeftOut {
		if _, ok := k.Setting(lo.Setting); !ok {
			t.Errorf("left_out names unknown %s", lo.Setting)
		}
	}
}

// TestLadderWithoutFile: a knowledge base without ladder.yaml loads, with
// an empty ladder.
func TestLadderWithoutFile(t *testing.T) {
	k, err := LoadFS(testFS(map[string]string{"a.md": entry("a", "", "")}, ladderSettings))
	if err != nil {
		t.Fatal(err)
	}
	if l := k.Ladder(); len(l.Steps) != 0 || l.CPUStep() != nil || l.GPUSteps() != nil {
		t.Errorf("ladder = %+v", l)
	}
}

// ladderSettings is a small catalogue with the kinds of setting the
// ladder's rules tell apart.
const ladderSettings = `schema: rocm-patch/settings/v1
settings:
  - id: HSA_XNACK
    kind: env
    name: HSA_XNACK
    meaning: m
    cost: none
    source: [ROCr]
    value_pattern: '0|1'
    no_op_when:
      - families: [RDNA1, RDNA2]
        reason: no XNACK on RDNA.
  - id: ALLOC
    kind: env
    name: ALLOC
    meaning: m
    cost: c
    source: [s]
    value_pattern: '[a-z]+'
  - id: SERIAL
    kind: env
    debug_aid: true
    name: SERIAL
    meaning: m
    cost: slow
    source: [s]
  - id: amdgpu.noretry
    kind: amdgpu-param
    module: amdgpu
    name: noretry
    meaning: m
    cost: c
    source: [s]
  - id: amdgpu.gtt_size
    kind: amdgpu-param
    module: amdgpu
    name: gtt_size
    meaning: m
    cost: none
    source: [s]
    invalid: true
    correct_id: amdgpu.noretry
  - id: NODE_N
    kind: env
    name: NODE_<n>
    meaning: m
    cost: c
    source: [s]
  - id: ROCR_VISIBLE_DEVICES
    kind: env
    name: ROCR_VISIBLE_DEVICES
    meaning: m
    cost: c
    source: [s]
  - id: HIP_VISIBLE_DEVICES
    kind: env
    name: HIP_VISIBLE_DEVICES
    meaning: m
    cost: c
    source: [s]
    value_pattern: '[0-9]+(,[0-9]+)*'
`

const validLadder = `schema: rocm-patch/ladder/v1
steps:
  - id: alloc
    device: gpu
    settings:
      - {setting: ALLOC, value: strict}
    why: Because.
  - id: cpu
    device: cpu
    settings:
      - {setting: ROCR_VISIBLE_DEVICES, value: ""}
      - {setting: HIP_VISIBLE_DEVICES, value: ""}
    why: Finish.
left_out:
  - setting: SERIAL
    why: Slow.
`

func TestLadderErrors(t *testing.T) {
	tests := []struct {
		name   string
		ladder string
		want   []string // substrings of the error; nil: loads
	}{
		{"valid", validLadder, nil},
		{"only cpu", "schema: rocm-patch/ladder/v1\nsteps:\n  - id: cpu\n    device: cpu\n    settings: [{setting: ROCR_VISIBLE_DEVICES, value: ''}]\n    why: w\n", nil},
		{"empty", "schema: rocm-patch/ladder/v1\n", nil},
		{"schema", strings.Replace(validLadder, "ladder/v1", "ladder/v2", 1),
			[]string{"ladder.yaml", "field schema"}},
		{"unknown field", strings.Replace(validLadder, "why: Because.", "why: Because.\n    colour: red", 1),
			[]string{"ladder.yaml", "colour"}},
		{"unknown setting", strings.Replace(validLadder, "setting: ALLOC", "setting: ALOC", 1),
			[]string{"ladder.yaml", "steps[0] (alloc).settings[0].setting", `unknown setting "ALOC"`}},
		{"bad value", strings.Replace(validLadder, "value: strict", "value: STRICT", 1),
			[]string{"steps[0] (alloc).settings[0].value", "not a valid value"}},
		{"value and unset", strings.Replace(validLadder, "value: strict", "value: strict, unset: true", 1),
			[]string{"settings[0].value", "exclude each other"}},
		{"debug aid", strings.Replace(strings.Replace(validLadder, "setting: ALLOC, value: strict", "setting: SERIAL, value: '1'", 1), "left_out:\n  - setting: SERIAL\n    why: Slow.\n", "", 1),
			[]string{"settings[0].setting", "debugging aid"}},
		{"kernel param", strings.Replace(validLadder, "setting: ALLOC, value: strict", "setting: amdgpu.noretry, value: '1'", 1),
			[]string{"settings[0].setting", "amdgpu-param", "reboot"}},
		{"invalid name", strings.Replace(validLadder, "setting: ALLOC, value: strict", "setting: amdgpu.gtt_size, value: '1'", 1),
			[]string{"settings[0].setting", "does not exist"}},
		{"not one variable", strings.Replace(validLadder, "setting: ALLOC, value: strict", "setting: NODE_N, value: x", 1),
			[]string{"settings[0].setting", "names no single variable"}},
		{"no-op on a family", strings.Replace(validLadder, "setting: ALLOC, value: strict", "setting: HSA_XNACK, value: '0'", 1),
			[]string{"settings[0].value", "no-op on RDNA1", "no XNACK"}},
		{"narrowed past the no-op", strings.Replace(validLadder, "setting: ALLOC, value: strict}", "setting: HSA_XNACK, value: '0'}\n    only: {families: [CDNA2]}", 1), nil},
		{"no-op on a target", strings.Replace(validLadder, "setting: ALLOC, value: strict}", "setting: HSA_XNACK, value: '0'}\n    only: {gfx_targets: [gfx1031]}", 1),
			[]string{"no-op on gfx1031"}},
		{"unknown family", strings.Replace(validLadder, "why: Because.", "why: Because.\n    only: {families: [RDNA9]}", 1),
			[]string{"steps[0] (alloc).only.families", "RDNA9"}},
		{"bad target", strings.Replace(validLadder, "why: Because.", "why: Because.\n    only: {gfx_targets: [navi]}", 1),
			[]string{"steps[0] (alloc).only.gfx_targets"}},
		{"gpu step hides", strings.Replace(validLadder, "setting: ALLOC, value: strict", "setting: HIP_VISIBLE_DEVICES, value: '0'", 1),
			[]string{"settings[0].setting", "decides which GPUs"}},
		{"gpu step empty", strings.Replace(validLadder, "    settings:\n      - {setting: ALLOC, value: strict}\n", "", 1),
			[]string{"steps[0] (alloc).settings", "must change something"}},
		{"cpu not last", strings.Replace(validLadder+"  - id: more\n    device: gpu\n    settings: [{setting: ALLOC, value: x}]\n    why: w\n", "left_out:\n  - setting: SERIAL\n    why: Slow.\n", "", 1),
			[]string{"steps[1] (cpu).device", "must be the last"}},
		{"cpu does not hide", strings.Replace(validLadder, `{setting: ROCR_VISIBLE_DEVICES, value: ""}`, `{setting: ROCR_VISIBLE_DEVICES, value: "0"}`, 1),
			[]string{"steps[1] (cpu).settings", `ROCR_VISIBLE_DEVICES to ""`}},
		{"cpu sets more", strings.Replace(validLadder, `{setting: HIP_VISIBLE_DEVICES, value: ""}`, `{setting: ALLOC, value: x}`, 1),
			[]string{"steps[1] (cpu).settings[1].setting", "only hides"}},
		{"cpu narrowed", strings.Replace(validLadder, "why: Finish.", "why: Finish.\n    only: {families: [RDNA1]}", 1),
			[]string{"steps[1] (cpu).only", "every GPU"}},
		{"set twice", strings.Replace(validLadder, "      - {setting: ALLOC, value: strict}\n", "      - {setting: ALLOC, value: strict}\n      - {setting: ALLOC, value: lax}\n", 1),
			[]string{"settings[1].setting", "set twice"}},
		{"unknown device", strings.Replace(validLadder, "device: gpu", "device: tpu", 1),
			[]string{"steps[0] (alloc).device", "unknown device"}},
		{"duplicate id", strings.Replace(validLadder, "id: cpu", "id: alloc", 1),
			[]string{"steps[1] (alloc).id", "duplicate"}},
		{"id not kebab", strings.Replace(validLadder, "id: alloc", "id: Alloc_1", 1),
			[]string{"steps[0] (Alloc_1).id", "kebab-case"}},
		{"no why", strings.Replace(validLadder, "why: Because.", "why: ' '", 1),
			[]string{"steps[0] (alloc).why", "empty"}},
		{"left out unknown", strings.Replace(validLadder, "- setting: SERIAL", "- setting: SERIALL", 1),
			[]string{"left_out[0].setting", "unknown setting"}},
		{"left out but used", strings.Replace(validLadder, "- setting: SERIAL", "- setting: ALLOC", 1),
			[]string{"left_out[0].setting", `step "alloc" uses it`}},
		{"left out without why", strings.Replace(validLadder, "why: Slow.", "why: ''", 1),
			[]string{"left_out[0].why", "empty"}},
		{"null step", "schema: rocm-patch/ladder/v1\nsteps:\n  -\n", []string{"steps[0]", "empty"}},
		{"not yaml", "schema: [", []string{"ladder.yaml"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := testFS(map[string]string{"a.md": entry("a", "", "")}, ladderSettings)
			fsys["ladder.yaml"] = &fstest.MapFile{Data: []byte(tt.ladder)}
			k, err := LoadFS(fsys)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if k.Ladder().File != "ladder.yaml" {
					t.Errorf("File = %q", k.Ladder().File)
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

// FuzzParseLadder: any input is either a ladder or an error naming the
// file; never a panic, and a loaded ladder keeps its invariants.
func FuzzParseLadder(f *testing.F) {
	f.Add([]byte(validLadder))
	f.Add([]byte("schema: rocm-patch/ladder/v1\nsteps: [{id: a, device: cpu, why: w, settings: [{setting: ROCR_VISIBLE_DEVICES, value: ''}]}]\n"))
	settings, err := parseSettings("settings.yaml", []byte(ladderSettings))
	if err != nil {
		f.Fatal(err)
	}
	byID := map[string]*Setting{}
	for _, s := range settings {
		byID[s.ID] = s
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := parseLadder("ladder.yaml", data, byID)
		if err != nil {
			if !strings.Contains(err.Error(), "ladder.yaml") {
				t.Errorf("error does not name the file: %v", err)
			}
			return
		}
		for i, s := range l.Steps {
			if s.Device == LadderCPU && i != len(l.Steps)-1 {
				t.Errorf("cpu step %d of %d", i, len(l.Steps))
			}
			for _, v := range s.Settings {
				if _, ok := byID[v.Setting]; !ok {
					t.Errorf("unknown setting %q accepted", v.Setting)
				}
			}
		}
	})
}
