package verify

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"sync"
	"time"
)

// settleBatch is how many calls one settling round sends: enough that a split served at other weights than the
// configured ones (a 50/50 still served after a change to 70/30, say: six standard deviations away at 400 calls)
// never passes for the configured one, however many rounds settling takes.
const settleBatch = 400

// settle waits, after an update, for the mesh to serve the configured split: rounds of settleBatch calls until
// one round is answered without an error with every candidate's share within half the tolerance of its weight, or
// cfg.Settle ran out. The split test proper starts afterwards, on
// calls of its own. It returns how long settling took and whether it settled.
func (v *Verifier) settle(ctx context.Context) (time.Duration, bool) {
	start := time.Now()
	shares := v.cfg.shares()
	url := v.baseURL + "/v2/models/" + v.cfg.Model + "/infer"
	for time.Since(start) < v.cfg.Settle && ctx.Err() == nil {
		served := make([]int, len(v.cfg.Candidates))
		failed := 0
		var mu sync.Mutex
		var wg sync.WaitGroup
		jobs := make(chan int)
		for w := 0; w < v.cfg.Concurrency; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				clock := newCallClock(ctx, v.cfg.Timeout)
				defer clock.release()
				for i := range jobs {
					r := v.call(clock, http.MethodPost, url, v.headers, v.body(i))
					mu.Lock()
					if k := v.candidateIndex(routedModel(r)); r.err == nil && r.status == http.StatusOK && k >= 0 {
						served[k]++
					} else {
						failed++
					}
					mu.Unlock()
				}
			}()
		}
		for i := 0; i < settleBatch && ctx.Err() == nil; i++ {
			jobs <- i
		}
		close(jobs)
		wg.Wait()
		if ctx.Err() == nil && failed == 0 && nearWeights(served, shares, v.cfg.Tolerance/2) {
			return time.Since(start), true
		}
	}
	return time.Since(start), false
}

// nearWeights says whether every candidate's share of answers lies within margin of its weight.
func nearWeights(served []int, shares []float64, margin float64) bool {
	n := 0
	for _, c := range served {
		n += c
	}
	if n == 0 {
		return false
	}
	for i, p := range shares {
		if math.Abs(float64(served[i])/float64(n)-p) > margin {
			return false
		}
	}
	return true
}

// settleNote is what a report says of settling.
func settleNote(took time.Duration, settled bool, bound time.Duration) string {
	if settled {
		return fmt.Sprintf("the split was served as configured after %.1f s", took.Seconds())
	}
	return fmt.Sprintf("the split had not settled after %.0f s: the calls still saw errors or other weights", bound.Seconds())
}
