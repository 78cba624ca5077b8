// Package sandbox drives the real Pulumi engine, through the Automation API and the very program the CLI runs,
// against a local Kubernetes control plane: the test bed and benchmark harness of this project.
package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
	"github.com/seldon-ab/provisioner/infra/program"
)

// Passphrase encrypts the sandbox stack's throwaway credentials; it is public on purpose (README).
const Passphrase = "sandbox"

// Project is the Pulumi project name (Pulumi.yaml).
const Project = "seldon-ab"

// Env is a ready toolchain and a running local cluster.
type Env struct {
	Root       string
	Bin        string
	Kubeconfig string
	// Backend is this Env's own Pulumi state directory, so tests never touch a user's sandbox state.
	Backend string
	// Proxy is the cluster network (cmd/sandbox-node): set it as HTTP_PROXY to reach in-cluster names and the
	// LoadBalancer IPs MetalLB assigned, through the pods that run here and nowhere else.
	Proxy   string
	cluster string
	cmd     auto.PulumiCommand
	env     map[string]string
}

// ProjectRoot finds the directory holding Pulumi.yaml, upwards from the working directory.
func ProjectRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	return config.FindProjectRoot(dir)
}

// Start builds (or reuses) the toolchain and starts (or reuses) the local cluster called clusterName.
func Start(clusterName string) (*Env, error) {
	root, err := ProjectRoot()
	if err != nil {
		return nil, err
	}
	bin, err := script(root, "toolchain.sh")
	if err != nil {
		return nil, err
	}
	backend := filepath.Join(root, ".state", "pulumi-"+clusterName)
	if _, err := script(root, "cluster.sh", "status", clusterName); err != nil {
		// A new cluster: state kept from an earlier one describes objects that no longer exist.
		if err := os.RemoveAll(backend); err != nil {
			return nil, err
		}
	}
	kubeconfig, err := script(root, "cluster.sh", "up", clusterName)
	if err != nil {
		return nil, err
	}
	proxy, err := script(root, "cluster.sh", "proxy", clusterName)
	if err != nil {
		return nil, err
	}
	e := &Env{Root: root, Bin: bin, Kubeconfig: kubeconfig, Proxy: proxy, cluster: clusterName, Backend: backend}
	if err := os.MkdirAll(e.Backend, 0o755); err != nil {
		return nil, err
	}
	if err := ClearStaleLocks(e.Backend); err != nil {
		return nil, err
	}
	home := filepath.Join(filepath.Dir(bin), "pulumi-home")
	e.env = map[string]string{
		"PULUMI_HOME":                                 home,
		"PULUMI_BACKEND_URL":                          "file://" + e.Backend,
		"PULUMI_CONFIG_PASSPHRASE":                    Passphrase,
		"PULUMI_SKIP_UPDATE_CHECK":                    "1",
		"PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
		"PULUMI_IGNORE_AMBIENT_PLUGINS":               "true",
		"PATH":                                        bin + string(os.PathListSeparator) + os.Getenv("PATH"),
	}
	if _, err := os.Stat(filepath.Join(home, "plugins", "resource-kubernetes-v4.25.0")); err != nil {
		install := exec.Command(filepath.Join(bin, "pulumi"), "plugin", "install", "resource", "kubernetes", "4.25.0",
			"--file", filepath.Join(bin, "pulumi-resource-kubernetes"))
		install.Env = e.environ()
		if out, err := install.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("installing the kubernetes plugin: %v\n%s", err, out)
		}
	}
	e.cmd, err = auto.NewPulumiCommand(&auto.PulumiCommandOptions{Root: filepath.Dir(bin)})
	if err != nil {
		return nil, fmt.Errorf("the Pulumi CLI in %s: %w", bin, err)
	}
	return e, nil
}

// StateDir is the cluster's directory: its kubeconfig, helper logs, pods' files (node/) and the agents' model
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

// ClearStaleLocks removes the stack locks in a file backend whose process, on this machine, no longer runs: what
// a killed test or update leaves behind. A lock held by a live process, or taken on another machine, stays.
func ClearStaleLocks(backend string) error {
	host, err := os.Hostname()
	if err != nil {
		return err
	}
	locks, _ := filepath.Glob(filepath.Join(backend, ".pulumi", "locks", "*", "*", "*", "*.json"))
	for _, path := range locks {
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var lock struct {
			PID      int    `json:"pid"`
			Hostname string `json:"hostname"`
		}
		if json.Unmarshal(data, &lock) != nil || lock.Hostname != host || lock.PID <= 0 ||
			!errors.Is(syscall.Kill(lock.PID, 0), syscall.ESRCH) {
			continue
		}
		fmt.Fprintf(os.Stderr, "[sandbox] removing the stack lock of process %d, which no longer runs: %s\n", lock.PID, path)
		for _, f := range []string{path, path + ".attrs"} {
			if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
		}
	}
	return nil
}

// ExportStack returns the stack's deployment with secrets in plain text (for tools that must re-apply its objects).
func (e *Env) ExportStack(ctx context.Context, stackName string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(e.Bin, "pulumi"), "stack", "export", "--show-secrets", "--stack", stackName)
	cmd.Dir, cmd.Env = e.Root, e.environ()
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("pulumi stack export: %w", err)
	}
	return out, nil
}

func (e *Env) environ() []string {
	out := os.Environ()
	for k, v := range e.env {
		out = append(out, k+"="+v)
	}
	return out
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

// Stack selects (creating if needed) stackName in this Env's backend, running program.Program in-process.
func (e *Env) Stack(ctx context.Context, stackName string) (auto.Stack, error) {
	return e.StackIn(ctx, stackName, nil)
}

// StackIn is Stack with environment overrides, e.g. another backend (PULUMI_BACKEND_URL) and its credentials.
func (e *Env) StackIn(ctx context.Context, stackName string, overrides map[string]string) (auto.Stack, error) {
	env := map[string]string{}
	for k, v := range e.env {
		env[k] = v
	}
	for k, v := range overrides {
		env[k] = v
	}
	return auto.UpsertStackInlineSource(ctx, stackName, Project, program.Program,
		auto.WorkDir(e.Root), auto.Pulumi(e.cmd), auto.EnvVars(env))
}

// PolicyPack builds the policy pack and returns its path (scripts/policy-pack.sh).
func (e *Env) PolicyPack() (string, error) {
	return script(e.Root, "policy-pack.sh")
}

// InlineStack is a stack of another, throwaway project running program, with this Env's CLI, state and cluster.
func (e *Env) InlineStack(ctx context.Context, project, stackName string, program pulumi.RunFunc) (auto.Stack, error) {
	dir, err := os.MkdirTemp("", project)
	if err != nil {
		return auto.Stack{}, err
	}
	env := map[string]string{"KUBECONFIG": e.Kubeconfig}
	for k, v := range e.env {
		env[k] = v
	}
	return auto.UpsertStackInlineSource(ctx, stackName, project, program, auto.WorkDir(dir), auto.Pulumi(e.cmd), auto.EnvVars(env))
}

// ConfigFile writes a copy of stacks/Pulumi.<stack>.yaml aimed at this Env's cluster, after mutate (may be nil)
// edits its config map, and returns its path for the ConfigFile options of up, preview, refresh and destroy.
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

// Kubectl runs the toolchain's kubectl against this Env's cluster.
func (e *Env) Kubectl(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(e.Bin, "kubectl"), append([]string{"--kubeconfig", e.Kubeconfig}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("kubectl %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}
