// Package ingressnginx simulates how one ingress-nginx controller v1.15.1 (Helm chart 4.15.1, bundled NGINX 1.27.1)
// routes one HTTP request, given the cluster's Ingress and IngressClass objects. It is test harness for a sandbox
// that has no real NGINX, so it answers as the real controller does, rule by rule.
//
// Each rule cites its source as file:function in github.com/kubernetes/ingress-nginx at tag controller-v1.15.1.
// Bare file names are in internal/ingress/controller (controller.go, location.go, nginx.go, util.go) or its
// subdirectories store, template and config; nginx.tmpl and the Lua files are under rootfs/etc/nginx; annotation
// parsers are under internal/ingress/annotations. Rules marked "nginx:" are NGINX's own behaviour, and cite
// nginx's sources.
// The ConfigMap is taken at its code defaults (the chart sets controller.config: {}).
//
// The simulation does not model:
//   - canary Ingresses (nginx.ingress.kubernetes.io/canary), auth, session affinity, CORS, app-root,
//     from-to-www-redirect, server-alias, upstream-vhost, x-forwarded-prefix, backend-protocol,
//     custom-http-errors, the default-backend annotation and SSL passthrough;
//   - a rewrite-target that NGINX reads as a redirect (one starting with "http://" or "https://", answered 302) or
//     that names an NGINX variable ("$host"); the validator lets both through;
//   - the execution of snippet annotations. With the ConfigMap at its defaults, an Ingress that carries one is
//     not served at all (see hasCriticalAnnotation);
//   - --default-backend-service, --watch-namespace and --annotations-prefix (the chart leaves them at their
//     defaults), and the IgnoreIngressClass mode, which the controller enters only when RBAC forbids reading
//     IngressClasses;
//   - the admission webhook. It only rejects objects, and this package receives the objects that exist.
//     The store's deep inspection (inspector.DeepInspect: paths containing "alias …;", "/etc/nginx", "_by_lua" and
//     similar) is not modelled either;
//   - the default server's own /healthz and /nginx_status locations (nginx.tmpl: SERVER, `if eq $server.Hostname "_"`);
//   - configurations that NGINX would refuse to load, such as two identical non-regex locations in one server.
//     The controller then keeps its previous configuration, which a simulation cannot know.
package ingressnginx

import (
	"net"
	"net/http"
	"strconv"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
)

// Controller is one ingress-nginx controller's configuration, as its pod's args and ConfigMap give it.
type Controller struct {
	IngressClass      string // --ingress-class, default "nginx"
	ControllerClass   string // --controller-class, default "k8s.io/ingress-nginx"
	WatchWithoutClass bool   // --watch-ingress-without-class
	// IngressClassByName is --ingress-class-by-name: the IngressClass named IngressClass is served whatever its
	// spec.controller.
	IngressClassByName bool
	// PublishService is --publish-service (namespace/name): the Service whose address the controller writes into
	// the status of every Ingress it serves (internal/ingress/status/status.go: runningAddresses).
	PublishService string
}

// Flag defaults are from pkg/flags/flags.go:ParseFlags, whose values come from
// internal/ingress/controller/ingressclass/ingressclass.go (DefaultAnnotationValue, DefaultControllerName).
const (
	defaultIngressClass    = "nginx"
	defaultControllerClass = "k8s.io/ingress-nginx"
)

// ControllerFromArgs reads the flags above from a container's args (e.g. "--ingress-class=nginx"), defaults as
// upstream. Like pflag (pkg/flags/flags.go:ParseFlags), it accepts "--name=value" and "--name value" for the
// string flags, and "--name" or "--name=<bool>" for the boolean ones. Parsing stops at "--". Upstream refuses to
// start when a boolean value is malformed; here such a value leaves the flag at its default.
func ControllerFromArgs(args []string) Controller {
	c := Controller{IngressClass: defaultIngressClass, ControllerClass: defaultControllerClass}
	for i := 0; i < len(args); i++ {
		if args[i] == "--" {
			break
		}
		flag, ok := strings.CutPrefix(args[i], "--")
		if !ok {
			continue
		}
		name, value, hasValue := strings.Cut(flag, "=")
		switch name {
		case "ingress-class", "controller-class", "publish-service":
			if !hasValue {
				if i+1 == len(args) {
					continue
				}
				i++
				value = args[i]
			}
			switch name {
			case "ingress-class":
				c.IngressClass = value
			case "controller-class":
				c.ControllerClass = value
			default:
				c.PublishService = value
			}
		case "watch-ingress-without-class", "ingress-class-by-name":
			on := true
			if hasValue {
				b, err := strconv.ParseBool(value)
				if err != nil {
					continue
				}
				on = b
			}
			if name == "watch-ingress-without-class" {
				c.WatchWithoutClass = on
			} else {
				c.IngressClassByName = on
			}
		}
	}
	return c
}

