package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"github.com/seldon-ab/provisioner/components/abtest"
	"github.com/seldon-ab/provisioner/components/metallb"
	"github.com/seldon-ab/provisioner/infra/program"
	"github.com/seldon-ab/provisioner/internal/pulumitest"
	"github.com/seldon-ab/provisioner/internal/seed"
	"github.com/seldon-ab/provisioner/tests/internal/sandbox"
)

// The peers apply what the stack's last up deployed, read from its state, on a fresh cluster: the helm chain a
// user would otherwise script (each chart by `helm upgrade --install --wait` with the program's values, the other
// objects by `kubectl apply` and `kubectl wait`, in the state's order), and kubectl alone, every object in as few
// batches as the seeds allow (the limit).

const chartType = "kubernetes:helm.sh/v4:Chart"

type stateResource struct {
	URN          string         `json:"urn"`
	Type         string         `json:"type"`
	Custom       bool           `json:"custom"`
	Parent       string         `json:"parent"`
	Dependencies []string       `json:"dependencies"`
	Inputs       map[string]any `json:"inputs"`
}

// deployment is a deployed stack as the peers need it: its resources in the state's (dependency) order and its seeds.
type deployment struct {
	resources []*stateResource
	byURN     map[string]*stateResource
	children  map[string][]*stateResource
	seeds     seeds
}

// seeds are the deployed stack's seed command lines and their credentials (lifecycle.Stack.Seeds).
type seeds struct {
	argvs [][]string
	creds seed.Credentials
}

func readDeployment(state []byte, seeds seeds, charts map[string]map[string]any) (*deployment, error) {
	var exported struct {
		Deployment struct {
			Resources []*stateResource `json:"resources"`
		} `json:"deployment"`
	}
	if err := json.Unmarshal(state, &exported); err != nil {
		return nil, err
	}
	d := &deployment{resources: exported.Deployment.Resources, byURN: map[string]*stateResource{},
		children: map[string][]*stateResource{}, seeds: seeds}
	deployedNames := map[string]string{}
	for _, r := range d.resources {
		r.Inputs, _ = unwrapSecrets(r.Inputs).(map[string]any)
		meta, _ := r.Inputs["metadata"].(map[string]any)
		if name, _ := meta["name"].(string); r.object() && strings.HasPrefix(name, r.name()+"-") {
			deployedNames[r.name()+pulumitest.AutonameSuffix] = name
		}
		d.byURN[r.URN] = r
		d.children[r.Parent] = append(d.children[r.Parent], r)
	}
	for _, r := range d.resources {
		if r.Type == chartType {
			values, ok := charts[r.name()]
			if !ok {
				return nil, fmt.Errorf("the program registers no chart %q for the sandbox stack", r.name())
			}
			r.Inputs, _ = withDeployedNames(values, deployedNames).(map[string]any)
		}
	}
	return d, nil
}

// withDeployedNames puts into chart values, computed under mocks, the names the deployed stack's auto-named objects
// got (the mocks name them <resource>-mock0000; the provider gave them a random suffix): the MinIO chart's
// existingSecret names the credentials Secret so.
func withDeployedNames(v any, names map[string]string) any {
	switch t := v.(type) {
	case string:
		for mocked, deployed := range names {
			t = strings.ReplaceAll(t, mocked, deployed)
		}
		return t
	case map[string]any:
		for k, e := range t {
			t[k] = withDeployedNames(e, names)
		}
	case []any:
		for i, e := range t {
			t[i] = withDeployedNames(e, names)
		}
	}
	return v
}

// secretSig marks a secret value in an exported state: {sig: secretSigValue, plaintext: <JSON of the value>}.
const secretSig, secretSigValue = "4dabf18193072939515e22adb298388d", "1b47061264138c4ac30d75fd1eb44270"

// unwrapSecrets replaces every exported secret envelope with the value it holds.
func unwrapSecrets(v any) any {
	switch t := v.(type) {
	case map[string]any:
		if t[secretSig] == secretSigValue {
			var inner any
			if text, ok := t["plaintext"].(string); ok && json.Unmarshal([]byte(text), &inner) == nil {
				return unwrapSecrets(inner)
			}
		}
		for k, e := range t {
			t[k] = unwrapSecrets(e)
		}
	case []any:
		for i, e := range t {
			t[i] = unwrapSecrets(e)
		}
	}
	return v
}

