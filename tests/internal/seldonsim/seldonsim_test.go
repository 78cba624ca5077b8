package seldonsim_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	dynamicfake "k8s.io/client-go/dynamic/fake"

	"github.com/seldon-ab/provisioner/internal/seldonspec"
	"github.com/seldon-ab/provisioner/tests/internal/seldonsim"
)

const api = "mlops.seldon.io/v1alpha1"

func object(apiVersion, kind, ns, name string, fields map[string]any) *unstructured.Unstructured {
	o := map[string]any{"apiVersion": apiVersion, "kind": kind, "metadata": map[string]any{"name": name, "namespace": ns}}
	for k, v := range fields {
		o[k] = v
	}
	u := &unstructured.Unstructured{Object: o}
	u.SetUID(types.UID(kind + "/" + ns + "/" + name)) // the API server gives every object one
	return u
}

// storeRemote is the body of the stack's rclone Secret (components/modelstore.RcloneConfig), credentials aside.
const storeRemote = "name: s3\ntype: s3\nparameters:\n  provider: Minio\n  endpoint: http://minio.minio:9000\n"

// rcloneSecret is an rclone Secret as the API server returns it: its one key's value base64-encoded in data.
func rcloneSecret(ns, name, body string) *unstructured.Unstructured {
	return object("v1", "Secret", ns, name, map[string]any{"data": map[string]any{"remote": base64.StdEncoding.EncodeToString([]byte(body))}})
}

// cluster is the field setup as the stack now makes it: the setup chart's controller, SeldonConfig and
// ServerConfig (as 2.10.2 renders them), one runtime with the Kafka parts and hodometer off, the rclone Secrets,
// a 2Gi Server, two 1Gi Models and a 70/30 Experiment. Each test edits it.
type cluster struct {
	clusterwide, watch string
	serverMemory       string
	objects            map[string]*unstructured.Unstructured
}

func fieldSetup() *cluster {
	c := &cluster{clusterwide: "false", serverMemory: "2Gi", objects: map[string]*unstructured.Unstructured{}}
	add := func(key string, o *unstructured.Unstructured) { c.objects[key] = o }
	component := func(name, image string, claims bool) map[string]any {
		c := map[string]any{"name": name, "podSpec": map[string]any{"containers": []any{map[string]any{"name": name, "image": image}}}}
		if claims {
			c["volumeClaimTemplates"] = []any{map[string]any{"name": "scheduler-state", "spec": map[string]any{
				"accessModes": []any{"ReadWriteOnce"}, "resources": map[string]any{"requests": map[string]any{"storage": "1Gi"}}}}}
		}
		return c
	}
	add("seldonconfig", object(api, "SeldonConfig", "seldon-system", "default", map[string]any{"spec": map[string]any{
		"components": []any{component("seldon-scheduler", "docker.io/seldonio/seldon-scheduler:2.10.2", true),
			component("seldon-envoy", "docker.io/seldonio/seldon-envoy:2.10.2", false),
			component("hodometer", "docker.io/seldonio/seldon-hodometer:2.10.2", false)},
		"config": map[string]any{"agentConfig": map[string]any{"rclone": map[string]any{"config_secrets": []any{"seldon-rclone-gs-public"}}}}}}))
	add("serverconfig", object(api, "ServerConfig", "seldon-system", "mlserver", map[string]any{"spec": map[string]any{"podSpec": map[string]any{
		"containers": []any{
			map[string]any{"name": "agent", "env": []any{map[string]any{"name": "SELDON_SERVER_CAPABILITIES",
				"value": "mlserver,alibi-detect,alibi-explain,huggingface,lightgbm,mlflow,python,sklearn,spark-mlib,xgboost"},
				map[string]any{"name": "SELDON_OVERCOMMIT_PERCENTAGE", "value": "10"}}},
			map[string]any{"name": "mlserver", "resources": map[string]any{"requests": map[string]any{"memory": "1Gi"}, "limits": map[string]any{"memory": "1Gi"}}},
		}}}}))
	add("runtime", runtimeIn("seldon-system"))
	add("secret-store", rcloneSecret("seldon-system", "model-store-rclone", storeRemote))
	add("secret-gs", rcloneSecret("seldon-system", "seldon-rclone-gs-public", seldonspec.PublicGCSRemote))
	add("server", serverIn("seldon-system"))
	add("model-a", modelIn("seldon-system", "baseline-predictor", 1))
	add("model-b", modelIn("seldon-system", "enhanced-predictor", 2))
	add("experiment", object(api, "Experiment", "seldon-system", "financial-ab-test-experiment", map[string]any{"spec": map[string]any{
		"default": "baseline-predictor", "candidates": []any{
			map[string]any{"name": "baseline-predictor", "weight": int64(70)}, map[string]any{"name": "enhanced-predictor", "weight": int64(30)}}}}))
	return c
}

