package config_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/seldon-ab/provisioner/infra/config"
	"github.com/seldon-ab/provisioner/internal/pulumitest"
)

const repoRoot = "../.."

// mapSource is a config.Source over plain maps, as a stack file plus `pulumi config set` would give.
type mapSource struct {
	values  map[string]string
	secrets map[string]bool
}

func (m mapSource) Get(key string) (string, bool) { v, ok := m.values[key]; return v, ok }
func (m mapSource) IsSecret(key string) bool      { return m.secrets[key] }
func (m mapSource) Keys() []string {
	keys := make([]string, 0, len(m.values))
	for k := range m.values {
		keys = append(keys, k)
	}
	return keys
}

// stackObjects reads a stack file's config as decoded objects, keyed without the project namespace.
func stackObjects(t *testing.T, stack string) map[string]any {
	t.Helper()
	out := map[string]any{}
	for k, v := range pulumitest.StackFileObjects(t, repoRoot, stack) {
		if key, ok := strings.CutPrefix(k, config.Namespace+":"); ok {
			out[key] = v
		}
	}
	return out
}

// source renders objects the way Pulumi hands them to a program (objects as JSON) and adds secret credentials.
func source(t *testing.T, objects map[string]any) mapSource {
	t.Helper()
	src := mapSource{values: map[string]string{}, secrets: map[string]bool{}}
	for k, v := range objects {
		raw, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if s, isString := v.(string); isString {
			raw = []byte(s)
		}
		src.values[config.Namespace+":"+k] = string(raw)
	}
	for _, k := range []string{config.AccessKeyKey, config.SecretKeyKey} {
		if _, set := src.values[config.Namespace+":"+k]; !set {
			src.values[config.Namespace+":"+k] = "sandbox-credential-" + k
			src.secrets[config.Namespace+":"+k] = true
		}
	}
	return src
}

func load(t *testing.T, objects map[string]any) (*config.Stack, error) {
	t.Helper()
	abs, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	return config.Load(source(t, objects), config.Options{StackName: "homelab", BaseDir: abs})
}

func TestHomelabStackReproducesTheFieldSetup(t *testing.T) {
	s, err := load(t, stackObjects(t, "homelab"))
	if err != nil {
		t.Fatalf("homelab stack does not validate: %v", err)
	}
	if got := s.MetalLB.Pools[0].Addresses; len(got) != 1 || got[0] != "192.168.1.200-192.168.1.250" {
		t.Errorf("pool addresses = %v, want the field setup's 192.168.1.200-192.168.1.250", got)
	}
	if s.Ingress.LoadBalancerIP != "192.168.1.249" {
		t.Errorf("ingress IP = %q, want 192.168.1.249", s.Ingress.LoadBalancerIP)
	}
	if strings.Join(s.Ingress.Hosts, ",") != "financial-predictor.local,ml-api.local" {
		t.Errorf("hosts = %v", s.Ingress.Hosts)
	}
	if strings.Join(s.ModelStore.Buckets, ",") != "mlflow-artifacts" {
		t.Errorf("buckets = %v", s.ModelStore.Buckets)
	}
	if s.Charts.MetalLB.Version != "0.16.1" || s.Charts.IngressNginx.Version != "4.15.1" || s.Charts.MinIO.Version != "5.4.0" {
		t.Errorf("chart pins = %+v", s.Charts)
	}
	if s.ModelStore.Console.Expose {
		t.Error("the MinIO console must not be exposed on the LAN by default")
	}
}

// set walks a dotted path ("metallb.pools.0.addresses") in decoded YAML and sets the value there.
func set(t *testing.T, objects map[string]any, path string, value any) {
	t.Helper()
	parts := strings.Split(path, ".")
	var cur any = objects
	for i, p := range parts {
		last := i == len(parts)-1
		switch node := cur.(type) {
		case map[string]any:
			if last {
				node[p] = value
				return
			}
			if _, ok := node[p]; !ok {
				node[p] = map[string]any{}
			}
			cur = node[p]
		case []any:
			var idx int
			if _, err := fmt.Sscan(p, &idx); err != nil {
				t.Fatalf("bad index %q in %s", p, path)
			}
			if last {
				node[idx] = value
				return
			}
			cur = node[idx]
		default:
			t.Fatalf("cannot walk %s at %q", path, p)
		}
	}
}

