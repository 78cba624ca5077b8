// Package gateway is the NGINX Gateway Fabric component: the Gateway API's standard CRDs, NGF's pinned chart with the
// TLS Secrets its control plane and data plane need, and one Gateway whose data-plane Service gets a fixed MetalLB IP.
package gateway

import (
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apiextensions"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	helmv4 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/helm/v4"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	yamlv2 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/yaml/v2"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/seldon-ab/provisioner/internal/charts"
	"github.com/seldon-ab/provisioner/internal/gatewayapi"
	"github.com/seldon-ab/provisioner/internal/kube"
)

// Token is the component's Pulumi type.
const Token = "seldon-ab:gateway:NginxGatewayFabric"

// ReleaseName is the chart's release: it contains the chart's name, so it is also the chart's fullname, which names
// the control plane's Service and so the server certificate's DNS name (chart templates/_helpers.tpl:
// nginx-gateway.fullname).
const ReleaseName = "nginx-gateway-fabric"

// Args configure NGINX Gateway Fabric.
type Args struct {
	Namespace string
	Chart     charts.Location
	// CRDs is the Gateway API standard-install manifest: a path or an URL.
	CRDs string
	// ClassName is the GatewayClass the chart creates and the Gateway uses.
	ClassName      string
	LoadBalancerIP string
	// RouteNamespaces may attach routes to the Gateway (the model namespaces, where seldon-mesh lives).
	RouteNamespaces []string
	Replicas        int
	Resources       kube.Resources
}

// NginxGatewayFabric is the deployed controller and its Gateway.
type NginxGatewayFabric struct {
	pulumi.ResourceState

	Namespace      pulumi.StringOutput `pulumi:"namespace"`
	ClassName      pulumi.StringOutput `pulumi:"className"`
	GatewayName    pulumi.StringOutput `pulumi:"gatewayName"`
	LoadBalancerIP pulumi.StringOutput `pulumi:"loadBalancerIP"`

	// Children are every object this component made, for dependents to wait on.
	Children []pulumi.Resource
}

// New deploys the CRDs, the controller and the Gateway. helm/v4.Chart renders no Helm hooks, and the chart makes its
// TLS Secrets in a pre-install hook Job (templates/certs-job.yaml), so the component makes them itself and turns the
// generator off.
func New(ctx *pulumi.Context, name string, args *Args, opts ...pulumi.ResourceOption) (*NginxGatewayFabric, error) {
	gw := &NginxGatewayFabric{}
	if err := ctx.RegisterComponentResource(Token, name, gw, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(gw)

	crds, err := yamlv2.NewConfigFile(ctx, name+"-gateway-api-crds", &yamlv2.ConfigFileArgs{File: pulumi.String(args.CRDs)}, parent)
	if err != nil {
		return nil, err
	}
	ns, err := corev1.NewNamespace(ctx, name+"-namespace", &corev1.NamespaceArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(args.Namespace)},
	}, parent)
	if err != nil {
		return nil, err
	}
	secrets, err := tlsSecrets(ctx, name, args.Namespace, parent, pulumi.DependsOn([]pulumi.Resource{ns}))
	if err != nil {
		return nil, err
	}
	chartArgs := args.Chart.ChartArgs(args.Namespace, ChartValues(args))
	chartArgs.Name = pulumi.StringPtr(ReleaseName)
	chart, err := helmv4.NewChart(ctx, name, chartArgs, parent,
		pulumi.DependsOn(append([]pulumi.Resource{crds, ns}, secrets...)))
	if err != nil {
		return nil, err
	}
	gateway, err := apiextensions.NewCustomResource(ctx, name+"-gateway", &apiextensions.CustomResourceArgs{
		ApiVersion: pulumi.String(gatewayapi.APIVersion),
		Kind:       pulumi.String(gatewayapi.KindGateway),
		Metadata: &metav1.ObjectMetaArgs{
			Name:      pulumi.String(gatewayapi.GatewayName),
			Namespace: pulumi.String(args.Namespace),
			// NGF writes the address of the Service it provisions for the Gateway (handler.go:
			// getGatewayAddressesForStatus): that address being the fixed IP is what MetalLB assigning it looks like.
			Annotations: pulumi.StringMap{"pulumi.com/waitFor": pulumi.String("jsonpath={.status.addresses[0].value}=" + args.LoadBalancerIP)},
		},
		OtherFields: map[string]any{"spec": GatewaySpec(args)},
	}, parent, pulumi.DependsOn([]pulumi.Resource{chart}))
	if err != nil {
		return nil, err
	}
	gw.Children = append([]pulumi.Resource{crds, ns, chart, gateway}, secrets...)

	gw.Namespace = ns.Metadata.Name().Elem()
	gw.ClassName = pulumi.String(args.ClassName).ToStringOutput()
	gw.GatewayName = pulumi.String(gatewayapi.GatewayName).ToStringOutput()
	gw.LoadBalancerIP = pulumi.String(args.LoadBalancerIP).ToStringOutput()
	if err := ctx.RegisterResourceOutputs(gw, pulumi.Map{
		"namespace":      gw.Namespace,
		"className":      gw.ClassName,
		"gatewayName":    gw.GatewayName,
		"loadBalancerIP": gw.LoadBalancerIP,
	}); err != nil {
		return nil, err
	}
	return gw, nil
}

// GatewaySpec is one plain-HTTP listener on port 80 for routes from the model namespaces. Its data-plane Service gets
// the fixed IP from MetalLB through spec.infrastructure.annotations, which NGF copies onto every object it
// provisions for the Gateway, the Service included (provisioner/objects.go: buildLabelsAndAnnotations);
// spec.addresses would become the Service's externalIPs (buildNginxService), which MetalLB never assigns.
func GatewaySpec(args *Args) pulumi.Map {
	return pulumi.Map{
		"gatewayClassName": pulumi.String(args.ClassName),
		"infrastructure": pulumi.Map{"annotations": pulumi.StringMap{
			kube.LoadBalancerIPsAnnotation: pulumi.String(args.LoadBalancerIP),
		}},
		"listeners": pulumi.Array{pulumi.Map{
			"name":     pulumi.String(gatewayapi.ListenerName),
			"port":     pulumi.Int(80),
			"protocol": pulumi.String("HTTP"),
			// The CRD's default admits routes from the Gateway's own namespace only.
			"allowedRoutes": pulumi.Map{"namespaces": pulumi.Map{
				"from": pulumi.String("Selector"),
				"selector": pulumi.Map{"matchExpressions": pulumi.Array{pulumi.Map{
					"key":      pulumi.String("kubernetes.io/metadata.name"),
					"operator": pulumi.String("In"),
					"values":   pulumi.ToStringArray(args.RouteNamespaces),
				}}},
			}},
		}},
	}
}

// ChartValues maps Args onto the chart's values. The data plane's replicas and resources go to the NginxProxy
// the chart makes for the GatewayClass (templates/nginxproxy.yaml), which NGF applies to every Gateway's nginx.
func ChartValues(args *Args) map[string]any {
	return map[string]any{
		"certGenerator": map[string]any{"enable": false},
		"nginxGateway": map[string]any{
			"gatewayClassName": args.ClassName,
			// A homelab has no business reporting to F5; the chart turns it on by default (templates/deployment.yaml).
			"productTelemetry": map[string]any{"enable": false},
		},
		"nginx": map[string]any{
			"replicas":  args.Replicas,
			"container": map[string]any{"resources": args.Resources.Values()},
		},
	}
}
