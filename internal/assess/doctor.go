package assess

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/rocm-patch/rocm-patch/internal/hw"
	"github.com/rocm-patch/rocm-patch/internal/kb"
	"github.com/rocm-patch/rocm-patch/internal/system"
)

// FaultsBeforeCPU is how many GPU faults a supervised run survives on the
// GPU before it moves to the CPU: one fault can be bad luck, a second one
// in the same run is a pattern.
const FaultsBeforeCPU = 2

// overrideVar is the variable libhsakmt reads; the per-node form appends
// "_<KFD node id>".
const overrideVar = system.OverrideVar

// Doctor assesses sys with the knowledge base k and makes the plan of
// policy. It fails only for a missing argument or an unknown policy.
func Doctor(sys *system.System, k *kb.KB, policy Policy) (*Report, error) {
	if sys == nil {
		return nil, errors.New("assess: no system to assess")
	}
	if k == nil {
		return nil, errors.New("assess: no knowledge base")
	}
	if _, err := ParsePolicy(string(policy)); err != nil {
		return nil, fmt.Errorf("assess: %w", err)
	}
	a := newAssessor(sys, k)
	a.analyse()
	a.check()
	return a.report(policy), nil
}

// assessor holds one assessment in progress.
type assessor struct {
	sys      *system.System
	k        *kb.KB
	gpus     []*gpuState
	inUse    []*gpuState
	shipped  map[string][]string // gfx target -> installs that ship rocBLAS kernels for it
	findings []*finding
	// overrideLayer is the override part of the mitigate plan, computed
	// before findings so that their fixes name the same variables.
	overrideLayer []EnvVar
}

// gpuState is what the assessment learns about one GPU.
type gpuState struct {
	g      system.GPU
	inUse  bool
	own    string // the GPU's own target without features; "" when unknown
	family hw.Family
	label  string // "GPU 0 (AMD Radeon RX 6700 XT, gfx1031)"

	// The override in effect for this GPU, as libhsakmt picks it.
	ovName, ovValue string
	ovSet           bool
	verdict         kb.OverrideVerdict

	judged       bool   // own target known well enough to check kernels
	noKernels    bool   // nothing installed ships kernels for own or its family
	ownShipped   bool   // some install ships kernels for own
	familyTarget string // a shipped target of the same ISA family, else ""
	// effShipped: some install ships kernels for the target ROCm loads now.
	effShipped bool
	// want is the override value this GPU needs in a clean environment
	// ("" for none); final is what the mitigate layer gives it (the
	// user's own working override is kept).
	want, final string
	// unusable says why no run can use the GPU; "" when one can.
	unusable string

	risk    Risk
	reasons []reasonAt
}

type reasonAt struct {
	risk Risk
	text string
}

// finding is a Finding under construction, with the short reason it adds
// to its GPUs' risk.
type finding struct {
	Finding
	reason string
}

func newAssessor(sys *system.System, k *kb.KB) *assessor {
	a := &assessor{sys: sys, k: k, shipped: map[string][]string{}}
	for _, in := range sys.ROCm {
		for _, t := range in.ROCBLASTargets {
			a.shipped[baseTarget(t)] = appendUnique(a.shipped[baseTarget(t)], rocmLabel(in))
		}
	}
	for _, in := range sys.Torch {
		for _, t := range in.ROCBLASTargets {
			a.shipped[baseTarget(t)] = appendUnique(a.shipped[baseTarget(t)], torchLabel(in))
		}
	}
	for i := range sys.GPUs {
		g := sys.GPUs[i]
		s := &gpuState{g: g, risk: RiskNone}
		s.own = baseTarget(g.GFXTarget)
		s.family = hw.FamilyOf(s.own)
		s.inUse = g.Visible && g.Node != nil
		s.label = gpuLabel(g)
		a.gpus = append(a.gpus, s)
		if s.inUse {
			a.inUse = append(a.inUse, s)
		}
	}
	return a
}

