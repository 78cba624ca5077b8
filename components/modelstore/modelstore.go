// Package modelstore is the model artifact store component: an in-cluster MinIO (or an external S3 endpoint), its
// buckets, and the rclone remote that Seldon's agents use to pull models.
package modelstore

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/pulumi/pulumi-command/sdk/go/command/local"
	batchv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/batch/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	helmv4 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/helm/v4"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"gopkg.in/yaml.v3"

	"github.com/seldon-ab/provisioner/internal/charts"
	"github.com/seldon-ab/provisioner/internal/kube"
	"github.com/seldon-ab/provisioner/internal/seed"
	"github.com/seldon-ab/provisioner/internal/shellquote"
)

// Token is the component's Pulumi type.
const Token = "seldon-ab:modelstore:ModelStore"

// ReleaseName is the MinIO Helm release; the chart names its Service after it.
const ReleaseName = "minio"

// Args configure the store. Exactly one of MinIO and External is set.
type Args struct {
	Namespace string
	MinIO     *MinIO
	External  *External
	// AccessKey and SecretKey must be Pulumi secrets; they become MinIO's root credentials.
	AccessKey pulumi.StringInput
	SecretKey pulumi.StringInput
	Buckets   []string
	// RcloneRemote names the rclone remote; Model storageUris start with "<RcloneRemote>://".
	RcloneRemote string
	// RcloneImage is the pinned rclone image of the Job that creates the buckets.
	RcloneImage        string
	BucketJobResources kube.Resources
	// Seed uploads artifact directories from the operator's machine through ExternalEndpoint; with RunSeeds, by the
	// `seldon-ab seed` command run from ProjectDir (pulumi-command: needs its provider plugin).
	Seed       []SeedDirectory
	RunSeeds   bool
	ProjectDir string
	// SeedHere, when set and RunSeeds is off, runs the seeds' argument vectors in the program's own process during
	// an update (never a preview), once the buckets exist: what a command resource does, for a program that runs
	// in `seldon-ab`'s process.
	SeedHere func(ctx context.Context, argvs [][]string) error
}

// SeedDirectory is one local directory uploaded to s3://Bucket/Prefix.
type SeedDirectory struct {
	Source string
	Bucket string
	Prefix string
}

// MinIO is a standalone in-cluster MinIO.
type MinIO struct {
	Chart     charts.Location
	Resources kube.Resources
	Volume    Volume
	// ExposeIP puts the S3 API on a fixed MetalLB IP; empty keeps it ClusterIP.
	ExposeIP string
	// ConsoleIP exposes the web console on a fixed MetalLB IP; empty keeps it inside the cluster.
	ConsoleIP string
}

// Volume is MinIO's data volume; it outlives `pulumi destroy` unless Purge is set.
type Volume struct {
	Size         string
	StorageClass string
	Purge        bool
}

// External is an S3 endpoint outside the cluster.
type External struct {
	Endpoint string
	Region   string
	Provider string
}

// ModelStore is the deployed store.
type ModelStore struct {
	pulumi.ResourceState

	// Endpoint is the S3 URL as seen from inside the cluster.
	Endpoint pulumi.StringOutput `pulumi:"endpoint"`
	// ExternalEndpoint is the S3 URL from the LAN, empty when the store is not exposed.
	ExternalEndpoint pulumi.StringOutput      `pulumi:"externalEndpoint"`
	Buckets          pulumi.StringArrayOutput `pulumi:"buckets"`
	// RcloneConfig is the body of the rclone Secret Seldon expects (one remote, YAML); a Pulumi secret.
	RcloneConfig pulumi.StringOutput `pulumi:"rcloneConfig"`
	// SeedArgs are the `seldon-ab seed` argument vectors of Args.Seed, whether or not commands run them.
	SeedArgs pulumi.ArrayOutput `pulumi:"seedArgs"`
	// Ready are the objects after which the store holds its buckets and seeded artifacts: what a Model waits
	// for, since an agent that finds no files fails the Model (it is retried only when a new agent joins).
	Ready []pulumi.Resource
	// Seeded, with Args.SeedHere, resolves to the bucket Job once the seeds ran; a Model waits for it too. nil
	// otherwise.
	Seeded pulumi.ResourceArrayInput
}

