// Package lifecycle is the one way this project's stacks are previewed, brought up, torn down and recovered: the
// Automation API running the program in this process, with the policy pack, the seeds and verification steps,
// and the rules for a lock left by a dead process and for a cluster that was recreated. The command line, the
// tests and the benchmark all call it.
package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/events"

	"github.com/seldon-ab/provisioner/infra/config"
	"github.com/seldon-ab/provisioner/infra/program"
	"github.com/seldon-ab/provisioner/internal/doctor"
	"github.com/seldon-ab/provisioner/policies/analyzer"
)

// Options say which stack to run and how.
type Options struct {
	// Root is the project root (Pulumi.yaml); empty: found upwards from the working directory.
	Root  string
	Stack string
	// ConfigFile replaces stacks/Pulumi.<stack>.yaml (the tests aim a copy at their own cluster).
	ConfigFile string
	// Yes skips every confirmation: an unattended run.
	Yes       bool
	Toolchain Toolchain
	// Proxy carries this machine's calls to the stack's own addresses (seeds, verification): the sandbox's
	// cluster network. nil dials them directly, as on a homelab LAN.
	Proxy *url.URL
	// Env is added to the Pulumi CLI's environment (a backend, a passphrase); it wins over this process's.
	Env map[string]string
	// Refresh reads the cluster before previewing or updating, as `pulumi up --refresh` does.
	Refresh bool
	// Observe, if set, gets each engine operation's events (a new channel per operation; the Automation API
	// closes it when the operation ends), for measurements.
	Observe func() chan<- events.EngineEvent

	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

// Stack is one stack of this project, opened: its CLI chosen, its config read and validated.
type Stack struct {
	opts   Options
	cli    cli
	env    map[string]string
	stack  auto.Stack
	config *config.Stack
	// secrets are the stack's decrypted credentials, for the seeds step; never printed.
	secrets auto.ConfigMap
	// pack builds the policy pack once; Open starts the build, so that it overlaps the CLI's calls.
	pack func() (string, error)
	// recordedAtOpen holds the cluster Open read from the stack's tag, for the first operation's clusterIdentity.
	recordedAtOpen chan string
}

// Open selects (creating if needed) the stack and validates its whole configuration before anything else runs:
// a bad stack file is refused here, naming every key at fault, and nothing is touched.
func Open(ctx context.Context, opts Options) (*Stack, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	if _, err := os.Stat(opts.ConfigFile); err != nil {
		return nil, fmt.Errorf("stack %q has no stack file %s (stacks here: %s)", opts.Stack, opts.ConfigFile, strings.Join(StackNames(opts.Root), ", "))
	}
	pack := sync.OnceValues(func() (string, error) { return PolicyPack(opts.Root) })
	go pack() // an error is policyPack's to return, when an operation needs the pack
	c, err := selectCLI(opts.Root, opts.Toolchain, opts.Stderr)
	if err != nil {
		return nil, err
	}
	s := &Stack{opts: opts, cli: c, pack: pack, env: map[string]string{
		"PULUMI_BACKEND_URL":       "file://" + filepath.Join(opts.Root, ".state", "pulumi"),
		"PULUMI_SKIP_UPDATE_CHECK": "1",
	}}
	for _, source := range []map[string]string{collectLessOften(), fromEnviron("PULUMI_BACKEND_URL", "PULUMI_CONFIG_PASSPHRASE", "PULUMI_CONFIG_PASSPHRASE_FILE"), c.env, opts.Env} {
		for k, v := range source {
			s.env[k] = v
		}
	}
	if s.env["PULUMI_CONFIG_PASSPHRASE"] == "" && s.env["PULUMI_CONFIG_PASSPHRASE_FILE"] == "" {
		return nil, fmt.Errorf("set PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE) for stack %s: it decrypts the stack's secrets", opts.Stack)
	}
	if backend, ok := strings.CutPrefix(s.env["PULUMI_BACKEND_URL"], "file://"); ok {
		if err := os.MkdirAll(backend, 0o755); err != nil {
			return nil, err
		}
	}
	ws, err := auto.NewLocalWorkspace(ctx, auto.Program(program.New(program.Options{Seed: s.seedHere, AwaitWebhooks: true})),
		auto.WorkDir(opts.Root), auto.Pulumi(c.command), auto.EnvVars(s.env))
	if err != nil {
		return nil, fmt.Errorf("opening the workspace of stack %s: %w", opts.Stack, err)
	}
	// The stack's config is read in this process when it can be (readStackFile), by the CLI otherwise; its tags
	// are read at the same time, as a list, which fails when the stack does not exist: then it is created (or
	// UpsertStack says why the backend cannot be read) and a config the CLI could not read is read again. An
	// existing stack is not selected (a CLI call that only proves it exists, and changes which stack a plain
	// `pulumi` command in this directory acts on).
	readConfig := func() (err error) {
		var ok bool
		if s.secrets, ok = readStackFile(opts.Root, opts.ConfigFile, s.env); ok {
			return nil
		}
		s.secrets, err = ws.GetAllConfigWithOptions(ctx, opts.Stack, &auto.GetAllConfigOptions{ConfigFile: opts.ConfigFile, ShowSecrets: true})
		return err
	}
	var reads sync.WaitGroup
	var configErr, tagsErr error
	var tags map[string]string
	reads.Go(func() { configErr = readConfig() })
	reads.Go(func() { tags, tagsErr = ws.ListTags(ctx, opts.Stack) })
	reads.Wait()
	if tagsErr == nil {
		s.stack, err = auto.SelectStack(ctx, opts.Stack, existingStack{ws})
	} else {
		s.stack, err = auto.UpsertStack(ctx, opts.Stack, ws)
	}
	if err != nil {
		return nil, fmt.Errorf("selecting stack %s: %w", opts.Stack, err)
	}
	if configErr != nil {
		if err := readConfig(); err != nil {
			return nil, fmt.Errorf("reading the config of stack %s: %w", opts.Stack, err)
		}
	}
	s.recordedAtOpen = make(chan string, 1)
	s.recordedAtOpen <- tags[clusterTag]
	if s.config, err = config.Load(configSource{s.secrets, opts.ConfigFile}, config.Options{StackName: opts.Stack, BaseDir: opts.Root}); err != nil {
		return nil, err
	}
	return s, nil
}

// existingStack is a workspace whose stack is known to exist: selecting it is left out, as every command an
// auto.Stack runs names its stack (--stack: sdk/go/auto/stack.go, runPulumiCmdSync, v3.274.1).
type existingStack struct{ auto.Workspace }

func (existingStack) SelectStack(context.Context, string) error { return nil }

func (o *Options) defaults() error {
	if o.Stack == "" {
		return errors.New("no stack given (--stack)")
	}
	if o.Root == "" {
		cwd, err := os.Getwd()
		if err != nil {
			return err
		}
		if o.Root, err = config.FindProjectRoot(cwd); err != nil {
			return err
		}
	}
	if o.ConfigFile == "" {
		o.ConfigFile = config.StackFile(o.Root, o.Stack)
	}
	if o.Toolchain == "" {
		o.Toolchain = Auto
	}
	if o.Stdin == nil {
		o.Stdin = os.Stdin
	}
	if o.Stdout == nil {
		o.Stdout = os.Stdout
	}
	if o.Stderr == nil {
		o.Stderr = os.Stderr
	}
	return nil
}

// The garbage collector's settings for every Go process of an operation: this one (it runs the program), the
// CLI's engine, the Kubernetes provider and the policy pack. Their work is decoding property trees, Seldon's large
// CRDs above all, and the collector took a fifth of the provider's CPU in a no-change preview (perf). Collecting
// when the heap has grown 4x rather than 2x, each process held under 1 GiB: `seldon-ab preview --stack sandbox`,
// five alternated pairs, took 4.7-5.2 s (median 4.9) against 5.3-5.9 s (5.5), 6.2-6.5 s of CPU against 7.3-7.9 s;
// the largest process's peak RSS was 590-650 MB against 345-360 MB.
const (
	gcPercent     = 400
	gcMemoryLimit = 1 << 30
)

// collectLessOften applies the collector's settings to this process and returns them for the CLI and its
// plugins; a setting the user made in the environment (GOGC, GOMEMLIMIT) is left alone.
func collectLessOften() map[string]string {
	env := map[string]string{}
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
		env["GOGC"] = strconv.Itoa(gcPercent)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(gcMemoryLimit)
		env["GOMEMLIMIT"] = strconv.Itoa(gcMemoryLimit)
	}
	return env
}

