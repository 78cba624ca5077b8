package lifecycle

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
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

// The toolchain is used as built when the CLI and the provider carry the pinned versions' stamps, and rebuilt
// (by the script) when a stamp names another version or a binary is missing or not executable.
func TestTheBuiltToolchainIsKnownByItsStamps(t *testing.T) {
	cache := t.TempDir()
	t.Setenv("SELDON_AB_CACHE", cache)
	bin := filepath.Join(cache, "bin")
	write := func(name, content string, mode os.FileMode) {
		t.Helper()
		if err := os.MkdirAll(bin, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(bin, name), []byte(content), mode); err != nil {
			t.Fatal(err)
		}
	}
	write("pulumi", "", 0o755)
	write(".pulumi.version", pins.PulumiVersion+"\n", 0o644)
	write("pulumi-resource-kubernetes", "", 0o755)
	write(".pulumi-resource-kubernetes.version", pins.KubernetesProvider+"\n", 0o644)
	if got, ok := builtToolchain(); !ok || got != bin {
		t.Fatalf("stamped toolchain: %q, %v; want %q", got, ok, bin)
	}
	write(".pulumi-resource-kubernetes.version", "4.0.0\n", 0o644)
	if _, ok := builtToolchain(); ok {
		t.Error("a provider stamped 4.0.0 was taken for " + pins.KubernetesProvider)
	}
	write(".pulumi-resource-kubernetes.version", pins.KubernetesProvider+"\n", 0o644)
	if err := os.Chmod(filepath.Join(bin, "pulumi"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, ok := builtToolchain(); ok {
		t.Error("a CLI that is not executable was taken as built")
	}
}

// The offline CLI runs as the Automation API's runner runs a CLI: non-interactive, its own directory first on
// PATH, marked as driven by the Automation API, its output both captured and streamed, its exit status returned;
// cancelled, it is interrupted (so that it can release the stack's lock), not killed.
func TestThePinnedCLIRunsLikeTheAutomationAPIsRunner(t *testing.T) {
	bin := t.TempDir()
	script := `#!/bin/sh
case "$*" in
*wait*) trap 'echo interrupted; exit 7' INT; echo waiting; while :; do sleep 0.05; done ;;
esac
echo "args: $*"
echo "api: $PULUMI_AUTOMATION_API"
echo "path: ${PATH%%:*}"
echo "dir: $(pwd)"
echo "stdin: $(cat)"
echo oops >&2
exit 3
`
	if err := os.WriteFile(filepath.Join(bin, "pulumi"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	cli := pinnedCLI{path: filepath.Join(bin, "pulumi")}
	workdir := t.TempDir()
	var streamed strings.Builder
	out, errOut, code, err := cli.Run(context.Background(), workdir, strings.NewReader("hello"), []io.Writer{&streamed}, nil, []string{"EXTRA=1"}, "preview", "--stack", "s")
	for _, want := range []string{"args: --non-interactive preview --stack s", "api: true", "path: " + bin, "dir: " + workdir, "stdin: hello"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout %q lacks %q", out, want)
		}
	}
	if streamed.String() != out || errOut != "oops\n" || code != 3 || err == nil {
		t.Errorf("streamed %q, stderr %q, code %d, err %v; want stdout streamed too, stderr oops, code 3 and an error", streamed.String(), errOut, code, err)
	}
	if out, _, _, _ := cli.Run(context.Background(), workdir, nil, nil, nil, nil, "--non-interactive", "up"); !strings.Contains(out, "args: --non-interactive up\n") {
		t.Errorf("--non-interactive given twice: %q", out)
	}

	ctx, cancel := context.WithCancel(context.Background())
	started := &signalWriter{want: "waiting", seen: make(chan struct{})}
	go func() {
		<-started.seen
		cancel()
	}()
	out, _, code, _ = cli.Run(ctx, workdir, nil, []io.Writer{started}, nil, nil, "wait")
	if !strings.Contains(out, "interrupted") || code != 7 {
		t.Errorf("cancelled: stdout %q, code %d; want the CLI interrupted (its trap ran, exit 7)", out, code)
	}
}

// signalWriter closes seen once want has been written to it.
type signalWriter struct {
	want string
	seen chan struct{}
	text strings.Builder
	once sync.Once
}

func (w *signalWriter) Write(p []byte) (int, error) {
	w.text.Write(p)
	if strings.Contains(w.text.String(), w.want) {
		w.once.Do(func() { close(w.seen) })
	}
	return len(p), nil
}
