package ingressnginx

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
)

// Names from internal/ingress/controller/controller.go (const block).
const (
	defServerName = "_"
	rootLocation  = "/"
)

// ingress is one served Ingress: a normalised copy and its parsed annotations.
type ingress struct {
	networkingv1.Ingress
	key    string // namespace/name
	config rewriteConfig
}

// served returns the Ingresses this controller serves, normalised and in the store's order.
func (c Controller) served(ingresses []networkingv1.Ingress, classes []networkingv1.IngressClass) []*ingress {
	// store.go:New, ingressClassEventHandler.AddFunc: the IngressClass lister holds the classes whose
	// spec.controller is --controller-class and, with --ingress-class-by-name, the class named --ingress-class.
	lister := map[string]bool{}
	for _, ic := range classes {
		if ic.Spec.Controller == c.ControllerClass || c.IngressClassByName && ic.Name == c.IngressClass {
			lister[ic.Name] = true
		}
	}
	var out []*ingress
	for i := range ingresses {
		ing := &ingresses[i]
		if !c.hasClass(ing, lister) || hasCriticalAnnotation(ing.Annotations) {
			continue
		}
		out = append(out, normalise(ing))
	}
	// store.go:sortIngressSlice: creationTimestamp ascending, ties by namespace/name descending.
	sort.SliceStable(out, func(i, j int) bool {
		ti, tj := out[i].CreationTimestamp, out[j].CreationTimestamp
		if ti.Equal(&tj) {
			return out[i].key > out[j].key
		}
		return ti.Before(&tj)
	})
	return out
}

// Serves says whether the controller serves ing: the Ingresses its store holds (store.go: syncIngress), whose status
// it keeps.
func (c Controller) Serves(ing *networkingv1.Ingress, classes []networkingv1.IngressClass) bool {
	return len(c.served([]networkingv1.Ingress{*ing}, classes)) == 1
}

// hasClass is store.go:GetIngressClass. The default IngressClass annotation is never read: the API server fills in
// spec.ingressClassName when the Ingress is created.
func (c Controller) hasClass(ing *networkingv1.Ingress, lister map[string]bool) bool {
	if ing.Spec.IngressClassName != nil {
		return lister[*ing.Spec.IngressClassName]
	}
	// ingressclass.IngressKey
	if class, ok := ing.Annotations["kubernetes.io/ingress.class"]; ok {
		return class == c.IngressClass
	}
	return c.WatchWithoutClass
}

// hasCriticalAnnotation reports an annotation of Critical risk. With annotations-risk-level at its default, High
// (config.go:NewDefault), annotations.go:Extract fails for such an Ingress (parser/validators.go:
// CheckAnnotationRisk), and store.go:syncIngress logs the error and never adds the Ingress. The webhook would have
// refused it first (controller.go:CheckIngress). The Critical annotations are the five snippets (authreq,
// modsecurity, serversnippet, snippet and streamsnippet main.go). That a bypassed webhook leaves the Ingress
// unserved is inferred from the code, not confirmed by a test.
func hasCriticalAnnotation(annotations map[string]string) bool {
	for _, name := range []string{"configuration-snippet", "server-snippet", "stream-snippet", "auth-snippet", "modsecurity-snippet"} {
		if _, ok := annotations[annotationPrefix+name]; ok {
			return true
		}
	}
	return false
}

// normalise is store.go:syncIngress: an empty path becomes "/", and k8s.SetDefaultNGINXPathType makes a nil or
// ImplementationSpecific pathType Prefix.
func normalise(in *networkingv1.Ingress) *ingress {
	ing := &ingress{Ingress: *in.DeepCopy(), key: in.Namespace + "/" + in.Name, config: parseRewrite(in.Annotations)}
	prefix := networkingv1.PathTypePrefix
	for _, rule := range ing.Spec.Rules {
		if rule.HTTP == nil {
			continue
		}
		for i := range rule.HTTP.Paths {
			p := &rule.HTTP.Paths[i]
			if p.Path == "" {
				p.Path = rootLocation
			}
			if p.PathType == nil || *p.PathType == networkingv1.PathTypeImplementationSpecific {
				p.PathType = &prefix
			}
		}
	}
	return ing
}

