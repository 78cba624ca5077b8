// Package seldon is the Seldon Core v2 platform component: CRDs, the controller manager (with extra env), one
// SeldonRuntime per model namespace, the rclone Secret each runtime preloads, and the MLServer Servers.
package seldon

import (
	"context"
	"slices"
	"sort"
	"strings"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apiextensions"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	helmv4 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/helm/v4"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/seldon-ab/provisioner/internal/charts"
	"github.com/seldon-ab/provisioner/internal/kube"
	"github.com/seldon-ab/provisioner/internal/seldonspec"
)

// Token is the component's Pulumi type.
const Token = "seldon-ab:seldon:Platform"

// ControllerDeployment names the setup chart's controller manager.
const ControllerDeployment = seldonspec.ControllerDeployment

// Args configure the platform.
type Args struct {
	Namespace       string
	CRDsChart       charts.Location
	SetupChart      charts.Location
	ModelNamespaces []string
	// ControllerEnv is added to the controller manager container (the chart has no value for it).
	ControllerEnv       map[string]string
	ControllerResources kube.Resources
	EnvoyReplicas       int
	EnvoyServiceType    string
	KafkaBootstrap      string
	// RcloneRemote names the remote (the Secret's key); RcloneConfig is its body, a Pulumi secret.
	RcloneRemote string
	RcloneConfig pulumi.StringInput
	Servers      []Server
	WaitForReady bool
}

// Server is one Seldon Server in a model namespace.
type Server struct {
	Name              string
	Namespace         string
	ServerConfig      string
	Replicas          int
	ExtraCapabilities []string
	// Memory, when set, replaces the mlserver container's memory request and limit from the ServerConfig.
	Memory string
}

// Platform is the deployed Seldon control plane and servers.
type Platform struct {
	pulumi.ResourceState

	ModelNamespaces pulumi.StringArrayOutput `pulumi:"modelNamespaces"`
	ServerNames     pulumi.StringArrayOutput `pulumi:"serverNames"`

	// Children are every object this component made, for dependents to wait on: a DependsOn on the component
	// itself did not reliably reach all of its children (a graph test failed 4 times in 40).
	Children []pulumi.Resource
}

// RcloneSecretName is the Secret (in every model namespace) each runtime's agents preload.
const RcloneSecretName = "model-store-rclone"

