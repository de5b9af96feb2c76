package report

import (
	"math"
	"testing"
	"time"
)

// Expected values computed independently with Python's math module from
// the closed form (p + z²/2n ± z·sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n).
func TestWilsonKnownValues(t *testing.T) {
	tests := []struct {
		k, n   int
		lo, hi float64
	}{
		{0, 10, 0, 0.2775328030},
		{5, 10, 0.2365930890, 0.7634069110},
		{10, 10, 0.7224671970, 1},
		{1, 10, 0.0178762129, 0.4041500295},
		{3, 7, 0.1582198540, 0.7495416372},
		{0, 1, 0, 0.7934506882},
		{1, 1, 0.2065493118, 1},
		{12, 40, 0.1807484515, 0.4543001894},
		{1, 100, 0.0017674320, 0.0544861967},
		{50, 100, 0.4038315296, 0.5961684704},
		{99, 100, 0.9455138033, 0.9982325680},
	}
	for _, tt := range tests {
		lo, hi := Wilson(tt.k, tt.n, Z95)
		if math.Abs(lo-tt.lo) > 1e-9 || math.Abs(hi-tt.hi) > 1e-9 {
			t.Errorf("Wilson(%d, %d) = [%.10f, %.10f], want [%.10f, %.10f]", tt.k, tt.n, lo, hi, tt.lo, tt.hi)
		}
	}
}

func TestWilsonEdges(t *testing.T) {
	tests := []struct {
		name   string
		k, n   int
		lo, hi float64
	}{
		{"no trials", 0, 0, 0, 1},
		{"negative trials", 3, -1, 0, 1},
		{"k above n clamps to n/n", 12, 10, 0.7224671970, 1},
		{"negative k clamps to 0/n", -2, 10, 0, 0.2775328030},
	}
	for _, tt := range tests {
		lo, hi := Wilson(tt.k, tt.n, Z95)
		if math.Abs(lo-tt.lo) > 1e-9 || math.Abs(hi-tt.hi) > 1e-9 {
			t.Errorf("%s: Wilson(%d, %d) = [%v, %v], want [%v, %v]", tt.name, tt.k, tt.n, lo, hi, tt.lo, tt.hi)
		}
	}
	// The interval always holds the observed rate and stays in [0, 1].
	for n := 1; n <= 60; n++ {
		for k := 0; k <= n; k++ {
			lo, hi := Wilson(k, n, Z95)
			p := float64(k) / float64(n)
			if lo < 0 || hi > 1 || lo > p+1e-12 || hi < p-1e-12 {
				t.Fatalf("Wilson(%d, %d) = [%v, %v] does not hold %v within [0, 1]", k, n, lo, hi, p)
			}
		}
	}
}

func TestMTTF(t *testing.T) {
	tests := []struct {
		total   time.Duration
		crashes int
		want    time.Duration
		ok      bool
	}{
		{time.Hour, 4, 15 * time.Minute, true},
		{90 * time.Second, 1, 90 * time.Second, true},
		{time.Hour, 0, 0, false},
		{time.Hour, -1, 0, false},
	}
	for _, tt := range tests {
		got, ok := MTTF(tt.total, tt.crashes)
		if got != tt.want || ok != tt.ok {
			t.Errorf("MTTF(%v, %d) = %v, %v; want %v, %v", tt.total, tt.crashes, got, ok, tt.want, tt.ok)
		}
	}
}

func TestSpeedup(t *testing.T) {
	tests := []struct {
		name     string
		gpu, cpu []float64
		want     float64
		pairs    int
		ok       bool
	}{
		{"one job", []float64{40}, []float64{4}, 10, 1, true},
		{"geometric mean", []float64{40, 9}, []float64{4, 9}, math.Sqrt(10), 2, true},
		{"zero cpu speed skipped", []float64{40, 10}, []float64{0, 5}, 2, 1, true},
		{"nothing to compare", nil, nil, 0, 0, false},
		{"only zeros", []float64{0}, []float64{3}, 0, 0, false},
		{"NaN skipped", []float64{math.NaN(), 8}, []float64{1, 2}, 4, 1, true},
		{"infinity skipped", []float64{math.Inf(1)}, []float64{1}, 0, 0, false},
	}
	for _, tt := range tests {
		got, pairs, ok := Speedup(tt.gpu, tt.cpu)
		if math.Abs(got-tt.want) > 1e-12 || pairs != tt.pairs || ok != tt.ok {
			t.Errorf("%s: Speedup = %v, %d, %v; want %v, %d, %v", tt.name, got, pairs, ok, tt.want, tt.pairs, tt.ok)
		}
	}
}

func TestDurText(t *testing.T) {
	tests := []struct {
		s    float64
		want string
	}{
		{0.25, "0.2s"}, {9.96, "10.0s"}, {45, "45s"}, {750, "12m30s"}, {3600 + 5*60, "1h05m"}, {2*86400 + 4*3600, "2d04h"}, {-1, "—"},
	}
	for _, tt := range tests {
		if got := durText(tt.s); got != tt.want {
			t.Errorf("durText(%v) = %q, want %q", tt.s, got, tt.want)
		}
	}
}

func TestShellQuote(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"python", "train.py", "--lr=0.01"}, "python train.py --lr=0.01"},
		{[]string{"sh", "-c", "echo hi; exit 3"}, "sh -c 'echo hi; exit 3'"},
		{[]string{"echo", "it's"}, `echo 'it'\''s'`},
		{[]string{"x", ""}, "x ''"},
		{[]string{"printf", "\x1b[31mred\n"}, `printf $'\x1b[31mred\n'`},
	}
	for _, tt := range tests {
		if got := shellQuote(tt.args); got != tt.want {
			t.Errorf("shellQuote(%q) = %s, want %s", tt.args, got, tt.want)
		}
	}
}
