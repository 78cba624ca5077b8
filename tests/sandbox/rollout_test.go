//go:build sandbox

package sandbox_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seldon-ab/provisioner/internal/lifecycle"
	"github.com/seldon-ab/provisioner/internal/verify"
)

const (
	experimentRoute = "financial-ab-test-experiment.experiment"
	renamedRoute    = "financial-ab-test-renamed.experiment"
)

// edit is one change to the sandbox stack file's config.
type edit func(cfg map[string]any)

func weights(baseline, enhanced int) edit {
	return func(cfg map[string]any) {
		candidates := cfg["seldon-ab:experiment"].(map[string]any)["candidates"].([]any)
		candidates[0].(map[string]any)["weight"] = baseline
		candidates[1].(map[string]any)["weight"] = enhanced
	}
}

// enhancedFrom points the enhanced Model at prefix, seeded with the enhanced artifacts when seeded is set.
func enhancedFrom(prefix string, seeded bool) edit {
	return func(cfg map[string]any) {
		cfg["seldon-ab:models"].([]any)[1].(map[string]any)["storageUri"] = "s3://mlflow-artifacts/" + prefix
		if seeded {
			store := cfg["seldon-ab:modelStore"].(map[string]any)
			store["seed"] = append(store["seed"].([]any), map[string]any{
				"source": "testdata/artifacts/enhanced-predictor", "bucket": "mlflow-artifacts", "prefix": prefix})
		}
	}
}

func renamed(cfg map[string]any) {
	cfg["seldon-ab:experiment"].(map[string]any)["name"] = "financial-ab-test-renamed"
}

// promoteEnhanced removes the experiment and the baseline Model: the winner alone is served, by its name.
func promoteEnhanced(cfg map[string]any) {
	delete(cfg, "seldon-ab:experiment")
	cfg["seldon-ab:models"] = cfg["seldon-ab:models"].([]any)[1:]
}

// changeRun is one `up` of an edited stack file while calls go to routes without a pause.
type changeRun struct {
	err     error
	log     string
	traffic map[string]verify.Traffic
}

// upWhileCalling brings the stack, its file edited by edits, up through the lifecycle users run, while every route
// is called without a pause by caller, two calls at a time, from before the update starts until it returns.
func upWhileCalling(t *testing.T, ctx context.Context, caller *verify.Caller, routes map[string]string, edits ...edit) changeRun {
	t.Helper()
	var log bytes.Buffer
	stack, err := env.Open(ctx, "sandbox", t.TempDir(), func(cfg map[string]any) {
		for _, e := range edits {
			e(cfg)
		}
	}, func(o *lifecycle.Options) { o.Stderr = &log })
	if err != nil {
		t.Fatal(err)
	}
	calls, stop := context.WithCancel(ctx)
	var mu sync.Mutex
	var wg sync.WaitGroup
	run := changeRun{traffic: map[string]verify.Traffic{}}
	for route, pathModel := range routes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			traffic := caller.Watch(calls, route, pathModel, 2)
			mu.Lock()
			run.traffic[route] = traffic
			mu.Unlock()
		}()
	}
	time.Sleep(500 * time.Millisecond) // calls answered before the change starts
	_, run.err = stack.Up(ctx)
	stop()
	wg.Wait()
	run.log = log.String()
	for route, traffic := range run.traffic {
		t.Logf("%s: %d calls, %d failed (window %s), served %v, failures %v", route, traffic.Calls, traffic.Failed,
			traffic.Window.Round(time.Millisecond), traffic.Served, traffic.Failures)
	}
	return run
}

func (r changeRun) mustSucceed(t *testing.T) {
	t.Helper()
	if r.err != nil {
		t.Fatalf("up: %v\n%s", r.err, r.log)
	}
}

func (r changeRun) noFailedCalls(t *testing.T, route string) {
	t.Helper()
	traffic := r.traffic[route]
	if traffic.Calls < 100 || traffic.Failed != 0 {
		t.Errorf("calls to %s during the change: %d, %d failed: %v", route, traffic.Calls, traffic.Failed, traffic.Failures)
	}
}

