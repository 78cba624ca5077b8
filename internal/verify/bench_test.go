package verify_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/seldon-ab/provisioner/internal/verify"
)

// The verifier against a plain Go HTTP load loop at the same concurrency, on the same local server, with the real
// payload (a [1,10,35] FP32 tensor): the verifier's bookkeeping (diagnosis, route parsing, statistics) should
// cost little throughput (goal: at least 0.9 of the loop). Runs are interleaved in pairs, order alternating, and
// the median of the pairs' ratios is reported, so a machine that speeds up or slows down mid-run skews nothing.

const (
	benchConcurrency = 8
	benchPairs       = 9
	benchCalls       = 20000
)

func benchServer(b *testing.B) string {
	b.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("x-seldon-route", ":baseline-predictor_1:")
		fmt.Fprint(w, `{"model_name":"baseline-predictor_1","outputs":[{"name":"predict","shape":[1,2],"datatype":"FP32","data":[0.1,0.9]}]}`)
	}))
	b.Cleanup(srv.Close)
	return srv.URL
}

// realPayload is a V2 request for the models' input, as the verifier sends it.
func realPayload() []byte {
	rng := rand.New(rand.NewSource(1))
	data := make([]float32, 1*10*35)
	for i := range data {
		data[i] = rng.Float32()
	}
	out, _ := json.Marshal(map[string]any{"inputs": []any{map[string]any{
		"name": "input_data", "shape": []int{1, 10, 35}, "datatype": "FP32", "data": data}}})
	return out
}

func verifierRun(b *testing.B, url string) float64 {
	cfg := config(url)
	cfg.Concurrency, cfg.Requests, cfg.Deadline = benchConcurrency, benchCalls, time.Minute
	v, err := verify.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	if rep := v.Run(context.Background()); rep.Errors != 0 {
		b.Fatalf("verifier errors: %s", rep.Summary())
	}
	return benchCalls / time.Since(start).Seconds()
}

func plainRun(b *testing.B, url string, body []byte) float64 {
	url += "/v2/models/baseline-predictor/infer"
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: benchConcurrency, MaxConnsPerHost: benchConcurrency}}
	jobs := make(chan struct{})
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < benchConcurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range jobs {
				req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
				req.Host = "financial-predictor.local"
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("seldon-model", experiment+".experiment")
				resp, err := client.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				_, _ = io.ReadAll(resp.Body)
				resp.Body.Close()
			}
		}()
	}
	for i := 0; i < benchCalls; i++ {
		jobs <- struct{}{}
	}
	close(jobs)
	wg.Wait()
	return benchCalls / time.Since(start).Seconds()
}

func BenchmarkVerifierAgainstPlainLoop(b *testing.B) {
	url, body := benchServer(b), realPayload()
	for n := 0; n < b.N; n++ {
		var ratios, verifierRates, plainRates []float64
		for pair := 0; pair < benchPairs; pair++ {
			var v, p float64
			if pair%2 == 0 {
				v, p = verifierRun(b, url), plainRun(b, url, body)
			} else {
				p, v = plainRun(b, url, body), verifierRun(b, url)
			}
			ratios, verifierRates, plainRates = append(ratios, v/p), append(verifierRates, v), append(plainRates, p)
		}
		b.ReportMetric(median(ratios), "ratio")
		b.ReportMetric(median(verifierRates), "verifier-req/s")
		b.ReportMetric(median(plainRates), "plain-req/s")
	}
}

func median(xs []float64) float64 {
	sorted := append([]float64{}, xs...)
	sort.Float64s(sorted)
	return sorted[len(sorted)/2]
}

// Four experiments whose Models answer after 5 ms (a stand-in for a real server's round trip), verified one after
// another and four at a time (go test -run '^$' -bench ExperimentsAtOnce ./internal/verify/): their calls wait on
// those round trips, not on the verifier.
func BenchmarkExperimentsAtOnce(b *testing.B) {
	for _, parallel := range []int{1, 4} {
		b.Run(fmt.Sprintf("parallel=%d", parallel), func(b *testing.B) {
			stack := newExperimentsAtOnce(0)
			for _, model := range []string{"baseline-predictor", "enhanced-predictor"} {
				stack.stack.slow[model] = 5 * time.Millisecond
			}
			inv := verify.Invocation{Config: config(serve(b, stack)), Parallel: parallel}
			inv.Config.Concurrency = 4
			for _, name := range []string{"a", "b", "c", "d"} {
				inv.Experiments = append(inv.Experiments,
					verify.Experiment{Name: name, Model: "baseline-predictor", Candidates: inv.Config.Candidates})
			}
			for b.Loop() {
				if _, err := verify.Execute(context.Background(), inv, false, io.Discard, io.Discard); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
