// Package up is `seldon-ab up`: bring a stack to what its config declares, proven by the verifier.
package up

import (
	"github.com/spf13/cobra"

	"github.com/seldon-ab/provisioner/internal/cli/stackflags"
)

// NewCommand is `seldon-ab up`.
func NewCommand() *cobra.Command {
	var flags stackflags.Flags
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Create or update a stack's resources (preview, confirm, update, seed, verify)",
		Long: "Previews the stack with the policy pack (stopping a stack the policies refuse before anything is touched),\n" +
			"asks (unless --yes), then updates it. A stack that seeds its artifacts without command resources seeds\n" +
			"within the update, once the buckets exist and before any Model; with verification on, the verifier's verdict\n" +
			"through the ingress ends the update, and a failed one fails it, naming the broken layer.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := flags.Open(cmd)
			if err != nil {
				return err
			}
			_, err = s.Up(cmd.Context())
			return err
		},
	}
	flags.Add(cmd, true)
	flags.AddRefresh(cmd)
	return cmd
}
