//go:build sandbox

package sandbox_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/seldon-ab/provisioner/internal/doctor"
)

// brokenStates are the field story's failure modes, created beside a healthy sandbox stack. The stuck Model lives
// in a namespace no scheduler owns: in seldon-system the sandbox's Seldon model would unload it and let it go.
const brokenStates = `
apiVersion: v1
kind: Namespace
metadata: {name: seldon-orphan}
---
apiVersion: mlops.seldon.io/v1alpha1
kind: SeldonRuntime
metadata: {name: seldon-second, namespace: seldon-system}
spec:
  seldonConfig: default
  overrides: [{name: seldon-scheduler, serviceType: ClusterIP}]
---
apiVersion: v1
kind: Service
metadata: {name: seldon-scheduler, namespace: seldon-system}
spec: {type: ExternalName, externalName: seldon-scheduler.elsewhere.svc.cluster.local}
---
apiVersion: mlops.seldon.io/v1alpha1
kind: Model
metadata: {name: stuck-predictor, namespace: seldon-orphan, finalizers: [seldon.model.finalizer]}
spec: {storageUri: "s3://mlflow-artifacts/stuck", requirements: [mlflow], secretName: broken-rclone}
---
apiVersion: v1
kind: Secret
metadata: {name: broken-rclone, namespace: seldon-orphan}
stringData: {s3: "not: [an rclone remote"}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: prefixed-mesh
  namespace: seldon-system
  annotations: {nginx.ingress.kubernetes.io/rewrite-target: /$2, pulumi.com/skipAwait: "true"}
spec:
  ingressClassName: nginx
  rules:
  - host: ml-api.local
    http:
      paths:
      - {path: /seldon-system/(.*), pathType: ImplementationSpecific, backend: {service: {name: seldon-mesh, port: {number: 80}}}}
---
apiVersion: v1
kind: Service
metadata: {name: console-outside, namespace: minio, annotations: {metallb.io/loadBalancerIPs: 192.168.2.10}}
spec: {type: LoadBalancer, ports: [{port: 9001}]}
---
apiVersion: v1
kind: Service
metadata: {name: console-taken-ip, namespace: minio, annotations: {metallb.io/loadBalancerIPs: 192.168.1.249}}
spec: {type: LoadBalancer, ports: [{port: 9001}]}
---
apiVersion: v1
kind: Service
metadata: {name: console-misspelt, namespace: minio, annotations: {metallb.universe.tf/loadBalancer-ips: 192.168.1.202}}
spec: {type: LoadBalancer, ports: [{port: 9001}]}
`

func runDoctor(t *testing.T, ctx context.Context) doctor.Report {
	t.Helper()
	live, err := doctor.Connect(env.Kubeconfig, "")
	if err != nil {
		t.Fatal(err)
	}
	rep, err := doctor.Run(ctx, live, "nginx")
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestDoctorFindsEachBrokenState(t *testing.T) {
	ctx := testContext(t, 15*time.Minute)
	stack := openStack(t, ctx, "sandbox", nil)
	if _, err := stack.Up(ctx); err != nil {
		t.Fatalf("up: %v", err)
	}
	manifest := filepath.Join(t.TempDir(), "broken.yaml")
	if err := os.WriteFile(manifest, []byte(brokenStates), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = env.Kubectl(ctx, "-n", "seldon-orphan", "patch", "model", "stuck-predictor", "--type", "merge", "-p", `{"metadata":{"finalizers":null}}`)
		// Without waiting: the second runtime keeps its finalizer until the stack's Server goes in the destroy.
		_, _ = env.Kubectl(ctx, "delete", "--ignore-not-found", "--wait=false", "-f", manifest)
		_, _ = stack.Destroy(ctx)
	})

	healthy := runDoctor(t, ctx)
	if !healthy.Simulated || healthy.Worst() == doctor.Error {
		t.Fatalf("the healthy sandbox stack reports errors (simulated=%t):\n%s", healthy.Simulated, text(healthy))
	}

	if _, err := env.Kubectl(ctx, "apply", "-f", manifest); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Kubectl(ctx, "-n", "seldon-orphan", "delete", "model", "stuck-predictor", "--wait=false"); err != nil {
		t.Fatal(err)
	}
	// The real MetalLB controller refuses the two Services it cannot serve, each with its own reason.
	refusals := []string{
		`MetalLB: Failed to allocate IP for "minio/console-outside": ["192.168.2.10"] is not allowed in config`,
		`MetalLB: Failed to allocate IP for "minio/console-taken-ip": can't change sharing key for "minio/console-taken-ip", address also in use by ingress-nginx/ingress-nginx-controller`,
	}
	rep := runDoctor(t, ctx)
	for deadline := time.Now().Add(time.Minute); !containsAll(text(rep), refusals) && time.Now().Before(deadline); {
		time.Sleep(time.Second)
		rep = runDoctor(t, ctx)
	}
	if rep.Worst() != doctor.Error {
		t.Fatalf("no error found:\n%s", text(rep))
	}
	report := text(rep)
	for _, want := range refusals {
		if !strings.Contains(report, want) {
			t.Errorf("doctor did not quote MetalLB's refusal %q:\n%s", want, report)
		}
	}
	if ip := kubeJSON(t, ctx, "-n", "ingress-nginx", "get", "service", "ingress-nginx-controller"); field(ip, "status", "loadBalancer", "ingress", 0, "ip") != "192.168.1.249" {
		t.Errorf("the ingress lost its IP to a later Service asking for it: %v", field(ip, "status"))
	}
	for _, want := range []string{
		"namespace seldon-system already has SeldonRuntime",                            // two runtimes
		"ExternalName seldon-scheduler collides",                                       // alias beside a runtime
		"Model seldon-orphan/stuck-predictor\n  is stuck Terminating",                  // finalizer
		"no SeldonRuntime there runs one",                                              // ... and why
		"uses $2 but path \"/seldon-system/(.*)\" has 1 capture group(s)",              // bad rewrite
		"requests 192.168.2.10, outside every IPAddressPool",                           // IP outside the pool
		"annotation \"metallb.universe.tf/loadBalancer-ips\" is not one MetalLB reads", // misspelt annotation
		"key s3 is not an rclone remote",                                               // malformed rclone Secret
	} {
		if !strings.Contains(report, want) {
			t.Errorf("doctor did not report %q:\n%s", want, report)
		}
	}
}

func containsAll(s string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

func text(r doctor.Report) string {
	var b strings.Builder
	r.WriteText(&b)
	return b.String()
}
