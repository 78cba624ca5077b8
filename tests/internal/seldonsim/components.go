package seldonsim

import (
	"context"
	"fmt"
	"reflect"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/seldon-ab/provisioner/internal/seldonspec"
)

// What Seldon's controller makes of a SeldonRuntime, shaped as its v2.10.2 reconcilers make it
// (operator/controllers/reconcilers/seldon/), so that the real controller can take the objects over: a component
// of the SeldonConfig with volumeClaimTemplates becomes a StatefulSet, any other a Deployment, each named after
// the component, owned by the runtime, labelled and selected by app.kubernetes.io/name; and the Services
// seldon-scheduler and seldon-mesh (service_reconciler.go), which carry no owner reference.

const nameLabel = "app.kubernetes.io/name"

// Ports of the Services the controller makes (service_reconciler.go: the Default*Port constants, getSeldonMeshService).
var (
	schedulerServicePorts = []any{
		servicePort("xds", 9002, "xds"), servicePort("scheduler", seldonspec.SchedulerControlPort, "scheduler"),
		servicePort("scheduler-mtls", 9044, "scheduler-mtls"), servicePort("agent", 9005, "agent"),
		servicePort("agent-mtls", 9055, "agent-mtls"), servicePort("dataflow", 9008, "dataflow"),
	}
	meshServicePorts = []any{servicePort("data", seldonspec.MeshServicePort, "http"), servicePort("stats", 9003, "envoy-stats")}
)

func servicePort(name string, port int64, target string) map[string]any {
	return map[string]any{"name": name, "port": port, "targetPort": target, "protocol": "TCP"}
}

// component is one entry of the SeldonConfig's spec.components.
type component struct {
	name     string
	podSpec  map[string]any
	claims   []any
	replicas int64
}

// runtimeComponents are the SeldonConfig's components a runtime enables, with the runtime's replica overrides
// (runtime_reconciler.go: NewSeldonRuntimeReconciler, ComponentOverride).
func runtimeComponents(w *world, rt *unstructured.Unstructured) []component {
	if w.seldonConfig == nil {
		return nil
	}
	list, _, _ := unstructured.NestedSlice(w.seldonConfig.Object, "spec", "components")
	var out []component
	for _, item := range list {
		c, _ := item.(map[string]any)
		name, _ := c["name"].(string)
		if name == "" || disabled(rt, name) {
			continue
		}
		podSpec, _ := c["podSpec"].(map[string]any)
		claims, _ := c["volumeClaimTemplates"].([]any)
		out = append(out, component{name: name, podSpec: podSpec, claims: claims, replicas: overrideReplicas(rt, name)})
	}
	return out
}

func overrideReplicas(rt *unstructured.Unstructured, component string) int64 {
	overrides, _, _ := unstructured.NestedSlice(rt.Object, "spec", "overrides")
	for _, o := range overrides {
		om, _ := o.(map[string]any)
		if om["name"] != component {
			continue
		}
		switch r := om["replicas"].(type) {
		case int64:
			return r
		case float64:
			return int64(r)
		}
	}
	return 1
}

// workload is the StatefulSet (with claims) or Deployment of a component (toStatefulSet, toDeployment).
func workload(rt *unstructured.Unstructured, c component) (schema.GroupVersionResource, *unstructured.Unstructured) {
	labels := map[string]any{nameLabel: c.name}
	spec := map[string]any{
		"replicas": c.replicas,
		"selector": map[string]any{"matchLabels": map[string]any{nameLabel: c.name}},
		"template": map[string]any{
			"metadata": map[string]any{"labels": labels, "name": c.name, "namespace": rt.GetNamespace()},
			"spec":     c.podSpec,
		},
	}
	gvr, kind := Deployments, "Deployment"
	if len(c.claims) > 0 {
		gvr, kind = StatefulSets, "StatefulSet"
		spec["serviceName"] = c.name
		spec["podManagementPolicy"] = "Parallel"
		var claims []any
		for _, vct := range c.claims {
			v, _ := vct.(map[string]any)
			claims = append(claims, map[string]any{"metadata": map[string]any{"name": v["name"]}, "spec": v["spec"]})
		}
		spec["volumeClaimTemplates"] = claims
	}
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps/v1", "kind": kind,
		"metadata": map[string]any{"name": c.name, "namespace": rt.GetNamespace(), "labels": labels},
		"spec":     spec,
	}}
	obj.SetOwnerReferences(ownedBy(rt))
	return gvr, obj
}

// ownedBy is the controller reference the operator sets on what it makes for a resource
// (operator/controllers/mlops/utils.go: setControllerReferences).
func ownedBy(owner *unstructured.Unstructured) []metav1.OwnerReference {
	controller := true
	return []metav1.OwnerReference{{APIVersion: owner.GetAPIVersion(), Kind: owner.GetKind(), Name: owner.GetName(),
		UID: owner.GetUID(), Controller: &controller, BlockOwnerDeletion: &controller}}
}

