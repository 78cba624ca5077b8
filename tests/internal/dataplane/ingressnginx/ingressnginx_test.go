package ingressnginx_test

import (
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/seldon-ab/provisioner/tests/internal/dataplane/ingressnginx"
)

// chartArgs are the controller args chart 4.15.1 renders with its default values.
var chartArgs = []string{
	"/nginx-ingress-controller",
	"--publish-service=$(POD_NAMESPACE)/ingress-nginx-controller",
	"--election-id=ingress-nginx-leader",
	"--controller-class=k8s.io/ingress-nginx",
	"--ingress-class=nginx",
	"--configmap=$(POD_NAMESPACE)/ingress-nginx-controller",
	"--validating-webhook=:8443",
	"--validating-webhook-certificate=/usr/local/certificates/cert",
	"--validating-webhook-key=/usr/local/certificates/key",
}

// chartClass is the IngressClass chart 4.15.1 creates.
var chartClass = networkingv1.IngressClass{
	ObjectMeta: metav1.ObjectMeta{Name: "nginx"},
	Spec:       networkingv1.IngressClassSpec{Controller: "k8s.io/ingress-nginx"},
}

const (
	ns   = "seldon-mesh"
	host = "models.example.com"
)

var (
	epoch       = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	notFound    = "<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n<center><h1>404 Not Found</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
	redirect308 = "<html>\r\n<head><title>308 Permanent Redirect</title></head>\r\n<body>\r\n<center><h1>308 Permanent Redirect</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
	prefix      = networkingv1.PathTypePrefix
	exact       = networkingv1.PathTypeExact
	implSpec    = networkingv1.PathTypeImplementationSpecific
)

// path is one Ingress path to a Service port number.
type path struct {
	path     string
	pathType *networkingv1.PathType
	service  string
	port     int32
}

// ingress is an Ingress in ns with class nginx (unless edited), created age seconds after epoch, with one rule.
func ingress(name string, age int, ruleHost string, annotations map[string]string, paths ...path) networkingv1.Ingress {
	class := "nginx"
	ing := networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: ns, Name: name, Annotations: annotations,
			CreationTimestamp: metav1.NewTime(epoch.Add(time.Duration(age) * time.Second)),
		},
		Spec: networkingv1.IngressSpec{IngressClassName: &class},
	}
	var http networkingv1.HTTPIngressRuleValue
	for _, p := range paths {
		http.Paths = append(http.Paths, networkingv1.HTTPIngressPath{
			Path: p.path, PathType: p.pathType,
			Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
				Name: p.service, Port: networkingv1.ServiceBackendPort{Number: p.port},
			}},
		})
	}
	ing.Spec.Rules = []networkingv1.IngressRule{{Host: ruleHost, IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &http}}}
	return ing
}

// backend is a Service port in ns.
func backend(service string, port int32) ingressnginx.Backend {
	return ingressnginx.Backend{Namespace: ns, Service: service, Port: networkingv1.ServiceBackendPort{Number: port}}
}

// get routes GET target with Host h over scheme through the chart's controller.
func get(t *testing.T, c ingressnginx.Controller, scheme, h, target string, ings []networkingv1.Ingress, classes ...networkingv1.IngressClass) ingressnginx.Decision {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, target, nil)
	r.Host = h
	r.Header.Set("X-Request-ID", "fixed")
	if classes == nil {
		classes = []networkingv1.IngressClass{chartClass}
	}
	return c.Route(r, scheme, "10.0.0.7", ings, classes)
}

// outcome is the part of a Decision most tests compare.
type outcome struct {
	Status  int
	Backend ingressnginx.Backend
	Path    string
	Ingress string
}

func outcomeOf(d ingressnginx.Decision) outcome {
	return outcome{Status: d.Status, Backend: d.Backend, Path: d.Path, Ingress: d.Ingress}
}

