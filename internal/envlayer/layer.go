package envlayer

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/rocm-patch/rocm-patch/internal/assess"
	"github.com/rocm-patch/rocm-patch/internal/kb"
)

// FromReport builds the layer of policy p from a doctor report. Every
// variable's "does" and "cost" come from the settings catalogue of k, so
// the comments say what the source code says; a variable whose setting
// the catalogue lacks is an error, never a comment made up here.
func FromReport(r *assess.Report, p assess.Policy, k *kb.KB) (Layer, error) {
	if r == nil || k == nil {
		return Layer{}, fmt.Errorf("envlayer: report and knowledge base are required")
	}
	plan, ok := r.PlanFor(p)
	if !ok {
		return Layer{}, fmt.Errorf("envlayer: the report has no plan for policy %q", p)
	}
	l := Layer{Policy: string(p)}
	if len(r.GPUs) == 0 {
		note := "rocm-patch env: no AMD GPU found; there is nothing to set."
		for _, f := range r.Findings {
			if f.ID == assess.FindingWSL {
				note = "rocm-patch env: no AMD GPU visible to rocm-patch (WSL: GPUs are reached through /dev/dxg); there is nothing to set."
			}
		}
		l.Notes = []string{note}
		return l, nil
	}
	l.Header = append(l.Header, fmt.Sprintf("rocm-patch env, policy %s: risk %s.", p, r.Risk))
	for _, grp := range groupGPUs(r.GPUs, p) {
		g := grp[0]
		d := g.Decision.For(p)
		label := fmt.Sprintf("GPU %d", g.Index)
		if len(grp) > 1 {
			label = fmt.Sprintf("GPUs %d-%d", g.Index, grp[len(grp)-1].Index)
		}
		l.Header = append(l.Header, fmt.Sprintf("%s %s (%s): risk %s; %s", label, orUnknown(g.Name), orUnknown(g.Target), g.Risk, d.Reason))
	}
	if len(plan.Env) == 0 {
		l.Notes = append(l.Notes, "No variable does anything useful on this hardware under this policy; there is nothing to set.")
	}
	for _, w := range plan.Warnings {
		l.Notes = append(l.Notes, "WARNING: "+w)
	}
	for _, e := range plan.Env {
		s, ok := k.Setting(e.Setting)
		if !ok {
			return Layer{}, fmt.Errorf("envlayer: %s refers to setting %q, which the settings catalogue lacks", e.Name, e.Setting)
		}
		l.Vars = append(l.Vars, Var{
			Name:    e.Name,
			Value:   e.Value,
			Unset:   e.Unset,
			Setting: e.Setting,
			Does:    oneLine(s.Meaning),
			Cost:    oneLine(s.Cost),
			Why:     oneLine(e.Why),
			GPUs:    append([]int{}, e.GPUs...),
		})
	}
	return l, nil
}

// groupGPUs gathers consecutive GPUs whose header line would be the same
// but for the index.
func groupGPUs(gpus []assess.GPUReport, p assess.Policy) [][]assess.GPUReport {
	var out [][]assess.GPUReport
	for _, g := range gpus {
		if n := len(out); n > 0 {
			last := out[n-1][len(out[n-1])-1]
			if last.Index+1 == g.Index && last.Name == g.Name && last.Target == g.Target && last.Risk == g.Risk &&
				reflect.DeepEqual(last.Decision.For(p), g.Decision.For(p)) {
				out[n-1] = append(out[n-1], g)
				continue
			}
		}
		out = append(out, []assess.GPUReport{g})
	}
	return out
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// oneLine collapses the line breaks of YAML block text into spaces.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
