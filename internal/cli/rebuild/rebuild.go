// Package rebuild is `seldon-ab rebuild`: destroy then up, timed.
package rebuild

import (
	"github.com/spf13/cobra"

	"github.com/seldon-ab/provisioner/internal/cli/stackflags"
)

// NewCommand is `seldon-ab rebuild`.
func NewCommand() *cobra.Command {
	var flags stackflags.Flags
	cmd := &cobra.Command{
		Use:   "rebuild",
		Short: "Destroy a stack and bring it up again, timed: the tear-down-and-rebuild after a demo",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := flags.Open(cmd)
			if err != nil {
				return err
			}
			_, err = s.Rebuild(cmd.Context())
			return err
		},
	}
	flags.Add(cmd, true)
	return cmd
}
