// Package layering_test holds the house's one-way arrows: what reads any live cluster (doctor) and the policy rules
// depend on nothing above them, and the leaf packages on nothing of this project.
package layering_test

import (
	"os/exec"
	"strings"
	"testing"
)

func deps(t *testing.T, pkgs ...string) []string {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list", "-deps"}, pkgs...)...)
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps %v: %v", pkgs, err)
	}
	var own []string
	for _, p := range strings.Fields(string(out)) {
		if strings.HasPrefix(p, "github.com/seldon-ab/provisioner/") {
			own = append(own, strings.TrimPrefix(p, "github.com/seldon-ab/provisioner/"))
		}
	}
	return own
}

func TestPoliciesAndDoctorDependOnNothingAboveThem(t *testing.T) {
	for _, p := range deps(t, "./policies/...", "./internal/doctor/...") {
		if strings.HasPrefix(p, "infra/") || strings.HasPrefix(p, "components/") {
			t.Errorf("policies or doctor depend on %s", p)
		}
	}
}

func TestLeafPackagesImportNothingOfThisProject(t *testing.T) {
	for _, leaf := range []string{"internal/seldonspec", "internal/iprange", "internal/problem", "internal/shellquote"} {
		if got := deps(t, "./"+leaf); len(got) != 1 || got[0] != leaf {
			t.Errorf("%s depends on %v", leaf, got)
		}
	}
}
