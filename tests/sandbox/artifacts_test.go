//go:build sandbox

package sandbox_test

import (
	"context"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/seldon-ab/provisioner/internal/lifecycle"
	"github.com/seldon-ab/provisioner/internal/seed"
)

// assertArtifacts: after `up`, the real MinIO holds the stack's bucket with both Models' seeded files (reached
// the way a pod does, at minio.minio:9000, through the sandbox's cluster network), a second seed uploads
// nothing, each Model's files arrived in its agent's cache through the real rclone, and MetalLB itself gave the
// LoadBalancer IPs.
func assertArtifacts(t *testing.T, ctx context.Context, stack *lifecycle.Stack) {
	t.Helper()
	argvs, creds, err := stack.Seeds(ctx)
	if err != nil {
		t.Fatal(err)
	}
	client, err := minio.New("minio.minio:9000", &minio.Options{
		Creds:     credentials.NewStaticV4(creds.AccessKey, creds.SecretKey, ""),
		Transport: &http.Transport{Proxy: http.ProxyURL(env.Proxy)},
	})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for obj := range client.ListObjects(ctx, "mlflow-artifacts", minio.ListObjectsOptions{Recursive: true}) {
		if obj.Err != nil {
			t.Fatalf("listing the bucket the stack declares: %v", obj.Err)
		}
		keys = append(keys, obj.Key)
	}
	for _, want := range []string{"baseline-predictor/MLmodel", "baseline-predictor/data/model.pth", "enhanced-predictor/MLmodel", "enhanced-predictor/data/model.pth"} {
		if !slices.Contains(keys, want) {
			t.Errorf("s3://mlflow-artifacts holds %v, not %s", keys, want)
		}
	}

	var out strings.Builder
	if err := seed.RunAll(ctx, argvs, creds, env.Root, &out); err != nil {
		t.Fatal(err)
	}
	if strings.Count(out.String(), ": 0 uploaded, 2 unchanged") != 2 || strings.Contains(out.String(), "uploaded s3://") {
		t.Errorf("a second seed uploaded again:\n%s", out.String())
	}

	// `up` awaited each Model's Ready condition; the sandbox's agent sets it only once rclone brought the files.
	cached, _ := filepath.Glob(filepath.Join(env.StateDir(), "agent", "seldon-system", "models", "*", "MLmodel"))
	if len(cached) != 2 {
		t.Errorf("the agents' rclone downloaded %d MLmodel files, want one per Model: %v", len(cached), cached)
	}

	for _, svc := range [][2]string{{"ingress-nginx", "ingress-nginx-controller"}, {"minio", "minio"}} {
		obj := kubeJSON(t, ctx, "-n", svc[0], "get", "service", svc[1])
		if pool := field(obj, "metadata", "annotations", "metallb.io/ip-allocated-from-pool"); pool != "lan" {
			t.Errorf("Service %s/%s: MetalLB did not allocate its IP (ip-allocated-from-pool = %v, status %v)",
				svc[0], svc[1], pool, field(obj, "status"))
		}
	}
}
