package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/seldon-ab/provisioner/infra/program"
	"github.com/seldon-ab/provisioner/internal/pulumitest"
)

// Each size is a stack the program accepts (validation included: every Server holds its Models and a roll) with the
// size's counts of Models, Experiments and model namespaces.
func TestEachSizeIsAValidStackOfItsCounts(t *testing.T) {
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	for _, sz := range sizes {
		objects := pulumitest.StackFileObjects(t, root, "sandbox")
		sz.shape(objects)
		objects["seldon-ab:cluster"] = map[string]any{"identifier": "sandbox"} // no kubeconfig file on a fresh clone
		cfg, err := pulumitest.ConfigOf(objects)
		if err != nil {
			t.Fatal(err)
		}
		cfg = cfg.WithSecret("seldon-ab:modelStoreAccessKey", "bench-admin").WithSecret("seldon-ab:modelStoreSecretKey", "bench-secret-key")
		g, err := pulumitest.Run(t, program.Program, "sandbox", root, cfg)
		if err != nil {
			t.Fatalf("%dx: %v", sz.factor, err)
		}
		counts := map[string]int{}
		for _, kind := range []string{"Model", "Experiment", "SeldonRuntime"} {
			counts[kind] = len(g.OfType("kubernetes:mlops.seldon.io/v1alpha1:" + kind))
		}
		if counts["Model"] != sz.models || counts["Experiment"] != sz.experiments || counts["SeldonRuntime"] != sz.namespaces {
			t.Errorf("%dx: %v, want %d Models, %d Experiments, %d runtimes", sz.factor, counts, sz.models, sz.experiments, sz.namespaces)
		}
	}
}

// A peer that failed at one size leaves its cells "failed" and its reason under the table, and no ratio is made of
// it; the other sizes' targets are still judged.
func TestTheScaleReportShowsAFailedPeer(t *testing.T) {
	full := round{stepUp: 40, stepPreview: 5, stepPreviewCLI: 6, stepDestroy: 30, stepHelm: 28, stepKubectl: 15, stepKubectlDel: 17, stepPeakMiB: 200}
	partial := round{stepUp: 80, stepPreview: 8, stepPreviewCLI: 9, stepDestroy: 50, stepKubectl: 20, stepKubectlDel: 20, stepPeakMiB: 300}
	report := scaleReport([]scaled{{size: sizes[0], round: full, objects: 75}, {size: sizes[2], round: partial, objects: 150,
		failure: "helm chain: step 14: kubectl wait timed out"}})
	for _, want := range []string{"| 16x | 32 / 16 / 4 | 150 | 80.0 | 8.0 | 9.0 | 50.0 | failed | 20.0 | 20.0 | 300 |",
		"At 16x: helm chain: step 14", "| cold `up` at 16x ≤ 2.5× the 1x `up` | 2.00× | met |", "at 1x | 1.43× | **not met** |"} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
	if strings.Contains(report, "helm chain at 16x") {
		t.Errorf("a ratio was made of the failed helm chain:\n%s", report)
	}
}
