// Package abtest is the A/B experiment component: the Models, the Experiment that splits traffic between them,
// the Ingress that reaches Seldon's mesh, and outputs that say exactly how a client calls the experiment.
package abtest

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apiextensions"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	networkingv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/networking/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/seldon-ab/provisioner/internal/gatewayapi"
	"github.com/seldon-ab/provisioner/internal/seldonspec"
)

// Token is the component's Pulumi type.
const Token = "seldon-ab:abtest:ABTest"

// MeshService is the Service every SeldonRuntime makes for envoy; port 80 is its HTTP data plane.
const MeshService = seldonspec.MeshService

// Args configure the experiment.
type Args struct {
	// Namespace holds the Experiments and the mesh Ingress: a model namespace with a SeldonRuntime.
	Namespace string
	Models    []Model
	// Experiments are empty once every winner is promoted: the Models are then called by name.
	Experiments []Experiment
	Ingress     Ingress
	// Input is the V2 tensor the sample request sends.
	Input        Input
	WaitForReady bool
	// WaitForAddress gates the mesh Ingress on the address its ingress controller publishes.
	WaitForAddress bool
	// After are resources that must exist before this component's objects (a component's own dependsOn does
	// not reach its children).
	After []pulumi.Resource
	// Seeded, when set, resolves once the model store holds the seeded artifacts (the seeds run in the program's
	// own process); the Models wait for it as for After.
	Seeded pulumi.ResourceArrayInput
}

// Model is one Seldon Model.
type Model struct {
	Name         string
	Namespace    string
	StorageURI   string
	Requirements []string
	Memory       string
	Server       string
	SecretName   string
	Replicas     int
}

// Experiment is the weighted split.
type Experiment struct {
	Name       string
	Default    string
	Candidates []seldonspec.Candidate
	Mirror     *Mirror
}

// Mirror copies Percent of traffic to a Model.
type Mirror struct {
	Name    string
	Percent int
}

// Ingress is how clients on the LAN reach the mesh.
type Ingress struct {
	ClassName string
	IP        string
	Hosts     []string
	// PathPrefix, when set, gets its own Ingress (or HTTPRoute rule) that strips it and keeps /v2.
	PathPrefix string
	// Gateway, when set, is the Gateway an HTTPRoute attaches to (NGINX Gateway Fabric) instead of an Ingress.
	Gateway *GatewayRef
}

// GatewayRef names a Gateway's listener.
type GatewayRef struct {
	Name, Namespace, Listener string
}

// Input is a V2 tensor spec.
type Input struct {
	Name     string
	Shape    []int
	Datatype string
}

// ABTest is the deployed experiment.
type ABTest struct {
	pulumi.ResourceState

	// InferenceURL is where to POST; send HostHeader as Host and SeldonModelHeader as seldon-model. They call
	// the first experiment (or, without one, the first Model); Calls says how to call each experiment.
	InferenceURL      pulumi.StringOutput `pulumi:"inferenceURL"`
	HostHeader        pulumi.StringOutput `pulumi:"hostHeader"`
	SeldonModelHeader pulumi.StringOutput `pulumi:"seldonModelHeader"`
	Curl              pulumi.StringOutput `pulumi:"curl"`
	// Calls maps each experiment's name to its call: url, seldonModelHeader, curl.
	Calls pulumi.MapOutput `pulumi:"calls"`

	// Children are every object this component made, for dependents to wait on: a DependsOn on the component
	// itself did not reliably reach all of its children (a graph test failed 4 times in 40).
	Children []pulumi.Resource
}

