package lifecycle

import (
	"context"
	"encoding/base64"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/common/diag"
	"github.com/pulumi/pulumi/sdk/v3/go/common/diag/colors"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/config"
	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"
)

// readStackFile reads the stack's config, decrypted, as `pulumi config --show-secrets --json` prints it, in this
// process: a CLI process costs 0.45 s on every command, most of it the CLI's own start and the same key derivation
// as here. It reads only what it can read exactly as the CLI does (pkg/cmd/pulumi/config/config.go, listConfig,
// v3.274.1): a stack file on a local backend, its secrets kept by the passphrase provider, with no ESC environment
// and no config declared in Pulumi.yaml (which the CLI would merge in). ok is false for anything else, and for a
// passphrase that does not open the secrets: the CLI then reads the config and words its error.
func readStackFile(root, file string, env map[string]string) (values auto.ConfigMap, ok bool) {
	if !strings.HasPrefix(env["PULUMI_BACKEND_URL"], "file://") {
		return nil, false
	}
	project, err := workspace.LoadProject(filepath.Join(root, "Pulumi.yaml"))
	if err != nil || len(project.Config) > 0 {
		return nil, false
	}
	stack, err := workspace.LoadProjectStack(diag.DefaultSink(io.Discard, io.Discard, diag.FormatOptions{Color: colors.Never}), project, file)
	if err != nil || stack.Environment != nil || stack.EncryptedKey != "" || (stack.SecretsProvider != "" && stack.SecretsProvider != "passphrase") {
		return nil, false
	}
	decrypter := config.Decrypter(config.NopDecrypter)
	if stack.Config.HasSecureValue() {
		if decrypter, ok = passphraseDecrypter(stack.EncryptionSalt, env); !ok {
			return nil, false
		}
	}
	plain, err := stack.Config.Decrypt(decrypter)
	if err != nil {
		return nil, false
	}
	values = auto.ConfigMap{}
	for key, value := range stack.Config {
		values[key.String()] = auto.ConfigValue{Value: plain[key], Secret: value.Secure()}
	}
	return values, true
}

// passphraseDecrypter opens a passphrase provider's state ("v1:<salt>:<the word pulumi, encrypted>") with the
// passphrase the CLI would use, as pkg/secrets/passphrase/manager.go does (symmetricCrypterFromPhraseAndState,
// readPassphrase; v3.274.1).
func passphraseDecrypter(state string, env map[string]string) (config.Decrypter, bool) {
	phrase, ok := env["PULUMI_CONFIG_PASSPHRASE"]
	if !ok {
		file := env["PULUMI_CONFIG_PASSPHRASE_FILE"]
		if !filepath.IsAbs(file) { // the CLI resolves it from its own directory
			return nil, false
		}
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, false
		}
		phrase = strings.TrimSpace(string(b))
	}
	version, rest, _ := strings.Cut(state, ":")
	salt, check, found := strings.Cut(rest, ":")
	if version != "v1" || !found {
		return nil, false
	}
	saltBytes, err := base64.StdEncoding.DecodeString(salt)
	if err != nil {
		return nil, false
	}
	crypter := config.NewSymmetricCrypterFromPassphrase(phrase, saltBytes)
	if word, err := crypter.DecryptValue(context.Background(), check); err != nil || word != "pulumi" {
		return nil, false
	}
	return crypter, true
}
