package verify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/pflag"
)

// ErrFailed is what a failed verdict is (errors.Is); the error Execute returns also names its findings.
var ErrFailed = errors.New("verification failed")

// FailedError is a failed verdict. Its message names each error finding's layer and problem, so that a caller who
// keeps only the error (a CI log, an `up` run unattended) still learns which layer broke.
type FailedError struct {
	Findings []Finding
}

func (e *FailedError) Error() string {
	var problems []string
	for _, f := range e.Findings {
		if f.Severity == SeverityError {
			problems = append(problems, fmt.Sprintf("%s layer: %s", f.Layer, f.Problem))
		}
	}
	if len(problems) == 0 {
		return ErrFailed.Error() + ": see the findings above"
	}
	return ErrFailed.Error() + ": " + strings.Join(problems, "; ")
}

// Is makes a FailedError an ErrFailed.
func (e *FailedError) Is(target error) bool { return target == ErrFailed }

// Invocation is what the verify and demo commands take: the settings every run shares, the experiments (verified
// Parallel at a time, into one suite) and where to write the reports.
type Invocation struct {
	// Config holds the shared settings; with no Experiments, its Candidates are the Models called by name.
	Config      Config
	Experiments []Experiment
	// Parallel is how many experiments are verified at once, each with Config.Concurrency calls in flight.
	Parallel          int
	JSONPath, SVGPath string
}

// DefaultParallel experiments are verified at once: against Models that answer in milliseconds, an experiment's
// calls wait on round trips, not on the verifier (BenchmarkExperimentsAtOnce).
const DefaultParallel = 4

// Experiment is one split to verify: called as <Name>.experiment on /v2/models/<Model>/infer.
type Experiment struct {
	Name       string
	Model      string
	Candidates []Candidate
}

// Configs are the runs' configs: one per experiment, each with the shared settings, or one that calls the Models
// by name. The power is each experiment's own: with two looks a stack served exactly as configured almost never
// fails (unclearChance), so the power only sets how often an experiment needs its second look, which dividing
// the power over the experiments would trade for more calls in every first look.
func (inv Invocation) Configs() []Config {
	if len(inv.Experiments) == 0 {
		return []Config{inv.Config}
	}
	configs := make([]Config, len(inv.Experiments))
	for i, e := range inv.Experiments {
		configs[i] = inv.Config
		configs[i].Experiment, configs[i].Model, configs[i].Candidates = e.Name, e.Model, e.Candidates
	}
	return configs
}

// Flags are the verify command's flags, bound to a flag set by AddFlags: the other end of
// components/verification.Argv.
type Flags struct {
	inv                              Invocation
	experiments                      []string
	models, inputName, shape, sample string
}

// AddFlags registers the verify command's flags on fs.
func AddFlags(fs *pflag.FlagSet) *Flags {
	f := &Flags{}
	cfg := &f.inv.Config
	fs.StringVar(&cfg.BaseURL, "url", "", "ingress base URL, e.g. http://192.168.1.249 (add the path prefix if the stack has one)")
	fs.StringVar(&cfg.Host, "host", "", "Host header (the stack's hostHeader output)")
	fs.StringArrayVar(&f.experiments, "experiment", []string{"financial-ab-test-experiment:baseline-predictor:baseline-predictor=70,enhanced-predictor=30"},
		"an experiment to verify, NAME:MODEL:candidate=weight,... (MODEL, the path's model segment, may be empty: the first candidate); repeat it for each experiment")
	fs.StringVar(&f.models, "models", "", "with no experiment (every winner promoted): the Models to call by name, name,...; replaces --experiment")
	fs.StringVar(&f.inputName, "input-name", "input_data", "V2 input tensor name")
	fs.StringVar(&f.shape, "shape", "1,10,35", "input shape")
	fs.StringVar(&cfg.Input.Datatype, "datatype", "FP32", "input datatype")
	fs.StringVar(&f.sample, "sample", "", "send this request body file instead of generated data")
	fs.IntVar(&cfg.Requests, "requests", 0, "experiment requests in each look of the split test (0: what a look needs at this tolerance, significance and power)")
	fs.IntVar(&cfg.Concurrency, "concurrency", 4, "requests in flight, for each experiment")
	fs.IntVar(&f.inv.Parallel, "parallel", DefaultParallel, "experiments verified at once")
	fs.DurationVar(&cfg.Timeout, "timeout", DefaultTimeout, "per-request timeout")
	fs.DurationVar(&cfg.Deadline, "deadline", DefaultDeadline, "the verification's time limit, from when the split settled")
	fs.DurationVar(&cfg.Settle, "settle", 0, "how long the split may take to be served as configured (after an update) before the split test; 0 does not wait")
	fs.IntVar(&cfg.Retries, "retries", 2, "retries of health checks and of requests that never connected")
	fs.Float64Var(&cfg.Tolerance, "tolerance", DefaultTolerance, "the smallest drift of a candidate's share that matters (0.10: ±10 points)")
	fs.Float64Var(&cfg.Significance, "significance", DefaultSignificance, "the chance that a drift of the tolerance passes")
	fs.Float64Var(&cfg.Power, "power", DefaultPower, "the chance that a split exactly as configured passes at the first look (an unclear look gets a second)")
	fs.DurationVar(&cfg.LatencyP95, "latency-p95", DefaultLatencyP95, "every candidate's p95 budget")
	fs.Float64Var(&cfg.LatencyRatio, "latency-ratio", DefaultLatencyRatio, "other candidates' p95 budget: this multiple of the default model's p95, plus 50 ms")
	fs.Int64Var(&cfg.Seed, "seed", 1, "seed of the generated input data")
	fs.StringVar(&f.inv.JSONPath, "json", "", "write the JSON report here")
	fs.StringVar(&f.inv.SVGPath, "svg", "", "write the picture (requests per candidate, latency) here")
	return f
}

