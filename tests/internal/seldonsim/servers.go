package seldonsim

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/seldon-ab/provisioner/internal/seldonspec"
)

// Labels the controller puts on a Server's StatefulSet and pods (operator/pkg/constants/constants.go).
const (
	serverLabelName  = "seldon-server-name"
	serverLabelValue = "seldon-server"
)

// serverWorkload is the Server's StatefulSet as the controller builds it (operator/controllers/reconcilers/server/
// statefulset_reconciler.go: toStatefulSet), from the ServerConfig's pod spec merged with the Server's
// (reconcilers/common/patch_utils.go: MergePodSpecs, containers merged by name).
func serverWorkload(s, config *unstructured.Unstructured) *unstructured.Unstructured {
	podSpec, _, _ := unstructured.NestedMap(config.Object, "spec", "podSpec")
	if override, found, _ := unstructured.NestedMap(s.Object, "spec", "podSpec"); found {
		podSpec = mergePodSpec(podSpec, override)
	}
	replicas, found, _ := unstructured.NestedInt64(s.Object, "spec", "replicas")
	if !found {
		replicas = 1
	}
	spec := map[string]any{
		"serviceName": s.GetName(), "replicas": replicas, "podManagementPolicy": "Parallel",
		"selector": map[string]any{"matchLabels": map[string]any{serverLabelName: s.GetName()}},
		"template": map[string]any{
			"metadata": map[string]any{"name": s.GetName(), "namespace": s.GetNamespace(),
				"labels": map[string]any{serverLabelName: s.GetName(), nameLabel: serverLabelValue}},
			"spec": podSpec,
		},
	}
	if claims, found, _ := unstructured.NestedSlice(config.Object, "spec", "volumeClaimTemplates"); found {
		var vcts []any
		for _, c := range claims {
			cm, _ := c.(map[string]any)
			vcts = append(vcts, map[string]any{"metadata": map[string]any{"name": cm["name"]}, "spec": cm["spec"]})
		}
		spec["volumeClaimTemplates"] = vcts
	}
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps/v1", "kind": "StatefulSet",
		"metadata": map[string]any{"name": s.GetName(), "namespace": s.GetNamespace(), "labels": map[string]any{nameLabel: serverLabelValue}},
		"spec":     spec,
	}}
	obj.SetOwnerReferences(ownedBy(s))
	return obj
}

// mergePodSpec overrides base with override; containers are merged by name, the others' fields replaced.
func mergePodSpec(base, override map[string]any) map[string]any {
	out := deepCopyMap(base)
	for k, v := range override {
		if k != "containers" {
			out[k] = v
		}
	}
	overrides, _ := override["containers"].([]any)
	containers, _ := out["containers"].([]any)
	for _, o := range overrides {
		om, _ := o.(map[string]any)
		merged := false
		for i, c := range containers {
			if cm, _ := c.(map[string]any); cm["name"] == om["name"] {
				containers[i], merged = mergeMaps(cm, om), true
			}
		}
		if !merged {
			containers = append(containers, om)
		}
	}
	out["containers"] = containers
	return out
}

func mergeMaps(base, override map[string]any) map[string]any {
	out := deepCopyMap(base)
	for k, v := range override {
		if bm, ok := out[k].(map[string]any); ok {
			if om, ok := v.(map[string]any); ok {
				out[k] = mergeMaps(bm, om)
				continue
			}
		}
		out[k] = v
	}
	return out
}

func deepCopyMap(m map[string]any) map[string]any {
	return runtimeDeepCopy(m).(map[string]any)
}

func runtimeDeepCopy(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			out[k] = runtimeDeepCopy(x)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = runtimeDeepCopy(x)
		}
		return out
	}
	return v
}

// ensureServerWorkload creates the Server's StatefulSet, or updates it when the desired spec changed.
func (m *ControlPlane) ensureServerWorkload(ctx context.Context, w *world, s, config *unstructured.Unstructured) error {
	desired := serverWorkload(s, config)
	live := w.object(StatefulSets, s.GetNamespace(), s.GetName())
	client := m.Client.Resource(StatefulSets).Namespace(s.GetNamespace())
	switch {
	case live == nil:
		if _, err := client.Create(ctx, desired, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating the StatefulSet of Server %s/%s: %w", s.GetNamespace(), s.GetName(), err)
		}
		m.logf("StatefulSet %s/%s created for Server %s", s.GetNamespace(), s.GetName(), s.GetName())
	case !specCovers(live.Object["spec"], desired.Object["spec"]):
		desired.SetResourceVersion(live.GetResourceVersion())
		if _, err := client.Update(ctx, desired, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("updating the StatefulSet of Server %s/%s: %w", s.GetNamespace(), s.GetName(), err)
		}
	}
	return nil
}

// serverPods are the pods of a Server's StatefulSet, by ordinal.
func serverPods(w *world, s *unstructured.Unstructured) []*unstructured.Unstructured {
	var pods []*unstructured.Unstructured
	for _, p := range w.objects[Pods] {
		if p.GetNamespace() == s.GetNamespace() && p.GetLabels()[serverLabelName] == s.GetName() {
			pods = append(pods, p)
		}
	}
	sort.Slice(pods, func(a, b int) bool { return ordinal(pods[a].GetName()) < ordinal(pods[b].GetName()) })
	return pods
}

