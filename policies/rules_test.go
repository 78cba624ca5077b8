package policies_test

import (
	"strings"
	"testing"

	"github.com/seldon-ab/provisioner/policies"
)

type obj = map[string]any
type list = []any

func res(kind, ns, name string, props obj) policies.Resource {
	group := map[string]string{
		"Experiment": "mlops.seldon.io/v1alpha1", "Model": "mlops.seldon.io/v1alpha1", "Server": "mlops.seldon.io/v1alpha1",
		"SeldonRuntime": "mlops.seldon.io/v1alpha1", "Service": "core/v1", "Secret": "core/v1", "Ingress": "networking.k8s.io/v1",
		"IPAddressPool": "metallb.io/v1beta1", "Deployment": "apps/v1", "Job": "batch/v1",
	}[kind]
	props["metadata"] = obj{"name": name, "namespace": ns}
	return policies.Resource{Type: "kubernetes:" + group + ":" + kind, Name: name, URN: "urn:" + name, Props: props}
}

func withAnnotations(r policies.Resource, annotations obj) policies.Resource {
	r.Props["metadata"].(obj)["annotations"] = annotations
	return r
}

func model(name string, requirements ...any) policies.Resource {
	return res("Model", "seldon-system", name, obj{"spec": obj{"storageUri": "s3://b/" + name, "server": "mlserver", "requirements": list(requirements)}})
}

func experiment(defaultModel string, candidates ...obj) policies.Resource {
	l := list{}
	for _, c := range candidates {
		l = append(l, c)
	}
	return res("Experiment", "seldon-system", "exp", obj{"spec": obj{"default": defaultModel, "candidates": l}})
}

func server(extra ...any) policies.Resource {
	return res("Server", "seldon-system", "mlserver", obj{"spec": obj{"serverConfig": "mlserver", "extraCapabilities": list(extra)}})
}

func runtime(ns string, schedulerType string) policies.Resource {
	return res("SeldonRuntime", ns, "seldon", obj{"spec": obj{"overrides": list{obj{"name": "seldon-scheduler", "serviceType": schedulerType}}}})
}

func meshIngress(path, rewrite string) policies.Resource {
	r := res("Ingress", "seldon-system", "mesh", obj{"spec": obj{"rules": list{obj{"host": "ml-api.local", "http": obj{"paths": list{
		obj{"path": path, "backend": obj{"service": obj{"name": "seldon-mesh", "port": obj{"number": 80.0}}}},
	}}}}}})
	if rewrite != "" {
		r = withAnnotations(r, obj{"nginx.ingress.kubernetes.io/rewrite-target": rewrite})
	}
	return r
}

func lb(name string, annotations obj) policies.Resource {
	return withAnnotations(res("Service", "ingress-nginx", name, obj{"spec": obj{"type": "LoadBalancer"}}), annotations)
}

var pool = res("IPAddressPool", "metallb-system", "lan", obj{"spec": obj{"addresses": list{"192.168.1.200-192.168.1.250"}}})

func deployment(image string, resources obj) policies.Resource {
	c := obj{"name": "app", "image": image}
	if resources != nil {
		c["resources"] = resources
	}
	return res("Deployment", "default", "app", obj{"spec": obj{"template": obj{"spec": obj{"containers": list{c}}}}})
}

var sized = obj{"requests": obj{"cpu": "10m", "memory": "32Mi"}, "limits": obj{"memory": "64Mi"}}

