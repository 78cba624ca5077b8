package ngfsim

import (
	"math/rand/v2"
	"net/http"
	"strings"
)

// Decision is what a Gateway's nginx does with a request: answer itself (Status set) or proxy to Backend with
// Path and the upstream header changes.
type Decision struct {
	Status  int
	Backend Backend
	Path    string
	// Set and Remove change the upstream request's headers (RequestHeaderModifier).
	Set    map[string]string
	Remove []string
}

// Route decides a request arriving at the nginx of Gateway gatewayKey (namespace/name), by the configuration NGF
// generates (internal/controller/state/dataplane/configuration.go, nginx/config/servers.go):
//   - one server per accepted hostname of the routes attached to the Gateway's listener on the request's port;
//     an unknown host gets the default server's 404 (servers_template.go);
//   - within a host, an Exact path first, then the longest PathPrefix, matched element by element (a prefix /v2
//     serves /v2 and /v2/..., never /v2x: createPath makes "location /v2/" and "location = /v2"); header and
//     method matches choose among a path's rules (httpmatches.js), and none matching is a 404;
//   - no rule for the path: 404 (createDefaultRootLocation);
//   - an invalid backend, or none: 500 (the invalid-backend-ref upstream, split_clients.go); several backends are
//     split by weight.
func (g *Graph) Route(gatewayKey string, port int32, r *http.Request) Decision {
	host := strings.ToLower(hostOnly(r.Host))
	type candidate struct {
		route *RouteState
		rule  RuleState
	}
	var exact, wildcard, catchAll []candidate
	for _, rs := range g.Routes {
		for _, p := range rs.Parents {
			if p.Gateway != gatewayKey || !p.Accepted || !g.listenerOnPort(gatewayKey, p.Listener, port) {
				continue
			}
			for _, h := range p.Hostnames {
				for _, ru := range rs.Rules {
					c := candidate{rs, ru}
					switch {
					case h == host:
						exact = append(exact, c)
					case strings.HasPrefix(h, "*.") && strings.HasSuffix(host, h[1:]):
						wildcard = append(wildcard, c)
					case h == "":
						catchAll = append(catchAll, c)
					}
				}
			}
		}
	}
	server := exact
	if len(server) == 0 {
		server = wildcard
	}
	if len(server) == 0 {
		server = catchAll
	}
	if len(server) == 0 {
		return Decision{Status: http.StatusNotFound}
	}
	path := r.URL.Path
	var best *candidate
	var bestMatch match
	bestScore := -1
	for i := range server {
		for _, m := range matchesOf(server[i].rule.rule) {
			score, ok := pathScore(m, path)
			if !ok || !headersMatch(m, r) || score <= bestScore {
				continue
			}
			best, bestMatch, bestScore = &server[i], m, score
		}
	}
	if best == nil {
		return Decision{Status: http.StatusNotFound}
	}
	d := Decision{Path: path}
	for _, f := range best.rule.rule.Filters {
		switch {
		case f.URLRewrite != nil && f.URLRewrite.Path != nil:
			d.Path = rewrite(*f.URLRewrite.Path, bestMatch, path)
		case f.RequestHeaderModifier != nil:
			d.Set = map[string]string{}
			for _, h := range f.RequestHeaderModifier.Set {
				d.Set[h.Name] = h.Value
			}
			for _, h := range f.RequestHeaderModifier.Add {
				if prior := r.Header.Get(h.Name); prior != "" {
					d.Set[h.Name] = prior + "," + h.Value
				} else {
					d.Set[h.Name] = h.Value
				}
			}
			d.Remove = f.RequestHeaderModifier.Remove
		}
	}
	if r.URL.RawQuery != "" {
		d.Path += "?" + r.URL.RawQuery
	}
	backend, ok := pick(best.rule.Backends)
	if !ok {
		return Decision{Status: http.StatusInternalServerError}
	}
	d.Backend = backend
	return d
}

func (g *Graph) listenerOnPort(gatewayKey, listenerName string, port int32) bool {
	gs := g.Gateways[gatewayKey]
	if gs == nil {
		return false
	}
	for _, l := range gs.gw.Spec.Listeners {
		if l.Name == listenerName {
			return l.Port == port && l.Protocol == "HTTP"
		}
	}
	return false
}

// matchesOf is a rule's matches, or the CRD's default: PathPrefix "/".
func matchesOf(ru rule) []match {
	if len(ru.Matches) > 0 {
		return ru.Matches
	}
	prefix, root := "PathPrefix", "/"
	return []match{{Path: &pathMatch{Type: &prefix, Value: &root}}}
}

// pathScore ranks a match for path: an Exact match above any prefix, a longer prefix above a shorter one.
func pathScore(m match, path string) (int, bool) {
	typ, value := "PathPrefix", "/"
	if m.Path != nil {
		typ, value = deref(m.Path.Type, typ), deref(m.Path.Value, value)
	}
	switch typ {
	case "Exact":
		return 1 << 20, path == value
	case "PathPrefix":
		trimmed := strings.TrimSuffix(value, "/")
		return len(value), value == "/" || path == trimmed || strings.HasPrefix(path, trimmed+"/")
	}
	return 0, false
}

func headersMatch(m match, r *http.Request) bool {
	if m.Method != nil && *m.Method != r.Method {
		return false
	}
	for _, h := range m.Headers {
		// httpmatches.js: the request value split on "," must hold the exact value.
		found := false
		for _, v := range strings.Split(r.Header.Get(h.Name), ",") {
			found = found || v == h.Value
		}
		if !found {
			return false
		}
	}
	return true
}

// rewrite is URLRewrite's path: the full path replaced, or the matched prefix (servers.go:
// createRewritesValForRewriteFilter).
func rewrite(p pathModifier, m match, path string) string {
	switch {
	case p.ReplaceFullPath != nil:
		return *p.ReplaceFullPath
	case p.ReplacePrefixMatch != nil && m.Path != nil && m.Path.Value != nil:
		prefix := strings.TrimSuffix(*m.Path.Value, "/")
		rest := strings.TrimPrefix(path, prefix)
		replaced := strings.TrimSuffix(*p.ReplacePrefixMatch, "/") + rest
		if replaced == "" {
			return "/"
		}
		return replaced
	}
	return path
}

// pick chooses a backend by weight; false when there is none to send to (no backends, all weights 0, or the
// chosen one invalid).
func pick(backends []Backend) (Backend, bool) {
	total := int32(0)
	for _, b := range backends {
		total += b.Weight
	}
	if total == 0 {
		return Backend{}, false
	}
	n := rand.Int32N(total)
	for _, b := range backends {
		if n < b.Weight {
			return b, b.Problem == ""
		}
		n -= b.Weight
	}
	return Backend{}, false
}

func hostOnly(hostport string) string {
	if i := strings.LastIndex(hostport, ":"); i > 0 && !strings.Contains(hostport[i:], "]") {
		return hostport[:i]
	}
	return hostport
}
