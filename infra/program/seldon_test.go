package program_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/seldon-ab/provisioner/infra/program"
	"github.com/seldon-ab/provisioner/internal/pulumitest"
)

const (
	runtimeType    = "kubernetes:mlops.seldon.io/v1alpha1:SeldonRuntime"
	serverType     = "kubernetes:mlops.seldon.io/v1alpha1:Server"
	modelType      = "kubernetes:mlops.seldon.io/v1alpha1:Model"
	experimentType = "kubernetes:mlops.seldon.io/v1alpha1:Experiment"
	ingressType    = "kubernetes:networking.k8s.io/v1:Ingress"
)

func TestHomelabSeldonPlatform(t *testing.T) {
	g := runHomelab(t)
	crds := g.Find(t, chartType, "seldon-crds")
	setup := g.Find(t, chartType, "seldon-setup")
	if crds.String("version") != "2.10.2" || setup.String("version") != "2.10.2" {
		t.Errorf("seldon charts %q/%q, want 2.10.2", crds.String("version"), setup.String("version"))
	}
	if !setup.DependsOn("seldon-crds") {
		t.Errorf("the controller does not wait for the CRDs: %v", setup.Dependencies)
	}
	if len(crds.Dependencies) != 0 {
		t.Errorf("the cluster-scoped CRDs wait for %v", crds.Dependencies)
	}
	if got := setup.String("values", "services", "defaultServiceType"); got != "ClusterIP" {
		t.Errorf("setup values services.defaultServiceType = %q: a LoadBalancer puts the scheduler API on the LAN", got)
	}
	// No template of the 2.10.2 setup chart reads these; setting them would only look like it did something.
	for _, dead := range []string{"envoy", "scheduler", "hodometer"} {
		if got := setup.Get("values", dead); !got.IsNull() {
			t.Errorf("setup values %s = %v: no template reads it", dead, got)
		}
	}
	if got := setup.Get("values", "controller", "watchNamespaces"); !got.IsNull() {
		t.Errorf("single-namespace setup watches %v", got)
	}
	if got := setup.Get("values", "controller", "clusterwide"); !got.IsBool() || got.BoolValue() {
		t.Errorf("single-namespace controller clusterwide = %v, want false (it needs no cluster-wide RBAC)", got)
	}

	runtimes := g.OfType(runtimeType)
	if len(runtimes) != 1 {
		t.Fatalf("%d SeldonRuntimes, want exactly one (one scheduler for seldon-system)", len(runtimes))
	}
	rt := runtimes[0]
	if rt.String("metadata", "namespace") != "seldon-system" || !rt.DependsOn("seldon-setup") {
		t.Errorf("runtime in %q deps %v", rt.String("metadata", "namespace"), rt.Dependencies)
	}
	overrides := map[string]map[string]string{}
	for _, o := range rt.Get("spec", "overrides").ArrayValue() {
		entry := map[string]string{}
		for k, v := range o.ObjectValue() {
			entry[string(k)] = strings.Trim(v.String(), "{}")
		}
		overrides[o.ObjectValue()["name"].StringValue()] = entry
	}
	if o := overrides["seldon-scheduler"]; o["replicas"] != "1" || o["serviceType"] != "ClusterIP" {
		t.Errorf("scheduler override = %v", o)
	}
	for _, kafkaOnly := range []string{"seldon-dataflow-engine", "seldon-modelgateway", "seldon-pipelinegateway"} {
		if overrides[kafkaOnly]["disable"] != "true" {
			t.Errorf("%s is not disabled without Kafka: %v", kafkaOnly, overrides[kafkaOnly])
		}
	}
	if got := rt.String("spec", "config", "agentConfig", "rclone", "config_secrets", "0"); got != "model-store-rclone" {
		t.Errorf("runtime preloads rclone secret %q", got)
	}
	// Ready needs all six component conditions and four components are off, so it never turns True.
	if got := rt.String("metadata", "annotations", "pulumi.com/waitFor"); got != `["condition=SchedulerReady","condition=EnvoyReady"]` {
		t.Errorf("runtime waitFor = %q, want the scheduler's and envoy's conditions (Ready stays Unknown without Kafka)", got)
	}
	// The setup chart's SeldonConfig lists seldon-rclone-gs-public; every agent exits at start-up without it.
	gcs := g.Find(t, "kubernetes:core/v1:Secret", "seldon-seldon-rclone-gs-public-seldon-system")
	if gcs.String("metadata", "name") != "seldon-rclone-gs-public" || gcs.String("metadata", "namespace") != "seldon-system" ||
		!strings.Contains(gcs.String("stringData", "gs"), "anonymous: true") {
		t.Errorf("seldon-rclone-gs-public = %v", gcs.Inputs)
	}
	if !rt.DependsOn("seldon-seldon-rclone-gs-public-seldon-system") || !rt.DependsOn("seldon-rclone-seldon-system") {
		t.Errorf("the runtime (and so its agents) does not wait for the rclone Secrets it lists: %v", rt.Dependencies)
	}
	secret := g.Find(t, "kubernetes:core/v1:Secret", "seldon-rclone-seldon-system")
	if !secret.Inputs["stringData"].ContainsSecrets() || !strings.Contains(secret.String("stringData", "s3"), "secret_access_key: field-secret-key") {
		t.Errorf("rclone secret is not a secret holding the s3 remote")
	}

	server := g.Find(t, serverType, "seldon-server-seldon-system-mlserver")
	if !server.DependsOn("seldon-runtime-seldon-system") {
		t.Errorf("the server does not wait for its runtime: %v", server.Dependencies)
	}
	if server.String("spec", "extraCapabilities", "0") != "torch" || server.String("spec", "extraCapabilities", "1") != "numpy" {
		t.Errorf("extraCapabilities = %v", server.Get("spec", "extraCapabilities"))
	}
	if !server.Get("spec", "capabilities").IsNull() {
		t.Error("Server.spec.capabilities replaces MLServer's defaults; only extraCapabilities may be set")
	}
	if server.String("metadata", "annotations", "pulumi.com/waitFor") != "condition=Ready" {
		t.Error("the homelab does not wait for the Server to be Ready")
	}
	if server.String("spec", "podSpec", "containers", "0", "name") != "mlserver" ||
		server.String("spec", "podSpec", "containers", "0", "resources", "requests", "memory") != "3Gi" ||
		server.String("spec", "podSpec", "containers", "0", "resources", "limits", "memory") != "3Gi" {
		t.Errorf("spec.podSpec = %v, want the mlserver container's memory request and limit at 3Gi (seldon.servers[0].memory)",
			server.Get("spec", "podSpec"))
	}
}

