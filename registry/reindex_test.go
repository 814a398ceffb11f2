package registry

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/heliocloud/heliocloud-go/catalog"
	"github.com/heliocloud/heliocloud-go/registry/s3test"
)

// countingClient counts the PUT requests per object path that reach the
// server.
type countingClient struct {
	mu   sync.Mutex
	puts map[string]int
	// refused counts conditional writes the server refused (412).
	refused int
}

func (c *countingClient) Do(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultClient.Do(r)
	if r.Method == http.MethodPut {
		c.mu.Lock()
		c.puts[r.URL.Path]++
		if err == nil && resp.StatusCode == http.StatusPreconditionFailed {
			c.refused++
		}
		c.mu.Unlock()
	}
	return resp, err
}

func (f *fixture) countingIndexer() (*Indexer, *countingClient) {
	cc := &countingClient{puts: map[string]int{}}
	ix := f.indexer()
	ix.S3 = s3.New(s3.Options{
		BaseEndpoint: aws.String(s3test.Endpoint(f.t)), UsePathStyle: true, Region: "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider(s3test.AccessKey, s3test.SecretKey, ""),
		HTTPClient:  cc,
	})
	return ix, cc
}

// A dataset over 2018..2021 with nothing in 2020, a stale 2016 file from
// data since removed, and a stray key.
func seedSeveralYears(f *fixture) (keys []string) {
	for _, t := range []string{"2018-03-01T00:00:00Z", "2018-12-31T23:59:59Z", "2019-01-01T00:00:00Z", "2019-06-01T12:00:00Z", "2021-02-02T02:02:02Z"} {
		k := aiaKey(ts(t))
		f.put(k, len(keys)+1)
		keys = append(keys, k)
	}
	f.put("sdo/aia/0094/notes.txt", 3)
	f.put("sdo/aia/aia_0094_2016.csv", 0)
	return keys
}

var severalYearsRows = map[string][]string{
	"sdo/aia/aia_0094_2016.csv": {},
	"sdo/aia/aia_0094_2018.csv": {
		"2018-03-01T00:00:00Z 2018-12-31T23:59:59Z sdo/aia/0094/2018/03/01/aia_0094_20180301_000000.fits 1",
		"2018-12-31T23:59:59Z 2019-01-01T00:00:00Z sdo/aia/0094/2018/12/31/aia_0094_20181231_235959.fits 2",
	},
	"sdo/aia/aia_0094_2019.csv": {
		"2019-01-01T00:00:00Z 2019-06-01T12:00:00Z sdo/aia/0094/2019/01/01/aia_0094_20190101_000000.fits 3",
		"2019-06-01T12:00:00Z 2021-02-02T02:02:02Z sdo/aia/0094/2019/06/01/aia_0094_20190601_120000.fits 4",
	},
	"sdo/aia/aia_0094_2020.csv": {},
	"sdo/aia/aia_0094_2021.csv": {
		"2021-02-02T02:02:02Z 2021-02-02T02:02:02Z sdo/aia/0094/2021/02/02/aia_0094_20210202_020202.fits 5",
	},
}

func (f *fixture) checkSeveralYears(res *ReindexResult) {
	f.t.Helper()
	if res.Objects != 5 || res.SkippedCount != 1 || res.Skipped[0].Key != "sdo/aia/0094/notes.txt" {
		f.t.Fatalf("result %+v", res)
	}
	for k, want := range severalYearsRows {
		equalLines(f.t, k, f.rows(k), want)
	}
	e := f.catalog().Catalog[0]
	if e.Start != "2018-03-01T00:00:00Z" || e.Stop != "2021-02-02T02:02:02Z" {
		f.t.Fatalf("entry %+v", e)
	}
	f.clientCheck()
}