func TestRules(t *testing.T) {
	tests := []struct {
		name  string
		check func([]policies.Resource) []policies.Violation
		pass  []policies.Resource
		fail  []policies.Resource
		want  string
	}{
		{"experiment weights", policies.ExperimentCandidates,
			[]policies.Resource{model("a"), model("b"), experiment("a", obj{"name": "a", "weight": 70.0}, obj{"name": "b", "weight": 30.0})},
			[]policies.Resource{model("a"), model("b"), experiment("a", obj{"name": "a", "weight": 70.0}, obj{"name": "b", "weight": 0.0})},
			"weight must be > 0"},
		{"experiment default", policies.ExperimentCandidates,
			[]policies.Resource{model("a"), model("b"), experiment("", obj{"name": "a", "weight": 1.0}, obj{"name": "b", "weight": 1.0})},
			[]policies.Resource{model("a"), model("b"), experiment("c", obj{"name": "a", "weight": 1.0}, obj{"name": "b", "weight": 1.0})},
			`default "c" is not one of the candidates`},
		{"one Experiment per default model", policies.ExperimentCandidates,
			[]policies.Resource{model("a"), model("b"), experiment("a", obj{"name": "a", "weight": 1.0}, obj{"name": "b", "weight": 1.0}),
				res("Experiment", "seldon-system", "other", obj{"spec": obj{"default": "b", "candidates": list{obj{"name": "a", "weight": 1.0}, obj{"name": "b", "weight": 1.0}}}})},
			[]policies.Resource{model("a"), model("b"), experiment("a", obj{"name": "a", "weight": 1.0}, obj{"name": "b", "weight": 1.0}),
				res("Experiment", "seldon-system", "other", obj{"spec": obj{"default": "a", "candidates": list{obj{"name": "a", "weight": 1.0}, obj{"name": "b", "weight": 1.0}}}})},
			`default "a" is already the default of Experiment exp`},
		{"experiment candidate is a model", policies.ExperimentCandidates,
			[]policies.Resource{model("a"), model("b"), experiment("a", obj{"name": "a", "weight": 1.0}, obj{"name": "b", "weight": 1.0})},
			[]policies.Resource{model("a"), experiment("a", obj{"name": "a", "weight": 1.0}, obj{"name": "a_1", "weight": 1.0})},
			`candidate "a_1" is not a Model`},
		{"requirements match capabilities exactly", policies.ModelRequirements,
			[]policies.Resource{server("torch"), model("a", "sklearn", "torch")},
			[]policies.Resource{server("torch"), model("a", "scikit-learn")},
			`requirement "scikit-learn" is not a capability`},
		{"one runtime per namespace", policies.OneSchedulerPerNamespace,
			[]policies.Resource{runtime("a", "ClusterIP"), runtime("b", "ClusterIP")},
			[]policies.Resource{runtime("a", "ClusterIP"), runtime("a", "ClusterIP")},
			"two schedulers"},
		{"no ExternalName scheduler beside a runtime", policies.OneSchedulerPerNamespace,
			[]policies.Resource{runtime("a", "ClusterIP"), res("Service", "b", "seldon-scheduler", obj{"spec": obj{"type": "ExternalName", "externalName": "seldon-scheduler.a.svc"}})},
			[]policies.Resource{runtime("a", "ClusterIP"), res("Service", "a", "seldon-scheduler", obj{"spec": obj{"type": "ExternalName"}})},
			"collides"},
		{"scheduler never LoadBalancer", policies.SchedulerNotExposed,
			[]policies.Resource{runtime("a", "ClusterIP")},
			[]policies.Resource{runtime("a", "LoadBalancer")},
			"unauthenticated"},
		{"scheduler override required", policies.SchedulerNotExposed,
			[]policies.Resource{runtime("a", "")},
			[]policies.Resource{res("SeldonRuntime", "a", "seldon", obj{"spec": obj{"overrides": list{}}})},
			"no seldon-scheduler override"},
		{"plain mesh path", policies.MeshIngressKeepsV2,
			[]policies.Resource{meshIngress("/", "")},
			[]policies.Resource{meshIngress("/seldon-system", "")},
			"envoy only routes /v2"},
		{"rewrite with too few capture groups", policies.MeshIngressKeepsV2,
			[]policies.Resource{meshIngress("/seldon(/|$)(.*)", "/$2")},
			[]policies.Resource{meshIngress("/seldon/(.*)", "/$2")},
			"has 1 capture group(s)"},
		{"rewrite to a fixed path", policies.MeshIngressKeepsV2,
			[]policies.Resource{meshIngress("/v2", "")},
			[]policies.Resource{meshIngress("/seldon", "/")},
			"replaces every path"},
		{"IP inside a pool", policies.MetalLBIPs,
			[]policies.Resource{pool, lb("ingress", obj{"metallb.io/loadBalancerIPs": "192.168.1.249"})},
			[]policies.Resource{pool, lb("ingress", obj{"metallb.io/loadBalancerIPs": "192.168.2.249"})},
			"outside every IPAddressPool"},
		{"IP requested twice", policies.MetalLBIPs,
			[]policies.Resource{pool, lb("ingress", obj{"metallb.io/loadBalancerIPs": "192.168.1.249"}), lb("mesh", obj{"metallb.io/loadBalancerIPs": "192.168.1.202"})},
			[]policies.Resource{pool, lb("ingress", obj{"metallb.io/loadBalancerIPs": "192.168.1.202"}), lb("console", obj{"metallb.universe.tf/loadBalancerIPs": "192.168.1.202"})},
			"also requests"},
		{"misspelt MetalLB annotation", policies.MetalLBAnnotation,
			[]policies.Resource{pool, lb("console", obj{"metallb.universe.tf/loadBalancerIPs": "192.168.1.240"})},
			[]policies.Resource{pool, lb("console", obj{"metallb.universe.tf/loadBalancer-ips": "192.168.1.240"})},
			"not one MetalLB reads"},
		{"chart pinned", policies.PinnedVersions,
			[]policies.Resource{{Type: "kubernetes:helm.sh/v4:Chart", Name: "c", Props: obj{"chart": "metallb", "version": "0.16.1"}},
				{Type: "kubernetes:helm.sh/v4:Chart", Name: "local", Props: obj{"chart": "/charts/metallb-0.16.1.tgz"}}},
			[]policies.Resource{{Type: "kubernetes:helm.sh/v4:Chart", Name: "c", Props: obj{"chart": "metallb"}}},
			"Fix: pin an exact version"},
		{"image pinned", policies.PinnedVersions,
			[]policies.Resource{deployment("quay.io/minio/mc:RELEASE.2024-11-21T17-21-54Z", sized), deployment("registry.k8s.io/x@sha256:abc", sized)},
			[]policies.Resource{deployment("quay.io/minio/mc:latest", sized)},
			"is not pinned"},
		{"secrets are Pulumi secrets", policies.SecretsAreSecret,
			[]policies.Resource{res("Secret", "minio", "creds", obj{"stringData": obj{"rootPassword": policies.Secret{Value: "x"}}}),
				res("Secret", "minio", "whole", obj{"stringData": policies.Secret{Value: obj{"rootPassword": "x"}}})},
			[]policies.Resource{res("Secret", "minio", "creds", obj{"stringData": obj{"rootPassword": "hunter2"}})},
			"stringData.rootPassword is plain text"},
		{"credential env vars are secrets", policies.SecretsAreSecret,
			[]policies.Resource{res("Job", "minio", "buckets", obj{"spec": obj{"template": obj{"spec": obj{"containers": list{obj{"name": "mc", "image": "mc:1",
				"env": list{obj{"name": "SECRET_KEY", "valueFrom": obj{"secretKeyRef": obj{"name": "creds", "key": "rootPassword"}}},
					obj{"name": "METALLB_ML_SECRET_NAME", "value": "metallb-memberlist"},
					obj{"name": "METALLB_ML_SECRET_KEY_PATH", "value": "/etc/ml_secret_key"}}}}}}}})},
			[]policies.Resource{res("Job", "minio", "buckets", obj{"spec": obj{"template": obj{"spec": obj{"containers": list{obj{"name": "mc", "image": "mc:1",
				"env": list{obj{"name": "MINIO_ROOT_PASSWORD", "value": "hunter2"}}}}}}}})},
			"sets MINIO_ROOT_PASSWORD in plain text"},
		{"workloads sized", policies.WorkloadResources,
			[]policies.Resource{deployment("a:1", sized)},
			[]policies.Resource{deployment("a:1", nil)},
			"no resource requests or no limits"},
		{"scheduler host env (advisory)", policies.SchedulerHostEnv,
			[]policies.Resource{deployment("seldonio/seldonv2-controller:2.10.2", sized)},
			[]policies.Resource{res("Deployment", "seldon-system", "seldon-v2-controller-manager", obj{"spec": obj{"template": obj{"spec": obj{"containers": list{
				obj{"name": "manager", "image": "seldonio/seldonv2-controller:2.10.2", "env": list{obj{"name": "SELDON_SCHEDULER_HOST", "value": "seldon-scheduler.seldon-system"}}}}}}}})},
			"has no effect"},
		{"ingress-nginx retired (advisory)", policies.IngressNginxRetired,
			[]policies.Resource{deployment("ghcr.io/nginx/nginx-gateway-fabric:2.0.0", sized)},
			[]policies.Resource{deployment("registry.k8s.io/ingress-nginx/controller:v1.15.1@sha256:594c", sized)},
			"retired upstream"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if v := tc.check(tc.pass); len(v) != 0 {
				t.Errorf("passing case violates: %v", v)
			}
			v := tc.check(tc.fail)
			if len(v) == 0 {
				t.Fatal("failing case passed")
			}
			if !strings.Contains(v[0].Message, tc.want) {
				t.Errorf("message %q lacks %q", v[0].Message, tc.want)
			}
			// One shape for every problem: where, what, and the fix (doctor shows all three).
			if v[0].Object == "" || v[0].What == "" || v[0].Fix == "" {
				t.Errorf("violation without an object, a problem or a fix: %+v", v[0])
			}
		})
	}
}

