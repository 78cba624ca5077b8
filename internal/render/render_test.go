package render_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/seldon-ab/provisioner/internal/render"
)

const preview = `{"steps":[
 {"op":"create","newState":{"type":"pulumi:pulumi:Stack","custom":false,"inputs":{}}},
 {"op":"create","newState":{"type":"kubernetes:metallb.io/v1beta1:IPAddressPool","custom":true,
   "inputs":{"apiVersion":"metallb.io/v1beta1","kind":"IPAddressPool","metadata":{"name":"lan","namespace":"metallb-system"},
             "spec":{"addresses":["192.168.1.200-192.168.1.250"]}}}},
 {"op":"create","newState":{"type":"kubernetes:core/v1:Secret","custom":true,
   "inputs":{"apiVersion":"v1","kind":"Secret","metadata":{"name":"creds","namespace":"minio"},"stringData":"[secret]"}}},
 {"op":"create","newState":{"type":"kubernetes:helm.sh/v4:Chart","custom":false,"inputs":{"chart":"metallb"}}}
]}`

func TestObjectsWritesOneFilePerKubernetesObject(t *testing.T) {
	dir := t.TempDir()
	n, err := render.Objects(strings.NewReader(preview), dir)
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
	if _, err := render.Objects(strings.NewReader(`{"steps":[{"op":"same"}]}`), t.TempDir()); err == nil {
		t.Fatal("an empty render passed")
	}
}