// analyse works out, for every GPU in use, the override in effect, the
// kernels installed for it and the override it needs.
func (a *assessor) analyse() {
	for _, s := range a.inUse {
		s.ovName, s.ovValue, s.ovSet = a.overrideFor(s.g)
		if s.ovSet {
			s.verdict = kb.CheckOverride(s.ovValue, s.own)
		}
		switch {
		case !a.sys.KFDAccessible && !a.sys.WSL:
			s.unusable = "this user cannot open " + system.KFDDevice
		case s.g.RenderNode != "" && !s.g.RenderAccessible:
			s.unusable = "this user cannot open /dev/dri/" + clean(s.g.RenderNode)
		}
		_, perr := hw.ParseTarget(s.own)
		s.judged = s.own != "" && perr == nil && s.family != hw.Unknown
		if !s.judged {
			continue
		}
		s.ownShipped = len(a.shipped[s.own]) > 0
		s.familyTarget = a.familyTarget(s.own)
		switch {
		case s.ownShipped:
		case s.familyTarget != "":
			s.want = overrideValue(s.familyTarget)
		default:
			s.noKernels = true
			if s.unusable == "" {
				s.unusable = fmt.Sprintf("no install ships kernels for %s or its ISA family", s.own)
			}
		}
		eff := s.own
		if s.ovSet && s.verdict.Target != "" {
			eff = s.verdict.Target
		}
		s.effShipped = len(a.shipped[eff]) > 0
		s.final = s.want
		if s.ovSet && s.verdict.Kind == kb.OverrideSameFamily && s.effShipped {
			s.final = overrideValue(s.verdict.Target)
		}
	}
	// Fixes name the variables a layer would set once the GPU can be
	// used, so permissions do not count here; missing kernels do.
	var withKernels []*gpuState
	for _, s := range a.inUse {
		if !s.noKernels {
			withKernels = append(withKernels, s)
		}
	}
	a.overrideLayer = a.overrides(withKernels, false)
}

// overrideFor returns the override variable libhsakmt applies to g: the
// per-node one when set, else the global one.
func (a *assessor) overrideFor(g system.GPU) (name, value string, ok bool) {
	if g.Node == nil {
		return "", "", false
	}
	name = fmt.Sprintf("%s_%d", overrideVar, *g.Node)
	if v, ok := a.sys.Env[name]; ok {
		return name, v, true
	}
	if v, ok := a.sys.Env[overrideVar]; ok {
		return overrideVar, v, true
	}
	return "", "", false
}

// familyTarget picks the shipped target of own's generic ISA family with
// the lowest version: the one the family's common override names
// (gfx1030 for RDNA2, gfx1100 for RDNA3).
func (a *assessor) familyTarget(own string) string {
	var best string
	var bestV hw.GFXVersion
	for t := range a.shipped {
		if t == own || !hw.SameGenericFamily(own, t) {
			continue
		}
		v, err := hw.ParseTarget(t)
		if err != nil {
			continue
		}
		if best == "" || versionLess(v, bestV) {
			best, bestV = t, v
		}
	}
	return best
}

// usable lists the GPUs in use that a run can use.
func (a *assessor) usable() []*gpuState {
	var out []*gpuState
	for _, s := range a.inUse {
		if s.unusable == "" {
			out = append(out, s)
		}
	}
	return out
}

// check emits the findings.
func (a *assessor) check() {
	if a.sys.WSL {
		a.checkWSL()
	} else if len(a.sys.GPUs) == 0 {
		a.checkNoGPU()
	}
	for _, s := range a.gpus {
		if !s.inUse {
			if s.g.Node == nil {
				a.checkNoKFDNode(s)
			}
			continue
		}
		a.checkFamily(s)
		a.checkOverride(s)
		a.checkKernels(s)
		a.checkRender(s)
	}
	a.checkKFD()
	a.checkSettings()
	a.checkAllocator()
	a.applyRisk()
}

func (a *assessor) add(f *finding) {
	if len(f.GPUs) == 1 {
		i := f.GPUs[0]
		f.GPU = &i
	}
	if f.GPUs == nil {
		f.GPUs = []int{}
	}
	f.Message = oneLine(f.Message)
	f.Fix = oneLine(f.Fix)
	a.findings = append(a.findings, f)
}

// applyRisk raises every GPU to the risk of the findings that concern it.
func (a *assessor) applyRisk() {
	byIndex := map[int]*gpuState{}
	for _, s := range a.gpus {
		byIndex[s.g.Index] = s
	}
	for _, f := range a.findings {
		for _, i := range f.GPUs {
			if s, ok := byIndex[i]; ok && s.inUse {
				s.raise(f.Risk, f.reason)
			}
		}
	}
	for _, s := range a.inUse {
		if s.ovSet && s.verdict.Kind == kb.OverrideSameFamily && s.effShipped {
			s.raise(RiskLow, fmt.Sprintf("runs %s code through %s=%s (same ISA family, not official support)", s.verdict.Target, s.ovName, s.ovValue))
		}
	}
	for _, s := range a.gpus {
		sort.SliceStable(s.reasons, func(i, j int) bool { return s.reasons[i].risk.rank() > s.reasons[j].risk.rank() })
	}
}