// annotationPrefix is parser.DefaultAnnotationsPrefix.
const annotationPrefix = "nginx.ingress.kubernetes.io/"

// rewriteConfig is the part of rewrite.Config this package models (internal/ingress/annotations/rewrite/main.go).
type rewriteConfig struct {
	target                string
	useRegex              bool
	sslRedirect           bool
	forceSSLRedirect      bool
	preserveTrailingSlash bool
}

// rewriteTargetValid is parser.RegexPathWithCapture (internal/ingress/annotations/parser/validators.go).
var rewriteTargetValid = regexp.MustCompile(`^/?[\-\.\_\~a-zA-Z0-9\/:\/\$]*$`)

// parseRewrite is rewrite.go:Parse. A missing, empty or invalid value takes the default: no rewrite target,
// use-regex false, ssl-redirect true and force-ssl-redirect and preserve-trailing-slash false (the ConfigMap
// defaults of config.go:NewDefault).
func parseRewrite(annotations map[string]string) rewriteConfig {
	return rewriteConfig{
		target:                rewriteTarget(annotations[annotationPrefix+"rewrite-target"]),
		useRegex:              boolAnnotation(annotations, "use-regex", false),
		sslRedirect:           boolAnnotation(annotations, "ssl-redirect", true),
		forceSSLRedirect:      boolAnnotation(annotations, "force-ssl-redirect", false),
		preserveTrailingSlash: boolAnnotation(annotations, "preserve-trailing-slash", false),
	}
}

// rewriteTarget is the validated rewrite-target. parser.ValidateRegex also refuses CR and LF (MaliciousRegex),
// which the pattern already excludes, and the value is used trimmed (parser/main.go:normalizeString), which a valid
// value, having no spaces, already is.
func rewriteTarget(value string) string {
	if !rewriteTargetValid.MatchString(value) {
		return ""
	}
	return value
}

// boolAnnotation is parser.GetBoolAnnotation (strconv.ParseBool), with the caller's default on any error.
func boolAnnotation(annotations map[string]string, name string, def bool) bool {
	value, ok := annotations[annotationPrefix+name]
	if !ok {
		return def
	}
	b, err := strconv.ParseBool(value)
	if err != nil {
		return def
	}
	return b
}

// location is ingress.Location, reduced to what routing needs.
type location struct {
	path         string
	pathType     networkingv1.PathType
	isDefBackend bool     // the placeholder root location that a path "/" of the same type replaces
	backend      *Backend // nil: upstream-default-backend, the internal 404 server
	ingress      string   // namespace/name; "" for the catch-all server's own root
	config       rewriteConfig
}

// needsRewrite is template.go:needsRewrite (and the condition of template.go:buildProxyPass).
func (l *location) needsRewrite() bool {
	return l.config.target != "" && l.config.target != l.path
}

// rewrite applies template.go:buildProxyPass's `rewrite "(?i)<path>" <target> break;` to uri. nginx: the regex
// runs unanchored against $uri, and on a match the whole URI becomes the target with $1..$9 expanded (an unset
// group is empty, src/http/ngx_http_script.c:ngx_http_script_copy_capture_code), so text after the match is
// dropped. ok is false when the regex does not match and the URI stays.
func (l *location) rewrite(uri string) (rewritten string, ok bool) {
	m := mustCompile("(?i)" + l.path).FindStringSubmatchIndex(uri)
	if m == nil {
		return "", false
	}
	var b strings.Builder
	t := l.config.target
	for i := 0; i < len(t); i++ {
		// nginx: src/http/ngx_http_script.c:ngx_http_script_compile reads a capture as '$' and one digit 1-9.
		// Any other "$name" is an NGINX variable, which is not modelled and is copied literally.
		if t[i] == '$' && i+1 < len(t) && t[i+1] >= '1' && t[i+1] <= '9' {
			n := int(t[i+1] - '0')
			if 2*n+1 < len(m) && m[2*n] >= 0 {
				b.WriteString(uri[m[2*n]:m[2*n+1]])
			}
			i++
			continue
		}
		b.WriteByte(t[i])
	}
	return b.String(), true
}

