package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/spf13/pflag"

	"github.com/seldon-ab/provisioner/infra/config"
	"github.com/seldon-ab/provisioner/internal/seed"
	"github.com/seldon-ab/provisioner/internal/verify"
)

// verificationIsAStep: verification is on and no command resource of the program runs the verifier.
func (s *Stack) verificationIsAStep() bool {
	return s.config.Verification.Enabled && !s.config.Commands.Enabled
}

// Seed uploads the stack's seed directories (its seedArgs output) with the store's credentials from its config.
// Unchanged files are skipped, so a second run uploads nothing.
func (s *Stack) Seed(ctx context.Context) error {
	argvs, creds, err := s.Seeds(ctx)
	if err != nil {
		return err
	}
	if err := seed.RunAll(ctx, argvs, creds, s.opts.Root, s.opts.Stderr); err != nil {
		return fmt.Errorf("seeding: %w", err)
	}
	return nil
}

// Seeds are the deployed stack's seed command lines (its seedArgs output) and the credentials they run with.
func (s *Stack) Seeds(ctx context.Context) ([][]string, seed.Credentials, error) {
	outputs, err := s.stack.Outputs(ctx)
	if err != nil {
		return nil, seed.Credentials{}, err
	}
	argvs, err := stringLists(outputs["seedArgs"].Value)
	if err != nil || len(argvs) == 0 {
		return nil, seed.Credentials{}, fmt.Errorf("stack %s has no seedArgs output (modelStore.seed is empty, or the store is not up yet)", s.opts.Stack)
	}
	return argvs, s.seedCredentials(), nil
}

// seedHere runs the seeds the program hands over during an update (program.Options.Seed).
func (s *Stack) seedHere(ctx context.Context, argvs [][]string) error {
	s.logf("seeding the model store before the Models")
	return seed.RunAll(ctx, argvs, s.seedCredentials(), s.opts.Root, s.opts.Stderr)
}

func (s *Stack) seedCredentials() seed.Credentials {
	return seed.Credentials{
		AccessKey: s.secrets[config.Namespace+":"+config.AccessKeyKey].Value,
		SecretKey: s.secrets[config.Namespace+":"+config.SecretKeyKey].Value,
		Proxy:     s.opts.Proxy,
	}
}

// Verify runs the verifier against the deployed stack (its verifyArgs output, with the flags set in overrides
// winning; overrides may be nil) and writes its reports under .state/verify/<stack> unless overrides say where;
// demo sends many calls and shows the running split. It does not wait for the split to settle unless overrides
// set --settle: it runs on a stack already up, where a split still moving is a finding, not a rollout.
func (s *Stack) Verify(ctx context.Context, demo bool, overrides *pflag.FlagSet) (verify.Suite, error) {
	outputs, err := s.stack.Outputs(ctx)
	if err != nil {
		return verify.Suite{}, err
	}
	return s.runVerifier(ctx, outputs, demo, false, overrides)
}

func (s *Stack) verify(ctx context.Context, outputs auto.OutputMap) error {
	s.logf("verifying the experiment through the ingress")
	if _, err := s.runVerifier(ctx, outputs, false, true, nil); err != nil {
		if errors.Is(err, verify.ErrFailed) {
			return fmt.Errorf("stack %s is up, but %w", s.opts.Stack, err)
		}
		return fmt.Errorf("stack %s is up, but its verification could not run: %w", s.opts.Stack, err)
	}
	return nil
}

func (s *Stack) runVerifier(ctx context.Context, outputs auto.OutputMap, demo, afterUpdate bool, overrides *pflag.FlagSet) (verify.Suite, error) {
	args, err := stringList(outputs["verifyArgs"].Value)
	if err != nil || len(args) == 0 || args[0] != "verify" {
		return verify.Suite{}, fmt.Errorf("stack %s has no verifyArgs output: run `seldon-ab up --stack %s` first", s.opts.Stack, s.opts.Stack)
	}
	inv, err := verify.ParseArgs(args[1:], overrides)
	if err != nil {
		return verify.Suite{}, fmt.Errorf("the stack's verifyArgs output (one written by an older seldon-ab is rewritten by `seldon-ab up --stack %s`): %w", s.opts.Stack, err)
	}
	if !afterUpdate && (overrides == nil || !overrides.Changed("settle")) {
		inv.Config.Settle = 0
	}
	dir := filepath.Join(s.opts.Root, ".state", "verify", s.opts.Stack)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return verify.Suite{}, err
	}
	if inv.JSONPath == "" {
		inv.JSONPath = filepath.Join(dir, "report.json")
	}
	if inv.SVGPath == "" {
		inv.SVGPath = filepath.Join(dir, "report.svg")
	}
	inv.Config.Proxy = s.opts.Proxy
	rep, err := verify.Execute(ctx, inv, demo, s.opts.Stdout, s.opts.Stderr)
	if err == nil {
		s.logf("verification report: %s (picture: %s)", inv.JSONPath, inv.SVGPath)
	}
	return rep, err
}

func stringList(v any) ([]string, error) {
	items, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("not a list: %T", v)
	}
	out := make([]string, 0, len(items))
	for _, item := range items {
		str, ok := item.(string)
		if !ok {
			return nil, fmt.Errorf("not a string: %T", item)
		}
		out = append(out, str)
	}
	return out, nil
}

func stringLists(v any) ([][]string, error) {
	items, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("not a list: %T", v)
	}
	out := make([][]string, 0, len(items))
	for _, item := range items {
		list, err := stringList(item)
		if err != nil {
			return nil, err
		}
		out = append(out, list)
	}
	return out, nil
}
