package verify_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/seldon-ab/provisioner/internal/verify"
)

const experiment = "financial-ab-test-experiment"

// fakeStack reproduces what a client meets: ingress-nginx host rules in front of Seldon's envoy, which routes
// /v2 paths by the seldon-model header and splits an experiment by weight. As the real ones: NGINX removes every
// Server header and answers unknown hosts with its own page; envoy answers an unrouted request with an empty 404
// and stamps x-seldon-route on what a model answered.
type fakeStack struct {
	hosts         []string
	servedWeights map[string]float64 // what the "scheduler" really applies
	// laterWeights, when set, are applied from the experiment call after switchAfter on.
	laterWeights map[string]float64
	switchAfter  int
	evenly       bool // serve the weights in exact proportion rather than at random
	picked       int
	versions     map[string]int
	active       bool // the experiment has a route
	slow         map[string]time.Duration
	status       map[string]int // a candidate answering with this status
	healthStatus int            // envoy's answer to /v2/health/ready (0: 200)
	flaky        float64        // the share of experiment calls answered 503
	malformed    bool
	mu           sync.Mutex
	rng          *rand.Rand
}

func newFakeStack() *fakeStack {
	return &fakeStack{
		hosts:         []string{"financial-predictor.local"},
		servedWeights: map[string]float64{"baseline-predictor": 70, "enhanced-predictor": 30},
		versions:      map[string]int{"baseline-predictor": 1, "enhanced-predictor": 3},
		active:        true,
		slow:          map[string]time.Duration{},
		status:        map[string]int{},
		rng:           rand.New(rand.NewSource(7)),
	}
}

func (f *fakeStack) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hostKnown := false
	for _, h := range f.hosts {
		hostKnown = hostKnown || r.Host == h
	}
	if !hostKnown {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, "<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n<center><h1>404 Not Found</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")
		return
	}
	rec := httptest.NewRecorder()
	f.envoy(rec, r)
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.Header().Del("Server")
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

func (f *fakeStack) envoy(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Server", "envoy")
	if !strings.HasPrefix(r.URL.Path, "/v2") {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	target := r.Header.Get("seldon-model")
	f.mu.Lock()
	active := f.active
	f.mu.Unlock()
	var model string
	switch {
	case target == experiment+".experiment" && active:
		model = f.pick()
		if f.flakyCall() {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, "upstream connect error or disconnect/reset before headers")
			return
		}
	case f.versions[target] > 0:
		model = target
	default:
		w.WriteHeader(http.StatusNotFound)
		return
	}
	versioned := fmt.Sprintf("%s_%d", model, f.versions[model])
	if r.URL.Path == "/v2/health/ready" {
		w.Header().Set("x-seldon-route", ":"+versioned+":")
		if f.healthStatus != 0 {
			w.WriteHeader(f.healthStatus)
		}
		return
	}
	time.Sleep(f.slow[model])
	if code := f.status[model]; code == http.StatusServiceUnavailable {
		// envoy's own answer when the cluster has no healthy host
		w.WriteHeader(code)
		fmt.Fprint(w, "no healthy upstream")
		return
	}
	w.Header().Set("x-seldon-route", ":"+versioned+":")
	w.Header().Set("x-envoy-upstream-service-time", "3")
	if code := f.status[model]; code != 0 {
		w.WriteHeader(code)
		fmt.Fprint(w, `{"error":"Input data type mismatch: expected FP32"}`)
		return
	}
	if f.malformed {
		fmt.Fprintf(w, `{"model_name":%q,"outputs":[]}`, versioned)
		return
	}
	fmt.Fprintf(w, `{"model_name":%q,"outputs":[{"name":"predict","shape":[1,2],"datatype":"FP32","data":[0.1,0.9]}]}`, versioned)
}

func (f *fakeStack) flakyCall() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rng.Float64() < f.flaky
}

