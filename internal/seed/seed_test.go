package seed_test

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/seldon-ab/provisioner/internal/seed"
)

func s3Server(t *testing.T, bucket string) string {
	t.Helper()
	backend := s3mem.New()
	if err := backend.CreateBucket(bucket); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(srv.Close)
	return srv.URL
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestSeedingIsIdempotent(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "MLmodel"), "flavors: {python_function: {}}")
	writeFile(t, filepath.Join(dir, "data", "model.pth"), "weights v1")
	target := seed.Target{Endpoint: s3Server(t, "mlflow-artifacts"), AccessKey: "a", SecretKey: "b",
		Bucket: "mlflow-artifacts", Prefix: "baseline-predictor"}

	first, err := seed.Directory(ctx, dir, target)
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Uploaded) != 2 || first.Unchanged != 0 {
		t.Fatalf("first run = %+v, want both files uploaded", first)
	}
	second, err := seed.Directory(ctx, dir, target)
	if err != nil {
		t.Fatal(err)
	}
	if len(second.Uploaded) != 0 || second.Unchanged != 2 {
		t.Fatalf("second run = %+v, want nothing uploaded", second)
	}

	before, _ := seed.ContentHash(dir)
	writeFile(t, filepath.Join(dir, "data", "model.pth"), "weights v2")
	after, _ := seed.ContentHash(dir)
	if before == after {
		t.Error("the content hash did not change with the content")
	}
	third, err := seed.Directory(ctx, dir, target)
	if err != nil {
		t.Fatal(err)
	}
	if len(third.Uploaded) != 1 || third.Uploaded[0] != "baseline-predictor/data/model.pth" {
		t.Fatalf("third run uploaded %v, want only the changed file", third.Uploaded)
	}
}

func TestSeedingReportsABadEndpoint(t *testing.T) {
	_, err := seed.Directory(context.Background(), t.TempDir(), seed.Target{Endpoint: "minio:9000", Bucket: "b"})
	if err == nil {
		t.Fatal("an endpoint without a scheme was accepted")
	}
}