// Invocation is what the parsed flags say.
func (f *Flags) Invocation() (Invocation, error) {
	out := f.inv
	cfg := &out.Config
	if cfg.BaseURL == "" || cfg.Host == "" {
		return out, errors.New("--url and --host are required (stack outputs ingressIP and hostHeader)")
	}
	var err error
	if f.models != "" {
		for _, name := range strings.Split(f.models, ",") {
			cfg.Candidates = append(cfg.Candidates, Candidate{Name: strings.TrimSpace(name)})
		}
	} else {
		for _, spec := range f.experiments {
			e, err := parseExperiment(spec)
			if err != nil {
				return out, err
			}
			out.Experiments = append(out.Experiments, e)
		}
	}
	cfg.Input.Name = f.inputName
	if cfg.Input.Shape, err = parseShape(f.shape); err != nil {
		return out, err
	}
	if f.sample != "" {
		if cfg.Body, err = os.ReadFile(f.sample); err != nil {
			return out, err
		}
	}
	return out, nil
}

// ParseArgs reads a verify command line's arguments (after "verify"), e.g. the stack output verifyArgs; flags
// in overrides, when set, win over the ones args sets.
func ParseArgs(args []string, overrides *pflag.FlagSet) (Invocation, error) {
	fs := pflag.NewFlagSet("verify", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	f := AddFlags(fs)
	if err := fs.Parse(args); err != nil {
		return Invocation{}, fmt.Errorf("verify arguments %q: %w", args, err)
	}
	var err error
	if overrides != nil {
		overrides.Visit(func(o *pflag.Flag) {
			own := fs.Lookup(o.Name)
			if own == nil || err != nil {
				return
			}
			// A repeated flag's values replace the stored ones (Set would append to them).
			if list, ok := o.Value.(pflag.SliceValue); ok {
				err = own.Value.(pflag.SliceValue).Replace(list.GetSlice())
				return
			}
			err = fs.Set(o.Name, o.Value.String())
		})
	}
	if err != nil {
		return Invocation{}, err
	}
	return f.Invocation()
}

// Execute runs the verifier for each of inv's configs, inv.Parallel at a time, shows their progress on progress
// (live on a terminal when one runs at a time), prints each summary on out, in order, and writes the suite's reports;
// demo sends many calls and shows the running split. It returns the suite and, when any verdict is a failure, a
// *FailedError (an ErrFailed).
func Execute(ctx context.Context, inv Invocation, demo bool, out, progress io.Writer) (Suite, error) {
	configs := inv.Configs()
	together := min(max(inv.Parallel, 1), len(configs))
	// A line redrawn in place needs the terminal to itself; runs at once write whole lines, one at a time.
	tty := together == 1 && isTerminal(progress)
	progress = &lineWriter{w: progress}
	verifiers := make([]*Verifier, len(configs))
	printers := make([]*progressPrinter, len(configs))
	for i, cfg := range configs {
		if demo && cfg.Requests == 0 {
			cfg.Requests = 2000
		}
		label := ""
		if len(configs) > 1 {
			label = cfg.Experiment + ": "
		}
		printers[i] = newProgressPrinter(progress, tty, label, cfg.Candidates, demo)
		cfg.Progress = printers[i].update
		v, err := New(cfg)
		if err != nil {
			return Suite{}, err
		}
		verifiers[i] = v
	}
	reports := make([]Report, len(verifiers))
	slots := make(chan struct{}, together)
	var wg sync.WaitGroup
	for i, v := range verifiers {
		slots <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			reports[i] = v.Run(ctx)
			printers[i].finish()
			<-slots
		}()
	}
	wg.Wait()
	for _, rep := range reports {
		fmt.Fprint(out, rep.Summary())
	}
	suite := NewSuite(reports...)
	fmt.Fprint(out, suite.Tally())
	if err := writeReports(suite, inv.JSONPath, inv.SVGPath); err != nil {
		return suite, err
	}
	if !suite.Passed {
		return suite, &FailedError{Findings: suite.Findings()}
	}
	return suite, nil
}

