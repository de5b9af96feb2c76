package kb

import (
	"bufio"
	"fmt"
	"io"
	"sort"
	"strings"
)

// ClassDescription is one sentence per class, for listings and the index.
var ClassDescription = map[Class]string{
	ClassGPUMemoryFault:     "The GPU touched an address its page tables do not map (Memory access fault by GPU).",
	ClassApertureViolation:  "The GPU accessed memory outside every legal aperture (HSA_STATUS_ERROR_MEMORY_APERTURE_VIOLATION).",
	ClassIllegalAddress:     "HIP reported an illegal memory access (hipErrorIllegalAddress).",
	ClassOutOfMemory:        "An allocation failed for lack of device memory or runtime resources.",
	ClassUnsupportedISA:     "No code object for the GPU's ISA, or code for another ISA ran on it.",
	ClassMissingArchLibrary: "A math library (rocBLAS/Tensile, hipBLASLt, MIOpen) has no kernels for the GPU's architecture.",
	ClassKernelPageFault:    "The amdgpu kernel driver logged a GPU VM page fault.",
	ClassGPUHang:            "A ring timed out, the GPU hung or was reset.",
	ClassNoGPU:              "The runtime or framework sees no usable GPU.",
	ClassKFDPermission:      "/dev/kfd or the render node cannot be opened.",
	ClassWrongOverride:      "HSA_OVERRIDE_GFX_VERSION is malformed or names another ISA family than the GPU's.",
	ClassProcessCrash:       "The process aborted or crashed; usually the fallout of another failure.",
}

// familiesText lists the families and targets the entry applies to, or
// "all".
func (e *Entry) familiesText() string {
	var parts []string
	parts = append(parts, e.AppliesTo.Families...)
	parts = append(parts, e.AppliesTo.Targets...)
	if len(parts) == 0 {
		return "all"
	}
	return strings.Join(parts, ", ")
}

// Summary is the one-line form used by listings: id, class and title.
func (e *Entry) Summary() string {
	return fmt.Sprintf("%-30s %-20s %s", e.ID, e.Class, e.Title)
}

// Render prints the entry for a terminal, the way `rustc --explain` prints
// an error code: the title, where it applies, the human document, then the
// root cause, what to do, what the source shows about refuted settings,
// the signatures and the references. Lines are wrapped at 78 columns
// except for the document's code blocks.
func (e *Entry) Render(w io.Writer) error {
	bw := bufio.NewWriter(w)
	p := func(format string, args ...any) { fmt.Fprintf(bw, format, args...) }
	p("%s: %s\n\n", e.ID, e.Title)
	p("  class:       %s", e.Class)
	if d := ClassDescription[e.Class]; d != "" {
		p(" - %s", d)
	} else if e.ClassReason != "" {
		p(" - %s", e.ClassReason)
	}
	p("\n  applies to:  %s\n", e.familiesText())
	if e.AppliesTo.ROCm != "" {
		p("  ROCm:        %s\n", e.AppliesTo.ROCm)
	}
	if e.AppliesTo.Kernel != "" {
		p("  kernel:      %s\n", e.AppliesTo.Kernel)
	}
	if len(e.AppliesTo.Platforms) > 0 {
		p("  platforms:   %s\n", strings.Join(e.AppliesTo.Platforms, ", "))
	}
	if e.When != nil {
		p("  recognised:  %s\n", whenText(e))
	}
	if e.Fallout {
		p("  fallout:     yes, ranked below every other match\n")
	}
	p("\n")
	writeBody(bw, e.Body)

	p("\nROOT CAUSE\n\n")
	writeWrapped(bw, e.RootCause, "  ", "  ", 78)

	p("\nWHAT TO DO\n\n")
	for i, m := range e.Mitigations {
		head := fmt.Sprintf("%d. ", i+1)
		text := mitigationText(e.kb, m)
		writeWrapped(bw, text, "  "+head, strings.Repeat(" ", 2+len(head)), 78)
	}

	if len(e.Refuted) > 0 {
		p("\nWHAT THE SOURCE SHOWS\n\n")
		p("  Settings recommended for this issue elsewhere, and what they really do:\n\n")
		for _, r := range e.Refuted {
			s, _ := e.kb.Setting(r.Setting)
			head := r.Setting
			if r.Value != "" {
				head += "=" + r.Value
			}
			p("  %s\n", head)
			if s == nil {
				continue
			}
			if noop := noOpSummary(s, r.Value); noop != "" {
				writeWrapped(bw, noop, "    ", "    ", 78)
			}
			for _, c := range s.WrongClaims {
				writeWrapped(bw, "claimed: "+c.Claim, "    ", "      ", 78)
				writeWrapped(bw, "the source shows: "+c.Truth, "    ", "      ", 78)
				if c.Source != "" {
					writeWrapped(bw, "(source: "+c.Source+")", "      ", "      ", 78)
				}
			}
		}
	}

	p("\nSIGNATURES\n\n")
	for _, s := range e.Signatures {
		p("  [%3d] %s\n", s.Rank, s.Pattern)
	}
	if len(e.SignaturesOf) > 0 {
		text := "and the signatures of " + strings.Join(e.SignaturesOf, ", ")
		if e.When != nil {
			text += ", " + whenText(e)
		}
		bw.Flush()
		writeWrapped(bw, text, "  ", "  ", 78)
	}

	if len(e.References) > 0 {
		p("\nREFERENCES\n\n")
		for _, r := range e.References {
			p("  %s\n", r)
		}
	}
	return bw.Flush()
}

