// Package render writes every Kubernetes object a stack would apply, as YAML, from `pulumi preview --json` of a
// stack with no state: a review of the full rendered output (charts included) that changes nothing.
package render

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// Objects reads a preview's JSON and writes one YAML file per Kubernetes object into dir; it returns the count.
// Secret values stay masked as the preview shows them.
func Objects(preview io.Reader, dir string) (int, error) {
	var p struct {
		Steps []struct {
			Op       string `json:"op"`
			NewState *struct {
				Type   string         `json:"type"`
				Custom bool           `json:"custom"`
				Inputs map[string]any `json:"inputs"`
			} `json:"newState"`
		} `json:"steps"`
	}
	if err := json.NewDecoder(preview).Decode(&p); err != nil {
		return 0, fmt.Errorf("reading the preview JSON: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, err
	}
	n := 0
	for _, step := range p.Steps {
		s := step.NewState
		if s == nil || !s.Custom || !strings.HasPrefix(s.Type, "kubernetes:") || s.Inputs["kind"] == nil {
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
