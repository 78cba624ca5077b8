package doctor_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/seldon-ab/provisioner/internal/doctor"
)

func k3sNode(args string) map[string]any {
	return map[string]any{"apiVersion": "v1", "kind": "Node",
		"metadata": map[string]any{"name": "homelab-1", "annotations": map[string]any{"k3s.io/node-args": args}}}
}

// findings are the preflight's for an ingress-nginx stack, but for the notice that ingress-nginx is retired, which
// every such stack gets (TestPreflightTellsAnIngressNginxStackItIsRetired).
func findings(t *testing.T, c fakeCluster) string {
	t.Helper()
	found, err := doctor.Preflight(context.Background(), c, doctor.Needs{IngressClass: "nginx"})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, f := range withoutRetired(found) {
		b.WriteString(f.Severity.String() + " " + f.Object + ": " + f.What + " fix: " + f.Fix + "\n")
	}
	return b.String()
}

func withoutRetired(found []doctor.Finding) []doctor.Finding {
	var out []doctor.Finding
	for _, f := range found {
		if f.Check != "ingress-nginx-retired" {
			out = append(out, f)
		}
	}
	return out
}

func TestPreflightTellsAnIngressNginxStackItIsRetired(t *testing.T) {
	found, err := doctor.Preflight(context.Background(), fakeCluster{}, doctor.Needs{IngressClass: "nginx"})
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 || found[0].Severity != doctor.Warning || !strings.Contains(found[0].What, "retired") ||
		!strings.Contains(found[0].Fix, "ingress.controller: nginx-gateway-fabric") {
		t.Errorf("ingress-nginx: %v", found)
	}
	if found, err = doctor.Preflight(context.Background(), fakeCluster{}, doctor.Needs{GatewayClass: "nginx"}); err != nil || len(found) != 0 {
		t.Errorf("NGINX Gateway Fabric: %v %v", found, err)
	}
}

