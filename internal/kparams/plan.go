package kparams

import (
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"

	"github.com/rocm-patch/rocm-patch/internal/envlayer"
	"github.com/rocm-patch/rocm-patch/internal/kb"
)

// GPU is what a plan needs to know about one AMD GPU.
type GPU struct {
	Index  int
	Name   string
	Target string
	Family string
	// VRAMBytes and VisibleVRAMBytes are the VRAM and the part of it the
	// CPU can address through the PCI BAR; 0 when unknown.
	VRAMBytes        uint64
	VisibleVRAMBytes uint64
	// GTTBytes is the GTT size the driver uses now; 0 when unknown.
	GTTBytes uint64
}

// LargeBAR reports whether all VRAM is CPU-visible (large BAR or
// Resizable BAR), nil when unknown. amdgpu's vm_update_mode default depends
// on it.
func (g GPU) LargeBAR() *bool {
	if g.VRAMBytes == 0 || g.VisibleVRAMBytes == 0 {
		return nil
	}
	large := g.VisibleVRAMBytes >= g.VRAMBytes
	return &large
}

// Label names the GPU for a user: index, name, target and family.
func (g GPU) Label() string {
	name := g.Name
	if name == "" {
		name = "unnamed GPU"
	}
	fam := g.Family
	if fam == "" {
		fam = "unknown family"
	}
	target := g.Target
	if target == "" {
		target = "unknown target"
	}
	return fmt.Sprintf("GPU %d (%s, %s, %s)", g.Index, name, target, fam)
}

// File is the state of one file on the machine.
type File struct {
	Exists bool
	Data   []byte
	Mode   fs.FileMode
}

// Machine is what Build knows about the machine; ReadMachine fills it.
type Machine struct {
	GPUs []GPU
	// Loaded is whether the amdgpu module is loaded; Live holds its
	// parameters as /sys/module/amdgpu/parameters shows them.
	Loaded bool
	Live   map[string]string
	// Current is ConfPath as it is now.
	Current File
	// Others are the amdgpu options set elsewhere (other modprobe.d files,
	// the kernel command line).
	Others []Source
	OS     OSRelease
	// Tools are the initramfs tools found (machine paths).
	Tools []string
	// State is the state file, nil when there is none.
	State *State
}

// Effect says what writing a parameter would change on the machine.
type Effect string

// The effects of a parameter.
const (
	// EffectChanges: the value differs from the driver's default on at
	// least one detected GPU.
	EffectChanges Effect = "changes"
	// EffectNoOp: the value is what the driver already uses on every
	// detected GPU (or it is ignored there).
	EffectNoOp Effect = "no-op"
	// EffectUnknown: it depends on a fact detect could not read (no GPU
	// detected, or whether all VRAM is CPU-visible).
	EffectUnknown Effect = "unknown"
	// EffectOtherHardware: the profile means it for GPUs this machine
	// does not have.
	EffectOtherHardware Effect = "other-hardware"
)

// Item is one parameter a plan considered.
type Item struct {
	Param Param
	// Setting is the catalogue record; nil for an unknown parameter let
	// through with AllowUnknown.
	Setting *kb.Setting
	// Explicit is true for a parameter the user gave (--set) rather than
	// the profile.
	Explicit bool
	// WrittenAs is the wrong name an earlier write-up used, if any.
	WrittenAs string
	// Why is the profile's reason for the parameter.
	Why string
	// MeantFor lists the GPUs the profile's only: selects; nil when the
	// parameter is meant for every GPU.
	MeantFor []int
	Effect   Effect
	// Reason explains Effect on this machine.
	Reason string
	// Live is the value the loaded driver uses now; LiveKnown is false
	// when amdgpu is not loaded or the parameter cannot be read.
	Live      string
	LiveKnown bool
	// Write is true when the parameter goes into the file.
	Write bool
}