func fromEnviron(keys ...string) map[string]string {
	out := map[string]string{}
	for _, k := range keys {
		if v, ok := os.LookupEnv(k); ok {
			out[k] = v
		}
	}
	return out
}

// StackNames lists the stacks of the project at root (its stacks/Pulumi.<stack>.yaml files).
func StackNames(root string) []string {
	files, _ := filepath.Glob(filepath.Join(root, "stacks", "Pulumi.*.yaml"))
	var names []string
	for _, f := range files {
		names = append(names, strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "Pulumi."), ".yaml"))
	}
	sort.Strings(names)
	return names
}

// Name is the stack's name.
func (s *Stack) Name() string { return s.opts.Stack }

// Config is the stack's validated configuration.
func (s *Stack) Config() *config.Stack { return s.config }

// Auto is the Automation API stack, for reads (outputs, state) that no lifecycle step wraps.
func (s *Stack) Auto() auto.Stack { return s.stack }

// Outputs are the stack's outputs as the last update left them.
func (s *Stack) Outputs(ctx context.Context) (auto.OutputMap, error) { return s.stack.Outputs(ctx) }

func (s *Stack) logf(format string, args ...any) {
	fmt.Fprintf(s.opts.Stderr, "[%s] "+format+"\n", append([]any{s.opts.Stack}, args...)...)
}

