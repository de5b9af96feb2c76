package history

import (
	"encoding/json"
	"sort"
	"strings"
	"time"
)

// Outcome is how a supervised run ended as a whole, after every attempt.
type Outcome string

// The outcomes. A run is "running" from BeginRun until FinishRun; a run
// that stays "running" after its supervisor is gone was cut short (the
// supervisor was killed or the machine went down) and has no verdict.
const (
	// OutcomeRunning: BeginRun recorded the run, FinishRun has not.
	OutcomeRunning Outcome = "running"
	// OutcomeOK: the first attempt succeeded (on whatever device the
	// policy chose for it).
	OutcomeOK Outcome = "ok"
	// OutcomeOKAfterRetry: a later attempt succeeded after earlier ones
	// failed, without falling back from the GPU to the CPU: a mitigation
	// further up the ladder worked.
	OutcomeOKAfterRetry Outcome = "ok-after-retry"
	// OutcomeFallbackCPUOK: the GPU attempts failed and the job then
	// succeeded on the CPU.
	OutcomeFallbackCPUOK Outcome = "fallback-cpu-ok"
	// OutcomeFailed: the last attempt failed and the supervisor gave up (or
	// the command could not be started at all: no attempts).
	OutcomeFailed Outcome = "failed"
	// OutcomeInterrupted: the user stopped the run (SIGINT, SIGTERM).
	OutcomeInterrupted Outcome = "interrupted"
)

// Outcomes lists every outcome, in the order reports present them.
var Outcomes = []Outcome{OutcomeOK, OutcomeOKAfterRetry, OutcomeFallbackCPUOK, OutcomeFailed, OutcomeInterrupted, OutcomeRunning}

// Valid reports whether o is one of the outcomes above.
func (o Outcome) Valid() bool {
	for _, x := range Outcomes {
		if o == x {
			return true
		}
	}
	return false
}

// The devices an attempt runs on.
const (
	DeviceGPU = "gpu"
	DeviceCPU = "cpu"
)

// Result is how one attempt ended. It is derived from the attempt's exit
// status, signal, matched class and interruption (see Attempt.Result) and
// stored with the attempt so that SQL can group on it.
type Result string

// The attempt results.
const (
	// ResultOK: exit code 0 and no signal.
	ResultOK Result = "ok"
	// ResultCrash: a crash of the kind rocm-patch exists for: killed by a
	// signal (SIGSEGV, SIGABRT after "Memory access fault", SIGKILL from a
	// hang watchdog) or a failure that diagnose matched to a known class
	// (a HIP error raised as a Python exception exits 1).
	ResultCrash Result = "crash"
	// ResultError: a non-zero exit that matched no known class: most likely
	// the job's own bug, so it does not count as a crash.
	ResultError Result = "error"
	// ResultInterrupted: the user stopped the attempt; it is neither a
	// crash nor a success and crash rates leave it out.
	ResultInterrupted Result = "interrupted"
)

// GPU identifies the GPU a run used.
type GPU struct {
	// Target is the gfx target ("gfx1031").
	Target string
	// Family is the ISA family ("RDNA2").
	Family string
	// Name is the marketing name ("AMD Radeon RX 6700 XT").
	Name string
}

// Run is one `rocm-patch run` (or one probe workload) with its attempts.
type Run struct {
	// ID is assigned by BeginRun.
	ID int64
	// Command is the argv that was supervised.
	Command []string
	// Dir is the working directory it ran in.
	Dir string
	// RunDir is the folder of its attempt logs; "" when it kept none.
	RunDir string
	// Started is when the supervisor began; Finished is zero until
	// FinishRun.
	Started  time.Time
	Finished time.Time
	// Policy is the assess policy ("mitigate", "cpu", "force-gpu-unsafe").
	Policy       string
	GPU          GPU
	ROCmVersion  string
	TorchVersion string
	Outcome      Outcome
	// Attempts are in order of N.
	Attempts []Attempt
}

// Attempt is one execution of the command under one configuration.
type Attempt struct {
	// N numbers the attempts of a run from 1.
	N int
	// Device is DeviceGPU or DeviceCPU.
	Device string
	// Layers are the mitigation layers applied, in the order applied
	// ("env", "shim", ...). Configuration groups them canonically.
	Layers []string
	// Settings are the variables and options those layers set.
	Settings map[string]string
	Started  time.Time
	Duration time.Duration
	// ExitCode is as os.ProcessState.ExitCode reports it: -1 when the
	// process was killed by a signal (Signal then names it) or never ran.
	ExitCode int
	// Signal is the name of the signal that killed the process
	// ("SIGSEGV"), empty when it exited.
	Signal string
	// Interrupted is true when the user, not a fault, stopped the attempt.
	Interrupted bool
	// Class and IssueID are what diagnose matched in the attempt's output
	// ("gpu-memory-fault"), empty when nothing matched.
	Class   string
	IssueID string
	// Throughput is the job's last reported speed, nil when it reported
	// none; ThroughputUnit is its unit ("it/s").
	Throughput     *float64
	ThroughputUnit string
	// LogPath is where the attempt's output was saved.
	LogPath string
	// Shim is what the in-process Python shim reported for the attempt, a
	// JSON object (the JSON form of shim.Report, stored as it is so that
	// history does not depend on the shim's types); nil when the shim was
	// not loaded.
	Shim json.RawMessage
}

// Result classifies how the attempt ended; see the Result constants.
func (a Attempt) Result() Result {
	switch {
	case a.Interrupted:
		return ResultInterrupted
	case a.ExitCode == 0 && a.Signal == "":
		return ResultOK
	case a.Signal != "" || a.Class != "":
		return ResultCrash
	}
	return ResultError
}

// Configuration is the canonical name of the attempt's layers; see
// CanonicalLayers.
func (a Attempt) Configuration() string { return CanonicalLayers(a.Layers) }

// NoLayers is the configuration name of an attempt with no layers applied.
const NoLayers = "none"

// CanonicalLayers names a set of layers independently of the order they
// were applied in and of case and repeats: trimmed, lower-cased, sorted,
// joined with "+" ("env+shim"); NoLayers when there are none. Two attempts
// with the same set of layers on the same device are the same
// configuration, whatever order the ladder applied them in.
func CanonicalLayers(layers []string) string {
	seen := make(map[string]bool, len(layers))
	var out []string
	for _, l := range layers {
		l = strings.ToLower(strings.TrimSpace(l))
		if l == "" || l == NoLayers || seen[l] {
			continue
		}
		seen[l] = true
		out = append(out, l)
	}
	if len(out) == 0 {
		return NoLayers
	}
	sort.Strings(out)
	return strings.Join(out, "+")
}

// DecideOutcome is the outcome of a run whose attempts ended as given.
// interrupted is true when the user stopped the supervisor. The supervisor
// calls it before FinishRun so that every writer uses one vocabulary.
func DecideOutcome(attempts []Attempt, interrupted bool) Outcome {
	if interrupted {
		return OutcomeInterrupted
	}
	if len(attempts) == 0 {
		return OutcomeFailed
	}
	last := attempts[len(attempts)-1]
	switch last.Result() {
	case ResultInterrupted:
		return OutcomeInterrupted
	case ResultOK:
	default:
		return OutcomeFailed
	}
	if len(attempts) == 1 {
		return OutcomeOK
	}
	if last.Device == DeviceCPU {
		for _, a := range attempts[:len(attempts)-1] {
			if a.Device == DeviceGPU {
				return OutcomeFallbackCPUOK
			}
		}
	}
	return OutcomeOKAfterRetry
}
