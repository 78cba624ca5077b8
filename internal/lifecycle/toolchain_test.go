package lifecycle

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/seldon-ab/provisioner/internal/pins"
)

// An installed CLI older than the pinned one is refused, both versions named; a recent enough one is used.
func TestTheInstalledCLIsVersionIsChecked(t *testing.T) {
	for _, tc := range []struct {
		version string
		refused bool
	}{{"v3.100.0", true}, {pins.PulumiVersion, false}} {
		bin := t.TempDir()
		fake := "#!/bin/sh\n[ \"$1\" = version ] && echo " + tc.version + "\n"
		if err := os.WriteFile(filepath.Join(bin, "pulumi"), []byte(fake), 0o755); err != nil {
			t.Fatal(err)
		}
		t.Setenv("PATH", bin)
		c, err := selectCLI(t.TempDir(), Installed, io.Discard)
		switch {
		case tc.refused && (err == nil || !strings.Contains(err.Error(), "is "+tc.version) || !strings.Contains(err.Error(), pins.PulumiVersion)):
			t.Errorf("pulumi %s: %v, want a refusal naming %s and %s", tc.version, err, tc.version, pins.PulumiVersion)
		case !tc.refused && (err != nil || c.mode != Installed || c.command.Version().String() != strings.TrimPrefix(tc.version, "v")):
			t.Errorf("pulumi %s: %+v, %v", tc.version, c, err)
		}
	}
}
