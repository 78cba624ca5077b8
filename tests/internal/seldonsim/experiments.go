package seldonsim

import (
	"context"
	"fmt"
	"slices"

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

// refusal is an Experiment the scheduler refused at one generation, and the error it refused it with; the
// controller does not retry it until the Experiment changes (operator/scheduler/client.go: checkErrorRetryable is
// false for FailedPrecondition).
type refusal struct {
	generation int64
	reason     string
}

// experiments starts each Experiment, oldest first. The scheduler validates a spec before it takes it
// (scheduler/pkg/store/experiment/store.go: startExperimentImpl, validate.go: validate); a refusal is a
// FailedPrecondition, which the controller records as a ModelReady condition whose reason is the error and does not
// retry (operator/controllers/mlops/experiment_controller.go, operator/scheduler/experiment.go), while the spec it
// accepted before, if any, keeps serving. A started Experiment is active when envoy can route to every candidate
// and the mirror (store.go: CanReceiveTraffic, incremental.go: addTrafficForExperiment); it returns the started ones.
func (m *ControlPlane) experiments(ctx context.Context, w *world, tracks map[string]*track, keep func(error)) []*experimentRun {
	var runs []*experimentRun
	seen := map[types.UID]bool{}
	m.mu.Lock()
	if m.accepted == nil {
		m.accepted, m.refused = map[types.UID]*experimentRun{}, map[types.UID]refusal{}
	}
	m.mu.Unlock()
	for _, e := range w.experiments {
		ns := e.GetNamespace()
		seen[e.GetUID()] = true
		if e.GetDeletionTimestamp() != nil {
			if w.schedulerUp(ns) {
				// StopExperiment drops it and the baseline it held (store.go: stopExperimentImpl).
				m.mu.Lock()
				delete(m.accepted, e.GetUID())
				m.mu.Unlock()
				keep(m.release(ctx, Experiments, e, seldonspec.ExperimentFinalizer))
			}
			continue
		}
		if problem := w.schedulerProblem(ns); problem != "" {
			keep(m.failed(ctx, e, problem))
			continue
		}
		run := readExperiment(e)
		m.mu.Lock()
		previous := m.accepted[e.GetUID()]
		r, refused := m.refused[e.GetUID()]
		refused = refused && r.generation == e.GetGeneration()
		if !refused {
			if reason := m.validate(run); reason != "" {
				r, refused = refusal{generation: e.GetGeneration(), reason: reason}, true
				m.refused[e.GetUID()] = r
			} else {
				m.accepted[e.GetUID()] = run
			}
		}
		m.mu.Unlock()
		serving := run
		if refused {
			keep(m.failed(ctx, e, r.reason))
			serving = previous
		} else {
			keep(m.settle(ctx, Experiments, e, seldonspec.ExperimentFinalizer, m.judge(run, tracks), nil))
		}
		if serving != nil {
			serving.active = unroutable(serving, tracks) == ""
			runs = append(runs, serving)
		}
	}
	m.mu.Lock()
	for uid := range m.refused {
		if !seen[uid] {
			delete(m.refused, uid)
		}
	}
	for uid := range m.accepted {
		if !seen[uid] {
			delete(m.accepted, uid)
		}
	}
	m.mu.Unlock()
	return runs
}

// validate is the error the scheduler refuses run with, "" when it takes it, checked in validate.go's order. A
// default model is the baseline of the Experiment the scheduler accepted with it, as long as that one keeps it
// (validateNoExistingDefault; state.go: cleanExperimentState, updateExperimentState). Called with m.mu held.
func (m *ControlPlane) validate(run *experimentRun) string {
	refuse := func(format string, args ...any) string {
		return "rpc error: code = FailedPrecondition desc = " + fmt.Sprintf(format, args...)
	}
	if run.def != "" {
		for _, holder := range m.accepted {
			if holder.namespace == run.namespace && holder.def == run.def && holder.name != run.name {
				// (sic) the message names the refused Experiment, not the holder (errors.go: ExperimentBaselineExists).
				return refuse("Resource %s already in experiment %s as a baseline. "+
					"A model or pipeline can only appear in one experiment as a baseline", run.def, run.name)
			}
		}
		if !slices.Contains(candidateNames(run), run.def) {
			return refuse("default model/pipeline %s not found in experiment %s candidates", run.def, run.name)
		}
	}
	if len(run.candidates) == 0 && run.mirror == "" {
		return refuse("experiment %s has no candidates or mirror", run.name)
	}
	names := candidateNames(run)
	if run.mirror != "" {
		names = append(names, run.mirror)
	}
	for i, name := range names {
		if slices.Contains(names[:i], name) {
			return refuse("each candidate and mirror must be unique but found resource %s duplicated in experiment %s", name, run.name)
		}
	}
	return ""
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

func candidateNames(run *experimentRun) []string {
	names := make([]string, len(run.candidates))
	for i, c := range run.candidates {
		names[i] = c.name
	}
	return names
}

// judge is a started Experiment's conditions as the controller writes them from the scheduler's events: reasons
// only (operator/scheduler/experiment.go: SubscribeExperimentEvents; experiment_types.go: CreateAndSetCondition).
// A candidate or the mirror is ready when its latest version is available (state.go:
// setCandidateAndMirrorReadiness); CandidatesReady looks at the candidates alone and MirrorReady at the mirror
// (store/experiment/experiment.go: AreCandidatesReady, IsMirrorReady).
func (m *ControlPlane) judge(run *experimentRun, tracks map[string]*track) []condition {
	ready := func(name string) bool {
		t := tracks[run.namespace+"/"+name]
		return t != nil && t.latest().state == stateAvailable
	}
	candidates := condition{Type: seldonspec.ExperimentCandidatesReady, Status: "True", Reason: "Candidates ready"}
	for _, c := range run.candidates {
		if !ready(c.name) {
			candidates = falseCond(seldonspec.ExperimentCandidatesReady, "Candidates not ready", "")
		}
	}
	mirror := condition{Type: seldonspec.ExperimentMirrorReady, Status: "True", Reason: "Mirror ready"}
	if run.mirror != "" && !ready(run.mirror) {
		mirror = falseCond(seldonspec.ExperimentMirrorReady, "Mirror not ready", "")
	}
	active := condition{Type: seldonspec.ExperimentReadyCondition, Status: "True", Reason: "experiment active"}
	if why := unroutable(run, tracks); why != "" {
		active = falseCond(seldonspec.ExperimentReadyCondition, why, "")
	}
	conds := []condition{candidates, active, mirror}
	return append(conds, readyOver(conds, []string{seldonspec.ExperimentCandidatesReady, seldonspec.ExperimentReadyCondition, seldonspec.ExperimentMirrorReady}))
}

// unroutable is why envoy gets no route for the Experiment, "" when it does: the first candidate or the mirror it
// cannot route to (incremental.go: addTrafficForExperiment), which becomes the status description.
func unroutable(run *experimentRun, tracks map[string]*track) string {
	route := run.name + seldonspec.ExperimentHeaderSuffix
	for _, name := range append(candidateNames(run), run.mirror) {
		if name == "" {
			continue
		}
		if why := routable(tracks[run.namespace+"/"+name], name, route); why != "" {
			return why
		}
	}
	return ""
}
