package policies

import (
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/seldon-ab/provisioner/internal/iprange"
	"github.com/seldon-ab/provisioner/internal/kube"
	"github.com/seldon-ab/provisioner/internal/problem"
	"github.com/seldon-ab/provisioner/internal/seldonspec"
)

// Rule is one check. A PerResource rule looks at one resource at a time, so the pack can stop that resource
// before it is created even when an update skips its preview; the others need the whole stack.
type Rule struct {
	Name        string
	Description string
	Mandatory   bool
	PerResource bool
	Check       func(stack []Resource) []Violation
}

// Rules are every rule of the pack.
var Rules = []Rule{
	{Name: "experiment-candidates", Mandatory: true, PerResource: false, Check: ExperimentCandidates,
		Description: "Experiment weights are positive, the default is a candidate, every candidate is a Model of the stack, no two Experiments share a default"},
	{Name: "model-requirements", Mandatory: true, PerResource: false, Check: ModelRequirements,
		Description: "every Model requirement is a capability of its Server (exact strings)"},
	{Name: "one-scheduler-per-namespace", Mandatory: true, PerResource: false, Check: OneSchedulerPerNamespace,
		Description: "no two SeldonRuntimes in a namespace, no ExternalName seldon-scheduler beside a runtime"},
	{Name: "scheduler-not-exposed", Mandatory: true, PerResource: true, Check: SchedulerNotExposed,
		Description: "the scheduler Service is never LoadBalancer or NodePort"},
	{Name: "mesh-ingress-keeps-v2", Mandatory: true, PerResource: true, Check: MeshIngressKeepsV2,
		Description: "an Ingress to seldon-mesh keeps /v2 reachable (no rewrite that drops it, consistent capture groups)"},
	{Name: "mesh-route-keeps-v2", Mandatory: true, PerResource: true, Check: MeshRouteKeepsV2,
		Description: "an HTTPRoute to seldon-mesh keeps /v2 (no rewrite that drops it) and names the backend's port"},
	{Name: "mesh-route-attaches", Mandatory: true, PerResource: false, Check: MeshRouteAttaches,
		Description: "an HTTPRoute of the stack attaches to a listener of a Gateway of the stack: its section, its namespaces, its hostname"},
	{Name: "metallb-annotation", Mandatory: true, PerResource: true, Check: MetalLBAnnotation,
		Description: "fixed IPs are requested with an annotation MetalLB reads"},
	{Name: "metallb-ips", Mandatory: true, PerResource: false, Check: MetalLBIPs,
		Description: "requested LoadBalancer IPs lie in a MetalLB pool of the stack and are unique"},
	{Name: "pinned-versions", Mandatory: true, PerResource: true, Check: PinnedVersions,
		Description: "charts and container images are pinned (no latest, no missing version)"},
	{Name: "secrets-are-secret", Mandatory: true, PerResource: true, Check: SecretsAreSecret,
		Description: "Secrets carry credentials only as Pulumi secrets"},
	{Name: "workload-resources", Mandatory: true, PerResource: true, Check: WorkloadResources,
		Description: "workloads the stack defines itself set resource requests and limits"},
	{Name: "scheduler-host-env-no-effect", Mandatory: false, PerResource: true, Check: SchedulerHostEnv,
		Description: "SELDON_SCHEDULER_HOST/PORT on the controller have no effect (Seldon >= 2.6)"},
	{Name: "ingress-nginx-retired", Mandatory: false, PerResource: true, Check: IngressNginxRetired,
		Description: "ingress-nginx is retired upstream"},
}

// Check runs every rule.
func Check(stack []Resource) []Violation {
	var out []Violation
	for _, rule := range Rules {
		out = append(out, rule.Check(stack)...)
	}
	return out
}

func ofKind(stack []Resource, kind string) []Resource {
	var out []Resource
	for _, r := range stack {
		if r.Kind() == kind {
			out = append(out, r)
		}
	}
	return out
}