func (f *fakeStack) pick() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.picked++
	weights, nth := f.servedWeights, f.picked
	if f.laterWeights != nil && f.picked > f.switchAfter {
		weights, nth = f.laterWeights, f.picked-f.switchAfter
	}
	total := 0.0
	for _, w := range weights {
		total += w
	}
	if f.evenly {
		// Baseline gets the nth call when its exact share of n calls passes a whole number.
		if share := weights["baseline-predictor"] / total; math.Floor(float64(nth)*share) > math.Floor(float64(nth-1)*share) {
			return "baseline-predictor"
		}
		return "enhanced-predictor"
	}
	x := f.rng.Float64() * total
	for _, name := range []string{"baseline-predictor", "enhanced-predictor"} {
		if x < weights[name] {
			return name
		}
		x -= weights[name]
	}
	return "baseline-predictor"
}

func config(url string) verify.Config {
	return verify.Config{
		BaseURL: url, Host: "financial-predictor.local", Experiment: experiment, Model: "baseline-predictor",
		Candidates:  []verify.Candidate{{Name: "baseline-predictor", Weight: 70}, {Name: "enhanced-predictor", Weight: 30}},
		Input:       verify.Input{Name: "input_data", Shape: []int{1, 10, 35}, Datatype: "FP32"},
		Concurrency: 8, Timeout: 2 * time.Second, Seed: 1, Deadline: 30 * time.Second,
	}
}

func run(t *testing.T, cfg verify.Config) verify.Report {
	t.Helper()
	v, err := verify.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v.Run(context.Background())
}

