package registry

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/heliocloud/heliocloud-go/registry/s3test"
)

// bigSize is over the test server's single-copy limit and not a multiple
// of the 5 MiB parts, so the last part is short.
const bigSize = s3test.CopyLimit + 4<<20 + 1234

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/4099)
	}
	return b
}

// putDescribed uploads a file with every header, metadata and tags that a
// copy should carry over.
func (f *fixture) putDescribed(bucket, key string, body []byte) {
	f.t.Helper()
	_, err := f.c.PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: &bucket, Key: &key, Body: bytes.NewReader(body), ContentLength: aws.Int64(int64(len(body))),
		ContentType: aws.String("application/x-cdf"), CacheControl: aws.String("max-age=3600"),
		ContentDisposition: aws.String(`attachment; filename="burst.cdf"`), ContentLanguage: aws.String("en"),
		Expires:  aws.Time(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)),
		Metadata: map[string]string{"instrument": "fgm", "processing": "l2 v4.18.0"},
		Tagging:  aws.String("mission=MMS&level=L2%20burst"),
	})
	if err != nil {
		f.t.Fatal(err)
	}
}

// described is what a copy must preserve of an object.
func (f *fixture) described(bucket, key string) string {
	f.t.Helper()
	h, err := f.c.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: &bucket, Key: &key})
	if err != nil {
		f.t.Fatalf("%s/%s: %v", bucket, key, err)
	}
	tags, err := f.c.GetObjectTagging(context.Background(), &s3.GetObjectTaggingInput{Bucket: &bucket, Key: &key})
	if err != nil {
		f.t.Fatal(err)
	}
	var ts []string
	for _, t := range tags.TagSet {
		ts = append(ts, aws.ToString(t.Key)+"="+aws.ToString(t.Value))
	}
	sort.Strings(ts)
	return fmt.Sprintf("size=%d type=%s cache=%s disposition=%s language=%s expires=%s metadata=%v tags=%v",
		aws.ToInt64(h.ContentLength), aws.ToString(h.ContentType), aws.ToString(h.CacheControl),
		aws.ToString(h.ContentDisposition), aws.ToString(h.ContentLanguage), aws.ToString(h.ExpiresString), h.Metadata, ts)
}

func (f *fixture) body(bucket, key string) []byte {
	f.t.Helper()
	out, err := f.c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: &bucket, Key: &key})
	if err != nil {
		f.t.Fatal(err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		f.t.Fatal(err)
	}
	return b
}

func TestIngestCopiesLargeFilesInParts(t *testing.T) {
	f := newFixture(t, mmsDataset())
	f.cfg.Extensions = testExtensions
	in := s3test.Bucket(t, f.c, "ingest")
	big, small := pattern(bigSize), pattern(1000)
	f.putIn(in, "entries.json", []byte(`[{"id": "mms1_fgm_brst_l2"}]`))
	f.putIn(in, "mms1_fgm_brst_l2/manifest.csv", []byte(fmt.Sprintf("time,s3key,filesize\n2015-09-01T12:11:14Z,%s,%d\n2015-09-01T13:00:00Z,%s,%d\n",
		mmsA, len(big), mmsB, len(small))))
	f.putDescribed(in, mmsA, big)
	f.putDescribed(in, mmsB, small)

	// The server refuses to copy the big file in one request, as S3 does
	// above 5 GiB.
	if err := (store{f.c}).copy(context.Background(), in, mmsA, f.bucket, "refused", bigSize, maxCopySize, nil); err == nil || !strings.Contains(err.Error(), "larger than the maximum allowable size") {
		t.Fatalf("single copy of %d bytes: %v, want the server's refusal", bigSize, err)
	}

	ix := f.indexer()
	ix.CopyPartSize = 5 << 20
	var copyReports []Progress
	ix.Progress = func(p Progress) {
		if p.Stage == "copy bytes" {
			copyReports = append(copyReports, p)
		}
	}
	rep, err := ix.Ingest(context.Background(), "s3://"+in)
	if err != nil {
		t.Fatal(err)
	}
	// One report per part of the big file and one for the small file;
	// parts finish in any order, so the highest count is the total.
	var most int64
	for _, p := range copyReports {
		most = max(most, p.Done)
	}
	if len(copyReports) != 4 || most != bigSize+1000 || copyReports[0].Total != bigSize+1000 {
		t.Errorf("copy progress %+v", copyReports)
	}
	if rep.Status != "ingested" || rep.Copied != 2 {
		t.Fatalf("report %+v", rep)
	}
	if got := f.etag(mmsA); !strings.HasSuffix(got, `-3"`) {
		t.Errorf("ETag of the big copy %s: want one of a 3-part upload", got)
	}
	if got := f.etag(mmsB); strings.Contains(got, "-") {
		t.Errorf("ETag of the small copy %s: want a single copy", got)
	}
	if !bytes.Equal(f.body(f.bucket, mmsA), big) {
		t.Error("the big file's bytes differ from the upload")
	}
	for _, k := range []string{mmsA, mmsB} {
		if src, dst := f.described(in, k), f.described(f.bucket, k); src != dst {
			t.Errorf("%s:\nsource %s\ncopy   %s", k, src, dst)
		}
	}
	if want := "type=application/x-cdf cache=max-age=3600 disposition=attachment; filename=\"burst.cdf\" language=en expires=Wed, 02 Jan 2030 03:04:05 GMT metadata=map[instrument:fgm processing:l2 v4.18.0] tags=[level=L2 burst mission=MMS]"; !strings.Contains(f.described(f.bucket, mmsA), want) {
		t.Errorf("copy lost its headers: %s", f.described(f.bucket, mmsA))
	}
	equalLines(t, "2015", f.rows("mms1/fgm/brst/mms1_fgm_brst_l2_2015.csv"), []string{
		fmt.Sprintf("2015-09-01T12:11:14Z 2015-09-01T13:00:00Z %s %d", mmsA, bigSize),
		"2015-09-01T13:00:00Z 2015-09-01T13:00:00Z " + mmsB + " 1000",
	})
	f.clientCheck()
}