// object says whether r is a Kubernetes object the stack applied (not a component or provider).
func (r *stateResource) object() bool {
	return r.Custom && strings.HasPrefix(r.Type, "kubernetes:") && r.Inputs["kind"] != nil
}

func (r *stateResource) name() string { return name(r.URN) }

// ancestor is r's nearest ancestor of the given type, or nil.
func (d *deployment) ancestor(r *stateResource, typ string) *stateResource {
	for p := d.byURN[r.Parent]; p != nil; p = d.byURN[p.Parent] {
		if p.Type == typ {
			return p
		}
	}
	return nil
}

// descendants are r and everything under it.
func (d *deployment) descendants(r *stateResource) []*stateResource {
	out := []*stateResource{r}
	for _, c := range d.children[r.URN] {
		out = append(out, d.descendants(c)...)
	}
	return out
}

// afterSeeds are the objects that wait for the seeded artifacts (the A/B test and whatever depends on it), as the
// stack's Models wait for the seeds in its update.
func (d *deployment) afterSeeds() map[string]bool {
	after := map[string]bool{}
	for _, r := range d.resources {
		if r.Type == abtest.Token {
			for _, x := range d.descendants(r) {
				after[x.URN] = true
			}
		}
	}
	for _, r := range d.resources { // state order: dependencies come first
		for _, dep := range r.Dependencies {
			if after[dep] {
				for _, x := range d.descendants(r) {
					after[x.URN] = true
				}
			}
		}
	}
	return after
}

// step is one link of a chain: a helm release, a kubectl batch, or the seeds.
type step struct {
	release *stateResource
	objects []*stateResource
	seeds   bool
}

// helmChain orders the deployment as a chain of helm releases and kubectl batches; a batch ends where an object
// depends on one in it (its wait must come first) or the next chart begins. MetalLB and its pools come first, as
// a user would put them: `helm --wait` awaits every LoadBalancer IP, which only MetalLB with pools assigns (the
// program does not order the other charts after MetalLB, their Services' awaits do).
func (d *deployment) helmChain() []step {
	after := d.afterSeeds()
	var chain []step
	var batch []*stateResource
	inBatch := map[string]bool{}
	flush := func() {
		if len(batch) > 0 {
			chain = append(chain, step{objects: batch})
			batch, inBatch = nil, map[string]bool{}
		}
	}
	seeded := false
	var metalLB, others []*stateResource
	for _, r := range d.resources {
		if r.Type == metallb.Token || d.ancestor(r, metallb.Token) != nil {
			metalLB = append(metalLB, r)
		} else {
			others = append(others, r)
		}
	}
	for _, r := range append(metalLB, others...) {
		// Components register before their children, so only what gets applied can call for the seeds.
		if after[r.URN] && !seeded && (r.Type == chartType || r.object()) {
			flush()
			chain, seeded = append(chain, step{seeds: true}), true
		}
		switch {
		case r.Type == chartType:
			flush()
			chain = append(chain, step{release: r})
		case r.object() && d.ancestor(r, chartType) == nil:
			for _, dep := range r.Dependencies {
				if d.byURN[dep] == nil {
					continue // a state always holds its dependencies; an edited one may not
				}
				for _, x := range d.descendants(d.byURN[dep]) {
					if inBatch[x.URN] {
						flush()
					}
				}
			}
			batch, inBatch[r.URN] = append(batch, r), true
		}
	}
	flush()
	return chain
}

// kubectlLimit is every object (the charts' rendered ones too) in two batches: before the seeds and after.
func (d *deployment) kubectlLimit() []step {
	after := d.afterSeeds()
	var before, rest []*stateResource
	for _, r := range d.resources {
		switch {
		case !r.object():
		case after[r.URN]:
			rest = append(rest, r)
		default:
			before = append(before, r)
		}
	}
	return []step{{objects: before}, {seeds: true}, {objects: rest}}
}

