package ngfsim

import (
	"context"
	"reflect"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/seldon-ab/provisioner/internal/gatewayapi"
)

// Statuses as NGF writes them (internal/controller/status): every condition carries the object's generation as
// observedGeneration, and all of one write share one lastTransitionTime; a status is written only when a
// condition's type, status, reason, message or observedGeneration (or the addresses, listeners, parents) changed
// (status/conditions.go: ConditionsEqual), so an unchanged one keeps its times.

func (c *Controller) writeClassStatus(ctx context.Context, obj *unstructured.Unstructured, proxyErr error) error {
	conds := []metav1.Condition{
		condition(gatewayapi.ConditionAccepted, true, "Accepted", "The GatewayClass is accepted"),
		condition("SupportedVersion", true, "SupportedVersion", "The Gateway API CRD versions are supported"),
	}
	if _, found, _ := unstructured.NestedMap(obj.Object, "spec", "parametersRef"); found {
		// graph/gatewayclass.go: validateGatewayClass.
		if proxyErr != nil {
			conds = append(conds, condition(gatewayapi.ConditionResolvedRefs, false, "ParametersRefNotFound", "The ParametersRef resource could not be found"),
				condition(gatewayapi.ConditionAccepted, true, "InvalidParameters",
					"The GatewayClass is accepted, but ParametersRef is ignored due to an error: "+proxyErr.Error()))
		} else {
			conds = append(conds, condition(gatewayapi.ConditionResolvedRefs, true, "ResolvedRefs", "The ParametersRef resource is resolved"))
		}
	}
	return c.writeStatus(ctx, GatewayClasses, obj, map[string]any{"conditions": dedupe(conds)})
}

// writeGatewayStatus (status/prepare_requests.go: prepareGatewayRequest). Programmed=True is written whether or
// not a data plane runs: NGF's config push succeeds with no agent connected (handler.go: sendNginxConfig).
func (c *Controller) writeGatewayStatus(ctx context.Context, obj *unstructured.Unstructured, gs *GatewayState, class string) error {
	if gs.Invalid != "" {
		return c.writeStatus(ctx, Gateways, obj, map[string]any{"conditions": []metav1.Condition{
			condition(gatewayapi.ConditionAccepted, false, gs.Invalid, "Only IPAddress type addresses are supported"),
		}})
	}
	var listeners []any
	for _, l := range gs.gw.Spec.Listeners {
		listeners = append(listeners, map[string]any{
			"name": l.Name,
			"supportedKinds": []any{
				map[string]any{"group": gatewayapi.Group, "kind": gatewayapi.KindHTTPRoute},
				map[string]any{"group": gatewayapi.Group, "kind": "GRPCRoute"},
			},
			"attachedRoutes": int64(gs.attached[l.Name]),
			"conditions": []metav1.Condition{ // conditions.go: NewDefaultListenerConditions
				condition(gatewayapi.ConditionAccepted, true, "Accepted", "The Listener is accepted"),
				condition(gatewayapi.ConditionProgrammed, true, "Programmed", "The Listener is programmed"),
				condition(gatewayapi.ConditionResolvedRefs, true, "ResolvedRefs", "All references are resolved"),
				condition(gatewayapi.ConditionConflicted, false, "NoConflicts", "No conflicts"),
			},
		})
	}
	status := map[string]any{
		"conditions": []metav1.Condition{
			condition(gatewayapi.ConditionAccepted, true, "Accepted", "The Gateway is accepted"),
			condition(gatewayapi.ConditionProgrammed, true, "Programmed", "The Gateway is programmed"),
		},
		"listeners":            listeners,
		"attachedListenerSets": int64(0),
	}
	// handler.go: getGatewayAddressesForStatus: the provisioned Service's load-balancer IPs, then spec.addresses.
	var addresses []any
	svc, err := c.Client.CoreV1().Services(gs.gw.Namespace).Get(ctx, gatewayapi.ProvisionedName(gs.gw.Name, class), metav1.GetOptions{})
	if err == nil {
		if svc.Spec.Type == corev1.ServiceTypeLoadBalancer {
			for _, in := range svc.Status.LoadBalancer.Ingress {
				if in.IP != "" {
					addresses = append(addresses, map[string]any{"type": "IPAddress", "value": in.IP})
				}
			}
		} else if svc.Spec.ClusterIP != "" {
			addresses = append(addresses, map[string]any{"type": "IPAddress", "value": svc.Spec.ClusterIP})
		}
	}
	for _, a := range gs.gw.Spec.Addresses {
		addresses = append(addresses, map[string]any{"type": "IPAddress", "value": a.Value})
	}
	if len(addresses) > 0 {
		status["addresses"] = addresses
	}
	return c.writeStatus(ctx, Gateways, obj, status)
}

