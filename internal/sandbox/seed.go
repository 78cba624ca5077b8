package sandbox

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/events"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
	"gopkg.in/yaml.v3"

	"github.com/seldon-ab/provisioner/components/abtest"
	"github.com/seldon-ab/provisioner/infra/config"
)

// Up runs `up` as `make up` does (scripts/stack.sh): when the stack seeds artifacts and no command resource runs
// the seeds (commands.enabled false), first everything but the experiment, then each seed's exact command line,
// then the rest, so that no Model is created before its files are in the store (an agent that finds none fails
// the Model for good).
func (e *Env) Up(ctx context.Context, stack auto.Stack, configFile string, opts ...optup.Option) (auto.UpResult, error) {
	return e.UpObserved(ctx, stack, configFile, nil, opts...)
}

// UpObserved is Up with each update's engine events sent to the channel observe returns for it (the Automation
// API closes a channel when its update ends); observe may be nil.
func (e *Env) UpObserved(ctx context.Context, stack auto.Stack, configFile string, observe func() chan<- events.EngineEvent,
	opts ...optup.Option) (auto.UpResult, error) {
	opts = append(opts, optup.ConfigFile(configFile))
	withEvents := func(opts []optup.Option) []optup.Option {
		if observe == nil {
			return opts
		}
		return append(opts, optup.EventStreams(observe()))
	}
	offline, err := offlineSeeds(configFile)
	if err != nil {
		return auto.UpResult{}, err
	}
	if offline {
		experiment := fmt.Sprintf("urn:pulumi:%s::%s::%s::ab-test", stack.Name(), Project, abtest.Token)
		if _, err := stack.Up(ctx, withEvents(append(opts, optup.Exclude([]string{experiment}), optup.ExcludeDependents()))...); err != nil {
			return auto.UpResult{}, fmt.Errorf("up to the model store: %w", err)
		}
		if _, err := e.Seed(ctx, stack, configFile); err != nil {
			return auto.UpResult{}, err
		}
	}
	return stack.Up(ctx, withEvents(opts)...)
}

// offlineSeeds says whether the stack file seeds artifacts without command resources to do it.
func offlineSeeds(configFile string) (bool, error) {
	data, err := os.ReadFile(configFile)
	if err != nil {
		return false, err
	}
	var file struct {
		Config map[string]yaml.Node `yaml:"config"`
	}
	if err := yaml.Unmarshal(data, &file); err != nil {
		return false, fmt.Errorf("%s: %w", configFile, err)
	}
	var store struct {
		Seed []any `yaml:"seed"`
	}
	var commands struct {
		Enabled bool `yaml:"enabled"`
	}
	if n, ok := file.Config[config.Namespace+":modelStore"]; ok {
		if err := n.Decode(&store); err != nil {
			return false, err
		}
	}
	if n, ok := file.Config[config.Namespace+":commands"]; ok {
		if err := n.Decode(&commands); err != nil {
			return false, err
		}
	}
	return len(store.Seed) > 0 && !commands.Enabled, nil
}

// Seeds are a stack's seed command lines (its seedArgs output) with the store's credentials from its config.
type Seeds struct {
	Argvs                [][]string
	AccessKey, SecretKey string
}

// StackSeeds reads the seeds of a deployed stack.
func (e *Env) StackSeeds(ctx context.Context, stack auto.Stack, configFile string) (Seeds, error) {
	outputs, err := stack.Outputs(ctx)
	if err != nil {
		return Seeds{}, err
	}
	var seeds Seeds
	raw, _ := outputs["seedArgs"].Value.([]any)
	for _, r := range raw {
		items, _ := r.([]any)
		argv := []string{}
		for _, a := range items {
			argv = append(argv, fmt.Sprint(a))
		}
		seeds.Argvs = append(seeds.Argvs, argv)
	}
	for key, into := range map[string]*string{"modelStoreAccessKey": &seeds.AccessKey, "modelStoreSecretKey": &seeds.SecretKey} {
		v, err := stack.GetConfigWithOptions(ctx, config.Namespace+":"+key, &auto.ConfigOptions{ConfigFile: configFile})
		if err != nil {
			return Seeds{}, fmt.Errorf("reading %s: %w", key, err)
		}
		*into = v.Value
	}
	return seeds, nil
}

// Seed runs the stack's seeds (see RunSeeds).
func (e *Env) Seed(ctx context.Context, stack auto.Stack, configFile string) (string, error) {
	seeds, err := e.StackSeeds(ctx, stack, configFile)
	if err != nil {
		return "", err
	}
	return e.RunSeeds(ctx, seeds)
}

// RunSeeds runs each seed as `go run ./cmd/seldon-ab seed ...` from the project root, with the store's
// credentials and the cluster network as proxy, and returns their output.
func (e *Env) RunSeeds(ctx context.Context, seeds Seeds) (string, error) {
	env := append(os.Environ(), "HTTP_PROXY="+e.Proxy, "HTTPS_PROXY="+e.Proxy, "NO_PROXY=127.0.0.1,localhost",
		"S3_ACCESS_KEY="+seeds.AccessKey, "S3_SECRET_KEY="+seeds.SecretKey)
	var out strings.Builder
	for _, items := range seeds.Argvs {
		argv := append([]string{"run", "./cmd/seldon-ab"}, items...)
		cmd := exec.CommandContext(ctx, "go", argv...)
		cmd.Dir, cmd.Env = e.Root, env
		b, err := cmd.CombinedOutput()
		out.Write(b)
		if err != nil {
			return out.String(), fmt.Errorf("go %s: %w\n%s", strings.Join(argv, " "), err, b)
		}
	}
	return out.String(), nil
}
