package verify

import "math"

// ChiSquareTest tests observed counts against expected shares (summing to 1) with Pearson's goodness-of-fit
// statistic; it returns the statistic and its p-value with len(shares)-1 degrees of freedom.
func ChiSquareTest(observed []int, shares []float64) (statistic, pValue float64) {
	n := 0
	for _, o := range observed {
		n += o
	}
	if n == 0 || len(observed) < 2 {
		return 0, 1
	}
	for i, o := range observed {
		expected := shares[i] * float64(n)
		d := float64(o) - expected
		statistic += d * d / expected
	}
	return statistic, 1 - chiSquareCDF(statistic, float64(len(observed)-1))
}

// RequiredSampleSize is the smallest number of requests for which the chi-square test at significance alpha
// rejects `configured` shares with the given power when traffic is really split as `actual`.
func RequiredSampleSize(configured, actual []float64, alpha, power float64) int {
	w2 := 0.0 // Cohen's effect size w squared
	for i := range configured {
		d := actual[i] - configured[i]
		w2 += d * d / configured[i]
	}
	if w2 == 0 {
		return math.MaxInt32
	}
	df := float64(len(configured) - 1)
	critical := chiSquareQuantile(1-alpha, df)
	for n := 2; n < 1_000_000; n = int(math.Ceil(float64(n) * 1.05)) {
		if 1-noncentralChiSquareCDF(critical, df, float64(n)*w2) >= power {
			// Step back to the exact smallest n.
			for m := int(float64(n) / 1.05); m <= n; m++ {
				if 1-noncentralChiSquareCDF(critical, df, float64(m)*w2) >= power {
					return m
				}
			}
			return n
		}
	}
	return math.MaxInt32
}

func chiSquareCDF(x, k float64) float64 {
	if x <= 0 {
		return 0
	}
	return regularizedGammaP(k/2, x/2)
}

// noncentralChiSquareCDF sums the Poisson mixture of central chi-squares.
func noncentralChiSquareCDF(x, k, lambda float64) float64 {
	half := lambda / 2
	weight := math.Exp(-half)
	sum := 0.0
	for j := 0; j < 10000; j++ {
		if j > 0 {
			weight *= half / float64(j)
		}
		sum += weight * chiSquareCDF(x, k+2*float64(j))
		if float64(j) > half && weight < 1e-14 {
			break
		}
	}
	return sum
}

func chiSquareQuantile(p, k float64) float64 {
	lo, hi := 0.0, 1.0
	for chiSquareCDF(hi, k) < p {
		hi *= 2
	}
	for i := 0; i < 200; i++ {
		mid := (lo + hi) / 2
		if chiSquareCDF(mid, k) < p {
			lo = mid
		} else {
			hi = mid
		}
	}
	return (lo + hi) / 2
}

// regularizedGammaP is P(a, x), by its series below a+1 and its continued fraction above.
func regularizedGammaP(a, x float64) float64 {
	if x <= 0 {
		return 0
	}
	lg, _ := math.Lgamma(a)
	if x < a+1 {
		term, sum := 1/a, 1/a
		for n := 1; n < 1000; n++ {
			term *= x / (a + float64(n))
			sum += term
			if math.Abs(term) < math.Abs(sum)*1e-15 {
				break
			}
		}
		return sum * math.Exp(-x+a*math.Log(x)-lg)
	}
	// Lentz's method for the continued fraction of Q(a, x).
	const tiny = 1e-300
	b := x + 1 - a
	c := 1 / tiny
	d := 1 / b
	h := d
	for i := 1; i < 1000; i++ {
		an := -float64(i) * (float64(i) - a)
		b += 2
		d = an*d + b
		if math.Abs(d) < tiny {
			d = tiny
		}
		c = b + an/c
		if math.Abs(c) < tiny {
			c = tiny
		}
		d = 1 / d
		delta := d * c
		h *= delta
		if math.Abs(delta-1) < 1e-15 {
			break
		}
	}
	return 1 - math.Exp(-x+a*math.Log(x)-lg)*h
}

// percentile returns the p-th percentile (0-100) of sorted values by nearest rank.
func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[max(rank, 1)-1]
}
