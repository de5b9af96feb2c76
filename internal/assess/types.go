package assess

import (
	"fmt"
	"strings"
)

// Schema names the JSON contract of Report (docs/json.md). It
// changes only when a field is removed or changes meaning.
const Schema = "rocm-patch/doctor/v1"

// Policy is how a training run treats GPUs at risk.
type Policy string

// The policies, in the order they are presented.
const (
	// PolicyMitigate, the default: use the GPU with the mitigation layers,
	// supervised, and fall back to the CPU after repeated faults.
	PolicyMitigate Policy = "mitigate"
	// PolicyCPU is the conservative safeguard of the EEG2025 project: a
	// high-risk GPU is hidden and its work runs on the CPU.
	PolicyCPU Policy = "cpu"
	// PolicyForceGPU uses every GPU as it is, with no safeguards and a
	// loud warning.
	PolicyForceGPU Policy = "force-gpu-unsafe"
)

// Policies lists every policy in presentation order.
var Policies = []Policy{PolicyMitigate, PolicyCPU, PolicyForceGPU}

// ParsePolicy reads a policy name as the command line spells it.
func ParsePolicy(s string) (Policy, error) {
	for _, p := range Policies {
		if string(p) == s {
			return p, nil
		}
	}
	names := make([]string, len(Policies))
	for i, p := range Policies {
		names[i] = string(p)
	}
	return "", fmt.Errorf("unknown policy %q (want %s)", s, strings.Join(names, ", "))
}

// Severity says how wrong a finding is: error (something that breaks or
// endangers a run as things stand), warning (a risk or a cost), info.
type Severity string

// The severities.
const (
	SeverityError   Severity = "error"
	SeverityWarning Severity = "warning"
	SeverityInfo    Severity = "info"
)

// Risk is how likely a GPU training run is to fail (fault, hang, crash,
// or not reach the GPU at all).
type Risk string

// The risk levels, lowest first.
const (
	RiskNone   Risk = "none"
	RiskLow    Risk = "low"
	RiskMedium Risk = "medium"
	RiskHigh   Risk = "high"
)

// rank orders risks; an unknown value ranks as high, the conservative
// reading.
func (r Risk) rank() int {
	switch r {
	case RiskNone:
		return 0
	case RiskLow:
		return 1
	case RiskMedium:
		return 2
	}
	return 3
}

// AtLeast reports whether r is o or higher.
func (r Risk) AtLeast(o Risk) bool { return r.rank() >= o.rank() }

// maxRisk returns the higher of two risks.
func maxRisk(a, b Risk) Risk {
	if b.rank() > a.rank() {
		return b
	}
	return a
}

// Finding is one thing doctor has to say about the machine.
type Finding struct {
	// ID is stable; see the Finding* constants.
	ID       string   `json:"id"`
	Severity Severity `json:"severity"`
	// GPU is the index of the one GPU the finding concerns, or nil when it
	// concerns the machine or several GPUs (GPUs lists them).
	GPU *int `json:"gpu"`
	// GPUs lists every GPU the finding concerns; empty for the machine.
	GPUs []int `json:"gpus"`
	// Subject is the variable, parameter or file involved.
	Subject string `json:"subject"`
	// Message is one line naming the GPU (index, name, target) and the
	// subject.
	Message string `json:"message"`
	// Fix is what to do, in one line.
	Fix string `json:"fix"`
	// Risk is the level this finding raises the concerned GPUs (or the
	// machine) to.
	Risk Risk `json:"risk"`
	// Entry is the knowledge-base entry that documents the failure, when
	// there is one (rocm-patch issues show <entry>).
	Entry string `json:"entry,omitempty"`
}

// The finding ids. They are part of the JSON contract.
const (
	FindingRDNAMemoryFault = "rdna-memory-fault-risk"
	FindingOverrideWrong   = "override-wrong-family"
	FindingOverrideBad     = "override-malformed"
	FindingOverrideNeeded  = "override-needed"
	FindingNoKernels       = "no-rocm-kernels"
	FindingKFDPermission   = "kfd-permission"
	FindingWSL             = "wsl"
	FindingNoAMDGPU        = "no-amd-gpu"
	FindingSettingNoOp     = "setting-no-op"
	FindingUncachedAlloc   = "uncached-allocator-cost"
	FindingUnknownTarget   = "unknown-gpu-target"
	FindingNoKFDNode       = "no-kfd-node"
)

// FindingIDs lists every id doctor can emit.
var FindingIDs = []string{
	FindingRDNAMemoryFault, FindingOverrideWrong, FindingOverrideBad, FindingOverrideNeeded,
	FindingNoKernels, FindingKFDPermission, FindingWSL, FindingNoAMDGPU, FindingSettingNoOp,
	FindingUncachedAlloc, FindingUnknownTarget, FindingNoKFDNode,
}

// Device is where a run's work goes.
type Device string

// The devices a decision can choose.
const (
	// DeviceGPU: the run uses the GPU.
	DeviceGPU Device = "gpu"
	// DeviceCPU: rocm-patch keeps the run off this GPU (hides it); its
	// work runs on the CPU.
	DeviceCPU Device = "cpu"
	// DeviceUnused: the GPU takes no part whatever the policy (hidden by
	// the user's visibility variables, or without a KFD node).
	DeviceUnused Device = "unused"
)

