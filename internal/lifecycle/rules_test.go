package lifecycle

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func writeLock(t *testing.T, dir, stack, name string, pid int, host string) string {
	t.Helper()
	path := filepath.Join(dir, ".pulumi", "locks", "organization", "seldon-ab", stack, name+".json")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(map[string]any{"pid": pid, "username": "root", "hostname": host, "timestamp": "2026-11-26T09:26:54Z"})
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// Only a lock whose process ran on this machine and no longer runs is dead: every command refuses to run past it
// and names recover; recover releases it and nothing else (not a live process's, not another machine's, not
// another stack's).
func TestOnlyTheLockOfADeadLocalProcessIsRefusedAndReleased(t *testing.T) {
	host, _ := os.Hostname()
	exited := exec.Command("true")
	if err := exited.Run(); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	s := &Stack{opts: Options{Stack: "sandbox"}, env: map[string]string{"PULUMI_BACKEND_URL": "file://" + dir}}
	s.opts.Stderr = &strings.Builder{}

	live := writeLock(t, dir, "sandbox", "live", os.Getpid(), host)
	elsewhere := writeLock(t, dir, "sandbox", "elsewhere", exited.Process.Pid, host+"-other")
	otherStack := writeLock(t, dir, "homelab", "other", exited.Process.Pid, host)
	if err := s.refuseDeadLock(); err != nil {
		t.Fatalf("refused without a dead lock of its own: %v", err)
	}
	dead := writeLock(t, dir, "sandbox", "dead", exited.Process.Pid, host)
	err := s.refuseDeadLock()
	if err == nil || !strings.Contains(err.Error(), "no longer runs") || !strings.Contains(err.Error(), "seldon-ab recover --stack sandbox") {
		t.Fatalf("want a refusal naming recover, got %v", err)
	}
	if err := s.releaseDeadLocks(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dead); !os.IsNotExist(err) {
		t.Error("the dead process's lock is still there")
	}
	for _, kept := range []string{live, elsewhere, otherStack} {
		if _, err := os.Stat(kept); err != nil {
			t.Errorf("%s was released: %v", kept, err)
		}
	}
	if err := s.refuseDeadLock(); err != nil {
		t.Errorf("still refused after recover: %v", err)
	}
}

// A shared backend's lock is not this machine's to judge.
func TestASharedBackendsLockIsLeftToPulumiCancel(t *testing.T) {
	s := &Stack{opts: Options{Stack: "sandbox"}, env: map[string]string{"PULUMI_BACKEND_URL": "s3://state?endpoint=127.0.0.1:9000"}}
	if dead, err := s.deadLocks(); err != nil || len(dead) != 0 {
		t.Errorf("got %v, %v", dead, err)
	}
}

func TestOnlyADifferentLiveClusterCountsAsRecreated(t *testing.T) {
	for _, c := range []struct {
		recorded, live string
		want           bool
	}{{"a", "a", false}, {"", "a", false}, {"a", "", false}, {"a", "b", true}} {
		if got := recreated(c.recorded, c.live); got != c.want {
			t.Errorf("recreated(%q, %q) = %t", c.recorded, c.live, got)
		}
	}
}