// whenText says in words when a specialisation applies.
func whenText(e *Entry) string {
	if e.When == nil {
		return ""
	}
	var parts []string
	if len(e.When.Context) > 0 {
		parts = append(parts, "when the log also matches "+strings.Join(quoteAll(e.When.Context), " or "))
	}
	if h := e.When.Hardware; h != "" {
		parts = append(parts, "when the machine shows "+predicateText(h))
	}
	return strings.Join(parts, ", or ")
}

func quoteAll(in []string) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = "`" + s + "`"
	}
	return out
}

// predicateText describes a hardware predicate in words.
func predicateText(p Predicate) string {
	switch p {
	case PredAppliesTo:
		return "a visible GPU within applies_to"
	case PredOverrideWrongFamily:
		return "an HSA_OVERRIDE_GFX_VERSION into another ISA family than a GPU's own"
	case PredOverrideMalformed:
		return "a malformed HSA_OVERRIDE_GFX_VERSION"
	case PredNoAMDGPU:
		return "no AMD GPU"
	case PredWSL:
		return "WSL2"
	case PredKFDInaccessible:
		return "/dev/kfd not accessible"
	}
	return string(p)
}

// mitigationText renders one mitigation as a sentence: the assignment or
// action, why, and the GPUs it is limited to.
func mitigationText(k *KB, m Mitigation) string {
	var b strings.Builder
	if m.Setting != "" {
		b.WriteString(m.SettingValue.String())
		if s := m.SettingInfo(k); s != nil && s.Kind != KindEnv && s.Kind != KindPolicy && !m.Unset {
			fmt.Fprintf(&b, " (%s)", kindText(s.Kind))
		}
		b.WriteString(": ")
	}
	if m.Action != "" {
		b.WriteString(strings.TrimSpace(m.Action))
		b.WriteString(" ")
	}
	b.WriteString(strings.TrimSpace(m.Why))
	if m.Only != nil {
		var sel []string
		sel = append(sel, m.Only.Families...)
		sel = append(sel, m.Only.Targets...)
		fmt.Fprintf(&b, " Only on %s.", strings.Join(sel, ", "))
	}
	return b.String()
}

// MitigationText renders a mitigation of this entry as one sentence, for
// reports that list what to do.
func (e *Entry) MitigationText(m Mitigation) string { return mitigationText(e.kb, m) }

func kindText(k SettingKind) string {
	switch k {
	case KindAMDGPUParam:
		return "amdgpu module parameter"
	case KindKernelParam:
		return "kernel parameter"
	}
	return string(k)
}

// noOpSummary lists the no-op cases of a setting that a refuted value hits
// whatever the GPU (value-only conditions), or every case when no value is
// given.
func noOpSummary(s *Setting, value string) string {
	if s.Invalid {
		return "No such setting; the real one is " + s.CorrectID + "."
	}
	var reasons []string
	for _, c := range s.NoOpWhen {
		if len(c.Values) > 0 && value != "" && !contains(c.Values, value) {
			continue
		}
		if len(c.Families) > 0 || len(c.Targets) > 0 {
			var sel []string
			sel = append(sel, c.Families...)
			sel = append(sel, c.Targets...)
			reasons = append(reasons, "A no-op on "+strings.Join(sel, ", ")+": "+c.Reason)
		}
	}
	return strings.Join(reasons, " ")
}

