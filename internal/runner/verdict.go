package runner

import (
	"fmt"
	"syscall"

	"github.com/rocm-patch/rocm-patch/internal/diagnose"
	"github.com/rocm-patch/rocm-patch/internal/kb"
	"golang.org/x/sys/unix"
)

// RetryableClasses are the failure classes a retry may fix: faults of the
// GPU's memory or execution, which depend on timing, memory layout and
// driver state rather than on the program being wrong. A process crash
// (a signal, or an abort with nothing more specific in the output) counts
// too, but only on a GPU attempt.
var RetryableClasses = []kb.Class{
	kb.ClassGPUMemoryFault, kb.ClassApertureViolation, kb.ClassIllegalAddress,
	kb.ClassKernelPageFault, kb.ClassGPUHang,
}

// Kind says how an attempt ended, as far as retrying is concerned.
type Kind string

// The kinds of ending.
const (
	// KindOK: exit status 0.
	KindOK Kind = "ok"
	// KindInterrupted: the user stopped it; never retried.
	KindInterrupted Kind = "interrupted"
	// KindGPUFault: a retryable class, or a process crash on a GPU attempt.
	KindGPUFault Kind = "gpu-fault"
	// KindKnown: a known failure that a retry cannot fix; its knowledge-
	// base entry says what to do instead.
	KindKnown Kind = "known"
	// KindCPUFailure: the attempt ran on the CPU and failed; with no GPU
	// involved there is nothing for a retry to change.
	KindCPUFailure Kind = "cpu-failure"
	// KindOrdinary: a non-zero exit with no GPU signature (an ordinary
	// exception, a usage error of the script).
	KindOrdinary Kind = "ordinary"
)

// Verdict is what an attempt's ending means for the run.
type Verdict struct {
	Kind Kind
	// Retry is true for KindGPUFault: another attempt may succeed.
	Retry bool
	// Match is the diagnosis's best match, nil when nothing matched.
	Match *diagnose.Match
	// Summary says in a few words how it ended: "gpu-memory-fault
	// (gpu-memory-access-fault), killed by SIGABRT".
	Summary string
}

// Ending is the part of an attempt's result a verdict depends on.
type Ending struct {
	ExitCode    int
	Signal      syscall.Signal
	Interrupted bool
	StopSignal  syscall.Signal
	// GPU is true when the attempt could use a GPU.
	GPU bool
}

// Judge decides what an attempt's ending means. It is a pure function of
// the ending and the diagnosis of its output (nil or empty when nothing
// matched).
func Judge(e Ending, d *diagnose.Result) Verdict {
	var m *diagnose.Match
	if d != nil {
		m = d.Best()
	}
	v := Verdict{Match: m, Summary: describeEnding(e, m)}
	switch {
	case e.Interrupted:
		v.Kind = KindInterrupted
	case e.ExitCode == 0 && e.Signal == 0:
		v.Kind, v.Match = KindOK, nil
	case !e.GPU:
		v.Kind = KindCPUFailure
	case m != nil && retryable(m.Class):
		v.Kind, v.Retry = KindGPUFault, true
	case m != nil && m.Class == kb.ClassProcessCrash, m == nil && e.Signal != 0:
		v.Kind, v.Retry = KindGPUFault, true
	case m != nil:
		v.Kind = KindKnown
	default:
		v.Kind = KindOrdinary
	}
	return v
}

func retryable(c kb.Class) bool {
	for _, r := range RetryableClasses {
		if r == c {
			return true
		}
	}
	return false
}

// describeEnding writes how an attempt ended: the class and id matched,
// then the exit status or signal.
func describeEnding(e Ending, m *diagnose.Match) string {
	var how string
	switch {
	case e.Signal != 0:
		how = "killed by " + signalName(e.Signal)
	default:
		how = fmt.Sprintf("exit status %d", e.ExitCode)
	}
	if e.Interrupted && e.StopSignal != 0 {
		how = fmt.Sprintf("stopped by %s, %s", signalName(e.StopSignal), how)
	}
	if m == nil || (e.ExitCode == 0 && e.Signal == 0) {
		return how
	}
	return fmt.Sprintf("%s (%s), %s", m.Class, m.ID, how)
}

// signalName is "SIGABRT", or "signal 77" for a number the platform does
// not name.
func signalName(s syscall.Signal) string {
	if n := unix.SignalName(s); n != "" {
		return n
	}
	return fmt.Sprintf("signal %d", int(s))
}
