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
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/seldon-ab/provisioner/internal/tunnel"
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
	// Requests to the experiment in each look of the split test; 0 means the count a look needs (SampleSize) plus a
	// margin for errors.
	Requests    int
	Concurrency int
	Timeout     time.Duration
	Retries     int
	// Tolerance is the smallest drift of a candidate's share that matters (0.10: ±10 points); Significance is the
	// chance a drift that large passes, Power the chance a split exactly as configured passes at the first look.
	Tolerance    float64
	Significance float64
	Power        float64
	// LatencyP95 is every candidate's p95 budget; LatencyRatio bounds each other candidate's p95 by that multiple
	// of the default model's p95 plus LatencySlack.
	LatencyP95   time.Duration
	LatencyRatio float64
	// Deadline bounds the whole verification: it stops there and says why.
	Deadline time.Duration
	Seed     int64
	// Progress, if set, is called after each experiment request (never concurrently).
	Progress func(Progress)
	// Settle, when set, is how long the mesh may take to serve the configured split after an update, before the
	// split test starts (see settle).
	Settle time.Duration
	// Proxy, if set, tunnels every connection (CONNECT) to the ingress: the sandbox's cluster network; nil dials
	// the ingress directly.
	Proxy *url.URL
}

// splitLooks is how many looks the split test may take at the traffic. The first look judges Requests calls; only
// when it leaves a share's interval across the tolerance band (neither inside it nor wholly outside) does a second
// look send as many again and judge all of them. Each look runs at half the significance, so a drift of the
// tolerance passes at most Significance of the time over both (union bound). A split exactly as configured then
// fails only when both looks are unclear (unclearChance); with one look it failed 1 - Power of the time, which a
// test suite of a few dozen verifications turned into a failed run every few runs.
const splitLooks = 2

// LatencySlack keeps the relative latency budget meaningful when the default model answers in a millisecond.
const LatencySlack = 50 * time.Millisecond

