// Package scripts_test runs the lifecycle scripts' shell logic with stand-ins for the tools they call.
package scripts_test

import (
	"os"
	"os/exec"
	"path/filepath"
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