func TestHomelabExperiment(t *testing.T) {
	g := runHomelab(t)
	for _, name := range []string{"baseline-predictor", "enhanced-predictor"} {
		m := g.Find(t, modelType, "ab-test-model-seldon-system-"+name)
		// A dependency on a component is recorded as dependencies on all of its children; these make destroy
		// remove the Models before the Servers.
		if !m.DependsOn("seldon-server-seldon-system-mlserver") || !m.DependsOn("seldon-runtime-seldon-system") {
			t.Errorf("model %s does not wait for the Server and runtime: %v", name, m.Dependencies)
		}
		if m.String("spec", "storageUri") != "s3://mlflow-artifacts/"+name || m.String("spec", "requirements", "1") != "torch" ||
			m.String("metadata", "annotations", "pulumi.com/waitFor") != "condition=Ready" {
			t.Errorf("model %s = %v", name, m.Inputs)
		}
	}
	e := g.Find(t, experimentType, "ab-test-experiment")
	if !e.DeleteBeforeReplace {
		t.Error("a renamed Experiment would be created before the old one goes: the scheduler refuses its baseline for good")
	}
	if !slices.Equal(e.AliasNames, []string{"ab-test-experiment-seldon-system-financial-ab-test-experiment"}) {
		t.Errorf("aliases %q: a stack that had several experiments, this one left, would create it again, then delete it", e.AliasNames)
	}
	if !e.DependsOn("ab-test-model-seldon-system-baseline-predictor") || !e.DependsOn("ab-test-model-seldon-system-enhanced-predictor") {
		t.Errorf("the experiment does not depend on its models (teardown order): %v", e.Dependencies)
	}
	weights := map[string]float64{}
	for _, c := range e.Get("spec", "candidates").ArrayValue() {
		weights[c.ObjectValue()["name"].StringValue()] = c.ObjectValue()["weight"].NumberValue()
	}
	if weights["baseline-predictor"] != 70 || weights["enhanced-predictor"] != 30 || e.String("spec", "default") != "baseline-predictor" {
		t.Errorf("experiment = %v default %q", weights, e.String("spec", "default"))
	}

	ingresses := g.OfType(ingressType)
	if len(ingresses) != 1 {
		t.Fatalf("%d mesh Ingresses, want 1 without a path prefix", len(ingresses))
	}
	in := ingresses[0]
	if !in.DependsOn("ingress-nginx") {
		t.Errorf("the mesh Ingress does not wait for the ingress controller: %v", in.Dependencies)
	}
	if in.String("metadata", "namespace") != "seldon-system" || in.String("spec", "ingressClassName") != "nginx" {
		t.Errorf("ingress in %q class %q", in.String("metadata", "namespace"), in.String("spec", "ingressClassName"))
	}
	for i, host := range []string{"financial-predictor.local", "ml-api.local"} {
		rule := []string{"spec", "rules", string(rune('0' + i))}
		path := append(rule, "http", "paths", "0")
		if in.String(append(rule, "host")...) != host || in.String(append(path, "path")...) != "/" ||
			in.String(append(path, "pathType")...) != "Prefix" ||
			in.String(append(path, "backend", "service", "name")...) != "seldon-mesh" ||
			in.Get(append(path, "backend", "service", "port", "number")...).NumberValue() != 80 {
			t.Errorf("rule %d = %v", i, in.Get(rule...))
		}
	}
	if !in.Get("metadata", "annotations", "nginx.ingress.kubernetes.io/rewrite-target").IsNull() {
		t.Error("the mesh Ingress rewrites paths; envoy only routes /v2")
	}
}

