package charts_test

import (
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/propertyrpc"
	"gopkg.in/yaml.v3"
)

// BenchmarkCRDDecoding measures what every Pulumi process pays to decode one of Seldon's CRDs from a gRPC message,
// as the engine and the Kubernetes provider do for each Check, Diff and registration: plugin.UnmarshalProperties.
// Beside it, the same message decoded in one pass by propertyrpc.Unmarshal, as the policy pack decodes it.
// UnmarshalProperties turns every nested object back into a Go map to look for an asset signature
// (resource/plugin/rpc.go: obj.Mappable()), so its cost grows with size times depth; the CRDs whose schemas embed a
// PodSpec are the deep ones. Run: go test -run '^$' -bench CRDDecoding ./tests/charts/
func BenchmarkCRDDecoding(b *testing.B) {
	for _, doc := range renderPinnedSeldon(b, "seldon-core-v2-crds") {
		_, body, _ := strings.Cut(doc, "\n")
		var crd map[string]any
		if err := yaml.Unmarshal([]byte(body), &crd); err != nil || crd["kind"] != "CustomResourceDefinition" {
			continue
		}
		name := crd["metadata"].(map[string]any)["name"].(string)
		if name != "models.mlops.seldon.io" && name != "servers.mlops.seldon.io" {
			continue
		}
		message, err := plugin.MarshalProperties(resource.NewPropertyMapFromMap(crd), plugin.MarshalOptions{})
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name+"/UnmarshalProperties", func(b *testing.B) {
			for b.Loop() {
				if _, err := plugin.UnmarshalProperties(message, plugin.MarshalOptions{KeepUnknowns: true, SkipNulls: true, KeepSecrets: true}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/propertyrpc", func(b *testing.B) {
			for b.Loop() {
				if _, err := propertyrpc.Unmarshal(message); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
