//go:build sandbox

package sandbox_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/seldon-ab/provisioner/internal/verify"
)

// TestTheVerdictNamesTheBrokenLayer: with the sandbox stack up (its verdict through the ingress passed), each
// layer of the data path is broken in turn, the way the field story broke it, and the verifier, run as `seldon-ab
// verify` runs it, must fail naming that layer.
func TestTheVerdictNamesTheBrokenLayer(t *testing.T) {
	ctx := testContext(t, 20*time.Minute)
	stack := openStack(t, ctx, "sandbox", nil)
	t.Cleanup(func() { _, _ = stack.Destroy(ctx) })
	if _, err := stack.Up(ctx); err != nil {
		t.Fatalf("up (its verification included): %v", err)
	}

	verdict := func(t *testing.T, flags ...string) verify.Suite {
		t.Helper()
		overrides := pflag.NewFlagSet("verify", pflag.ContinueOnError)
		verify.AddFlags(overrides)
		if err := overrides.Parse(append(flags, "--deadline", "20s")); err != nil {
			t.Fatal(err)
		}
		rep, err := stack.Verify(ctx, false, overrides)
		if err == nil {
			t.Fatalf("the verdict passed with %v:\n%s", flags, rep.Summary())
		}
		return rep
	}
	names := func(t *testing.T, rep verify.Suite, layer, fragment string) {
		t.Helper()
		for _, f := range rep.Findings() {
			if f.Layer == layer && strings.Contains(f.Problem+" "+f.Cause, fragment) {
				return
			}
		}
		t.Errorf("no %s finding mentioning %q:\n%s", layer, fragment, rep.Summary())
	}
	apply := func(t *testing.T, manifest string) {
		t.Helper()
		path := filepath.Join(t.TempDir(), "broken.yaml")
		if err := os.WriteFile(path, []byte(manifest), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := env.Kubectl(ctx, "apply", "-f", path); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _, _ = env.Kubectl(ctx, "delete", "--ignore-not-found", "-f", path) })
	}

	t.Run("a host no Ingress serves: NGINX's own 404", func(t *testing.T) {
		names(t, verdict(t, "--host", "wrong.local"), verify.LayerIngress, "no Ingress rule matched")
	})

	t.Run("a rewrite that strips /v2: envoy finds no route", func(t *testing.T) {
		// The field story's Ingress: a path prefix rewritten to a fixed "/".
		apply(t, `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: stripped
  namespace: seldon-system
  annotations: {nginx.ingress.kubernetes.io/rewrite-target: /}
spec:
  ingressClassName: nginx
  rules:
  - host: stripped.local
    http:
      paths:
      - {path: /seldon, pathType: Prefix, backend: {service: {name: seldon-mesh, port: {number: 80}}}}
`)
		time.Sleep(time.Second) // the controller's view of the Ingresses
		names(t, verdict(t, "--host", "stripped.local", "--url", "http://192.168.1.249/seldon"), verify.LayerMesh, "does not start with /v2")
	})

	t.Run("a seldon-model header that names nothing: envoy finds no route", func(t *testing.T) {
		names(t, verdict(t, "--experiment", "no-such-experiment::baseline-predictor=50,enhanced-predictor=50"), verify.LayerMesh, "envoy answered 404")
	})

	t.Run("a drifted split: the Experiment served at 50/50", func(t *testing.T) {
		if _, err := env.Kubectl(ctx, "-n", "seldon-system", "patch", "experiment", "financial-ab-test-experiment", "--type", "json", "-p",
			`[{"op":"replace","path":"/spec/candidates/0/weight","value":50},{"op":"replace","path":"/spec/candidates/1/weight","value":50}]`); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_, _ = env.Kubectl(ctx, "-n", "seldon-system", "patch", "experiment", "financial-ab-test-experiment", "--type", "json", "-p",
				`[{"op":"replace","path":"/spec/candidates/0/weight","value":70},{"op":"replace","path":"/spec/candidates/1/weight","value":30}]`)
		})
		time.Sleep(time.Second) // the scheduler's next pass
		names(t, verdict(t, "--requests", "2000"), verify.LayerExperiment, "")
	})

	t.Run("a candidate whose new version fits no Server: the experiment goes inactive", func(t *testing.T) {
		if _, err := env.Kubectl(ctx, "-n", "seldon-system", "patch", "model", "enhanced-predictor", "--type", "merge", "-p",
			`{"spec":{"memory":"10Gi"}}`); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the candidate's new version to fail scheduling", time.Minute, func() string {
			if c := conditions(t, ctx, "-n", "seldon-system", "get", "model", "enhanced-predictor"); !strings.HasPrefix(c["Ready"], "False") {
				return c["Ready"]
			}
			return ""
		})
		names(t, verdict(t), verify.LayerMesh, "not active")
	})
}
