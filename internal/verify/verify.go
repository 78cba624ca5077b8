// Package verify calls a deployed Seldon A/B experiment the way a client does (V2 inference through the ingress),
// proves the split works, and when it does not, says which layer is broken and how to fix it. It imports no Pulumi.
package verify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// Config says what to call and what to expect.
type Config struct {
	// BaseURL is the ingress, e.g. http://192.168.1.249 (with a path prefix if the stack uses one).
	BaseURL string
	// Host is the Host header the Ingress rules match.
	Host       string
	Experiment string
	// Model is the path segment of experiment calls (the default model); with seldon-model set it only reads right.
	Model      string
	Candidates []Candidate
	Input      Input
	// Body, when set, is sent instead of generated data (a sample request file).
	Body []byte
	// Requests to the experiment; 0 means the smallest count that catches a uniform split at Significance/Power.
	Requests     int
	Concurrency  int
	Timeout      time.Duration
	Retries      int
	Significance float64
	Power        float64
	Seed         int64
	// Progress, if set, is called after each experiment request (demo mode's progress bar).
	Progress func(done, total int)
}

// Candidate is an experiment candidate and its weight.
type Candidate struct {
	Name   string  `json:"name"`
	Weight float64 `json:"weight"`
}

// Input is the V2 input tensor.
type Input struct {
	Name     string `json:"name"`
	Shape    []int  `json:"shape"`
	Datatype string `json:"datatype"`
}

// Layer names where a problem is.
const (
	LayerNetwork    = "network"
	LayerIngress    = "ingress"
	LayerMesh       = "mesh"
	LayerModel      = "model"
	LayerExperiment = "experiment"
)

// Finding is one diagnosed problem and the calls that showed it.
type Finding struct {
	Layer    string   `json:"layer"`
	Problem  string   `json:"problem"`
	Cause    string   `json:"cause"`
	Fix      string   `json:"fix"`
	Evidence string   `json:"evidence"`
	Calls    []string `json:"calls"`
}

// Probe is one health or direct-model call.
type Probe struct {
	Name     string   `json:"name"`
	Status   int      `json:"status"`
	OK       bool     `json:"ok"`
	Finding  *Finding `json:"finding,omitempty"`
	Duration float64  `json:"durationMs"`
}

// CandidateStats is what one candidate served.
type CandidateStats struct {
	Name     string  `json:"name"`
	Count    int     `json:"count"`
	Share    float64 `json:"share"`
	Expected float64 `json:"expectedShare"`
	P50      float64 `json:"p50Ms"`
	P95      float64 `json:"p95Ms"`
	P99      float64 `json:"p99Ms"`
}

// Report is the whole verification.
type Report struct {
	Passed       bool             `json:"passed"`
	Experiment   string           `json:"experiment"`
	Requests     int              `json:"requests"`
	Errors       int              `json:"errors"`
	ErrorRate    float64          `json:"errorRate"`
	Health       []Probe          `json:"health"`
	Direct       []Probe          `json:"direct"`
	Candidates   []CandidateStats `json:"candidates"`
	ChiSquare    float64          `json:"chiSquare"`
	PValue       float64          `json:"pValue"`
	Significance float64          `json:"significance"`
	Findings     []Finding        `json:"findings"`
	DurationSec  float64          `json:"durationSeconds"`
}

// Verifier makes the calls.
type Verifier struct {
	cfg    Config
	client *http.Client
}

