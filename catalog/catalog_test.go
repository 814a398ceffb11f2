package catalog

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

func TestIndexRoundTrip(t *testing.T) {
	t0 := time.Date(2015, 9, 1, 12, 11, 14, 0, time.UTC)
	rows := []Row{
		{Start: t0, Stop: t0.Add(time.Minute), Key: "s3://b/a.cdf", Size: 10},
		{Start: t0.Add(time.Minute), Stop: t0.Add(time.Minute), Key: "s3://b/with,comma.cdf", Size: 0},
	}
	data := AppendIndex(nil, rows, Seconds)
	want := "#start,stop,datakey,filesize\n" +
		"2015-09-01T12:11:14Z,2015-09-01T12:12:14Z,s3://b/a.cdf,10\n" +
		"2015-09-01T12:12:14Z,2015-09-01T12:12:14Z,\"s3://b/with,comma.cdf\",0\n"
	if string(data) != want {
		t.Fatalf("got\n%s", data)
	}
	back, f, err := ReadIndex(data)
	if err != nil || f != Seconds || len(back) != 2 || back[1].Key != "s3://b/with,comma.cdf" || !back[0].Stop.Equal(rows[0].Stop) {
		t.Fatalf("read back %v %v %+v", err, f, back)
	}
	if got := string(AppendIndex(nil, rows[:1], Milliseconds)); !strings.Contains(got, "2015-09-01T12:11:14.000Z,") {
		t.Fatalf("milliseconds: %s", got)
	}
}

