package shim

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// ReportFile is the file the shim appends to, in its run folder.
const ReportFile = "shim.jsonl"

// maxLine bounds one line of shim.jsonl; the shim writes a few hundred
// bytes, so a longer line is garbage and is skipped, not buffered.
const maxLine = 64 << 10

// Report is what the shim said in one run folder, over every Python process
// that imported torch there. Its JSON form is what history stores.
type Report struct {
	// Loaded: at least one process imported torch under the shim.
	Loaded bool `json:"loaded"`
	// Processes is the number of distinct processes that reported.
	Processes int `json:"processes"`
	// TorchVersion, HIPVersion and CUDAVersion are torch's, as the first
	// process to report them saw them.
	TorchVersion string `json:"torch_version,omitempty"`
	HIPVersion   string `json:"hip_version,omitempty"`
	CUDAVersion  string `json:"cuda_version,omitempty"`
	// Device is "gpu" when any process initialised its GPU; otherwise the
	// last state reported ("cpu", "pending", "unused").
	Device string `json:"device,omitempty"`
	// DeviceName and Arch are those of the GPU a process initialised.
	DeviceName string `json:"device_name,omitempty"`
	Arch       string `json:"arch,omitempty"`
	// MemoryFraction is the per-process fraction set on the GPU; 0: none.
	MemoryFraction float64 `json:"memory_fraction,omitempty"`
	// AllocConf is the allocator configuration in force and AllocConfSource
	// who chose it ("shim", "supervisor", "user").
	AllocConf       string `json:"alloc_conf,omitempty"`
	AllocConfSource string `json:"alloc_conf_source,omitempty"`
	// Policy for failed GPU allocations.
	Policy string `json:"policy,omitempty"`
	// Wrapped: some process wrapped the tensor factories.
	Wrapped bool `json:"wrapped"`
	// Fallbacks, Retries, RetryOK and Raised are summed over processes:
	// allocations made on the CPU instead, retries, retries that worked,
	// and GPU allocation errors left to the job.
	Fallbacks int `json:"fallbacks"`
	Retries   int `json:"retries,omitempty"`
	RetryOK   int `json:"retry_ok,omitempty"`
	Raised    int `json:"raised,omitempty"`
	// ByOp counts fallbacks per wrapped function ("torch.zeros").
	ByOp map[string]int `json:"by_op,omitempty"`
	// LastError is the last GPU allocation error a process reported.
	LastError string `json:"last_error,omitempty"`
	// Errors are the shim's own failures (the job went on without that
	// part), each once.
	Errors []string `json:"errors,omitempty"`
	// Exited is the number of processes that reported their exit.
	Exited int `json:"exited"`
	// BadLines counts lines that were not shim events (a line cut short by
	// a crash among them).
	BadLines int `json:"bad_lines,omitempty"`
}

// event is one line of shim.jsonl. Pointers tell a missing or null field
// from a zero.
type event struct {
	Event           string         `json:"event"`
	PID             int64          `json:"pid"`
	TorchVersion    string         `json:"torch_version"`
	HIPVersion      *string        `json:"hip_version"`
	CUDAVersion     *string        `json:"cuda_version"`
	Device          string         `json:"device"`
	DeviceName      string         `json:"device_name"`
	Arch            string         `json:"arch"`
	MemoryFraction  *float64       `json:"memory_fraction"`
	AllocConf       string         `json:"alloc_conf"`
	AllocConfSource string         `json:"alloc_conf_source"`
	Policy          string         `json:"policy"`
	Wrapped         bool           `json:"wrapped"`
	Fallbacks       int64          `json:"fallbacks"`
	Retries         int64          `json:"retries"`
	RetryOK         int64          `json:"retry_ok"`
	Raised          int64          `json:"raised"`
	ByOp            map[string]int `json:"by_op"`
	LastError       string         `json:"last_error"`
	Error           string         `json:"error"`
	Final           bool           `json:"final"`
}

// counts is one process's cumulative counts: each line carries them so
// far, so the largest seen is the process's total.
type counts struct {
	fallbacks, retries, retryOK, raised int64
	byOp                                map[string]int
}

// ReadReport reads runDir's shim.jsonl. A folder without one gives a zero
// Report (the job never imported torch under the shim) and no error.
func ReadReport(runDir string) (Report, error) {
	f, err := os.Open(filepath.Join(runDir, ReportFile))
	if errors.Is(err, fs.ErrNotExist) {
		return Report{}, nil
	}
	if err != nil {
		return Report{}, fmt.Errorf("shim report: %w", err)
	}
	defer f.Close()
	r, err := ParseReport(f)
	if err != nil {
		return r, fmt.Errorf("shim report %s: %w", f.Name(), err)
	}
	return r, nil
}

