// Package doctor is `seldon-ab doctor`: read a live cluster, never change it, report what is wrong and the fix.
package doctor

import (
	"encoding/json"
	"os"

	"github.com/spf13/cobra"

	"github.com/seldon-ab/provisioner/infra/config"
	"github.com/seldon-ab/provisioner/internal/cli/exitcode"
	"github.com/seldon-ab/provisioner/internal/cli/stackflags"
	"github.com/seldon-ab/provisioner/internal/doctor"
)

// NewCommand is `seldon-ab doctor`.
func NewCommand() *cobra.Command {
	var (
		stack, kubeconfig, kubeContext, ingressClass string
		asJSON                                       bool
	)
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Diagnose a live cluster against the known failure modes (exit 0 fine, 1 warnings, 2 errors)",
		Long: "Reads the cluster of a stack (its cluster.kubeconfig and cluster.context; no passphrase needed), or the one\n" +
			"--kubeconfig and --context name, and reports by severity with the evidence and the fix. It never writes.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("kubeconfig") && !cmd.Flags().Changed("context") {
				s, err := readStack(stack)
				if err != nil {
					return err
				}
				kubeconfig, kubeContext = s.kubeconfig, s.Cluster.Context
				if !cmd.Flags().Changed("ingress-class") && s.Ingress.Controller == config.ControllerIngressNginx {
					ingressClass = s.Ingress.ClassName
				}
			}
			live, err := doctor.ConnectForPreflight(kubeconfig, kubeContext)
			if err != nil {
				return err
			}
			rep, err := doctor.Run(cmd.Context(), live, ingressClass)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				if err := enc.Encode(rep); err != nil {
					return err
				}
			} else {
				rep.WriteText(cmd.OutOrStdout())
			}
			if worst := int(rep.Worst()); worst != 0 {
				return exitcode.Error{Code: worst}
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&stack, "stack", "s", stackflags.DefaultStack, "read the cluster and ingress class of this stack")
	fl.StringVar(&kubeconfig, "kubeconfig", "", "read this cluster instead of the stack's (default: $KUBECONFIG or ~/.kube/config)")
	fl.StringVar(&kubeContext, "context", "", "the kubeconfig context (default: the current one)")
	fl.StringVar(&ingressClass, "ingress-class", "nginx", "the IngressClass the stack's controller serves (ingress.className)")
	fl.BoolVar(&asJSON, "json", false, "print the report as JSON")
	_ = cmd.RegisterFlagCompletionFunc("stack", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return stackflags.StackNames(), cobra.ShellCompDirectiveNoFileComp
	})
	return cmd
}

type stackCluster struct {
	*config.Stack
	kubeconfig string
}

// readStack reads the stack file without decrypting it: the cluster's coordinates are plain settings.
func readStack(name string) (stackCluster, error) {
	cwd, err := os.Getwd()
	if err != nil {
		return stackCluster{}, err
	}
	root, err := config.FindProjectRoot(cwd)
	if err != nil {
		return stackCluster{}, err
	}
	src, err := config.ReadStackFile(config.StackFile(root, name))
	if err != nil {
		return stackCluster{}, err
	}
	s, err := config.Load(src, config.Options{StackName: name, BaseDir: root})
	if err != nil {
		return stackCluster{}, err
	}
	out := stackCluster{Stack: s}
	if s.Cluster.Kubeconfig != "" {
		out.kubeconfig = config.ResolvePath(root, s.Cluster.Kubeconfig)
	}
	return out, nil
}
