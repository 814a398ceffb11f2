// Package registryconfig is what the registry's indexer is told: the
// datasets, their time rules and the catalog description of each bucket,
// and the names of the files ingest reads and writes. The CDK app renders
// it into the indexer's environment, so it imports neither CDK nor the AWS
// SDK; package registry, which does the indexing, builds on it.
package registryconfig

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/heliocloud/heliocloud-go/catalog"
)

// Ingest file names, relative to the ingest prefix.
const (
	EntriesFile  = "entries.json"
	ManifestFile = "manifest.csv" // under <id>/
	ReportFile   = "report.json"
)

// EnvConfig is the environment variable through which the Lambda receives its
// Config as JSON.
const EnvConfig = "HELIOCLOUD_REGISTRY"

// Config is everything the indexer needs to know: the catalog description of
// each published bucket and the datasets in them. The CDK stack serializes it
// into EnvConfig; the command line builds it from the YAML.
type Config struct {
	// Catalogs maps a bucket name to the description written at the top of
	// its catalog.json.
	Catalogs map[string]CatalogInfo `json:"catalogs"`
	// Datasets are the indexed datasets, in any order.
	Datasets []Dataset `json:"datasets"`
	// Extensions maps a catalog filetype to the file extensions (lower
	// case, no dot) that ingest accepts for it.
	Extensions map[string][]string `json:"extensions,omitempty"`
}

// CatalogInfo is the top level of a bucket's catalog.json.
type CatalogInfo struct {
	Name        string `json:"name"`
	Contact     string `json:"contact"`
	Egress      string `json:"egress"`
	Description string `json:"description,omitempty"`
	Citation    string `json:"citation,omitempty"`
}

// Dataset is one indexed dataset.
type Dataset struct {
	// ID is the dataset id, unique across the HelioCloud network.
	ID    string `json:"id"`
	Title string `json:"title"`
	// Bucket holds both the data and the index files.
	Bucket string `json:"bucket"`
	// Prefix is where the data files live ("" or ending in "/").
	Prefix string `json:"prefix"`
	// IndexPrefix is where <id>_<YYYY>.csv files are written ("" or ending in "/").
	IndexPrefix string `json:"indexPrefix"`
	// FileType is the catalog filetype, e.g. "cdf" or "fits,csv".
	FileType string `json:"filetype"`
	// Time says how a file's start time is read from its key.
	Time TimeRule `json:"time"`
	// Duration, when set, is every file's length (stop = start + Duration);
	// otherwise a file stops where the next one starts and the last file
	// stops at its own start, as the official generators do.
	Duration Duration `json:"duration,omitempty"`
	// TimeFormat is the index time format; Seconds when empty.
	TimeFormat catalog.TimeFormat `json:"timeFormat,omitempty"`

	Description string   `json:"description,omitempty"`
	Resource    string   `json:"resource,omitempty"`
	Citation    string   `json:"citation,omitempty"`
	Contact     string   `json:"contact,omitempty"`
	About       string   `json:"about,omitempty"`
	Tags        []string `json:"tags,omitempty"`
	Collections []string `json:"collections,omitempty"`

	matcher *Matcher
}

// Duration is a time.Duration written as "90s", "1h" in JSON.
type Duration time.Duration

// MarshalJSON writes the Go duration syntax.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads the Go duration syntax.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// TimeRule reads a start time from an object key relative to the dataset
// prefix. Exactly one of Layout and Pattern is set.
type TimeRule struct {
	// Layout is a Go time layout searched for in the key, e.g.
	// "2006/01/02/aia_20060102_1504" or "20060102150405". Recognized parts:
	// 2006 (year), 01 (month), 02 (day), 002 (day of year), 15 (hour),
	// 04 (minute), 05 (second), .000 (milliseconds); everything else is
	// literal text.
	Layout string `json:"layout,omitempty"`
	// Pattern is a regular expression with named groups year (required),
	// month and day or doy, and optionally hour, minute, second, fraction.
	Pattern string `json:"pattern,omitempty"`
}

