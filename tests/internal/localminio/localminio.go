// Package localminio starts a real MinIO server (built by scripts/toolchain.sh) on loopback for tests: an S3
// store that behaves as the one a team or a cluster runs, with no container.
package localminio

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/seldon-ab/provisioner/internal/loopback"
)

// Server is a running MinIO.
type Server struct {
	// Endpoint is host:port on loopback.
	Endpoint string
	Client   *minio.Client
	cmd      *exec.Cmd
}

// Start runs bin/minio with its data in dir and the given root credentials, and creates buckets once it answers.
func Start(bin, dir, user, password string, buckets ...string) (*Server, error) {
	api, err := loopback.FreePort()
	if err != nil {
		return nil, err
	}
	console, err := loopback.FreePort()
	if err != nil {
		return nil, err
	}
	endpoint := fmt.Sprintf("127.0.0.1:%d", api)
	cmd := exec.Command(filepath.Join(bin, "minio"), "server", dir, "--address", endpoint,
		"--console-address", fmt.Sprintf("127.0.0.1:%d", console))
	// No update checks: nothing but loopback is ever dialled.
	cmd.Env = append(os.Environ(), "MINIO_ROOT_USER="+user, "MINIO_ROOT_PASSWORD="+password, "MINIO_UPDATE=off")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &Server{Endpoint: endpoint, cmd: cmd}
	if s.Client, err = minio.New(endpoint, &minio.Options{Creds: credentials.NewStaticV4(user, password, "")}); err != nil {
		s.Stop()
		return nil, err
	}
	ctx := context.Background()
	for i := 0; ; i++ {
		if _, err = s.Client.ListBuckets(ctx); err == nil {
			break
		} else if i == 200 {
			s.Stop()
			return nil, fmt.Errorf("MinIO did not answer on %s: %w", endpoint, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, b := range buckets {
		if err := s.Client.MakeBucket(ctx, b, minio.MakeBucketOptions{}); err != nil {
			s.Stop()
			return nil, err
		}
	}
	return s, nil
}

// Stop ends the server.
func (s *Server) Stop() {
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
}
