// Package workflows_test checks the GitHub workflows: they parse, pin their actions' major versions, and every
// command they run exists in the Makefile, scripts/ or cmd/.
package workflows_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

type workflow struct {
	On   map[string]any `yaml:"on"`
	Jobs map[string]struct {
		RunsOn any `yaml:"runs-on"`
		Steps  []struct {
			Uses string         `yaml:"uses"`
			Run  string         `yaml:"run"`
			With map[string]any `yaml:"with"`
		} `yaml:"steps"`
	} `yaml:"jobs"`
}

const root = "../.."

func load(t *testing.T) map[string]workflow {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(root, ".github", "workflows", "*.yml"))
	if err != nil || len(files) < 2 {
		t.Fatalf("workflows: %v %v", files, err)
	}
	out := map[string]workflow{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var w workflow
		if err := yaml.Unmarshal(data, &w); err != nil {
			t.Fatalf("%s does not parse: %v", f, err)
		}
		if len(w.Jobs) == 0 || len(w.On) == 0 {
			t.Fatalf("%s has no trigger or no job", f)
		}
		out[filepath.Base(f)] = w
	}
	return out
}

var (
	makeTarget = regexp.MustCompile(`\bmake ([a-z][a-z0-9-]*)`)
	script     = regexp.MustCompile(`\b(scripts/[A-Za-z0-9_-]+\.sh)`)
	command    = regexp.MustCompile(`\bgo run \./(cmd/[a-z0-9-]+)`)
	pinned     = regexp.MustCompile(`^[a-z0-9-]+/[a-z0-9-]+@v\d+$`)
)

func TestWorkflowsCallOnlyWhatExists(t *testing.T) {
	makefile, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	for name, w := range load(t) {
		for job, j := range w.Jobs {
			for _, step := range j.Steps {
				if step.Uses != "" && !pinned.MatchString(step.Uses) {
					t.Errorf("%s/%s: action %q is not pinned to a major version", name, job, step.Uses)
				}
				for _, m := range makeTarget.FindAllStringSubmatch(step.Run, -1) {
					if !regexp.MustCompile(`(?m)^(\S+ )*` + regexp.QuoteMeta(m[1]) + `( \S+)*:`).Match(makefile) {
						t.Errorf("%s/%s runs make %s, which the Makefile lacks", name, job, m[1])
					}
				}
				for _, m := range command.FindAllStringSubmatch(step.Run, -1) {
					if _, err := os.Stat(filepath.Join(root, m[1], "main.go")); err != nil {
						t.Errorf("%s/%s runs go run ./%s, which has no main.go", name, job, m[1])
					}
				}
				for _, s := range script.FindAllString(step.Run, -1) {
					info, err := os.Stat(filepath.Join(root, s))
					if err != nil || info.Mode()&0o111 == 0 {
						t.Errorf("%s/%s runs %s, which is missing or not executable", name, job, s)
					}
				}
			}
		}
	}
}

func TestPreviewCommentsTheDiffAndDriftExpectsNoChanges(t *testing.T) {
	w := load(t)
	check := func(file, key string, want any) {
		for _, j := range w[file].Jobs {
			for _, step := range j.Steps {
				if strings.HasPrefix(step.Uses, "pulumi/actions@") {
					if step.With[key] != want {
						t.Errorf("%s: pulumi/actions %s = %v, want %v", file, key, step.With[key], want)
					}
					if step.With["stack-name"] != "homelab" || step.With["policyPacks"] == nil {
						t.Errorf("%s: previews %v without the policy pack %v", file, step.With["stack-name"], step.With["policyPacks"])
					}
					return
				}
			}
		}
		t.Errorf("%s has no pulumi/actions step", file)
	}
	check("preview.yml", "comment-on-pr", true)
	check("preview.yml", "diff", true)
	check("drift.yml", "expect-no-changes", true)
	if _, onPR := w["preview.yml"].On["pull_request"]; !onPR {
		t.Error("preview.yml does not run on pull requests")
	}
	if _, scheduled := w["drift.yml"].On["schedule"]; !scheduled {
		t.Error("drift.yml is not scheduled")
	}
}
