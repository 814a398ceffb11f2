package registry

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/heliocloud/heliocloud-go/catalog"
)

// omniDataset has two-day files, so one starting on 30 or 31 December
// covers days of the next year.
func omniDataset() Dataset {
	return Dataset{ID: "omni_2day", Title: "OMNI two-day files", Prefix: "omni/", IndexPrefix: "index/", FileType: "cdf",
		Time: TimeRule{Layout: "omni_20060102"}, Duration: Duration(48 * time.Hour)}
}

func omniKey(day string) string { return "omni/omni_" + strings.ReplaceAll(day, "-", "") + ".cdf" }

// entryLine renders what multiyear depends on, for compact comparisons.
func (f *fixture) entryLine(id string) string {
	f.t.Helper()
	cat := f.catalog()
	i := cat.Find(id)
	if i < 0 {
		return "no entry"
	}
	e := cat.Catalog[i]
	return fmt.Sprintf("%s %s multiyear=%v", e.Start, e.Stop, e.MultiYear)
}

func TestMultiYearFollowsTheFilesIncrementally(t *testing.T) {
	f := newFixture(t, omniDataset())
	ix := f.indexer()
	june, dec31 := omniKey("2020-06-01"), omniKey("2020-12-31")
	f.put(june, 1)
	f.apply(ix, june)
	if got := f.entryLine("omni_2day"); got != "2020-06-01T00:00:00Z 2020-06-03T00:00:00Z multiyear=false" {
		t.Fatalf("one June file: %s", got)
	}

	f.put(dec31, 2)
	f.apply(ix, dec31)
	// The file is in the 2020 index only; without multiyear a reader asking
	// for 1 January 2021 would not look there.
	equalLines(t, "2020", f.rows("index/omni_2day_2020.csv"), []string{
		"2020-06-01T00:00:00Z 2020-06-03T00:00:00Z " + june + " 1",
		"2020-12-31T00:00:00Z 2021-01-02T00:00:00Z " + dec31 + " 2",
	})
	equalLines(t, "2021", f.rows("index/omni_2day_2021.csv"), []string{})
	if got := f.entryLine("omni_2day"); got != "2020-06-01T00:00:00Z 2021-01-02T00:00:00Z multiyear=true" {
		t.Fatalf("with the 31 December file: %s", got)
	}
	raw, err := f.Fetch(context.Background(), catalog.FileName)
	if err != nil || !strings.Contains(string(raw), `"multiyear": true`) {
		t.Fatalf("catalog.json does not carry multiyear: %v\n%s", err, raw)
	}
	f.clientCheck()

	// A redelivered event changes nothing, multiyear included.
	tag := f.etag(catalog.FileName)
	f.apply(ix, dec31)
	if f.etag(catalog.FileName) != tag {
		t.Fatal("a redelivered event rewrote catalog.json")
	}

	f.del(dec31)
	f.apply(ix, dec31)
	if got := f.entryLine("omni_2day"); got != "2020-06-01T00:00:00Z 2020-06-03T00:00:00Z multiyear=false" {
		t.Fatalf("after removing the 31 December file: %s", got)
	}
	if raw, _ := f.Fetch(context.Background(), catalog.FileName); strings.Contains(string(raw), "multiyear") {
		t.Fatalf("multiyear still written:\n%s", raw)
	}
	f.clientCheck()
}

func TestMultiYearFromNextStart(t *testing.T) {
	f := newFixture(t)
	ix := f.indexer()
	dec31, jan1 := aiaKey(ts("2020-12-31T00:00:00Z")), aiaKey(ts("2021-01-01T00:00:00Z"))
	f.put(dec31, 1)
	f.put(jan1, 2)
	f.apply(ix, dec31, jan1)
	// Stopping where the next year begins covers nothing of it.
	if got := f.entryLine("aia_0094"); got != "2020-12-31T00:00:00Z 2021-01-01T00:00:00Z multiyear=false" {
		t.Fatalf("next file at midnight: %s", got)
	}

	late := aiaKey(ts("2021-01-01T00:00:12Z"))
	f.put(late, 3)
	f.del(jan1)
	f.apply(ix, jan1, late)
	equalLines(t, "2020", f.rows("sdo/aia/aia_0094_2020.csv"), []string{
		"2020-12-31T00:00:00Z 2021-01-01T00:00:12Z " + dec31 + " 1",
	})
	if got := f.entryLine("aia_0094"); got != "2020-12-31T00:00:00Z 2021-01-01T00:00:12Z multiyear=true" {
		t.Fatalf("next file 12 s into the year: %s", got)
	}
	f.clientCheck()
}

func TestReindexSetsMultiYearAsEventsDo(t *testing.T) {
	f := newFixture(t, omniDataset())
	ix := f.indexer()
	keys := []string{omniKey("2019-03-01"), omniKey("2019-12-31"), omniKey("2021-07-04")}
	for i, k := range keys {
		f.put(k, i+1)
	}
	f.apply(ix, keys...)
	incremental := f.entryLine("omni_2day")
	if incremental != "2019-03-01T00:00:00Z 2021-07-06T00:00:00Z multiyear=true" {
		t.Fatalf("incremental: %s", incremental)
	}

	// A stale catalog (as written before multiyear was computed) is fixed
	// by a rebuild.
	cat := f.catalog()
	cat.Catalog[0].MultiYear = false
	out, err := cat.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	f.putIn(f.bucket, catalog.FileName, out)
	if errs := catalog.Check(context.Background(), f.bucket, f); len(errs) != 1 || !strings.Contains(errs[0].Error(), "does not set multiyear") {
		t.Fatalf("check of the stale catalog: %v", errs)
	}
	d, _ := f.cfg.Dataset("omni_2day")
	if _, err := ix.Reindex(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	if got := f.entryLine("omni_2day"); got != incremental {
		t.Fatalf("reindex gave %s, events gave %s", got, incremental)
	}
	f.clientCheck()

	f.del(keys[1])
	if _, err := ix.Reindex(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	if got := f.entryLine("omni_2day"); got != "2019-03-01T00:00:00Z 2021-07-06T00:00:00Z multiyear=false" {
		t.Fatalf("reindex without the crossing file: %s", got)
	}
	f.clientCheck()
}
