//go:build sandbox

package sandbox_test

import (
	"strings"
	"testing"
	"time"

	appsv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apps/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optpreview"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/seldon-ab/provisioner/internal/lifecycle"
)

// brokenStack repeats the field story's misspelt MetalLB annotation and puts a credential in plain text.
func brokenStack(ctx *pulumi.Context) error {
	ns, err := corev1.NewNamespace(ctx, "broken", &corev1.NamespaceArgs{Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String("policy-broken")}})
	if err != nil {
		return err
	}
	in := pulumi.DependsOn([]pulumi.Resource{ns})
	if _, err := corev1.NewService(ctx, "console", &corev1.ServiceArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String("minio-console"), Namespace: pulumi.String("policy-broken"),
			Annotations: pulumi.StringMap{"metallb.universe.tf/loadBalancer-ips": pulumi.String("192.168.1.202")}},
		Spec: &corev1.ServiceSpecArgs{Type: pulumi.String("LoadBalancer"),
			Ports: corev1.ServicePortArray{&corev1.ServicePortArgs{Port: pulumi.Int(9001)}}},
	}, in); err != nil {
		return err
	}
	_, err = appsv1.NewDeployment(ctx, "minio", &appsv1.DeploymentArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String("minio"), Namespace: pulumi.String("policy-broken")},
		Spec: &appsv1.DeploymentSpecArgs{
			Selector: &metav1.LabelSelectorArgs{MatchLabels: pulumi.StringMap{"app": pulumi.String("minio")}},
			Template: &corev1.PodTemplateSpecArgs{
				Metadata: &metav1.ObjectMetaArgs{Labels: pulumi.StringMap{"app": pulumi.String("minio")}},
				Spec: &corev1.PodSpecArgs{Containers: corev1.ContainerArray{&corev1.ContainerArgs{
					Name: pulumi.String("minio"), Image: pulumi.String("quay.io/minio/minio:RELEASE.2024-12-18T13-15-44Z"),
					Env: corev1.EnvVarArray{&corev1.EnvVarArgs{Name: pulumi.String("MINIO_ROOT_PASSWORD"), Value: pulumi.String("hunter2-in-plain-text")}},
					Resources: &corev1.ResourceRequirementsArgs{
						Requests: pulumi.StringMap{"cpu": pulumi.String("10m"), "memory": pulumi.String("64Mi")},
						Limits:   pulumi.StringMap{"memory": pulumi.String("256Mi")},
					},
				}}},
			},
		},
	}, in)
	return err
}

func TestPoliciesStopABrokenStackAtPreview(t *testing.T) {
	ctx := testContext(t, 10*time.Minute)
	pack, err := lifecycle.PolicyPack(env.Root)
	if err != nil {
		t.Fatal(err)
	}
	stack, err := env.InlineStack(ctx, "seldon-ab-policy-test", "broken", brokenStack)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = stack.Destroy(ctx) })

	_, err = stack.Preview(ctx, optpreview.PolicyPacks(pack))
	if err == nil {
		t.Fatal("the broken stack passed its preview")
	}
	for _, want := range []string{"metallb-annotation", "metallb.universe.tf/loadBalancer-ips", "secrets-are-secret", "sets MINIO_ROOT_PASSWORD in plain text"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("preview output lacks %q:\n%s", want, err)
		}
	}
	if out, err := env.Kubectl(ctx, "get", "namespace", "policy-broken"); err == nil {
		t.Errorf("the refused preview created objects: %s", out)
	}
	// Even an update that skips its preview (as the Automation API's does) stops each violating object before it
	// is created: those rules run per resource.
	if _, err := stack.Up(ctx, optup.PolicyPacks(pack)); err == nil {
		t.Fatal("the broken stack went up")
	}
	for _, obj := range []string{"service/minio-console", "deployment/minio"} {
		if out, err := env.Kubectl(ctx, "-n", "policy-broken", "get", obj); err == nil {
			t.Errorf("the refused up created %s: %s", obj, out)
		}
	}
}