// New deploys the experiment. The Experiment depends on the Models, which depend on args.After (the Servers), so
// destroy removes the Experiment, then the Models, before anything they need.
func New(ctx *pulumi.Context, name string, args *Args, opts ...pulumi.ResourceOption) (*ABTest, error) {
	ab := &ABTest{}
	if err := ctx.RegisterComponentResource(Token, name, ab, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(ab)

	modelOpts := []pulumi.ResourceOption{parent, pulumi.DependsOn(args.After)}
	if args.Seeded != nil {
		modelOpts = append(modelOpts, pulumi.DependsOnInputs(args.Seeded))
	}
	var models []pulumi.Resource
	for _, m := range args.Models {
		spec := pulumi.Map{"storageUri": pulumi.String(m.StorageURI)}
		if len(m.Requirements) > 0 {
			spec["requirements"] = pulumi.ToStringArray(m.Requirements)
		}
		if m.Memory != "" {
			spec["memory"] = pulumi.String(m.Memory)
		}
		if m.Server != "" {
			spec["server"] = pulumi.String(m.Server)
		}
		if m.SecretName != "" {
			spec["secretName"] = pulumi.String(m.SecretName)
		}
		if m.Replicas > 0 {
			spec["replicas"] = pulumi.Int(m.Replicas)
		}
		model, err := apiextensions.NewCustomResource(ctx, name+"-model-"+m.Namespace+"-"+m.Name, &apiextensions.CustomResourceArgs{
			ApiVersion:  pulumi.String(seldonspec.APIVersion),
			Kind:        pulumi.String(seldonspec.KindModel),
			Metadata:    objectMeta(m.Name, m.Namespace, readyAnnotations(args.WaitForReady)),
			OtherFields: map[string]any{"spec": spec},
		}, modelOpts...)
		if err != nil {
			return nil, err
		}
		models = append(models, model)
	}

	ab.Children = append(ab.Children, models...)
	for i, e := range args.Experiments {
		resourceName, aliases := experimentResourceName(name, args.Namespace, args.Experiments, i)
		experiment, err := apiextensions.NewCustomResource(ctx, resourceName, &apiextensions.CustomResourceArgs{
			ApiVersion:  pulumi.String(seldonspec.APIVersion),
			Kind:        pulumi.String(seldonspec.KindExperiment),
			Metadata:    objectMeta(e.Name, args.Namespace, readyAnnotations(args.WaitForReady)),
			OtherFields: map[string]any{"spec": ExperimentSpec(e)},
			// A replacement (a rename) deletes the old Experiment first: while it exists, the scheduler refuses a
			// second one with the same default model as baseline (ExperimentBaselineExists) and the controller never
			// retries it; created first, the new one would also adopt an object of the same name before the old one
			// is deleted.
		}, parent, pulumi.DependsOn(models), pulumi.DeleteBeforeReplace(true), pulumi.Aliases(aliases))
		if err != nil {
			return nil, err
		}
		ab.Children = append(ab.Children, experiment)
	}

	if args.Ingress.Gateway != nil {
		route, err := apiextensions.NewCustomResource(ctx, name+"-mesh-route", &apiextensions.CustomResourceArgs{
			ApiVersion:  pulumi.String(gatewayapi.APIVersion),
			Kind:        pulumi.String(gatewayapi.KindHTTPRoute),
			Metadata:    objectMeta(MeshService, args.Namespace, routeAnnotations(args.WaitForAddress)),
			OtherFields: map[string]any{"spec": MeshRouteSpec(args)},
		}, parent, pulumi.DependsOn(args.After))
		if err != nil {
			return nil, err
		}
		ab.Children = append(ab.Children, route)
	} else if err := ab.meshIngresses(ctx, name, args, parent); err != nil {
		return nil, err
	}

	calls := HowToCall(args)
	ab.InferenceURL = pulumi.String(calls[0].URL).ToStringOutput()
	ab.HostHeader = pulumi.String(calls[0].Host).ToStringOutput()
	ab.SeldonModelHeader = pulumi.String(calls[0].SeldonModel).ToStringOutput()
	ab.Curl = pulumi.String(calls[0].Curl).ToStringOutput()
	byExperiment := pulumi.Map{}
	for i, e := range args.Experiments {
		byExperiment[e.Name] = pulumi.StringMap{"url": pulumi.String(calls[i].URL),
			"seldonModelHeader": pulumi.String(calls[i].SeldonModel), "curl": pulumi.String(calls[i].Curl)}
	}
	ab.Calls = byExperiment.ToMapOutput()
	if err := ctx.RegisterResourceOutputs(ab, pulumi.Map{
		"inferenceURL":      ab.InferenceURL,
		"hostHeader":        ab.HostHeader,
		"seldonModelHeader": ab.SeldonModelHeader,
		"curl":              ab.Curl,
		"calls":             ab.Calls,
	}); err != nil {
		return nil, err
	}
	return ab, nil
}

// meshIngresses route each host to seldon-mesh through ingress-nginx.
func (ab *ABTest) meshIngresses(ctx *pulumi.Context, name string, args *Args, parent pulumi.ResourceOption) error {
	ingressAnnotations := map[string]string{}
	if !args.WaitForAddress {
		ingressAnnotations["pulumi.com/skipAwait"] = "true"
	}
	mesh, err := networkingv1.NewIngress(ctx, name+"-mesh", meshIngress(args, MeshService, "/", "Prefix", ingressAnnotations), parent, pulumi.DependsOn(args.After))
	if err != nil {
		return err
	}
	ab.Children = append(ab.Children, mesh)
	if args.Ingress.PathPrefix != "" {
		// A prefixed path needs its own Ingress: rewrite-target applies to every path of an Ingress, and the
		// capture group keeps /v2/... (envoy routes nothing else).
		prefixed := map[string]string{
			"nginx.ingress.kubernetes.io/use-regex":      "true",
			"nginx.ingress.kubernetes.io/rewrite-target": "/$2",
		}
		for k, v := range ingressAnnotations {
			prefixed[k] = v
		}
		path := args.Ingress.PathPrefix + "(/|$)(.*)"
		prefixedMesh, err := networkingv1.NewIngress(ctx, name+"-mesh-prefix", meshIngress(args, "seldon-mesh-prefix", path, "ImplementationSpecific", prefixed), parent, pulumi.DependsOn(args.After))
		if err != nil {
			return err
		}
		ab.Children = append(ab.Children, prefixedMesh)
	}

	return nil
}

// routeAnnotations await the HTTPRoute's acceptance by the Gateway and its resolved backend, as NGF writes them in
// status.parents (internal/controller/status/prepare_requests.go: prepareRouteStatus); off where no controller
// runs.
func routeAnnotations(wait bool) map[string]string {
	if !wait {
		return map[string]string{"pulumi.com/skipAwait": "true"}
	}
	var conds []string
	for _, c := range []string{gatewayapi.ConditionAccepted, gatewayapi.ConditionResolvedRefs} {
		conds = append(conds, fmt.Sprintf(`jsonpath={.status.parents[0].conditions[?(@.type=="%s")].status}=True`, c))
	}
	b, _ := json.Marshal(conds)
	return map[string]string{seldonspec.PulumiWaitForAnnotation: string(b)}
}

// MeshRouteSpec routes each host's /v2 to seldon-mesh:80 with the path kept (envoy routes only /v2 paths), attached
// to the Gateway's listener; with a path prefix, a second rule strips it back to /v2 (URLRewrite
// ReplacePrefixMatch, which the HTTPRoute CRD allows only on a single PathPrefix match). No seldon-model header is
// set: NGF's RequestHeaderModifier set overrides the client's own header (proxy_set_header,
// internal/controller/nginx/config/servers.go), which would turn every call by model name into an experiment call.
func MeshRouteSpec(args *Args) pulumi.Map {
	backend := pulumi.Array{pulumi.Map{"name": pulumi.String(MeshService), "port": pulumi.Int(seldonspec.MeshServicePort)}}
	prefixMatch := func(path string) pulumi.Array {
		return pulumi.Array{pulumi.Map{"path": pulumi.Map{"type": pulumi.String("PathPrefix"), "value": pulumi.String(path)}}}
	}
	rules := pulumi.Array{pulumi.Map{"matches": prefixMatch("/v2"), "backendRefs": backend}}
	if p := args.Ingress.PathPrefix; p != "" {
		rules = append(rules, pulumi.Map{
			"matches": prefixMatch(p + "/v2"),
			"filters": pulumi.Array{pulumi.Map{"type": pulumi.String("URLRewrite"), "urlRewrite": pulumi.Map{
				"path": pulumi.Map{"type": pulumi.String("ReplacePrefixMatch"), "replacePrefixMatch": pulumi.String("/v2")},
			}}},
			"backendRefs": backend,
		})
	}
	gw := args.Ingress.Gateway
	return pulumi.Map{
		"parentRefs": pulumi.Array{pulumi.Map{"name": pulumi.String(gw.Name), "namespace": pulumi.String(gw.Namespace),
			"sectionName": pulumi.String(gw.Listener)}},
		"hostnames": pulumi.ToStringArray(args.Ingress.Hosts),
		"rules":     rules,
	}
}

func readyAnnotations(wait bool) map[string]string {
	if !wait {
		return nil
	}
	return map[string]string{seldonspec.PulumiWaitForAnnotation: "condition=" + seldonspec.ConditionReady}
}

func objectMeta(name, namespace string, annotations map[string]string) *metav1.ObjectMetaArgs {
	m := &metav1.ObjectMetaArgs{Name: pulumi.String(name), Namespace: pulumi.String(namespace)}
	if len(annotations) > 0 {
		m.Annotations = pulumi.ToStringMap(annotations)
	}
	return m
}

// ExperimentSpec renders the Experiment's spec.
func ExperimentSpec(e Experiment) pulumi.Map {
	candidates := pulumi.Array{}
	for _, c := range e.Candidates {
		candidates = append(candidates, pulumi.Map{"name": pulumi.String(c.Name), "weight": pulumi.Int(c.Weight)})
	}
	spec := pulumi.Map{"candidates": candidates}
	if e.Default != "" {
		spec["default"] = pulumi.String(e.Default)
	}
	if e.Mirror != nil {
		spec["mirror"] = pulumi.Map{"name": pulumi.String(e.Mirror.Name), "percent": pulumi.Int(e.Mirror.Percent)}
	}
	return spec
}

// meshIngress routes each host's path to seldon-mesh:80 in the runtime's namespace (an Ingress reaches only
// Services in its own namespace).
func meshIngress(args *Args, name, path, pathType string, annotations map[string]string) *networkingv1.IngressArgs {
	rules := networkingv1.IngressRuleArray{}
	for _, host := range args.Ingress.Hosts {
		rules = append(rules, &networkingv1.IngressRuleArgs{
			Host: pulumi.String(host),
			Http: &networkingv1.HTTPIngressRuleValueArgs{Paths: networkingv1.HTTPIngressPathArray{
				&networkingv1.HTTPIngressPathArgs{
					Path:     pulumi.String(path),
					PathType: pulumi.String(pathType),
					Backend: &networkingv1.IngressBackendArgs{Service: &networkingv1.IngressServiceBackendArgs{
						Name: pulumi.String(MeshService),
						Port: &networkingv1.ServiceBackendPortArgs{Number: pulumi.Int(seldonspec.MeshServicePort)},
					}},
				},
			}},
		})
	}
	return &networkingv1.IngressArgs{
		Metadata: objectMeta(name, args.Namespace, annotations),
		Spec: &networkingv1.IngressSpecArgs{
			IngressClassName: pulumi.String(args.Ingress.ClassName),
			Rules:            rules,
		},
	}
}

// Call is how a client calls the experiment (or, without one, the first Model) through the ingress.
type Call struct {
	// BaseURL is the ingress with the path prefix, if any; Model is the path's model segment.
	BaseURL string
	Model   string
	// Namespace is where the called objects and the mesh Ingress live.
	Namespace   string
	URL         string
	Host        string
	SeldonModel string
	Body        string
	Curl        string
}

// HowToCall describes the calls: one per experiment, in order, or without experiments one to the first Model of the
// namespace by its name. Any model segment works once seldon-model names the experiment; the default model's name is
// used so the path also reads right.
func HowToCall(args *Args) []Call {
	var calls []Call
	for _, e := range args.Experiments {
		model := e.Default
		if model == "" && len(e.Candidates) > 0 {
			model = e.Candidates[0].Name
		}
		calls = append(calls, newCall(args, model, seldonspec.ExperimentHeader(e.Name)))
	}
	if len(calls) > 0 {
		return calls
	}
	for _, m := range args.Models {
		if m.Namespace == args.Namespace {
			return []Call{newCall(args, m.Name, m.Name)}
		}
	}
	return []Call{newCall(args, "", "")}
}

func newCall(args *Args, model, seldonModel string) Call {
	base := fmt.Sprintf("http://%s%s", args.Ingress.IP, args.Ingress.PathPrefix)
	c := Call{
		BaseURL:     base,
		Model:       model,
		Namespace:   args.Namespace,
		URL:         fmt.Sprintf("%s/v2/models/%s/infer", base, model),
		SeldonModel: seldonModel,
		Body:        SampleRequest(args.Input),
	}
	if len(args.Ingress.Hosts) > 0 {
		c.Host = args.Ingress.Hosts[0]
	}
	c.Curl = fmt.Sprintf("curl -sS -i %s -H 'Host: %s' -H 'Content-Type: application/json' -H 'seldon-model: %s' -d '%s'",
		c.URL, c.Host, c.SeldonModel, c.Body)
	return c
}

// experimentResourceName is the Pulumi name of the i-th Experiment, and the names it had before. A stack's one
// Experiment keeps the name it always had, so that a rename replaces it, the old object deleted first, under a plain
// `pulumi up` too (while the old one holds the default model as its baseline, the scheduler refuses the new one
// and never retries). With several, each is named after its object; `seldon-ab up` deletes a renamed one's old
// object before the update (internal/lifecycle). The aliases carry a stack from one form to the other.
func experimentResourceName(component, namespace string, experiments []Experiment, i int) (string, []pulumi.Alias) {
	single, own := component+"-experiment", fmt.Sprintf("%s-experiment-%s-%s", component, namespace, experiments[i].Name)
	if len(experiments) == 1 {
		return single, []pulumi.Alias{{Name: pulumi.String(own)}}
	}
	if i == 0 {
		return own, []pulumi.Alias{{Name: pulumi.String(single)}}
	}
	return own, nil
}

// SampleRequest is a V2 inference request with zeros for the configured input tensor.
func SampleRequest(in Input) string {
	size := 1
	for _, d := range in.Shape {
		size *= d
	}
	data := strings.TrimSuffix(strings.Repeat("0,", size), ",")
	shape, _ := json.Marshal(in.Shape)
	return fmt.Sprintf(`{"inputs":[{"name":%q,"shape":%s,"datatype":%q,"data":[%s]}]}`, in.Name, shape, in.Datatype, data)
}
