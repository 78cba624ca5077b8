package lifecycle

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/blang/semver"
	"github.com/pulumi/pulumi/sdk/v3/go/auto"

	"github.com/seldon-ab/provisioner/internal/pins"
)

// Toolchain says which Pulumi CLI runs the stack.
type Toolchain string

const (
	// Auto is Installed when a `pulumi` is on PATH, Offline otherwise.
	Auto Toolchain = "auto"
	// Installed is the user's own CLI with its normal plugin handling: it downloads the providers it needs.
	Installed Toolchain = "installed"
	// Offline is the CLI and Kubernetes provider built from Go modules by scripts/toolchain.sh, with plugin
	// downloads off: what a machine without a route to Pulumi's release pages runs (the sandbox here, CI).
	Offline Toolchain = "offline"
)

// ParseToolchain reads a --toolchain value.
func ParseToolchain(s string) (Toolchain, error) {
	switch t := Toolchain(s); t {
	case "", Auto:
		return Auto, nil
	case Installed, Offline:
		return t, nil
	}
	return "", fmt.Errorf("--toolchain %q: use auto, installed or offline", s)
}

// cli is a chosen Pulumi CLI and the environment it runs with.
type cli struct {
	command auto.PulumiCommand
	env     map[string]string
	mode    Toolchain
}

// selectCLI finds (or, offline, builds) the Pulumi CLI for mode; progress notes go to log.
func selectCLI(root string, mode Toolchain, log io.Writer) (cli, error) {
	if mode == Auto {
		mode = Offline
		if _, err := exec.LookPath("pulumi"); err == nil {
			mode = Installed
		}
	}
	minimum := semver.MustParse(strings.TrimPrefix(pins.PulumiVersion, "v"))
	if mode == Installed {
		path, err := exec.LookPath("pulumi")
		if err != nil {
			return cli{}, fmt.Errorf("--toolchain installed: no pulumi on PATH; install Pulumi %s or newer, or use --toolchain offline", pins.PulumiVersion)
		}
		// The Automation API runs `pulumi version` itself; skipping its check leaves the refusal to the message below.
		command, err := auto.NewPulumiCommand(&auto.PulumiCommandOptions{SkipVersionCheck: true})
		if err != nil {
			return cli{}, fmt.Errorf("the installed pulumi (%s): %w; install Pulumi %s or newer, or use --toolchain offline", path, err, pins.PulumiVersion)
		}
		version := command.Version()
		if version.LT(minimum) {
			return cli{}, fmt.Errorf("the installed pulumi (%s) is v%s; this project needs %s or newer: upgrade it, or use --toolchain offline to build and use the local toolchain",
				path, version, pins.PulumiVersion)
		}
		fmt.Fprintf(log, "[seldon-ab] using the installed Pulumi CLI %s (--toolchain offline for the local toolchain)\n", version)
		return cli{command: command, env: map[string]string{}, mode: Installed}, nil
	}
	bin, err := buildToolchain(root, log)
	if err != nil {
		return cli{}, err
	}
	home := filepath.Join(filepath.Dir(bin), "pulumi-home")
	env := map[string]string{
		"PULUMI_HOME": home,
		// Without these a missing plugin makes Pulumi try a download: traffic the offline toolchain never sends.
		"PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
		"PULUMI_IGNORE_AMBIENT_PLUGINS":               "true",
	}
	plugin := filepath.Join(home, "plugins", "resource-kubernetes-v"+pins.KubernetesProvider)
	if _, err := os.Stat(plugin); err != nil {
		install := exec.Command(filepath.Join(bin, "pulumi"), "plugin", "install", "resource", "kubernetes", pins.KubernetesProvider,
			"--file", filepath.Join(bin, "pulumi-resource-kubernetes"))
		install.Env = append(os.Environ(), "PULUMI_HOME="+home, "PULUMI_SKIP_UPDATE_CHECK=1")
		if out, err := install.CombinedOutput(); err != nil {
			return cli{}, fmt.Errorf("installing the kubernetes provider plugin %s from %s: %v\n%s", pins.KubernetesProvider, bin, err, out)
		}
	}
	return cli{command: pinnedCLI{path: filepath.Join(bin, "pulumi"), version: minimum}, env: env, mode: Offline}, nil
}