// replacingClient replaces the source object when the first part copy
// request goes out, as an uploader rewriting a file during ingest would.
type replacingClient struct {
	once    sync.Once
	replace func()
}

func (c *replacingClient) Do(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodPut && r.Header.Get("X-Amz-Copy-Source") != "" && r.URL.Query().Get("uploadId") != "" {
		c.once.Do(c.replace)
	}
	return http.DefaultClient.Do(r)
}

func TestPartCopyOfAReplacedFileFailsAndLeavesNothing(t *testing.T) {
	f := newFixture(t, mmsDataset())
	in := s3test.Bucket(t, f.c, "ingest")
	f.putIn(in, "src.cdf", pattern(bigSize))
	// Same size, other bytes: only the ETag tells the versions apart.
	rc := &replacingClient{replace: func() { f.putIn(in, "src.cdf", bytes.Repeat([]byte{1}, bigSize)) }}
	c := s3.New(s3.Options{
		BaseEndpoint: aws.String(s3test.Endpoint(t)), UsePathStyle: true, Region: "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider(s3test.AccessKey, s3test.SecretKey, ""),
		HTTPClient:  rc,
	})
	err := (store{c}).copy(context.Background(), in, "src.cdf", f.bucket, "dst.cdf", bigSize, 5<<20, nil)
	if err == nil {
		t.Fatal("a file replaced during its copy was copied")
	}
	if f.exists(f.bucket, "dst.cdf") {
		t.Error("a failed copy left an object")
	}
	ups, lerr := f.c.ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: &f.bucket})
	if lerr != nil {
		t.Fatal(lerr)
	}
	if len(ups.Uploads) != 0 {
		t.Errorf("a failed copy left %d uploads (error was %v)", len(ups.Uploads), err)
	}

	// A size other than the one checked is refused before any upload.
	if err := (store{f.c}).copy(context.Background(), in, "src.cdf", f.bucket, "dst.cdf", bigSize+1, 5<<20, nil); err == nil || !strings.Contains(err.Error(), "when it was checked") {
		t.Fatalf("copy of a file whose size changed: %v", err)
	}
}

func TestCopyPartSizeStaysWithinS3Limits(t *testing.T) {
	for _, tc := range []struct{ set, want int64 }{
		{0, DefaultCopyPartSize},
		{1, 5 << 20},
		{64 << 20, 64 << 20},
		{10 << 30, 5 << 30},
	} {
		if got := (&Indexer{CopyPartSize: tc.set}).copyPartSize(); got != tc.want {
			t.Errorf("CopyPartSize %d: %d, want %d", tc.set, got, tc.want)
		}
	}
}
