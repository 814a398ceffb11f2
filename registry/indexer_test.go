package registry

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/heliocloud/heliocloud-go/catalog"
)

func TestEventsAcrossYearBoundary(t *testing.T) {
	f := newFixture(t)
	ix := f.indexer()
	a, b, c := aiaKey(ts("2019-12-31T23:00:00Z")), aiaKey(ts("2020-01-01T01:00:00Z")), aiaKey(ts("2022-03-01T00:00:12Z"))
	f.put(a, 10)
	f.put(b, 20)
	// The later file arrives first: the earlier year must still learn its
	// last row's stop from the next year.
	f.apply(ix, b)
	f.apply(ix, a)
	equalLines(t, "2019", f.rows("sdo/aia/aia_0094_2019.csv"), []string{
		"2019-12-31T23:00:00Z 2020-01-01T01:00:00Z sdo/aia/0094/2019/12/31/aia_0094_20191231_230000.fits 10",
	})
	equalLines(t, "2020", f.rows("sdo/aia/aia_0094_2020.csv"), []string{
		"2020-01-01T01:00:00Z 2020-01-01T01:00:00Z sdo/aia/0094/2020/01/01/aia_0094_20200101_010000.fits 20",
	})

	f.put(c, 30)
	f.apply(ix, c)
	equalLines(t, "2020 after 2022 data", f.rows("sdo/aia/aia_0094_2020.csv"), []string{
		"2020-01-01T01:00:00Z 2022-03-01T00:00:12Z sdo/aia/0094/2020/01/01/aia_0094_20200101_010000.fits 20",
	})
	equalLines(t, "empty 2021", f.rows("sdo/aia/aia_0094_2021.csv"), []string{})
	e := f.catalog().Catalog[0]
	if e.Start != "2019-12-31T23:00:00Z" || e.Stop != "2022-03-01T00:00:12Z" || e.Index != "s3://"+f.bucket+"/sdo/aia/" {
		t.Fatalf("entry %+v", e)
	}
	f.clientCheck()
}

func TestDeleteAndRedelivery(t *testing.T) {
	f := newFixture(t)
	ix := f.indexer()
	k1, k2, k3 := aiaKey(ts("2021-05-01T00:00:00Z")), aiaKey(ts("2021-05-01T00:01:00Z")), aiaKey(ts("2022-01-01T00:00:00Z"))
	for _, k := range []string{k1, k2, k3} {
		f.put(k, 5)
	}
	f.apply(ix, k1, k2, k3)
	f.del(k3)
	f.apply(ix, k3)
	equalLines(t, "2021 after delete", f.rows("sdo/aia/aia_0094_2021.csv"), []string{
		"2021-05-01T00:00:00Z 2021-05-01T00:01:00Z sdo/aia/0094/2021/05/01/aia_0094_20210501_000000.fits 5",
		"2021-05-01T00:01:00Z 2021-05-01T00:01:00Z sdo/aia/0094/2021/05/01/aia_0094_20210501_000100.fits 5",
	})
	equalLines(t, "2022 after delete", f.rows("sdo/aia/aia_0094_2022.csv"), []string{})
	if e := f.catalog().Catalog[0]; e.Stop != "2021-05-01T00:01:00Z" {
		t.Fatalf("stop did not move back after the delete: %+v", e)
	}

	// Redelivery of every event, including the created event of the object
	// deleted since, changes nothing.
	tags := map[string]string{}
	for _, k := range []string{"sdo/aia/aia_0094_2021.csv", "sdo/aia/aia_0094_2022.csv", catalog.FileName} {
		tags[k] = f.etag(k)
	}
	later := f.indexer()
	later.Now = func() time.Time { return time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC) }
	res := f.apply(later, k1, k3, k2, k1)
	if len(res.Written) != 0 {
		t.Fatalf("redelivery rewrote %v", res.Written)
	}
	for k, tag := range tags {
		if got := f.etag(k); got != tag {
			t.Errorf("%s changed on redelivery", k)
		}
	}
	f.clientCheck()
}

func TestKeyThatDoesNotParse(t *testing.T) {
	f := newFixture(t)
	ix := f.indexer()
	bad := []string{"sdo/aia/0094/README.txt", "sdo/aia/0094/2021/13/01/aia_0094_20211301_000000.fits"}
	for _, k := range bad {
		f.put(k, 1)
	}
	res := f.apply(ix, bad...)
	if len(res.Skipped) != 2 || len(res.Written) != 0 {
		t.Fatalf("skipped %v, written %v", res.Skipped, res.Written)
	}
	for i, s := range res.Skipped {
		if s.Key != bad[i] || s.Reason == "" {
			t.Errorf("skip %d: %+v", i, s)
		}
	}
	if _, err := f.Fetch(context.Background(), catalog.FileName); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("catalog written for unparsable keys: %v", err)
	}
}

