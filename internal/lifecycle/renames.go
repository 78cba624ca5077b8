package lifecycle

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/seldon-ab/provisioner/internal/rollout"
	"github.com/seldon-ab/provisioner/internal/seldonspec"
)

var experimentsResource = schema.GroupVersionResource{Group: seldonspec.Group, Version: seldonspec.Version, Resource: "experiments"}

// retireRenamed deletes the old objects of renamed experiments before the update, and waits until they are gone
// (Seldon's finalizer holds each until the scheduler stopped it and released its baseline). Calls by the old name
// fail from here on, as they must; calls by the default model's name keep their route.
func (s *Stack) retireRenamed(ctx context.Context, olds []rollout.Change) error {
	live, err := s.cluster()
	if err != nil {
		return err
	}
	for _, old := range olds {
		s.logf("renaming an experiment: deleting Experiment %s/%s first, so that its default model can be the new one's baseline",
			old.Namespace, old.Name)
		if err := live.Delete(ctx, experimentsResource, old.Namespace, old.Name); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting the renamed Experiment %s/%s: %w", old.Namespace, old.Name, err)
		}
		deadline := time.Now().Add(2 * time.Minute)
		for {
			_, err := live.Get(ctx, experimentsResource, old.Namespace, old.Name)
			if apierrors.IsNotFound(err) {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("the renamed Experiment %s/%s is still there 2 minutes after its deletion (its finalizer waits for "+
					"Seldon's controller and the namespace's scheduler): run `seldon-ab doctor --stack %s`", old.Namespace, old.Name, s.opts.Stack)
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
