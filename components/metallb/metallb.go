// Package metallb is the MetalLB component: its namespace, the pinned chart, address pools and an L2
// advertisement, ordered so that the pools never race the chart's validating webhook.
package metallb

import (
	"context"
	"fmt"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apiextensions"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	helmv4 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/helm/v4"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/seldon-ab/provisioner/internal/admission"
	"github.com/seldon-ab/provisioner/internal/charts"
	"github.com/seldon-ab/provisioner/internal/kube"
)

// Token is the component's Pulumi type.
const Token = "seldon-ab:metallb:MetalLB"

// Pool is one IPAddressPool.
type Pool struct {
	Name          string
	Addresses     []string
	AutoAssign    bool
	AvoidBuggyIPs bool
}

// L2Advertisement announces pools in layer 2 mode; no Pools means all of them.
type L2Advertisement struct {
	Name       string
	Pools      []string
	Interfaces []string
}

// Args configure MetalLB.
type Args struct {
	Namespace       string
	Chart           charts.Location
	Pools           []Pool
	L2Advertisement L2Advertisement
	// ValidationWebhooks false empties the chart's ValidatingWebhookConfiguration, for clusters where the
	// controller never serves (a simulated one): the API server would otherwise refuse every pool.
	ValidationWebhooks bool
	// AwaitAdmission, with ValidationWebhooks, is called in an update once the chart is up, with the pools'
	// manifests, and returns once the API server admits them (admission.Await on the cluster); the pools wait
	// for it. Nil skips the wait (unit tests, which have no cluster).
	AwaitAdmission      func(ctx context.Context, pools []admission.Object) error
	ControllerResources kube.Resources
	SpeakerResources    kube.Resources
}

// MetalLB is the deployed load balancer.
type MetalLB struct {
	pulumi.ResourceState

	Namespace pulumi.StringOutput      `pulumi:"namespace"`
	PoolNames pulumi.StringArrayOutput `pulumi:"poolNames"`

	// Children are every object this component made, for dependents to wait on: a DependsOn on the component
	// itself did not reliably reach all of its children (a graph test failed 4 times in 40).
	Children []pulumi.Resource
}

