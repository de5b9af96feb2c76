package kb

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/rocm-patch/rocm-patch/internal/hw"
)

// Class is the kind of failure an entry describes. Run policy keys on it
// (a gpu-memory-fault may be retried, an unsupported-isa may not), so the
// set is closed: a new class needs a justification in its entry
// (Entry.ClassReason) and a decision in every consumer.
type Class string

// The classes of the knowledge base.
const (
	// ClassGPUMemoryFault: the GPU touched an address its page tables do
	// not map ("Memory access fault by GPU node-N ... Reason: Page not
	// present or supervisor privilege").
	ClassGPUMemoryFault Class = "gpu-memory-fault"
	// ClassApertureViolation: an access outside every legal aperture
	// (HSA_STATUS_ERROR_MEMORY_APERTURE_VIOLATION, code 0x29).
	ClassApertureViolation Class = "aperture-violation"
	// ClassIllegalAddress: HIP reports an illegal memory access
	// (hipErrorIllegalAddress), usually asynchronously.
	ClassIllegalAddress Class = "illegal-address"
	// ClassOutOfMemory: an allocation failed for lack of device memory or
	// runtime resources.
	ClassOutOfMemory Class = "out-of-memory"
	// ClassUnsupportedISA: no code object for the GPU's ISA, or code for
	// another ISA ran on it.
	ClassUnsupportedISA Class = "unsupported-isa"
	// ClassMissingArchLibrary: a math library (rocBLAS/Tensile, hipBLASLt,
	// MIOpen) has no kernels or database for the GPU's architecture.
	ClassMissingArchLibrary Class = "missing-arch-library"
	// ClassKernelPageFault: the amdgpu kernel driver logged a GPU VM page
	// fault (dmesg/journalctl).
	ClassKernelPageFault Class = "kernel-page-fault"
	// ClassGPUHang: a ring timed out, the GPU hung or was reset.
	ClassGPUHang Class = "gpu-hang"
	// ClassNoGPU: the runtime or framework sees no usable GPU.
	ClassNoGPU Class = "no-gpu"
	// ClassKFDPermission: /dev/kfd or the render node cannot be opened.
	ClassKFDPermission Class = "kfd-permission"
	// ClassWrongOverride: HSA_OVERRIDE_GFX_VERSION is malformed or names
	// another ISA family than the GPU's.
	ClassWrongOverride Class = "wrong-override"
	// ClassProcessCrash: the process died (abort, segfault). Usually the
	// fallout of another failure, and ranked below any specific one.
	ClassProcessCrash Class = "process-crash"
)

// Classes lists the classes in the order documentation presents them.
var Classes = []Class{
	ClassGPUMemoryFault, ClassApertureViolation, ClassIllegalAddress, ClassOutOfMemory,
	ClassUnsupportedISA, ClassMissingArchLibrary, ClassKernelPageFault, ClassGPUHang,
	ClassNoGPU, ClassKFDPermission, ClassWrongOverride, ClassProcessCrash,
}

// KnownClass reports whether c is one of Classes.
func KnownClass(c Class) bool {
	for _, k := range Classes {
		if k == c {
			return true
		}
	}
	return false
}

// Families are the GPU family names applies_to and settings may use, as
// package hw names them.
var Families = []hw.Family{
	hw.GCN4, hw.GCN5, hw.RDNA1, hw.RDNA2, hw.RDNA3, hw.RDNA35, hw.RDNA4,
	hw.CDNA1, hw.CDNA2, hw.CDNA3, hw.CDNA4,
}

func knownFamily(f string) bool {
	for _, k := range Families {
		if string(k) == f {
			return true
		}
	}
	return false
}

