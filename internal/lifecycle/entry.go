package lifecycle

import (
	"context"
	"fmt"

	"github.com/pulumi/pulumi/sdk/v3/go/auto/events"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/seldon-ab/provisioner/components/gateway"
	"github.com/seldon-ab/provisioner/components/ingress"
	"github.com/seldon-ab/provisioner/internal/gatewayapi"
)

// retiredEntry is the NGINX controller component a plan deletes while it creates the other one: a switch between
// ingress-nginx and NGINX Gateway Fabric ("" when the plan makes none).
func retiredEntry(evs []events.EngineEvent) string {
	deleted, created := map[string]bool{}, map[string]bool{}
	for _, ev := range evs {
		if ev.ResourcePreEvent == nil {
			continue
		}
		m := ev.ResourcePreEvent.Metadata
		switch m.Op {
		case apitype.OpDelete:
			deleted[m.Type] = true
		case apitype.OpCreate:
			created[m.Type] = true
		}
	}
	for _, pair := range [][2]string{{ingress.Token, gateway.Token}, {gateway.Token, ingress.Token}} {
		if deleted[pair[0]] && created[pair[1]] {
			return pair[0]
		}
	}
	return ""
}

var gatewaysResource = schema.GroupVersionResource{Group: gatewayapi.Group, Version: "v1", Resource: "gateways"}

// handOverIP frees the ingress IP the retiring controller holds, before the update that creates the other one: a
// MetalLB IP goes to one Service at a time (controller/main.go, v0.16.1: the second asker stays pending), and the
// engine deletes the old controller only after it created everything new, so the new Service would wait for the
// IP for good. For ingress-nginx that is its controller's LoadBalancer Service; for NGINX Gateway Fabric the
// Gateway, whose Service NGF would otherwise recreate (its controller owns it). MetalLB reprocesses every pending
// Service once one is deleted. Calls fail from here until the new controller serves: the window the docs state.
func (s *Stack) handOverIP(ctx context.Context, retiring string) error {
	live, err := s.cluster()
	if err != nil {
		return err
	}
	ip := s.config.Ingress.LoadBalancerIP
	services, err := live.List(ctx, schema.GroupVersionResource{Version: "v1", Resource: "services"})
	if err != nil {
		return err
	}
	for _, svc := range services {
		held := false
		ingresses, _, _ := unstructured.NestedSlice(svc.Object, "status", "loadBalancer", "ingress")
		for _, in := range ingresses {
			m, _ := in.(map[string]any)
			held = held || m["ip"] == ip
		}
		if !held {
			continue
		}
		target, kind := schema.GroupVersionResource{Version: "v1", Resource: "services"}, "Service"
		name := svc.GetName()
		for _, owner := range svc.GetOwnerReferences() {
			if owner.Kind == gatewayapi.KindGateway && retiring == gateway.Token {
				target, kind, name = gatewaysResource, gatewayapi.KindGateway, owner.Name
			}
		}
		s.logf("switching NGINX controllers: deleting %s %s/%s first, so that %s can move to the new one", kind, svc.GetNamespace(), name, ip)
		if err := live.Delete(ctx, target, svc.GetNamespace(), name); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("handing %s over to the new controller: %w", ip, err)
		}
	}
	return nil
}
