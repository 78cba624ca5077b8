// Command sandbox-bench measures the sandbox stack's lifecycle with the real Pulumi engine (cold up, no-change
// preview, destroy, rebuild) and, in the same run, its peers deploying the same objects (read from the stack's
// state): a helm chain and kubectl alone, each side on a fresh local cluster, for several rounds. It prints a
// Markdown report (every round, the medians, the targets) and can write it into its page, docs/benchmarks.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto/events"

	"github.com/seldon-ab/provisioner/internal/lifecycle"
	"github.com/seldon-ab/provisioner/tests/internal/sandbox"
)

func main() {
	lifecycle.ServePolicyPack() // as seldon-ab does
	timelineMode := flag.Bool("timeline", false, "print where a cold up's and a destroy's time goes instead of the comparison")
	changesMode := flag.Bool("changes", false, "measure what each change to a running stack costs in failed calls instead of the comparison")
	scaleMode := flag.Bool("scale", false, "measure how up, preview and destroy grow with the stack (1x, 4x, 16x its Models and Experiments) instead of the comparison")
	factors := flag.String("sizes", "1,4,16", "with -scale: the sizes to measure (factors of the sandbox stack's counts)")
	traced := flag.Int("size", 1, "with -timeline: the size to trace (1 is the sandbox stack as it is; 4 or 16 as -scale shapes it)")
	rounds := flag.Int("rounds", 3, "rounds of every side; the report shows each and the median")
	page := flag.String("report", "", "a page whose <!-- bench:begin --> ... <!-- bench:end --> section (bench:changes with -changes) gets the report")
	flag.Parse()
	f := func() error { return run(*rounds, *page) }
	switch {
	case *timelineMode:
		f = func() error {
			if *traced == 1 {
				return runTimeline(nil, "sandbox")
			}
			for _, sz := range sizes {
				if sz.factor == *traced {
					return runTimeline(sz.shape, fmt.Sprintf("sandbox at %dx", sz.factor))
				}
			}
			return fmt.Errorf("-size %d: use 1, 4 or 16", *traced)
		}
	case *changesMode:
		f = func() error { return runChanges(*page) }
	case *scaleMode:
		f = func() error {
			var list []int
			for _, f := range strings.Split(*factors, ",") {
				n, err := strconv.Atoi(strings.TrimSpace(f))
				if err != nil {
					return fmt.Errorf("-sizes: %q is not a whole number", f)
				}
				list = append(list, n)
			}
			return runScale(list, *page)
		}
	}
	if err := f(); err != nil {
		fmt.Fprintln(os.Stderr, "sandbox-bench:", err)
		os.Exit(1)
	}
}

// bench is a fresh cluster with the sandbox stack opened and nothing deployed.
type bench struct {
	env   *sandbox.Env
	stack *lifecycle.Stack
	cfg   string
	work  string
	// cli is the seldon-ab binary users run.
	cli string
	// events, when set, gets each engine operation's events (the timeline's measurements).
	events func() chan<- events.EngineEvent
}

// reshape changes the sandbox stack's config (its stack file's config: section) before it is written; nil keeps it.
type reshape func(cfg map[string]any)

// setup starts a fresh cluster: a run that failed half-way may have left objects that other field managers own.
// close stops it (and the processes started with it), however the benchmark ends. The stack is the sandbox's, as
// shape changes it.
func setup(ctx context.Context, shape reshape) (*bench, func(), error) {
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
	b.cli = filepath.Join(b.work, "seldon-ab")
	build := exec.CommandContext(ctx, "go", "build", "-o", b.cli, "./cmd/seldon-ab")
	build.Dir, build.Stderr = env.Root, os.Stderr
	if err := build.Run(); err != nil {
		closeAll()
		return nil, nil, fmt.Errorf("building seldon-ab: %w", err)
	}
	if b.cfg, err = env.ConfigFile("sandbox", b.work, shape); err != nil {
		closeAll()
		return nil, nil, err
	}
	opts := env.Options("sandbox", b.cfg, io.Discard)
	opts.Observe = func() chan<- events.EngineEvent {
		if b.events == nil {
			return nil
		}
		return b.events()
	}
	if b.stack, err = lifecycle.Open(ctx, opts); err != nil {
		closeAll()
		return nil, nil, err
	}
	if _, err := b.stack.Destroy(ctx); err != nil {
		closeAll()
		return nil, nil, fmt.Errorf("initial destroy: %w", err)
	}
	return b, closeAll, nil
}