func runtimeIn(ns string) *unstructured.Unstructured {
	var overrides []any
	for _, off := range []string{"seldon-dataflow-engine", "seldon-modelgateway", "seldon-pipelinegateway", "hodometer"} {
		overrides = append(overrides, map[string]any{"name": off, "disable": true})
	}
	return object(api, "SeldonRuntime", ns, "seldon", map[string]any{"spec": map[string]any{"seldonConfig": "default", "overrides": overrides,
		"config": map[string]any{"agentConfig": map[string]any{"rclone": map[string]any{"config_secrets": []any{"model-store-rclone"}}}}}})
}

func serverIn(ns string) *unstructured.Unstructured {
	return object(api, "Server", ns, "mlserver", map[string]any{"spec": map[string]any{"serverConfig": "mlserver", "replicas": int64(1),
		"extraCapabilities": []any{"torch", "numpy"}}})
}

// modelIn makes a 1Gi Model; order sets its creation time (the scheduler's arrival order).
func modelIn(ns, name string, order int) *unstructured.Unstructured {
	m := object(api, "Model", ns, name, map[string]any{"spec": map[string]any{"storageUri": "s3://mlflow-artifacts/" + name,
		"requirements": []any{"mlflow", "torch", "numpy"}, "memory": "1Gi"}})
	m.SetCreationTimestamp(metav1.NewTime(time.Date(2026, 11, 26, 10, 0, order, 0, time.UTC)))
	return m
}

// run builds the cluster and reconciles it (with the cluster's own controllers played by kube between passes), with
// no agent: placed Models load at once.
func (c *cluster) run(t *testing.T) *result {
	t.Helper()
	return c.runWith(t, nil)
}

// runWith is run with agent loading the Models.
func (c *cluster) runWith(t *testing.T, agent seldonsim.Agent) *result {
	t.Helper()
	controller := object("apps/v1", "Deployment", "seldon-system", "seldon-v2-controller-manager", map[string]any{"spec": map[string]any{
		"template": map[string]any{"spec": map[string]any{"containers": []any{map[string]any{"name": "manager", "env": []any{
			map[string]any{"name": "CLUSTERWIDE", "value": c.clusterwide}, map[string]any{"name": "WATCH_NAMESPACES", "value": c.watch}}}}}}}})
	objs := []runtime.Object{controller}
	for _, o := range c.objects {
		if o.GetKind() == "Server" && c.serverMemory != "" {
			memory := map[string]any{"memory": c.serverMemory}
			_ = unstructured.SetNestedSlice(o.Object, []any{map[string]any{"name": "mlserver",
				"resources": map[string]any{"requests": memory, "limits": memory}}}, "spec", "podSpec", "containers")
		}
		objs = append(objs, o)
	}
	client := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), seldonsim.ListKinds, objs...)
	var log strings.Builder
	model := &seldonsim.ControlPlane{Client: client, Log: &log, Agent: agent}
	for range 4 {
		if err := model.Reconcile(context.Background()); err != nil {
			t.Fatalf("reconcile: %v", err)
		}
		kube(t, client)
	}
	return &result{t: t, client: client, log: log.String(), model: model}
}

