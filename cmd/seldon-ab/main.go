// Command seldon-ab is the operator's command line: tasks that run on the operator's machine, beside `pulumi up`.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/seldon-ab/provisioner/internal/doctor"
	"github.com/seldon-ab/provisioner/internal/render"
	"github.com/seldon-ab/provisioner/internal/seed"
)

const usage = `usage: seldon-ab <command> [flags]

commands:
  seed     upload a directory of model artifacts to s3://bucket/prefix; unchanged files are skipped
  verify   call the A/B experiment through the ingress, test the split, diagnose failures (exit 1 on failure)
  demo     verify with many requests and a progress bar, for showing the split live
  render   write every object of a stack's first preview (pulumi preview --json) as YAML files (scripts/render.sh)
  doctor   read a live cluster and report the known failure modes with evidence and fixes (exit 0 ok, 1 warnings, 2 errors)
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "seed":
		err = runSeeds(os.Args[2:])
	case "verify", "demo":
		var args []string
		if args, err = expandArgsFile(os.Args[2:]); err == nil {
			err = runVerify(args, os.Args[1] == "demo")
		}
	case "render":
		err = runRender(os.Args[2:])
	case "doctor":
		err = runDoctor(os.Args[2:])
	default:
		fmt.Fprintf(os.Stderr, "unknown command %q\n%s", os.Args[1], usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "seldon-ab:", err)
		os.Exit(1)
	}
}

// expandArgsFile replaces a leading `--args-json FILE` with the verifier arguments FILE holds (the stack output
// verifyArgs: a JSON array starting with "verify"), so scripts pass them on without any shell re-parsing. Flags
// after it override the stored ones.
func expandArgsFile(args []string) ([]string, error) {
	if len(args) < 2 || args[0] != "--args-json" {
		return args, nil
	}
	data, err := os.ReadFile(args[1])
	if err != nil {
		return nil, err
	}
	var stored []string
	if err := json.Unmarshal(data, &stored); err != nil || len(stored) == 0 || stored[0] != "verify" {
		return nil, fmt.Errorf("%s does not hold the verifyArgs stack output (a JSON array starting with \"verify\")", args[1])
	}
	return append(stored[1:], args[2:]...), nil
}

func runDoctor(args []string) error {
	fs := flag.NewFlagSet("doctor", flag.ExitOnError)
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig path (default: $KUBECONFIG or ~/.kube/config)")
	kubeContext := fs.String("context", "", "kubeconfig context (default: the current one)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	ingressClass := fs.String("ingress-class", "nginx", "the IngressClass the stack's ingress-nginx serves (ingress.className)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	live, err := doctor.ConnectForPreflight(*kubeconfig, *kubeContext)
	if err != nil {
		return err
	}
	rep, err := doctor.Run(context.Background(), live, *ingressClass)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		rep.WriteText(os.Stdout)
	}
	os.Exit(int(rep.Worst()))
	return nil
}

func runRender(args []string) error {
	fs := flag.NewFlagSet("render", flag.ExitOnError)
	previewPath := fs.String("preview", "-", "output of `pulumi preview --json` for a stack with no state (- for stdin)")
	out := fs.String("out", "", "directory for the YAML files")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" {
		return errors.New("--out is required")
	}
	in := os.Stdin
	if *previewPath != "-" {
		f, err := os.Open(*previewPath)
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	n, err := render.Objects(in, *out)
	if err != nil {
		return err
	}
	fmt.Printf("wrote %d objects to %s\n", n, *out)
	return nil
}

// parseSeedFlags reads the seed command's flags: the other end of components/modelstore.SeedArgv.
func parseSeedFlags(args []string) (string, seed.Target, *flag.FlagSet, error) {
	fs := flag.NewFlagSet("seed", flag.ExitOnError)
	var target seed.Target
	source := fs.String("source", "", "directory of model artifacts")
	fs.StringVar(&target.Endpoint, "endpoint", "", "S3 endpoint reachable from this machine, e.g. http://192.168.1.248:9000")
	fs.StringVar(&target.Region, "region", "", "S3 region, if the store needs one")
	fs.StringVar(&target.Bucket, "bucket", "", "bucket")
	fs.StringVar(&target.Prefix, "prefix", "", "key prefix, e.g. baseline-predictor")
	fs.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: seldon-ab seed --source DIR --endpoint URL --bucket B [--prefix P]\n"+
			"credentials come from S3_ACCESS_KEY and S3_SECRET_KEY (never flags: they would show in the process list)")
		fs.PrintDefaults()
	}
	err := fs.Parse(args)
	return *source, target, fs, err
}

// runSeeds runs one seed, or with `--args-json FILE` each of the stack output seedArgs (a JSON array of seed
// argument vectors) in turn, with no shell re-parsing.
func runSeeds(args []string) error {
	if len(args) != 2 || args[0] != "--args-json" {
		return runSeed(args)
	}
	data, err := os.ReadFile(args[1])
	if err != nil {
		return err
	}
	var argvs [][]string
	if err := json.Unmarshal(data, &argvs); err != nil {
		return fmt.Errorf("%s does not hold the seedArgs stack output (a JSON array of arrays starting with \"seed\"): %w", args[1], err)
	}
	for _, argv := range argvs {
		if len(argv) == 0 || argv[0] != "seed" {
			return fmt.Errorf("%s: %q is not a seed command line", args[1], argv)
		}
		if err := runSeed(argv[1:]); err != nil {
			return err
		}
	}
	return nil
}

func runSeed(args []string) error {
	source, target, fs, err := parseSeedFlags(args)
	if err != nil {
		return err
	}
	target.AccessKey, target.SecretKey = os.Getenv("S3_ACCESS_KEY"), os.Getenv("S3_SECRET_KEY")
	var missing []string
	for name, v := range map[string]string{"--source": source, "--endpoint": target.Endpoint, "--bucket": target.Bucket,
		"S3_ACCESS_KEY": target.AccessKey, "S3_SECRET_KEY": target.SecretKey} {
		if v == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		fs.Usage()
		return fmt.Errorf("missing %s", strings.Join(missing, ", "))
	}
	res, err := seed.Directory(context.Background(), source, target)
	if err != nil {
		return err
	}
	for _, key := range res.Uploaded {
		fmt.Printf("uploaded s3://%s/%s\n", target.Bucket, key)
	}
	fmt.Printf("seeded %s into s3://%s/%s: %d uploaded, %d unchanged\n", source, target.Bucket, target.Prefix, len(res.Uploaded), res.Unchanged)
	return nil
}
