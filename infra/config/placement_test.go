package config_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/seldon-ab/provisioner/infra/config"
)

// The scheduler gives each Server replica its mlserver memory request plus 10%; the shipped stacks' two 1Gi
// Models need a bigger replica than the ServerConfig's default 1Gi.
func TestServerMemoryMustHoldItsModels(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(t *testing.T, o map[string]any)
		wantErr []string // fragments of the one error; none means the stack is valid
	}{
		{"shipped stack: 2Gi holds two 1Gi models", func(*testing.T, map[string]any) {}, nil},
		{"server memory left at the ServerConfig default", func(t *testing.T, o map[string]any) {
			delete(o["seldon"].(map[string]any)["servers"].([]any)[0].(map[string]any), "memory")
		}, []string{"seldon-ab:seldon.servers[0].memory ", "ServerConfig mlserver default", "1.10Gi for models",
			"baseline-predictor (models[0]: 1Gi) and enhanced-predictor (models[1]: 1Gi) need 2.00Gi",
			"ScheduleFailed", "at least 1862Mi (e.g. 2Gi)"}},
		{"two replicas of the default size hold one model each", func(t *testing.T, o map[string]any) {
			server := o["seldon"].(map[string]any)["servers"].([]any)[0].(map[string]any)
			delete(server, "memory")
			server["replicas"] = 2
		}, nil},
		{"a model bigger than any replica", func(t *testing.T, o map[string]any) {
			set(t, o, "models.1.memory", "3Gi") // with the other 1Gi: 4Gi on a 3Gi replica
		}, []string{"seldon-ab:seldon.servers[0].memory = \"3Gi\"", "enhanced-predictor (models[1]: 3Gi)", "at least 3724Mi (e.g. 4Gi)"}},
		{"model replicas beyond the server's", func(t *testing.T, o map[string]any) {
			set(t, o, "models.0.replicas", 2)
			set(t, o, "models.0.memory", "100Mi")
		}, []string{"baseline-predictor (models[0]: 100Mi × 2 replicas)", "raise seldon.servers[0].replicas (now 1)"}},
		{"models without memory fit anywhere", func(t *testing.T, o map[string]any) {
			delete(o["seldon"].(map[string]any)["servers"].([]any)[0].(map[string]any), "memory")
			delete(o["models"].([]any)[0].(map[string]any), "memory")
		}, nil},
		{"server memory not a quantity", func(t *testing.T, o map[string]any) {
			set(t, o, "seldon.servers.0.memory", "2 GB")
		}, []string{"seldon-ab:seldon.servers[0].memory = \"2 GB\" is not a memory quantity"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			objects := stackObjects(t, "homelab")
			tc.mutate(t, objects)
			_, err := load(t, objects)
			if len(tc.wantErr) == 0 {
				if err != nil {
					t.Fatalf("want a valid stack, got %v", err)
				}
				return
			}
			var errs config.Errors
			if !errors.As(err, &errs) || len(errs) != 1 {
				t.Fatalf("want exactly one problem, got %v", err)
			}
			for _, want := range tc.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error lacks %q:\n%s", want, err)
				}
			}
		})
	}
}

// A Model without a server is charged to the first Server of its namespace that offers its requirements.
func TestModelsWithoutServerAreChargedToAMatchingServer(t *testing.T) {
	objects := stackObjects(t, "homelab")
	for _, m := range objects["models"].([]any) {
		delete(m.(map[string]any), "server")
	}
	set(t, objects, "seldon.servers.0.memory", "1Gi")
	_, err := load(t, objects)
	if err == nil || !strings.Contains(err.Error(), "Server seldon-system/mlserver too small") {
		t.Fatalf("want the unnamed-server models charged to mlserver, got %v", err)
	}
}