func serve(t testing.TB, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

func findingIn(t *testing.T, rep verify.Report, layer, fragment string) {
	t.Helper()
	for _, f := range rep.Findings {
		if f.Layer == layer && strings.Contains(f.Problem+" "+f.Cause+" "+f.Fix, fragment) {
			return
		}
	}
	t.Fatalf("no %s finding mentioning %q; report:\n%s", layer, fragment, rep.Summary())
}

func TestAHealthyExperimentPasses(t *testing.T) {
	rep := run(t, config(serve(t, newFakeStack())))
	if !rep.Passed {
		t.Fatalf("healthy stack failed:\n%s", rep.Summary())
	}
	if rep.Split == nil || !rep.Split.Passed || rep.Requests < rep.Split.Needed {
		t.Errorf("split test %+v after %d requests", rep.Split, rep.Requests)
	}
	if !strings.Contains(rep.Summary(), "a drift of 10 points or more is ruled out") {
		t.Errorf("a pass does not say what it rules out:\n%s", rep.Summary())
	}
	for _, c := range rep.Candidates {
		if c.Count == 0 || c.P50 <= 0 {
			t.Errorf("candidate %+v", c)
		}
	}
	// Versioned names (enhanced-predictor_3) map back to the Model.
	if rep.Candidates[1].Name != "enhanced-predictor" || rep.Candidates[1].Count == 0 {
		t.Errorf("enhanced-predictor_3 answers were not counted: %+v", rep.Candidates)
	}
}

func TestA5050SplitIsCaughtForA7030Experiment(t *testing.T) {
	stack := newFakeStack()
	stack.servedWeights = map[string]float64{"baseline-predictor": 50, "enhanced-predictor": 50}
	rep := run(t, config(serve(t, stack)))
	if rep.Passed {
		t.Fatalf("a 50/50 split passed as 70/30:\n%s", rep.Summary())
	}
	findingIn(t, rep, verify.LayerExperiment, "drifted beyond the tolerance")
	if rep.Split.Looks != 1 || rep.Requests != rep.Planned {
		t.Errorf("a clear drift took %d looks, %d of %d calls", rep.Split.Looks, rep.Requests, rep.Planned)
	}
}

// A first look that cannot tell (62% served for 70%) is followed by a second of the same size, judged with it:
// 66% of both is inside the tolerance.
func TestAnUnclearFirstLookGetsASecond(t *testing.T) {
	stack := newFakeStack()
	stack.evenly = true
	stack.servedWeights = map[string]float64{"baseline-predictor": 62, "enhanced-predictor": 38}
	stack.laterWeights = map[string]float64{"baseline-predictor": 70, "enhanced-predictor": 30}
	cfg := config(serve(t, stack))
	cfg.Requests = 600
	stack.switchAfter = cfg.Requests
	rep := run(t, cfg)
	if !rep.Passed || rep.Split == nil || rep.Split.Looks != 2 || rep.Requests != 1200 || rep.Planned != 1200 {
		t.Fatalf("passed=%t, %d of %d calls, split %+v:\n%s", rep.Passed, rep.Requests, rep.Planned, rep.Split, rep.Summary())
	}
	if !strings.Contains(rep.SplitSentence(), "1200 answers in two looks, the first unclear") {
		t.Errorf("the split sentence does not say it took two looks: %s", rep.SplitSentence())
	}
}

// A drift close to the tolerance stays unclear after both looks: it fails, saying how rarely a split served as
// configured would look like this.
func TestADriftCloseToTheToleranceFailsAfterTwoLooks(t *testing.T) {
	stack := newFakeStack()
	stack.evenly = true
	stack.servedWeights = map[string]float64{"baseline-predictor": 63, "enhanced-predictor": 37}
	rep := run(t, config(serve(t, stack)))
	if rep.Passed || rep.Split == nil || rep.Split.Looks != 2 || rep.Requests != rep.Planned {
		t.Fatalf("passed=%t, %d of %d calls, split %+v:\n%s", rep.Passed, rep.Requests, rep.Planned, rep.Split, rep.Summary())
	}
	findingIn(t, rep, verify.LayerExperiment, fmt.Sprintf("%d answers cannot rule out a drift of 10 points", rep.Requests))
	findingIn(t, rep, verify.LayerExperiment, "a split served exactly as configured leaves")
}

// A drift of exactly the tolerance (60/40 served for 70/30) fails; with the chi-square sizing it passed about two
// runs in three.
func TestADriftOfTheToleranceFails(t *testing.T) {
	for seed := int64(1); seed <= 5; seed++ {
		stack := newFakeStack()
		stack.rng = rand.New(rand.NewSource(seed))
		stack.servedWeights = map[string]float64{"baseline-predictor": 60, "enhanced-predictor": 40}
		if rep := run(t, config(serve(t, stack))); rep.Passed {
			t.Fatalf("seed %d: a 60/40 split passed as 70/30 ± 10:\n%s", seed, rep.Summary())
		}
	}
}

// A large sample of a split inside the tolerance passes: a test of exact equality fails it by chance (seen once
// in 15 runs of 20,000) or for a drift nobody cares about.
func TestALargeSampleInsideTheTolerancePasses(t *testing.T) {
	for _, served := range []float64{70, 67} {
		stack := newFakeStack()
		stack.servedWeights = map[string]float64{"baseline-predictor": served, "enhanced-predictor": 100 - served}
		cfg := config(serve(t, stack))
		cfg.Requests = 20000
		if rep := run(t, cfg); !rep.Passed {
			t.Errorf("%.0f/%.0f served, 20,000 requests, failed:\n%s", served, 100-served, rep.Summary())
		}
	}
}

func TestAMissingCandidateIsNamed(t *testing.T) {
	stack := newFakeStack()
	stack.servedWeights = map[string]float64{"baseline-predictor": 100}
	rep := run(t, config(serve(t, stack)))
	findingIn(t, rep, verify.LayerExperiment, "candidate enhanced-predictor never answered")
}

func TestWrongHostIsAnIngressProblem(t *testing.T) {
	cfg := config(serve(t, newFakeStack()))
	cfg.Host = "financial-predictor.lan"
	rep := run(t, cfg)
	findingIn(t, rep, verify.LayerIngress, "no Ingress rule matched")
}

func TestAnInactiveExperimentIsAnEnvoyNoRoute(t *testing.T) {
	stack := newFakeStack()
	stack.active = false
	rep := run(t, config(serve(t, stack)))
	findingIn(t, rep, verify.LayerMesh, "seldon-model")
	if !rep.Direct[0].OK {
		t.Error("the models answered directly, yet the direct probe failed")
	}
}

func TestAPrefixThatWasNotRewrittenIsAnEnvoyNoRoute(t *testing.T) {
	// The ingress forwards /seldon-system/v2/... unchanged: envoy only routes /v2.
	rep := run(t, config(serve(t, newFakeStack())+"/seldon-system"))
	findingIn(t, rep, verify.LayerMesh, "does not start with /v2")
}

func TestUnavailableServersAreAModelLayerProblem(t *testing.T) {
	stack := newFakeStack()
	stack.status["enhanced-predictor"] = http.StatusServiceUnavailable
	rep := run(t, config(serve(t, stack)))
	findingIn(t, rep, verify.LayerModel, "no healthy server")
	if rep.Errors == 0 || rep.ErrorRate <= 0 {
		t.Errorf("errors %d rate %v", rep.Errors, rep.ErrorRate)
	}
}

func TestAPayloadTheModelRejectsNamesTheInputSpec(t *testing.T) {
	stack := newFakeStack()
	stack.status["baseline-predictor"] = http.StatusUnprocessableEntity
	rep := run(t, config(serve(t, stack)))
	findingIn(t, rep, verify.LayerModel, "input_data [1 10 35] FP32")
}

func TestAMalformedResponseIsReported(t *testing.T) {
	stack := newFakeStack()
	stack.malformed = true
	rep := run(t, config(serve(t, stack)))
	findingIn(t, rep, verify.LayerModel, "no outputs")
}

func TestASlowCandidateShowsInItsLatency(t *testing.T) {
	stack := newFakeStack()
	stack.slow["enhanced-predictor"] = 30 * time.Millisecond
	cfg := config(serve(t, stack))
	rep := run(t, cfg)
	if !rep.Passed {
		t.Fatalf("slow but correct stack failed:\n%s", rep.Summary())
	}
	if rep.Candidates[1].P50 < 30 || rep.Candidates[0].P50 >= 30 {
		t.Errorf("p50 baseline %.1f ms, enhanced %.1f ms", rep.Candidates[0].P50, rep.Candidates[1].P50)
	}
}

// refusedURL is a loopback address where nothing listens.
func refusedURL(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	return "http://" + l.Addr().String()
}

// A refused connection stops after the probes: the experiment is not called hundreds of times to learn nothing.
func TestConnectionRefusedIsANetworkProblem(t *testing.T) {
	rep := run(t, config(refusedURL(t)))
	findingIn(t, rep, verify.LayerNetwork, "connection refused")
	if rep.Requests != 0 || !strings.Contains(rep.SplitNote, "not called") {
		t.Errorf("%d experiment calls after every probe was refused (note %q)", rep.Requests, rep.SplitNote)
	}
}

// 1. Latency is judged: a candidate answering in 300 ms beside one answering at once fails, with its figures.
func TestALatencyOverBudgetFails(t *testing.T) {
	stack := newFakeStack()
	stack.slow["enhanced-predictor"] = 300 * time.Millisecond
	cfg := config(serve(t, stack))
	cfg.Concurrency = 64
	rep := run(t, cfg)
	if rep.Passed {
		t.Fatalf("a 300 ms candidate beside a 1 ms one passed:\n%s", rep.Summary())
	}
	findingIn(t, rep, verify.LayerModel, "enhanced-predictor is too slow: p95 3")
	findingIn(t, rep, verify.LayerModel, "verification.latencyRatio")
	cfg.LatencyRatio = 1000
	if rep := run(t, cfg); !rep.Passed {
		t.Errorf("within a budget the user raised, it still failed:\n%s", rep.Summary())
	}
}

// What Execute returns for a failed verdict names the broken layer and its problem: an unattended `up` (a CI log)
// keeps only that error.
func TestAFailedVerdictsErrorNamesTheLayer(t *testing.T) {
	stack := newFakeStack()
	stack.slow["enhanced-predictor"] = 300 * time.Millisecond
	cfg := config(serve(t, stack))
	cfg.Concurrency = 64
	_, err := verify.Execute(context.Background(), verify.Invocation{Config: cfg}, false, io.Discard, io.Discard)
	if !errors.Is(err, verify.ErrFailed) {
		t.Fatalf("a 300 ms candidate beside a 1 ms one: %v", err)
	}
	if want := "verification failed: model layer: enhanced-predictor is too slow: p95 3"; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("the error %q does not start with %q", err, want)
	}
	if _, err := verify.Execute(context.Background(), verify.Invocation{Config: config(serve(t, newFakeStack()))}, false, io.Discard, io.Discard); err != nil {
		t.Errorf("a healthy stack: %v", err)
	}
}

