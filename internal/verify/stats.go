package verify

import "math"

// The split is judged by an equivalence test (two one-sided tests, TOST): the user states the smallest drift
// that matters (Tolerance, in share points) and the split passes only when every candidate's share is shown to lie
// within its configured weight ± Tolerance. So a drift of Tolerance or more passes with probability at most the
// significance, a split exactly as configured passes with probability at least the power, and a large sample can
// only make a split inside the tolerance pass more surely, never fail it (which a test of exact equality does).

// zQuantile is the standard normal quantile.
func zQuantile(p float64) float64 {
	return math.Sqrt2 * math.Erfinv(2*p-1)
}

// perCandidateAlpha splits the significance over the independent shares (k candidates have k-1).
func perCandidateAlpha(alpha float64, candidates int) float64 {
	return alpha / float64(max(candidates-1, 1))
}

// SampleSize is the number of answered calls at which a split exactly as configured passes with the given power,
// while a drift of tolerance passes with probability at most alpha (normal approximation of each share).
func SampleSize(shares []float64, tolerance, alpha, power float64) int {
	z := zQuantile(1-perCandidateAlpha(alpha, len(shares))) + zQuantile(1-(1-power)/2)
	return int(math.Ceil(z * z * widestVariance(shares) / (tolerance * tolerance)))
}

// unclearChance is the chance that a split served exactly as configured still leaves some share's interval
// across the tolerance band after n answers: the chance it fails the test by luck (normal approximation, the
// widest share standing for all).
func unclearChance(shares []float64, n int, tolerance, alpha float64) float64 {
	margin := math.Sqrt(float64(n)/widestVariance(shares))*tolerance - zQuantile(1-perCandidateAlpha(alpha, len(shares)))
	return math.Erfc(margin / math.Sqrt2)
}

// widestVariance is the largest p(1-p) of the shares: the share that needs the most answers.
func widestVariance(shares []float64) float64 {
	worst := 0.0
	for _, p := range shares {
		worst = max(worst, p*(1-p))
	}
	return worst
}

// Interval is the Wilson score interval of a share seen k times in n at two-sided confidence 1-2*alpha, the
// interval whose both ends the TOST compares with the tolerance band.
func Interval(k, n int, alpha float64) (lo, hi float64) {
	if n == 0 {
		return 0, 1
	}
	z := zQuantile(1 - alpha)
	p, nf := float64(k)/float64(n), float64(n)
	denominator := 1 + z*z/nf
	center := (p + z*z/(2*nf)) / denominator
	half := z * math.Sqrt(p*(1-p)/nf+z*z/(4*nf*nf)) / denominator
	return max(center-half, 0), min(center+half, 1)
}

// percentile returns the p-th percentile (0-100) of sorted values by nearest rank.
func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[max(rank, 1)-1]
}
