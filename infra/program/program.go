// Package program turns a validated stack model into components, wiring outputs to inputs in dependency order.
// The Pulumi CLI (infra/main.go) and the Automation API (lifecycle commands, tests) both run Program.
package program

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/seldon-ab/provisioner/components/abtest"
	"github.com/seldon-ab/provisioner/components/gateway"
	"github.com/seldon-ab/provisioner/components/ingress"
	"github.com/seldon-ab/provisioner/components/metallb"
	"github.com/seldon-ab/provisioner/components/modelstore"
	"github.com/seldon-ab/provisioner/components/seldon"
	"github.com/seldon-ab/provisioner/components/verification"
	"github.com/seldon-ab/provisioner/infra/config"
	"github.com/seldon-ab/provisioner/internal/admission"
	"github.com/seldon-ab/provisioner/internal/charts"
	"github.com/seldon-ab/provisioner/internal/doctor"
	"github.com/seldon-ab/provisioner/internal/gatewayapi"
)

// ABTestName is the A/B test component's name: its Models, Experiment and mesh Ingresses are named after it.
const ABTestName = "ab-test"

// Program is the Pulumi program without Options, as the unit tests record it: it validates the whole stack config
// before registering anything. `pulumi up` (infra/main.go) and seldon-ab run New with their options.
func Program(ctx *pulumi.Context) error {
	_, err := Outputs(ctx)
	return err
}

// Options are what `seldon-ab`, which runs the program in its own process, adds to the stack's config.
type Options struct {
	// Seed, when set, runs the stack's seeds (argument vectors of `seldon-ab seed`) during an update, once the
	// buckets exist and before any Model, where no command resource does (commands.enabled false).
	Seed func(ctx context.Context, argvs [][]string) error
	// AwaitWebhooks makes objects that an admission webhook of the stack guards (MetalLB's pools) wait, in an
	// update, until the webhook admits a dry run of them on the stack's cluster. The unit tests, which have no
	// cluster, leave it off.
	AwaitWebhooks bool
}

// New is the program with opts.
func New(opts Options) pulumi.RunFunc {
	return func(ctx *pulumi.Context) error {
		_, err := run(ctx, opts)
		return err
	}
}

// Outputs runs the program and returns the stack outputs it exported, for tests that judge them (secrecy).
func Outputs(ctx *pulumi.Context) (pulumi.Map, error) { return run(ctx, Options{}) }

func run(ctx *pulumi.Context, opts Options) (pulumi.Map, error) {
	root, err := projectRoot(ctx)
	if err != nil {
		return nil, err
	}
	stack, err := config.Load(contextSource{ctx, root}, config.Options{StackName: ctx.Stack(), BaseDir: root})
	if err != nil {
		return nil, err
	}
	for _, warning := range stack.Warnings {
		if err := ctx.Log.Warn(warning, nil); err != nil {
			return nil, err
		}
	}
	if stack.Cluster.RunsPreflight() {
		if err := preflight(ctx, stack, root); err != nil {
			return nil, err
		}
	}
	return Deploy(ctx, stack, root, opts)
}

// preflight reads the cluster (never writes) before any resource is registered: a cluster this stack cannot run
// on is refused with the fix, at preview as at up.
func preflight(ctx *pulumi.Context, s *config.Stack, root string) error {
	kubeconfig := ""
	if s.Cluster.Kubeconfig != "" {
		kubeconfig = config.ResolvePath(root, s.Cluster.Kubeconfig)
	}
	live, err := doctor.ConnectForPreflight(kubeconfig, s.Cluster.Context)
	if err != nil {
		return fmt.Errorf("cluster preflight: %w; nothing was changed", err)
	}
	needs := doctor.Needs{IngressClass: s.Ingress.ClassName}
	if s.Ingress.Controller == config.ControllerGatewayFabric {
		needs = doctor.Needs{GatewayClass: s.Ingress.ClassName}
	}
	for _, srv := range s.Seldon.Servers {
		memory, err := resource.ParseQuantity(srv.MemoryRequest())
		if err != nil {
			return err // refused by validation before this runs
		}
		needs.Servers = append(needs.Servers, doctor.ServerNeed{Name: srv.Namespace + "/" + srv.Name, Replicas: srv.Replicas, Memory: memory})
	}
	findings, err := doctor.Preflight(ctx.Context(), live, needs)
	if err != nil {
		return fmt.Errorf("cluster preflight: the cluster does not answer (%v); check cluster.kubeconfig and cluster.context, "+
			"or that the API server is up; nothing was changed", err)
	}
	var refused []string
	for _, f := range findings {
		line := fmt.Sprintf("%s: %s; fix: %s", f.Object, f.What, f.Fix)
		if f.Severity == doctor.Error {
			refused = append(refused, "\n  - "+line)
		} else if err := ctx.Log.Warn("cluster preflight: "+line, nil); err != nil {
			return err
		}
	}
	if len(refused) > 0 {
		return fmt.Errorf("cluster preflight: this cluster cannot run the stack as it is; nothing was changed:%s\n"+
			"(seldon-ab:cluster.preflight: false skips these checks)", strings.Join(refused, ""))
	}
	return nil
}