// 2. A timeout below one candidate's latency is named as that candidate's, after a connection was made; the
// timed-out calls count against it, so neither the network, nor a missing candidate, nor the split is blamed.
func TestATimeoutIsBlamedOnTheSlowCandidate(t *testing.T) {
	stack := newFakeStack()
	stack.slow["enhanced-predictor"] = 400 * time.Millisecond
	cfg := config(serve(t, stack))
	cfg.Timeout, cfg.Concurrency = 100*time.Millisecond, 64
	rep := run(t, cfg)
	findingIn(t, rep, verify.LayerModel, "enhanced-predictor did not answer within 100ms")
	report := rep.Summary()
	for _, wrong := range []string{"announce", "never answered", "two schedulers", "drifted"} {
		if strings.Contains(report, wrong) {
			t.Errorf("the report blames %q:\n%s", wrong, report)
		}
	}
	if c := rep.Candidates[1]; c.TimedOut == 0 || c.TimedOut != c.Count {
		t.Errorf("timed-out calls were not counted against enhanced-predictor: %+v", c)
	}
}

// 3. A server that accepts connections and never answers: the probes time out, the experiment is not called,
// and the verdict comes within the probes' time, naming a server that does not answer, not the network.
func TestAServerThatNeverAnswersStopsAfterTheProbes(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { conn.Close() })
		}
	}()
	cfg := config("http://" + l.Addr().String())
	cfg.Timeout = 200 * time.Millisecond
	rep := run(t, cfg)
	if rep.Passed || rep.Requests != 0 {
		t.Fatalf("passed=%t after %d experiment calls:\n%s", rep.Passed, rep.Requests, rep.Summary())
	}
	findingIn(t, rep, verify.LayerModel, "no answer within 200ms after the connection was made")
	if strings.Contains(rep.Summary(), "announce") {
		t.Errorf("a server that accepted the connection is blamed on the LAN:\n%s", rep.Summary())
	}
}

