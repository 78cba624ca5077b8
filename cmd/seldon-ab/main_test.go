package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/seldon-ab/provisioner/components/modelstore"
	"github.com/seldon-ab/provisioner/components/verification"
	"github.com/seldon-ab/provisioner/internal/seldonspec"
	"github.com/seldon-ab/provisioner/internal/verify"
)

// scripts/verify.sh hands the verifyArgs stack output over as a file: its arguments arrive unchanged, whatever
// they hold, and flags after it come last (so they win).
func TestArgsFileArrivesAsItWasExported(t *testing.T) {
	stored := []string{"verify", "--url", "http://192.168.1.249", "--input-name", "it's $(x) `y`", "--requests", "94"}
	path := filepath.Join(t.TempDir(), "args.json")
	data, _ := json.Marshal(stored)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := expandArgsFile([]string{"--args-json", path, "--requests", "1000"})
	if err != nil {
		t.Fatal(err)
	}
	want := append(append([]string{}, stored[1:]...), "--requests", "1000")
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if err := os.WriteFile(path, []byte(`["seed"]`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := expandArgsFile([]string{"--args-json", path}); err == nil {
		t.Error("a file that is not the verifyArgs output was accepted")
	}
}

// The program builds the verifier's arguments (components/verification.Argv) and this command parses them: what
// one side writes, the other reads, values with spaces, quotes and shell syntax included.
func TestVerifyArgumentsRoundTrip(t *testing.T) {
	args := &verification.Args{URL: "http://192.168.1.249/seldon", Host: "financial-predictor.local",
		Experiment: "financial-ab-test-experiment", Model: "baseline-predictor",
		Candidates: []seldonspec.Candidate{{Name: "baseline-predictor", Weight: 70}, {Name: "enhanced-predictor", Weight: 30}},
		InputName:  `it's "$(x)" ` + "`y`", Shape: []int{1, 10, 35}, Datatype: "FP32", Requests: 94, Concurrency: 4,
		Tolerance: 0.05, Significance: 0.01, Power: 0.9, LatencyP95: 750 * time.Millisecond, LatencyRatio: 2.5,
		Timeout: 3 * time.Second, Deadline: 40 * time.Second, ReportDir: "/tmp/a dir/$HOME"}
	argv := verification.Argv(args)
	if argv[0] != "verify" {
		t.Fatalf("argv starts with %q", argv[0])
	}
	got, err := parseVerifyFlags(argv[1:])
	if err != nil {
		t.Fatal(err)
	}
	c := got.cfg
	if c.BaseURL != args.URL || c.Host != args.Host || c.Experiment != args.Experiment || c.Model != args.Model ||
		c.Input.Name != args.InputName || !reflect.DeepEqual(c.Input.Shape, args.Shape) || c.Input.Datatype != args.Datatype ||
		c.Requests != args.Requests || c.Concurrency != args.Concurrency || c.Significance != args.Significance ||
		c.Tolerance != args.Tolerance || c.Power != args.Power || c.LatencyP95 != args.LatencyP95 || c.LatencyRatio != args.LatencyRatio ||
		c.Timeout != args.Timeout || c.Deadline != args.Deadline ||
		got.jsonPath != "/tmp/a dir/$HOME/report.json" || got.svgPath != "/tmp/a dir/$HOME/report.svg" {
		t.Errorf("parsed %+v (json %q, svg %q) from %q", c, got.jsonPath, got.svgPath, argv)
	}
	if len(c.Candidates) != 2 || c.Candidates[0].Name != "baseline-predictor" || c.Candidates[0].Weight != 70 || c.Candidates[1].Weight != 30 {
		t.Errorf("candidates %+v", c.Candidates)
	}
}

// The seed command line the program builds reads back into the same directory and target.
func TestSeedArgumentsRoundTrip(t *testing.T) {
	dir := modelstore.SeedDirectory{Source: "/home/me/models/it's $(x)", Bucket: "mlflow-artifacts", Prefix: "baseline-predictor"}
	argv := modelstore.SeedArgv(dir, "https://s3.eu-west-1.amazonaws.com", "eu-west-1")
	if argv[0] != "seed" {
		t.Fatalf("argv starts with %q", argv[0])
	}
	source, target, _, err := parseSeedFlags(argv[1:])
	if err != nil {
		t.Fatal(err)
	}
	if source != dir.Source || target.Bucket != dir.Bucket || target.Prefix != dir.Prefix ||
		target.Endpoint != "https://s3.eu-west-1.amazonaws.com" || target.Region != "eu-west-1" {
		t.Errorf("parsed source %q target %+v from %q", source, target, argv)
	}
}

// Progress in a pipe is a plain line every so often; on a terminal one line is redrawn, with the running split in
// demo mode.
func TestProgressIsPlainLinesOffATerminalAndLiveOnOne(t *testing.T) {
	candidates := []verify.Candidate{{Name: "baseline-predictor", Weight: 70}, {Name: "enhanced-predictor", Weight: 30}}
	var plain, live bytes.Buffer
	pipe := newProgressPrinter(&plain, false, candidates, true)
	tty := newProgressPrinter(&live, true, candidates, true)
	for i := 1; i <= 100; i++ {
		s := verify.Progress{Done: i, Total: 100, Served: []int{i * 7 / 10, i - i*7/10}}
		pipe.update(s)
		tty.update(s)
	}
	pipe.finish()
	tty.finish()
	if lines := strings.Count(plain.String(), "\n"); lines > 3 || strings.Contains(plain.String(), "\r") {
		t.Errorf("off a terminal, %d lines (or a redraw):\n%q", lines, plain.String())
	}
	if !strings.Contains(plain.String(), "100/100 calls") || !strings.Contains(plain.String(), "baseline-predictor 70.0%") {
		t.Errorf("the last line lacks the count or the split: %q", plain.String())
	}
	if !strings.Contains(live.String(), "\r\033[K[") || !strings.Contains(live.String(), "enhanced-predictor 30.0%") {
		t.Errorf("on a terminal, no live line with the split: %q", live.String())
	}
}
