package rollout_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto/events"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"

	"github.com/seldon-ab/provisioner/internal/rollout"
	"github.com/seldon-ab/provisioner/internal/verify"
)

const modelType = "kubernetes:mlops.seldon.io/v1alpha1:Model"
const experimentType = "kubernetes:mlops.seldon.io/v1alpha1:Experiment"

// mesh0 is the namespace whose seldon-mesh the ingress routes to.
const mesh0 = "seldon-system"

func state(name string, spec map[string]any) *apitype.StepEventStateMetadata {
	return &apitype.StepEventStateMetadata{Inputs: map[string]any{
		"metadata": map[string]any{"name": name, "namespace": "seldon-system"}, "spec": spec}}
}

func step(op apitype.OpType, typ string, old, new *apitype.StepEventStateMetadata) events.EngineEvent {
	return events.EngineEvent{EngineEvent: apitype.EngineEvent{ResourcePreEvent: &apitype.ResourcePreEvent{
		Metadata: apitype.StepEventMetadata{Op: op, Type: typ, Old: old, New: new}}}}
}

// Among several experiments, a rename is the creation of a new name on the old one's default model and the deletion
// of the old: that old one must go first. Experiments created and deleted on other models, or without a default,
// are left to the engine, and so is a delete-first replacement.
func TestARenameAmongSeveralExperimentsIsFound(t *testing.T) {
	on := func(model string) map[string]any { return map[string]any{"default": model} }
	plan := []events.EngineEvent{
		step(apitype.OpCreate, experimentType, nil, state("credit-v2", on("credit"))),
		step(apitype.OpDelete, experimentType, state("credit-ab", on("credit")), nil),
		step(apitype.OpCreate, experimentType, nil, state("churn-ab", on("churn"))),
		step(apitype.OpDelete, experimentType, state("fraud-ab", on("fraud")), nil),
		step(apitype.OpDelete, experimentType, state("no-default", on("")), nil),
		step(apitype.OpCreate, experimentType, nil, state("other-no-default", on(""))),
		step(apitype.OpDeleteReplaced, experimentType, state("replaced", on("risk")), nil),
		step(apitype.OpCreateReplacement, experimentType, nil, state("replacing", on("risk"))),
	}
	got := rollout.RenamedExperiments(plan)
	if len(got) != 1 || got[0] != (rollout.Change{Kind: "Experiment", Namespace: "seldon-system", Name: "credit-ab", What: rollout.Removed}) {
		t.Errorf("RenamedExperiments = %v, want credit-ab alone", got)
	}
}

func TestChangesNameWhatTheMeshMustShow(t *testing.T) {
	v1 := map[string]any{"storageUri": "s3://b/m", "replicas": 1.0}
	evs := []events.EngineEvent{
		// Replicas go into the scheduler's DeploymentSpec: the latest version changes in place.
		step(apitype.OpUpdate, modelType, state("scaled", v1), state("scaled", map[string]any{"storageUri": "s3://b/m", "replicas": 2.0})),
		step(apitype.OpUpdate, modelType, state("rolled", v1), state("rolled", map[string]any{"storageUri": "s3://b/m-v2", "replicas": 1.0})),
		// A rename, deleted first: the old name goes, the new one comes.
		step(apitype.OpDeleteReplaced, experimentType, state("old-ab", nil), nil),
		step(apitype.OpCreateReplacement, experimentType, nil, state("new-ab", nil)),
		// Replaced under the same name: only the new object counts.
		step(apitype.OpDeleteReplaced, modelType, state("same", v1), nil),
		step(apitype.OpCreateReplacement, modelType, nil, state("same", v1)),
		step(apitype.OpDelete, modelType, state("loser", v1), nil),
		step(apitype.OpSame, modelType, state("untouched", v1), state("untouched", v1)),
		step(apitype.OpUpdate, "kubernetes:core/v1:ConfigMap", state("cm", nil), state("cm", map[string]any{"x": 1})),
	}
	got := rollout.Describe(rollout.Changes(evs))
	want := "Experiment seldon-system/old-ab (removed), Model seldon-system/loser (removed), " +
		"Experiment seldon-system/new-ab (created), Model seldon-system/same (created), Model seldon-system/rolled (new version)"
	if got != want {
		t.Errorf("changes:\n got %s\nwant %s", got, want)
	}
}

// mesh answers like Seldon's envoy: each route serves what its function says, per call.
type mesh struct {
	mu     sync.Mutex
	routes map[string]func() verify.Answer
}