// Progress is the experiment phase so far.
type Progress struct {
	Done, Total, Errors int
	// Served counts answers per candidate, in Config.Candidates order.
	Served  []int
	Elapsed time.Duration
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

// Severities: an error fails the verification, a warning is reported beside a pass.
const (
	SeverityError   = "error"
	SeverityWarning = "warning"
)

// Finding is one diagnosed problem and the calls that showed it.
type Finding struct {
	Severity string   `json:"severity"`
	Layer    string   `json:"layer"`
	Problem  string   `json:"problem"`
	Cause    string   `json:"cause"`
	Fix      string   `json:"fix"`
	Evidence string   `json:"evidence"`
	Calls    []string `json:"calls"`
	// Count is how many experiment calls showed it (0 for probes and judgements, which say their figures).
	Count int `json:"count,omitempty"`
}

// Probe is one health or direct-model call.
type Probe struct {
	Name     string   `json:"name"`
	Status   int      `json:"status"`
	OK       bool     `json:"ok"`
	Finding  *Finding `json:"finding,omitempty"`
	Duration float64  `json:"durationMs"`
	// TimedOut is a call whose connection was made but no answer came within the timeout.
	TimedOut bool `json:"timedOut,omitempty"`
}

// CandidateStats is what one candidate served.
type CandidateStats struct {
	Name     string  `json:"name"`
	Count    int     `json:"count"`
	Share    float64 `json:"share"`
	Expected float64 `json:"expectedShare"`
	// ShareLow and ShareHigh bound the share at the split test's confidence (set when the test ran).
	ShareLow  float64 `json:"shareLow,omitempty"`
	ShareHigh float64 `json:"shareHigh,omitempty"`
	// TimedOut are experiment calls that timed out and are counted against this candidate, whose direct probe
	// timed out too.
	TimedOut int     `json:"timedOut,omitempty"`
	P50      float64 `json:"p50Ms"`
	P95      float64 `json:"p95Ms"`
	P99      float64 `json:"p99Ms"`
	// BudgetP95 is the p95 this candidate was allowed (ms).
	BudgetP95 float64 `json:"budgetP95Ms"`
}

// SplitTest is the equivalence test of the served split; absent from a report where it did not run.
type SplitTest struct {
	Tolerance    float64 `json:"tolerance"`
	Significance float64 `json:"significance"`
	Power        float64 `json:"power"`
	Confidence   float64 `json:"confidence"`
	Answered     int     `json:"answered"`
	Needed       int     `json:"needed"`
	Passed       bool    `json:"passed"`
	// Looks is 2 when the first look was unclear and a second one judged all the answers.
	Looks int `json:"looks"`
}

// Report is the whole verification.
type Report struct {
	Passed     bool             `json:"passed"`
	Experiment string           `json:"experiment"`
	Requests   int              `json:"requests"`
	Planned    int              `json:"planned"`
	Errors     int              `json:"errors"`
	ErrorRate  float64          `json:"errorRate"`
	Health     []Probe          `json:"health"`
	Direct     []Probe          `json:"direct"`
	Candidates []CandidateStats `json:"candidates"`
	Split      *SplitTest       `json:"split,omitempty"`
	// SplitNote says why the split test did not run, when it did not.
	SplitNote string `json:"splitNote,omitempty"`
	// After an update: how long the mesh took to serve the configured split, and whether it did within Settle.
	SettleSec   float64   `json:"settleSeconds,omitempty"`
	Settled     bool      `json:"settled,omitempty"`
	SettleNote  string    `json:"settleNote,omitempty"`
	Findings    []Finding `json:"findings"`
	DurationSec float64   `json:"durationSeconds"`
	Deadline    float64   `json:"deadlineSeconds"`
}

// Verifier makes the calls.
type Verifier struct {
	cfg     Config
	baseURL string
	client  *http.Client
	bodies  [][]byte
	headers http.Header
}

// Defaults a homelab user would accept.
const (
	DefaultTolerance    = 0.10
	DefaultSignificance = 0.01
	DefaultPower        = 0.99
	DefaultLatencyP95   = time.Second
	DefaultLatencyRatio = 3.0
	DefaultDeadline     = 45 * time.Second
	DefaultTimeout      = 5 * time.Second
)

// New checks cfg and fills its defaults. Without an Experiment (a stack whose winner was promoted), the
// Candidates are the Models, each called by its name, and there is no split to test.
func New(cfg Config) (*Verifier, error) {
	if cfg.BaseURL == "" || len(cfg.Candidates) == 0 || cfg.Experiment != "" && len(cfg.Candidates) < 2 {
		return nil, errors.New("verify needs a base URL and an experiment with at least two candidates, or Models to call by name")
	}
	if cfg.Model == "" {
		cfg.Model = cfg.Candidates[0].Name
	}
	cfg.Concurrency = max(cfg.Concurrency, 1)
	cfg.Timeout = or(cfg.Timeout, DefaultTimeout)
	cfg.Tolerance = or(cfg.Tolerance, DefaultTolerance)
	cfg.Significance = or(cfg.Significance, DefaultSignificance)
	cfg.Power = or(cfg.Power, DefaultPower)
	cfg.LatencyP95 = or(cfg.LatencyP95, DefaultLatencyP95)
	cfg.LatencyRatio = or(cfg.LatencyRatio, DefaultLatencyRatio)
	cfg.Deadline = or(cfg.Deadline, DefaultDeadline)
	if cfg.Tolerance <= 0 || cfg.Tolerance >= 1 || cfg.Significance <= 0 || cfg.Significance >= 0.5 || cfg.Power <= 0 || cfg.Power >= 1 {
		return nil, fmt.Errorf("tolerance %v must be in (0, 1), significance %v in (0, 0.5), power %v in (0, 1)",
			cfg.Tolerance, cfg.Significance, cfg.Power)
	}
	if cfg.Experiment == "" {
		cfg.Requests = 0
		return newVerifier(cfg, cfg.Candidates[0].Name), nil
	}
	if cfg.Requests == 0 {
		// A tenth more than the test needs, so a few failed calls do not leave it short.
		cfg.Requests = SampleSize(cfg.shares(), cfg.Tolerance, cfg.Significance/splitLooks, cfg.Power) * 11 / 10
	}
	return newVerifier(cfg, cfg.Experiment+".experiment"), nil
}

// newVerifier makes the client every call goes through; seldonModel is the header of the verifier's own calls.
func newVerifier(cfg Config, seldonModel string) *Verifier {
	transport := &http.Transport{MaxIdleConnsPerHost: cfg.Concurrency, MaxConnsPerHost: cfg.Concurrency,
		DialContext: (&net.Dialer{Timeout: cfg.Timeout}).DialContext}
	if cfg.Proxy != nil {
		transport.DialContext = tunnel.Dialer(cfg.Proxy)
	}
	// A redirect is an answer to report (the ingress's http->https, a proxy's page), never one to follow.
	noRedirects := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	v := &Verifier{cfg: cfg, client: &http.Client{Transport: transport, CheckRedirect: noRedirects}, baseURL: strings.TrimSuffix(cfg.BaseURL, "/"),
		headers: inferenceHeaders(seldonModel)}
	// Bodies are made once: generating and encoding a tensor per call would cost the load test its throughput.
	for i := 0; i < bodyVariants; i++ {
		v.bodies = append(v.bodies, v.makeBody(i))
	}
	return v
}

const (
	bodyVariants = 16
	bodyChecked  = 100
	bodySample   = 8
)

func or[T comparable](v, fallback T) T {
	var zero T
	if v == zero {
		return fallback
	}
	return v
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
	// connected: a connection was made (so a timeout was the server's answer that never came, not the network).
	connected bool
}

func (r response) timedOut() bool {
	var netErr net.Error
	return r.err != nil && r.connected && (errors.Is(r.err, context.DeadlineExceeded) || errors.As(r.err, &netErr) && netErr.Timeout())
}

// call sends one request with the Host header, timed by clock; POSTs are retried only when the connection was
// never made.
func (v *Verifier) call(clock *callClock, method, url string, headers http.Header, body []byte) response {
	var r response
	for attempt := 0; attempt <= v.cfg.Retries; attempt++ {
		r = response{}
		req, err := http.NewRequestWithContext(clock.start(), method, url, bytes.NewReader(body))
		if err != nil {
			clock.stop()
			return response{err: err}
		}
		req.Host = v.cfg.Host
		if headers != nil {
			// Shared by every call, read-only: neither Client.Do without a cookie jar nor the transport writes to it.
			req.Header = headers
		}
		start := time.Now()
		resp, err := v.client.Do(req)
		r.err, r.duration = err, time.Since(start)
		// A call that failed while dialling never had a connection (an httptrace hook would say the same, at a
		// cost on every call); any other failure came after one was made.
		var op *net.OpError
		r.connected = err == nil || !(errors.As(err, &op) && op.Op == "dial")
		if err == nil {
			r.status, r.header = resp.StatusCode, resp.Header
			r.body, r.err = io.ReadAll(io.LimitReader(resp.Body, 4<<20))
			resp.Body.Close()
		}
		if clock.stop() && r.err != nil && clock.parent.Err() == nil {
			r.err = timeoutError{r.err}
		}
		retryable := (err != nil && !r.connected && !r.timedOut()) || (method == http.MethodGet && err == nil && r.status >= 500)
		if !retryable || clock.parent.Err() != nil {
			break
		}
		time.Sleep(time.Duration(100*(attempt+1)) * time.Millisecond)
	}
	return r
}

// Run verifies health, each candidate directly, then the experiment split, within the deadline.
func (v *Verifier) Run(parent context.Context) Report {
	start := time.Now()
	rep := Report{Experiment: v.cfg.Experiment, Planned: v.cfg.Requests, Deadline: v.cfg.Deadline.Seconds()}
	// Envoy routes nothing without a seldon-model header (its Lua filter derives one from /v2/models/<name>/
	// paths only: scheduler/pkg/envoy/xdscache/resource.go, createHeaderFilter), so health asks a server of the
	// experiment's route.
	healthClock := newCallClock(parent, v.cfg.Timeout)
	health := v.call(healthClock, http.MethodGet, v.baseURL+"/v2/health/ready", v.headers, nil)
	healthClock.release()
	rep.Health = append(rep.Health, v.probe("GET /v2/health/ready", health, false))
	settling := start
	if v.cfg.Settle > 0 && v.cfg.Experiment != "" && !hopeless(&rep) {
		settleCtx, stopSettling := context.WithTimeout(parent, v.cfg.Settle)
		took, settled := v.settle(settleCtx)
		stopSettling()
		settling = time.Now()
		rep.SettleSec, rep.Settled = took.Seconds(), settled
		rep.SettleNote = settleNote(took, settled, v.cfg.Settle)
		if !settled {
			rep.Findings = append(rep.Findings, Finding{Severity: SeverityWarning, Layer: LayerExperiment, Problem: rep.SettleNote,
				Cause: "the Experiment's new weights (or a Model's new version) had not reached envoy, or calls still failed",
				Fix:   "kubectl get experiment,models -A; the split test below judges what was served after settling"})
		}
	}
	// The deadline bounds the verification proper, which starts once the split settled.
	ctx, cancel := context.WithDeadline(parent, settling.Add(v.cfg.Deadline))
	defer cancel()
	probes := newCallClock(ctx, v.cfg.Timeout)
	defer probes.release()
	for _, c := range v.cfg.Candidates {
		r := v.call(probes, http.MethodPost, v.baseURL+"/v2/models/"+c.Name+"/infer", inferenceHeaders(c.Name), v.body(0))
		rep.Direct = append(rep.Direct, v.probe(c.Name, r, true))
	}
	if v.cfg.Experiment == "" {
		rep.SplitNote = "not run: the stack has no experiment; each Model was called by its name"
	} else {
		v.experiment(ctx, &rep)
	}
	if ctx.Err() != nil && parent.Err() == nil && rep.Requests < rep.Planned {
		rep.Findings = append(rep.Findings, v.deadlineFinding(rep))
	}
	var probeFindings []Finding
	for _, p := range append(append([]Probe{}, rep.Health...), rep.Direct...) {
		if p.Finding != nil {
			probeFindings = append(probeFindings, *p.Finding)
		}
	}
	rep.Findings = merge(append(probeFindings, rep.Findings...))
	v.reconcile(&rep)
	rep.Passed = true
	for _, f := range rep.Findings {
		rep.Passed = rep.Passed && f.Severity != SeverityError
	}
	rep.DurationSec = time.Since(start).Seconds()
	return rep
}

func (v *Verifier) probe(name string, r response, inference bool) Probe {
	p := Probe{Name: name, Status: r.status, Duration: float64(r.duration.Microseconds()) / 1000, TimedOut: r.timedOut()}
	if f := v.diagnose(r, inference); f != nil {
		f.Calls = []string{name}
		p.Finding = f
		return p
	}
	p.OK = true
	return p
}

// hopeless: no probe got any answer, so every experiment call would fail the same way (or hang until its
// timeout): the experiment is not called at all.
func hopeless(rep *Report) bool {
	for _, p := range append(append([]Probe{}, rep.Health...), rep.Direct...) {
		if p.Status != 0 {
			return false
		}
	}
	return true
}

// experiment runs the split test's first look and, when that is unclear, its second.
func (v *Verifier) experiment(ctx context.Context, rep *Report) {
	progress := Progress{Total: v.cfg.Requests, Served: make([]int, len(v.cfg.Candidates))}
	beforeJudging := *rep
	beforeJudging.Findings = slices.Clone(rep.Findings)
	outcomes := v.runExperiment(ctx, rep, &progress, 0)
	v.summarize(rep, outcomes)
	if !v.unclear(rep) || ctx.Err() != nil {
		return
	}
	*rep = beforeJudging
	rep.Planned += v.cfg.Requests
	progress.Total += v.cfg.Requests
	outcomes = append(outcomes, v.runExperiment(ctx, rep, &progress, len(outcomes))...)
	v.summarize(rep, outcomes)
	if rep.Split != nil {
		rep.Split.Looks = splitLooks
	}
}

type outcome struct {
	called    bool
	candidate string
	latency   time.Duration
	finding   *Finding
	timedOut  bool
}

// runExperiment sends one look's calls, numbered on from first.
func (v *Verifier) runExperiment(ctx context.Context, rep *Report, progress *Progress, first int) []outcome {
	total := v.cfg.Requests
	outcomes := make([]outcome, total)
	if hopeless(rep) {
		rep.SplitNote = "the experiment was not called: no probe got any answer"
		return nil
	}
	// Calls stop early once the first ones all failed the same way: the rest would only repeat it.
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	sameFailure, firstFailure := 0, ""
	var answered atomic.Bool // once a call is answered, early stop is off and no call takes the lock for it
	answered.Store(first > 0)
	earlyCalls := max(20, 2*v.cfg.Concurrency)
	jobs := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	start := time.Now().Add(-progress.Elapsed)
	url := v.baseURL + "/v2/models/" + v.cfg.Model + "/infer"
	for w := 0; w < v.cfg.Concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			clock := newCallClock(ctx, v.cfg.Timeout)
			defer clock.release()
			for i := range jobs {
				r := v.call(clock, http.MethodPost, url, v.headers, v.body(first+i+1))
				if ctx.Err() != nil && r.err != nil {
					continue // cut by the deadline: neither an answer nor a failure of the stack
				}
				// Every answer's status and route are read; its V2 body is decoded for the first answers and one in
				// bodySample after (decoding each one cost a fifth of the throughput): a model that answers
				// malformed bodies does so on every call, or often enough to be caught.
				checkBody := first+i < bodyChecked || (first+i)%bodySample == 0
				o := outcome{called: true, latency: r.duration, timedOut: r.timedOut(), finding: v.diagnose(r, checkBody)}
				if o.finding == nil {
					o.candidate = routedModel(r)
				}
				outcomes[i] = o
				if o.finding == nil {
					answered.Store(true)
				} else if !answered.Load() {
					mu.Lock()
					if key := o.finding.Layer + o.finding.Problem; firstFailure == "" || key == firstFailure {
						firstFailure, sameFailure = key, sameFailure+1
					}
					if !answered.Load() && sameFailure >= earlyCalls && rep.SplitNote == "" {
						rep.SplitNote = fmt.Sprintf("not run: the first %d experiment calls all failed the same way, so the rest were not sent", sameFailure)
						stop()
					}
					mu.Unlock()
				}
				if v.cfg.Progress != nil {
					mu.Lock()
					progress.Done++
					if o.finding != nil {
						progress.Errors++
					} else if k := v.candidateIndex(o.candidate); k >= 0 {
						progress.Served[k]++
					}
					progress.Elapsed = time.Since(start)
					v.cfg.Progress(*progress)
					mu.Unlock()
				}
			}
		}()
	}
	for i := 0; i < total && ctx.Err() == nil; i++ {
		select {
		case jobs <- i:
		case <-ctx.Done():
		}
	}
	close(jobs)
	wg.Wait()
	return outcomes
}

