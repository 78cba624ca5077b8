//go:build sandbox

package sandbox_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/seldon-ab/provisioner/internal/verify"
	"github.com/seldon-ab/provisioner/tests/internal/changes"
)

// upWhileCalling is changes.Up with the calls' figures logged.
func upWhileCalling(t *testing.T, ctx context.Context, caller *verify.Caller, routes map[string]string, edits ...changes.Edit) changeRun {
	t.Helper()
	run, err := changes.Up(ctx, env, t.TempDir(), caller, routes, edits...)
	if err != nil {
		t.Fatal(err)
	}
	for route, traffic := range run.Traffic {
		t.Logf("%s: %d calls, %d failed (window %s), served %v, failures %v", route, traffic.Calls, traffic.Failed,
			traffic.Window.Round(time.Millisecond), traffic.Served, traffic.Failures)
	}
	return changeRun{run}
}

type changeRun struct{ changes.Run }

func (r changeRun) mustSucceed(t *testing.T) {
	t.Helper()
	if r.Err != nil {
		t.Fatalf("up: %v\n%s", r.Err, r.Log)
	}
}

func (r changeRun) noFailedCalls(t *testing.T, route string) {
	t.Helper()
	traffic := r.Traffic[route]
	if traffic.Calls < 100 || traffic.Failed != 0 {
		t.Errorf("calls to %s during the change: %d, %d failed: %v", route, traffic.Calls, traffic.Failed, traffic.Failures)
	}
}