// mustCompile compiles a regex from an Ingress path. NGINX uses PCRE, and Go's RE2 has the same leftmost-first
// semantics but lacks backreferences and lookarounds; a path that needs them cannot be simulated.
func mustCompile(expr string) *regexp.Regexp {
	re, err := regexp.Compile(expr)
	if err != nil {
		panic(fmt.Sprintf("ingressnginx: regex %q from an Ingress path cannot be simulated: %v", expr, err))
	}
	return re
}

// server is ingress.Server, reduced to what routing needs.
type server struct {
	hostname  string
	hasCert   bool
	locations []*location
	regex     bool           // template.go:enforceRegexModifier
	wildcard  *regexp.Regexp // server_name regex of a "*." hostname
}

// servers are the NGINX servers of one configuration.
type servers struct {
	byName    map[string]*server
	wildcards []*server // in configuration order, which is hostname order
}

// buildServers is controller.go:getConfiguration (getBackendServers, then updateServerLocations) for the served
// Ingresses, in the store's order.
func buildServers(ings []*ingress) *servers {
	upstreams := createUpstreams(ings)
	byName := createServers(ings, upstreams)
	addLocations(ings, byName, upstreams)

	s := &servers{byName: byName}
	names := make([]string, 0, len(byName))
	for name := range byName {
		names = append(names, name)
	}
	// controller.go:getBackendServers sorts servers by hostname, which orders the regex server names.
	sort.Strings(names)
	for _, name := range names {
		srv := byName[name]
		// controller.go:getBackendServers: Path descending, then stably by length descending, so the longest
		// path comes first and equal lengths are in reverse lexical order.
		sort.SliceStable(srv.locations, func(i, j int) bool { return srv.locations[i].path > srv.locations[j].path })
		sort.SliceStable(srv.locations, func(i, j int) bool { return len(srv.locations[i].path) > len(srv.locations[j].path) })
		srv.locations = updateServerLocations(srv.locations)
		for _, loc := range srv.locations {
			srv.regex = srv.regex || loc.needsRewrite() || loc.config.useRegex
		}
		if rest, ok := strings.CutPrefix(name, "*."); ok {
			// template.go:buildServerName: `~^(?<subdomain>[\w-]+)\.example\.com$`, one extra label.
			srv.wildcard = mustCompile(`^(?P<subdomain>[\w-]+)\.` + strings.Join(strings.Split(rest, "."), `\.`) + `$`)
			s.wildcards = append(s.wildcards, srv)
		}
	}
	return s
}

// createUpstreams is controller.go:createUpstreams: one upstream per name (util.go:upstreamName), created by the
// first path that names it. An Ingress's spec.defaultBackend always (re)creates its upstream. Services that share
// a name, such as namespace "a-b" service "c" and namespace "a" service "b-c", share the upstream.
func createUpstreams(ings []*ingress) map[string]Backend {
	upstreams := map[string]Backend{}
	for _, ing := range ings {
		if db := ing.Spec.DefaultBackend; db != nil && db.Service != nil {
			upstreams[upstreamName(ing.Namespace, db.Service)] = Backend{Namespace: ing.Namespace, Service: db.Service.Name, Port: db.Service.Port}
		}
		for _, rule := range ing.Spec.Rules {
			if rule.HTTP == nil {
				continue
			}
			for _, p := range rule.HTTP.Paths {
				if p.Backend.Service == nil {
					continue
				}
				name := upstreamName(ing.Namespace, p.Backend.Service)
				if _, ok := upstreams[name]; !ok {
					upstreams[name] = Backend{Namespace: ing.Namespace, Service: p.Backend.Service.Name, Port: p.Backend.Service.Port}
				}
			}
		}
	}
	return upstreams
}

