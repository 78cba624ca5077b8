package modelstore_test

import (
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/seldon-ab/provisioner/components/modelstore"
)

// The remote Seldon's agents read: type s3, name equal to the storageUri scheme, MinIO parameters (field guide).
func TestRcloneConfigIsTheRemoteSeldonExpects(t *testing.T) {
	body, err := modelstore.RcloneConfig("s3", "Minio", "", "admin", "s3cr3t-key", "http://minio.minio:9000")
	if err != nil {
		t.Fatal(err)
	}
	var remote struct {
		Name       string         `yaml:"name"`
		Type       string         `yaml:"type"`
		Parameters map[string]any `yaml:"parameters"`
	}
	if err := yaml.Unmarshal([]byte(body), &remote); err != nil {
		t.Fatalf("not YAML: %v\n%s", err, body)
	}
	want := map[string]any{
		"provider": "Minio", "env_auth": "false", "access_key_id": "admin",
		"secret_access_key": "s3cr3t-key", "endpoint": "http://minio.minio:9000",
	}
	if remote.Name != "s3" || remote.Type != "s3" {
		t.Errorf("remote = %s/%s, want s3/s3", remote.Name, remote.Type)
	}
	for k, v := range want {
		if remote.Parameters[k] != v {
			t.Errorf("parameters.%s = %v, want %v", k, remote.Parameters[k], v)
		}
	}
	if _, hasRegion := remote.Parameters["region"]; hasRegion {
		t.Error("an empty region was written")
	}
}
