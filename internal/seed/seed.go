// Package seed uploads a directory of model artifacts to s3://bucket/prefix, skipping every object that is already
// there with the same content, so a second run uploads nothing.
package seed

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/seldon-ab/provisioner/internal/tunnel"
)

// Target is where the artifacts go.
type Target struct {
	// Endpoint is the S3 URL reachable from this machine, e.g. http://192.168.1.248:9000.
	Endpoint  string
	Region    string
	AccessKey string
	SecretKey string
	Bucket    string
	Prefix    string
	// Proxy, if set, tunnels every connection (CONNECT) to the endpoint: the sandbox's cluster network; nil dials
	// the endpoint directly.
	Proxy *url.URL
}

// Result counts what a run did.
type Result struct {
	Uploaded  []string
	Unchanged int
}

// Directory uploads every regular file under source to target, keyed by its path relative to source.
func Directory(ctx context.Context, source string, target Target) (Result, error) {
	client, err := newClient(target)
	if err != nil {
		return Result{}, err
	}
	remote, err := listETags(ctx, client, target)
	if err != nil {
		return Result{}, err
	}
	var result Result
	err = filepath.WalkDir(source, func(file string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, err := filepath.Rel(source, file)
		if err != nil {
			return err
		}
		key := path.Join(target.Prefix, filepath.ToSlash(rel))
		sum, size, err := md5File(file)
		if err != nil {
			return err
		}
		// A single-part upload's ETag is the MD5 of its content; anything else (multipart, changed) is re-sent.
		if remote[key] == sum {
			result.Unchanged++
			return nil
		}
		f, err := os.Open(file)
		if err != nil {
			return err
		}
		defer f.Close()
		if _, err := client.PutObject(ctx, target.Bucket, key, f, size, minio.PutObjectOptions{DisableMultipart: true}); err != nil {
			return fmt.Errorf("uploading %s to s3://%s/%s: %w", file, target.Bucket, key, err)
		}
		result.Uploaded = append(result.Uploaded, key)
		return nil
	})
	return result, err
}

func newClient(t Target) (*minio.Client, error) {
	u, err := url.Parse(t.Endpoint)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("endpoint %q is not a URL like http://host:9000", t.Endpoint)
	}
	opts := &minio.Options{
		Creds:        credentials.NewStaticV4(t.AccessKey, t.SecretKey, ""),
		Secure:       u.Scheme == "https",
		Region:       t.Region,
		BucketLookup: minio.BucketLookupPath,
	}
	if t.Proxy != nil {
		transport, err := minio.DefaultTransport(opts.Secure)
		if err != nil {
			return nil, err
		}
		transport.Proxy, transport.DialContext = nil, tunnel.Dialer(t.Proxy)
		opts.Transport = transport
	}
	return minio.New(u.Host, opts)
}

func listETags(ctx context.Context, client *minio.Client, t Target) (map[string]string, error) {
	etags := map[string]string{}
	prefix := t.Prefix
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	for obj := range client.ListObjects(ctx, t.Bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if obj.Err != nil {
			return nil, fmt.Errorf("listing s3://%s/%s: %w", t.Bucket, prefix, obj.Err)
		}
		etags[obj.Key] = strings.Trim(obj.ETag, `"`)
	}
	return etags, nil
}

func md5File(file string) (string, int64, error) {
	f, err := os.Open(file)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := md5.New()
	n, err := io.Copy(h, f)
	return hex.EncodeToString(h.Sum(nil)), n, err
}

// ContentHash fingerprints a directory's file names and contents, so a deployment re-runs seeding when they change.
func ContentHash(source string) (string, error) {
	h := md5.New()
	err := filepath.WalkDir(source, func(file string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		sum, _, err := md5File(file)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(source, file)
		fmt.Fprintf(h, "%s %s\n", filepath.ToSlash(rel), sum)
		return nil
	})
	return hex.EncodeToString(h.Sum(nil)), err
}
