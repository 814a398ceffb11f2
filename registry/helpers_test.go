package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/heliocloud/heliocloud-go/catalog"
	"github.com/heliocloud/heliocloud-go/registry/s3test"
)

func TestMain(m *testing.M) { s3test.Main(m) }

// fixture is a bucket on the real test server with one configured dataset.
type fixture struct {
	t      testing.TB
	c      *s3.Client
	bucket string
	cfg    *Config
}

const aiaLayout = "2006/01/02/aia_0094_20060102_150405"

func newFixture(t testing.TB, datasets ...Dataset) *fixture {
	t.Helper()
	c := s3test.Client(t)
	b := s3test.Bucket(t, c, "reg")
	if len(datasets) == 0 {
		datasets = []Dataset{{
			ID: "aia_0094", Title: "SDO AIA 94 A", Prefix: "sdo/aia/0094/", IndexPrefix: "sdo/aia/",
			FileType: "fits", Time: TimeRule{Layout: aiaLayout},
		}}
	}
	for i := range datasets {
		datasets[i].Bucket = b
	}
	cfg := &Config{
		Catalogs: map[string]CatalogInfo{b: {Name: "Test archive", Contact: "data@example.org", Egress: "free,public"}},
		Datasets: datasets,
	}
	if err := cfg.Compile(); err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, c: c, bucket: b, cfg: cfg}
}

func (f *fixture) indexer() *Indexer {
	return &Indexer{S3: f.c, Config: f.cfg, Now: func() time.Time { return time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC) }}
}

func aiaKey(t time.Time) string {
	return "sdo/aia/0094/" + t.Format("2006/01/02") + "/aia_0094_" + t.Format("20060102_150405") + ".fits"
}

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func (f *fixture) put(key string, size int) {
	f.t.Helper()
	_, err := f.c.PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: &f.bucket, Key: &key, Body: bytes.NewReader(make([]byte, size)), ContentLength: aws.Int64(int64(size)),
	})
	if err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) del(key string) {
	f.t.Helper()
	if _, err := f.c.DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: &f.bucket, Key: &key}); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) apply(ix *Indexer, keys ...string) *ApplyResult {
	f.t.Helper()
	ev := make([]Event, len(keys))
	for i, k := range keys {
		ev[i] = Event{Bucket: f.bucket, Key: k}
	}
	res := ix.Apply(context.Background(), ev)
	if err := errors.Join(res.Errors...); err != nil {
		f.t.Fatal(err)
	}
	return res
}

func (f *fixture) Fetch(ctx context.Context, key string) ([]byte, error) {
	data, _, err := store{f.c}.get(ctx, f.bucket, key)
	return data, err
}

// rows reads an index file strictly and renders its rows as
// "start stop key size" lines for compact comparisons.
func (f *fixture) rows(key string) []string {
	f.t.Helper()
	data, err := f.Fetch(context.Background(), key)
	if err != nil {
		f.t.Fatalf("%s: %v", key, err)
	}
	rows, _, err := catalog.ReadIndex(data)
	if err != nil {
		f.t.Fatalf("%s: %v\n%s", key, err, data)
	}
	out := []string{}
	for _, r := range rows {
		out = append(out, fmt.Sprintf("%s %s %s %d", catalog.Seconds.Format(r.Start), catalog.Seconds.Format(r.Stop),
			strings.TrimPrefix(r.Key, "s3://"+f.bucket+"/"), r.Size))
	}
	return out
}

func (f *fixture) catalog() *catalog.Catalog {
	f.t.Helper()
	data, err := f.Fetch(context.Background(), catalog.FileName)
	if err != nil {
		f.t.Fatal(err)
	}
	c, err := catalog.Parse(data)
	if err != nil {
		f.t.Fatal(err)
	}
	return c
}

func (f *fixture) etag(key string) string {
	f.t.Helper()
	out, err := f.c.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: &f.bucket, Key: &key})
	if err != nil {
		f.t.Fatalf("%s: %v", key, err)
	}
	return aws.ToString(out.ETag)
}

// clientCheck reads the bucket with the official client's rules.
func (f *fixture) clientCheck() {
	f.t.Helper()
	if errs := catalog.Check(context.Background(), f.bucket, f); len(errs) > 0 {
		f.t.Fatalf("the client could not read the catalog: %v", errors.Join(errs...))
	}
}

func equalLines(t testing.TB, what string, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("%s:\ngot:\n%s\nwant:\n%s", what, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