func (s *gpuState) raise(r Risk, reason string) {
	s.risk = maxRisk(s.risk, r)
	if reason == "" {
		return
	}
	for _, old := range s.reasons {
		if old.text == reason {
			return
		}
	}
	s.reasons = append(s.reasons, reasonAt{risk: r, text: reason})
}

// entryFor finds the knowledge-base entry that documents what a finding
// found: first a specialisation whose hardware predicate is that very
// condition (and whose applies_to takes the GPU), then an entry of the
// class whose applies_to names the GPU, then a general one of the class.
// Specialisations keyed only on log context are for diagnose, not here.
func (a *assessor) entryFor(class kb.Class, pred kb.Predicate, s *gpuState) string {
	var specific, general string
	for _, e := range a.k.All() {
		if e.Class != class {
			continue
		}
		named := len(e.AppliesTo.Families) > 0 || len(e.AppliesTo.Targets) > 0
		fits := !named || (s != nil && s.judged && e.AppliesTo.Matches(s.own, string(s.family)))
		if !fits {
			continue
		}
		if e.When != nil {
			if pred != "" && e.When.Hardware == pred {
				return e.ID
			}
			continue
		}
		switch {
		case named && specific == "":
			specific = e.ID
		case !named && general == "":
			general = e.ID
		}
	}
	if specific != "" {
		return specific
	}
	return general
}

// report assembles the Report for policy.
func (a *assessor) report(policy Policy) *Report {
	r := &Report{Schema: Schema, Policy: policy, Risk: RiskNone, Reasons: []string{}, GPUs: []GPUReport{}, Findings: []Finding{}}
	plans := map[Policy]Plan{}
	for _, p := range Policies {
		pl := a.plan(p)
		plans[p] = pl
		r.Plans = append(r.Plans, pl)
	}
	r.Plan = plans[policy]
	for _, s := range a.gpus {
		gr := GPUReport{Index: s.g.Index, Name: s.g.Name, Target: s.g.GFXTarget, Family: string(s.family), InUse: s.inUse, Risk: s.risk, Reasons: []string{}}
		if s.g.GFXTarget == "" {
			gr.Family = ""
		}
		for _, rs := range s.reasons {
			gr.Reasons = append(gr.Reasons, rs.text)
		}
		if !s.inUse {
			gr.Reasons = append(gr.Reasons, notInUseReason(s.g))
		}
		for _, p := range Policies {
			gr.Decision.set(p, a.decide(s, plans[p]))
		}
		r.GPUs = append(r.GPUs, gr)
	}
	sortFindings(a.findings)
	for _, f := range a.findings {
		r.Findings = append(r.Findings, f.Finding)
	}
	// The machine's risk: the highest of any GPU in use and of the
	// findings that concern no GPU.
	for _, s := range a.inUse {
		r.Risk = maxRisk(r.Risk, s.risk)
	}
	for _, f := range a.findings {
		if len(f.GPUs) == 0 {
			r.Risk = maxRisk(r.Risk, f.Risk)
		}
	}
	for _, s := range a.inUse {
		if s.risk == r.Risk && r.Risk != RiskNone {
			for _, rs := range s.reasons {
				if rs.risk == r.Risk {
					r.Reasons = append(r.Reasons, fmt.Sprintf("GPU %d: %s", s.g.Index, rs.text))
				}
			}
		}
	}
	for _, f := range a.findings {
		if len(f.GPUs) == 0 && f.Risk == r.Risk && f.reason != "" {
			r.Reasons = append(r.Reasons, f.reason)
		}
	}
	return r
}

func notInUseReason(g system.GPU) string {
	if g.Node == nil {
		return "no KFD node: ROCm cannot use it, so no run does"
	}
	return fmt.Sprintf("hidden by %s: no run uses it", g.HiddenBy)
}

// severityRank orders findings: errors first.
func severityRank(s Severity) int {
	switch s {
	case SeverityError:
		return 0
	case SeverityWarning:
		return 1
	}
	return 2
}

func sortFindings(fs []*finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if severityRank(a.Severity) != severityRank(b.Severity) {
			return severityRank(a.Severity) < severityRank(b.Severity)
		}
		ai, bi := firstGPU(a), firstGPU(b)
		if ai != bi {
			return ai < bi
		}
		if a.ID != b.ID {
			return a.ID < b.ID
		}
		return a.Subject < b.Subject
	})
}

