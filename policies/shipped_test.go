package policies_test

import (
	"path/filepath"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"github.com/seldon-ab/provisioner/infra/program"
	"github.com/seldon-ab/provisioner/internal/pulumitest"
	"github.com/seldon-ab/provisioner/policies"
)

func fromResourceValue(v resource.PropertyValue) any {
	switch {
	case v.IsSecret():
		return policies.Secret{Value: fromResourceValue(v.SecretValue().Element)}
	case v.IsComputed() || v.IsOutput() && !v.OutputValue().Known:
		return policies.Unknown{}
	case v.IsOutput():
		return fromResourceValue(v.OutputValue().Element)
	case v.IsObject():
		out := map[string]any{}
		for k, e := range v.ObjectValue() {
			out[string(k)] = fromResourceValue(e)
		}
		return out
	case v.IsArray():
		var out []any
		for _, e := range v.ArrayValue() {
			out = append(out, fromResourceValue(e))
		}
		return out
	}
	return v.V
}

// The shipped stacks' own objects (chart-rendered ones are checked in the sandbox preview) break no mandatory rule.
func TestShippedStacksPassEveryMandatoryRule(t *testing.T) {
	root, _ := filepath.Abs("..")
	for _, stack := range []string{"homelab", "sandbox"} {
		cfg := pulumitest.StackFileConfig(t, root, stack).
			WithSecret("seldon-ab:modelStoreAccessKey", "admin").
			WithSecret("seldon-ab:modelStoreSecretKey", "long-enough-secret")
		if stack == "sandbox" {
			cfg.Values["seldon-ab:cluster"] = `{"identifier":"sandbox","preflight":false}`
		}
		g, err := pulumitest.Run(t, program.Program, stack, root, cfg)
		if err != nil {
			t.Fatalf("%s: %v", stack, err)
		}
		var resources []policies.Resource
		for _, r := range g.Snapshot() {
			props, _ := fromResourceValue(resource.NewObjectProperty(r.Inputs)).(map[string]any)
			resources = append(resources, policies.Resource{Type: r.Type, Name: r.Name, URN: "urn::" + r.Name, Parent: r.Parent, Props: props})
		}
		for _, rule := range policies.Rules {
			if !rule.Mandatory {
				continue
			}
			for _, v := range rule.Check(resources) {
				t.Errorf("%s breaks %s: %s", stack, rule.Name, v.Message)
			}
		}
		if len(resources) < 20 {
			t.Fatalf("%s registered only %d resources", stack, len(resources))
		}
	}
}