// New deploys the store.
func New(ctx *pulumi.Context, name string, args *Args, opts ...pulumi.ResourceOption) (*ModelStore, error) {
	if (args.MinIO == nil) == (args.External == nil) {
		return nil, fmt.Errorf("modelstore %s: set exactly one of MinIO and External", name)
	}
	store := &ModelStore{}
	if err := ctx.RegisterComponentResource(Token, name, store, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(store)

	// Deleting the namespace would delete the data volume in it, so it stays whenever the volume does.
	keepData := args.MinIO != nil && !args.MinIO.Volume.Purge
	ns, err := corev1.NewNamespace(ctx, name+"-namespace", &corev1.NamespaceArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(args.Namespace)},
	}, parent, pulumi.RetainOnDelete(keepData))
	if err != nil {
		return nil, err
	}
	inNamespace := []pulumi.ResourceOption{parent, pulumi.DependsOn([]pulumi.Resource{ns})}

	// MinIO reads its root credentials from the environment at start, and a Secret's new data restarts nothing. The
	// Secret is therefore auto-named: the provider replaces a Secret whose data changes (pulumi-kubernetes
	// provider/pkg/provider/diff.go forceNewProperties), so new credentials make a Secret of a new name, which the
	// chart's Deployment and the bucket Job name in their pod templates: MinIO restarts with the new credentials and
	// the buckets are checked with them, before the seeds and the agents use them.
	credentials, err := corev1.NewSecret(ctx, name+"-credentials", &corev1.SecretArgs{
		Metadata: &metav1.ObjectMetaArgs{Namespace: pulumi.String(args.Namespace)},
		Type:     pulumi.String("Opaque"),
		// The chart reads rootUser/rootPassword from an existing Secret, so it renders no random values.
		StringData: pulumi.StringMap{
			"rootUser":     pulumi.ToSecret(args.AccessKey).(pulumi.StringOutput),
			"rootPassword": pulumi.ToSecret(args.SecretKey).(pulumi.StringOutput),
		},
	}, inNamespace...)
	if err != nil {
		return nil, err
	}

	endpoint := pulumi.String("").ToStringOutput()
	externalEndpoint := pulumi.String("").ToStringOutput()
	provider, region := "Minio", ""
	bucketJobDeps := []pulumi.Resource{credentials}
	if args.MinIO != nil {
		chart, err := deployMinIO(ctx, name, args, credentials, inNamespace)
		if err != nil {
			return nil, err
		}
		bucketJobDeps = append(bucketJobDeps, chart)
		endpoint = pulumi.Sprintf("http://%s.%s:9000", ReleaseName, args.Namespace)
		if args.MinIO.ExposeIP != "" {
			externalEndpoint = pulumi.Sprintf("http://%s:9000", args.MinIO.ExposeIP)
		}
	} else {
		endpoint = pulumi.String(args.External.Endpoint).ToStringOutput()
		externalEndpoint = endpoint
		provider, region = args.External.Provider, args.External.Region
	}

	buckets, err := newBucketJob(ctx, name, args, endpoint, region, provider, credentials, parent, pulumi.DependsOn(bucketJobDeps))
	if err != nil {
		return nil, err
	}
	store.Ready = []pulumi.Resource{buckets}
	store.SeedArgs = externalEndpoint.ApplyT(func(ep string) []any {
		argvs := []any{}
		for _, argv := range seedArgvs(args.Seed, ep, region) {
			words := []any{}
			for _, w := range argv {
				words = append(words, w)
			}
			argvs = append(argvs, words)
		}
		return argvs
	}).(pulumi.ArrayOutput)
	for i, dir := range args.Seed {
		if !args.RunSeeds {
			break
		}
		seeded, err := newSeedCommand(ctx, fmt.Sprintf("%s-seed-%d", name, i), args, dir, externalEndpoint, region,
			parent, pulumi.DependsOn([]pulumi.Resource{buckets}))
		if err != nil {
			return nil, err
		}
		store.Ready = append(store.Ready, seeded)
	}
	if !args.RunSeeds && args.SeedHere != nil && len(args.Seed) > 0 {
		store.Seeded = seedHere(ctx, args.SeedHere, buckets, externalEndpoint.ApplyT(func(ep string) [][]string {
			return seedArgvs(args.Seed, ep, region)
		}))
	}

	store.Endpoint = endpoint
	store.ExternalEndpoint = externalEndpoint
	store.Buckets = pulumi.ToStringArray(args.Buckets).ToStringArrayOutput()
	store.RcloneConfig = pulumi.ToSecret(pulumi.All(args.AccessKey, args.SecretKey, endpoint).ApplyT(
		func(v []any) (string, error) {
			return RcloneConfig(args.RcloneRemote, provider, region, v[0].(string), v[1].(string), v[2].(string))
		})).(pulumi.StringOutput)
	if err := ctx.RegisterResourceOutputs(store, pulumi.Map{
		"endpoint":         store.Endpoint,
		"externalEndpoint": store.ExternalEndpoint,
		"buckets":          store.Buckets,
		"rcloneConfig":     store.RcloneConfig,
		"seedArgs":         store.SeedArgs,
	}); err != nil {
		return nil, err
	}
	return store, nil
}