// projectRoot is where relative paths in the config resolve: the engine says so, except older Go language hosts
// (the one buildable offline), which run the program from its directory below the project root.
func projectRoot(ctx *pulumi.Context) (string, error) {
	if root := ctx.RootDirectory(); root != "" {
		return root, nil
	}
	cwd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	return config.FindProjectRoot(cwd)
}

// Deploy registers every component of a valid stack and exports (and returns) the stack outputs.
func Deploy(ctx *pulumi.Context, s *config.Stack, baseDir string, opts Options) (pulumi.Map, error) {
	providerArgs := &kubernetes.ProviderArgs{
		ClusterIdentifier: pulumi.String(s.Cluster.Identifier),
	}
	if s.Cluster.Kubeconfig != "" {
		providerArgs.Kubeconfig = pulumi.String(config.ResolvePath(baseDir, s.Cluster.Kubeconfig))
	}
	if s.Cluster.Context != "" {
		providerArgs.Context = pulumi.String(s.Cluster.Context)
	}
	k8s, err := kubernetes.NewProvider(ctx, "cluster", providerArgs)
	if err != nil {
		return nil, err
	}
	withCluster := pulumi.Providers(k8s)
	outputs := pulumi.Map{}

	lbArgs := metallbArgs(s, baseDir)
	if opts.AwaitWebhooks {
		lbArgs.AwaitAdmission = admitOn(s, baseDir)
	}
	lb, err := metallb.New(ctx, "metallb", lbArgs, withCluster)
	if err != nil {
		return nil, err
	}
	entry, err := deployEntry(ctx, s, baseDir, withCluster)
	if err != nil {
		return nil, err
	}

	storeArgs := modelStoreArgs(s, baseDir)
	storeArgs.SeedHere = opts.Seed
	store, err := modelstore.New(ctx, "model-store", storeArgs, withCluster)
	if err != nil {
		return nil, err
	}

	platform, err := seldon.New(ctx, "seldon", seldonArgs(s, baseDir, store.RcloneConfig), withCluster)
	if err != nil {
		return nil, err
	}
	// Models wait for the Servers, for their artifacts in the store, and the Ingress for the controller that
	// serves it; the reverse is the teardown.
	experimentArgs := abtestArgs(s)
	// MetalLB too: the ingress and MinIO charts do not wait for it (their Services await their IPs), but calling
	// the experiment from the LAN needs the L2Advertisement and the speakers that announce those IPs.
	experimentArgs.After = append(append(append(append([]pulumi.Resource{}, platform.Children...), entry.children...),
		lb.Children...), store.Ready...)
	experimentArgs.Seeded = store.Seeded
	experiment, err := abtest.New(ctx, ABTestName, experimentArgs, withCluster)
	if err != nil {
		return nil, err
	}

	verifyArgs := verificationArgs(s, baseDir)
	// Without command resources the verifier is the last step of `seldon-ab up` (internal/lifecycle).
	if s.Verification.Enabled && s.Commands.Enabled {
		verifyArgs.After = experiment.Children
		run, err := verification.New(ctx, "verify", verifyArgs)
		if err != nil {
			return nil, err
		}
		outputs["verificationSummary"] = run.Summary
	}
	// The same check by hand (`seldon-ab verify` runs it): from the project root, with add-ons like --svg.
	handArgs := *verifyArgs
	handArgs.ReportDir = ""
	outputs["verifyCommand"] = pulumi.String(verification.Command(&handArgs))
	outputs["verifyArgs"] = pulumi.ToStringArray(verification.Argv(&handArgs))

	outputs["ingressIP"] = entry.ip
	outputs["ingressClassName"] = entry.className
	outputs["ingressController"] = pulumi.String(s.Ingress.Controller)
	outputs["hosts"] = pulumi.ToStringArray(s.Ingress.Hosts)
	outputs["metallbPools"] = lb.PoolNames
	outputs["modelStoreEndpoint"] = store.Endpoint
	outputs["modelStoreExternalEndpoint"] = store.ExternalEndpoint
	outputs["modelStoreBuckets"] = store.Buckets
	outputs["rcloneConfig"] = store.RcloneConfig
	if len(s.ModelStore.Seed) > 0 {
		// The seeds' command lines, as `seldon-ab seed --stack` runs them by hand.
		outputs["seedArgs"] = store.SeedArgs
	}
	outputs["seldonModelNamespaces"] = platform.ModelNamespaces
	outputs["seldonServers"] = platform.ServerNames
	outputs["inferenceURL"] = experiment.InferenceURL
	outputs["hostHeader"] = experiment.HostHeader
	outputs["seldonModelHeader"] = experiment.SeldonModelHeader
	outputs["curl"] = experiment.Curl
	outputs["experiments"] = experiment.Calls
	for name, value := range outputs {
		ctx.Export(name, value)
	}
	return outputs, nil
}

