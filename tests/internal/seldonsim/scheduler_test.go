package seldonsim_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/seldon-ab/provisioner/tests/internal/seldonsim"
)

// gatedAgent loads a storageUri only once it is opened, and fails the ones marked missing.
type gatedAgent struct {
	mu      sync.Mutex
	open    map[string]chan struct{}
	missing map[string]bool
}

func (a *gatedAgent) gate(uri string) chan struct{} {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.open == nil {
		a.open = map[string]chan struct{}{}
	}
	if a.open[uri] == nil {
		a.open[uri] = make(chan struct{})
	}
	return a.open[uri]
}

func (a *gatedAgent) Load(_ context.Context, _, _, uri string, _ []seldonsim.RcloneSecret, _ *seldonsim.RcloneSecret) error {
	<-a.gate(uri)
	if a.missing[uri] {
		return errors.New("Failed to download from " + uri + " any files")
	}
	return nil
}

// settle runs passes until no Model is progressing (the agent's loads run in the background) and then one more.
func settle(t *testing.T, r *result) {
	t.Helper()
	for range 200 {
		if err := r.model.Reconcile(context.Background()); err != nil {
			t.Fatal(err)
		}
		kube(t, r.client)
		progressing := false
		for _, m := range []string{"baseline-predictor", "enhanced-predictor"} {
			progressing = progressing || strings.HasSuffix(r.cond(seldonsim.Models, "seldon-system", m, "Ready"), "ModelProgressing")
		}
		if !progressing {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := r.model.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// enhancedRolled loads the field setup's two Models through agent, on a Server with room for a second version,
// then sets the enhanced Model's spec field to value and settles.
func enhancedRolled(t *testing.T, agent *gatedAgent, field, value string) *result {
	t.Helper()
	for _, uri := range []string{"s3://mlflow-artifacts/baseline-predictor", "s3://mlflow-artifacts/enhanced-predictor"} {
		close(agent.gate(uri))
	}
	c := fieldSetup()
	c.serverMemory = "3Gi"
	r := c.runWith(t, agent)
	settle(t, r)
	r.update(t, seldonsim.Models, "enhanced-predictor", func(o *unstructured.Unstructured) {
		_ = unstructured.SetNestedField(o.Object, value, "spec", field)
	})
	settle(t, r)
	return r
}

// served is a route's clusters as "<model>_<version>=<weight>,...".
func served(routes seldonsim.Routes, route string) string {
	var parts []string
	for _, c := range routes[route].Clusters {
		parts = append(parts, c.VersionedName()+"="+strconv.Itoa(c.Weight))
	}
	return strings.Join(parts, ",")
}

// A candidate's new artifact: its old version serves until the new one is loaded, then the new one alone; the
// experiment's route and its default's split follow (scheduler/pkg/envoy/processor/incremental.go).
func TestANewVersionServesOnlyOnceLoaded(t *testing.T) {
	agent := &gatedAgent{}
	for _, uri := range []string{"s3://mlflow-artifacts/baseline-predictor", "s3://mlflow-artifacts/enhanced-predictor"} {
		close(agent.gate(uri))
	}
	c := fieldSetup()
	c.serverMemory = "3Gi" // room for a second version beside the two loaded Models
	r := c.runWith(t, agent)
	settle(t, r)
	routes := r.model.Routes("seldon-system")
	if got := served(routes, "financial-ab-test-experiment.experiment"); got != "baseline-predictor_1=70,enhanced-predictor_1=30" {
		t.Fatalf("the experiment's route = %q", got)
	}
	if got := served(routes, "baseline-predictor"); got != "baseline-predictor_1=70,enhanced-predictor_1=30" {
		t.Errorf("the default model's own route is not split: %q", got)
	}

	r.update(t, seldonsim.Models, "enhanced-predictor", func(o *unstructured.Unstructured) {
		_ = unstructured.SetNestedField(o.Object, "s3://mlflow-artifacts/enhanced-predictor-v2", "spec", "storageUri")
	})
	settle(t, r)
	if got := served(r.model.Routes("seldon-system"), "enhanced-predictor"); got != "enhanced-predictor_1=100" {
		t.Errorf("while version 2 loads, the model's route = %q, want version 1 alone", got)
	}
	r.expect(seldonsim.Models, "seldon-system", "enhanced-predictor", "Ready", "False: ModelProgressing")

	close(agent.gate("s3://mlflow-artifacts/enhanced-predictor-v2"))
	settle(t, r)
	if got := served(r.model.Routes("seldon-system"), "financial-ab-test-experiment.experiment"); got != "baseline-predictor_1=70,enhanced-predictor_2=30" {
		t.Errorf("once version 2 loaded, the experiment's route = %q", got)
	}
	r.expect(seldonsim.Models, "seldon-system", "enhanced-predictor", "Ready", "True: ModelAvailable")
}

// A new version that cannot load leaves the old one serving, by name and in the experiment (envoy routes to the last
// available version while the latest has no replica, incremental.go: addModelTraffic), the Model not Ready with
// the agent's reason, and the Experiment not Ready (its candidate's latest version is not available) yet active.
func TestAFailedVersionLeavesTheOldOneServing(t *testing.T) {
	agent := &gatedAgent{missing: map[string]bool{"s3://mlflow-artifacts/missing": true}}
	close(agent.gate("s3://mlflow-artifacts/missing"))
	r := enhancedRolled(t, agent, "storageUri", "s3://mlflow-artifacts/missing")
	routes := r.model.Routes("seldon-system")
	if got := served(routes, "enhanced-predictor"); got != "enhanced-predictor_1=100" {
		t.Errorf("after a failed version 2, the model's route = %q, want version 1", got)
	}
	if got := served(routes, "financial-ab-test-experiment.experiment"); got != "baseline-predictor_1=70,enhanced-predictor_1=30" {
		t.Errorf("after a failed version 2, the experiment's route = %q, want the old versions", got)
	}
	r.expect(seldonsim.Models, "seldon-system", "enhanced-predictor", "Ready", "False: Failed to download from s3://mlflow-artifacts/missing any files: ModelFailed")
	r.expect(seldonsim.Experiments, "seldon-system", "financial-ab-test-experiment", "CandidatesReady", "False: Candidates not ready")
	r.expect(seldonsim.Experiments, "seldon-system", "financial-ab-test-experiment", "ExperimentReady", "True: experiment active")
}

// A Model's own Secret (spec.secretName) is read at its load: a missing one fails the new version with the API
// server's answer, and the old version keeps serving.
func TestAModelsMissingSecretFailsItsLoad(t *testing.T) {
	r := enhancedRolled(t, &gatedAgent{}, "secretName", "no-such-secret")
	r.expect(seldonsim.Models, "seldon-system", "enhanced-predictor", "Ready", `False: secrets "no-such-secret" not found: ModelFailed`)
	if got := served(r.model.Routes("seldon-system"), "enhanced-predictor"); got != "enhanced-predictor_1=100" {
		t.Errorf("after a failed version 2, the model's route = %q, want version 1", got)
	}
}

// A second Experiment with the same default is refused, recorded as the controller records it, and not retried
// when the first goes: only a change of the refused one retries it.
func TestASecondBaselineIsRefusedAndNotRetried(t *testing.T) {
	c := fieldSetup()
	renamed := c.objects["experiment"].DeepCopy()
	renamed.SetName("renamed-experiment")
	renamed.SetUID("Experiment/seldon-system/renamed-experiment")
	renamed.SetCreationTimestamp(metav1.Now())
	c.objects["experiment-2"] = renamed
	r := c.run(t)
	refused := "False: rpc error: code = FailedPrecondition desc = Resource baseline-predictor already in experiment renamed-experiment as a baseline. " +
		"A model or pipeline can only appear in one experiment as a baseline"
	r.expect(seldonsim.Experiments, "seldon-system", "renamed-experiment", "ModelReady", refused)
	r.expect(seldonsim.Experiments, "seldon-system", "renamed-experiment", "Ready", "")
	if _, ok := r.model.Routes("seldon-system")["renamed-experiment.experiment"]; ok {
		t.Error("the refused Experiment got a route")
	}

	if err := r.client.Resource(seldonsim.Experiments).Namespace("seldon-system").Delete(context.Background(), "financial-ab-test-experiment", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	settle(t, r)
	r.expect(seldonsim.Experiments, "seldon-system", "renamed-experiment", "Ready", "")
	r.update(t, seldonsim.Experiments, "renamed-experiment", func(o *unstructured.Unstructured) {
		o.SetGeneration(o.GetGeneration() + 1)
	})
	settle(t, r)
	r.expect(seldonsim.Experiments, "seldon-system", "renamed-experiment", "Ready", "True")
}

// The baseline stays with the Experiment the scheduler accepted first: an older Experiment edited to take a default
// that a newer one holds is refused, and the holder is left alone (store/experiment/validate.go:
// validateNoExistingDefault).
func TestTheFirstAcceptedExperimentKeepsItsBaseline(t *testing.T) {
	c := fieldSetup()
	second := object(api, "Experiment", "seldon-system", "second-experiment", map[string]any{"spec": map[string]any{
		"default": "enhanced-predictor", "candidates": []any{map[string]any{"name": "enhanced-predictor", "weight": int64(100)}}}})
	second.SetCreationTimestamp(metav1.Now())
	c.objects["experiment-2"] = second
	r := c.run(t)
	r.expect(seldonsim.Experiments, "seldon-system", "second-experiment", "Ready", "True")
	r.update(t, seldonsim.Experiments, "financial-ab-test-experiment", func(o *unstructured.Unstructured) {
		_ = unstructured.SetNestedField(o.Object, "enhanced-predictor", "spec", "default")
	})
	settle(t, r)
	r.expect(seldonsim.Experiments, "seldon-system", "financial-ab-test-experiment", "ModelReady",
		"False: rpc error: code = FailedPrecondition desc = Resource enhanced-predictor already in experiment financial-ab-test-experiment as a baseline. "+
			"A model or pipeline can only appear in one experiment as a baseline")
	r.expect(seldonsim.Experiments, "seldon-system", "second-experiment", "ModelReady", "")
	r.expect(seldonsim.Experiments, "seldon-system", "second-experiment", "Ready", "True")
}

// A refused update leaves the spec the scheduler accepted before serving: it validates before it touches the
// Experiment's state (store/experiment/store.go: startExperimentImpl).
func TestARefusedUpdateKeepsTheAcceptedSpecServing(t *testing.T) {
	r := fieldSetup().run(t)
	r.update(t, seldonsim.Experiments, "financial-ab-test-experiment", func(o *unstructured.Unstructured) {
		_ = unstructured.SetNestedSlice(o.Object, []any{map[string]any{"name": "baseline-predictor", "weight": int64(50)},
			map[string]any{"name": "enhanced-predictor", "weight": int64(50)}}, "spec", "candidates")
		_ = unstructured.SetNestedMap(o.Object, map[string]any{"name": "enhanced-predictor", "percent": int64(10)}, "spec", "mirror")
	})
	settle(t, r)
	r.expect(seldonsim.Experiments, "seldon-system", "financial-ab-test-experiment", "ModelReady",
		"False: rpc error: code = FailedPrecondition desc = each candidate and mirror must be unique but found resource enhanced-predictor "+
			"duplicated in experiment financial-ab-test-experiment")
	routes := r.model.Routes("seldon-system")
	for _, route := range []string{"financial-ab-test-experiment.experiment", "baseline-predictor"} {
		if got := served(routes, route); got != "baseline-predictor_1=70,enhanced-predictor_1=30" || routes[route].Mirror != nil {
			t.Errorf("after the refused update, route %s = %q (mirror %v), want the accepted 70/30 split", route, got, routes[route].Mirror)
		}
	}
}

// The scheduler refuses a spec it cannot run (store/experiment/validate.go), and the controller records the refusal
// as it does the baseline's.
func TestTheSchedulerRefusesAnInvalidExperiment(t *testing.T) {
	for _, tc := range []struct {
		name string
		spec map[string]any
		desc string
	}{
		{"the default is not a candidate", map[string]any{"default": "baseline-predictor",
			"candidates": []any{map[string]any{"name": "enhanced-predictor", "weight": int64(100)}}},
			"default model/pipeline baseline-predictor not found in experiment financial-ab-test-experiment candidates"},
		{"no candidates and no mirror", map[string]any{"candidates": []any{}},
			"experiment financial-ab-test-experiment has no candidates or mirror"},
		{"a candidate twice", map[string]any{"default": "baseline-predictor", "candidates": []any{
			map[string]any{"name": "baseline-predictor", "weight": int64(70)}, map[string]any{"name": "baseline-predictor", "weight": int64(30)}}},
			"each candidate and mirror must be unique but found resource baseline-predictor duplicated in experiment financial-ab-test-experiment"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := fieldSetup()
			c.objects["experiment"].Object["spec"] = tc.spec
			r := c.run(t)
			r.expect(seldonsim.Experiments, "seldon-system", "financial-ab-test-experiment", "ModelReady",
				"False: rpc error: code = FailedPrecondition desc = "+tc.desc)
			r.expect(seldonsim.Experiments, "seldon-system", "financial-ab-test-experiment", "Ready", "")
			if _, ok := r.model.Routes("seldon-system")["financial-ab-test-experiment.experiment"]; ok {
				t.Error("the refused Experiment got a route")
			}
		})
	}
}

// CandidatesReady is over the candidates alone, MirrorReady over the mirror (store/experiment/experiment.go:
// AreCandidatesReady, IsMirrorReady): an unready mirror does not hide an unready candidate.
func TestCandidatesReadyIsNotTheMirrors(t *testing.T) {
	c := fieldSetup()
	c.objects["model-c"] = modelIn("seldon-system", "mirror-predictor", 3)
	for _, k := range []string{"model-b", "model-c"} {
		_ = unstructured.SetNestedStringSlice(c.objects[k].Object, []string{"scikit-learn"}, "spec", "requirements")
	}
	_ = unstructured.SetNestedMap(c.objects["experiment"].Object, map[string]any{"name": "mirror-predictor", "percent": int64(10)}, "spec", "mirror")
	r := c.run(t)
	r.expect(seldonsim.Experiments, "seldon-system", "financial-ab-test-experiment", "CandidatesReady", "False: Candidates not ready")
	r.expect(seldonsim.Experiments, "seldon-system", "financial-ab-test-experiment", "MirrorReady", "False: Mirror not ready")
}

// Seldon never writes status.observedGeneration, and neither does the simulation.
func TestNoObservedGeneration(t *testing.T) {
	r := fieldSetup().run(t)
	for _, o := range []*unstructured.Unstructured{r.get(seldonsim.Models, "seldon-system", "baseline-predictor"),
		r.get(seldonsim.Experiments, "seldon-system", "financial-ab-test-experiment"), r.get(seldonsim.Servers, "seldon-system", "mlserver"),
		r.get(seldonsim.SeldonRuntimes, "seldon-system", "seldon")} {
		if _, found, _ := unstructured.NestedFieldNoCopy(o.Object, "status", "observedGeneration"); found {
			t.Errorf("%s %s has status.observedGeneration", o.GetKind(), o.GetName())
		}
	}
}

// A new version loads beside the old one (the old is unloaded only once the new is available), so it needs room
// of its own on a replica (scheduler/pkg/scheduler/filters/replicamemory.go counts the memory the loaded
// versions hold): on a Server that its Models fill, the new version cannot be placed and loses its Server
// (scheduler.go: scheduleToServer, FailedScheduling), and envoy drops the Model's route, old version and all, and the
// experiment's (incremental.go: modelUpdate and addModelTraffic look the latest version's Server up); the default
// model's own route goes back to the default model alone (addModel).
func TestANewVersionNeedsRoomBesideTheOld(t *testing.T) {
	agent := &gatedAgent{}
	for _, uri := range []string{"s3://mlflow-artifacts/baseline-predictor", "s3://mlflow-artifacts/enhanced-predictor", "s3://mlflow-artifacts/v2"} {
		close(agent.gate(uri))
	}
	r := fieldSetup().runWith(t, agent) // 2Gi: both 1Gi Models, no room for a third
	settle(t, r)
	r.update(t, seldonsim.Models, "enhanced-predictor", func(o *unstructured.Unstructured) {
		_ = unstructured.SetNestedField(o.Object, "s3://mlflow-artifacts/v2", "spec", "storageUri")
	})
	settle(t, r)
	r.expect(seldonsim.Models, "seldon-system", "enhanced-predictor", "Ready",
		"False: Failed to schedule model as no matching server had enough suitable replicas: ScheduleFailed")
	routes := r.model.Routes("seldon-system")
	for _, gone := range []string{"enhanced-predictor", "financial-ab-test-experiment.experiment"} {
		if _, ok := routes[gone]; ok {
			t.Errorf("route %s stayed: %q", gone, served(routes, gone))
		}
	}
	if got := served(routes, "baseline-predictor"); got != "baseline-predictor_1=100" {
		t.Errorf("the default model's route = %q, want itself alone", got)
	}
	r.expect(seldonsim.Experiments, "seldon-system", "financial-ab-test-experiment", "ExperimentReady", "False: Server [] not found")
}

// Two experiments that each take the other's default model as a candidate: each split is made of the candidates'
// own versions, not of the other experiment's split (incremental.go: addTrafficForExperiment reads the model store).
func TestAnExperimentSplitsBetweenTheModelsNotTheOtherExperimentsSplit(t *testing.T) {
	c := fieldSetup()
	second := object(api, "Experiment", "seldon-system", "challenger-first", map[string]any{"spec": map[string]any{
		"default": "enhanced-predictor", "candidates": []any{map[string]any{"name": "enhanced-predictor", "weight": int64(50)},
			map[string]any{"name": "baseline-predictor", "weight": int64(50)}}}})
	second.SetCreationTimestamp(metav1.Now())
	c.objects["experiment-2"] = second
	r := c.run(t)
	r.expect(seldonsim.Experiments, "seldon-system", "challenger-first", "Ready", "True")
	routes := r.model.Routes("seldon-system")
	for route, want := range map[string]string{
		"financial-ab-test-experiment.experiment": "baseline-predictor_1=70,enhanced-predictor_1=30",
		"challenger-first.experiment":             "enhanced-predictor_1=50,baseline-predictor_1=50",
	} {
		if got := served(routes, route); got != want {
			t.Errorf("route %s = %q, want %q", route, got, want)
		}
	}
}
