package config

import (
	"time"

	"github.com/seldon-ab/provisioner/internal/pins"
	"github.com/seldon-ab/provisioner/internal/verify"
)

// Pinned upstream versions. A stack may override them, but only with another exact version.
const (
	MetalLBChartVersion      = "0.16.1"
	IngressNginxChartVersion = "4.15.1"
	// NginxGatewayFabricChartVersion is NGF 2.6.7, built against the Gateway API v1.5.1 (its go.mod).
	NginxGatewayFabricChartVersion = "2.6.7"
	MinIOChartVersion              = "5.4.0"
	// RcloneImage runs the bucket Job: the rclone release Seldon 2.10.2's own rclone image ships (v1.71.1),
	// the version the sandbox builds and runs (scripts/toolchain.sh).
	RcloneImage = "docker.io/rclone/rclone:1.71.1"
)

// Chart names as their archives' Chart.yaml spell them.
const (
	MetalLBChartName            = "metallb"
	IngressNginxChartName       = "ingress-nginx"
	NginxGatewayFabricChartName = "nginx-gateway-fabric"
	MinIOChartName              = "minio"
)

// GatewayAPIVersion is the Gateway API release whose CRDs go with NGINX Gateway Fabric (internal/pins/pins.env).
var GatewayAPIVersion = pins.GatewayAPIVersion

// DefaultExperimentName is the field setup's Experiment.
const DefaultExperimentName = "financial-ab-test-experiment"

// DefaultRolloutTimeout bounds an update's proof by traffic: a new Model version downloads its artifact and loads
// before it answers.
const DefaultRolloutTimeout = 5 * time.Minute

func boolPtr(b bool) *bool { return &b }

func resources(cpuRequest, memoryRequest, memoryLimit string) Resources {
	return Resources{
		Requests: ResourceList{CPU: cpuRequest, Memory: memoryRequest},
		Limits:   ResourceList{Memory: memoryLimit},
	}
}

// Defaults is the stack before its config is applied: the field setup's names, the pinned charts from their
// upstream repositories, and resource sizes that fit a homelab node.
func Defaults(stackName string) Stack {
	return Stack{
		Name:    stackName,
		Cluster: Cluster{Identifier: stackName},
		Charts: Charts{
			MetalLB:            Chart{Version: MetalLBChartVersion, Repository: "https://metallb.github.io/metallb"},
			IngressNginx:       Chart{Version: IngressNginxChartVersion, Repository: "https://kubernetes.github.io/ingress-nginx"},
			NginxGatewayFabric: Chart{Version: NginxGatewayFabricChartVersion, Repository: "oci://ghcr.io/nginx/charts"},
			GatewayAPI: Manifest{Version: GatewayAPIVersion,
				URL: "https://github.com/kubernetes-sigs/gateway-api/releases/download/" + GatewayAPIVersion + "/standard-install.yaml"},
			MinIO:       Chart{Version: MinIOChartVersion, Repository: "https://charts.min.io"},
			SeldonCRDs:  Chart{Version: SeldonChartVersion, Repository: seldonChartRepository},
			SeldonSetup: Chart{Version: SeldonChartVersion, Repository: seldonChartRepository},
		},
		MetalLB: MetalLB{
			Namespace:          "metallb-system",
			L2Advertisement:    L2Advertisement{Name: "l2"},
			ValidationWebhooks: boolPtr(true),
			Controller:         resources("50m", "64Mi", "256Mi"),
			Speaker:            resources("50m", "64Mi", "256Mi"),
		},
		Ingress: Ingress{
			Controller: ControllerIngressNginx,
			ClassName:  "nginx",
			Replicas:   1,
			Resources:  resources("100m", "128Mi", "512Mi"),
		},
		Seldon: Seldon{
			Namespace: "seldon-system",
			// One memory value: the setup chart uses controller.resources.memory as both request and limit.
			ControllerResources: resources("10m", "256Mi", "256Mi"),
			Envoy:               Envoy{Replicas: 1, ServiceType: "ClusterIP"},
			WaitForReady:        boolPtr(true),
		},
		Verification: Verification{
			Input:       TensorSpec{Name: "input_data", Shape: []int{1, 10, 35}, Datatype: "FP32"},
			Concurrency: 4, Tolerance: verify.DefaultTolerance, Significance: verify.DefaultSignificance, Power: verify.DefaultPower,
			LatencyP95: verify.DefaultLatencyP95.String(), LatencyRatio: verify.DefaultLatencyRatio,
			Timeout: verify.DefaultTimeout.String(), Deadline: verify.DefaultDeadline.String(),
			RolloutTimeout: DefaultRolloutTimeout.String(),
		},
		ModelStore: ModelStore{
			Type:               StoreMinIO,
			Namespace:          "minio",
			RcloneRemote:       "s3",
			Persistence:        Persistence{Size: "20Gi"},
			External:           ExternalStore{Provider: "Other"},
			Resources:          resources("100m", "512Mi", "2Gi"),
			RcloneImage:        RcloneImage,
			BucketJobResources: resources("10m", "32Mi", "128Mi"),
		},
	}
}
