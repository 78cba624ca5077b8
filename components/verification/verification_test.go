package verification_test

import (
	"fmt"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/seldon-ab/provisioner/components/verification"
	"github.com/seldon-ab/provisioner/internal/seldonspec"
)

// ingressStandIn answers like ingress-nginx (host rule) in front of Seldon's envoy: /v2 only, routed by the
// seldon-model header, the experiment split by weight, the route named in x-seldon-route.
func ingressStandIn(t *testing.T, weights map[string]float64, experimentActive bool) string {
	t.Helper()
	var mu sync.Mutex
	rng := rand.New(rand.NewSource(11))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Host != "financial-predictor.local" {
			w.Header().Set("Server", "nginx")
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, "<html><center>nginx</center></html>")
			return
		}
		w.Header().Set("Server", "envoy")
		if !strings.HasPrefix(r.URL.Path, "/v2") {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		if r.URL.Path == "/v2/health/ready" {
			return
		}
		model := r.Header.Get("seldon-model")
		if model == "financial-ab-test-experiment.experiment" {
			if !experimentActive {
				w.WriteHeader(http.StatusNotFound)
				return
			}
			mu.Lock()
			model = "enhanced-predictor"
			if rng.Float64()*100 < weights["baseline-predictor"] {
				model = "baseline-predictor"
			}
			mu.Unlock()
		} else if weights[model] == 0 {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		w.Header().Set("x-seldon-route", ":"+model+"_1:")
		fmt.Fprintf(w, `{"model_name":"%s_1","outputs":[{"name":"predict","shape":[1,2],"datatype":"FP32","data":[0.1,0.9]}]}`, model)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// run executes the exact command line the pulumi-command resource runs, from the project root, with sh as
// pulumi-command does; a non-zero exit is what fails `pulumi up`.
func run(t *testing.T, url string) (out, reportDir string, err error) {
	t.Helper()
	root, _ := filepath.Abs("../..")
	// A report directory no shell may expand: the command line must hand it over as it is.
	reportDir = filepath.Join(t.TempDir(), "it's $(touch pwned) `id` $HOME")
	args := &verification.Args{ProjectDir: root, URL: url, Host: "financial-predictor.local",
		Experiments: []verification.Experiment{{Name: "financial-ab-test-experiment", Model: "baseline-predictor",
			Candidates: []seldonspec.Candidate{{Name: "baseline-predictor", Weight: 70}, {Name: "enhanced-predictor", Weight: 30}}}},
		InputName: "input_data", Shape: []int{1, 10, 35}, Datatype: "FP32", Concurrency: 4, Significance: 0.01,
		ReportDir: reportDir}
	cmd := exec.Command("sh", "-c", verification.Command(args))
	cmd.Dir = root
	combined, err := cmd.CombinedOutput()
	return string(combined), reportDir, err
}

func TestTheCommandLinePassesAHealthyExperiment(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs cmd/seldon-ab")
	}
	out, reportDir, err := run(t, ingressStandIn(t, map[string]float64{"baseline-predictor": 70, "enhanced-predictor": 30}, true))
	if err != nil || !strings.Contains(out, "A/B verification of financial-ab-test-experiment: PASSED") {
		t.Fatalf("want PASSED and exit 0, got %v:\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(reportDir, "report.json")); err != nil {
		t.Errorf("the report is not in the directory as named (the shell expanded it?): %v", err)
	}
}

func TestTheCommandLineFailsAnInactiveExperimentWithTheDiagnosis(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs cmd/seldon-ab")
	}
	out, _, err := run(t, ingressStandIn(t, map[string]float64{"baseline-predictor": 70, "enhanced-predictor": 30}, false))
	if err == nil {
		t.Fatalf("an experiment with no route passed; pulumi up would succeed:\n%s", out)
	}
	if !strings.Contains(out, "FAILED") || !strings.Contains(out, "[error] mesh: ") || !strings.Contains(out, "envoy answered 404: no route") {
		t.Errorf("the output lacks the verdict or the envoy diagnosis:\n%s", out)
	}
}
