// Package admission waits until the API server admits objects that an admission webhook guards, by server-side dry
// runs of their creation.
package admission

import (
	"context"
	"errors"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
)

// Object is a manifest to dry-run and the API resource it is created in.
type Object struct {
	Resource schema.GroupVersionResource
	Manifest map[string]any
}

// Patience is how long a webhook is waited for: as long as the Kubernetes provider waits for a Deployment, since a
// webhook answers only once its Deployment runs.
const Patience = 10 * time.Minute

// errPatienceSpent tells a wait that ran out of patience from one its caller cancelled (Ctrl-C).
var errPatienceSpent = errors.New("patience spent")

// pollInterval is the pause between two dry runs while the webhook cannot be called.
const pollInterval = time.Second

// Await returns once every object exists or the API server admits a dry run of its creation, in order. It retries
// while the API server cannot call a webhook (nothing listens yet, its certificate is not trusted yet, its Service
// has no endpoints: each answered 500 "failed calling webhook", k8s.io/apiserver
// pkg/admission/plugin/webhook/validating/dispatcher.go) or does not serve the resource yet; a webhook's denial, or
// any other refusal, is returned at once. An object that exists was admitted when it was created: a webhook down
// later does not hold up an update that leaves it as it is.
func Await(ctx context.Context, client dynamic.Interface, objects []Object, patience time.Duration) error {
	ctx, cancel := context.WithTimeoutCause(ctx, patience, errPatienceSpent)
	defer cancel()
	for _, o := range objects {
		if err := awaitOne(ctx, client, o, patience); err != nil {
			return err
		}
	}
	return nil
}

func awaitOne(ctx context.Context, client dynamic.Interface, o Object, patience time.Duration) error {
	obj := &unstructured.Unstructured{Object: o.Manifest}
	what := fmt.Sprintf("%s %s/%s", obj.GetKind(), obj.GetNamespace(), obj.GetName())
	dryRun := metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}
	objects := client.Resource(o.Resource).Namespace(obj.GetNamespace())
	if _, err := objects.Get(ctx, obj.GetName(), metav1.GetOptions{}); err == nil {
		return nil
	}
	var last error
	for {
		_, err := objects.Create(ctx, obj, dryRun)
		switch {
		// AlreadyExists comes from storage, after validating admission (k8s.io/apiserver
		// pkg/registry/generic/registry/store.go): the object was created meanwhile.
		case err == nil || apierrors.IsAlreadyExists(err):
			return nil
		case ctx.Err() != nil:
			if last == nil {
				last = err
			}
			if cause := context.Cause(ctx); cause != errPatienceSpent {
				return fmt.Errorf("waiting for %s to be admitted stopped (%v); the last answer: %w", what, cause, last)
			}
			return fmt.Errorf("%s was not admitted within %s; the last answer: %w", what, patience, last)
		case !retryable(err):
			return fmt.Errorf("%s is refused: %w", what, err)
		}
		last = err
		select {
		case <-ctx.Done():
		case <-time.After(pollInterval):
		}
	}
}

// retryable is true for what passes with time: a webhook the API server could not call, a resource not served yet,
// an API server busy or unreachable. A webhook's denial and every other status (invalid, forbidden) are final.
func retryable(err error) bool {
	var status apierrors.APIStatus
	if !errors.As(err, &status) {
		return true // no answer from the API server at all
	}
	return apierrors.IsInternalError(err) || apierrors.IsNotFound(err) || apierrors.IsServiceUnavailable(err) ||
		apierrors.IsTimeout(err) || apierrors.IsServerTimeout(err) || apierrors.IsTooManyRequests(err)
}