// Decision is what a training run would do with one GPU under one policy.
type Decision struct {
	Device Device `json:"device"`
	// Layers: the policy's environment layer applies (rocm-patch env).
	Layers bool `json:"mitigation_layers"`
	// Supervised: rocm-patch run watches the process and recognises
	// faults.
	Supervised bool `json:"supervised"`
	// CPUFallback: the run moves to the CPU after repeated GPU faults.
	CPUFallback bool `json:"cpu_fallback"`
	// Hide holds the variables that keep the process off this GPU when
	// Device is cpu; they are process-wide, and the same as Plan.Env's
	// visibility variables under that policy.
	Hide []EnvVar `json:"hide,omitempty"`
	// Warning is set when the decision runs a GPU without safeguards.
	Warning string `json:"warning,omitempty"`
	// Reason is one sentence.
	Reason string `json:"reason"`
}

// Decisions holds one Decision per policy.
type Decisions struct {
	Mitigate Decision `json:"mitigate"`
	CPU      Decision `json:"cpu"`
	ForceGPU Decision `json:"force-gpu-unsafe"`
}

// For returns the decision under p; an unknown policy gets Mitigate's.
func (d Decisions) For(p Policy) Decision {
	switch p {
	case PolicyCPU:
		return d.CPU
	case PolicyForceGPU:
		return d.ForceGPU
	}
	return d.Mitigate
}

func (d *Decisions) set(p Policy, dec Decision) {
	switch p {
	case PolicyCPU:
		d.CPU = dec
	case PolicyForceGPU:
		d.ForceGPU = dec
	default:
		d.Mitigate = dec
	}
}

// GPUReport is the assessment of one GPU.
type GPUReport struct {
	Index  int    `json:"index"`
	Name   string `json:"name"`
	Target string `json:"gfx_target"`
	Family string `json:"family"`
	// InUse is false for a GPU no run can use (hidden by the user's
	// visibility variables, or without a KFD node).
	InUse bool `json:"in_use"`
	Risk  Risk `json:"risk"`
	// Reasons explain Risk, most serious first.
	Reasons  []string  `json:"reasons"`
	Decision Decisions `json:"decision"`
}

// EnvVar is one variable of an environment layer: set to Value, or unset.
type EnvVar struct {
	Name  string `json:"name"`
	Value string `json:"value"`
	Unset bool   `json:"unset,omitempty"`
	// Setting is the settings-catalogue id that says what the variable
	// does and costs (internal/kb/settings.yaml).
	Setting string `json:"setting"`
	// Why says why this machine gets it, naming the GPUs.
	Why string `json:"why"`
	// GPUs are the indices of the GPUs it is for; empty for all.
	GPUs []int `json:"gpus"`
}

// Fallback describes the CPU fallback of a supervised run.
type Fallback struct {
	// AfterFaults is how many GPU faults in one run move it to the CPU.
	AfterFaults int `json:"after_faults"`
}

// ParamAdvice is an amdgpu parameter a policy recommends. It is advice
// only: module parameters need a reboot or module reload, which rocm-patch
// never does on its own.
type ParamAdvice struct {
	Setting string `json:"setting"`
	Value   string `json:"value"`
	Why     string `json:"why"`
	GPUs    []int  `json:"gpus"`
}

// Plan is what one policy applies to a training run on this machine.
type Plan struct {
	Policy Policy `json:"policy"`
	// Device is where the run goes: gpu when any GPU stays in use.
	Device Device `json:"device"`
	// GPUs are the ROCr indices of the GPUs the run uses.
	GPUs []int `json:"gpus"`
	// Hidden are the GPUs this plan hides from the run.
	Hidden []int `json:"hidden"`
	// Env is the environment layer (rocm-patch env prints it).
	Env []EnvVar `json:"env"`
	// Supervised: rocm-patch run watches the process.
	Supervised bool `json:"supervised"`
	// CPUFallback is nil when the run never moves to the CPU on its own.
	CPUFallback *Fallback `json:"cpu_fallback"`
	// Params are kernel-module parameters worth setting (advice only).
	Params []ParamAdvice `json:"kernel_params"`
	// Warnings are printed before the run starts.
	Warnings []string `json:"warnings"`
}

// Report is doctor's whole answer.
type Report struct {
	Schema string `json:"schema"`
	// Policy is the policy Plan was made for.
	Policy Policy `json:"policy"`
	// Risk is the highest risk of any GPU in use or of the machine.
	Risk Risk `json:"risk"`
	// Reasons explain Risk.
	Reasons  []string    `json:"reasons"`
	GPUs     []GPUReport `json:"gpus"`
	Findings []Finding   `json:"findings"`
	// Plan is the chosen policy's plan; Plans holds all three.
	Plan  Plan   `json:"plan"`
	Plans []Plan `json:"-"`
}

// PlanFor returns the plan of policy p.
func (r *Report) PlanFor(p Policy) (Plan, bool) {
	for _, pl := range r.Plans {
		if pl.Policy == p {
			return pl, true
		}
	}
	return Plan{}, false
}