func TestInvalidConfigsNameTheirKey(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(t *testing.T, o map[string]any)
		wantKey string // the full key path the message must name
		want    string // a fragment of the problem or fix
	}{
		{"pool range unparsable", func(t *testing.T, o map[string]any) {
			set(t, o, "metallb.pools.0.addresses", []any{"192.168.1.300-192.168.1.250"})
		}, "metallb.pools[0].addresses[0]", "not an IP address"},
		{"pool range reversed", func(t *testing.T, o map[string]any) {
			set(t, o, "metallb.pools.0.addresses", []any{"192.168.1.250-192.168.1.200"})
		}, "metallb.pools[0].addresses[0]", "ends before it starts"},
		{"pool CIDR malformed", func(t *testing.T, o map[string]any) {
			set(t, o, "metallb.pools.0.addresses", []any{"192.168.1.0/33"})
		}, "metallb.pools[0].addresses[0]", "bad CIDR"},
		{"pool mixes families", func(t *testing.T, o map[string]any) {
			set(t, o, "metallb.pools.0.addresses", []any{"192.168.1.1-fd00::1"})
		}, "metallb.pools[0].addresses[0]", "mixes IPv4 and IPv6"},
		{"pools overlap", func(t *testing.T, o map[string]any) {
			set(t, o, "metallb.pools", []any{
				map[string]any{"name": "a", "addresses": []any{"192.168.1.200-192.168.1.250"}},
				map[string]any{"name": "b", "addresses": []any{"192.168.1.0/24"}},
			})
			set(t, o, "metallb.l2Advertisement.pools", []any{})
		}, "metallb.pools[1].addresses[0]", "overlaps"},
		{"no pools", func(t *testing.T, o map[string]any) { set(t, o, "metallb.pools", []any{}) },
			"metallb.pools", "is empty"},
		{"pool name not DNS-1123", func(t *testing.T, o map[string]any) {
			set(t, o, "metallb.pools.0.name", "LAN_pool")
			set(t, o, "metallb.l2Advertisement.pools", []any{})
		}, "metallb.pools[0].name", "DNS-1123"},
		{"duplicate pool names", func(t *testing.T, o map[string]any) {
			set(t, o, "metallb.pools", []any{
				map[string]any{"name": "lan", "addresses": []any{"192.168.1.200-192.168.1.210"}},
				map[string]any{"name": "lan", "addresses": []any{"192.168.1.220-192.168.1.250"}},
			})
		}, "metallb.pools[1].name", "declared twice"},
		{"advertisement names unknown pool", func(t *testing.T, o map[string]any) {
			set(t, o, "metallb.l2Advertisement.pools", []any{"wan"})
		}, "metallb.l2Advertisement.pools[0]", "not a declared pool"},
		{"metallb namespace invalid", func(t *testing.T, o map[string]any) { set(t, o, "metallb.namespace", "MetalLB") },
			"metallb.namespace", "DNS-1123"},
		{"ingress IP outside the pool", func(t *testing.T, o map[string]any) { set(t, o, "ingress.loadBalancerIP", "192.168.1.20") },
			"ingress.loadBalancerIP", "outside every MetalLB pool"},
		{"ingress IP not an IP", func(t *testing.T, o map[string]any) { set(t, o, "ingress.loadBalancerIP", "192.168.1.x") },
			"ingress.loadBalancerIP", "not an IP address"},
		{"ingress IP missing", func(t *testing.T, o map[string]any) { set(t, o, "ingress.loadBalancerIP", "") },
			"ingress.loadBalancerIP", "is empty"},
		{"MinIO IP collides with the ingress", func(t *testing.T, o map[string]any) {
			set(t, o, "modelStore.expose", map[string]any{"ip": "192.168.1.249"})
		},
			"modelStore.expose.ip", "also requested by ingress.loadBalancerIP"},
		{"console exposed outside the pool", func(t *testing.T, o map[string]any) {
			set(t, o, "modelStore.console", map[string]any{"expose": true, "ip": "10.0.0.5"})
		}, "modelStore.console.ip", "outside every MetalLB pool"},
		{"console exposed without IP", func(t *testing.T, o map[string]any) { set(t, o, "modelStore.console", map[string]any{"expose": true}) },
			"modelStore.console.ip", "is empty"},
		{"host with scheme", func(t *testing.T, o map[string]any) { set(t, o, "ingress.hosts", []any{"http://ml-api.local"}) },
			"ingress.hosts[0]", "not a valid host name"},
		{"host with underscore", func(t *testing.T, o map[string]any) { set(t, o, "ingress.hosts", []any{"ml_api.local"}) },
			"ingress.hosts[0]", "not a valid host name"},
		{"duplicate host", func(t *testing.T, o map[string]any) {
			set(t, o, "ingress.hosts", []any{"ml-api.local", "ml-api.local"})
		},
			"ingress.hosts[1]", "listed twice"},
		{"no hosts", func(t *testing.T, o map[string]any) { set(t, o, "ingress.hosts", []any{}) },
			"ingress.hosts", "is empty"},
		{"ingress class invalid", func(t *testing.T, o map[string]any) { set(t, o, "ingress.className", "Nginx Class") },
			"ingress.className", "DNS-1123"},
		{"ingress replicas zero", func(t *testing.T, o map[string]any) { set(t, o, "ingress.replicas", 0) },
			"ingress.replicas", "at least 1"},
		{"chart version latest", func(t *testing.T, o map[string]any) { set(t, o, "charts.metallb.version", "latest") },
			"charts.metallb.version", "not an exact chart version"},
		{"chart version range", func(t *testing.T, o map[string]any) { set(t, o, "charts.ingressNginx.version", "^4.15") },
			"charts.ingressNginx.version", "not an exact chart version"},
		{"chart version empty", func(t *testing.T, o map[string]any) { set(t, o, "charts.minio.version", "") },
			"charts.minio.version", "must be pinned"},
		{"chart archive missing", func(t *testing.T, o map[string]any) { set(t, o, "charts.metallb.archive", "charts/nope.tgz") },
			"charts.metallb.archive", "cannot be read"},
		{"chart archive of another version", func(t *testing.T, o map[string]any) {
			set(t, o, "charts.metallb", map[string]any{"version": "0.15.2", "archive": "../shared/charts/metallb-0.16.1.tgz"})
		}, "charts.metallb.archive", "not the pinned metallb 0.15.2"},
		{"chart archive of another chart", func(t *testing.T, o map[string]any) {
			set(t, o, "charts.minio", map[string]any{"version": "0.16.1", "archive": "../shared/charts/metallb-0.16.1.tgz"})
		}, "charts.minio.archive", "holds chart metallb 0.16.1"},
		{"chart repository not a URL", func(t *testing.T, o map[string]any) { set(t, o, "charts.minio.repository", "charts.min.io") },
			"charts.minio.repository", "not a chart repository URL"},
		{"bucket with upper case", func(t *testing.T, o map[string]any) { set(t, o, "modelStore.buckets", []any{"MLflow_Artifacts"}) },
			"modelStore.buckets[0]", "not a valid S3 bucket name"},
		{"no buckets", func(t *testing.T, o map[string]any) { set(t, o, "modelStore.buckets", []any{}) },
			"modelStore.buckets", "is empty"},
		{"store type unknown", func(t *testing.T, o map[string]any) { set(t, o, "modelStore.type", "s3") },
			"modelStore.type", `use "minio"`},
		{"external store without endpoint", func(t *testing.T, o map[string]any) { set(t, o, "modelStore.type", "external") },
			"modelStore.external.endpoint", "not an S3 endpoint URL"},
		{"volume size not a quantity", func(t *testing.T, o map[string]any) { set(t, o, "modelStore.persistence.size", "20 GB") },
			"modelStore.persistence.size", "not a storage quantity"},
		{"resources not quantities", func(t *testing.T, o map[string]any) {
			set(t, o, "ingress.resources", map[string]any{"requests": map[string]any{"cpu": "one", "memory": "128Mi"}, "limits": map[string]any{"memory": "1Gi"}})
		}, "ingress.resources.requests.cpu", "not a Kubernetes quantity"},
		{"memory limit missing", func(t *testing.T, o map[string]any) {
			set(t, o, "modelStore.resources", map[string]any{"requests": map[string]any{"cpu": "1", "memory": "1Gi"}, "limits": map[string]any{"memory": ""}})
		}, "modelStore.resources.limits.memory", "is empty"},
		{"rclone image unpinned", func(t *testing.T, o map[string]any) { set(t, o, "modelStore.rcloneImage", "rclone/rclone:latest") },
			"modelStore.rcloneImage", "not a pinned image"},
		{"rclone remote name invalid", func(t *testing.T, o map[string]any) { set(t, o, "modelStore.rcloneRemote", "s3://") },
			"modelStore.rcloneRemote", "not an rclone remote name"},
		{"controller memory request and limit differ", func(t *testing.T, o map[string]any) {
			set(t, o, "seldon.controllerResources", map[string]any{"requests": map[string]any{"memory": "64Mi"}, "limits": map[string]any{"memory": "256Mi"}})
		}, "seldon.controllerResources.requests.memory", "takes one value (controller.resources.memory) as both request and limit"},
		{"a verification tolerance of 10 (points, not a share)", func(t *testing.T, o map[string]any) {
			set(t, o, "verification.tolerance", 10)
		}, "verification.tolerance", "not a share between 0 and 1"},
		{"a verification deadline without a unit", func(t *testing.T, o map[string]any) {
			set(t, o, "verification.deadline", "45")
		}, "verification.deadline", "not a positive duration"},
		{"seeding MinIO without an exposed IP", func(t *testing.T, o map[string]any) {
			set(t, o, "modelStore.seed", []any{map[string]any{"source": "stacks", "bucket": "mlflow-artifacts", "prefix": "models"}})
		}, "modelStore.seed[0]", "needs modelStore.expose.ip"},
		{"seeding an undeclared bucket", func(t *testing.T, o map[string]any) {
			set(t, o, "commands", map[string]any{"enabled": true})
			set(t, o, "modelStore.expose", map[string]any{"ip": "192.168.1.240"})
			set(t, o, "modelStore.seed", []any{map[string]any{"source": "stacks", "bucket": "models", "prefix": "x"}})
		}, "modelStore.seed[0].bucket", "not one of modelStore.buckets"},
		{"two runtimes for one namespace", func(t *testing.T, o map[string]any) {
			set(t, o, "seldon.modelNamespaces", []any{"seldon-system", "seldon-system"})
		}, "seldon.modelNamespaces[1]", "two schedulers"},
		{"scikit-learn is not sklearn", func(t *testing.T, o map[string]any) {
			set(t, o, "models.0.requirements", []any{"mlflow", "scikit-learn"})
		}, "models[0].requirements[1]", `the Server offers "sklearn"`},
		{"requirement without the extra capability", func(t *testing.T, o map[string]any) {
			set(t, o, "seldon.servers.0.extraCapabilities", []any{"numpy"})
		}, "models[0].requirements[1]", `add "torch" to the Server's extraCapabilities`},
		{"model outside every model namespace", func(t *testing.T, o map[string]any) { set(t, o, "models.1.namespace", "models") },
			"models[1].namespace", "no scheduler would own it"},
		{"storage URI scheme is not the rclone remote", func(t *testing.T, o map[string]any) {
			set(t, o, "models.0.storageUri", "minio://mlflow-artifacts/baseline-predictor")
		}, "models[0].storageUri", `rclone remote is named "s3"`},
		{"storage URI in an undeclared bucket", func(t *testing.T, o map[string]any) {
			set(t, o, "models.0.storageUri", "s3://models/baseline-predictor")
		}, "models[0].storageUri", "not in modelStore.buckets"},
		{"model on an unknown server", func(t *testing.T, o map[string]any) { set(t, o, "models.0.server", "triton") },
			"models[0].server", "not a Server in namespace seldon-system"},
		{"server config unknown", func(t *testing.T, o map[string]any) { set(t, o, "seldon.servers.0.serverConfig", "mlserver-1") },
			"seldon.servers[0].serverConfig", "use mlserver or triton"},
		{"candidate is not a model", func(t *testing.T, o map[string]any) {
			set(t, o, "experiment.candidates.1.name", "enhanced-predictor_1")
		},
			"experiment.candidates[1].name", "not a Model declared"},
		{"zero weight", func(t *testing.T, o map[string]any) { set(t, o, "experiment.candidates.1.weight", 0) },
			"experiment.candidates[1].weight", "must be positive"},
		{"default is not a candidate", func(t *testing.T, o map[string]any) { set(t, o, "experiment.default", "champion") },
			"experiment.default", "not one of the candidates"},
		{"a single candidate", func(t *testing.T, o map[string]any) {
			set(t, o, "experiment.candidates", []any{map[string]any{"name": "baseline-predictor", "weight": 100}})
		}, "experiment.candidates", "at least two"},
		{"mirror is a candidate", func(t *testing.T, o map[string]any) {
			set(t, o, "experiment.mirror", map[string]any{"name": "enhanced-predictor", "percent": 10})
		}, "experiment.mirror.name", "also a candidate"},
		{"controller env name invalid", func(t *testing.T, o map[string]any) {
			set(t, o, "seldon.controllerEnv", map[string]any{"LOG-LEVEL": "debug"})
		},
			"seldon.controllerEnv.LOG-LEVEL", "not an environment variable name"},
		{"path prefix with a regex", func(t *testing.T, o map[string]any) { set(t, o, "seldon.pathPrefix", "/seldon-system(/|$)(.*)") },
			"seldon.pathPrefix", "not a plain path prefix"},
		{"envoy on a NodePort", func(t *testing.T, o map[string]any) { set(t, o, "seldon.envoy.serviceType", "NodePort") },
			"seldon.envoy.serviceType", "not ClusterIP or LoadBalancer"},
		{"misspelt key gets a suggestion", func(t *testing.T, o map[string]any) {
			set(t, o, "metallb.pools.0", map[string]any{"name": "lan", "adresses": []any{"192.168.1.200-192.168.1.250"}})
		}, "metallb.pools[0].adresses", `did you mean "addresses"`},
		{"unknown top-level key", func(t *testing.T, o map[string]any) { o["controllerManager"] = map[string]any{"env": map[string]any{}} },
			"controllerManager", "is not a setting of this project"},
		{"wrong type", func(t *testing.T, o map[string]any) { set(t, o, "ingress.replicas", "two") },
			"ingress.replicas", "give a whole number"},
		{"object given as a plain string", func(t *testing.T, o map[string]any) { o["metallb"] = "192.168.1.200-192.168.1.250" },
			"metallb", "not a structured value"},
		{"kubeconfig path missing", func(t *testing.T, o map[string]any) { set(t, o, "cluster.kubeconfig", "/nonexistent/kubeconfig") },
			"cluster.kubeconfig", "does not name a readable file"},
		{"both experiment keys", func(t *testing.T, o map[string]any) { o["experiments"] = []any{o["experiment"]} },
			"experiment", "is set beside experiments"},
		{"two experiments on one default model", func(t *testing.T, o map[string]any) {
			o["experiments"] = []any{o["experiment"], map[string]any{"name": "second", "default": "baseline-predictor",
				"candidates": []any{map[string]any{"name": "baseline-predictor", "weight": 1}, map[string]any{"name": "enhanced-predictor", "weight": 1}}}}
			delete(o, "experiment")
		}, "experiments[1].default", "ExperimentBaselineExists"},
		{"two experiments with one name", func(t *testing.T, o map[string]any) {
			o["experiments"] = []any{o["experiment"], map[string]any{"name": "financial-ab-test-experiment",
				"candidates": []any{map[string]any{"name": "baseline-predictor", "weight": 1}, map[string]any{"name": "enhanced-predictor", "weight": 1}}}}
			delete(o, "experiment")
		}, "experiments[1].name", "is also the name of experiments[0]"},
		{"weights that sum to zero", func(t *testing.T, o map[string]any) {
			set(t, o, "experiment.candidates.0.weight", 0)
			set(t, o, "experiment.candidates.1.weight", 0)
		}, "experiment.candidates", "sum to 0"},
		{"candidate in another namespace", func(t *testing.T, o map[string]any) {
			secondNamespace(t, o)
			set(t, o, "experiment.candidates.1.name", "team-b-predictor")
		}, "experiment.candidates[1].name", "is a Model of namespace team-b, not of seldon-system"},
		{"experiments in two namespaces", func(t *testing.T, o map[string]any) {
			secondNamespace(t, o)
			o["experiments"] = []any{o["experiment"], map[string]any{"name": "team-b", "namespace": "team-b",
				"candidates": []any{map[string]any{"name": "team-b-predictor", "weight": 1}, map[string]any{"name": "team-b-challenger", "weight": 1}}}}
			delete(o, "experiment")
		}, "experiments[1].namespace", "the ingress routes to one seldon-mesh"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			objects := stackObjects(t, "homelab")
			tc.mutate(t, objects)
			_, err := load(t, objects)
			if err == nil {
				t.Fatal("the invalid config was accepted")
			}
			msg := err.Error()
			if !strings.Contains(msg, config.Namespace+":"+tc.wantKey+" ") {
				t.Errorf("message does not name key %s:\n%s", tc.wantKey, msg)
			}
			if !strings.Contains(msg, tc.want) {
				t.Errorf("message lacks %q:\n%s", tc.want, msg)
			}
			if !strings.Contains(msg, "fix:") {
				t.Errorf("message gives no fix:\n%s", msg)
			}
		})
	}
}