// firstGPU sorts machine findings before per-GPU ones.
func firstGPU(f *finding) int {
	if len(f.GPUs) == 0 {
		return -1
	}
	return f.GPUs[0]
}

// gpuLabel names a GPU the way every message does: index, name, target.
func gpuLabel(g system.GPU) string {
	name := oneLine(g.Name)
	target := oneLine(g.GFXTarget)
	if target == "" {
		target = "unknown target"
	}
	if name == "" {
		return fmt.Sprintf("GPU %d (%s)", g.Index, target)
	}
	return fmt.Sprintf("GPU %d (%s, %s)", g.Index, name, target)
}

// describe names a set of GPUs compactly: "GPU 0 (AMD Radeon RX 6800,
// gfx1030)", or "GPUs 0-7 (AMD Instinct MI300X, gfx942)" when they are
// alike.
func describe(gs []*gpuState) string {
	switch len(gs) {
	case 0:
		return "no GPU"
	case 1:
		return gs[0].label
	}
	same := true
	for _, s := range gs[1:] {
		if s.g.Name != gs[0].g.Name || s.g.GFXTarget != gs[0].g.GFXTarget {
			same = false
		}
	}
	if same {
		idx := make([]int, len(gs))
		for i, s := range gs {
			idx[i] = s.g.Index
		}
		name := oneLine(gs[0].g.Name)
		target := oneLine(gs[0].g.GFXTarget)
		if name == "" {
			return fmt.Sprintf("GPUs %s (%s)", indexRange(idx), orUnknownTarget(target))
		}
		return fmt.Sprintf("GPUs %s (%s, %s)", indexRange(idx), name, orUnknownTarget(target))
	}
	labels := make([]string, len(gs))
	for i, s := range gs {
		labels[i] = s.label
	}
	return strings.Join(labels, ", ")
}

func orUnknownTarget(t string) string {
	if t == "" {
		return "unknown target"
	}
	return t
}

// indexRange writes 0,1,2,3 as "0-3" and 0,2 as "0, 2".
func indexRange(idx []int) string {
	contiguous := true
	for i := 1; i < len(idx); i++ {
		if idx[i] != idx[i-1]+1 {
			contiguous = false
		}
	}
	if contiguous && len(idx) > 2 {
		return fmt.Sprintf("%d-%d", idx[0], idx[len(idx)-1])
	}
	parts := make([]string, len(idx))
	for i, v := range idx {
		parts[i] = fmt.Sprint(v)
	}
	return strings.Join(parts, ", ")
}

func indices(gs []*gpuState) []int {
	out := make([]int, len(gs))
	for i, s := range gs {
		out[i] = s.g.Index
	}
	return out
}

func rocmLabel(in system.Install) string {
	if in.Version != "" {
		return fmt.Sprintf("%s (ROCm %s)", clean(in.Path), clean(in.Version))
	}
	return clean(in.Path)
}

func torchLabel(in system.Install) string {
	if in.Version != "" {
		return fmt.Sprintf("PyTorch %s", clean(in.Version))
	}
	return "PyTorch at " + clean(in.Path)
}

func appendUnique(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

func baseTarget(t string) string {
	if i := strings.IndexByte(t, ':'); i >= 0 {
		return t[:i]
	}
	return t
}

// overrideValue is the HSA_OVERRIDE_GFX_VERSION that makes ROCm load code
// for target ("10.3.0" for gfx1030).
func overrideValue(target string) string {
	v, err := hw.ParseTarget(target)
	if err != nil {
		return ""
	}
	return v.String()
}

func versionLess(a, b hw.GFXVersion) bool {
	if a.Major != b.Major {
		return a.Major < b.Major
	}
	if a.Minor != b.Minor {
		return a.Minor < b.Minor
	}
	return a.Stepping < b.Stepping
}

// clean makes machine text safe for a one-line message: control
// characters become spaces.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s)
}

// oneLine collapses runs of white space (YAML block text, line breaks)
// into single spaces.
func oneLine(s string) string { return strings.Join(strings.Fields(clean(s)), " ") }

// shippedBy names the installs that ship kernels for target.
func (a *assessor) shippedBy(target string) string {
	return joinAnd(a.shipped[target])
}

func joinAnd(list []string) string {
	switch len(list) {
	case 0:
		return "nothing"
	case 1:
		return list[0]
	case 2:
		return list[0] + " and " + list[1]
	}
	return strings.Join(list[:len(list)-1], ", ") + " and " + list[len(list)-1]
}
