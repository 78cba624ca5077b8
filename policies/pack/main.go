// Command pack is the policy pack: a thin policyx adapter that runs every rule of package policies, per resource
// where the rule allows (so it stops the resource before creation) and over the stack otherwise. Build it and pass the binary to `pulumi preview --policy-pack` (`seldon-ab policy-pack` builds it and prints its path).
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/blang/semver"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/policyx"

	"github.com/seldon-ab/provisioner/policies"
)

func main() {
	if err := policyx.Main(pack); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func pack(*pulumi.Context) (policyx.PolicyPack, error) {
	var all []policyx.Policy
	for _, rule := range policies.Rules {
		level := policyx.EnforcementLevelAdvisory
		if rule.Mandatory {
			level = policyx.EnforcementLevelMandatory
		}
		report := func(manager policyx.PolicyManager, stack []policies.Resource) {
			for _, v := range rule.Check(stack) {
				manager.ReportViolation(v.Message, v.URN)
			}
		}
		if rule.PerResource {
			all = append(all, policyx.NewResourceValidationPolicy(rule.Name, policyx.ResourceValidationPolicyArgs{
				Description: rule.Description, EnforcementLevel: level,
				ValidateResource: func(_ context.Context, args policyx.ResourceValidationArgs) error {
					report(args.Manager, []policies.Resource{convert(args.Resource)})
					return nil
				},
			}))
			continue
		}
		all = append(all, policyx.NewStackValidationPolicy(rule.Name, policyx.StackValidationPolicyArgs{
			Description: rule.Description, EnforcementLevel: level,
			ValidateStack: func(_ context.Context, args policyx.StackValidationArgs) error {
				var stack []policies.Resource
				for _, r := range args.Resources {
					stack = append(stack, convert(r))
				}
				report(args.Manager, stack)
				return nil
			},
		}))
	}
	return policyx.NewPolicyPack("seldon-ab", semver.MustParse("0.1.0"), policyx.EnforcementLevelMandatory, all)
}

func convert(r policyx.AnalyzerResource) policies.Resource {
	return policies.Resource{Type: r.Type, Name: r.Name, URN: r.URN, Parent: r.Parent, Props: policies.FromProperties(r.Properties)}
}
