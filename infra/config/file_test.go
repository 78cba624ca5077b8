package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/seldon-ab/provisioner/infra/config"
)

// The README's configuration example is a valid stack once its secrets are set: what a newcomer copies works.
func TestTheReadmeExampleIsAValidStack(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(readme)
	start := strings.Index(text, "## Configuration")
	block := text[start:]
	block = block[strings.Index(block, "```yaml\n")+len("```yaml\n"):]
	block = block[:strings.Index(block, "```")]
	file := filepath.Join(t.TempDir(), "Pulumi.readme.yaml")
	secrets := "  seldon-ab:modelStoreAccessKey:\n    secure: v1:encrypted-access\n  seldon-ab:modelStoreSecretKey:\n    secure: v1:encrypted-secret-key\n"
	if err := os.WriteFile(file, []byte(block+secrets), 0o600); err != nil {
		t.Fatal(err)
	}
	src, err := config.ReadStackFile(file)
	if err != nil {
		t.Fatal(err)
	}
	s, err := config.Load(src, config.Options{StackName: "readme", BaseDir: "../.."})
	if err != nil {
		t.Fatalf("the README's example is refused:\n%v", err)
	}
	if s.Ingress.LoadBalancerIP != "192.168.1.249" || len(s.Models) != 2 || s.Experiments[0].Candidates[0].Weight != 70 {
		t.Errorf("read %+v", s)
	}
}

// A stack file read without its passphrase: plain settings as the engine gives them to the program (objects as
// JSON), secure values as secrets, every key listed.
func TestAStackFileReadsAsTheEngineGivesIt(t *testing.T) {
	src, err := config.ReadStackFile("../../stacks/Pulumi.sandbox.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !src.IsSecret("seldon-ab:modelStoreAccessKey") || src.IsSecret("seldon-ab:ingress") {
		t.Error("secure values are not secrets, or plain ones are")
	}
	ingress, ok := src.Get("seldon-ab:ingress")
	if !ok || !strings.HasPrefix(ingress, "{") || !strings.Contains(ingress, `"loadBalancerIP":"192.168.1.249"`) {
		t.Errorf("seldon-ab:ingress = %q", ingress)
	}
	if keys := src.Keys(); len(keys) < 8 {
		t.Errorf("keys %v", keys)
	}
}
