// Package preview is `seldon-ab preview`: what an update would change, with the policy pack's verdict.
package preview

import (
	"github.com/spf13/cobra"

	"github.com/seldon-ab/provisioner/internal/cli/stackflags"
	"github.com/seldon-ab/provisioner/internal/lifecycle"
)

// NewCommand is `seldon-ab preview`.
func NewCommand() *cobra.Command {
	var flags stackflags.Flags
	var po lifecycle.PreviewOptions
	cmd := &cobra.Command{
		Use:   "preview",
		Short: "Show what an update would change, with the policy pack's verdict; changes nothing",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := flags.Open(cmd)
			if err != nil {
				return err
			}
			_, err = s.Preview(cmd.Context(), po)
			return err
		},
	}
	flags.Add(cmd, false)
	flags.AddRefresh(cmd)
	cmd.Flags().BoolVar(&po.Diff, "diff", false, "show every property that changes")
	cmd.Flags().BoolVar(&po.ExpectNoChanges, "expect-no-changes", false, "fail if anything would change (drift detection)")
	return cmd
}