func deployMinIO(ctx *pulumi.Context, name string, args *Args, credentials *corev1.Secret,
	inNamespace []pulumi.ResourceOption) (*helmv4.Chart, error) {
	m := args.MinIO
	spec := &corev1.PersistentVolumeClaimSpecArgs{
		AccessModes: pulumi.StringArray{pulumi.String("ReadWriteOnce")},
		Resources: &corev1.VolumeResourceRequirementsArgs{
			Requests: pulumi.StringMap{"storage": pulumi.String(m.Volume.Size)},
		},
	}
	if m.Volume.StorageClass != "" {
		spec.StorageClassName = pulumi.String(m.Volume.StorageClass)
	}
	// The claim is ours, not the chart's, so that destroy can leave it (and the artifacts) in place.
	claim, err := corev1.NewPersistentVolumeClaim(ctx, name+"-data", &corev1.PersistentVolumeClaimArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(name + "-data"), Namespace: pulumi.String(args.Namespace)},
		Spec:     spec,
	},
		append(inNamespace, pulumi.RetainOnDelete(!m.Volume.Purge))...)
	if err != nil {
		return nil, err
	}
	chartArgs := m.Chart.ChartArgs(args.Namespace, minioValues(m, credentials, claim))
	chartArgs.Name = pulumi.String(ReleaseName)
	// Nothing here waits for MetalLB: an exposed Service is awaited until it has its IP, which MetalLB assigns
	// whenever its pools appear (see the ingress component).
	return helmv4.NewChart(ctx, name+"-minio", chartArgs,
		append(inNamespace, pulumi.DependsOn([]pulumi.Resource{credentials, claim}))...)
}

func minioValues(m *MinIO, credentials *corev1.Secret, claim *corev1.PersistentVolumeClaim) map[string]any {
	return map[string]any{
		// Standalone MinIO is one pod; the chart reads replicas only in distributed mode.
		"mode":           "standalone",
		"existingSecret": credentials.Metadata.Name().Elem(),
		"persistence": map[string]any{
			"enabled":       true,
			"existingClaim": claim.Metadata.Name().Elem(),
		},
		"resources":      m.Resources.Values(),
		"service":        serviceValues(m.ExposeIP),
		"consoleService": serviceValues(m.ConsoleIP),
		// The chart's defaults include a console user with a well-known password; no users, policies or buckets
		// come from the chart (its jobs are Helm hooks, which helm/v4 drops): buckets come from our own Job.
		"users":    []any{},
		"policies": []any{},
		"svcaccts": []any{},
		"buckets":  []any{},
	}
}

func serviceValues(ip string) map[string]any {
	if ip == "" {
		// Not awaited: the provider's Service await waits for endpoints and then 10 s more (pulumi-kubernetes
		// provider/pkg/await/service.go), the console's alone on a cold up's critical path; MinIO's pod is
		// awaited by its Deployment, and whatever calls MinIO waits for the whole chart.
		return map[string]any{"type": "ClusterIP", "annotations": map[string]any{"pulumi.com/skipAwait": "true"}}
	}
	return map[string]any{
		"type":        "LoadBalancer",
		"annotations": kube.FixedIPServiceAnnotations(ip),
	}
}