// Entry is one known issue: the front matter of entries/<id>.md plus its
// Markdown body.
type Entry struct {
	// ID is stable and kebab-case; it is also the file name.
	ID    string `yaml:"id"`
	Title string `yaml:"title"`
	Class Class  `yaml:"class"`
	// ClassReason justifies a class outside Classes; it must be empty
	// otherwise.
	ClassReason string    `yaml:"class_reason"`
	AppliesTo   AppliesTo `yaml:"applies_to"`
	// Signatures recognise the failure in a log. Each has its own
	// specificity rank.
	Signatures []*Signature `yaml:"signatures"`
	// SignaturesOf borrows the signatures of other entries, with their
	// ranks. When When is set, borrowed signatures count only if When
	// holds; this is how a specialisation (a known issue that shows the
	// same message as a generic one) is written.
	SignaturesOf []string `yaml:"signatures_of"`
	When         *When    `yaml:"when"`
	// Fallout marks an entry whose messages are consequences of other
	// failures (an abort, a segfault). Matchers rank fallout below every
	// other match, whatever the scores.
	Fallout bool `yaml:"fallout"`
	// RootCause says why it happens, in a paragraph.
	RootCause string `yaml:"root_cause"`
	// Mitigations are what to do, best first.
	Mitigations []Mitigation `yaml:"mitigations"`
	// Refuted lists settings that earlier write-ups recommended for this
	// issue and that the source shows do something else; renderers print
	// the setting's WrongClaims next to them.
	Refuted    []SettingValue `yaml:"refuted"`
	References []string       `yaml:"references"`

	// Body is the Markdown document after the front matter.
	Body string `yaml:"-"`
	// File is the entry's path in the file system it was loaded from.
	File string `yaml:"-"`

	kb       *KB
	borrowed []*Signature
	// known: decoded from an embedded file (see decodeKnown).
	known bool
}

// AppliesTo says where an issue occurs. Empty lists mean "any".
type AppliesTo struct {
	Families []string `yaml:"families"`
	Targets  []string `yaml:"gfx_targets"`
	// ROCm and Kernel are version ranges in prose-friendly form
	// (">= 6.0", "all"); they document, they do not filter.
	ROCm   string `yaml:"rocm"`
	Kernel string `yaml:"kernel"`
	// Platforms narrows to an environment: "linux", "wsl2", "windows".
	Platforms []string `yaml:"platforms"`
}

// Matches reports whether a GPU with this target (and family, which may
// be empty to derive it) is within Families/Targets. Empty lists match
// every GPU.
func (a AppliesTo) Matches(target, family string) bool {
	return selectorMatches(a.Families, a.Targets, target, family, true)
}

// selectorMatches is true when target is in targets or family in
// families. With both lists empty it returns emptyMeans.
func selectorMatches(families, targets []string, target, family string, emptyMeans bool) bool {
	if len(families) == 0 && len(targets) == 0 {
		return emptyMeans
	}
	if target != "" {
		base := target
		if i := strings.IndexByte(base, ':'); i >= 0 {
			base = base[:i]
		}
		for _, t := range targets {
			if t == base {
				return true
			}
		}
		if family == "" {
			family = string(hw.FamilyOf(base))
		}
	}
	for _, f := range families {
		if f == family {
			return true
		}
	}
	return false
}

// Signature is one regular expression that recognises the failure.
type Signature struct {
	// Pattern is Go RE2 syntax restricted to what POSIX ERE can say.
	// Variable parts (node numbers, handles, addresses, line numbers,
	// timestamps, pids) must be wildcards.
	Pattern string `yaml:"pattern"`
	// Rank is the specificity, 1 to 100: 90+ for a message that names the
	// failure outright, 60-89 for strong kernel or library messages, below
	// 60 for indirect evidence, below 30 for fallout.
	Rank int `yaml:"rank"`
	// Literals optionally declares the prefilter strings; by default they
	// are derived from Pattern.
	Literals []string `yaml:"literals"`

	// compiled is the pattern with its prefilter literals (see Compile).
	compiled lazyPattern
	// Entry is the entry that declares the signature.
	Entry *Entry `yaml:"-"`
}

// Predicate names a fact about the machine that a specialised entry needs.
// Matchers evaluate it from the detected system, or from the log itself
// when the log shows it.
type Predicate string

// The predicates When.Hardware may name.
const (
	// PredAppliesTo: a visible GPU is within the entry's applies_to.
	PredAppliesTo Predicate = "applies-to"
	// PredOverrideWrongFamily: HSA_OVERRIDE_GFX_VERSION makes ROCm load
	// code of another ISA family than a GPU's own.
	PredOverrideWrongFamily Predicate = "override-wrong-family"
	// PredOverrideMalformed: HSA_OVERRIDE_GFX_VERSION does not parse.
	PredOverrideMalformed Predicate = "override-malformed"
	// PredNoAMDGPU: the machine has no AMD GPU.
	PredNoAMDGPU Predicate = "no-amd-gpu"
	// PredWSL: running under WSL2.
	PredWSL Predicate = "wsl"
	// PredKFDInaccessible: /dev/kfd exists but cannot be opened.
	PredKFDInaccessible Predicate = "kfd-inaccessible"
)

