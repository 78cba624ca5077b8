// Command sandbox-bench measures the sandbox stack's lifecycle with the real Pulumi engine against the local
// cluster (cold up, no-change preview, destroy, rebuild) and, side by side in the same run, applying the same
// objects (taken from the stack's state) with `kubectl apply --server-side` in dependency order, waiting as Pulumi
// does. It prints a Markdown table for the README.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optdestroy"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optpreview"

	"github.com/seldon-ab/provisioner/internal/sandbox"
)

func main() {
	timelineMode := flag.Bool("timeline", false, "print where a cold up's and a destroy's time goes instead of the comparison")
	flag.Parse()
	f := run
	if *timelineMode {
		f = runTimeline
	}
	if err := f(); err != nil {
		fmt.Fprintln(os.Stderr, "sandbox-bench:", err)
		os.Exit(1)
	}
}

type measurement struct {
	name    string
	seconds float64
}

func timed(results *[]measurement, name string, f func() error) error {
	start := time.Now()
	if err := f(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	*results = append(*results, measurement{name, time.Since(start).Seconds()})
	fmt.Fprintf(os.Stderr, "[bench] %s: %.1f s\n", name, time.Since(start).Seconds())
	return nil
}

// bench is a fresh cluster with the sandbox stack selected and nothing deployed.
type bench struct {
	env   *sandbox.Env
	stack auto.Stack
	cfg   string
	work  string
}

// setup starts a fresh cluster: a run that failed half-way may have left objects that other field managers own.
// close stops it (and the processes started with it), however the benchmark ends.
func setup(ctx context.Context) (*bench, func(), error) {
	root, err := sandbox.ProjectRoot()
	if err != nil {
		return nil, nil, err
	}
	down := exec.Command(filepath.Join(root, "scripts", "cluster.sh"), "down", "sandbox-bench")
	down.Stderr = os.Stderr
	if err := down.Run(); err != nil {
		return nil, nil, err
	}
	env, err := sandbox.Start("sandbox-bench")
	if err != nil {
		return nil, nil, err
	}
	env.StopOnInterrupt()
	b := &bench{env: env}
	closeAll := func() {
		if err := env.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "[bench] stopping the cluster: %v\n", err)
		}
		if b.work != "" {
			os.RemoveAll(b.work)
		}
	}
	if b.work, err = os.MkdirTemp("", "sandbox-bench"); err != nil {
		closeAll()
		return nil, nil, err
	}
	if b.cfg, err = env.ConfigFile("sandbox", b.work, nil); err != nil {
		closeAll()
		return nil, nil, err
	}
	if b.stack, err = env.Stack(ctx, "sandbox"); err != nil {
		closeAll()
		return nil, nil, err
	}
	if _, err := b.stack.Destroy(ctx, optdestroy.ConfigFile(b.cfg)); err != nil {
		closeAll()
		return nil, nil, fmt.Errorf("initial destroy: %w", err)
	}
	return b, closeAll, nil
}

// runTimeline prints, for a cold up and a destroy, the slowest steps, the critical path and where the time went.
func runTimeline() error {
	ctx := context.Background()
	b, closeAll, err := setup(ctx)
	if err != nil {
		return err
	}
	defer closeAll()
	up := newTimeline()
	if _, err := b.env.UpObserved(ctx, b.stack, b.cfg, up.channel); err != nil {
		return err
	}
	upTotal := time.Since(up.start)
	up.wait()
	state, err := b.stack.Export(ctx)
	if err != nil {
		return err
	}
	deps, err := dependencies(state.Deployment)
	if err != nil {
		return err
	}
	down := newTimeline()
	if _, err := b.stack.Destroy(ctx, optdestroy.ConfigFile(b.cfg), optdestroy.EventStreams(down.channel())); err != nil {
		return err
	}
	downTotal := time.Since(down.start)
	down.wait()
	up.write(os.Stdout, "pulumi up (cold, sandbox)", upTotal, deps, false)
	down.write(os.Stdout, "pulumi destroy (sandbox)", downTotal, deps, true)
	return nil
}

