// Package problem is the one shape of anything this project finds wrong — a config value, a policy violation, a
// doctor finding: how bad it is, what found it, where, what is wrong and the fix. Each layer renders it its own
// way (config as one error listing every key, the policy pack as violation messages, doctor as a report).
package problem

import "encoding/json"

// Severity orders problems; doctor's exit code is the worst one.
type Severity int

// Severities.
const (
	Info Severity = iota
	Warning
	Error
)

func (s Severity) String() string { return [...]string{"info", "warning", "error"}[s] }

// MarshalJSON writes the severity's name.
func (s Severity) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// Problem is one thing found wrong.
type Problem struct {
	Severity Severity `json:"severity"`
	// Check names what found it: "config", a policy rule, a doctor check.
	Check string `json:"check"`
	// Object is where: a config key, a Kubernetes object, a namespace.
	Object string `json:"object,omitempty"`
	What   string `json:"problem"`
	Fix    string `json:"fix,omitempty"`
}
