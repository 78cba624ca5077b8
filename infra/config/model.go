// Package config is the typed model of one stack: it reads Pulumi configuration, fills defaults and validates the
// whole of it, reporting every problem at once, before any resource is registered. It registers no resources.
package config

import (
	"fmt"

	"github.com/seldon-ab/provisioner/internal/kube"
)

// Namespace is the Pulumi config namespace of this project: keys are written `seldon-ab:<key>`.
const Namespace = "seldon-ab"

// Stack is everything one stack deploys, after defaults and validation.
type Stack struct {
	Name       string     `json:"-"`
	Cluster    Cluster    `json:"cluster"`
	Charts     Charts     `json:"charts"`
	MetalLB    MetalLB    `json:"metallb"`
	Ingress    Ingress    `json:"ingress"`
	ModelStore ModelStore `json:"modelStore"`
	Seldon     Seldon     `json:"seldon"`
	Models     []Model    `json:"models"`
	// Experiments are the A/B splits, set as `experiments` (a list) or, for one, `experiment`; empty once every
	// winner is promoted (the keys removed): the Models are then served by name.
	Experiments  []Experiment `json:"experiments"`
	Verification Verification `json:"verification"`
	Commands     Commands     `json:"commands"`
	// Warnings are settings that are valid but do not do what they look like they do.
	Warnings []string `json:"-"`
	// Credentials come from secret config keys, never from the objects above.
	Credentials Credentials `json:"-"`
	// experimentKey is the key the experiments were set under, so that errors name the key the user wrote.
	experimentKey string
}

// MeshNamespace is the model namespace whose seldon-mesh the ingress routes to: the experiments' (validation keeps
// them in one), else the first model namespace. Models in the other namespaces are served by their own namespace's
// mesh, not through the ingress.
func (s *Stack) MeshNamespace() string {
	if len(s.Experiments) > 0 {
		return s.Experiments[0].Namespace
	}
	return s.Seldon.ModelNamespaces[0]
}

// ExperimentKey is the config key of the i-th experiment, as the stack file wrote it.
func (s *Stack) ExperimentKey(i int) string {
	if s.experimentKey == singleExperimentKey {
		return singleExperimentKey
	}
	return fmt.Sprintf("experiments[%d]", i)
}

// Cluster says which Kubernetes API server the stack targets.
type Cluster struct {
	// Kubeconfig is a path ("~" allowed); empty means $KUBECONFIG or ~/.kube/config.
	Kubeconfig string `json:"kubeconfig"`
	Context    string `json:"context"`
	// Identifier names the cluster to Pulumi; it stays fixed when the kubeconfig changes, so a moved or renamed
	// kubeconfig does not replace every resource. Defaults to the stack name.
	Identifier string `json:"identifier"`
	// Preflight reads the cluster before anything is created and refuses one this stack cannot run on (k3s's
	// ServiceLB beside MetalLB, another controller on the IngressClass). On by default.
	Preflight *bool `json:"preflight"`
}

// RunsPreflight reports whether the cluster preflight runs.
func (c Cluster) RunsPreflight() bool { return c.Preflight == nil || *c.Preflight }

// Chart pins one Helm chart: an exact version, pulled from Repository unless Archive (a local .tgz) is set.
type Chart struct {
	Version    string `json:"version"`
	Repository string `json:"repository"`
	Archive    string `json:"archive"`
}

// Manifest is a pinned release manifest: its upstream URL, or a local copy (File wins).
type Manifest struct {
	Version string `json:"version"`
	URL     string `json:"url"`
	File    string `json:"file"`
}

// Charts lists every chart the stack installs.
type Charts struct {
	MetalLB            Chart `json:"metallb"`
	IngressNginx       Chart `json:"ingressNginx"`
	NginxGatewayFabric Chart `json:"nginxGatewayFabric"`
	// GatewayAPI is the Gateway API's standard-channel CRDs NGINX Gateway Fabric needs (not in its chart).
	GatewayAPI  Manifest `json:"gatewayAPI"`
	MinIO       Chart    `json:"minio"`
	SeldonCRDs  Chart    `json:"seldonCrds"`
	SeldonSetup Chart    `json:"seldonSetup"`
}

// Resources are a container's requests and limits.
type Resources = kube.Resources

// ResourceList holds cpu and memory quantities.
type ResourceList = kube.ResourceList