// buildToolchain builds (once per version) the CLI and the Kubernetes provider with scripts/toolchain.sh, which
// prints its bin directory last.
func buildToolchain(root string, log io.Writer) (string, error) {
	if bin, ok := builtToolchain(); ok {
		return bin, nil
	}
	cmd := exec.Command(filepath.Join(root, "scripts", "toolchain.sh"), "pulumi", "kubernetes-provider")
	cmd.Stderr = log
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("building the offline toolchain (scripts/toolchain.sh pulumi kubernetes-provider): %w", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return lines[len(lines)-1], nil
}

// builtToolchain is the bin directory scripts/toolchain.sh fills, when the CLI and the provider there carry the
// stamps of the pinned versions (the script's `have`): the usual case, known without starting a shell (0.1 s).
func builtToolchain() (string, bool) {
	cache := os.Getenv("SELDON_AB_CACHE")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", false
		}
		cache = filepath.Join(home, ".cache", "seldon-ab")
	}
	bin := filepath.Join(cache, "bin")
	for name, version := range map[string]string{"pulumi": pins.PulumiVersion, "pulumi-resource-kubernetes": pins.KubernetesProvider} {
		stamp, err := os.ReadFile(filepath.Join(bin, "."+name+".version"))
		if err != nil || strings.TrimSpace(string(stamp)) != version {
			return "", false
		}
		if info, err := os.Stat(filepath.Join(bin, name)); err != nil || info.Mode()&0o111 == 0 {
			return "", false
		}
	}
	return bin, true
}

// pinnedCLI runs the offline toolchain's CLI, whose version is the pinned one its build stamp records, the way the
// Automation API's own runner does (sdk/go/auto/cmd.go, pulumiCommand.Run, v3.274.1). That runner cannot be made
// without first running `pulumi version` to learn the version: 0.2 s before every command.
type pinnedCLI struct {
	path    string
	version semver.Version
}

func (p pinnedCLI) Version() semver.Version { return p.version }

func (p pinnedCLI) Run(ctx context.Context, workdir string, stdin io.Reader, stdout, stderr []io.Writer, env []string, args ...string) (string, string, int, error) {
	pulumiArgs := args
	if i := slices.Index(args, "--"); i >= 0 {
		pulumiArgs = args[:i]
	}
	if !slices.Contains(pulumiArgs, "--non-interactive") { // fail rather than wait for an answer nobody gives
		args = append([]string{"--non-interactive"}, args...)
	}
	cmd := exec.CommandContext(ctx, p.path, args...)
	cmd.Dir = workdir
	// The CLI finds its language host and plugins beside itself first; the last of duplicate keys wins.
	cmd.Env = append(append(os.Environ(), env...), "PULUMI_AUTOMATION_API=true",
		"PATH="+filepath.Dir(p.path)+string(os.PathListSeparator)+os.Getenv("PATH"))
	var out, errOut bytes.Buffer
	cmd.Stdout = io.MultiWriter(append(stdout, &out)...)
	cmd.Stderr = io.MultiWriter(append(stderr, &errOut)...)
	cmd.Stdin = stdin
	// Cancelled, the CLI is interrupted, as at a terminal: it ends the operation and releases the stack's lock.
	cmd.Cancel = func() error {
		if err := cmd.Process.Signal(os.Interrupt); err != nil {
			_ = cmd.Process.Kill()
		}
		return nil
	}
	cmd.WaitDelay = 10 * time.Second
	err := cmd.Run()
	code := -2 // the Automation API's code for a CLI that did not run to an exit status
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err == nil {
		code = 0
	}
	return out.String(), errOut.String(), code, err
}
