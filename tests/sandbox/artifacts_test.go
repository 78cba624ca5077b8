package sandbox_test

import (
	"context"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/pulumi/pulumi/sdk/v3/go/auto"
)

// assertArtifacts: after `up`, the real MinIO holds the stack's bucket with both Models' seeded files (reached
// the way a pod does, at minio.minio:9000, through the sandbox's cluster network), a second seed uploads
// nothing, each Model's files arrived in its agent's cache through the real rclone, and MetalLB itself gave the
// LoadBalancer IPs.
func assertArtifacts(t *testing.T, ctx context.Context, stack auto.Stack, cfg string) {
	t.Helper()
	secret := func(key string) string {
		v, err := stack.GetConfigWithOptions(ctx, "seldon-ab:"+key, &auto.ConfigOptions{ConfigFile: cfg})
		if err != nil {
			t.Fatal(err)
		}
		return v.Value
	}
	proxy, err := url.Parse(env.Proxy)
	if err != nil {
		t.Fatal(err)
	}
	client, err := minio.New("minio.minio:9000", &minio.Options{
		Creds:     credentials.NewStaticV4(secret("modelStoreAccessKey"), secret("modelStoreSecretKey"), ""),
		Transport: &http.Transport{Proxy: http.ProxyURL(proxy)},
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

	out, err := env.Seed(ctx, stack, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(out, ": 0 uploaded, 2 unchanged") != 2 || strings.Contains(out, "uploaded s3://") {
		t.Errorf("a second seed uploaded again:\n%s", out)
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
