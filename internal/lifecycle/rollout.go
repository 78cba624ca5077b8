package lifecycle

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/events"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/seldon-ab/provisioner/infra/config"
	"github.com/seldon-ab/provisioner/internal/doctor"
	"github.com/seldon-ab/provisioner/internal/rollout"
	"github.com/seldon-ab/provisioner/internal/seldonspec"
	"github.com/seldon-ab/provisioner/internal/verify"
)

// eventLog keeps one operation's step events (the Automation API closes its channel when the operation ends).
type eventLog struct {
	ch     chan events.EngineEvent
	done   chan struct{}
	events []events.EngineEvent
}

func newEventLog() *eventLog {
	l := &eventLog{ch: make(chan events.EngineEvent), done: make(chan struct{})}
	go func() {
		defer close(l.done)
		for ev := range l.ch {
			if ev.ResourcePreEvent != nil {
				l.events = append(l.events, ev)
			}
		}
	}()
	return l
}

// steps are the operation's step events, once it ended.
func (l *eventLog) steps() []events.EngineEvent {
	select {
	case <-l.done:
	case <-time.After(10 * time.Second):
		return nil // the channel was never closed: the operation did not start
	}
	return l.events
}

// changes are the Seldon changes of the operation, once it ended.
func (l *eventLog) changes() []rollout.Change { return rollout.Changes(l.steps()) }

// caller calls through the stack's ingress as its verifier does (the verifyArgs output, with the stack's proxy),
// nil when the stack has no verification or is not up.
func (s *Stack) caller(outputs auto.OutputMap) *verify.Caller {
	args, err := stringList(outputs["verifyArgs"].Value)
	if err != nil || len(args) == 0 || args[0] != "verify" {
		return nil
	}
	inv, err := verify.ParseArgs(args[1:], nil)
	if err != nil {
		return nil
	}
	inv.Config.Proxy = s.opts.Proxy
	caller, err := verify.NewCaller(inv.Config)
	if err != nil {
		return nil
	}
	return caller
}

// Caller calls through the deployed stack's ingress as its verifier does: to watch traffic during a change.
func (s *Stack) Caller(ctx context.Context) (*verify.Caller, error) {
	outputs, err := s.stack.Outputs(ctx)
	if err != nil {
		return nil, err
	}
	caller := s.caller(outputs)
	if caller == nil {
		return nil, fmt.Errorf("stack %s has no verifyArgs output: set verification.enabled and run `seldon-ab up --stack %s`", s.opts.Stack, s.opts.Stack)
	}
	return caller, nil
}

// snapshot is what serves before an update that gives a Model a new version; nil for any other update (a first
// up only creates: only a new version needs what served before it, rollout.Snapshot, and reading the outputs
// takes two CLI calls), and nil without a caller.
func (s *Stack) snapshot(ctx context.Context, planned []rollout.Change) *rollout.Before {
	if !slices.ContainsFunc(planned, func(c rollout.Change) bool { return c.What == rollout.NewVersion }) {
		return nil
	}
	outputs, err := s.stack.Outputs(ctx)
	if err != nil {
		return nil
	}
	caller := s.caller(outputs)
	if caller == nil {
		return nil
	}
	before := rollout.Snapshot(ctx, caller, s.modelStatus(), planned, s.config.MeshNamespace())
	return &before
}

// proveRollout holds the update until the mesh serves what it changed (rollout.Prove), within the stack's
// verification.rolloutTimeout, and fails it with the reason when the mesh does not.
func (s *Stack) proveRollout(ctx context.Context, outputs auto.OutputMap, changes []rollout.Change, before *rollout.Before) error {
	if len(changes) == 0 {
		return nil
	}
	caller := s.caller(outputs)
	if caller == nil {
		s.logf("not proven by traffic, as verification is off (verification.enabled): %s", rollout.Describe(changes))
		return nil
	}
	if before == nil {
		before = &rollout.Before{}
	}
	within, err := time.ParseDuration(s.config.Verification.RolloutTimeout)
	if err != nil {
		within = config.DefaultRolloutTimeout
	}
	s.logf("waiting for the mesh to serve the update's changes: %s", rollout.Describe(changes))
	proofs, err := rollout.Prove(ctx, caller, s.modelStatus(), changes, *before, s.config.MeshNamespace(), within)
	for _, p := range proofs {
		s.logf("%s: served %.1f s after the update (%s)", p.Change, p.After.Seconds(), p.Seen)
	}
	if err != nil {
		return fmt.Errorf("stack %s is updated, but the mesh does not serve the change:\n%w", s.opts.Stack, err)
	}
	return nil
}

// modelStatus reads Models' Ready conditions from the stack's cluster.
func (s *Stack) modelStatus() rollout.Status {
	live, err := s.cluster()
	return modelConditions{live: live, err: err}
}

type modelConditions struct {
	live *doctor.Live
	err  error
}

var modelsResource = schema.GroupVersionResource{Group: seldonspec.Group, Version: seldonspec.Version, Resource: "models"}

func (m modelConditions) ModelReady(ctx context.Context, namespace, name string) (rollout.Condition, error) {
	if m.err != nil {
		return rollout.Condition{}, m.err
	}
	obj, err := m.live.Get(ctx, modelsResource, namespace, name)
	if err != nil {
		return rollout.Condition{}, err
	}
	conditions, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	for _, c := range conditions {
		cond, _ := c.(map[string]any)
		if cond["type"] != seldonspec.ConditionReady {
			continue
		}
		str := func(k string) string { v, _ := cond[k].(string); return v }
		return rollout.Condition{Status: str("status"), Message: str("message"), Reason: str("reason"),
			LastTransitionTime: str("lastTransitionTime")}, nil
	}
	return rollout.Condition{}, nil
}