// Matcher is a compiled TimeRule.
type Matcher struct {
	re                                           *regexp.Regexp
	year, month, day, doy, hour, min, sec, fract int
	// same lists pairs of groups that must hold equal text: a layout that
	// repeats a part ("2006/01/02/x_20060102") names its repeats "year__2".
	same [][2]int
}

var layoutTokens = []struct{ token, group string }{
	{"2006", `(?P<year>\d{4})`},
	{"002", `(?P<doy>\d{3})`},
	{"01", `(?P<month>\d{2})`},
	{"02", `(?P<day>\d{2})`},
	{"15", `(?P<hour>\d{2})`},
	{"04", `(?P<minute>\d{2})`},
	{"05", `(?P<second>\d{2})`},
	{".000", `\.(?P<fraction>\d{3})`},
}

// Compile checks the rule and prepares it for matching.
func (r TimeRule) Compile() (*Matcher, error) {
	switch {
	case r.Layout != "" && r.Pattern != "":
		return nil, errors.New("set either layout or pattern, not both")
	case r.Layout == "" && r.Pattern == "":
		return nil, errors.New("set layout or pattern")
	}
	expr := r.Pattern
	if r.Layout != "" {
		expr = layoutToPattern(r.Layout)
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, fmt.Errorf("pattern does not compile: %w", err)
	}
	m := &Matcher{re: re}
	seen := map[string]bool{}
	for _, n := range re.SubexpNames() {
		if n == "" {
			continue
		}
		if seen[n] {
			return nil, fmt.Errorf("group %q appears twice", n)
		}
		seen[n] = true
		if base, _, ok := strings.Cut(n, "__"); ok {
			if re.SubexpIndex(base) < 0 {
				return nil, fmt.Errorf("group %q repeats %q, which is missing", n, base)
			}
			m.same = append(m.same, [2]int{re.SubexpIndex(base), re.SubexpIndex(n)})
		}
	}
	idx := func(n string) int { return re.SubexpIndex(n) }
	m.year, m.month, m.day, m.doy = idx("year"), idx("month"), idx("day"), idx("doy")
	m.hour, m.min, m.sec, m.fract = idx("hour"), idx("minute"), idx("second"), idx("fraction")
	switch {
	case m.year < 0:
		return nil, errors.New("needs a year (2006 in a layout, (?P<year>...) in a pattern)")
	case m.doy >= 0 && (m.month >= 0 || m.day >= 0):
		return nil, errors.New("use either doy or month and day")
	case m.doy < 0 && (m.month < 0 || m.day < 0):
		return nil, errors.New("needs month and day (01 and 02), or doy (002)")
	}
	return m, nil
}

func layoutToPattern(layout string) string {
	var b strings.Builder
	seen := map[string]int{}
	for i := 0; i < len(layout); {
		matched := false
		for _, t := range layoutTokens {
			if strings.HasPrefix(layout[i:], t.token) {
				seen[t.token]++
				g := t.group
				if n := seen[t.token]; n > 1 {
					name := g[strings.Index(g, "<")+1 : strings.Index(g, ">")]
					g = strings.Replace(g, "<"+name+">", fmt.Sprintf("<%s__%d>", name, n), 1)
				}
				b.WriteString(g)
				i += len(t.token)
				matched = true
				break
			}
		}
		if !matched {
			b.WriteString(regexp.QuoteMeta(layout[i : i+1]))
			i++
		}
	}
	return b.String()
}

