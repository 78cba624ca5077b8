// Package policypack is `seldon-ab policy-pack`: build the policy pack and print its path, for a plain
// `pulumi preview --policy-pack` (the pull-request and drift workflows).
package policypack

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/seldon-ab/provisioner/infra/config"
	"github.com/seldon-ab/provisioner/internal/lifecycle"
)

// NewCommand is `seldon-ab policy-pack`.
func NewCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "policy-pack",
		Short: "Build the policy pack and print its path (for pulumi preview --policy-pack)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cwd, err := os.Getwd()
			if err != nil {
				return err
			}
			root, err := config.FindProjectRoot(cwd)
			if err != nil {
				return err
			}
			path, err := lifecycle.BuildPolicyPack(root)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), path)
			return nil
		},
	}
}