// New checks cfg and fills its defaults.
func New(cfg Config) (*Verifier, error) {
	if cfg.BaseURL == "" || cfg.Experiment == "" || len(cfg.Candidates) < 2 {
		return nil, errors.New("verify needs a base URL, an experiment and at least two candidates")
	}
	if cfg.Model == "" {
		cfg.Model = cfg.Candidates[0].Name
	}
	if cfg.Concurrency < 1 {
		cfg.Concurrency = 4
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Significance == 0 {
		cfg.Significance = 0.01
	}
	if cfg.Power == 0 {
		cfg.Power = 0.95
	}
	if cfg.Requests == 0 {
		shares := cfg.shares()
		uniform := make([]float64, len(shares))
		for i := range uniform {
			uniform[i] = 1 / float64(len(shares))
		}
		cfg.Requests = max(RequiredSampleSize(shares, uniform, cfg.Significance, cfg.Power), 50)
		if cfg.Requests > 100_000 { // configured weights already uniform: no alternative to size against
			cfg.Requests = 200
		}
	}
	transport := &http.Transport{MaxIdleConnsPerHost: cfg.Concurrency, MaxConnsPerHost: cfg.Concurrency}
	return &Verifier{cfg: cfg, client: &http.Client{Timeout: cfg.Timeout, Transport: transport}}, nil
}

func (c Config) shares() []float64 {
	total := 0.0
	for _, cand := range c.Candidates {
		total += cand.Weight
	}
	out := make([]float64, len(c.Candidates))
	for i, cand := range c.Candidates {
		out[i] = cand.Weight / total
	}
	return out
}

type response struct {
	status   int
	header   http.Header
	body     []byte
	err      error
	duration time.Duration
}

// call sends one request with the Host header; POSTs are retried only when the connection was never made.
func (v *Verifier) call(ctx context.Context, method, path string, headers map[string]string, body []byte) response {
	var r response
	for attempt := 0; attempt <= v.cfg.Retries; attempt++ {
		req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(v.cfg.BaseURL, "/")+path, bytes.NewReader(body))
		if err != nil {
			return response{err: err}
		}
		req.Host = v.cfg.Host
		for k, val := range headers {
			req.Header.Set(k, val)
		}
		start := time.Now()
		resp, err := v.client.Do(req)
		r = response{err: err, duration: time.Since(start)}
		if err == nil {
			r.status, r.header = resp.StatusCode, resp.Header
			r.body, r.err = io.ReadAll(io.LimitReader(resp.Body, 4<<20))
			resp.Body.Close()
		}
		retryable := (err != nil && isDialError(err)) || (method == http.MethodGet && (err != nil || r.status >= 500))
		if !retryable || ctx.Err() != nil {
			break
		}
		time.Sleep(time.Duration(100*(attempt+1)) * time.Millisecond)
	}
	return r
}

func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// Run verifies health, each candidate directly, then the experiment split.
func (v *Verifier) Run(ctx context.Context) Report {
	start := time.Now()
	rep := Report{Experiment: v.cfg.Experiment, Significance: v.cfg.Significance}
	health := v.call(ctx, http.MethodGet, "/v2/health/ready", nil, nil)
	healthProbe := v.probe("GET /v2/health/ready", health, false)
	if f := healthProbe.Finding; f != nil && f.Layer == LayerMesh && health.status == http.StatusNotFound {
		// Envoy answers health without any model header: a 404 here can only be the path.
		f.Problem = "envoy answered 404 even for /v2/health/ready"
		f.Cause = "the path reaching envoy does not start with /v2: a path prefix the Ingress does not strip"
		f.Fix = "give the prefixed path its own Ingress with path /<prefix>(/|$)(.*) and rewrite-target /$2 (seldon.pathPrefix does this), or call without the prefix"
	}
	rep.Health = append(rep.Health, healthProbe)
	for _, c := range v.cfg.Candidates {
		r := v.call(ctx, http.MethodPost, "/v2/models/"+c.Name+"/infer", v.inferHeaders(c.Name), v.body(0))
		rep.Direct = append(rep.Direct, v.probe(c.Name, r, true))
	}
	v.runExperiment(ctx, &rep)
	var probeFindings []Finding
	for _, p := range append(append([]Probe{}, rep.Health...), rep.Direct...) {
		if p.Finding != nil {
			probeFindings = append(probeFindings, *p.Finding)
		}
	}
	rep.Findings = merge(append(probeFindings, rep.Findings...))
	rep.Passed = len(rep.Findings) == 0
	rep.DurationSec = time.Since(start).Seconds()
	return rep
}

