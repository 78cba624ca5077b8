//go:build sandbox

package sandbox_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/seldon-ab/provisioner/internal/lifecycle"
)

// addSecondModelNamespace gives the sandbox stack a second model namespace with its own Server and a Model.
func addSecondModelNamespace(c map[string]any) {
	sd := c["seldon-ab:seldon"].(map[string]any)
	sd["modelNamespaces"] = []any{"seldon-system", "models-b"}
	sd["servers"] = append(sd["servers"].([]any), map[string]any{"name": "mlserver", "namespace": "models-b"})
	c["seldon-ab:models"] = append(c["seldon-ab:models"].([]any), map[string]any{
		"name": "challenger", "namespace": "models-b", "storageUri": "s3://mlflow-artifacts/challenger",
		"requirements": []any{"mlflow"}, "memory": "512Mi", "server": "mlserver"})
	// Its agent loads it only if its files are in the store.
	store := c["seldon-ab:modelStore"].(map[string]any)
	store["seed"] = append(store["seed"].([]any), map[string]any{
		"source": "testdata/artifacts/enhanced-predictor", "bucket": "mlflow-artifacts", "prefix": "challenger"})
}

// waitFor polls check until it returns "" (done) or the deadline passes, then fails with its last answer.
func waitFor(t *testing.T, what string, d time.Duration, check func() string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		last := check()
		if last == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still %s after %s", what, last, d)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// exists reports whether kubectl finds the object.
func exists(ctx context.Context, args ...string) bool {
	_, err := env.Kubectl(ctx, append([]string{"get"}, args...)...)
	return err == nil
}

// TestSecondModelNamespaceAndTeardownWithFinalizers runs the sandbox stack with two model namespaces against the
// simulation of Seldon's control plane: both reconciled only because the controller is clusterwide, the runtime
// deleted before its Models as a user might, doctor's account of it and its way out, and a destroy that leaves no
// finalizer behind.
func TestSecondModelNamespaceAndTeardownWithFinalizers(t *testing.T) {
	ctx := testContext(t, 25*time.Minute)
	stack := openStack(t, ctx, "sandbox", addSecondModelNamespace)
	refreshing, err := env.Open(ctx, "sandbox", t.TempDir(), addSecondModelNamespace, func(o *lifecycle.Options) { o.Refresh = true })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = stack.Destroy(ctx) })

	t.Run("up waits until both namespaces are reconciled", func(t *testing.T) {
		if _, err := stack.Up(ctx); err != nil {
			t.Fatalf("up: %v", err)
		}
		assertSeldonReady(t, ctx, "seldon-system", []string{"baseline-predictor", "enhanced-predictor"}, "financial-ab-test-experiment")
		assertSeldonReady(t, ctx, "models-b", []string{"challenger"}, "")
		controller := kubeJSON(t, ctx, "-n", "seldon-system", "get", "deployment", "seldon-v2-controller-manager")
		envs := map[string]string{}
		for _, e := range field(controller, "spec", "template", "spec", "containers", 0, "env").([]any) {
			if v, ok := field(e, "value").(string); ok {
				envs[field(e, "name").(string)] = v
			}
		}
		if envs["CLUSTERWIDE"] != "true" || envs["WATCH_NAMESPACES"] != "seldon-system,models-b" {
			t.Errorf("controller CLUSTERWIDE=%q WATCH_NAMESPACES=%q", envs["CLUSTERWIDE"], envs["WATCH_NAMESPACES"])
		}
	})

	t.Run("the runtime deleted before its Model: stuck, named by doctor, and the way out", func(t *testing.T) {
		// Foreground, as Pulumi deletes: the scheduler the runtime owns goes first.
		if _, err := env.Kubectl(ctx, "-n", "models-b", "delete", "seldonruntime", "seldon", "--cascade=foreground", "--wait=false"); err != nil {
			t.Fatal(err)
		}
		// The garbage collector removes the scheduler StatefulSet the runtime owns first; a Model deleted before that
		// would still be unloaded by it.
		waitFor(t, "the scheduler's removal", time.Minute, func() string {
			if exists(ctx, "-n", "models-b", "statefulset", "seldon-scheduler") {
				return "present"
			}
			return ""
		})
		if _, err := env.Kubectl(ctx, "-n", "models-b", "delete", "model", "challenger", "--wait=false"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(3 * time.Second) // many passes of the model: what is still there is stuck
		stuckUID := field(kubeJSON(t, ctx, "-n", "models-b", "get", "model", "challenger"), "metadata", "uid")
		for _, obj := range [][]string{{"seldonruntime", "seldon"}, {"model", "challenger"}} {
			o := kubeJSON(t, ctx, "-n", "models-b", "get", obj[0], obj[1])
			if field(o, "metadata", "deletionTimestamp") == nil || field(o, "metadata", "finalizers", 0) == nil {
				t.Fatalf("%s models-b/%s is not stuck Terminating on a finalizer: %v", obj[0], obj[1], field(o, "metadata"))
			}
		}
		report := text(runDoctor(t, ctx))
		for _, want := range []string{
			"SeldonRuntime models-b/seldon\n  is stuck Terminating on finalizers [seldon.runtime.finalizer]: a SeldonRuntime keeps its finalizer while Servers remain in models-b",
			"Model models-b/challenger\n  is stuck Terminating on finalizers [seldon.model.finalizer]: deleting it asks the scheduler of models-b to unload it",
		} {
			if !strings.Contains(report, want) {
				t.Errorf("doctor did not report %q:\n%s", want, report)
			}
		}
		// The way out doctor gives: the Servers next, then the scheduler back (pulumi up --refresh).
		if _, err := env.Kubectl(ctx, "-n", "models-b", "delete", "servers", "--all"); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the runtime's deletion", time.Minute, func() string {
			if exists(ctx, "-n", "models-b", "seldonruntime", "seldon") {
				return "present"
			}
			return ""
		})
		if _, err := refreshing.Up(ctx); err != nil {
			t.Fatalf("up --refresh: %v", err)
		}
		// The stuck Model goes once the scheduler is back; the same up may already have created the stack's
		// Model of that name again, so it is the stuck object (its uid) that must be gone.
		waitFor(t, "the stuck Model's deletion once the scheduler is back", time.Minute, func() string {
			out, err := env.Kubectl(ctx, "-n", "models-b", "get", "model", "challenger", "-o", "jsonpath={.metadata.uid}")
			if err == nil && out == stuckUID {
				return "present"
			}
			return ""
		})
		if _, err := refreshing.Up(ctx); err != nil {
			t.Fatalf("second up --refresh: %v", err)
		}
		assertSeldonReady(t, ctx, "models-b", []string{"challenger"}, "")
	})

	t.Run("with clusterwide false the second namespace is left alone, as upstream does", func(t *testing.T) {
		setClusterwide := func(value string) {
			t.Helper()
			if _, err := env.Kubectl(ctx, "-n", "seldon-system", "set", "env", "deployment/seldon-v2-controller-manager",
				"-c", "manager", "CLUSTERWIDE="+value); err != nil {
				t.Fatal(err)
			}
		}
		setClusterwide("false") // the field setup's controller.clusterwide
		defer setClusterwide("true")
		late := filepath.Join(t.TempDir(), "late.yaml")
		manifest := "apiVersion: mlops.seldon.io/v1alpha1\nkind: Model\nmetadata: {name: late, namespace: models-b}\n" +
			"spec: {storageUri: s3://mlflow-artifacts/late, requirements: [mlflow], memory: 100Mi}\n"
		if err := os.WriteFile(late, []byte(manifest), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := env.Kubectl(ctx, "apply", "-f", late); err != nil {
			t.Fatal(err)
		}
		time.Sleep(3 * time.Second)
		o := kubeJSON(t, ctx, "-n", "models-b", "get", "model", "late")
		if field(o, "status") != nil || field(o, "metadata", "finalizers") != nil {
			t.Errorf("a Model in an unwatched namespace was reconciled: %v", o)
		}
		if _, err := env.Kubectl(ctx, "-n", "models-b", "delete", "model", "late"); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("destroy leaves no object, no Terminating namespace and no finalizer", func(t *testing.T) {
		if _, err := stack.Destroy(ctx); err != nil {
			t.Fatalf("destroy: %v", err)
		}
		assertDestroyed(t, ctx)
		waitFor(t, "namespace models-b", time.Minute, func() string {
			if exists(ctx, "namespace", "models-b") {
				return "present"
			}
			return ""
		})
	})
}
