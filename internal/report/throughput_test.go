package report

import (
	"math"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestParseThroughput(t *testing.T) {
	tests := []struct {
		name string
		line string
		v    float64
		unit string
		ok   bool
	}{
		// The job's own line.
		{"marker", "rocm-patch: throughput=123.5 samples/s", 123.5, "samples/s", true},
		{"marker after a log prefix", "2025-03-01 INFO [rank0] rocm-patch: throughput=7 tok/s", 7, "tok/s", true},
		{"marker, trailing words", "rocm-patch: throughput=1e3 img/s epoch=2\n", 1000, "img/s", true},
		{"marker, no space before the unit", "rocm-patch: throughput=12.5it/s", 0, "", false},
		{"marker, CRLF", "rocm-patch: throughput=3 batch/s\r\n", 3, "batch/s", true},
		{"marker, zero", "rocm-patch: throughput=0 it/s", 0, "it/s", true},
		{"marker, no unit", "rocm-patch: throughput=12", 0, "", false},
		{"marker, negative", "rocm-patch: throughput=-4 it/s", 0, "", false},
		{"marker, not a number", "rocm-patch: throughput=fast it/s", 0, "", false},
		{"marker, NaN", "rocm-patch: throughput=NaN it/s", 0, "", false},
		{"marker, overflow", "rocm-patch: throughput=1e999 it/s", 0, "", false},
		{"marker, hex float", "rocm-patch: throughput=0x1p4 it/s", 0, "", false},
		{"marker outranks a bar on the line", "100%|█| 5/5 [00:01<00:00,  4.50it/s] rocm-patch: throughput=9 it/s", 9, "it/s", true},
		{"malformed marker does not fall back to the bar", "5/5 [00:01<00:00,  4.50it/s] rocm-patch: throughput=x", 0, "", false},

		// tqdm's forms.
		{"tqdm default", " 45%|████▌     | 45/100 [00:10<00:12,  4.50it/s]", 4.5, "it/s", true},
		{"tqdm postfix", "Epoch 1:  12%|█▏        | 120/1000 [00:30<03:40,  3.99it/s, loss=2.31, v_num=0]", 3.99, "it/s", true},
		{"tqdm hours", "100%|██████████| 9000/9000 [1:02:03<00:00, 2.42it/s]", 2.42, "it/s", true},
		{"tqdm unknown total", "120it [00:30,  3.99it/s]", 3.99, "it/s", true},
		{"tqdm slow", "  2%|▏         | 2/100 [00:06<05:14,  3.21s/it]", 1 / 3.21, "it/s", true},
		{"tqdm slow custom unit", "  1/50 [00:04<03:16,  4.00s/batch]", 0.25, "batch/s", true},
		{"tqdm unit_scale kilo", "100%|██| 5.00k/5.00k [00:01<00:00, 4.12kit/s]", 4120, "it/s", true},
		{"tqdm bytes", "model.bin: 100%|██| 1.50G/1.50G [00:06<00:00, 245MB/s]", 245e6, "B/s", true},
		{"tqdm custom unit", "100%|██| 64/64 [00:02<00:00, 31.2img/s]", 31.2, "img/s", true},
		{"prefix letter kept on other units", "[00:02<00:00, 5.00kernel/s]", 5, "kernel/s", true},
		{"tqdm unknown rate", "0it [00:00, ?it/s]", 0, "", false},
		{"tqdm unknown remaining", "  0%|          | 0/100 [00:00<?, ?it/s]", 0, "", false},
		{"tqdm carriage returns: last update", "  10%| | 1/10 [00:01<00:09,  1.00it/s]\r  20%| | 2/10 [00:02<00:08,  2.00it/s]\r", 2, "it/s", true},
		{"tqdm last update has no rate yet", "  10%| | 1/10 [00:01<00:09,  1.50it/s]\r  0%| | 0/10 [00:00<?, ?it/s]", 1.5, "it/s", true},
		{"brackets in postfix", "50%| | 5/10 [00:05<00:05,  1.00it/s, lr=[0.001]]", 1, "it/s", true},

		// Lines that only look like it.
		{"plain log", "Epoch 3 loss 0.21 accuracy 0.93", 0, "", false},
		{"time in brackets, no rate", "[12:30, warming up]", 0, "", false},
		{"ansi escape", "\x1b[31merror\x1b[0m", 0, "", false},
		{"empty", "", 0, "", false},
		{"rate outside a bar", "throughput 4.5it/s", 0, "", false},
	}
	for _, tt := range tests {
		v, unit, ok := ParseThroughput([]byte(tt.line))
		if ok != tt.ok || unit != tt.unit || math.Abs(v-tt.v) > 1e-9*math.Max(1, tt.v) {
			t.Errorf("%s: ParseThroughput(%q) = %v, %q, %v; want %v, %q, %v", tt.name, tt.line, v, unit, ok, tt.v, tt.unit, tt.ok)
		}
	}
}

func TestMeter(t *testing.T) {
	var m Meter
	if _, _, ok := m.Throughput(); ok {
		t.Error("zero Meter reports a speed")
	}
	lines := []struct {
		line string
		v    float64
		unit string
	}{
		{"loading data", 0, ""},
		{"  10%| | 1/10 [00:01<00:09,  1.00it/s]", 1, "it/s"},
		{"  20%| | 2/10 [00:02<00:08,  2.00it/s]", 2, "it/s"},
		{"rocm-patch: throughput=150 samples/s", 150, "samples/s"},
		// A data-loader bar after the job spoke for itself is ignored.
		{"  50%| | 5/10 [00:05<00:05,  9.00it/s]", 150, "samples/s"},
		{"rocm-patch: throughput=160 samples/s", 160, "samples/s"},
		{"epoch done", 160, "samples/s"},
	}
	for _, l := range lines {
		m.Observe([]byte(l.line))
		v, unit, _ := m.Throughput()
		if v != l.v || unit != l.unit {
			t.Errorf("after %q: %v %q, want %v %q", l.line, v, unit, l.v, l.unit)
		}
	}
}

func FuzzParseThroughput(f *testing.F) {
	for _, s := range []string{
		"rocm-patch: throughput=123.5 samples/s",
		" 45%|████▌     | 45/100 [00:10<00:12,  4.50it/s]",
		"  2%|▏         | 2/100 [00:06<05:14,  3.21s/it]",
		"100%|██| 5.00k/5.00k [00:01<00:00, 4.12kit/s]",
		"0it [00:00, ?it/s]",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		v, unit, ok := ParseThroughput(line)
		if !ok {
			if v != 0 || unit != "" {
				t.Fatalf("not ok but %v %q", v, unit)
			}
			return
		}
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			t.Fatalf("value %v", v)
		}
		if unit == "" || !utf8.ValidString(unit) || len(unit) > maxUnitLen+len("/s") || strings.IndexFunc(unit, unicode.IsSpace) >= 0 {
			t.Fatalf("unit %q", unit)
		}
		v2, unit2, ok2 := ParseThroughput(line)
		if v2 != v || unit2 != unit || !ok2 {
			t.Fatal("not deterministic")
		}
		var m Meter
		m.Observe(line)
		if mv, mu, mok := m.Throughput(); mv != v || mu != unit || !mok {
			t.Fatalf("Meter disagrees: %v %q %v", mv, mu, mok)
		}
	})
}
