package doctor_test

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/seldon-ab/provisioner/internal/doctor"
)

// fakeCluster answers List from objects keyed by resource name. A missing key is an empty list, except for the
// APIs a cluster may not have installed (Seldon's, MetalLB's), which then answer as the API server does.
type fakeCluster map[string][]map[string]any

func (f fakeCluster) List(_ context.Context, gvr schema.GroupVersionResource) ([]unstructured.Unstructured, error) {
	items, ok := f[gvr.Resource]
	if !ok && (gvr.Group == "mlops.seldon.io" || gvr.Group == "metallb.io") {
		return nil, errNotFound
	}
	var out []unstructured.Unstructured
	for _, item := range items {
		out = append(out, unstructured.Unstructured{Object: item})
	}
	return out, nil
}

type notFound struct{}

func (notFound) Error() string { return "the server could not find the requested resource" }

var errNotFound = notFound{}

func obj(apiVersion, kind, ns, name string, extra map[string]any) map[string]any {
	o := map[string]any{"apiVersion": apiVersion, "kind": kind, "metadata": map[string]any{"name": name, "namespace": ns}}
	for k, v := range extra {
		o[k] = v
	}
	return o
}

func crd(plural string) map[string]any {
	return map[string]any{"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": map[string]any{"name": plural + ".mlops.seldon.io"},
		"spec": map[string]any{"group": "mlops.seldon.io", "names": map[string]any{"plural": plural}, "versions": []any{map[string]any{"name": "v1alpha1", "served": true}}}}
}

// seldonCRDs are the CRDs of a complete Seldon install.
func seldonCRDs() []map[string]any {
	var out []map[string]any
	for _, plural := range []string{"models", "servers", "experiments", "seldonruntimes", "seldonconfigs", "serverconfigs"} {
		out = append(out, crd(plural))
	}
	return out
}

func controller(watch string) map[string]any {
	return obj("apps/v1", "Deployment", "seldon-system", "seldon-v2-controller-manager", map[string]any{
		"spec": map[string]any{"template": map[string]any{"spec": map[string]any{"containers": []any{map[string]any{"name": "manager", "env": []any{
			map[string]any{"name": "CLUSTERWIDE", "value": "false"}, map[string]any{"name": "WATCH_NAMESPACES", "value": watch},
			map[string]any{"name": "SELDON_SCHEDULER_HOST", "value": "seldon-scheduler.seldon-system"},
		}}}}}},
		"status": map[string]any{"conditions": []any{map[string]any{"type": "Available", "status": "True"}}},
	})
}

func report(t *testing.T, c doctor.Reader) string {
	t.Helper()
	rep, err := doctor.Run(context.Background(), c, "nginx")
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	rep.WriteText(&b)
	return b.String()
}

