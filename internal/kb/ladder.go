package kb

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/rocm-patch/rocm-patch/internal/hw"
)

// LadderSchema names the format of ladder.yaml.
const LadderSchema = "rocm-patch/ladder/v1"

// ladderFileName is the retry ladder's file, beside settings.yaml.
const ladderFileName = "ladder.yaml"

// LadderDevice is where a ladder step runs the job.
type LadderDevice string

// The devices of a ladder step.
const (
	// LadderGPU: the step changes how the job uses the GPU.
	LadderGPU LadderDevice = "gpu"
	// LadderCPU: the step hides every GPU, so the job runs on the CPU.
	LadderCPU LadderDevice = "cpu"
)

// visibilitySettings are the variables that decide which GPUs a process
// sees. A GPU step must not touch them (it would quietly become a CPU
// step), and the CPU step must hide with the one that hides everything.
var visibilitySettings = []string{"ROCR_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES", "CUDA_VISIBLE_DEVICES", "GPU_DEVICE_ORDINAL"}

// hideAll is the setting that, set but empty, hides every GPU from ROCr
// and so from HIP and PyTorch above it (shared/research/facts.md).
const hideAll = "ROCR_VISIBLE_DEVICES"

// envName is what an environment variable's name must look like for the
// ladder to set it in a child's environment.
var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Ladder is the retry ladder of `rocm-patch run`: what each retry after a
// GPU fault changes. Attempt 1 runs the policy's plan; each retry climbs
// one GPU step and keeps the settings of the steps below it; the last
// attempt of a run takes the CPU step, when the policy allows a fallback.
// The steps are data (ladder.yaml) and name settings of the catalogue, so
// what they do and cost is written once.
type Ladder struct {
	// Steps are in climbing order: GPU steps, then at most one CPU step.
	Steps []*LadderStep `yaml:"steps"`
	// LeftOut records settings deliberately kept off the ladder and why,
	// so that nobody adds them back without reading the reason.
	LeftOut []LeftOut `yaml:"left_out"`
	// File is the path the ladder was loaded from; empty when the
	// knowledge base has none.
	File string `yaml:"-"`
}

// LadderStep is one rung: settings applied to the child's environment.
type LadderStep struct {
	// ID is kebab-case; history records it as the layer's name.
	ID     string       `yaml:"id"`
	Device LadderDevice `yaml:"device"`
	// Settings are environment settings of the catalogue, applied on top
	// of the plan's layer (and of the steps below, for GPU steps).
	Settings []SettingValue `yaml:"settings"`
	// Only narrows the step to some GPUs; elsewhere the step is skipped.
	Only *Selector `yaml:"only"`
	// Why says what the step is for; the cost of each setting is the
	// catalogue's.
	Why string `yaml:"why"`
}

// LeftOut is a setting the ladder does not use, with the reason.
type LeftOut struct {
	Setting string `yaml:"setting"`
	Why     string `yaml:"why"`
}

type ladderFile struct {
	Schema  string        `yaml:"schema"`
	Steps   []*LadderStep `yaml:"steps"`
	LeftOut []LeftOut     `yaml:"left_out"`
}

// Ladder returns the retry ladder. It is never nil: a knowledge base
// without ladder.yaml has an empty one, and retries then repeat the plan.
func (k *KB) Ladder() *Ladder {
	if k.ladder == nil {
		return &Ladder{}
	}
	return k.ladder
}

// GPUSteps returns the GPU steps in climbing order.
func (l *Ladder) GPUSteps() []*LadderStep {
	var out []*LadderStep
	for _, s := range l.Steps {
		if s.Device == LadderGPU {
			out = append(out, s)
		}
	}
	return out
}

// CPUStep returns the step that moves the job to the CPU, or nil.
func (l *Ladder) CPUStep() *LadderStep {
	for _, s := range l.Steps {
		if s.Device == LadderCPU {
			return s
		}
	}
	return nil
}

