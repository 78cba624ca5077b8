// Package changes makes the changes a demo makes to a running sandbox stack (the split moved, a candidate rolled,
// the experiment renamed, the winner promoted) through the `up` users run, while routes are called without a
// pause, and says what the calls saw: the sandbox test and the benchmark both measure them with it.
package changes

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"maps"
	"os"
	"strings"
	"sync"
	"time"

	pulumiconfig "github.com/pulumi/pulumi/sdk/v3/go/common/resource/config"
	"gopkg.in/yaml.v3"

	"github.com/seldon-ab/provisioner/infra/config"
	"github.com/seldon-ab/provisioner/internal/lifecycle"
	"github.com/seldon-ab/provisioner/internal/pins"
	"github.com/seldon-ab/provisioner/internal/verify"
	"github.com/seldon-ab/provisioner/tests/internal/sandbox"
)

// Routes of the sandbox stack.
const (
	ExperimentRoute = "financial-ab-test-experiment.experiment"
	RenamedRoute    = "financial-ab-test-renamed.experiment"
	Baseline        = "baseline-predictor"
	Enhanced        = "enhanced-predictor"
)

// Edit is one change to the sandbox stack file's config.
type Edit func(cfg map[string]any)

// Weights moves the split.
func Weights(baseline, enhanced int) Edit {
	return func(cfg map[string]any) {
		candidates := cfg["seldon-ab:experiment"].(map[string]any)["candidates"].([]any)
		candidates[0].(map[string]any)["weight"] = baseline
		candidates[1].(map[string]any)["weight"] = enhanced
	}
}

// EnhancedFrom points the enhanced Model at prefix, seeded with the enhanced artifacts when seeded is set: a new
// version of the candidate.
func EnhancedFrom(prefix string, seeded bool) Edit {
	return func(cfg map[string]any) {
		cfg["seldon-ab:models"].([]any)[1].(map[string]any)["storageUri"] = "s3://mlflow-artifacts/" + prefix
		if seeded {
			store := cfg["seldon-ab:modelStore"].(map[string]any)
			store["seed"] = append(store["seed"].([]any), map[string]any{
				"source": "testdata/artifacts/enhanced-predictor", "bucket": "mlflow-artifacts", "prefix": prefix})
		}
	}
}

// Renamed renames the experiment to financial-ab-test-renamed.
func Renamed(cfg map[string]any) {
	cfg["seldon-ab:experiment"].(map[string]any)["name"] = "financial-ab-test-renamed"
}

// PromoteEnhanced removes the experiment and the baseline Model: the winner alone is served, by its name.
func PromoteEnhanced(cfg map[string]any) {
	delete(cfg, "seldon-ab:experiment")
	cfg["seldon-ab:models"] = cfg["seldon-ab:models"].([]any)[1:]
}

// GatewayFabric moves the stack from ingress-nginx (the sandbox stack's controller) to NGINX Gateway Fabric.
func GatewayFabric(cfg map[string]any) {
	cfg["seldon-ab:ingress"].(map[string]any)["controller"] = "nginx-gateway-fabric"
}

// StoreCredentials gives the model store new credentials (a rotation), encrypted as `pulumi config set --secret`
// encrypts them for the sandbox stack: with its passphrase and the salt its stack file records (the passphrase
// secrets manager, pkg/secrets/passphrase, v3.274.1).
func StoreCredentials(root, accessKey, secretKey string) (Edit, error) {
	data, err := os.ReadFile(config.StackFile(root, "sandbox"))
	if err != nil {
		return nil, err
	}
	var file struct {
		EncryptionSalt string `yaml:"encryptionsalt"`
	}
	if err := yaml.Unmarshal(data, &file); err != nil {
		return nil, err
	}
	parts := strings.Split(file.EncryptionSalt, ":")
	if len(parts) < 2 || parts[0] != "v1" {
		return nil, fmt.Errorf("the sandbox stack file's encryptionsalt %q is not a passphrase salt", file.EncryptionSalt)
	}
	salt, err := base64.StdEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, err
	}
	crypter := pulumiconfig.NewSymmetricCrypterFromPassphrase(pins.SandboxPassphrase, salt)
	secure := map[string]any{}
	for key, plain := range map[string]string{config.AccessKeyKey: accessKey, config.SecretKeyKey: secretKey} {
		ciphertext, err := crypter.EncryptValue(context.Background(), plain)
		if err != nil {
			return nil, err
		}
		secure[config.Namespace+":"+key] = map[string]any{"secure": ciphertext}
	}
	return func(cfg map[string]any) {
		maps.Copy(cfg, secure)
	}, nil
}

// Run is one `up` of an edited stack file while routes were called.
type Run struct {
	Err error
	// Log is what the lifecycle said (its own lines, not the engine's progress).
	Log     string
	Took    time.Duration
	Traffic map[string]verify.Traffic
}

// Up brings the sandbox stack of env, its file edited by edits in order, up through the lifecycle users run, while
// caller calls each route (mapped to the model segment of its path) without a pause, two calls at a time, from
// half a second before the update starts until it returns.
func Up(ctx context.Context, env *sandbox.Env, dir string, caller *verify.Caller, routes map[string]string, edits ...Edit) (Run, error) {
	// The lifecycle's lines, the engine's error stream and the seeds (written from the program's goroutine) meet
	// here, so writes are serialized.
	log := &lockedBuffer{}
	stack, err := env.Open(ctx, "sandbox", dir, func(cfg map[string]any) {
		for _, e := range edits {
			e(cfg)
		}
	}, func(o *lifecycle.Options) { o.Stderr = log })
	if err != nil {
		return Run{}, err
	}
	calls, stop := context.WithCancel(ctx)
	var mu sync.Mutex
	var wg sync.WaitGroup
	run := Run{Traffic: map[string]verify.Traffic{}}
	for route, pathModel := range routes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			traffic := caller.Watch(calls, route, pathModel, 2)
			mu.Lock()
			run.Traffic[route] = traffic
			mu.Unlock()
		}()
	}
	time.Sleep(500 * time.Millisecond) // calls answered before the change starts
	start := time.Now()
	_, run.Err = stack.Up(ctx)
	run.Took = time.Since(start)
	stop()
	wg.Wait()
	run.Log = log.String()
	return run, nil
}

// RouteGap is how long no route of the pair answered: from the last answer on before to the first on after.
func (r Run) RouteGap(before, after string) (time.Duration, error) {
	last, first := r.Traffic[before].LastAnswer, r.Traffic[after].FirstAnswer
	if last.IsZero() || first.IsZero() {
		return 0, fmt.Errorf("%s answered until %v, %s from %v", before, last, after, first)
	}
	return first.Sub(last), nil
}

// lockedBuffer is a bytes.Buffer that several goroutines may write to.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
