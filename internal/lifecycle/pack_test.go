package lifecycle

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/seldon-ab/provisioner/policies/analyzer"
)

// As seldon-ab's main does: started as Pulumi starts a policy pack, this test binary serves it.
func TestMain(m *testing.M) {
	ServePolicyPack()
	os.Exit(m.Run())
}

// The pack PolicyPack names is this executable, and started as Pulumi starts a pack given as a file (its path and
// the engine's address, after any logging and tracing flags), it prints its port and answers the analyzer protocol.
func TestThisExecutableServesThePolicyPack(t *testing.T) {
	pack, err := PolicyPack(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if self, _ := os.Executable(); pack != self {
		t.Fatalf("the pack is %s, not this executable %s", pack, self)
	}
	// Bare, and as Pulumi starts it when the user asked for logs and traces (`--logflow -v=9 --tracing ...`).
	for _, args := range [][]string{{"127.0.0.1:1"}, {"--logtostderr", "-v=9", "--tracing", "file:/dev/null", "127.0.0.1:1"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) { askThePack(t, pack, args) })
	}
}

func askThePack(t *testing.T, pack string, args []string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, pack, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	port, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("no port from the pack: %v", err)
	}
	conn, err := grpc.NewClient("127.0.0.1:"+strings.TrimSpace(port), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	info, err := pulumirpc.NewAnalyzerClient(conn).GetAnalyzerInfo(ctx, &emptypb.Empty{})
	if err != nil {
		t.Fatal(err)
	}
	if info.GetName() != analyzer.Name || len(info.GetPolicies()) == 0 {
		t.Errorf("analyzer info %v", info)
	}
}
