// Package seldonspec holds Seldon Core v2's names and behaviours at the pinned version (2.10.2), each with the
// upstream file it comes from, so the stack model, the components, the policies and the sandbox's simulation of the
// control plane spell them once. It imports nothing of this project.
package seldonspec

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
)

// ChartVersion is the Seldon Core v2 release these facts are read from.
const ChartVersion = "2.10.2"

// APIVersion is the group/version of every Seldon custom resource.
const (
	Group      = "mlops.seldon.io"
	Version    = "v1alpha1"
	APIVersion = Group + "/" + Version
)

// Kinds of the custom resources this stack creates or reads.
const (
	KindSeldonRuntime = "SeldonRuntime"
	KindSeldonConfig  = "SeldonConfig"
	KindServerConfig  = "ServerConfig"
	KindServer        = "Server"
	KindModel         = "Model"
	KindExperiment    = "Experiment"
)

// Objects the setup chart and the controller create, by name.
const (
	// ControllerDeployment and ControllerContainer are the setup chart's controller manager.
	ControllerDeployment = "seldon-v2-controller-manager"
	ControllerContainer  = "manager"
	// SeldonConfigName is the setup chart's SeldonConfig, which a SeldonRuntime's spec.seldonConfig names.
	SeldonConfigName = "default"
	// RuntimeName is the SeldonRuntime this stack puts in each model namespace.
	RuntimeName = "seldon"
	// SchedulerService is what the controller dials, in the namespace of the resource it reconciles, on
	// SchedulerControlPort (operator/scheduler/client.go getSchedulerHost); every runtime creates it.
	SchedulerService     = "seldon-scheduler"
	SchedulerControlPort = 9004
	// MeshService is envoy's Service in each runtime namespace; port 80 is its HTTP data plane.
	MeshService     = "seldon-mesh"
	MeshServicePort = 80
	// MLServerContainer is the inference server container of ServerConfig mlserver; the agent's MEMORY_REQUEST
	// is this container's memory request (setup chart, ServerConfig mlserver, resourceFieldRef).
	MLServerContainer = "mlserver"
	// AgentContainer carries SELDON_SERVER_CAPABILITIES, the ServerConfig's default capabilities.
	AgentContainer          = "agent"
	ServerCapabilitiesEnv   = "SELDON_SERVER_CAPABILITIES"
	ControllerClusterwide   = "CLUSTERWIDE"
	ControllerWatchNSEnv    = "WATCH_NAMESPACES"
	ExperimentHeaderSuffix  = ".experiment"
	PulumiWaitForAnnotation = "pulumi.com/waitFor"
)

// Finalizers the controller adds (operator/controllers/mlops/*_controller.go); Servers have none.
const (
	ModelFinalizer      = "seldon.model.finalizer"
	ExperimentFinalizer = "seldon.experiment.finalizer"
	RuntimeFinalizer    = "seldon.runtime.finalizer"
)

// Runtime components, as named in SeldonRuntime.spec.overrides[].name, with the condition each sets once it is
// up (operator/apis/mlops/v1alpha1/seldonruntime_types.go). A disabled component sets none.
type Component struct {
	Name      string
	Condition string
	// NeedsKafka marks the components that exist only to move data through Kafka.
	NeedsKafka bool
}

// Names of the runtime components this stack configures individually.
const (
	SchedulerComponent = "seldon-scheduler"
	EnvoyComponent     = "seldon-envoy"
	HodometerComponent = "hodometer"
)

// Components are the six runtime components, in the order of the runtime's condition set.
var Components = []Component{
	{Name: SchedulerComponent, Condition: "SchedulerReady"},
	{Name: EnvoyComponent, Condition: "EnvoyReady"},
	{Name: "seldon-dataflow-engine", Condition: "DataflowEngineReady", NeedsKafka: true},
	{Name: "seldon-modelgateway", Condition: "ModelGatewayReady", NeedsKafka: true},
	{Name: "seldon-pipelinegateway", Condition: "PipelineGatewayReady", NeedsKafka: true},
	{Name: HodometerComponent, Condition: "HodometerReady"},
}