// ParseReport folds shim.jsonl lines into a Report. Lines that are not shim
// events (torn by a crash, over-long, foreign) are counted in BadLines and
// skipped; only a read error is returned.
func ParseReport(r io.Reader) (Report, error) {
	var rep Report
	procs := map[int64]*counts{}
	var order []int64
	seenErr := map[string]bool{}
	br := bufio.NewReaderSize(r, 4096)
	for {
		line, err := readLine(br)
		if len(line) > 0 {
			if !rep.add(line, procs, &order, seenErr) {
				rep.BadLines++
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return rep, err
		}
	}
	rep.Processes = len(order)
	for _, pid := range order {
		c := procs[pid]
		rep.Fallbacks = satAdd(rep.Fallbacks, c.fallbacks)
		rep.Retries = satAdd(rep.Retries, c.retries)
		rep.RetryOK = satAdd(rep.RetryOK, c.retryOK)
		rep.Raised = satAdd(rep.Raised, c.raised)
		for op, n := range c.byOp {
			if rep.ByOp == nil {
				rep.ByOp = map[string]int{}
			}
			rep.ByOp[op] = satAdd(rep.ByOp[op], int64(n))
		}
	}
	return rep, nil
}

// readLine returns the next line without its newline; a line longer than
// maxLine comes back as a marker that fails to parse.
func readLine(br *bufio.Reader) ([]byte, error) {
	var buf []byte
	over := false
	for {
		chunk, err := br.ReadSlice('\n')
		if !over {
			if len(buf)+len(chunk) > maxLine+1 {
				over, buf = true, nil
			} else {
				buf = append(buf, chunk...)
			}
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if over {
			return []byte("\x00"), err
		}
		return bytes.TrimRight(buf, "\r\n"), err
	}
}

func (rep *Report) add(line []byte, procs map[int64]*counts, order *[]int64, seenErr map[string]bool) bool {
	line = bytes.TrimSpace(line)
	if len(line) == 0 {
		return true
	}
	var e event
	if err := json.Unmarshal(line, &e); err != nil || e.Event == "" {
		return false
	}
	c := procs[e.PID]
	if c == nil {
		c = &counts{}
		procs[e.PID] = c
		*order = append(*order, e.PID)
	}
	c.fallbacks = max(c.fallbacks, e.Fallbacks)
	c.retries = max(c.retries, e.Retries)
	c.retryOK = max(c.retryOK, e.RetryOK)
	c.raised = max(c.raised, e.Raised)
	for op, n := range e.ByOp {
		if n <= 0 {
			continue
		}
		if c.byOp == nil {
			c.byOp = map[string]int{}
		}
		c.byOp[op] = max(c.byOp[op], n)
	}

	rep.Loaded = true
	if rep.TorchVersion == "" {
		rep.TorchVersion = e.TorchVersion
	}
	if rep.HIPVersion == "" && e.HIPVersion != nil {
		rep.HIPVersion = *e.HIPVersion
	}
	if rep.CUDAVersion == "" && e.CUDAVersion != nil {
		rep.CUDAVersion = *e.CUDAVersion
	}
	if rep.Device != "gpu" && e.Device != "" {
		rep.Device = e.Device
	}
	if e.Device == "gpu" {
		if e.DeviceName != "" {
			rep.DeviceName = e.DeviceName
		}
		if e.Arch != "" {
			rep.Arch = e.Arch
		}
	}
	if f := e.MemoryFraction; f != nil && *f > 0 && *f <= 1 {
		rep.MemoryFraction = *f
	}
	if e.AllocConfSource != "" {
		rep.AllocConf, rep.AllocConfSource = e.AllocConf, e.AllocConfSource
	}
	if e.Policy != "" {
		rep.Policy = e.Policy
	}
	rep.Wrapped = rep.Wrapped || e.Wrapped
	if e.LastError != "" {
		rep.LastError = e.LastError
	}
	if e.Event == "error" && e.Error != "" && !seenErr[e.Error] && len(rep.Errors) < 20 {
		seenErr[e.Error] = true
		rep.Errors = append(rep.Errors, e.Error)
	}
	if e.Event == "status" && e.Final {
		rep.Exited++
	}
	return true
}

func satAdd(a int, b int64) int {
	if b < 0 {
		b = 0
	}
	if int64(a) > math.MaxInt-b {
		return math.MaxInt
	}
	return a + int(b)
}

// Summary is one line for people: what the shim found and did.
func (r Report) Summary() string {
	if !r.Loaded {
		return "shim: torch not imported"
	}
	parts := []string{"torch " + r.TorchVersion}
	if r.HIPVersion != "" {
		parts[0] += " (HIP " + r.HIPVersion + ")"
	}
	dev := r.Device
	if r.Arch != "" {
		dev += " " + r.Arch
	} else if r.DeviceName != "" {
		dev += " " + r.DeviceName
	}
	parts = append(parts, dev)
	if r.MemoryFraction > 0 {
		parts = append(parts, fmt.Sprintf("memory fraction %g", r.MemoryFraction))
	}
	if r.AllocConf != "" {
		parts = append(parts, r.AllocConf+" ("+r.AllocConfSource+")")
	}
	if r.Wrapped {
		parts = append(parts, fmt.Sprintf("%s: %d fallbacks", r.Policy, r.Fallbacks))
		if len(r.ByOp) > 0 {
			ops := make([]string, 0, len(r.ByOp))
			for op, n := range r.ByOp {
				ops = append(ops, fmt.Sprintf("%s %d", op, n))
			}
			sort.Strings(ops)
			parts[len(parts)-1] += " (" + strings.Join(ops, ", ") + ")"
		}
	}
	if len(r.Errors) > 0 {
		parts = append(parts, fmt.Sprintf("%d shim errors", len(r.Errors)))
	}
	return "shim: " + strings.Join(parts, ", ")
}
