// Package doctor reads a live cluster, whether or not this project provisioned it, and reports each known failure
// mode of the Seldon A/B stack with its evidence and the fix. It only reads; it never changes the cluster.
package doctor

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/seldon-ab/provisioner/internal/problem"
	"github.com/seldon-ab/provisioner/internal/seldonspec"
	"github.com/seldon-ab/provisioner/policies"
)

// Severity orders findings; the command's exit code is the worst one.
type Severity = problem.Severity

// Severities.
const (
	Info    = problem.Info
	Warning = problem.Warning
	Error   = problem.Error
)

// Finding is one observation about the cluster, in the project's one problem shape.
type Finding = problem.Problem

// Report is everything one run found.
type Report struct {
	// Simulated is true on a kwok cluster, where no pod runs: checks of what only running pods show become info.
	Simulated bool      `json:"simulated"`
	Findings  []Finding `json:"findings"`
}

// Worst is the highest severity found (Info when there is nothing).
func (r Report) Worst() Severity {
	worst := Info
	for _, f := range r.Findings {
		worst = max(worst, f.Severity)
	}
	return worst
}

// Reader lists objects; the live implementation is a dynamic Kubernetes client.
type Reader interface {
	List(ctx context.Context, gvr schema.GroupVersionResource) ([]unstructured.Unstructured, error)
}

// Resources the checks read.
var (
	crdsGVR           = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	deploymentsGVR    = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	servicesGVR       = schema.GroupVersionResource{Version: "v1", Resource: "services"}
	secretsGVR        = schema.GroupVersionResource{Version: "v1", Resource: "secrets"}
	nodesGVR          = schema.GroupVersionResource{Version: "v1", Resource: "nodes"}
	endpointSlicesGVR = schema.GroupVersionResource{Group: "discovery.k8s.io", Version: "v1", Resource: "endpointslices"}
	ingressesGVR      = schema.GroupVersionResource{Group: "networking.k8s.io", Version: "v1", Resource: "ingresses"}
	poolsGVR          = schema.GroupVersionResource{Group: "metallb.io", Version: "v1beta1", Resource: "ipaddresspools"}
	eventsGVR         = schema.GroupVersionResource{Version: "v1", Resource: "events"}
	daemonSetsGVR     = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "daemonsets"}
	ingressClassesGVR = schema.GroupVersionResource{Group: "networking.k8s.io", Version: "v1", Resource: "ingressclasses"}
	statefulSetsGVR   = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "statefulsets"}
	podsGVR           = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	seldonGVR         = func(resource string) schema.GroupVersionResource {
		return schema.GroupVersionResource{Group: seldonspec.Group, Version: seldonspec.Version, Resource: resource}
	}
)

// seldonKinds are the CRDs the stack needs, by plural resource name.
var seldonKinds = map[string]string{
	"models": "Model", "servers": "Server", "experiments": "Experiment", "seldonruntimes": "SeldonRuntime",
	"seldonconfigs": "SeldonConfig", "serverconfigs": "ServerConfig",
}

// snapshot is what the checks look at, read once.
type snapshot struct {
	byKind map[string][]policies.Resource
}

func (s snapshot) all(kinds ...string) []policies.Resource {
	var out []policies.Resource
	for _, k := range kinds {
		out = append(out, s.byKind[k]...)
	}
	return out
}

// readSpec is one list the checks read; an optional one belongs to an API that may not be installed.
type readSpec struct {
	gvr      schema.GroupVersionResource
	kind     string
	optional bool
}

func (s snapshot) read(ctx context.Context, c Reader, r readSpec) error {
	items, err := c.List(ctx, r.gvr)
	if err != nil {
		if r.optional {
			return nil // the API (MetalLB's, Seldon's) is not installed: its checks have nothing to read
		}
		return fmt.Errorf("listing %s: %w", r.gvr.Resource, err)
	}
	for _, item := range items {
		s.byKind[r.kind] = append(s.byKind[r.kind], toResource(item, r.kind))
	}
	return nil
}

// reads are what every run lists; seldonKinds add theirs once the CRDs are known to be installed.
var reads = []readSpec{
	{crdsGVR, "CustomResourceDefinition", false}, {deploymentsGVR, "Deployment", false}, {servicesGVR, "Service", false},
	{secretsGVR, "Secret", false}, {nodesGVR, "Node", false}, {endpointSlicesGVR, "EndpointSlice", false},
	{ingressesGVR, "Ingress", false}, {poolsGVR, "IPAddressPool", true},
	{daemonSetsGVR, "DaemonSet", false}, {ingressClassesGVR, "IngressClass", false}, {eventsGVR, "Event", false},
	{statefulSetsGVR, "StatefulSet", false}, {podsGVR, "Pod", false},
	{gatewayClassesGVR, "GatewayClass", true}, {gatewaysGVR, "Gateway", true}, {httpRoutesGVR, "HTTPRoute", true},
}

// scope is what a check sees: one read of the cluster and the run's settings.
type scope struct {
	snap         snapshot
	add          func(Finding)
	simulated    bool
	ingressClass string
}

