package program_test

import (
	"strings"
	"testing"

	"github.com/seldon-ab/provisioner/infra/program"
	"github.com/seldon-ab/provisioner/internal/pulumitest"
)

const (
	gatewayType   = "kubernetes:gateway.networking.k8s.io/v1:Gateway"
	httpRouteType = "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute"
	secretType    = "kubernetes:core/v1:Secret"
)

func runHomelabOnGatewayFabric(t *testing.T, ingress string) *pulumitest.Graph {
	t.Helper()
	cfg := homelabConfig(t)
	cfg.Values["seldon-ab:ingress"] = ingress
	g, err := pulumitest.Run(t, program.Program, "homelab", root(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// On NGINX Gateway Fabric the fixed IP goes through the Gateway's infrastructure annotations to the Service NGF
// provisions, the chart's hook-made Secrets are made by the component, and an HTTPRoute keeps /v2 on its way to
// seldon-mesh.
func TestGatewayFabricServesTheMeshThroughAGatewayOnTheFixedIP(t *testing.T) {
	g := runHomelabOnGatewayFabric(t, `{"controller":"nginx-gateway-fabric","loadBalancerIP":"192.168.1.249","hosts":["financial-predictor.local","ml-api.local"]}`)
	if n := len(g.OfType(ingressType)); n != 0 {
		t.Errorf("%d Ingresses on the Gateway API path", n)
	}
	chart := g.Find(t, chartType, "nginx-gateway-fabric")
	if chart.String("version") != "2.6.7" || chart.String("name") != "nginx-gateway-fabric" || chart.String("namespace") != "nginx-gateway" {
		t.Errorf("chart %s release %s in %s", chart.String("version"), chart.String("name"), chart.String("namespace"))
	}
	if v := chart.Get("values", "certGenerator", "enable"); !v.IsBool() || v.BoolValue() {
		t.Errorf("certGenerator.enable = %v: helm/v4 renders no hooks, the component makes the Secrets", v)
	}
	if v := chart.Get("values", "nginxGateway", "productTelemetry", "enable"); !v.IsBool() || v.BoolValue() {
		t.Errorf("product telemetry = %v", v)
	}
	for _, name := range []string{"server-tls", "agent-tls"} {
		s := g.Find(t, secretType, "nginx-gateway-fabric-"+name)
		if s.String("type") != "kubernetes.io/tls" || !s.Get("stringData").ContainsSecrets() || !chart.DependsOn("nginx-gateway-fabric-"+name) {
			t.Errorf("Secret %s: type %q, secret data %v, the chart waits for it %v", name, s.String("type"),
				s.Get("stringData").ContainsSecrets(), chart.DependsOn("nginx-gateway-fabric-"+name))
		}
	}
	gw := g.Find(t, gatewayType, "nginx-gateway-fabric-gateway")
	if gw.String("spec", "infrastructure", "annotations", "metallb.io/loadBalancerIPs") != "192.168.1.249" || !gw.Get("spec", "addresses").IsNull() {
		t.Errorf("gateway spec = %v: want the IP as an infrastructure annotation, no spec.addresses (NGF makes those externalIPs)", gw.Get("spec"))
	}
	if gw.String("metadata", "annotations", "pulumi.com/waitFor") != "jsonpath={.status.addresses[0].value}=192.168.1.249" {
		t.Errorf("gateway await = %q", gw.String("metadata", "annotations", "pulumi.com/waitFor"))
	}
	listener := []string{"spec", "listeners", "0"}
	if gw.String(append(listener, "protocol")...) != "HTTP" || gw.String(append(listener, "allowedRoutes", "namespaces", "selector", "matchExpressions", "0", "values", "0")...) != "seldon-system" {
		t.Errorf("listener = %v", gw.Get(listener...))
	}
	route := g.Find(t, httpRouteType, "ab-test-mesh-route")
	rule := []string{"spec", "rules", "0"}
	if route.String("metadata", "namespace") != "seldon-system" || route.String("spec", "parentRefs", "0", "namespace") != "nginx-gateway" ||
		route.String("spec", "parentRefs", "0", "sectionName") != "http" || route.String("spec", "hostnames", "1") != "ml-api.local" ||
		route.String(append(rule, "matches", "0", "path", "value")...) != "/v2" || !route.Get(append(rule, "filters")...).IsNull() ||
		route.String(append(rule, "backendRefs", "0", "name")...) != "seldon-mesh" {
		t.Errorf("route spec = %v", route.Get("spec"))
	}
	if !strings.Contains(route.String("metadata", "annotations", "pulumi.com/waitFor"), `Accepted`) || !route.DependsOn("nginx-gateway-fabric-gateway") {
		t.Errorf("the route does not wait for the Gateway or for its acceptance: %v", route.Get("metadata"))
	}
}

func TestAPathPrefixOnTheGatewayIsStrippedBackToV2(t *testing.T) {
	cfg := homelabConfig(t)
	cfg.Values["seldon-ab:ingress"] = `{"controller":"nginx-gateway-fabric","loadBalancerIP":"192.168.1.249","hosts":["ml-api.local"]}`
	cfg.Values["seldon-ab:seldon"] = strings.Replace(cfg.Values["seldon-ab:seldon"], "{", `{"pathPrefix":"/seldon",`, 1)
	g, err := pulumitest.Run(t, program.Program, "homelab", root(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	rule := []string{"spec", "rules", "1"}
	route := g.Find(t, httpRouteType, "ab-test-mesh-route")
	if route.String(append(rule, "matches", "0", "path", "value")...) != "/seldon/v2" ||
		route.String(append(rule, "filters", "0", "urlRewrite", "path", "replacePrefixMatch")...) != "/v2" {
		t.Errorf("prefixed rule = %v", route.Get(rule...))
	}
}
