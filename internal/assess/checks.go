package assess

import (
	"fmt"
	"sort"
	"strings"

	"github.com/rocm-patch/rocm-patch/internal/hw"
	"github.com/rocm-patch/rocm-patch/internal/kb"
	"github.com/rocm-patch/rocm-patch/internal/system"
)

// kfdTopology is where a GPU's target comes from, for messages.
const kfdTopology = "/sys/class/kfd/kfd/topology/nodes"

func targetSource(g system.GPU) string {
	if g.Node != nil && g.TargetSource != "device-table" {
		return fmt.Sprintf("%s/%d/properties", kfdTopology, *g.Node)
	}
	return "PCI device id " + clean(g.DeviceID)
}

func (a *assessor) checkWSL() {
	msg := "running under WSL (kernel " + clean(a.sys.Kernel.Release) + "): GPUs are reached through /dev/dxg, not the amdgpu driver, so rocm-patch cannot see them and assesses no GPU"
	if v, ok := a.sys.Env[overrideVar]; ok {
		msg += fmt.Sprintf("; %s=%s is set and cannot be checked against the GPU", overrideVar, clean(v))
	}
	a.add(&finding{
		Finding: Finding{
			ID: FindingWSL, Severity: SeverityWarning, Risk: RiskMedium, Subject: "/dev/dxg",
			Message: msg,
			Fix:     "use AMD's ROCm for WSL driver and runtime; for a full check, run rocm-patch doctor on a native Linux install",
			Entry:   a.entryFor(kb.ClassNoGPU, kb.PredWSL, nil),
		},
		reason: "WSL: the GPUs cannot be read, so their risk is unknown",
	})
}

func (a *assessor) checkNoGPU() {
	msg := "no AMD GPU found: no KFD GPU node under " + kfdTopology + " and no AMD display device under /sys/class/drm"
	entry := a.entryFor(kb.ClassNoGPU, "", nil)
	for _, in := range a.sys.Torch {
		if in.HIPVersion != "" {
			msg += fmt.Sprintf("; %s (a ROCm build, %s) will run on the CPU", torchLabel(in), clean(in.Path))
			entry = a.entryFor(kb.ClassNoGPU, kb.PredNoAMDGPU, nil)
			break
		}
	}
	a.add(&finding{
		Finding: Finding{
			ID: FindingNoAMDGPU, Severity: SeverityInfo, Risk: RiskNone, Subject: kfdTopology,
			Message: msg,
			Fix:     "nothing to do for CPU training; for a GPU, check that amdgpu is loaded (lsmod | grep amdgpu) and that dmesg shows no amdgpu or kfd error",
			Entry:   entry,
		},
	})
}

func (a *assessor) checkNoKFDNode(s *gpuState) {
	subject := "/sys/class/drm"
	if s.g.Card != "" {
		subject = "/sys/class/drm/" + clean(s.g.Card)
	}
	a.add(&finding{
		Finding: Finding{
			ID: FindingNoKFDNode, Severity: SeverityWarning, Risk: RiskLow, Subject: subject, GPUs: []int{s.g.Index},
			Message: fmt.Sprintf("%s (%s%s) has no KFD node: ROCm cannot use it, so no training run does", s.label, subject, pciText(s.g.PCI)),
			Fix:     "check dmesg | grep -i kfd; amdgpu's compute interface (KFD) is disabled or does not support this GPU",
		},
	})
}

func pciText(pci string) string {
	if pci == "" {
		return ""
	}
	return ", PCI " + clean(pci)
}

// checkFamily applies the conservative rule: every RDNA1 and RDNA2 GPU in
// use is high risk. A GPU of unknown family is medium: nothing about it
// can be checked.
func (a *assessor) checkFamily(s *gpuState) {
	switch {
	case s.family == hw.RDNA1 || s.family == hw.RDNA2:
		entry := a.entryFor(kb.ClassGPUMemoryFault, kb.PredAppliesTo, s)
		issue := "memory access faults under ROCm"
		if e, ok := a.k.Get(entry); ok {
			issue = fmt.Sprintf("%s: %s", e.ID, oneLine(e.Title))
		}
		a.add(&finding{
			Finding: Finding{
				ID: FindingRDNAMemoryFault, Severity: SeverityWarning, Risk: RiskHigh, Subject: targetSource(s.g), GPUs: []int{s.g.Index},
				Message: fmt.Sprintf("%s is %s: rocm-patch treats every RDNA1 and RDNA2 GPU as high risk, the conservative rule of the documented issues (%s)", s.label, s.family, issue),
				Fix:     fmt.Sprintf("train through rocm-patch run (policy mitigate: environment layer, supervision, CPU after %d GPU faults), or use policy cpu to keep the job off this GPU", FaultsBeforeCPU),
				Entry:   entry,
			},
			reason: fmt.Sprintf("%s (%s): every RDNA1/RDNA2 GPU is high risk (documented memory access faults)", s.family, s.own),
		})
	case !s.judged:
		what := fmt.Sprintf("reports %s, an ISA rocm-patch does not know", clean(s.g.GFXTarget))
		if s.g.GFXTarget == "" {
			what = "reports no gfx target (no gfx_target_version and a device id rocm-patch does not know)"
		}
		a.add(&finding{
			Finding: Finding{
				ID: FindingUnknownTarget, Severity: SeverityWarning, Risk: RiskMedium, Subject: targetSource(s.g), GPUs: []int{s.g.Index},
				Message: fmt.Sprintf("%s %s: its family, kernels and overrides cannot be checked", s.label, what),
				Fix:     "run rocminfo | grep gfx to see the target ROCm reports, and update rocm-patch",
			},
			reason: "unknown ISA: nothing about this GPU can be checked",
		})
	}
}

