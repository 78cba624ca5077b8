// Package scripts_test runs the lifecycle scripts' shell logic with stand-ins for the tools they call.
package scripts_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// sourceEnv sources scripts/pulumi-env.sh for stack with a fake `pulumi` of the given version first on PATH and
// prints the mode chosen; it returns the output and whether sourcing succeeded.
func sourceEnv(t *testing.T, stack, fakeVersion string, extraEnv ...string) (string, bool) {
	t.Helper()
	bin := t.TempDir()
	fake := "#!/bin/sh\n[ \"$1\" = version ] && echo v" + fakeVersion + "\n"
	if err := os.WriteFile(filepath.Join(bin, "pulumi"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	root, _ := filepath.Abs("../..")
	script := `stack=` + stack + `; . "` + root + `/scripts/pulumi-env.sh" || exit 3; echo "mode=$toolchain_mode bin=$toolchain_bin"`
	cmd := exec.Command("bash", "-c", script)
	cmd.Env = append(os.Environ(), append([]string{"PATH=" + bin + ":" + os.Getenv("PATH"), "PULUMI_BACKEND_URL=file://" + t.TempDir()}, extraEnv...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err == nil
}

func TestAHomelabUsesTheInstalledPulumi(t *testing.T) {
	out, ok := sourceEnv(t, "homelab", "3.280.0")
	if !ok || !strings.Contains(out, "mode=installed") || !strings.Contains(out, "using the installed Pulumi CLI v3.280.0") {
		t.Fatalf("want the installed CLI used, got ok=%t:\n%s", ok, out)
	}
}

func TestAnOldInstalledPulumiIsRefusedWithTheWayOut(t *testing.T) {
	out, ok := sourceEnv(t, "homelab", "3.100.0")
	if ok || !strings.Contains(out, "the installed pulumi is v3.100.0; this project needs v3.274.1 or newer") ||
		!strings.Contains(out, "SELDON_AB_TOOLCHAIN=offline") {
		t.Fatalf("want a refusal naming both versions and the offline mode, got ok=%t:\n%s", ok, out)
	}
}

func TestAnUnknownModeIsRefused(t *testing.T) {
	out, ok := sourceEnv(t, "homelab", "3.280.0", "SELDON_AB_TOOLCHAIN=cloud")
	if ok || !strings.Contains(out, "SELDON_AB_TOOLCHAIN=cloud: use installed or offline") {
		t.Fatalf("got ok=%t:\n%s", ok, out)
	}
}

// fakePulumi is a `pulumi` that answers `version` and records every other call in log.
func fakePulumi(t *testing.T, log string) string {
	t.Helper()
	bin := t.TempDir()
	script := "#!/bin/sh\n[ \"$1\" = version ] && { echo v3.280.0; exit 0; }\necho \"$*\" >>" + log + "\n"
	if err := os.WriteFile(filepath.Join(bin, "pulumi"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return bin
}

// After a killed `up`, the stack's lock names a process that no longer runs: `up` says so and names the one
// command that recovers; `recover` releases that lock and settles the interrupted creates.
func TestAStaleLockIsNamedAndRecoveredInOneCommand(t *testing.T) {
	root, _ := filepath.Abs("../..")
	backend := t.TempDir()
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	lockDir := filepath.Join(backend, ".pulumi", "locks", "organization", "seldon-ab", "homelab")
	if err := os.MkdirAll(lockDir, 0o755); err != nil {
		t.Fatal(err)
	}
	lock := `{"pid":` + strconv.Itoa(dead.Process.Pid) + `,"username":"root","hostname":"` + host + `","timestamp":"2026-11-26T09:26:54Z"}`
	if err := os.WriteFile(filepath.Join(lockDir, "a77993b4.json"), []byte(lock), 0o600); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(t.TempDir(), "calls")
	run := func(action string) (string, error) {
		cmd := exec.Command(filepath.Join(root, "scripts", "stack.sh"), action, "homelab")
		cmd.Env = append(os.Environ(), "PATH="+fakePulumi(t, log)+":"+os.Getenv("PATH"), "PULUMI_BACKEND_URL=file://"+backend,
			"PULUMI_CONFIG_PASSPHRASE=test", "SELDON_AB_TOOLCHAIN=installed")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run("up")
	if err == nil || !strings.Contains(out, "which no longer runs on this machine") || !strings.Contains(out, "make recover STACK=homelab") {
		t.Fatalf("up with a stale lock: err=%v\n%s", err, out)
	}
	calls, _ := os.ReadFile(log)
	if strings.Contains(string(calls), "up") {
		t.Fatalf("up ran despite the stale lock: %s", calls)
	}
	if out, err := run("recover"); err != nil {
		t.Fatalf("recover: %v\n%s", err, out)
	}
	calls, _ = os.ReadFile(log)
	for _, want := range []string{"cancel --stack homelab --yes", "refresh --stack homelab --yes --clear-pending-creates"} {
		if !strings.Contains(string(calls), want) {
			t.Errorf("recover did not run pulumi %s; calls:\n%s", want, calls)
		}
	}
}

// Unattended, `up` previews the whole program once (the policies run before anything is touched) and the updates
// skip their own previews; asked for confirmation, each update keeps the preview the user confirms.
func TestAnUnattendedUpPreviewsOnceThenSkipsTheUpdatesPreviews(t *testing.T) {
	root, _ := filepath.Abs("../..")
	for _, unattended := range []bool{true, false} {
		log := filepath.Join(t.TempDir(), "calls")
		cmd := exec.Command(filepath.Join(root, "scripts", "stack.sh"), "up", "homelab")
		cmd.Env = append(os.Environ(), "PATH="+fakePulumi(t, log)+":"+os.Getenv("PATH"), "PULUMI_BACKEND_URL=file://"+t.TempDir(),
			"PULUMI_CONFIG_PASSPHRASE=test", "SELDON_AB_TOOLCHAIN=installed", "YES="+map[bool]string{true: "1", false: "0"}[unattended])
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("up: %v\n%s", err, out)
		}
		data, _ := os.ReadFile(log)
		var previews, ups []string
		for _, call := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			switch {
			case strings.HasPrefix(call, "preview "):
				previews = append(previews, call)
			case strings.HasPrefix(call, "up "):
				ups = append(ups, call)
			}
		}
		if len(ups) != 1 {
			t.Fatalf("unattended=%t: want one update, got %q", unattended, ups)
		}
		skipped := strings.Contains(ups[0], "--skip-preview") && strings.Contains(ups[0], "--yes")
		if unattended && (len(previews) != 1 || !strings.Contains(previews[0], "--policy-pack") || !skipped) {
			t.Errorf("unattended: want one preview with the policies, then up --yes --skip-preview; got previews %q, up %q", previews, ups[0])
		}
		if !unattended && (len(previews) != 0 || strings.Contains(ups[0], "--skip-preview")) {
			t.Errorf("attended: want up with its own preview only; got previews %q, up %q", previews, ups[0])
		}
	}
}