// New deploys the platform. The dependency chain CRDs <- controller <- runtime <- servers is also the teardown
// order in reverse, so no Seldon finalizer is left waiting on a controller or scheduler that is already gone.
func New(ctx *pulumi.Context, name string, args *Args, opts ...pulumi.ResourceOption) (*Platform, error) {
	p := &Platform{}
	if err := ctx.RegisterComponentResource(Token, name, p, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(p)
	after := func(deps ...pulumi.Resource) []pulumi.ResourceOption {
		return []pulumi.ResourceOption{parent, pulumi.DependsOn(deps)}
	}

	namespaces := map[string]*corev1.Namespace{}
	for _, ns := range uniqueSorted(append([]string{args.Namespace}, args.ModelNamespaces...)) {
		res, err := corev1.NewNamespace(ctx, name+"-namespace-"+ns, &corev1.NamespaceArgs{
			Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(ns)},
		}, parent)
		if err != nil {
			return nil, err
		}
		namespaces[ns] = res
		p.Children = append(p.Children, res)
	}

	// The CRDs are cluster-scoped: their chart waits for nothing, so that it is rendered and its CRDs enter the
	// engine's one-at-a-time loop from the program's start; at 4x and 16x the critical path of a cold up runs
	// through them. On destroy they go after the setup chart's objects, with the namespace.
	crds, err := helmv4.NewChart(ctx, name+"-crds", args.CRDsChart.ChartArgs(args.Namespace, map[string]any{}), parent,
		pulumi.Transforms([]pulumi.ResourceTransform{DropEmbeddedDescriptions}))
	if err != nil {
		return nil, err
	}
	setupOpts := after(crds, namespaces[args.Namespace])
	if len(args.ControllerEnv) > 0 {
		setupOpts = append(setupOpts, pulumi.Transforms([]pulumi.ResourceTransform{AddControllerEnv(args.ControllerEnv)}))
	}
	setup, err := helmv4.NewChart(ctx, name+"-setup", args.SetupChart.ChartArgs(args.Namespace, SetupValues(args)), setupOpts...)
	if err != nil {
		return nil, err
	}
	p.Children = append(p.Children, crds, setup)

	var serverNames pulumi.StringArray
	for _, ns := range args.ModelNamespaces {
		// Every agent loads every rclone Secret its runtime lists, and exits at start-up if one is missing. Its name
		// stays fixed when its content changes: a running agent reloads its Secrets by the names it has when a copy
		// fails (scheduler/pkg/agent/rclone/rclone.go copyWithConfigResync), and a new name would reach it only with
		// its ConfigMap, which the kubelet refreshes at its next sync of the pod (syncFrequency, a minute by default:
		// k8s pkg/kubelet/apis/config/v1beta1/defaults.go, v1.35.4).
		secret, err := corev1.NewSecret(ctx, name+"-rclone-"+ns, &corev1.SecretArgs{
			Metadata:   &metav1.ObjectMetaArgs{Name: pulumi.String(RcloneSecretName), Namespace: pulumi.String(ns)},
			Type:       pulumi.String("Opaque"),
			StringData: pulumi.StringMap{args.RcloneRemote: pulumi.ToSecret(args.RcloneConfig).(pulumi.StringOutput)},
		}, after(namespaces[ns])...)
		if err != nil {
			return nil, err
		}
		rcloneSecrets := []pulumi.Resource{secret}
		// The setup chart's SeldonConfig lists Secrets that only the runtime chart (not used here) creates; they
		// are made here with the runtime chart's content rather than editing the SeldonConfig, so that Seldon's
		// documented public examples (gs:// URIs) keep working and the chart's objects stay as upstream renders them.
		for _, setupSecret := range seldonspec.SetupConfigSecrets {
			made, err := corev1.NewSecret(ctx, name+"-"+setupSecret+"-"+ns, &corev1.SecretArgs{
				Metadata:   &metav1.ObjectMetaArgs{Name: pulumi.String(setupSecret), Namespace: pulumi.String(ns)},
				Type:       pulumi.String("Opaque"),
				StringData: pulumi.StringMap{"gs": pulumi.String(seldonspec.PublicGCSRemote)},
			}, after(namespaces[ns])...)
			if err != nil {
				return nil, err
			}
			rcloneSecrets = append(rcloneSecrets, made)
		}
		runtime, err := apiextensions.NewCustomResource(ctx, name+"-runtime-"+ns, &apiextensions.CustomResourceArgs{
			ApiVersion:  pulumi.String(seldonspec.APIVersion),
			Kind:        pulumi.String(seldonspec.KindSeldonRuntime),
			Metadata:    metadata(seldonspec.RuntimeName, ns, args.WaitForReady, RuntimeConditions(args)),
			OtherFields: map[string]any{"spec": RuntimeSpec(args)},
		}, after(append([]pulumi.Resource{setup, namespaces[ns]}, rcloneSecrets...)...)...)
		if err != nil {
			return nil, err
		}
		p.Children = append(append(p.Children, rcloneSecrets...), runtime)
		for _, s := range args.Servers {
			if s.Namespace != ns {
				continue
			}
			server, err := apiextensions.NewCustomResource(ctx, name+"-server-"+ns+"-"+s.Name, &apiextensions.CustomResourceArgs{
				ApiVersion:  pulumi.String(seldonspec.APIVersion),
				Kind:        pulumi.String(seldonspec.KindServer),
				Metadata:    metadata(s.Name, ns, args.WaitForReady, []string{seldonspec.ConditionReady}),
				OtherFields: map[string]any{"spec": ServerSpec(s)},
			}, after(runtime)...)
			if err != nil {
				return nil, err
			}
			serverNames = append(serverNames, pulumi.Sprintf("%s/%s", ns, server.Metadata.Name().Elem()))
			p.Children = append(p.Children, server)
		}
	}

	p.ModelNamespaces = pulumi.ToStringArray(args.ModelNamespaces).ToStringArrayOutput()
	p.ServerNames = serverNames.ToStringArrayOutput()
	if err := ctx.RegisterResourceOutputs(p, pulumi.Map{
		"modelNamespaces": p.ModelNamespaces,
		"serverNames":     p.ServerNames,
	}); err != nil {
		return nil, err
	}
	return p, nil
}

func metadata(name, namespace string, waitForReady bool, conditions []string) *metav1.ObjectMetaArgs {
	m := &metav1.ObjectMetaArgs{Name: pulumi.String(name), Namespace: pulumi.String(namespace)}
	if waitForReady {
		m.Annotations = pulumi.StringMap{seldonspec.PulumiWaitForAnnotation: pulumi.String(WaitFor(conditions))}
	}
	return m
}