// lineWriter passes each Write on whole, one at a time: the progress lines of verifications run at once.
type lineWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func writeReports(rep Suite, jsonPath, svgPath string) error {
	for path, write := range map[string]func(*os.File) error{
		jsonPath: func(f *os.File) error { return rep.WriteJSON(f) },
		svgPath:  func(f *os.File) error { return rep.WriteSVG(f) },
	} {
		if path == "" {
			continue
		}
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		if err := write(f); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	return nil
}

// progressPrinter shows the experiment phase: on a terminal, one line redrawn in place with the running split
// (demo) or the count; elsewhere (a pipe, a CI log, pulumi up's output), a plain line every two seconds.
type progressPrinter struct {
	w          io.Writer
	tty, split bool
	// label names the experiment when there are several.
	label string
	names []string
	last  time.Time
	drawn bool
}

func newProgressPrinter(w io.Writer, tty bool, label string, candidates []Candidate, split bool) *progressPrinter {
	p := &progressPrinter{w: w, tty: tty, split: split, label: label}
	for _, c := range candidates {
		p.names = append(p.names, c.Name)
	}
	return p
}

func (p *progressPrinter) update(s Progress) {
	every := 2 * time.Second
	if p.tty {
		every = 100 * time.Millisecond
	}
	if s.Done < s.Total && time.Since(p.last) < every {
		return
	}
	p.last = time.Now()
	line := fmt.Sprintf("%s%d/%d calls, %d errors, %.1f s", p.label, s.Done, s.Total, s.Errors, s.Elapsed.Seconds())
	if p.split {
		answered := 0
		for _, n := range s.Served {
			answered += n
		}
		var parts []string
		for i, n := range s.Served {
			parts = append(parts, fmt.Sprintf("%s %.1f%%", p.names[i], float64(n)*100/float64(max(answered, 1))))
		}
		line += "; split " + strings.Join(parts, ", ")
	}
	if p.tty {
		const width = 30
		filled := s.Done * width / max(s.Total, 1)
		fmt.Fprintf(p.w, "\r\033[K[%s%s] %s", strings.Repeat("#", filled), strings.Repeat(".", width-filled), line)
		p.drawn = true
		return
	}
	fmt.Fprintln(p.w, "verify: "+line)
}

func (p *progressPrinter) finish() {
	if p.drawn {
		fmt.Fprintln(p.w)
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}

// parseExperiment reads NAME:MODEL:candidate=weight,...
func parseExperiment(spec string) (Experiment, error) {
	parts := strings.SplitN(spec, ":", 3)
	if len(parts) != 3 || parts[0] == "" {
		return Experiment{}, fmt.Errorf("--experiment %q is not NAME:MODEL:candidate=weight,... (MODEL may be empty)", spec)
	}
	candidates, err := parseCandidates(parts[2])
	if err != nil {
		return Experiment{}, fmt.Errorf("--experiment %q: %w", spec, err)
	}
	if len(candidates) < 2 {
		return Experiment{}, fmt.Errorf("--experiment %q: an A/B split needs at least two candidates", spec)
	}
	return Experiment{Name: parts[0], Model: parts[1], Candidates: candidates}, nil
}

func parseCandidates(s string) ([]Candidate, error) {
	var out []Candidate
	for _, part := range strings.Split(s, ",") {
		name, weight, ok := strings.Cut(strings.TrimSpace(part), "=")
		w, err := strconv.ParseFloat(weight, 64)
		if !ok || err != nil || w <= 0 || name == "" {
			return nil, fmt.Errorf("%q is not candidate=weight with a positive weight", part)
		}
		out = append(out, Candidate{Name: name, Weight: w})
	}
	return out, nil
}

func parseShape(s string) ([]int, error) {
	var out []int
	for _, part := range strings.Split(s, ",") {
		d, err := strconv.Atoi(strings.TrimSpace(part))
		if err != nil || d < 1 {
			return nil, fmt.Errorf("--shape: %q is not a positive dimension", part)
		}
		out = append(out, d)
	}
	return out, nil
}