// runChain runs the steps in order against env's cluster.
func runChain(ctx context.Context, env *sandbox.Env, d *deployment, chain []step, work string) error {
	for i, s := range chain {
		var err error
		switch {
		case s.seeds:
			creds := d.seeds.creds
			creds.Proxy = env.Proxy // this side's own cluster network
			err = seed.RunAll(ctx, d.seeds.argvs, creds, env.Root, io.Discard)
		case s.release != nil:
			err = helmRelease(ctx, env, d, s.release, filepath.Join(work, fmt.Sprintf("release-%02d", i)))
		default:
			err = applyAndWait(ctx, env, s.objects, filepath.Join(work, fmt.Sprintf("batch-%02d", i)))
		}
		if err != nil {
			// What the cluster held when the step failed, for the log: the chain's cluster goes with the side.
			seen, _ := env.Kubectl(ctx, "get", "pods,seldonruntimes.mlops.seldon.io,servers.mlops.seldon.io,models.mlops.seldon.io", "-A")
			// A Model's ModelReady condition: its message is the scheduler's state, its reason the agent's load error.
			why, _ := env.Kubectl(ctx, "get", "models.mlops.seldon.io", "-A", "-o",
				`custom-columns=NAMESPACE:.metadata.namespace,NAME:.metadata.name,READY:.status.conditions[?(@.type=="Ready")].status,STATE:.status.conditions[?(@.type=="ModelReady")].message,REASON:.status.conditions[?(@.type=="ModelReady")].reason`)
			fmt.Fprintf(os.Stderr, "[bench] step %d failed; the cluster held:\n%s\n%s\n", i+1, seen, why)
			return fmt.Errorf("step %d: %w", i+1, err)
		}
	}
	return nil
}

// helmRelease installs one chart as `helm upgrade --install --wait` with the program's values and release name.
// Its webhook configurations are then applied as the program transformed them (the sandbox's MetalLB webhook is
// dropped: the API server cannot call it here), as a helm user would patch them.
func helmRelease(ctx context.Context, env *sandbox.Env, d *deployment, chart *stateResource, dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	name, _ := chart.Inputs["name"].(string)
	if name == "" {
		name = chart.name()
	}
	namespace, _ := chart.Inputs["namespace"].(string)
	archive, _ := chart.Inputs["chart"].(string)
	if !filepath.IsAbs(archive) {
		archive = filepath.Join(env.Root, archive)
	}
	values, err := json.Marshal(chart.Inputs["values"])
	if err != nil {
		return err
	}
	valuesFile := filepath.Join(dir, "values.json")
	if err := os.WriteFile(valuesFile, values, 0o600); err != nil {
		return err
	}
	// --create-namespace: helm keeps its release record in the release's namespace, which a chart of cluster-scoped
	// objects (Seldon's CRDs, which wait for nothing in the program) can reach before the namespace's own batch.
	helm := exec.CommandContext(ctx, filepath.Join(env.Bin, "helm"), "upgrade", "--install", name, archive,
		"--namespace", namespace, "--create-namespace", "--values", valuesFile, "--wait", "--timeout", "10m", "--kubeconfig", env.Kubeconfig)
	helm.Env = append(os.Environ(), "HELM_CACHE_HOME="+filepath.Join(dir, "cache"),
		"HELM_CONFIG_HOME="+filepath.Join(dir, "config"), "HELM_DATA_HOME="+filepath.Join(dir, "data"))
	if out, err := helm.CombinedOutput(); err != nil {
		return fmt.Errorf("helm upgrade --install %s: %w\n%s", name, err, out)
	}
	var patched []*stateResource
	for _, r := range d.descendants(chart) {
		if r.object() && strings.HasSuffix(r.Type, "WebhookConfiguration") {
			patched = append(patched, r)
		}
	}
	if len(patched) == 0 {
		return nil
	}
	files, err := writeObjects(patched, filepath.Join(dir, "patched"))
	if err != nil {
		return err
	}
	// Replaced, not applied: a server-side apply of an empty list would leave helm's own entries in place.
	_, err = env.Kubectl(ctx, append([]string{"replace"}, fileArgs(files)...)...)
	return err
}

