// Package render is `seldon-ab render`: every Kubernetes object a stack would apply, as YAML files.
package render

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/seldon-ab/provisioner/internal/cli/stackflags"
	"github.com/seldon-ab/provisioner/internal/lifecycle"
)

// NewCommand is `seldon-ab render`.
func NewCommand() *cobra.Command {
	var flags stackflags.Flags
	var out string
	cmd := &cobra.Command{
		Use:   "render",
		Short: "Write every object the stack would apply (charts rendered, secrets masked) as YAML; changes nothing",
		Long: "Previews the stack against an empty, throwaway state and writes each Kubernetes object it would create as\n" +
			"one YAML file. Its cluster must answer: charts are rendered against it.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts, err := flags.Options(cmd)
			if err != nil {
				return err
			}
			if out == "" {
				out = filepath.Join("out", flags.Stack)
			}
			n, err := lifecycle.Render(cmd.Context(), opts, out)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %d objects to %s\n", n, out)
			return nil
		},
	}
	flags.Add(cmd, false)
	cmd.Flags().StringVarP(&out, "out", "o", "", "directory for the YAML files (default out/<stack>)")
	return cmd
}
