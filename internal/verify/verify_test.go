package verify_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seldon-ab/provisioner/internal/verify"
)

const experiment = "financial-ab-test-experiment"

// fakeStack reproduces what a client meets: ingress-nginx host rules in front of Seldon's envoy, which routes
// /v2 paths by the seldon-model header and splits an experiment by weight.
type fakeStack struct {
	hosts         []string
	servedWeights map[string]float64 // what the "scheduler" really applies
	versions      map[string]int
	active        bool // the experiment has a route
	slow          map[string]time.Duration
	status        map[string]int // a candidate answering with this status
	malformed     bool
	mu            sync.Mutex
	rng           *rand.Rand
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
		w.Header().Set("Server", "nginx")
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, "<html><head><title>404 Not Found</title></head><body><center><h1>404 Not Found</h1></center><hr><center>nginx</center></body></html>")
		return
	}
	f.envoy(w, r)
}

func (f *fakeStack) envoy(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Server", "envoy")
	if !strings.HasPrefix(r.URL.Path, "/v2") {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	if r.URL.Path == "/v2/health/ready" {
		return
	}
	target := r.Header.Get("seldon-model")
	var model string
	switch {
	case target == experiment+".experiment" && f.active:
		model = f.pick()
	case f.versions[target] > 0:
		model = target
	default:
		w.WriteHeader(http.StatusNotFound)
		return
	}
	time.Sleep(f.slow[model])
	if code := f.status[model]; code != 0 {
		w.WriteHeader(code)
		if code == http.StatusUnprocessableEntity {
			fmt.Fprint(w, `{"error":"Input data type mismatch: expected FP32"}`)
		} else {
			fmt.Fprint(w, "no healthy upstream")
		}
		return
	}
	versioned := fmt.Sprintf("%s_%d", model, f.versions[model])
	w.Header().Set("x-seldon-route", ":"+versioned+":")
	w.Header().Set("x-envoy-upstream-service-time", "3")
	if f.malformed {
		fmt.Fprintf(w, `{"model_name":%q,"outputs":[]}`, versioned)
		return
	}
	fmt.Fprintf(w, `{"model_name":%q,"outputs":[{"name":"predict","shape":[1,2],"datatype":"FP32","data":[0.1,0.9]}]}`, versioned)
}

func (f *fakeStack) pick() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	total := 0.0
	for _, w := range f.servedWeights {
		total += w
	}
	x := f.rng.Float64() * total
	for _, name := range []string{"baseline-predictor", "enhanced-predictor"} {
		if x < f.servedWeights[name] {
			return name
		}
		x -= f.servedWeights[name]
	}
	return "baseline-predictor"
}

func config(url string) verify.Config {
	return verify.Config{
		BaseURL: url, Host: "financial-predictor.local", Experiment: experiment, Model: "baseline-predictor",
		Candidates:  []verify.Candidate{{Name: "baseline-predictor", Weight: 70}, {Name: "enhanced-predictor", Weight: 30}},
		Input:       verify.Input{Name: "input_data", Shape: []int{1, 10, 35}, Datatype: "FP32"},
		Concurrency: 8, Timeout: 2 * time.Second, Seed: 1,
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

func serve(t *testing.T, h http.Handler) string {
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
	if rep.Requests < 90 {
		t.Errorf("only %d requests: too few to catch a 50/50 split", rep.Requests)
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
	findingIn(t, rep, verify.LayerExperiment, "differs from the configured 70/30")
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
	cfg.Requests = 100
	rep := run(t, cfg)
	if !rep.Passed {
		t.Fatalf("slow but correct stack failed:\n%s", rep.Summary())
	}
	if rep.Candidates[1].P50 < 30 || rep.Candidates[0].P50 >= 30 {
		t.Errorf("p50 baseline %.1f ms, enhanced %.1f ms", rep.Candidates[0].P50, rep.Candidates[1].P50)
	}
}

func TestConnectionRefusedIsANetworkProblem(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cfg := config("http://" + addr)
	cfg.Requests = 5
	rep := run(t, cfg)
	findingIn(t, rep, verify.LayerNetwork, "connection refused")
}

func TestReportsRender(t *testing.T) {
	rep := run(t, config(serve(t, newFakeStack())))
	var js, svg bytes.Buffer
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back verify.Report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || back.Requests != rep.Requests || len(back.Candidates) != 2 {
		t.Errorf("JSON report does not round-trip: %v", err)
	}
	if err := rep.WriteSVG(&svg); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<svg", "baseline-predictor", "enhanced-predictor", "p50 / p95 / p99"} {
		if !strings.Contains(svg.String(), want) {
			t.Errorf("SVG lacks %q", want)
		}
	}
	if !strings.Contains(rep.Summary(), "PASSED") {
		t.Errorf("summary: %s", rep.Summary())
	}
}
