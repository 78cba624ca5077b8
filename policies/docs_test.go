package policies_test

import (
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/seldon-ab/provisioner/policies"
)

// The policies page's table lists exactly the mandatory rules and its "Advisory:" line the others.
func TestThePoliciesPageListsEveryRule(t *testing.T) {
	data, err := os.ReadFile("../docs/policies.md")
	if err != nil {
		t.Fatal(err)
	}
	section := string(data)
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
			t.Errorf("advisory rule %s is not in the Advisory line of docs/policies.md", r.Name)
		}
	}
	sort.Strings(tabled)
	sort.Strings(mandatory)
	if strings.Join(tabled, " ") != strings.Join(mandatory, " ") {
		t.Errorf("docs/policies.md table rules %v, mandatory rules %v", tabled, mandatory)
	}
}
