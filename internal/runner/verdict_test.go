package runner

import (
	"syscall"
	"testing"

	"github.com/rocm-patch/rocm-patch/internal/testutil"

	"github.com/rocm-patch/rocm-patch/internal/diagnose"
	"github.com/rocm-patch/rocm-patch/internal/kb"
)

func TestJudge(t *testing.T) {
	m, err := diagnose.New(testutil.KB(t), diagnose.Options{})
	if err != nil {
		t.Fatal(err)
	}
	const (
		fault     = "Memory access fault by GPU node-1 (Agent handle: 0x55) on address 0x7f. Reason: Page not present or supervisor privilege.\n"
		aperture  = "HSA_STATUS_ERROR_MEMORY_APERTURE_VIOLATION: The agent attempted to access memory beyond the largest legal address. code: 0x29\n"
		illegal   = "RuntimeError: HIP error: an illegal memory access was encountered\n"
		noCode    = "hipErrorNoBinaryForGpu: Unable to find code object for all current devices!\n"
		aborted   = "Aborted (core dumped)\n"
		exception = "ValueError: bad learning rate\n"
	)
	tests := []struct {
		name    string
		e       Ending
		log     string
		kind    Kind
		class   kb.Class
		summary string
	}{
		{"ok", Ending{GPU: true}, fault, KindOK, "", "exit status 0"},
		{"memory fault", Ending{ExitCode: -1, Signal: syscall.SIGABRT, GPU: true}, fault + aborted, KindGPUFault, kb.ClassGPUMemoryFault, "gpu-memory-fault (gpu-memory-access-fault), killed by SIGABRT"},
		{"aperture", Ending{ExitCode: -1, Signal: syscall.SIGABRT, GPU: true}, aperture, KindGPUFault, kb.ClassApertureViolation, ""},
		{"illegal address as an exception", Ending{ExitCode: 1, GPU: true}, illegal, KindGPUFault, kb.ClassIllegalAddress, ""},
		{"fault through a shell wrapper", Ending{ExitCode: 134, GPU: true}, fault, KindGPUFault, kb.ClassGPUMemoryFault, ""},
		{"bare crash on the gpu", Ending{ExitCode: -1, Signal: syscall.SIGSEGV, GPU: true}, "", KindGPUFault, "", "killed by SIGSEGV"},
		{"abort message alone", Ending{ExitCode: 134, GPU: true}, aborted, KindGPUFault, kb.ClassProcessCrash, ""},
		{"crash on the cpu", Ending{ExitCode: -1, Signal: syscall.SIGSEGV}, "", KindCPUFailure, "", ""},
		{"fault on the cpu", Ending{ExitCode: -1, Signal: syscall.SIGABRT}, fault, KindCPUFailure, kb.ClassGPUMemoryFault, ""},
		{"missing code object", Ending{ExitCode: 1, GPU: true}, noCode, KindKnown, kb.ClassUnsupportedISA, "unsupported-isa (no-code-object-for-gpu), exit status 1"},
		{"known class beats the abort", Ending{ExitCode: -1, Signal: syscall.SIGABRT, GPU: true}, noCode + aborted, KindKnown, kb.ClassUnsupportedISA, ""},
		{"ordinary exception", Ending{ExitCode: 1, GPU: true}, exception, KindOrdinary, "", "exit status 1"},
		{"interrupted", Ending{ExitCode: -1, Signal: syscall.SIGINT, Interrupted: true, StopSignal: syscall.SIGINT, GPU: true}, fault, KindInterrupted, kb.ClassGPUMemoryFault, ""},
		{"interrupted, exited", Ending{ExitCode: 1, Interrupted: true, StopSignal: syscall.SIGTERM, GPU: true}, "", KindInterrupted, "", "stopped by SIGTERM, exit status 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := Judge(tt.e, m.ScanBytes([]byte(tt.log)))
			if v.Kind != tt.kind || v.Retry != (tt.kind == KindGPUFault) {
				t.Errorf("kind %s retry %v, want %s", v.Kind, v.Retry, tt.kind)
			}
			var class kb.Class
			if v.Match != nil {
				class = v.Match.Class
			}
			if class != tt.class {
				t.Errorf("class %q, want %q", class, tt.class)
			}
			if tt.summary != "" && v.Summary != tt.summary {
				t.Errorf("summary %q, want %q", v.Summary, tt.summary)
			}
		})
	}
	if v := Judge(Ending{ExitCode: 2, GPU: true}, nil); v.Kind != KindOrdinary || v.Match != nil {
		t.Errorf("no diagnosis: %+v", v)
	}
	if got := signalName(syscall.Signal(77)); got != "signal 77" {
		t.Errorf("signalName(77) = %q", got)
	}
}