var predicates = []Predicate{PredAppliesTo, PredOverrideWrongFamily, PredOverrideMalformed, PredNoAMDGPU, PredWSL, PredKFDInaccessible}

// When makes an entry a specialisation: its borrowed signatures count only
// when a context pattern occurs somewhere in the log, or when the hardware
// predicate holds.
type When struct {
	Context  []string  `yaml:"context"`
	Hardware Predicate `yaml:"hardware"`

	// contexts holds the compiled Context patterns (see ContextPatterns).
	contexts []lazyPattern
}

// SettingValue names a setting of the catalogue and a value for it, or
// asks for it to be unset. Mitigations, refutations and later data files
// (ladders, profiles) use it.
type SettingValue struct {
	Setting string `yaml:"setting"`
	Value   string `yaml:"value"`
	Unset   bool   `yaml:"unset"`
}

// String renders the assignment as a user would write it: NAME=value,
// "unset NAME", amdgpu.noretry=0.
func (v SettingValue) String() string {
	if v.Unset {
		return "unset " + v.Setting
	}
	return v.Setting + "=" + v.Value
}

// Mitigation is one thing to do: a setting with a value, or an action in
// words when no setting expresses it (install a wheel, join a group).
type Mitigation struct {
	SettingValue `yaml:",inline"`
	Action       string `yaml:"action"`
	// Why says what it changes and what it costs, in a sentence or two.
	Why string `yaml:"why"`
	// Only narrows the mitigation to some GPUs (for example the override
	// 10.3.0 only for gfx1031-gfx1036).
	Only *Selector `yaml:"only"`
}

// Selector picks GPUs by family or target; empty lists match every GPU.
type Selector struct {
	Families []string `yaml:"families"`
	Targets  []string `yaml:"gfx_targets"`
}

// Matches reports whether a GPU with this target and family is selected.
func (s *Selector) Matches(target, family string) bool {
	if s == nil {
		return true
	}
	return selectorMatches(s.Families, s.Targets, target, family, true)
}

// Setting returns the catalogue record a mitigation refers to, or nil for
// an action.
func (m Mitigation) SettingInfo(k *KB) *Setting {
	if m.Setting == "" || k == nil {
		return nil
	}
	s, _ := k.Setting(m.Setting)
	return s
}

// AllSignatures returns the entry's own signatures followed by the
// borrowed ones. Borrowed signatures keep their Entry field pointing at
// the entry that declares them.
func (e *Entry) AllSignatures() []*Signature {
	out := make([]*Signature, 0, len(e.Signatures)+len(e.borrowed))
	out = append(out, e.Signatures...)
	return append(out, e.borrowed...)
}

// Borrowed returns only the signatures taken from SignaturesOf.
func (e *Entry) Borrowed() []*Signature { return append([]*Signature(nil), e.borrowed...) }

// Specialisation reports whether the entry has a When clause.
func (e *Entry) Specialisation() bool { return e.When != nil }

var idPattern = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// fieldError names the file and field that failed validation.
type fieldError struct {
	file, field string
	err         error
}

func (e *fieldError) Error() string {
	if e.field == "" {
		return fmt.Sprintf("%s: %v", e.file, e.err)
	}
	return fmt.Sprintf("%s: field %s: %v", e.file, e.field, e.err)
}

func (e *fieldError) Unwrap() error { return e.err }

func ferr(file, field string, format string, args ...any) error {
	return &fieldError{file: file, field: field, err: fmt.Errorf(format, args...)}
}

// ErrNoFrontMatter is wrapped when an entry file does not start with a
// YAML front matter block.
var ErrNoFrontMatter = errors.New(`no front matter: the file must start with a line "---", then YAML, then a line "---"`)