func ordinal(pod string) int {
	n, _ := strconv.Atoi(pod[strings.LastIndex(pod, "-")+1:])
	return n
}

func podReady(p *unstructured.Unstructured) bool {
	conds, _, _ := unstructured.NestedSlice(p.Object, "status", "conditions")
	for _, c := range conds {
		cm, _ := c.(map[string]any)
		if cm["type"] == "Ready" {
			return cm["status"] == "True"
		}
	}
	return false
}

// agentExits writes, on each pod of a Server whose agent exits at start-up (an rclone Secret missing or malformed:
// scheduler/pkg/agent/rclone/rclone_config.go, scheduler/cmd/agent/main.go log.Fatal), what its kubelet would:
// the agent container restarted with back-off (waiting CrashLoopBackOff, last terminated with exit code 1; its
// error is only in its log: the ServerConfig sets no FallbackToLogsOnError) and the pod not Ready; and, once the
// agent can start, the container running and the pod Ready again. An agent that started keeps running when a
// Secret goes: it reads them again only on a change of its configuration or a failed copy, and then logs or
// returns the error (rclone.go listenForConfigUpdates, copyWithConfigResync). kwok wrote the pod's first status and
// does not touch it again. It returns the pods whose agent runs.
func (m *ControlPlane) agentExits(ctx context.Context, w *world, s *unstructured.Unstructured, cannotStart bool) (map[string]bool, error) {
	running := map[string]bool{}
	for _, pod := range serverPods(w, s) {
		// A pod made again under the same name is a new pod, with a new UID.
		key := pod.GetNamespace() + "/" + pod.GetName() + "/" + string(pod.GetUID())
		m.mu.Lock()
		if m.startedAgents == nil {
			m.startedAgents = map[string]bool{}
		}
		started := m.startedAgents[key]
		if !cannotStart {
			m.startedAgents[key] = true
		}
		m.mu.Unlock()
		exits := cannotStart && !started
		if !exits {
			running[pod.GetName()] = true
		}
		statuses, _, _ := unstructured.NestedSlice(pod.Object, "status", "containerStatuses")
		changed := false
		for i, st := range statuses {
			sm, _ := st.(map[string]any)
			if sm["name"] != seldonspec.AgentContainer {
				continue
			}
			_, crashing := sm["state"].(map[string]any)["waiting"]
			switch {
			case exits && !crashing:
				restarts, _ := sm["restartCount"].(int64)
				now := time.Now().UTC().Format(time.RFC3339)
				sm["ready"], sm["started"], sm["restartCount"] = false, false, restarts+1
				sm["lastState"] = map[string]any{"terminated": map[string]any{"exitCode": int64(1), "reason": "Error", "startedAt": now, "finishedAt": now}}
				sm["state"] = map[string]any{"waiting": map[string]any{"reason": "CrashLoopBackOff",
					"message": fmt.Sprintf("back-off 10s restarting failed container=%s pod=%s_%s(%s)", seldonspec.AgentContainer,
						pod.GetName(), pod.GetNamespace(), pod.GetUID())}}
				changed = true
			case !exits && crashing:
				sm["ready"], sm["started"] = true, true
				sm["state"] = map[string]any{"running": map[string]any{"startedAt": time.Now().UTC().Format(time.RFC3339)}}
				changed = true
			}
			statuses[i] = sm
		}
		if !changed {
			continue
		}
		ready := "True"
		if exits {
			ready = "False"
		}
		conds, _, _ := unstructured.NestedSlice(pod.Object, "status", "conditions")
		for i, c := range conds {
			cm, _ := c.(map[string]any)
			if cm["type"] == "Ready" || cm["type"] == "ContainersReady" {
				cm["status"] = ready
				cm["lastTransitionTime"] = time.Now().UTC().Format(time.RFC3339)
			}
			conds[i] = cm
		}
		pod = pod.DeepCopy()
		_ = unstructured.SetNestedSlice(pod.Object, statuses, "status", "containerStatuses")
		_ = unstructured.SetNestedSlice(pod.Object, conds, "status", "conditions")
		if _, err := m.Client.Resource(Pods).Namespace(pod.GetNamespace()).UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
			return nil, fmt.Errorf("status of pod %s/%s: %w", pod.GetNamespace(), pod.GetName(), err)
		}
		m.logf("pod %s/%s: agent %s", pod.GetNamespace(), pod.GetName(), map[bool]string{true: "exits at start-up (CrashLoopBackOff)", false: "running"}[exits])
	}
	return running, nil
}

// serverCondition is StatefulSetOrDeploymentReady as the controller reads it: ready replicas at least
// spec.replicas (server/statefulset_reconciler.go: GetConditions).
func serverCondition(w *world, s *unstructured.Unstructured) condition {
	live := w.object(StatefulSets, s.GetNamespace(), s.GetName())
	if live == nil {
		return falseCond(seldonspec.ServerStatefulSetReady, "StatefulSet replicas does not match desired replicas", "")
	}
	ready, _, _ := unstructured.NestedInt64(live.Object, "status", "readyReplicas")
	replicas, _, _ := unstructured.NestedInt64(live.Object, "spec", "replicas")
	if ready >= replicas {
		return condition{Type: seldonspec.ServerStatefulSetReady, Status: "True", Reason: "StatefulSet replicas matches desired replicas"}
	}
	return falseCond(seldonspec.ServerStatefulSetReady, "StatefulSet replicas does not match desired replicas", "")
}