// writeBody prints the Markdown body: prose paragraphs wrapped and
// indented, code blocks verbatim, headings in capitals.
func writeBody(w *bufio.Writer, body string) {
	lines := strings.Split(strings.ReplaceAll(body, "\r\n", "\n"), "\n")
	inCode := false
	var para []string
	flush := func() {
		if len(para) > 0 {
			writeWrapped(w, strings.Join(para, " "), "  ", "  ", 78)
			para = nil
		}
	}
	for _, line := range lines {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "```") {
			flush()
			inCode = !inCode
			continue
		}
		if inCode {
			fmt.Fprintf(w, "    %s\n", line)
			continue
		}
		switch {
		case trimmed == "":
			flush()
			fmt.Fprintln(w)
		case strings.HasPrefix(trimmed, "#"):
			flush()
			fmt.Fprintf(w, "%s\n", strings.ToUpper(strings.TrimSpace(strings.TrimLeft(trimmed, "#"))))
		case strings.HasPrefix(trimmed, "|"), strings.HasPrefix(trimmed, "- "), strings.HasPrefix(trimmed, "* "), isNumbered(trimmed):
			// Tables and list items keep their own lines.
			flush()
			if strings.HasPrefix(trimmed, "|") {
				fmt.Fprintf(w, "  %s\n", trimmed)
			} else {
				writeWrapped(w, trimmed, "  ", "    ", 78)
			}
		default:
			if len(para) > 0 && isListContinuation(line) {
				para = append(para, trimmed)
				continue
			}
			para = append(para, trimmed)
		}
	}
	flush()
}

func isNumbered(s string) bool {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return i > 0 && i+1 < len(s) && s[i] == '.' && s[i+1] == ' '
}

func isListContinuation(line string) bool { return strings.HasPrefix(line, "   ") }

// writeWrapped writes text wrapped at width, the first line after first,
// the following ones after rest.
func writeWrapped(w *bufio.Writer, text, first, rest string, width int) {
	words := strings.Fields(text)
	if len(words) == 0 {
		return
	}
	line := first
	n := len(first)
	startLen := n
	for _, word := range words {
		if n > startLen && n+1+len(word) > width {
			fmt.Fprintln(w, line)
			line = rest
			n = len(rest)
			startLen = n
		}
		if n > startLen {
			line += " "
			n++
		}
		line += word
		n += len(word)
	}
	fmt.Fprintln(w, line)
}

// DocFile is one generated documentation file.
type DocFile struct {
	// Name is the file name inside docs/issues/.
	Name    string
	Content []byte
}

// GeneratedMarker starts every generated page so that tools and readers
// know not to edit them.
const GeneratedMarker = "<!-- Generated by `go generate ./internal/kb` from internal/kb/entries/. Do not edit. -->"

// Docs renders docs/issues/: README.md (the index) and <id>.md for every
// entry, sorted by name. TEMPLATE.md is written by hand and not included.
func (k *KB) Docs() []DocFile {
	files := []DocFile{{Name: "README.md", Content: k.indexPage()}}
	for _, e := range k.entries {
		files = append(files, DocFile{Name: e.ID + ".md", Content: e.docPage()})
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Name < files[j].Name })
	return files
}

func mdCell(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "|", `\|`), "\n", " ")
}

func (k *KB) indexPage() []byte {
	var b strings.Builder
	b.WriteString(GeneratedMarker + "\n\n")
	b.WriteString("# Known issues\n\n")
	b.WriteString("The failures rocm-patch recognises in logs (`rocm-patch diagnose`) and explains\n")
	b.WriteString("(`rocm-patch issues show ID`). Each page is generated from one file in\n")
	b.WriteString("[internal/kb/entries/](../../internal/kb/entries/); to add an issue, read\n")
	b.WriteString("[TEMPLATE.md](TEMPLATE.md).\n\n")
	b.WriteString("| id | class | title | families |\n| --- | --- | --- | --- |\n")
	for _, e := range k.entries {
		fmt.Fprintf(&b, "| [%s](%s.md) | %s | %s | %s |\n", e.ID, e.ID, e.Class, mdCell(e.Title), mdCell(e.familiesText()))
	}
	b.WriteString("\n## Classes\n\n")
	b.WriteString("`diagnose` reports one class per match. Root causes outrank fallout: a\n")
	b.WriteString("`process-crash` match is always listed after every other match.\n\n")
	b.WriteString("| class | meaning | entries |\n| --- | --- | --- |\n")
	for _, c := range Classes {
		n := 0
		for _, e := range k.entries {
			if e.Class == c {
				n++
			}
		}
		fmt.Fprintf(&b, "| %s | %s | %d |\n", c, mdCell(ClassDescription[c]), n)
	}
	return []byte(b.String())
}

