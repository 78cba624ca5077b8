package program_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/seldon-ab/provisioner/infra/program"
	"github.com/seldon-ab/provisioner/internal/pulumitest"
)

// plainCopies lists the paths under v where a string contains one of the secrets outside a secret-marked value.
func plainCopies(path string, v resource.PropertyValue, secrets []string) []string {
	switch {
	case v.IsSecret() || v.IsComputed():
		return nil
	case v.IsOutput():
		if v.OutputValue().Secret {
			return nil
		}
		return plainCopies(path, v.OutputValue().Element, secrets)
	case v.IsString():
		for _, s := range secrets {
			if strings.Contains(v.StringValue(), s) {
				return []string{path}
			}
		}
	case v.IsArray():
		var out []string
		for i, e := range v.ArrayValue() {
			out = append(out, plainCopies(fmt.Sprintf("%s[%d]", path, i), e, secrets)...)
		}
		return out
	case v.IsObject():
		var out []string
		for k, e := range v.ObjectValue() {
			out = append(out, plainCopies(path+"."+string(k), e, secrets)...)
		}
		return out
	}
	return nil
}

// Every value derived from the model store's credentials reaches the state only as a Pulumi secret: the
// credentials Secret, the rclone Secret of each model namespace, chart values, commands. Seeding and verification
// are on so that their command resources are checked too.
func TestCredentialsNeverReachTheStateInPlainText(t *testing.T) {
	cfg := homelabConfig(t)
	cfg.Values["seldon-ab:commands"] = `{"enabled": true}`
	cfg.Values["seldon-ab:verification"] = `{"enabled": true}`
	cfg.Values["seldon-ab:seldon"] = strings.Replace(cfg.Values["seldon-ab:seldon"], `"modelNamespaces":["seldon-system"]`,
		`"modelNamespaces":["seldon-system","models-b"]`, 1)
	var outputs pulumi.Map
	g, err := pulumitest.Run(t, func(ctx *pulumi.Context) (err error) {
		outputs, err = program.Outputs(ctx)
		return err
	}, "homelab", root(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	secrets := []string{"field-admin", "field-secret-key"}
	// Stack outputs go to the state as they are: one that holds a credential must be a secret itself.
	for name, value := range outputs {
		out := pulumi.ToOutput(value)
		plain := pulumi.Unsecret(out).ApplyT(func(v any) string { return fmt.Sprint(v) }).(pulumi.StringOutput)
		if holds := awaitString(t, plain); containsAny(holds, secrets) && !pulumi.IsSecret(out) {
			t.Errorf("stack output %s holds a credential and is not a secret", name)
		}
	}
	carriers := 0
	for _, r := range g.Snapshot() {
		for _, leak := range plainCopies(r.Type+"/"+r.Name, resource.NewObjectProperty(r.Inputs), secrets) {
			t.Errorf("a credential is in plain text at %s", leak)
		}
		if r.Inputs.ContainsSecrets() {
			carriers++
		}
	}
	// The credentials Secret and an rclone Secret per model namespace (2) at least carry them.
	if carriers < 3 {
		t.Errorf("only %d resources carry secrets; the credentials did not reach the objects that need them", carriers)
	}
}

func containsAny(s string, parts []string) bool {
	for _, p := range parts {
		if strings.Contains(s, p) {
			return true
		}
	}
	return false
}

// awaitString resolves an output after the mocked run (its value is known by then).
func awaitString(t *testing.T, out pulumi.StringOutput) string {
	t.Helper()
	got := make(chan string, 1)
	out.ApplyT(func(v string) string { got <- v; return v })
	return <-got
}
