package analyzer

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/types/known/structpb"
)

func properties(t *testing.T, props map[string]any) *structpb.Struct {
	t.Helper()
	s, err := plugin.MarshalProperties(resource.NewPropertyMapFromMap(props), plugin.MarshalOptions{KeepSecrets: true})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

const secretType = "kubernetes:core/v1:Secret"

// A per-resource rule answers Analyze under its own name and level, with the resource's URN; a rule the stack's
// policy config disables does not run.
func TestAnalyzeReportsEachRuleUnderItsName(t *testing.T) {
	a := newAnalyzer()
	req := &pulumirpc.AnalyzeRequest{Urn: "urn:creds", Type: secretType, Name: "creds", Properties: properties(t, map[string]any{
		"kind": "Secret", "metadata": map[string]any{"name": "creds", "namespace": "minio"},
		"stringData": map[string]any{"rootPassword": "hunter2"}})}
	res, err := a.Analyze(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Diagnostics) != 1 {
		t.Fatalf("diagnostics %v, want the one of secrets-are-secret", res.Diagnostics)
	}
	d := res.Diagnostics[0]
	if d.PolicyName != "secrets-are-secret" || d.EnforcementLevel != pulumirpc.EnforcementLevel_MANDATORY || d.Urn != "urn:creds" ||
		!strings.Contains(d.Message, "stringData.rootPassword is plain text") || d.PolicyPackName != Name {
		t.Errorf("diagnostic %+v", d)
	}
	if _, err := a.Configure(context.Background(), &pulumirpc.ConfigureAnalyzerRequest{PolicyConfig: map[string]*pulumirpc.PolicyConfig{
		"secrets-are-secret": {EnforcementLevel: pulumirpc.EnforcementLevel_DISABLED}}}); err != nil {
		t.Fatal(err)
	}
	if res, err := a.Analyze(context.Background(), req); err != nil || len(res.Diagnostics) != 0 {
		t.Errorf("a disabled rule still ran: %v %v", res.GetDiagnostics(), err)
	}
}

// Stack rules run on AnalyzeStack only, over every resource; per-resource rules do not run there again.
func TestAnalyzeStackRunsTheStackRules(t *testing.T) {
	experiment := func(name, def string) *pulumirpc.AnalyzerResource {
		return &pulumirpc.AnalyzerResource{Urn: "urn:" + name, Type: "kubernetes:mlops.seldon.io/v1alpha1:Experiment", Name: name,
			Properties: properties(t, map[string]any{"kind": "Experiment", "metadata": map[string]any{"name": name, "namespace": "seldon"},
				"spec": map[string]any{"default": def, "candidates": []any{map[string]any{"name": "a", "weight": 1},
					map[string]any{"name": "b", "weight": 1}}}})}
	}
	model := func(name string) *pulumirpc.AnalyzerResource {
		return &pulumirpc.AnalyzerResource{Urn: "urn:" + name, Type: "kubernetes:mlops.seldon.io/v1alpha1:Model", Name: name,
			Properties: properties(t, map[string]any{"kind": "Model", "metadata": map[string]any{"name": name, "namespace": "seldon"}})}
	}
	res, err := newAnalyzer().AnalyzeStack(context.Background(), &pulumirpc.AnalyzeStackRequest{Resources: []*pulumirpc.AnalyzerResource{
		model("a"), model("b"), experiment("first", "a"), experiment("second", "a")}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Diagnostics) != 1 || res.Diagnostics[0].PolicyName != "experiment-candidates" || res.Diagnostics[0].Urn != "urn:second" {
		t.Errorf("diagnostics %v, want experiment-candidates on the second Experiment", res.Diagnostics)
	}
}

// Every rule is announced with its level: what `pulumi preview` lists and a policy config can change.
func TestTheAnalyzerAnnouncesEveryRule(t *testing.T) {
	info, err := newAnalyzer().GetAnalyzerInfo(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	levels := map[string]pulumirpc.EnforcementLevel{}
	for _, p := range info.Policies {
		levels[p.Name] = p.EnforcementLevel
	}
	if levels["metallb-ips"] != pulumirpc.EnforcementLevel_MANDATORY || levels["ingress-nginx-retired"] != pulumirpc.EnforcementLevel_ADVISORY ||
		info.Name != Name {
		t.Errorf("analyzer info %v", info)
	}
}

// A resource's parent reaches the rules: a chart's own workload is the chart's business, the stack's own is not.
func TestAnalyzeKnowsTheParent(t *testing.T) {
	deployment := properties(t, map[string]any{"kind": "Deployment", "metadata": map[string]any{"name": "web", "namespace": "ns"},
		"spec": map[string]any{"template": map[string]any{"spec": map[string]any{"containers": []any{
			map[string]any{"name": "web", "image": "nginx:1.27.3"}}}}}})
	analyze := func(parent string) []*pulumirpc.AnalyzeDiagnostic {
		res, err := newAnalyzer().Analyze(context.Background(), &pulumirpc.AnalyzeRequest{Urn: "urn:web", Type: "kubernetes:apps/v1:Deployment",
			Name: "web", Properties: deployment, Options: &pulumirpc.AnalyzerResourceOptions{Parent: parent}})
		if err != nil {
			t.Fatal(err)
		}
		return res.Diagnostics
	}
	if d := analyze("urn:pulumi:s::p::kubernetes:helm.sh/v4:Chart::ingress-nginx"); len(d) != 0 {
		t.Errorf("a chart's own Deployment was judged: %v", d)
	}
	if d := analyze(""); len(d) != 1 || d[0].PolicyName != "workload-resources" {
		t.Errorf("the stack's own Deployment without resources: %v", d)
	}
}

// Values arrive as the engine marshals them (secrets, unknowns of a preview, output values): a secret, an unknown
// and a secret output are not plain text, a plain output is.
func TestAnalyzeDecodesTheEnginesMarkers(t *testing.T) {
	stringData := resource.PropertyMap{
		"secret":        resource.MakeSecret(resource.NewProperty("hunter2")),
		"unknown":       resource.MakeComputed(resource.NewProperty("")),
		"secretOutput":  resource.NewProperty(resource.Output{Element: resource.NewProperty("hunter2"), Known: true, Secret: true}),
		"unknownOutput": resource.NewProperty(resource.Output{}),
		"plainOutput":   resource.NewProperty(resource.Output{Element: resource.NewProperty("hunter2"), Known: true}),
	}
	props, err := plugin.MarshalProperties(resource.PropertyMap{
		"kind":       resource.NewProperty("Secret"),
		"metadata":   resource.NewProperty(resource.PropertyMap{"name": resource.NewProperty("creds")}),
		"stringData": resource.NewProperty(stringData),
	}, plugin.MarshalOptions{KeepUnknowns: true, KeepSecrets: true, KeepOutputValues: true})
	if err != nil {
		t.Fatal(err)
	}
	res, err := newAnalyzer().Analyze(context.Background(), &pulumirpc.AnalyzeRequest{Urn: "urn:creds", Type: secretType, Name: "creds",
		Properties: props})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Diagnostics) != 1 || !strings.Contains(res.Diagnostics[0].Message, "stringData.plainOutput is plain text") {
		t.Errorf("diagnostics %v, want one, for stringData.plainOutput", res.Diagnostics)
	}
}

// A pack outlives no engine: while the engine answers it serves, and once the engine is gone (killed, so it could
// not stop its plugins) the pack ends on its own.
func TestThePackEndsWithItsEngine(t *testing.T) {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	engine := grpc.NewServer()
	healthpb.RegisterHealthServer(engine, health.NewServer())
	go func() { _ = engine.Serve(listener) }()

	done := make(chan error, 1)
	go func() { done <- serve(listener.Addr().String(), 50*time.Millisecond) }()
	select {
	case err := <-done:
		t.Fatalf("the pack ended while its engine answered: %v", err)
	case <-time.After(500 * time.Millisecond):
	}
	engine.Stop()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("the pack ended with %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the pack still serves 10 s after its engine went away")
	}
}

// The pack starts only on a command line Pulumi starts plugins with, whatever logging and tracing flags the user
// asked Pulumi for: never on one of seldon-ab's own command lines.
func TestThePackStartsOnlyAsPulumiStartsIt(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"127.0.0.1:41234"}, "127.0.0.1:41234"},
		{[]string{"[::1]:41234"}, "[::1]:41234"},
		{[]string{"--logtostderr", "-v=9", "127.0.0.1:41234"}, "127.0.0.1:41234"},
		{[]string{"--tracing", "file:/tmp/trace.out", "127.0.0.1:41234"}, "127.0.0.1:41234"},
		{[]string{"--logtostderr", "-v=9", "--tracing", "tcp://127.0.0.1:9411", "127.0.0.1:41234"}, "127.0.0.1:41234"},
		{[]string{"192.168.1.249:80"}, ""},
		{[]string{"localhost"}, ""},
		{[]string{"up"}, ""},
		{[]string{"--tracing", "127.0.0.1:41234"}, ""},
		{[]string{"verify", "--stack", "sandbox", "127.0.0.1:41234"}, ""},
		{nil, ""},
	} {
		got, ok := EngineAddress(c.args)
		if got != c.want || ok != (c.want != "") {
			t.Errorf("EngineAddress(%q) = %q, %t; want %q", c.args, got, ok, c.want)
		}
	}
}
