package seldonsim

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/seldon-ab/provisioner/internal/seldonspec"
)

// condition is a knative-style status condition, the shape Seldon's resources report.
type condition struct {
	Type, Status, Reason, Message string
}

func trueCond(t string) condition { return condition{Type: t, Status: "True"} }

func falseCond(t, reason, message string) condition {
	return condition{Type: t, Status: "False", Reason: reason, Message: message}
}

// readyOver is the Ready of a knative condition set over deps: False if one is False (with its message), Unknown
// if one is missing, True only when all are True (knative.dev/pkg apis/condition_set.go).
func readyOver(conds []condition, deps []string) condition {
	byType := map[string]condition{}
	for _, c := range conds {
		byType[c.Type] = c
	}
	for _, d := range deps {
		if c, ok := byType[d]; ok && c.Status == "False" {
			return falseCond(seldonspec.ConditionReady, c.Reason, c.Message)
		}
	}
	for _, d := range deps {
		if c, ok := byType[d]; !ok || c.Status != "True" {
			return condition{Type: seldonspec.ConditionReady, Status: "Unknown", Reason: "NotAllReady", Message: d + " is not set"}
		}
	}
	return trueCond(seldonspec.ConditionReady)
}

// settle adds finalizer (if any) and writes conditions and extra status fields when they differ from the
// object's, keeping each unchanged condition's lastTransitionTime. Nothing else: Seldon's controller never writes
// status.observedGeneration (none in operator/apis, its controllers or its scheduler client, v2.10.2), so the
// sandbox shows, as a cluster does, a status that predates a spec change.
func (m *ControlPlane) settle(ctx context.Context, gvr schema.GroupVersionResource, obj *unstructured.Unstructured, finalizer string,
	conds []condition, extra map[string]any) error {
	client := m.Client.Resource(gvr).Namespace(obj.GetNamespace())
	if finalizer != "" && !slices.Contains(obj.GetFinalizers(), finalizer) {
		obj = obj.DeepCopy()
		obj.SetFinalizers(append(obj.GetFinalizers(), finalizer))
		updated, err := client.Update(ctx, obj, metav1.UpdateOptions{})
		if err != nil {
			return fmt.Errorf("adding %s to %s %s/%s: %w", finalizer, obj.GetKind(), obj.GetNamespace(), obj.GetName(), err)
		}
		obj = updated
	}
	old, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	previous := map[string]map[string]any{}
	for _, c := range old {
		if cm, ok := c.(map[string]any); ok {
			previous[fmt.Sprint(cm["type"])] = cm
		}
	}
	now := time.Now().UTC().Format(time.RFC3339)
	var next []any
	for _, c := range conds {
		entry := map[string]any{"type": c.Type, "status": c.Status, "lastTransitionTime": now}
		if c.Reason != "" {
			entry["reason"] = c.Reason
		}
		if c.Message != "" {
			entry["message"] = c.Message
		}
		if p := previous[c.Type]; p != nil && p["status"] == c.Status && p["lastTransitionTime"] != nil {
			entry["lastTransitionTime"] = p["lastTransitionTime"]
		}
		next = append(next, entry)
	}
	status, _, _ := unstructured.NestedMap(obj.Object, "status")
	wanted := map[string]any{}
	for k, v := range status {
		wanted[k] = v
	}
	wanted["conditions"] = next
	for k, v := range extra {
		wanted[k] = v
	}
	if reflect.DeepEqual(normalize(status), normalize(wanted)) {
		return nil
	}
	obj = obj.DeepCopy()
	if err := unstructured.SetNestedField(obj.Object, wanted, "status"); err != nil {
		return err
	}
	if _, err := client.UpdateStatus(ctx, obj, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("status of %s %s/%s: %w", obj.GetKind(), obj.GetNamespace(), obj.GetName(), err)
	}
	m.logf("%s %s/%s: %s", obj.GetKind(), obj.GetNamespace(), obj.GetName(), summary(conds))
	return nil
}

// release removes finalizer from an object being deleted, letting the API server finish the delete.
func (m *ControlPlane) release(ctx context.Context, gvr schema.GroupVersionResource, obj *unstructured.Unstructured, finalizer string) error {
	if !slices.Contains(obj.GetFinalizers(), finalizer) {
		return nil
	}
	obj = obj.DeepCopy()
	obj.SetFinalizers(slices.DeleteFunc(obj.GetFinalizers(), func(f string) bool { return f == finalizer }))
	if _, err := m.Client.Resource(gvr).Namespace(obj.GetNamespace()).Update(ctx, obj, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("releasing %s of %s %s/%s: %w", finalizer, obj.GetKind(), obj.GetNamespace(), obj.GetName(), err)
	}
	m.logf("%s %s/%s: %s released", obj.GetKind(), obj.GetNamespace(), obj.GetName(), finalizer)
	return nil
}

// normalize makes JSON-decoded numbers and Go ints compare equal.
func normalize(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, x := range t {
			out[k] = normalize(x)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = normalize(x)
		}
		return out
	case int:
		return float64(t)
	case int64:
		return float64(t)
	case float64:
		return t
	default:
		return v
	}
}

func summary(conds []condition) string {
	s := ""
	for _, c := range conds {
		if c.Type == seldonspec.ConditionReady {
			s = "Ready=" + c.Status
			if c.Message != "" {
				s += " (" + c.Message + ")"
			}
		}
	}
	return s
}

func (m *ControlPlane) logf(format string, args ...any) {
	if m.Log != nil {
		fmt.Fprintf(m.Log, "seldonsim: "+format+"\n", args...)
	}
}