// checkOverride judges the HSA_OVERRIDE_GFX_VERSION in effect for s.
func (a *assessor) checkOverride(s *gpuState) {
	if !s.ovSet {
		return
	}
	subject := s.ovName
	switch s.verdict.Kind {
	case kb.OverrideMalformed, kb.OverrideUnnamed:
		a.add(&finding{
			Finding: Finding{
				ID: FindingOverrideBad, Severity: SeverityError, Risk: RiskHigh, Subject: subject, GPUs: []int{s.g.Index},
				Message: fmt.Sprintf("%s: %s", s.label, a.verdictText(s)),
				Fix:     a.overrideFix(s),
				Entry:   a.entryFor(kb.ClassWrongOverride, kb.PredOverrideMalformed, s),
			},
			reason: fmt.Sprintf("%s=%q is malformed", s.ovName, clean(s.ovValue)),
		})
	case kb.OverrideOtherFamily:
		a.add(&finding{
			Finding: Finding{
				ID: FindingOverrideWrong, Severity: SeverityError, Risk: RiskHigh, Subject: subject, GPUs: []int{s.g.Index},
				Message: fmt.Sprintf("%s: %s", s.label, a.verdictText(s)),
				Fix:     a.overrideFix(s),
				Entry:   a.entryFor(kb.ClassWrongOverride, kb.PredOverrideWrongFamily, s),
			},
			reason: fmt.Sprintf("%s=%s loads %s code, another ISA family", s.ovName, clean(s.ovValue), s.verdict.Target),
		})
	case kb.OverrideSameTarget:
		if s.ownShipped {
			a.add(&finding{
				Finding: Finding{
					ID: FindingSettingNoOp, Severity: SeverityInfo, Risk: RiskLow, Subject: subject, GPUs: []int{s.g.Index},
					Message: fmt.Sprintf("%s does nothing on %s: %s", s.ovName, s.label, a.verdictText(s)),
					Fix:     "unset " + s.ovName,
				},
				reason: fmt.Sprintf("%s=%s does nothing", s.ovName, clean(s.ovValue)),
			})
		}
	}
}

// verdictText is the knowledge base's sentence about the override, with
// the variable named as the user set it (per-node or global).
func (a *assessor) verdictText(s *gpuState) string {
	r := s.verdict.Reason
	if rest, ok := strings.CutPrefix(r, overrideVar); ok && s.ovName != overrideVar {
		r = s.ovName + rest
	}
	return clean(r)
}

// overrideFix is the fix of an override finding: what the mitigate layer
// does for this GPU, as commands.
func (a *assessor) overrideFix(s *gpuState) string {
	vars := layerFor(a.overrideLayer, s)
	switch {
	case s.noKernels:
		return fmt.Sprintf("unset %s; nothing installed ships kernels for %s or its family (see %s)", s.ovName, s.own, FindingNoKernels)
	case len(vars) == 0 && s.final == "" && s.ownShipped:
		return fmt.Sprintf("unset %s: %s ship%s %s kernels, so no override is needed", s.ovName, a.shippedBy(s.own), pluralS(len(a.shipped[s.own])), s.own)
	case len(vars) == 0:
		return "unset " + s.ovName
	}
	fix := shellText(vars)
	if s.final != "" {
		t := overrideTarget(s.final)
		fix += fmt.Sprintf(" (%s ship%s %s, the same ISA family; rocm-patch env sets this)", a.shippedBy(t), pluralS(len(a.shipped[t])), t)
	} else if s.ownShipped {
		fix += fmt.Sprintf(" (%s ship%s %s kernels, so no override is needed)", a.shippedBy(s.own), pluralS(len(a.shipped[s.own])), s.own)
	}
	return fix
}