func TestReadIndexRejectsWhatTheClientCannotRead(t *testing.T) {
	for name, data := range map[string]string{
		"no header":        "2015-09-01T12:11:14Z,2015-09-01T12:11:14Z,s3://b/a,1\n",
		"three columns":    "#start,stop,datakey,filesize\n2015-09-01T12:11:14Z,2015-09-01T12:11:14Z,s3://b/a\n",
		"no Z":             "#start,stop,datakey,filesize\n2015-09-01T12:11:14,2015-09-01T12:11:14,s3://b/a,1\n",
		"mixed formats":    "#start,stop,datakey,filesize\n2015-09-01T12:11:14Z,2015-09-01T12:11:14.000Z,s3://b/a,1\n",
		"CRLF":             "#start,stop,datakey,filesize\r\n2015-09-01T12:11:14Z,2015-09-01T12:11:14Z,s3://b/a,1\r\n",
		"unsorted":         "#start,stop,datakey,filesize\n2015-09-02T00:00:00Z,2015-09-02T00:00:00Z,s3://b/a,1\n2015-09-01T00:00:00Z,2015-09-01T00:00:00Z,s3://b/b,1\n",
		"size":             "#start,stop,datakey,filesize\n2015-09-01T12:11:14Z,2015-09-01T12:11:14Z,s3://b/a,1.5\n",
		"old shape":        "\"start\",\"stop\",\"key\"\n",
		"start renamed":    "#begin,stop,datakey,filesize\n",
		"stop renamed":     "#start,end,datakey,filesize\n",
		"datakey renamed":  "#start,stop,key,filesize\n",
		"filesize renamed": "#start,stop,datakey,size\n",
		"empty":            "",
	} {
		if _, _, err := ReadIndex([]byte(data)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// A stream with a carriage return fails wherever a read puts it, as the
// first byte of a read included.
func TestScanIndexFindsCRInEveryRead(t *testing.T) {
	data := "#start,stop,datakey,filesize\r\n2015-09-01T12:11:14Z,2015-09-01T12:11:14Z,s3://b/a,1\r\n"
	for name, in := range map[string]io.Reader{
		"one read":        strings.NewReader(data),
		"a byte per read": iotest.OneByteReader(strings.NewReader(data)),
	} {
		if _, err := ScanIndex(in, func(Row) {}); !errors.Is(err, errCR) {
			t.Errorf("%s: %v, want %v", name, err, errCR)
		}
	}
}

type mapFetcher map[string]string

func (m mapFetcher) Fetch(_ context.Context, key string) ([]byte, error) {
	v, ok := m[key]
	if !ok {
		return nil, ErrNotFound
	}
	return []byte(v), nil
}

func TestCheckFindsClientBreakers(t *testing.T) {
	header := Header + "\n"
	good := mapFetcher{
		"catalog.json": `{"version":"1.1","status":{"code":1200,"message":"OK"},"catalog":[
		  {"id":"d","index":"s3://b/i/","title":"D","start":"2019-05-01T00:00:00Z","stop":"2021-01-01T00:00:00Z","multiyear":true}]}`,
		"i/d_2019.csv": header + "2019-05-01T00:00:00Z,2021-01-01T00:00:00Z,s3://b/x,1\n",
		"i/d_2020.csv": header,
		"i/d_2021.csv": header + "2021-01-01T00:00:00Z,2021-01-01T00:00:00Z,s3://b/y,1\n",
	}
	if errs := Check(context.Background(), "b", good); len(errs) != 0 {
		t.Fatalf("good catalog: %v", errors.Join(errs...))
	}
	// 0.5 is the first version the client reads in the current format; an
	// old catalog may still call the key Cloudy.
	oldest := mapFetcher{"catalog.json": `{"Cloudy":"0.5","status":{"code":"1200"},"catalog":[]}`}
	if errs := Check(context.Background(), "b", oldest); len(errs) != 0 {
		t.Errorf("version 0.5: %v", errors.Join(errs...))
	}
	for name, tc := range map[string]struct {
		key, value, want string
	}{
		"string status":    {"catalog.json", `{"version":"1.1","status":"OK","catalog":[]}`, "status must be an object"},
		"float code":       {"catalog.json", `{"version":"1.1","status":{"code":"x"},"catalog":[]}`, "status must be an object"},
		"legacy version":   {"catalog.json", `{"version":"0.4","status":{"code":1200},"catalog":[]}`, "legacy"},
		"dataset_id":       {"catalog.json", `{"version":"1.1","status":{"code":1200},"catalog":[{"dataset_id":"d","loc":"s3://b/i/"}]}`, "id missing"},
		"index in another": {"catalog.json", `{"version":"1.1","status":{"code":1200},"catalog":[{"id":"d","index":"s3://c/i/","title":"D","start":"2019-05-01T00:00:00Z","stop":"2019-05-01T00:00:00Z"}]}`, "not in bucket b"},
		"missing year":     {"i/d_2020.csv", "", "i/d_2020.csv: not found"},
		"row in wrong yr":  {"i/d_2020.csv", header + "2019-05-01T00:00:00Z,2019-05-01T00:00:00Z,s3://b/x,1\n", "i/d_2020.csv row 1: start 2019-05-01 00:00:00 +0000 UTC is not in 2020"},
		"mixed years":      {"i/d_2021.csv", header + "2021-01-01T00:00:00.000Z,2021-01-01T00:00:00.000Z,s3://b/y,1\n", "differs from"},
		"no multiyear": {"catalog.json", `{"version":"1.1","status":{"code":1200},"catalog":[
		  {"id":"d","index":"s3://b/i/","title":"D","start":"2019-05-01T00:00:00Z","stop":"2021-01-01T00:00:00Z"}]}`,
			"i/d_2019.csv row 1 (s3://b/x) stops at 2021-01-01T00:00:00Z, in a later year than its start, but the entry does not set multiyear: true"},
		"string multiyear": {"catalog.json", `{"version":"1.1","status":{"code":1200},"catalog":[
		  {"id":"d","index":"s3://b/i/","title":"D","start":"2019-05-01T00:00:00Z","stop":"2021-01-01T00:00:00Z","multiyear":"True"}]}`,
			"multiyear must be true or false"},
		"no catalog.json":   {"catalog.json", "", "catalog.json: not found"},
		"not JSON":          {"catalog.json", `{"version":`, "catalog.json: unexpected end"},
		"no status":         {"catalog.json", `{"version":"1.1","catalog":[]}`, "catalog.json: no status"},
		"no version":        {"catalog.json", `{"status":{"code":1200},"catalog":[]}`, "catalog.json: no version"},
		"numeric version":   {"catalog.json", `{"version":1.1,"status":{"code":1200},"catalog":[]}`, "version must be a string"},
		"word version":      {"catalog.json", `{"version":"one","status":{"code":1200},"catalog":[]}`, `version "one" is not a number`},
		"version below 0.5": {"catalog.json", `{"Cloudy":"0.49","status":{"code":1200},"catalog":[]}`, `version "0.49" makes the client expect the legacy`},
		"code not integer":  {"catalog.json", `{"version":"1.1","status":{"code":12.5},"catalog":[]}`, `status code "12.5" is not an integer`},
		"catalog object":    {"catalog.json", `{"version":"1.1","status":{"code":1200},"catalog":{}}`, "catalog must be a list of entries"},
		"empty title":       {"catalog.json", `{"version":"1.1","status":{"code":1200},"catalog":[{"id":"d","index":"s3://b/i/","title":"","start":"2019-05-01T00:00:00Z","stop":"2019-05-01T00:00:00Z"}]}`, "catalog[0]: title missing or not a string"},
		"numeric stop":      {"catalog.json", `{"version":"1.1","status":{"code":1200},"catalog":[{"id":"d","index":"s3://b/i/","title":"D","start":"2019-05-01T00:00:00Z","stop":2019}]}`, "catalog[0]: stop missing or not a string"},
		"index without /":   {"catalog.json", `{"version":"1.1","status":{"code":1200},"catalog":[{"id":"d","index":"s3://b/i","title":"D","start":"2019-05-01T00:00:00Z","stop":"2019-05-01T00:00:00Z"}]}`, "must start with s3:// or http and end with /"},
		"index ftp":         {"catalog.json", `{"version":"1.1","status":{"code":1200},"catalog":[{"id":"d","index":"ftp://b/i/","title":"D","start":"2019-05-01T00:00:00Z","stop":"2019-05-01T00:00:00Z"}]}`, "must start with s3:// or http and end with /"},
		"date-only start":   {"catalog.json", `{"version":"1.1","status":{"code":1200},"catalog":[{"id":"d","index":"s3://b/i/","title":"D","start":"2019-05-01","stop":"2019-05-01T00:00:00Z"}]}`, "catalog[0] (d): time \"2019-05-01\" is not in a format the client reads"},
		"date-only stop":    {"catalog.json", `{"version":"1.1","status":{"code":1200},"catalog":[{"id":"d","index":"s3://b/i/","title":"D","start":"2019-05-01T00:00:00Z","stop":"2019"}]}`, "catalog[0] (d): time \"2019\" is not in a format the client reads"},
		"CRLF index":        {"i/d_2020.csv", "#start,stop,datakey,filesize\r\n", "i/d_2020.csv: CR line ending"},
		"https datakey":     {"i/d_2021.csv", header + "2021-01-01T00:00:00Z,2021-01-01T00:00:00Z,s3://b/y,1\n2021-02-01T00:00:00Z,2021-02-01T00:00:00Z,https://b/z,1\n", "i/d_2021.csv row 2: datakey \"https://b/z\" is not an s3:// URI"},
		"multiyear false": {"catalog.json", `{"version":"1.1","status":{"code":1200},"catalog":[
		  {"id":"d","index":"s3://b/i/","title":"D","start":"2019-05-01T00:00:00Z","stop":"2021-01-01T00:00:00Z","multiyear":false}]}`,
			"i/d_2019.csv row 1 (s3://b/x) stops at 2021-01-01T00:00:00Z"},
	} {
		m := mapFetcher{}
		for k, v := range good {
			m[k] = v
		}
		if tc.value == "" {
			delete(m, tc.key)
		} else {
			m[tc.key] = tc.value
		}
		errs := Check(context.Background(), "b", m)
		if err := errors.Join(errs...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", name, err, tc.want)
		}
	}
}

func TestIndexNames(t *testing.T) {
	if y, ok := ParseIndexName("aia", "aia_2020.csv"); !ok || y != 2020 {
		t.Fatal(y, ok)
	}
	for name, want := range map[string]int{"aia_0999.csv": 999, "aia_9999.csv": 9999} {
		if y, ok := ParseIndexName("aia", name); !ok || y != want {
			t.Errorf("%s: %d %v", name, y, ok)
		}
	}
	for _, n := range []string{"aia_0094_2020.csv", "aia_2020.csv.gz", "aia_+202.csv", "aia_20x0.csv"} {
		if _, ok := ParseIndexName("aia", n); ok {
			t.Errorf("%s parsed as an index of aia", n)
		}
	}
}

func TestCrossesYear(t *testing.T) {
	day := 24 * time.Hour
	for _, tc := range []struct {
		start string
		len   time.Duration
		want  bool
	}{
		{"2020-12-31T00:00:00Z", 2 * day, true},
		{"2020-12-31T23:59:59Z", 2 * time.Second, true},
		{"2020-12-31T00:00:00Z", day, false}, // a daily file ends where the next year begins
		{"2020-06-01T00:00:00Z", 0, false},
		{"2019-05-01T00:00:00Z", 600 * day, true},
	} {
		start, _ := time.Parse(time.RFC3339, tc.start)
		if got := (Row{Start: start, Stop: start.Add(tc.len)}).CrossesYear(); got != tc.want {
			t.Errorf("%s + %s: CrossesYear = %v, want %v", tc.start, tc.len, got, tc.want)
		}
	}
}

func TestSortRowsByStartThenKey(t *testing.T) {
	t0 := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	rows := []Row{{Start: t0.Add(time.Hour), Key: "s3://b/a"}, {Start: t0, Key: "s3://b/c"}, {Start: t0, Key: "s3://b/b"}}
	SortRows(rows)
	if rows[0].Key != "s3://b/b" || rows[1].Key != "s3://b/c" || rows[2].Key != "s3://b/a" {
		t.Errorf("sorted %+v", rows)
	}
}

// Errors name the file's line, counting the header as line 1.
func TestReadIndexNamesTheLine(t *testing.T) {
	data := Header + "\n2015-09-01T12:11:14Z,2015-09-01T12:11:14Z,s3://b/a,1\n2015-09-01T12:11:14Z,2015-09-01T12:11:14Z,s3://b/b,x\n"
	if _, _, err := ReadIndex([]byte(data)); err == nil || !strings.HasPrefix(err.Error(), "line 3: filesize") {
		t.Errorf("got %v, want an error at line 3", err)
	}
}