// entryPoint is the NGINX controller the LAN's calls come in through.
type entryPoint struct {
	children      []pulumi.Resource
	ip, className pulumi.StringOutput
}

// deployEntry deploys the configured controller: ingress-nginx, or NGINX Gateway Fabric with its Gateway.
func deployEntry(ctx *pulumi.Context, s *config.Stack, baseDir string, opts ...pulumi.ResourceOption) (entryPoint, error) {
	in := s.Ingress
	if in.Controller == config.ControllerGatewayFabric {
		gw, err := gateway.New(ctx, "nginx-gateway-fabric", &gateway.Args{
			Namespace:       in.Namespace,
			Chart:           location(config.NginxGatewayFabricChartName, s.Charts.NginxGatewayFabric, baseDir),
			CRDs:            gatewayAPIManifest(s.Charts.GatewayAPI, baseDir),
			ClassName:       in.ClassName,
			LoadBalancerIP:  in.LoadBalancerIP,
			RouteNamespaces: s.Seldon.ModelNamespaces,
			Replicas:        in.Replicas,
			Resources:       in.Resources,
		}, opts...)
		if err != nil {
			return entryPoint{}, err
		}
		return entryPoint{children: gw.Children, ip: gw.LoadBalancerIP, className: gw.ClassName}, nil
	}
	nginx, err := ingress.New(ctx, "ingress-nginx", &ingress.Args{
		Namespace:      in.Namespace,
		Chart:          location(config.IngressNginxChartName, s.Charts.IngressNginx, baseDir),
		ClassName:      in.ClassName,
		LoadBalancerIP: in.LoadBalancerIP,
		Replicas:       in.Replicas,
		Resources:      in.Resources,
	}, opts...)
	if err != nil {
		return entryPoint{}, err
	}
	return entryPoint{children: nginx.Children, ip: nginx.LoadBalancerIP, className: nginx.ClassName}, nil
}

func entryChartVersion(s *config.Stack) string {
	if s.Ingress.Controller == config.ControllerGatewayFabric {
		return s.Charts.NginxGatewayFabric.Version
	}
	return s.Charts.IngressNginx.Version
}

// gatewayAPIManifest is the local copy when the stack names one, else the release URL.
func gatewayAPIManifest(m config.Manifest, baseDir string) string {
	if m.File != "" {
		return config.ResolvePath(baseDir, m.File)
	}
	return m.URL
}

func seldonArgs(s *config.Stack, baseDir string, rcloneConfig pulumi.StringOutput) *seldon.Args {
	sd := s.Seldon
	args := &seldon.Args{
		Namespace:           sd.Namespace,
		CRDsChart:           location(config.SeldonCRDsChartName, s.Charts.SeldonCRDs, baseDir),
		SetupChart:          location(config.SeldonSetupChartName, s.Charts.SeldonSetup, baseDir),
		ModelNamespaces:     sd.ModelNamespaces,
		ControllerEnv:       sd.ControllerEnv,
		ControllerResources: sd.ControllerResources,
		EnvoyReplicas:       sd.Envoy.Replicas,
		EnvoyServiceType:    sd.Envoy.ServiceType,
		KafkaBootstrap:      sd.KafkaBootstrap,
		RcloneRemote:        s.ModelStore.RcloneRemote,
		RcloneConfig:        rcloneConfig,
		WaitForReady:        sd.WaitsForReady(),
	}
	for _, srv := range sd.Servers {
		args.Servers = append(args.Servers, seldon.Server{Name: srv.Name, Namespace: srv.Namespace,
			ServerConfig: srv.ServerConfig, Replicas: srv.Replicas, ExtraCapabilities: srv.ExtraCapabilities, Memory: srv.Memory})
	}
	return args
}

