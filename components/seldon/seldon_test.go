package seldon_test

import (
	"context"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/seldon-ab/provisioner/components/seldon"
)

// controllerProps is the shape the engine hands a transform for the setup chart's controller Deployment.
func controllerProps() pulumi.Map {
	return pulumi.Map{
		"metadata": pulumi.Map{"name": pulumi.String(seldon.ControllerDeployment)},
		"spec": pulumi.Map{"template": pulumi.Map{"spec": pulumi.Map{"containers": pulumi.Array{
			pulumi.Map{"name": pulumi.String("manager"), "env": pulumi.Array{
				pulumi.Map{"name": pulumi.String("CLUSTERWIDE"), "value": pulumi.String("false")},
			}},
		}}}},
	}
}

func envOf(t *testing.T, props pulumi.Map) map[string]string {
	t.Helper()
	containers := props["spec"].(pulumi.Map)["template"].(pulumi.Map)["spec"].(pulumi.Map)["containers"].(pulumi.Array)
	env := map[string]string{}
	for _, e := range containers[0].(pulumi.Map)["env"].(pulumi.Array) {
		m := e.(pulumi.Map)
		env[string(m["name"].(pulumi.String))] = string(m["value"].(pulumi.String))
	}
	return env
}

func TestAddControllerEnvKeepsTheChartsEnvAndAddsOurs(t *testing.T) {
	transform := seldon.AddControllerEnv(map[string]string{"LOG_LEVEL": "debug"})
	res := transform(context.Background(), &pulumi.ResourceTransformArgs{Type: "kubernetes:apps/v1:Deployment", Props: controllerProps()})
	if res == nil {
		t.Fatal("the controller Deployment was not transformed")
	}
	env := envOf(t, res.Props)
	if env["LOG_LEVEL"] != "debug" || env["CLUSTERWIDE"] != "false" {
		t.Errorf("env = %v", env)
	}
}

func TestAddControllerEnvLeavesOtherObjectsAlone(t *testing.T) {
	transform := seldon.AddControllerEnv(map[string]string{"LOG_LEVEL": "debug"})
	other := controllerProps()
	other["metadata"] = pulumi.Map{"name": pulumi.String("seldon-envoy")}
	for _, args := range []*pulumi.ResourceTransformArgs{
		{Type: "kubernetes:apps/v1:Deployment", Props: other},
		{Type: "kubernetes:apps/v1:StatefulSet", Props: controllerProps()},
	} {
		if transform(context.Background(), args) != nil {
			t.Errorf("%s %v was transformed", args.Type, args.Props["metadata"])
		}
	}
}