// splitFrontMatter separates the YAML block from the Markdown body.
func splitFrontMatter(data []byte) (front, body []byte, err error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	rest, ok := cutLine(data, "---")
	if !ok {
		return nil, nil, ErrNoFrontMatter
	}
	for off := 0; off <= len(rest); {
		nl := bytes.IndexByte(rest[off:], '\n')
		var line []byte
		next := len(rest)
		if nl >= 0 {
			line = rest[off : off+nl]
			next = off + nl + 1
		} else {
			line = rest[off:]
		}
		if string(bytes.TrimRight(line, "\r \t")) == "---" {
			return rest[:off], rest[next:], nil
		}
		if nl < 0 {
			break
		}
		off = next
	}
	return nil, nil, fmt.Errorf("%w (closing line missing)", ErrNoFrontMatter)
}

// cutLine removes a first line equal to want (ignoring trailing
// whitespace and CR).
func cutLine(data []byte, want string) ([]byte, bool) {
	nl := bytes.IndexByte(data, '\n')
	if nl < 0 {
		return nil, false
	}
	if string(bytes.TrimRight(data[:nl], "\r \t")) != want {
		return nil, false
	}
	return data[nl+1:], true
}

// ParseEntry parses one entry file without cross-entry checks (borrowed
// signatures and setting references are resolved by LoadFS). name is used
// in errors and must be the file's path. It never panics, whatever the
// input.
func ParseEntry(name string, data []byte) (*Entry, error) {
	if e, ok := predecodedEntry(sha256.Sum256(data)); ok {
		return e.loaded(name)
	}
	front, body, err := splitFrontMatter(data)
	if err != nil {
		return nil, &fieldError{file: name, err: err}
	}
	var e Entry
	known, err := decodeKnown(front, &e)
	if err != nil {
		return nil, &fieldError{file: name, err: fmt.Errorf("front matter: %w", err)}
	}
	e.Body = entryBody(body)
	e.known = known
	return e.loaded(name)
}

// entryBody is the Markdown after the front matter, as Entry.Body holds it.
func entryBody(body []byte) string { return strings.TrimLeft(string(body), "\r\n") }

// loaded finishes an entry decoded from the file name: it validates it,
// compiling its patterns unless it was one of the embedded files.
func (e *Entry) loaded(name string) (*Entry, error) {
	e.File = name
	if err := e.validate(!e.known); err != nil {
		return nil, err
	}
	return e, nil
}

