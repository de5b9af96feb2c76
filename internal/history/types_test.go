package history

import (
	"strings"
	"testing"
)

func TestCanonicalLayers(t *testing.T) {
	tests := []struct {
		in   []string
		want string
	}{
		{nil, "none"},
		{[]string{}, "none"},
		{[]string{"", "  "}, "none"},
		{[]string{"none"}, "none"},
		{[]string{"env"}, "env"},
		{[]string{"shim", "env"}, "env+shim"},
		{[]string{"env", "shim"}, "env+shim"},
		{[]string{" Env ", "SHIM", "env"}, "env+shim"},
		{[]string{"cpu"}, "cpu"},
		{[]string{"none", "env"}, "env"},
	}
	for _, tt := range tests {
		if got := CanonicalLayers(tt.in); got != tt.want {
			t.Errorf("CanonicalLayers(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestAttemptResult(t *testing.T) {
	tests := []struct {
		name string
		a    Attempt
		want Result
	}{
		{"clean exit", Attempt{ExitCode: 0}, ResultOK},
		{"clean exit with a matched warning", Attempt{ExitCode: 0, Class: "gpu-memory-fault"}, ResultOK},
		{"abort after memory access fault", Attempt{ExitCode: -1, Signal: "SIGABRT", Class: "gpu-memory-fault"}, ResultCrash},
		{"segfault, nothing matched", Attempt{ExitCode: -1, Signal: "SIGSEGV"}, ResultCrash},
		{"HIP error raised in Python", Attempt{ExitCode: 1, Class: "illegal-address"}, ResultCrash},
		{"job's own bug", Attempt{ExitCode: 1}, ResultError},
		{"user pressed ^C", Attempt{ExitCode: -1, Signal: "SIGINT", Interrupted: true}, ResultInterrupted},
	}
	for _, tt := range tests {
		if got := tt.a.Result(); got != tt.want {
			t.Errorf("%s: Result() = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestDecideOutcome(t *testing.T) {
	ok := func(dev string) Attempt { return Attempt{Device: dev} }
	crash := func(dev string) Attempt { return Attempt{Device: dev, ExitCode: -1, Signal: "SIGABRT"} }
	errored := func(dev string) Attempt { return Attempt{Device: dev, ExitCode: 2} }
	tests := []struct {
		name        string
		attempts    []Attempt
		interrupted bool
		want        Outcome
	}{
		{"could not start", nil, false, OutcomeFailed},
		{"first try", []Attempt{ok("gpu")}, false, OutcomeOK},
		{"cpu policy", []Attempt{ok("cpu")}, false, OutcomeOK},
		{"ladder worked", []Attempt{crash("gpu"), crash("gpu"), ok("gpu")}, false, OutcomeOKAfterRetry},
		{"fell back", []Attempt{crash("gpu"), crash("gpu"), ok("cpu")}, false, OutcomeFallbackCPUOK},
		{"cpu retried", []Attempt{errored("cpu"), ok("cpu")}, false, OutcomeOKAfterRetry},
		{"gave up", []Attempt{crash("gpu"), crash("cpu")}, false, OutcomeFailed},
		{"job bug", []Attempt{errored("gpu")}, false, OutcomeFailed},
		{"user stopped supervisor", []Attempt{crash("gpu")}, true, OutcomeInterrupted},
		{"last attempt interrupted", []Attempt{crash("gpu"), {Device: "gpu", ExitCode: -1, Signal: "SIGINT", Interrupted: true}}, false, OutcomeInterrupted},
	}
	for _, tt := range tests {
		got := DecideOutcome(tt.attempts, tt.interrupted)
		if got != tt.want {
			t.Errorf("%s: DecideOutcome = %q, want %q", tt.name, got, tt.want)
		}
		if !got.Valid() {
			t.Errorf("%s: outcome %q is not in Outcomes", tt.name, got)
		}
	}
}

func TestOutcomeValid(t *testing.T) {
	for _, o := range Outcomes {
		if !o.Valid() {
			t.Errorf("%q not valid", o)
		}
		if strings.ToLower(string(o)) != string(o) {
			t.Errorf("%q: outcomes are lower case", o)
		}
	}
	for _, o := range []Outcome{"", "OK", "crashed"} {
		if o.Valid() {
			t.Errorf("%q valid", o)
		}
	}
}