// WaitFor is the pulumi.com/waitFor value that waits until every condition is True: one condition as
// "condition=<Type>", several as a JSON array of them (pulumi-kubernetes provider/pkg/metadata/overrides.go).
func WaitFor(conditions []string) string {
	if len(conditions) == 1 {
		return "condition=" + conditions[0]
	}
	quoted := make([]string, len(conditions))
	for i, c := range conditions {
		quoted[i] = `"condition=` + c + `"`
	}
	return "[" + strings.Join(quoted, ",") + "]"
}

// RuntimeConditions are the conditions a runtime reaches with this stack's components: one per enabled component.
// Never Ready: it needs all six component conditions, and disabled components never set theirs, so with the Kafka
// parts off (or hodometer, always off here) a runtime's Ready stays Unknown for good
// (operator/apis/mlops/v1alpha1/seldonruntime_types.go).
func RuntimeConditions(args *Args) []string {
	var out []string
	for _, c := range seldonspec.Components {
		if !componentDisabled(args, c) {
			out = append(out, c.Condition)
		}
	}
	return out
}

func componentDisabled(args *Args, c seldonspec.Component) bool {
	// Hodometer reports usage to Seldon over the internet; a homelab has no use for it.
	return c.Name == seldonspec.HodometerComponent || (c.NeedsKafka && args.KafkaBootstrap == "")
}

// ServerSpec is a Server's spec: its ServerConfig, replicas, capabilities added to the defaults and, when set,
// the mlserver container's memory (request and limit alike, as the ServerConfig has them), which is what the
// agent reports to the scheduler as the replica's memory.
func ServerSpec(s Server) pulumi.Map {
	spec := pulumi.Map{
		"serverConfig":      pulumi.String(s.ServerConfig),
		"replicas":          pulumi.Int(s.Replicas),
		"extraCapabilities": pulumi.ToStringArray(s.ExtraCapabilities),
	}
	if s.Memory != "" {
		memory := pulumi.StringMap{"memory": pulumi.String(s.Memory)}
		spec["podSpec"] = pulumi.Map{"containers": pulumi.Array{pulumi.Map{
			"name":      pulumi.String(seldonspec.MLServerContainer),
			"resources": pulumi.Map{"requests": memory, "limits": memory},
		}}}
	}
	return spec
}

// SetupValues maps Args onto the seldon-core-v2-setup chart. Every Service type is ClusterIP: the chart's
// LoadBalancer default would put the unauthenticated scheduler API on the LAN through MetalLB.
func SetupValues(args *Args) map[string]any {
	controller := map[string]any{
		"resources": map[string]any{"cpu": args.ControllerResources.Requests.CPU, "memory": args.ControllerResources.Limits.Memory},
	}
	watched := otherNamespaces(args)
	if len(watched) > 0 {
		controller["watchNamespaces"] = append([]string{args.Namespace}, watched...)
	}
	// The controller reconciles only its own namespace unless clusterwide is true; it reads --watch-namespaces
	// only then (operator/main.go), so a second model namespace needs both.
	controller["clusterwide"] = len(watched) > 0
	return map[string]any{
		"controller": controller,
		"services":   map[string]any{"defaultServiceType": "ClusterIP"},
	}
}

func otherNamespaces(args *Args) []string {
	var out []string
	for _, ns := range args.ModelNamespaces {
		if ns != args.Namespace {
			out = append(out, ns)
		}
	}
	return out
}

// RuntimeSpec is the SeldonRuntime spec with every override explicit: one scheduler (it is stateful) on a
// ClusterIP Service, envoy as configured, the Kafka-only components off unless Kafka is configured, and the model
// store's rclone Secret preloaded for every agent.
func RuntimeSpec(args *Args) pulumi.Map {
	var overrides pulumi.Array
	for _, c := range seldonspec.Components {
		switch c.Name {
		case seldonspec.SchedulerComponent:
			overrides = append(overrides, pulumi.Map{"name": pulumi.String(c.Name), "replicas": pulumi.Int(1), "serviceType": pulumi.String("ClusterIP")})
		case seldonspec.EnvoyComponent:
			overrides = append(overrides, pulumi.Map{"name": pulumi.String(c.Name), "replicas": pulumi.Int(args.EnvoyReplicas), "serviceType": pulumi.String(args.EnvoyServiceType)})
		default:
			overrides = append(overrides, pulumi.Map{"name": pulumi.String(c.Name), "disable": pulumi.Bool(componentDisabled(args, c))})
		}
	}
	config := pulumi.Map{
		"agentConfig": pulumi.Map{"rclone": pulumi.Map{"config_secrets": pulumi.StringArray{pulumi.String(RcloneSecretName)}}},
	}
	if args.KafkaBootstrap != "" {
		config["kafkaConfig"] = pulumi.Map{"bootstrap.servers": pulumi.String(args.KafkaBootstrap)}
	}
	return pulumi.Map{"seldonConfig": pulumi.String("default"), "overrides": overrides, "config": config}
}

