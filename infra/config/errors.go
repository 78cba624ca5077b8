package config

import (
	"fmt"
	"strings"

	"github.com/seldon-ab/provisioner/internal/problem"
)

// FieldError is one problem with one config key, in the project's one problem shape (Object is the full key),
// with the key and the value the stack gave (empty for secrets and missing keys).
type FieldError struct {
	problem.Problem
	// Key is the path under the project namespace, e.g. "metallb.pools[0].addresses[1]".
	Key   string
	Value string
}

// NewFieldError is a config error: key, what the stack gave, what is wrong, and the fix.
func NewFieldError(key, value, what, fix string) FieldError {
	return FieldError{Key: key, Value: value,
		Problem: problem.Problem{Severity: problem.Error, Check: "config", Object: Namespace + ":" + key, What: what, Fix: fix}}
}

func (e FieldError) Error() string {
	var b strings.Builder
	b.WriteString(e.Object)
	if e.Value != "" {
		fmt.Fprintf(&b, " = %q", e.Value)
	}
	fmt.Fprintf(&b, " %s", e.What)
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
