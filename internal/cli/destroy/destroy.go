// Package destroy is `seldon-ab destroy`: delete every resource of a stack, in Seldon's safe order.
package destroy

import (
	"github.com/spf13/cobra"

	"github.com/seldon-ab/provisioner/internal/cli/stackflags"
)

// NewCommand is `seldon-ab destroy`.
func NewCommand() *cobra.Command {
	var flags stackflags.Flags
	cmd := &cobra.Command{
		Use:   "destroy",
		Short: "Delete every resource of a stack (the Experiment and Models first, while Seldon can release them)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := flags.Open(cmd)
			if err != nil {
				return err
			}
			_, err = s.Destroy(cmd.Context())
			return err
		},
	}
	flags.Add(cmd, true)
	return cmd
}
