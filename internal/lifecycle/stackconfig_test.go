package lifecycle

import (
	"context"
	"encoding/base64"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/common/diag"
	"github.com/pulumi/pulumi/sdk/v3/go/common/diag/colors"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/config"
	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"
)

// passphraseStack writes a project and a stack file whose secrets are encrypted under phrase, as `pulumi stack
// init --secrets-provider passphrase` and `pulumi config set --secret` write them; extra is appended to the stack
// file. It returns the project root and the stack file.
func passphraseStack(t *testing.T, phrase, extra string) (root, file string) {
	t.Helper()
	ctx := context.Background()
	salt := []byte("sixteen byte slt")
	crypter := config.NewSymmetricCrypterFromPassphrase(phrase, salt)
	encrypt := func(plain string) string {
		ct, err := crypter.EncryptValue(ctx, plain)
		if err != nil {
			t.Fatal(err)
		}
		return ct
	}
	root = t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "Pulumi.yaml"), []byte("name: seldon-ab\nruntime: go\nstackConfigDir: stacks\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	file = filepath.Join(root, "stacks", "Pulumi.lab.yaml")
	stack := "encryptionsalt: v1:" + base64.StdEncoding.EncodeToString(salt) + ":" + encrypt("pulumi") + "\n" +
		"config:\n" +
		"  seldon-ab:region: lab\n" +
		"  seldon-ab:password:\n    secure: " + encrypt("hunter2") + "\n" +
		"  seldon-ab:modelStore:\n    user: admin\n    key:\n      secure: " + encrypt("s3cr3t") + "\n" + extra
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte(stack), 0o600); err != nil {
		t.Fatal(err)
	}
	return root, file
}

const localState = "file:///tmp/state"

var localBackend = map[string]string{"PULUMI_BACKEND_URL": localState, "PULUMI_CONFIG_PASSPHRASE": "right"}

// A passphrase stack on a local backend is read here, each value decrypted and marked secret as the CLI marks it.
func TestAPassphraseStackIsReadWithoutTheCLI(t *testing.T) {
	root, file := passphraseStack(t, "right", "")
	values, ok := readStackFile(root, file, localBackend)
	if !ok {
		t.Fatal("a passphrase stack on a local backend was left to the CLI")
	}
	want := auto.ConfigMap{
		"seldon-ab:region":     {Value: "lab"},
		"seldon-ab:password":   {Value: "hunter2", Secret: true},
		"seldon-ab:modelStore": {Value: `{"key":"s3cr3t","user":"admin"}`, Secret: true}, // an object holding a secret is one
	}
	if len(values) != len(want) {
		t.Fatalf("read %d keys, want %d: %v", len(values), len(want), keysOf(values))
	}
	for key, w := range want {
		if got := values[key]; got != w {
			t.Errorf("%s: got %+v, want %+v", key, got, w)
		}
	}

	phraseFile := filepath.Join(t.TempDir(), "phrase")
	if err := os.WriteFile(phraseFile, []byte("right\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fromFile := map[string]string{"PULUMI_BACKEND_URL": localState, "PULUMI_CONFIG_PASSPHRASE_FILE": phraseFile}
	if values, ok := readStackFile(root, file, fromFile); !ok || values["seldon-ab:password"].Value != "hunter2" {
		t.Errorf("with the passphrase in a file: ok %v, password %q", ok, values["seldon-ab:password"].Value)
	}
}

// Whatever the CLI would read differently (another backend, secrets provider or passphrase, an ESC environment,
// config declared by the project) or would answer with an error is left to it.
func TestWhatTheCLIReadsDifferentlyIsLeftToIt(t *testing.T) {
	for name, c := range map[string]struct {
		extra, project string
		env            map[string]string
	}{
		"the wrong passphrase":           {env: withEntry(localBackend, "PULUMI_CONFIG_PASSPHRASE", "wrong")},
		"no passphrase":                  {env: map[string]string{"PULUMI_BACKEND_URL": localState}},
		"a relative passphrase file":     {env: map[string]string{"PULUMI_BACKEND_URL": localState, "PULUMI_CONFIG_PASSPHRASE_FILE": "phrase"}},
		"a shared backend":               {env: withEntry(localBackend, "PULUMI_BACKEND_URL", "s3://state?endpoint=127.0.0.1:9000")},
		"the Pulumi Cloud":               {env: map[string]string{"PULUMI_CONFIG_PASSPHRASE": "right"}},
		"a cloud secrets provider":       {extra: "secretsprovider: awskms://alias/lab\nencryptedkey: AQID\n", env: localBackend},
		"an ESC environment":             {extra: "environment:\n  - lab/credentials\n", env: localBackend},
		"config declared by the project": {project: "config:\n  seldon-ab:replicas:\n    default: 2\n", env: localBackend},
	} {
		t.Run(name, func(t *testing.T) {
			root, file := passphraseStack(t, "right", c.extra)
			if c.project != "" {
				if err := os.WriteFile(filepath.Join(root, "Pulumi.yaml"), []byte("name: seldon-ab\nruntime: go\nstackConfigDir: stacks\n"+c.project), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			// Both files must load, so that the refusal is the rule's and not a parse error's.
			project, err := workspace.LoadProject(filepath.Join(root, "Pulumi.yaml"))
			if err == nil {
				_, err = workspace.LoadProjectStack(diag.DefaultSink(io.Discard, io.Discard, diag.FormatOptions{Color: colors.Never}), project, file)
			}
			if err != nil {
				t.Fatalf("the case's files do not load: %v", err)
			}
			if values, ok := readStackFile(root, file, c.env); ok {
				t.Errorf("read here (%d keys); want it left to the CLI", len(values))
			}
		})
	}
}

func keysOf(m auto.ConfigMap) string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	return strings.Join(keys, ", ")
}