// secondNamespace adds model namespace team-b with a Server and two Models, team-b-predictor and team-b-challenger.
func secondNamespace(t *testing.T, o map[string]any) {
	t.Helper()
	set(t, o, "seldon.modelNamespaces", []any{"seldon-system", "team-b"})
	servers := o["seldon"].(map[string]any)["servers"].([]any)
	o["seldon"].(map[string]any)["servers"] = append(servers, map[string]any{"name": "mlserver", "namespace": "team-b"})
	for _, name := range []string{"team-b-predictor", "team-b-challenger"} {
		o["models"] = append(o["models"].([]any), map[string]any{"name": name, "namespace": "team-b", "memory": "100Mi",
			"storageUri": "s3://mlflow-artifacts/" + name, "server": "mlserver"})
	}
}

func TestAllErrorsAreReportedAtOnce(t *testing.T) {
	objects := stackObjects(t, "homelab")
	set(t, objects, "ingress.loadBalancerIP", "10.1.1.1")
	set(t, objects, "ingress.replicas", 0)
	set(t, objects, "charts.metallb.version", "latest")
	_, err := load(t, objects)
	var errs config.Errors
	if !errors.As(err, &errs) || len(errs) != 3 {
		t.Fatalf("want 3 problems reported together, got %v", err)
	}
}