// upstreamName is util.go:upstreamName.
func upstreamName(namespace string, svc *networkingv1.IngressServiceBackend) string {
	if svc.Port.Number > 0 {
		return fmt.Sprintf("%s-%s-%d", namespace, svc.Name, svc.Port.Number)
	}
	if svc.Port.Name != "" {
		return fmt.Sprintf("%s-%s-%s", namespace, svc.Name, svc.Port.Name)
	}
	return namespace + "-INVALID"
}

// hostOrDefault maps a rule's host to its server: a missing host is the catch-all server "_"
// (controller.go:createServers, getBackendServers).
func hostOrDefault(host string) string {
	if host == "" {
		return defServerName
	}
	return host
}

// createServers is controller.go:createServers.
func createServers(ings []*ingress, upstreams map[string]Backend) map[string]*server {
	// The catch-all server "_" has the default certificate and a root location on the default upstream.
	catchAll := &location{path: rootLocation, pathType: networkingv1.PathTypePrefix, isDefBackend: true}
	byName := map[string]*server{defServerName: {hostname: defServerName, hasCert: true, locations: []*location{catchAll}}}
	for _, ing := range ings {
		var defaultUpstream *Backend // upstream-default-backend
		if db := ing.Spec.DefaultBackend; db != nil && db.Service != nil {
			b := upstreams[upstreamName(ing.Namespace, db.Service)]
			defaultUpstream = &b
			// An Ingress with spec.defaultBackend and no rules configures the catch-all's root, unless an
			// earlier Ingress did. Its redirect and rewrite annotations are not applied to it.
			if catchAll.isDefBackend && len(ing.Spec.Rules) == 0 {
				catchAll.isDefBackend = false
				catchAll.backend = defaultUpstream
				catchAll.ingress = ing.key
			}
		}
		// The first Ingress that names a host creates its server. The server's root location goes to that
		// Ingress's spec.defaultBackend, else to the default upstream, and carries that Ingress's annotations
		// (locationApplyAnnotations), including rewrite-target, use-regex and ssl-redirect.
		for _, rule := range ing.Spec.Rules {
			host := hostOrDefault(rule.Host)
			if _, ok := byName[host]; ok {
				continue
			}
			root := &location{path: rootLocation, pathType: networkingv1.PathTypePrefix, isDefBackend: true,
				backend: defaultUpstream, ingress: ing.key, config: ing.config}
			byName[host] = &server{hostname: host, locations: []*location{root}}
		}
	}
	// A host of an Ingress with any spec.tls entry gets a certificate: the listed secret's, another valid one, or
	// the default (fake) certificate when the secret is missing or the host is not listed.
	for _, ing := range ings {
		if len(ing.Spec.TLS) == 0 {
			continue
		}
		for _, rule := range ing.Spec.Rules {
			byName[hostOrDefault(rule.Host)].hasCert = true
		}
	}
	return byName
}

// addLocations is the location loop of controller.go:getBackendServers.
func addLocations(ings []*ingress, byName map[string]*server, upstreams map[string]Backend) {
	for _, ing := range ings {
		for _, rule := range ing.Spec.Rules {
			if rule.HTTP == nil {
				continue
			}
			srv := byName[hostOrDefault(rule.Host)]
			for _, p := range rule.HTTP.Paths {
				// A non-Service (resource) backend makes no location: its requests fall to a shorter path,
				// ultimately the default backend.
				if p.Backend.Service == nil {
					continue
				}
				ups := upstreams[upstreamName(ing.Namespace, p.Backend.Service)]
				// The first location with the same path decides. A different pathType ends the search and adds
				// a new location, even if a later location has the same path and type. The same type keeps the
				// first Ingress's location ("first wins"), unless it is the placeholder root, which is replaced.
				add := true
				for _, loc := range srv.locations {
					if loc.path != p.Path {
						continue
					}
					if loc.pathType != *p.PathType {
						break
					}
					add = false
					if loc.isDefBackend {
						loc.isDefBackend = false
						loc.backend = &ups
						loc.ingress = ing.key
						loc.config = ing.config
					}
					break
				}
				if add {
					srv.locations = append(srv.locations, &location{path: p.Path, pathType: *p.PathType,
						backend: &ups, ingress: ing.key, config: ing.config})
				}
			}
		}
	}
}