// Request is what the user asked for.
type Request struct {
	// Profile may be nil: only Set is then considered.
	Profile *kb.Profile
	// Set are explicit assignments; one naming a profile parameter
	// replaces it.
	Set []Param
	// AllowUnknown lets well-formed parameters the catalogue does not
	// know through.
	AllowUnknown bool
	// IncludeNoOp writes the profile's parameters that change nothing
	// here too. Explicit ones are always written: the user insisted.
	IncludeNoOp bool
}

// Conflict is another source setting a parameter the plan writes.
type Conflict struct {
	Source Source
	// Same is true when it sets the same value.
	Same bool
}

// Plan is what apply would do on a machine.
type Plan struct {
	Profile string
	Items   []Item
	// Params are the parameters written, in file order.
	Params []Param
	// Content is the file apply writes; nil when NothingToDo.
	Content []byte
	Current File
	// Diff is the unified diff from Current to Content.
	Diff string
	// NothingToDo is true when no parameter would be written.
	NothingToDo bool
	// Unchanged is true when the file already holds exactly Content.
	Unchanged bool
	// CmdLine is the kernel command line equivalent of Params.
	CmdLine   string
	Initramfs Initramfs
	// GrubUpdate regenerates grub.cfg on this distribution; "" unknown.
	GrubUpdate string
	Conflicts  []Conflict
	GPUs       []GPU
	Loaded     bool
}

// Build decides what apply would write. It validates every parameter
// first (the profile's and the explicit ones): an error wraps ErrInvalid or
// ErrUnknown and no plan is returned.
func Build(k *kb.KB, m *Machine, req Request) (*Plan, error) {
	if k == nil || m == nil {
		return nil, errors.New("kparams: Build needs a knowledge base and a machine")
	}
	p := &Plan{Current: m.Current, GPUs: m.GPUs, Loaded: m.Loaded}
	var items []Item
	if req.Profile != nil {
		p.Profile = req.Profile.Name
		for _, ps := range req.Profile.Settings {
			param := Param{Name: strings.TrimPrefix(ps.Setting, Module+"."), Value: ps.Value}
			s, err := Validate(k, param, false)
			if err != nil {
				return nil, fmt.Errorf("profile %s: %w", req.Profile.Name, err)
			}
			it := Item{Param: param, Setting: s, WrittenAs: ps.WrittenAs, Why: ps.Why}
			if ps.Only != nil {
				it.MeantFor = []int{}
				for _, g := range m.GPUs {
					if ps.Only.Matches(g.Target, g.Family) {
						it.MeantFor = append(it.MeantFor, g.Index)
					}
				}
				if len(it.MeantFor) == 0 {
					it.Effect = EffectOtherHardware
					it.Reason = "meant for " + selectorText(ps.Only) + "; no detected GPU is one"
				}
			}
			items = append(items, it)
		}
	}
	given := map[string]bool{}
	for _, sp := range req.Set {
		s, err := Validate(k, sp, req.AllowUnknown)
		if err != nil {
			return nil, err
		}
		if given[sp.Name] {
			return nil, fmt.Errorf("%w: %s is given twice", ErrInvalid, sp.Name)
		}
		given[sp.Name] = true
		it := Item{Param: sp, Setting: s, Explicit: true, Why: "given with --set"}
		replaced := false
		for i := range items {
			if items[i].Param.Name == sp.Name {
				items[i], replaced = it, true
			}
		}
		if !replaced {
			items = append(items, it)
		}
	}

	for i := range items {
		it := &items[i]
		if m.Loaded {
			it.Live, it.LiveKnown = m.Live[it.Param.Name]
		}
		if it.Effect != EffectOtherHardware {
			it.Effect, it.Reason = effect(it, m)
		}
		switch {
		case it.Effect == EffectOtherHardware:
		case it.Explicit, it.Effect == EffectChanges, it.Effect == EffectUnknown:
			it.Write = true
		case it.Effect == EffectNoOp:
			it.Write = req.IncludeNoOp
		}
		if it.Write {
			p.Params = append(p.Params, it.Param)
		}
	}
	p.Items = items
	p.NothingToDo = len(p.Params) == 0
	if !p.NothingToDo {
		p.Content = Render(p.Profile, items)
		p.Unchanged = m.Current.Exists && string(m.Current.Data) == string(p.Content)
		var cmd []string
		for _, pr := range p.Params {
			cmd = append(cmd, pr.CmdLine())
		}
		p.CmdLine = strings.Join(cmd, " ")
		from := ConfPath + " (current)"
		if !m.Current.Exists {
			from = ConfPath + " (absent)"
		}
		p.Diff = UnifiedDiff(from, ConfPath+" (planned)", m.Current.Data, p.Content)
		for _, pr := range p.Params {
			for _, o := range m.Others {
				if o.Param.Name == pr.Name {
					p.Conflicts = append(p.Conflicts, Conflict{Source: o, Same: sameValue(o.Param.Value, pr.Value)})
				}
			}
		}
	}
	p.Initramfs = ChooseInitramfs(m.OS, m.Tools)
	p.GrubUpdate = GrubUpdate(m.OS)
	return p, nil
}