// Time returns the start time encoded in key (relative to the dataset
// prefix), and false when the key does not match or names an impossible date.
func (m *Matcher) Time(key string) (time.Time, bool) {
	loc := m.re.FindStringSubmatchIndex(key)
	if loc == nil {
		return time.Time{}, false
	}
	for _, p := range m.same {
		a, b := p[0], p[1]
		if loc[2*a] < 0 || loc[2*b] < 0 || key[loc[2*a]:loc[2*a+1]] != key[loc[2*b]:loc[2*b+1]] {
			return time.Time{}, false
		}
	}
	num := func(g int, def int) (int, bool) {
		if g < 0 || loc[2*g] < 0 {
			return def, true
		}
		v, err := strconv.Atoi(key[loc[2*g]:loc[2*g+1]])
		return v, err == nil
	}
	var ok [7]bool
	var y, mo, d, doy, h, mi, s int
	y, ok[0] = num(m.year, 0)
	mo, ok[1] = num(m.month, 1)
	d, ok[2] = num(m.day, 1)
	doy, ok[3] = num(m.doy, 0)
	h, ok[4] = num(m.hour, 0)
	mi, ok[5] = num(m.min, 0)
	s, ok[6] = num(m.sec, 0)
	for _, v := range ok {
		if !v {
			return time.Time{}, false
		}
	}
	nanos := 0
	if m.fract >= 0 && loc[2*m.fract] >= 0 {
		f := key[loc[2*m.fract]:loc[2*m.fract+1]]
		if len(f) > 9 {
			return time.Time{}, false
		}
		v, err := strconv.Atoi((f + "000000000")[:9])
		if err != nil {
			return time.Time{}, false
		}
		nanos = v
	}
	if h > 23 || mi > 59 || s > 59 {
		return time.Time{}, false
	}
	if m.doy >= 0 {
		t := time.Date(y, 1, 1, h, mi, s, nanos, time.UTC).AddDate(0, 0, doy-1)
		if doy < 1 || t.Year() != y {
			return time.Time{}, false
		}
		return t, true
	}
	t := time.Date(y, time.Month(mo), d, h, mi, s, nanos, time.UTC)
	if t.Month() != time.Month(mo) || t.Day() != d {
		return time.Time{}, false
	}
	return t, true
}

// Compile validates the dataset and prepares its time rule.
func (d *Dataset) Compile() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("dataset %q: "+format, append([]any{d.ID}, args...)...))
	}
	if !catalog.ValidID(d.ID) {
		bad("id may only hold letters, digits, '-' and '_'")
	}
	if d.Title == "" {
		bad("title is required")
	}
	if d.Bucket == "" {
		bad("bucket is required")
	}
	for name, p := range map[string]string{"prefix": d.Prefix, "indexPrefix": d.IndexPrefix} {
		if p != "" && !strings.HasSuffix(p, "/") || strings.HasPrefix(p, "/") {
			bad("%s %q must be empty or end in '/' (and not start with it)", name, p)
		}
	}
	if !catalog.ValidFileType(d.FileType) {
		bad("filetype %q: use a comma-separated list of %s", d.FileType, strings.Join(catalog.FileTypes, ", "))
	}
	switch d.TimeFormat {
	case "", catalog.Seconds, catalog.Milliseconds, catalog.Minutes:
	default:
		bad("timeFormat %q: use %q, %q or %q", d.TimeFormat, catalog.Seconds, catalog.Milliseconds, catalog.Minutes)
	}
	if d.Duration < 0 {
		bad("duration must not be negative")
	}
	m, err := d.Time.Compile()
	if err != nil {
		bad("time: %v", err)
	}
	d.matcher = m
	return errors.Join(errs...)
}

// Format is the dataset's index time format.
func (d *Dataset) Format() catalog.TimeFormat {
	if d.TimeFormat == "" {
		return catalog.Seconds
	}
	return d.TimeFormat
}

// StartOf returns the start time of a data object, or false when its key
// does not match the time rule.
func (d *Dataset) StartOf(key string) (time.Time, bool) {
	rel, ok := strings.CutPrefix(key, d.Prefix)
	if !ok {
		return time.Time{}, false
	}
	return d.matcher.Time(rel)
}