// newBucketJob creates the buckets with rclone, configured with the very remote the rclone Secret gives Seldon's
// agents (RcloneParameters): a wrong endpoint, provider or credential fails here, at `up`, with rclone's own
// error, before any Model tries to load. rclone is also what the sandbox can run for real (tests/cmd/sandboxd), so
// one mechanism creates the buckets on a cluster and in the sandbox. `rclone mkdir` of a bucket the same
// credentials already own succeeds, so reruns are harmless. One container per bucket, no shell needed.
func newBucketJob(ctx *pulumi.Context, name string, args *Args, endpoint pulumi.StringOutput, region, provider string,
	credentials *corev1.Secret, opts ...pulumi.ResourceOption) (*batchv1.Job, error) {
	env := corev1.EnvVarArray{}
	prefix := "RCLONE_CONFIG_" + strings.ToUpper(args.RcloneRemote) + "_"
	params := endpoint.ApplyT(func(ep string) map[string]string { return RcloneParameters(provider, region, ep) })
	for _, key := range rcloneParameterKeys(region) {
		env = append(env, &corev1.EnvVarArgs{Name: pulumi.String(prefix + strings.ToUpper(key)),
			Value: params.ApplyT(func(p map[string]string) string { return p[key] }).(pulumi.StringOutput)})
	}
	env = append(env, &corev1.EnvVarArgs{Name: pulumi.String(prefix + "TYPE"), Value: pulumi.String("s3")})
	// A fixed order: a changed order is a changed Job spec, which Pulumi replaces on every update.
	for _, key := range [][2]string{{"ACCESS_KEY_ID", "rootUser"}, {"SECRET_ACCESS_KEY", "rootPassword"}} {
		env = append(env, &corev1.EnvVarArgs{Name: pulumi.String(prefix + key[0]), ValueFrom: &corev1.EnvVarSourceArgs{
			SecretKeyRef: &corev1.SecretKeySelectorArgs{Name: credentials.Metadata.Name().Elem(), Key: pulumi.String(key[1])}}})
	}
	containers := corev1.ContainerArray{}
	for i, bucket := range args.Buckets {
		containers = append(containers, &corev1.ContainerArgs{
			Name:  pulumi.Sprintf("mkdir-%d", i),
			Image: pulumi.String(args.RcloneImage),
			Args:  pulumi.ToStringArray(BucketCommand(args.RcloneRemote, bucket)),
			Env:   env,
			// rclone's error is the last thing it prints: it becomes the container's termination message.
			TerminationMessagePolicy: pulumi.String("FallbackToLogsOnError"),
			Resources: &corev1.ResourceRequirementsArgs{
				Requests: pulumi.ToStringMap(args.BucketJobResources.Requests.Map()),
				Limits:   pulumi.ToStringMap(args.BucketJobResources.Limits.Map()),
			},
		})
	}
	return batchv1.NewJob(ctx, name+"-buckets", &batchv1.JobArgs{
		Metadata: &metav1.ObjectMetaArgs{Namespace: pulumi.String(args.Namespace)},
		Spec: &batchv1.JobSpecArgs{
			// Retries cover a store that is still starting (10 s, 20 s, 40 s); a wrong credential fails in about
			// a minute and a half instead of the default six retries' six minutes.
			BackoffLimit: pulumi.Int(3),
			Template: &corev1.PodTemplateSpecArgs{
				Spec: &corev1.PodSpecArgs{
					RestartPolicy: pulumi.String("Never"),
					Containers:    containers,
				},
			},
		},
	}, opts...)
}

// newSeedCommand uploads one directory; it re-runs when the directory's content hash changes, and the upload
// itself skips unchanged objects, so a rerun with nothing new uploads nothing.
// SeedArgv is `seldon-ab seed`'s argument vector for one directory (credentials travel in the environment).
func SeedArgv(dir SeedDirectory, endpoint, region string) []string {
	argv := []string{"seed", "--source", dir.Source, "--endpoint", endpoint, "--bucket", dir.Bucket, "--prefix", dir.Prefix}
	if region != "" {
		argv = append(argv, "--region", region)
	}
	return argv
}

