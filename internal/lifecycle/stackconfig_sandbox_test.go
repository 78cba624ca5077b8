//go:build sandbox

package lifecycle

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"

	"github.com/seldon-ab/provisioner/infra/config"
	"github.com/seldon-ab/provisioner/internal/pins"
)

// What readStackFile reads is what the pinned CLI's `config --show-secrets --json` prints, for a stack file with
// secrets at the top level and inside an object, and for the sandbox's own stack file.
func TestTheStackFileIsReadAsTheCLIReadsIt(t *testing.T) {
	cwd, _ := os.Getwd()
	repo, err := config.FindProjectRoot(cwd)
	if err != nil {
		t.Fatal(err)
	}
	c, err := selectCLI(repo, Offline, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	synthetic, syntheticFile := passphraseStack(t, "right", "")
	sandbox := t.TempDir()
	copyFile(t, filepath.Join(repo, "Pulumi.yaml"), filepath.Join(sandbox, "Pulumi.yaml"))
	copyFile(t, config.StackFile(repo, "sandbox"), config.StackFile(sandbox, "sandbox"))
	for _, stack := range []struct{ root, file, name, phrase string }{
		{synthetic, syntheticFile, "lab", "right"},
		{sandbox, config.StackFile(sandbox, "sandbox"), "sandbox", pins.SandboxPassphrase},
	} {
		t.Run(stack.name, func(t *testing.T) {
			env := map[string]string{"PULUMI_BACKEND_URL": "file://" + t.TempDir(), "PULUMI_CONFIG_PASSPHRASE": stack.phrase, "PULUMI_SKIP_UPDATE_CHECK": "1"}
			for k, v := range c.env {
				env[k] = v
			}
			ctx := context.Background()
			ws, err := auto.NewLocalWorkspace(ctx, auto.WorkDir(stack.root), auto.Pulumi(c.command), auto.EnvVars(env))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := auto.NewStack(ctx, stack.name, ws); err != nil {
				t.Fatal(err)
			}
			byCLI, err := ws.GetAllConfigWithOptions(ctx, stack.name, &auto.GetAllConfigOptions{ConfigFile: stack.file, ShowSecrets: true})
			if err != nil {
				t.Fatal(err)
			}
			here, ok := readStackFile(stack.root, stack.file, env)
			if !ok {
				t.Fatal("left to the CLI")
			}
			if !reflect.DeepEqual(here, byCLI) {
				t.Errorf("read here:\n%v\nby the CLI:\n%v", here, byCLI)
			}
		})
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err == nil {
		err = os.MkdirAll(filepath.Dir(to), 0o755)
	}
	if err == nil {
		err = os.WriteFile(to, b, 0o600)
	}
	if err != nil {
		t.Fatal(err)
	}
}
