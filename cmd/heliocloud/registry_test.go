package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/heliocloud/heliocloud-go/registry"
	"github.com/heliocloud/heliocloud-go/registry/s3test"
)

// registryInstance writes an instance file whose dataset bucket is a fresh
// bucket on the test server, and returns its path and the bucket.
func registryInstance(t *testing.T) (string, string, *s3.Client) {
	c := s3test.Client(t)
	s3test.Env(t)
	b := s3test.Bucket(t, c, "cli")
	y := fmt.Sprintf(`name: cli
data:
  enabled: true
  datasets:
    pub: {public: true, bucketName: %s}
registry:
  enabled: true
  catalogs:
    pub: {name: CLI test, contact: t@example.org}
  datasets:
    ace_mag: {title: ACE MAG, bucket: pub, prefix: ace/mag/, filetype: cdf, time: {layout: "ac_h0_mfi_20060102"}}
`, b)
	path := filepath.Join(t.TempDir(), "cli.yaml")
	if err := os.WriteFile(path, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, b, c
}

func TestRegistryReindexAndCheckCommands(t *testing.T) {
	path, b, c := registryInstance(t)
	for _, k := range []string{"ace/mag/1998/ac_h0_mfi_19980205_v04.cdf", "ace/mag/2000/ac_h0_mfi_20000101_v04.cdf", "ace/mag/readme.txt"} {
		if _, err := c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: &b, Key: aws.String(k), Body: strings.NewReader("x")}); err != nil {
			t.Fatal(err)
		}
	}
	ep := s3test.Endpoint(t)
	var stdout, stderr bytes.Buffer
	if code := run([]string{"registry", "reindex", "--config", path, "--dataset", "ace_mag", "--endpoint-url", ep}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var res registry.ReindexResult
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("%v: %s", err, stdout.String())
	}
	if res.Objects != 2 || res.SkippedCount != 1 || len(res.Written) != 4 {
		t.Fatalf("result %+v", res)
	}
	if !strings.Contains(stderr.String(), "list ace_mag: 3") || !strings.Contains(stderr.String(), "write ace_mag: 3/3") {
		t.Errorf("progress not shown:\n%s", stderr.String())
	}
	stdout.Reset()
	stderr.Reset()
	// Objects copied in by tools that store no checksum (or put straight
	// into the server's folder, as here) come back without one, and the
	// AWS SDK then logs a line for each read. Its default logger writes to
	// the process's stderr, not to the writer run is given, so watch that:
	// no SDK line may land among the progress lines.
	dropChecksums(t, filepath.Join(s3test.Dir(t), b))
	var code int
	direct := processStderr(t, func() {
		code = run([]string{"registry", "reindex", "--config", path, "--dataset", "ace_mag", "--endpoint-url", ep}, &stdout, &stderr)
		if code == 0 {
			code = run([]string{"registry", "check", "--config", path, "--endpoint-url", ep}, &stdout, &stderr)
		}
	})
	if code != 0 {
		t.Fatalf("reindex and check of files without checksums: exit %d: %s %s", code, stdout.String(), stderr.String())
	}
	for _, out := range []string{direct, stderr.String(), stdout.String()} {
		if strings.Contains(out, "SDK ") {
			t.Errorf("AWS SDK log lines in the output:\n%s", out)
		}
	}
	if direct != "" {
		t.Errorf("written to the process's stderr behind the command's back:\n%s", direct)
	}
	stdout.Reset()
	stderr.Reset()
	// The 1998 file stops at the first start of 2000: the entry needs
	// multiyear, and check fails without it.
	cat, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: &b, Key: aws.String("catalog.json")})
	if err != nil {
		t.Fatal(err)
	}
	var raw bytes.Buffer
	raw.ReadFrom(cat.Body)
	cat.Body.Close()
	noMulti := regexp.MustCompile(`,\s*"multiyear": true`)
	if !noMulti.MatchString(raw.String()) {
		t.Fatalf("reindex did not set multiyear:\n%s", raw.String())
	}
	if _, err := c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: &b, Key: aws.String("catalog.json"),
		Body: strings.NewReader(noMulti.ReplaceAllString(raw.String(), ""))}); err != nil {
		t.Fatal(err)
	}
	if code := run([]string{"registry", "check", "--config", path, "--endpoint-url", ep}, &stdout, &stderr); code != 1 || !strings.Contains(stdout.String(), "does not set multiyear") {
		t.Fatalf("check of a catalog without multiyear: exit %d\n%s", code, stdout.String())
	}
	stdout.Reset()
	// Breaking the catalog makes check fail.
	if _, err := c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: &b, Key: aws.String("ace/ace_mag_1999.csv"), Body: strings.NewReader("")}); err != nil {
		t.Fatal(err)
	}
	if code := run([]string{"registry", "check", "--config", path, "--endpoint-url", ep}, &stdout, &stderr); code != 1 || !strings.Contains(stdout.String(), "ace_mag_1999.csv") {
		t.Fatalf("check of a broken catalog: exit %d\n%s", code, stdout.String())
	}
}

func TestRegistryIngestCommandRejects(t *testing.T) {
	path, b, c := registryInstance(t)
	for k, v := range map[string]string{
		"up/entries.json":         `[{"id": "ace_mag"}]`,
		"up/ace_mag/manifest.csv": "time,s3key,filesize\n1998-02-05T00:00:00Z,ace/mag/1998/ac_h0_mfi_19980205_v04.cdf,7\n",
	} {
		if _, err := c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: &b, Key: aws.String(k), Body: strings.NewReader(v)}); err != nil {
			t.Fatal(err)
		}
	}
	var stdout, stderr bytes.Buffer
	code := run([]string{"registry", "ingest", "--config", path, "--source", "s3://" + b + "/up/", "--endpoint-url", s3test.Endpoint(t)}, &stdout, &stderr)
	if code != 1 || !strings.Contains(stdout.String(), `"code": "NOT_FOUND"`) || !strings.Contains(stderr.String(), "ingest rejected") {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, stdout.String(), stderr.String())
	}
}

func TestRegistryUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"registry"},
		{"registry", "reindex", "--config", "x"},
		{"registry", "reindex", "--config", "x", "--all", "--dataset", "a"},
		{"registry", "ingest", "--config", "x"},
		{"registry", "drop", "--config", "x"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(args, &stdout, &stderr); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}

func TestMain(m *testing.M) { s3test.Main(m) }

// processStderr runs f with the process's stderr (os.Stderr) redirected
// and returns what was written there.
func processStderr(t *testing.T, f func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	saved := os.Stderr
	os.Stderr = w
	got := make(chan string)
	go func() {
		var b bytes.Buffer
		b.ReadFrom(r)
		got <- b.String()
	}()
	defer func() { os.Stderr = saved }()
	f()
	w.Close()
	return <-got
}

// dropChecksums rewrites every file under dir (a bucket of the test
// server's posix backend) as a new file, without the extended attributes
// in which the server keeps an object's checksum.
func dropChecksums(t *testing.T, dir string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
		if err != nil || !e.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := os.Remove(p); err != nil {
			return err
		}
		return os.WriteFile(p, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}