func (v *Verifier) candidateIndex(name string) int {
	for i, c := range v.cfg.Candidates {
		if c.Name == name {
			return i
		}
	}
	return -1
}

// slowCandidate is the one candidate whose direct probe timed out while another answered: timed-out experiment
// calls most likely went to it, and count against it.
func (v *Verifier) slowCandidate(rep *Report) string {
	slow, answered := "", false
	for i, p := range rep.Direct {
		switch {
		case p.TimedOut && slow == "":
			slow = v.cfg.Candidates[i].Name
		case p.TimedOut:
			return "" // more than one: no single culprit
		case p.Status != 0:
			answered = true
		}
	}
	if !answered {
		return ""
	}
	return slow
}

func (v *Verifier) summarize(rep *Report, outcomes []outcome) {
	latencies := map[string][]float64{}
	counts := map[string]int{}
	unknown := map[string]int{}
	slow := v.slowCandidate(rep)
	timedOutToSlow := 0
	var findings []Finding
	for _, o := range outcomes {
		if !o.called {
			continue
		}
		rep.Requests++
		switch {
		case o.finding != nil:
			rep.Errors++
			if o.timedOut && slow != "" {
				timedOutToSlow++
				counts[slow]++
				continue
			}
			f := *o.finding
			f.Count, f.Calls = 1, []string{"experiment calls"}
			findings = append(findings, f)
		case v.candidateIndex(o.candidate) >= 0:
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
	answered := 0
	for _, c := range v.cfg.Candidates {
		answered += counts[c.Name]
	}
	defaultP95 := 0.0
	for i, c := range v.cfg.Candidates {
		lat := latencies[c.Name]
		sort.Float64s(lat)
		stats := CandidateStats{Name: c.Name, Count: counts[c.Name], Expected: shares[i],
			P50: percentile(lat, 50), P95: percentile(lat, 95), P99: percentile(lat, 99)}
		if c.Name == slow {
			stats.TimedOut = timedOutToSlow
		}
		if answered > 0 {
			stats.Share = float64(counts[c.Name]) / float64(answered)
		}
		if c.Name == v.cfg.Model {
			defaultP95 = stats.P95
		}
		rep.Candidates = append(rep.Candidates, stats)
	}
	findings = append(findings, v.judgeLatency(rep, defaultP95)...)
	if slow != "" && timedOutToSlow > 0 {
		findings = append(findings, Finding{Severity: SeverityError, Layer: LayerModel,
			Problem: fmt.Sprintf("%s did not answer within %s: its direct call and %d experiment calls timed out after connecting",
				slow, v.cfg.Timeout, timedOutToSlow),
			Cause:    "the model is too slow for the timeout or stuck (the ingress and envoy accepted the connection; the other candidates answered)",
			Fix:      fmt.Sprintf("kubectl logs <%s server pod> -c mlserver; raise verification.timeout if it is only slow", slow),
			Evidence: "connection established, no response headers before the timeout"})
	}
	for i, c := range v.cfg.Candidates {
		if answered > 0 && counts[c.Name] == 0 && rep.Errors == 0 {
			findings = append(findings, Finding{Severity: SeverityError, Layer: LayerExperiment,
				Problem:  fmt.Sprintf("candidate %s never answered in %d routed requests", c.Name, answered),
				Cause:    "the Model is not Ready, or the Experiment does not list it (or lists it with weight 0)",
				Fix:      fmt.Sprintf("kubectl get model %s -o yaml (conditions); check the Experiment's candidates", c.Name),
				Evidence: fmt.Sprintf("expected share %.0f%%", shares[i]*100)})
		}
	}
	for name, n := range unknown {
		findings = append(findings, Finding{Severity: SeverityError, Layer: LayerExperiment, Count: n,
			Problem:  fmt.Sprintf("%d responses came from %q, which is not a candidate", n, name),
			Cause:    "the seldon-model header reached another model or experiment (a stale Experiment, or a default model outside the split)",
			Fix:      "call with seldon-model: " + v.cfg.Experiment + ".experiment and check the Experiment's candidates",
			Evidence: "x-seldon-route / model_name of the responses"})
	}
	findings = append(findings, v.judgeSplit(rep, answered)...)
	for i := range findings {
		if len(findings[i].Calls) == 0 {
			findings[i].Calls = []string{"experiment calls"}
		}
	}
	rep.Findings = append(rep.Findings, findings...)
}

// judgeSplit runs the equivalence test when enough calls were answered and few enough failed that the answers
// still stand for the split; otherwise it says why it did not.
func (v *Verifier) judgeSplit(rep *Report, answered int) []Finding {
	shares := v.cfg.shares()
	lookSignificance := v.cfg.Significance / splitLooks
	needed := SampleSize(shares, v.cfg.Tolerance, lookSignificance, v.cfg.Power)
	unexplained := rep.Requests - answered
	switch {
	case answered == 0:
		if rep.SplitNote == "" {
			rep.SplitNote = "not run: no experiment call was answered"
		}
		return nil
	case unexplained*20 > rep.Requests:
		// Failed calls are missing from the split in unknown proportions: judging it would blame the scheduler
		// for what the errors did.
		rep.SplitNote = fmt.Sprintf("not judged: %d of %d calls failed, so the answers may not stand for the split", unexplained, rep.Requests)
		return nil
	}
	alpha := perCandidateAlpha(lookSignificance, len(shares))
	test := &SplitTest{Tolerance: v.cfg.Tolerance, Significance: v.cfg.Significance, Power: v.cfg.Power,
		Confidence: 1 - 2*alpha, Answered: answered, Needed: needed, Passed: true, Looks: 1}
	var outside []string
	for i := range rep.Candidates {
		c := &rep.Candidates[i]
		c.ShareLow, c.ShareHigh = Interval(c.Count, answered, alpha)
		if c.ShareLow <= c.Expected-v.cfg.Tolerance || c.ShareHigh >= c.Expected+v.cfg.Tolerance {
			test.Passed = false
			outside = append(outside, fmt.Sprintf("%s %.1f%% (%.1f–%.1f%%) against %.0f%% ± %.0f",
				c.Name, c.Share*100, c.ShareLow*100, c.ShareHigh*100, c.Expected*100, v.cfg.Tolerance*100))
		}
	}
	rep.Split = test
	if test.Passed {
		return nil
	}
	f := Finding{Severity: SeverityError, Layer: LayerExperiment, Evidence: fmt.Sprintf("%d answered calls", answered),
		Calls: []string{"experiment calls"}}
	if v.drifted(rep) {
		f.Problem = "the served split drifted beyond the tolerance: " + strings.Join(outside, "; ")
		f.Cause = "the weights the scheduler applies are not the stack's: two schedulers fighting over the models, an older Experiment, " +
			"or clients pinning a route by sending x-seldon-route back"
		f.Fix = "kubectl get experiment " + v.cfg.Experiment + " -o yaml; make sure one SeldonRuntime owns the namespace; run `seldon-ab doctor`"
	} else {
		f.Problem = fmt.Sprintf("%d answers cannot rule out a drift of %.0f points: %s", answered, v.cfg.Tolerance*100, strings.Join(outside, "; "))
		f.Cause = fmt.Sprintf("a drift close to the tolerance, or too few answers for it (a look needs about %d); "+
			"a split served exactly as configured leaves %d answers this unclear %.1g of the time",
			needed, answered, unclearChance(shares, answered, v.cfg.Tolerance, lookSignificance))
		f.Fix = "kubectl get experiment " + v.cfg.Experiment + " -o yaml; if its weights are the stack's, run again with more --requests"
	}
	return []Finding{f}
}

// unclear reports whether the split test ran and could neither pass the split nor show it drifted.
func (v *Verifier) unclear(rep *Report) bool {
	return rep.Split != nil && !rep.Split.Passed && !v.drifted(rep)
}

// drifted reports whether some share's interval lies wholly outside its weight ± the tolerance: a drift no more
// answers would clear.
func (v *Verifier) drifted(rep *Report) bool {
	for _, c := range rep.Candidates {
		if c.ShareLow >= c.Expected+v.cfg.Tolerance || c.ShareHigh <= c.Expected-v.cfg.Tolerance {
			return true
		}
	}
	return false
}

// judgeLatency holds each candidate to the absolute p95 budget and the other candidates to the relative one.
func (v *Verifier) judgeLatency(rep *Report, defaultP95 float64) []Finding {
	const minSamples = 5
	absolute := float64(v.cfg.LatencyP95.Microseconds()) / 1000
	slack := float64(LatencySlack.Microseconds()) / 1000
	var out []Finding
	for i := range rep.Candidates {
		c := &rep.Candidates[i]
		c.BudgetP95 = absolute
		relative := c.Name != v.cfg.Model && defaultP95 > 0
		if relative {
			c.BudgetP95 = min(absolute, v.cfg.LatencyRatio*defaultP95+slack)
		}
		if c.Count-c.TimedOut < minSamples || c.P95 <= c.BudgetP95 {
			continue
		}
		budget := fmt.Sprintf("the budget of %.0f ms (verification.latencyP95)", absolute)
		if relative && c.BudgetP95 < absolute {
			budget = fmt.Sprintf("%.3g × %s's p95 (%.1f ms) + %.0f ms = %.1f ms (verification.latencyRatio)",
				v.cfg.LatencyRatio, v.cfg.Model, defaultP95, slack, c.BudgetP95)
		}
		out = append(out, Finding{Severity: SeverityError, Layer: LayerModel,
			Problem:  fmt.Sprintf("%s is too slow: p95 %.1f ms (p50 %.1f, p99 %.1f) over %s", c.Name, c.P95, c.P50, c.P99, budget),
			Cause:    "the model or its Server is slower than the budget: a heavier model, too little CPU or memory, or a cold cache",
			Fix:      fmt.Sprintf("kubectl top pods for the Server of %s; give it resources, or raise the budget if this latency is acceptable", c.Name),
			Evidence: fmt.Sprintf("%d answers", c.Count)})
	}
	return out
}

// deadlineFinding says that the verification stopped at its deadline, with what the calls showed meanwhile.
func (v *Verifier) deadlineFinding(rep Report) Finding {
	f := Finding{Severity: SeverityError, Layer: LayerModel, Calls: []string{"experiment calls"},
		Problem: fmt.Sprintf("verification stopped at its deadline (%s) after %d of %d experiment calls", v.cfg.Deadline, rep.Requests, rep.Planned),
		Cause:   "calls are too slow for the deadline",
		Fix:     "see the findings above for what answered slowly; raise verification.deadline only if that latency is expected"}
	for _, p := range rep.Direct {
		if p.TimedOut {
			f.Cause = "a server accepts connections but does not answer within the timeout (" + p.Name + "'s direct call timed out)"
		}
	}
	return f
}

// reconcile removes diagnoses the verifier's own observations contradict.
func (v *Verifier) reconcile(rep *Report) {
	succeeded := rep.Requests - rep.Errors
	for _, p := range rep.Direct {
		if p.OK {
			succeeded++
		}
	}
	for i := range rep.Findings {
		f := &rep.Findings[i]
		// A failed health probe is not a broken experiment when inference calls succeed.
		if succeeded > 0 && slices.Contains(f.Calls, "GET /v2/health/ready") && len(f.Calls) == 1 {
			f.Severity = SeverityWarning
			f.Problem = fmt.Sprintf("GET /v2/health/ready failed (%s), but %d inference calls succeeded", f.Problem, succeeded)
			f.Cause = "envoy's readiness reflects something else than this experiment's route (another model not loaded, or a replica still starting)"
			f.Fix = "kubectl get models,servers -A; the experiment itself answered"
		}
		// Intermittent: some experiment calls failed this way and others succeeded.
		if f.Count > 0 && rep.Requests > 0 {
			share := float64(f.Count) * 100 / float64(rep.Requests)
			prefix := fmt.Sprintf("%d of %d experiment calls (%.0f%%): ", f.Count, rep.Requests, share)
			if f.Count < rep.Requests {
				prefix = "intermittent, " + prefix
			}
			if !strings.HasPrefix(f.Problem, prefix) {
				f.Problem = prefix + f.Problem
			}
		}
	}
}

// routedModel names the candidate that answered: x-seldon-route (":enhanced-predictor_3:") or else the body's
// model_name, with MLServer's internal version suffix removed.
// inferenceHeaders are a V2 call's headers; seldonModel picks what envoy routes to (a model or <name>.experiment).
func inferenceHeaders(seldonModel string) http.Header {
	return http.Header{"Content-Type": {"application/json"}, "Seldon-Model": {seldonModel}}
}

func routedModel(r response) string {
	name, _ := routedVersion(r)
	return name
}

// routedVersion is the model and Seldon version that answered: envoy's x-seldon-route (":<model>_<version>:",
// scheduler/pkg/envoy/xdscache/resource.go, wrapRouteHeader), or MLServer's model_name ("<model>_<version>") when
// no route header came back; version 0 when neither names one.
func routedVersion(r response) (string, int) {
	name := ""
	if route := strings.TrimLeft(r.header.Get("x-seldon-route"), ":"); route != "" {
		name, _, _ = strings.Cut(route, ":")
	} else {
		var body struct {
			ModelName string `json:"model_name"`
		}
		_ = json.Unmarshal(r.body, &body)
		name = body.ModelName
	}
	i := strings.LastIndexByte(name, '_')
	if i < 0 {
		return name, 0
	}
	version, err := strconv.Atoi(name[i+1:])
	if err != nil || version < 0 {
		return name, 0
	}
	return name[:i], version
}

// body is a V2 request for the configured input (one of bodyVariants, data seeded by number).
func (v *Verifier) body(i int) []byte {
	if v.cfg.Body != nil {
		return v.cfg.Body
	}
	return v.bodies[i%bodyVariants]
}

func (v *Verifier) makeBody(i int) []byte {
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

// merge keeps one finding per layer and cause, adding up how many calls showed it and listing them; the first
// (most specific) diagnosis of a layer's 404 stands for the generic ones after it.
func merge(findings []Finding) []Finding {
	var out []Finding
	index := map[string]int{}
	for _, f := range findings {
		key := f.Layer + "|" + f.Problem + "|" + f.Cause
		if f.Layer == LayerMesh && strings.HasPrefix(f.Problem, "envoy answered 404") {
			key = "mesh-404"
		}
		if i, seen := index[key]; seen {
			out[i].Count += f.Count
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
