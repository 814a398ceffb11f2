package registry

import (
	"strings"
	"testing"
	"time"
)

func TestTimeRules(t *testing.T) {
	for _, tc := range []struct {
		rule TimeRule
		key  string
		want string // "" when the key must be skipped
	}{
		{TimeRule{Layout: aiaLayout}, "2010/05/13/aia_0094_20100513_000002.fits", "2010-05-13T00:00:02Z"},
		// The date in the folder and the name disagree: never guess.
		{TimeRule{Layout: aiaLayout}, "2010/05/14/aia_0094_20100513_000002.fits", ""},
		{TimeRule{Layout: aiaLayout}, "2010/02/30/aia_0094_20100230_000002.fits", ""},
		{TimeRule{Layout: aiaLayout}, "2010/05/13/aia_0094_20100513_250002.fits", ""},
		{TimeRule{Layout: "20060102150405"}, "mms1_fgm_brst_l2_20150901121114_v4.18.0.cdf", "2015-09-01T12:11:14Z"},
		{TimeRule{Layout: "2006002_15.000"}, "x_2016366_23.250.h5", "2016-12-31T23:00:00.25Z"},
		{TimeRule{Layout: "2006002"}, "x_2015366.h5", ""},
		{TimeRule{Pattern: `ac_h0_mfi_(?P<year>\d{4})(?P<month>\d\d)(?P<day>\d\d)`}, "1998/ac_h0_mfi_19980205_v04.cdf", "1998-02-05T00:00:00Z"},
		{TimeRule{Pattern: `(?P<year>\d{4})-(?P<month>\d\d)-(?P<day>\d\d)T(?P<hour>\d\d)(?P<fraction>\.\d+)?`}, "a/2001-01-01T05.cdf", "2001-01-01T05:00:00Z"},
		{TimeRule{Pattern: `(?P<year>\d{4})(?P<month>\d\d)(?P<day>\d\d)`}, "readme.txt", ""},
	} {
		m, err := tc.rule.Compile()
		if err != nil {
			t.Fatalf("%+v: %v", tc.rule, err)
		}
		got, ok := m.Time(tc.key)
		s := ""
		if ok {
			s = got.Format(time.RFC3339Nano)
		}
		if s != tc.want {
			t.Errorf("%+v on %q: got %q, want %q", tc.rule, tc.key, s, tc.want)
		}
	}
}

func TestConfigValidation(t *testing.T) {
	good := func() Dataset {
		return Dataset{ID: "a", Title: "A", Bucket: "b", Prefix: "a/", FileType: "cdf", Time: TimeRule{Layout: "20060102"}}
	}
	for _, tc := range []struct {
		name string
		edit func(c *Config)
		want string
	}{
		{"bad id", func(c *Config) { c.Datasets[0].ID = "a b" }, `dataset "a b": id may only hold`},
		{"bad pattern", func(c *Config) { c.Datasets[0].Time = TimeRule{Pattern: `(?P<year>\d{4}`} }, "pattern does not compile"},
		{"no year", func(c *Config) { c.Datasets[0].Time = TimeRule{Pattern: `(?P<month>\d\d)`} }, "needs a year"},
		{"both", func(c *Config) { c.Datasets[0].Time.Pattern = "x" }, "either layout or pattern"},
		{"filetype", func(c *Config) { c.Datasets[0].FileType = "cdf, fits" }, `filetype "cdf, fits"`},
		{"prefix", func(c *Config) { c.Datasets[0].Prefix = "a" }, `prefix "a" must be empty or end in '/'`},
		{"unknown bucket", func(c *Config) { c.Datasets[0].Bucket = "other" }, `bucket "other" has no catalog`},
		{"overlap", func(c *Config) {
			d := good()
			d.ID, d.Prefix = "a2", "a/sub/"
			c.Datasets = append(c.Datasets, d)
		}, `datasets "a" and "a2" overlap`},
		{"duplicate", func(c *Config) {
			d := good()
			d.Prefix = "z/"
			c.Datasets = append(c.Datasets, d)
		}, `dataset "a" is declared twice`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &Config{Catalogs: map[string]CatalogInfo{"b": {Name: "n"}}, Datasets: []Dataset{good()}}
			tc.edit(c)
			err := c.Compile()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
	c := &Config{Catalogs: map[string]CatalogInfo{"b": {Name: "n"}}, Datasets: []Dataset{good()}}
	if err := c.Compile(); err != nil {
		t.Fatal(err)
	}
}

func TestConfigJSONRoundTrip(t *testing.T) {
	in := `{"catalogs":{"b":{"name":"N","contact":"c","egress":"free"}},
	"datasets":[{"id":"a","title":"A","bucket":"b","prefix":"a/","indexPrefix":"","filetype":"cdf","time":{"layout":"20060102"},"duration":"1h30m"}]}`
	c, err := ParseConfig([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if time.Duration(c.Datasets[0].Duration) != 90*time.Minute {
		t.Fatalf("duration %v", c.Datasets[0].Duration)
	}
	if _, err := ParseConfig([]byte(`{"datasets":[{"id":"a","bogus":1}]}`)); err == nil || !strings.Contains(err.Error(), "bogus") {
		t.Fatalf("unknown field accepted: %v", err)
	}
}

func TestParseNotification(t *testing.T) {
	body := `{"Records":[
	 {"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"a/my+file%2C1.cdf","size":3}}},
	 {"eventSource":"aws:s3","eventName":"ObjectRemoved:Delete","s3":{"bucket":{"name":"b"},"object":{"key":"a/x.cdf"}}},
	 {"eventSource":"aws:s3","eventName":"ObjectRestore:Completed","s3":{"bucket":{"name":"b"},"object":{"key":"a/y.cdf"}}}]}`
	ev, err := ParseNotification(body)
	if err != nil {
		t.Fatal(err)
	}
	if len(ev) != 2 || ev[0] != (Event{"b", "a/my file,1.cdf"}) || ev[1] != (Event{"b", "a/x.cdf"}) {
		t.Fatalf("events %+v", ev)
	}
	if ev, err := ParseNotification(`{"Service":"Amazon S3","Event":"s3:TestEvent","Bucket":"b"}`); err != nil || len(ev) != 0 {
		t.Fatalf("test event: %v %v", ev, err)
	}
	if _, err := ParseNotification("not json"); err == nil {
		t.Fatal("garbage accepted")
	}
}
