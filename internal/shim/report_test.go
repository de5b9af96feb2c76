package shim

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseReport(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "two-processes.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	line := func(s string) string { return s + "\n" }
	tests := []struct {
		name string
		in   string
		want Report
	}{
		{"empty", "", Report{}},
		{"blank lines", "\n \n", Report{}},
		{
			// A ROCm job whose main process fell back twice and whose
			// second process never used its GPU; the file ends in a line
			// cut short by a crash.
			"two processes, torn tail", string(data),
			Report{
				Loaded: true, Processes: 2, TorchVersion: "2.3.0+rocm6.0", HIPVersion: "6.0.32830",
				Device: "gpu", DeviceName: "AMD Radeon RX 6700 XT", Arch: "gfx1031", MemoryFraction: 0.8,
				AllocConf: "garbage_collection_threshold:0.8", AllocConfSource: "shim", Policy: "fallback",
				Wrapped: true, Fallbacks: 2, ByOp: map[string]int{"torch.zeros": 1, "Tensor.to": 1},
				LastError: "HIP out of memory. Tried to allocate 2.00 GiB", Errors: []string{"device name: RuntimeError: boom"},
				Exited: 2, BadLines: 1,
			},
		},
		{
			"cpu torch", line(`{"event":"loaded","pid":7,"torch_version":"1.13.0a0","hip_version":null,"device":"cpu","memory_fraction":null,"policy":"fallback","wrapped":false,"fallbacks":0}`) +
				line(`{"event":"status","pid":7,"torch_version":"1.13.0a0","hip_version":null,"device":"cpu","memory_fraction":null,"policy":"fallback","wrapped":false,"fallbacks":0,"final":true}`),
			Report{Loaded: true, Processes: 1, TorchVersion: "1.13.0a0", Device: "cpu", Policy: "fallback", Exited: 1},
		},
		{
			"forked workers add up; counts per process are cumulative",
			line(`{"event":"status","pid":1,"fallbacks":3,"retries":4,"retry_ok":1,"raised":0,"by_op":{"torch.empty":3},"device":"gpu","wrapped":true}`) +
				line(`{"event":"status","pid":2,"fallbacks":1,"by_op":{"torch.empty":1},"device":"gpu","wrapped":true}`) +
				line(`{"event":"status","pid":1,"fallbacks":2,"raised":5,"device":"gpu","wrapped":true}`),
			Report{Loaded: true, Processes: 2, Device: "gpu", Wrapped: true, Fallbacks: 4, Retries: 4, RetryOK: 1, Raised: 5, ByOp: map[string]int{"torch.empty": 4}},
		},
		{
			"foreign and broken lines are counted, not fatal",
			"not json\n{}\n[1,2]\n" + `{"event":"loaded","pid":"x"}` + "\n" + `{"event":"loaded","fallbacks":1e40}` + "\n" +
				line(`{"event":"loaded","pid":1,"memory_fraction":7,"device":"pending","fallbacks":-4,"by_op":{"torch.zeros":-2}}`),
			Report{Loaded: true, Processes: 1, Device: "pending", BadLines: 5},
		},
		{"crlf", "{\"event\":\"loaded\",\"pid\":1,\"device\":\"cpu\"}\r\n", Report{Loaded: true, Processes: 1, Device: "cpu"}},
		{"over-long line", `{"event":"loaded","x":"` + strings.Repeat("a", 2*maxLine) + "\"}\n" + line(`{"event":"loaded","pid":1,"device":"cpu"}`),
			Report{Loaded: true, Processes: 1, Device: "cpu", BadLines: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseReport(strings.NewReader(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseReport =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

func TestReadReport(t *testing.T) {
	dir := t.TempDir()
	r, err := ReadReport(dir)
	if err != nil || !reflect.DeepEqual(r, Report{}) {
		t.Errorf("no shim.jsonl: %+v, %v; want a zero Report", r, err)
	}
	if err := os.WriteFile(filepath.Join(dir, ReportFile), []byte(`{"event":"loaded","pid":1,"device":"cpu"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err = ReadReport(dir)
	if err != nil || !r.Loaded || r.Device != "cpu" {
		t.Errorf("ReadReport = %+v, %v", r, err)
	}
	if _, err := ReadReport(filepath.Join(dir, ReportFile)); err == nil || !strings.Contains(err.Error(), "shim report") {
		t.Errorf("ReadReport of a file as a folder: %v", err)
	}
}

func TestSummary(t *testing.T) {
	tests := []struct {
		r    Report
		want string
	}{
		{Report{}, "shim: torch not imported"},
		{Report{Loaded: true, TorchVersion: "1.13.0a0", Device: "cpu", Policy: "fallback"}, "shim: torch 1.13.0a0, cpu"},
		{Report{Loaded: true, TorchVersion: "2.3.0", HIPVersion: "6.0", Device: "gpu", Arch: "gfx1031", MemoryFraction: 0.8,
			AllocConf: "garbage_collection_threshold:0.8", AllocConfSource: "shim", Policy: "fallback", Wrapped: true,
			Fallbacks: 3, ByOp: map[string]int{"torch.zeros": 2, "Tensor.to": 1}, Errors: []string{"x"}},
			"shim: torch 2.3.0 (HIP 6.0), gpu gfx1031, memory fraction 0.8, garbage_collection_threshold:0.8 (shim), fallback: 3 fallbacks (Tensor.to 1, torch.zeros 2), 1 shim errors"},
	}
	for _, tt := range tests {
		if got := tt.r.Summary(); got != tt.want {
			t.Errorf("Summary =\n%s\nwant\n%s", got, tt.want)
		}
	}
}

// FuzzParseReport: no input makes the parser fail, panic, or report
// negative counts, and its Report always encodes as JSON for history.
func FuzzParseReport(f *testing.F) {
	if data, err := os.ReadFile(filepath.Join("testdata", "two-processes.jsonl")); err == nil {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseReport(strings.NewReader(string(data)))
		if err != nil {
			t.Fatalf("ParseReport: %v", err)
		}
		if r.Fallbacks < 0 || r.Retries < 0 || r.RetryOK < 0 || r.Raised < 0 || r.BadLines < 0 || r.Exited < 0 {
			t.Fatalf("negative count in %+v", r)
		}
		for op, n := range r.ByOp {
			if n <= 0 {
				t.Fatalf("by_op %s = %d", op, n)
			}
		}
		if r.MemoryFraction < 0 || r.MemoryFraction > 1 {
			t.Fatalf("memory fraction %v", r.MemoryFraction)
		}
		if r.Processes > strings.Count(string(data), "\n")+1 {
			t.Fatalf("%d processes from %d lines", r.Processes, strings.Count(string(data), "\n")+1)
		}
		if r.Loaded != (r.Processes > 0) {
			t.Fatalf("loaded %v with %d processes", r.Loaded, r.Processes)
		}
		if _, err := json.Marshal(r); err != nil {
			t.Fatalf("Marshal: %v", err)
		}
	})
}
