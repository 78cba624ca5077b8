// Package sandbox is the test bed of this project: a local Kubernetes control plane (scripts/cluster.sh) with
// its real MinIO, MetalLB controller and rclone and the simulation of Seldon (tests/cmd/sandboxd), and the
// lifecycle users run (internal/lifecycle) aimed at it, for the sandbox tests and the benchmark.
package sandbox

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"gopkg.in/yaml.v3"

	"github.com/seldon-ab/provisioner/infra/config"
	"github.com/seldon-ab/provisioner/internal/lifecycle"
	"github.com/seldon-ab/provisioner/internal/pins"
)

// Env is a ready toolchain and a running local cluster.
type Env struct {
	Root       string
	Bin        string
	Kubeconfig string
	// Backend is this Env's own Pulumi state directory, so tests never touch a user's sandbox state.
	Backend string
	// Proxy is the cluster network (tests/cmd/sandboxd): it reaches in-cluster names and the LoadBalancer IPs
	// MetalLB assigned, through the pods that run here and nowhere else.
	Proxy   *url.URL
	cluster string
}

// ProjectRoot finds the directory holding Pulumi.yaml, upwards from the working directory.
func ProjectRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	return config.FindProjectRoot(dir)
}

// Start builds (or reuses) the toolchain and starts (or reuses) the local cluster called clusterName. Its state
// backend lives beside the cluster; a recreated cluster's stale state is the lifecycle's to handle, as a user's.
func Start(clusterName string) (*Env, error) {
	root, err := ProjectRoot()
	if err != nil {
		return nil, err
	}
	bin, err := script(root, "toolchain.sh")
	if err != nil {
		return nil, err
	}
	kubeconfig, err := script(root, "cluster.sh", "up", clusterName)
	if err != nil {
		return nil, err
	}
	proxy, err := script(root, "cluster.sh", "proxy", clusterName)
	if err != nil {
		return nil, err
	}
	e := &Env{Root: root, Bin: bin, Kubeconfig: kubeconfig, cluster: clusterName, Backend: filepath.Join(root, ".state", "pulumi-"+clusterName)}
	if e.Proxy, err = url.Parse(proxy); err != nil {
		return nil, err
	}
	return e, os.MkdirAll(e.Backend, 0o755)
}

// Recreate stops the cluster and makes a new one of the same name, as a reboot or a reinstall does: its objects
// are gone and the stack's state still lists them. Stacks opened before must be opened again (the network's
// address changes).
func (e *Env) Recreate() error {
	if err := e.Stop(); err != nil {
		return err
	}
	fresh, err := Start(e.cluster)
	if err != nil {
		return err
	}
	*e = *fresh
	return nil
}

// StateDir is the cluster's directory: its kubeconfig, sandboxd's log, pods' files (node/) and the agents' model
// caches (agent/<namespace>/models).
func (e *Env) StateDir() string {
	return filepath.Join(e.Root, ".state", "clusters", e.cluster)
}

// Stop stops the cluster and every process started with it (scripts/cluster.sh down).
func (e *Env) Stop() error {
	_, err := script(e.Root, "cluster.sh", "down", e.cluster)
	return err
}

// StopOnInterrupt stops the cluster (and every process started with it) and exits when this process is
// interrupted or terminated, so nothing a test or benchmark started outlives it.
func (e *Env) StopOnInterrupt() {
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-signals
		if err := e.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "[sandbox] stopping cluster %s: %v\n", e.cluster, err)
		}
		os.Exit(130)
	}()
}

