package seldonsim

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/seldon-ab/provisioner/internal/loopback"
)

// Agent is the download step of Seldon's agent: a Model is loaded only if its artifacts arrive.
type Agent interface {
	// Load copies a Model's storageUri to local storage, with rclone remotes made from configs (the bodies of
	// the rclone Secrets the agent reads) or, when the Model names one (spec.secretName), from storage, its own
	// Secret. It returns the agent's error when nothing arrived.
	Load(ctx context.Context, namespace, model, storageURI string, configs []RcloneSecret, storage *RcloneSecret) error
}

// RcloneSecret is one rclone Secret as the agent finds it.
type RcloneSecret struct {
	Name string
	Data map[string][]byte
}

// RcloneAgent does the agent's download with a real `rclone rcd` per namespace (the agent's rclone sidecar),
// through the sandbox's cluster network, exactly as scheduler/pkg/agent/rclone/rclone.go drives it:
// config/create (or config/update) per Secret, then sync/copy from the storageUri, then a check that files
// arrived.
type RcloneAgent struct {
	Bin      string // directory of the rclone binary (scripts/toolchain.sh)
	StateDir string // model caches, rclone configs and logs
	ProxyURL string // the cluster network (tests/cmd/sandboxd)
	Log      io.Writer

	mu   sync.Mutex
	rcds map[string]*rcd
}

type rcd struct {
	addr string
	cmd  *exec.Cmd
	// configuring is held while the Secrets are loaded, one after another, as the agent loads them
	// (scheduler/pkg/agent/rclone/rclone_config.go loadRcloneSecretsConfiguration, v2.10.2): two config/create calls
	// for one remote at once make rclone answer "couldn't find type field in config".
	configuring sync.Mutex
	// loaded names the Secrets loaded last; nil before the first load.
	loaded []string
}

// rcloneConfigCreate is the agent's RcloneConfigCreate: name, type and parameters are required.
type rcloneConfigCreate struct {
	Name       string            `json:"name" yaml:"name"`
	Type       string            `json:"type" yaml:"type"`
	Parameters map[string]string `json:"parameters" yaml:"parameters"`
	Opt        map[string]string `json:"opt,omitempty" yaml:"opt"`
}

// Load implements Agent as the agent loads a Model: its rclone holds the Secrets loaded when the agent started or
// when its runtime's list of Secrets changed (rclone.go StartConfigListener and listenForConfigUpdates: the agent's
// ConfigMap, which the operator writes from that list); a failed copy reloads every Secret from the API and copies
// once more (rclone.go copyWithConfigResync), so a Secret whose content changed takes effect at the next load that
// fails without it. One rcd per namespace stands for its agents' rclone sidecars, which load the same Secrets.
func (a *RcloneAgent) Load(ctx context.Context, namespace, model, storageURI string, configs []RcloneSecret, storage *RcloneSecret) error {
	server, err := a.server(namespace)
	if err != nil {
		return err
	}
	if err := server.configureAll(ctx, configs, false); err != nil {
		return err
	}
	src := storageURI
	if storage != nil {
		if src, err = withInlineRemote(storageURI, *storage); err != nil {
			return err
		}
	}
	// The agent's destination: its model cache, one directory per hash of model name and URI.
	h := fnv.New32a()
	h.Write([]byte(model + "-" + storageURI))
	dst := filepath.Join(a.StateDir, namespace, "models", strconv.FormatUint(uint64(h.Sum32()), 10))
	body, _ := json.Marshal(map[string]any{"srcFs": src, "dstFs": dst, "createEmptySrcDirs": true})
	out, err := server.call(ctx, "/sync/copy", body)
	if err != nil {
		if reloadErr := server.configureAll(ctx, configs, true); reloadErr != nil {
			return reloadErr
		}
		out, err = server.call(ctx, "/sync/copy", body)
	}
	if err != nil {
		// The agent reports only that the call failed; rclone's own error is in the rclone container's log,
		// which is where the sandbox's rclone writes too. It is added here so that the Model says what broke.
		return fmt.Errorf("Failed to sync/copy %s to %s Failed rclone request to path:/sync/copy: rclone: %s", storageURI, dst, rcloneError(out, err))
	}
	if _, err := os.Stat(dst); err != nil {
		return fmt.Errorf("Failed to download from %s any files", storageURI)
	}
	return nil
}

// configureAll loads configs when forced, on the first load, or when they name other Secrets than the last load;
// then, as loadRcloneConfiguration does, it deletes every remote they did not make.
func (r *rcd) configureAll(ctx context.Context, configs []RcloneSecret, force bool) error {
	r.configuring.Lock()
	defer r.configuring.Unlock()
	names := make([]string, 0, len(configs))
	for _, secret := range configs {
		names = append(names, secret.Name)
	}
	if !force && r.loaded != nil && slices.Equal(names, r.loaded) {
		return nil
	}
	var remotes []string
	for _, secret := range configs {
		remote, err := r.configure(ctx, secret)
		if err != nil {
			return err
		}
		remotes = append(remotes, remote)
	}
	out, err := r.call(ctx, "/config/listremotes", []byte("{}"))
	if err != nil {
		return fmt.Errorf("rclone config/listremotes: %s", rcloneError(out, err))
	}
	var existing struct {
		Remotes []string `json:"remotes"`
	}
	if err := json.Unmarshal(out, &existing); err != nil {
		return fmt.Errorf("rclone config/listremotes: %w", err)
	}
	// A remote that cannot be deleted is only logged (rclone_config.go deleteUnusedRcloneConfiguration).
	for _, remote := range existing.Remotes {
		if !slices.Contains(remotes, remote) {
			_, _ = r.call(ctx, "/config/delete", mustJSON(map[string]string{"name": remote}))
		}
	}
	r.loaded = names
	return nil
}