// runTimeline prints, for a cold up and a destroy of the sandbox stack as shape changes it, the slowest steps, the
// critical path and where the time went.
func runTimeline(shape reshape, title string) error {
	ctx := context.Background()
	b, closeAll, err := setup(ctx, shape)
	if err != nil {
		return err
	}
	defer closeAll()
	up := newTimeline()
	b.events = up.channel
	if _, err := b.stack.Up(ctx); err != nil {
		return err
	}
	upTotal := time.Since(up.start)
	up.wait()
	stack := b.stack.Auto()
	state, err := stack.Export(ctx)
	if err != nil {
		return err
	}
	deps, err := dependencies(state.Deployment)
	if err != nil {
		return err
	}
	down := newTimeline()
	b.events = down.channel
	if _, err := b.stack.Destroy(ctx); err != nil {
		return err
	}
	downTotal := time.Since(down.start)
	down.wait()
	up.write(os.Stdout, "pulumi up (cold, "+title+")", upTotal, deps, false)
	down.write(os.Stdout, "pulumi destroy ("+title+")", downTotal, deps, true)
	return nil
}

// round is one measurement of every side, each on a fresh cluster.
type round map[string]float64

const (
	stepUp         = "pulumi up (cold, the seeds within)"
	stepPreview    = "pulumi preview (no changes, Automation API)"
	stepPreviewCLI = "`seldon-ab preview` (no changes, the user's command)"
	stepDestroy    = "pulumi destroy"
	stepRebuild    = "rebuild (pulumi destroy + up)"
	stepHelm       = "helm chain: `helm upgrade --install --wait` per chart, kubectl apply + wait between (fresh cluster)"
	stepKubectl    = "kubectl apply --server-side of the same objects, then wait (fresh cluster)"
	stepKubectlDel = "kubectl delete of the same objects, in Seldon's safe order"
	// stepPeakMiB is not a step: the bench process's peak resident memory during the cold up, in MiB. The program
	// runs in it (an inline program of the Automation API), beside the lifecycle and the bench itself.
	stepPeakMiB = "peak memory of the process that runs the program, during the cold up (MiB)"
)

func run(rounds int, readme string) error {
	ctx := context.Background()
	var results []round
	resources := 0
	for i := 0; i < rounds; i++ {
		fmt.Fprintf(os.Stderr, "[bench] round %d of %d\n", i+1, rounds)
		r, n, err := measureRound(ctx, nil, true)
		if err != nil {
			return err
		}
		results, resources = append(results, r), n
	}
	table := report(results, resources)
	fmt.Print(table)
	if readme != "" {
		return replaceBetweenMarkers(readme, "bench", table)
	}
	return nil
}

// measureRound measures every side once for the stack shape gives; rebuild adds a measured destroy and up. It
// returns the round and how many Kubernetes objects the stack has.
func measureRound(ctx context.Context, shape reshape, rebuild bool) (round, int, error) {
	r := round{}
	d, resources, err := measurePulumi(ctx, r, shape, rebuild)
	if err != nil {
		return nil, 0, err
	}
	// A peer that fails does not stop the other: the round keeps what was measured, and the error says what was not.
	helmErr := onFreshCluster(ctx, func(env *sandbox.Env, work string) error {
		return timedStep(r, stepHelm, func() error { return runChain(ctx, env, d, d.helmChain(), work) })
	})
	err = onFreshCluster(ctx, func(env *sandbox.Env, work string) error {
		if err := timedStep(r, stepKubectl, func() error { return runChain(ctx, env, d, d.kubectlLimit(), work) }); err != nil {
			return err
		}
		return timedStep(r, stepKubectlDel, func() error { return kubectlDelete(ctx, env, d) })
	})
	return r, resources, errors.Join(helmErr, err)
}