// checkKernels compares the installed kernels with the GPU's target.
func (a *assessor) checkKernels(s *gpuState) {
	if !s.judged {
		return
	}
	if s.noKernels {
		a.add(&finding{
			Finding: Finding{
				ID: FindingNoKernels, Severity: SeverityError, Risk: RiskHigh, Subject: a.librarySubject(), GPUs: []int{s.g.Index},
				Message: fmt.Sprintf("%s: %s ships rocBLAS kernels for %s or its ISA family (%s)", s.label, a.searchedText(), s.own, familyText(s.own)),
				Fix:     fmt.Sprintf("install a ROCm or PyTorch ROCm build whose rocBLAS ships %s kernels (look for *%s* in <rocm>/lib/rocblas/library or torch/lib/rocblas/library), or train on the CPU", s.own, s.own),
				Entry:   a.entryFor(kb.ClassMissingArchLibrary, "", s),
			},
			reason: fmt.Sprintf("no installed kernels for %s or its family", s.own),
		})
		return
	}
	if s.working() || !s.acceptable() {
		// Working, or a wrong override whose finding already gives the
		// fix.
		return
	}
	vars := layerFor(a.overrideLayer, s)
	var msg string
	switch {
	case s.ovSet && s.verdict.Kind == kb.OverrideSameFamily:
		msg = fmt.Sprintf("%s: %s=%s makes ROCm load %s code, which no install ships", s.label, s.ovName, clean(s.ovValue), s.verdict.Target)
	case s.ovSet:
		msg = fmt.Sprintf("%s: %s=%s names the GPU's own ISA, and no install ships %s kernels", s.label, s.ovName, clean(s.ovValue), s.own)
	default:
		msg = fmt.Sprintf("%s: no install ships %s kernels", s.label, s.own)
	}
	if s.final != "" {
		t := overrideTarget(s.final)
		msg += fmt.Sprintf(", but %s ship%s %s, the same ISA family (%s)", a.shippedBy(t), pluralS(len(a.shipped[t])), t, hw.GenericISA(s.own))
	} else if s.ownShipped {
		msg += fmt.Sprintf(", while %s ship%s %s kernels", a.shippedBy(s.own), pluralS(len(a.shipped[s.own])), s.own)
	}
	subject := overrideVar
	if len(vars) > 0 {
		subject = vars[len(vars)-1].Name
	}
	a.add(&finding{
		Finding: Finding{
			ID: FindingOverrideNeeded, Severity: SeverityError, Risk: RiskMedium, Subject: subject, GPUs: []int{s.g.Index},
			Message: msg,
			Fix:     shellText(vars) + " (rocm-patch env does this)",
			Entry:   a.entryFor(kb.ClassUnsupportedISA, "", s),
		},
		reason: fmt.Sprintf("needs %s to load installed kernels", shellText(vars)),
	})
}

func familyText(target string) string {
	if g := hw.GenericISA(target); g != "" {
		return g
	}
	return string(hw.FamilyOf(target)) + ", no generic ISA"
}

// searchedText says what was looked at when no install ships kernels.
func (a *assessor) searchedText() string {
	var found []string
	for _, in := range a.sys.ROCm {
		found = append(found, rocmLabel(in))
	}
	for _, in := range a.sys.Torch {
		found = append(found, torchLabel(in))
	}
	if len(found) == 0 {
		return "no ROCm or PyTorch install was found, so nothing"
	}
	return "none of " + joinAnd(found)
}

func (a *assessor) librarySubject() string {
	if len(a.sys.ROCm) > 0 {
		p := a.sys.ROCm[0].Path
		if a.sys.ROCm[0].ResolvedPath != "" {
			p = a.sys.ROCm[0].ResolvedPath
		}
		return clean(p) + "/lib/rocblas/library"
	}
	if len(a.sys.Torch) > 0 {
		return clean(a.sys.Torch[0].Path) + "/lib/rocblas/library"
	}
	return "/opt/rocm/lib/rocblas/library"
}

// checkRender flags a render node this user cannot open.
func (a *assessor) checkRender(s *gpuState) {
	if s.g.RenderNode == "" || s.g.RenderAccessible || a.sys.WSL {
		return
	}
	node := "/dev/dri/" + clean(s.g.RenderNode)
	a.add(&finding{
		Finding: Finding{
			ID: FindingKFDPermission, Severity: SeverityError, Risk: RiskHigh, Subject: node, GPUs: []int{s.g.Index},
			Message: fmt.Sprintf("%s: this user cannot open %s read-write, so ROCm cannot use the GPU", s.label, node),
			Fix:     "sudo usermod -aG render,video $USER, then log out and in again",
			Entry:   a.entryFor(kb.ClassKFDPermission, kb.PredKFDInaccessible, s),
		},
		reason: "this user cannot open " + node,
	})
}