// effect evaluates a parameter against the detected GPUs. A module
// parameter applies to every GPU the driver runs, so it is a no-op only
// when it is one on each of them.
func effect(it *Item, m *Machine) (Effect, string) {
	s := it.Setting
	if s == nil {
		return EffectUnknown, "not in rocm-patch's settings catalogue, so nothing is known about it"
	}
	value := it.Param.Value
	if len(m.GPUs) == 0 {
		if noop, why := s.NoOp(value, kb.Context{}); noop {
			return EffectNoOp, why
		}
		return EffectUnknown, "no AMD GPU detected; whether it changes anything depends on the GPU"
	}
	var noopReasons, changes, unknown []string
	for _, g := range m.GPUs {
		ctx := kb.Context{GFXTarget: g.Target, Family: g.Family, LargeBAR: g.LargeBAR()}
		var noop bool
		var why string
		if ctx.LargeBAR == nil {
			f, t := false, true
			ctx.LargeBAR = &f
			noopSmall, whySmall := s.NoOp(value, ctx)
			ctx.LargeBAR = &t
			noopLarge, whyLarge := s.NoOp(value, ctx)
			if noopSmall != noopLarge {
				unknown = append(unknown, fmt.Sprintf("GPU %d: it depends on whether all VRAM is CPU-visible (large BAR), which detect could not read", g.Index))
				continue
			}
			noop, why = noopSmall, whySmall
			if whySmall != whyLarge {
				why = whySmall + " " + whyLarge
			}
		} else {
			noop, why = s.NoOp(value, ctx)
		}
		if noop {
			if !contains(noopReasons, why) {
				noopReasons = append(noopReasons, why)
			}
			continue
		}
		changes = append(changes, fmt.Sprintf("GPU %d (%s): default %s, this sets %s", g.Index, orUnknown(g.Target), defaultText(s, g, ctx.LargeBAR), value))
	}
	switch {
	case len(changes) > 0:
		if s.ID == "amdgpu.gttsize" {
			if why, ok := gttAlready(value, m); ok {
				return EffectNoOp, why
			}
			if now := gttNow(m); now != "" {
				changes = append(changes, now)
			}
		}
		return EffectChanges, strings.Join(append(changes, unknown...), "; ") + "."

	case len(unknown) > 0:
		return EffectUnknown, strings.Join(unknown, "; ")
	}
	return EffectNoOp, strings.Join(noopReasons, " ")
}

// gttAlready recognises a gttsize equal to the GTT the driver already uses
// with gttsize at its default: the catalogue cannot know the machine's
// memory, but mem_info_gtt_total does.
func gttAlready(value string, m *Machine) (string, bool) {
	mib, err := strconv.ParseUint(value, 10, 32)
	if err != nil || mib < 32 || !m.Loaded || m.Live["gttsize"] != "-1" {
		return "", false
	}
	for _, g := range m.GPUs {
		if g.GTTBytes == 0 || g.GTTBytes != mib<<20 {
			return "", false
		}
	}
	return fmt.Sprintf("the GTT is already %d MiB on this machine with gttsize at its default (mem_info_gtt_total).", mib), true
}

