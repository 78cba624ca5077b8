package metallb_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/seldon-ab/provisioner/components/metallb"
	"github.com/seldon-ab/provisioner/internal/admission"
	"github.com/seldon-ab/provisioner/internal/charts"
	"github.com/seldon-ab/provisioner/internal/pulumitest"
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

// newMetalLB runs the component alone under mocks, with the webhooks kept and admit as its admission wait.
func newMetalLB(t *testing.T, g *pulumitest.Graph, preview, webhooks bool, admit func(context.Context, []admission.Object) error) error {
	t.Helper()
	return pulumi.RunErr(func(ctx *pulumi.Context) error {
		_, err := metallb.New(ctx, "metallb", &metallb.Args{
			Namespace: "metallb-system",
			Chart:     charts.Location{Name: "metallb", Version: "0.16.1", Archive: "/charts/metallb-0.16.1.tgz"},
			Pools: []metallb.Pool{
				{Name: "ingress", Addresses: []string{"192.168.1.240/32"}, AutoAssign: false},
				{Name: "lan", Addresses: []string{"192.168.1.241-192.168.1.250"}, AutoAssign: true},
			},
			L2Advertisement:    metallb.L2Advertisement{Name: "lan"},
			ValidationWebhooks: webhooks,
			AwaitAdmission:     admit,
		})
		return err
	}, pulumi.WithMocks("seldon-ab", "test", chartWithResources{g}), func(info *pulumi.RunInfo) { info.DryRun = preview })
}

// chartWithResources answers the chart's registration with a known resources output, as the engine does once the
// chart's objects exist (a no-change preview included), so that the wait's own rule decides whether it runs.
type chartWithResources struct{ *pulumitest.Graph }

func (m chartWithResources) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	id, state, err := m.Graph.NewResource(args)
	if args.TypeToken == "kubernetes:helm.sh/v4:Chart" {
		state = state.Copy()
		state["resources"] = resource.NewArrayProperty([]resource.PropertyValue{})
	}
	return id, state, err
}

const poolType = "kubernetes:metallb.io/v1beta1:IPAddressPool"

func TestPoolsWaitUntilTheWebhookAdmitsADryRunOfThem(t *testing.T) {
	var asked []admission.Object
	poolsBefore := -1
	g := &pulumitest.Graph{}
	err := newMetalLB(t, g, false, true, func(_ context.Context, pools []admission.Object) error {
		asked, poolsBefore = pools, len(g.OfType(poolType))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if poolsBefore != 0 {
		t.Errorf("%d pools were registered before the webhook admitted them", poolsBefore)
	}
	if len(asked) != 2 {
		t.Fatalf("the wait was asked for %d pools, want 2", len(asked))
	}
	for _, o := range asked {
		u := unstructured.Unstructured{Object: o.Manifest}
		registered := g.Find(t, poolType, "metallb-pool-"+u.GetName())
		if u.GetKind() != "IPAddressPool" || u.GetAPIVersion() != "metallb.io/v1beta1" || u.GetNamespace() != "metallb-system" {
			t.Errorf("dry run of %s %s in %q, want IPAddressPool metallb.io/v1beta1 in metallb-system", u.GetAPIVersion(), u.GetKind(), u.GetNamespace())
		}
		if o.Resource.Resource != "ipaddresspools" || o.Resource.GroupVersion().String() != u.GetAPIVersion() {
			t.Errorf("dry run in resource %v, want ipaddresspools of %s", o.Resource, u.GetAPIVersion())
		}
		want, _ := json.Marshal(pulumitest.Plain(registered.Get("spec")))
		got, _ := json.Marshal(o.Manifest["spec"])
		if string(got) != string(want) {
			t.Errorf("pool %s: dry-run spec %s, registered spec %s", u.GetName(), got, want)
		}
	}
}

func TestNoWebhookIsCalledInAPreviewOrWhenTheWebhooksAreDropped(t *testing.T) {
	for _, c := range []struct {
		name              string
		preview, webhooks bool
	}{{"preview", true, true}, {"webhooks dropped", false, false}} {
		t.Run(c.name, func(t *testing.T) {
			called := false
			g := &pulumitest.Graph{}
			err := newMetalLB(t, g, c.preview, c.webhooks, func(context.Context, []admission.Object) error { called = true; return nil })
			if err != nil {
				t.Fatal(err)
			}
			if called {
				t.Error("the webhook was waited for")
			}
			if n := len(g.OfType(poolType)); n != 2 {
				t.Errorf("%d pools registered, want 2", n)
			}
		})
	}
}

func TestAWebhookThatNeverAdmitsFailsTheUpdateBeforeAnyPool(t *testing.T) {
	g := &pulumitest.Graph{}
	err := newMetalLB(t, g, false, true, func(context.Context, []admission.Object) error {
		return errors.New("IPAddressPool metallb-system/ingress was not admitted within 10m0s")
	})
	if err == nil || !strings.Contains(err.Error(), "was not admitted within 10m0s") || !strings.Contains(err.Error(), "metallb-system") {
		t.Fatalf("err = %v, want the wait's error with the namespace of the controller's log", err)
	}
	if n := len(g.OfType(poolType)); n != 0 {
		t.Errorf("%d pools registered after the webhook never admitted them", n)
	}
}
