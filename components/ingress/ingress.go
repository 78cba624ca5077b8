// Package ingress is the NGINX ingress controller component: the pinned chart with its LoadBalancer Service on a
// fixed MetalLB IP and an IngressClass that other components route through.
package ingress

import (
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	helmv4 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/helm/v4"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/seldon-ab/provisioner/internal/charts"
	"github.com/seldon-ab/provisioner/internal/kube"
)

// Token is the component's Pulumi type.
const Token = "seldon-ab:ingress:NginxIngress"

// Args configure the controller.
type Args struct {
	Namespace string
	Chart     charts.Location
	// ClassName is the IngressClass the controller serves; Ingresses select it by ingressClassName.
	ClassName      string
	LoadBalancerIP string
	Replicas       int
	Resources      kube.Resources
}

// NginxIngress is the deployed controller.
type NginxIngress struct {
	pulumi.ResourceState

	Namespace      pulumi.StringOutput `pulumi:"namespace"`
	ClassName      pulumi.StringOutput `pulumi:"className"`
	LoadBalancerIP pulumi.StringOutput `pulumi:"loadBalancerIP"`

	// Children are every object this component made, for dependents to wait on: a DependsOn on the component
	// itself did not reliably reach all of its children (a graph test failed 4 times in 40).
	Children []pulumi.Resource
}

// New deploys the controller. helm/v4.Chart drops Helm hooks, and the admission webhook's certificate Jobs are
// hooks, so the webhook is turned off rather than left pointing at a certificate that never gets made.
func New(ctx *pulumi.Context, name string, args *Args, opts ...pulumi.ResourceOption) (*NginxIngress, error) {
	in := &NginxIngress{}
	if err := ctx.RegisterComponentResource(Token, name, in, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(in)

	ns, err := corev1.NewNamespace(ctx, name+"-namespace", &corev1.NamespaceArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(args.Namespace)},
	}, parent)
	if err != nil {
		return nil, err
	}
	// Nothing here waits for MetalLB: its controller assigns the Service's IP whenever the pools appear (a pool
	// change reprocesses every Service: SetPools returns SyncStateReprocessAll, controller/main.go, v0.16.1), and
	// the Service is awaited until it has exactly that IP (kube.FixedIPServiceAnnotations).
	chart, err := helmv4.NewChart(ctx, name, args.Chart.ChartArgs(args.Namespace, ChartValues(args)),
		parent, pulumi.DependsOn([]pulumi.Resource{ns}))
	if err != nil {
		return nil, err
	}
	// Consumers that need the controller running wait for the whole chart.
	in.Children = []pulumi.Resource{ns, chart}

	in.Namespace = ns.Metadata.Name().Elem()
	in.ClassName = pulumi.String(args.ClassName).ToStringOutput()
	in.LoadBalancerIP = pulumi.String(args.LoadBalancerIP).ToStringOutput()
	if err := ctx.RegisterResourceOutputs(in, pulumi.Map{
		"namespace":      in.Namespace,
		"className":      in.ClassName,
		"loadBalancerIP": in.LoadBalancerIP,
	}); err != nil {
		return nil, err
	}
	return in, nil
}

// ChartValues maps Args onto the ingress-nginx chart's values.
func ChartValues(args *Args) map[string]any {
	return map[string]any{
		"controller": map[string]any{
			"replicaCount": args.Replicas,
			"resources":    args.Resources.Values(),
			"ingressClass": args.ClassName,
			"ingressClassResource": map[string]any{
				"name":            args.ClassName,
				"enabled":         true,
				"default":         false,
				"controllerValue": "k8s.io/ingress-nginx",
			},
			"admissionWebhooks": map[string]any{"enabled": false},
			"service": map[string]any{
				"type":        "LoadBalancer",
				"annotations": kube.FixedIPServiceAnnotations(args.LoadBalancerIP),
			},
		},
	}
}
