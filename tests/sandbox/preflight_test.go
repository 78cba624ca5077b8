//go:build sandbox

package sandbox_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/seldon-ab/provisioner/internal/lifecycle"
)

// k3sServiceLB is what k3s's ServiceLB runs for a LoadBalancer Service (here Traefik's), as a fresh k3s has it.
const k3sServiceLB = `
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: svclb-traefik-3f2a1b
  namespace: kube-system
  labels: {svccontroller.k3s.cattle.io/svcname: traefik}
spec:
  selector: {matchLabels: {app: svclb-traefik-3f2a1b}}
  template:
    metadata: {labels: {app: svclb-traefik-3f2a1b}}
    spec:
      containers: [{name: lb-tcp-80, image: rancher/klipper-lb:v0.4.9}]
`

// With k3s's ServiceLB active, preview and up stop before anything is created and say which k3s flag to set.
func TestPreflightStopsAClusterWithServiceLB(t *testing.T) {
	ctx := testContext(t, 5*time.Minute)
	manifest := filepath.Join(t.TempDir(), "svclb.yaml")
	if err := os.WriteFile(manifest, []byte(k3sServiceLB), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Kubectl(ctx, "apply", "-f", manifest); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = env.Kubectl(ctx, "delete", "--ignore-not-found", "-f", manifest) })
	stack := openStack(t, ctx, "sandbox", nil)
	before := namespaces(t, ctx)
	_, previewErr := stack.Preview(ctx, lifecycle.PreviewOptions{})
	_, upErr := stack.Up(ctx)
	for name, err := range map[string]error{"preview": previewErr, "up": upErr} {
		if err == nil {
			t.Fatalf("%s went ahead with ServiceLB active", name)
		}
		for _, want := range []string{"DaemonSet kube-system/svclb-traefik-3f2a1b: k3s ServiceLB is answering LoadBalancer Services",
			"--disable servicelb", "nothing was changed"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s error lacks %q:\n%v", name, want, err)
			}
		}
	}
	if after := namespaces(t, ctx); len(after) != len(before) {
		t.Errorf("the cluster changed: namespaces %v -> %v", before, after)
	}
}