// ensureComponents creates (or, when the SeldonConfig changed what it asks for, updates) a runtime's component
// workloads and its two Services. The controller updates a workload only when the desired spec differs from the
// live one (statefulset_reconciler.go: getReconcileOperation), so live fields it did not set stay.
func (m *ControlPlane) ensureComponents(ctx context.Context, w *world, rt *unstructured.Unstructured) error {
	ns := rt.GetNamespace()
	for _, c := range runtimeComponents(w, rt) {
		gvr, desired := workload(rt, c)
		live := w.object(gvr, ns, c.name)
		if live == nil {
			if _, err := m.Client.Resource(gvr).Namespace(ns).Create(ctx, desired, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
				return fmt.Errorf("creating %s %s/%s: %w", desired.GetKind(), ns, c.name, err)
			}
			m.logf("%s %s/%s created for SeldonRuntime %s", desired.GetKind(), ns, c.name, rt.GetName())
			continue
		}
		if specCovers(live.Object["spec"], desired.Object["spec"]) {
			continue
		}
		desired.SetResourceVersion(live.GetResourceVersion())
		if _, err := m.Client.Resource(gvr).Namespace(ns).Update(ctx, desired, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("updating %s %s/%s: %w", desired.GetKind(), ns, c.name, err)
		}
	}
	// The service accounts the components' and Servers' pods run as (rbac_reconciler.go: getServiceAccounts); the
	// Roles and RoleBindings beside them grant API access only running containers would use, and are not made.
	for _, name := range []string{"hodometer", seldonspec.SchedulerService, "seldon-server"} {
		if w.object(ServiceAccounts, ns, name) != nil {
			continue
		}
		sa := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ServiceAccount",
			"metadata": map[string]any{"name": name, "namespace": ns}}}
		sa.SetOwnerReferences(ownedBy(rt))
		if _, err := m.Client.Resource(ServiceAccounts).Namespace(ns).Create(ctx, sa, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating ServiceAccount %s/%s: %w", ns, name, err)
		}
	}
	for name, ports := range map[string][]any{seldonspec.SchedulerService: schedulerServicePorts, seldonspec.MeshService: meshServicePorts} {
		if w.object(Services, ns, name) != nil {
			continue
		}
		// getServiceType: the runtime's override, else the SeldonConfig's serviceType, else LoadBalancer.
		svc := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1", "kind": "Service",
			"metadata": map[string]any{"name": name, "namespace": ns, "labels": map[string]any{nameLabel: name}},
			"spec": map[string]any{"type": serviceType(w, rt, componentOfService(name)), "ports": ports,
				"selector": map[string]any{nameLabel: componentOfService(name)}},
		}}
		if _, err := m.Client.Resource(Services).Namespace(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating Service %s/%s: %w", ns, name, err)
		}
		m.logf("Service %s/%s created for SeldonRuntime %s", ns, name, rt.GetName())
	}
	return nil
}

// componentOfService is the component a Service selects: seldon-mesh fronts envoy.
func componentOfService(service string) string {
	if service == seldonspec.MeshService {
		return seldonspec.EnvoyComponent
	}
	return service
}

func serviceType(w *world, rt *unstructured.Unstructured, component string) string {
	overrides, _, _ := unstructured.NestedSlice(rt.Object, "spec", "overrides")
	for _, o := range overrides {
		om, _ := o.(map[string]any)
		if om["name"] == component {
			if t, _ := om["serviceType"].(string); t != "" {
				return t
			}
		}
	}
	if t, _, _ := unstructured.NestedString(w.seldonConfig.Object, "spec", "config", "serviceConfig", "serviceType"); t != "" {
		return t
	}
	return "LoadBalancer"
}

// specCovers says whether every field desired sets has that value in live (fields the API server defaulted are
// left alone, as the controller's three-way patch leaves them). A zero value is covered by its absence: the
// controller compares typed objects marshalled to JSON (k8s-objectmatcher's Calculate, called by
// getReconcileOperation in operator/controllers/reconcilers/*/statefulset_reconciler.go and
// seldon/deployment_reconciler.go, v2.10.2), where the Kubernetes types' omitempty drops it, as the API server
// drops an env var's `value: ""`.
func specCovers(live, desired any) bool {
	if live == nil && zeroValue(desired) {
		return true
	}
	switch d := desired.(type) {
	case map[string]any:
		l, ok := live.(map[string]any)
		if !ok {
			return false
		}
		for k, v := range d {
			if !specCovers(l[k], v) {
				return false
			}
		}
		return true
	case []any:
		l, ok := live.([]any)
		if !ok || len(l) != len(d) {
			return false
		}
		for i := range d {
			if !specCovers(l[i], d[i]) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(normalize(live), normalize(desired))
}

func zeroValue(v any) bool {
	switch t := v.(type) {
	case nil:
		return true
	case string:
		return t == ""
	case bool:
		return !t
	case int, int64, float64:
		return normalize(t) == float64(0)
	case map[string]any:
		return len(t) == 0
	case []any:
		return len(t) == 0
	}
	return false
}

// componentReady is the condition the controller reads off a component's workload status: ready replicas at least
// the status's replicas, spec.replicas unread (statefulset_reconciler.go and deployment_reconciler.go:
// GetConditions). A workload created a moment ago has no status yet, so 0 >= 0: True at once.
func componentReady(w *world, ns string, c component, conditionType string) condition {
	gvr, kind := Deployments, "Deployment"
	if len(c.claims) > 0 {
		gvr, kind = StatefulSets, "StatefulSet"
	}
	live := w.object(gvr, ns, c.name)
	var ready, replicas int64
	if live != nil {
		ready, _, _ = unstructured.NestedInt64(live.Object, "status", "readyReplicas")
		replicas, _, _ = unstructured.NestedInt64(live.Object, "status", "replicas")
	}
	if ready >= replicas {
		return condition{Type: conditionType, Status: "True", Reason: kind + " replicas matches desired replicas"}
	}
	return condition{Type: conditionType, Status: "False", Reason: kind + " replicas does not match desired replicas"}
}