// 3. The deadline bounds a slow run and says where it stopped.
func TestTheDeadlineStopsASlowRun(t *testing.T) {
	stack := newFakeStack()
	stack.slow["baseline-predictor"] = 50 * time.Millisecond
	stack.slow["enhanced-predictor"] = 50 * time.Millisecond
	cfg := config(serve(t, stack))
	cfg.Concurrency, cfg.Deadline = 2, time.Second
	rep := run(t, cfg)
	if rep.Passed || rep.Requests >= rep.Planned {
		t.Fatalf("passed=%t with %d of %d calls:\n%s", rep.Passed, rep.Requests, rep.Planned, rep.Summary())
	}
	findingIn(t, rep, verify.LayerModel, "stopped at its deadline (1s)")
}

// 4. A health endpoint that says 503 while every inference succeeds is a warning, not a failed experiment.
func TestAFailedHealthCheckBesideWorkingInferenceIsAWarning(t *testing.T) {
	stack := newFakeStack()
	stack.healthStatus = http.StatusServiceUnavailable
	rep := run(t, config(serve(t, stack)))
	if !rep.Passed {
		t.Fatalf("working inference failed on the health probe alone:\n%s", rep.Summary())
	}
	if len(rep.Findings) != 1 || rep.Findings[0].Severity != verify.SeverityWarning || !strings.Contains(rep.Findings[0].Problem, "inference calls succeeded") {
		t.Errorf("findings %+v", rep.Findings)
	}
}

// 6. Intermittent errors are counted and called intermittent.
func TestIntermittentErrorsAreCountedAndNamed(t *testing.T) {
	stack := newFakeStack()
	stack.flaky = 0.25
	rep := run(t, config(serve(t, stack)))
	findingIn(t, rep, verify.LayerModel, "intermittent, ")
	if rep.ErrorRate < 0.15 || rep.ErrorRate > 0.35 {
		t.Errorf("error rate %.2f for a quarter of calls failing", rep.ErrorRate)
	}
	if rep.Split != nil {
		t.Errorf("the split was judged with a quarter of the calls missing: %+v", rep.Split)
	}
}

