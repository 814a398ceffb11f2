package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/heliocloud/heliocloud-go/catalog"
)

// ClientOptions configure NewS3Client.
type ClientOptions struct {
	// EndpointURL points at an S3-compatible server; empty means AWS.
	// Path-style addressing is used whenever it is set.
	EndpointURL string
	// Region defaults to the SDK's resolution (AWS_REGION, profile), then us-east-1.
	Region string
}

// NewS3Client returns an S3 client using the default credential chain.
func NewS3Client(ctx context.Context, o ClientOptions) (*s3.Client, error) {
	var opts []func(*awsconfig.LoadOptions) error
	if o.Region != "" {
		opts = append(opts, awsconfig.WithRegion(o.Region))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("aws config: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	return s3.NewFromConfig(cfg, func(so *s3.Options) {
		// The SDK validates a response's checksum when the object has one
		// and otherwise logs "WARN Response has no supported checksum" to
		// stderr, once per GET: on every read from an S3-compatible server,
		// and from S3 for objects written without a checksum. Those lines
		// would bury the CLI's progress; validation itself stays on.
		so.DisableLogOutputChecksumValidationSkipped = true
		if o.EndpointURL != "" {
			so.BaseEndpoint = aws.String(o.EndpointURL)
			so.UsePathStyle = true
		}
	}), nil
}

// errConflict means a conditional write lost a race: re-read and retry.
var errConflict = errors.New("conditional write conflict")

func httpStatus(err error) int {
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

func isNotFound(err error) bool {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "NoSuchKey", "NotFound":
			return true
		}
	}
	return httpStatus(err) == http.StatusNotFound
}

// isConflict recognizes a failed precondition (412) and AWS's
// ConditionalRequestConflict (409) for concurrent conditional writes.
func isConflict(err error) bool {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "PreconditionFailed", "ConditionalRequestConflict":
			return true
		}
	}
	s := httpStatus(err)
	return s == http.StatusPreconditionFailed || s == http.StatusConflict
}

// store wraps the few S3 calls the registry makes.
type store struct{ c *s3.Client }

// get returns an object's bytes and ETag, or catalog.ErrNotFound.
func (s store) get(ctx context.Context, bucket, key string) ([]byte, string, error) {
	body, etag, size, err := s.open(ctx, bucket, key)
	if err != nil {
		return nil, "", err
	}
	defer body.Close()
	var buf bytes.Buffer
	buf.Grow(int(size))
	if _, err := buf.ReadFrom(body); err != nil {
		return nil, "", fmt.Errorf("get s3://%s/%s: %w", bucket, key, err)
	}
	return buf.Bytes(), etag, nil
}

// open returns an object's body, ETag and size, or catalog.ErrNotFound.
func (s store) open(ctx context.Context, bucket, key string) (io.ReadCloser, string, int64, error) {
	out, err := s.c.GetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: &key})
	if err != nil {
		if isNotFound(err) {
			return nil, "", 0, catalog.ErrNotFound
		}
		return nil, "", 0, fmt.Errorf("get s3://%s/%s: %w", bucket, key, err)
	}
	return out.Body, aws.ToString(out.ETag), max(0, aws.ToInt64(out.ContentLength)), nil
}

// getRange reads part of an object ("bytes=0-8191", "bytes=-8192") and
// whether the whole object was returned.
func (s store) getRange(ctx context.Context, bucket, key, rng string) ([]byte, bool, error) {
	out, err := s.c.GetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: &key, Range: &rng})
	if err != nil {
		if isNotFound(err) {
			return nil, false, catalog.ErrNotFound
		}
		if httpStatus(err) == http.StatusRequestedRangeNotSatisfiable {
			return nil, true, nil
		}
		return nil, false, fmt.Errorf("get s3://%s/%s %s: %w", bucket, key, rng, err)
	}
	defer out.Body.Close()
	data, err := io.ReadAll(out.Body)
	if err != nil {
		return nil, false, fmt.Errorf("get s3://%s/%s: %w", bucket, key, err)
	}
	whole := true
	if cr := aws.ToString(out.ContentRange); cr != "" {
		// "bytes 0-8191/123456": whole only if the range covers the size.
		var a, b, n int64
		if _, err := fmt.Sscanf(cr, "bytes %d-%d/%d", &a, &b, &n); err == nil {
			whole = a == 0 && b == n-1
		}
	}
	return data, whole, nil
}

