package lifecycle

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
)

// A lock left by a dead process: an update killed with its terminal, or Ctrl-C twice, leaves the stack locked by
// a process that no longer runs. Every command but recover refuses to run past it and names the way out;
// recover releases it (never a lock whose process runs, nor one taken on another machine) and settles the
// interrupted update's pending creates from the cluster.

// deadLock is a lock of this stack, in a file backend, taken on this machine by a process that no longer runs.
type deadLock struct {
	path string
	pid  int
}

func (s *Stack) deadLocks() ([]deadLock, error) {
	backend, ok := strings.CutPrefix(s.env["PULUMI_BACKEND_URL"], "file://")
	if !ok {
		return nil, nil // a shared backend's lock is released with `pulumi cancel`, by whoever knows it is dead
	}
	host, err := os.Hostname()
	if err != nil {
		return nil, err
	}
	paths, _ := filepath.Glob(filepath.Join(backend, ".pulumi", "locks", "*", "*", s.opts.Stack, "*.json"))
	var dead []deadLock
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		var lock struct {
			PID      int    `json:"pid"`
			Hostname string `json:"hostname"`
		}
		if json.Unmarshal(data, &lock) != nil || lock.Hostname != host || lock.PID <= 0 ||
			!errors.Is(syscall.Kill(lock.PID, 0), syscall.ESRCH) {
			continue
		}
		dead = append(dead, deadLock{path: path, pid: lock.PID})
	}
	return dead, nil
}

// refuseDeadLock is the check every command but recover makes first.
func (s *Stack) refuseDeadLock() error {
	dead, err := s.deadLocks()
	if err != nil || len(dead) == 0 {
		return err
	}
	return fmt.Errorf("stack %s is locked by process %d, which no longer runs on this machine (an interrupted update); "+
		"recover with: seldon-ab recover --stack %s (make recover STACK=%s), which releases the lock and settles the "+
		"interrupted creates from the cluster, then run the command again", s.opts.Stack, dead[0].pid, s.opts.Stack, s.opts.Stack)
}

func (s *Stack) releaseDeadLocks() error {
	dead, err := s.deadLocks()
	if err != nil {
		return err
	}
	for _, l := range dead {
		s.logf("releasing the lock of process %d, which no longer runs on this machine", l.pid)
		for _, f := range []string{l.path, l.path + ".attrs"} {
			if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
		}
	}
	return nil
}

// A cluster that was recreated (a k3s reinstall, a new sandbox after a reboot) holds none of the objects the
// stack's state lists, and every update would fail on them. The state records which cluster it describes (the
// uid of its kube-system namespace, as a stack tag); when the cluster's uid differs, updates save the old state
// to .state/backups and start from an empty one (asking first when attended), and previews refresh, so they show
// what an update would create.

const clusterTag = "seldon-ab:cluster-uid"

// clusterIdentity is the recorded and the live uid; live is empty when the cluster does not answer (the
// program's preflight then says why).
func (s *Stack) clusterIdentity(ctx context.Context) (recorded, live string) {
	select {
	case recorded = <-s.recordedAtOpen: // read while opening, for the first operation only
	default:
		recorded, _ = s.stack.GetTag(ctx, clusterTag)
	}
	client, err := s.cluster()
	if err != nil {
		return recorded, ""
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	live, _ = client.NamespaceUID(ctx, "kube-system")
	return recorded, live
}

// recreated says whether the state describes another cluster than the one the stack points at.
func recreated(recorded, live string) bool { return recorded != "" && live != "" && recorded != live }

// claimCluster makes sure the state describes the live cluster before an operation that changes it: it records
// the cluster when nothing is recorded, and resets the state of a recreated one; recorded and live are what
// clusterIdentity read.
func (s *Stack) claimCluster(ctx context.Context, recorded, live string) error {
	if live == "" || recorded == live {
		return nil
	}
	if recreated(recorded, live) {
		if err := s.resetState(ctx, recorded, live); err != nil {
			return err
		}
	}
	return s.stack.SetTag(ctx, clusterTag, live)
}

func (s *Stack) resetState(ctx context.Context, recorded, live string) error {
	state, err := s.stack.Export(ctx)
	if err != nil {
		return err
	}
	var deployment apitype.DeploymentV3
	if err := json.Unmarshal(state.Deployment, &deployment); err != nil {
		return fmt.Errorf("reading the state of stack %s: %w", s.opts.Stack, err)
	}
	if len(deployment.Resources) > 0 {
		question := fmt.Sprintf("The cluster of stack %s was recreated (kube-system uid %s; the state describes %s): the %d resources "+
			"in its state no longer exist. Save the state to .state/backups and start from an empty one?",
			s.opts.Stack, live, recorded, len(deployment.Resources))
		if err := s.confirm(question); err != nil {
			return err
		}
		backup := filepath.Join(s.opts.Root, ".state", "backups", fmt.Sprintf("%s-%s.json", s.opts.Stack, time.Now().UTC().Format("20060102T150405Z")))
		if err := os.MkdirAll(filepath.Dir(backup), 0o700); err != nil {
			return err
		}
		data, err := json.MarshalIndent(state, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(backup, data, 0o600); err != nil {
			return err
		}
		s.logf("the cluster was recreated: the previous state (%d resources) is saved in %s; starting from an empty state", len(deployment.Resources), backup)
	}
	// The state is discarded, so a dead process's lock on it goes with it.
	if err := s.releaseDeadLocks(); err != nil {
		return err
	}
	if len(deployment.Resources) == 0 && len(deployment.PendingOperations) == 0 {
		return nil // nothing to discard (a destroyed stack): no import
	}
	deployment.Resources, deployment.PendingOperations = nil, nil
	if state.Deployment, err = json.Marshal(deployment); err != nil {
		return err
	}
	return s.stack.Import(ctx, state)
}
