// Package runner is `rocm-patch run`'s attempt loop: it runs a training
// command under supervision (package supervise) with the environment
// layer doctor planned, classifies each failed attempt with the crash
// matcher (package diagnose), retries GPU faults up the knowledge base's
// ladder (kb.Ladder) until the last attempt moves to the CPU, and records
// the run and every attempt in the history (package history), with each
// attempt's output kept in the run's directory.
//
// # Decisions
//
// The pure parts are exported so that they can be tested apart from
// processes: Schedule says which ladder rung an attempt runs on,
// BuildEnvironment composes its environment, Judge says what an attempt's
// ending means (retry, stop, or what to do instead), DecisionLine and
// CPUNotice word what was decided, SplitArgs reads --resume-args.
//
// # Retries
//
// A failed attempt is retried only when its output shows a GPU fault
// (RetryableClasses) or it was killed by a signal on a GPU attempt (a
// process crash), never after the user stopped it, never on the CPU, and
// never for a failure a retry cannot fix (a missing code object, a wrong
// override, an ordinary exception): then the matched knowledge-base
// entry's advice is printed instead. Retries wait Options.Backoff,
// doubling, and a stop signal during the wait ends the run at once.
//
// # The child
//
// The child sees ROCM_PATCH_ATTEMPT, ROCM_PATCH_DEVICE and
// ROCM_PATCH_RUN_DIR (and ROCM_PATCH_RESUME=last on the retries of
// --resume lightning), on top of the user's environment with the layers
// applied. See docs/run.md for the whole contract.
//
// # The shim
//
// With Options.Shim, every attempt loads the in-process Python shim
// (package shim): its folder goes first on PYTHONPATH and its settings into
// ROCM_PATCH_SHIM_POLICY and ROCM_PATCH_MEMORY_FRACTION. It is a layer
// ("shim") of GPU attempts only; on a CPU attempt it changes nothing and
// only reports. The shim appends to shim.jsonl in the run directory, which
// is emptied before each attempt and kept after it as
// attempt-N.shim.jsonl; what it says goes into the attempt's history row.
package runner
