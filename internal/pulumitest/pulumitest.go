// Package pulumitest runs Pulumi programs under pulumi.WithMocks and records the resource graph they register,
// so tests can assert objects, their fields, parents and dependencies without an engine.
package pulumitest

import (
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"gopkg.in/yaml.v3"

	"github.com/seldon-ab/provisioner/infra/config"
)

// Resource is one registered resource as the engine would have seen it.
type Resource struct {
	Type   string
	Name   string
	Inputs resource.PropertyMap
	// Parent and Dependencies are URNs; a URN ends with "::<name>".
	Parent              string
	Dependencies        []string
	RetainOnDelete      bool
	DeleteBeforeReplace bool
	Remote              bool
	// AliasNames are the names of the resource's alias specs (its former names).
	AliasNames []string
}

// DependsOn reports whether r names the resource called name among its explicit dependencies.
func (r Resource) DependsOn(name string) bool {
	for _, urn := range r.Dependencies {
		if strings.HasSuffix(urn, "::"+name) {
			return true
		}
	}
	return false
}

// ParentIs reports whether r's parent is the resource called name.
func (r Resource) ParentIs(name string) bool { return strings.HasSuffix(r.Parent, "::"+name) }

// Graph records what a program registered.
type Graph struct {
	mu        sync.Mutex
	Resources []Resource
}

// NewResource records the registration and echoes the inputs back as state.
func (g *Graph) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	r := Resource{Type: args.TypeToken, Name: args.Name, Inputs: args.Inputs}
	if rpc := args.RegisterRPC; rpc != nil {
		r.Parent, r.Dependencies, r.Remote = rpc.GetParent(), rpc.GetDependencies(), rpc.GetRemote()
		r.RetainOnDelete = rpc.RetainOnDelete != nil && *rpc.RetainOnDelete
		r.DeleteBeforeReplace = rpc.GetDeleteBeforeReplace()
		for _, alias := range rpc.GetAliases() {
			if name := alias.GetSpec().GetName(); name != "" {
				r.AliasNames = append(r.AliasNames, name)
			}
		}
	}
	g.mu.Lock()
	g.Resources = append(g.Resources, r)
	g.mu.Unlock()
	return args.Name + "-id", autonamed(args.TypeToken, args.Name, args.Inputs), nil
}

// AutonameSuffix stands for the random suffix the Kubernetes provider gives an object registered without a name.
const AutonameSuffix = "-mock0000"

// autonamed is inputs as the Kubernetes provider's Check leaves them: an object with metadata but no name (nor
// generateName) is named after its resource (pulumi-kubernetes provider/pkg/metadata/naming.go
// AssignNameIfAutonamable: the resource name, a dash and a random suffix).
func autonamed(typ, name string, inputs resource.PropertyMap) resource.PropertyMap {
	meta, ok := inputs["metadata"]
	if !strings.HasPrefix(typ, "kubernetes:") || !ok || !meta.IsObject() {
		return inputs
	}
	fields := meta.ObjectValue()
	if _, named := fields["name"]; named {
		return inputs
	}
	if _, generated := fields["generateName"]; generated {
		return inputs
	}
	state := inputs.Copy()
	withName := fields.Copy()
	withName["name"] = resource.NewStringProperty(name + AutonameSuffix)
	state["metadata"] = resource.NewObjectProperty(withName)
	return state
}

// Call answers invokes with nothing; the programs under test make none that matter.
func (g *Graph) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	return resource.PropertyMap{}, nil
}

// Find returns the resource of type typ named name, failing the test if it is absent.
func (g *Graph) Find(t testing.TB, typ, name string) Resource {
	t.Helper()
	for _, r := range g.Snapshot() {
		if r.Type == typ && r.Name == name {
			return r
		}
	}
	t.Fatalf("no %s named %q was registered; registered: %v", typ, name, g.Names())
	return Resource{}
}

// OfType lists the resources of one type.
func (g *Graph) OfType(typ string) []Resource {
	var out []Resource
	for _, r := range g.Snapshot() {
		if r.Type == typ {
			out = append(out, r)
		}
	}
	return out
}

// Snapshot copies the recorded resources.
func (g *Graph) Snapshot() []Resource {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]Resource(nil), g.Resources...)
}

// Names lists "type/name" of everything registered, for failure messages.
func (g *Graph) Names() []string {
	var out []string
	for _, r := range g.Snapshot() {
		out = append(out, r.Type+"/"+r.Name)
	}
	return out
}

// Config is a stack's config as Pulumi hands it to a program: full keys, objects as JSON, and the secret keys.
type Config struct {
	Values  map[string]string
	Secrets []string
	// DryRun runs the program as a preview does.
	DryRun bool
}

// Run runs program under mocks for stack with config, from the project root, and returns the recorded graph.
func Run(t testing.TB, program pulumi.RunFunc, stack, rootDir string, cfg Config) (*Graph, error) {
	t.Helper()
	return Record(program, stack, rootDir, cfg)
}

