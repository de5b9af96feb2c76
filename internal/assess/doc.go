// Package assess decides what a machine needs before a PyTorch training run
// on its AMD GPUs: the findings of `rocm-patch doctor` (each with a stable
// id, a severity, the GPU it concerns, a one-line message and a fix), a risk
// level per GPU and for the machine, the decision every policy would make
// for every GPU, and the plan of the chosen policy (which GPUs the run uses
// or hides, the environment layer, supervision and CPU fallback).
//
// It is pure: [Doctor] reads a detected system.System and the knowledge
// base and returns a [Report]; it does no I/O and prints nothing. Hardware
// facts come from package hw; what a setting does, costs, and when it is a
// no-op come from the knowledge base's settings catalogue, never from text
// written here.
//
// # Risk
//
// Every GPU a run could use starts at none and is raised by its findings.
// Every RDNA1 and RDNA2 GPU is high risk: this is the conservative rule of
// the documented issues (consumer RDNA1/RDNA2 cards are not supported by
// ROCm and memory access faults are what users report). A GPU hidden by the
// user's visibility variables, or without a KFD node, takes no part in a
// run: it has no findings of its own and its risk is none.
//
// # Policies
//
//   - mitigate (default): GPUs run with the environment layer, supervised,
//     and the run moves to the CPU after repeated faults. A GPU no run can
//     use (no kernels for its ISA family, /dev/kfd closed) is hidden.
//   - cpu: as mitigate, and every high-risk GPU is hidden as well; with none
//     left the job runs on the CPU.
//   - force-gpu-unsafe: every GPU in use, only the override a GPU needs to
//     load code at all, no supervision, no fallback, and a warning per GPU
//     at risk.
package assess