func TestReportsRender(t *testing.T) {
	rep := run(t, config(serve(t, newFakeStack())))
	var js, svg bytes.Buffer
	if err := verify.NewSuite(rep).WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back verify.Suite
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || len(back.Reports) != 1 || back.Reports[0].Requests != rep.Requests ||
		len(back.Reports[0].Candidates) != 2 || !back.Passed {
		t.Errorf("JSON report does not round-trip: %v", err)
	}
	if err := verify.NewSuite(rep).WriteSVG(&svg); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<svg", "baseline-predictor", "enhanced-predictor", "p50 / p95 / p99", "PASSED", "0 errors",
		`fill="#fde0dd"`, "budget"} {
		if !strings.Contains(svg.String(), want) {
			t.Errorf("SVG lacks %q", want)
		}
	}
	// 7. Every label starts inside the picture's width.
	width, _ := strconv.Atoi(regexp.MustCompile(`width="(\d+)"`).FindStringSubmatch(svg.String())[1])
	for _, m := range regexp.MustCompile(`<text x="([\d.]+)"[^>]*>([^<]*)<`).FindAllStringSubmatch(svg.String(), -1) {
		x, _ := strconv.ParseFloat(m[1], 64)
		if x+float64(len(m[2]))*7 > float64(width)+200 || x > float64(width)-100 && len(m[2]) > 10 {
			t.Errorf("label %q at x=%v is cut at the edge (width %d)", m[2], x, width)
		}
	}
	if !strings.Contains(rep.Summary(), "PASSED") {
		t.Errorf("summary: %s", rep.Summary())
	}
}

// 7. After a total failure no test ran, and the reports say so instead of printing a p-value.
func TestNoSplitTestIsReportedWhereNoneRan(t *testing.T) {
	rep := run(t, config(refusedURL(t)))
	var js, svg bytes.Buffer
	if err := verify.NewSuite(rep).WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	if err := verify.NewSuite(rep).WriteSVG(&svg); err != nil {
		t.Fatal(err)
	}
	for _, text := range []string{js.String(), svg.String()} {
		if strings.Contains(text, "pValue") || strings.Contains(text, `"split":`) || strings.Contains(text, "p = ") {
			t.Errorf("a test result where none ran:\n%s", text)
		}
	}
	if !strings.Contains(svg.String(), "FAILED") || !strings.Contains(svg.String(), "not called") {
		t.Errorf("the SVG does not show the verdict and why no test ran:\n%s", svg.String())
	}
}

// 3. A failure every call repeats (no route for the experiment) stops the run early instead of sending all calls.
func TestARepeatedFailureStopsEarly(t *testing.T) {
	stack := newFakeStack()
	stack.active = false
	rep := run(t, config(serve(t, stack)))
	if rep.Passed || rep.Requests >= rep.Planned || !strings.Contains(rep.SplitNote, "all failed the same way") {
		t.Errorf("%d of %d calls sent for a failure every call repeats (note %q)", rep.Requests, rep.Planned, rep.SplitNote)
	}
}

// An Ingress with TLS answers plain http with ingress-nginx's 308: reported as that redirect and where it points,
// never followed (following it would have made it a name-resolution or TLS failure).
func TestARedirectIsReportedNotFollowed(t *testing.T) {
	redirects := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", "https://financial-predictor.local"+r.URL.RequestURI())
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusPermanentRedirect)
		fmt.Fprint(w, "<html>\r\n<head><title>308 Permanent Redirect</title></head>\r\n<body>\r\n<center><h1>308 Permanent Redirect</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")
	})
	rep := run(t, config(serve(t, redirects)))
	findingIn(t, rep, verify.LayerIngress, `answered 308, redirecting to "https://financial-predictor.local/v2/`)
	findingIn(t, rep, verify.LayerIngress, "ssl-redirect")
	for _, f := range rep.Findings {
		if f.Layer == verify.LayerNetwork || f.Layer == verify.LayerModel {
			t.Errorf("the redirect was blamed on the %s: %s", f.Layer, f.Problem)
		}
	}
}

