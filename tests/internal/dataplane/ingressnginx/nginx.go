package ingressnginx

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// hostVariable is nginx's $host from a Host header (src/http/ngx_http_request.c:ngx_http_validate_host):
// lowercased, without ":port" and without one trailing dot. Hosts that NGINX refuses with 400 (such as "a..b")
// are not modelled.
func hostVariable(raw string) string {
	host := strings.ToLower(raw)
	if strings.HasPrefix(host, "[") {
		if end := strings.IndexByte(host, ']'); end >= 0 {
			host = host[:end+1]
		}
	} else if colon := strings.IndexByte(host, ':'); colon >= 0 {
		host = host[:colon]
	}
	return strings.TrimSuffix(host, ".")
}

// normalizeURI is nginx's $uri from the request's decoded path (src/http/ngx_http_parse.c:
// ngx_http_parse_complex_uri, with merge_slashes on): slashes merged and "." and ".." segments resolved, a final
// "." or ".." leaving a trailing '/'. NGINX answers 400 to a ".." above the root; here it stays at the root.
func normalizeURI(decodedPath string) string {
	segments := strings.Split(decodedPath, "/")
	var kept []string
	for _, seg := range segments {
		switch seg {
		case "", ".":
		case "..":
			if len(kept) > 0 {
				kept = kept[:len(kept)-1]
			}
		default:
			kept = append(kept, seg)
		}
	}
	uri := "/" + strings.Join(kept, "/")
	if last := segments[len(segments)-1]; len(kept) > 0 && (last == "" || last == "." || last == "..") {
		uri += "/"
	}
	return uri
}

