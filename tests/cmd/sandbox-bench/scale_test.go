package main

import (
	"path/filepath"
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
