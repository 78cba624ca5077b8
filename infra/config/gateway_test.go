package config_test

import (
	"strings"
	"testing"

	"github.com/seldon-ab/provisioner/infra/config"
)

func TestTheControllerIsOneOfTwoAndPicksItsNamespace(t *testing.T) {
	objects := stackObjects(t, "homelab")
	set(t, objects, "ingress.controller", "nginx-gateway-fabric")
	s, err := load(t, objects)
	if err != nil {
		t.Fatal(err)
	}
	if s.Ingress.Namespace != "nginx-gateway" || s.Charts.NginxGatewayFabric.Version != "2.6.7" ||
		!strings.HasSuffix(s.Charts.GatewayAPI.URL, "/v1.5.1/standard-install.yaml") {
		t.Errorf("ingress %+v, charts %+v %+v", s.Ingress, s.Charts.NginxGatewayFabric, s.Charts.GatewayAPI)
	}

	set(t, objects, "ingress.controller", "traefik")
	_, err = load(t, objects)
	if err == nil || !strings.Contains(err.Error(), `seldon-ab:ingress.controller = "traefik" is not a controller this stack deploys`) ||
		!strings.Contains(err.Error(), "nginx-gateway-fabric") {
		t.Fatalf("got %v", err)
	}
}

func TestTheGatewayAPIManifestMustBePinnedAndReadable(t *testing.T) {
	objects := stackObjects(t, "homelab")
	set(t, objects, "ingress.controller", config.ControllerGatewayFabric)
	objects["charts"] = map[string]any{"gatewayAPI": map[string]any{"version": "v1.5.1", "file": "no/such/standard-install.yaml"}}
	_, err := load(t, objects)
	if err == nil || !strings.Contains(err.Error(), `seldon-ab:charts.gatewayAPI.file = "no/such/standard-install.yaml" cannot be read`) {
		t.Fatalf("got %v", err)
	}
	objects["charts"] = map[string]any{"gatewayAPI": map[string]any{"version": "v1.5.1", "url": "https://example.com/latest/standard-install.yaml"}}
	_, err = load(t, objects)
	if err == nil || !strings.Contains(err.Error(), "charts.gatewayAPI.url") || !strings.Contains(err.Error(), "v1.5.1") {
		t.Fatalf("got %v", err)
	}
}
