// Package analyzer is the policy pack's server: an analyzer plugin that runs every rule of package policies, per
// resource where the rule allows (so it stops the resource before creation) and over the stack otherwise. Two
// executables serve it: policies/pack, for `pulumi preview --policy-pack` (`seldon-ab policy-pack` builds it and
// prints its path), and any program of the lifecycle's that calls lifecycle.ServePolicyPack.
//
// It serves Pulumi's analyzer protocol itself rather than through the policyx SDK, which decodes a resource's
// properties once per policy (policyx/server.go, Analyze, v3.274.1): nine per-resource rules made nine decodings
// of each of Seldon's CRDs (about 300 KB of properties each), most of a no-change preview's policy time. Here each
// resource is decoded once, and every rule reads that. The decoding is propertyrpc's, one pass over the message:
// plugin.UnmarshalProperties turns every nested object back into a Go map to look for a signature
// (resource/plugin/rpc.go, obj.Mappable(), v3.274.1), a cost that grows with size times depth, and Seldon's CRDs
// embed PodSpecs 30 levels deep.
package analyzer

import (
	"cmp"
	"context"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	"github.com/pulumi/pulumi/sdk/v3/go/propertyrpc"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/seldon-ab/provisioner/policies"
)

// Name and Version identify the pack in Pulumi's output.
const (
	Name    = "seldon-ab"
	Version = "0.1.0"
)

// engineCheckInterval is how often a pack asks whether the engine that started it is still there.
const engineCheckInterval = 5 * time.Second

// EngineAddress reads the command line Pulumi starts a pack given as a file with: the flags it passes every
// plugin when the user asked for them (--logtostderr and -v=N with --logflow, --tracing <endpoint>), then the
// engine's address (buildPluginArguments in pkg/resource/plugin/plugin.go and NewPolicyAnalyzer in
// analyzer_plugin.go, v3.274.1). ok is false for any other command line.
func EngineAddress(args []string) (address string, ok bool) {
	if len(args) == 0 || !isLoopbackAddress(args[len(args)-1]) {
		return "", false
	}
	flags := args[:len(args)-1]
	for i := 0; i < len(flags); i++ {
		switch flag := flags[i]; {
		case flag == "--logtostderr", strings.HasPrefix(flag, "-v="):
		case flag == "--tracing" && i+1 < len(flags):
			i++
		default:
			return "", false
		}
	}
	return args[len(args)-1], true
}

func isLoopbackAddress(arg string) bool {
	host, port, err := net.SplitHostPort(arg)
	if err != nil || port == "" {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Serve serves the analyzer protocol until the engine at engineAddress (the argument Pulumi starts a pack with)
// is done: the port goes to stdout first. The engine stops its plugins when it closes, but an engine killed (an
// Automation API run whose context ends kills the CLI) cannot, so the pack also ends when the engine no longer
// answers, as Pulumi's providers do (sdk/go/pulumi/provider/main.go, rpcutil.Healthcheck, v3.274.1).
func Serve(engineAddress string) error {
	return serve(engineAddress, engineCheckInterval)
}

func serve(engineAddress string, every time.Duration) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if engineAddress != "" {
		if err := rpcutil.Healthcheck(ctx, engineAddress, every, cancel); err != nil {
			return fmt.Errorf("watching the engine at %s: %w", engineAddress, err)
		}
	}
	stop := make(chan bool)
	go func() {
		<-ctx.Done()
		close(stop)
	}()
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: stop,
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterAnalyzerServer(srv, newAnalyzer())
			return nil
		},
	})
	if err != nil {
		return err
	}
	fmt.Printf("%d\n", handle.Port)
	return <-handle.Done
}

// analyzer runs policies.Rules at their enforcement levels, which the stack's policy config may change.
type analyzer struct {
	pulumirpc.UnimplementedAnalyzerServer
	levels map[string]pulumirpc.EnforcementLevel
}

func newAnalyzer() *analyzer {
	a := &analyzer{levels: map[string]pulumirpc.EnforcementLevel{}}
	for _, rule := range policies.Rules {
		a.levels[rule.Name] = pulumirpc.EnforcementLevel_ADVISORY
		if rule.Mandatory {
			a.levels[rule.Name] = pulumirpc.EnforcementLevel_MANDATORY
		}
	}
	return a
}

