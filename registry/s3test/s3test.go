// Package s3test runs a real S3-compatible server (versitygw) for tests.
//
// The server is found through the VERSITYGW environment variable or PATH.
// When it is absent, tests are skipped, unless CI is set: then they fail,
// so that CI can never pass by skipping.
package s3test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/heliocloud/heliocloud-go/internal/testtool"
)

// CopyLimit is the largest object the server copies with one CopyObject.
// S3's limit is 5 GiB; the test server's is small, so that tests show that
// larger files are copied in parts.
const CopyLimit = 8 << 20

// Credentials of the test server's root account.
const (
	AccessKey = "heliocloudtest"
	SecretKey = "heliocloudtestsecret"
)

var (
	once     sync.Once
	endpoint string
	startErr error
	cmd      *exec.Cmd
	dir      string
	buckets  atomic.Int64
)

func find() (string, error) {
	if p, err := testtool.Find("VERSITYGW", "versitygw"); err == nil {
		return p, nil
	}
	if home, err := os.UserHomeDir(); err == nil {
		p := filepath.Join(home, "go", "bin", "versitygw")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("versitygw not found: set VERSITYGW or install it with go install github.com/versity/versitygw/cmd/versitygw@v1.8.0")
}

func start() {
	bin, err := find()
	if err != nil {
		startErr = err
		return
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		startErr = err
		return
	}
	addr := l.Addr().String()
	l.Close()
	if dir, err = os.MkdirTemp("", "versitygw-"); err != nil {
		startErr = err
		return
	}
	cmd = exec.Command(bin, "--port", addr, "--copy-object-threshold", strconv.Itoa(CopyLimit), "posix", dir)
	cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY="+AccessKey, "ROOT_SECRET_KEY="+SecretKey)
	if err := cmd.Start(); err != nil {
		startErr = fmt.Errorf("start versitygw: %w", err)
		return
	}
	for i := 0; i < 200; i++ {
		if c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond); err == nil {
			c.Close()
			endpoint = "http://" + addr
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	startErr = fmt.Errorf("versitygw did not listen on %s", addr)
}

// Endpoint starts the shared server once and returns its URL. It skips the
// test when versitygw is missing and CI is empty, and fails it when CI is set.
func Endpoint(tb testing.TB) string {
	tb.Helper()
	once.Do(start)
	if startErr != nil {
		testtool.Unavailable(tb, "no S3 server: %v", startErr)
	}
	return endpoint
}

// Dir is the server's posix root: bucket b and key k are the file <Dir>/b/k.
// Benchmarks use it to lay out large datasets quickly.
func Dir(tb testing.TB) string {
	Endpoint(tb)
	return dir
}

// Main is the TestMain of a package that uses the server: it runs the tests,
// then ends the server and removes its data.
func Main(m *testing.M) {
	code := m.Run()
	stop()
	os.Exit(code)
}

func stop() {
	if cmd != nil && cmd.Process != nil {
		cmd.Process.Kill()
		cmd.Wait()
	}
	if dir != "" {
		os.RemoveAll(dir)
	}
}

// Env sets the AWS environment so that clients built by the SDK's default
// chain reach the test server's root account.
func Env(tb testing.TB) {
	tb.Setenv("AWS_ACCESS_KEY_ID", AccessKey)
	tb.Setenv("AWS_SECRET_ACCESS_KEY", SecretKey)
	tb.Setenv("AWS_REGION", "us-east-1")
	tb.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	tb.Setenv("AWS_CONFIG_FILE", os.DevNull)
	tb.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
}

// Client returns a path-style client of the test server.
func Client(tb testing.TB) *s3.Client {
	ep := Endpoint(tb)
	return s3.New(s3.Options{
		BaseEndpoint: aws.String(ep),
		UsePathStyle: true,
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider(AccessKey, SecretKey, ""),
	})
}

// Bucket creates a fresh bucket whose name starts with prefix.
func Bucket(tb testing.TB, c *s3.Client, prefix string) string {
	tb.Helper()
	name := fmt.Sprintf("%s-%d-%d", prefix, os.Getpid(), buckets.Add(1))
	if _, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: &name}); err != nil {
		tb.Fatalf("create bucket %s: %v", name, err)
	}
	return name
}