func TestDoctorOnARealClusterJudgesWhatControllersDo(t *testing.T) {
	c := fakeCluster{
		"customresourcedefinitions": seldonCRDs(),
		"deployments":               {controller("")},
		"models": {obj("mlops.seldon.io/v1alpha1", "Model", "models", "baseline-predictor", map[string]any{
			"spec":   map[string]any{"storageUri": "s3://b/m"},
			"status": map[string]any{"conditions": []any{map[string]any{"type": "Ready", "status": "False", "reason": "ScheduleFailed", "message": "no matching servers"}}},
		})},
	}
	out := report(t, c)
	for _, want := range []string{
		"namespace models\n  holds Seldon resources but the controller does not watch it",
		"holds Seldon resources but no SeldonRuntime, so no scheduler owns it; the controller dials seldon-scheduler.models:9004",
		"is not Ready: ScheduleFailed no matching servers",
		"SELDON_SCHEDULER_HOST is set but has no effect",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	if !strings.HasPrefix(out, "seldon-ab doctor: 3 errors, 1 warnings") {
		t.Errorf("summary line: %s", strings.SplitN(out, "\n", 2)[0])
	}
}

func TestDoctorWithoutSeldonSaysSoAndStillChecksNetworking(t *testing.T) {
	c := fakeCluster{"services": {obj("v1", "Service", "minio", "console", map[string]any{
		"metadata": map[string]any{"name": "console", "namespace": "minio", "annotations": map[string]any{"metallb.universe.tf/loadBalancer-ips": "192.168.1.202"}},
		"spec":     map[string]any{"type": "LoadBalancer"},
	})}}
	out := report(t, c)
	for _, want := range []string{"no Seldon Core v2 CRDs", "is not one MetalLB reads", "still pending an IP"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
}

// The field setup's trap: watchNamespaces listed with clusterwide false, which the controller ignores.
func TestDoctorSaysWatchNamespacesNeedClusterwide(t *testing.T) {
	c := fakeCluster{
		"customresourcedefinitions": seldonCRDs(),
		"deployments":               {controller("seldon-system,models")},
		"models":                    {obj("mlops.seldon.io/v1alpha1", "Model", "models", "baseline-predictor", map[string]any{"spec": map[string]any{"storageUri": "s3://b/m"}})},
	}
	out := report(t, c)
	for _, want := range []string{
		"the controller watches namespaces seldon-system\n",
		"namespace models\n  holds Seldon resources but the controller does not watch it",
		"set controller.clusterwide: true in the setup chart: the controller reads --watch-namespaces only then",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
}

// What Seldon's control plane reports for the field setup before its fixes: the runtime judged by its enabled
// components (its Ready never turns True), the SeldonConfig's rclone Secret missing, and two 1Gi models on a 1Gi Server.
func TestDoctorJudgesWhatTheControlPlaneReports(t *testing.T) {
	cond := func(kv ...string) []any {
		var out []any
		for i := 0; i < len(kv); i += 2 {
			out = append(out, map[string]any{"type": kv[i], "status": kv[i+1]})
		}
		return out
	}
	var overrides []any
	for _, off := range []string{"seldon-dataflow-engine", "seldon-modelgateway", "seldon-pipelinegateway", "hodometer"} {
		overrides = append(overrides, map[string]any{"name": off, "disable": true})
	}
	model := func(name string) map[string]any {
		return obj("mlops.seldon.io/v1alpha1", "Model", "seldon-system", name, map[string]any{
			"spec": map[string]any{"storageUri": "gs://b/" + name, "memory": "1Gi", "server": "mlserver"}})
	}
	c := fakeCluster{
		"customresourcedefinitions": seldonCRDs(),
		"deployments":               {controller("")},
		"seldonconfigs": {obj("mlops.seldon.io/v1alpha1", "SeldonConfig", "seldon-system", "default", map[string]any{"spec": map[string]any{
			"config": map[string]any{"agentConfig": map[string]any{"rclone": map[string]any{"config_secrets": []any{"seldon-rclone-gs-public"}}}}}})},
		"serverconfigs": {obj("mlops.seldon.io/v1alpha1", "ServerConfig", "seldon-system", "mlserver", map[string]any{"spec": map[string]any{
			"podSpec": map[string]any{"containers": []any{map[string]any{"name": "mlserver", "resources": map[string]any{"requests": map[string]any{"memory": "1Gi"}}}}}}})},
		"seldonruntimes": {obj("mlops.seldon.io/v1alpha1", "SeldonRuntime", "seldon-system", "seldon", map[string]any{
			"spec":   map[string]any{"seldonConfig": "default", "overrides": overrides},
			"status": map[string]any{"conditions": cond("SchedulerReady", "True", "EnvoyReady", "True", "Ready", "Unknown")}})},
		"servers": {obj("mlops.seldon.io/v1alpha1", "Server", "seldon-system", "mlserver", map[string]any{
			"spec": map[string]any{"serverConfig": "mlserver", "replicas": int64(1)}, "status": map[string]any{"conditions": cond("Ready", "True")}})},
		"models": {model("baseline-predictor"), model("enhanced-predictor")},
	}
	out := report(t, c)
	for _, want := range []string{
		"uses rclone Secret seldon-system/seldon-rclone-gs-public, which does not exist",
		"from SeldonConfig default; every agent exits at start-up without it",
		"its 1 replica(s) of 1Gi (mlserver memory request) hold 1.10Gi of models with the 10% overcommit, but baseline-predictor 1Gi, enhanced-predictor 1Gi need 2.00Gi",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	if strings.Contains(out, "SeldonRuntime seldon-system/seldon\n  is not") {
		t.Errorf("a runtime with its enabled components up is judged not Ready:\n%s", out)
	}
}

// The runtime deleted before its Models: it waits for its Servers, and the Model's unload has no scheduler.
func TestDoctorSaysWhatHoldsEachStuckObject(t *testing.T) {
	deleting := map[string]any{"deletionTimestamp": "2026-11-26T10:00:00Z"}
	meta := func(name, finalizer string) map[string]any {
		m := map[string]any{"name": name, "namespace": "models", "finalizers": []any{finalizer}}
		for k, v := range deleting {
			m[k] = v
		}
		return m
	}
	c := fakeCluster{
		"customresourcedefinitions": seldonCRDs(),
		"deployments":               {controller("")},
		"seldonruntimes":            {obj("mlops.seldon.io/v1alpha1", "SeldonRuntime", "models", "seldon", map[string]any{"metadata": meta("seldon", "seldon.runtime.finalizer")})},
		"servers":                   {obj("mlops.seldon.io/v1alpha1", "Server", "models", "mlserver", nil)},
		"models": {obj("mlops.seldon.io/v1alpha1", "Model", "models", "challenger", map[string]any{"metadata": meta("challenger", "seldon.model.finalizer"),
			"spec": map[string]any{"storageUri": "s3://b/m"}})},
	}
	out := report(t, c)
	for _, want := range []string{
		"SeldonRuntime models/seldon\n  is stuck Terminating on finalizers [seldon.runtime.finalizer]: a SeldonRuntime keeps its finalizer while Servers remain in models (1 left)",
		"delete the Servers of models (kubectl -n models delete servers --all",
		"Model models/challenger\n  is stuck Terminating on finalizers [seldon.model.finalizer]: deleting it asks the scheduler of models to unload it, and no SeldonRuntime there runs one",
		"`pulumi up --refresh` re-creates the stack's SeldonRuntime",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
}

// The field story's "two schedulers fighting": two SeldonRuntimes in one namespace, and an ExternalName alias.
func TestDoctorReportsTwoSchedulersForOneNamespace(t *testing.T) {
	runtime := func(name string) map[string]any {
		return obj("mlops.seldon.io/v1alpha1", "SeldonRuntime", "seldon-system", name, map[string]any{"spec": map[string]any{"seldonConfig": "default"}})
	}
	c := fakeCluster{
		"customresourcedefinitions": seldonCRDs(),
		"deployments":               {controller("")},
		"seldonruntimes":            {runtime("seldon"), runtime("seldon-second")},
		"models":                    {obj("mlops.seldon.io/v1alpha1", "Model", "seldon-system", "baseline-predictor", map[string]any{"spec": map[string]any{"storageUri": "s3://b/m"}})},
	}
	out := report(t, c)
	if !strings.Contains(out, "namespace seldon-system already has SeldonRuntime") {
		t.Errorf("two runtimes in one namespace not reported:\n%s", out)
	}
	// The rule's fix reaches the report (it used to be cut off with the message).
	if !strings.Contains(out, "fix: keep exactly one runtime per namespace") {
		t.Errorf("the rule's fix is missing:\n%s", out)
	}
}

// The rclone Secrets agents load must parse as one remote each, named like the storageUri scheme.
func TestDoctorChecksTheRcloneSecrets(t *testing.T) {
	secret := func(name, body string) map[string]any {
		return obj("v1", "Secret", "seldon-system", name, map[string]any{"data": map[string]any{"s3": base64.StdEncoding.EncodeToString([]byte(body))}})
	}
	c := fakeCluster{
		"customresourcedefinitions": seldonCRDs(),
		"deployments":               {controller("")},
		"secrets":                   {secret("model-store-rclone", "type: s3\nname: minio\n"), secret("broken", "not: [an rclone remote")},
		"seldonruntimes": {obj("mlops.seldon.io/v1alpha1", "SeldonRuntime", "seldon-system", "seldon", map[string]any{"spec": map[string]any{
			"config": map[string]any{"agentConfig": map[string]any{"rclone": map[string]any{"config_secrets": []any{"model-store-rclone"}}}}}})},
		"models": {
			obj("mlops.seldon.io/v1alpha1", "Model", "seldon-system", "baseline-predictor", map[string]any{"spec": map[string]any{"storageUri": "s3://mlflow-artifacts/baseline-predictor"}}),
			obj("mlops.seldon.io/v1alpha1", "Model", "seldon-system", "other", map[string]any{"spec": map[string]any{"storageUri": "s3://b/o", "secretName": "broken"}}),
		},
	}
	out := report(t, c)
	for _, want := range []string{
		"storageUri scheme \"s3\" matches no rclone remote in seldon-system (remotes: minio)",
		"key s3 is not an rclone remote",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
}

func cond(typ, status, reason, message string) map[string]any {
	return map[string]any{"type": typ, "status": status, "reason": reason, "message": message}
}

// What the controller and kubelet report, read as they mean it: SchedulerReady with no scheduler pod ready is named;
// a failure condition beside Ready=True is history, not a fault; a refused Experiment (only ModelReady, the
// scheduler's error as reason) is named with the way out; an agent that exits shows on its pod.
func TestDoctorReadsConditionsAsTheControllerWritesThem(t *testing.T) {
	status := func(conds ...map[string]any) map[string]any {
		list := make([]any, len(conds))
		for i, c := range conds {
			list[i] = c
		}
		return map[string]any{"conditions": list}
	}
	c := fakeCluster{
		"customresourcedefinitions": seldonCRDs(),
		"deployments":               {controller("")},
		"seldonruntimes": {obj("mlops.seldon.io/v1alpha1", "SeldonRuntime", "seldon-system", "seldon", map[string]any{
			"status": status(cond("SchedulerReady", "True", "StatefulSet replicas matches desired replicas", ""),
				cond("EnvoyReady", "True", "Deployment replicas matches desired replicas", ""))})},
		"statefulsets": {obj("apps/v1", "StatefulSet", "seldon-system", "seldon-scheduler", map[string]any{
			"spec": map[string]any{"replicas": int64(1)}, "status": map[string]any{"replicas": int64(1), "readyReplicas": int64(0)}})},
		"experiments": {
			obj("mlops.seldon.io/v1alpha1", "Experiment", "seldon-system", "served", map[string]any{"status": status(
				cond("ModelReady", "False", "rpc error: code = Unavailable desc = connection refused", ""), cond("Ready", "True", "", ""))}),
			obj("mlops.seldon.io/v1alpha1", "Experiment", "seldon-system", "renamed", map[string]any{"status": status(
				cond("ModelReady", "False", "rpc error: code = FailedPrecondition desc = Resource baseline-predictor already in experiment renamed as a baseline. "+
					"A model or pipeline can only appear in one experiment as a baseline", ""))}),
		},
		"pods": {obj("v1", "Pod", "seldon-system", "mlserver-0", map[string]any{
			"metadata": map[string]any{"name": "mlserver-0", "namespace": "seldon-system", "labels": map[string]any{"seldon-server-name": "mlserver"}},
			"status": map[string]any{"containerStatuses": []any{map[string]any{"name": "agent", "restartCount": int64(4),
				"state": map[string]any{"waiting": map[string]any{"reason": "CrashLoopBackOff"}}}}}})},
	}
	text := report(t, c)
	for _, want := range []string{
		"says SchedulerReady, but its seldon-scheduler StatefulSet has 0 of 1 replicas ready",
		"Experiment seldon-system/renamed\n  is not ModelReady: rpc error: code = FailedPrecondition",
		"delete the other Experiment, then change this one",
		"container agent of Server mlserver restarts in CrashLoopBackOff (4 restarts)",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the report lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "seldon-system/served") {
		t.Errorf("a stale condition beside Ready=True was reported:\n%s", text)
	}
}