// Backend is where a request goes: a Service port in a namespace.
type Backend struct {
	Namespace, Service string
	Port               networkingv1.ServiceBackendPort // Number or Name, as in the Ingress
}

// Decision is what the controller does with one request.
type Decision struct {
	// Status is set when NGINX answers itself (404 from the default backend, 308 redirect); 0 when proxied.
	// The other answers NGINX gives itself here are 301 (a request for "/p" when only a location "/p/" exists) and
	// 500 (a rewrite that leaves an empty URI).
	Status int
	// Header holds the headers of NGINX's own answer: Content-Type, Content-Length, Location, and
	// Strict-Transport-Security on https. It is nil when proxied. NGINX never sends a Server header.
	Header http.Header
	Body   []byte // NGINX's own page, byte for byte (e.g. the 146-byte 404 page with CRLF line ends)
	// When proxied (Status == 0):
	Backend Backend
	Path    string // the path (and ?query) sent upstream: rewritten per rewrite-target, or the original request URI
	// UpstreamHeader holds the request headers NGINX sends upstream: Host kept as the client sent it,
	// X-Forwarded-*, X-Real-IP, X-Request-ID kept or generated, and invalid header names (any '_') dropped.
	// Content-Length and Transfer-Encoding are left to the transport that carries the body.
	UpstreamHeader http.Header
	// ResponseHeader holds the headers NGINX adds to the backend's response, and to the 502/503/504 page the
	// caller sends from ErrorPage: Strict-Transport-Security on https, nil on http. The caller must also drop
	// the backend's Server header (nginx.tmpl: `more_clear_headers Server;`).
	ResponseHeader http.Header
	// Ingress is the namespace/name of the Ingress whose location matched, for diagnostics. It is what NGINX logs
	// as $ingress_name. For a host's root location that no path claimed, it is the first Ingress that defined the
	// host. It is empty for the catch-all server's own root location.
	Ingress string
}

// Route decides one request. remoteAddr is the client's IP (for X-Real-IP/X-Forwarded-For); a trailing ":port"
// is ignored. scheme is "http" or "https". r.Host is the client's Host header.
//
// Route panics when a regex location uses syntax that Go's RE2 engine cannot run but NGINX's PCRE can (for
// example backreferences or lookarounds), or that neither can. Either way the simulation cannot answer.
func (c Controller) Route(r *http.Request, scheme, remoteAddr string, ingresses []networkingv1.Ingress, classes []networkingv1.IngressClass) Decision {
	servers := buildServers(c.served(ingresses, classes))

	// nginx: the server comes from $host (src/http/ngx_http_request.c:ngx_http_validate_host,
	// ngx_http_find_virtual_server). Without a Host header it is the default server, and $host is that
	// server's name.
	host := hostVariable(r.Host)
	srv := servers.find(host)
	if host == "" {
		host = srv.hostname
	}
	// lua_ingress.lua:_M.rewrite: best_http_host = $http_host (the raw header, port included), else $host.
	bestHost := r.Host
	if bestHost == "" {
		bestHost = host
	}

	uri := normalizeURI(r.URL.Path)
	loc, slashRedirect := srv.match(uri)
	if slashRedirect {
		// nginx: src/http/ngx_http_core_module.c:ngx_http_core_find_config_phase answers 301 to the location's
		// name plus the arguments. ngx_http_header_filter makes that absolute with $host, which has no port,
		// because nginx.tmpl sets server_name_in_redirect off and port_in_redirect off. Without a Host header,
		// NGINX would use its local address instead; this is not modelled. Not confirmed by an ingress-nginx test.
		target := escapeURI(loc.path)
		if r.URL.RawQuery != "" {
			target += "?" + r.URL.RawQuery
		}
		return ownAnswer(http.StatusMovedPermanently, scheme, loc, scheme+"://"+host+target)
	}

	// The rewrite runs in NGINX's rewrite phase, before rewrite_by_lua (template.go:buildProxyPass emits it
	// inside the location; lua/nginx/ngx_rewrite.lua then runs lua_ingress.rewrite and balancer.rewrite).
	upstreamPath := requestURI(r)
	if loc.needsRewrite() {
		if rewritten, ok := loc.rewrite(uri); ok {
			if rewritten == "" {
				// nginx: src/http/ngx_http_script.c:ngx_http_script_regex_end_code, "the rewritten URI has a
				// zero length".
				return ownAnswer(http.StatusInternalServerError, scheme, loc, "")
			}
			// nginx: a rewrite marks the request internal, so src/http/modules/ngx_http_proxy_module.c:
			// ngx_http_proxy_create_request sends the new URI escaped, followed by the original arguments.
			upstreamPath = escapeURI(rewritten)
			if r.URL.RawQuery != "" {
				upstreamPath += "?" + r.URL.RawQuery
			}
		}
	}

	if redirectToHTTPS(loc, scheme, host, servers) {
		// lua_ingress.lua:_M.rewrite: https://<best_http_host up to its first ':'><$request_uri>, one trailing
		// '/' removed unless preserve-trailing-slash, sent with http-redirect-code (308 by default,
		// config.go:NewDefault).
		target := requestURI(r)
		if !loc.config.preserveTrailingSlash {
			target = strings.TrimSuffix(target, "/")
		}
		redirectHost, _, _ := strings.Cut(bestHost, ":")
		return ownAnswer(http.StatusPermanentRedirect, scheme, loc, "https://"+redirectHost+target)
	}

	if loc.backend == nil {
		// The default upstream, upstream-default-backend, has the single endpoint 127.0.0.1:8181
		// (controller.go:getDefaultUpstream, nginx.go:DefaultEndpoint), the internal server that does
		// `location / { return 404; }` (nginx.tmpl). Its page comes back through this location.
		return ownAnswer(http.StatusNotFound, scheme, loc, "")
	}
	return Decision{
		Backend:        *loc.backend,
		Path:           upstreamPath,
		UpstreamHeader: upstreamHeader(r, scheme, clientIP(remoteAddr), bestHost),
		ResponseHeader: responseHeader(scheme),
		Ingress:        loc.ingress,
	}
}

