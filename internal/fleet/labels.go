package fleet

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/rocm-patch/rocm-patch/internal/assess"
	"github.com/rocm-patch/rocm-patch/internal/history"
	"github.com/rocm-patch/rocm-patch/internal/lazyre"
)

// LabelPrefix is the namespace of every label rocm-patch publishes. It is
// outside kubernetes.io, which node-feature-discovery always refuses.
const LabelPrefix = "rocm-patch.io/"

// The label names, without LabelPrefix. LabelGPUFamily followed by ".<family>"
// names the per-family labels.
const (
	LabelGPUCount      = "gpu.count"
	LabelGPUFamily     = "gpu.family"
	LabelGPUGFX        = "gpu.gfx"
	LabelRisk          = "risk"
	LabelPolicy        = "policy"
	LabelDevice        = "device"
	LabelCrashPercent  = "crash.percent"
	LabelCrashAttempts = "crash.attempts"
)

// LabelNames lists the fixed label names (with LabelPrefix), so that
// manifests and documentation can be checked against what Labels emits.
// The per-family labels are LabelPrefix + LabelGPUFamily + "." + family.
var LabelNames = []string{
	LabelPrefix + LabelGPUCount, LabelPrefix + LabelGPUFamily, LabelPrefix + LabelGPUGFX,
	LabelPrefix + LabelRisk, LabelPrefix + LabelPolicy, LabelPrefix + LabelDevice,
	LabelPrefix + LabelCrashPercent, LabelPrefix + LabelCrashAttempts,
}

// DefaultCrashWindow is how many of the newest runs the crash rate looks at:
// enough that one bad run does not dominate, few enough that a fix (a new
// driver, another mitigation) shows within days.
const DefaultCrashWindow = 20

// Label is one node label.
type Label struct {
	Name  string
	Value string
}

// ErrInvalidLabel is wrapped when a label name or value breaks the
// Kubernetes label syntax, which nfd-master enforces.
var ErrInvalidLabel = errors.New("not a valid Kubernetes label")

// Kubernetes label syntax (k8s.io/apimachinery validation, restated from
// its documentation): a name segment and a value are at most 63 characters,
// begin and end with an alphanumeric character and have only alphanumerics,
// '-', '_' and '.' between; a value may also be empty. The prefix is a DNS
// subdomain: lower-case alphanumeric labels of at most 63 characters joined
// by dots, with '-' inside, 253 characters in all.
var (
	labelSegment = lazyre.New(`^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$`)
	dnsLabel     = lazyre.New(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
)

const (
	maxLabelSegment = 63
	maxDNSSubdomain = 253
)

// ValidateLabelName checks a label key: [prefix/]name.
func ValidateLabelName(key string) error {
	prefix, name, hasPrefix := strings.Cut(key, "/")
	if !hasPrefix {
		name, prefix = prefix, ""
	}
	if hasPrefix {
		if prefix == "" || len(prefix) > maxDNSSubdomain {
			return fmt.Errorf("label name %q: prefix must be a DNS subdomain of 1 to %d characters: %w", key, maxDNSSubdomain, ErrInvalidLabel)
		}
		for _, part := range strings.Split(prefix, ".") {
			if len(part) > maxLabelSegment || !dnsLabel().MatchString(part) {
				return fmt.Errorf("label name %q: prefix %q is not a lower-case DNS subdomain: %w", key, prefix, ErrInvalidLabel)
			}
		}
	}
	if len(name) > maxLabelSegment || !labelSegment().MatchString(name) {
		return fmt.Errorf("label name %q: the name must be 1 to %d characters of [A-Za-z0-9_.-], beginning and ending with a letter or digit: %w", key, maxLabelSegment, ErrInvalidLabel)
	}
	return nil
}

// ValidateLabelValue checks a label value.
func ValidateLabelValue(v string) error {
	if v == "" {
		return nil
	}
	if len(v) > maxLabelSegment || !labelSegment().MatchString(v) {
		return fmt.Errorf("label value %q: must be at most %d characters of [A-Za-z0-9_.-], beginning and ending with a letter or digit: %w", v, maxLabelSegment, ErrInvalidLabel)
	}
	return nil
}

// CrashRate is the GPU crash rate of the newest runs of a history.
type CrashRate struct {
	// Runs is how many runs were looked at.
	Runs int
	// Attempts counts the GPU attempts of those runs that ran to an end
	// (ok, crash or error); interrupted attempts say nothing about crashes
	// and are left out, as history's report leaves them out.
	Attempts int
	// Crashes counts those that crashed.
	Crashes int
}

// Ratio is Crashes/Attempts, 0 without attempts.
func (c CrashRate) Ratio() float64 {
	if c.Attempts == 0 {
		return 0
	}
	return float64(c.Crashes) / float64(c.Attempts)
}

// Percent is the rate as a whole percentage, rounded half up, except that a
// rate above zero is at least 1: a label saying 0 must mean no crash. ok is
// false without attempts, when there is no rate to state.
func (c CrashRate) Percent() (pct int, ok bool) {
	if c.Attempts <= 0 {
		return 0, false
	}
	pct = (c.Crashes*200 + c.Attempts) / (2 * c.Attempts)
	if pct == 0 && c.Crashes > 0 {
		pct = 1
	}
	return pct, true
}

// RecentCrashRate is the GPU crash rate of the newest window runs (window
// <= 0: DefaultCrashWindow). runs may come from several histories in any
// order; the newest by start time are taken.
func RecentCrashRate(runs []history.Run, window int) CrashRate {
	if window <= 0 {
		window = DefaultCrashWindow
	}
	sorted := append([]history.Run(nil), runs...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Started.After(sorted[j].Started) })
	if len(sorted) > window {
		sorted = sorted[:window]
	}
	c := CrashRate{Runs: len(sorted)}
	for _, r := range sorted {
		for _, a := range r.Attempts {
			if a.Device != history.DeviceGPU {
				continue
			}
			switch a.Result() {
			case history.ResultCrash:
				c.Crashes++
				c.Attempts++
			case history.ResultOK, history.ResultError:
				c.Attempts++
			}
		}
	}
	return c
}