// put writes an object. With conditional set, etag "" means "only if absent"
// (If-None-Match: *) and any other value "only if unchanged" (If-Match); a
// lost race returns errConflict.
func (s store) put(ctx context.Context, bucket, key string, data []byte, contentType string, conditional bool, etag string) error {
	return s.putBody(ctx, bucket, key, bytes.NewReader(data), int64(len(data)), contentType, conditional, etag)
}

// putBody is put with the bytes read from body (a scratch file, say).
func (s store) putBody(ctx context.Context, bucket, key string, body io.ReadSeeker, size int64, contentType string, conditional bool, etag string) error {
	in := &s3.PutObjectInput{
		Bucket:        &bucket,
		Key:           &key,
		Body:          body,
		ContentLength: aws.Int64(size),
		ContentType:   &contentType,
	}
	if conditional {
		if etag == "" {
			in.IfNoneMatch = aws.String("*")
		} else {
			in.IfMatch = aws.String(etag)
		}
	}
	_, err := s.c.PutObject(ctx, in)
	if err != nil {
		if conditional && (isConflict(err) || (etag != "" && isNotFound(err))) {
			return errConflict
		}
		return fmt.Errorf("put s3://%s/%s: %w", bucket, key, err)
	}
	return nil
}

// head returns an object's size, or exists=false.
func (s store) head(ctx context.Context, bucket, key string) (size int64, exists bool, err error) {
	out, err := s.c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &bucket, Key: &key})
	if err != nil {
		if isNotFound(err) {
			return 0, false, nil
		}
		return 0, false, fmt.Errorf("head s3://%s/%s: %w", bucket, key, err)
	}
	return aws.ToInt64(out.ContentLength), true, nil
}

// object is one entry of a listing.
type object struct {
	key  string
	size int64
	etag string
}

// list calls fn with every page of objects under prefix. The next page is
// fetched while fn handles the current one, so that parsing costs no time
// beyond the listing itself.
func (s store) list(ctx context.Context, bucket, prefix string, fn func(page []object) error) error {
	type page struct {
		objects []object
		err     error
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pages := make(chan page, 2)
	go func() {
		defer close(pages)
		p := s3.NewListObjectsV2Paginator(s.c, &s3.ListObjectsV2Input{Bucket: &bucket, Prefix: &prefix})
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				select {
				case pages <- page{err: fmt.Errorf("list s3://%s/%s: %w", bucket, prefix, err)}:
				case <-ctx.Done():
				}
				return
			}
			pg := page{objects: make([]object, len(out.Contents))}
			for i, o := range out.Contents {
				pg.objects[i] = object{aws.ToString(o.Key), aws.ToInt64(o.Size), aws.ToString(o.ETag)}
			}
			select {
			case pages <- pg:
			case <-ctx.Done():
				return
			}
		}
	}()
	for pg := range pages {
		if pg.err != nil {
			return pg.err
		}
		if err := fn(pg.objects); err != nil {
			return err
		}
	}
	return ctx.Err()
}

func copySource(bucket, key string) string {
	return bucket + "/" + strings.ReplaceAll(url.PathEscape(key), "%2F", "/")
}

// S3's limits for copies: the largest single copy and part, the smallest
// part but the last, the most parts.
const (
	maxCopySize = 5 << 30
	minPartSize = 5 << 20
	maxParts    = 10000
)

// copy copies an object of the given size between buckets on the server
// side: with one CopyObject up to partSize, in parts above it, since S3
// refuses a single copy of more than 5 GiB. copied, when set, is called
// with the bytes of each finished copy or part.
func (s store) copy(ctx context.Context, srcBucket, srcKey, dstBucket, dstKey string, size, partSize int64, copied func(int64)) error {
	if copied == nil {
		copied = func(int64) {}
	}
	var err error
	if size > partSize {
		err = s.copyParts(ctx, srcBucket, srcKey, dstBucket, dstKey, size, partSize, copied)
	} else {
		src := copySource(srcBucket, srcKey)
		if _, err = s.c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: &dstBucket, Key: &dstKey, CopySource: &src}); err == nil {
			copied(size)
		}
	}
	if err != nil {
		return fmt.Errorf("copy s3://%s/%s to s3://%s/%s: %w", srcBucket, srcKey, dstBucket, dstKey, err)
	}
	return nil
}