// ownAnswer is a page NGINX sends itself while in location loc, with a Location header if redirectTo is set.
func ownAnswer(status int, scheme string, loc *location, redirectTo string) Decision {
	header, body := ErrorPage(status)
	if redirectTo != "" {
		header.Set("Location", redirectTo)
	}
	for name, values := range responseHeader(scheme) {
		header[name] = values
	}
	return Decision{Status: status, Header: header, Body: body, Ingress: loc.ingress}
}

// responseHeader is what every location adds to every response. lua_ingress.lua:_M.header (run by
// nginx.tmpl's header_filter_by_lua_file ngx_conf_srv_hdr_filter.lua in each location) adds HSTS on https with
// the defaults hsts: true, hsts-max-age: 31536000, hsts-include-subdomains: true, hsts-preload: false
// (config.go:NewDefault). Its guard certificate_configured_for_current_request is a function reference that is
// never called, so every https response gets the header. This is inferred from the code and not confirmed by a
// test.
func responseHeader(scheme string) http.Header {
	if scheme != "https" {
		return nil
	}
	return http.Header{"Strict-Transport-Security": {"max-age=31536000; includeSubDomains"}}
}

// redirectToHTTPS is lua_ingress.lua:redirect_to_https with the location's annotations
// (template.go:locationConfigForLua).
func redirectToHTTPS(loc *location, scheme, host string, servers *servers) bool {
	// no-tls-redirect-locations defaults to "/.well-known/acme-challenge" (config.go:NewDefault) and is matched
	// as a prefix of the location's path (template.go:isLocationInLocationList).
	if strings.HasPrefix(loc.path, "/.well-known/acme-challenge") {
		return false
	}
	if scheme != "http" {
		return false
	}
	return loc.config.forceSSLRedirect || loc.config.sslRedirect && servers.hasCertificate(host)
}

// clientIP is $remote_addr: the address without a port.
func clientIP(remoteAddr string) string {
	if host, _, err := net.SplitHostPort(remoteAddr); err == nil {
		return host
	}
	return remoteAddr
}

// requestURI is $request_uri, the request target as the client sent it. For an absolute-form target NGINX keeps
// only the path and query, as Go's URL.RequestURI does.
func requestURI(r *http.Request) string {
	if strings.HasPrefix(r.RequestURI, "/") {
		return r.RequestURI
	}
	return r.URL.RequestURI()
}
