// Package policies holds the rules that stop a broken stack at preview time, as plain Go functions over resource
// properties; the policy pack (policies/pack), an analyzer plugin, runs them, and unit tests call them directly.
package policies

import (
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/property"

	"github.com/seldon-ab/provisioner/internal/problem"
)

// Resource is one resource as a rule sees it: its inputs as plain Go values (maps, slices, strings, float64,
// bool), with Secret wrapping values that were Pulumi secrets.
type Resource struct {
	Type   string
	Name   string
	URN    string
	Parent string
	Props  map[string]any
}

// Secret marks a value that was a Pulumi secret.
type Secret struct{ Value any }

// Unknown marks a value not known until apply (preview of a new resource).
type Unknown struct{}

// Violation is one broken rule, in the project's one problem shape (Check is the rule), with the resource's URN
// and the message the policy pack reports.
type Violation struct {
	problem.Problem
	URN     string
	Message string
}

// FromProperties converts engine property values to plain Go values.
func FromProperties(m property.Map) map[string]any {
	out := map[string]any{}
	for k, v := range m.All {
		out[k] = fromValue(v)
	}
	return out
}

func fromValue(v property.Value) any {
	var out any
	switch {
	case v.IsComputed():
		out = Unknown{}
	case v.IsString():
		out = v.AsString()
	case v.IsNumber():
		out = v.AsNumber()
	case v.IsBool():
		out = v.AsBool()
	case v.IsArray():
		var list []any
		for _, item := range v.AsArray().All {
			list = append(list, fromValue(item))
		}
		out = list
	case v.IsMap():
		out = FromProperties(v.AsMap())
	}
	if v.Secret() {
		return Secret{Value: out}
	}
	return out
}

// Get walks maps by key (a secret is looked through); it returns nil for a missing step.
func (r Resource) Get(path ...string) any {
	var cur any = r.Props
	for _, step := range path {
		if s, ok := cur.(Secret); ok {
			cur = s.Value
		}
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[step]
	}
	if s, ok := cur.(Secret); ok {
		return s.Value
	}
	return cur
}

// String is Get for strings.
func (r Resource) String(path ...string) string {
	s, _ := r.Get(path...).(string)
	return s
}

// List is Get for lists.
func (r Resource) List(path ...string) []any {
	l, _ := r.Get(path...).([]any)
	return l
}

// Map is Get for maps.
func (r Resource) Map(path ...string) map[string]any {
	m, _ := r.Get(path...).(map[string]any)
	return m
}

// Namespace is metadata.namespace.
func (r Resource) Namespace() string { return r.String("metadata", "namespace") }

// ObjectName is metadata.name, falling back to the Pulumi name.
func (r Resource) ObjectName() string {
	if n := r.String("metadata", "name"); n != "" {
		return n
	}
	return r.Name
}

// Kind is the Kubernetes kind of a kubernetes:<group>/<version>:<Kind> type token.
func (r Resource) Kind() string {
	if !strings.HasPrefix(r.Type, "kubernetes:") {
		return ""
	}
	return r.Type[strings.LastIndex(r.Type, ":")+1:]
}

// where names a resource in a message.
func (r Resource) where() string {
	kind, name := r.Kind(), r.ObjectName()
	if ns := r.Namespace(); ns != "" {
		name = ns + "/" + name
	}
	if kind == "" {
		kind = r.Type
	}
	return kind + " " + name
}