func TestCredentials(t *testing.T) {
	objects := stackObjects(t, "homelab")
	t.Run("plaintext password is refused with the secret command, without echoing it", func(t *testing.T) {
		src := source(t, objects)
		src.values[config.Namespace+":"+config.SecretKeyKey] = "hunter2-plaintext"
		src.secrets[config.Namespace+":"+config.SecretKeyKey] = false
		_, err := config.Load(src, config.Options{StackName: "homelab"})
		if err == nil {
			t.Fatal("plaintext credential accepted")
		}
		msg := err.Error()
		if !strings.Contains(msg, "pulumi config set --secret modelStoreSecretKey") || !strings.Contains(msg, "plain text") {
			t.Errorf("message does not give the fix: %s", msg)
		}
		if strings.Contains(msg, "hunter2") {
			t.Errorf("message leaks the credential: %s", msg)
		}
	})
	t.Run("missing credentials are required", func(t *testing.T) {
		src := source(t, objects)
		delete(src.values, config.Namespace+":"+config.AccessKeyKey)
		_, err := config.Load(src, config.Options{StackName: "homelab"})
		if err == nil || !strings.Contains(err.Error(), "seldon-ab:modelStoreAccessKey is required") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("short MinIO password is refused without echoing it", func(t *testing.T) {
		src := source(t, objects)
		src.values[config.Namespace+":"+config.SecretKeyKey] = "abc12"
		_, err := config.Load(src, config.Options{StackName: "homelab"})
		if err == nil || !strings.Contains(err.Error(), "shorter than 8") || strings.Contains(err.Error(), "abc12") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("secrets never format their value", func(t *testing.T) {
		s := config.NewSecret("swordfish")
		for _, got := range []string{s.String(), s.GoString()} {
			if strings.Contains(got, "swordfish") {
				t.Errorf("secret formatted as %q", got)
			}
		}
	})
}

func TestSchedulerHostEnvIsAcceptedWithAWarningThatItDoesNothing(t *testing.T) {
	objects := stackObjects(t, "homelab")
	set(t, objects, "seldon.controllerEnv", map[string]any{"SELDON_SCHEDULER_HOST": "seldon-scheduler.seldon-system"})
	s, err := load(t, objects)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Warnings) != 1 || !strings.Contains(s.Warnings[0], "seldon-scheduler.<namespace of the Model or Experiment>:9004") {
		t.Errorf("warnings = %q", s.Warnings)
	}
}

// Several experiments in the mesh's namespace, sharing a candidate: accepted, each under its own key.
func TestSeveralExperimentsAreAccepted(t *testing.T) {
	o := stackObjects(t, "homelab")
	o["experiments"] = []any{o["experiment"], map[string]any{"name": "challenger-first", "default": "enhanced-predictor",
		"candidates": []any{map[string]any{"name": "enhanced-predictor", "weight": 9}, map[string]any{"name": "baseline-predictor", "weight": 1}}}}
	delete(o, "experiment")
	s, err := load(t, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Experiments) != 2 || s.Experiments[1].Namespace != "seldon-system" || s.MeshNamespace() != "seldon-system" ||
		s.ExperimentKey(1) != "experiments[1]" {
		t.Errorf("experiments %+v, mesh %s", s.Experiments, s.MeshNamespace())
	}
}

func TestNamespacesDefaultToTheFirstModelNamespace(t *testing.T) {
	s, err := load(t, stackObjects(t, "homelab"))
	if err != nil {
		t.Fatal(err)
	}
	if s.Models[0].Namespace != "seldon-system" || s.Experiments[0].Namespace != "seldon-system" || s.Seldon.Servers[0].Namespace != "seldon-system" {
		t.Errorf("namespaces: model %q experiment %q server %q", s.Models[0].Namespace, s.Experiments[0].Namespace, s.Seldon.Servers[0].Namespace)
	}
}

// A Server that holds its Models but no new version beside them is accepted (the first up works) with a warning
// that names the Model, the key and the memory a roll needs.
func TestAServerWithNoRoomToRollAModelIsWarnedAbout(t *testing.T) {
	objects := stackObjects(t, "homelab")
	set(t, objects, "seldon.servers", []any{map[string]any{"name": "mlserver", "replicas": 1,
		"extraCapabilities": []any{"torch", "numpy"}, "memory": "2Gi"}})
	s, err := load(t, objects)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Warnings) != 2 || !strings.Contains(s.Warnings[0], "no room to roll Model baseline-predictor (models[0])") ||
		!strings.Contains(s.Warnings[0], "set seldon.servers[0].memory to at least 2793Mi (e.g. 3Gi)") {
		t.Errorf("warnings = %q", s.Warnings)
	}
}