// writeRouteStatus writes one status.parents entry per parentRef naming a Gateway of the class, keeping other
// controllers' entries (status/prepare_requests.go: prepareRouteStatus; status_setters.go:
// newHTTPRouteStatusSetter). Its conditions: the defaults, then the route's own, then this parent's failure,
// the last of each type winning.
func (c *Controller) writeRouteStatus(ctx context.Context, obj *unstructured.Unstructured, rs *RouteState) error {
	var parents []any
	existing, _, _ := unstructured.NestedSlice(obj.Object, "status", "parents")
	for _, p := range existing {
		if pm, ok := p.(map[string]any); ok && pm["controllerName"] != gatewayapi.ControllerName {
			parents = append(parents, pm)
		}
	}
	for _, p := range rs.Parents {
		ref := rs.route.Spec.ParentRefs[p.Index]
		entry := map[string]any{"name": ref.Name, "namespace": deref(ref.Namespace, rs.route.Namespace), "kind": gatewayapi.KindGateway,
			"group": gatewayapi.Group}
		if ref.SectionName != nil {
			entry["sectionName"] = *ref.SectionName
		}
		conds := []metav1.Condition{condition(gatewayapi.ConditionAccepted, true, "Accepted", "The Route is accepted"), rs.resolvedRefs}
		conds = append(conds, rs.routeConds...)
		if p.failure != nil {
			conds = append(conds, *p.failure)
		}
		parents = append(parents, map[string]any{"parentRef": entry, "controllerName": gatewayapi.ControllerName, "conditions": dedupe(conds)})
	}
	return c.writeStatus(ctx, HTTPRoutes, obj, map[string]any{"parents": parents})
}

// dedupe keeps the last condition of each type, in the order of each type's last occurrence
// (conditions.go: DeduplicateConditions).
func dedupe(conds []metav1.Condition) []metav1.Condition {
	last := map[string]int{}
	for i, c := range conds {
		last[c.Type] = i
	}
	var out []metav1.Condition
	for i, c := range conds {
		if last[c.Type] == i {
			out = append(out, c)
		}
	}
	return out
}

// writeStatus stamps every condition in status (at any depth) with the object's generation and one time, and writes
// it unless it equals the live status but for the times.
func (c *Controller) writeStatus(ctx context.Context, gvr schema.GroupVersionResource, obj *unstructured.Unstructured, status map[string]any) error {
	generation := obj.GetGeneration()
	now := metav1.NewTime(time.Now().UTC().Truncate(time.Second))
	next := stamp(status, generation, now)
	live, _, _ := unstructured.NestedFieldCopy(obj.Object, "status")
	if reflect.DeepEqual(withoutTimes(live), withoutTimes(next)) {
		return nil
	}
	updated := obj.DeepCopy()
	updated.Object["status"] = next
	_, err := c.Dynamic.Resource(gvr).Namespace(obj.GetNamespace()).UpdateStatus(ctx, updated, metav1.UpdateOptions{})
	return err
}

// stamp turns the status into plain JSON values, each condition with observedGeneration and lastTransitionTime.
func stamp(v any, generation int64, now metav1.Time) any {
	switch t := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, val := range t {
			out[k] = stamp(val, generation, now)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, val := range t {
			out[i] = stamp(val, generation, now)
		}
		return out
	case []metav1.Condition:
		out := make([]any, len(t))
		for i, c := range t {
			out[i] = map[string]any{"type": c.Type, "status": string(c.Status), "reason": c.Reason, "message": c.Message,
				"observedGeneration": generation, "lastTransitionTime": now.UTC().Format(time.RFC3339)}
		}
		return out
	case int:
		return int64(t)
	}
	return v
}

// withoutTimes is a status with its lastTransitionTimes dropped, numbers as int64, for comparison.
func withoutTimes(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, val := range t {
			if k != "lastTransitionTime" {
				out[k] = withoutTimes(val)
			}
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, val := range t {
			out[i] = withoutTimes(val)
		}
		return out
	case float64:
		return int64(t)
	case int:
		return int64(t)
	}
	return v
}
