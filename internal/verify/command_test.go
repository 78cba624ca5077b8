package verify_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/seldon-ab/provisioner/components/verification"
	"github.com/seldon-ab/provisioner/internal/seldonspec"
	"github.com/seldon-ab/provisioner/internal/verify"
)

// The program builds the verifier's arguments (components/verification.Argv) and this package parses them: what
// one side writes, the other reads, values with spaces, quotes and shell syntax included.
func TestVerifyArgumentsRoundTrip(t *testing.T) {
	args := &verification.Args{URL: "http://192.168.1.249/seldon", Host: "financial-predictor.local",
		Experiments: []verification.Experiment{
			{Name: "financial-ab-test-experiment", Model: "baseline-predictor",
				Candidates: []seldonspec.Candidate{{Name: "baseline-predictor", Weight: 70}, {Name: "enhanced-predictor", Weight: 30}}},
			{Name: "churn-experiment", Candidates: []seldonspec.Candidate{{Name: "churn-a", Weight: 1}, {Name: "churn-b", Weight: 3}}}},
		InputName: `it's "$(x)" ` + "`y`", Shape: []int{1, 10, 35}, Datatype: "FP32", Requests: 94, Concurrency: 4,
		Tolerance: 0.05, Significance: 0.01, Power: 0.9, LatencyP95: 750 * time.Millisecond, LatencyRatio: 2.5,
		Timeout: 3 * time.Second, Deadline: 40 * time.Second, Settle: 2 * time.Minute, ReportDir: "/tmp/a dir/$HOME"}
	argv := verification.Argv(args)
	if argv[0] != "verify" {
		t.Fatalf("argv starts with %q", argv[0])
	}
	got, err := verify.ParseArgs(argv[1:], nil)
	if err != nil {
		t.Fatal(err)
	}
	c := got.Config
	if c.BaseURL != args.URL || c.Host != args.Host ||
		c.Input.Name != args.InputName || !reflect.DeepEqual(c.Input.Shape, args.Shape) || c.Input.Datatype != args.Datatype ||
		c.Requests != args.Requests || c.Concurrency != args.Concurrency || c.Significance != args.Significance ||
		c.Tolerance != args.Tolerance || c.Power != args.Power || c.LatencyP95 != args.LatencyP95 || c.LatencyRatio != args.LatencyRatio ||
		c.Timeout != args.Timeout || c.Deadline != args.Deadline || c.Settle != args.Settle ||
		got.JSONPath != "/tmp/a dir/$HOME/report.json" || got.SVGPath != "/tmp/a dir/$HOME/report.svg" {
		t.Errorf("parsed %+v (json %q, svg %q) from %q", c, got.JSONPath, got.SVGPath, argv)
	}
	want := []verify.Experiment{
		{Name: "financial-ab-test-experiment", Model: "baseline-predictor",
			Candidates: []verify.Candidate{{Name: "baseline-predictor", Weight: 70}, {Name: "enhanced-predictor", Weight: 30}}},
		{Name: "churn-experiment", Candidates: []verify.Candidate{{Name: "churn-a", Weight: 1}, {Name: "churn-b", Weight: 3}}}}
	if !reflect.DeepEqual(got.Experiments, want) {
		t.Errorf("experiments %+v", got.Experiments)
	}
	configs := got.Configs()
	if len(configs) != 2 || configs[1].Experiment != "churn-experiment" || configs[1].Requests != 94 ||
		configs[0].Candidates[1].Name != "enhanced-predictor" {
		t.Errorf("one run per experiment, each with the shared settings: %+v", configs)
	}
	if configs[0].Power != args.Power || configs[1].Power != args.Power {
		t.Errorf("each experiment's first look runs at the configured power %v: %v, %v", args.Power, configs[0].Power, configs[1].Power)
	}

	// Every winner promoted: no experiment, the Models called by name.
	args.Experiments, args.Models = nil, []string{"enhanced-predictor"}
	got, err = verify.ParseArgs(verification.Argv(args)[1:], nil)
	if err != nil {
		t.Fatal(err)
	}
	if configs := got.Configs(); len(configs) != 1 || configs[0].Experiment != "" || len(configs[0].Candidates) != 1 ||
		configs[0].Candidates[0].Name != "enhanced-predictor" {
		t.Errorf("without an experiment: %+v", configs)
	}
}

// A stack's stored arguments arrive unchanged, whatever they hold, and the flags a user sets win over them; the
// flags the user did not set do not reset the stored ones to their defaults.
func TestStoredArgumentsTakeTheUsersOverrides(t *testing.T) {
	stored := []string{"--url", "http://192.168.1.249", "--host", "ml-api.local", "--input-name", "it's $(x) `y`", "--requests", "94",
		"--concurrency", "7"}
	user := pflag.NewFlagSet("verify", pflag.ContinueOnError)
	user.String("stack", "sandbox", "")
	verify.AddFlags(user)
	if err := user.Parse([]string{"--stack", "homelab", "--requests", "1000"}); err != nil {
		t.Fatal(err)
	}
	got, err := verify.ParseArgs(stored, user)
	if err != nil {
		t.Fatal(err)
	}
	if got.Config.Input.Name != "it's $(x) `y`" || got.Config.Requests != 1000 || got.Config.Concurrency != 7 || got.Config.Host != "ml-api.local" {
		t.Errorf("got %+v", got.Config)
	}
	// A user's experiment replaces the stored ones rather than joining them.
	stored = append(stored, "--experiment", "a:m:x=1,y=1", "--experiment", "b::x=1,y=1")
	if err := user.Parse([]string{"--experiment", "c::p=1,q=1"}); err != nil {
		t.Fatal(err)
	}
	if got, err = verify.ParseArgs(stored, user); err != nil || len(got.Experiments) != 1 || got.Experiments[0].Name != "c" {
		t.Errorf("with the user's --experiment: %+v, %v", got.Experiments, err)
	}
	if _, err := verify.ParseArgs([]string{"--url", "http://x"}, nil); err == nil {
		t.Error("arguments without --host were accepted")
	}
}
