package doctor

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/seldon-ab/provisioner/internal/gatewayapi"
	"github.com/seldon-ab/provisioner/internal/seldonspec"
	"github.com/seldon-ab/provisioner/policies"
)

// The Gateway API objects doctor reads, where the CRDs are installed.
var (
	gatewayClassesGVR = schema.GroupVersionResource{Group: gatewayapi.Group, Version: "v1", Resource: "gatewayclasses"}
	gatewaysGVR       = schema.GroupVersionResource{Group: gatewayapi.Group, Version: "v1", Resource: "gateways"}
	httpRoutesGVR     = schema.GroupVersionResource{Group: gatewayapi.Group, Version: "v1", Resource: "httproutes"}
)

const (
	gatewayCheck = "gateway"
	retiredCheck = "ingress-nginx-retired"
	// ingressNginxImage is the ingress-nginx controller's repository (chart 4.15.1 values.yaml).
	ingressNginxImage = "registry.k8s.io/ingress-nginx/controller"
	// RetiredFix is how a stack leaves ingress-nginx.
	RetiredFix = "set ingress.controller: nginx-gateway-fabric in the stack file and run `seldon-ab up`: one update installs NGINX Gateway Fabric, " +
		"moves the ingress IP to its Gateway and removes ingress-nginx (docs/lifecycle.md says how long calls fail meanwhile)"
	// RetiredWhat says why.
	RetiredWhat = "ingress-nginx is retired upstream: best-effort maintenance ended in March 2026, controller v1.15.1 is the last release, and neither it nor its NGINX gets security fixes"
)

// checkIngressNginxRetired notes every running ingress-nginx controller.
func checkIngressNginxRetired(s snapshot, add func(Finding)) {
	for _, d := range s.byKind["Deployment"] {
		for _, c := range d.List("spec", "template", "spec", "containers") {
			image, _ := asMap(c)["image"].(string)
			if strings.HasPrefix(image, ingressNginxImage) {
				add(Finding{Severity: Warning, Check: retiredCheck, Object: where(d), What: RetiredWhat, Fix: RetiredFix})
			}
		}
	}
}

// checkGateways reports what NGINX Gateway Fabric wrote on the Gateways of its classes and on the HTTPRoutes to
// seldon-mesh: a Gateway not Accepted or not Programmed, a conflicted listener, a Gateway with no address (its
// Service has no IP from MetalLB), a route not Accepted or with unresolved references, each with its reason
// (the conditions NGF writes: internal/controller/state/conditions/conditions.go), and a route no controller
// wrote a status for.
func checkGateways(s snapshot, add func(Finding)) {
	ngfClasses := map[string]bool{}
	for _, c := range s.byKind["GatewayClass"] {
		if c.String("spec", "controllerName") == gatewayapi.ControllerName {
			ngfClasses[c.ObjectName()] = true
		}
	}
	for _, g := range s.byKind["Gateway"] {
		if !ngfClasses[g.String("spec", "gatewayClassName")] {
			continue
		}
		for _, typ := range []string{gatewayapi.ConditionAccepted, gatewayapi.ConditionProgrammed} {
			if c := findCondition(g.List("status", "conditions"), typ); c != nil && c["status"] == "False" {
				add(Finding{Severity: Error, Check: gatewayCheck, Object: where(g),
					What: fmt.Sprintf("%s=False (%v: %v)", typ, c["reason"], c["message"]),
					Fix:  "kubectl describe gateway -n " + g.Namespace() + " " + g.ObjectName() + "; fix what the reason names (an unsupported address type, no valid listener, an nginx reload failure)"})
			}
		}
		for _, l := range g.List("status", "listeners") {
			lm := asMap(l)
			if c := findCondition(asList(lm["conditions"]), gatewayapi.ConditionConflicted); c != nil && c["status"] == "True" {
				add(Finding{Severity: Error, Check: gatewayCheck, Object: fmt.Sprintf("%s listener %v", where(g), lm["name"]),
					What: fmt.Sprintf("the listener conflicts with another (%v: %v)", c["reason"], c["message"]),
					Fix:  "give each listener its own port, or one protocol per port, and hostnames that do not overlap"})
			}
		}
		if len(g.List("status", "addresses")) == 0 && findCondition(g.List("status", "conditions"), gatewayapi.ConditionProgrammed) != nil {
			add(Finding{Severity: Warning, Check: gatewayCheck, Object: where(g),
				What: "has no address: the Service NGINX Gateway Fabric made for it has no load-balancer IP yet",
				Fix:  "kubectl get svc -n " + g.Namespace() + " " + gatewayapi.ProvisionedName(g.ObjectName(), g.String("spec", "gatewayClassName")) + " and its events: an IP outside every MetalLB pool, or taken by another Service, stays pending"})
		}
	}
	for _, r := range s.byKind["HTTPRoute"] {
		if !routesToMesh(r) {
			continue
		}
		parents := r.List("status", "parents")
		written := false
		for _, p := range parents {
			pm := asMap(p)
			if pm["controllerName"] != gatewayapi.ControllerName {
				continue
			}
			written = true
			conds := asList(pm["conditions"])
			for _, typ := range []string{gatewayapi.ConditionAccepted, gatewayapi.ConditionResolvedRefs} {
				if c := findCondition(conds, typ); c != nil && c["status"] == "False" {
					add(Finding{Severity: Error, Check: gatewayCheck, Object: where(r),
						What: fmt.Sprintf("%s=False on Gateway %v/%v (%v: %v)", typ, asMap(pm["parentRef"])["namespace"], asMap(pm["parentRef"])["name"], c["reason"], c["message"]),
						Fix:  routeFix(fmt.Sprint(c["reason"]))})
				}
			}
		}
		if !written {
			add(Finding{Severity: Warning, Check: gatewayCheck, Object: where(r),
				What: "no NGINX Gateway Fabric status: no running NGF controller serves the Gateway its parentRefs name",
				Fix:  "check spec.parentRefs (name, namespace, sectionName) and that the nginx-gateway-fabric Deployment is Available"})
		}
	}
}

func routesToMesh(r policies.Resource) bool {
	for _, ru := range r.List("spec", "rules") {
		for _, b := range asList(asMap(ru)["backendRefs"]) {
			if asMap(b)["name"] == seldonspec.MeshService {
				return true
			}
		}
	}
	return false
}

// routeFix is what to do about each reason a route is refused (the Gateway API's RouteConditionReasons, and NGF's).
func routeFix(reason string) string {
	switch reason {
	case "NotAllowedByListeners":
		return "admit the route's namespace in the listener's allowedRoutes.namespaces, or move the route"
	case "NoMatchingListenerHostname":
		return "make spec.hostnames match the listener's hostname"
	case "NoMatchingParent":
		return "set parentRefs[].sectionName to a listener of the Gateway"
	case "BackendNotFound":
		return "the backend Service or its port does not exist: seldon-mesh:80 is made by the SeldonRuntime of the route's namespace"
	case "RefNotPermitted":
		return "put the route in the Service's namespace, or add a ReferenceGrant there"
	case "UnsupportedValue":
		return "a rule NGINX cannot express was dropped (a header name with _ or ., a value with \" or $): fix the rule the message names"
	}
	return "kubectl describe httproute, and fix what the condition names"
}

func findCondition(conds []any, typ string) map[string]any {
	for _, c := range conds {
		if cm := asMap(c); cm["type"] == typ {
			return cm
		}
	}
	return nil
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}
