package charts_test

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"gopkg.in/yaml.v3"

	"github.com/seldon-ab/provisioner/components/seldon"
)

// The pinned CRD chart through the Seldon component's transform, as the Go SDK hands a chart's object to a
// transform (pulumi.Map, Array, String, Float64, Bool: sdk/go/pulumi/rpc.go, unmarshalPropertyMap): every CRD keeps
// its schema but for the descriptions inside the Kubernetes types it embeds, and Seldon's own fields keep theirs.
func TestTheCRDsLoseOnlyTheDescriptionsOfTheKubernetesTypesTheyEmbed(t *testing.T) {
	before, after := 0, 0
	for _, doc := range renderPinnedSeldon(t, "seldon-core-v2-crds") {
		_, body, _ := strings.Cut(doc, "\n")
		var crd map[string]any
		if err := yaml.Unmarshal([]byte(body), &crd); err != nil || crd["kind"] != "CustomResourceDefinition" {
			continue
		}
		name := crd["metadata"].(map[string]any)["name"].(string)
		result := seldon.DropEmbeddedDescriptions(context.Background(), &pulumi.ResourceTransformArgs{
			Type: "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition", Props: toInput(crd).(pulumi.Map)})
		if result == nil {
			t.Fatalf("%s: not transformed", name)
		}
		dropped := fromInput(result.Props).(map[string]any)
		before, after = before+jsonSize(t, crd), after+jsonSize(t, dropped)
		if !reflect.DeepEqual(withoutDescriptions(dropped), withoutDescriptions(crd)) {
			t.Errorf("%s: the transform changed more than descriptions", name)
		}
		if name != "servers.mlops.seldon.io" {
			continue
		}
		schema := dig(dropped, "spec", "versions", 0, "schema", "openAPIV3Schema")
		for path, want := range map[string]bool{
			"spec.replicas": true, "spec.serverConfig": true, "spec.podSpec": true, "spec.imageOverrides": true,
			"spec.podSpec.containers": false, "spec.podSpec.volumes.[].projected": false, "spec.imageOverrides.agent.image": false,
		} {
			if _, described := schemaAt(schema, path)["description"]; described != want {
				t.Errorf("servers: %s described=%t, want %t", path, described, want)
			}
		}
	}
	if before < 1_100_000 || after > before/3 {
		t.Errorf("the CRDs went from %d to %d bytes of JSON", before, after)
	}
	if seldon.DropEmbeddedDescriptions(context.Background(), &pulumi.ResourceTransformArgs{Type: "kubernetes:core/v1:ConfigMap", Props: pulumi.Map{}}) != nil {
		t.Error("an object other than a CRD was transformed")
	}
}

// schemaAt follows a dotted path of property names ("[]" for an array's items) from an OpenAPI schema.
func schemaAt(schema any, path string) map[string]any {
	for _, name := range strings.Split(path, ".") {
		if name == "[]" {
			schema = dig(schema, "items")
		} else {
			schema = dig(schema, "properties", name)
		}
	}
	node, _ := schema.(map[string]any)
	return node
}

// dig follows map keys (strings) and list indexes (ints).
func dig(v any, path ...any) any {
	for _, key := range path {
		switch k := key.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			a, _ := v.([]any)
			if k >= len(a) {
				return nil
			}
			v = a[k]
		}
	}
	return v
}

// withoutDescriptions is v with every schema description removed (a property named "description" stays).
func withoutDescriptions(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range t {
			if _, isText := e.(string); k != "description" || !isText {
				out[k] = withoutDescriptions(e)
			}
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = withoutDescriptions(e)
		}
		return out
	}
	return v
}

// toInput and fromInput convert between YAML's values and the SDK's; the CRDs' numbers are whole.
func toInput(v any) pulumi.Input {
	switch t := v.(type) {
	case map[string]any:
		m := pulumi.Map{}
		for k, e := range t {
			m[k] = toInput(e)
		}
		return m
	case []any:
		a := make(pulumi.Array, len(t))
		for i, e := range t {
			a[i] = toInput(e)
		}
		return a
	case string:
		return pulumi.String(t)
	case bool:
		return pulumi.Bool(t)
	case int:
		return pulumi.Float64(t)
	}
	return nil
}

func fromInput(v pulumi.Input) any {
	switch t := v.(type) {
	case pulumi.Map:
		m := map[string]any{}
		for k, e := range t {
			m[k] = fromInput(e)
		}
		return m
	case pulumi.Array:
		a := make([]any, len(t))
		for i, e := range t {
			a[i] = fromInput(e)
		}
		return a
	case pulumi.String:
		return string(t)
	case pulumi.Bool:
		return bool(t)
	case pulumi.Float64:
		return int(t)
	}
	return nil
}

func jsonSize(t *testing.T, v any) int {
	t.Helper()
	out, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return len(out)
}
