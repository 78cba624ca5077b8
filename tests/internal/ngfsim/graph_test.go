package ngfsim

import (
	"encoding/json"
	"net/http/httptest"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func fromJSON[T any](t *testing.T, text string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(text), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// The stack's objects as the program makes them (components/gateway, components/abtest).
const (
	stackGateway = `{"metadata":{"name":"seldon","namespace":"nginx-gateway"},"spec":{"gatewayClassName":"nginx",
		"infrastructure":{"annotations":{"metallb.io/loadBalancerIPs":"192.168.1.249"}},
		"listeners":[{"name":"http","port":80,"protocol":"HTTP","allowedRoutes":{"namespaces":{"from":"Selector",
		"selector":{"matchExpressions":[{"key":"kubernetes.io/metadata.name","operator":"In","values":["seldon-system"]}]}}}}]}}`
	stackRoute = `{"metadata":{"name":"seldon-mesh","namespace":"seldon-system"},"spec":{
		"parentRefs":[{"name":"seldon","namespace":"nginx-gateway","sectionName":"http"}],
		"hostnames":["financial-predictor.local","ml-api.local"],
		"rules":[{"matches":[{"path":{"type":"PathPrefix","value":"/v2"}}],"backendRefs":[{"name":"seldon-mesh","port":80}]},
		{"matches":[{"path":{"type":"PathPrefix","value":"/seldon/v2"}}],"filters":[{"type":"URLRewrite","urlRewrite":{"path":
		{"type":"ReplacePrefixMatch","replacePrefixMatch":"/v2"}}}],"backendRefs":[{"name":"seldon-mesh","port":80}]}]}}`
)

func stackWorld(t *testing.T, route string) world {
	mesh := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "seldon-mesh", Namespace: "seldon-system"},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}}}
	return world{
		gateways:   []gateway{fromJSON[gateway](t, stackGateway)},
		routes:     []httpRoute{fromJSON[httpRoute](t, route)},
		services:   map[string]*corev1.Service{"seldon-system/seldon-mesh": mesh},
		namespaces: map[string]map[string]string{"seldon-system": {"kubernetes.io/metadata.name": "seldon-system"}},
	}
}

func TestTheStacksRouteIsAcceptedAndKeepsV2(t *testing.T) {
	g := buildGraph("nginx", stackWorld(t, stackRoute))
	rs := g.Routes[0]
	if len(rs.Parents) != 1 || !rs.Parents[0].Accepted || rs.resolvedRefs.Status != metav1.ConditionTrue || g.Gateways["nginx-gateway/seldon"].attached["http"] != 1 {
		t.Fatalf("parents %+v, resolved %+v", rs.Parents, rs.resolvedRefs)
	}
	for _, tc := range []struct {
		host, path, wantPath string
		status               int
	}{
		{"ml-api.local", "/v2/models/m/infer", "/v2/models/m/infer", 0},
		{"ml-api.local:80", "/v2", "/v2", 0},
		{"ml-api.local", "/seldon/v2/models/m/infer", "/v2/models/m/infer", 0},
		{"ml-api.local", "/v2x", "", 404}, // a prefix matches whole path elements
		{"ml-api.local", "/", "", 404},
		{"other.local", "/v2/models/m/infer", "", 404}, // the default server
	} {
		d := g.Route("nginx-gateway/seldon", 80, httptest.NewRequest("POST", "http://"+tc.host+tc.path, nil))
		if d.Status != tc.status || (tc.status == 0 && (d.Path != tc.wantPath || d.Backend.Service != "seldon-mesh" || d.Backend.Port != 80)) {
			t.Errorf("%s%s: %+v", tc.host, tc.path, d)
		}
	}
}

func TestARouteFromANamespaceTheListenerDoesNotAllowIsNotAccepted(t *testing.T) {
	w := stackWorld(t, stackRoute)
	w.namespaces["seldon-system"] = map[string]string{"kubernetes.io/metadata.name": "seldon-system"}
	w.gateways[0].Spec.Listeners[0].AllowedRoutes.Namespaces.Selector.MatchExpressions[0].Values = []string{"team-a"}
	g := buildGraph("nginx", w)
	p := g.Routes[0].Parents[0]
	if p.Accepted || p.failure == nil || p.failure.Reason != "NotAllowedByListeners" {
		t.Fatalf("parent %+v", p)
	}
	if d := g.Route("nginx-gateway/seldon", 80, httptest.NewRequest("POST", "http://ml-api.local/v2/models/m/infer", nil)); d.Status != 404 {
		t.Errorf("an unattached route serves: %+v", d)
	}
}

func TestAMissingBackendIsAResolvedRefsFailureAndServes500(t *testing.T) {
	w := stackWorld(t, stackRoute)
	delete(w.services, "seldon-system/seldon-mesh")
	g := buildGraph("nginx", w)
	rs := g.Routes[0]
	if !rs.Parents[0].Accepted || rs.resolvedRefs.Reason != "BackendNotFound" {
		t.Fatalf("accepted %v, resolvedRefs %+v", rs.Parents[0].Accepted, rs.resolvedRefs)
	}
	if d := g.Route("nginx-gateway/seldon", 80, httptest.NewRequest("POST", "http://ml-api.local/v2/models/m/infer", nil)); d.Status != 500 {
		t.Errorf("decision %+v, want 500", d)
	}
}

func TestARuleNGFCannotExpressIsDropped(t *testing.T) {
	route := `{"metadata":{"name":"r","namespace":"seldon-system"},"spec":{"parentRefs":[{"name":"seldon","namespace":"nginx-gateway"}],
		"hostnames":["ml-api.local"],"rules":[{"filters":[{"type":"RequestHeaderModifier","requestHeaderModifier":{"set":[{"name":"seldon_model","value":"x"}]}}],
		"backendRefs":[{"name":"seldon-mesh","port":80}]}]}}`
	rs := buildGraph("nginx", stackWorld(t, route)).Routes[0]
	if len(rs.Rules) != 0 || len(rs.routeConds) != 1 || rs.routeConds[0].Reason != "UnsupportedValue" || rs.routeConds[0].Status != metav1.ConditionFalse {
		t.Fatalf("rules %d, conditions %+v", len(rs.Rules), rs.routeConds)
	}
}