func TestPathPrefixGetsItsOwnRewritingIngress(t *testing.T) {
	cfg := homelabConfig(t)
	cfg.Values["seldon-ab:seldon"] = strings.Replace(cfg.Values["seldon-ab:seldon"], "{", `{"pathPrefix":"/seldon",`, 1)
	g, err := pulumitest.Run(t, program.Program, "homelab", root(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	prefixed := g.Find(t, ingressType, "ab-test-mesh-prefix")
	if got := prefixed.String("spec", "rules", "0", "http", "paths", "0", "path"); got != "/seldon(/|$)(.*)" {
		t.Errorf("prefixed path = %q", got)
	}
	if got := prefixed.String("metadata", "annotations", "nginx.ingress.kubernetes.io/rewrite-target"); got != "/$2" {
		t.Errorf("rewrite-target = %q: the second capture group is what keeps /v2/...", got)
	}
	plain := g.Find(t, ingressType, "ab-test-mesh")
	if !plain.Get("metadata", "annotations", "nginx.ingress.kubernetes.io/rewrite-target").IsNull() {
		t.Error("the plain Ingress picked up the rewrite")
	}
}

func TestSeveralModelNamespacesGetOneRuntimeEachAndAreWatched(t *testing.T) {
	cfg := homelabConfig(t)
	cfg.Values["seldon-ab:seldon"] = `{"namespace":"seldon-system","modelNamespaces":["models-a","models-b"],
		"servers":[{"name":"mlserver","namespace":"models-a","extraCapabilities":["torch","numpy"],"memory":"2Gi"},
		           {"name":"mlserver","namespace":"models-b","extraCapabilities":["torch","numpy"]}]}`
	g, err := pulumitest.Run(t, program.Program, "homelab", root(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	perNamespace := map[string]int{}
	for _, rt := range g.OfType(runtimeType) {
		perNamespace[rt.String("metadata", "namespace")]++
	}
	if perNamespace["models-a"] != 1 || perNamespace["models-b"] != 1 || len(perNamespace) != 2 {
		t.Errorf("runtimes per namespace = %v, want one in each model namespace", perNamespace)
	}
	setup := g.Find(t, chartType, "seldon-setup")
	var watched []string
	for _, v := range setup.Get("values", "controller", "watchNamespaces").ArrayValue() {
		watched = append(watched, v.StringValue())
	}
	if strings.Join(watched, ",") != "seldon-system,models-a,models-b" {
		t.Errorf("watchNamespaces = %v", watched)
	}
	// The controller ignores --watch-namespaces unless --clusterwide=true (operator/main.go).
	if got := setup.Get("values", "controller", "clusterwide"); !got.IsBool() || !got.BoolValue() {
		t.Errorf("controller.clusterwide = %v with other namespaces watched: they would never be reconciled", got)
	}
	for _, ns := range []string{"models-a", "models-b"} {
		g.Find(t, "kubernetes:core/v1:Secret", "seldon-seldon-rclone-gs-public-"+ns)
	}
}

func TestKafkaEnablesItsComponentsAndTheirConditions(t *testing.T) {
	cfg := homelabConfig(t)
	cfg.Values["seldon-ab:seldon"] = strings.Replace(cfg.Values["seldon-ab:seldon"], "{", `{"kafkaBootstrap":"kafka.kafka:9092",`, 1)
	g, err := pulumitest.Run(t, program.Program, "homelab", root(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	rt := g.Find(t, runtimeType, "seldon-runtime-seldon-system")
	want := `["condition=SchedulerReady","condition=EnvoyReady","condition=DataflowEngineReady",` +
		`"condition=ModelGatewayReady","condition=PipelineGatewayReady"]`
	if got := rt.String("metadata", "annotations", "pulumi.com/waitFor"); got != want {
		t.Errorf("runtime waitFor = %s, want %s (hodometer stays off, so never Ready)", got, want)
	}
}

func TestVerificationRunsAfterTheExperimentAndRerunsOnChanges(t *testing.T) {
	runWith := func(weight string) pulumitest.Resource {
		cfg := homelabConfig(t)
		cfg.Values["seldon-ab:commands"] = `{"enabled": true}`
		cfg.Values["seldon-ab:verification"] = `{"enabled": true}`
		cfg.Values["seldon-ab:experiment"] = strings.Replace(cfg.Values["seldon-ab:experiment"], `"weight":30`, `"weight":`+weight, 1)
		g, err := pulumitest.Run(t, program.Program, "homelab", root(t), cfg)
		if err != nil {
			t.Fatal(err)
		}
		return g.Find(t, "command:local:Command", "verify-run")
	}
	cmd := runWith("30")
	create := cmd.String("create")
	for _, want := range []string{"seldon-ab 'verify'", `'--url' 'http://192.168.1.249'`, `'--host' 'financial-predictor.local'`,
		`'--experiment' 'financial-ab-test-experiment:baseline-predictor:baseline-predictor=70,enhanced-predictor=30'`, `'--shape' '1,10,35'`, `'--datatype' 'FP32'`} {
		if !strings.Contains(create, want) {
			t.Errorf("verify command lacks %s:\n%s", want, create)
		}
	}
	if !cmd.DependsOn("ab-test-experiment") {
		t.Errorf("verification does not wait for the Experiment: %v", cmd.Dependencies)
	}
	triggers := func(r pulumitest.Resource) string { return fmt.Sprint(r.Get("triggers")) }
	if triggers(cmd) == triggers(runWith("20")) {
		t.Error("changing the weights does not re-run verification")
	}
}

// The homelab stack verifies by default; one setting opts out.
func TestHomelabEndsWithVerificationUnlessOptedOut(t *testing.T) {
	g := runHomelab(t)
	run := g.Find(t, "command:local:Command", "verify-run")
	if !run.DependsOn("ab-test-experiment") {
		t.Errorf("verification does not wait for the Experiment: %v", run.Dependencies)
	}
	cfg := homelabConfig(t)
	cfg.Values["seldon-ab:verification"] = `{"enabled": false}`
	off, err := pulumitest.Run(t, program.Program, "homelab", root(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(off.OfType("command:local:Command")); n != 0 {
		t.Errorf("verification.enabled: false still registers %d commands", n)
	}
}

// Without command resources verification is a step of `seldon-ab up`, not of the program: nothing runs on the
// operator's machine from inside the program, and the stack is accepted. It still needs Seldon's readiness awaited.
// Promoting the winner is removing the experiment key and the other Model: the Experiment goes, the mesh Ingress
// stays, and the winner is called by its name.
func TestAPromotedWinnerIsServedByNameWithoutAnExperiment(t *testing.T) {
	cfg := homelabConfig(t)
	delete(cfg.Values, "seldon-ab:experiment")
	var models []map[string]any
	if err := json.Unmarshal([]byte(cfg.Values["seldon-ab:models"]), &models); err != nil {
		t.Fatal(err)
	}
	winner, _ := json.Marshal(models[1:])
	cfg.Values["seldon-ab:models"] = string(winner)
	cfg.Values["seldon-ab:commands"] = `{"enabled": true}`
	g, err := pulumitest.Run(t, program.Program, "homelab", root(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(g.OfType(experimentType)); n != 0 {
		t.Errorf("%d Experiments after the promotion", n)
	}
	if n := len(g.OfType(modelType)); n != 1 {
		t.Errorf("%d Models, want the winner only", n)
	}
	if n := len(g.OfType(ingressType)); n != 1 {
		t.Errorf("%d mesh Ingresses, want 1", n)
	}
	create := g.Find(t, "command:local:Command", "verify-run").String("create")
	if !strings.Contains(create, `'--models' 'enhanced-predictor'`) || strings.Contains(create, "--experiment") {
		t.Errorf("verify command:\n%s", create)
	}
}

func TestVerificationWithoutCommandsIsTheLifecyclesStepAndNeedsReadiness(t *testing.T) {
	cfg := homelabConfig(t)
	cfg.Values["seldon-ab:commands"] = `{"enabled": false}`
	cfg.Values["seldon-ab:verification"] = `{"enabled": true}`
	g, err := pulumitest.Run(t, program.Program, "homelab", root(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(g.OfType("command:local:Command")); n != 0 {
		t.Errorf("commands.enabled: false still registers %d commands", n)
	}
	cfg.Values["seldon-ab:seldon"] = strings.Replace(cfg.Values["seldon-ab:seldon"], "{", `{"waitForReady":false,`, 1)
	_, err = pulumitest.Run(t, program.Program, "homelab", root(t), cfg)
	if err == nil || !strings.Contains(err.Error(), "seldon-ab:verification.enabled") || !strings.Contains(err.Error(), "seldon.waitForReady") {
		t.Fatalf("got %v", err)
	}
}

// Several experiments: one Experiment each, named after its object, verified each in one run; the first carries the
// name a stack's one Experiment has, so a stack that grows a second experiment keeps its first.
func TestSeveralExperimentsAreEachDeployedAndVerified(t *testing.T) {
	cfg := homelabConfig(t)
	var models []map[string]any
	if err := json.Unmarshal([]byte(cfg.Values["seldon-ab:models"]), &models); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"churn-a", "churn-b"} {
		m := maps.Clone(models[0])
		m["name"], m["storageUri"], m["memory"] = name, "s3://mlflow-artifacts/"+name, "100Mi"
		models = append(models, m)
	}
	list, _ := json.Marshal(models)
	cfg.Values["seldon-ab:models"] = string(list)
	cfg.Values["seldon-ab:experiments"] = "[" + cfg.Values["seldon-ab:experiment"] + `,{"name":"churn","default":"churn-a",` +
		`"candidates":[{"name":"churn-a","weight":50},{"name":"churn-b","weight":50}]}]`
	delete(cfg.Values, "seldon-ab:experiment")
	cfg.Values["seldon-ab:commands"] = `{"enabled": true}`
	g, err := pulumitest.Run(t, program.Program, "homelab", root(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	experiments := g.OfType(experimentType)
	if len(experiments) != 2 {
		t.Fatalf("%d Experiments for two", len(experiments))
	}
	churn := g.Find(t, experimentType, "ab-test-experiment-seldon-system-churn")
	if churn.String("metadata", "name") != "churn" || !churn.DependsOn("ab-test-model-seldon-system-churn-b") {
		t.Errorf("churn experiment = %v, dependencies %v", churn.Inputs, churn.Dependencies)
	}
	first := g.Find(t, experimentType, "ab-test-experiment-seldon-system-financial-ab-test-experiment")
	if !slices.Equal(first.AliasNames, []string{"ab-test-experiment"}) || len(churn.AliasNames) != 0 {
		t.Errorf("aliases: first %q, second %q; only the first may take the single Experiment's name", first.AliasNames, churn.AliasNames)
	}
	run := g.Find(t, "command:local:Command", "verify-run")
	for _, want := range []string{`'--experiment' 'churn:churn-a:churn-a=50,churn-b=50'`, `'--experiment' 'financial-ab-test-experiment:`} {
		if !strings.Contains(run.String("create"), want) {
			t.Errorf("verify command lacks %s:\n%s", want, run.String("create"))
		}
	}
	if !run.DependsOn("ab-test-experiment-seldon-system-churn") || !run.DependsOn(first.Name) {
		t.Errorf("verification does not wait for every Experiment: %v", run.Dependencies)
	}
}
