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
	if after := namespaces(t, ctx); len(after) != len(before) {
		t.Errorf("render changed the cluster: namespaces %v -> %v", before, after)
	}
	for file, want := range map[string]string{
		"IPAddressPool_metallb-system_lan.yaml":                      "192.168.1.200-192.168.1.250",
		"Deployment_metallb-system_metallb-controller.yaml":          "quay.io/metallb/controller",
		"Experiment_seldon-system_financial-ab-test-experiment.yaml": "enhanced-predictor",
		"Secret_minio_model-store-credentials.yaml":                  "[secret]",
	} {
		data, err := os.ReadFile(filepath.Join(out, file))
		if err != nil || !strings.Contains(string(data), want) {
			t.Errorf("%s: %v, want it to contain %q", file, err, want)
		}
		if strings.Contains(string(data), "sandbox-throwaway-key") {
			t.Errorf("%s shows a credential", file)
		}
	}
	files, _ := os.ReadDir(out)
	if len(files) < 60 {
		t.Errorf("only %d objects rendered", len(files))
	}
}