// escapeURI is nginx's ngx_escape_uri(..., NGX_ESCAPE_URI) (src/core/ngx_string.c): control bytes, bytes from
// 0x7f on, and space " # % < > ? \ ^ ` { | } become %XX with upper-case hex.
func escapeURI(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || strings.IndexByte(" \"#%<>?\\^`{|}", c) >= 0 {
			fmt.Fprintf(&b, "%%%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// validHeaderName reports whether NGINX keeps a request header. nginx.tmpl renders underscores_in_headers off and
// ignore_invalid_headers on (config.go:NewDefault: enable-underscores-in-headers false). nginx then ignores any
// header whose name has a byte other than a letter, a digit or '-' (src/http/ngx_http_parse.c:
// ngx_http_parse_header_line, its lowcase table). Such a header, like seldon_model, is neither forwarded nor seen
// by $http_* variables.
func validHeaderName(name string) bool {
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return name != ""
}

// setUpstream lists the client headers NGINX does not pass on because the location sets them itself
// (nginx.tmpl SERVER location block: proxy_set_header ...), or because the proxy module sets them by default
// (src/http/modules/ngx_http_proxy_module.c: ngx_http_proxy_headers: Connection, Content-Length,
// Transfer-Encoding, TE, Keep-Alive, Expect, Upgrade).
var setUpstream = map[string]bool{
	"Host": true, "Connection": true, "Upgrade": true, "Proxy": true,
	"X-Request-Id": true, "X-Real-Ip": true, "X-Forwarded-For": true, "X-Forwarded-Host": true,
	"X-Forwarded-Port": true, "X-Forwarded-Proto": true, "X-Forwarded-Scheme": true, "X-Scheme": true,
	"X-Original-Forwarded-For": true, "X-Original-Forwarded-Host": true,
	"Content-Length": true, "Transfer-Encoding": true, "Te": true, "Keep-Alive": true, "Expect": true,
}

// upstreamHeader is the request header set NGINX sends upstream from an Ingress location (nginx.tmpl SERVER
// location block; values from lua_ingress.lua:_M.rewrite). The ConfigMap defaults apply: use-forwarded-headers,
// compute-full-forwarded-for and proxy-add-original-uri-header false, generate-request-id true,
// upstream-keepalive-connections 320, proxy-set-headers empty (config.go:NewDefault). An empty value means the
// header is not sent (nginx: proxy_set_header).
func upstreamHeader(r *http.Request, scheme, remoteIP, bestHost string) http.Header {
	client := http.Header{}
	for name, values := range r.Header {
		if validHeaderName(name) {
			client[http.CanonicalHeaderKey(name)] = append(client[http.CanonicalHeaderKey(name)], values...)
		}
	}
	// nginx: $http_<name> joins repeated headers with ", " (src/http/ngx_http_variables.c, since 1.23.0).
	httpVar := func(name string) string { return strings.Join(client.Values(name), ", ") }

	out := http.Header{}
	for name, values := range client {
		if !setUpstream[name] {
			out[name] = slices.Clone(values)
		}
	}
	set := func(name, value string) {
		if value != "" {
			out.Set(name, value)
		}
	}
	set("Host", bestHost)
	// Upgrade: $http_upgrade; Connection: $connection_upgrade, "upgrade" when Upgrade was sent, else empty
	// because upstream keepalive is on (nginx.tmpl: map $http_upgrade $connection_upgrade).
	upgrade := client.Get("Upgrade")
	set("Upgrade", upgrade)
	if upgrade != "" {
		set("Connection", "upgrade")
	}
	// X-Request-ID: $req_id, the client's value, else $request_id, 32 random hex digits (nginx.tmpl:
	// map $http_x_request_id $req_id).
	requestID := httpVar("X-Request-Id")
	if requestID == "" {
		requestID = newRequestID()
	}
	set("X-Request-ID", requestID)
	set("X-Real-IP", remoteIP)
	set("X-Forwarded-For", remoteIP) // the client's value is replaced, not appended
	set("X-Forwarded-Host", bestHost)
	set("X-Forwarded-Port", forwardedPort(scheme))
	set("X-Forwarded-Proto", scheme)
	set("X-Forwarded-Scheme", scheme)
	set("X-Scheme", scheme)
	// template.go:buildForwardedFor and buildForwardedHost: the client's values, kept aside.
	set("X-Original-Forwarded-For", httpVar("X-Forwarded-For"))
	set("X-Original-Forwarded-Host", httpVar("X-Forwarded-Host"))
	return out
}

// forwardedPort is $pass_port: the controller's listen port, 80 for http, and 443 on the https port
// (lua_ingress.lua:_M.rewrite; chart: controller container ports http 80, https 443).
func forwardedPort(scheme string) string {
	if scheme == "https" {
		return "443"
	}
	return "80"
}

// newRequestID is nginx's $request_id: 16 random bytes in hex (src/http/ngx_http_variables.c:
// ngx_http_variable_request_id).
func newRequestID() string {
	id := make([]byte, 16)
	_, _ = rand.Read(id) // crypto/rand.Read never fails (Go 1.24)
	return hex.EncodeToString(id)
}

// pageTitles are the status lines of nginx's own pages (src/http/ngx_http_special_response.c). The images do not
// patch them (images/nginx/rootfs/patches).
var pageTitles = map[int]string{
	http.StatusMovedPermanently:    "301 Moved Permanently",
	http.StatusPermanentRedirect:   "308 Permanent Redirect",
	http.StatusNotFound:            "404 Not Found",
	http.StatusInternalServerError: "500 Internal Server Error",
	http.StatusBadGateway:          "502 Bad Gateway",
	http.StatusServiceUnavailable:  "503 Service Temporarily Unavailable",
	http.StatusGatewayTimeout:      "504 Gateway Time-out",
}

// ErrorPage is NGINX's own page for an error status (502, 503, 504, 404) exactly as NGINX sends it (headers and body), for
// the caller to use when a backend has no ready endpoint (503) or cannot be reached (502).
//
// It also knows 500, and the 301 and 308 redirect pages, which come without their Location here. It panics for
// any other status. The headers are Content-Type and Content-Length. There is no Server header, because
// server-tokens is false and nginx.tmpl clears it. Add Decision.ResponseHeader on https.
// The body is nginx's page with its tokens-off tail (src/http/ngx_http_special_response.c), with CRLF line ends.
// The padding nginx adds for MSIE clients is not modelled. Nothing confirms these bytes at run time: the e2e tests
// only check the status and, for 503, a substring.
func ErrorPage(status int) (http.Header, []byte) {
	title, ok := pageTitles[status]
	if !ok {
		panic(fmt.Sprintf("ingressnginx: no NGINX page for status %d", status))
	}
	body := []byte("<html>\r\n<head><title>" + title + "</title></head>\r\n<body>\r\n<center><h1>" + title +
		"</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")
	return http.Header{
		"Content-Type":   {"text/html"},
		"Content-Length": {strconv.Itoa(len(body))},
	}, body
}