func TestPreflightRefusesAGatewayClassServedByAnotherController(t *testing.T) {
	c := fakeCluster{"gatewayclasses": {{"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
		"metadata": map[string]any{"name": "nginx"}, "spec": map[string]any{"controllerName": "example.com/other"}}}}
	found, err := doctor.Preflight(context.Background(), versionedCluster{c, "1", "30"}, doctor.Needs{GatewayClass: "nginx"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range found {
		got = append(got, f.What)
	}
	if len(found) != 2 || !strings.Contains(strings.Join(got, "\n"), "GatewayClass nginx is already served by example.com/other") ||
		!strings.Contains(strings.Join(got, "\n"), "NGINX Gateway Fabric 2.6.7 needs 1.31 or newer") {
		t.Errorf("got %q", got)
	}
}

// A k3s server as installed: ServiceLB answering Traefik's LoadBalancer Service, Traefik's IngressClass.
func TestPreflightRefusesAFreshK3s(t *testing.T) {
	out := findings(t, fakeCluster{
		"nodes": {k3sNode(`["server"]`)},
		"daemonsets": {obj("apps/v1", "DaemonSet", "kube-system", "svclb-traefik-3f2a1b", map[string]any{
			"metadata": map[string]any{"name": "svclb-traefik-3f2a1b", "namespace": "kube-system",
				"labels": map[string]any{"svccontroller.k3s.cattle.io/svcname": "traefik"}}})},
		"ingressclasses": {{"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass", "metadata": map[string]any{"name": "traefik"},
			"spec": map[string]any{"controller": "traefik.io/ingress-controller"}}},
	})
	for _, want := range []string{
		"error DaemonSet kube-system/svclb-traefik-3f2a1b: k3s ServiceLB is answering LoadBalancer Services",
		"--disable servicelb",
		"warning Node homelab-1: this k3s node was started without --disable traefik",
		"warning IngressClass traefik: Traefik (k3s's bundled ingress controller) runs beside ingress-nginx",
		"`disable: [traefik]` in /etc/rancher/k3s/config.yaml",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
}

func TestPreflightPassesAK3sSetUpForThisStack(t *testing.T) {
	for _, args := range []string{`["server","--disable","servicelb","--disable","traefik"]`, `["server","--disable=servicelb,traefik"]`} {
		if out := findings(t, fakeCluster{"nodes": {k3sNode(args)}}); out != "" {
			t.Errorf("node args %s: %s", args, out)
		}
	}
}

func TestPreflightRefusesAnIngressClassServedByAnotherController(t *testing.T) {
	out := findings(t, fakeCluster{"ingressclasses": {{"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
		"metadata": map[string]any{"name": "nginx"}, "spec": map[string]any{"controller": "nginx.org/ingress-controller"}}}})
	if !strings.Contains(out, "error IngressClass nginx: IngressClass nginx is already served by nginx.org/ingress-controller") {
		t.Errorf("got:\n%s", out)
	}
}

type versionedCluster struct {
	fakeCluster
	major, minor string
}

func (v versionedCluster) ServerVersion() (string, string, error) { return v.major, v.minor, nil }

func TestPreflightRefusesAClusterOlderThanTheCharts(t *testing.T) {
	for minor, refused := range map[string]bool{"20": true, "21": false, "35+": false} {
		found, err := doctor.Preflight(context.Background(), versionedCluster{fakeCluster{}, "1", minor}, doctor.Needs{IngressClass: "nginx"})
		if err != nil {
			t.Fatal(err)
		}
		found = withoutRetired(found)
		if got := len(found) == 1 && strings.Contains(found[0].What, "ingress-nginx 4.15.1 needs 1.21 or newer"); got != refused {
			t.Errorf("Kubernetes 1.%s: refused=%t, want %t (%v)", minor, got, refused, found)
		}
	}
}

func TestPreflightWeighsServerMemoryAgainstTheNodes(t *testing.T) {
	node := func(name, memory string) map[string]any {
		return map[string]any{"apiVersion": "v1", "kind": "Node", "metadata": map[string]any{"name": name},
			"status": map[string]any{"allocatable": map[string]any{"memory": memory}}}
	}
	cluster := fakeCluster{"nodes": {node("a", "3Gi"), node("b", "3Gi")}}
	needs := func(memory string, replicas int) doctor.Needs {
		return doctor.Needs{IngressClass: "nginx", Servers: []doctor.ServerNeed{{Name: "seldon-system/mlserver", Replicas: replicas, Memory: resource.MustParse(memory)}}}
	}
	for _, tc := range []struct {
		memory   string
		replicas int
		want     string
	}{
		{"2Gi", 2, ""},
		{"4Gi", 1, "error Server seldon-system/mlserver: each replica asks for 4Gi of memory, more than any node can give (largest allocatable 3.00Gi)"},
		{"2Gi", 4, "warning nodes: the Servers ask for 8.00Gi of memory in all, more than the nodes' 6.00Gi allocatable"},
	} {
		found, err := doctor.Preflight(context.Background(), cluster, needs(tc.memory, tc.replicas))
		if err != nil {
			t.Fatal(err)
		}
		found = withoutRetired(found)
		var got string
		for _, f := range found {
			got += f.Severity.String() + " " + f.Object + ": " + f.What
		}
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("%d x %s: got %q, want %q", tc.replicas, tc.memory, got, tc.want)
		}
	}
}

// doctor runs the preflight's checks too, reading the Servers' memory from the cluster itself.
func TestDoctorRunsThePreflightChecks(t *testing.T) {
	c := versionedCluster{fakeCluster{
		"customresourcedefinitions": seldonCRDs(),
		"deployments":               {controller("")},
		"nodes": {{"apiVersion": "v1", "kind": "Node", "metadata": map[string]any{"name": "small"},
			"status": map[string]any{"allocatable": map[string]any{"memory": "1Gi"}}}},
		"serverconfigs": {obj("mlops.seldon.io/v1alpha1", "ServerConfig", "seldon-system", "mlserver", map[string]any{"spec": map[string]any{
			"podSpec": map[string]any{"containers": []any{map[string]any{"name": "mlserver", "resources": map[string]any{"requests": map[string]any{"memory": "1Gi"}}}}}}})},
		"servers": {obj("mlops.seldon.io/v1alpha1", "Server", "seldon-system", "mlserver", map[string]any{"spec": map[string]any{
			"serverConfig": "mlserver", "podSpec": map[string]any{"containers": []any{map[string]any{"name": "mlserver",
				"resources": map[string]any{"requests": map[string]any{"memory": "2Gi"}}}}}}})},
	}, "1", "20"}
	out := report(t, c)
	for _, want := range []string{"is older than the pinned charts accept", "Server seldon-system/mlserver\n  each replica asks for 2Gi of memory, more than any node can give"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
}

// No kubeconfig: the error says where it looked and where k3s keeps its own, instead of the client's generic
// "no configuration has been provided".
func TestPreflightSaysWhereItLookedForAKubeconfig(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "kubeconfig")
	_, err := doctor.ConnectForPreflight(missing, "")
	if err == nil || !strings.Contains(err.Error(), "looked at "+missing) || !strings.Contains(err.Error(), "/etc/rancher/k3s/k3s.yaml") ||
		!strings.Contains(err.Error(), "set cluster.kubeconfig") {
		t.Fatalf("got %v", err)
	}
}

// A cluster that does not answer fails the preflight's first read (the program reports it before registering
// anything). Loopback port 1: nothing listens there.
func TestPreflightFailsOnAClusterThatDoesNotAnswer(t *testing.T) {
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	cfg := "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\n" +
		"contexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\nusers: [{name: u, user: {token: t}}]\n"
	if err := os.WriteFile(kubeconfig, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	live, err := doctor.ConnectForPreflight(kubeconfig, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := doctor.Preflight(context.Background(), live, doctor.Needs{IngressClass: "nginx"}); err == nil {
		t.Fatal("a cluster that does not answer passed the preflight")
	}
}
