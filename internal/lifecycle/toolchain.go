package lifecycle

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

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
	command, err := auto.NewPulumiCommand(&auto.PulumiCommandOptions{Root: filepath.Dir(bin), Version: minimum})
	if err != nil {
		return cli{}, fmt.Errorf("the offline Pulumi CLI in %s: %w", bin, err)
	}
	return cli{command: command, env: env, mode: Offline}, nil
}

// buildToolchain builds (once per version) the CLI and the Kubernetes provider with scripts/toolchain.sh, which
// prints its bin directory last.
func buildToolchain(root string, log io.Writer) (string, error) {
	cmd := exec.Command(filepath.Join(root, "scripts", "toolchain.sh"), "pulumi", "kubernetes-provider")
	cmd.Stderr = log
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("building the offline toolchain (scripts/toolchain.sh pulumi kubernetes-provider): %w", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return lines[len(lines)-1], nil
}
