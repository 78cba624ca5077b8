package ngfsim

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/seldon-ab/provisioner/internal/gatewayapi"
)

// Graph is what one NGF controller serves, built from one read of the cluster the way NGF builds its graph
// (internal/controller/state/graph, v2.6.7): its Gateways, and each HTTPRoute's attachment to them.
type Graph struct {
	Class    string
	Gateways map[string]*GatewayState // by namespace/name
	Routes   []*RouteState
}

// GatewayState is one Gateway of the class.
type GatewayState struct {
	gw gateway
	// Invalid is why the Gateway is not valid ("" when it is), as its Accepted condition says.
	Invalid  string
	attached map[string]int // listener -> routes attached
}

// RouteState is one HTTPRoute with a parent among the Gateways.
type RouteState struct {
	route   httpRoute
	Parents []ParentState
	// Rules are the valid rules with their backends; dropped ones are named in the route's conditions.
	Rules        []RuleState
	routeConds   []metav1.Condition
	resolvedRefs metav1.Condition
}

// ParentState is one parentRef that names a Gateway of the class.
type ParentState struct {
	Index    int
	Gateway  string // namespace/name
	Listener string // the listener attached to ("" when none)
	Accepted bool
	// Hostnames are those the route serves through this parent (listener and route hostnames intersected).
	Hostnames []string
	failure   *metav1.Condition
}

// RuleState is one valid rule.
type RuleState struct {
	rule     rule
	Backends []Backend
}

// Backend is a rule's backendRef, resolved; Problem says why it is invalid (it then serves 500).
type Backend struct {
	Namespace, Service string
	Port               int32
	Weight             int32
	Problem            string
}

// world is one read of the objects the graph is built from.
type world struct {
	gateways   []gateway
	routes     []httpRoute
	services   map[string]*corev1.Service // namespace/name
	namespaces map[string]map[string]string
	grants     []referenceGrant
}

func buildGraph(class string, w world) *Graph {
	g := &Graph{Class: class, Gateways: map[string]*GatewayState{}}
	for _, gw := range w.gateways {
		if gw.Spec.GatewayClassName != class {
			continue
		}
		st := &GatewayState{gw: gw, attached: map[string]int{}}
		for _, a := range gw.Spec.Addresses {
			// graph/gateway.go: validateGateway; only IPAddress (the CRD default) is supported.
			if t := deref(a.Type, "IPAddress"); t != "IPAddress" {
				st.Invalid = "UnsupportedAddress"
			}
		}
		g.Gateways[gw.Namespace+"/"+gw.Name] = st
	}
	for _, r := range w.routes {
		if rs := g.attach(r, w); rs != nil {
			g.Routes = append(g.Routes, rs)
		}
	}
	return g
}

// attach resolves a route's parentRefs against the Gateways (graph/route_common.go: buildSectionNameRefs,
// tryToAttachL7RouteToListeners), validates its rules (graph/httproute.go) and resolves its backends
// (graph/backend_refs.go). Routes with no parent among the Gateways get no status from NGF.
func (g *Graph) attach(r httpRoute, w world) *RouteState {
	rs := &RouteState{route: r}
	for i, ref := range r.Spec.ParentRefs {
		if deref(ref.Group, gatewayapi.Group) != gatewayapi.Group || deref(ref.Kind, gatewayapi.KindGateway) != gatewayapi.KindGateway {
			continue
		}
		key := deref(ref.Namespace, r.Namespace) + "/" + ref.Name
		gw, ok := g.Gateways[key]
		if !ok {
			continue
		}
		rs.Parents = append(rs.Parents, g.attachTo(r, i, ref, key, gw, w))
	}
	if len(rs.Parents) == 0 {
		return nil
	}
	var dropped []string
	for i, ru := range r.Spec.Rules {
		if problem := validateRule(ru); problem != "" {
			dropped = append(dropped, fmt.Sprintf("spec.rules[%d]: %s", i, problem))
			continue
		}
		rs.Rules = append(rs.Rules, RuleState{rule: ru, Backends: resolveBackends(r, i, ru, w)})
	}
	switch {
	case len(dropped) > 0 && len(rs.Rules) == 0:
		rs.routeConds = append(rs.routeConds, condition(gatewayapi.ConditionAccepted, false, "UnsupportedValue",
			"All rules are invalid: "+strings.Join(dropped, "; ")))
	case len(dropped) > 0:
		rs.routeConds = append(rs.routeConds, condition("PartiallyInvalid", true, "UnsupportedValue", "Dropped Rule(s): "+strings.Join(dropped, "; ")))
	}
	rs.resolvedRefs = condition(gatewayapi.ConditionResolvedRefs, true, "ResolvedRefs", "All references are resolved")
	for _, ru := range rs.Rules {
		for _, b := range ru.Backends {
			if b.Problem != "" && rs.resolvedRefs.Status == metav1.ConditionTrue {
				reason, msg, _ := strings.Cut(b.Problem, ": ")
				rs.resolvedRefs = condition(gatewayapi.ConditionResolvedRefs, false, reason, msg)
			}
		}
	}
	return rs
}