// Many indexers (as concurrent Lambda invocations) apply events for the same
// year files at once against the real server: no row may be lost or
// duplicated, and the chained stops must be right.
func TestConcurrentEventsOnOneYearFile(t *testing.T) {
	f := newFixture(t)
	base := ts("2023-12-31T20:00:00Z")
	var keys []string
	for i := 0; i < 48; i++ {
		k := aiaKey(base.Add(time.Duration(i) * 7 * time.Minute))
		keys = append(keys, k)
		f.put(k, 100+i)
	}
	var wg sync.WaitGroup
	errs := make([]error, len(keys))
	counters := make([]*countingClient, len(keys))
	for i, k := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ix, cc := f.countingIndexer()
			counters[i] = cc
			// Each event is delivered twice, as SQS may do.
			for range 2 {
				res := ix.Apply(context.Background(), []Event{{Bucket: f.bucket, Key: k}})
				if err := errors.Join(res.Errors...); err != nil {
					errs[i] = err
				}
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	refused := 0
	for _, cc := range counters {
		refused += cc.refused
	}
	// Without refused writes the indexers never raced, and the test proved
	// nothing about conditional writes.
	if refused == 0 {
		t.Fatal("no conditional write was refused: the events did not run concurrently")
	}
	t.Logf("%d conditional writes refused and retried", refused)
	var want []string
	sorted := append([]string(nil), keys...)
	sort.Strings(sorted)
	for i, k := range sorted {
		start, _ := f.cfg.Datasets[0].StartOf(k)
		stop := start
		if i+1 < len(sorted) {
			stop, _ = f.cfg.Datasets[0].StartOf(sorted[i+1])
		}
		want = append(want, fmt.Sprintf("%s %s %s %d", catalog.Seconds.Format(start), catalog.Seconds.Format(stop), k, 100+i))
	}
	got := append(f.rows("sdo/aia/aia_0094_2023.csv"), f.rows("sdo/aia/aia_0094_2024.csv")...)
	equalLines(t, "rows after concurrent events", got, want)
	e := f.catalog().Catalog[0]
	// The last file of 2023 stops at 00:02 on 1 January 2024: multiyear.
	if e.Start != "2023-12-31T20:00:00Z" || e.Stop != catalog.Seconds.Format(base.Add(47*7*time.Minute)) || !e.MultiYear {
		t.Fatalf("entry %+v", e)
	}
	f.clientCheck()
}

func TestCatalogWithSeveralDatasets(t *testing.T) {
	f := newFixture(t,
		Dataset{ID: "aia_0094", Title: "AIA 94", Prefix: "sdo/aia/0094/", IndexPrefix: "index/", FileType: "fits",
			Time: TimeRule{Layout: aiaLayout}},
		Dataset{ID: "aia_0094_cutouts", Title: "AIA 94 cutouts", Prefix: "sdo/cutouts/", IndexPrefix: "index/", FileType: "fits",
			Time: TimeRule{Pattern: `cut_(?P<year>\d{4})(?P<doy>\d{3})T(?P<hour>\d\d)`}, Duration: Duration(time.Hour)},
		Dataset{ID: "mms1_fgm", Title: "MMS1 FGM burst", Prefix: "mms1/fgm/", IndexPrefix: "mms1/", FileType: "cdf",
			TimeFormat: catalog.Milliseconds,
			Time:       TimeRule{Layout: "mms1_fgm_brst_l2_20060102150405"}},
	)
	keys := []string{
		aiaKey(ts("2020-02-02T00:00:00Z")),
		"sdo/cutouts/cut_2020366T23.fits",
		"mms1/fgm/2015/09/01/mms1_fgm_brst_l2_20150901121114_v4.18.0.cdf",
	}
	var wg sync.WaitGroup
	for _, k := range keys {
		f.put(k, 7)
		wg.Add(1)
		go func() { defer wg.Done(); f.apply(f.indexer(), k) }()
	}
	wg.Wait()
	cat := f.catalog()
	var got []string
	for _, e := range cat.Catalog {
		got = append(got, fmt.Sprintf("%s %s %s %s %s", e.ID, e.Index, e.Start, e.Stop, e.FileType))
	}
	idx := "s3://" + f.bucket + "/"
	equalLines(t, "entries", got, []string{
		"aia_0094 " + idx + "index/ 2020-02-02T00:00:00Z 2020-02-02T00:00:00Z fits",
		// A fixed duration carries the stop into 2021, which then needs a file.
		"aia_0094_cutouts " + idx + "index/ 2020-12-31T23:00:00Z 2021-01-01T00:00:00Z fits",
		"mms1_fgm " + idx + "mms1/ 2015-09-01T12:11:14.000Z 2015-09-01T12:11:14.000Z cdf",
	})
	if cat.Status.Code != catalog.StatusOK || cat.Version != "1.1" || cat.Name != "Test archive" {
		t.Fatalf("top level %+v", cat)
	}
	equalLines(t, "cutouts 2021", f.rows("index/aia_0094_cutouts_2021.csv"), []string{})
	f.clientCheck()
}
