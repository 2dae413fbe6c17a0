package detect

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// median agrees with sorting, on sizes odd and even and on many ties.
func TestMedian(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	for n := range 70 {
		for _, spread := range []int{3, 1000} {
			xs := make([]float64, n)
			for i := range xs {
				xs[i] = float64(rng.IntN(spread))
			}
			sorted := slices.Sorted(slices.Values(xs))
			var want float64
			switch {
			case n == 0:
			case n%2 == 1:
				want = sorted[n/2]
			default:
				want = (sorted[n/2-1] + sorted[n/2]) / 2
			}
			if got := median(xs); got != want {
				t.Fatalf("n=%d spread=%d: median %v, want %v", n, spread, got, want)
			}
		}
	}
}