func (g *Graph) attachTo(r httpRoute, index int, ref parentRef, key string, gw *GatewayState, w world) ParentState {
	p := ParentState{Index: index, Gateway: key}
	fail := func(reason, msg string) ParentState {
		c := condition(gatewayapi.ConditionAccepted, false, reason, msg)
		p.failure = &c
		return p
	}
	if gw.Invalid != "" {
		return fail("InvalidGateway", "The Gateway is invalid")
	}
	var candidates []listener
	for _, l := range gw.gw.Spec.Listeners {
		if ref.SectionName == nil || *ref.SectionName == l.Name {
			candidates = append(candidates, l)
		}
	}
	if len(candidates) == 0 {
		return fail("NoMatchingParent", "The Listener is not found for this parent ref")
	}
	var allowed []listener
	for _, l := range candidates {
		if routeAllowed(l, gw.gw.Namespace, r.Namespace, w.namespaces[r.Namespace]) {
			allowed = append(allowed, l)
		}
	}
	if len(allowed) == 0 {
		return fail("NotAllowedByListeners", "The Route is not allowed by any listener")
	}
	for _, l := range allowed {
		hosts := acceptedHostnames(deref(l.Hostname, ""), r.Spec.Hostnames)
		if len(hosts) == 0 {
			continue
		}
		gw.attached[l.Name]++
		p.Listener, p.Accepted = l.Name, true
		p.Hostnames = append(p.Hostnames, hosts...)
	}
	if !p.Accepted {
		return fail("NoMatchingListenerHostname", "The Listener hostname does not match the Route hostnames")
	}
	return p
}

// routeAllowed is a listener's allowedRoutes.namespaces: Same (the CRD default), All, or a Selector over the
// route namespace's labels (graph/route_common.go: isRouteNamespaceAllowedByListener).
func routeAllowed(l listener, gatewayNS, routeNS string, nsLabels map[string]string) bool {
	from, selector := "Same", (*metav1.LabelSelector)(nil)
	if l.AllowedRoutes != nil && l.AllowedRoutes.Namespaces != nil {
		from, selector = deref(l.AllowedRoutes.Namespaces.From, "Same"), l.AllowedRoutes.Namespaces.Selector
	}
	switch from {
	case "All":
		return true
	case "Selector":
		sel, err := metav1.LabelSelectorAsSelector(selector)
		return err == nil && selector != nil && sel.Matches(labels.Set(nsLabels))
	}
	return routeNS == gatewayNS
}

// acceptedHostnames intersects a listener's hostname with the route's (graph/route_common.go:
// findAcceptedHostnames): an empty listener hostname takes the route's as they are.
func acceptedHostnames(listenerHost string, routeHosts []string) []string {
	if listenerHost == "" {
		if len(routeHosts) == 0 {
			return []string{""}
		}
		return slices.Clone(routeHosts)
	}
	if len(routeHosts) == 0 {
		return []string{listenerHost}
	}
	var out []string
	for _, h := range routeHosts {
		switch {
		case h == listenerHost:
			out = append(out, h)
		case strings.HasPrefix(listenerHost, "*.") && strings.HasSuffix(h, listenerHost[1:]):
			out = append(out, h)
		case strings.HasPrefix(h, "*.") && strings.HasSuffix(listenerHost, h[1:]):
			out = append(out, listenerHost)
		}
	}
	return out
}

var (
	headerName         = regexp.MustCompile(`^[-A-Za-z0-9]+$`)
	headerValuePattern = regexp.MustCompile(`^([^"$\\]|\\[^$])*$`)
	nginxVar           = regexp.MustCompile(`^\$(\{[a-z_][a-z0-9_]*\}|[a-z_][a-z0-9_]*)$`)
	pathValue          = regexp.MustCompile(`^/[^\s{};]*$`)
)