// IndexURI is the entry's index value, s3://bucket/prefix/.
func (d *Dataset) IndexURI() string { return d.DataKey(d.IndexPrefix) }

// DataKey is the s3:// URI of an object of the dataset's bucket: the
// datakey column value of a data object, and how written files are reported.
func (d *Dataset) DataKey(key string) string { return "s3://" + d.Bucket + "/" + key }

// IndexKey is the object key of the dataset's index file for a year.
func (d *Dataset) IndexKey(year int) string { return d.IndexPrefix + catalog.IndexName(d.ID, year) }

// Compile validates the whole configuration: every dataset, unique ids, a
// catalog for every bucket, and no two datasets sharing data.
func (c *Config) Compile() error {
	var errs []error
	ids := map[string]bool{}
	for i := range c.Datasets {
		d := &c.Datasets[i]
		if err := d.Compile(); err != nil {
			errs = append(errs, err)
		}
		if ids[d.ID] {
			errs = append(errs, fmt.Errorf("dataset %q is declared twice", d.ID))
		}
		ids[d.ID] = true
		if _, ok := c.Catalogs[d.Bucket]; !ok && d.Bucket != "" {
			errs = append(errs, fmt.Errorf("dataset %q: bucket %q has no catalog description", d.ID, d.Bucket))
		}
	}
	for i := range c.Datasets {
		for j := i + 1; j < len(c.Datasets); j++ {
			a, b := &c.Datasets[i], &c.Datasets[j]
			if a.Bucket == b.Bucket && (strings.HasPrefix(a.Prefix, b.Prefix) || strings.HasPrefix(b.Prefix, a.Prefix)) {
				errs = append(errs, fmt.Errorf("datasets %q and %q overlap: prefixes %q and %q in bucket %s", a.ID, b.ID, a.Prefix, b.Prefix, a.Bucket))
			}
		}
	}
	return errors.Join(errs...)
}

// Dataset returns the dataset with the given id.
func (c *Config) Dataset(id string) (*Dataset, bool) {
	for i := range c.Datasets {
		if c.Datasets[i].ID == id {
			return &c.Datasets[i], true
		}
	}
	return nil, false
}

// Route finds the dataset whose data prefix holds key.
func (c *Config) Route(bucket, key string) *Dataset {
	for i := range c.Datasets {
		d := &c.Datasets[i]
		if d.Bucket == bucket && strings.HasPrefix(key, d.Prefix) {
			return d
		}
	}
	return nil
}

// IsOutput reports whether key is a file the registry itself writes in
// bucket, so that its own writes under a data prefix are not indexed.
func (c *Config) IsOutput(bucket, key string) bool {
	if key == catalog.FileName {
		return true
	}
	for i := range c.Datasets {
		d := &c.Datasets[i]
		if d.Bucket != bucket {
			continue
		}
		if rest, ok := strings.CutPrefix(key, d.IndexPrefix); ok {
			if _, ok := catalog.ParseIndexName(d.ID, rest); ok {
				return true
			}
		}
	}
	return false
}

// Buckets lists the buckets holding datasets, sorted.
func (c *Config) Buckets() []string {
	seen := map[string]bool{}
	var out []string
	for _, d := range c.Datasets {
		if !seen[d.Bucket] {
			seen[d.Bucket] = true
			out = append(out, d.Bucket)
		}
	}
	sort.Strings(out)
	return out
}

// ParseConfig decodes and compiles a Config from JSON.
func ParseConfig(data []byte) (*Config, error) {
	var c Config
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("registry config: %w", err)
	}
	if err := c.Compile(); err != nil {
		return nil, err
	}
	return &c, nil
}

// ConfigFromEnv reads the Config from EnvConfig.
func ConfigFromEnv() (*Config, error) {
	v := os.Getenv(EnvConfig)
	if v == "" {
		return nil, fmt.Errorf("%s is not set", EnvConfig)
	}
	return ParseConfig([]byte(v))
}
