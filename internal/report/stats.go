package report

import (
	"math"
	"time"
)

// Z95 is the standard normal quantile for a two-sided 95% interval.
const Z95 = 1.959964

// Wilson is the Wilson score interval for k successes in n trials at
// normal quantile z. Unlike the textbook p ± z·sqrt(p(1-p)/n) it stays
// inside [0, 1] and is not a zero-width interval at 0/n or n/n, which
// matters with the handful of attempts one user's history holds. With no
// trials it is [0, 1]: nothing is known. k is clamped to [0, n].
func Wilson(k, n int, z float64) (lo, hi float64) {
	if n <= 0 {
		return 0, 1
	}
	k = max(0, min(k, n))
	nf := float64(n)
	p := float64(k) / nf
	z2 := z * z
	denom := 1 + z2/nf
	centre := (p + z2/(2*nf)) / denom
	half := z * math.Sqrt(p*(1-p)/nf+z2/(4*nf*nf)) / denom
	lo, hi = centre-half, centre+half
	// Rounding can leave the exact ends a hair outside [0, 1].
	if k == 0 {
		lo = 0
	}
	if k == n {
		hi = 1
	}
	return max(0, lo), min(1, hi)
}

// MTTF is the mean time to failure of a configuration: the time it ran,
// crashed or not, divided by its crashes. This is the estimate for
// failures that arrive at a constant rate, and it counts the attempts that
// survived; the mean length of crashed attempts alone would ignore them
// and make a configuration that rarely crashes look as bad as one that
// always does. ok is false when there were no crashes (the MTTF is then
// only known to exceed total).
func MTTF(total time.Duration, crashes int) (mttf time.Duration, ok bool) {
	if crashes <= 0 {
		return 0, false
	}
	return total / time.Duration(crashes), true
}

// Speedup compares GPU and CPU speeds of the same jobs in the same unit:
// the geometric mean of gpu[i]/cpu[i] over the pairs where both are
// positive, and how many pairs that was. The geometric mean keeps one
// fast job from outweighing the others, and a pair's ratio does not
// depend on its unit. ok is false when no pair qualifies.
func Speedup(gpu, cpu []float64) (speedup float64, pairs int, ok bool) {
	var logSum, only float64
	for i := range min(len(gpu), len(cpu)) {
		g, c := gpu[i], cpu[i]
		if !(g > 0) || !(c > 0) || math.IsInf(g, 0) || math.IsInf(c, 0) {
			continue
		}
		only = g / c
		logSum += math.Log(only)
		pairs++
	}
	switch pairs {
	case 0:
		return 0, 0, false
	case 1:
		return only, 1, true // exact, without a trip through log and exp
	}
	return math.Exp(logSum / float64(pairs)), pairs, true
}
