package lifecycle

import (
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/auto/events"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"

	"github.com/seldon-ab/provisioner/components/gateway"
	"github.com/seldon-ab/provisioner/components/ingress"
)

func planStep(op apitype.OpType, typ, urn string) events.EngineEvent {
	return events.EngineEvent{EngineEvent: apitype.EngineEvent{ResourcePreEvent: &apitype.ResourcePreEvent{
		Metadata: apitype.StepEventMetadata{Op: op, Type: typ, URN: urn}}}}
}

// A switch of NGINX controllers is the deletion of one controller component and the creation of the other.
func TestASwitchOfControllersIsFound(t *testing.T) {
	const oldURN, newURN = "urn:pulumi:s::seldon-ab::" + ingress.Token + "::ingress-nginx", "urn:pulumi:s::seldon-ab::" + gateway.Token + "::nginx-gateway-fabric"
	switching := []events.EngineEvent{
		planStep(apitype.OpCreate, gateway.Token, newURN),
		planStep(apitype.OpCreate, "kubernetes:gateway.networking.k8s.io/v1:Gateway", "urn:gw"),
		planStep(apitype.OpDelete, ingress.Token, oldURN),
		planStep(apitype.OpDelete, ingress.Token, oldURN),
	}
	if got := retiredEntry(switching); got != ingress.Token {
		t.Errorf("retiredEntry = %q, want %q", got, ingress.Token)
	}
	kept := []events.EngineEvent{planStep(apitype.OpSame, ingress.Token, oldURN), planStep(apitype.OpUpdate, "kubernetes:mlops.seldon.io/v1alpha1:Model", "urn:m")}
	if got := retiredEntry(kept); got != "" {
		t.Errorf("retiredEntry of a plan that keeps its controller = %q", got)
	}
}
