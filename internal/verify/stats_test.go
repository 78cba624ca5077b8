package verify

import (
	"math"
	"testing"
)

func TestNormalQuantilesAndWilsonIntervals(t *testing.T) {
	for _, c := range []struct{ p, want float64 }{{0.975, 1.95996}, {0.99, 2.32635}, {0.995, 2.57583}, {0.5, 0}} {
		if got := zQuantile(c.p); math.Abs(got-c.want) > 1e-4 {
			t.Errorf("z(%v) = %v, want %v", c.p, got, c.want)
		}
	}
	// Wilson 95% (alpha 0.025 per side) for 70 of 100: 0.6042 to 0.7810.
	lo, hi := Interval(70, 100, 0.025)
	if math.Abs(lo-0.6042) > 1e-3 || math.Abs(hi-0.7810) > 1e-3 {
		t.Errorf("interval = %.4f..%.4f, want 0.6042..0.7810", lo, hi)
	}
}

// The sample size of the equivalence test: (z_{1-alpha} + z_{1-(1-power)/2})^2 p(1-p) / tolerance^2.
func TestSampleSizeFollowsToleranceSignificanceAndPower(t *testing.T) {
	n := SampleSize([]float64{0.7, 0.3}, 0.10, 0.01, 0.99)
	if n != 505 { // (2.3263 + 2.5758)^2 * 0.21 / 0.01 = 504.6
		t.Errorf("n = %d, want 505", n)
	}
	if wider := SampleSize([]float64{0.7, 0.3}, 0.20, 0.01, 0.99); wider >= n/3 {
		t.Errorf("twice the tolerance should need a quarter of the answers: %d vs %d", wider, n)
	}
	if weaker := SampleSize([]float64{0.7, 0.3}, 0.10, 0.05, 0.8); weaker >= n {
		t.Errorf("a weaker test should need fewer answers: %d >= %d", weaker, n)
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
