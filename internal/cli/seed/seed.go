// Package seed is `seldon-ab seed`: upload model artifacts to the stack's store, skipping unchanged files.
package seed

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/seldon-ab/provisioner/internal/cli/stackflags"
	"github.com/seldon-ab/provisioner/internal/seed"
)

// NewCommand is `seldon-ab seed`.
func NewCommand() *cobra.Command {
	var flags stackflags.Flags
	var argsFile string
	var one *seed.Invocation
	cmd := &cobra.Command{
		Use:   "seed",
		Short: "Upload model artifact directories to s3://bucket/prefix; unchanged files are skipped",
		Long: "By default, uploads every directory of the stack's modelStore.seed (its seedArgs output) with the stack's\n" +
			"credentials. With --args-json FILE it runs each command line of a seedArgs JSON file; with --source, one\n" +
			"directory. Those two take the credentials from S3_ACCESS_KEY and S3_SECRET_KEY (never from flags: they would\n" +
			"show in the process list).",
		Example: "  seldon-ab seed --stack homelab\n" +
			"  S3_ACCESS_KEY=... S3_SECRET_KEY=... seldon-ab seed --source models/baseline --endpoint http://192.168.1.248:9000 --bucket mlflow-artifacts --prefix baseline-predictor",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts, err := flags.Options(cmd)
			if err != nil {
				return err
			}
			creds := seed.Credentials{AccessKey: os.Getenv("S3_ACCESS_KEY"), SecretKey: os.Getenv("S3_SECRET_KEY"), Proxy: opts.Proxy}
			switch {
			case argsFile != "":
				argvs, err := readArgvs(argsFile)
				if err != nil {
					return err
				}
				return seed.RunAll(cmd.Context(), argvs, creds, ".", cmd.OutOrStdout())
			case one.Source != "":
				if err := one.Check(); err != nil {
					return err
				}
				return seed.Run(cmd.Context(), *one, creds, ".", cmd.OutOrStdout())
			}
			s, err := flags.Open(cmd)
			if err != nil {
				return err
			}
			return s.Seed(cmd.Context())
		},
	}
	flags.Add(cmd, false)
	cmd.Flags().StringVar(&argsFile, "args-json", "", "run each command line of this seedArgs JSON file")
	one = seed.AddFlags(cmd.Flags())
	return cmd
}

func readArgvs(path string) ([][]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var argvs [][]string
	if err := json.Unmarshal(data, &argvs); err != nil {
		return nil, fmt.Errorf("%s does not hold the seedArgs stack output (a JSON array of arrays starting with \"seed\"): %w", path, err)
	}
	return argvs, nil
}