// validate checks the entry. With compileNow false the patterns are
// compiled on first use instead: for the embedded files, which the tests
// compile in full, that keeps their cost off rocm-patch's start-up.
func (e *Entry) validate(compileNow bool) error {
	f := e.File
	switch {
	case e.ID == "":
		return ferr(f, "id", "empty")
	case !idPattern.MatchString(e.ID):
		return ferr(f, "id", "%q is not kebab-case (lowercase letters, digits, single dashes)", e.ID)
	case strings.TrimSpace(e.Title) == "":
		return ferr(f, "title", "empty")
	case strings.ContainsAny(e.Title, "\n\r"):
		return ferr(f, "title", "must be one line")
	case e.Class == "":
		return ferr(f, "class", "empty")
	}
	if KnownClass(e.Class) {
		if e.ClassReason != "" {
			return ferr(f, "class_reason", "only a class outside the known list needs a reason")
		}
	} else {
		if !idPattern.MatchString(string(e.Class)) {
			return ferr(f, "class", "%q is not kebab-case", e.Class)
		}
		if strings.TrimSpace(e.ClassReason) == "" {
			return ferr(f, "class", "unknown class %q: use one of %v, or justify a new one in class_reason", e.Class, Classes)
		}
	}
	for i, fam := range e.AppliesTo.Families {
		if !knownFamily(fam) {
			return ferr(f, fmt.Sprintf("applies_to.families[%d]", i), "unknown family %q (known: %v)", fam, Families)
		}
	}
	for i, t := range e.AppliesTo.Targets {
		if _, err := hw.ParseTarget(t); err != nil {
			return ferr(f, fmt.Sprintf("applies_to.gfx_targets[%d]", i), "%v", err)
		}
	}
	for i, p := range e.AppliesTo.Platforms {
		switch p {
		case "linux", "wsl2", "windows":
		default:
			return ferr(f, fmt.Sprintf("applies_to.platforms[%d]", i), "unknown platform %q (linux, wsl2, windows)", p)
		}
	}
	if len(e.Signatures) == 0 && len(e.SignaturesOf) == 0 {
		return ferr(f, "signatures", "an entry needs signatures or signatures_of")
	}
	for i, s := range e.Signatures {
		field := fmt.Sprintf("signatures[%d]", i)
		if s == nil {
			return ferr(f, field, "empty")
		}
		if s.Rank < 1 || s.Rank > 100 {
			return ferr(f, field+".rank", "%d is outside 1..100", s.Rank)
		}
		if e.Fallout && s.Rank >= 30 {
			return ferr(f, field+".rank", "%d: fallout signatures rank below 30", s.Rank)
		}
		s.compiled.src, s.compiled.declared = s.Pattern, s.Literals
		if compileNow {
			if _, err := s.compiled.get(); err != nil {
				return ferr(f, field+".pattern", "%q: %v", s.Pattern, err)
			}
		}
		s.Entry = e
	}
	seen := map[string]bool{}
	for i, id := range e.SignaturesOf {
		if id == e.ID {
			return ferr(f, fmt.Sprintf("signatures_of[%d]", i), "an entry cannot borrow its own signatures")
		}
		if seen[id] {
			return ferr(f, fmt.Sprintf("signatures_of[%d]", i), "%q listed twice", id)
		}
		seen[id] = true
	}
	if e.When != nil {
		if len(e.When.Context) == 0 && e.When.Hardware == "" {
			return ferr(f, "when", "needs context or hardware")
		}
		if len(e.SignaturesOf) == 0 {
			return ferr(f, "when", "gates borrowed signatures; list them in signatures_of")
		}
		if e.When.Hardware != "" && !knownPredicate(e.When.Hardware) {
			return ferr(f, "when.hardware", "unknown predicate %q (known: %v)", e.When.Hardware, predicates)
		}
		if e.When.Hardware == PredAppliesTo && len(e.AppliesTo.Families) == 0 && len(e.AppliesTo.Targets) == 0 {
			return ferr(f, "when.hardware", "applies-to needs applies_to.families or gfx_targets")
		}
		e.When.contexts = make([]lazyPattern, len(e.When.Context))
		for i, c := range e.When.Context {
			e.When.contexts[i].src = c
			if compileNow {
				if _, err := e.When.contexts[i].get(); err != nil {
					return ferr(f, fmt.Sprintf("when.context[%d]", i), "%q: %v", c, err)
				}
			}
		}
	}
	if strings.TrimSpace(e.RootCause) == "" {
		return ferr(f, "root_cause", "empty")
	}
	if len(e.Mitigations) == 0 {
		return ferr(f, "mitigations", "at least one mitigation is needed")
	}
	for i, m := range e.Mitigations {
		field := fmt.Sprintf("mitigations[%d]", i)
		hasSetting := m.Setting != ""
		hasAction := strings.TrimSpace(m.Action) != ""
		switch {
		case hasSetting == hasAction:
			return ferr(f, field, "needs exactly one of setting or action")
		case hasAction && (m.Value != "" || m.Unset):
			return ferr(f, field, "value and unset belong to a setting")
		case hasSetting && m.Unset && m.Value != "":
			return ferr(f, field, "unset and value exclude each other")
		case hasSetting && !m.Unset && m.Value == "":
			return ferr(f, field+".value", "empty (write unset: true to remove a setting)")
		case strings.TrimSpace(m.Why) == "":
			return ferr(f, field+".why", "empty")
		}
		if m.Only != nil {
			for j, fam := range m.Only.Families {
				if !knownFamily(fam) {
					return ferr(f, fmt.Sprintf("%s.only.families[%d]", field, j), "unknown family %q", fam)
				}
			}
			for j, t := range m.Only.Targets {
				if _, err := hw.ParseTarget(t); err != nil {
					return ferr(f, fmt.Sprintf("%s.only.gfx_targets[%d]", field, j), "%v", err)
				}
			}
		}
	}
	for i, r := range e.Refuted {
		if r.Setting == "" {
			return ferr(f, fmt.Sprintf("refuted[%d].setting", i), "empty")
		}
	}
	for i, u := range e.References {
		if !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "http://") {
			return ferr(f, fmt.Sprintf("references[%d]", i), "%q is not an http(s) URL", u)
		}
	}
	if strings.TrimSpace(e.Body) == "" {
		return ferr(f, "body", "the Markdown document after the front matter is empty")
	}
	return nil
}

func knownPredicate(p Predicate) bool {
	for _, k := range predicates {
		if k == p {
			return true
		}
	}
	return false
}