// lastReport is the verification report `up` wrote.
func lastReport(t *testing.T) verify.Report {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(env.Root, ".state", "verify", "sandbox", "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep verify.Report
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	return rep
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
	stack := openStack(t, ctx, "sandbox", nil)
	if _, err := stack.Destroy(ctx); err != nil {
		t.Fatalf("initial destroy: %v", err)
	}
	if _, err := stack.Up(ctx); err != nil {
		t.Fatalf("first up: %v", err)
	}
	t.Cleanup(func() {
		if _, err := stack.Destroy(context.Background()); err != nil {
			t.Errorf("final destroy: %v", err)
		}
	})
	caller, err := stack.Caller(ctx)
	if err != nil {
		t.Fatal(err)
	}
	experimentCalls := map[string]string{experimentRoute: "baseline-predictor"}
	// Each change starts from what the one before left.
	var declared []edit

	t.Run("the split moved in place: 70/30 to 50/50", func(t *testing.T) {
		declared = append(declared, weights(50, 50))
		run := upWhileCalling(t, ctx, caller, experimentCalls, declared...)
		run.mustSucceed(t)
		run.noFailedCalls(t, experimentRoute)
		rep := lastReport(t)
		if !rep.Passed || rep.Split == nil || !rep.Split.Passed || rep.Candidates[0].Expected != 0.5 || !rep.Settled {
			t.Errorf("the verdict right after up does not prove 50/50:\n%s", rep.Summary())
		}
	})

	t.Run("a candidate's new artifact: the old version serves until the new one is loaded", func(t *testing.T) {
		before := servedBy(t, ctx, caller, "enhanced-predictor")
		declared = append(declared, enhancedFrom("enhanced-predictor-v2", true))
		run := upWhileCalling(t, ctx, caller, experimentCalls, declared...)
		run.mustSucceed(t)
		run.noFailedCalls(t, experimentRoute)
		after := servedBy(t, ctx, caller, "enhanced-predictor")
		if !before.OK() || !after.OK() || after.Version <= before.Version {
			t.Fatalf("by name, enhanced-predictor answered %s before the update and %s after it", before, after)
		}
		if !strings.Contains(run.log, "Model seldon-system/enhanced-predictor (new version): served") {
			t.Errorf("up did not wait for the new version's answers:\n%s", run.log)
		}
		served := run.traffic[experimentRoute].Served
		if served[versioned("enhanced-predictor", before.Version)] == 0 || served[versioned("enhanced-predictor", after.Version)] == 0 {
			t.Errorf("during the update the experiment's calls were served by %v: want the old version, then the new", served)
		}
	})

	t.Run("a new version that cannot load fails up with the agent's reason; the old one keeps serving; undone", func(t *testing.T) {
		before := servedBy(t, ctx, caller, "enhanced-predictor")
		broken := append(append([]edit{}, declared...), enhancedFrom("no-such-artifact", false))
		run := upWhileCalling(t, ctx, caller, experimentCalls, broken...)
		if run.err == nil || !strings.Contains(run.err.Error(), "ModelFailed: Failed to download from s3://mlflow-artifacts/no-such-artifact") ||
			!strings.Contains(run.err.Error(), "answered by enhanced-predictor version") {
			t.Fatalf("want up to fail with the agent's reason and what still serves, got %v", run.err)
		}
		run.noFailedCalls(t, experimentRoute)
		if now := servedBy(t, ctx, caller, "enhanced-predictor"); !now.OK() || now.Version != before.Version {
			t.Errorf("after the failed version, enhanced-predictor answered %s; want version %d", now, before.Version)
		}
		// Undoing the change (the stack file as it was) converges.
		undo := upWhileCalling(t, ctx, caller, experimentCalls, declared...)
		undo.mustSucceed(t)
		undo.noFailedCalls(t, experimentRoute)
		assertNoChanges(t, ctx, openStack(t, ctx, "sandbox", func(cfg map[string]any) {
			for _, e := range declared {
				e(cfg)
			}
		}))
	})

	t.Run("a renamed experiment is replaced delete-first; its window without a route is measured; undone", func(t *testing.T) {
		calls := map[string]string{experimentRoute: "baseline-predictor", renamedRoute: "baseline-predictor", "baseline-predictor": "baseline-predictor"}
		run := upWhileCalling(t, ctx, caller, calls, append(append([]edit{}, declared...), renamed)...)
		run.mustSucceed(t)
		// Calls by the default model's name never lose their route: split while an experiment holds it, whole in between.
		run.noFailedCalls(t, "baseline-predictor")
		old, renamedTraffic := run.traffic[experimentRoute], run.traffic[renamedRoute]
		if renamedTraffic.FirstAnswer.IsZero() || old.LastAnswer.IsZero() {
			t.Fatalf("old route answered until %v, new route from %v", old.LastAnswer, renamedTraffic.FirstAnswer)
		}
		t.Logf("rename window (no experiment route answering): %s", renamedTraffic.FirstAnswer.Sub(old.LastAnswer).Round(time.Millisecond))
		if a := servedBy(t, ctx, caller, experimentRoute); a.Status != http.StatusNotFound || a.By != verify.ByMesh {
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
		if a := servedBy(t, ctx, caller, experimentRoute); !a.OK() {
			t.Errorf("after renaming back, the experiment answers %s", a)
		}
	})

	t.Run("the winner promoted: it alone is served, by name, and the experiment goes", func(t *testing.T) {
		calls := map[string]string{"enhanced-predictor": "enhanced-predictor"}
		declared = append(declared, promoteEnhanced)
		run := upWhileCalling(t, ctx, caller, calls, declared...)
		run.mustSucceed(t)
		run.noFailedCalls(t, "enhanced-predictor")
		if n := len(field(kubeJSON(t, ctx, "-n", "seldon-system", "get", "experiments"), "items").([]any)); n != 0 {
			t.Errorf("%d Experiments after the promotion", n)
		}
		for _, gone := range []string{experimentRoute, "baseline-predictor"} {
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
