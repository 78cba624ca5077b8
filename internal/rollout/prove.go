package rollout

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/seldon-ab/provisioner/internal/seldonspec"
	"github.com/seldon-ab/provisioner/internal/verify"
)

// Caller is one inference call through the ingress (verify.Caller).
type Caller interface {
	Infer(ctx context.Context, seldonModel, pathModel string, i int) verify.Answer
}

// Condition is a Model's Ready condition as Seldon's controller writes it: Message is the scheduler's state of the
// latest version (ModelAvailable, ModelFailed, ScheduleFailed, ...) and Reason the scheduler's or agent's reason
// (operator/scheduler/model.go, setModelStatus; operator/apis/mlops/v1alpha1/model_conditions.go).
type Condition struct {
	Status, Message, Reason, LastTransitionTime string
}

// Status reads a Model's Ready condition (the zero Condition when it has none).
type Status interface {
	ModelReady(ctx context.Context, namespace, name string) (Condition, error)
}

// failedStates are the latest-version states that do not heal without a change: a load that failed, or no Server
// replica with room (scheduler/pkg/store/memory_status.go).
var failedStates = []string{"ModelFailed", "ScheduleFailed"}

// Before is what served before the update: the version each changed Model answered with (0: unknown) and its
// Ready condition, so that a condition left over from before is not taken for the update's outcome.
type Before struct {
	Versions   map[string]int
	Conditions map[string]Condition
}

// probeCalls bounds the calls that look for one Model's answer: a default model of an active experiment shares its
// route with the other candidates, so its own answer may take a few calls.
const probeCalls = 40

// Snapshot reads, before an update, the version each Model that will get a new version answers with through the
// ingress (which routes to meshNamespace's seldon-mesh), and its Ready condition. Models that do not answer (a first
// update, another namespace) get version 0.
func Snapshot(ctx context.Context, caller Caller, status Status, planned []Change, meshNamespace string) Before {
	b := Before{Versions: map[string]int{}, Conditions: map[string]Condition{}}
	for _, c := range planned {
		if c.What != NewVersion {
			continue
		}
		key := c.Namespace + "/" + c.Name
		for i := 0; i < probeCalls && ctx.Err() == nil && c.Namespace == meshNamespace; i++ {
			if a := caller.Infer(ctx, c.Route(), c.Name, i); a.OK() && a.Model == c.Name {
				b.Versions[key] = a.Version
				break
			}
		}
		if cond, err := status.ModelReady(ctx, c.Namespace, c.Name); err == nil {
			b.Conditions[key] = cond
		}
	}
	return b
}

// Proof is how long each change took to show in traffic.
type Proof struct {
	Change Change
	After  time.Duration
	Seen   string
}

// roundCalls is how many calls one round sends to a change's route: every answer of the round must agree.
const roundCalls = 10

// Prove calls each change's route through the ingress until the mesh serves it: a new Model version answers (and
// the one before no longer does), a created Model or Experiment answers, a removed one's route is gone (envoy's
// 404). The ingress reaches only meshNamespace's seldon-mesh: a Model in another namespace is proven by its Ready
// condition instead (byCondition). Prove returns as soon as a Model's latest version failed (its Ready condition
// says ModelFailed or ScheduleFailed, and did not say so before the update), naming the reason and what still
// serves; and it gives up after within.
func Prove(ctx context.Context, caller Caller, status Status, changes []Change, before Before, meshNamespace string, within time.Duration) ([]Proof, error) {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	start := time.Now()
	pending := slices.Clone(changes)
	last := map[string]string{}
	var proofs []Proof
	for len(pending) > 0 {
		var still []Change
		for _, c := range pending {
			key := c.Namespace + "/" + c.Name
			seen, ok := "", false
			if c.Namespace == meshNamespace {
				seen, ok = round(ctx, caller, c, before.Versions[key])
			} else {
				seen, ok = byCondition(ctx, status, c, before.Conditions[key], meshNamespace)
			}
			last[c.String()] = seen
			if ok {
				proofs = append(proofs, Proof{Change: c, After: time.Since(start), Seen: seen})
				continue
			}
			if err := failed(ctx, status, c, before.Conditions[key], seen); err != nil {
				return proofs, err
			}
			still = append(still, c)
		}
		pending = still
		if len(pending) == 0 {
			break
		}
		select {
		case <-ctx.Done():
			return proofs, timedOut(ctx, status, pending, last, within)
		case <-time.After(250 * time.Millisecond):
		}
	}
	return proofs, nil
}

