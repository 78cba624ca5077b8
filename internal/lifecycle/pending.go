package lifecycle

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/seldon-ab/provisioner/infra/config"
)

// An update killed mid-way leaves the objects it was creating in the cluster but not in the state (pending creates).
// Forgetting them is not enough: the next update creates them again under a new server-side-apply field manager
// (pulumi-kubernetes names one per resource from its random seed: provider.go, fieldManagerName), and the API
// server refuses to let it take over the killed update's fields ("Apply failed with N conflicts"). Recover
// therefore deletes each such object, waits until it is gone, and only then forgets the pending creates; the next
// update creates them as new.

// interruptedSince is when the last update that finished ended: what the cluster gained after it, the interrupted
// update made. Objects that are older (a retained model volume the killed update was adopting) are left alone.
func (s *Stack) interruptedSince(ctx context.Context) time.Time {
	history, err := s.stack.History(ctx, 1, 1)
	if err != nil || len(history) == 0 || history[0].EndTime == nil {
		return time.Time{}
	}
	end, err := time.Parse(time.RFC3339, *history[0].EndTime)
	if err != nil {
		return time.Time{}
	}
	return end
}

// pendingObject is a Kubernetes object an interrupted update was creating.
type pendingObject struct {
	gvk             schema.GroupVersionKind
	namespace, name string
}

func (p pendingObject) String() string {
	if p.namespace == "" {
		return p.gvk.Kind + " " + p.name
	}
	return p.gvk.Kind + " " + p.namespace + "/" + p.name
}

// pendingCreates lists the Kubernetes objects of the state's pending create operations.
func (s *Stack) pendingCreates(ctx context.Context) ([]pendingObject, error) {
	state, err := s.stack.Export(ctx)
	if err != nil {
		return nil, err
	}
	var deployment apitype.DeploymentV3
	if err := json.Unmarshal(state.Deployment, &deployment); err != nil {
		return nil, err
	}
	var out []pendingObject
	for _, op := range deployment.PendingOperations {
		r := op.Resource
		if op.Type != apitype.OperationTypeCreating || !r.Custom || !strings.HasPrefix(string(r.Type), "kubernetes:") {
			continue
		}
		apiVersion, _ := r.Inputs["apiVersion"].(string)
		kind, _ := r.Inputs["kind"].(string)
		meta, _ := r.Inputs["metadata"].(map[string]any)
		name, _ := meta["name"].(string)
		namespace, _ := meta["namespace"].(string)
		if kind == "" || name == "" {
			continue // not a single object (a Chart component's own record), or a name the provider would have made
		}
		out = append(out, pendingObject{gvk: schema.FromAPIVersionAndKind(apiVersion, kind), namespace: namespace, name: name})
	}
	return out, nil
}

// deletePending deletes the objects an interrupted update was creating (made after since), and waits until they
// are gone.
func (s *Stack) deletePending(ctx context.Context, objects []pendingObject, since time.Time) error {
	if len(objects) == 0 {
		return nil
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if s.config.Cluster.Kubeconfig != "" {
		rules.ExplicitPath = config.ResolvePath(s.opts.Root, s.config.Cluster.Kubeconfig)
	}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: s.config.Cluster.Context}).ClientConfig()
	if err != nil {
		return fmt.Errorf("the cluster of stack %s: %w", s.opts.Stack, err)
	}
	client, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	disco, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return err
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disco))
	background := metav1.DeletePropagationBackground
	var gone []func() (bool, error)
	for _, o := range objects {
		mapping, err := mapper.RESTMapping(o.gvk.GroupKind(), o.gvk.Version)
		if err != nil {
			continue // its kind is not served (a CRD that was never created): nothing of it exists
		}
		res := client.Resource(mapping.Resource).Namespace(o.namespace)
		live, err := res.Get(ctx, o.name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			continue
		case err != nil:
			return fmt.Errorf("reading %s, which the interrupted update was creating: %w", o, err)
		case live.GetCreationTimestamp().Time.Before(since):
			continue // it was there before: the interrupted update was adopting it
		}
		err = res.Delete(ctx, o.name, metav1.DeleteOptions{PropagationPolicy: &background, Preconditions: &metav1.Preconditions{UID: &[]types.UID{live.GetUID()}[0]}})
		switch {
		case apierrors.IsNotFound(err):
			continue
		case err != nil:
			return fmt.Errorf("deleting %s, which the interrupted update was creating: %w", o, err)
		}
		s.logf("deleted %s, which the interrupted update was creating: the next update creates it again", o)
		name := o.name
		gone = append(gone, func() (bool, error) {
			_, err := res.Get(ctx, name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return true, nil
			}
			return false, err
		})
	}
	deadline := time.Now().Add(2 * time.Minute)
	for _, isGone := range gone {
		for {
			done, err := isGone()
			if err != nil || done {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("objects the interrupted update was creating are still being deleted after 2 minutes (finalizers?); run recover again")
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	return nil
}