func verificationArgs(s *config.Stack, baseDir string) *verification.Args {
	vf := s.Verification
	calls := abtest.HowToCall(abtestArgs(s))
	args := &verification.Args{
		ProjectDir:   baseDir,
		URL:          calls[0].BaseURL,
		Host:         calls[0].Host,
		InputName:    vf.Input.Name,
		Shape:        vf.Input.Shape,
		Datatype:     vf.Input.Datatype,
		Requests:     vf.Requests,
		Concurrency:  vf.Concurrency,
		Tolerance:    vf.Tolerance,
		Significance: vf.Significance,
		Power:        vf.Power,
		LatencyP95:   mustDuration(vf.LatencyP95),
		LatencyRatio: vf.LatencyRatio,
		Timeout:      mustDuration(vf.Timeout),
		Deadline:     mustDuration(vf.Deadline),
		Settle:       mustDuration(vf.RolloutTimeout),
		ReportDir:    filepath.Join(baseDir, ".state", "verify", s.Name),
		Triggers: []string{"nonce=" + vf.Nonce, "seldon=" + s.Charts.SeldonSetup.Version, "ingress=" + s.Ingress.Controller + "@" + entryChartVersion(s),
			"input=" + fmt.Sprint(vf.Input)},
	}
	for i, e := range s.Experiments {
		args.Experiments = append(args.Experiments, verification.Experiment{Name: e.Name, Model: calls[i].Model, Candidates: e.Candidates})
		for _, c := range e.Candidates {
			args.Triggers = append(args.Triggers, fmt.Sprintf("candidate=%s.%s:%d", e.Name, c.Name, c.Weight))
		}
	}
	for _, m := range s.Models {
		if len(s.Experiments) == 0 && m.Namespace == calls[0].Namespace {
			args.Models = append(args.Models, m.Name)
		}
		args.Triggers = append(args.Triggers, fmt.Sprintf("model=%s/%s:%s:%s", m.Namespace, m.Name, m.StorageURI, strings.Join(m.Requirements, "+")))
	}
	return args
}

func abtestArgs(s *config.Stack) *abtest.Args {
	args := &abtest.Args{
		Namespace: s.MeshNamespace(),
		Ingress: abtest.Ingress{ClassName: s.Ingress.ClassName, IP: s.Ingress.LoadBalancerIP, Hosts: s.Ingress.Hosts,
			PathPrefix: s.Seldon.PathPrefix},
		Input:          abtest.Input{Name: s.Verification.Input.Name, Shape: s.Verification.Input.Shape, Datatype: s.Verification.Input.Datatype},
		WaitForReady:   s.Seldon.WaitsForReady(),
		WaitForAddress: s.Ingress.WaitsForAddress(),
	}
	if s.Ingress.Controller == config.ControllerGatewayFabric {
		args.Ingress.Gateway = &abtest.GatewayRef{Name: gatewayapi.GatewayName, Namespace: s.Ingress.Namespace, Listener: gatewayapi.ListenerName}
	}
	for _, e := range s.Experiments {
		experiment := abtest.Experiment{Name: e.Name, Default: e.Default, Candidates: e.Candidates}
		if e.Mirror != nil {
			experiment.Mirror = &abtest.Mirror{Name: e.Mirror.Name, Percent: e.Mirror.Percent}
		}
		args.Experiments = append(args.Experiments, experiment)
	}
	for _, m := range s.Models {
		args.Models = append(args.Models, abtest.Model{Name: m.Name, Namespace: m.Namespace, StorageURI: m.StorageURI, Requirements: m.Requirements,
			Memory: m.Memory, Server: m.Server, SecretName: m.SecretName, Replicas: m.Replicas})
	}
	return args
}