func (a *analyzer) Handshake(context.Context, *pulumirpc.AnalyzerHandshakeRequest) (*pulumirpc.AnalyzerHandshakeResponse, error) {
	return &pulumirpc.AnalyzerHandshakeResponse{}, nil
}

func (a *analyzer) ConfigureStack(context.Context, *pulumirpc.AnalyzerStackConfigureRequest) (*pulumirpc.AnalyzerStackConfigureResponse, error) {
	return &pulumirpc.AnalyzerStackConfigureResponse{}, nil
}

func (a *analyzer) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: Version}, nil
}

func (a *analyzer) GetAnalyzerInfo(context.Context, *emptypb.Empty) (*pulumirpc.AnalyzerInfo, error) {
	info := &pulumirpc.AnalyzerInfo{Name: Name, Version: Version, SupportsConfig: true}
	for _, rule := range policies.Rules {
		info.Policies = append(info.Policies, &pulumirpc.PolicyInfo{Name: rule.Name, Description: rule.Description,
			EnforcementLevel: a.levels[rule.Name]})
	}
	return info, nil
}

// Configure takes the enforcement levels of `pulumi ... --policy-pack-config`.
func (a *analyzer) Configure(_ context.Context, req *pulumirpc.ConfigureAnalyzerRequest) (*emptypb.Empty, error) {
	for name, cfg := range req.GetPolicyConfig() {
		if _, known := a.levels[name]; known {
			a.levels[name] = cfg.GetEnforcementLevel()
		}
	}
	return &emptypb.Empty{}, nil
}

// Remediate changes nothing: no rule remediates.
func (a *analyzer) Remediate(context.Context, *pulumirpc.AnalyzeRequest) (*pulumirpc.RemediateResponse, error) {
	return &pulumirpc.RemediateResponse{}, nil
}

// Analyze runs the per-resource rules over one resource.
func (a *analyzer) Analyze(_ context.Context, req *pulumirpc.AnalyzeRequest) (*pulumirpc.AnalyzeResponse, error) {
	r, err := decode(req.GetUrn(), req.GetType(), req.GetName(), req.GetOptions().GetParent(), req.GetProperties())
	if err != nil {
		return nil, err
	}
	return &pulumirpc.AnalyzeResponse{Diagnostics: a.run(true, []policies.Resource{r}, req.GetUrn())}, nil
}

// AnalyzeStack runs the rules that need the whole stack.
func (a *analyzer) AnalyzeStack(_ context.Context, req *pulumirpc.AnalyzeStackRequest) (*pulumirpc.AnalyzeResponse, error) {
	stack := make([]policies.Resource, 0, len(req.GetResources()))
	for _, res := range req.GetResources() {
		r, err := decode(res.GetUrn(), res.GetType(), res.GetName(), res.GetParent(), res.GetProperties())
		if err != nil {
			return nil, err
		}
		stack = append(stack, r)
	}
	return &pulumirpc.AnalyzeResponse{Diagnostics: a.run(false, stack, "")}, nil
}

func (a *analyzer) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

// run checks stack against the rules that are (perResource) or are not per resource; a violation without a URN
// is the analyzed resource's (urn).
func (a *analyzer) run(perResource bool, stack []policies.Resource, urn string) []*pulumirpc.AnalyzeDiagnostic {
	var out []*pulumirpc.AnalyzeDiagnostic
	for _, rule := range policies.Rules {
		level := a.levels[rule.Name]
		if rule.PerResource != perResource || level == pulumirpc.EnforcementLevel_DISABLED {
			continue
		}
		for _, v := range rule.Check(stack) {
			out = append(out, &pulumirpc.AnalyzeDiagnostic{PolicyName: rule.Name, PolicyPackName: Name,
				PolicyPackVersion: Version, Description: rule.Description, Message: rule.Description + "\n" + v.Message,
				EnforcementLevel: level, Urn: cmp.Or(v.URN, urn)})
		}
	}
	return out
}

// decode is a resource as the rules see it, its properties decoded once.
func decode(urn, typ, name, parent string, props *structpb.Struct) (policies.Resource, error) {
	pm, err := propertyrpc.Unmarshal(props)
	if err != nil {
		return policies.Resource{}, fmt.Errorf("the properties of %s: %w", urn, err)
	}
	return policies.Resource{Type: typ, Name: name, URN: urn, Parent: parent, Props: policies.FromProperties(pm)}, nil
}