// lastSuite is the verification report `up` wrote.
func lastSuite(t *testing.T) verify.Suite {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(env.Root, ".state", "verify", "sandbox", "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var suite verify.Suite
	if err := json.Unmarshal(data, &suite); err != nil {
		t.Fatal(err)
	}
	return suite
}

// lastReport is the report of the sandbox stack's one experiment (or its Models by name).
func lastReport(t *testing.T) verify.Report {
	t.Helper()
	suite := lastSuite(t)
	if len(suite.Reports) != 1 {
		t.Fatalf("%d reports, want the one of the sandbox stack:\n%s", len(suite.Reports), suite.Summary())
	}
	return suite.Reports[0]
}

func servedBy(t *testing.T, ctx context.Context, caller *verify.Caller, route string) verify.Answer {
	t.Helper()
	return caller.Infer(ctx, route, strings.TrimSuffix(route, ".experiment"), 0)
}

// TestChangesAfterTheFirstUpAreProvenByTraffic changes a running stack the ways a demo does, each through the `up`
// users run, with the experiment (or the winner) called without a pause during the change: the split moved, a
// candidate's new artifact, a new version that cannot load and its undoing, a rename and its undoing, and the
// winner promoted. Each `up` returns only once the mesh serves its change.
func TestChangesAfterTheFirstUpAreProvenByTraffic(t *testing.T) {
	ctx := testContext(t, 40*time.Minute)
	stack := freshStack(t, ctx, nil)
	if _, err := stack.Up(ctx); err != nil {
		t.Fatalf("first up: %v", err)
	}
	caller, err := stack.Caller(ctx)
	if err != nil {
		t.Fatal(err)
	}
	experimentCalls := map[string]string{changes.ExperimentRoute: "baseline-predictor"}
	// Each change starts from what the one before left.
	var declared []changes.Edit

	t.Run("the split moved in place: 70/30 to 50/50", func(t *testing.T) {
		declared = append(declared, changes.Weights(50, 50))
		run := upWhileCalling(t, ctx, caller, experimentCalls, declared...)
		run.mustSucceed(t)
		run.noFailedCalls(t, changes.ExperimentRoute)
		rep := lastReport(t)
		if !rep.Passed || rep.Split == nil || !rep.Split.Passed || rep.Candidates[0].Expected != 0.5 || !rep.Settled {
			t.Errorf("the verdict right after up does not prove 50/50:\n%s", rep.Summary())
		}
	})

	t.Run("a candidate's new artifact: the old version serves until the new one is loaded", func(t *testing.T) {
		before := servedBy(t, ctx, caller, "enhanced-predictor")
		declared = append(declared, changes.EnhancedFrom("enhanced-predictor-v2", true))
		run := upWhileCalling(t, ctx, caller, experimentCalls, declared...)
		run.mustSucceed(t)
		run.noFailedCalls(t, changes.ExperimentRoute)
		after := servedBy(t, ctx, caller, "enhanced-predictor")
		if !before.OK() || !after.OK() || after.Version <= before.Version {
			t.Fatalf("by name, enhanced-predictor answered %s before the update and %s after it", before, after)
		}
		if !strings.Contains(run.Log, "Model seldon-system/enhanced-predictor (new version): served") {
			t.Errorf("up did not wait for the new version's answers:\n%s", run.Log)
		}
		served := run.Traffic[changes.ExperimentRoute].Served
		if served[versioned("enhanced-predictor", before.Version)] == 0 || served[versioned("enhanced-predictor", after.Version)] == 0 {
			t.Errorf("during the update the experiment's calls were served by %v: want the old version, then the new", served)
		}
	})

	t.Run("the store's credentials rotated: MinIO restarts with them, the seeds and the next version use them", func(t *testing.T) {
		rotate, err := changes.StoreCredentials(env.Root, "rotated-admin", "rotated-secret-key")
		if err != nil {
			t.Fatal(err)
		}
		before := servedBy(t, ctx, caller, "enhanced-predictor")
		declared = append(declared, rotate, changes.EnhancedFrom("enhanced-predictor-v3", true))
		run := upWhileCalling(t, ctx, caller, experimentCalls, declared...)
		run.mustSucceed(t)
		run.noFailedCalls(t, changes.ExperimentRoute)
		if after := servedBy(t, ctx, caller, "enhanced-predictor"); !after.OK() || after.Version <= before.Version {
			t.Fatalf("by name, enhanced-predictor answered %s before the update and %s after it", before, after)
		}
	})

	t.Run("a new version that cannot load fails up with the agent's reason; the old one keeps serving; undone", func(t *testing.T) {
		before := servedBy(t, ctx, caller, "enhanced-predictor")
		broken := append(append([]changes.Edit{}, declared...), changes.EnhancedFrom("no-such-artifact", false))
		run := upWhileCalling(t, ctx, caller, experimentCalls, broken...)
		if run.Err == nil || !strings.Contains(run.Err.Error(), "ModelFailed: Failed to download from s3://mlflow-artifacts/no-such-artifact") ||
			!strings.Contains(run.Err.Error(), "answered by enhanced-predictor version") {
			t.Fatalf("want up to fail with the agent's reason and what still serves, got %v", run.Err)
		}
		run.noFailedCalls(t, changes.ExperimentRoute)
		if now := servedBy(t, ctx, caller, "enhanced-predictor"); !now.OK() || now.Version != before.Version {
			t.Errorf("after the failed version, enhanced-predictor answered %s; want version %d", now, before.Version)
		}
		// Undoing the change (the stack file as it was) converges.
		undo := upWhileCalling(t, ctx, caller, experimentCalls, declared...)
		undo.mustSucceed(t)
		undo.noFailedCalls(t, changes.ExperimentRoute)
		assertNoChanges(t, ctx, openStack(t, ctx, "sandbox", func(cfg map[string]any) {
			for _, e := range declared {
				e(cfg)
			}
		}))
	})

	t.Run("a renamed experiment is replaced delete-first; its window without a route is measured; undone", func(t *testing.T) {
		calls := map[string]string{changes.ExperimentRoute: "baseline-predictor", changes.RenamedRoute: "baseline-predictor", "baseline-predictor": "baseline-predictor"}
		run := upWhileCalling(t, ctx, caller, calls, append(append([]changes.Edit{}, declared...), changes.Renamed)...)
		run.mustSucceed(t)
		// Calls by the default model's name never lose their route: split while an experiment holds it, whole in between.
		run.noFailedCalls(t, "baseline-predictor")
		gap, err := run.RouteGap(changes.ExperimentRoute, changes.RenamedRoute)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("rename window (no experiment route answering): %s", gap.Round(time.Millisecond))
		if a := servedBy(t, ctx, caller, changes.ExperimentRoute); a.Status != http.StatusNotFound || a.By != verify.ByMesh {
			t.Errorf("the old name still routes: %s", a)
		}
		if rep := lastReport(t); !rep.Passed || rep.Experiment != "financial-ab-test-renamed" {
			t.Errorf("verification after the rename:\n%s", rep.Summary())
		}

		undo := upWhileCalling(t, ctx, caller, map[string]string{"baseline-predictor": "baseline-predictor"}, declared...)
		undo.mustSucceed(t)
		undo.noFailedCalls(t, "baseline-predictor")
		experiments := field(kubeJSON(t, ctx, "-n", "seldon-system", "get", "experiments"), "items").([]any)
		if len(experiments) != 1 || field(experiments[0], "metadata", "name") != "financial-ab-test-experiment" {
			t.Errorf("after renaming back, the cluster holds %d Experiments: %v", len(experiments), experiments)
		}
		if a := servedBy(t, ctx, caller, changes.ExperimentRoute); !a.OK() {
			t.Errorf("after renaming back, the experiment answers %s", a)
		}
	})

	t.Run("the winner promoted: it alone is served, by name, and the experiment goes", func(t *testing.T) {
		calls := map[string]string{"enhanced-predictor": "enhanced-predictor"}
		declared = append(declared, changes.PromoteEnhanced)
		run := upWhileCalling(t, ctx, caller, calls, declared...)
		run.mustSucceed(t)
		run.noFailedCalls(t, "enhanced-predictor")
		if n := len(field(kubeJSON(t, ctx, "-n", "seldon-system", "get", "experiments"), "items").([]any)); n != 0 {
			t.Errorf("%d Experiments after the promotion", n)
		}
		for _, gone := range []string{changes.ExperimentRoute, "baseline-predictor"} {
			if a := servedBy(t, ctx, caller, gone); a.Status != http.StatusNotFound || a.By != verify.ByMesh {
				t.Errorf("%s still routes: %s", gone, a)
			}
		}
		if rep := lastReport(t); !rep.Passed || rep.Experiment != "" {
			t.Errorf("verification after the promotion:\n%s", rep.Summary())
		}
	})
}

func versioned(model string, version int) string {
	return fmt.Sprintf("%s_%d", model, version)
}
