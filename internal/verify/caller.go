package verify

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Caller sends single inference calls through the ingress exactly as the verifier does (its Host header, its
// tunnel, no redirects, its generated bodies): what proves a rollout and what watches traffic during a change.
type Caller struct{ v *Verifier }

// NewCaller makes a caller from cfg's BaseURL, Host, Input (or Body), Timeout and Proxy.
func NewCaller(cfg Config) (*Caller, error) {
	if cfg.BaseURL == "" || cfg.Host == "" {
		return nil, errors.New("calls through the ingress need its base URL and the Host header")
	}
	cfg.Concurrency = max(cfg.Concurrency, 1)
	cfg.Timeout = or(cfg.Timeout, DefaultTimeout)
	return &Caller{v: newVerifier(cfg, "")}, nil
}

// Answer is what one call got.
type Answer struct {
	Status int
	// Model and Version name the model version that answered (from x-seldon-route); empty and 0 when none did.
	Model   string
	Version int
	// By is who answered: the ingress controller, the mesh (envoy), the model's agent, the model.
	By      string
	Err     error
	Latency time.Duration
}

// OK says a model answered.
func (a Answer) OK() bool { return a.Err == nil && a.Status == http.StatusOK && a.Model != "" }

func (a Answer) String() string {
	switch {
	case a.Err != nil:
		return a.Err.Error()
	case a.OK():
		return fmt.Sprintf("answered by %s version %d", a.Model, a.Version)
	}
	return fmt.Sprintf("HTTP %d from the %s", a.Status, a.By)
}

// Infer sends one V2 inference call routed by seldonModel (a Model's name, or "<experiment>.experiment") to
// /v2/models/<pathModel>/infer; i picks one of the generated bodies.
func (c *Caller) Infer(ctx context.Context, seldonModel, pathModel string, i int) Answer {
	clock := newCallClock(ctx, c.v.cfg.Timeout)
	defer clock.release()
	r := c.v.call(clock, http.MethodPost, c.v.baseURL+"/v2/models/"+pathModel+"/infer", inferenceHeaders(seldonModel), c.v.body(i))
	a := Answer{Status: r.status, Err: r.err, Latency: r.duration}
	if r.err == nil {
		a.By = answeredBy(r)
		if a.Status == http.StatusOK && a.By == ByModel {
			a.Model, a.Version = routedVersion(r)
		}
	}
	return a
}

// Traffic is what calls sent without a pause during a change saw.
type Traffic struct {
	Calls, Failed int
	// Served counts answers per "<model>_<version>".
	Served map[string]int
	// Failures counts failed calls per description of what they got.
	Failures map[string]int
	// Window spans the first to the last failed call (0 without failures).
	Window time.Duration
	// FirstAnswer and LastAnswer are when a model first and last answered (zero if none did).
	FirstAnswer, LastAnswer time.Time
	Duration                time.Duration
}

// Watch calls seldonModel without a pause, concurrency calls at a time, until ctx ends, and counts what every
// call got. A call cut by ctx's end counts neither way.
func (c *Caller) Watch(ctx context.Context, seldonModel, pathModel string, concurrency int) Traffic {
	t := Traffic{Served: map[string]int{}, Failures: map[string]int{}}
	var mu sync.Mutex
	var firstFailure, lastFailure time.Time
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < max(concurrency, 1); w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; ctx.Err() == nil; i += concurrency {
				a := c.Infer(ctx, seldonModel, pathModel, i)
				now := time.Now()
				if ctx.Err() != nil && a.Err != nil {
					return
				}
				mu.Lock()
				t.Calls++
				if a.OK() {
					t.Served[fmt.Sprintf("%s_%d", a.Model, a.Version)]++
					if t.FirstAnswer.IsZero() {
						t.FirstAnswer = now
					}
					t.LastAnswer = now
				} else {
					t.Failed++
					t.Failures[strings.TrimSpace(a.String())]++
					if firstFailure.IsZero() {
						firstFailure = now
					}
					lastFailure = now
				}
				mu.Unlock()
			}
		}(w)
	}
	wg.Wait()
	t.Duration = time.Since(start)
	if t.Failed > 0 {
		t.Window = lastFailure.Sub(firstFailure)
	}
	return t
}