// script runs scripts/<name> and returns the last line it printed (the scripts print their result last).
func script(root, name string, args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(root, "scripts", name), args...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("scripts/%s %s: %w", name, strings.Join(args, " "), err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return lines[len(lines)-1], nil
}

// Options are the lifecycle options of stack on this Env's cluster: its config file copy (ConfigFile), this Env's
// backend and the sandbox's passphrase, the offline toolchain, the cluster network as proxy, unattended, and the
// progress of the engine in progress (io.Discard to drop it: a failed operation's error carries the output).
func (e *Env) Options(stack, configFile string, progress io.Writer) lifecycle.Options {
	return lifecycle.Options{Root: e.Root, Stack: stack, ConfigFile: configFile, Yes: true, Toolchain: lifecycle.Offline,
		Proxy: e.Proxy, Stdout: progress, Stderr: progress,
		Env: map[string]string{"PULUMI_BACKEND_URL": "file://" + e.Backend, "PULUMI_CONFIG_PASSPHRASE": pins.SandboxPassphrase}}
}

// Open opens stack through the lifecycle with a copy of its stack file aimed at this Env's cluster, after mutate
// (may be nil) edits the copy's config map; dir holds the copy. Each of adjust (e.g. a refresh) edits the options.
func (e *Env) Open(ctx context.Context, stack, dir string, mutate func(cfg map[string]any), adjust ...func(*lifecycle.Options)) (*lifecycle.Stack, error) {
	file, err := e.ConfigFile(stack, dir, mutate)
	if err != nil {
		return nil, err
	}
	opts := e.Options(stack, file, io.Discard)
	for _, a := range adjust {
		a(&opts)
	}
	return lifecycle.Open(ctx, opts)
}

// ConfigFile writes a copy of stacks/Pulumi.<stack>.yaml aimed at this Env's cluster, after mutate (may be nil)
// edits its config map, and returns its path.
func (e *Env) ConfigFile(stack, dir string, mutate func(cfg map[string]any)) (string, error) {
	data, err := os.ReadFile(config.StackFile(e.Root, stack))
	if err != nil {
		return "", err
	}
	var file map[string]any
	if err := yaml.Unmarshal(data, &file); err != nil {
		return "", err
	}
	cfg, _ := file["config"].(map[string]any)
	if cfg == nil {
		cfg = map[string]any{}
		file["config"] = cfg
	}
	cluster, _ := cfg[config.Namespace+":cluster"].(map[string]any)
	if cluster == nil {
		cluster = map[string]any{}
	}
	cluster["kubeconfig"] = e.Kubeconfig
	cfg[config.Namespace+":cluster"] = cluster
	if mutate != nil {
		mutate(cfg)
	}
	out, err := yaml.Marshal(file)
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, config.StackFileName(stack))
	return path, os.WriteFile(path, out, 0o600)
}

// InlineStack is a stack of another, throwaway project running program, with the offline CLI, this Env's state
// and its cluster: for programs that are not this project's (a deliberately broken one, for the policies).
func (e *Env) InlineStack(ctx context.Context, project, stackName string, program pulumi.RunFunc) (auto.Stack, error) {
	dir, err := os.MkdirTemp("", project)
	if err != nil {
		return auto.Stack{}, err
	}
	cmd, err := auto.NewPulumiCommand(&auto.PulumiCommandOptions{Root: filepath.Dir(e.Bin)})
	if err != nil {
		return auto.Stack{}, err
	}
	env := map[string]string{"KUBECONFIG": e.Kubeconfig, "PULUMI_BACKEND_URL": "file://" + e.Backend,
		"PULUMI_CONFIG_PASSPHRASE": pins.SandboxPassphrase, "PULUMI_SKIP_UPDATE_CHECK": "1",
		"PULUMI_HOME": filepath.Join(filepath.Dir(e.Bin), "pulumi-home"), "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
		"PULUMI_IGNORE_AMBIENT_PLUGINS": "true"}
	return auto.UpsertStackInlineSource(ctx, stackName, project, program, auto.WorkDir(dir), auto.Pulumi(cmd), auto.EnvVars(env))
}

// ExportDecrypted is the stack's state with its secrets in plain text (`pulumi stack export --show-secrets`), for
// tools that must apply its objects again (the benchmark's peers).
func (e *Env) ExportDecrypted(ctx context.Context, stack string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(e.Bin, "pulumi"), "stack", "export", "--show-secrets", "--stack", stack)
	cmd.Dir = e.Root
	cmd.Env = append(os.Environ(), "PULUMI_BACKEND_URL=file://"+e.Backend, "PULUMI_CONFIG_PASSPHRASE="+pins.SandboxPassphrase,
		"PULUMI_SKIP_UPDATE_CHECK=1", "PULUMI_HOME="+filepath.Join(filepath.Dir(e.Bin), "pulumi-home"))
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("pulumi stack export: %w", err)
	}
	return out, nil
}

// Kubectl runs the toolchain's kubectl against this Env's cluster.
func (e *Env) Kubectl(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(e.Bin, "kubectl"), append([]string{"--kubeconfig", e.Kubeconfig}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("kubectl %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}
