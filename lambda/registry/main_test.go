package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/heliocloud/heliocloud-go/registry"
	"github.com/heliocloud/heliocloud-go/registry/s3test"
)

func TestMain(m *testing.M) { s3test.Main(m) }

func setup(t *testing.T) (*handler, *s3.Client, string) {
	c := s3test.Client(t)
	b := s3test.Bucket(t, c, "lambda")
	cfgJSON := fmt.Sprintf(`{"catalogs": {%[1]q: {"name": "N", "contact": "c", "egress": "free"}},
	 "datasets": [
	  {"id": "good", "title": "G", "bucket": %[1]q, "prefix": "good/", "indexPrefix": "", "filetype": "cdf", "time": {"layout": "20060102"}},
	  {"id": "broken", "title": "B", "bucket": %[1]q, "prefix": "broken/", "indexPrefix": "", "filetype": "cdf", "time": {"layout": "20060102"}}]}`, b)
	t.Setenv(registry.EnvConfig, cfgJSON)
	cfg, err := registry.ConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	return &handler{ix: &registry.Indexer{S3: c, Config: cfg}, log: slog.New(slog.NewTextHandler(io.Discard, nil))}, c, b
}

func put(t *testing.T, c *s3.Client, b, k, body string) {
	if _, err := c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: &b, Key: &k, Body: bytes.NewReader([]byte(body))}); err != nil {
		t.Fatal(err)
	}
}

func notification(b string, keys ...string) string {
	var recs []map[string]any
	for _, k := range keys {
		recs = append(recs, map[string]any{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
			"s3": map[string]any{"bucket": map[string]any{"name": b}, "object": map[string]any{"key": url.QueryEscape(k)}}})
	}
	out, _ := json.Marshal(map[string]any{"Records": recs})
	return string(out)
}

func TestSQSBatchReportsOnlyFailedMessages(t *testing.T) {
	h, c, b := setup(t)
	put(t, c, b, "good/x 20200101.cdf", "12345")
	put(t, c, b, "broken/x_20200101.cdf", "1")
	// A corrupt index file makes the broken dataset's events fail.
	put(t, c, b, "broken_2020.csv", "not,an,index\n")
	ev := events.SQSEvent{Records: []events.SQSMessage{
		{MessageId: "m1", EventSource: "aws:sqs", Body: notification(b, "good/x 20200101.cdf", "good/README")},
		{MessageId: "m2", EventSource: "aws:sqs", Body: notification(b, "broken/x_20200101.cdf")},
		{MessageId: "m3", EventSource: "aws:sqs", Body: `{"Service":"Amazon S3","Event":"s3:TestEvent"}`},
		{MessageId: "m4", EventSource: "aws:sqs", Body: `garbage`},
	}}
	raw, _ := json.Marshal(ev)
	out, err := h.handle(context.Background(), raw)
	if err != nil {
		t.Fatal(err)
	}
	resp := out.(events.SQSEventResponse)
	got, _ := json.Marshal(resp)
	if string(got) != `{"batchItemFailures":[{"itemIdentifier":"m2"},{"itemIdentifier":"m4"}]}` {
		t.Fatalf("response %s", got)
	}
	o, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: &b, Key: aws.String("good_2020.csv")})
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(o.Body)
	if want := "#start,stop,datakey,filesize\n2020-01-01T00:00:00Z,2020-01-01T00:00:00Z,s3://" + b + "/good/x 20200101.cdf,5\n"; string(data) != want {
		t.Fatalf("index:\n%s", data)
	}
}

func TestDirectInvocations(t *testing.T) {
	h, c, b := setup(t)
	put(t, c, b, "good/a_20190101.cdf", "1")
	put(t, c, b, "good/a_20210101.cdf", "1")
	out, err := h.handle(context.Background(), []byte(`{"action":"reindex","dataset":"good"}`))
	if err != nil {
		t.Fatal(err)
	}
	if r := out.(*registry.ReindexResult); r.Objects != 2 || len(r.Written) != 4 {
		t.Fatalf("result %+v", r)
	}
	if _, err := h.handle(context.Background(), []byte(`{"action":"reindex","all":true}`)); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{`{"action":"reindex","dataset":"nope"}`, `{"action":"drop"}`, `{"action":"reindex","datset":"good"}`} {
		if _, err := h.handle(context.Background(), []byte(bad)); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	out, err = h.handle(context.Background(), []byte(`{"action":"ingest","source":"s3://`+b+`/nothing-here/"}`))
	if err != nil {
		t.Fatal(err)
	}
	if r := out.(*registry.IngestReport); r.Status != "rejected" || r.Problems[0].Code != registry.BadManifest {
		t.Fatalf("ingest %+v", r)
	}
}