// violation builds a Violation from a message written "<problem>. Fix: <fix>", the form every rule uses.
func violation(rule string, r Resource, format string, args ...any) Violation {
	text := fmt.Sprintf(format, args...)
	what, fix, _ := strings.Cut(text, ". Fix: ")
	return Violation{URN: r.URN, Message: r.where() + ": " + text,
		Problem: problem.Problem{Severity: problem.Error, Check: rule, Object: r.where(), What: what, Fix: fix}}
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func num(v any) (float64, bool) {
	f, ok := v.(float64)
	return f, ok
}

// ExperimentCandidates: weights > 0, default among candidates, every candidate a Model in the Experiment's namespace,
// and a default model the baseline of one Experiment only (scheduler/pkg/store/experiment/validate.go:
// validateNoExistingDefault refuses the second, and the controller does not retry it).
func ExperimentCandidates(stack []Resource) []Violation {
	const rule = "experiment-candidates"
	models := map[string]bool{}
	for _, m := range ofKind(stack, "Model") {
		models[m.Namespace()+"/"+m.ObjectName()] = true
	}
	var out []Violation
	baselines := map[string]string{}
	for _, e := range ofKind(stack, "Experiment") {
		if d := e.String("spec", "default"); d != "" {
			if holder, taken := baselines[e.Namespace()+"/"+d]; taken {
				out = append(out, violation(rule, e, "default %q is already the default of Experiment %s; Seldon's scheduler refuses a second Experiment on one default model (ExperimentBaselineExists) and never retries it. Fix: give each Experiment its own default, or leave this one's empty", d, holder))
			}
			baselines[e.Namespace()+"/"+d] = e.ObjectName()
		}
		names := map[string]bool{}
		for _, c := range e.List("spec", "candidates") {
			cand := asMap(c)
			name, _ := cand["name"].(string)
			names[name] = true
			if w, ok := num(cand["weight"]); !ok || w <= 0 {
				out = append(out, violation(rule, e, "candidate %q has weight %v; every weight must be > 0 (share = weight / sum). Fix: give it a positive weight or remove it", name, cand["weight"]))
			}
			if resourceType := e.String("spec", "resourceType"); (resourceType == "" || resourceType == "model") && !models[e.Namespace()+"/"+name] {
				out = append(out, violation(rule, e, "candidate %q is not a Model of this stack in namespace %s, so the Experiment never becomes active. Fix: declare the Model or correct the name (not the versioned %s_1)", name, e.Namespace(), name))
			}
		}
		if d := e.String("spec", "default"); d != "" && !names[d] {
			out = append(out, violation(rule, e, "default %q is not one of the candidates. Fix: name a candidate or drop default", d))
		}
	}
	return out
}

// ModelRequirements: each requirement is a capability of the Model's Server.
func ModelRequirements(stack []Resource) []Violation {
	const rule = "model-requirements"
	capabilities := map[string][]string{}
	for _, s := range ofKind(stack, "Server") {
		capabilities[s.Namespace()+"/"+s.ObjectName()] = serverCapabilities(s)
	}
	var out []Violation
	for _, m := range ofKind(stack, "Model") {
		server := m.String("spec", "server")
		if server == "" {
			continue // scheduled on any Server that matches: nothing to hold it to here
		}
		caps, ok := capabilities[m.Namespace()+"/"+server]
		if !ok {
			out = append(out, violation(rule, m, "its Server %q is not in this stack's namespace %s. Fix: declare the Server or correct spec.server", server, m.Namespace()))
			continue
		}
		for _, req := range m.List("spec", "requirements") {
			if s, _ := req.(string); !slices.Contains(caps, s) {
				out = append(out, violation(rule, m, "requirement %q is not a capability of Server %s (%s); Seldon compares exact strings. Fix: use the Server's spelling or add it to the Server's extraCapabilities", s, server, strings.Join(caps, ", ")))
			}
		}
	}
	return out
}

func serverCapabilities(s Resource) []string {
	var caps []string
	if explicit := s.List("spec", "capabilities"); explicit != nil {
		for _, c := range explicit {
			caps = append(caps, fmt.Sprint(c))
		}
	} else {
		caps = append(caps, seldonspec.DefaultCapabilities(s.String("spec", "serverConfig"))...)
	}
	for _, c := range s.List("spec", "extraCapabilities") {
		caps = append(caps, fmt.Sprint(c))
	}
	return caps
}

// OneSchedulerPerNamespace refuses two runtimes in a namespace and an ExternalName seldon-scheduler beside one.
func OneSchedulerPerNamespace(stack []Resource) []Violation {
	const rule = "one-scheduler-per-namespace"
	runtimes := map[string][]Resource{}
	for _, r := range ofKind(stack, "SeldonRuntime") {
		runtimes[r.Namespace()] = append(runtimes[r.Namespace()], r)
	}
	var out []Violation
	for ns, rs := range runtimes {
		if len(rs) > 1 {
			out = append(out, violation(rule, rs[1], "namespace %s already has SeldonRuntime %s: two schedulers would fight over the same models (routes removed and re-added in a loop). Fix: keep exactly one runtime per namespace", ns, rs[0].ObjectName()))
		}
	}
	for _, svc := range ofKind(stack, "Service") {
		if svc.ObjectName() == seldonspec.SchedulerService && svc.String("spec", "type") == "ExternalName" && len(runtimes[svc.Namespace()]) > 0 {
			out = append(out, violation(rule, svc, "an ExternalName seldon-scheduler collides with the Service the SeldonRuntime in %s makes. Fix: remove it; the controller dials seldon-scheduler.<model namespace>, which the runtime provides", svc.Namespace()))
		}
	}
	return out
}

// SchedulerNotExposed keeps the unauthenticated scheduler API off the LAN.
func SchedulerNotExposed(stack []Resource) []Violation {
	const rule = "scheduler-not-exposed"
	exposed := func(t string) bool { return t == "LoadBalancer" || t == "NodePort" }
	var out []Violation
	for _, rt := range ofKind(stack, "SeldonRuntime") {
		found := false
		for _, o := range rt.List("spec", "overrides") {
			override := asMap(o)
			if override["name"] != seldonspec.SchedulerComponent {
				continue
			}
			found = true
			if t, _ := override["serviceType"].(string); exposed(t) {
				out = append(out, violation(rule, rt, "the seldon-scheduler override asks for a %s Service: the scheduler's gRPC API is unauthenticated. Fix: serviceType ClusterIP", t))
			}
		}
		if !found {
			out = append(out, violation(rule, rt, "has no seldon-scheduler override, so the SeldonConfig default applies (LoadBalancer in the setup chart). Fix: add {name: seldon-scheduler, serviceType: ClusterIP}"))
		}
	}
	for _, svc := range ofKind(stack, "Service") {
		if svc.ObjectName() == seldonspec.SchedulerService && exposed(svc.String("spec", "type")) {
			out = append(out, violation(rule, svc, "is %s. Fix: ClusterIP", svc.String("spec", "type")))
		}
	}
	return out
}

var captureGroup = regexp.MustCompile(`\$(\d+)`)

// MeshIngressKeepsV2 checks Ingresses whose backend is seldon-mesh: envoy only routes paths starting with /v2.
func MeshIngressKeepsV2(stack []Resource) []Violation {
	const rule = "mesh-ingress-keeps-v2"
	var out []Violation
	for _, in := range ofKind(stack, "Ingress") {
		rewrite := in.String("metadata", "annotations", "nginx.ingress.kubernetes.io/rewrite-target")
		for _, ruleItem := range in.List("spec", "rules") {
			paths, _ := asMap(asMap(ruleItem)["http"])["paths"].([]any)
			for _, p := range paths {
				path := asMap(p)
				if asMap(asMap(path["backend"])["service"])["name"] != seldonspec.MeshService {
					continue
				}
				value, _ := path["path"].(string)
				out = append(out, checkMeshPath(rule, in, value, rewrite)...)
			}
		}
	}
	return out
}

func checkMeshPath(rule string, in Resource, path, rewrite string) []Violation {
	if rewrite == "" {
		if path != "" && path != "/" && !strings.HasPrefix(path, "/v2") {
			return []Violation{violation(rule, in, "path %q reaches envoy unchanged, and envoy only routes /v2...: every call is a 404 from envoy. Fix: use path / (or /v2), or give the prefix its own Ingress with %q and rewrite-target /$2", path, path+"(/|$)(.*)")}
		}
		return nil
	}
	groups := 0
	if re, err := regexp.Compile(path); err == nil {
		groups = re.NumSubexp()
	}
	refs := captureGroup.FindAllStringSubmatch(rewrite, -1)
	if len(refs) == 0 {
		return []Violation{violation(rule, in, "rewrite-target %q replaces every path (including /v2/...) with a fixed one. Fix: rewrite to the capture group that holds /v2..., e.g. path /prefix(/|$)(.*) with rewrite-target /$2", rewrite)}
	}
	for _, ref := range refs {
		if n, _ := strconv.Atoi(ref[1]); n > groups {
			return []Violation{violation(rule, in, "rewrite-target %q uses $%d but path %q has %d capture group(s), so /v2/... is rewritten to / (rewrite-target applies to every path of the Ingress). Fix: give each path the groups the rewrite uses, e.g. /prefix(/|$)(.*), or move paths without a prefix to an Ingress without rewrite", rewrite, n, path, groups)}
		}
	}
	return nil
}

// MeshRouteKeepsV2 checks HTTPRoutes to seldon-mesh: envoy routes only paths that start with /v2, and the CRD
// refuses a Service backend without a port only once the object reaches the API server.
func MeshRouteKeepsV2(stack []Resource) []Violation {
	const rule = "mesh-route-keeps-v2"
	var out []Violation
	for _, r := range ofKind(stack, "HTTPRoute") {
		for i, item := range r.List("spec", "rules") {
			ru := asMap(item)
			backends, _ := ru["backendRefs"].([]any)
			toMesh := false
			for j, b := range backends {
				bm := asMap(b)
				if bm["name"] != seldonspec.MeshService {
					continue
				}
				toMesh = true
				if _, ok := num(bm["port"]); !ok {
					out = append(out, violation(rule, r, "spec.rules[%d].backendRefs[%d] names seldon-mesh without a port: the API server refuses it. Fix: set port: %d", i, j, seldonspec.MeshServicePort))
				}
			}
			if !toMesh {
				continue
			}
			matches, _ := ru["matches"].([]any)
			filters, _ := ru["filters"].([]any)
			for _, f := range filters {
				path := asMap(asMap(asMap(f)["urlRewrite"])["path"])
				if full, ok := path["replaceFullPath"].(string); ok {
					out = append(out, violation(rule, r, "spec.rules[%d] rewrites every path to %q, so /v2/models/<name>/infer never reaches envoy as it is. Fix: drop the rewrite, or strip a prefix with replacePrefixMatch: /v2 on a PathPrefix match that ends in /v2", i, full))
				}
				replace, ok := path["replacePrefixMatch"].(string)
				if !ok || len(matches) == 0 {
					continue
				}
				prefix, _ := asMap(asMap(matches[0])["path"])["value"].(string)
				kept := strings.TrimSuffix(replace, "/") + "/v2"
				if strings.HasSuffix(strings.TrimSuffix(prefix, "/"), "/v2") {
					kept = replace
				}
				if !strings.HasPrefix(kept, "/v2") {
					out = append(out, violation(rule, r, "spec.rules[%d] rewrites prefix %q to %q, so a call to %s/models/<name>/infer reaches envoy as %s/models/<name>/infer and envoy routes only /v2...: every call is a 404. Fix: match %s/v2 and replacePrefixMatch: /v2",
						i, prefix, replace, strings.TrimSuffix(prefix, "/"), strings.TrimSuffix(kept, "/"), strings.TrimSuffix(strings.TrimSuffix(prefix, "/"), "/v2")))
				}
			}
		}
	}
	return out
}

// MeshRouteAttaches checks that each HTTPRoute's parentRefs name a Gateway of the stack and a listener that admits
// the route: its sectionName, allowedRoutes.namespaces (Same by default; a selector on kubernetes.io/metadata.name),
// and a hostname in common (the Gateway API's attachment rules, which NGF applies in graph/route_common.go). A
// route that attaches nowhere is Accepted=False and every call is the default server's 404.
func MeshRouteAttaches(stack []Resource) []Violation {
	const rule = "mesh-route-attaches"
	gateways := map[string]Resource{}
	for _, g := range ofKind(stack, "Gateway") {
		gateways[g.Namespace()+"/"+g.ObjectName()] = g
	}
	var out []Violation
	for _, r := range ofKind(stack, "HTTPRoute") {
		hosts := r.List("spec", "hostnames")
		for i, ref := range r.List("spec", "parentRefs") {
			pm := asMap(ref)
			ns, _ := pm["namespace"].(string)
			if ns == "" {
				ns = r.Namespace()
			}
			name, _ := pm["name"].(string)
			g, ok := gateways[ns+"/"+name]
			if !ok {
				out = append(out, violation(rule, r, "spec.parentRefs[%d] names Gateway %s/%s, which the stack does not make, so the route attaches to nothing. Fix: name the stack's Gateway (its name and namespace)", i, ns, name))
				continue
			}
			section, _ := pm["sectionName"].(string)
			if problem := attachProblem(g, section, r.Namespace(), hosts); problem != "" {
				out = append(out, violation(rule, r, "spec.parentRefs[%d] (Gateway %s/%s): %s", i, ns, name, problem))
			}
		}
	}
	return out
}

// attachProblem is why no listener of g admits a route ("" when one does).
func attachProblem(g Resource, section, routeNS string, hosts []any) string {
	sawSection, sawNamespace := false, false
	for _, l := range g.List("spec", "listeners") {
		lm := asMap(l)
		if section != "" && lm["name"] != section {
			continue
		}
		sawSection = true
		if !admitsNamespace(asMap(asMap(lm["allowedRoutes"])["namespaces"]), g.Namespace(), routeNS) {
			continue
		}
		sawNamespace = true
		listenerHost, _ := lm["hostname"].(string)
		if listenerHost == "" || len(hosts) == 0 {
			return ""
		}
		for _, h := range hosts {
			hs, _ := h.(string)
			if hs == listenerHost || strings.HasPrefix(listenerHost, "*.") && strings.HasSuffix(hs, listenerHost[1:]) {
				return ""
			}
		}
	}
	switch {
	case !sawSection:
		return fmt.Sprintf("it has no listener %q (NoMatchingParent). Fix: use the name of one of its listeners", section)
	case !sawNamespace:
		return fmt.Sprintf("no listener admits routes from namespace %s (NotAllowedByListeners). Fix: list it in the listener's allowedRoutes.namespaces, or move the route", routeNS)
	}
	return "no listener hostname matches the route's hostnames (NoMatchingListenerHostname). Fix: make spec.hostnames match the listener's hostname, or leave the listener's hostname empty"
}

// admitsNamespace reads allowedRoutes.namespaces: Same (the default), All, or a Selector; a selector on anything
// but kubernetes.io/metadata.name cannot be judged before the namespace exists, and is taken to admit.
func admitsNamespace(ns map[string]any, gatewayNS, routeNS string) bool {
	from, _ := ns["from"].(string)
	switch from {
	case "All":
		return true
	case "Selector":
		sel := asMap(ns["selector"])
		for k, v := range asMap(sel["matchLabels"]) {
			if k == "kubernetes.io/metadata.name" && v != routeNS {
				return false
			}
		}
		exprs, _ := sel["matchExpressions"].([]any)
		for _, e := range exprs {
			em := asMap(e)
			if em["key"] != "kubernetes.io/metadata.name" {
				continue
			}
			values, _ := em["values"].([]any)
			in := slices.Contains(values, any(routeNS))
			if (em["operator"] == "In" && !in) || (em["operator"] == "NotIn" && in) {
				return false
			}
		}
		return true
	}
	return routeNS == gatewayNS
}

var metallbAnnotations = []string{kube.LoadBalancerIPsAnnotation, kube.DeprecatedLoadBalancerIPsAnnotation}

// MetalLBAnnotation catches annotations that look like MetalLB's fixed-IP annotation but are not read by it.
func MetalLBAnnotation(stack []Resource) []Violation {
	var out []Violation
	for _, req := range ipRequesters(stack) {
		for key := range req.annotations {
			lower := strings.ToLower(key)
			if strings.Contains(lower, "metallb") && strings.Contains(lower, "ip") && !slices.Contains(metallbAnnotations, key) &&
				(strings.Contains(lower, "loadbalancer") || strings.Contains(lower, "address")) {
				out = append(out, violation("metallb-annotation", req.Resource, "annotation %q is not one MetalLB reads, so it is silently ignored. Fix: metallb.io/loadBalancerIPs", key))
			}
		}
	}
	for _, g := range ofKind(stack, "Gateway") {
		if len(g.List("spec", "addresses")) > 0 {
			out = append(out, violation("metallb-annotation", g, "spec.addresses becomes the externalIPs of the Service NGINX Gateway Fabric makes for the Gateway (provisioner/objects.go: buildNginxService), which MetalLB never assigns: the IP is never announced. Fix: drop spec.addresses and set spec.infrastructure.annotations.%s", kube.LoadBalancerIPsAnnotation))
		}
	}
	return out
}

// ipRequester is an object whose annotations ask MetalLB for IPs: a LoadBalancer Service, or a Gateway, whose
// infrastructure annotations NGINX Gateway Fabric copies onto the Service it makes for it.
type ipRequester struct {
	Resource
	annotations map[string]any
}

func ipRequesters(stack []Resource) []ipRequester {
	var out []ipRequester
	for _, svc := range ofKind(stack, "Service") {
		if svc.String("spec", "type") == "LoadBalancer" {
			out = append(out, ipRequester{svc, svc.Map("metadata", "annotations")})
		}
	}
	for _, g := range ofKind(stack, "Gateway") {
		out = append(out, ipRequester{g, g.Map("spec", "infrastructure", "annotations")})
	}
	return out
}

// MetalLBIPs checks requested LoadBalancer IPs against the stack's pools and for collisions.
func MetalLBIPs(stack []Resource) []Violation {
	const rule = "metallb-ips"
	var pools []iprange.Range
	for _, pool := range ofKind(stack, "IPAddressPool") {
		for _, a := range pool.List("spec", "addresses") {
			s, _ := a.(string)
			if r, err := iprange.Parse(s); err == nil {
				pools = append(pools, r)
			}
		}
	}
	owner := map[string]Resource{}
	var out []Violation
	for _, req := range ipRequesters(stack) {
		svc := req.Resource
		var requested []string
		for _, key := range metallbAnnotations {
			value, _ := req.annotations[key].(string)
			for _, ip := range strings.Split(value, ",") {
				if ip = strings.TrimSpace(ip); ip != "" {
					requested = append(requested, ip)
				}
			}
		}
		if ip := svc.String("spec", "loadBalancerIP"); ip != "" {
			requested = append(requested, ip)
		}
		for _, ip := range requested {
			addr, err := netip.ParseAddr(ip)
			if err != nil {
				out = append(out, violation(rule, svc, "requests %q, which is not an IP address", ip))
				continue
			}
			if other, taken := owner[ip]; taken {
				out = append(out, violation(rule, svc, "requests %s, which %s also requests: MetalLB gives it to one of them. Fix: one IP per Service", ip, other.where()))
			}
			owner[ip] = svc
			inPool := false
			for _, p := range pools {
				inPool = inPool || p.Contains(addr)
			}
			if len(pools) > 0 && !inPool {
				out = append(out, violation(rule, svc, "requests %s, outside every IPAddressPool of the stack, so it stays <pending>. Fix: pick an IP inside a pool or widen one", ip))
			}
		}
	}
	return out
}

// PinnedVersions: charts have an exact version (or a local archive), images a tag other than latest or a digest.
func PinnedVersions(stack []Resource) []Violation {
	const rule = "pinned-versions"
	var out []Violation
	for _, r := range stack {
		switch r.Type {
		case "kubernetes:helm.sh/v4:Chart", "kubernetes:helm.sh/v3:Release":
			chart, version := r.String("chart"), r.String("version")
			if chart == "" {
				// The engine shows policies no inputs of a Chart component; config validation pins those charts,
				// and the image check below covers every object they render.
				continue
			}
			local := strings.HasSuffix(chart, ".tgz") || strings.HasPrefix(chart, "/") || strings.HasPrefix(chart, ".")
			if !local && (version == "" || version == "latest" || strings.ContainsAny(version, "^~*x><= ")) {
				out = append(out, violation(rule, r, "chart %q has version %q. Fix: pin an exact version", chart, version))
			}
		}
		for _, image := range images(r) {
			if !pinnedImage(image) {
				out = append(out, violation(rule, r, "image %q is not pinned. Fix: an exact tag (not latest) or a digest", image))
			}
		}
	}
	return out
}

func podSpec(r Resource) map[string]any {
	switch r.Kind() {
	case "Pod":
		return r.Map("spec")
	case "Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet":
		return r.Map("spec", "template", "spec")
	case "CronJob":
		return r.Map("spec", "jobTemplate", "spec", "template", "spec")
	}
	return nil
}

func containers(r Resource) []map[string]any {
	spec := podSpec(r)
	var out []map[string]any
	for _, key := range []string{"initContainers", "containers"} {
		list, _ := spec[key].([]any)
		for _, c := range list {
			if m, ok := c.(map[string]any); ok {
				out = append(out, m)
			}
		}
	}
	return out
}

func images(r Resource) []string {
	var out []string
	for _, c := range containers(r) {
		if image, ok := c["image"].(string); ok {
			out = append(out, image)
		}
	}
	return out
}

func pinnedImage(ref string) bool {
	if strings.Contains(ref, "@sha256:") {
		return true
	}
	_, tag, ok := strings.Cut(ref[strings.LastIndex(ref, "/")+1:], ":")
	return ok && tag != "" && tag != "latest"
}

// SecretsAreSecret: credentials reach the cluster only as Pulumi secrets: every value of a Secret's data and
// stringData, and credential-named environment variables of workloads and local commands, which must be secrets or
// come from a secretKeyRef. (The Kubernetes provider also marks Secret data secret on its own; env values it does not.)
func SecretsAreSecret(stack []Resource) []Violation {
	const rule = "secrets-are-secret"
	plain := func(value any) bool {
		switch value.(type) {
		case Secret, Unknown, nil:
			return false
		}
		return true
	}
	var out []Violation
	for _, r := range stack {
		if r.Kind() == "Secret" {
			for _, field := range []string{"data", "stringData"} {
				m, _ := r.Props[field].(map[string]any)
				for key, value := range m {
					if plain(value) {
						out = append(out, violation(rule, r, "%s.%s is plain text in the program and the state. Fix: pass it as a Pulumi secret (pulumi.ToSecret, or config set --secret)", field, key))
					}
				}
			}
		}
		for _, c := range containers(r) {
			env, _ := c["env"].([]any)
			for _, e := range env {
				name, _ := asMap(e)["name"].(string)
				if credentialName(name) && plain(asMap(e)["value"]) {
					out = append(out, violation(rule, r, "container %v sets %s in plain text. Fix: valueFrom.secretKeyRef, or a Pulumi secret", c["name"], name))
				}
			}
		}
		if r.Type == "command:local:Command" {
			env, _ := r.Props["environment"].(map[string]any)
			for name, value := range env {
				if credentialName(name) && plain(value) {
					out = append(out, violation(rule, r, "environment %s is plain text. Fix: pass a Pulumi secret", name))
				}
			}
		}
	}
	return out
}

// credentialName reports whether an env var holds a credential itself, not the name or path of one
// (METALLB_ML_SECRET_NAME, CONTROL_PLANE_CLIENT_TLS_SECRET_NAME and the like are references).
func credentialName(name string) bool {
	upper := strings.ToUpper(name)
	for _, reference := range []string{"_NAME", "_PATH", "_FILE", "_DIR", "_LOCATION", "_REF", "_NAMESPACE"} {
		if strings.HasSuffix(upper, reference) {
			return false
		}
	}
	for _, word := range []string{"PASSWORD", "SECRET", "ACCESS_KEY", "TOKEN", "CREDENTIAL"} {
		if strings.Contains(upper, word) {
			return true
		}
	}
	return false
}

// WorkloadResources: workloads the stack declares itself (not rendered by an upstream chart) set requests and
// limits on every container.
func WorkloadResources(stack []Resource) []Violation {
	const rule = "workload-resources"
	var out []Violation
	for _, r := range stack {
		if podSpec(r) == nil || strings.Contains(r.Parent, "kubernetes:helm.sh/") {
			continue
		}
		for _, c := range containers(r) {
			res, _ := c["resources"].(map[string]any)
			requests, _ := res["requests"].(map[string]any)
			limits, _ := res["limits"].(map[string]any)
			if len(requests) == 0 || len(limits) == 0 {
				out = append(out, violation(rule, r, "container %v has no resource requests or no limits. Fix: set both (a homelab node is small)", c["name"]))
			}
		}
	}
	return out
}

// SchedulerHostEnv warns that the controller reads no SELDON_SCHEDULER_HOST/PORT.
func SchedulerHostEnv(stack []Resource) []Violation {
	const rule = "scheduler-host-env-no-effect"
	var out []Violation
	for _, r := range stack {
		for _, c := range containers(r) {
			env, _ := c["env"].([]any)
			for _, e := range env {
				name, _ := asMap(e)["name"].(string)
				if name == "SELDON_SCHEDULER_HOST" || name == "SELDON_SCHEDULER_PORT" {
					out = append(out, violation(rule, r, "%s has no effect: since Seldon 2.6 the controller dials seldon-scheduler.<namespace of the Model>:9004. Fix: remove it; put a SeldonRuntime in each model namespace", name))
				}
			}
		}
	}
	return out
}

// IngressNginxRetired notes that ingress-nginx has no maintenance after March 2026.
func IngressNginxRetired(stack []Resource) []Violation {
	const rule = "ingress-nginx-retired"
	var out []Violation
	for _, r := range stack {
		for _, image := range images(r) {
			if strings.Contains(image, "ingress-nginx/controller") {
				out = append(out, violation(rule, r, "ingress-nginx is retired upstream (best-effort maintenance ended March 2026; v1.15.1 is final). Fix: plan a move to a Gateway API implementation (NGINX Gateway Fabric, Envoy Gateway) or F5's NGINX Ingress Controller"))
			}
		}
	}
	return out
}
