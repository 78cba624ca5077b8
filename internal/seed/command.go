package seed

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"
)

// Invocation is one seed command line: the directory and where it goes. Credentials never travel on a command
// line (they would show in the process list): the caller fills Target.AccessKey and SecretKey.
type Invocation struct {
	Source string
	Target Target
}

// AddFlags registers the seed command's flags on fs: the other end of components/modelstore.SeedArgv.
func AddFlags(fs *pflag.FlagSet) *Invocation {
	inv := &Invocation{}
	fs.StringVar(&inv.Source, "source", "", "directory of model artifacts")
	fs.StringVar(&inv.Target.Endpoint, "endpoint", "", "S3 endpoint reachable from this machine, e.g. http://192.168.1.248:9000")
	fs.StringVar(&inv.Target.Region, "region", "", "S3 region, if the store needs one")
	fs.StringVar(&inv.Target.Bucket, "bucket", "", "bucket")
	fs.StringVar(&inv.Target.Prefix, "prefix", "", "key prefix, e.g. baseline-predictor")
	return inv
}

// Check says what a command line left out.
func (inv Invocation) Check() error {
	var missing []string
	for _, kv := range [][2]string{{"--source", inv.Source}, {"--endpoint", inv.Target.Endpoint}, {"--bucket", inv.Target.Bucket}} {
		if kv[1] == "" {
			missing = append(missing, kv[0])
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing %s", strings.Join(missing, ", "))
	}
	return nil
}

// ParseArgs reads a seed command line's arguments (after "seed").
func ParseArgs(args []string) (Invocation, error) {
	fs := pflag.NewFlagSet("seed", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	inv := AddFlags(fs)
	if err := fs.Parse(args); err != nil {
		return Invocation{}, err
	}
	return *inv, inv.Check()
}

// Credentials are the store's keys and, for the sandbox, the proxy its addresses are reached through.
type Credentials struct {
	AccessKey, SecretKey string
	Proxy                *url.URL
}

// RunAll runs each seed command line (argvs: the stack output seedArgs, each starting with "seed") with creds,
// resolving relative sources against baseDir, and reports each upload on out.
func RunAll(ctx context.Context, argvs [][]string, creds Credentials, baseDir string, out io.Writer) error {
	for _, argv := range argvs {
		if len(argv) == 0 || argv[0] != "seed" {
			return fmt.Errorf("%q is not a seed command line", argv)
		}
		inv, err := ParseArgs(argv[1:])
		if err != nil {
			return fmt.Errorf("seed command line %q: %w", argv, err)
		}
		if err := Run(ctx, inv, creds, baseDir, out); err != nil {
			return err
		}
	}
	return nil
}

// Run uploads one directory (a relative source is read from baseDir) and reports each upload on out.
func Run(ctx context.Context, inv Invocation, creds Credentials, baseDir string, out io.Writer) error {
	if creds.AccessKey == "" || creds.SecretKey == "" {
		return errors.New("the store's credentials are missing (S3_ACCESS_KEY and S3_SECRET_KEY, or the stack's modelStoreAccessKey and modelStoreSecretKey)")
	}
	if !filepath.IsAbs(inv.Source) {
		inv.Source = filepath.Join(baseDir, inv.Source)
	}
	inv.Target.AccessKey, inv.Target.SecretKey, inv.Target.Proxy = creds.AccessKey, creds.SecretKey, creds.Proxy
	res, err := Directory(ctx, inv.Source, inv.Target)
	if err != nil {
		return err
	}
	for _, key := range res.Uploaded {
		fmt.Fprintf(out, "uploaded s3://%s/%s\n", inv.Target.Bucket, key)
	}
	fmt.Fprintf(out, "seeded %s into s3://%s/%s: %d uploaded, %d unchanged\n", inv.Source, inv.Target.Bucket,
		inv.Target.Prefix, len(res.Uploaded), res.Unchanged)
	return nil
}
