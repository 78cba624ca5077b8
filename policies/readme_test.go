package policies_test

import (
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/seldon-ab/provisioner/policies"
)

// The README's table lists exactly the mandatory rules and its "Advisory:" line the others.
func TestTheReadmeListsEveryRule(t *testing.T) {
	data, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	section := string(data)
	start := strings.Index(section, "## Policies")
	if start < 0 {
		t.Fatal("README has no Policies section")
	}
	section = section[start:]
	if end := strings.Index(section[len("## Policies"):], "\n## "); end >= 0 {
		section = section[:len("## Policies")+end]
	}
	var tabled []string
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-z0-9-]+)` \\|").FindAllStringSubmatch(section, -1) {
		tabled = append(tabled, m[1])
	}
	advisoryLine := section[strings.Index(section, "Advisory:"):]
	var mandatory []string
	for _, r := range policies.Rules {
		if r.Mandatory {
			mandatory = append(mandatory, r.Name)
		} else if !strings.Contains(advisoryLine, "`"+r.Name+"`") {
			t.Errorf("advisory rule %s is not in the README's Advisory line", r.Name)
		}
	}
	sort.Strings(tabled)
	sort.Strings(mandatory)
	if strings.Join(tabled, " ") != strings.Join(mandatory, " ") {
		t.Errorf("README table rules %v, mandatory rules %v", tabled, mandatory)
	}
}