// A page from something that is neither NGINX nor the mesh (a router, a proxy) is never blamed on the model.
func TestAnAnswerFromOutsideTheMeshIsNotBlamedOnTheModel(t *testing.T) {
	router := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Server", "mini_httpd/1.30")
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		fmt.Fprint(w, "<html><body><h1>Router: upstream unreachable</h1></body></html>")
	})
	rep := run(t, config(serve(t, router)))
	findingIn(t, rep, verify.LayerNetwork, "neither the ingress nor the mesh")
	for _, f := range rep.Findings {
		if f.Layer == verify.LayerModel {
			t.Errorf("a router's page was blamed on the model: %s", f.Problem)
		}
	}
}

// A replica whose agent does not hold the version answers with Go's 404 page through envoy: the model layer, with
// the reason, not "no route".
func TestTheAgentsNotFoundIsAVersionNotOnTheReplica(t *testing.T) {
	agent := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("x-seldon-route", ":baseline-predictor_2:")
		w.Header().Set("x-envoy-upstream-service-time", "1")
		http.Error(w, "404 page not found", http.StatusNotFound)
	})
	rep := run(t, config(serve(t, agent)))
	findingIn(t, rep, verify.LayerModel, "does not hold the model version")
}

// After an update, the mesh may still serve the old weights for a moment: the verifier waits for the configured
// split, says how long it took, and judges the calls after it.
func TestTheSplitSettlesAfterAnUpdate(t *testing.T) {
	stack := newFakeStack()
	stack.servedWeights = map[string]float64{"baseline-predictor": 50, "enhanced-predictor": 50}
	var calls atomic.Int64
	switching := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 700 {
			stack.mu.Lock()
			stack.servedWeights = map[string]float64{"baseline-predictor": 70, "enhanced-predictor": 30}
			stack.mu.Unlock()
		}
		stack.ServeHTTP(w, r)
	})
	cfg := config(serve(t, switching))
	cfg.Settle = 20 * time.Second
	rep := run(t, cfg)
	if !rep.Passed || !rep.Settled || rep.SettleSec <= 0 || !strings.Contains(rep.Summary(), "the split was served as configured after") {
		t.Fatalf("want a settled, passing split:\n%s", rep.Summary())
	}
	stack.servedWeights = map[string]float64{"baseline-predictor": 50, "enhanced-predictor": 50}
	calls.Store(-1 << 40) // never switches
	cfg.Settle = time.Second
	rep = run(t, cfg)
	findingIn(t, rep, verify.LayerExperiment, "had not settled")
}

// After the winner is promoted the stack has no experiment: each Model is called by its name, and a Model that
// is gone fails the verdict at the mesh.
func TestAStackWithoutAnExperimentIsVerifiedModelByModel(t *testing.T) {
	stack := newFakeStack()
	stack.active = false
	cfg := config(serve(t, stack))
	cfg.Experiment, cfg.Candidates = "", []verify.Candidate{{Name: "enhanced-predictor"}}
	rep := run(t, cfg)
	if !rep.Passed || rep.Requests != 0 || rep.Split != nil || !strings.Contains(rep.Summary(), "no experiment: PASSED") {
		t.Fatalf("want a pass without a split:\n%s", rep.Summary())
	}
	delete(stack.versions, "enhanced-predictor")
	rep = run(t, cfg)
	findingIn(t, rep, verify.LayerMesh, "")
}