func run() error {
	ctx := context.Background()
	b, closeAll, err := setup(ctx)
	if err != nil {
		return err
	}
	defer closeAll()
	env, stack, cfg, work := b.env, b.stack, b.cfg, b.work

	var results []measurement
	var resources int
	steps := []struct {
		name string
		f    func() error
	}{
		{"pulumi up (cold)", func() error {
			if _, err := env.Up(ctx, stack, cfg); err != nil {
				return err
			}
			state, err := stack.Export(ctx)
			if err != nil {
				return err
			}
			var deployment struct {
				Resources []json.RawMessage `json:"resources"`
			}
			if err := json.Unmarshal(state.Deployment, &deployment); err != nil {
				return err
			}
			resources = len(deployment.Resources)
			return nil
		}},
		{"pulumi preview (no changes)", func() error {
			_, err := stack.Preview(ctx, optpreview.ConfigFile(cfg), optpreview.ExpectNoChanges())
			return err
		}},
		{"pulumi destroy", func() error { _, err := stack.Destroy(ctx, optdestroy.ConfigFile(cfg)); return err }},
		{"pulumi up (warm, after destroy)", func() error { _, err := env.Up(ctx, stack, cfg); return err }},
		{"rebuild (destroy + up)", func() error {
			if _, err := stack.Destroy(ctx, optdestroy.ConfigFile(cfg)); err != nil {
				return err
			}
			_, err := env.Up(ctx, stack, cfg)
			return err
		}},
	}
	for _, s := range steps {
		if err := timed(&results, s.name, s.f); err != nil {
			return err
		}
	}

	// The same objects: what the last up applied, from the state, then removed by Pulumi before kubectl applies them.
	manifests := filepath.Join(work, "objects")
	if err := exportObjects(ctx, env, manifests); err != nil {
		return err
	}
	if err := timed(&results, "pulumi destroy (before kubectl)", func() error {
		_, err := stack.Destroy(ctx, optdestroy.ConfigFile(cfg))
		return err
	}); err != nil {
		return err
	}
	if err := timed(&results, "kubectl apply --server-side (same objects, dependency order, then wait)", func() error {
		return kubectlApply(ctx, env, manifests)
	}); err != nil {
		return err
	}
	if err := timed(&results, "kubectl delete (same objects)", func() error { return kubectlDelete(ctx, env, manifests) }); err != nil {
		return err
	}
	report(results, resources)
	return nil
}

// exportObjects writes every Kubernetes object of the stack's state (its inputs, secrets included) as a JSON file.
func exportObjects(ctx context.Context, env *sandbox.Env, dir string) error {
	data, err := env.ExportStack(ctx, "sandbox")
	if err != nil {
		return err
	}
	var state struct {
		Deployment struct {
			Resources []struct {
				URN    string         `json:"urn"`
				Type   string         `json:"type"`
				Custom bool           `json:"custom"`
				Inputs map[string]any `json:"inputs"`
			} `json:"resources"`
		} `json:"deployment"`
	}
	if err := json.Unmarshal(data, &state); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for i, r := range state.Deployment.Resources {
		if !r.Custom || !strings.HasPrefix(r.Type, "kubernetes:") || r.Inputs["kind"] == nil {
			continue
		}
		body, err := json.Marshal(unwrapSecrets(r.Inputs))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%03d.json", i)), body, 0o600); err != nil {
			return err
		}
	}
	return nil
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

