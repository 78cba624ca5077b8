// Package refresh is `seldon-ab refresh`: read a stack's objects from the cluster into its state.
package refresh

import (
	"github.com/spf13/cobra"

	"github.com/seldon-ab/provisioner/internal/cli/stackflags"
)

// NewCommand is `seldon-ab refresh`.
func NewCommand() *cobra.Command {
	var flags stackflags.Flags
	cmd := &cobra.Command{
		Use:   "refresh",
		Short: "Read every object of a stack from the cluster into its state (changes the state, not the cluster)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := flags.Open(cmd)
			if err != nil {
				return err
			}
			_, err = s.Refresh(cmd.Context())
			return err
		},
	}
	flags.Add(cmd, false)
	return cmd
}
