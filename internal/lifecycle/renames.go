package lifecycle

import (
	"context"
	"fmt"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto/events"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/seldon-ab/provisioner/internal/seldonspec"
)

var experimentsResource = schema.GroupVersionResource{Group: seldonspec.Group, Version: seldonspec.Version, Resource: "experiments"}

// experimentRef is one Experiment object and its default model.
type experimentRef struct{ namespace, name, defaultModel string }

// renamedExperiments are the Experiments a plan deletes whose default model an Experiment it creates takes over: a
// rename in a stack of several experiments, where each is a resource of its own (a stack's one Experiment is
// replaced delete-first instead). The engine creates before it deletes, and while the old Experiment holds the
// default model as its baseline the scheduler refuses the new one, which the controller never retries
// (scheduler/pkg/store/experiment/validate.go, validateNoExistingDefault).
func renamedExperiments(evs []events.EngineEvent) []experimentRef {
	var created, deleted []experimentRef
	for _, ev := range evs {
		if ev.ResourcePreEvent == nil {
			continue
		}
		m := ev.ResourcePreEvent.Metadata
		if m.Type != "kubernetes:"+seldonspec.APIVersion+":"+seldonspec.KindExperiment {
			continue
		}
		switch m.Op {
		case apitype.OpCreate:
			created = append(created, readExperimentRef(m.New))
		case apitype.OpDelete:
			deleted = append(deleted, readExperimentRef(m.Old))
		}
	}
	var out []experimentRef
	for _, old := range deleted {
		for _, c := range created {
			if old.defaultModel != "" && c.namespace == old.namespace && c.defaultModel == old.defaultModel && c.name != old.name {
				out = append(out, old)
				break
			}
		}
	}
	return out
}

func readExperimentRef(state *apitype.StepEventStateMetadata) experimentRef {
	if state == nil {
		return experimentRef{}
	}
	meta, _ := state.Inputs["metadata"].(map[string]any)
	spec, _ := state.Inputs["spec"].(map[string]any)
	ref := experimentRef{}
	ref.namespace, _ = meta["namespace"].(string)
	ref.name, _ = meta["name"].(string)
	ref.defaultModel, _ = spec["default"].(string)
	return ref
}

// retireRenamed deletes the old objects of renamed experiments before the update, and waits until they are gone
// (Seldon's finalizer holds each until the scheduler stopped it and released its baseline). Calls by the old name
// fail from here on, as they must; calls by the default model's name keep their route.
func (s *Stack) retireRenamed(ctx context.Context, olds []experimentRef) error {
	live, err := s.cluster()
	if err != nil {
		return err
	}
	for _, old := range olds {
		s.logf("renaming an experiment: deleting Experiment %s/%s first, so that its default model %s can be the new one's baseline",
			old.namespace, old.name, old.defaultModel)
		if err := live.Delete(ctx, experimentsResource, old.namespace, old.name); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting the renamed Experiment %s/%s: %w", old.namespace, old.name, err)
		}
		deadline := time.Now().Add(2 * time.Minute)
		for {
			_, err := live.Get(ctx, experimentsResource, old.namespace, old.name)
			if apierrors.IsNotFound(err) {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("the renamed Experiment %s/%s is still there 2 minutes after its deletion (its finalizer waits for "+
					"Seldon's controller and the namespace's scheduler): run `seldon-ab doctor --stack %s`", old.namespace, old.name, s.opts.Stack)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	return nil
}
