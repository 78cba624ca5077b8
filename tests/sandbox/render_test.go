package sandbox_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The render mode that works: a preview with an empty state, against the cluster, written out as YAML.
func TestRenderWritesEveryObjectWithoutChangingTheCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("sandbox tier")
	}
	out := t.TempDir()
	cfg, err := env.ConfigFile("sandbox", t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(env.Root, "scripts", "render.sh"), "sandbox", out)
	// The tests' own cluster, not the user's sandbox (which the script would otherwise start and leave running).
	cmd.Env = append(os.Environ(), "RENDER_CONFIG_FILE="+cfg)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("render: %v\n%s", err, stdout)
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