// parseLadder decodes and validates ladder.yaml against the settings
// catalogue. It never panics, whatever the input.
func parseLadder(name string, data []byte, settings map[string]*Setting) (*Ladder, error) {
	var lf ladderFile
	known, err := decodeKnown(data, &lf)
	if err != nil {
		return nil, &fieldError{file: name, err: err}
	}
	if lf.Schema != LadderSchema {
		return nil, ferr(name, "schema", "%q, want %q", lf.Schema, LadderSchema)
	}
	seen := map[string]bool{}
	for i, s := range lf.Steps {
		field := fmt.Sprintf("steps[%d]", i)
		if s == nil {
			return nil, ferr(name, field, "empty")
		}
		if s.ID != "" {
			field = fmt.Sprintf("steps[%d] (%s)", i, s.ID)
		}
		switch {
		case !idPattern.MatchString(s.ID):
			return nil, ferr(name, field+".id", "%q is not kebab-case", s.ID)
		case seen[s.ID]:
			return nil, ferr(name, field+".id", "duplicate id %q", s.ID)
		case strings.TrimSpace(s.Why) == "":
			return nil, ferr(name, field+".why", "empty: say what the step is for")
		}
		seen[s.ID] = true
		if err := checkSelector(name, field+".only", s.Only); err != nil {
			return nil, err
		}
		switch s.Device {
		case LadderGPU:
			if len(s.Settings) == 0 {
				return nil, ferr(name, field+".settings", "empty: a GPU step must change something")
			}
		case LadderCPU:
			if i != len(lf.Steps)-1 {
				return nil, ferr(name, field+".device", "the cpu step must be the last step")
			}
			if s.Only != nil {
				return nil, ferr(name, field+".only", "the cpu step applies to every GPU")
			}
		default:
			return nil, ferr(name, field+".device", "unknown device %q (gpu, cpu)", s.Device)
		}
		hides := false
		vars := map[string]bool{}
		for j, v := range s.Settings {
			sf := fmt.Sprintf("%s.settings[%d]", field, j)
			set, err := checkLadderSetting(name, sf, v, settings, known)
			if err != nil {
				return nil, err
			}
			if vars[set.Name] {
				return nil, ferr(name, sf+".setting", "%s is set twice in one step", set.Name)
			}
			vars[set.Name] = true
			visibility := contains(visibilitySettings, set.ID)
			if s.Device == LadderGPU {
				if visibility {
					return nil, ferr(name, sf+".setting", "%s decides which GPUs the job sees; a gpu step must not change it", set.ID)
				}
				if fam, why := noOpFamily(set, v.Value, s.Only); fam != "" {
					return nil, ferr(name, sf+".value", "%s is a no-op on %s (%s); narrow the step with only:", v, fam, why)
				}
			} else if !visibility {
				return nil, ferr(name, sf+".setting", "the cpu step only hides GPUs; %s is not a visibility variable", set.ID)
			}
			if set.ID == hideAll && !v.Unset && v.Value == "" {
				hides = true
			}
		}
		if s.Device == LadderCPU && !hides {
			return nil, ferr(name, field+".settings", `the cpu step must set %s to "" (set but empty hides every GPU)`, hideAll)
		}
	}
	for i, lo := range lf.LeftOut {
		field := fmt.Sprintf("left_out[%d]", i)
		if _, ok := settings[lo.Setting]; !ok {
			return nil, ferr(name, field+".setting", "unknown setting %q (see settings.yaml)", lo.Setting)
		}
		if strings.TrimSpace(lo.Why) == "" {
			return nil, ferr(name, field+".why", "empty: say why it is left out")
		}
		for _, s := range lf.Steps {
			for _, v := range s.Settings {
				if v.Setting == lo.Setting {
					return nil, ferr(name, field+".setting", "%q is left out but step %q uses it", lo.Setting, s.ID)
				}
			}
		}
	}
	return &Ladder{Steps: lf.Steps, LeftOut: lf.LeftOut, File: name}, nil
}

// checkLadderSetting checks that a step's setting can be applied to a
// child's environment by rocm-patch on its own. Values in the embedded
// ladder (known) of embedded settings are checked by the package's tests,
// which keeps the patterns' compilation off the load.
func checkLadderSetting(name, field string, v SettingValue, settings map[string]*Setting, known bool) (*Setting, error) {
	s, ok := settings[v.Setting]
	switch {
	case !ok:
		return nil, ferr(name, field+".setting", "unknown setting %q (see settings.yaml)", v.Setting)
	case s.Invalid:
		return nil, ferr(name, field+".setting", "%q does not exist; the real setting is %q", v.Setting, s.CorrectID)
	case s.Kind != KindEnv:
		return nil, ferr(name, field+".setting", "%q is a %s; only environment settings apply to one process (kernel parameters need a reboot)", v.Setting, s.Kind)
	case s.DebugAid:
		return nil, ferr(name, field+".setting", "%q is a debugging aid whose cost forbids applying it unasked", v.Setting)
	case !envName.MatchString(s.Name):
		return nil, ferr(name, field+".setting", "%q names no single variable (%s)", v.Setting, s.Name)
	case v.Unset && v.Value != "":
		return nil, ferr(name, field+".value", "a value and unset: true exclude each other")
	case !v.Unset && v.Value != "" && !(known && s.known) && !s.ValidValue(v.Value):
		return nil, ferr(name, field+".value", "%q is not a valid value of %s (pattern %s)", v.Value, s.ID, s.ValuePattern)
	}
	return s, nil
}

// noOpFamily returns the first family (or target) the step reaches on
// which the setting changes nothing, and the catalogue's reason.
func noOpFamily(s *Setting, value string, only *Selector) (string, string) {
	var reach []Context
	if only != nil {
		for _, t := range only.Targets {
			reach = append(reach, Context{GFXTarget: t})
		}
	}
	for _, fam := range Families {
		if only == nil || len(only.Families)+len(only.Targets) == 0 || contains(only.Families, string(fam)) {
			reach = append(reach, Context{Family: string(fam)})
		}
	}
	for _, c := range reach {
		if noop, why := s.NoOp(value, c); noop {
			if c.GFXTarget != "" {
				return c.GFXTarget, why
			}
			return c.Family, why
		}
	}
	return "", ""
}

func checkSelector(name, field string, s *Selector) error {
	if s == nil {
		return nil
	}
	for _, f := range s.Families {
		if !knownFamily(f) {
			return ferr(name, field+".families", "unknown family %q", f)
		}
	}
	for _, t := range s.Targets {
		if _, err := hw.ParseTarget(t); err != nil {
			return ferr(name, field+".gfx_targets", "%v", err)
		}
	}
	return nil
}