func location(name string, c config.Chart, baseDir string) charts.Location {
	loc := charts.Location{Name: name, Version: c.Version, Repository: c.Repository}
	if c.Archive != "" {
		loc.Archive = config.ResolvePath(baseDir, c.Archive)
	}
	return loc
}

// admitOn dry-runs objects on the stack's cluster until they are admitted (admission.Await).
func admitOn(s *config.Stack, baseDir string) func(context.Context, []admission.Object) error {
	return func(ctx context.Context, objects []admission.Object) error {
		kubeconfig := ""
		if s.Cluster.Kubeconfig != "" {
			kubeconfig = config.ResolvePath(baseDir, s.Cluster.Kubeconfig)
		}
		live, err := doctor.Connect(kubeconfig, s.Cluster.Context)
		if err != nil {
			return err
		}
		return admission.Await(ctx, live.Dynamic(), objects, admission.Patience)
	}
}

func metallbArgs(s *config.Stack, baseDir string) *metallb.Args {
	args := &metallb.Args{
		Namespace: s.MetalLB.Namespace,
		Chart:     location(config.MetalLBChartName, s.Charts.MetalLB, baseDir),
		L2Advertisement: metallb.L2Advertisement{
			Name:       s.MetalLB.L2Advertisement.Name,
			Pools:      s.MetalLB.L2Advertisement.Pools,
			Interfaces: s.MetalLB.L2Advertisement.Interfaces,
		},
		ValidationWebhooks:  s.MetalLB.ValidationWebhooks == nil || *s.MetalLB.ValidationWebhooks,
		ControllerResources: s.MetalLB.Controller,
		SpeakerResources:    s.MetalLB.Speaker,
	}
	for _, p := range s.MetalLB.Pools {
		args.Pools = append(args.Pools, metallb.Pool{
			Name:          p.Name,
			Addresses:     p.Addresses,
			AutoAssign:    p.AutoAssign == nil || *p.AutoAssign,
			AvoidBuggyIPs: p.AvoidBuggyIPs,
		})
	}
	return args
}

func modelStoreArgs(s *config.Stack, baseDir string) *modelstore.Args {
	m := s.ModelStore
	args := &modelstore.Args{
		Namespace:          m.Namespace,
		AccessKey:          pulumi.ToSecret(pulumi.String(s.Credentials.AccessKey.Reveal())).(pulumi.StringOutput),
		SecretKey:          pulumi.ToSecret(pulumi.String(s.Credentials.SecretKey.Reveal())).(pulumi.StringOutput),
		Buckets:            m.Buckets,
		RcloneRemote:       m.RcloneRemote,
		RcloneImage:        m.RcloneImage,
		BucketJobResources: m.BucketJobResources,
		ProjectDir:         baseDir,
		RunSeeds:           s.Commands.Enabled,
	}
	for _, dir := range m.Seed {
		args.Seed = append(args.Seed, modelstore.SeedDirectory{
			Source: config.ResolvePath(baseDir, dir.Source), Bucket: dir.Bucket, Prefix: dir.Prefix})
	}
	if m.Type == config.StoreExternal {
		args.External = &modelstore.External{Endpoint: m.External.Endpoint, Region: m.External.Region, Provider: m.External.Provider}
		return args
	}
	args.MinIO = &modelstore.MinIO{
		Chart:     location(config.MinIOChartName, s.Charts.MinIO, baseDir),
		Resources: m.Resources,
		Volume:    modelstore.Volume{Size: m.Persistence.Size, StorageClass: m.Persistence.StorageClass, Purge: m.Persistence.PurgeOnDestroy},
		ExposeIP:  m.Expose.IP,
	}
	if m.Console.Expose {
		args.MinIO.ConsoleIP = m.Console.IP
	}
	return args
}

// contextSource reads config from the running Pulumi program, and the key list from the stack file on disk.
type contextSource struct {
	ctx  *pulumi.Context
	root string
}

func (c contextSource) Get(key string) (string, bool) { return c.ctx.GetConfig(key) }
func (c contextSource) IsSecret(key string) bool      { return c.ctx.IsConfigSecret(key) }
func (c contextSource) Keys() []string {
	return config.StackFileKeys(config.StackFile(c.root, c.ctx.Stack()))
}

// mustDuration reads a duration that config validation has already accepted.
func mustDuration(s string) time.Duration {
	d, _ := time.ParseDuration(s)
	return d
}