func TestWatchCountsEveryCallAndTheWindowOfFailures(t *testing.T) {
	stack := newFakeStack()
	cfg := config(serve(t, stack))
	caller, err := verify.NewCaller(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if a := caller.Infer(context.Background(), "enhanced-predictor", "enhanced-predictor", 0); !a.OK() || a.Model != "enhanced-predictor" || a.Version != 3 {
		t.Fatalf("answer = %+v", a)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	go func() {
		// The experiment's route is gone for a while (a rename), then back.
		time.Sleep(500 * time.Millisecond)
		stack.mu.Lock()
		stack.active = false
		stack.mu.Unlock()
		time.Sleep(300 * time.Millisecond)
		stack.mu.Lock()
		stack.active = true
		stack.mu.Unlock()
	}()
	traffic := caller.Watch(ctx, experiment+".experiment", "baseline-predictor", 4)
	if traffic.Failed == 0 || traffic.Calls <= traffic.Failed || traffic.Failures["HTTP 404 from the mesh (envoy)"] != traffic.Failed {
		t.Fatalf("traffic = %+v", traffic)
	}
	if traffic.Window < 200*time.Millisecond || traffic.Window > 400*time.Millisecond {
		t.Errorf("window %s, want about 300ms", traffic.Window)
	}
	if traffic.Served["baseline-predictor_1"] == 0 || traffic.Served["enhanced-predictor_3"] == 0 {
		t.Errorf("served = %v", traffic.Served)
	}
}

// experimentsAtOnce answers every <name>.experiment as fakeStack answers its one experiment, and records the most
// experiments with calls in flight at once; with gather > 0 it holds each call until that many experiments have
// called (or a few seconds passed).
type experimentsAtOnce struct {
	stack    *fakeStack
	gather   int
	mu       sync.Mutex
	inFlight map[string]int
	called   map[string]bool
	most     int
	gathered chan struct{}
}

func newExperimentsAtOnce(gather int) *experimentsAtOnce {
	return &experimentsAtOnce{stack: newFakeStack(), gather: gather, inFlight: map[string]int{}, called: map[string]bool{},
		gathered: make(chan struct{})}
}

func (e *experimentsAtOnce) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name, isExperiment := strings.CutSuffix(r.Header.Get("seldon-model"), ".experiment")
	if isExperiment {
		e.mu.Lock()
		e.inFlight[name]++
		e.most = max(e.most, len(e.inFlight))
		if !e.called[name] {
			e.called[name] = true
			if len(e.called) == e.gather {
				close(e.gathered)
			}
		}
		e.mu.Unlock()
		defer func() {
			e.mu.Lock()
			if e.inFlight[name]--; e.inFlight[name] == 0 {
				delete(e.inFlight, name)
			}
			e.mu.Unlock()
		}()
		if e.gather > 0 {
			select {
			case <-e.gathered:
			case <-time.After(3 * time.Second):
			}
		}
		r.Header.Set("seldon-model", experiment+".experiment")
	}
	e.stack.ServeHTTP(w, r)
}

// Experiments are verified several at once: each of four has calls in flight while the others do (every call is
// held until all four have called); with Parallel 1, one after another. Summaries come in the experiments' order.
func TestExperimentsAreVerifiedSeveralAtOnce(t *testing.T) {
	names := []string{"a", "b", "c", "d"}
	for _, parallel := range []int{len(names), 1} {
		gather := 0
		if parallel > 1 {
			gather = len(names)
		}
		stack := newExperimentsAtOnce(gather)
		inv := verify.Invocation{Config: config(serve(t, stack)), Parallel: parallel}
		for _, name := range names {
			inv.Experiments = append(inv.Experiments, verify.Experiment{Name: name, Model: "baseline-predictor", Candidates: inv.Config.Candidates})
		}
		var out bytes.Buffer
		suite, err := verify.Execute(context.Background(), inv, false, &out, io.Discard)
		if err != nil || !suite.Passed {
			t.Fatalf("parallel %d: %v\n%s", parallel, err, out.String())
		}
		if stack.most != parallel {
			t.Errorf("parallel %d: at most %d experiments had calls in flight at once", parallel, stack.most)
		}
		var order []string
		for _, heading := range regexp.MustCompile(`A/B verification of (\w+):`).FindAllStringSubmatch(out.String(), -1) {
			order = append(order, heading[1])
		}
		if !slices.Equal(order, names) {
			t.Errorf("parallel %d: summaries in the order %v, not %v:\n%s", parallel, order, names, out.String())
		}
	}
}