// applyAndWait applies objects (CRDs first, established, then namespaces, then the rest) and waits as the
// program's awaits do: pulumi.com/waitFor as written, Deployments Available, Jobs Complete, rollouts done.
func applyAndWait(ctx context.Context, env *sandbox.Env, objects []*stateResource, dir string) error {
	var crds, namespaces, rest []*stateResource
	for _, r := range objects {
		switch r.Inputs["kind"] {
		case "CustomResourceDefinition":
			crds = append(crds, r)
		case "Namespace":
			namespaces = append(namespaces, r)
		default:
			rest = append(rest, r)
		}
	}
	for i, group := range [][]*stateResource{crds, namespaces, rest} {
		if len(group) == 0 {
			continue
		}
		files, err := writeObjects(group, filepath.Join(dir, fmt.Sprint(i)))
		if err != nil {
			return err
		}
		if _, err := env.Kubectl(ctx, append([]string{"apply", "--server-side"}, fileArgs(files)...)...); err != nil {
			return err
		}
	}
	waits := map[[2]string][]string{} // (namespace, --for) -> resources
	var rollouts [][]string
	for _, r := range objects {
		meta, _ := r.Inputs["metadata"].(map[string]any)
		annotations, _ := meta["annotations"].(map[string]any)
		namespace, _ := meta["namespace"].(string)
		waitFor := func(condition string) {
			waits[[2]string{namespace, condition}] = append(waits[[2]string{namespace, condition}], resourceRef(r))
		}
		if annotations["pulumi.com/skipAwait"] == "true" {
			continue
		}
		if custom, ok := annotations["pulumi.com/waitFor"].(string); ok {
			var exprs []string
			if json.Unmarshal([]byte(custom), &exprs) != nil {
				exprs = []string{custom}
			}
			for _, e := range exprs {
				waitFor(e)
			}
			continue
		}
		switch r.Inputs["kind"] {
		case "CustomResourceDefinition":
			waitFor("condition=Established")
		case "Deployment":
			waitFor("condition=Available")
		case "Job":
			waitFor("condition=Complete")
		case "DaemonSet", "StatefulSet":
			rollouts = append(rollouts, []string{"rollout", "status", "-n", namespace, resourceRef(r), "--timeout=300s"})
		}
	}
	keys := make([][2]string, 0, len(waits))
	for k := range waits {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i][0]+keys[i][1] < keys[j][0]+keys[j][1] })
	for _, k := range keys {
		args := append([]string{"wait", "--for=" + k[1], "--timeout=300s"}, waits[k]...)
		if k[0] != "" {
			args = append(args, "-n", k[0])
		}
		if _, err := env.Kubectl(ctx, args...); err != nil {
			return err
		}
	}
	for _, args := range rollouts {
		if _, err := env.Kubectl(ctx, args...); err != nil {
			return err
		}
	}
	return nil
}

// resourceRef names r for kubectl: kind.group/name.
func resourceRef(r *stateResource) string {
	kind := strings.ToLower(fmt.Sprint(r.Inputs["kind"]))
	if group, _, ok := strings.Cut(fmt.Sprint(r.Inputs["apiVersion"]), "/"); ok {
		kind += "." + group
	}
	meta, _ := r.Inputs["metadata"].(map[string]any)
	return fmt.Sprintf("%s/%v", kind, meta["name"])
}

func writeObjects(objects []*stateResource, dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	var files []string
	for i, r := range objects {
		body, err := json.Marshal(r.Inputs)
		if err != nil {
			return nil, err
		}
		file := filepath.Join(dir, fmt.Sprintf("%03d.json", i))
		if err := os.WriteFile(file, body, 0o600); err != nil {
			return nil, err
		}
		files = append(files, file)
	}
	return files, nil
}

func fileArgs(files []string) []string {
	var args []string
	for _, f := range files {
		args = append(args, "-f", f)
	}
	return args
}

// chartInputs are the charts' args (chart, values, namespace, release name) as the program computes them for the
// sandbox stack's config as shape changes it, run under mocks: the state keeps none for a helm/v4 Chart, a component the provider
// registers itself without inputs.
func chartInputs(root string, seeds seeds, shape reshape) (map[string]map[string]any, error) {
	objects, err := pulumitest.ReadStackFileObjects(root, "sandbox")
	if err != nil {
		return nil, err
	}
	if shape != nil {
		shape(objects)
	}
	cfg, err := pulumitest.ConfigOf(objects)
	if err != nil {
		return nil, err
	}
	cfg = cfg.WithSecret("seldon-ab:modelStoreAccessKey", seeds.creds.AccessKey).
		WithSecret("seldon-ab:modelStoreSecretKey", seeds.creds.SecretKey)
	cfg.Values["seldon-ab:cluster"] = `{"identifier":"sandbox","preflight":false}` // the values read no cluster
	g, err := pulumitest.Record(program.Program, "sandbox", root, cfg)
	if err != nil {
		return nil, err
	}
	out := map[string]map[string]any{}
	for _, r := range g.OfType(chartType) {
		out[r.Name], _ = pulumitest.Plain(resource.NewObjectProperty(r.Inputs)).(map[string]any)
	}
	return out, nil
}
