// Package outputs is `seldon-ab outputs`: a stack's outputs (how to call the experiment, its addresses).
package outputs

import (
	"encoding/json"
	"fmt"
	"sort"

	"github.com/spf13/cobra"

	"github.com/seldon-ab/provisioner/internal/cli/stackflags"
)

// NewCommand is `seldon-ab outputs`.
func NewCommand() *cobra.Command {
	var flags stackflags.Flags
	cmd := &cobra.Command{
		Use:   "outputs",
		Short: "Print a stack's outputs (secrets masked): the curl to call the experiment, its addresses",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := flags.Open(cmd)
			if err != nil {
				return err
			}
			outputs, err := s.Outputs(cmd.Context())
			if err != nil {
				return err
			}
			keys := make([]string, 0, len(outputs))
			for k := range outputs {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				v := outputs[k]
				text := "[secret]"
				if !v.Secret {
					if str, ok := v.Value.(string); ok {
						text = str
					} else {
						b, _ := json.Marshal(v.Value)
						text = string(b)
					}
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%-28s %s\n", k, text)
			}
			return nil
		},
	}
	flags.Add(cmd, false)
	return cmd
}
