//go:build sandbox

package sandbox_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"

	"github.com/seldon-ab/provisioner/internal/lifecycle"
)

// stackNamespaces are the namespaces the sandbox stack creates.
var stackNamespaces = []string{"metallb-system", "ingress-nginx", "minio", "seldon-system"}

func testContext(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// kubeJSON reads an object (or list) from the API server as JSON.
func kubeJSON(t *testing.T, ctx context.Context, args ...string) map[string]any {
	t.Helper()
	out, err := env.Kubectl(ctx, append(args, "-o", "json")...)
	if err != nil {
		t.Fatal(err)
	}
	var obj map[string]any
	if err := json.Unmarshal([]byte(out), &obj); err != nil {
		t.Fatalf("kubectl %v: %v", args, err)
	}
	return obj
}

func field(obj any, path ...any) any {
	for _, step := range path {
		switch s := step.(type) {
		case string:
			m, _ := obj.(map[string]any)
			obj = m[s]
		case int:
			l, _ := obj.([]any)
			if s >= len(l) {
				return nil
			}
			obj = l[s]
		}
	}
	return obj
}

func namespaces(t *testing.T, ctx context.Context) map[string]string {
	t.Helper()
	phases := map[string]string{}
	for _, item := range field(kubeJSON(t, ctx, "get", "namespaces"), "items").([]any) {
		phases[field(item, "metadata", "name").(string)] = field(item, "status", "phase").(string)
	}
	return phases
}

// openStack opens stack through the lifecycle on the tests' cluster, its stack file edited by mutate (may be nil).
func openStack(t *testing.T, ctx context.Context, stack string, mutate func(cfg map[string]any)) *lifecycle.Stack {
	t.Helper()
	s, err := env.Open(ctx, stack, t.TempDir(), mutate)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// freshStack opens the sandbox stack (its file as mutate changes it) with nothing deployed, whatever an earlier run
// left, and destroys what the test deployed when it ends.
func freshStack(t *testing.T, ctx context.Context, mutate func(cfg map[string]any)) *lifecycle.Stack {
	t.Helper()
	stack := openStack(t, ctx, "sandbox", mutate)
	if _, err := stack.Destroy(ctx); err != nil {
		t.Fatalf("initial destroy: %v", err)
	}
	t.Cleanup(func() {
		if _, err := stack.Destroy(context.Background()); err != nil {
			t.Errorf("final destroy: %v", err)
		}
	})
	return stack
}

// TestSandboxLifecycle is one user's session, through the lifecycle `seldon-ab` runs: a broken stack file
// refused, up (seeds and all), a no-change preview, destroy, up again, an interrupted up refused until recover,
// a recreated cluster's stale state put aside, and a final destroy.
func TestSandboxLifecycle(t *testing.T) {
	ctx := testContext(t, 30*time.Minute)
	stack := openStack(t, ctx, "sandbox", nil)
	// Start from nothing, whatever an earlier run left.
	if _, err := stack.Destroy(ctx); err != nil {
		t.Fatalf("initial destroy: %v", err)
	}

	t.Run("a bad stack file fails before any object is created", func(t *testing.T) {
		before := namespaces(t, ctx)
		_, err := env.Open(ctx, "sandbox", t.TempDir(), func(c map[string]any) {
			c["seldon-ab:ingress"].(map[string]any)["loadBalancerIP"] = "10.0.0.9"
		})
		if err == nil || !strings.Contains(err.Error(), "seldon-ab:ingress.loadBalancerIP") || !strings.Contains(err.Error(), "10.0.0.9") {
			t.Fatalf("want the error to name ingress.loadBalancerIP and its value, got %v", err)
		}
		if after := namespaces(t, ctx); len(after) != len(before) {
			t.Errorf("the cluster changed: namespaces %v -> %v", before, after)
		}
	})

	t.Run("up creates every object with the fields the stack asks for", func(t *testing.T) {
		res, err := stack.Up(ctx)
		if err != nil {
			t.Fatalf("up: %v", err)
		}
		if res.Summary.Result != "succeeded" {
			t.Fatalf("up result %s", res.Summary.Result)
		}
		assertSandboxObjects(t, ctx)
		if ip := res.Outputs["ingressIP"].Value; ip != "192.168.1.249" {
			t.Errorf("ingressIP output = %v", ip)
		}
		if !res.Outputs["rcloneConfig"].Secret {
			t.Error("the rclone config output is not a secret")
		}
		assertArtifacts(t, ctx, stack)
	})

	t.Run("a second preview shows no changes", func(t *testing.T) {
		assertNoChanges(t, ctx, stack)
	})

	t.Run("destroy leaves nothing behind but the retained model volume", func(t *testing.T) {
		if _, err := stack.Destroy(ctx); err != nil {
			t.Fatalf("destroy: %v", err)
		}
		assertDestroyed(t, ctx)
	})

	t.Run("up again after destroy converges", func(t *testing.T) {
		if _, err := stack.Up(ctx); err != nil {
			t.Fatalf("second up: %v", err)
		}
		assertSandboxObjects(t, ctx)
		assertNoChanges(t, ctx, stack)
	})

	t.Run("an interrupted up is refused until recover, then converges", func(t *testing.T) {
		if _, err := stack.Destroy(ctx); err != nil {
			t.Fatalf("destroy: %v", err)
		}
		// The update's CLI is killed once it holds the stack's lock, as a closed terminal or Ctrl-C twice does: a
		// graceful interrupt would release the lock.
		killed := make(chan int, 1)
		go func() { killed <- killLockHolder(t, ctx, "sandbox") }()
		_, err := stack.Up(ctx)
		if pid := <-killed; err == nil || pid == 0 {
			t.Fatalf("the up was not interrupted (killed pid %d): %v", pid, err)
		}
		// The killed CLI's lock stays: the next command names the way out instead of Pulumi's bare "locked".
		_, err = stack.Up(ctx)
		if err == nil || !strings.Contains(err.Error(), "no longer runs on this machine") || !strings.Contains(err.Error(), "seldon-ab recover --stack sandbox") {
			t.Fatalf("want the dead process's lock refused with the way out, got %v", err)
		}
		if err := stack.Recover(ctx); err != nil {
			t.Fatalf("recover: %v", err)
		}
		if _, err := stack.Up(ctx); err != nil {
			t.Fatalf("up after recover: %v", err)
		}
		assertSandboxObjects(t, ctx)
		assertNoChanges(t, ctx, stack)
	})

	t.Run("a recreated cluster's state is saved and put aside, and up creates everything anew", func(t *testing.T) {
		// As after a reboot or a k3s reinstall: a new cluster, and a state that lists objects of the old one.
		if err := env.Recreate(); err != nil {
			t.Fatal(err)
		}
		stack = openStack(t, ctx, "sandbox", nil)
		before, _ := filepath.Glob(filepath.Join(env.Root, ".state", "backups", "sandbox-*.json"))
		res, err := stack.Preview(ctx, lifecycle.PreviewOptions{})
		if err != nil {
			t.Fatalf("preview on the recreated cluster: %v", err)
		}
		if res.ChangeSummary[apitype.OpCreate] == 0 {
			t.Errorf("the preview on a recreated cluster changes %v: want everything shown as created", res.ChangeSummary)
		}
		if _, err := stack.Up(ctx); err != nil {
			t.Fatalf("up on the recreated cluster: %v", err)
		}
		after, _ := filepath.Glob(filepath.Join(env.Root, ".state", "backups", "sandbox-*.json"))
		if len(after) != len(before)+1 {
			t.Errorf("no backup of the previous state was written: %v", after)
		}
		for _, f := range after {
			if !slices.Contains(before, f) {
				_ = os.Remove(f)
			}
		}
		assertSandboxObjects(t, ctx)
		assertNoChanges(t, ctx, stack)
	})

	t.Run("final destroy", func(t *testing.T) {
		if _, err := stack.Destroy(ctx); err != nil {
			t.Fatalf("destroy: %v", err)
		}
		assertDestroyed(t, ctx)
	})
}

// killLockHolder waits for a process to take the lock of stack in the tests' backend, kills it with SIGKILL and
// returns its pid.
func killLockHolder(t *testing.T, ctx context.Context, stack string) int {
	for ctx.Err() == nil {
		locks, _ := filepath.Glob(filepath.Join(env.Backend, ".pulumi", "locks", "*", "*", stack, "*.json"))
		for _, path := range locks {
			data, err := os.ReadFile(path)
			var lock struct {
				PID int `json:"pid"`
			}
			if err == nil && json.Unmarshal(data, &lock) == nil && lock.PID > 0 {
				time.Sleep(time.Second) // into the update's first steps
				if err := syscall.Kill(lock.PID, syscall.SIGKILL); err != nil {
					t.Errorf("killing the update's CLI (pid %d): %v", lock.PID, err)
				}
				return lock.PID
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return 0
}

// assertNoChanges previews through the lifecycle, so with the policy pack too: the shipped stack breaks no
// mandatory rule and a second preview changes nothing.
func assertNoChanges(t *testing.T, ctx context.Context, stack *lifecycle.Stack) {
	t.Helper()
	res, err := stack.Preview(ctx, lifecycle.PreviewOptions{ExpectNoChanges: true})
	if err != nil {
		t.Fatalf("preview after up reports changes: %v", err)
	}
	for op, n := range res.ChangeSummary {
		if op != apitype.OpSame && n > 0 {
			t.Errorf("preview after up: %d %s", n, op)
		}
	}
}

func assertSandboxObjects(t *testing.T, ctx context.Context) {
	t.Helper()
	ns := kubeJSON(t, ctx, "get", "namespace", "metallb-system")
	if field(ns, "metadata", "labels", "pod-security.kubernetes.io/enforce") != "privileged" {
		t.Errorf("metallb-system is not privileged: %v", field(ns, "metadata", "labels"))
	}
	pool := kubeJSON(t, ctx, "-n", "metallb-system", "get", "ipaddresspools.metallb.io", "lan")
	if field(pool, "spec", "addresses", 0) != "192.168.1.200-192.168.1.250" {
		t.Errorf("pool addresses = %v", field(pool, "spec", "addresses"))
	}
	l2 := kubeJSON(t, ctx, "-n", "metallb-system", "get", "l2advertisements.metallb.io", "lan")
	if field(l2, "spec", "ipAddressPools", 0) != "lan" {
		t.Errorf("l2 advertisement pools = %v", field(l2, "spec", "ipAddressPools"))
	}
	webhooks := kubeJSON(t, ctx, "get", "validatingwebhookconfiguration", "metallb-webhook-configuration")
	if hooks, _ := field(webhooks, "webhooks").([]any); len(hooks) != 0 {
		t.Errorf("the sandbox keeps %d MetalLB webhooks that no controller answers", len(hooks))
	}
	for _, deployment := range []string{"metallb-controller"} {
		kubeJSON(t, ctx, "-n", "metallb-system", "get", "deployment", deployment)
	}
	kubeJSON(t, ctx, "-n", "metallb-system", "get", "daemonset", "metallb-speaker")

	svc := findLoadBalancer(t, ctx, "ingress-nginx")
	if field(svc, "metadata", "annotations", "metallb.io/loadBalancerIPs") != "192.168.1.249" ||
		field(svc, "status", "loadBalancer", "ingress", 0, "ip") != "192.168.1.249" {
		t.Errorf("ingress Service IP: annotation %v, status %v", field(svc, "metadata", "annotations"), field(svc, "status"))
	}
	class := kubeJSON(t, ctx, "get", "ingressclass", "nginx")
	if field(class, "spec", "controller") != "k8s.io/ingress-nginx" {
		t.Errorf("IngressClass controller = %v", field(class, "spec", "controller"))
	}
	if out, _ := env.Kubectl(ctx, "get", "validatingwebhookconfigurations", "-o", "name"); strings.Contains(out, "ingress-nginx") {
		t.Errorf("an ingress-nginx admission webhook exists without its certificate jobs: %s", out)
	}

	minio := kubeJSON(t, ctx, "-n", "minio", "get", "deployment", "minio")
	if field(minio, "status", "availableReplicas") != float64(1) {
		t.Errorf("MinIO is not available: %v", field(minio, "status"))
	}
	claim := kubeJSON(t, ctx, "-n", "minio", "get", "pvc", "model-store-data")
	if field(claim, "status", "phase") != "Bound" {
		t.Errorf("MinIO's volume is %v", field(claim, "status", "phase"))
	}
	jobs := kubeJSON(t, ctx, "-n", "minio", "get", "jobs")
	if items := field(jobs, "items").([]any); len(items) != 1 || field(items[0], "status", "succeeded") != float64(1) {
		t.Errorf("bucket job did not complete: %v", jobs)
	}
	svcMinio := kubeJSON(t, ctx, "-n", "minio", "get", "service", "minio-console")
	if field(svcMinio, "spec", "type") != "ClusterIP" {
		t.Errorf("the MinIO console is exposed: %v", field(svcMinio, "spec", "type"))
	}
	assertSeldonReady(t, ctx, "seldon-system", []string{"baseline-predictor", "enhanced-predictor"}, "financial-ab-test-experiment")
}

// conditions reads an object's status conditions as type -> "Status: message".
func conditions(t *testing.T, ctx context.Context, args ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	obj := kubeJSON(t, ctx, args...)
	conds, _ := field(obj, "status", "conditions").([]any)
	for _, c := range conds {
		msg, _ := field(c, "message").(string)
		out[field(c, "type").(string)] = strings.TrimSuffix(field(c, "status").(string)+": "+msg, ": ")
	}
	return out
}

// assertSeldonReady checks what `up` waited for, as the sandbox's simulation of Seldon's control plane reported it:
// the runtime's enabled components (its Ready never turns True without Kafka), the Server, the Models and, when
// named, the Experiment; and the finalizers Seldon adds.
func assertSeldonReady(t *testing.T, ctx context.Context, ns string, models []string, experiment string) {
	t.Helper()
	rt := conditions(t, ctx, "-n", ns, "get", "seldonruntime", "seldon")
	if rt["SchedulerReady"] != "True" || rt["EnvoyReady"] != "True" || rt["Ready"] == "True" {
		t.Errorf("runtime %s/seldon conditions = %v", ns, rt)
	}
	if c := conditions(t, ctx, "-n", ns, "get", "server", "mlserver"); c["Ready"] != "True" {
		t.Errorf("server %s/mlserver conditions = %v", ns, c)
	}
	for _, m := range models {
		if c := conditions(t, ctx, "-n", ns, "get", "model", m); c["Ready"] != "True: ModelAvailable" {
			t.Errorf("model %s/%s conditions = %v", ns, m, c)
		}
		if f := field(kubeJSON(t, ctx, "-n", ns, "get", "model", m), "metadata", "finalizers", 0); f != "seldon.model.finalizer" {
			t.Errorf("model %s/%s finalizers %v", ns, m, f)
		}
	}
	if experiment != "" {
		if c := conditions(t, ctx, "-n", ns, "get", "experiment", experiment); c["Ready"] != "True" || c["CandidatesReady"] != "True" {
			t.Errorf("experiment %s/%s conditions = %v", ns, experiment, c)
		}
	}
	// Every rclone Secret an agent loads: the store's and the one the setup chart's SeldonConfig lists.
	for _, secret := range []string{"model-store-rclone", "seldon-rclone-gs-public"} {
		kubeJSON(t, ctx, "-n", ns, "get", "secret", secret)
	}
}

func findLoadBalancer(t *testing.T, ctx context.Context, namespace string) map[string]any {
	t.Helper()
	for _, item := range field(kubeJSON(t, ctx, "-n", namespace, "get", "services"), "items").([]any) {
		if field(item, "spec", "type") == "LoadBalancer" {
			return item.(map[string]any)
		}
	}
	t.Fatalf("no LoadBalancer Service in %s", namespace)
	return nil
}

func assertDestroyed(t *testing.T, ctx context.Context) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		phases := namespaces(t, ctx)
		var left []string
		for _, ns := range stackNamespaces {
			if phase, ok := phases[ns]; ok && !(ns == "minio" && phase == "Active") {
				left = append(left, ns+"="+phase)
			}
		}
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("namespaces left after destroy: %v", left)
		}
		time.Sleep(2 * time.Second)
	}
	// The model volume (and the namespace holding it) outlives destroy unless purgeOnDestroy is set.
	claim := kubeJSON(t, ctx, "-n", "minio", "get", "pvc", "model-store-data")
	if field(claim, "status", "phase") != "Bound" {
		t.Errorf("the retained model volume is %v", field(claim, "status", "phase"))
	}
	for _, kind := range []string{"deployments", "services", "secrets", "jobs"} {
		out, _ := env.Kubectl(ctx, "-n", "minio", "get", kind, "-o", "name")
		for _, name := range strings.Fields(out) {
			t.Errorf("minio still holds %s after destroy", name)
		}
	}
	for _, crd := range []string{"ipaddresspools.metallb.io"} {
		if out, err := env.Kubectl(ctx, "get", "crd", crd); err == nil {
			t.Errorf("CRD %s survived destroy: %s", crd, out)
		}
	}
}
