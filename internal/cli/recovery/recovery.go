// Package recovery is `seldon-ab recover`: make a stack usable again after an interrupted update.
package recovery

import (
	"github.com/spf13/cobra"

	"github.com/seldon-ab/provisioner/internal/cli/stackflags"
)

// NewCommand is `seldon-ab recover`.
func NewCommand() *cobra.Command {
	var flags stackflags.Flags
	cmd := &cobra.Command{
		Use:   "recover",
		Short: "After an interrupted update: release its dead process's lock and settle its pending creates",
		Long: "Releases the stack's lock when the process that took it no longer runs on this machine (never a live one,\n" +
			"never one taken elsewhere: with a shared backend use `pulumi cancel`), then reads the cluster to settle\n" +
			"the creates the interrupted update left pending (pulumi refresh --clear-pending-creates).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := flags.Open(cmd)
			if err != nil {
				return err
			}
			return s.Recover(cmd.Context())
		},
	}
	flags.Add(cmd, true)
	return cmd
}