func meshRoute(prefix, replace string, port any) policies.Resource {
	ru := obj{"matches": list{obj{"path": obj{"type": "PathPrefix", "value": prefix}}},
		"backendRefs": list{obj{"name": "seldon-mesh", "port": port}}}
	if replace != "" {
		ru["filters"] = list{obj{"type": "URLRewrite", "urlRewrite": obj{"path": obj{"type": "ReplacePrefixMatch", "replacePrefixMatch": replace}}}}
	}
	return res("HTTPRoute", "seldon-system", "seldon-mesh", obj{"spec": obj{
		"parentRefs": list{obj{"name": "seldon", "namespace": "nginx-gateway", "sectionName": "http"}},
		"hostnames":  list{"ml-api.local"}, "rules": list{ru}}})
}

func stackGateway(allowed string, listenerHost string) policies.Resource {
	l := obj{"name": "http", "port": 80.0, "protocol": "HTTP", "allowedRoutes": obj{"namespaces": obj{"from": "Selector",
		"selector": obj{"matchExpressions": list{obj{"key": "kubernetes.io/metadata.name", "operator": "In", "values": list{allowed}}}}}}}
	if listenerHost != "" {
		l["hostname"] = listenerHost
	}
	return res("Gateway", "nginx-gateway", "seldon", obj{"spec": obj{"gatewayClassName": "nginx", "listeners": list{l}}})
}

