//go:build sandbox

package sandbox_test

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/seldon-ab/provisioner/internal/lifecycle"
)

// The render mode that works: a preview with an empty state, against the cluster, written out as YAML.
func TestRenderWritesEveryObjectWithoutChangingTheCluster(t *testing.T) {
	ctx := testContext(t, 10*time.Minute)
	out := t.TempDir()
	cfg, err := env.ConfigFile("sandbox", t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	before := namespaces(t, ctx)
	if _, err := lifecycle.Render(ctx, env.Options("sandbox", cfg, io.Discard), out); err != nil {
		t.Fatalf("render: %v", err)
	}
	// Only a namespace render made counts: one an earlier test deleted may finish terminating meanwhile.
	for name := range namespaces(t, ctx) {
		if _, existed := before[name]; !existed {
			t.Errorf("render created namespace %s (there were %v)", name, before)
		}
	}
	for pattern, want := range map[string]string{
		"IPAddressPool_metallb-system_lan.yaml":                      "192.168.1.200-192.168.1.250",
		"Deployment_metallb-system_metallb-controller.yaml":          "quay.io/metallb/controller",
		"Experiment_seldon-system_financial-ab-test-experiment.yaml": "enhanced-predictor",
		// Auto-named: the provider adds a random suffix.
		"Secret_minio_model-store-credentials-*.yaml": "[secret]",
	} {
		matches, _ := filepath.Glob(filepath.Join(out, pattern))
		if len(matches) != 1 {
			t.Errorf("%s: rendered %v, want one file", pattern, matches)
			continue
		}
		data, err := os.ReadFile(matches[0])
		if err != nil || !strings.Contains(string(data), want) {
			t.Errorf("%s: %v, want it to contain %q", matches[0], err, want)
		}
		if strings.Contains(string(data), "sandbox-throwaway-key") {
			t.Errorf("%s shows a credential", matches[0])
		}
	}
	files, _ := os.ReadDir(out)
	if len(files) < 60 {
		t.Errorf("only %d objects rendered", len(files))
	}
}
