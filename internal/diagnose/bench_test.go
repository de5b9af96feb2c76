package diagnose

import (
	"bytes"
	"context"
	"testing"

	"github.com/rocm-patch/rocm-patch/internal/diagnose/internal/noise"
)

// BenchmarkScan measures the throughput of a scan over realistic noise
// with a few faults (the same generator as scripts/bench-diagnose.sh).
func BenchmarkScan(b *testing.B) {
	var buf bytes.Buffer
	if err := noise.Generate(&buf, 64<<20, 1); err != nil {
		b.Fatal(err)
	}
	data := buf.Bytes()
	for _, workers := range []int{1, 0} {
		name := "workers=1"
		if workers == 0 {
			name = "workers=GOMAXPROCS"
		}
		b.Run(name, func(b *testing.B) {
			m, err := New(testKB, Options{Workers: workers})
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(data)))
			b.ResetTimer()
			for range b.N {
				res, err := m.Scan(context.Background(), Input{R: bytes.NewReader(data)})
				if err != nil || len(res.Matches) < len(noise.Faults) {
					b.Fatalf("scan: %v, %d matches", err, len(res.Matches))
				}
			}
		})
	}
}

// TestPrefilterSelectivity guards the speed of the scan: on the benchmark
// noise (which holds a few real faults), no prefilter literal may fire on
// ordinary lines. A literal that does (a common phrase such as "shared
// object" or "failed to") sends every such line through normalisation,
// regular expressions and joins; declare a rarer literal for its signature.
func TestPrefilterSelectivity(t *testing.T) {
	var buf bytes.Buffer
	if err := noise.Generate(&buf, 8<<20, 7); err != nil {
		t.Fatal(err)
	}
	m := newMatcher(t, nil)
	per := map[string]int{}
	for _, h := range m.pf.scan(buf.Bytes(), nil) {
		per[m.lits[h.lit].Text]++
	}
	for lit, n := range per {
		if n > 8 {
			t.Errorf("literal %q fires %d times in 8 MiB of ordinary log noise; give its signature a rarer literal", lit, n)
		}
	}
}
