package history

import (
	"encoding/json"
	"time"
)

// JSONSchema names the contract of `rocm-patch history --json`. Fields are
// only added within a version.
const JSONSchema = "rocm-patch/history/v1"

// Document is the `history --json` output.
type Document struct {
	Schema string    `json:"schema"`
	Runs   []RunJSON `json:"runs"`
}

// RunJSON is one run in Document. The first five fields are those issue 4
// specifies; the rest are additions.
type RunJSON struct {
	ID      int64    `json:"id"`
	Command []string `json:"command"`
	// Started and Finished are RFC 3339 in UTC; Finished is null while the
	// run is "running".
	Started  time.Time     `json:"started"`
	Outcome  Outcome       `json:"outcome"`
	Attempts []AttemptJSON `json:"attempts"`

	Dir          string     `json:"dir"`
	RunDir       string     `json:"run_dir"`
	Finished     *time.Time `json:"finished"`
	Policy       string     `json:"policy"`
	GPU          GPUJSON    `json:"gpu"`
	ROCmVersion  string     `json:"rocm_version"`
	TorchVersion string     `json:"torch_version"`
}

// GPUJSON is the GPU a run used.
type GPUJSON struct {
	Target string `json:"gfx_target"`
	Family string `json:"family"`
	Name   string `json:"name"`
}

// AttemptJSON is one attempt in RunJSON. The first seven fields are those
// issue 4 specifies; the rest are additions.
type AttemptJSON struct {
	N      int    `json:"n"`
	Device string `json:"device"`
	// ExitCode is -1 when the process was killed by a signal.
	ExitCode  int     `json:"exit_code"`
	Signal    string  `json:"signal"`
	Class     string  `json:"class"`
	IssueID   string  `json:"issue_id"`
	DurationS float64 `json:"duration_s"`

	Result         Result            `json:"result"`
	Interrupted    bool              `json:"interrupted"`
	Layers         []string          `json:"layers"`
	Configuration  string            `json:"configuration"`
	Settings       map[string]string `json:"settings"`
	Started        time.Time         `json:"started"`
	Throughput     *float64          `json:"throughput"`
	ThroughputUnit string            `json:"throughput_unit"`
	LogPath        string            `json:"log_path"`
	// Shim is what the in-process shim reported (see shim.Report), null
	// when it was not loaded.
	Shim json.RawMessage `json:"shim"`
}

// NewDocument converts runs (as Runs returns them) to the JSON contract.
// Lists and maps are never null, so consumers need no null checks.
func NewDocument(runs []Run) Document {
	doc := Document{Schema: JSONSchema, Runs: make([]RunJSON, 0, len(runs))}
	for _, r := range runs {
		cmd := r.Command
		if cmd == nil {
			cmd = []string{}
		}
		rj := RunJSON{
			ID:           r.ID,
			Command:      cmd,
			Started:      r.Started.UTC(),
			Outcome:      r.Outcome,
			Attempts:     make([]AttemptJSON, 0, len(r.Attempts)),
			Dir:          r.Dir,
			RunDir:       r.RunDir,
			Policy:       r.Policy,
			GPU:          GPUJSON{Target: r.GPU.Target, Family: r.GPU.Family, Name: r.GPU.Name},
			ROCmVersion:  r.ROCmVersion,
			TorchVersion: r.TorchVersion,
		}
		if !r.Finished.IsZero() {
			f := r.Finished.UTC()
			rj.Finished = &f
		}
		for _, a := range r.Attempts {
			layers := a.Layers
			if layers == nil {
				layers = []string{}
			}
			settings := a.Settings
			if settings == nil {
				settings = map[string]string{}
			}
			rj.Attempts = append(rj.Attempts, AttemptJSON{
				N:              a.N,
				Device:         a.Device,
				ExitCode:       a.ExitCode,
				Signal:         a.Signal,
				Class:          a.Class,
				IssueID:        a.IssueID,
				DurationS:      a.Duration.Seconds(),
				Result:         a.Result(),
				Interrupted:    a.Interrupted,
				Layers:         layers,
				Configuration:  a.Configuration(),
				Settings:       settings,
				Started:        a.Started.UTC(),
				Throughput:     a.Throughput,
				ThroughputUnit: a.ThroughputUnit,
				LogPath:        a.LogPath,
				Shim:           a.Shim,
			})
		}
		doc.Runs = append(doc.Runs, rj)
	}
	return doc
}
