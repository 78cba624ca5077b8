package seldonsim

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	"github.com/seldon-ab/provisioner/internal/seldonspec"
)

// experimentRun is what the scheduler holds of an Experiment.
type experimentRun struct {
	name, namespace, def string
	candidates           []candidate
	mirror               string
	mirrorPercent        int
	active               bool
}

type candidate struct {
	name   string
	weight int
}

// refusal is an Experiment the scheduler refused at one generation; the controller does not retry it until the
// Experiment changes (operator/scheduler/client.go: checkErrorRetryable is false for FailedPrecondition).
type refusal struct {
	generation int64
}

// experiments starts each Experiment, oldest first. A default model may be the baseline of one Experiment only: a
// later one naming it is refused (scheduler/pkg/store/experiment/validate.go: validateNoExistingDefault) with
// FailedPrecondition, which the controller records as a ModelReady condition whose reason is the error and does
// not retry (operator/controllers/mlops/experiment_controller.go, operator/scheduler/experiment.go). A started
// Experiment is active when every candidate's and the mirror's latest version is available (state.go:
// setCandidateAndMirrorReadiness); it returns the started ones.
func (m *ControlPlane) experiments(ctx context.Context, w *world, tracks map[string]*track, keep func(error)) []*experimentRun {
	baselines := map[string]string{} // namespace/default model -> the Experiment holding it
	var runs []*experimentRun
	seen := map[types.UID]bool{}
	for _, e := range w.experiments {
		ns := e.GetNamespace()
		seen[e.GetUID()] = true
		if e.GetDeletionTimestamp() != nil {
			if w.schedulerUp(ns) {
				keep(m.release(ctx, Experiments, e, seldonspec.ExperimentFinalizer))
			}
			continue
		}
		if problem := w.schedulerProblem(ns); problem != "" {
			keep(m.failed(ctx, e, problem))
			continue
		}
		run := readExperiment(e)
		if run.def != "" {
			holder, held := baselines[ns+"/"+run.def]
			m.mu.Lock()
			r, refused := m.refused[e.GetUID()]
			m.mu.Unlock()
			if (held && holder != run.name) || (refused && r.generation == e.GetGeneration()) {
				keep(m.refuse(ctx, e, run))
				continue
			}
			baselines[ns+"/"+run.def] = run.name
		}
		keep(m.settle(ctx, Experiments, e, seldonspec.ExperimentFinalizer, m.judge(run, tracks), nil))
		runs = append(runs, run)
	}
	m.mu.Lock()
	for uid := range m.refused {
		if !seen[uid] {
			delete(m.refused, uid)
		}
	}
	m.mu.Unlock()
	return runs
}

func readExperiment(e *unstructured.Unstructured) *experimentRun {
	run := &experimentRun{name: e.GetName(), namespace: e.GetNamespace()}
	run.def, _, _ = unstructured.NestedString(e.Object, "spec", "default")
	list, _, _ := unstructured.NestedSlice(e.Object, "spec", "candidates")
	for _, c := range list {
		cm, _ := c.(map[string]any)
		name, _ := cm["name"].(string)
		run.candidates = append(run.candidates, candidate{name: name, weight: int(asInt64(cm["weight"]))})
	}
	run.mirror, _, _ = unstructured.NestedString(e.Object, "spec", "mirror", "name")
	pct, _, _ := unstructured.NestedFieldNoCopy(e.Object, "spec", "mirror", "percent")
	run.mirrorPercent = int(asInt64(pct))
	return run
}

func asInt64(v any) int64 {
	switch n := v.(type) {
	case int64:
		return n
	case float64:
		return int64(n)
	case int:
		return int64(n)
	}
	return 0
}

// refuse records the baseline refusal, which the controller does not retry.
func (m *ControlPlane) refuse(ctx context.Context, e *unstructured.Unstructured, run *experimentRun) error {
	m.mu.Lock()
	if m.refused == nil {
		m.refused = map[types.UID]refusal{}
	}
	m.refused[e.GetUID()] = refusal{generation: e.GetGeneration()}
	m.mu.Unlock()
	return m.failed(ctx, e, fmt.Sprintf("rpc error: code = FailedPrecondition desc = Resource %s already in experiment %s as a baseline. "+
		"A model or pipeline can only appear in one experiment as a baseline", run.def, run.name))
}

// failed records an error of the controller's call to the scheduler as the controller does: a ModelReady condition
// (sic) with the error as its reason and no message (operator/controllers/mlops/experiment_controller.go:
// updateStatusFromError); the Experiment's other conditions are left as they were.
func (m *ControlPlane) failed(ctx context.Context, e *unstructured.Unstructured, reason string) error {
	conds := []condition{falseCond(seldonspec.ModelReadyCondition, reason, "")}
	old, _, _ := unstructured.NestedSlice(e.Object, "status", "conditions")
	for _, c := range old {
		cm, _ := c.(map[string]any)
		if t, _ := cm["type"].(string); t != seldonspec.ModelReadyCondition {
			r, _ := cm["reason"].(string)
			msg, _ := cm["message"].(string)
			st, _ := cm["status"].(string)
			conds = append(conds, condition{Type: t, Status: st, Reason: r, Message: msg})
		}
	}
	return m.settle(ctx, Experiments, e, seldonspec.ExperimentFinalizer, conds, nil)
}

// judge is a started Experiment's conditions as the controller writes them from the scheduler's events: reasons
// only (operator/scheduler/experiment.go: SubscribeExperimentEvents; experiment_types.go: CreateAndSetCondition).
func candidateNames(run *experimentRun) []string {
	names := make([]string, len(run.candidates))
	for i, c := range run.candidates {
		names[i] = c.name
	}
	return names
}

func (m *ControlPlane) judge(run *experimentRun, tracks map[string]*track) []condition {
	route := run.name + seldonspec.ExperimentHeaderSuffix
	// A candidate is ready when its latest version is available (store/experiment/store.go: handleModelEvents);
	// the experiment is active when envoy could route to every candidate and the mirror (incremental.go:
	// addTrafficForExperiment), whose first failure becomes the status description.
	unready, unroutable := "", ""
	for _, name := range append(candidateNames(run), run.mirror) {
		if name == "" {
			continue
		}
		t := tracks[run.namespace+"/"+name]
		if t == nil || t.latest().state != stateAvailable {
			unready = name
		}
		if why := routable(t, name, route); why != "" && unroutable == "" {
			unroutable = why
		}
	}
	candidates := condition{Type: seldonspec.ExperimentCandidatesReady, Status: "True", Reason: "Candidates ready"}
	if unready != "" && unready != run.mirror {
		candidates = falseCond(seldonspec.ExperimentCandidatesReady, "Candidates not ready", "")
	}
	mirror := condition{Type: seldonspec.ExperimentMirrorReady, Status: "True", Reason: "Mirror ready"}
	if run.mirror != "" && unready == run.mirror {
		mirror = falseCond(seldonspec.ExperimentMirrorReady, "Mirror not ready", "")
	}
	active := condition{Type: seldonspec.ExperimentReadyCondition, Status: "True", Reason: "experiment active"}
	if unroutable != "" {
		active = falseCond(seldonspec.ExperimentReadyCondition, unroutable, "")
	}
	run.active = unroutable == ""
	conds := []condition{candidates, active, mirror}
	return append(conds, readyOver(conds, []string{seldonspec.ExperimentCandidatesReady, seldonspec.ExperimentReadyCondition, seldonspec.ExperimentMirrorReady}))
}