// copyParts copies with UploadPartCopy, a few parts at a time. A multipart
// upload does not take the source's headers, metadata and tags as
// CopyObject does, so they are read from the source and given to the new
// upload. Every part is copied only if the source still has the ETag read
// first: a file replaced during the copy fails it instead of mixing two
// versions. A failed copy aborts the upload so that no parts are left to be
// billed.
func (s store) copyParts(ctx context.Context, srcBucket, srcKey, dstBucket, dstKey string, size, partSize int64, copied func(int64)) error {
	head, err := s.c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &srcBucket, Key: &srcKey})
	if err != nil {
		return err
	}
	if n := aws.ToInt64(head.ContentLength); n != size {
		return fmt.Errorf("the source has %d bytes, %d when it was checked", n, size)
	}
	create := &s3.CreateMultipartUploadInput{
		Bucket: &dstBucket, Key: &dstKey,
		ContentType: head.ContentType, ContentEncoding: head.ContentEncoding, ContentDisposition: head.ContentDisposition,
		ContentLanguage: head.ContentLanguage, CacheControl: head.CacheControl,
		WebsiteRedirectLocation: head.WebsiteRedirectLocation, Metadata: head.Metadata,
	}
	// The SDK takes Expires only as a time: a header that is not an HTTP
	// date (which caches treat as already expired) cannot be carried over.
	if t, err := http.ParseTime(aws.ToString(head.ExpiresString)); err == nil {
		create.Expires = &t
	}
	// Tags are read only when there are some, so that untagged files need
	// no s3:GetObjectTagging permission.
	if aws.ToInt32(head.TagCount) > 0 {
		tags, err := s.c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: &srcBucket, Key: &srcKey})
		if err != nil {
			return fmt.Errorf("read tags: %w", err)
		}
		q := url.Values{}
		for _, t := range tags.TagSet {
			q.Set(aws.ToString(t.Key), aws.ToString(t.Value))
		}
		// %20 rather than '+' for spaces: it means a space to every reader
		// of a query string.
		create.Tagging = aws.String(strings.ReplaceAll(q.Encode(), "+", "%20"))
	}
	up, err := s.c.CreateMultipartUpload(ctx, create)
	if err != nil {
		return err
	}
	partSize = max(partSize, (size+maxParts-1)/maxParts)
	n := int((size + partSize - 1) / partSize)
	parts := make([]types.CompletedPart, n)
	src := copySource(srcBucket, srcKey)
	err = parallel(ctx, n, 4, func(ctx context.Context, i int) error {
		from := int64(i) * partSize
		to := min(from+partSize, size) - 1
		out, err := s.c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{
			Bucket: &dstBucket, Key: &dstKey, UploadId: up.UploadId, PartNumber: aws.Int32(int32(i + 1)),
			CopySource: &src, CopySourceRange: aws.String(fmt.Sprintf("bytes=%d-%d", from, to)), CopySourceIfMatch: head.ETag,
		})
		if err != nil {
			return fmt.Errorf("part %d of %d: %w", i+1, n, err)
		}
		if out.CopyPartResult == nil {
			return fmt.Errorf("part %d of %d: the server returned no ETag", i+1, n)
		}
		parts[i] = types.CompletedPart{ETag: out.CopyPartResult.ETag, PartNumber: aws.Int32(int32(i + 1))}
		copied(to - from + 1)
		return nil
	})
	if err == nil {
		_, err = s.c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
			Bucket: &dstBucket, Key: &dstKey, UploadId: up.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
		})
	}
	if err != nil {
		_, aerr := s.c.AbortMultipartUpload(context.WithoutCancel(ctx), &s3.AbortMultipartUploadInput{Bucket: &dstBucket, Key: &dstKey, UploadId: up.UploadId})
		if aerr != nil {
			return errors.Join(err, fmt.Errorf("abort upload %s: %w", aws.ToString(up.UploadId), aerr))
		}
		return err
	}
	return nil
}

// backoff sleeps before retry n of a lost conditional write, with jitter so
// that writers that collided do not collide again.
func backoff(ctx context.Context, n int) error {
	d := time.Duration(10<<min(n, 6)) * time.Millisecond
	d = d/2 + time.Duration(rand.Int64N(int64(d)))
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// maxAttempts bounds the retries of one conditional update; past it the
// event fails and SQS redelivers it later.
const maxAttempts = 40

// Fetcher reads objects of one bucket for catalog.Check.
func (ix *Indexer) Fetcher(bucket string) catalog.Fetcher { return bucketFetcher{ix.store(), bucket} }

type bucketFetcher struct {
	s      store
	bucket string
}

func (f bucketFetcher) Fetch(ctx context.Context, key string) ([]byte, error) {
	data, _, err := f.s.get(ctx, f.bucket, key)
	return data, err
}
