package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/seldon-ab/provisioner/infra/config"
)

// size is one point of the scaling benchmark: factor times the sandbox stack's two Models and one Experiment.
type size struct {
	factor, models, experiments, namespaces int
}

// sizes are 1x (the sandbox stack's counts), 4x and 16x.
var sizes = []size{{1, 2, 1, 1}, {4, 8, 4, 2}, {16, 32, 16, 4}}

// scaleNamespaces are the model namespaces, the mesh's first.
var scaleNamespaces = []string{"seldon-system", "models-b", "models-c", "models-d"}

// modelMemoryMi is every Model's memory at scale: small enough that one Server replica per namespace holds them all.
const modelMemoryMi = 100

// shape gives the sandbox stack sz's counts. Every experiment lives in the mesh's namespace (the one the ingress
// routes to) with its own default model and a challenger they share: the first one's are the sandbox's
// baseline-predictor and enhanced-predictor, so 1x has the sandbox stack's objects. The remaining Models go round
// the other namespaces, served there by name. Models read the sandbox's two seeded artifacts in turn.
func (sz size) shape(cfg map[string]any) {
	key := func(k string) string { return config.Namespace + ":" + k }
	type model struct{ name, namespace string }
	models := []model{{"enhanced-predictor", scaleNamespaces[0]}}
	var experiments []any
	for i := 0; i < sz.experiments; i++ {
		def := "baseline-predictor"
		if i > 0 {
			def = fmt.Sprintf("predictor-%d", i)
		}
		models = append(models, model{def, scaleNamespaces[0]})
		name := config.DefaultExperimentName
		if i > 0 {
			name = fmt.Sprintf("experiment-%d", i)
		}
		experiments = append(experiments, map[string]any{"name": name, "default": def, "candidates": []any{
			map[string]any{"name": def, "weight": 70}, map[string]any{"name": "enhanced-predictor", "weight": 30}}})
	}
	for i := 0; len(models) < sz.models; i++ {
		ns := scaleNamespaces[1+i%(sz.namespaces-1)]
		models = append(models, model{fmt.Sprintf("%s-predictor-%d", ns, i), ns})
	}
	perNamespace := map[string]int{}
	var modelList []any
	artifacts := []string{"baseline-predictor", "enhanced-predictor"}
	for i, m := range models {
		perNamespace[m.namespace]++
		modelList = append(modelList, map[string]any{"name": m.name, "namespace": m.namespace,
			"storageUri": "s3://mlflow-artifacts/" + artifacts[i%2], "requirements": []any{"mlflow", "torch", "numpy"},
			"memory": fmt.Sprintf("%dMi", modelMemoryMi), "server": "mlserver"})
	}
	seldon := cfg[key("seldon")].(map[string]any)
	namespaces := scaleNamespaces[:sz.namespaces]
	seldon["modelNamespaces"] = toAny(namespaces)
	var servers []any
	for _, ns := range namespaces {
		// Room for every Model of the namespace and one new version beside them (a roll).
		servers = append(servers, map[string]any{"name": "mlserver", "namespace": ns, "replicas": 1,
			"extraCapabilities": []any{"torch", "numpy"}, "memory": fmt.Sprintf("%dMi", (perNamespace[ns]+1)*modelMemoryMi)})
	}
	seldon["servers"] = servers
	cfg[key("models")] = modelList
	delete(cfg, key("experiment"))
	cfg[key("experiments")] = experiments
}

func toAny(xs []string) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = x
	}
	return out
}

// peakResidentMiB runs f and returns this process's peak resident memory meanwhile: the kernel's high-water mark
// (VmHWM), reset first (proc(5): clear_refs, 5).
func peakResidentMiB(f func() error) (float64, error) {
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		return 0, err
	}
	err := f()
	status, readErr := os.ReadFile("/proc/self/status")
	if readErr != nil {
		return 0, readErr
	}
	for _, line := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, convErr := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			if convErr != nil {
				return 0, convErr
			}
			return kb / 1024, err
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/self/status")
}

