package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/heliocloud/heliocloud-go/registry/s3test"
)

// testExtensions stands for the table the configuration's defaults give.
var testExtensions = map[string][]string{"cdf": {"cdf"}, "fits": {"fits", "fts", "fit"}}

func mmsDataset() Dataset {
	return Dataset{ID: "mms1_fgm_brst_l2", Title: "MMS1 FGM burst L2", Prefix: "mms1/fgm/brst/l2/", IndexPrefix: "mms1/fgm/brst/",
		FileType: "cdf", Time: TimeRule{Layout: "2006/01/02/mms1_fgm_brst_l2_20060102150405"}}
}

func (f *fixture) putIn(bucket, key string, body []byte) {
	f.t.Helper()
	if _, err := f.c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: &bucket, Key: &key, Body: bytes.NewReader(body), ContentLength: aws.Int64(int64(len(body)))}); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) report(bucket, key string) IngestReport {
	f.t.Helper()
	data, _, err := store{f.c}.get(context.Background(), bucket, key)
	if err != nil {
		f.t.Fatal(err)
	}
	var r IngestReport
	if err := json.Unmarshal(data, &r); err != nil {
		f.t.Fatal(err)
	}
	return r
}

func (f *fixture) exists(bucket, key string) bool {
	_, ok, err := store{f.c}.head(context.Background(), bucket, key)
	if err != nil {
		f.t.Fatal(err)
	}
	return ok
}

const (
	mmsA = "mms1/fgm/brst/l2/2015/09/01/mms1_fgm_brst_l2_20150901121114_v4.18.0.cdf"
	mmsB = "mms1/fgm/brst/l2/2015/09/01/mms1_fgm_brst_l2_20150901130000_v4.18.0.cdf"
	mmsC = "mms1/fgm/brst/l2/2015/09/02/mms1_fgm_brst_l2_20150902000000_v4.18.0.cdf"
)

func TestIngestReportsEveryProblemAndKeepsInput(t *testing.T) {
	f := newFixture(t, mmsDataset())
	f.cfg.Extensions = testExtensions
	in := s3test.Bucket(t, f.c, "ingest")
	f.putIn(in, "up/entries.json", []byte(`[{"id": "mms1_fgm_brst_l2", "title": "MMS1 FGM"}, {"id": "nope"}]`))
	f.putIn(in, "up/mms1_fgm_brst_l2/manifest.csv", []byte("# time, s3key, filesize\n"+
		"2015-09-01T12:11:14Z, "+mmsA+", 10\n"+
		"2015-09-01T13:00:00Z, "+mmsB+", 99\n"+
		"2015-09-02T00:00:00Z, "+mmsC+", 5\n"+
		"2015-09-03T00:00:00Z, mms1/fgm/brst/l2/2015/09/03/mms1_fgm_brst_l2_20150903000000_v4.18.0.fits, 5\n"+
		"2015-09-04T00:00:00Z, mms1/fgm/brst/l2/2015/09/04/mms1_fgm_brst_l2_20150904000001_v4.18.0.cdf, 5\n"))
	f.putIn(in, "up/"+mmsA, make([]byte, 10))
	f.putIn(in, "up/"+mmsB, make([]byte, 20))
	f.putIn(in, "up/mms1/fgm/brst/l2/2015/09/03/mms1_fgm_brst_l2_20150903000000_v4.18.0.fits", make([]byte, 5))
	f.putIn(in, "up/mms1/fgm/brst/l2/2015/09/04/mms1_fgm_brst_l2_20150904000001_v4.18.0.cdf", make([]byte, 5))

	rep, err := f.indexer().Ingest(context.Background(), "s3://"+in+"/up/")
	if !errors.Is(err, ErrRejected) {
		t.Fatalf("err = %v, want rejection", err)
	}
	got := []string{}
	for _, p := range f.report(in, "up/report.json").Problems {
		got = append(got, fmt.Sprintf("%s %s %s", p.Dataset, p.Code, p.Key))
	}
	equalLines(t, "problems", got, []string{
		"mms1_fgm_brst_l2 WRONG_SIZE " + mmsB,
		"mms1_fgm_brst_l2 NOT_FOUND " + mmsC,
		"mms1_fgm_brst_l2 BAD_EXTENSION mms1/fgm/brst/l2/2015/09/03/mms1_fgm_brst_l2_20150903000000_v4.18.0.fits",
		"mms1_fgm_brst_l2 TIME_MISMATCH mms1/fgm/brst/l2/2015/09/04/mms1_fgm_brst_l2_20150904000001_v4.18.0.cdf",
		"nope UNKNOWN_DATASET ",
	})
	if rep.Status != "rejected" || rep.Copied != 0 {
		t.Fatalf("report %+v", rep)
	}
	if f.exists(f.bucket, mmsA) || f.exists(f.bucket, "catalog.json") {
		t.Fatal("a rejected upload was copied or indexed")
	}
	for _, k := range []string{"up/entries.json", "up/mms1_fgm_brst_l2/manifest.csv", "up/" + mmsA, "up/" + mmsB} {
		if !f.exists(in, k) {
			t.Errorf("input %s was deleted", k)
		}
	}
}

func TestIngestCopiesAndIndexesValidUpload(t *testing.T) {
	f := newFixture(t, mmsDataset())
	f.cfg.Extensions = testExtensions
	in := s3test.Bucket(t, f.c, "ingest")
	f.putIn(in, "entries.json", []byte(`[{"id": "mms1_fgm_brst_l2"}]`))
	f.putIn(in, "mms1_fgm_brst_l2/manifest.csv", []byte("time,s3key,filesize\n2015-09-01T12:11:14Z,"+mmsA+",10\n2016-01-01T00:00:00Z,"+
		strings.ReplaceAll(strings.ReplaceAll(mmsB, "20150901130000", "20160101000000"), "2015/09/01", "2016/01/01")+",20\n"))
	mmsB16 := "mms1/fgm/brst/l2/2016/01/01/mms1_fgm_brst_l2_20160101000000_v4.18.0.cdf"
	f.putIn(in, mmsA, make([]byte, 10))
	f.putIn(in, mmsB16, make([]byte, 20))
	var stages []string
	ix := f.indexer()
	ix.Progress = func(p Progress) { stages = append(stages, p.Stage) }
	rep, err := ix.Ingest(context.Background(), "s3://"+in)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Status != "ingested" || rep.Copied != 2 || len(rep.Problems) != 0 {
		t.Fatalf("report %+v", rep)
	}
	if r := f.report(in, "report.json"); r.Status != "ingested" {
		t.Fatalf("stored report %+v", r)
	}
	equalLines(t, "2015", f.rows("mms1/fgm/brst/mms1_fgm_brst_l2_2015.csv"), []string{
		"2015-09-01T12:11:14Z 2016-01-01T00:00:00Z " + mmsA + " 10",
	})
	equalLines(t, "2016", f.rows("mms1/fgm/brst/mms1_fgm_brst_l2_2016.csv"), []string{
		"2016-01-01T00:00:00Z 2016-01-01T00:00:00Z " + mmsB16 + " 20",
	})
	if !f.exists(in, mmsA) {
		t.Error("ingest deleted its input")
	}
	if strings.Join(stages, ",") != "check,check,copy bytes,copy bytes" {
		t.Errorf("progress %v", stages)
	}
	f.clientCheck()
}