// Record is Run outside a test: what a program registers for a config (the benchmark reads the charts' values so).
func Record(program pulumi.RunFunc, stack, rootDir string, cfg Config) (*Graph, error) {
	g := &Graph{}
	return g, g.Record(program, stack, rootDir, cfg)
}

// Record runs program as Run does, into g: a test may read g while the program runs.
func (g *Graph) Record(program pulumi.RunFunc, stack, rootDir string, cfg Config) error {
	return pulumi.RunErr(program, pulumi.WithMocks("seldon-ab", stack, g), func(info *pulumi.RunInfo) {
		info.Config = cfg.Values
		info.ConfigSecretKeys = cfg.Secrets
		info.RootDirectory = rootDir
		info.DryRun = cfg.DryRun
	})
}

// StackFileObjects reads the config of stacks/Pulumi.<stack>.yaml under rootDir as decoded YAML, keyed by full
// config key, leaving out `secure:` values (they need the stack's passphrase).
func StackFileObjects(t testing.TB, rootDir, stack string) map[string]any {
	t.Helper()
	out, err := ReadStackFileObjects(rootDir, stack)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// ReadStackFileObjects is StackFileObjects outside a test.
func ReadStackFileObjects(rootDir, stack string) (map[string]any, error) {
	data, err := os.ReadFile(config.StackFile(rootDir, stack))
	if err != nil {
		return nil, err
	}
	var file struct {
		Config map[string]any `yaml:"config"`
	}
	if err := yaml.Unmarshal(data, &file); err != nil {
		return nil, err
	}
	out := map[string]any{}
	for k, v := range file.Config {
		if m, isMap := v.(map[string]any); isMap && m["secure"] != nil {
			continue
		}
		out[k] = v
	}
	return out, nil
}

// StackFileConfig is the stack file's config the way the engine passes it to a program (objects as JSON).
func StackFileConfig(t testing.TB, rootDir, stack string) Config {
	t.Helper()
	cfg, err := ReadStackFileConfig(rootDir, stack)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// ReadStackFileConfig is StackFileConfig outside a test.
func ReadStackFileConfig(rootDir, stack string) (Config, error) {
	objects, err := ReadStackFileObjects(rootDir, stack)
	if err != nil {
		return Config{}, err
	}
	return ConfigOf(objects)
}

// ConfigOf is the config of a stack file's decoded objects (StackFileObjects), as a program under mocks takes it.
func ConfigOf(objects map[string]any) (Config, error) {
	cfg := Config{Values: map[string]string{}}
	// Graph tests run against mocks, with no cluster for the program's read-only preflight to read.
	cluster, _ := objects["seldon-ab:cluster"].(map[string]any)
	if cluster == nil {
		cluster = map[string]any{}
	}
	cluster["preflight"] = false
	objects["seldon-ab:cluster"] = cluster
	for k, v := range objects {
		if s, isString := v.(string); isString {
			cfg.Values[k] = s
			continue
		}
		out, err := json.Marshal(v)
		if err != nil {
			return cfg, err
		}
		cfg.Values[k] = string(out)
	}
	return cfg, nil
}

// WithSecret adds a secret config value.
func (c Config) WithSecret(key, value string) Config {
	c.Values[key] = value
	c.Secrets = append(c.Secrets, key)
	return c
}

// Get walks the inputs by keys and list indexes ("spec", "addresses", "0"); secrets are unwrapped, and a
// missing step yields a null value.
func (r Resource) Get(path ...string) resource.PropertyValue {
	v := resource.NewObjectProperty(r.Inputs)
	for _, step := range path {
		for v.IsSecret() {
			v = v.SecretValue().Element
		}
		switch {
		case v.IsObject():
			v = v.ObjectValue()[resource.PropertyKey(step)]
		case v.IsArray():
			i, err := strconv.Atoi(step)
			if err != nil || i >= len(v.ArrayValue()) {
				return resource.NewNullProperty()
			}
			v = v.ArrayValue()[i]
		default:
			return resource.NewNullProperty()
		}
	}
	return v
}

// String is Get for a string leaf ("" when absent or not a string).
func (r Resource) String(path ...string) string {
	v := r.Get(path...)
	for v.IsSecret() {
		v = v.SecretValue().Element
	}
	if v.IsString() {
		return v.StringValue()
	}
	return ""
}

// Plain turns recorded inputs into plain Go values (maps, slices, strings, numbers, bools), secrets unwrapped.
func Plain(v resource.PropertyValue) any {
	switch {
	case v.IsSecret():
		return Plain(v.SecretValue().Element)
	case v.IsOutput():
		return Plain(v.OutputValue().Element)
	case v.IsObject():
		out := map[string]any{}
		for k, e := range v.ObjectValue() {
			out[string(k)] = Plain(e)
		}
		return out
	case v.IsArray():
		out := []any{}
		for _, e := range v.ArrayValue() {
			out = append(out, Plain(e))
		}
		return out
	case v.IsNull():
		return nil
	}
	return v.V
}
