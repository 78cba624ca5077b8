package render_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/seldon-ab/provisioner/internal/render"
)

var steps = []render.Step{
	{Type: "pulumi:pulumi:Stack", Inputs: map[string]any{}},
	{Type: "kubernetes:metallb.io/v1beta1:IPAddressPool", Custom: true, Inputs: map[string]any{
		"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
		"metadata": map[string]any{"name": "lan", "namespace": "metallb-system"},
		"spec":     map[string]any{"addresses": []any{"192.168.1.200-192.168.1.250"}}}},
	{Type: "kubernetes:core/v1:Secret", Custom: true, Inputs: map[string]any{
		"apiVersion": "v1", "kind": "Secret", "metadata": map[string]any{"name": "creds", "namespace": "minio"}, "stringData": "[secret]"}},
	{Type: "kubernetes:helm.sh/v4:Chart", Inputs: map[string]any{"chart": "metallb"}},
}

func TestObjectsWritesOneFilePerKubernetesObject(t *testing.T) {
	dir := t.TempDir()
	n, err := render.Objects(steps, dir)
	if err != nil || n != 2 {
		t.Fatalf("rendered %d objects, err %v; want the pool and the secret", n, err)
	}
	pool, err := os.ReadFile(filepath.Join(dir, "IPAddressPool_metallb-system_lan.yaml"))
	if err != nil || !strings.Contains(string(pool), "192.168.1.200-192.168.1.250") {
		t.Errorf("pool file: %v\n%s", err, pool)
	}
	secret, _ := os.ReadFile(filepath.Join(dir, "Secret_minio_creds.yaml"))
	if !strings.Contains(string(secret), "[secret]") {
		t.Errorf("secret not masked: %s", secret)
	}
}

func TestAPreviewWithNothingToCreateIsAnError(t *testing.T) {
	if _, err := render.Objects(steps[:1], t.TempDir()); err == nil {
		t.Fatal("an empty render passed")
	}
}
