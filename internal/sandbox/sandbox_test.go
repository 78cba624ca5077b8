package sandbox_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/seldon-ab/provisioner/internal/sandbox"
)

func writeLock(t *testing.T, dir, name string, pid int, host string) string {
	t.Helper()
	path := filepath.Join(dir, ".pulumi", "locks", "organization", "seldon-ab", "sandbox", name+".json")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(map[string]any{"pid": pid, "username": "root", "hostname": host, "timestamp": "2026-11-26T09:26:54Z"})
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestClearStaleLocksRemovesOnlyLocksOfDeadLocalProcesses(t *testing.T) {
	host, _ := os.Hostname()
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	stale := writeLock(t, dir, "stale", dead.Process.Pid, host)
	live := writeLock(t, dir, "live", os.Getpid(), host)
	elsewhere := writeLock(t, dir, "elsewhere", dead.Process.Pid, host+"-other")
	if err := sandbox.ClearStaleLocks(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Error("the lock of a process that exited is still there")
	}
	for _, kept := range []string{live, elsewhere} {
		if _, err := os.Stat(kept); err != nil {
			t.Errorf("%s was removed: %v", kept, err)
		}
	}
}
