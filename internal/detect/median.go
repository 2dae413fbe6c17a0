package detect

// median returns the median of xs (the mean of the two middle values for
// an even count), reordering xs. Selection runs in expected linear time,
// where sorting the 435 slopes of a 30-point Theil–Sen fit dominated a
// minute's work.
func median(xs []float64) float64 {
	n := len(xs)
	if n == 0 {
		return 0
	}
	k := n / 2
	hi := nth(xs, k)
	if n%2 == 1 {
		return hi
	}
	// After selection xs[:k] holds the k smallest values: the lower middle
	// is their maximum.
	lo := xs[0]
	for _, v := range xs[1:k] {
		lo = max(lo, v)
	}
	return (lo + hi) / 2
}

// nth reorders xs so that xs[k] is the value a sort would put there, the
// values before it no greater and those after no smaller, and returns it
// (Hoare's selection with a median-of-three pivot). xs holds no NaN.
func nth(xs []float64, k int) float64 {
	lo, hi := 0, len(xs)-1
	for lo < hi {
		a, b, c := xs[lo], xs[lo+(hi-lo)/2], xs[hi]
		p := max(min(a, b), min(max(a, b), c))
		i, j := lo, hi
		for i <= j {
			for xs[i] < p {
				i++
			}
			for xs[j] > p {
				j--
			}
			if i <= j {
				xs[i], xs[j] = xs[j], xs[i]
				i++
				j--
			}
		}
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return xs[k] // between the parts: equal to the pivot
		}
	}
	return xs[k]
}
