package config

import (
	"fmt"
	"strings"
)

// FieldError is one problem with one config key: where, what was given, what is wrong, and how to fix it.
type FieldError struct {
	// Key is the path under the project namespace, e.g. "metallb.pools[0].addresses[1]".
	Key string
	// Value is what the stack gave; empty for secrets and missing keys.
	Value   string
	Problem string
	Fix     string
}

func (e FieldError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s:%s", Namespace, e.Key)
	if e.Value != "" {
		fmt.Fprintf(&b, " = %q", e.Value)
	}
	fmt.Fprintf(&b, " %s", e.Problem)
	if e.Fix != "" {
		fmt.Fprintf(&b, "; fix: %s", e.Fix)
	}
	return b.String()
}

// Errors is every problem found in one stack's config.
type Errors []FieldError

func (errs Errors) Error() string {
	var b strings.Builder
	noun := "problem"
	if len(errs) > 1 {
		noun = "problems"
	}
	fmt.Fprintf(&b, "the stack configuration has %d %s; nothing was changed:", len(errs), noun)
	for _, e := range errs {
		b.WriteString("\n  - " + e.Error())
	}
	return b.String()
}
