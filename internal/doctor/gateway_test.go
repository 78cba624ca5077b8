package doctor_test

import (
	"strings"
	"testing"
)

func gwObj(kind, ns, name string, body map[string]any) map[string]any {
	body["apiVersion"], body["kind"] = "gateway.networking.k8s.io/v1", kind
	body["metadata"] = map[string]any{"name": name, "namespace": ns}
	return body
}

func gwCond(typ, status, reason, message string) map[string]any {
	return map[string]any{"type": typ, "status": status, "reason": reason, "message": message}
}

// Doctor reads what NGINX Gateway Fabric wrote: a Gateway without an address, a route its listener does not admit,
// a route whose backend is missing; and notes a running ingress-nginx as retired.
func TestDoctorReadsWhatNGINXGatewayFabricWrote(t *testing.T) {
	out := report(t, fakeCluster{
		"gatewayclasses": {{"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass", "metadata": map[string]any{"name": "nginx"},
			"spec": map[string]any{"controllerName": "gateway.nginx.org/nginx-gateway-controller"}}},
		"gateways": {gwObj("Gateway", "nginx-gateway", "seldon", map[string]any{"spec": map[string]any{"gatewayClassName": "nginx"},
			"status": map[string]any{"conditions": []any{gwCond("Accepted", "True", "Accepted", "The Gateway is accepted"),
				gwCond("Programmed", "True", "Programmed", "The Gateway is programmed")}}})},
		"httproutes": {
			gwObj("HTTPRoute", "seldon-system", "seldon-mesh", map[string]any{
				"spec": map[string]any{"rules": []any{map[string]any{"backendRefs": []any{map[string]any{"name": "seldon-mesh", "port": 80}}}}},
				"status": map[string]any{"parents": []any{map[string]any{"controllerName": "gateway.nginx.org/nginx-gateway-controller",
					"parentRef": map[string]any{"name": "seldon", "namespace": "nginx-gateway"},
					"conditions": []any{gwCond("Accepted", "False", "NotAllowedByListeners", "The Route is not allowed by any listener"),
						gwCond("ResolvedRefs", "False", "BackendNotFound", "spec.rules[0].backendRefs[0].name: Not found")}}}}}),
			gwObj("HTTPRoute", "team-a", "orphan", map[string]any{
				"spec": map[string]any{"rules": []any{map[string]any{"backendRefs": []any{map[string]any{"name": "seldon-mesh", "port": 80}}}}}}),
		},
		"deployments": {{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": map[string]any{"name": "ingress-nginx-controller", "namespace": "ingress-nginx"},
			"spec": map[string]any{"template": map[string]any{"spec": map[string]any{"containers": []any{
				map[string]any{"name": "controller", "image": "registry.k8s.io/ingress-nginx/controller:v1.15.1"}}}}}}},
	})
	for _, want := range []string{
		"gateway — Gateway nginx-gateway/seldon\n  has no address",
		"gateway — HTTPRoute seldon-system/seldon-mesh\n  Accepted=False on Gateway nginx-gateway/seldon (NotAllowedByListeners",
		"allowedRoutes.namespaces",
		"ResolvedRefs=False on Gateway nginx-gateway/seldon (BackendNotFound",
		"gateway — HTTPRoute team-a/orphan\n  no NGINX Gateway Fabric status",
		"ingress-nginx-retired — Deployment ingress-nginx/ingress-nginx-controller\n  ingress-nginx is retired upstream",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
}
