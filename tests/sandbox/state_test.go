//go:build sandbox

package sandbox_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/seldon-ab/provisioner/internal/lifecycle"
	"github.com/seldon-ab/provisioner/tests/internal/localminio"
)

// A team keeps the stack's state in S3 (here a real MinIO on loopback, as it would be on a NAS or any S3): up
// and preview work against it, the state lands in the bucket, and a second update started while one runs is
// refused by the backend's lock instead of writing over it.
func TestStateInS3IsSharedAndLocked(t *testing.T) {
	ctx := testContext(t, 20*time.Minute)
	store, err := localminio.Start(env.Bin, t.TempDir(), "team-state", "team-state-secret", "pulumi-state")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Stop)
	inS3 := func(o *lifecycle.Options) {
		// Pulumi's self-managed S3 backend (gocloud.dev s3blob): path-style addressing, plain HTTP on loopback.
		o.Env["PULUMI_BACKEND_URL"] = fmt.Sprintf("s3://pulumi-state?endpoint=http://%s&use_path_style=true&disable_https=true&region=us-east-1", store.Endpoint)
		o.Env["AWS_ACCESS_KEY_ID"] = "team-state"
		o.Env["AWS_SECRET_ACCESS_KEY"] = "team-state-secret"
		// The SDK would otherwise ask the instance metadata address for credentials: never dialled from here.
		o.Env["AWS_EC2_METADATA_DISABLED"] = "true"
	}
	stack, err := env.Open(ctx, "sandbox", t.TempDir(), nil, inS3)
	if err != nil {
		t.Fatalf("a stack in the S3 backend: %v", err)
	}
	t.Cleanup(func() { _, _ = stack.Destroy(context.Background()) })

	first := make(chan error, 1)
	go func() { _, err := stack.Up(ctx); first <- err }()
	waitForLock(t, ctx, store)
	_, second := stack.Up(ctx)
	if second == nil || !strings.Contains(second.Error(), "the stack is currently locked by 1 lock(s)") {
		t.Errorf("a second concurrent up = %v, want it refused by the lock", second)
	}
	if err := <-first; err != nil {
		t.Fatalf("the first up, against the S3 backend: %v", err)
	}
	res, err := stack.Preview(ctx, lifecycle.PreviewOptions{ExpectNoChanges: true})
	if err != nil {
		t.Fatalf("preview after up (S3 backend): %v\n%s", err, res.StdOut)
	}
	var state []string
	for obj := range store.Client.ListObjects(ctx, "pulumi-state", minio.ListObjectsOptions{Prefix: ".pulumi/stacks/", Recursive: true}) {
		state = append(state, obj.Key)
	}
	if len(state) == 0 {
		t.Error("no stack state in the bucket")
	}
	if _, err := stack.Destroy(ctx); err != nil {
		t.Fatalf("destroy (S3 backend): %v", err)
	}
}

// waitForLock returns once an update holds the stack's lock in the bucket.
func waitForLock(t *testing.T, ctx context.Context, store *localminio.Server) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		for obj := range store.Client.ListObjects(ctx, "pulumi-state", minio.ListObjectsOptions{Prefix: ".pulumi/locks/", Recursive: true}) {
			if obj.Err == nil && strings.HasSuffix(obj.Key, ".json") {
				return
			}
		}
	}
	t.Fatal("the first update never took the lock")
}
