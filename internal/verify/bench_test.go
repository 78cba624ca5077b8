package verify_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/seldon-ab/provisioner/internal/verify"
)

// The verifier against a plain Go HTTP load loop at the same concurrency, on the same local server: the verifier's
// bookkeeping (diagnosis, route parsing, statistics) should cost little throughput (goal: at least 0.9 of the loop).

const benchConcurrency = 8

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

func BenchmarkVerifier(b *testing.B) {
	url := benchServer(b)
	cfg := config(url)
	cfg.Concurrency = benchConcurrency
	cfg.Requests = b.N
	cfg.Body = []byte(`{"inputs":[{"name":"input_data","shape":[1,1],"datatype":"FP32","data":[0.5]}]}`)
	v, err := verify.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	start := time.Now()
	v.Run(context.Background())
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
}

func BenchmarkPlainLoop(b *testing.B) {
	url := benchServer(b) + "/v2/models/baseline-predictor/infer"
	body := []byte(`{"inputs":[{"name":"input_data","shape":[1,1],"datatype":"FP32","data":[0.5]}]}`)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: benchConcurrency, MaxConnsPerHost: benchConcurrency}}
	jobs := make(chan struct{})
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for w := 0; w < benchConcurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range jobs {
				req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
				req.Host = "financial-predictor.local"
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
	for i := 0; i < b.N; i++ {
		jobs <- struct{}{}
	}
	close(jobs)
	wg.Wait()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
}
