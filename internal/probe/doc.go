// Package probe measures, on the user's own machine, how often a PyTorch
// workload that exercises the documented fault triggers crashes under each
// mitigation configuration, and how fast it runs: `rocm-patch probe`.
//
// The workload (workload.py, embedded) is a small EEG training loop:
// an EEGNeX-like network (a temporal convolution, a spatial convolution
// whose kernel spans every electrode, a depthwise-separable block),
// view/reshape/permute chains, batch 32, mixed precision (float16 on the
// GPU; bfloat16 on a CPU that computes it natively, else none, said in its
// output) and a loop of allocations and releases. InstallWorkload writes it
// into the user's cache under a content hash, so that its path, and so the
// history's command, stays the same.
//
// Each attempt is a child supervised by package runner exactly as
// `rocm-patch run --retries 0` would supervise it (a fault kills only the
// child), classified by diagnose and recorded in the history with its
// layers, so `rocm-patch report` shows the probe's attempts beside the
// user's own runs. The configurations (Config) are none (the GPU, the
// user's environment as it is), env (the mitigate policy's environment
// layer), env+shim (and the in-process shim) and cpu (every GPU hidden);
// PlanFor turns each into the plan the runner runs. A GPU configuration is
// skipped, with its reason, when no AMD GPU is visible or usable, or when
// torch, asked once before the attempts, sees no GPU.
//
// Result is the comparison: per configuration, attempts, crashes, the crash
// rate with its 95% Wilson interval, the median step time and the speedup
// over the cpu configuration (WriteText, WriteJSON: rocm-patch/probe/v1).
package probe
