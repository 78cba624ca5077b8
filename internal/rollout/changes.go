// Package rollout proves, after an update, by calls through the ingress that the mesh serves what the update changed
// in Seldon's Models and Experiments, or says why it does not within a bound. Seldon's controller never writes
// status.observedGeneration (v2.10.2: not in operator/apis, its controllers or its scheduler client), so a Ready
// condition read right after an update may well predate it: traffic is the proof.
package rollout

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/auto/events"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"

	"github.com/seldon-ab/provisioner/internal/seldonspec"
)

// What happened to an object.
const (
	Created    = "created"
	Removed    = "removed"
	NewVersion = "new version"
)

// Change is one Seldon Model or Experiment the update creates, removes, or (a Model) gives a new version.
type Change struct {
	Kind, Namespace, Name string
	What                  string
}

func (c Change) String() string {
	return fmt.Sprintf("%s %s/%s (%s)", c.Kind, c.Namespace, c.Name, c.What)
}

// Route is the seldon-model header that reaches the object: a Model by its name, an Experiment as
// "<name>.experiment".
func (c Change) Route() string {
	if c.Kind == seldonspec.KindExperiment {
		return seldonspec.ExperimentHeader(c.Name)
	}
	return c.Name
}

// modelSpecFields are the Model fields that make Seldon's scheduler create a new version when they change: those
// that go into the scheduler's ModelSpec (operator/apis/mlops/v1alpha1/model_types.go, AsSchedulerModel; compared
// by scheduler/pkg/store/equality.go, ModelEqualityCheck). Replicas and the logger go into the DeploymentSpec and
// change the latest version in place.
var modelSpecFields = []string{"storageUri", "artifactVersion", "requirements", "server", "explainer", "llm",
	"parameters", "secretName", "modelType", "memory"}

// Changes lists what the steps of an update (or of its preview: the same steps, planned) do to Seldon's Models and
// Experiments. A rename is a removal of the old name and a creation of the new one.
func Changes(evs []events.EngineEvent) []Change {
	var created, removed, versioned []Change
	for _, ev := range evs {
		if ev.ResourcePreEvent == nil {
			continue
		}
		m := ev.ResourcePreEvent.Metadata
		kind := seldonKind(m.Type)
		if kind == "" {
			continue
		}
		switch m.Op {
		case apitype.OpCreate, apitype.OpCreateReplacement:
			if ns, name, ok := identity(m.New); ok {
				created = append(created, Change{Kind: kind, Namespace: ns, Name: name, What: Created})
			}
		case apitype.OpDelete, apitype.OpDeleteReplaced:
			if ns, name, ok := identity(m.Old); ok {
				removed = append(removed, Change{Kind: kind, Namespace: ns, Name: name, What: Removed})
			}
		case apitype.OpUpdate:
			ns, name, ok := identity(m.New)
			if ok && kind == seldonspec.KindModel && modelSpecChanged(m.Old, m.New) {
				versioned = append(versioned, Change{Kind: kind, Namespace: ns, Name: name, What: NewVersion})
			}
		}
	}
	var out []Change
	for _, r := range removed {
		// Replaced under the same name (a delete-first replacement): what counts is the new object.
		if !slices.ContainsFunc(created, func(c Change) bool { return sameObject(c, r) }) {
			out = append(out, r)
		}
	}
	return append(append(out, created...), versioned...)
}

// RenamedExperiments are the Experiments a plan deletes whose default model an Experiment it creates takes over: a
// rename in a stack of several experiments, where each is a resource of its own (a stack's one Experiment is
// replaced delete-first instead). The engine creates before it deletes, and while the old Experiment holds the
// default model as its baseline the scheduler refuses the new one, which the controller never retries
// (scheduler/pkg/store/experiment/validate.go, validateNoExistingDefault).
func RenamedExperiments(evs []events.EngineEvent) []Change {
	type experiment struct{ namespace, name, defaultModel string }
	var created, deleted []experiment
	for _, ev := range evs {
		if ev.ResourcePreEvent == nil {
			continue
		}
		m := ev.ResourcePreEvent.Metadata
		state := m.New
		if m.Op == apitype.OpDelete {
			state = m.Old
		}
		ns, name, ok := identity(state)
		if seldonKind(m.Type) != seldonspec.KindExperiment || !ok || (m.Op != apitype.OpCreate && m.Op != apitype.OpDelete) {
			continue
		}
		spec, _ := state.Inputs["spec"].(map[string]any)
		def, _ := spec["default"].(string)
		if m.Op == apitype.OpCreate {
			created = append(created, experiment{ns, name, def})
		} else {
			deleted = append(deleted, experiment{ns, name, def})
		}
	}
	var out []Change
	for _, old := range deleted {
		if old.defaultModel != "" && slices.ContainsFunc(created, func(c experiment) bool {
			return c.namespace == old.namespace && c.defaultModel == old.defaultModel && c.name != old.name
		}) {
			out = append(out, Change{Kind: seldonspec.KindExperiment, Namespace: old.namespace, Name: old.name, What: Removed})
		}
	}
	return out
}

func sameObject(a, b Change) bool {
	return a.Kind == b.Kind && a.Namespace == b.Namespace && a.Name == b.Name
}

// seldonKind is Model or Experiment for their custom resources' Pulumi types, "" for anything else.
func seldonKind(pulumiType string) string {
	for _, kind := range []string{seldonspec.KindModel, seldonspec.KindExperiment} {
		if pulumiType == "kubernetes:"+seldonspec.APIVersion+":"+kind {
			return kind
		}
	}
	return ""
}

func identity(state *apitype.StepEventStateMetadata) (namespace, name string, ok bool) {
	if state == nil {
		return "", "", false
	}
	meta, _ := state.Inputs["metadata"].(map[string]any)
	name, _ = meta["name"].(string)
	namespace, _ = meta["namespace"].(string)
	return namespace, name, name != ""
}

func modelSpecChanged(old, new *apitype.StepEventStateMetadata) bool {
	if old == nil || new == nil {
		return false
	}
	before, _ := old.Inputs["spec"].(map[string]any)
	after, _ := new.Inputs["spec"].(map[string]any)
	for _, field := range modelSpecFields {
		if !reflect.DeepEqual(before[field], after[field]) {
			return true
		}
	}
	return false
}

// Describe lists changes for a log line.
func Describe(changes []Change) string {
	parts := make([]string, len(changes))
	for i, c := range changes {
		parts[i] = c.String()
	}
	return strings.Join(parts, ", ")
}