// New deploys MetalLB. Pools and the advertisement depend on the whole chart: Pulumi waits for the controller
// Deployment to be available and for the webhook Service to have endpoints before it creates them, and, with the
// webhooks kept, for the webhook to admit the pools (webhookAdmits).
func New(ctx *pulumi.Context, name string, args *Args, opts ...pulumi.ResourceOption) (*MetalLB, error) {
	m := &MetalLB{}
	if err := ctx.RegisterComponentResource(Token, name, m, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(m)

	ns, err := corev1.NewNamespace(ctx, name+"-namespace", &corev1.NamespaceArgs{
		Metadata: &metav1.ObjectMetaArgs{
			Name: pulumi.String(args.Namespace),
			// The speaker needs host networking and NET_RAW: the namespace must admit privileged pods.
			Labels: pulumi.StringMap{
				"pod-security.kubernetes.io/enforce": pulumi.String("privileged"),
				"pod-security.kubernetes.io/audit":   pulumi.String("privileged"),
				"pod-security.kubernetes.io/warn":    pulumi.String("privileged"),
			},
		},
	}, parent)
	if err != nil {
		return nil, err
	}

	chartOpts := []pulumi.ResourceOption{parent, pulumi.DependsOn([]pulumi.Resource{ns})}
	if !args.ValidationWebhooks {
		chartOpts = append(chartOpts, pulumi.Transforms([]pulumi.ResourceTransform{DropValidationWebhooks}))
	}
	chart, err := helmv4.NewChart(ctx, name, args.Chart.ChartArgs(args.Namespace, chartValues(args)), chartOpts...)
	if err != nil {
		return nil, err
	}
	m.Children = append(m.Children, ns, chart)

	afterChart := []pulumi.ResourceOption{parent, pulumi.DependsOn([]pulumi.Resource{chart})}
	if args.ValidationWebhooks && args.AwaitAdmission != nil {
		afterChart = append(afterChart, pulumi.DependsOnInputs(webhookAdmits(ctx, args, chart)))
	}
	poolNames := pulumi.StringArray{}
	for _, p := range args.Pools {
		pool, err := apiextensions.NewCustomResource(ctx, name+"-pool-"+p.Name, &apiextensions.CustomResourceArgs{
			ApiVersion:  pulumi.String(poolResource.GroupVersion().String()),
			Kind:        pulumi.String(poolKind),
			Metadata:    &metav1.ObjectMetaArgs{Name: pulumi.String(p.Name), Namespace: pulumi.String(args.Namespace)},
			OtherFields: map[string]any{"spec": p.spec()},
		}, afterChart...)
		if err != nil {
			return nil, err
		}
		poolNames = append(poolNames, pool.Metadata.Name().Elem())
		m.Children = append(m.Children, pool)
	}

	l2Spec := pulumi.Map{}
	if len(args.L2Advertisement.Pools) > 0 {
		l2Spec["ipAddressPools"] = pulumi.ToStringArray(args.L2Advertisement.Pools)
	}
	if len(args.L2Advertisement.Interfaces) > 0 {
		l2Spec["interfaces"] = pulumi.ToStringArray(args.L2Advertisement.Interfaces)
	}
	l2, err := apiextensions.NewCustomResource(ctx, name+"-l2-"+args.L2Advertisement.Name, &apiextensions.CustomResourceArgs{
		ApiVersion:  pulumi.String("metallb.io/v1beta1"),
		Kind:        pulumi.String("L2Advertisement"),
		Metadata:    &metav1.ObjectMetaArgs{Name: pulumi.String(args.L2Advertisement.Name), Namespace: pulumi.String(args.Namespace)},
		OtherFields: map[string]any{"spec": l2Spec},
	}, afterChart...)
	if err != nil {
		return nil, err
	}
	m.Children = append(m.Children, l2)

	m.Namespace = ns.Metadata.Name().Elem()
	m.PoolNames = poolNames.ToStringArrayOutput()
	if err := ctx.RegisterResourceOutputs(m, pulumi.Map{
		"namespace": m.Namespace,
		"poolNames": m.PoolNames,
	}); err != nil {
		return nil, err
	}
	return m, nil
}

// poolResource and poolKind are where IPAddressPools are created.
var poolResource = schema.GroupVersionResource{Group: "metallb.io", Version: "v1beta1", Resource: "ipaddresspools"}

const poolKind = "IPAddressPool"

func (p Pool) spec() map[string]any {
	return map[string]any{"addresses": p.Addresses, "autoAssign": p.AutoAssign, "avoidBuggyIPs": p.AvoidBuggyIPs}
}

// webhookAdmits resolves, in an update, once MetalLB's webhook admits a dry run of every pool; a preview never
// calls it. A controller seen ready may not answer yet: its readiness check is a plain ping, and its webhooks are
// registered only once the certificate rotator has mounted their certificate (internal/k8s/k8s.go and webhook.go,
// v0.16.1), while the provider does not retry a create the API server refused. The chart's resources resolve only
// once every one of its objects is created and ready (a component's Construct answers after its registrations
// finish: sdk/go/pulumi/provider.go, v3.274.1), so the webhook configuration is in place by then.
func webhookAdmits(ctx *pulumi.Context, args *Args, chart *helmv4.Chart) pulumi.ResourceArrayOutput {
	pools := make([]admission.Object, 0, len(args.Pools))
	for _, p := range args.Pools {
		pools = append(pools, admission.Object{Resource: poolResource, Manifest: map[string]any{
			"apiVersion": poolResource.GroupVersion().String(),
			"kind":       poolKind,
			"metadata":   map[string]any{"name": p.Name, "namespace": args.Namespace},
			"spec":       p.spec(),
		}})
	}
	return chart.Resources.ApplyTWithContext(ctx.Context(), func(c context.Context, _ []any) ([]pulumi.Resource, error) {
		if !ctx.DryRun() {
			if err := args.AwaitAdmission(c, pools); err != nil {
				return nil, fmt.Errorf("MetalLB's validating webhook did not admit the pools (it answers once its controller runs "+
					"and has mounted its certificate: see the controller's log in %s): %w", args.Namespace, err)
			}
		}
		return []pulumi.Resource{chart}, nil
	}).(pulumi.ResourceArrayOutput)
}

// The controller's and the speakers' readiness probes: after 1 s rather than the chart's 10, then every 2 s rather
// than 10. Their readiness check is a plain ping of the manager (internal/k8s/k8s.go, v0.16.1), so probing it
// early and often costs nothing, and a readiness probe that fails before the first success only keeps the pod
// unready (the liveness probe, which restarts, keeps the chart's delay). The pools wait for the chart, so for the
// controller's readiness, and every LoadBalancer IP for the pools: the chart's 10 s delay stood on the critical
// path of every cold up, and with a 10 s period a controller not answering at the first probe cost 10 s more.
const (
	readinessDelay  = 1
	readinessPeriod = 2
)

func chartValues(args *Args) map[string]any {
	probe := map[string]any{"initialDelaySeconds": readinessDelay, "periodSeconds": readinessPeriod}
	return map[string]any{
		"controller": map[string]any{"resources": args.ControllerResources.Values(), "readinessProbe": probe},
		"speaker": map[string]any{
			"resources":      args.SpeakerResources.Values(),
			"readinessProbe": probe,
			// L2 mode only: no FRR sidecars.
			"frr": map[string]any{"enabled": false},
		},
		// The 0.16.1 chart installs FRR-K8s by default (a privileged DaemonSet, a webhook, a status cleaner) as its
		// BGP backend; layer 2 needs none of it.
		"frrk8s": map[string]any{"enabled": false},
	}
}

// DropValidationWebhooks empties MetalLB's ValidatingWebhookConfiguration so the API server calls no webhook, and
// skips the await of the Service that serves it. That await waits for the controller's endpoints and then 10 s more
// (pulumi-kubernetes provider/pkg/await/service.go): 21 s on a cold up's critical path. With the webhook on, the
// pools' creation needs those endpoints (the provider retries a create only on NotFound and NoMatch, await.go), so
// the await stays; with it off, they gate nothing: the controller's Deployment is still awaited, and the IPs the
// LoadBalancer Services await come from it.
func DropValidationWebhooks(_ context.Context, args *pulumi.ResourceTransformArgs) *pulumi.ResourceTransformResult {
	props := args.Props
	switch {
	case args.Type == "kubernetes:admissionregistration.k8s.io/v1:ValidatingWebhookConfiguration":
		props["webhooks"] = pulumi.Array{}
	case args.Type == "kubernetes:core/v1:Service" && isWebhookService(props):
		meta := props["metadata"].(pulumi.Map)
		annotations, _ := meta["annotations"].(pulumi.Map)
		if annotations == nil {
			annotations = pulumi.Map{}
		}
		annotations["pulumi.com/skipAwait"] = pulumi.String("true")
		meta["annotations"] = annotations
	default:
		return nil
	}
	return &pulumi.ResourceTransformResult{Props: props, Opts: args.Opts}
}

// webhookService is the chart's name for the Service the validating webhooks call (templates/webhooks.yaml).
const webhookService = "metallb-webhook-service"

func isWebhookService(props pulumi.Map) bool {
	meta, ok := props["metadata"].(pulumi.Map)
	return ok && meta["name"] == pulumi.String(webhookService)
}
