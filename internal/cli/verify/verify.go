// Package verify is `seldon-ab verify` and `seldon-ab demo`: real V2 inference calls through the ingress that
// prove the experiment's split, or say which layer is broken.
package verify

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/seldon-ab/provisioner/internal/cli/exitcode"
	"github.com/seldon-ab/provisioner/internal/cli/stackflags"
	"github.com/seldon-ab/provisioner/internal/verify"
)

// NewCommand is `seldon-ab verify`, or with demo `seldon-ab demo`.
func NewCommand(demo bool) *cobra.Command {
	var flags stackflags.Flags
	var argsFile string
	var own *verify.Flags
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Call the A/B experiment through the ingress, test its split, name the broken layer (exit 1 on failure)",
		Long: "By default, verifies the stack's experiment with the stack's own settings (its verifyArgs output); flags\n" +
			"given here win over them. With --args-json FILE, the arguments come from a verifyArgs JSON file; with\n" +
			"--url and --host, from the flags alone. The JSON and SVG reports of a stack's run go to .state/verify/<stack>.",
		Example: "  seldon-ab verify --stack homelab\n  seldon-ab verify --stack homelab --requests 5000 --svg split.svg",
		Args:    cobra.NoArgs,
	}
	if demo {
		cmd.Use = "demo"
		cmd.Short = "Verify with many calls and the running split shown live, for a demo"
	}
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		out, progress := cmd.OutOrStdout(), cmd.ErrOrStderr()
		var (
			inv verify.Invocation
			err error
		)
		switch {
		case argsFile != "":
			var stored []string
			if stored, err = readArgs(argsFile); err == nil {
				inv, err = verify.ParseArgs(stored[1:], cmd.Flags())
			}
		case cmd.Flags().Changed("url"):
			inv, err = own.Invocation()
		default:
			s, openErr := flags.Open(cmd)
			if openErr != nil {
				return openErr
			}
			_, err = s.Verify(cmd.Context(), demo, cmd.Flags())
			return failed(err)
		}
		if err != nil {
			return err
		}
		opts, err := flags.Options(cmd)
		if err != nil {
			return err
		}
		inv.Config.Proxy = opts.Proxy
		_, err = verify.Execute(cmd.Context(), inv, demo, out, progress)
		return failed(err)
	}
	flags.Add(cmd, false)
	cmd.Flags().StringVar(&argsFile, "args-json", "", "take the arguments from this verifyArgs JSON file")
	own = verify.AddFlags(cmd.Flags())
	return cmd
}

// failed turns a failed verdict into exit status 1 without repeating it: the summary already said why.
func failed(err error) error {
	if errors.Is(err, verify.ErrFailed) {
		return exitcode.Error{Code: 1}
	}
	return err
}

func readArgs(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var stored []string
	if err := json.Unmarshal(data, &stored); err != nil || len(stored) == 0 || stored[0] != "verify" {
		return nil, fmt.Errorf("%s does not hold the verifyArgs stack output (a JSON array starting with \"verify\")", path)
	}
	return stored, nil
}
