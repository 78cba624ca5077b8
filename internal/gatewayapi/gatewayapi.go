// Package gatewayapi holds the Gateway API's and NGINX Gateway Fabric's names and behaviours this project relies on,
// at the pinned versions (Gateway API v1.5.1, NGF 2.6.7), each with the upstream file it is read from. It imports
// nothing of this project.
package gatewayapi

// Kinds and their group/version (config/crd/standard in sigs.k8s.io/gateway-api).
const (
	Group            = "gateway.networking.k8s.io"
	APIVersion       = Group + "/v1"
	KindGatewayClass = "GatewayClass"
	KindGateway      = "Gateway"
	KindHTTPRoute    = "HTTPRoute"
)

// The stack's Gateway and its one listener.
const (
	GatewayName  = "seldon"
	ListenerName = "http"
)

// ControllerName is NGF's: the GatewayClasses it serves name it (chart values nginxGateway.gatewayControllerName).
const ControllerName = "gateway.nginx.org/nginx-gateway-controller"

// Condition types and the reasons NGF writes (internal/controller/state/conditions/conditions.go).
const (
	ConditionAccepted     = "Accepted"
	ConditionProgrammed   = "Programmed"
	ConditionResolvedRefs = "ResolvedRefs"
	ConditionConflicted   = "Conflicted"
)

// ProvisionedName is the name of what NGF provisions for a Gateway (its Service and Deployment):
// <gateway>-<gatewayclass> (internal/controller/provisioner: CreateNginxResourceName), in the Gateway's namespace.
func ProvisionedName(gateway, class string) string { return gateway + "-" + class }
