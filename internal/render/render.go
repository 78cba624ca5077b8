// Package render writes every Kubernetes object a stack would apply, as YAML, from the steps of a preview of a
// stack with no state: a review of the full rendered output (charts included) that changes nothing.
package render

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// Step is one resource a preview plans to create: its type and its inputs, secrets masked as the engine masks
// them in its events.
type Step struct {
	Type   string
	Custom bool
	Inputs map[string]any
}

// Objects writes one YAML file per Kubernetes object among steps into dir and returns the count.
func Objects(steps []Step, dir string) (int, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, err
	}
	n := 0
	for _, s := range steps {
		if !s.Custom || !strings.HasPrefix(s.Type, "kubernetes:") || s.Inputs["kind"] == nil {
			continue
		}
		out, err := yaml.Marshal(s.Inputs)
		if err != nil {
			return n, err
		}
		if err := os.WriteFile(filepath.Join(dir, fileName(s.Inputs)), out, 0o644); err != nil {
			return n, err
		}
		n++
	}
	if n == 0 {
		return 0, fmt.Errorf("the preview creates no Kubernetes object: render a stack that has no state yet")
	}
	return n, nil
}

var unsafe = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

func fileName(obj map[string]any) string {
	meta, _ := obj["metadata"].(map[string]any)
	parts := []string{fmt.Sprint(obj["kind"])}
	if ns, _ := meta["namespace"].(string); ns != "" {
		parts = append(parts, ns)
	}
	name, _ := meta["name"].(string)
	if name == "" {
		name = "unnamed"
	}
	parts = append(parts, name)
	return unsafe.ReplaceAllString(strings.Join(parts, "_"), "-") + ".yaml"
}