// updateServerLocations is location.go:updateServerLocations. A Prefix location other than "/" from an Ingress
// without rewrite or use-regex gets a trailing '/', plus an Exact copy of its original path right after it, unless
// an Exact location for that path already exists. So "/v2" matches "/v2" and "/v2/...", but not "/v2x".
func updateServerLocations(locations []*location) []*location {
	exact := map[string]bool{}
	for _, loc := range locations {
		if loc.pathType == networkingv1.PathTypeExact {
			exact[loc.path] = true
		}
	}
	var out []*location
	for _, loc := range locations {
		if loc.path == rootLocation || loc.pathType != networkingv1.PathTypePrefix || loc.needsRewrite() || loc.config.useRegex {
			out = append(out, loc)
			continue
		}
		exactCopy := *loc
		exactCopy.pathType = networkingv1.PathTypeExact
		if !strings.HasSuffix(loc.path, "/") {
			loc.path += "/"
		}
		out = append(out, loc)
		if !exact[exactCopy.path] {
			out = append(out, &exactCopy)
		}
	}
	return out
}

// find picks the server for $host. nginx (src/http/ngx_http_core_module.c:ngx_http_core_find_virtual_server):
// an exact server_name first, then the regex names in configuration order, then the default server "_", whose
// listen lines carry default_server (template.go:commonListenOptions).
func (s *servers) find(host string) *server {
	if srv, ok := s.byName[host]; ok && srv.wildcard == nil {
		return srv
	}
	for _, srv := range s.wildcards {
		if srv.wildcard.MatchString(host) {
			return srv
		}
	}
	return s.byName[defServerName]
}

// hasCertificate is certificate.lua:configured_for_current_request (get_pem_cert_uid): the hostnames of servers
// with a certificate are registered (nginx.go:configureCertificates), and $host is looked up as is, then with its
// first label replaced by '*'. The catch-all is registered under the literal name "_".
func (s *servers) hasCertificate(host string) bool {
	if srv, ok := s.byName[host]; ok && srv.hasCert {
		return true
	}
	if label, parent, ok := strings.Cut(host, "."); ok && label != "" {
		srv, found := s.byName["*."+parent]
		return found && srv.hasCert
	}
	return false
}

// match picks the location for the normalised URI. slashRedirect reports NGINX's 301 to the location's name.
//
// In regex mode (template.go:buildLocation with enforceRegex) every location is `~* "^<path>"`, case-insensitive
// and anchored only at the start, and NGINX takes the first that matches in configuration order. "^/" always
// exists, so something always matches.
//
// Otherwise (nginx: src/http/ngx_http_core_module.c:ngx_http_core_find_static_location) an Exact location equal
// to the URI wins, then a location named the URI plus '/' answers 301 (proxy_pass sets auto_redirect on locations
// whose name ends in '/'; this is not confirmed by an ingress-nginx test), then the longest case-sensitive prefix
// wins.
func (srv *server) match(uri string) (loc *location, slashRedirect bool) {
	if srv.regex {
		return srv.firstRegexMatch(uri), false
	}
	for _, l := range srv.locations {
		if l.pathType == networkingv1.PathTypeExact && l.path == uri {
			return l, false
		}
	}
	for _, l := range srv.locations {
		if l.path == uri+"/" {
			return l, true
		}
	}
	for _, l := range srv.locations {
		if l.pathType == networkingv1.PathTypePrefix && strings.HasPrefix(uri, l.path) && (loc == nil || len(l.path) > len(loc.path)) {
			loc = l
		}
	}
	return loc, false
}

// firstRegexMatch is the first location whose `~* "^<path>"` matches uri. The root location matches every URI.
func (srv *server) firstRegexMatch(uri string) *location {
	for _, l := range srv.locations {
		if mustCompile("(?i)^" + l.path).MatchString(uri) {
			return l
		}
	}
	return nil
}
