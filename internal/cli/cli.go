// Package cli is the seldon-ab command line: the root command and its subcommands, one package each.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/seldon-ab/provisioner/internal/cli/destroy"
	"github.com/seldon-ab/provisioner/internal/cli/doctor"
	"github.com/seldon-ab/provisioner/internal/cli/exitcode"
	"github.com/seldon-ab/provisioner/internal/cli/outputs"
	"github.com/seldon-ab/provisioner/internal/cli/policypack"
	"github.com/seldon-ab/provisioner/internal/cli/preview"
	"github.com/seldon-ab/provisioner/internal/cli/rebuild"
	"github.com/seldon-ab/provisioner/internal/cli/recovery"
	"github.com/seldon-ab/provisioner/internal/cli/refresh"
	"github.com/seldon-ab/provisioner/internal/cli/render"
	"github.com/seldon-ab/provisioner/internal/cli/seed"
	"github.com/seldon-ab/provisioner/internal/cli/up"
	"github.com/seldon-ab/provisioner/internal/cli/verify"
)

// NewCommand is the root command.
func NewCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "seldon-ab",
		Short: "Provision, verify and diagnose the Seldon Core v2 A/B stack",
		Long: "seldon-ab takes a Kubernetes cluster to a verified Seldon Core v2 A/B experiment (MetalLB, NGINX, MinIO, Seldon)\n" +
			"and keeps it there: preview, up, destroy and rebuild a stack of stacks/, verify its split with real inference\n" +
			"calls, and diagnose a live cluster.",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(up.NewCommand(), preview.NewCommand(), destroy.NewCommand(), rebuild.NewCommand(),
		refresh.NewCommand(), recovery.NewCommand(), outputs.NewCommand(), seed.NewCommand(), verify.NewCommand(false),
		verify.NewCommand(true), render.NewCommand(), doctor.NewCommand(), policypack.NewCommand())
	return root
}

// Main runs the command line with args and returns the process's exit code; errors go to stderr.
func Main(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := NewCommand()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var code exitcode.Error
	if errors.As(err, &code) {
		if code.Err != nil {
			fmt.Fprintln(stderr, "seldon-ab:", code.Err)
		}
		return code.Code
	}
	fmt.Fprintln(stderr, "seldon-ab:", err)
	return 1
}