// gttNow says how large the GTT is now, when every GPU reports it.
func gttNow(m *Machine) string {
	var sizes []string
	for _, g := range m.GPUs {
		if g.GTTBytes == 0 {
			return ""
		}
		sizes = append(sizes, fmt.Sprintf("%d MiB", g.GTTBytes>>20))
	}
	return "the GTT is now " + strings.Join(sizes, ", ") + " (mem_info_gtt_total)"
}

// defaultText describes the default of a setting on a GPU.
func defaultText(s *kb.Setting, g GPU, largeBAR *bool) string {
	if s.ID == "amdgpu.vm_update_mode" && largeBAR != nil {
		if *largeBAR {
			return "2 with all VRAM CPU-visible (large BAR)"
		}
		return "0 without large BAR"
	}
	v, _ := s.Default.For(g.Target, g.Family)
	if v == "" {
		return "unknown"
	}
	for _, vd := range s.Values {
		if vd.Value == v {
			return v + " (" + vd.Meaning + ")"
		}
	}
	return v
}

func selectorText(s *kb.Selector) string {
	return strings.Join(append(append([]string(nil), s.Families...), s.Targets...), ", ")
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown target"
	}
	return s
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// commentWidth is where the file's comments wrap.
const commentWidth = 78

// Render writes the modprobe.d file for the items marked Write: a header
// saying who wrote it and how to undo it, then for each parameter a
// comment with its true meaning and one "options amdgpu name=value" line.
// The output depends on nothing else, so planning twice gives the same
// bytes and an apply that changes nothing can be recognised.
func Render(profile string, items []Item) []byte {
	var b strings.Builder
	source := "`rocm-patch kernel apply`"
	if profile != "" {
		source += " (profile " + profile + ")"
	}
	writeComment(&b, "Written by "+source+". `rocm-patch kernel rollback` restores what this file replaced; edit it only through rocm-patch.")
	for _, it := range items {
		if !it.Write {
			continue
		}
		b.WriteString("\n")
		what := "not in rocm-patch's settings catalogue; written because unknown parameters were allowed."
		if it.Setting != nil {
			what = strings.Join(strings.Fields(it.Setting.Meaning), " ")
		}
		writeComment(&b, it.Param.String()+": "+what)
		if it.Explicit {
			writeComment(&b, "Given with --set.")
		}
		fmt.Fprintf(&b, "options %s %s\n", Module, it.Param.String())
	}
	return []byte(b.String())
}

// writeComment writes text as '#' lines wrapped at commentWidth. Control
// characters are replaced first, so no text can end a comment early.
func writeComment(b *strings.Builder, text string) {
	line := "#"
	for _, w := range strings.Fields(envlayer.CommentSafe(text)) {
		if len(line)+1+len(w) > commentWidth && line != "#" {
			b.WriteString(line + "\n")
			line = "#"
		}
		line += " " + w
	}
	b.WriteString(line + "\n")
}

// CheckContent verifies that a file says nothing but comments, blank lines
// and "options amdgpu name=value" lines of well-formed parameters: the last
// check before bytes reach modprobe.d, whatever produced them.
func CheckContent(data []byte) error {
	for i, line := range strings.Split(string(data), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		rest, ok := strings.CutPrefix(line, "options "+Module+" ")
		if !ok {
			return fmt.Errorf("%w: line %d is not an amdgpu options line: %q", ErrInvalid, i+1, line)
		}
		for _, w := range strings.Split(rest, " ") {
			name, value, ok := strings.Cut(w, "=")
			if !ok {
				return fmt.Errorf("%w: line %d: %q is not name=value", ErrInvalid, i+1, w)
			}
			if err := checkSyntax(Param{Name: name, Value: value}); err != nil {
				return fmt.Errorf("line %d: %w", i+1, err)
			}
		}
	}
	return nil
}