// checkKFD flags a /dev/kfd this user cannot open while GPUs are in use.
func (a *assessor) checkKFD() {
	if a.sys.KFDAccessible || a.sys.WSL || len(a.inUse) == 0 {
		return
	}
	a.add(&finding{
		Finding: Finding{
			ID: FindingKFDPermission, Severity: SeverityError, Risk: RiskHigh, Subject: system.KFDDevice, GPUs: indices(a.inUse),
			Message: fmt.Sprintf("%s is missing or this user cannot open it read-write: ROCm sees none of %s", system.KFDDevice, describe(a.inUse)),
			Fix:     "sudo usermod -aG render,video $USER, then log out and in again; if /dev/kfd does not exist, load amdgpu with its compute interface (check dmesg | grep -i kfd)",
			Entry:   a.entryFor(kb.ClassKFDPermission, kb.PredKFDInaccessible, nil),
		},
		reason: "this user cannot open " + system.KFDDevice,
	})
}

// checkSettings flags variables and amdgpu parameters that do nothing on
// every GPU in use, as the settings catalogue judges them.
func (a *assessor) checkSettings() {
	if len(a.inUse) == 0 {
		return
	}
	names := make([]string, 0, len(a.sys.Env))
	for n := range a.sys.Env {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		if strings.HasPrefix(name, overrideVar) || isAllocatorOff(name) {
			continue // judged by checkOverride and checkAllocator
		}
		s, ok := a.k.Setting(name)
		if !ok || s.Kind != kb.KindEnv {
			continue
		}
		a.noOp(s, name, a.sys.Env[name], name, "unset "+name)
	}
	params := make([]string, 0, len(a.sys.AMDGPU.Params))
	for p := range a.sys.AMDGPU.Params {
		params = append(params, p)
	}
	sort.Strings(params)
	for _, p := range params {
		s, ok := a.k.Setting("amdgpu." + p)
		if !ok || s.Kind != kb.KindAMDGPUParam {
			continue
		}
		value := strings.TrimSpace(a.sys.AMDGPU.Params[p])
		if isModuleDefault(s, value) {
			continue // not set by anyone: sysfs shows the default
		}
		a.noOp(s, "amdgpu."+p, value, "/sys/module/amdgpu/parameters/"+p,
			fmt.Sprintf("remove amdgpu.%s=%s from the kernel command line or /etc/modprobe.d, then reboot", p, value))
	}
}

// noOp adds a setting-no-op finding when the catalogue says that value
// changes nothing on every GPU in use.
func (a *assessor) noOp(s *kb.Setting, name, value, subject, fix string) {
	var reasons []string
	for _, g := range a.inUse {
		if !g.judged {
			return // cannot be sure for a GPU of unknown family
		}
		noop, why := s.NoOp(value, kb.Context{GFXTarget: g.own, Family: string(g.family), Env: a.sys.Env})
		if !noop {
			return
		}
		reasons = appendUnique(reasons, oneLine(why))
	}
	a.add(&finding{
		Finding: Finding{
			ID: FindingSettingNoOp, Severity: SeverityInfo, Risk: RiskLow, Subject: subject, GPUs: indices(a.inUse),
			Message: fmt.Sprintf("%s=%s does nothing on %s: %s", name, clean(value), describe(a.inUse), strings.Join(reasons, "; ")),
			Fix:     fix,
		},
		reason: fmt.Sprintf("%s=%s does nothing here", name, clean(value)),
	})
}

// allocatorOff are the variables that bypass PyTorch's caching allocator.
var allocatorOff = []string{"PYTORCH_NO_HIP_MEMORY_CACHING", "PYTORCH_NO_CUDA_MEMORY_CACHING"}

func isAllocatorOff(name string) bool {
	for _, n := range allocatorOff {
		if n == name {
			return true
		}
	}
	return false
}

// checkAllocator flags the uncached allocator: set at all, since older
// PyTorch releases take any value as on.
func (a *assessor) checkAllocator() {
	if len(a.inUse) == 0 {
		return
	}
	for _, name := range allocatorOff {
		value, ok := a.sys.Env[name]
		if !ok {
			continue
		}
		// What it does and costs is the catalogue's to say.
		what := "turns off PyTorch's caching allocator"
		if s, ok := a.k.Setting(name); ok {
			what = strings.TrimSuffix(oneLine(s.Meaning), ".") + "; cost: " + strings.TrimSuffix(oneLine(s.Cost), ".")
		}
		a.add(&finding{
			Finding: Finding{
				ID: FindingUncachedAlloc, Severity: SeverityWarning, Risk: RiskLow, Subject: name, GPUs: indices(a.inUse),
				Message: fmt.Sprintf("%s=%s is set for %s: %s", name, clean(value), describe(a.inUse), what),
				Fix:     "unset " + name + " unless you are debugging PyTorch's allocator",
			},
			reason: fmt.Sprintf("%s=%s: large slowdown", name, clean(value)),
		})
	}
}
