package probe

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"math"
)

// Markers start the workload's machine-readable lines; JSON follows.
const (
	ResultMarker = "rocm-patch: probe-result="
	CheckMarker  = "rocm-patch: probe-check="
)

// maxOutputLine bounds a line the parsers look at; the workload's are a
// few hundred bytes.
const maxOutputLine = 64 << 10

// Output is what one attempt of the workload reported about itself.
type Output struct {
	// Skipped is why the workload did not train ("torch sees no GPU").
	Skipped string `json:"skipped,omitempty"`
	// Device is "cuda" (a GPU, ROCm included) or "cpu"; GPUName names it.
	Device  string `json:"device,omitempty"`
	GPUName string `json:"gpu_name,omitempty"`
	Torch   string `json:"torch,omitempty"`
	HIP     string `json:"hip,omitempty"`
	// AMP is the autocast dtype ("float16", "bfloat16") or "off", and
	// AMPNote why it is off.
	AMP     string `json:"amp,omitempty"`
	AMPNote string `json:"amp_note,omitempty"`
	// Steps were timed; MedianStepMS and MeanStepMS are their times.
	Steps        int     `json:"steps,omitempty"`
	MedianStepMS float64 `json:"median_step_ms,omitempty"`
	MeanStepMS   float64 `json:"mean_step_ms,omitempty"`
	// Throughput is in steps per second.
	Throughput float64 `json:"throughput,omitempty"`
}

// Check is what the workload's --check said about the interpreter.
type Check struct {
	Python string `json:"python"`
	// Torch is torch's version, "present" when it was only looked for,
	// "" when the interpreter has none.
	Torch string `json:"torch"`
	// HIP is torch.version.hip, "" for a build without ROCm.
	HIP string `json:"hip"`
	// GPU is torch.cuda.is_available(), GPUs the device count; both only
	// when asked with a GPU device.
	GPU  bool `json:"gpu"`
	GPUs int  `json:"gpus"`
}

// ParseOutput finds the last result line in a workload's output. ok is
// false when there is none (the workload died before it wrote one) or it
// is not valid; only a read error is returned.
func ParseOutput(r io.Reader) (out Output, ok bool, err error) {
	line, ok, err := lastMarked(r, ResultMarker)
	if err != nil || !ok {
		return Output{}, false, err
	}
	if err := json.Unmarshal(line, &out); err != nil || !out.valid() {
		return Output{}, false, nil
	}
	return out, true, nil
}

// ParseCheck finds the last check line in the output of CheckArgs.
func ParseCheck(r io.Reader) (c Check, ok bool, err error) {
	line, ok, err := lastMarked(r, CheckMarker)
	if err != nil || !ok {
		return Check{}, false, err
	}
	// torch and hip are null in JSON when absent; they read as "".
	var raw struct {
		Python string  `json:"python"`
		Torch  *string `json:"torch"`
		HIP    *string `json:"hip"`
		GPU    bool    `json:"gpu"`
		GPUs   int     `json:"gpus"`
	}
	if err := json.Unmarshal(line, &raw); err != nil || raw.GPUs < 0 {
		return Check{}, false, nil
	}
	c = Check{Python: raw.Python, GPU: raw.GPU, GPUs: raw.GPUs}
	if raw.Torch != nil {
		c.Torch = *raw.Torch
	}
	if raw.HIP != nil {
		c.HIP = *raw.HIP
	}
	return c, true, nil
}

// valid refuses numbers no workload writes, so that a table never shows
// a negative or infinite time.
func (o Output) valid() bool {
	for _, v := range []float64{o.MedianStepMS, o.MeanStepMS, o.Throughput} {
		if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			return false
		}
	}
	return o.Steps >= 0
}

// lastMarked returns what follows marker on the last line that starts
// with it ("\n" or "\r" end lines). Lines longer than maxOutputLine are
// skipped whole, and the lines after them still read.
func lastMarked(r io.Reader, marker string) ([]byte, bool, error) {
	br := bufio.NewReaderSize(r, 32<<10)
	var (
		line, last []byte
		found      bool
		overlong   bool
	)
	end := func() {
		if !overlong {
			if rest, ok := bytes.CutPrefix(line, []byte(marker)); ok {
				last, found = append(last[:0], rest...), true
			}
		}
		line, overlong = line[:0], false
	}
	for {
		b, err := br.ReadByte()
		if err == io.EOF {
			end()
			return bytes.TrimSpace(last), found, nil
		}
		if err != nil {
			return nil, false, err
		}
		switch {
		case b == '\n' || b == '\r':
			end()
		case overlong:
		case len(line) >= maxOutputLine:
			overlong = true
		default:
			line = append(line, b)
		}
	}
}