func TestControllerFromArgs(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want ingressnginx.Controller
	}{
		{"chart defaults", chartArgs, ingressnginx.Controller{IngressClass: "nginx", ControllerClass: "k8s.io/ingress-nginx",
			PublishService: "$(POD_NAMESPACE)/ingress-nginx-controller"}},
		{"no args", nil, ingressnginx.Controller{IngressClass: "nginx", ControllerClass: "k8s.io/ingress-nginx"}},
		{
			"custom",
			[]string{"--ingress-class", "internal", "--controller-class=example.com/internal", "--watch-ingress-without-class", "--ingress-class-by-name=true"},
			ingressnginx.Controller{IngressClass: "internal", ControllerClass: "example.com/internal", WatchWithoutClass: true, IngressClassByName: true},
		},
		{
			"explicit false and terminator",
			[]string{"--watch-ingress-without-class=false", "--", "--ingress-class=ignored"},
			ingressnginx.Controller{IngressClass: "nginx", ControllerClass: "k8s.io/ingress-nginx"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ingressnginx.ControllerFromArgs(tt.args); got != tt.want {
				t.Errorf("ControllerFromArgs() = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestIngressClass(t *testing.T) {
	chart := ingressnginx.ControllerFromArgs(chartArgs)
	served := outcome{Backend: backend("iris", 9000), Path: "/v2/models/iris/infer", Ingress: ns + "/iris"}
	refused := outcome{Status: http.StatusNotFound}
	className := func(name string) func(*networkingv1.Ingress) {
		return func(ing *networkingv1.Ingress) { ing.Spec.IngressClassName = &name }
	}
	annotation := func(class string) func(*networkingv1.Ingress) {
		return func(ing *networkingv1.Ingress) {
			ing.Spec.IngressClassName = nil
			ing.Annotations = map[string]string{"kubernetes.io/ingress.class": class}
		}
	}
	otherController := networkingv1.IngressClass{
		ObjectMeta: metav1.ObjectMeta{Name: "nginx"},
		Spec:       networkingv1.IngressClassSpec{Controller: "example.com/other"},
	}
	tests := []struct {
		name    string
		c       ingressnginx.Controller
		edit    func(*networkingv1.Ingress)
		classes []networkingv1.IngressClass
		want    outcome
	}{
		{"ingressClassName of the chart's class", chart, className("nginx"), nil, served},
		{"ingressClassName of a class with another controller", chart, className("nginx"), []networkingv1.IngressClass{otherController}, refused},
		{"ingressClassName of a missing class", chart, className("public"), nil, refused},
		{"ingressClassName wins over a matching annotation", chart, func(ing *networkingv1.Ingress) {
			name := "public"
			ing.Spec.IngressClassName = &name
			ing.Annotations = map[string]string{"kubernetes.io/ingress.class": "nginx"}
		}, nil, refused},
		{"annotation equal to --ingress-class", chart, annotation("nginx"), nil, served},
		{"annotation of another class", chart, annotation("traefik"), nil, refused},
		{"no class", chart, func(ing *networkingv1.Ingress) { ing.Spec.IngressClassName = nil }, nil, refused},
		{"no class with --watch-ingress-without-class", ingressnginx.ControllerFromArgs(append(chartArgs, "--watch-ingress-without-class=true")),
			func(ing *networkingv1.Ingress) { ing.Spec.IngressClassName = nil }, nil, served},
		{"--ingress-class-by-name takes the class whatever its controller", ingressnginx.ControllerFromArgs(append(chartArgs, "--ingress-class-by-name")),
			className("nginx"), []networkingv1.IngressClass{otherController}, served},
		{"configuration-snippet is too risky at the default risk level", chart, func(ing *networkingv1.Ingress) {
			ing.Annotations = map[string]string{"nginx.ingress.kubernetes.io/configuration-snippet": `more_set_input_headers "seldon-model: iris";`}
		}, nil, refused},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ing := ingress("iris", 0, host, nil, path{"/v2", &prefix, "iris", 9000})
			tt.edit(&ing)
			got := outcomeOf(get(t, tt.c, "http", host, "/v2/models/iris/infer", []networkingv1.Ingress{ing}, tt.classes...))
			if got != tt.want {
				t.Errorf("Route() = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestHosts(t *testing.T) {
	chart := ingressnginx.ControllerFromArgs(chartArgs)
	ings := []networkingv1.Ingress{
		ingress("exact", 0, host, nil, path{"/", nil, "exact", 80}),
		ingress("wildcard", 1, "*.apps.example.com", nil, path{"/", nil, "wildcard", 80}),
	}
	tests := []struct {
		host string
		want outcome
	}{
		{host, outcome{Backend: backend("exact", 80), Path: "/v2/models", Ingress: ns + "/exact"}},
		{"Models.Example.com:8080", outcome{Backend: backend("exact", 80), Path: "/v2/models", Ingress: ns + "/exact"}},
		{host + ".", outcome{Backend: backend("exact", 80), Path: "/v2/models", Ingress: ns + "/exact"}},
		{"a.apps.example.com", outcome{Backend: backend("wildcard", 80), Path: "/v2/models", Ingress: ns + "/wildcard"}},
		{"a-b_1.apps.example.com", outcome{Backend: backend("wildcard", 80), Path: "/v2/models", Ingress: ns + "/wildcard"}},
		{"apps.example.com", outcome{Status: http.StatusNotFound}},
		{"a.b.apps.example.com", outcome{Status: http.StatusNotFound}},
		{"unknown.example.com", outcome{Status: http.StatusNotFound}},
		{"", outcome{Status: http.StatusNotFound}},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			d := get(t, chart, "http", tt.host, "/v2/models", ings)
			if got := outcomeOf(d); got != tt.want {
				t.Errorf("Route() = %+v, want %+v", got, tt.want)
			}
			if tt.want.Status != http.StatusNotFound {
				if d.Header != nil || d.Body != nil {
					t.Errorf("proxied, but Header = %v, Body = %q", d.Header, d.Body)
				}
				return
			}
			wantHeader := http.Header{"Content-Type": {"text/html"}, "Content-Length": {"146"}}
			if !reflect.DeepEqual(d.Header, wantHeader) || string(d.Body) != notFound || len(d.Body) != 146 {
				t.Errorf("404 page = %v %q, want %v %q", d.Header, d.Body, wantHeader, notFound)
			}
		})
	}
	t.Run("a rule without host serves unknown hosts", func(t *testing.T) {
		catchAll := ingress("catch-all", 2, "", nil, path{"/v2", nil, "catch-all", 80})
		got := outcomeOf(get(t, chart, "http", "unknown.example.com", "/v2/models", append(ings, catchAll)))
		want := outcome{Backend: backend("catch-all", 80), Path: "/v2/models", Ingress: ns + "/catch-all"}
		if got != want {
			t.Errorf("Route() = %+v, want %+v", got, want)
		}
	})
}

func TestPaths(t *testing.T) {
	chart := ingressnginx.ControllerFromArgs(chartArgs)
	ings := []networkingv1.Ingress{
		ingress("v2", 0, host, nil, path{"/v2", &implSpec, "v2", 9000}, path{"/ready", &exact, "ready", 8080}),
		ingress("docs", 1, host, nil, path{"/docs/", &prefix, "docs", 80}),
	}
	v2 := func(p string) outcome { return outcome{Backend: backend("v2", 9000), Path: p, Ingress: ns + "/v2"} }
	tests := []struct {
		target string
		want   outcome
	}{
		{"/v2", v2("/v2")},
		{"/v2/", v2("/v2/")},
		{"/v2/models/iris/infer", v2("/v2/models/iris/infer")},
		{"/v2/models/iris/infer?debug=1", v2("/v2/models/iris/infer?debug=1")},
		// NGINX matches the normalised URI but proxies the request URI as sent.
		{"//v2//models/./iris/x/../infer", v2("//v2//models/./iris/x/../infer")},
		{"/v2x", outcome{Status: http.StatusNotFound, Ingress: ns + "/v2"}},
		{"/V2/models", outcome{Status: http.StatusNotFound, Ingress: ns + "/v2"}},
		{"/ready", outcome{Backend: backend("ready", 8080), Path: "/ready", Ingress: ns + "/v2"}},
		{"/ready/", outcome{Status: http.StatusNotFound, Ingress: ns + "/v2"}},
		{"/docs/intro", outcome{Backend: backend("docs", 80), Path: "/docs/intro", Ingress: ns + "/docs"}},
		{"/docs", outcome{Status: http.StatusMovedPermanently, Ingress: ns + "/docs"}},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			if got := outcomeOf(get(t, chart, "http", host, tt.target, ings)); got != tt.want {
				t.Errorf("Route() = %+v, want %+v", got, tt.want)
			}
		})
	}
	t.Run("a path with a trailing slash redirects its name without one", func(t *testing.T) {
		d := get(t, chart, "http", host+":8080", "/docs?page=2", ings)
		if got, want := d.Header.Get("Location"), "http://"+host+"/docs/?page=2"; got != want {
			t.Errorf("Location = %q, want %q", got, want)
		}
		if got, want := d.Header.Get("Content-Length"), "162"; got != want {
			t.Errorf("Content-Length = %q, want %q", got, want)
		}
	})
	t.Run("a resource backend is no location", func(t *testing.T) {
		ing := ingress("bucket", 0, host, nil, path{"/static", &prefix, "unused", 80})
		apiGroup := "storage.example.com"
		ing.Spec.Rules[0].HTTP.Paths[0].Backend = networkingv1.IngressBackend{
			Resource: &corev1.TypedLocalObjectReference{APIGroup: &apiGroup, Kind: "Bucket", Name: "assets"},
		}
		want := outcome{Status: http.StatusNotFound, Ingress: ns + "/bucket"}
		if got := outcomeOf(get(t, chart, "http", host, "/static/a.css", []networkingv1.Ingress{ing})); got != want {
			t.Errorf("Route() = %+v, want %+v", got, want)
		}
	})
}

func TestRewriteTarget(t *testing.T) {
	chart := ingressnginx.ControllerFromArgs(chartArgs)
	rewrite := func(target string, useRegex bool) map[string]string {
		a := map[string]string{"nginx.ingress.kubernetes.io/rewrite-target": target}
		if useRegex {
			a["nginx.ingress.kubernetes.io/use-regex"] = "true"
		}
		return a
	}
	// The field-story mistake: a fixed target replaces the whole URI, so Seldon never sees /v2/....
	fixed := []networkingv1.Ingress{ingress("seldon", 0, host, rewrite("/", false), path{"/seldon", &implSpec, "seldon-mesh", 80})}
	// The documented form keeps what follows the prefix.
	captured := []networkingv1.Ingress{ingress("seldon", 0, host, rewrite("/$2", true), path{"/seldon(/|$)(.*)", &implSpec, "seldon-mesh", 80})}
	// An invalid target ('?' is not allowed) means no rewrite at all, and so plain Prefix matching.
	invalid := []networkingv1.Ingress{ingress("seldon", 0, host, rewrite("/v2?x=1", false), path{"/seldon", &prefix, "seldon-mesh", 80})}
	// A target equal to the Ingress path is no rewrite for that path, but its Prefix expansion "/api/" then
	// differs from the target: the host enters regex mode and "/api/..." is rewritten to "/api".
	samePath := []networkingv1.Ingress{ingress("api", 0, host, rewrite("/api", false), path{"/api", &prefix, "api", 80})}

	seldon := func(p string) outcome {
		return outcome{Backend: backend("seldon-mesh", 80), Path: p, Ingress: ns + "/seldon"}
	}
	api := func(p string) outcome { return outcome{Backend: backend("api", 80), Path: p, Ingress: ns + "/api"} }
	tests := []struct {
		name   string
		ings   []networkingv1.Ingress
		target string
		want   outcome
	}{
		{"fixed target drops /v2", fixed, "/seldon/v2/models/iris/infer", seldon("/")},
		{"fixed target keeps the query", fixed, "/seldon/v2/models/iris/infer?x=1", seldon("/?x=1")},
		{"fixed target matches case-insensitively", fixed, "/SELDON/v2", seldon("/")},
		{"fixed target also takes /seldonx", fixed, "/seldonx", seldon("/")},
		{"capture keeps /v2", captured, "/seldon/v2/models/iris/infer", seldon("/v2/models/iris/infer")},
		{"capture keeps the query", captured, "/seldon/v2/models/iris/infer?x=1", seldon("/v2/models/iris/infer?x=1")},
		{"capture of the bare prefix", captured, "/seldon", seldon("/")},
		{"capture of the prefix with slash", captured, "/seldon/", seldon("/")},
		{"capture re-escapes the decoded URI", captured, "/seldon/v2/a%20b", seldon("/v2/a%20b")},
		{"capture leaves other paths to the default backend", captured, "/v2/models", outcome{Status: http.StatusNotFound, Ingress: ns + "/seldon"}},
		{"invalid target is no rewrite", invalid, "/seldon/v2/models", seldon("/seldon/v2/models")},
		{"invalid target keeps Prefix matching", invalid, "/seldonx", outcome{Status: http.StatusNotFound, Ingress: ns + "/seldon"}},
		{"target equal to the path: exact copy", samePath, "/api", api("/api")},
		{"target equal to the path: expansion rewrites", samePath, "/api/users?id=1", api("/api?id=1")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := outcomeOf(get(t, chart, "http", host, tt.target, tt.ings)); got != tt.want {
				t.Errorf("Route() = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestFirstWins(t *testing.T) {
	chart := ingressnginx.ControllerFromArgs(chartArgs)
	older := ingress("b-older", 0, host, nil, path{"/v2", &prefix, "older", 80})
	newer := ingress("a-newer", 60, host, nil, path{"/v2", &prefix, "newer", 80})
	twinA := ingress("a", 0, host, nil, path{"/v2", &prefix, "a", 80})
	twinB := ingress("b", 0, host, nil, path{"/v2", &prefix, "b", 80})
	otherType := ingress("exact", 60, host, nil, path{"/v2", &exact, "exact", 80})
	tests := []struct {
		name   string
		ings   []networkingv1.Ingress
		target string
		want   outcome
	}{
		{"older wins, listed first", []networkingv1.Ingress{older, newer}, "/v2/models", outcome{Backend: backend("older", 80), Path: "/v2/models", Ingress: ns + "/b-older"}},
		{"older wins, listed last", []networkingv1.Ingress{newer, older}, "/v2/models", outcome{Backend: backend("older", 80), Path: "/v2/models", Ingress: ns + "/b-older"}},
		{"same age: name descending wins", []networkingv1.Ingress{twinA, twinB}, "/v2/models", outcome{Backend: backend("b", 80), Path: "/v2/models", Ingress: ns + "/b"}},
		{"another pathType is another location", []networkingv1.Ingress{older, otherType}, "/v2", outcome{Backend: backend("exact", 80), Path: "/v2", Ingress: ns + "/exact"}},
		{"another pathType leaves the prefix", []networkingv1.Ingress{older, otherType}, "/v2/x", outcome{Backend: backend("older", 80), Path: "/v2/x", Ingress: ns + "/b-older"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := outcomeOf(get(t, chart, "http", host, tt.target, tt.ings)); got != tt.want {
				t.Errorf("Route() = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestRegexModeSpreadsToTheHost(t *testing.T) {
	chart := ingressnginx.ControllerFromArgs(chartArgs)
	plain := ingress("plain", 0, host, nil, path{"/v2", &prefix, "plain", 80})
	regex := ingress("regex", 1, host, map[string]string{
		"nginx.ingress.kubernetes.io/rewrite-target": "/$2",
		"nginx.ingress.kubernetes.io/use-regex":      "true",
	}, path{"/seldon(/|$)(.*)", &implSpec, "seldon", 80})
	elsewhere := ingress("elsewhere", 2, "other.example.com", nil, path{"/v2", &prefix, "elsewhere", 80})
	ings := []networkingv1.Ingress{plain, regex, elsewhere}
	tests := []struct {
		name, host, target string
		want               outcome
	}{
		{"prefix still matches", host, "/v2/models", outcome{Backend: backend("plain", 80), Path: "/v2/models", Ingress: ns + "/plain"}},
		{"prefix now matches /v2x", host, "/v2x", outcome{Backend: backend("plain", 80), Path: "/v2x", Ingress: ns + "/plain"}},
		{"prefix now matches case-insensitively", host, "/V2/models", outcome{Backend: backend("plain", 80), Path: "/V2/models", Ingress: ns + "/plain"}},
		{"regex location", host, "/seldon/v2/models", outcome{Backend: backend("seldon", 80), Path: "/v2/models", Ingress: ns + "/regex"}},
		{"other hosts keep Prefix matching", "other.example.com", "/v2x", outcome{Status: http.StatusNotFound, Ingress: ns + "/elsewhere"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := outcomeOf(get(t, chart, "http", tt.host, tt.target, ings)); got != tt.want {
				t.Errorf("Route() = %+v, want %+v", got, tt.want)
			}
		})
	}
	t.Run("longest path string first, not the most specific", func(t *testing.T) {
		// rewrite.go e2e "should fail to use longest match for documented warning".
		ings := []networkingv1.Ingress{
			ingress("bar", 0, host, map[string]string{"nginx.ingress.kubernetes.io/use-regex": "true"}, path{"/foo/bar/bar", &implSpec, "bar", 80}),
			ingress("pattern", 1, host, map[string]string{"nginx.ingress.kubernetes.io/use-regex": "true"}, path{"/foo/bar/[a-z]{3}", &implSpec, "pattern", 80}),
		}
		want := outcome{Backend: backend("pattern", 80), Path: "/foo/bar/bar", Ingress: ns + "/pattern"}
		if got := outcomeOf(get(t, chart, "http", host, "/foo/bar/bar", ings)); got != want {
			t.Errorf("Route() = %+v, want %+v", got, want)
		}
	})
}

func TestTLSRedirect(t *testing.T) {
	chart := ingressnginx.ControllerFromArgs(chartArgs)
	withTLS := func(ing networkingv1.Ingress) networkingv1.Ingress {
		// The secret need not exist: the host then gets the default certificate.
		ing.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{ing.Spec.Rules[0].Host}, SecretName: "missing"}}
		return ing
	}
	tls := withTLS(ingress("tls", 0, host, nil, path{"/v2", &prefix, "iris", 9000}))
	noRedirect := withTLS(ingress("tls", 0, host, map[string]string{"nginx.ingress.kubernetes.io/ssl-redirect": "false"}, path{"/v2", &prefix, "iris", 9000}))
	forced := ingress("forced", 0, host, map[string]string{"nginx.ingress.kubernetes.io/force-ssl-redirect": "true"}, path{"/v2", &prefix, "iris", 9000})
	wildcard := withTLS(ingress("wild", 0, "*.example.com", nil, path{"/v2", &prefix, "iris", 9000}))
	acme := withTLS(ingress("acme", 0, host, nil, path{"/.well-known/acme-challenge", &prefix, "solver", 8089}))

	tests := []struct {
		name, scheme, host, target string
		ings                       []networkingv1.Ingress
		location                   string // "" when proxied
	}{
		{"root loses its slash", "http", host, "/", []networkingv1.Ingress{tls}, "https://" + host},
		{"one trailing slash removed", "http", host, "/v2/models/", []networkingv1.Ingress{tls}, "https://" + host + "/v2/models"},
		{"query kept, slash before it kept", "http", host, "/v2/?x=1", []networkingv1.Ingress{tls}, "https://" + host + "/v2/?x=1"},
		{"port dropped, case kept", "http", "Models.Example.com:8080", "/v2/models", []networkingv1.Ingress{tls}, "https://Models.Example.com/v2/models"},
		{"redirect before the default backend", "http", host, "/nowhere", []networkingv1.Ingress{tls}, "https://" + host + "/nowhere"},
		{"wildcard TLS host", "http", "a.example.com", "/v2", []networkingv1.Ingress{wildcard}, "https://a.example.com/v2"},
		{"force-ssl-redirect without TLS", "http", host, "/v2", []networkingv1.Ingress{forced}, "https://" + host + "/v2"},
		{"https is proxied", "https", host, "/v2/models", []networkingv1.Ingress{tls}, ""},
		{"ssl-redirect false", "http", host, "/v2/models", []networkingv1.Ingress{noRedirect}, ""},
		{"acme challenge", "http", host, "/.well-known/acme-challenge/token", []networkingv1.Ingress{acme}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := get(t, chart, tt.scheme, tt.host, tt.target, tt.ings)
			if tt.location == "" {
				if d.Status != 0 {
					t.Fatalf("Status = %d, want proxied", d.Status)
				}
				return
			}
			wantHeader := http.Header{"Content-Type": {"text/html"}, "Content-Length": {"164"}, "Location": {tt.location}}
			if d.Status != http.StatusPermanentRedirect || !reflect.DeepEqual(d.Header, wantHeader) || string(d.Body) != redirect308 {
				t.Errorf("Route() = %d %v %q, want 308 %v %q", d.Status, d.Header, d.Body, wantHeader, redirect308)
			}
		})
	}
	t.Run("https responses carry HSTS", func(t *testing.T) {
		want := http.Header{"Strict-Transport-Security": {"max-age=31536000; includeSubDomains"}}
		if d := get(t, chart, "https", host, "/v2", []networkingv1.Ingress{tls}); !reflect.DeepEqual(d.ResponseHeader, want) {
			t.Errorf("ResponseHeader = %v, want %v", d.ResponseHeader, want)
		}
		if d := get(t, chart, "https", host, "/nowhere", []networkingv1.Ingress{tls}); d.Header.Get("Strict-Transport-Security") != want.Get("Strict-Transport-Security") {
			t.Errorf("404 Header = %v, want HSTS", d.Header)
		}
		if d := get(t, chart, "http", host, "/v2", []networkingv1.Ingress{noRedirect}); d.ResponseHeader != nil {
			t.Errorf("http ResponseHeader = %v, want nil", d.ResponseHeader)
		}
	})
}

func TestUpstreamHeader(t *testing.T) {
	chart := ingressnginx.ControllerFromArgs(chartArgs)
	ings := []networkingv1.Ingress{ingress("iris", 0, host, nil, path{"/v2", &prefix, "iris", 9000})}
	t.Run("client headers", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodPost, "/v2/models/iris/infer", nil)
		r.Host = host + ":8080"
		r.Header.Set("Seldon-Model", "iris")
		r.Header["seldon_model"] = []string{"iris"}
		r.Header.Set("Content-Type", "application/json")
		r.Header.Add("X-Forwarded-For", "203.0.113.9")
		r.Header.Add("X-Forwarded-For", "198.51.100.1")
		r.Header.Set("X-Forwarded-Proto", "https")
		r.Header.Set("X-Request-ID", "req-1")
		r.Header.Set("Connection", "keep-alive")
		r.Header.Set("Proxy", "http://evil")
		d := chart.Route(r, "http", "10.0.0.7:51234", ings, []networkingv1.IngressClass{chartClass})
		want := http.Header{
			"Host":                     {host + ":8080"},
			"Seldon-Model":             {"iris"},
			"Content-Type":             {"application/json"},
			"X-Request-Id":             {"req-1"},
			"X-Real-Ip":                {"10.0.0.7"},
			"X-Forwarded-For":          {"10.0.0.7"},
			"X-Forwarded-Host":         {host + ":8080"},
			"X-Forwarded-Port":         {"80"},
			"X-Forwarded-Proto":        {"http"},
			"X-Forwarded-Scheme":       {"http"},
			"X-Scheme":                 {"http"},
			"X-Original-Forwarded-For": {"203.0.113.9, 198.51.100.1"},
		}
		if !reflect.DeepEqual(d.UpstreamHeader, want) {
			t.Errorf("UpstreamHeader =\n%v\nwant\n%v", d.UpstreamHeader, want)
		}
	})
	t.Run("generated request id and upgrade", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodGet, "/v2/stream", nil)
		r.Host = host
		r.Header.Set("Upgrade", "websocket")
		r.Header.Set("Connection", "Upgrade")
		d := chart.Route(r, "https", "10.0.0.7", ings, []networkingv1.IngressClass{chartClass})
		if id := d.UpstreamHeader.Get("X-Request-ID"); !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(id) {
			t.Errorf("X-Request-ID = %q, want 32 hex digits", id)
		}
		for name, want := range map[string]string{"Upgrade": "websocket", "Connection": "upgrade", "X-Forwarded-Port": "443", "X-Forwarded-Proto": "https"} {
			if got := d.UpstreamHeader.Get(name); got != want {
				t.Errorf("%s = %q, want %q", name, got, want)
			}
		}
	})
}

func TestDefaultBackend(t *testing.T) {
	chart := ingressnginx.ControllerFromArgs(chartArgs)
	catchAll := networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "catch-all", CreationTimestamp: metav1.NewTime(epoch)},
		Spec: networkingv1.IngressSpec{
			IngressClassName: &chartClass.Name,
			DefaultBackend: &networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
				Name: "fallback", Port: networkingv1.ServiceBackendPort{Name: "http"},
			}},
		},
	}
	withRules := ingress("iris", 1, host, nil, path{"/v2", &prefix, "iris", 9000})
	withRules.Spec.DefaultBackend = &networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
		Name: "iris-default", Port: networkingv1.ServiceBackendPort{Number: 8080},
	}}
	ings := []networkingv1.Ingress{catchAll, withRules}
	fallback := ingressnginx.Backend{Namespace: ns, Service: "fallback", Port: networkingv1.ServiceBackendPort{Name: "http"}}
	tests := []struct {
		name, host, target string
		want               outcome
	}{
		{"no rules: catch-all for unknown hosts", "unknown.example.com", "/x", outcome{Backend: fallback, Path: "/x", Ingress: ns + "/catch-all"}},
		{"with rules: the host's unmatched paths", host, "/x", outcome{Backend: backend("iris-default", 8080), Path: "/x", Ingress: ns + "/iris"}},
		{"with rules: the paths still win", host, "/v2/x", outcome{Backend: backend("iris", 9000), Path: "/v2/x", Ingress: ns + "/iris"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := outcomeOf(get(t, chart, "http", tt.host, tt.target, ings)); got != tt.want {
				t.Errorf("Route() = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestErrorPage(t *testing.T) {
	tests := []struct {
		status int
		length int
		title  string
	}{
		{http.StatusNotFound, 146, "404 Not Found"},
		{http.StatusBadGateway, 150, "502 Bad Gateway"},
		{http.StatusServiceUnavailable, 190, "503 Service Temporarily Unavailable"},
		{http.StatusGatewayTimeout, 160, "504 Gateway Time-out"},
	}
	for _, tt := range tests {
		t.Run(tt.title, func(t *testing.T) {
			header, body := ingressnginx.ErrorPage(tt.status)
			want := "<html>\r\n<head><title>" + tt.title + "</title></head>\r\n<body>\r\n<center><h1>" + tt.title +
				"</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
			if string(body) != want || len(body) != tt.length {
				t.Errorf("body = %q (%d bytes), want %q (%d bytes)", body, len(body), want, tt.length)
			}
			wantHeader := http.Header{"Content-Type": {"text/html"}, "Content-Length": {strconv.Itoa(tt.length)}}
			if !reflect.DeepEqual(header, wantHeader) {
				t.Errorf("header = %v, want %v", header, wantHeader)
			}
		})
	}
}