// kubectlApply applies CRDs, then namespaces, then everything else, and waits as Pulumi's await logic does.
func kubectlApply(ctx context.Context, env *sandbox.Env, dir string) error {
	crds, namespaces, rest, err := classify(dir)
	if err != nil {
		return err
	}
	for i, batch := range [][]string{crds, namespaces, rest} {
		args := []string{"apply", "--server-side"}
		for _, f := range batch {
			args = append(args, "-f", f)
		}
		if _, err := env.Kubectl(ctx, args...); err != nil {
			return err
		}
		if i == 0 {
			if _, err := env.Kubectl(ctx, "wait", "--for=condition=Established", "crd", "--all", "--timeout=120s"); err != nil {
				return err
			}
		}
	}
	// The same conditions the stack's waitFor annotations await (the sandbox's Seldon model sets them).
	for _, wait := range [][]string{
		{"wait", "--for=condition=Available", "deployment", "--all", "-A", "--timeout=300s"},
		{"wait", "--for=condition=Complete", "job", "--all", "-A", "--timeout=300s"},
		{"wait", "--for=condition=SchedulerReady", "seldonruntimes", "--all", "-A", "--timeout=300s"},
		{"wait", "--for=condition=EnvoyReady", "seldonruntimes", "--all", "-A", "--timeout=300s"},
		{"wait", "--for=condition=Ready", "servers,models,experiments", "--all", "-A", "--timeout=300s"},
	} {
		if _, err := env.Kubectl(ctx, wait...); err != nil {
			return err
		}
	}
	return nil
}

func kubectlDelete(ctx context.Context, env *sandbox.Env, dir string) error {
	crds, namespaces, rest, err := classify(dir)
	if err != nil {
		return err
	}
	// Seldon's finalizers need the controller and each namespace's scheduler until the end, so a kubectl user
	// deletes in the safe order: Experiments, Models, Servers, runtimes, then the rest.
	batches := [][]string{}
	for _, kind := range []string{"Experiment", "Model", "Server", "SeldonRuntime"} {
		var ofKind, others []string
		for _, f := range rest {
			if k, err := kindOf(f); err != nil {
				return err
			} else if k == kind {
				ofKind = append(ofKind, f)
			} else {
				others = append(others, f)
			}
		}
		batches, rest = append(batches, ofKind), others
	}
	batches = append(batches, rest, namespaces, crds)
	for _, batch := range batches {
		if len(batch) == 0 {
			continue
		}
		args := []string{"delete", "--ignore-not-found", "--wait=true"}
		for _, f := range batch {
			args = append(args, "-f", f)
		}
		if _, err := env.Kubectl(ctx, args...); err != nil {
			return err
		}
	}
	return nil
}

func kindOf(file string) (string, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	var obj struct {
		Kind string `json:"kind"`
	}
	return obj.Kind, json.Unmarshal(data, &obj)
}

// classify sorts the object files into CRDs, namespaces and the rest.
func classify(dir string) (crds, namespaces, rest []string, err error) {
	err = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".json") {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var obj struct {
			Kind string `json:"kind"`
		}
		if err := json.Unmarshal(data, &obj); err != nil {
			return err
		}
		switch obj.Kind {
		case "CustomResourceDefinition":
			crds = append(crds, path)
		case "Namespace":
			namespaces = append(namespaces, path)
		default:
			rest = append(rest, path)
		}
		return nil
	})
	sort.Strings(crds)
	sort.Strings(namespaces)
	sort.Strings(rest)
	if err == nil && len(crds) == 0 {
		err = fmt.Errorf("no objects exported into %s", dir)
	}
	return crds, namespaces, rest, err
}

func report(results []measurement, resources int) {
	fmt.Printf("| step | wall time (s) |\n|---|---|\n")
	byName := map[string]float64{}
	for _, r := range results {
		fmt.Printf("| %s | %.1f |\n", r.name, r.seconds)
		byName[r.name] = r.seconds
	}
	fmt.Printf("\nresources created by up: %d\n", resources)
	kubectl := byName["kubectl apply --server-side (same objects, dependency order, then wait)"]
	if kubectl > 0 {
		fmt.Printf("cold pulumi up / kubectl apply: %.2f\n", byName["pulumi up (cold)"]/kubectl)
	}
}