func (s *Stack) policyPack() (string, error) { return s.pack() }

// cluster connects to the stack's cluster as its kubeconfig and context say.
func (s *Stack) cluster() (*doctor.Live, error) {
	kubeconfig := ""
	if s.config.Cluster.Kubeconfig != "" {
		kubeconfig = config.ResolvePath(s.opts.Root, s.config.Cluster.Kubeconfig)
	}
	return doctor.Connect(kubeconfig, s.config.Cluster.Context)
}

// PolicyPack returns the path of the policy pack (package policies/analyzer) for the project at root: this very
// executable when its main called ServePolicyPack, which is then ready at once and needs no Go toolchain; otherwise
// policies/pack built into the project's .state.
func PolicyPack(root string) (string, error) {
	if servesPolicyPack {
		return os.Executable()
	}
	return BuildPolicyPack(root)
}

// BuildPolicyPack builds policies/pack into the project's .state and returns its path: the pack as a binary that
// outlives this process, for a plain `pulumi preview --policy-pack`.
func BuildPolicyPack(root string) (string, error) {
	out := filepath.Join(root, ".state", "bin", "policy-pack")
	cmd := exec.Command("go", "build", "-o", out, "./policies/pack")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOFLAGS=-buildvcs=false")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building the policy pack (go build ./policies/pack): %v\n%s", err, b)
	}
	return out, nil
}

// servesPolicyPack is set by ServePolicyPack: this executable answers as the policy pack.
var servesPolicyPack bool

// ServePolicyPack lets this executable be the stack's policy pack. Started as Pulumi starts a pack given as a
// file (analyzer.EngineAddress), this process serves the analyzer and exits. Otherwise it returns, and the
// lifecycle's previews and updates name this executable as their pack, sparing them the `go build` of
// policies/pack (0.4 s of CPU when up to date, on the path of every preview). Call it first in main (TestMain).
func ServePolicyPack() {
	if engine, ok := analyzer.EngineAddress(os.Args[1:]); ok {
		if err := analyzer.Serve(engine); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	servesPolicyPack = true
}

// configSource presents the stack's config, as the CLI decrypted it, to config.Load.
type configSource struct {
	values auto.ConfigMap
	file   string
}

func (c configSource) Get(key string) (string, bool) {
	v, ok := c.values[key]
	return v.Value, ok
}

func (c configSource) IsSecret(key string) bool { return c.values[key].Secret }

func (c configSource) Keys() []string { return config.StackFileKeys(c.file) }