// MetalLB configures the load balancer that gives Services their LAN IPs.
type MetalLB struct {
	Namespace string `json:"namespace"`
	Pools     []Pool `json:"pools"`
	// L2Advertisement announces the pools on the LAN (ARP/NDP).
	L2Advertisement L2Advertisement `json:"l2Advertisement"`
	// ValidationWebhooks keeps MetalLB's admission webhooks; only a cluster that cannot run the controller turns
	// them off (the sandbox), since the API server would call a webhook that never answers.
	ValidationWebhooks *bool     `json:"validationWebhooks"`
	Controller         Resources `json:"controllerResources"`
	Speaker            Resources `json:"speakerResources"`
}

// Pool is one MetalLB IPAddressPool.
type Pool struct {
	Name string `json:"name"`
	// Addresses are CIDRs (192.168.1.0/24) or inclusive ranges (192.168.1.200-192.168.1.250).
	Addresses []string `json:"addresses"`
	// AutoAssign lets MetalLB hand these IPs to Services that asked for none; default true.
	AutoAssign    *bool `json:"autoAssign"`
	AvoidBuggyIPs bool  `json:"avoidBuggyIPs"`
}

// L2Advertisement selects the pools announced in layer 2 mode.
type L2Advertisement struct {
	Name string `json:"name"`
	// Pools lists pool names; empty announces every pool.
	Pools      []string `json:"pools"`
	Interfaces []string `json:"interfaces"`
}

// Ingress controllers.
const (
	// ControllerIngressNginx is ingress-nginx on an Ingress: retired upstream, no fixes since March 2026.
	ControllerIngressNginx = "ingress-nginx"
	// ControllerGatewayFabric is NGINX Gateway Fabric on the Gateway API: the maintained NGINX path.
	ControllerGatewayFabric = "nginx-gateway-fabric"
)

// Ingress configures the NGINX controller that takes the LAN's calls to the mesh.
type Ingress struct {
	// Controller is ingress-nginx (an Ingress per host rule) or nginx-gateway-fabric (a Gateway and an HTTPRoute).
	Controller string `json:"controller"`
	// Namespace holds the controller: ingress-nginx or nginx-gateway by default, after the controller.
	Namespace string `json:"namespace"`
	// ClassName is the IngressClass, or with NGINX Gateway Fabric the GatewayClass, the controller serves.
	ClassName string `json:"className"`
	// LoadBalancerIP is the fixed MetalLB IP of the controller's Service.
	LoadBalancerIP string `json:"loadBalancerIP"`
	// Hosts are the names clients use for the A/B endpoint (Ingress host rules to seldon-mesh).
	Hosts     []string  `json:"hosts"`
	Replicas  int       `json:"replicas"`
	Resources Resources `json:"resources"`
	// WaitForAddress gates the mesh Ingress on the address the ingress controller publishes for it; only a cluster
	// where no ingress controller runs (the sandbox) turns it off.
	WaitForAddress *bool `json:"waitForAddress"`
}

// WaitsForAddress reports whether Pulumi waits for the mesh Ingress to get an address.
func (in Ingress) WaitsForAddress() bool { return in.WaitForAddress == nil || *in.WaitForAddress }

// Model store types.
const (
	StoreMinIO    = "minio"
	StoreExternal = "external"
)

// ModelStore is where model artifacts live: an in-cluster MinIO, or an external S3 endpoint.
type ModelStore struct {
	Type      string   `json:"type"`
	Namespace string   `json:"namespace"`
	Buckets   []string `json:"buckets"`
	// RcloneRemote is the rclone remote name; every Model storageUri must start with "<RcloneRemote>://".
	RcloneRemote string          `json:"rcloneRemote"`
	Persistence  Persistence     `json:"persistence"`
	Expose       Exposure        `json:"expose"`
	Console      Console         `json:"console"`
	External     ExternalStore   `json:"external"`
	Resources    Resources       `json:"resources"`
	Seed         []SeedDirectory `json:"seed"`
	// RcloneImage is the pinned rclone image of the Job that creates the buckets.
	RcloneImage        string    `json:"rcloneImage"`
	BucketJobResources Resources `json:"bucketJobResources"`
}

