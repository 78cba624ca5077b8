package verify

import (
	"math"
	"math/rand/v2"
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

// The two looks, judged by the verifier's own rules on binomial samples: a drift of the tolerance passes at most
// the significance of the time, a split served exactly as configured takes a second look about one time in 200
// and fails about never, where one look failed it one time in 200.
func TestTwoLooksKeepTheSignificanceAndAlmostNeverFailAGoodSplit(t *testing.T) {
	v, err := New(Config{BaseURL: "http://127.0.0.1", Experiment: "e", Model: "a",
		Candidates: []Candidate{{Name: "a", Weight: 70}, {Name: "b", Weight: 30}}})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	look := v.cfg.Requests
	const runs = 20000
	verdicts := func(served float64) (passed, secondLooks int) {
		for range runs {
			a := 0
			for range look {
				if rng.Float64() < served {
					a++
				}
			}
			rep := &Report{Requests: look, Candidates: []CandidateStats{{Count: a, Expected: 0.7}, {Count: look - a, Expected: 0.3}}}
			v.judgeSplit(rep, look)
			if v.unclear(rep) {
				secondLooks++
				for range look {
					if rng.Float64() < served {
						a++
					}
				}
				rep = &Report{Requests: 2 * look, Candidates: []CandidateStats{{Count: a, Expected: 0.7}, {Count: 2*look - a, Expected: 0.3}}}
				v.judgeSplit(rep, 2*look)
			}
			if rep.Split.Passed {
				passed++
			}
		}
		return passed, secondLooks
	}
	if passed, _ := verdicts(0.6); float64(passed) > runs*v.cfg.Significance*1.2 {
		t.Errorf("a drift of the tolerance passed %d of %d runs, more than the significance %v allows", passed, runs, v.cfg.Significance)
	}
	passed, secondLooks := verdicts(0.7)
	if runs-passed > 2 || secondLooks < runs/1000 || secondLooks > runs/50 {
		t.Errorf("a split as configured: %d of %d runs failed, %d took a second look", runs-passed, runs, secondLooks)
	}
	if first, both := unclearChance([]float64{0.7, 0.3}, look, 0.1, 0.005), unclearChance([]float64{0.7, 0.3}, 2*look, 0.1, 0.005); first < 0.003 || first > 0.008 || both > 1e-6 {
		t.Errorf("the chance a split as configured is unclear: %g after one look, %g after two", first, both)
	}
}