// kube plays the cluster's own controllers and kubelet for the fake client: each workload gets its pods, Ready
// unless a status says otherwise, and its ready count; each Service with a selector gets an EndpointSlice of the
// ready pods it selects.
func kube(t *testing.T, client *dynamicfake.FakeDynamicClient) {
	t.Helper()
	ctx := context.Background()
	list := func(gvr schema.GroupVersionResource) []unstructured.Unstructured {
		l, err := client.Resource(gvr).Namespace("").List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return l.Items
	}
	for _, gvr := range []schema.GroupVersionResource{seldonsim.StatefulSets, seldonsim.Deployments} {
		for _, w := range list(gvr) {
			if w.GetName() == "seldon-v2-controller-manager" {
				continue
			}
			replicas, found, _ := unstructured.NestedInt64(w.Object, "spec", "replicas")
			if !found {
				replicas = 1
			}
			labels, _, _ := unstructured.NestedStringMap(w.Object, "spec", "template", "metadata", "labels")
			ready := int64(0)
			for i := range replicas {
				name := fmt.Sprintf("%s-%d", w.GetName(), i)
				pod, err := client.Resource(seldonsim.Pods).Namespace(w.GetNamespace()).Get(ctx, name, metav1.GetOptions{})
				if err != nil {
					pod = object("v1", "Pod", w.GetNamespace(), name, map[string]any{"status": map[string]any{
						"conditions":        []any{map[string]any{"type": "Ready", "status": "True"}},
						"containerStatuses": []any{map[string]any{"name": "agent", "ready": true, "state": map[string]any{"running": map[string]any{}}}}}})
					pod.SetLabels(labels)
					if pod, err = client.Resource(seldonsim.Pods).Namespace(w.GetNamespace()).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
						t.Fatal(err)
					}
				}
				conds, _, _ := unstructured.NestedSlice(pod.Object, "status", "conditions")
				if len(conds) > 0 && conds[0].(map[string]any)["status"] == "True" {
					ready++
				}
			}
			_ = unstructured.SetNestedField(w.Object, replicas, "status", "replicas")
			_ = unstructured.SetNestedField(w.Object, ready, "status", "readyReplicas")
			if _, err := client.Resource(gvr).Namespace(w.GetNamespace()).UpdateStatus(ctx, &w, metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	pods := list(seldonsim.Pods)
	for _, svc := range list(seldonsim.Services) {
		selector, _, _ := unstructured.NestedStringMap(svc.Object, "spec", "selector")
		var endpoints []any
		for _, p := range pods {
			matches := p.GetNamespace() == svc.GetNamespace() && len(selector) > 0
			for k, v := range selector {
				matches = matches && p.GetLabels()[k] == v
			}
			conds, _, _ := unstructured.NestedSlice(p.Object, "status", "conditions")
			if matches {
				endpoints = append(endpoints, map[string]any{"conditions": map[string]any{"ready": conds[0].(map[string]any)["status"] == "True"}})
			}
		}
		slice := object("discovery.k8s.io/v1", "EndpointSlice", svc.GetNamespace(), svc.GetName(), map[string]any{"endpoints": endpoints})
		slice.SetLabels(map[string]string{"kubernetes.io/service-name": svc.GetName()})
		_ = client.Resource(seldonsim.EndpointSlices).Namespace(svc.GetNamespace()).Delete(ctx, svc.GetName(), metav1.DeleteOptions{})
		if _, err := client.Resource(seldonsim.EndpointSlices).Namespace(svc.GetNamespace()).Create(ctx, slice, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

type result struct {
	t      *testing.T
	client *dynamicfake.FakeDynamicClient
	log    string
	model  *seldonsim.ControlPlane
}

func (r *result) get(gvr schema.GroupVersionResource, ns, name string) *unstructured.Unstructured {
	r.t.Helper()
	o, err := r.client.Resource(gvr).Namespace(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		r.t.Fatalf("get %s %s/%s: %v", gvr.Resource, ns, name, err)
	}
	return o
}

// update edits an object in the cluster, raising its generation when its spec changed, as the API server does.
func (r *result) update(t *testing.T, gvr schema.GroupVersionResource, name string, edit func(*unstructured.Unstructured)) {
	t.Helper()
	o := r.get(gvr, "seldon-system", name)
	before, _, _ := unstructured.NestedMap(o.Object, "spec")
	edit(o)
	if after, _, _ := unstructured.NestedMap(o.Object, "spec"); !reflect.DeepEqual(before, after) {
		o.SetGeneration(o.GetGeneration() + 1)
	}
	if _, err := r.client.Resource(gvr).Namespace("seldon-system").Update(context.Background(), o, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// cond is "Status: reason: message" of one condition (the parts it has), "" when absent.
func (r *result) cond(gvr schema.GroupVersionResource, ns, name, condType string) string {
	r.t.Helper()
	conds, _, _ := unstructured.NestedSlice(r.get(gvr, ns, name).Object, "status", "conditions")
	for _, c := range conds {
		m := c.(map[string]any)
		if m["type"] == condType {
			parts := []string{m["status"].(string)}
			for _, k := range []string{"reason", "message"} {
				if v, _ := m[k].(string); v != "" {
					parts = append(parts, v)
				}
			}
			return strings.Join(parts, ": ")
		}
	}
	return ""
}

// expectAgentCrashLooping checks that the pod's agent container waits in CrashLoopBackOff, as its kubelet shows an
// agent that exits at start.
func (r *result) expectAgentCrashLooping(pod string) {
	r.t.Helper()
	statuses, _, _ := unstructured.NestedSlice(r.get(seldonsim.Pods, "seldon-system", pod).Object, "status", "containerStatuses")
	if reason, _, _ := unstructured.NestedString(statuses[0].(map[string]any), "state", "waiting", "reason"); reason != "CrashLoopBackOff" {
		r.t.Errorf("the agent container of %s is %v, want waiting in CrashLoopBackOff", pod, statuses[0])
	}
}

func (r *result) expect(gvr schema.GroupVersionResource, ns, name, condType, want string) {
	r.t.Helper()
	if got := r.cond(gvr, ns, name, condType); got != want {
		r.t.Errorf("%s %s/%s %s = %q, want %q\nmodel log:\n%s", gvr.Resource, ns, name, condType, got, want, r.log)
	}
}

func TestTheFixedFieldSetupBecomesReady(t *testing.T) {
	r := fieldSetup().run(t)
	r.expect(seldonsim.SeldonRuntimes, "seldon-system", "seldon", "SchedulerReady", "True: StatefulSet replicas matches desired replicas")
	r.expect(seldonsim.SeldonRuntimes, "seldon-system", "seldon", "EnvoyReady", "True: Deployment replicas matches desired replicas")
	// The runtime's Ready needs all six components; four are disabled and never report.
	r.expect(seldonsim.SeldonRuntimes, "seldon-system", "seldon", "Ready", "Unknown: NotAllReady: DataflowEngineReady is not set")
	r.expect(seldonsim.SeldonRuntimes, "seldon-system", "seldon", "DataflowEngineReady", "")
	r.expect(seldonsim.Servers, "seldon-system", "mlserver", "Ready", "True")
	r.expect(seldonsim.Models, "seldon-system", "baseline-predictor", "Ready", "True: ModelAvailable")
	r.expect(seldonsim.Models, "seldon-system", "enhanced-predictor", "Ready", "True: ModelAvailable")
	r.expect(seldonsim.Experiments, "seldon-system", "financial-ab-test-experiment", "Ready", "True")
	for gvr, name := range map[schema.GroupVersionResource]string{seldonsim.Models: "baseline-predictor",
		seldonsim.Experiments: "financial-ab-test-experiment", seldonsim.SeldonRuntimes: "seldon"} {
		if len(r.get(gvr, "seldon-system", name).GetFinalizers()) != 1 {
			t.Errorf("%s %s has no finalizer", gvr.Resource, name)
		}
	}
	// The Server CRD requires these three status fields; the API server refuses a status without them.
	server := r.get(seldonsim.Servers, "seldon-system", "mlserver")
	loaded, _, _ := unstructured.NestedInt64(server.Object, "status", "loadedModels")
	replicas, _, _ := unstructured.NestedInt64(server.Object, "status", "replicas")
	selector, _, _ := unstructured.NestedString(server.Object, "status", "selector")
	if loaded != 2 || replicas != 1 || selector == "" {
		t.Errorf("server status loadedModels=%d replicas=%d selector=%q", loaded, replicas, selector)
	}
	if f := r.get(seldonsim.Servers, "seldon-system", "mlserver").GetFinalizers(); len(f) != 0 {
		t.Errorf("Servers carry no finalizer upstream; got %v", f)
	}
}

// Each of the four homelab faults, as the simulation reports it.
func TestTheFourHomelabFaults(t *testing.T) {
	t.Run("gs-public Secret missing: every agent exits", func(t *testing.T) {
		c := fieldSetup()
		delete(c.objects, "secret-gs")
		r := c.run(t)
		// The agent's exit shows on the Server's pod, as its kubelet reports it; the Server only counts ready pods.
		notReady := "False: StatefulSet replicas does not match desired replicas"
		r.expect(seldonsim.Servers, "seldon-system", "mlserver", "StatefulSetOrDeploymentReady", notReady)
		r.expect(seldonsim.Servers, "seldon-system", "mlserver", "Ready", notReady)
		r.expectAgentCrashLooping("mlserver-0")
		r.expect(seldonsim.Models, "seldon-system", "baseline-predictor", "Ready",
			"False: Failed to schedule model as no matching server had enough suitable replicas: ScheduleFailed")
		r.expect(seldonsim.Experiments, "seldon-system", "financial-ab-test-experiment", "ExperimentReady",
			"False: no live replica for model baseline-predictor for model route financial-ab-test-experiment.experiment")
	})
	t.Run("runtime Ready never turns True", func(t *testing.T) {
		r := fieldSetup().run(t)
		if got := r.cond(seldonsim.SeldonRuntimes, "seldon-system", "seldon", "Ready"); strings.HasPrefix(got, "True") {
			t.Errorf("runtime Ready = %q with four components disabled", got)
		}
	})
	t.Run("the ServerConfig's 1Gi holds one of two 1Gi models", func(t *testing.T) {
		c := fieldSetup()
		c.serverMemory = ""
		r := c.run(t)
		r.expect(seldonsim.Models, "seldon-system", "baseline-predictor", "Ready", "True: ModelAvailable")
		r.expect(seldonsim.Models, "seldon-system", "enhanced-predictor", "ModelReady",
			"False: Failed to schedule model as no matching server had enough suitable replicas: ScheduleFailed")
		r.expect(seldonsim.Experiments, "seldon-system", "financial-ab-test-experiment", "CandidatesReady", "False: Candidates not ready")
		r.expect(seldonsim.Experiments, "seldon-system", "financial-ab-test-experiment", "ExperimentReady",
			"False: no live replica for model enhanced-predictor for model route financial-ab-test-experiment.experiment")
	})
	t.Run("watchNamespaces without clusterwide: the second namespace is left alone", func(t *testing.T) {
		c := fieldSetup()
		c.watch = "seldon-system,models"
		c.objects["runtime-2"] = runtimeIn("models")
		c.objects["secret-2"] = rcloneSecret("models", "model-store-rclone", storeRemote)
		c.objects["secret-gs-2"] = rcloneSecret("models", "seldon-rclone-gs-public", seldonspec.PublicGCSRemote)
		c.objects["server-2"] = serverIn("models")
		c.objects["model-2"] = modelIn("models", "baseline-predictor", 3)
		r := c.run(t)
		r.expect(seldonsim.Models, "seldon-system", "baseline-predictor", "Ready", "True: ModelAvailable")
		for _, gvr := range []schema.GroupVersionResource{seldonsim.SeldonRuntimes, seldonsim.Models} {
			name := map[string]string{"seldonruntimes": "seldon", "models": "baseline-predictor"}[gvr.Resource]
			o := r.get(gvr, "models", name)
			if _, has := o.Object["status"]; has || len(o.GetFinalizers()) > 0 {
				t.Errorf("%s models/%s was reconciled with clusterwide false: %v", gvr.Resource, name, o.Object)
			}
		}
		c.clusterwide = "true"
		r = c.run(t)
		r.expect(seldonsim.Models, "models", "baseline-predictor", "Ready", "True: ModelAvailable")
		r.expect(seldonsim.SeldonRuntimes, "models", "seldon", "SchedulerReady", "True: StatefulSet replicas matches desired replicas")
	})
}

func TestPlacementRules(t *testing.T) {
	t.Run("a requirement the Server does not offer", func(t *testing.T) {
		c := fieldSetup()
		_ = unstructured.SetNestedStringSlice(c.objects["model-a"].Object, []string{"scikit-learn"}, "spec", "requirements")
		r := c.run(t)
		r.expect(seldonsim.Models, "seldon-system", "baseline-predictor", "Ready",
			"False: Failed to schedule model as no matching server had enough suitable replicas: ScheduleFailed")
		r.expect(seldonsim.Models, "seldon-system", "enhanced-predictor", "Ready", "True: ModelAvailable")
	})
	t.Run("spec.capabilities replaces the defaults", func(t *testing.T) {
		c := fieldSetup()
		_ = unstructured.SetNestedStringSlice(c.objects["server"].Object, []string{"scikit-learn"}, "spec", "capabilities")
		r := c.run(t)
		r.expect(seldonsim.Models, "seldon-system", "baseline-predictor", "Ready",
			"False: Failed to schedule model as no matching server had enough suitable replicas: ScheduleFailed")
	})
	t.Run("the overcommit comes from the ServerConfig's agent env", func(t *testing.T) {
		c := fieldSetup()
		c.serverMemory = ""
		containers, _, _ := unstructured.NestedSlice(c.objects["serverconfig"].Object, "spec", "podSpec", "containers")
		agent := containers[0].(map[string]any)
		agent["env"].([]any)[1].(map[string]any)["value"] = "100"
		_ = unstructured.SetNestedSlice(c.objects["serverconfig"].Object, containers, "spec", "podSpec", "containers")
		r := c.run(t)
		r.expect(seldonsim.Models, "seldon-system", "enhanced-predictor", "Ready", "True: ModelAvailable")
	})
	t.Run("no runtime: the controller's dial resolves nothing", func(t *testing.T) {
		c := fieldSetup()
		delete(c.objects, "runtime")
		r := c.run(t)
		r.expect(seldonsim.Servers, "seldon-system", "mlserver", "Ready", "False: name resolver error: produced zero addresses")
		r.expect(seldonsim.Models, "seldon-system", "baseline-predictor", "Ready", "False: name resolver error: produced zero addresses")
	})
}

func TestFinalizersOnDelete(t *testing.T) {
	deleting := func(o *unstructured.Unstructured, finalizer string) {
		now := metav1.NewTime(time.Now())
		o.SetDeletionTimestamp(&now)
		o.SetFinalizers([]string{finalizer})
	}
	t.Run("with the scheduler up, Models and Experiments go at once", func(t *testing.T) {
		c := fieldSetup()
		deleting(c.objects["model-a"], "seldon.model.finalizer")
		deleting(c.objects["experiment"], "seldon.experiment.finalizer")
		r := c.run(t)
		if f := r.get(seldonsim.Models, "seldon-system", "baseline-predictor").GetFinalizers(); len(f) != 0 {
			t.Errorf("model finalizer kept: %v", f)
		}
		if f := r.get(seldonsim.Experiments, "seldon-system", "financial-ab-test-experiment").GetFinalizers(); len(f) != 0 {
			t.Errorf("experiment finalizer kept: %v", f)
		}
	})
	t.Run("the runtime deleted in the foreground (as Pulumi does): it waits for its Servers, and Models hang", func(t *testing.T) {
		c := fieldSetup()
		deleting(c.objects["runtime"], "seldon.runtime.finalizer")
		deleting(c.objects["model-a"], "seldon.model.finalizer")
		r := c.run(t)
		if f := r.get(seldonsim.SeldonRuntimes, "seldon-system", "seldon").GetFinalizers(); len(f) != 1 {
			t.Errorf("runtime released its finalizer with a Server left: %v", f)
		}
		if f := r.get(seldonsim.Models, "seldon-system", "baseline-predictor").GetFinalizers(); len(f) != 1 {
			t.Errorf("model released with no scheduler to unload it: %v", f)
		}
	})
	t.Run("the runtime deleted in the background: its scheduler stays until it is gone, so Models still go", func(t *testing.T) {
		c := fieldSetup()
		deleting(c.objects["runtime"], "seldon.runtime.finalizer")
		deleting(c.objects["model-a"], "seldon.model.finalizer")
		sts := object("apps/v1", "StatefulSet", "seldon-system", "seldon-scheduler", map[string]any{"spec": map[string]any{
			"template": map[string]any{"metadata": map[string]any{"labels": map[string]any{"app.kubernetes.io/name": "seldon-scheduler"}}}}})
		sts.SetOwnerReferences([]metav1.OwnerReference{{APIVersion: api, Kind: "SeldonRuntime", Name: "seldon"}})
		c.objects["scheduler"] = sts
		// The controller made the Service when the runtime was created; it has no owner and stays.
		c.objects["scheduler-service"] = object("v1", "Service", "seldon-system", "seldon-scheduler", map[string]any{"spec": map[string]any{
			"selector": map[string]any{"app.kubernetes.io/name": "seldon-scheduler"}}})
		r := c.run(t)
		if f := r.get(seldonsim.Models, "seldon-system", "baseline-predictor").GetFinalizers(); len(f) != 0 {
			t.Errorf("model kept its finalizer while the scheduler still runs: %v", f)
		}
		if f := r.get(seldonsim.SeldonRuntimes, "seldon-system", "seldon").GetFinalizers(); len(f) != 1 {
			t.Errorf("runtime released with a Server left: %v", f)
		}
	})
	t.Run("the runtime after its Servers: released", func(t *testing.T) {
		c := fieldSetup()
		for _, k := range []string{"server", "model-a", "model-b", "experiment"} {
			delete(c.objects, k)
		}
		deleting(c.objects["runtime"], "seldon.runtime.finalizer")
		r := c.run(t)
		if f := r.get(seldonsim.SeldonRuntimes, "seldon-system", "seldon").GetFinalizers(); len(f) != 0 {
			t.Errorf("runtime kept its finalizer with no Server left: %v", f)
		}
	})
	t.Run("no controller: nothing is released", func(t *testing.T) {
		c := fieldSetup()
		deleting(c.objects["model-a"], "seldon.model.finalizer")
		objs := []runtime.Object{}
		for _, o := range c.objects {
			objs = append(objs, o)
		}
		client := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), seldonsim.ListKinds, objs...)
		if err := (&seldonsim.ControlPlane{Client: client}).Reconcile(context.Background()); err != nil {
			t.Fatal(err)
		}
		m, _ := client.Resource(seldonsim.Models).Namespace("seldon-system").Get(context.Background(), "baseline-predictor", metav1.GetOptions{})
		if len(m.GetFinalizers()) != 1 {
			t.Errorf("a Model was released with no controller running: %v", m.GetFinalizers())
		}
	})
}

// An agent reads its rclone Secrets when it starts: one that started keeps running, and its Models keep serving,
// when a Secret goes; a pod made again afterwards (a new UID) has an agent that exits.
func TestAnAgentThatStartedOutlivesItsSecret(t *testing.T) {
	r := fieldSetup().run(t)
	r.expect(seldonsim.Models, "seldon-system", "baseline-predictor", "Ready", "True: ModelAvailable")
	ctx := context.Background()
	if err := r.client.Resource(seldonsim.Secrets).Namespace("seldon-system").Delete(ctx, "seldon-rclone-gs-public", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	reconcile := func() {
		for range 3 {
			if err := r.model.Reconcile(ctx); err != nil {
				t.Fatal(err)
			}
			kube(t, r.client)
		}
	}
	reconcile()
	r.expect(seldonsim.Models, "seldon-system", "baseline-predictor", "Ready", "True: ModelAvailable")
	r.expect(seldonsim.Servers, "seldon-system", "mlserver", "Ready", "True")

	pod := r.get(seldonsim.Pods, "seldon-system", "mlserver-0")
	pod.SetUID("a-new-pod")
	if _, err := r.client.Resource(seldonsim.Pods).Namespace("seldon-system").Update(ctx, pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	reconcile()
	r.expectAgentCrashLooping("mlserver-0")
}

// A listed Secret that is not an rclone remote stops every agent at its start, as a missing one does: the agent's
// start-up load is fatal (rclone.go StartConfigListener, scheduler/cmd/agent/main.go).
func TestAnAgentExitsAtStartOnAMalformedSecret(t *testing.T) {
	c := fieldSetup()
	c.objects["secret-store"] = rcloneSecret("seldon-system", "model-store-rclone", "[s3]\ntype = s3\n")
	r := c.run(t)
	r.expectAgentCrashLooping("mlserver-0")
	r.expect(seldonsim.Models, "seldon-system", "baseline-predictor", "Ready",
		"False: Failed to schedule model as no matching server had enough suitable replicas: ScheduleFailed")
}

// A workload the API server stored without its empty fields (an env var's `value: ""` is dropped, EnvVar.Value
// being omitempty) is what the controller asked for: the next pass leaves it alone instead of updating it again.
func TestAnUnchangedWorkloadIsNotUpdatedAgain(t *testing.T) {
	c := fieldSetup()
	containers, _, _ := unstructured.NestedSlice(c.objects["serverconfig"].Object, "spec", "podSpec", "containers")
	agent := containers[0].(map[string]any)
	agent["env"] = append(agent["env"].([]any), map[string]any{"name": "SELDON_LOG_LEVEL", "value": ""})
	_ = unstructured.SetNestedSlice(c.objects["serverconfig"].Object, containers, "spec", "podSpec", "containers")
	r := c.run(t)

	stored := r.get(seldonsim.StatefulSets, "seldon-system", "mlserver")
	containers, _, _ = unstructured.NestedSlice(stored.Object, "spec", "template", "spec", "containers")
	dropped := 0
	for _, container := range containers {
		env, _ := container.(map[string]any)["env"].([]any)
		for _, e := range env {
			if value, set := e.(map[string]any)["value"]; set && value == "" {
				delete(e.(map[string]any), "value")
				dropped++
			}
		}
	}
	if dropped == 0 {
		t.Fatal("the Server's StatefulSet has no empty env value to drop")
	}
	_ = unstructured.SetNestedSlice(stored.Object, containers, "spec", "template", "spec", "containers")
	if _, err := r.client.Resource(seldonsim.StatefulSets).Namespace("seldon-system").Update(context.Background(), stored, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	r.client.ClearActions()
	if err := r.model.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, action := range r.client.Actions() {
		if action.GetVerb() == "update" && action.GetResource() == seldonsim.StatefulSets {
			t.Errorf("the pass updated an unchanged StatefulSet: %v", action)
		}
	}
}