// Persistence is MinIO's data volume.
type Persistence struct {
	Size         string `json:"size"`
	StorageClass string `json:"storageClass"`
	// PurgeOnDestroy deletes the volume (and every artifact in it) with `pulumi destroy`; by default it is kept.
	PurgeOnDestroy bool `json:"purgeOnDestroy"`
}

// Exposure puts the S3 API on a fixed MetalLB IP; empty IP keeps it inside the cluster.
type Exposure struct {
	IP string `json:"ip"`
}

// Console is MinIO's web console; it is not exposed on the LAN unless Expose is set.
type Console struct {
	Expose bool   `json:"expose"`
	IP     string `json:"ip"`
}

// ExternalStore is an S3 endpoint outside the cluster (Garage, SeaweedFS, Ceph RGW, AWS).
type ExternalStore struct {
	Endpoint string `json:"endpoint"`
	Region   string `json:"region"`
	// Provider is rclone's s3 provider name (Minio, AWS, Ceph, Other...).
	Provider string `json:"provider"`
}

// SeedDirectory uploads a directory of model artifacts from the operator's machine to s3://Bucket/Prefix: by a
// command resource during `up` with commands.enabled, else by `seldon-ab up` between the store and the Models
// (the stack's seedArgs output holds the command lines either way).
type SeedDirectory struct {
	Source string `json:"source"`
	Bucket string `json:"bucket"`
	Prefix string `json:"prefix"`
}

// Verification describes the post-deploy inference calls.
type Verification struct {
	// Enabled runs the verifier at the end of every update: a command resource of the program when commands are
	// enabled (re-run when what it checks changed), otherwise the last step of `seldon-ab up`.
	Enabled bool `json:"enabled"`
	// Input is the V2 input tensor the experiment's models take (the field setup: input_data, [1,10,35], FP32).
	Input TensorSpec `json:"input"`
	// Requests to the experiment in each look of the split test; 0 sizes a look for the test (tolerance,
	// significance, power).
	Requests    int `json:"requests"`
	Concurrency int `json:"concurrency"`
	// Tolerance is the smallest drift of a candidate's share that matters (0.10: ±10 points); a drift that
	// large passes with probability Significance, a split exactly as configured needs a second look with
	// probability 1-Power.
	Tolerance    float64 `json:"tolerance"`
	Significance float64 `json:"significance"`
	Power        float64 `json:"power"`
	// LatencyP95 is each candidate's p95 budget; LatencyRatio bounds the other candidates' p95 by that multiple
	// of the default model's (plus 50 ms).
	LatencyP95   string  `json:"latencyP95"`
	LatencyRatio float64 `json:"latencyRatio"`
	// Timeout is each call's, Deadline the whole run's (Go durations: 5s, 45s).
	Timeout  string `json:"timeout"`
	Deadline string `json:"deadline"`
	// RolloutTimeout bounds how long an update's changes may take to show in traffic after the engine is done: a
	// Model's new version to answer, a removed route to go, an Experiment's new split to be served (Go duration).
	RolloutTimeout string `json:"rolloutTimeout"`
	// Nonce forces a re-run when changed (pulumi config set --path verification.nonce $(date +%s)).
	Nonce string `json:"nonce"`
}

// TensorSpec is one V2 input tensor.
type TensorSpec struct {
	Name     string `json:"name"`
	Shape    []int  `json:"shape"`
	Datatype string `json:"datatype"`
}

// Commands gates resources that run programs on the operator's machine (pulumi-command): artifact seeding and
// post-deploy verification. A machine without the command provider plugin must leave them off (`seldon-ab up`
// then runs the seeds and the verifier itself).
type Commands struct {
	Enabled bool `json:"enabled"`
}

// Credentials are the model store's access key pair. Both are secrets: they print as "[secret]".
type Credentials struct {
	AccessKey Secret
	SecretKey Secret
}

// Secret holds a secret config value; it never formats its content, so it cannot leak through logs or errors.
type Secret struct{ value string }

// NewSecret wraps a secret value.
func NewSecret(value string) Secret { return Secret{value: value} }

// Reveal returns the value, for wrapping straight into a Pulumi secret output.
func (s Secret) Reveal() string { return s.value }

// IsSet reports whether a value was given.
func (s Secret) IsSet() bool { return s.value != "" }

// String hides the value.
func (s Secret) String() string { return "[secret]" }

// GoString hides the value from %#v too.
func (s Secret) GoString() string { return "[secret]" }