func TestGatewayAPIRules(t *testing.T) {
	for _, tc := range []struct {
		name  string
		check func([]policies.Resource) []policies.Violation
		stack []policies.Resource
		want  string
	}{
		{"the stack's route", policies.MeshRouteKeepsV2, []policies.Resource{meshRoute("/v2", "", 80.0)}, ""},
		{"a prefix stripped back to /v2", policies.MeshRouteKeepsV2, []policies.Resource{meshRoute("/seldon/v2", "/v2", 80.0)}, ""},
		{"a prefix stripped to what holds /v2", policies.MeshRouteKeepsV2, []policies.Resource{meshRoute("/seldon", "/", 80.0)}, ""},
		{"a rewrite that drops /v2", policies.MeshRouteKeepsV2, []policies.Resource{meshRoute("/v2", "/", 80.0)}, "reaches envoy as /models/<name>/infer"},
		{"a backend without its port", policies.MeshRouteKeepsV2, []policies.Resource{meshRoute("/v2", "", nil)}, "without a port"},
		{"attached", policies.MeshRouteAttaches, []policies.Resource{stackGateway("seldon-system", ""), meshRoute("/v2", "", 80.0)}, ""},
		{"no such Gateway", policies.MeshRouteAttaches, []policies.Resource{meshRoute("/v2", "", 80.0)}, "which the stack does not make"},
		{"a namespace the listener does not admit", policies.MeshRouteAttaches, []policies.Resource{stackGateway("team-a", ""), meshRoute("/v2", "", 80.0)}, "NotAllowedByListeners"},
		{"no hostname in common", policies.MeshRouteAttaches, []policies.Resource{stackGateway("seldon-system", "other.local"), meshRoute("/v2", "", 80.0)}, "NoMatchingListenerHostname"},
		{"addresses MetalLB never assigns", policies.MetalLBAnnotation, []policies.Resource{res("Gateway", "nginx-gateway", "seldon", obj{"spec": obj{
			"addresses": list{obj{"type": "IPAddress", "value": "192.168.1.249"}}}})}, "externalIPs"},
		{"the Gateway's IP requested twice", policies.MetalLBIPs, []policies.Resource{
			res("Gateway", "nginx-gateway", "seldon", obj{"spec": obj{"infrastructure": obj{"annotations": obj{"metallb.io/loadBalancerIPs": "192.168.1.249"}}}}),
			lb("other", obj{"metallb.io/loadBalancerIPs": "192.168.1.249"})}, "also requests"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.check(tc.stack)
			if tc.want == "" && len(got) > 0 {
				t.Fatalf("want no violation, got %v", got)
			}
			if tc.want != "" && (len(got) == 0 || !strings.Contains(got[0].Message, tc.want)) {
				t.Fatalf("want a violation mentioning %q, got %v", tc.want, got)
			}
		})
	}
}
