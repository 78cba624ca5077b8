package charts_test

import (
	"reflect"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/seldon-ab/provisioner/internal/seldonspec"
)

// The facts the stack model relies on at config time are the ones the pinned setup chart renders, so a chart
// upgrade that changes one of them fails here: the rclone Secrets the SeldonConfig lists, the mlserver memory
// request, the agents' overcommit and capabilities.
func TestSeldonFactsMatchTheRenderedSetupChart(t *testing.T) {
	docs := renderPinnedSeldon(t, "seldon-core-v2-setup")
	type container struct {
		Name string `yaml:"name"`
		Env  []struct {
			Name  string `yaml:"name"`
			Value string `yaml:"value"`
		} `yaml:"env"`
		Resources struct {
			Requests map[string]string `yaml:"requests"`
		} `yaml:"resources"`
	}
	var secrets []string
	servers := map[string][]container{}
	for _, doc := range docs {
		var obj struct {
			Kind     string `yaml:"kind"`
			Metadata struct {
				Name string `yaml:"name"`
			} `yaml:"metadata"`
			Spec struct {
				Config struct {
					AgentConfig struct {
						Rclone struct {
							ConfigSecrets []string `yaml:"config_secrets"`
						} `yaml:"rclone"`
					} `yaml:"agentConfig"`
				} `yaml:"config"`
				PodSpec struct {
					Containers []container `yaml:"containers"`
				} `yaml:"podSpec"`
			} `yaml:"spec"`
		}
		// render() prefixes each document with its template name; the YAML starts on the next line.
		if _, body, ok := strings.Cut(doc, "\n"); ok && yaml.Unmarshal([]byte(body), &obj) == nil {
			switch obj.Kind {
			case seldonspec.KindSeldonConfig:
				if obj.Metadata.Name == seldonspec.SeldonConfigName {
					secrets = obj.Spec.Config.AgentConfig.Rclone.ConfigSecrets
				}
			case seldonspec.KindServerConfig:
				servers[obj.Metadata.Name] = obj.Spec.PodSpec.Containers
			}
		}
	}
	if !reflect.DeepEqual(secrets, seldonspec.SetupConfigSecrets) {
		t.Errorf("SeldonConfig %s lists rclone Secrets %v; seldonspec.SetupConfigSecrets says %v", seldonspec.SeldonConfigName, secrets, seldonspec.SetupConfigSecrets)
	}
	env := func(containers []container, name, key string) string {
		for _, c := range containers {
			for _, e := range c.Env {
				if c.Name == name && e.Name == key {
					return e.Value
				}
			}
		}
		return ""
	}
	mlserver := servers["mlserver"]
	if len(mlserver) == 0 {
		t.Fatal("the setup chart rendered no ServerConfig mlserver")
	}
	for _, c := range mlserver {
		if c.Name == seldonspec.MLServerContainer && c.Resources.Requests["memory"] != seldonspec.DefaultServerMemory {
			t.Errorf("ServerConfig mlserver requests %s for %s; seldonspec.DefaultServerMemory says %s", c.Resources.Requests["memory"], c.Name, seldonspec.DefaultServerMemory)
		}
	}
	if got := env(mlserver, seldonspec.AgentContainer, seldonspec.OvercommitEnv); got != strconv.Itoa(seldonspec.MemoryOvercommitPercent) {
		t.Errorf("agents get %s=%q; seldonspec.MemoryOvercommitPercent says %d", seldonspec.OvercommitEnv, got, seldonspec.MemoryOvercommitPercent)
	}
	for name, want := range map[string][]string{"mlserver": seldonspec.MLServerCapabilities, "triton": seldonspec.TritonCapabilities} {
		if got := env(servers[name], seldonspec.AgentContainer, seldonspec.ServerCapabilitiesEnv); got != strings.Join(want, ",") {
			t.Errorf("ServerConfig %s advertises %q; seldonspec says %q", name, got, strings.Join(want, ","))
		}
	}
}