func (v *Verifier) inferHeaders(seldonModel string) map[string]string {
	return map[string]string{"Content-Type": "application/json", "seldon-model": seldonModel}
}

func (v *Verifier) probe(name string, r response, inference bool) Probe {
	p := Probe{Name: name, Status: r.status, Duration: float64(r.duration.Microseconds()) / 1000}
	if f := v.diagnose(r, inference); f != nil {
		f.Calls = []string{name}
		p.Finding = f
		return p
	}
	p.OK = true
	return p
}

type outcome struct {
	candidate string
	latency   time.Duration
	finding   *Finding
}

func (v *Verifier) runExperiment(ctx context.Context, rep *Report) {
	total := v.cfg.Requests
	outcomes := make([]outcome, total)
	jobs := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	done := 0
	headers := v.inferHeaders(v.cfg.Experiment + ".experiment")
	path := "/v2/models/" + v.cfg.Model + "/infer"
	for w := 0; w < v.cfg.Concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				r := v.call(ctx, http.MethodPost, path, headers, v.body(i+1))
				o := outcome{latency: r.duration, finding: v.diagnose(r, true)}
				if o.finding == nil {
					o.candidate = routedModel(r)
				} else {
					o.finding.Calls = []string{"experiment calls"}
				}
				outcomes[i] = o
				if v.cfg.Progress != nil {
					mu.Lock()
					done++
					v.cfg.Progress(done, total)
					mu.Unlock()
				}
			}
		}()
	}
	for i := 0; i < total && ctx.Err() == nil; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	v.summarize(rep, outcomes)
}

func (v *Verifier) summarize(rep *Report, outcomes []outcome) {
	rep.Requests = len(outcomes)
	latencies := map[string][]float64{}
	counts := map[string]int{}
	unknown := map[string]int{}
	var findings []Finding
	for _, o := range outcomes {
		switch {
		case o.finding != nil:
			rep.Errors++
			findings = append(findings, *o.finding)
		case v.isCandidate(o.candidate):
			counts[o.candidate]++
			latencies[o.candidate] = append(latencies[o.candidate], float64(o.latency.Microseconds())/1000)
		default:
			unknown[o.candidate]++
		}
	}
	if rep.Requests > 0 {
		rep.ErrorRate = float64(rep.Errors) / float64(rep.Requests)
	}
	shares := v.cfg.shares()
	observed := make([]int, len(v.cfg.Candidates))
	served := 0
	for i, c := range v.cfg.Candidates {
		observed[i] = counts[c.Name]
		served += counts[c.Name]
	}
	for i, c := range v.cfg.Candidates {
		lat := latencies[c.Name]
		sort.Float64s(lat)
		stats := CandidateStats{Name: c.Name, Count: counts[c.Name], Expected: shares[i],
			P50: percentile(lat, 50), P95: percentile(lat, 95), P99: percentile(lat, 99)}
		if served > 0 {
			stats.Share = float64(counts[c.Name]) / float64(served)
		}
		rep.Candidates = append(rep.Candidates, stats)
		if served > 0 && counts[c.Name] == 0 {
			findings = append(findings, Finding{Layer: LayerExperiment,
				Problem:  fmt.Sprintf("candidate %s never answered in %d routed requests", c.Name, served),
				Cause:    "the Model is not Ready, or the Experiment does not list it (or lists it with weight 0)",
				Fix:      fmt.Sprintf("kubectl get model %s -o yaml (conditions); check the Experiment's candidates", c.Name),
				Evidence: fmt.Sprintf("expected share %.0f%%", shares[i]*100)})
		}
	}
	for name, n := range unknown {
		findings = append(findings, Finding{Layer: LayerExperiment,
			Problem:  fmt.Sprintf("%d responses came from %q, which is not a candidate", n, name),
			Cause:    "the seldon-model header reached another model or experiment (a stale Experiment, or a default model outside the split)",
			Fix:      "call with seldon-model: " + v.cfg.Experiment + ".experiment and check the Experiment's candidates",
			Evidence: "x-seldon-route / model_name of the responses"})
	}
	if served > 0 {
		rep.ChiSquare, rep.PValue = ChiSquareTest(observed, shares)
		if rep.PValue < v.cfg.Significance {
			findings = append(findings, Finding{Layer: LayerExperiment,
				Problem: fmt.Sprintf("the observed split %s differs from the configured %s (chi-square %.2f, p = %.2g < %.2g)",
					splitString(observed, served), sharesString(shares), rep.ChiSquare, rep.PValue, v.cfg.Significance),
				Cause: "the weights the scheduler applies are not the stack's: two schedulers fighting over the models, an older Experiment, " +
					"or clients pinning a route by sending x-seldon-route back",
				Fix:      "kubectl get experiment " + v.cfg.Experiment + " -o yaml; make sure one SeldonRuntime owns the namespace; run `seldon-ab doctor`",
				Evidence: fmt.Sprintf("%d routed requests", served)})
		}
	}
	for i := range findings {
		if len(findings[i].Calls) == 0 {
			findings[i].Calls = []string{"experiment calls"}
		}
	}
	rep.Findings = append(rep.Findings, findings...)
}

