// Package stackflags holds the flags every stack command shares (--stack, --yes, --config-file, --toolchain,
// --proxy) and opens the stack they name.
package stackflags

import (
	"fmt"
	"net/url"
	"os"

	"github.com/spf13/cobra"

	"github.com/seldon-ab/provisioner/infra/config"
	"github.com/seldon-ab/provisioner/internal/lifecycle"
)

// DefaultStack is the local default: the sandbox stack.
const DefaultStack = "sandbox"

// Flags are the shared flags' values.
type Flags struct {
	Stack, ConfigFile, Toolchain, Proxy string
	Yes, Refresh                        bool
}

// Add registers the flags on cmd; confirms says whether the command asks before changing anything (--yes).
func (f *Flags) Add(cmd *cobra.Command, confirms bool) {
	fl := cmd.Flags()
	fl.StringVarP(&f.Stack, "stack", "s", DefaultStack, "the stack: stacks/Pulumi.<stack>.yaml")
	fl.StringVar(&f.ConfigFile, "config-file", "", "use this stack file instead of stacks/Pulumi.<stack>.yaml")
	fl.StringVar(&f.Toolchain, "toolchain", "auto", "the Pulumi CLI: installed (yours, on PATH), offline (built from Go modules by scripts/toolchain.sh) or auto (installed when there is one)")
	fl.StringVar(&f.Proxy, "proxy", os.Getenv("SELDON_AB_PROXY"), "an HTTP proxy that tunnels (CONNECT) this machine's connections to the stack's addresses (seeds, verification): the sandbox's cluster network ($SELDON_AB_PROXY)")
	if confirms {
		fl.BoolVarP(&f.Yes, "yes", "y", false, "do not ask: run unattended")
	}
	_ = cmd.RegisterFlagCompletionFunc("stack", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return StackNames(), cobra.ShellCompDirectiveNoFileComp
	})
	_ = cmd.RegisterFlagCompletionFunc("toolchain", cobra.FixedCompletions([]string{"auto", "installed", "offline"}, cobra.ShellCompDirectiveNoFileComp))
}

// AddRefresh registers --refresh.
func (f *Flags) AddRefresh(cmd *cobra.Command) {
	cmd.Flags().BoolVarP(&f.Refresh, "refresh", "r", false, "read the cluster into the state first (pulumi --refresh)")
}

// Options turns the flags into lifecycle options.
func (f *Flags) Options(cmd *cobra.Command) (lifecycle.Options, error) {
	toolchain, err := lifecycle.ParseToolchain(f.Toolchain)
	if err != nil {
		return lifecycle.Options{}, err
	}
	opts := lifecycle.Options{Stack: f.Stack, ConfigFile: f.ConfigFile, Yes: f.Yes, Toolchain: toolchain, Refresh: f.Refresh,
		Stdin: cmd.InOrStdin(), Stdout: cmd.OutOrStdout(), Stderr: cmd.ErrOrStderr()}
	if f.Proxy != "" {
		if opts.Proxy, err = url.Parse(f.Proxy); err != nil || opts.Proxy.Host == "" {
			return lifecycle.Options{}, fmt.Errorf("--proxy %q is not a URL like http://127.0.0.1:8080", f.Proxy)
		}
	}
	return opts, nil
}

// Open opens the stack the flags name.
func (f *Flags) Open(cmd *cobra.Command) (*lifecycle.Stack, error) {
	opts, err := f.Options(cmd)
	if err != nil {
		return nil, err
	}
	return lifecycle.Open(cmd.Context(), opts)
}

// StackNames lists the stacks of the project this command runs in.
func StackNames() []string {
	cwd, err := os.Getwd()
	if err != nil {
		return nil
	}
	root, err := config.FindProjectRoot(cwd)
	if err != nil {
		return nil
	}
	return lifecycle.StackNames(root)
}