// AddControllerEnv returns a transform that appends env to the controller manager container of the setup chart.
func AddControllerEnv(env map[string]string) pulumi.ResourceTransform {
	names := make([]string, 0, len(env))
	for k := range env {
		names = append(names, k)
	}
	sort.Strings(names)
	return func(_ context.Context, args *pulumi.ResourceTransformArgs) *pulumi.ResourceTransformResult {
		if args.Type != "kubernetes:apps/v1:Deployment" || nameOf(args.Props) != ControllerDeployment {
			return nil
		}
		containers := dig(args.Props, "spec", "template", "spec", "containers")
		list, ok := containers.(pulumi.Array)
		if !ok {
			return nil
		}
		for _, c := range list {
			container, ok := c.(pulumi.Map)
			if !ok || container["name"] != pulumi.String(seldonspec.ControllerContainer) {
				continue
			}
			existing, _ := container["env"].(pulumi.Array)
			for _, n := range names {
				existing = append(existing, pulumi.Map{"name": pulumi.String(n), "value": pulumi.String(env[n])})
			}
			container["env"] = existing
		}
		return &pulumi.ResourceTransformResult{Props: args.Props, Opts: args.Opts}
	}
}

// DropEmbeddedDescriptions removes from each CRD the descriptions inside the Kubernetes types it embeds
// (seldonspec.EmbeddedKubernetesFields): Kubernetes' API documentation (`kubectl explain pod.spec` has it), 78% of
// the four large CRDs' bytes. Those four were 3.6 MB of the sandbox stack's 4.4 MB state, which the engine
// serializes and writes whole after every step of an update, and which every CLI call on the stack loads. Seldon's
// own fields keep their descriptions; the API server's validation, pruning and defaulting do not read them.
func DropEmbeddedDescriptions(_ context.Context, args *pulumi.ResourceTransformArgs) *pulumi.ResourceTransformResult {
	if args.Type != "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition" {
		return nil
	}
	versions, _ := dig(args.Props, "spec", "versions").(pulumi.Array)
	for _, version := range versions {
		if m, ok := version.(pulumi.Map); ok {
			if schema, ok := dig(m, "schema", "openAPIV3Schema").(pulumi.Map); ok {
				dropDescriptions(schema, false)
			}
		}
	}
	return &pulumi.ResourceTransformResult{Props: args.Props, Opts: args.Opts}
}

// dropDescriptions walks a schema; inside an embedded Kubernetes type it drops every description but the field's
// own.
func dropDescriptions(schema pulumi.Map, embedded bool) {
	if embedded {
		delete(schema, "description")
	}
	if properties, ok := schema["properties"].(pulumi.Map); ok {
		for name, property := range properties {
			child, ok := property.(pulumi.Map)
			if !ok {
				continue
			}
			if embedded || !slices.Contains(seldonspec.EmbeddedKubernetesFields, name) {
				dropDescriptions(child, embedded)
				continue
			}
			own, described := child["description"]
			dropDescriptions(child, true)
			if described {
				child["description"] = own
			}
		}
	}
	for _, key := range []string{"items", "additionalProperties"} {
		if child, ok := schema[key].(pulumi.Map); ok {
			dropDescriptions(child, embedded)
		}
	}
}

func nameOf(props pulumi.Map) string {
	if name, ok := dig(props, "metadata", "name").(pulumi.String); ok {
		return string(name)
	}
	return ""
}

func dig(m pulumi.Map, path ...string) pulumi.Input {
	var cur pulumi.Input = m
	for _, key := range path {
		next, ok := cur.(pulumi.Map)
		if !ok {
			return nil
		}
		cur = next[key]
	}
	return cur
}

func uniqueSorted(items []string) []string {
	set := map[string]bool{}
	var out []string
	for _, item := range items {
		if !set[item] {
			set[item] = true
			out = append(out, item)
		}
	}
	sort.Strings(out)
	return out
}