// Condition types of the other resources (operator/apis/mlops/v1alpha1/*_types.go).
const (
	ConditionReady            = "Ready"
	ServerStatefulSetReady    = "StatefulSetOrDeploymentReady"
	ModelReadyCondition       = "ModelReady"
	ExperimentCandidatesReady = "CandidatesReady"
	ExperimentReadyCondition  = "ExperimentReady"
	ExperimentMirrorReady     = "MirrorReady"
)

// EmbeddedKubernetesFields are the CRD fields whose schemas are Kubernetes' own types, which controller-gen copies
// with their API documentation into the CRD chart: podSpec (core PodSpec, or Seldon's copy of its fields in
// operator/apis/mlops/v1alpha1/podspec.go) in Server, ServerConfig, SeldonConfig and SeldonRuntime;
// volumeClaimTemplates (PersistentVolumeClaim) in ServerConfig and SeldonConfig; imageOverrides (agent and rclone,
// core Containers) in Server (operator/apis/mlops/v1alpha1/{server,serverconfig,seldonconfig,seldonruntime}_types.go).
var EmbeddedKubernetesFields = []string{"podSpec", "volumeClaimTemplates", "imageOverrides"}

// SetupConfigSecrets are the rclone Secrets the setup chart's SeldonConfig "default" lists in
// config.agentConfig.rclone.config_secrets. The controller appends them to every runtime's own list and each
// agent exits at start-up when one is missing (scheduler/pkg/agent/rclone/rclone_config.go); only the runtime
// chart creates them. tests/charts checks this list against the rendered chart, and the sandbox's simulation of the
// control plane reads the list from the SeldonConfig the chart rendered.
var SetupConfigSecrets = []string{"seldon-rclone-gs-public"}

// PublicGCSRemote is the body the runtime chart gives seldon-rclone-gs-public (seldon-core-v2-runtime 2.10.2,
// templates/rclone-gs-public.yaml, key "gs"): an anonymous Google Cloud Storage remote for Seldon's public examples.
const PublicGCSRemote = `type: "google cloud storage"
name: gs
parameters:
  anonymous: true
`

// DefaultServerMemory is the mlserver container's memory request in ServerConfig mlserver as the setup chart
// renders it by default (serverConfig.mlserver.resources.memory); each Server replica offers the scheduler this
// much, plus MemoryOvercommitPercent.
const DefaultServerMemory = "1Gi"

// MemoryOvercommitPercent is the overcommit the setup chart gives every agent (values.yaml
// serverConfig.agent.overcommitPercentage "10", passed as OvercommitEnv): a replica accepts models up to its memory
// request times 1.1 (scheduler/cmd/agent/main.go ReplicaConfig, scheduler/pkg/scheduler/filters/replicamemory.go).
const MemoryOvercommitPercent = 10

// OvercommitEnv is the agent container's env var that carries the overcommit percentage.
const OvercommitEnv = "SELDON_OVERCOMMIT_PERCENTAGE"

// ReplicaCapacity is the model memory, in bytes, one Server replica with the given memory request accepts.
func ReplicaCapacity(request resource.Quantity) int64 {
	return ReplicaCapacityWith(request, MemoryOvercommitPercent)
}

// ReplicaCapacityWith is ReplicaCapacity for another overcommit percentage.
func ReplicaCapacityWith(request resource.Quantity, overcommitPercent int) int64 {
	return int64(math.Floor(float64(request.Value()) * float64(100+overcommitPercent) / 100))
}

// ScheduleFailedMessage is the scheduler's message for a Model that fits on no Server replica.
const ScheduleFailedMessage = "Failed to schedule model as no matching server had enough suitable replicas"

// NoSchedulerMessage is what the controller reports when seldon-scheduler.<ns> resolves to nothing.
const NoSchedulerMessage = "name resolver error: produced zero addresses"

// MissingSecretMessage is the agent's start-up error for a listed rclone Secret that does not exist.
func MissingSecretMessage(secret string) string {
	return fmt.Sprintf("secrets %q not found", secret)
}

