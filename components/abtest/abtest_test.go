package abtest_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/seldon-ab/provisioner/components/abtest"
	"github.com/seldon-ab/provisioner/internal/seldonspec"
)

func TestHowToCallTheExperiment(t *testing.T) {
	calls := abtest.HowToCall(&abtest.Args{
		Experiments: []abtest.Experiment{{Name: "financial-ab-test-experiment", Default: "baseline-predictor"},
			{Name: "churn-experiment", Candidates: []seldonspec.Candidate{{Name: "churn-a", Weight: 50}, {Name: "churn-b", Weight: 50}}}},
		Ingress: abtest.Ingress{IP: "192.168.1.249", Hosts: []string{"financial-predictor.local", "ml-api.local"}},
		Input:   abtest.Input{Name: "input_data", Shape: []int{1, 10, 35}, Datatype: "FP32"},
	})
	if len(calls) != 2 {
		t.Fatalf("%d calls for two experiments", len(calls))
	}
	// Without a default, the path names the first candidate: any segment routes once seldon-model is set.
	if second := calls[1]; second.URL != "http://192.168.1.249/v2/models/churn-a/infer" || second.SeldonModel != "churn-experiment.experiment" {
		t.Errorf("second experiment's call = %+v", second)
	}
	call := calls[0]
	if call.URL != "http://192.168.1.249/v2/models/baseline-predictor/infer" || call.Host != "financial-predictor.local" ||
		call.SeldonModel != "financial-ab-test-experiment.experiment" {
		t.Errorf("call = %+v", call)
	}
	var body struct {
		Inputs []struct {
			Name     string    `json:"name"`
			Shape    []int     `json:"shape"`
			Datatype string    `json:"datatype"`
			Data     []float64 `json:"data"`
		} `json:"inputs"`
	}
	if err := json.Unmarshal([]byte(call.Body), &body); err != nil {
		t.Fatalf("sample body is not JSON: %v", err)
	}
	if in := body.Inputs[0]; in.Name != "input_data" || len(in.Data) != 350 || in.Datatype != "FP32" {
		t.Errorf("sample input = %s %v %s with %d values", in.Name, in.Shape, in.Datatype, len(in.Data))
	}
	for _, want := range []string{"-H 'Host: financial-predictor.local'", "-H 'seldon-model: financial-ab-test-experiment.experiment'", call.URL} {
		if !strings.Contains(call.Curl, want) {
			t.Errorf("curl lacks %s: %s", want, call.Curl)
		}
	}
}
