package metallb_test

import (
	"context"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/seldon-ab/provisioner/components/metallb"
)

func TestDropValidationWebhooksEmptiesOnlyTheWebhookConfiguration(t *testing.T) {
	hooks := pulumi.Array{pulumi.Map{"name": pulumi.String("ipaddresspoolvalidationwebhook.metallb.io")}}
	got := metallb.DropValidationWebhooks(context.Background(), &pulumi.ResourceTransformArgs{
		Type:  "kubernetes:admissionregistration.k8s.io/v1:ValidatingWebhookConfiguration",
		Props: pulumi.Map{"webhooks": hooks},
	})
	if got == nil {
		t.Fatal("the webhook configuration was left as it was")
	}
	if w, ok := got.Props["webhooks"].(pulumi.Array); !ok || len(w) != 0 {
		t.Errorf("webhooks = %v, want an empty list", got.Props["webhooks"])
	}
	untouched := metallb.DropValidationWebhooks(context.Background(), &pulumi.ResourceTransformArgs{
		Type: "kubernetes:apps/v1:Deployment", Props: pulumi.Map{"webhooks": hooks},
	})
	if untouched != nil {
		t.Error("a resource other than the webhook configuration was changed")
	}
}

func TestDropValidationWebhooksSkipsOnlyTheWebhookServicesAwait(t *testing.T) {
	service := func(name string) pulumi.Map {
		return pulumi.Map{"metadata": pulumi.Map{"name": pulumi.String(name), "annotations": pulumi.Map{"keep": pulumi.String("me")}}}
	}
	got := metallb.DropValidationWebhooks(context.Background(), &pulumi.ResourceTransformArgs{
		Type: "kubernetes:core/v1:Service", Props: service("metallb-webhook-service"),
	})
	if got == nil {
		t.Fatal("the webhook Service was left as it was")
	}
	annotations := got.Props["metadata"].(pulumi.Map)["annotations"].(pulumi.Map)
	if annotations["pulumi.com/skipAwait"] != pulumi.String("true") || annotations["keep"] != pulumi.String("me") {
		t.Errorf("annotations = %v, want skipAwait added to the chart's own", annotations)
	}
	other := metallb.DropValidationWebhooks(context.Background(), &pulumi.ResourceTransformArgs{
		Type: "kubernetes:core/v1:Service", Props: service("metallb-frr-metrics"),
	})
	if other != nil {
		t.Error("another Service's await was skipped")
	}
}