// scaled is one size's round.
type scaled struct {
	size
	round
	objects int
	// failure is why a side did not finish, when one did not.
	failure string
}

// runScale measures each size of factors (all when empty) once and reports how each step grows.
func runScale(factors []int, page string) error {
	ctx := context.Background()
	var results []scaled
	for _, sz := range sizes {
		if len(factors) > 0 && !slices.Contains(factors, sz.factor) {
			continue
		}
		fmt.Fprintf(os.Stderr, "[bench] %dx: %d Models, %d Experiments, %d model namespaces\n", sz.factor, sz.models, sz.experiments, sz.namespaces)
		r, objects, err := measureRound(ctx, sz.shape, false)
		if err != nil && objects == 0 {
			return fmt.Errorf("%dx: %w", sz.factor, err)
		}
		// A peer that failed leaves its cells empty and says why below the table; the other sizes still run.
		s := scaled{size: sz, round: r, objects: objects}
		if err != nil {
			s.failure = err.Error()
		}
		results = append(results, s)
	}
	if len(results) == 0 {
		return fmt.Errorf("no size among %v: the sizes are 1, 4 and 16", factors)
	}
	table := scaleReport(results)
	fmt.Print(table)
	if page != "" {
		return replaceBetweenMarkers(page, "bench:scale", table)
	}
	return nil
}

func scaleReport(results []scaled) string {
	var b strings.Builder
	b.WriteString("Generated by `make bench-scale`: one round per size, each side on a fresh cluster; times in seconds.\n\n")
	b.WriteString("| size | Models / Experiments / namespaces | objects | cold `up` | preview (API) | `seldon-ab preview` | `destroy` | helm chain | kubectl | kubectl delete | peak MiB |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|\n")
	cell := func(r round, step string) string {
		if v, ok := r[step]; ok {
			return fmt.Sprintf("%.1f", v)
		}
		return "failed"
	}
	for _, s := range results {
		fmt.Fprintf(&b, "| %dx | %d / %d / %d | %d |", s.factor, s.models, s.experiments, s.namespaces, s.objects)
		for _, step := range []string{stepUp, stepPreview, stepPreviewCLI, stepDestroy, stepHelm, stepKubectl, stepKubectlDel} {
			b.WriteString(" " + cell(s.round, step) + " |")
		}
		fmt.Fprintf(&b, " %.0f |\n", s.round[stepPeakMiB])
	}
	for _, s := range results {
		if s.failure != "" {
			fmt.Fprintf(&b, "\nAt %dx: %s\n", s.factor, s.failure)
		}
	}
	met := func(ok bool) string {
		if ok {
			return "met"
		}
		return "**not met**"
	}
	first, last := results[0], results[len(results)-1]
	b.WriteString("\n| target | measured | |\n|---|---|---|\n")
	growth := last.round[stepUp] / first.round[stepUp]
	fmt.Fprintf(&b, "| cold `up` at %dx ≤ 2.5× the 1x `up` | %.2f× | %s |\n", last.factor, growth, met(growth <= 2.5))
	budget := 1 + 0.020*float64(last.objects)
	fmt.Fprintf(&b, "| no-change preview at %dx ≤ 1 s + 20 ms per object (%.1f s) | %.1f s | %s |\n", last.factor, budget,
		last.round[stepPreview], met(last.round[stepPreview] <= budget))
	for _, s := range results {
		if helm, ok := s.round[stepHelm]; ok {
			ratio := s.round[stepUp] / helm
			fmt.Fprintf(&b, "| cold `up` ≤ 0.8× the helm chain at %dx | %.2f× | %s |\n", s.factor, ratio, met(ratio <= 0.8))
		}
	}
	fmt.Fprintf(&b, "| no-change preview (Automation API) ≤ 2.5 s at 1x | %.1f s | %s |\n", first.round[stepPreview], met(first.round[stepPreview] <= 2.5))
	return b.String()
}