func (m *mesh) Infer(_ context.Context, seldonModel, _ string, _ int) verify.Answer {
	m.mu.Lock()
	defer m.mu.Unlock()
	if serve, ok := m.routes[seldonModel]; ok {
		return serve()
	}
	return verify.Answer{Status: http.StatusNotFound, By: verify.ByMesh}
}

func (m *mesh) set(route string, serve func() verify.Answer) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.routes[route] = serve
}

func answers(model string, version int) func() verify.Answer {
	return func() verify.Answer {
		return verify.Answer{Status: http.StatusOK, By: verify.ByModel, Model: model, Version: version}
	}
}

type conditions struct {
	mu    sync.Mutex
	ready map[string]rollout.Condition
}

func (c *conditions) ModelReady(_ context.Context, ns, name string) (rollout.Condition, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ready[ns+"/"+name], nil
}

func (c *conditions) set(key string, cond rollout.Condition) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ready[key] = cond
}

var ready = rollout.Condition{Status: "True", Message: "ModelAvailable", LastTransitionTime: "t0"}

func rolled(name string) rollout.Change {
	return rollout.Change{Kind: "Model", Namespace: "seldon-system", Name: name, What: rollout.NewVersion}
}

func TestANewVersionIsProvenOnlyOnceItAnswers(t *testing.T) {
	m := &mesh{routes: map[string]func() verify.Answer{"enhanced": answers("enhanced", 2)}}
	status := &conditions{ready: map[string]rollout.Condition{"seldon-system/enhanced": ready}}
	changes := []rollout.Change{rolled("enhanced")}
	before := rollout.Snapshot(context.Background(), m, status, changes, mesh0)
	if before.Versions["seldon-system/enhanced"] != 2 {
		t.Fatalf("snapshot = %+v", before)
	}
	// The old version serves, the stale Ready=True stays; a second later the new version is loaded: both
	// share the route for a moment, then only the new one answers.
	var calls atomic.Int64
	go func() {
		time.Sleep(time.Second)
		m.set("enhanced", func() verify.Answer { return answers("enhanced", 2+int(calls.Add(1)%2))() })
		time.Sleep(500 * time.Millisecond)
		m.set("enhanced", answers("enhanced", 3))
	}()
	proofs, err := rollout.Prove(context.Background(), m, status, changes, before, mesh0, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(proofs) != 1 || proofs[0].After < 1500*time.Millisecond || !strings.Contains(proofs[0].Seen, "10× answered by enhanced version 3") {
		t.Errorf("proofs = %+v", proofs)
	}
}

// The default model of an active experiment shares its route with the other candidates: its answers count, the
// others' do not stand in the way.
func TestADefaultModelIsProvenAmongTheOtherCandidatesAnswers(t *testing.T) {
	var n atomic.Int64
	m := &mesh{routes: map[string]func() verify.Answer{"baseline": func() verify.Answer {
		if n.Add(1)%3 == 0 {
			return answers("enhanced", 1)()
		}
		return answers("baseline", 4)()
	}}}
	status := &conditions{ready: map[string]rollout.Condition{}}
	before := rollout.Before{Versions: map[string]int{"seldon-system/baseline": 3}}
	if _, err := rollout.Prove(context.Background(), m, status, []rollout.Change{rolled("baseline")}, before, mesh0, 5*time.Second); err != nil {
		t.Fatal(err)
	}
}

func TestAFailedVersionFailsAtOnceWithTheAgentsReason(t *testing.T) {
	m := &mesh{routes: map[string]func() verify.Answer{"enhanced": answers("enhanced", 2)}}
	status := &conditions{ready: map[string]rollout.Condition{"seldon-system/enhanced": ready}}
	changes := []rollout.Change{rolled("enhanced")}
	before := rollout.Snapshot(context.Background(), m, status, changes, mesh0)
	status.set("seldon-system/enhanced", rollout.Condition{Status: "False", Message: "ModelFailed",
		Reason: "rclone copy: directory not found", LastTransitionTime: "t1"})
	start := time.Now()
	_, err := rollout.Prove(context.Background(), m, status, changes, before, mesh0, time.Minute)
	if err == nil || !strings.Contains(err.Error(), "ModelFailed: rclone copy: directory not found") ||
		!strings.Contains(err.Error(), "10× answered by enhanced version 2") {
		t.Fatalf("err = %v", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("a failed version took %s to report", time.Since(start))
	}
}

// A failure left over from before the update is not the update's outcome: it only shows when time is up.
func TestAFailureFromBeforeTheUpdateIsNotTakenForItsOutcome(t *testing.T) {
	m := &mesh{routes: map[string]func() verify.Answer{"enhanced": answers("enhanced", 2)}}
	stale := rollout.Condition{Status: "False", Message: "ModelFailed", Reason: "the previous artifact was missing", LastTransitionTime: "t0"}
	status := &conditions{ready: map[string]rollout.Condition{"seldon-system/enhanced": stale}}
	changes := []rollout.Change{rolled("enhanced")}
	before := rollout.Snapshot(context.Background(), m, status, changes, mesh0)
	start := time.Now()
	_, err := rollout.Prove(context.Background(), m, status, changes, before, mesh0, 1500*time.Millisecond)
	if err == nil || time.Since(start) < 1500*time.Millisecond || !strings.Contains(err.Error(), "did not serve it within 1.5s") ||
		!strings.Contains(err.Error(), "its Ready condition: False (ModelFailed: the previous artifact was missing)") {
		t.Fatalf("after %s: err = %v", time.Since(start), err)
	}
}

func TestARemovedRouteIsProvenByTheMeshs404(t *testing.T) {
	m := &mesh{routes: map[string]func() verify.Answer{"ab.experiment": answers("baseline", 1)}}
	status := &conditions{ready: map[string]rollout.Condition{}}
	gone := rollout.Change{Kind: "Experiment", Namespace: "seldon-system", Name: "ab", What: rollout.Removed}
	go func() {
		time.Sleep(time.Second)
		m.mu.Lock()
		delete(m.routes, "ab.experiment")
		m.mu.Unlock()
	}()
	proofs, err := rollout.Prove(context.Background(), m, status, []rollout.Change{gone}, rollout.Before{}, mesh0, 10*time.Second)
	if err != nil || len(proofs) != 1 || proofs[0].After < time.Second || !strings.Contains(proofs[0].Seen, "HTTP 404 from the mesh (envoy)") {
		t.Fatalf("proofs %+v, err %v", proofs, err)
	}
	// An ingress controller's 404 is not the mesh's: the route is not proven gone, the ingress is broken.
	m.set("ab.experiment", func() verify.Answer { return verify.Answer{Status: http.StatusNotFound, By: verify.ByIngress} })
	if _, err := rollout.Prove(context.Background(), m, status, []rollout.Change{gone}, rollout.Before{}, mesh0, time.Second); err == nil {
		t.Fatal("an ingress 404 passed for a removed route")
	}
}

// The ingress reaches only one namespace's mesh: a Model elsewhere is proven by a Ready condition written since the
// update, and no call is sent for it (its name would reach the other mesh's 404).
func TestAModelBehindAnotherMeshIsProvenByItsFreshReadyCondition(t *testing.T) {
	var calls atomic.Int32
	m := &mesh{routes: map[string]func() verify.Answer{"challenger": func() verify.Answer {
		calls.Add(1)
		return verify.Answer{Status: http.StatusNotFound, By: verify.ByMesh}
	}}}
	key := "models-b/challenger"
	status := &conditions{ready: map[string]rollout.Condition{key: ready}}
	change := rollout.Change{Kind: "Model", Namespace: "models-b", Name: "challenger", What: rollout.NewVersion}
	before := rollout.Snapshot(context.Background(), m, status, []rollout.Change{change}, mesh0)
	// The condition read before the update is no proof.
	if _, err := rollout.Prove(context.Background(), m, status, []rollout.Change{change}, before, mesh0, time.Second); err == nil ||
		!strings.Contains(err.Error(), "Ready True (ModelAvailable), not by traffic: the ingress routes to the mesh of seldon-system") {
		t.Fatalf("a stale Ready condition proved the new version: %v", err)
	}
	go func() {
		time.Sleep(500 * time.Millisecond)
		status.set(key, rollout.Condition{Status: "True", Message: "ModelAvailable", LastTransitionTime: "t1"})
	}()
	proofs, err := rollout.Prove(context.Background(), m, status, []rollout.Change{change}, before, mesh0, 10*time.Second)
	if err != nil || len(proofs) != 1 || proofs[0].After < 500*time.Millisecond {
		t.Fatalf("proofs %+v, err %v", proofs, err)
	}
	if calls.Load() != 0 {
		t.Errorf("%d calls went through the ingress for a Model it does not reach", calls.Load())
	}
	removed := rollout.Change{Kind: "Model", Namespace: "models-b", Name: "old", What: rollout.Removed}
	if _, err := rollout.Prove(context.Background(), m, status, []rollout.Change{removed}, before, mesh0, time.Second); err != nil {
		t.Errorf("a removal Pulumi saw through was not taken: %v", err)
	}
}