// round sends roundCalls calls to c's route and says whether they all show the change, and what they saw.
func round(ctx context.Context, caller Caller, c Change, versionBefore int) (string, bool) {
	var seen []string
	ok, own := true, 0
	for i := 0; i < roundCalls && ctx.Err() == nil; i++ {
		// The path's model segment is the object's name: envoy routes on the header and rewrites the path
		// (scheduler/pkg/envoy/xdscache/resource.go), so an Experiment's name serves as well as any.
		a := caller.Infer(ctx, c.Route(), c.Name, i)
		seen = append(seen, a.String())
		switch c.What {
		case Removed:
			ok = ok && a.Err == nil && a.Status == http.StatusNotFound && a.By == verify.ByMesh
		case NewVersion:
			// A default model's route is shared with the other candidates while an experiment is active: only
			// this Model's own answers count, and each must come from a version after the one before.
			if a.OK() && a.Model == c.Name {
				own++
				ok = ok && a.Version > versionBefore
			} else {
				ok = ok && a.OK()
			}
		default:
			ok = ok && a.OK()
			own++
		}
	}
	if ctx.Err() != nil {
		ok = false
	}
	return summarize(seen), ok && (c.What == Removed || own > 0)
}

// byCondition is the proof for a Model in a namespace the ingress does not route to: its Ready condition True and
// not the one read before the update. A new object's condition cannot predate it. For a new version this needs the
// condition to change while it loads: Seldon's controller writes Ready False for every state but ModelAvailable
// (operator/scheduler/model.go, setModelStatus), but whether the scheduler reports the loading states of every
// new version was not read; if it does not, the proof times out rather than passing on a stale condition. A removal
// is done once Pulumi saw the object deleted, which waits for the scheduler's unload (the Model's finalizer).
func byCondition(ctx context.Context, status Status, c Change, before Condition, meshNamespace string) (string, bool) {
	notTraffic := fmt.Sprintf("not by traffic: the ingress routes to the mesh of %s", meshNamespace)
	if c.What == Removed {
		return "deleted, " + notTraffic, true
	}
	cond, err := status.ModelReady(ctx, c.Namespace, c.Name)
	if err != nil {
		return err.Error(), false
	}
	return fmt.Sprintf("Ready %s (%s), %s", cmp.Or(cond.Status, "not set"), cond.Message, notTraffic), cond.Status == "True" && cond != before
}

// summarize counts distinct answers: "8× answered by m version 3, 2× HTTP 404 from the mesh (envoy)".
func summarize(seen []string) string {
	counts := map[string]int{}
	var order []string
	for _, s := range seen {
		if counts[s] == 0 {
			order = append(order, s)
		}
		counts[s]++
	}
	parts := make([]string, len(order))
	for i, s := range order {
		parts[i] = fmt.Sprintf("%d× %s", counts[s], s)
	}
	return strings.Join(parts, ", ")
}

// failed is the error for a Model whose latest version failed since the update, nil otherwise.
func failed(ctx context.Context, status Status, c Change, before Condition, seen string) error {
	if c.Kind != seldonspec.KindModel || c.What == Removed {
		return nil
	}
	cond, err := status.ModelReady(ctx, c.Namespace, c.Name)
	if err != nil || cond.Status != "False" || !slices.Contains(failedStates, cond.Message) || cond == before {
		return nil
	}
	return fmt.Errorf("Model %s/%s: its new version failed (%s: %s); what its route serves now: %s",
		c.Namespace, c.Name, cond.Message, cond.Reason, seen)
}

func timedOut(ctx context.Context, status Status, pending []Change, last map[string]string, within time.Duration) error {
	var lines []string
	for _, c := range pending {
		line := fmt.Sprintf("%s: the mesh did not serve it within %s; calls last saw: %s", c, within, last[c.String()])
		if c.Kind == seldonspec.KindModel && c.What != Removed {
			if cond, err := status.ModelReady(context.WithoutCancel(ctx), c.Namespace, c.Name); err == nil && cond.Status != "" {
				line += fmt.Sprintf("; its Ready condition: %s (%s: %s)", cond.Status, cond.Message, cond.Reason)
			}
		}
		lines = append(lines, line)
	}
	return errors.New(strings.Join(lines, "\n"))
}