func TestReindexSeveralYearsWithEmptyYear(t *testing.T) {
	f := newFixture(t)
	seedSeveralYears(f)
	ix, cc := f.countingIndexer()
	var stages []string
	ix.Progress = func(p Progress) { stages = append(stages, p.Stage) }
	res, err := ix.Reindex(context.Background(), &f.cfg.Datasets[0])
	if err != nil {
		t.Fatal(err)
	}
	f.checkSeveralYears(res)
	for k := range severalYearsRows {
		if n := cc.puts["/"+f.bucket+"/"+k]; n != 1 {
			t.Errorf("%s written %d times, want once", k, n)
		}
	}
	if len(stages) == 0 || !strings.HasPrefix(stages[0], "list") {
		t.Errorf("progress stages %v", stages)
	}
	// The rebuilt index takes incremental events as before.
	k := aiaKey(ts("2020-07-04T00:00:00Z"))
	f.put(k, 9)
	f.apply(f.indexer(), k)
	equalLines(t, "2019 after an event in 2020", f.rows("sdo/aia/aia_0094_2019.csv")[1:], []string{
		"2019-06-01T12:00:00Z 2020-07-04T00:00:00Z sdo/aia/0094/2019/06/01/aia_0094_20190601_120000.fits 4",
	})
	f.clientCheck()
}

func TestReindexFromInventory(t *testing.T) {
	f := newFixture(t)
	keys := seedSeveralYears(f)
	inv := s3test.Bucket(t, f.c, "inventory")
	// The inventory is of a versioned bucket: one key has an older version
	// and one a delete marker, and one object lies outside the prefix.
	var csvBody bytes.Buffer
	row := func(key string, size int, latest, marker bool) {
		fmt.Fprintf(&csvBody, "%q,%q,%q,%q,%q,%q\n", f.bucket, url.QueryEscape(key), "v1", fmt.Sprint(latest), fmt.Sprint(marker), fmt.Sprint(size))
	}
	for i, k := range keys {
		row(k, i+1, true, false)
	}
	row(keys[0], 999, false, false)
	row(aiaKey(ts("2017-01-01T00:00:00Z")), 0, true, true)
	row("sdo/aia/0094/notes.txt", 3, true, false)
	row("elsewhere/2017/01/01/aia_0094_20170101_000000.fits", 1, true, false)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(csvBody.Bytes())
	zw.Close()
	dataKey := "inv/" + f.bucket + "/all/data/part-1.csv.gz"
	manifest := fmt.Sprintf(`{"sourceBucket": %q, "destinationBucket": "arn:aws:s3:::%s", "version": "2016-11-30",
 "fileFormat": "CSV", "fileSchema": "Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size",
 "files": [{"key": %q, "size": %d, "MD5checksum": "x"}]}`, f.bucket, inv, dataKey, gz.Len())
	for k, body := range map[string][]byte{dataKey: gz.Bytes(), "inv/" + f.bucket + "/all/2026-11-25T00-00Z/manifest.json": []byte(manifest)} {
		if _, err := f.c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: &inv, Key: aws.String(k), Body: bytes.NewReader(body)}); err != nil {
			t.Fatal(err)
		}
	}
	res, err := f.indexer().ReindexInventory(context.Background(), &f.cfg.Datasets[0], "s3://"+inv+"/inv/"+f.bucket+"/all/2026-11-25T00-00Z/manifest.json")
	if err != nil {
		t.Fatal(err)
	}
	f.checkSeveralYears(res)
}

// interceptClient runs hook once, just before the first PUT whose path ends
// with suffix reaches the server.
type interceptClient struct {
	suffix string
	hook   func()
	once   sync.Once
}

func (c *interceptClient) Do(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, c.suffix) {
		c.once.Do(c.hook)
	}
	return http.DefaultClient.Do(r)
}

