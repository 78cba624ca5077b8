package program_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/seldon-ab/provisioner/infra/program"
	"github.com/seldon-ab/provisioner/internal/pulumitest"
)

const (
	chartType     = "kubernetes:helm.sh/v4:Chart"
	namespaceType = "kubernetes:core/v1:Namespace"
)

func root(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func homelabConfig(t *testing.T) pulumitest.Config {
	return pulumitest.StackFileConfig(t, root(t), "homelab").
		WithSecret("seldon-ab:modelStoreAccessKey", "field-admin").
		WithSecret("seldon-ab:modelStoreSecretKey", "field-secret-key")
}

// sandboxConfig is the sandbox stack file's config with its (encrypted) credentials given as plain secrets.
func sandboxConfig(t *testing.T) pulumitest.Config {
	cfg := pulumitest.StackFileConfig(t, root(t), "sandbox").
		WithSecret("seldon-ab:modelStoreAccessKey", "sandbox-admin").
		WithSecret("seldon-ab:modelStoreSecretKey", "sandbox-secret-key")
	cfg.Values["seldon-ab:cluster"] = `{"identifier":"sandbox","preflight":false}` // no kubeconfig file under mocks
	return cfg
}

func runHomelab(t *testing.T) *pulumitest.Graph {
	t.Helper()
	g, err := pulumitest.Run(t, program.Program, "homelab", root(t), homelabConfig(t))
	if err != nil {
		t.Fatalf("homelab program failed: %v", err)
	}
	return g
}

func TestHomelabProviderIsPinnedToTheCluster(t *testing.T) {
	g := runHomelab(t)
	p := g.Find(t, "pulumi:providers:kubernetes", "cluster")
	if got := p.String("clusterIdentifier"); got != "homelab" {
		t.Errorf("clusterIdentifier = %q, want homelab so a kubeconfig change replaces nothing", got)
	}
	for _, r := range g.Snapshot() {
		if r.Type == namespaceType && r.Parent == "" {
			t.Errorf("namespace %s is not parented to a component", r.Name)
		}
	}
}

func TestHomelabMetalLB(t *testing.T) {
	g := runHomelab(t)
	ns := g.Find(t, namespaceType, "metallb-namespace")
	if ns.String("metadata", "name") != "metallb-system" {
		t.Errorf("namespace = %q", ns.String("metadata", "name"))
	}
	for _, mode := range []string{"enforce", "audit", "warn"} {
		if got := ns.String("metadata", "labels", "pod-security.kubernetes.io/"+mode); got != "privileged" {
			t.Errorf("pod-security %s label = %q, want privileged", mode, got)
		}
	}
	chart := g.Find(t, chartType, "metallb")
	if chart.String("chart") != "metallb" || chart.String("version") != "0.16.1" ||
		chart.String("repositoryOpts", "repo") != "https://metallb.github.io/metallb" {
		t.Errorf("chart = %v %v %v", chart.Get("chart"), chart.Get("version"), chart.Get("repositoryOpts"))
	}
	if !chart.ParentIs("metallb") || !chart.DependsOn("metallb-namespace") {
		t.Errorf("chart parent %s deps %v", chart.Parent, chart.Dependencies)
	}
	// Layer 2 only: the chart's default FRR-K8s BGP backend (privileged DaemonSet, webhook) stays out.
	if got := chart.Get("values", "frrk8s", "enabled"); !got.IsBool() || got.BoolValue() {
		t.Errorf("values frrk8s.enabled = %v, want false", got)
	}
	pool := g.Find(t, "kubernetes:metallb.io/v1beta1:IPAddressPool", "metallb-pool-lan")
	if pool.String("spec", "addresses", "0") != "192.168.1.200-192.168.1.250" || pool.String("metadata", "namespace") != "metallb-system" {
		t.Errorf("pool = %v", pool.Inputs)
	}
	// The webhook race: pools are created only after the whole chart (controller, webhook Service) is ready.
	if !pool.DependsOn("metallb") {
		t.Errorf("the pool does not wait for the chart: deps %v", pool.Dependencies)
	}
	l2 := g.Find(t, "kubernetes:metallb.io/v1beta1:L2Advertisement", "metallb-l2-lan")
	if l2.String("spec", "ipAddressPools", "0") != "lan" || !l2.DependsOn("metallb") {
		t.Errorf("l2 = %v deps %v", l2.Inputs, l2.Dependencies)
	}
}

func TestHomelabIngress(t *testing.T) {
	g := runHomelab(t)
	chart := g.Find(t, chartType, "ingress-nginx")
	if chart.String("version") != "4.15.1" {
		t.Errorf("ingress-nginx version = %q", chart.String("version"))
	}
	controller := []string{"values", "controller"}
	if got := chart.String(append(controller, "service", "annotations", "metallb.io/loadBalancerIPs")...); got != "192.168.1.249" {
		t.Errorf("LoadBalancer IP annotation = %q, want 192.168.1.249", got)
	}
	// Awaited for exactly that IP, not by the provider's Service await and its 10 s settle.
	want := "jsonpath={.status.loadBalancer.ingress[0].ip}=192.168.1.249"
	if got := chart.String(append(controller, "service", "annotations", "pulumi.com/waitFor")...); got != want {
		t.Errorf("service waitFor = %q, want %q", got, want)
	}
	if got := chart.String(append(controller, "service", "type")...); got != "LoadBalancer" {
		t.Errorf("service type = %q", got)
	}
	if got := chart.Get(append(controller, "admissionWebhooks", "enabled")...); !got.IsBool() || got.BoolValue() {
		t.Errorf("admission webhooks = %v: helm/v4 drops their certificate hook Jobs, so they must be off", got)
	}
	if got := chart.String(append(controller, "ingressClassResource", "name")...); got != "nginx" {
		t.Errorf("IngressClass = %q", got)
	}
	// Nothing of the controller waits for MetalLB (its Service awaits the IP MetalLB assigns once the pools
	// exist); the Models, called through that IP, wait for the pools and the L2 announcement.
	if chart.DependsOn("metallb-pool-lan") || !chart.DependsOn("ingress-nginx-namespace") {
		t.Errorf("ingress chart deps %v: want its namespace, not MetalLB's pools", chart.Dependencies)
	}
	if m := g.Find(t, modelType, "ab-test-model-seldon-system-baseline-predictor"); !m.DependsOn("metallb-pool-lan") || !m.DependsOn("metallb-l2-lan") {
		t.Errorf("the Models do not wait for MetalLB's pools and announcement: %v", m.Dependencies)
	}
}

func TestHomelabModelStore(t *testing.T) {
	g := runHomelab(t)
	creds := g.Find(t, "kubernetes:core/v1:Secret", "model-store-credentials")
	if name := creds.String("metadata", "name"); name != "" {
		t.Errorf("the credentials Secret is named %q: new credentials would not restart MinIO (its Secret's new name does)", name)
	}
	if !creds.Inputs["stringData"].ContainsSecrets() {
		t.Error("the MinIO root credentials are not Pulumi secrets")
	}
	if creds.String("stringData", "rootUser") != "field-admin" || creds.String("stringData", "rootPassword") != "field-secret-key" {
		t.Errorf("credentials secret does not carry the configured keys")
	}
	claim := g.Find(t, "kubernetes:core/v1:PersistentVolumeClaim", "model-store-data")
	if !claim.RetainOnDelete {
		t.Error("the data volume is not retained on destroy (purgeOnDestroy is false)")
	}
	chart := g.Find(t, chartType, "model-store-minio")
	checks := map[string]string{
		"chart":                            "minio",
		"version":                          "5.4.0",
		"name":                             "minio",
		"values.mode":                      "standalone",
		"values.existingSecret":            "model-store-credentials" + pulumitest.AutonameSuffix,
		"values.persistence.existingClaim": "model-store-data",
		"values.consoleService.type":       "ClusterIP",
		"values.service.type":              "ClusterIP",
		"values.resources.requests.memory": "512Mi",
		"values.resources.limits.memory":   "2Gi",
		"repositoryOpts.repo":              "https://charts.min.io",
	}
	for path, want := range checks {
		if got := chart.String(strings.Split(path, ".")...); got != want {
			t.Errorf("minio chart %s = %q, want %q", path, got, want)
		}
	}
	if users := chart.Get("values", "users"); !users.IsArray() || len(users.ArrayValue()) != 0 {
		t.Errorf("chart users = %v: the chart's default console user has a well-known password", users)
	}
	if chart.DependsOn("metallb-pool-lan") {
		t.Errorf("the MinIO chart waits for MetalLB's pools, which its Services' awaits already cover: %v", chart.Dependencies)
	}
	job := g.Find(t, "kubernetes:batch/v1:Job", "model-store-buckets")
	if !job.DependsOn("model-store-minio") {
		t.Errorf("bucket job does not wait for MinIO: %v", job.Dependencies)
	}
	container := job.Get("spec", "template", "spec", "containers", "0")
	if args := fmt.Sprint(container.ObjectValue()["args"]); args != "{[{mkdir} {--retries=1} {--low-level-retries=1} {s3:mlflow-artifacts}]}" {
		t.Errorf("bucket job args = %s, want rclone mkdir s3:mlflow-artifacts", args)
	}
	// The Job's remote is the agents' remote: same endpoint and provider, credentials from the store's Secret.
	env, order := map[string]string{}, []string{}
	for _, e := range container.ObjectValue()["env"].ArrayValue() {
		order = append(order, e.ObjectValue()["name"].StringValue())
		var value string
		if v, ok := e.ObjectValue()["value"]; ok && v.IsString() {
			value = v.StringValue()
		} else if from, ok := e.ObjectValue()["valueFrom"]; ok {
			ref := from.ObjectValue()["secretKeyRef"].ObjectValue()
			value = ref["key"].StringValue()
			if secret := ref["name"].StringValue(); secret != "model-store-credentials"+pulumitest.AutonameSuffix {
				t.Errorf("bucket job reads its credentials from Secret %q, not the store's", secret)
			}
		}
		env[e.ObjectValue()["name"].StringValue()] = value
	}
	want := map[string]string{"RCLONE_CONFIG_S3_TYPE": "s3", "RCLONE_CONFIG_S3_PROVIDER": "Minio",
		"RCLONE_CONFIG_S3_ENDPOINT": "http://minio.minio:9000", "RCLONE_CONFIG_S3_ENV_AUTH": "false",
		"RCLONE_CONFIG_S3_ACCESS_KEY_ID": "rootUser", "RCLONE_CONFIG_S3_SECRET_ACCESS_KEY": "rootPassword"}
	if !reflect.DeepEqual(env, want) {
		t.Errorf("bucket job env = %v, want %v", env, want)
	}
	// Any other order on another run would replace the Job on every update.
	if fixed := []string{"RCLONE_CONFIG_S3_ENDPOINT", "RCLONE_CONFIG_S3_ENV_AUTH", "RCLONE_CONFIG_S3_PROVIDER", "RCLONE_CONFIG_S3_TYPE",
		"RCLONE_CONFIG_S3_ACCESS_KEY_ID", "RCLONE_CONFIG_S3_SECRET_ACCESS_KEY"}; !reflect.DeepEqual(order, fixed) {
		t.Errorf("bucket job env order = %v, want %v", order, fixed)
	}
}

func TestInvalidStackRegistersNothing(t *testing.T) {
	cfg := homelabConfig(t)
	cfg.Values["seldon-ab:ingress"] = `{"loadBalancerIP": "10.9.9.9", "hosts": ["ml-api.local"]}`
	g, err := pulumitest.Run(t, program.Program, "homelab", root(t), cfg)
	if err == nil || !strings.Contains(err.Error(), "seldon-ab:ingress.loadBalancerIP") {
		t.Fatalf("want a config error naming ingress.loadBalancerIP, got %v", err)
	}
	if n := len(g.Snapshot()); n != 0 {
		t.Errorf("%d resources were registered before validation failed: %v", n, g.Names())
	}
}

func TestModelVolumeRetention(t *testing.T) {
	for _, purge := range []bool{false, true} {
		cfg := homelabConfig(t)
		cfg.Values["seldon-ab:modelStore"] = strings.Replace(cfg.Values["seldon-ab:modelStore"],
			`"persistence":{`, fmt.Sprintf(`"persistence":{"purgeOnDestroy":%t,`, purge), 1)
		g, err := pulumitest.Run(t, program.Program, "homelab", root(t), cfg)
		if err != nil {
			t.Fatal(err)
		}
		claim := g.Find(t, "kubernetes:core/v1:PersistentVolumeClaim", "model-store-data")
		ns := g.Find(t, namespaceType, "model-store-namespace")
		// Deleting the namespace deletes the claim in it, so both are kept, or neither.
		if claim.RetainOnDelete == purge || ns.RetainOnDelete == purge {
			t.Errorf("purgeOnDestroy=%t: claim retained %t, namespace retained %t", purge, claim.RetainOnDelete, ns.RetainOnDelete)
		}
	}
}

func TestSeedingRunsTheSeedCommandAfterTheBuckets(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "MLmodel"), []byte("flavors: {}"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := homelabConfig(t)
	cfg.Values["seldon-ab:commands"] = `{"enabled": true}`
	cfg.Values["seldon-ab:modelStore"] = fmt.Sprintf(`{"buckets":["mlflow-artifacts"],"expose":{"ip":"192.168.1.248"},
		"seed":[{"source":%q,"bucket":"mlflow-artifacts","prefix":"baseline-predictor"}]}`, dir)
	g, err := pulumitest.Run(t, program.Program, "homelab", root(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	cmd := g.Find(t, "command:local:Command", "model-store-seed-0")
	create := cmd.String("create")
	for _, want := range []string{"go run ./cmd/seldon-ab 'seed'", `'--endpoint' 'http://192.168.1.248:9000'`, `'--bucket' 'mlflow-artifacts'`, `'--prefix' 'baseline-predictor'`} {
		if !strings.Contains(create, want) {
			t.Errorf("seed command lacks %s: %s", want, create)
		}
	}
	if !cmd.DependsOn("model-store-buckets") {
		t.Errorf("seeding does not wait for the buckets: %v", cmd.Dependencies)
	}
	if !cmd.Inputs["environment"].ContainsSecrets() {
		t.Error("the S3 credentials reach the command in plain text")
	}
	if len(cmd.Get("triggers").ArrayValue()) != 1 {
		t.Error("the seed command has no content-hash trigger, so changed artifacts would never be uploaded")
	}
	// An agent that finds no files fails its Model, and retries only when a new agent joins: Models wait.
	model := g.Find(t, modelType, "ab-test-model-seldon-system-baseline-predictor")
	if !model.DependsOn("model-store-seed-0") || !model.DependsOn("model-store-buckets") {
		t.Errorf("the Model does not wait for its bucket and artifacts: %v", model.Dependencies)
	}
	sandbox, err := pulumitest.Run(t, program.Program, "sandbox", root(t), sandboxConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(sandbox.OfType("command:local:Command")); n != 0 {
		t.Errorf("the sandbox stack registers %d command resources; it has no command plugin", n)
	}
}

// Without command resources (the sandbox), `seldon-ab` hands the program its seeder: the seeds run during the
// update, after the buckets and before any Model is registered, with the stack's seed command lines; a failed seed
// fails the update before any Model; a preview never seeds.
func TestSeedsRunInTheProgramsProcessBeforeTheModels(t *testing.T) {
	var mu sync.Mutex
	var seeded [][]string
	modelsAtSeed := -1
	g := &pulumitest.Graph{}
	record := func(_ context.Context, argvs [][]string) error {
		mu.Lock()
		defer mu.Unlock()
		seeded, modelsAtSeed = argvs, len(g.OfType(modelType))
		return nil
	}
	if err := g.Record(program.New(program.Options{Seed: record}), "sandbox", root(t), sandboxConfig(t)); err != nil {
		t.Fatal(err)
	}
	if len(seeded) != 2 || seeded[0][0] != "seed" || !slices.Contains(seeded[0], "--bucket") {
		t.Fatalf("seeded %v, want the sandbox's two seed command lines", seeded)
	}
	if modelsAtSeed != 0 {
		t.Errorf("%d Models were registered before the seeds ran", modelsAtSeed)
	}
	for _, m := range g.OfType(modelType) {
		if !m.DependsOn("model-store-buckets") {
			t.Errorf("Model %s does not depend on the bucket Job: %v", m.Name, m.Dependencies)
		}
	}

	failing := func(context.Context, [][]string) error { return errors.New("bucket mlflow-artifacts: access denied") }
	broken := &pulumitest.Graph{}
	err := broken.Record(program.New(program.Options{Seed: failing}), "sandbox", root(t), sandboxConfig(t))
	if err == nil || !strings.Contains(err.Error(), "seeding the model store: bucket mlflow-artifacts: access denied") {
		t.Errorf("a failed seed gave %v, want the update to fail with the seed's error", err)
	}
	if n := len(broken.OfType(modelType)); n != 0 {
		t.Errorf("%d Models were registered although the seeds failed", n)
	}

	preview := sandboxConfig(t)
	preview.DryRun = true
	called := false
	if _, err := pulumitest.Run(t, program.New(program.Options{Seed: func(context.Context, [][]string) error { called = true; return nil }}), "sandbox", root(t), preview); err != nil {
		t.Fatal(err)
	}
	if called {
		t.Error("a preview ran the seeds")
	}
}

// An external S3 store (Garage, SeaweedFS, AWS): no MinIO, no volume; the bucket Job and every runtime's rclone
// Secret point at the external endpoint, with its provider and region.
func TestExternalModelStore(t *testing.T) {
	cfg := homelabConfig(t)
	cfg.Values["seldon-ab:modelStore"] = `{"type":"external","buckets":["mlflow-artifacts"],
		"external":{"endpoint":"https://s3.garage.lan:3900","region":"garage","provider":"Other"}}`
	g, err := pulumitest.Run(t, program.Program, "homelab", root(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range g.Snapshot() {
		if r.Name == "model-store-minio" || r.Type == "kubernetes:core/v1:PersistentVolumeClaim" {
			t.Errorf("an external store still deploys %s %s", r.Type, r.Name)
		}
	}
	job := g.Find(t, "kubernetes:batch/v1:Job", "model-store-buckets")
	if !strings.Contains(fmt.Sprint(job.Get("spec")), "https://s3.garage.lan:3900") {
		t.Errorf("the bucket Job does not use the external endpoint: %v", job.Get("spec"))
	}
	rclone := g.Find(t, "kubernetes:core/v1:Secret", "seldon-rclone-seldon-system").String("stringData", "s3")
	for _, want := range []string{"endpoint: https://s3.garage.lan:3900", "region: garage", "provider: Other", "name: s3", "type: s3"} {
		if !strings.Contains(rclone, want) {
			t.Errorf("rclone remote lacks %q:\n%s", want, rclone)
		}
	}
}

// A dependency on a component must reach every child of it, every time: the SDK's own expansion of a component
// dependency raced (TestHomelabIngress failed 4 times in 40). 60 runs make a 10% flake show with 99.8% certainty.
func TestComponentDependenciesReachEveryChildEveryTime(t *testing.T) {
	for i := 0; i < 60; i++ {
		g := runHomelab(t)
		for _, name := range []string{"baseline-predictor", "enhanced-predictor"} {
			m := g.Find(t, modelType, "ab-test-model-seldon-system-"+name)
			for _, child := range []string{"seldon-server-seldon-system-mlserver", "seldon-runtime-seldon-system", "ingress-nginx",
				"metallb-namespace", "metallb", "metallb-pool-lan", "metallb-l2-lan"} {
				if !m.DependsOn(child) {
					t.Fatalf("run %d: model %s does not wait for %s: %v", i, name, child, m.Dependencies)
				}
			}
		}
	}
}