func (v *Verifier) isCandidate(name string) bool {
	for _, c := range v.cfg.Candidates {
		if c.Name == name {
			return true
		}
	}
	return false
}

// routedModel names the candidate that answered: x-seldon-route (":enhanced-predictor_3:") or else the body's
// model_name, with MLServer's internal version suffix removed.
func routedModel(r response) string {
	if route := strings.TrimLeft(r.header.Get("x-seldon-route"), ":"); route != "" {
		first, _, _ := strings.Cut(route, ":")
		return unversioned(first)
	}
	var body struct {
		ModelName string `json:"model_name"`
	}
	_ = json.Unmarshal(r.body, &body)
	return unversioned(body.ModelName)
}

// unversioned strips MLServer's internal "_<version>" suffix.
func unversioned(name string) string {
	i := strings.LastIndexByte(name, '_')
	if i < 0 || i == len(name)-1 {
		return name
	}
	for _, c := range name[i+1:] {
		if c < '0' || c > '9' {
			return name
		}
	}
	return name[:i]
}

func splitString(observed []int, total int) string {
	parts := make([]string, len(observed))
	for i, o := range observed {
		parts[i] = fmt.Sprintf("%.0f", float64(o)*100/float64(total))
	}
	return strings.Join(parts, "/")
}

func sharesString(shares []float64) string {
	parts := make([]string, len(shares))
	for i, s := range shares {
		parts[i] = fmt.Sprintf("%.0f", s*100)
	}
	return strings.Join(parts, "/")
}

// body is a V2 request for the configured input, with data seeded by request number.
func (v *Verifier) body(i int) []byte {
	if v.cfg.Body != nil {
		return v.cfg.Body
	}
	size := 1
	for _, d := range v.cfg.Input.Shape {
		size *= d
	}
	rng := rand.New(rand.NewSource(v.cfg.Seed + int64(i)))
	data := make([]float32, size)
	for j := range data {
		data[j] = rng.Float32()
	}
	out, _ := json.Marshal(map[string]any{"inputs": []any{map[string]any{
		"name": v.cfg.Input.Name, "shape": v.cfg.Input.Shape, "datatype": v.cfg.Input.Datatype, "data": data,
	}}})
	return out
}

// merge keeps one finding per layer and cause, listing every call that showed it; the first (most specific)
// diagnosis of a layer's 404 stands for the generic ones after it.
func merge(findings []Finding) []Finding {
	var out []Finding
	index := map[string]int{}
	for _, f := range findings {
		key := f.Layer + "|" + f.Cause
		if f.Layer == LayerMesh && strings.HasPrefix(f.Problem, "envoy answered 404") {
			key = "mesh-404"
		}
		if i, seen := index[key]; seen {
			for _, c := range f.Calls {
				if !slices.Contains(out[i].Calls, c) {
					out[i].Calls = append(out[i].Calls, c)
				}
			}
			continue
		}
		index[key] = len(out)
		out = append(out, f)
	}
	return out
}
