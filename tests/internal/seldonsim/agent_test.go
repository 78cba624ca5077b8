//go:build sandbox

package seldonsim_test

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/seldon-ab/provisioner/components/modelstore"
	"github.com/seldon-ab/provisioner/internal/loopback"
	"github.com/seldon-ab/provisioner/internal/seldonspec"
	"github.com/seldon-ab/provisioner/tests/internal/localminio"
	"github.com/seldon-ab/provisioner/tests/internal/seldonsim"
)

const accessKey, secretKey = "agent-test", "agent-test-secret"

// realStore starts a real MinIO server on loopback with one bucket holding one model's files, and returns its
// endpoint and the toolchain's bin directory.
func realStore(t *testing.T) (endpoint, bin string) {
	t.Helper()
	if testing.Short() {
		t.Skip("runs the real MinIO and rclone")
	}
	out, err := exec.Command("../../../scripts/toolchain.sh", "minio", "rclone").Output()
	if err != nil {
		t.Fatalf("scripts/toolchain.sh minio rclone: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	bin = lines[len(lines)-1]
	store, err := localminio.Start(bin, t.TempDir(), accessKey, secretKey, "mlflow-artifacts")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Stop)
	body := "artifact_path: baseline-predictor\n"
	if _, err := store.Client.PutObject(context.Background(), "mlflow-artifacts", "baseline-predictor/MLmodel",
		strings.NewReader(body), int64(len(body)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	return "http://" + store.Endpoint, bin
}

func ptr[T any](v T) *T { return &v }

func freePort(t *testing.T) int {
	port, err := loopback.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// remote is an rclone Secret in the format the stack writes (components/modelstore.RcloneConfig).
func remote(name, endpoint, key, secret string) seldonsim.RcloneSecret {
	body := fmt.Sprintf("name: %s\ntype: s3\nparameters:\n  provider: Minio\n  env_auth: \"false\"\n  access_key_id: %s\n"+
		"  secret_access_key: %s\n  endpoint: %s\n", name, key, secret, endpoint)
	return seldonsim.RcloneSecret{Name: "seldon-rclone", Data: map[string][]byte{"rclone.yaml": []byte(body)}}
}

// Each fault of the field story's model storage fails the download with the real rclone's (or the agent's)
// message, and only the right configuration loads the Model's files.
func TestTheAgentLoadsOnlyWhatRcloneCanFetch(t *testing.T) {
	endpoint, bin := realStore(t)
	good := remote("s3", endpoint, accessKey, secretKey)
	cases := []struct {
		name    string
		uri     string
		secrets []seldonsim.RcloneSecret
		storage *seldonsim.RcloneSecret // the Model's own Secret (spec.secretName)
		want    string                  // "" loads
	}{
		{"the stack's remote and storageUri", "s3://mlflow-artifacts/baseline-predictor", []seldonsim.RcloneSecret{good}, nil, ""},
		{"a Secret in rclone.conf format, not the agent's YAML", "s3://mlflow-artifacts/baseline-predictor",
			[]seldonsim.RcloneSecret{{Name: "seldon-rclone", Data: map[string][]byte{"rclone.conf": []byte("[s3]\ntype = s3\nprovider = Minio\n")}}},
			nil, "Failed to unmarshall config as json or yaml"},
		{"a Secret with two keys", "s3://mlflow-artifacts/baseline-predictor",
			[]seldonsim.RcloneSecret{{Name: "seldon-rclone", Data: map[string][]byte{"a": []byte("x"), "b": []byte("y")}}},
			nil, "Secret does not have 1 key seldon-rclone"},
		{"a remote named other than the storageUri scheme", "s3://mlflow-artifacts/baseline-predictor",
			[]seldonsim.RcloneSecret{remote("minio", endpoint, accessKey, secretKey)}, nil, "didn't find section in config file"},
		{"wrong credentials", "s3://mlflow-artifacts/baseline-predictor",
			[]seldonsim.RcloneSecret{remote("s3", endpoint, accessKey, "not-the-secret")}, nil, "SignatureDoesNotMatch"},
		{"a bucket that does not exist", "s3://mlflow-artfacts/baseline-predictor", []seldonsim.RcloneSecret{good}, nil,
			"directory not found"},
		{"a storageUri with no files under it", "s3://mlflow-artifacts/baseline-predicter", []seldonsim.RcloneSecret{good}, nil,
			"Failed to download from s3://mlflow-artifacts/baseline-predicter any files"},
		{"the Model's own Secret, no remote of that name loaded", "s3://mlflow-artifacts/baseline-predictor", nil, &good, ""},
		{"the Model's own Secret wins over the loaded remote", "s3://mlflow-artifacts/baseline-predictor",
			[]seldonsim.RcloneSecret{good}, ptr(remote("s3", endpoint, accessKey, "not-the-secret")), "SignatureDoesNotMatch"},
		{"the Model's own Secret names another remote", "s3://mlflow-artifacts/baseline-predictor",
			[]seldonsim.RcloneSecret{good}, ptr(remote("minio", endpoint, accessKey, secretKey)),
			"name from URI (s3) does not match secret (minio); are you using the right storage config?"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			state := t.TempDir()
			agent := &seldonsim.RcloneAgent{Bin: bin, StateDir: state}
			t.Cleanup(agent.Stop)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			err := agent.Load(ctx, "seldon-system", "baseline-predictor", c.uri, c.secrets, c.storage)
			files, _ := filepath.Glob(filepath.Join(state, "seldon-system", "models", "*", "MLmodel"))
			if c.want == "" {
				if err != nil || len(files) != 1 {
					t.Fatalf("Load = %v, files %v; want the Model's MLmodel downloaded", err, files)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Load = %v, want an error containing %q", err, c.want)
			}
			if len(files) != 0 {
				t.Errorf("files arrived anyway: %v", files)
			}
		})
	}
}

// The bucket Job's exact rclone command line, with the agents' remote as environment variables, against the
// real MinIO: it creates the bucket, a rerun succeeds, and each broken remote fails at once with rclone's error
// (with rclone's default retries, a refused connection would keep the Job silent for many minutes).
func TestTheBucketJobsRcloneFailsFastWithItsError(t *testing.T) {
	endpoint, bin := realStore(t)
	closed := fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
	run := func(endpoint, secret string) (string, error) {
		// A minute is hundreds of times what one attempt takes; rclone's default retries would outlast it.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, filepath.Join(bin, "rclone"), modelstore.BucketCommand("s3", "models")...)
		cmd.Env = []string{"RCLONE_CONFIG_S3_TYPE=s3", "RCLONE_CONFIG_S3_ACCESS_KEY_ID=" + accessKey,
			"RCLONE_CONFIG_S3_SECRET_ACCESS_KEY=" + secret, "HOME=" + t.TempDir()}
		for k, v := range modelstore.RcloneParameters("Minio", "", endpoint) {
			cmd.Env = append(cmd.Env, "RCLONE_CONFIG_S3_"+strings.ToUpper(k)+"="+v)
		}
		out, err := cmd.CombinedOutput()
		if ctx.Err() != nil {
			return string(out), fmt.Errorf("rclone was still retrying after a minute")
		}
		return string(out), err
	}
	for i := 0; i < 2; i++ {
		if out, err := run(endpoint, secretKey); err != nil {
			t.Fatalf("run %d: %v\n%s", i+1, err, out)
		}
	}
	for _, c := range []struct{ name, endpoint, secret, want string }{
		{"an endpoint where nothing listens", closed, secretKey, "connection refused"},
		{"wrong credentials", endpoint, "not-the-secret", "SignatureDoesNotMatch"},
	} {
		out, err := run(c.endpoint, c.secret)
		if err == nil || !strings.Contains(out, c.want) {
			t.Errorf("%s: rclone = %v, want a failure naming %q:\n%s", c.name, err, c.want, out)
		}
	}
}

// Many Models of one namespace load at once, each with the namespace's two Secrets (Seldon's public GCS remote and
// the stack's), through one rclone: every download succeeds, as with Seldon's agent, which loads its Secrets once.
func TestModelsLoadingAtOnceShareTheirNamespacesRclone(t *testing.T) {
	endpoint, bin := realStore(t)
	secrets := []seldonsim.RcloneSecret{
		{Name: seldonspec.SetupConfigSecrets[0], Data: map[string][]byte{"gs": []byte(seldonspec.PublicGCSRemote)}},
		remote("s3", endpoint, accessKey, secretKey),
	}
	agent := &seldonsim.RcloneAgent{Bin: bin, StateDir: t.TempDir()}
	t.Cleanup(agent.Stop)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	errs := make(chan error, 16)
	for i := range cap(errs) {
		go func() {
			errs <- agent.Load(ctx, "models-b", fmt.Sprintf("predictor-%d", i), "s3://mlflow-artifacts/baseline-predictor", secrets, nil)
		}()
	}
	for range cap(errs) {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// The agent keeps the remotes it loaded, as Seldon's does: a copy that fails reloads the Secrets and copies once
// more, so a Secret put right (new credentials after a rotated store) takes effect at the next load, and a Secret
// changed while copies succeed does not matter until one fails.
func TestTheAgentReloadsItsSecretsWhenACopyFails(t *testing.T) {
	endpoint, bin := realStore(t)
	agent := &seldonsim.RcloneAgent{Bin: bin, StateDir: t.TempDir()}
	t.Cleanup(agent.Stop)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	load := func(model string, secret seldonsim.RcloneSecret) error {
		return agent.Load(ctx, "seldon-system", model, "s3://mlflow-artifacts/baseline-predictor", []seldonsim.RcloneSecret{secret}, nil)
	}
	if err := load("first", remote("s3", endpoint, "not-a-user", secretKey)); err == nil || !strings.Contains(err.Error(), "InvalidAccessKeyId") {
		t.Fatalf("credentials the store does not know: %v; want MinIO's refusal", err)
	}
	if err := load("second", remote("s3", endpoint, accessKey, secretKey)); err != nil {
		t.Errorf("the Secret put right after a failed load: %v; want the reload to copy", err)
	}
	if err := load("third", remote("s3", endpoint, accessKey, "changed-later")); err != nil {
		t.Errorf("the Secret changed after the agent loaded it: %v; want the loaded remote to copy", err)
	}
}
