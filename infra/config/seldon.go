package config

import "github.com/seldon-ab/provisioner/internal/seldonspec"

// Seldon Core v2 chart versions and names.
const (
	SeldonChartVersion    = "2.10.2"
	SeldonCRDsChartName   = "seldon-core-v2-crds"
	SeldonSetupChartName  = "seldon-core-v2-setup"
	seldonChartRepository = "https://seldonio.github.io/helm-charts"
)

// Seldon configures the controller, one runtime (scheduler, envoy) per model namespace, and the Servers.
type Seldon struct {
	// Namespace holds the controller manager, SeldonConfig and ServerConfigs.
	Namespace string `json:"namespace"`
	// ModelNamespaces each get exactly one SeldonRuntime; Servers, Models and the Experiment live in them.
	// Defaults to [Namespace], the field setup's single namespace.
	ModelNamespaces []string `json:"modelNamespaces"`
	// ControllerEnv is extra environment for the controller manager container.
	ControllerEnv       map[string]string `json:"controllerEnv"`
	ControllerResources Resources         `json:"controllerResources"`
	Envoy               Envoy             `json:"envoy"`
	// KafkaBootstrap enables the dataflow engine, model gateway and pipeline gateway; empty disables them, which
	// model and experiment inference do not need.
	KafkaBootstrap string   `json:"kafkaBootstrap"`
	Servers        []Server `json:"servers"`
	// WaitForReady gates Pulumi on the conditions Seldon's controller sets (a runtime's component conditions, the
	// Ready of Servers, Models and the Experiment); only a cluster where no Seldon control plane runs turns it off.
	WaitForReady *bool `json:"waitForReady"`
	// PathPrefix, when set (e.g. /seldon), adds an Ingress that strips it and keeps /v2 for envoy.
	PathPrefix string `json:"pathPrefix"`
}

// Envoy sizes the data plane entry point (Service seldon-mesh).
type Envoy struct {
	Replicas    int    `json:"replicas"`
	ServiceType string `json:"serviceType"`
}

// Server is one Seldon inference Server.
type Server struct {
	Name              string   `json:"name"`
	Namespace         string   `json:"namespace"`
	ServerConfig      string   `json:"serverConfig"`
	Replicas          int      `json:"replicas"`
	ExtraCapabilities []string `json:"extraCapabilities"`
	// Memory is each replica's mlserver memory request (and limit), which is what the scheduler lets the Models on
	// that replica use (plus 10% overcommit). Empty keeps the ServerConfig's request (MemoryRequest says which).
	Memory string `json:"memory"`
}

// MemoryRequest is the memory each replica offers the scheduler: the configured one, or the ServerConfig's.
func (s Server) MemoryRequest() string {
	if s.Memory != "" {
		return s.Memory
	}
	return seldonspec.DefaultServerMemory
}

// Model is one Seldon Model.
type Model struct {
	Name         string   `json:"name"`
	Namespace    string   `json:"namespace"`
	StorageURI   string   `json:"storageUri"`
	Requirements []string `json:"requirements"`
	Memory       string   `json:"memory"`
	Server       string   `json:"server"`
	SecretName   string   `json:"secretName"`
	Replicas     int      `json:"replicas"`
}

// Experiment splits traffic between candidate Models.
type Experiment struct {
	Name       string                 `json:"name"`
	Namespace  string                 `json:"namespace"`
	Default    string                 `json:"default"`
	Candidates []seldonspec.Candidate `json:"candidates"`
	Mirror     *Mirror                `json:"mirror"`
}

// Mirror copies a percentage of traffic to a Model whose answers are discarded.
type Mirror struct {
	Name    string `json:"name"`
	Percent int    `json:"percent"`
}

// Capabilities lists what a Server advertises: its ServerConfig's defaults plus its extra capabilities.
func (s Server) Capabilities() []string {
	return append(seldonspec.DefaultCapabilities(s.ServerConfig), s.ExtraCapabilities...)
}

// WaitsForReady reports whether Pulumi waits on controller-set conditions.
func (s Seldon) WaitsForReady() bool { return s.WaitForReady == nil || *s.WaitForReady }