// Events applied between a rebuild's listing and its write of the same year
// file are kept: the conditional write fails and the year is merged.
func TestReindexKeepsEventsAppliedMeanwhile(t *testing.T) {
	f := newFixture(t)
	keys := seedSeveralYears(f)
	added := aiaKey(ts("2019-03-03T03:03:03Z"))
	ic := &interceptClient{suffix: "/aia_0094_2019.csv", hook: func() {
		f.put(added, 77)
		f.del(keys[3])
		f.apply(f.indexer(), added, keys[3])
	}}
	ix := f.indexer()
	ix.S3 = s3.New(s3.Options{
		BaseEndpoint: aws.String(s3test.Endpoint(t)), UsePathStyle: true, Region: "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider(s3test.AccessKey, s3test.SecretKey, ""),
		HTTPClient:  ic,
	})
	if _, err := ix.Reindex(context.Background(), &f.cfg.Datasets[0]); err != nil {
		t.Fatal(err)
	}
	equalLines(t, "2019", f.rows("sdo/aia/aia_0094_2019.csv"), []string{
		"2019-01-01T00:00:00Z 2019-03-03T03:03:03Z sdo/aia/0094/2019/01/01/aia_0094_20190101_000000.fits 3",
		"2019-03-03T03:03:03Z 2021-02-02T02:02:02Z sdo/aia/0094/2019/03/03/aia_0094_20190303_030303.fits 77",
	})
	f.clientCheck()
}

// A rebuild from an inventory keeps objects newer than the report and drops
// rows of objects that no longer exist.
func TestReindexInventoryKeepsNewerObjects(t *testing.T) {
	f := newFixture(t)
	old := aiaKey(ts("2020-01-01T00:00:00Z"))
	gone := aiaKey(ts("2020-02-01T00:00:00Z"))
	newer := aiaKey(ts("2020-03-01T00:00:00Z"))
	for _, k := range []string{old, gone, newer} {
		f.put(k, 5)
	}
	f.apply(f.indexer(), old, gone, newer)
	f.del(gone)
	// The report predates newer, and lists only old.
	inv := s3test.Bucket(t, f.c, "inventory")
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	fmt.Fprintf(zw, "%q,%q,%q\n", f.bucket, url.QueryEscape(old), "5")
	zw.Close()
	f.putIn(inv, "data/1.csv.gz", gz.Bytes())
	f.putIn(inv, "manifest.json", []byte(fmt.Sprintf(`{"sourceBucket": %q, "destinationBucket": "arn:aws:s3:::%s", "fileFormat": "CSV",
	 "fileSchema": "Bucket, Key, Size", "files": [{"key": "data/1.csv.gz"}]}`, f.bucket, inv)))
	res, err := f.indexer().ReindexInventory(context.Background(), &f.cfg.Datasets[0], "s3://"+inv+"/manifest.json")
	if err != nil {
		t.Fatal(err)
	}
	if res.Objects != 1 {
		t.Fatalf("result %+v", res)
	}
	equalLines(t, "2020", f.rows("sdo/aia/aia_0094_2020.csv"), []string{
		"2020-01-01T00:00:00Z 2020-03-01T00:00:00Z " + old + " 5",
		"2020-03-01T00:00:00Z 2020-03-01T00:00:00Z " + newer + " 5",
	})
	f.clientCheck()
}

// A rebuild from an inventory repairs a wrong size in a year file: when the
// report and the file disagree, S3 decides (the object may have been
// replaced since the report, or the file edited by hand).
func TestReindexInventoryRepairsSize(t *testing.T) {
	f := newFixture(t)
	k := aiaKey(ts("2020-01-01T00:00:00Z"))
	f.put(k, 7)
	f.apply(f.indexer(), k)
	// The year file says 5 bytes (a stale or hand-edited row), the report
	// 6, and the object really has 7.
	f.putIn(f.bucket, "sdo/aia/aia_0094_2020.csv", []byte("#start,stop,datakey,filesize\n2020-01-01T00:00:00Z,2020-01-01T00:00:00Z,s3://"+f.bucket+"/"+k+",5\n"))
	if _, err := f.indexer().ReindexInventory(context.Background(), &f.cfg.Datasets[0], f.putInventory([]string{k}, []int{6})); err != nil {
		t.Fatal(err)
	}
	equalLines(t, "2020", f.rows("sdo/aia/aia_0094_2020.csv"), []string{
		"2020-01-01T00:00:00Z 2020-01-01T00:00:00Z " + k + " 7",
	})
	f.clientCheck()
}