// ExperimentHeader is the seldon-model header value that routes to an Experiment.
func ExperimentHeader(experiment string) string { return experiment + ExperimentHeaderSuffix }

// ControllerScope is what the controller reconciles (operator/main.go): its own namespace unless clusterwide is
// true, and then the namespaces of --watch-namespaces, or every namespace when that list is empty. With
// clusterwide false, --watch-namespaces is ignored.
type ControllerScope struct {
	All        bool
	Namespaces []string
	// Ignored are namespaces listed in --watch-namespaces that the controller ignores (clusterwide false).
	Ignored []string
}

// ScopeOf reads the scope from the controller's namespace and its CLUSTERWIDE and WATCH_NAMESPACES env values.
func ScopeOf(controllerNamespace, clusterwide, watchNamespaces string) ControllerScope {
	var listed []string
	for _, ns := range strings.Split(watchNamespaces, ",") {
		if ns = strings.TrimSpace(ns); ns != "" && !slices.Contains(listed, ns) {
			listed = append(listed, ns)
		}
	}
	if clusterwide != "true" {
		scope := ControllerScope{Namespaces: []string{controllerNamespace}}
		for _, ns := range listed {
			if ns != controllerNamespace {
				scope.Ignored = append(scope.Ignored, ns)
			}
		}
		return scope
	}
	return ControllerScope{All: len(listed) == 0, Namespaces: listed}
}

// Watches reports whether the controller reconciles resources in ns.
func (s ControllerScope) Watches(ns string) bool { return s.All || slices.Contains(s.Namespaces, ns) }

func (s ControllerScope) String() string {
	if s.All {
		return "every namespace (clusterwide)"
	}
	return "namespaces " + strings.Join(s.Namespaces, ", ")
}

// MLServerMemoryRequest is a Server replica's memory as the agent reports it (MEMORY_REQUEST, the mlserver
// container's memory request): the ServerConfig's podSpec, unless the Server's podSpec override sets it for that
// container. Both arguments are the objects as decoded JSON; "" when neither sets it.
func MLServerMemoryRequest(serverConfig, server map[string]any) string {
	request := ""
	for _, obj := range []map[string]any{serverConfig, server} {
		spec, _ := obj["spec"].(map[string]any)
		podSpec, _ := spec["podSpec"].(map[string]any)
		containers, _ := podSpec["containers"].([]any)
		for _, c := range containers {
			container, _ := c.(map[string]any)
			if container["name"] != MLServerContainer {
				continue
			}
			resources, _ := container["resources"].(map[string]any)
			requests, _ := resources["requests"].(map[string]any)
			if memory, ok := requests["memory"].(string); ok {
				request = memory
			}
		}
	}
	return request
}

// The capabilities the setup chart's ServerConfigs advertise (SELDON_SERVER_CAPABILITIES, serverConfig.*.serverCapabilities
// in values.yaml); a Server's extraCapabilities add to them, while Server.spec.capabilities would replace them (the
// field story's `scikit-learn` mistake). The sandbox's Seldon model reads them from the rendered ServerConfig.
var (
	MLServerCapabilities = []string{"mlserver", "alibi-detect", "alibi-explain", "huggingface", "lightgbm", "mlflow", "python", "sklearn", "spark-mlib", "xgboost"}
	TritonCapabilities   = []string{"triton", "dali", "fil", "onnx", "openvino", "python", "pytorch", "tensorflow", "tensorrt"}
)

// DefaultCapabilities returns a copy of what the named ServerConfig advertises.
func DefaultCapabilities(serverConfig string) []string {
	if serverConfig == "triton" {
		return slices.Clone(TritonCapabilities)
	}
	return slices.Clone(MLServerCapabilities)
}

// Candidate is one Model of an Experiment and its weight; its share of traffic is weight / sum of weights
// (Experiment.spec.candidates[]).
type Candidate struct {
	Name   string `json:"name"`
	Weight int    `json:"weight"`
}
