package probe

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"testing/iotest"
)

func TestParseOutput(t *testing.T) {
	result := `rocm-patch: probe-result={"amp":"bfloat16","device":"cpu","median_step_ms":5.3,"mean_step_ms":5.4,"steps":5,"throughput":189.8,"torch":"1.13.0a0"}`
	tests := []struct {
		name string
		in   string
		ok   bool
		want Output
	}{
		{"result", "rocm-patch: probe: torch 1.13.0a0 on cpu\n" + result + "\n", true,
			Output{Device: "cpu", Torch: "1.13.0a0", AMP: "bfloat16", Steps: 5, MedianStepMS: 5.3, MeanStepMS: 5.4, Throughput: 189.8}},
		{"no newline at the end, CRLF before", "x\r\n" + result, true,
			Output{Device: "cpu", Torch: "1.13.0a0", AMP: "bfloat16", Steps: 5, MedianStepMS: 5.3, MeanStepMS: 5.4, Throughput: 189.8}},
		{"the last one wins", `rocm-patch: probe-result={"skipped":"torch sees no GPU"}` + "\n" + result, true,
			Output{Device: "cpu", Torch: "1.13.0a0", AMP: "bfloat16", Steps: 5, MedianStepMS: 5.3, MeanStepMS: 5.4, Throughput: 189.8}},
		{"skipped", `rocm-patch: probe-result={"skipped":"torch sees no GPU","torch":"2.5.1"}`, true, Output{Skipped: "torch sees no GPU", Torch: "2.5.1"}},
		{"died first", "rocm-patch: probe: torch 2.5.1 on cuda\nMemory access fault by GPU node-1\n", false, Output{}},
		{"torn line", `rocm-patch: probe-result={"device":"cu`, false, Output{}},
		{"negative time", `rocm-patch: probe-result={"median_step_ms":-1}`, false, Output{}},
		{"not at the start of the line", `log: rocm-patch: probe-result={"device":"cpu"}`, false, Output{}},
		{"after an over-long line", strings.Repeat("x", maxOutputLine+10) + "\n" + result, true,
			Output{Device: "cpu", Torch: "1.13.0a0", AMP: "bfloat16", Steps: 5, MedianStepMS: 5.3, MeanStepMS: 5.4, Throughput: 189.8}},
		{"over-long result", "rocm-patch: probe-result=" + strings.Repeat(" ", maxOutputLine) + "{}", false, Output{}},
	}
	for _, tt := range tests {
		got, ok, err := ParseOutput(strings.NewReader(tt.in))
		if err != nil || ok != tt.ok || got != tt.want {
			t.Errorf("%s: %+v, %t, %v; want %+v, %t", tt.name, got, ok, err, tt.want, tt.ok)
		}
	}
	boom := errors.New("boom")
	if _, _, err := ParseOutput(iotest.ErrReader(boom)); !errors.Is(err, boom) {
		t.Errorf("read error: %v", err)
	}
}

func TestParseCheck(t *testing.T) {
	tests := []struct {
		in   string
		ok   bool
		want Check
	}{
		{`rocm-patch: probe-check={"python":"/usr/bin/python3","torch":null}`, true, Check{Python: "/usr/bin/python3"}},
		{`rocm-patch: probe-check={"python":"/p","torch":"present"}`, true, Check{Python: "/p", Torch: "present"}},
		{`rocm-patch: probe-check={"gpu":true,"gpus":2,"hip":"6.2.41133","python":"/p","torch":"2.5.1+rocm6.2"}`, true,
			Check{Python: "/p", Torch: "2.5.1+rocm6.2", HIP: "6.2.41133", GPU: true, GPUs: 2}},
		{`rocm-patch: probe-check={"gpus":-1}`, false, Check{}},
		{`Traceback (most recent call last):`, false, Check{}},
	}
	for _, tt := range tests {
		got, ok, err := ParseCheck(strings.NewReader(tt.in))
		if err != nil || ok != tt.ok || got != tt.want {
			t.Errorf("%q: %+v, %t, %v; want %+v, %t", tt.in, got, ok, err, tt.want, tt.ok)
		}
	}
}

// FuzzParseOutput: no input panics, and what is accepted has no negative
// or non-finite number.
func FuzzParseOutput(f *testing.F) {
	f.Add([]byte(`rocm-patch: probe-result={"device":"cpu","steps":5,"throughput":12.5}` + "\n"))
	f.Add([]byte("rocm-patch: probe-check={\"torch\":null}\r\nrocm-patch: probe-result={\"skipped\":\"x\"}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		out, ok, err := ParseOutput(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		if ok && !out.valid() {
			t.Errorf("accepted %+v", out)
		}
		if _, _, err := ParseCheck(bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
	})
}