// measurePulumi times the stack's lifecycle on a fresh cluster (with a rebuild if asked) and returns what its last
// up deployed.
func measurePulumi(ctx context.Context, r round, shape reshape, rebuild bool) (*deployment, int, error) {
	b, closeAll, err := setup(ctx, shape)
	if err != nil {
		return nil, 0, err
	}
	defer closeAll()
	up := func() error { _, err := b.stack.Up(ctx); return err }
	destroy := func() error { _, err := b.stack.Destroy(ctx); return err }
	type step struct {
		name string
		f    func() error
	}
	steps := []step{
		{stepUp, func() error {
			peak, err := peakResidentMiB(up)
			r[stepPeakMiB] = peak
			return err
		}},
		{stepPreview, func() error {
			_, err := b.stack.Preview(ctx, lifecycle.PreviewOptions{ExpectNoChanges: true})
			return err
		}},
		{stepPreviewCLI, func() error { return previewThroughTheCLI(ctx, b) }},
	}
	if rebuild {
		steps = append(steps, step{stepRebuild, func() error {
			if err := destroy(); err != nil {
				return err
			}
			return up()
		}})
	}
	for _, s := range steps {
		if err := timedStep(r, s.name, s.f); err != nil {
			return nil, 0, err
		}
	}
	// What the peers deploy: the state and seeds of the last up, read before the destroy is measured.
	state, err := b.env.ExportDecrypted(ctx, "sandbox")
	if err != nil {
		return nil, 0, err
	}
	argvs, creds, err := b.stack.Seeds(ctx)
	if err != nil {
		return nil, 0, err
	}
	seeds := seeds{argvs: argvs, creds: creds}
	if err := timedStep(r, stepDestroy, destroy); err != nil {
		return nil, 0, err
	}
	charts, err := chartInputs(b.env.Root, seeds, shape)
	if err != nil {
		return nil, 0, err
	}
	d, err := readDeployment(state, seeds, charts)
	if err != nil {
		return nil, 0, err
	}
	objects := 0
	for _, res := range d.resources {
		if res.object() {
			objects++
		}
	}
	return d, objects, nil
}

// onFreshCluster runs f against a new cluster (and a scratch directory) and stops it after.
func onFreshCluster(ctx context.Context, f func(env *sandbox.Env, work string) error) error {
	b, closeAll, err := setup(ctx, nil)
	if err != nil {
		return err
	}
	defer closeAll()
	return f(b.env, b.work)
}

// previewThroughTheCLI is the no-change preview as a user runs it (`make preview`): the seldon-ab binary, its
// program in its own process, the policy pack, the offline CLI.
func previewThroughTheCLI(ctx context.Context, b *bench) error {
	opts := b.env.Options("sandbox", b.cfg, io.Discard)
	cmd := exec.CommandContext(ctx, b.cli, "preview", "--stack", "sandbox", "--config-file", b.cfg, "--toolchain", "offline",
		"--expect-no-changes")
	cmd.Dir = b.env.Root
	cmd.Env = os.Environ()
	for k, v := range opts.Env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%v\n%s", err, out)
	}
	return nil
}