func newSeedCommand(ctx *pulumi.Context, name string, args *Args, dir SeedDirectory, endpoint pulumi.StringOutput, region string,
	opts ...pulumi.ResourceOption) (*local.Command, error) {
	hash, err := seed.ContentHash(dir.Source)
	if err != nil {
		return nil, fmt.Errorf("hashing seed directory %s: %w", dir.Source, err)
	}
	create := endpoint.ApplyT(func(ep string) string {
		return "go run ./cmd/seldon-ab " + shellquote.Join(SeedArgv(dir, ep, region)...)
	}).(pulumi.StringOutput)
	return local.NewCommand(ctx, name, &local.CommandArgs{
		Create:   create,
		Dir:      pulumi.String(args.ProjectDir),
		Triggers: pulumi.Array{pulumi.String(hash)},
		Environment: pulumi.StringMap{
			"S3_ACCESS_KEY": pulumi.ToSecret(args.AccessKey).(pulumi.StringOutput),
			"S3_SECRET_KEY": pulumi.ToSecret(args.SecretKey).(pulumi.StringOutput),
		},
	}, opts...)
}

// BucketCommand is the bucket Job container's rclone arguments. rclone's default retries go on silently for many
// minutes against an endpoint that refuses or drops connections (as the agents' downloads do); one attempt
// fails at once with rclone's error, and the Job's own retries cover a store that is still starting.
func BucketCommand(remote, bucket string) []string {
	return []string{"mkdir", "--retries=1", "--low-level-retries=1", remote + ":" + bucket}
}

// RcloneConfig renders the rclone remote Seldon's agents read from a Secret: one remote, as YAML (the agent's
// RcloneConfigCreate: name, type, parameters; scheduler/pkg/agent/rclone/rclone.go).
func RcloneConfig(remote, provider, region, accessKey, secretKey, endpoint string) (string, error) {
	parameters := RcloneParameters(provider, region, endpoint)
	parameters["access_key_id"] = accessKey
	parameters["secret_access_key"] = secretKey
	out, err := yaml.Marshal(map[string]any{"name": remote, "type": "s3", "parameters": parameters})
	return string(out), err
}

// RcloneParameters are the s3 remote's options other than its credentials, shared by the agents' Secret and
// the bucket Job (rclone reads them as RCLONE_CONFIG_<REMOTE>_<OPTION>).
func RcloneParameters(provider, region, endpoint string) map[string]string {
	parameters := map[string]string{"provider": provider, "env_auth": "false", "endpoint": endpoint}
	if region != "" {
		parameters["region"] = region
	}
	return parameters
}

func rcloneParameterKeys(region string) []string {
	keys := make([]string, 0, 4)
	for k := range RcloneParameters("", region, "") {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// seedArgvs are the `seldon-ab seed` argument vectors of dirs, against the store's endpoint from the LAN.
func seedArgvs(dirs []SeedDirectory, endpoint, region string) [][]string {
	argvs := make([][]string, 0, len(dirs))
	for _, dir := range dirs {
		argvs = append(argvs, SeedArgv(dir, endpoint, region))
	}
	return argvs
}

// seedHere runs the seeds once the bucket Job is done (its ID is known only then, in an update) and resolves to
// the Job; a preview never runs them. A failed seed fails every Model's registration, so the update, with its error.
func seedHere(ctx *pulumi.Context, run func(context.Context, [][]string) error, buckets *batchv1.Job, argvs pulumi.Output) pulumi.ResourceArrayOutput {
	return pulumi.All(buckets.ID(), argvs).ApplyTWithContext(ctx.Context(),
		func(c context.Context, v []any) ([]pulumi.Resource, error) {
			if ctx.DryRun() {
				return []pulumi.Resource{buckets}, nil
			}
			if err := run(c, v[1].([][]string)); err != nil {
				return nil, fmt.Errorf("seeding the model store: %w", err)
			}
			return []pulumi.Resource{buckets}, nil
		}).(pulumi.ResourceArrayOutput)
}