// checks run in this order; those that need Seldon run only where its CRDs are installed. A new check is one
// function and one row.
var checks = []struct {
	needsSeldon bool
	run         func(s *scope)
}{
	{false, func(s *scope) { checkClusterConflicts(s.snap, s.add, s.ingressClass) }},
	{true, func(s *scope) { checkController(s.snap, s.add) }},
	{true, func(s *scope) { checkSchedulers(s.snap, s.add) }},
	{true, func(s *scope) { checkReadiness(s.snap, s.add, s.simulated) }},
	{true, func(s *scope) { checkSchedulerReplicas(s.snap, s.add) }},
	{true, func(s *scope) { checkServerPods(s.snap, s.add) }},
	{true, func(s *scope) { checkCapacity(s.snap, s.add) }},
	{true, func(s *scope) { checkNodeMemory(s.snap, s.add, serverNeeds(s.snap)) }},
	{true, func(s *scope) { checkTerminating(s.snap, s.add) }},
	{true, func(s *scope) { checkModelStorage(s.snap, s.add) }},
	{true, func(s *scope) {
		fromRules(s.add, Error, "requirements", policies.ModelRequirements(s.snap.all("Model", "Server")))
	}},
	{false, func(s *scope) { checkNetworking(s.snap, s.add) }},
	{false, func(s *scope) { checkGateways(s.snap, s.add) }},
	{false, func(s *scope) { checkIngressNginxRetired(s.snap, s.add) }},
}

// Run reads the cluster and runs every check. ingressClass is the class the stack serves ("" when unknown).
func Run(ctx context.Context, c Reader, ingressClass string) (Report, error) {
	var rep Report
	s := &scope{snap: snapshot{byKind: map[string][]policies.Resource{}}, ingressClass: ingressClass,
		add: func(f Finding) { rep.Findings = append(rep.Findings, f) }}
	for _, r := range reads {
		if err := s.snap.read(ctx, c, r); err != nil {
			return rep, err
		}
	}
	if err := checkServerVersion(c, s.add, MinKubernetes, "ingress-nginx 4.15.1 needs "+MinKubernetes+" or newer"); err != nil {
		return rep, err
	}
	for _, node := range s.snap.byKind["Node"] {
		rep.Simulated = rep.Simulated || node.String("metadata", "annotations", "kwok.x-k8s.io/node") == "fake"
	}
	s.simulated = rep.Simulated
	seldon := checkCRDs(s.snap, s.add)
	if seldon {
		for resource, kind := range seldonKinds {
			if err := s.snap.read(ctx, c, readSpec{seldonGVR(resource), kind, true}); err != nil {
				return rep, err
			}
		}
	}
	for _, check := range checks {
		if seldon || !check.needsSeldon {
			check.run(s)
		}
	}
	sort.SliceStable(rep.Findings, func(i, j int) bool { return rep.Findings[i].Severity > rep.Findings[j].Severity })
	return rep, nil
}

func toResource(u unstructured.Unstructured, kind string) policies.Resource {
	group := u.GroupVersionKind().GroupVersion().String()
	if u.GroupVersionKind().Group == "" {
		group = "core/" + u.GroupVersionKind().Version
	}
	return policies.Resource{Type: "kubernetes:" + group + ":" + kind, Name: u.GetName(),
		URN: kind + "/" + u.GetNamespace() + "/" + u.GetName(), Props: u.Object}
}

func where(r policies.Resource) string {
	if ns := r.Namespace(); ns != "" {
		return r.Kind() + " " + ns + "/" + r.ObjectName()
	}
	return r.Kind() + " " + r.ObjectName()
}

// fromRules turns rule violations (shared with the policy pack) into findings, fix included.
func fromRules(add func(Finding), sev Severity, check string, violations []policies.Violation) {
	for _, v := range violations {
		f := v.Problem
		f.Severity, f.Check = sev, check
		add(f)
	}
}

// WriteText writes the report grouped by severity.
func (r Report) WriteText(w io.Writer) {
	counts := map[Severity]int{}
	for _, f := range r.Findings {
		counts[f.Severity]++
	}
	fmt.Fprintf(w, "seldon-ab doctor: %d errors, %d warnings, %d notes", counts[Error], counts[Warning], counts[Info])
	if r.Simulated {
		fmt.Fprint(w, " (simulated cluster: no pod runs, so what only running pods show is noted, not judged)")
	}
	fmt.Fprintln(w)
	for _, sev := range []Severity{Error, Warning, Info} {
		for _, f := range r.Findings {
			if f.Severity != sev {
				continue
			}
			fmt.Fprintf(w, "\n[%s] %s", strings.ToUpper(sev.String()), f.Check)
			if f.Object != "" {
				fmt.Fprintf(w, " — %s", f.Object)
			}
			fmt.Fprintf(w, "\n  %s\n", f.What)
			if f.Fix != "" {
				fmt.Fprintf(w, "  fix: %s\n", f.Fix)
			}
		}
	}
}