func (e *Entry) docPage() []byte {
	var b strings.Builder
	b.WriteString(GeneratedMarker + "\n\n")
	b.WriteString(strings.TrimRight(e.Body, "\n") + "\n\n")
	b.WriteString("## Knowledge base record\n\n")
	b.WriteString("| field | value |\n| --- | --- |\n")
	fmt.Fprintf(&b, "| id | `%s` |\n", e.ID)
	fmt.Fprintf(&b, "| title | %s |\n", mdCell(e.Title))
	fmt.Fprintf(&b, "| class | `%s` |\n", e.Class)
	fmt.Fprintf(&b, "| families | %s |\n", mdCell(e.familiesText()))
	if e.AppliesTo.ROCm != "" {
		fmt.Fprintf(&b, "| ROCm | %s |\n", mdCell(e.AppliesTo.ROCm))
	}
	if e.AppliesTo.Kernel != "" {
		fmt.Fprintf(&b, "| kernel | %s |\n", mdCell(e.AppliesTo.Kernel))
	}
	if len(e.AppliesTo.Platforms) > 0 {
		fmt.Fprintf(&b, "| platforms | %s |\n", strings.Join(e.AppliesTo.Platforms, ", "))
	}
	if e.When != nil {
		fmt.Fprintf(&b, "| recognised | %s |\n", mdCell(whenText(e)))
	}
	if e.Fallout {
		b.WriteString("| fallout | yes: ranked below every other match |\n")
	}
	fmt.Fprintf(&b, "| source | [internal/kb/entries/%s.md](../../internal/kb/entries/%s.md) |\n", e.ID, e.ID)

	b.WriteString("\n### Root cause\n\n")
	b.WriteString(strings.TrimSpace(e.RootCause) + "\n")

	b.WriteString("\n### What to do\n\n")
	for i, m := range e.Mitigations {
		text := mitigationText(e.kb, m)
		if m.Setting != "" {
			head := m.SettingValue.String()
			text = "`" + head + "`" + strings.TrimPrefix(text, head)
		}
		fmt.Fprintf(&b, "%d. %s\n", i+1, text)
	}

	if len(e.Refuted) > 0 {
		b.WriteString("\n### What the source shows\n\n")
		b.WriteString("Settings recommended for this issue elsewhere, and what they really do:\n\n")
		for _, r := range e.Refuted {
			s, _ := e.kb.Setting(r.Setting)
			head := r.Setting
			if r.Value != "" {
				head += "=" + r.Value
			}
			fmt.Fprintf(&b, "- `%s`", head)
			if s != nil {
				if noop := noOpSummary(s, r.Value); noop != "" {
					fmt.Fprintf(&b, ": %s", noop)
				}
				for _, c := range s.WrongClaims {
					fmt.Fprintf(&b, "\n  - Claimed: %s The source shows: %s", strings.TrimSpace(c.Claim), strings.TrimSpace(c.Truth))
					if c.Source != "" {
						fmt.Fprintf(&b, " (%s)", c.Source)
					}
				}
			}
			b.WriteString("\n")
		}
	}

	b.WriteString("\n### Signatures\n\n")
	if len(e.Signatures) > 0 {
		b.WriteString("| rank | pattern |\n| --- | --- |\n")
		for _, s := range e.Signatures {
			fmt.Fprintf(&b, "| %d | `%s` |\n", s.Rank, mdCell(s.Pattern))
		}
	}
	if len(e.SignaturesOf) > 0 {
		var links []string
		for _, id := range e.SignaturesOf {
			links = append(links, fmt.Sprintf("[%s](%s.md)", id, id))
		}
		if len(e.Signatures) > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "Also the signatures of %s", strings.Join(links, ", "))
		if e.When != nil {
			fmt.Fprintf(&b, ", %s", whenText(e))
		}
		b.WriteString(".\n")
	}

	if len(e.References) > 0 {
		b.WriteString("\n### References\n\n")
		for _, r := range e.References {
			fmt.Fprintf(&b, "- <%s>\n", r)
		}
	}
	return []byte(b.String())
}