// parseSecret reads one Secret as the agent does (scheduler/pkg/agent/k8s/secrets.go: exactly one key;
// rclone.go parseRcloneConfig: JSON, else YAML, with name, type and parameters required).
func parseSecret(secret RcloneSecret) (rcloneConfigCreate, error) {
	var config rcloneConfigCreate
	if len(secret.Data) != 1 {
		return config, fmt.Errorf("Secret does not have 1 key %s", secret.Name)
	}
	var raw []byte
	for _, v := range secret.Data {
		raw = v
	}
	if jsonErr := json.Unmarshal(raw, &config); jsonErr != nil {
		if yamlErr := yaml.Unmarshal(raw, &config); yamlErr != nil {
			return config, fmt.Errorf("Failed to unmarshall config as json or yaml. JSON error %s. YAML error %s", jsonErr, yamlErr)
		}
	}
	for field, empty := range map[string]bool{"Name": config.Name == "", "Type": config.Type == "", "Parameters": config.Parameters == nil} {
		if empty {
			return config, fmt.Errorf("Key: 'RcloneConfigCreate.%s' Error:Field validation for '%s' failed on the 'required' tag (Secret %s)", field, field, secret.Name)
		}
	}
	return config, nil
}

// withInlineRemote is storageURI with its remote replaced by an rclone connection string made from a Model's own
// Secret, as the agent makes it (rclone.go createUriWithConfig): the remote's name must be the URI's.
func withInlineRemote(storageURI string, secret RcloneSecret) (string, error) {
	remote, _, found := strings.Cut(storageURI, ":")
	switch {
	case !found:
		return "", fmt.Errorf("Failed to find : in %s for rclone name match", storageURI)
	case remote == "":
		return "", fmt.Errorf("Can't get remote from URI with configuration included inline")
	}
	config, err := parseSecret(secret)
	if err != nil {
		return "", err
	}
	if config.Name != remote {
		return "", fmt.Errorf("name from URI (%s) does not match secret (%s); are you using the right storage config?", remote, config.Name)
	}
	var inline strings.Builder
	inline.WriteString(":" + config.Type)
	for k, v := range config.Parameters {
		if strings.ContainsAny(v, ":,") {
			v = `"` + strings.ReplaceAll(v, `"`, `""`) + `"`
		}
		inline.WriteString("," + k + "=" + v)
	}
	return strings.Replace(storageURI, remote, inline.String(), 1), nil
}

// configure loads one Secret into the rcd as the agent does and returns its remote.
func (r *rcd) configure(ctx context.Context, secret RcloneSecret) (string, error) {
	config, err := parseSecret(secret)
	if err != nil {
		return "", err
	}
	existing, err := r.call(ctx, "/config/get", mustJSON(map[string]string{"name": config.Name}))
	if err != nil {
		return "", fmt.Errorf("rclone config/get %s: %s", config.Name, rcloneError(existing, err))
	}
	path := "/config/create"
	if len(bytes.TrimSpace(existing)) > 2 { // "{}" when the remote does not exist
		path = "/config/update"
	}
	if out, err := r.call(ctx, path, mustJSON(config)); err != nil {
		return "", fmt.Errorf("rclone %s %s (Secret %s): %s", path, config.Name, secret.Name, rcloneError(out, err))
	}
	return config.Name, nil
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// rcloneError is rclone's error text from an rc reply ({"error": ...}), or the transport error.
func rcloneError(body []byte, err error) string {
	var reply struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &reply) == nil && reply.Error != "" {
		return reply.Error
	}
	return err.Error()
}

func (r *rcd) call(ctx context.Context, path string, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+r.addr+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return out, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return out, nil
}

// server starts (once) the namespace's rclone rcd with its own config file, its log beside it.
func (a *RcloneAgent) server(namespace string) (*rcd, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if r, ok := a.rcds[namespace]; ok {
		return r, nil
	}
	dir := filepath.Join(a.StateDir, namespace)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	port, err := loopback.FreePort()
	if err != nil {
		return nil, err
	}
	logFile, err := os.Create(filepath.Join(dir, "rclone.log"))
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	cmd := exec.Command(filepath.Join(a.Bin, "rclone"), "rcd", "--rc-no-auth", "--rc-addr", addr,
		"--config", filepath.Join(dir, "rclone.conf"), "-v")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// The cluster network: in-cluster names and MetalLB IPs through the sandbox's proxy, nothing else.
	cmd.Env = append(os.Environ(), "HTTP_PROXY="+a.ProxyURL, "HTTPS_PROXY="+a.ProxyURL, "NO_PROXY=127.0.0.1,localhost")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting rclone rcd: %w", err)
	}
	r := &rcd{addr: addr, cmd: cmd}
	for i := 0; ; i++ {
		if _, err := r.call(context.Background(), "/rc/noop", []byte("{}")); err == nil {
			break
		} else if i == 100 {
			_ = cmd.Process.Kill()
			return nil, fmt.Errorf("rclone rcd did not answer on %s: %v (log %s)", addr, err, logFile.Name())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if a.rcds == nil {
		a.rcds = map[string]*rcd{}
	}
	a.rcds[namespace] = r
	if a.Log != nil {
		fmt.Fprintf(a.Log, "agent: rclone rcd for %s on %s (log %s)\n", namespace, addr, logFile.Name())
	}
	return r, nil
}

// Stop ends every rclone rcd.
func (a *RcloneAgent) Stop() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, r := range a.rcds {
		_ = r.cmd.Process.Kill()
		_ = r.cmd.Wait()
	}
	a.rcds = nil
}