func timedStep(r round, name string, f func() error) error {
	start := time.Now()
	if err := f(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	r[name] = time.Since(start).Seconds()
	fmt.Fprintf(os.Stderr, "[bench] %s: %.1f s\n", name, r[name])
	return nil
}

// kubectlDelete deletes the objects in Seldon's safe order: its finalizers need the controller and each
// namespace's scheduler until the end, so Experiments, Models, Servers and runtimes go first, then the rest,
// namespaces and CRDs.
func kubectlDelete(ctx context.Context, env *sandbox.Env, d *deployment) error {
	order := []string{"Experiment", "Model", "Server", "SeldonRuntime", "", "Namespace", "CustomResourceDefinition"}
	batches := make([]map[string][]string, len(order)) // namespace -> kind.group/name
	for i := range batches {
		batches[i] = map[string][]string{}
	}
	for _, r := range d.resources {
		if !r.object() {
			continue
		}
		at := slices.Index(order, "") // the rest
		if i := slices.Index(order, fmt.Sprint(r.Inputs["kind"])); i >= 0 {
			at = i
		}
		meta, _ := r.Inputs["metadata"].(map[string]any)
		ns, _ := meta["namespace"].(string)
		batches[at][ns] = append(batches[at][ns], resourceRef(r))
	}
	for _, byNamespace := range batches {
		for _, ns := range slices.Sorted(maps.Keys(byNamespace)) {
			args := append([]string{"delete", "--ignore-not-found", "--wait=true"}, byNamespace[ns]...)
			if ns != "" {
				args = append(args, "-n", ns)
			}
			if _, err := env.Kubectl(ctx, args...); err != nil {
				return err
			}
		}
	}
	return nil
}

func median(xs []float64) float64 {
	sorted := append([]float64{}, xs...)
	sort.Float64s(sorted)
	if len(sorted)%2 == 1 {
		return sorted[len(sorted)/2]
	}
	return (sorted[len(sorted)/2-1] + sorted[len(sorted)/2]) / 2
}

// report is the Markdown docs/benchmarks.md shows: each step per round and its median, then the targets.
func report(results []round, objects int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Generated by `make bench`: %d round(s), each side on a fresh cluster; %d Kubernetes objects.\n\n",
		len(results), objects)
	b.WriteString("| step |")
	for i := range results {
		fmt.Fprintf(&b, " run %d (s) |", i+1)
	}
	b.WriteString(" median (s) |\n|---|")
	for range results {
		b.WriteString("---|")
	}
	b.WriteString("---|\n")
	medians := map[string]float64{}
	for _, name := range []string{stepUp, stepPreview, stepPreviewCLI, stepDestroy, stepRebuild, stepHelm, stepKubectl, stepKubectlDel} {
		var xs []float64
		fmt.Fprintf(&b, "| %s |", name)
		for _, r := range results {
			fmt.Fprintf(&b, " %.1f |", r[name])
			xs = append(xs, r[name])
		}
		medians[name] = median(xs)
		fmt.Fprintf(&b, " **%.1f** |\n", medians[name])
	}
	met := func(ok bool) string {
		if ok {
			return "met"
		}
		return "**not met**"
	}
	upHelm := medians[stepUp] / medians[stepHelm]
	upKubectl := medians[stepUp] / medians[stepKubectl]
	destroyDelete := medians[stepDestroy] / medians[stepKubectlDel]
	b.WriteString("\n| target (medians) | measured | |\n|---|---|---|\n")
	fmt.Fprintf(&b, "| cold `up` ≤ 1.0× the helm chain | %.2f× | %s |\n", upHelm, met(upHelm <= 1.0))
	fmt.Fprintf(&b, "| cold `up` ≤ 3× the kubectl limit | %.2f× | %s |\n", upKubectl, met(upKubectl <= 3.0))
	fmt.Fprintf(&b, "| no-change preview ≤ 3 s (Automation API) | %.1f s | %s |\n", medians[stepPreview], met(medians[stepPreview] <= 3.0))
	fmt.Fprintf(&b, "| `destroy` ≤ 1.5× `kubectl delete` | %.2f× | %s |\n", destroyDelete, met(destroyDelete <= 1.5))
	return b.String()
}

// replaceBetweenMarkers puts the generated table into the page between its <!-- section:begin --> and
// <!-- section:end --> markers.
func replaceBetweenMarkers(path, section, generated string) error {
	beginMarker, endMarker := "<!-- "+section+":begin -->", "<!-- "+section+":end -->"
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	text := string(data)
	begin, end := strings.Index(text, beginMarker), strings.Index(text, endMarker)
	if begin < 0 || end < begin {
		return fmt.Errorf("%s has no %s ... %s section to fill", path, beginMarker, endMarker)
	}
	text = text[:begin+len(beginMarker)] + "\n" + generated + text[end:]
	return os.WriteFile(path, []byte(text), 0o644)
}
