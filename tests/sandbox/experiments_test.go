//go:build sandbox

package sandbox_test

import (
	"strings"
	"testing"
	"time"

	"github.com/seldon-ab/provisioner/internal/lifecycle"
	"github.com/seldon-ab/provisioner/tests/internal/changes"
)

// twoExperiments gives the sandbox stack a second experiment that takes the first one's candidates the other way
// round: each experiment's default model is a candidate of the other.
func twoExperiments(cfg map[string]any) {
	first := cfg["seldon-ab:experiment"]
	delete(cfg, "seldon-ab:experiment")
	cfg["seldon-ab:experiments"] = []any{first, map[string]any{"name": "challenger-first", "default": changes.Enhanced,
		"candidates": []any{map[string]any{"name": changes.Enhanced, "weight": 50}, map[string]any{"name": changes.Baseline, "weight": 50}}}}
}

func renameSecond(cfg map[string]any) {
	cfg["seldon-ab:experiments"].([]any)[1].(map[string]any)["name"] = "challenger-renamed"
}

// TestSeveralExperimentsAreVerifiedAndRenamed brings up two experiments in one `up`, verified each by its own calls
// in one report, checks that a second preview changes nothing, and renames one: `up` deletes its old Experiment
// first (the engine would create the new one first, which the scheduler refuses while the old one holds the
// default model's baseline), and calls by the default model's name never fail.
func TestSeveralExperimentsAreVerifiedAndRenamed(t *testing.T) {
	ctx := testContext(t, 20*time.Minute)
	stack := freshStack(t, ctx, twoExperiments)
	if _, err := stack.Up(ctx); err != nil {
		t.Fatalf("up: %v", err)
	}
	suite := lastSuite(t)
	if !suite.Passed || len(suite.Reports) != 2 || suite.Reports[1].Experiment != "challenger-first" || suite.Reports[1].Split == nil ||
		suite.Reports[1].Candidates[0].Expected != 0.5 {
		t.Fatalf("want both experiments verified, the second at 50/50:\n%s", suite.Summary())
	}
	if _, err := stack.Preview(ctx, lifecycle.PreviewOptions{ExpectNoChanges: true}); err != nil {
		t.Errorf("a second preview plans changes: %v", err)
	}

	caller, err := stack.Caller(ctx)
	if err != nil {
		t.Fatal(err)
	}
	run := upWhileCalling(t, ctx, caller, map[string]string{changes.Enhanced: changes.Enhanced}, twoExperiments, renameSecond)
	run.mustSucceed(t)
	run.noFailedCalls(t, changes.Enhanced)
	if !strings.Contains(run.Log, "deleting Experiment seldon-system/challenger-first first") {
		t.Errorf("up did not delete the renamed Experiment first:\n%s", run.Log)
	}
	suite = lastSuite(t)
	if !suite.Passed || len(suite.Reports) != 2 || suite.Reports[1].Experiment != "challenger-renamed" {
		t.Errorf("verification after the rename:\n%s", suite.Summary())
	}
	if a := servedBy(t, ctx, caller, "challenger-first.experiment"); a.OK() {
		t.Errorf("the old name still answers: %s", a)
	}
}
