// Package charts_test proves that every Helm value the stack sets is read by its chart at the pinned version:
// each chart is rendered locally, from the archive in ../shared/charts, with the values the program gives it,
// and again with each value changed; a value whose change changes nothing is dead (the field story lost its
// controller settings to such keys). Rendering follows what pulumi-kubernetes' helm/v4 Chart applies: subchart
// conditions honoured, hook objects and NOTES.txt dropped.
package charts_test

import (
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"

	"github.com/seldon-ab/provisioner/infra/program"
	"github.com/seldon-ab/provisioner/internal/pulumitest"
	"github.com/seldon-ab/provisioner/internal/seldonspec"
)

const root = "../.."

// pinnedArchive is the pinned archive of chart name at version, in ../shared/charts beside the project.
func pinnedArchive(name, version string) string {
	abs, _ := filepath.Abs(root)
	return filepath.Join(abs, "..", "shared", "charts", name+"-"+version+".tgz")
}

// renderPinnedSeldon renders the pinned Seldon chart name (its version is Seldon's) into seldon-system with its
// defaults, one document per object.
func renderPinnedSeldon(tb testing.TB, name string) []string {
	tb.Helper()
	ch, err := loader.Load(pinnedArchive(name, seldonspec.ChartVersion))
	if err != nil {
		tb.Fatal(err)
	}
	docs, err := renderDocs(ch, "seldon-system", map[string]any{})
	if err != nil {
		tb.Fatal(err)
	}
	return docs
}

// render returns the objects helm/v4 would apply for values as one text, in a stable order.
func render(ch *chart.Chart, namespace string, values map[string]any) (string, error) {
	docs, err := renderDocs(ch, namespace, values)
	return strings.Join(docs, "\n---\n"), err
}

// renderDocs returns every non-hook document the chart renders for values, each headed by its template's name.
func renderDocs(ch *chart.Chart, namespace string, values map[string]any) ([]string, error) {
	values = deepCopy(values).(map[string]any)
	if err := chartutil.ProcessDependenciesWithMerge(ch, values); err != nil {
		return nil, err
	}
	caps := chartutil.DefaultCapabilities.Copy()
	caps.KubeVersion = chartutil.KubeVersion{Version: "v1.35.4", Major: "1", Minor: "35"}
	renderValues, err := chartutil.ToRenderValues(ch, values, chartutil.ReleaseOptions{Name: "release", Namespace: namespace, IsInstall: true}, caps)
	if err != nil {
		return nil, err
	}
	files, err := engine.Render(ch, renderValues)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(files))
	for name := range files {
		if !strings.HasSuffix(name, "NOTES.txt") {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	var docs []string
	for _, name := range names {
		for _, doc := range strings.Split(files[name], "\n---") {
			var obj struct {
				Metadata struct {
					Annotations map[string]string `yaml:"annotations"`
				} `yaml:"metadata"`
			}
			if yaml.Unmarshal([]byte(doc), &obj) == nil && obj.Metadata.Annotations["helm.sh/hook"] != "" {
				continue // helm/v4 drops hooks
			}
			docs = append(docs, name+"\n"+doc)
		}
	}
	return docs, nil
}

// leaves lists the paths of every value set, and perturb changes the value at one path.
func leaves(prefix []string, v any) [][]string {
	m, ok := v.(map[string]any)
	if !ok || len(m) == 0 {
		return [][]string{prefix}
	}
	var out [][]string
	for k, e := range m {
		out = append(out, leaves(append(append([]string{}, prefix...), k), e)...)
	}
	return out
}

func perturb(values map[string]any, path []string) map[string]any {
	out := deepCopy(values).(map[string]any)
	cur := out
	for _, k := range path[:len(path)-1] {
		cur = cur[k].(map[string]any)
	}
	last := path[len(path)-1]
	switch v := cur[last].(type) {
	case bool:
		cur[last] = !v
	case string:
		cur[last] = v + "9"
	case float64:
		cur[last] = v + 1
	case int:
		cur[last] = v + 1
	case []any:
		cur[last] = append(append([]any{}, v...), "probe")
	case map[string]any:
		cur[last] = map[string]any{"probe": "probe"}
	default:
		cur[last] = "probe"
	}
	return out
}

func deepCopy(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range t {
			out[k] = deepCopy(e)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = deepCopy(e)
		}
		return out
	}
	return v
}

func TestEveryHelmValueTheStackSetsIsReadByItsChart(t *testing.T) {
	abs, _ := filepath.Abs(root)
	for _, stack := range []string{"homelab", "sandbox"} {
		cfg := pulumitest.StackFileConfig(t, abs, stack).
			WithSecret("seldon-ab:modelStoreAccessKey", "admin-key").
			WithSecret("seldon-ab:modelStoreSecretKey", "long-enough-secret")
		if stack == "sandbox" {
			cfg.Values["seldon-ab:cluster"] = `{"identifier":"sandbox","preflight":false}`
		}
		g, err := pulumitest.Run(t, program.Program, stack, abs, cfg)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range g.OfType("kubernetes:helm.sh/v4:Chart") {
			name, version := c.String("chart"), c.String("version")
			archive := pinnedArchive(filepath.Base(strings.TrimSuffix(name, ".tgz")), version)
			if strings.HasSuffix(name, ".tgz") {
				archive = name
			}
			t.Run(stack+"/"+c.Name, func(t *testing.T) {
				ch, err := loader.Load(archive)
				if err != nil {
					t.Fatalf("chart %s %s: %v", name, version, err)
				}
				values, _ := pulumitest.Plain(c.Get("values")).(map[string]any)
				base, err := render(ch, c.String("namespace"), values)
				if err != nil {
					t.Fatalf("rendering %s with the stack's values: %v", ch.Name(), err)
				}
				if len(values) == 0 {
					return
				}
				for _, path := range leaves(nil, values) {
					changed, err := render(ch, c.String("namespace"), perturb(values, path))
					if err == nil && changed == base {
						t.Errorf("%s %s: value %s = %v changes nothing the chart renders; no template reads it",
							ch.Name(), ch.Metadata.Version, strings.Join(path, "."), lookup(values, path))
					}
				}
			})
		}
	}
}

func lookup(values map[string]any, path []string) any {
	var cur any = values
	for _, k := range path {
		m, _ := cur.(map[string]any)
		cur = m[k]
	}
	if reflect.ValueOf(cur).Kind() == reflect.Map && reflect.ValueOf(cur).Len() == 0 {
		return "{}"
	}
	return cur
}
