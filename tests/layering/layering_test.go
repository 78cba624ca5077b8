// Package layering_test holds the house's one-way arrows: what reads any live cluster (doctor) and the policy rules
// depend on nothing above them, the leaf packages on nothing of this project, and no product package on a test
// harness (the sandbox's harness lives under tests/internal/, where the compiler already refuses product imports).
package layering_test

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/seldon-ab/provisioner/"

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
		if strings.HasPrefix(p, module) {
			own = append(own, strings.TrimPrefix(p, module))
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
	for _, leaf := range []string{"internal/seldonspec", "internal/iprange", "internal/problem", "internal/shellquote", "internal/pins"} {
		if got := deps(t, "./"+leaf); len(got) != 1 || got[0] != leaf {
			t.Errorf("%s depends on %v", leaf, got)
		}
	}
}

// The product (the command line, the program, its components and policies) is built without the test harness:
// the mock harness (internal/pulumitest) is for tests only.
func TestTheProductBuildsWithoutTheTestHarness(t *testing.T) {
	for _, p := range deps(t, "./cmd/...", "./infra/...", "./components/...", "./policies/...") {
		if strings.HasPrefix(p, "tests/") || p == "internal/pulumitest" {
			t.Errorf("the product depends on the test harness package %s", p)
		}
	}
}
