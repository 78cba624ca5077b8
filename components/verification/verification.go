// Package verification is the post-deploy verification component: a pulumi-command resource that runs the
// verifier (`seldon-ab verify`) through the ingress after the Experiment is Ready, and fails `pulumi up` if it fails.
package verification

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/pulumi/pulumi-command/sdk/go/command/local"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/seldon-ab/provisioner/internal/seldonspec"
	"github.com/seldon-ab/provisioner/internal/shellquote"
)

// Token is the component's Pulumi type.
const Token = "seldon-ab:verification:Verification"

// Args configure the run.
type Args struct {
	// ProjectDir is where `go run ./cmd/seldon-ab` works.
	ProjectDir string
	URL        string
	Host       string
	// Experiments to verify; without any (every winner promoted), Models are called by name.
	Experiments  []Experiment
	Models       []string
	InputName    string
	Shape        []int
	Datatype     string
	Requests     int
	Concurrency  int
	Tolerance    float64
	Significance float64
	Power        float64
	LatencyP95   time.Duration
	LatencyRatio float64
	Timeout      time.Duration
	Deadline     time.Duration
	// Settle is how long the split may take to be served as configured, after an update, before the split test.
	Settle time.Duration
	// ReportDir, when set, receives report.json and report.svg.
	ReportDir string
	// Triggers re-run verification when they change: models, weights, chart versions, the nonce.
	Triggers []string
	// After are resources that must exist before this component's objects (a component's own dependsOn does
	// not reach its children).
	After []pulumi.Resource
}

// Experiment is one split to verify: called as <Name>.experiment on /v2/models/<Model>/infer.
type Experiment struct {
	Name       string
	Model      string
	Candidates []seldonspec.Candidate
}

// Verification is the run's result.
type Verification struct {
	pulumi.ResourceState

	Summary pulumi.StringOutput `pulumi:"summary"`
}

// New registers the verifier run.
func New(ctx *pulumi.Context, name string, args *Args, opts ...pulumi.ResourceOption) (*Verification, error) {
	v := &Verification{}
	if err := ctx.RegisterComponentResource(Token, name, v, opts...); err != nil {
		return nil, err
	}
	triggers := pulumi.Array{}
	for _, t := range args.Triggers {
		triggers = append(triggers, pulumi.String(t))
	}
	cmd, err := local.NewCommand(ctx, name+"-run", &local.CommandArgs{
		Create:   pulumi.String(Command(args)),
		Dir:      pulumi.String(args.ProjectDir),
		Triggers: triggers,
	}, pulumi.Parent(v), pulumi.DependsOn(args.After))
	if err != nil {
		return nil, err
	}
	v.Summary = cmd.Stdout
	if err := ctx.RegisterResourceOutputs(v, pulumi.Map{"summary": v.Summary}); err != nil {
		return nil, err
	}
	return v, nil
}

// Argv is the verifier's argument vector for args (after `seldon-ab`): what the pulumi-command resource runs and
// what the verifyArgs stack output hands `seldon-ab verify`.
func Argv(args *Args) []string {
	shape := make([]string, len(args.Shape))
	for i, d := range args.Shape {
		shape[i] = fmt.Sprint(d)
	}
	argv := []string{"verify", "--url", args.URL, "--host", args.Host}
	for _, e := range args.Experiments {
		candidates := make([]string, len(e.Candidates))
		for i, c := range e.Candidates {
			candidates[i] = fmt.Sprintf("%s=%d", c.Name, c.Weight)
		}
		argv = append(argv, "--experiment", e.Name+":"+e.Model+":"+strings.Join(candidates, ","))
	}
	if len(args.Experiments) == 0 {
		argv = append(argv, "--models", strings.Join(args.Models, ","))
	}
	argv = append(argv, "--input-name", args.InputName, "--shape", strings.Join(shape, ","),
		"--datatype", args.Datatype, "--requests", fmt.Sprint(args.Requests), "--concurrency", fmt.Sprint(args.Concurrency),
		"--tolerance", fmt.Sprint(args.Tolerance), "--significance", fmt.Sprint(args.Significance), "--power", fmt.Sprint(args.Power),
		"--latency-p95", args.LatencyP95.String(), "--latency-ratio", fmt.Sprint(args.LatencyRatio),
		"--timeout", args.Timeout.String(), "--deadline", args.Deadline.String(), "--settle", args.Settle.String())
	if args.ReportDir != "" {
		argv = append(argv, "--json", filepath.Join(args.ReportDir, "report.json"), "--svg", filepath.Join(args.ReportDir, "report.svg"))
	}
	return argv
}

// Command is the verifier's command line for args, run by sh from the project root; every value is quoted so the
// shell reads it back as it is.
func Command(args *Args) string {
	cmd := "go run ./cmd/seldon-ab " + shellquote.Join(Argv(args)...)
	if args.ReportDir != "" {
		cmd = "mkdir -p " + shellquote.Quote(args.ReportDir) + " && " + cmd
	}
	return cmd
}