// Labels builds the node labels from a doctor report and, when a history was
// read, the recent crash rate (nil: no crash labels). The result is sorted by
// name. A label whose value the machine made invalid (an unknown family
// name, say) is left out and described in skipped, so that one odd GPU does
// not cost the node all its labels.
func Labels(rep *assess.Report, crash *CrashRate) (labels []Label, skipped []string) {
	if rep == nil {
		return nil, []string{"no doctor report: no labels"}
	}
	add := func(name, value string) {
		key := LabelPrefix + name
		if err := ValidateLabelName(key); err != nil {
			skipped = append(skipped, err.Error())
			return
		}
		if err := ValidateLabelValue(value); err != nil {
			skipped = append(skipped, fmt.Sprintf("%s: %v", key, err))
			return
		}
		labels = append(labels, Label{Name: key, Value: value})
	}

	var inUse []assess.GPUReport
	for _, g := range rep.GPUs {
		if g.InUse {
			inUse = append(inUse, g)
		}
	}
	add(LabelGPUCount, strconv.Itoa(len(inUse)))
	if top, ok := riskiest(inUse); ok {
		if top.Family != "" {
			add(LabelGPUFamily, top.Family)
		}
		if top.Target != "" {
			add(LabelGPUGFX, top.Target)
		}
	}
	families := map[string]bool{}
	for _, g := range inUse {
		if g.Family != "" && !families[g.Family] {
			families[g.Family] = true
			add(LabelGPUFamily+"."+g.Family, "true")
		}
	}
	add(LabelRisk, string(rep.Risk))
	if rep.Plan.Policy != "" {
		add(LabelPolicy, string(rep.Plan.Policy))
	}
	if rep.Plan.Device != "" {
		add(LabelDevice, string(rep.Plan.Device))
	}
	if crash != nil {
		if pct, ok := crash.Percent(); ok {
			add(LabelCrashPercent, strconv.Itoa(pct))
			add(LabelCrashAttempts, strconv.Itoa(crash.Attempts))
		}
	}
	sort.Slice(labels, func(i, j int) bool { return labels[i].Name < labels[j].Name })
	return labels, skipped
}

// riskLevel orders the risks; unknown ones sort below none.
func riskLevel(r assess.Risk) int {
	switch r {
	case assess.RiskNone:
		return 0
	case assess.RiskLow:
		return 1
	case assess.RiskMedium:
		return 2
	case assess.RiskHigh:
		return 3
	}
	return -1
}

// riskiest is the GPU of highest risk, the lowest index among equals: the
// one a scheduler must plan for.
func riskiest(gpus []assess.GPUReport) (assess.GPUReport, bool) {
	if len(gpus) == 0 {
		return assess.GPUReport{}, false
	}
	best := gpus[0]
	for _, g := range gpus[1:] {
		if riskLevel(g.Risk) > riskLevel(best.Risk) || (riskLevel(g.Risk) == riskLevel(best.Risk) && g.Index < best.Index) {
			best = g
		}
	}
	return best, true
}
