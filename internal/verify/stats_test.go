package verify

import (
	"math"
	"testing"
)

func TestChiSquareMatchesKnownValues(t *testing.T) {
	// chi2 quantiles: df=1 at 0.95 is 3.8415, df=3 at 0.99 is 11.345.
	for _, c := range []struct{ p, df, want float64 }{{0.95, 1, 3.8415}, {0.99, 3, 11.3449}, {0.5, 2, 1.3863}} {
		if got := chiSquareQuantile(c.p, c.df); math.Abs(got-c.want) > 1e-3 {
			t.Errorf("quantile(%v, df=%v) = %v, want %v", c.p, c.df, got, c.want)
		}
	}
	stat, p := ChiSquareTest([]int{70, 30}, []float64{0.7, 0.3})
	if stat != 0 || p < 0.999 {
		t.Errorf("a perfect 70/30 gives stat %v p %v", stat, p)
	}
	stat, p = ChiSquareTest([]int{50, 50}, []float64{0.7, 0.3})
	if math.Abs(stat-19.0476) > 1e-3 || p > 1e-4 {
		t.Errorf("50/50 against 70/30: stat %v p %v, want 19.05 and p < 1e-4", stat, p)
	}
}

func TestRequiredSampleSizeCatchesA5050ServedFor7030(t *testing.T) {
	n := RequiredSampleSize([]float64{0.7, 0.3}, []float64{0.5, 0.5}, 0.01, 0.95)
	// (z_0.995 + z_0.95)^2 / w^2 = 17.8 / 0.1905 = 94 by the normal approximation.
	if n < 85 || n > 105 {
		t.Errorf("required sample size = %d, want about 94", n)
	}
	if small := RequiredSampleSize([]float64{0.7, 0.3}, []float64{0.5, 0.5}, 0.05, 0.8); small >= n {
		t.Errorf("a weaker test should need fewer requests: %d >= %d", small, n)
	}
}

func TestCountLeaves(t *testing.T) {
	for raw, want := range map[string]int{
		`[0.1,0.9]`: 2, `[[1, 2], [3, -4.5e-3]]`: 4, `["a\"]b", "c"]`: 2, `[true, null, false]`: 3, `[]`: 0, `7`: 1,
	} {
		if got := countLeaves([]byte(raw)); got != want {
			t.Errorf("countLeaves(%s) = %d, want %d", raw, got, want)
		}
	}
}
