package seldonspec_test

import (
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/seldon-ab/provisioner/internal/seldonspec"
)

func TestControllerScope(t *testing.T) {
	tests := []struct {
		clusterwide, watch string
		in, notIn          []string
		ignored            int
	}{
		{"false", "", []string{"seldon-system"}, []string{"models"}, 0},
		// The field setup: the list is ignored without clusterwide.
		{"false", "seldon-system,models", []string{"seldon-system"}, []string{"models"}, 1},
		{"true", "seldon-system, models", []string{"seldon-system", "models"}, []string{"other"}, 0},
		{"true", "", []string{"seldon-system", "models", "other"}, nil, 0},
	}
	for _, tc := range tests {
		scope := seldonspec.ScopeOf("seldon-system", tc.clusterwide, tc.watch)
		for _, ns := range tc.in {
			if !scope.Watches(ns) {
				t.Errorf("clusterwide=%s watch=%q: %s not watched (%v)", tc.clusterwide, tc.watch, ns, scope)
			}
		}
		for _, ns := range tc.notIn {
			if scope.Watches(ns) {
				t.Errorf("clusterwide=%s watch=%q: %s watched (%v)", tc.clusterwide, tc.watch, ns, scope)
			}
		}
		if len(scope.Ignored) != tc.ignored {
			t.Errorf("clusterwide=%s watch=%q: ignored %v", tc.clusterwide, tc.watch, scope.Ignored)
		}
	}
}

func TestReplicaCapacityIsTheRequestPlusTenPercent(t *testing.T) {
	if got := seldonspec.ReplicaCapacity(resource.MustParse("1Gi")); got != 1181116006 {
		t.Errorf("1Gi replica holds %d bytes of models, want 1.1Gi = 1181116006", got)
	}
}
