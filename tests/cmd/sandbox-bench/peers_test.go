package main

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/seldon-ab/provisioner/components/abtest"
	"github.com/seldon-ab/provisioner/components/metallb"
)

// A state in the engine's order: MetalLB's namespace, its chart (and a rendered object), its pool, the store's
// bucket Job, the A/B test's Model and its Experiment (which depends on the Model).
func testDeployment(t *testing.T) *deployment {
	t.Helper()
	obj := func(urn, parent, kind string, deps ...string) map[string]any {
		return map[string]any{"urn": "urn:pulumi:s::p::t::" + urn, "type": "kubernetes:x:" + kind, "custom": true,
			"parent": parent, "dependencies": deps,
			"inputs": map[string]any{"kind": kind, "apiVersion": "v1", "metadata": map[string]any{"name": urn}}}
	}
	u := func(name string) string { return "urn:pulumi:s::p::t::" + name }
	resources := []map[string]any{
		{"urn": u("ab-test"), "type": abtest.Token}, // components are registered before their children
		{"urn": u("lb"), "type": metallb.Token},
		obj("model-store-namespace", "", "Namespace"), // nothing orders it after MetalLB
		obj("metallb-namespace", u("lb"), "Namespace"),
		{"urn": u("metallb"), "type": chartType, "parent": u("lb")},
		obj("metallb-controller", u("metallb"), "Deployment"),
		obj("metallb-pool-lan", u("lb"), "IPAddressPool", u("metallb")),
		obj("model-store-buckets", "", "Job", u("model-store-namespace")),
		obj("model", u("ab-test"), "Model"),
		obj("experiment", u("ab-test"), "Experiment", u("model")),
	}
	state, err := json.Marshal(map[string]any{"deployment": map[string]any{"resources": resources}})
	if err != nil {
		t.Fatal(err)
	}
	d, err := readDeployment(state, seeds{}, map[string]map[string]any{"metallb": {"chart": "/charts/metallb.tgz"}})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func describe(chain []step) [][]string {
	var out [][]string
	for _, s := range chain {
		switch {
		case s.seeds:
			out = append(out, []string{"seeds"})
		case s.release != nil:
			out = append(out, []string{"helm " + s.release.name()})
		default:
			var names []string
			for _, r := range s.objects {
				names = append(names, r.name())
			}
			out = append(out, names)
		}
	}
	return out
}

func TestHelmChainFollowsTheStatesOrderAndWaitsWhereAnObjectNeedsAnother(t *testing.T) {
	got := describe(testDeployment(t).helmChain())
	want := [][]string{
		{"metallb-namespace"}, // MetalLB first: helm --wait awaits LoadBalancer IPs
		{"helm metallb"},      // its rendered Deployment is the release's, not a kubectl object
		{"metallb-pool-lan", "model-store-namespace"},
		{"model-store-buckets"}, // needs its namespace applied first
		{"seeds"},               // before anything of the A/B test, as the stack's own up
		{"model"},
		{"experiment"}, // waits for the Model
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("helm chain\n got %v\nwant %v", got, want)
	}
}

func TestKubectlLimitAppliesEveryObjectInTwoBatchesAroundTheSeeds(t *testing.T) {
	got := describe(testDeployment(t).kubectlLimit())
	want := [][]string{
		{"model-store-namespace", "metallb-namespace", "metallb-controller", "metallb-pool-lan", "model-store-buckets"},
		{"seeds"},
		{"model", "experiment"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("kubectl limit\n got %v\nwant %v", got, want)
	}
}

// The chart values come from the program under mocks, which name an auto-named object <resource>-mock0000; the
// helm chain must install the charts with the names the deployed objects got, or MinIO waits for a Secret that
// does not exist.
func TestChartValuesNameTheDeployedAutoNamedObjects(t *testing.T) {
	resources := []map[string]any{
		{"urn": "urn:pulumi:s::p::t::model-store-credentials", "type": "kubernetes:core/v1:Secret", "custom": true,
			"inputs": map[string]any{"kind": "Secret", "metadata": map[string]any{"name": "model-store-credentials-7f3a9c2e"}}},
		{"urn": "urn:pulumi:s::p::t::minio", "type": chartType},
	}
	state, err := json.Marshal(map[string]any{"deployment": map[string]any{"resources": resources}})
	if err != nil {
		t.Fatal(err)
	}
	values := map[string]any{"existingSecret": "model-store-credentials-mock0000", "users": []any{"model-store-credentials-mock0000/key"}}
	d, err := readDeployment(state, seeds{}, map[string]map[string]any{"minio": {"values": values}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"values": map[string]any{"existingSecret": "model-store-credentials-7f3a9c2e",
		"users": []any{"model-store-credentials-7f3a9c2e/key"}}}
	if got := d.resources[1].Inputs; !reflect.DeepEqual(got, want) {
		t.Errorf("chart inputs %v, want %v", got, want)
	}
}
