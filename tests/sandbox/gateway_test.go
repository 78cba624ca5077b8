//go:build sandbox

package sandbox_test

import (
	"context"
	"testing"
	"time"

	"github.com/seldon-ab/provisioner/tests/internal/changes"
)

// TestGatewayFabricServesTheStackAndSwitchesBothWays runs the stack on NGINX Gateway Fabric through the `up` users
// run (the verdict through the Gateway's IP), then switches a running stack to ingress-nginx and back, each one
// config change and one `up` while the experiment is called, and tears it down.
func TestGatewayFabricServesTheStackAndSwitchesBothWays(t *testing.T) {
	ctx := testContext(t, 40*time.Minute)
	stack := freshStack(t, ctx, changes.GatewayFabric)

	t.Run("up on NGINX Gateway Fabric ends with a passing verdict through the Gateway", func(t *testing.T) {
		if _, err := stack.Up(ctx); err != nil {
			t.Fatalf("up: %v", err)
		}
		if rep := lastReport(t); !rep.Passed {
			t.Errorf("verdict:\n%s", rep.Summary())
		}
		assertGatewayServes(t, ctx)
		if _, ok := namespaces(t, ctx)["ingress-nginx"]; ok {
			t.Error("ingress-nginx's namespace exists on the Gateway API path")
		}
		assertNoChanges(t, ctx, stack)
	})

	t.Run("a running stack switches to ingress-nginx and back, one up each", func(t *testing.T) {
		caller, err := stack.Caller(ctx)
		if err != nil {
			t.Fatal(err)
		}
		calls := map[string]string{changes.ExperimentRoute: changes.Baseline}
		for _, step := range []struct {
			name  string
			edits []changes.Edit
		}{{"to ingress-nginx", nil}, {"back to NGINX Gateway Fabric", []changes.Edit{changes.GatewayFabric}}} {
			run := upWhileCalling(t, ctx, caller, calls, step.edits...)
			run.mustSucceed(t)
			traffic := run.Traffic[changes.ExperimentRoute]
			t.Logf("switch %s: up took %.1f s; %d of %d calls failed, over %s", step.name, run.Took.Seconds(), traffic.Failed, traffic.Calls,
				traffic.Window.Round(time.Millisecond))
			if rep := lastReport(t); !rep.Passed {
				t.Errorf("verdict after the switch %s:\n%s", step.name, rep.Summary())
			}
		}
		assertGatewayServes(t, ctx)
		if phase, ok := namespaces(t, ctx)["ingress-nginx"]; ok {
			t.Errorf("ingress-nginx's namespace is still there (%s) after switching back", phase)
		}
		assertNoChanges(t, ctx, openStack(t, ctx, "sandbox", changes.GatewayFabric))
	})

	t.Run("destroy leaves nothing of either controller", func(t *testing.T) {
		if _, err := stack.Destroy(ctx); err != nil {
			t.Fatalf("destroy: %v", err)
		}
		for _, ns := range []string{"nginx-gateway", "ingress-nginx"} {
			if phase, ok := namespaces(t, ctx)[ns]; ok {
				t.Errorf("namespace %s is still there (%s)", ns, phase)
			}
		}
		crds := kubeJSON(t, ctx, "get", "crd", "-l", "gateway.networking.k8s.io/bundle-version")
		if n := len(field(crds, "items").([]any)); n != 0 {
			t.Errorf("%d Gateway API CRDs left", n)
		}
	})
}

// assertGatewayServes checks what NGF wrote: the Gateway Programmed on the fixed IP (its provisioned Service got it
// from the real MetalLB controller), the route Accepted with its references resolved.
func assertGatewayServes(t *testing.T, ctx context.Context) {
	t.Helper()
	gw := kubeJSON(t, ctx, "-n", "nginx-gateway", "get", "gateway", "seldon")
	if field(gw, "status", "addresses", 0, "value") != "192.168.1.249" || conditionStatus(field(gw, "status", "conditions"), "Programmed") != "True" {
		t.Errorf("gateway status = %v", field(gw, "status"))
	}
	svc := kubeJSON(t, ctx, "-n", "nginx-gateway", "get", "service", "seldon-nginx")
	if field(svc, "status", "loadBalancer", "ingress", 0, "ip") != "192.168.1.249" || field(svc, "metadata", "ownerReferences", 0, "kind") != "Gateway" {
		t.Errorf("the Gateway's Service = %v", svc)
	}
	route := kubeJSON(t, ctx, "-n", "seldon-system", "get", "httproute", "seldon-mesh")
	conds := field(route, "status", "parents", 0, "conditions")
	if conditionStatus(conds, "Accepted") != "True" || conditionStatus(conds, "ResolvedRefs") != "True" {
		t.Errorf("route status = %v", field(route, "status"))
	}
}

func conditionStatus(conds any, typ string) string {
	list, _ := conds.([]any)
	for _, c := range list {
		if field(c, "type") == typ {
			s, _ := field(c, "status").(string)
			return s
		}
	}
	return ""
}