// Rows that pass the memory budget go to scratch files by year and come back
// the same: a rebuild through them writes what one in memory writes, in the
// bytes catalog.AppendIndex gives.
func TestReindexThroughScratchFiles(t *testing.T) {
	for _, inventory := range []bool{false, true} {
		t.Run(fmt.Sprint("inventory=", inventory), func(t *testing.T) {
			f := newFixture(t)
			keys := seedSeveralYears(f)
			ix := f.indexer()
			ix.spillBytes = 1
			var res *ReindexResult
			var err error
			if inventory {
				inv := s3test.Bucket(t, f.c, "inventory")
				var gz bytes.Buffer
				zw := gzip.NewWriter(&gz)
				// Out of order, and one key twice.
				for _, i := range []int{4, 2, 0, 3, 1, 0} {
					fmt.Fprintf(zw, "%q,%q,%q\n", f.bucket, url.QueryEscape(keys[i]), fmt.Sprint(i+1))
				}
				fmt.Fprintf(zw, "%q,%q,%q\n", f.bucket, "sdo/aia/0094/notes.txt", "3")
				zw.Close()
				f.putIn(inv, "data/1.csv.gz", gz.Bytes())
				f.putIn(inv, "manifest.json", []byte(fmt.Sprintf(`{"sourceBucket": %q, "destinationBucket": "arn:aws:s3:::%s", "fileFormat": "CSV",
	 "fileSchema": "Bucket, Key, Size", "files": [{"key": "data/1.csv.gz"}]}`, f.bucket, inv)))
				res, err = ix.ReindexInventory(context.Background(), &f.cfg.Datasets[0], "s3://"+inv+"/manifest.json")
				res.Objects-- // the key listed twice is counted twice
			} else {
				res, err = ix.Reindex(context.Background(), &f.cfg.Datasets[0])
			}
			if err != nil {
				t.Fatal(err)
			}
			f.checkSeveralYears(res)
			for k := range severalYearsRows {
				data, err := f.Fetch(context.Background(), k)
				if err != nil {
					t.Fatal(err)
				}
				rows, format, err := catalog.ReadIndex(data)
				if err != nil {
					t.Fatal(err)
				}
				if format == "" {
					format = catalog.Seconds
				}
				if want := catalog.AppendIndex(nil, rows, format); !bytes.Equal(data, want) {
					t.Errorf("%s:\n%s\nwant\n%s", k, data, want)
				}
			}
		})
	}
}

// putInventory writes a one-file CSV inventory report (Bucket, Key, Size) of
// the fixture's bucket listing keys with their sizes, and returns its
// manifest's URI.
func (f *fixture) putInventory(keys []string, sizes []int) string {
	f.t.Helper()
	inv := s3test.Bucket(f.t, f.c, "inventory")
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	for i, k := range keys {
		fmt.Fprintf(zw, "%q,%q,%q\n", f.bucket, url.QueryEscape(k), fmt.Sprint(sizes[i]))
	}
	zw.Close()
	f.putIn(inv, "data/1.csv.gz", gz.Bytes())
	f.putIn(inv, "manifest.json", []byte(fmt.Sprintf(`{"sourceBucket": %q, "destinationBucket": "arn:aws:s3:::%s", "fileFormat": "CSV",
	 "fileSchema": "Bucket, Key, Size", "files": [{"key": "data/1.csv.gz"}]}`, f.bucket, inv)))
	return "s3://" + inv + "/manifest.json"
}

// A year file the client cannot read (CR line endings, a hand edit) is
// rebuilt from the report, as if it were empty.
func TestReindexInventoryReplacesUnreadableYearFile(t *testing.T) {
	f := newFixture(t)
	keys := seedSeveralYears(f)
	f.putIn(f.bucket, "sdo/aia/aia_0094_2019.csv", []byte("#start,stop,datakey,filesize\r\n2019-01-01T00:00:00Z,2019-01-01T00:00:00Z,s3://"+f.bucket+"/gone.fits,1\r\n"))
	res, err := f.indexer().ReindexInventory(context.Background(), &f.cfg.Datasets[0], f.putInventory(append(keys, "sdo/aia/0094/notes.txt"), []int{1, 2, 3, 4, 5, 3}))
	if err != nil {
		t.Fatal(err)
	}
	f.checkSeveralYears(res)
}