// validateRule is NGF's own validation of what nginx can express, beyond the CRD's (graph/httproute.go:
// validateMatch, validateFilterRewrite; graph/common_filter.go: validateFilterHeaderModifierFields;
// nginx/config/validation/common.go): "" when the rule is valid.
func validateRule(ru rule) string {
	for _, m := range ru.Matches {
		if m.Path != nil && m.Path.Value != nil {
			v := *m.Path.Value
			if !pathValue.MatchString(v) || strings.HasPrefix(v, "/_ngf-internal") {
				return fmt.Sprintf("path %q is not supported", v)
			}
		}
		for _, h := range m.Headers {
			if !headerName.MatchString(h.Name) || strings.TrimSpace(h.Value) == "" {
				return fmt.Sprintf("header match %q is not supported", h.Name)
			}
		}
	}
	for _, f := range ru.Filters {
		switch {
		case f.RequestHeaderModifier != nil:
			if problem := validateHeaderModifier(*f.RequestHeaderModifier); problem != "" {
				return problem
			}
		case f.URLRewrite != nil && f.URLRewrite.Path != nil:
			for _, p := range []*string{f.URLRewrite.Path.ReplaceFullPath, f.URLRewrite.Path.ReplacePrefixMatch} {
				if p != nil && *p != "" && (!pathValue.MatchString(*p) || strings.Contains(*p, "$")) {
					return fmt.Sprintf("rewrite path %q is not supported", *p)
				}
			}
		}
	}
	return ""
}

func validateHeaderModifier(m headerModifier) string {
	check := func(names []string) string {
		seen := map[string]bool{}
		for _, n := range names {
			lower := strings.ToLower(n)
			switch {
			case len(n) > 256 || !headerName.MatchString(n):
				return fmt.Sprintf("header name %q is not supported", n)
			case lower == "host" || lower == "connection" || lower == "upgrade":
				return fmt.Sprintf("header %q cannot be modified", n)
			case seen[lower]:
				return fmt.Sprintf("header %q is listed twice", n)
			}
			seen[lower] = true
		}
		return ""
	}
	for _, values := range [][]headerValue{m.Set, m.Add} {
		var names []string
		for _, v := range values {
			names = append(names, v.Name)
			if strings.ContainsAny(v.Value, "\r\n") || !headerValuePattern.MatchString(v.Value) && !nginxVar.MatchString(v.Value) {
				return fmt.Sprintf("header value %q of %s is not supported", v.Value, v.Name)
			}
		}
		if problem := check(names); problem != "" {
			return problem
		}
	}
	return check(m.Remove)
}

// resolveBackends resolves each backendRef to a Service port, or says why it cannot (graph/backend_refs.go:
// validateBackendRefHTTPRoute, getServiceAndPortFromRef; graph/reference_grant.go).
func resolveBackends(r httpRoute, ruleIndex int, ru rule, w world) []Backend {
	var out []Backend
	for j, b := range ru.BackendRefs {
		be := Backend{Namespace: deref(b.Namespace, r.Namespace), Service: b.Name, Weight: deref(b.Weight, 1)}
		group, kind := deref(b.Group, ""), deref(b.Kind, "Service")
		switch {
		case (group != "" && group != "core") || kind != "Service":
			be.Problem = fmt.Sprintf("InvalidKind: the kind %s.%s is not supported", kind, group)
		case b.Port == nil:
			be.Problem = fmt.Sprintf("UnsupportedValue: spec.rules[%d].backendRefs[%d].port: Required value: port cannot be nil", ruleIndex, j)
		case be.Namespace != r.Namespace && !granted(w.grants, r.Namespace, be.Namespace, b.Name):
			be.Problem = fmt.Sprintf("RefNotPermitted: Backend ref to Service %s/%s not permitted by any ReferenceGrant", be.Namespace, b.Name)
		default:
			be.Port = *b.Port
			svc := w.services[be.Namespace+"/"+b.Name]
			if svc == nil {
				be.Problem = fmt.Sprintf("BackendNotFound: spec.rules[%d].backendRefs[%d].name: Not found: %q", ruleIndex, j, b.Name)
			} else if !slices.ContainsFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool { return p.Port == be.Port }) {
				be.Problem = fmt.Sprintf("BackendNotFound: No matching port for Service %s and port %d", b.Name, be.Port)
			}
		}
		out = append(out, be)
	}
	return out
}

func granted(grants []referenceGrant, from, to, service string) bool {
	for _, g := range grants {
		if g.Namespace != to {
			continue
		}
		fromOK := slices.ContainsFunc(g.Spec.From, func(f struct {
			Group     string `json:"group"`
			Kind      string `json:"kind"`
			Namespace string `json:"namespace"`
		}) bool {
			return f.Group == gatewayapi.Group && f.Kind == gatewayapi.KindHTTPRoute && f.Namespace == from
		})
		toOK := slices.ContainsFunc(g.Spec.To, func(t struct {
			Group string  `json:"group"`
			Kind  string  `json:"kind"`
			Name  *string `json:"name"`
		}) bool {
			return (t.Group == "" || t.Group == "core") && t.Kind == "Service" && (t.Name == nil || *t.Name == service)
		})
		if fromOK && toOK {
			return true
		}
	}
	return false
}

func condition(typ string, status bool, reason, message string) metav1.Condition {
	s := metav1.ConditionFalse
	if status {
		s = metav1.ConditionTrue
	}
	return metav1.Condition{Type: typ, Status: s, Reason: reason, Message: message}
}
