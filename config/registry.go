package config

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/heliocloud/heliocloud-go/catalog"
	"github.com/heliocloud/heliocloud-go/registry/registryconfig"
)

// Registry keeps the datasets of the dataset buckets indexed in the
// CloudCatalog format (catalog.json plus one index CSV per dataset and year)
// so that the official cloudcatalog client and other HelioCloud instances
// can find and read them.
type Registry struct {
	// Enabled builds this component's stack.
	Enabled bool `yaml:"enabled"`
	// Catalogs describe each published dataset bucket at the top of its
	// catalog.json, keyed by the bucket's name under data.datasets. Every
	// bucket holding a dataset needs one.
	Catalogs map[string]RegistryCatalog `yaml:"catalogs"`
	// Datasets are the indexed datasets, keyed by id (letters, digits, "-"
	// and "_"; unique across the HelioCloud network, such as aia_0094).
	Datasets map[string]RegistryDataset `yaml:"datasets"`
	// Extensions maps each catalog filetype to the file extensions (lower
	// case, without the dot) that ingest accepts for it.
	Extensions map[string][]string `yaml:"extensions"`
	// Ingest is where uploaders put files for `heliocloud registry ingest`
	// and the indexer's ingest action. Default: no ingest area.
	Ingest RegistryIngest `yaml:"ingest"`
	// Indexer sizes the Lambda function and its queue.
	Indexer RegistryIndexer `yaml:"indexer"`
}

// RegistryCatalog is the top of one bucket's catalog.json.
type RegistryCatalog struct {
	// Name of the catalog, such as "GSFC HelioCloud public data".
	Name string `yaml:"name" required:"true"`
	// Contact is who answers questions about the data: a name and e-mail
	// address or a URL.
	Contact string `yaml:"contact" required:"true"`
	// Egress keywords, comma-separated: free or user-pays, public or
	// private, egress-allowed or no-egress. Default: derived from the
	// bucket (user-pays for requester-pays buckets, public or private).
	Egress string `yaml:"egress"`
	// Description of the collection as a whole.
	Description string `yaml:"description"`
	// Citation asked of users of the data.
	Citation string `yaml:"citation"`
}

// RegistryDataset is one dataset: where its files are and how to read a
// file's time from its key.
type RegistryDataset struct {
	// Title is the human-readable name shown by catalog searches.
	Title string `yaml:"title" required:"true"`
	// Bucket is the name of the dataset bucket under data.datasets that
	// holds the files.
	Bucket string `yaml:"bucket" required:"true"`
	// Prefix is the folder of the files in the bucket, ending in "/", such
	// as sdo/aia/0094/. Default: <id>/.
	Prefix string `yaml:"prefix"`
	// IndexPrefix is the folder of the <id>_<YYYY>.csv index files, ending
	// in "/". Default: beside the data, in the folder holding prefix
	// (sdo/aia/ for sdo/aia/0094/; the bucket root for a one-folder prefix).
	IndexPrefix string `yaml:"indexPrefix"`
	// FileType is the catalog filetype: one or more of fits, csv, cdf,
	// netcdf3, netcdf4, hdf5, datamap, txt, binary, other, comma-separated.
	FileType string `yaml:"filetype" required:"true"`
	// Time says how a file's start time is read from its key.
	Time RegistryTime `yaml:"time"`
	// Duration is every file's length as a Go duration ("12s", "1h",
	// "24h"). Default: unknown, so a file stops where the next one starts
	// and the last file stops at its own start, as the official generators do.
	Duration string `yaml:"duration"`
	// TimeFormat of the index times: "seconds" (2015-09-01T12:11:14Z),
	// "milliseconds" (...14.000Z) or "minutes" (...12:11Z).
	TimeFormat string `yaml:"timeFormat" default:"seconds" enum:"seconds,milliseconds,minutes"`
	// Description of the dataset.
	Description string `yaml:"description"`
	// Resource is a persistent identifier: a SPASE id, a DOI, ...
	Resource string `yaml:"resource"`
	// Citation asked of users of this dataset.
	Citation string `yaml:"citation"`
	// Contact for this dataset, when it differs from the catalog's.
	Contact string `yaml:"contact"`
	// About is a URL with more about the dataset.
	About string `yaml:"about"`
	// Tags are search keywords.
	Tags []string `yaml:"tags"`
	// Collections this dataset belongs to, for searches.
	Collections []string `yaml:"collections"`
	// LargestYear is the most files the dataset holds, or is expected to
	// hold, in one year. A rebuild holds one year's rows at a time, so this
	// sizes the indexer's memory (see registry.indexer.memoryMiB).
	// Default: 0, not known, not checked.
	LargestYear int `yaml:"largestYear"`
}

// RegistryTime reads a start time from a key (relative to the dataset
// prefix). Give layout or pattern.
type RegistryTime struct {
	// Layout is a Go-style time layout searched for in the key, such as
	// 2006/01/02/aia_0094_20060102_150405. It knows 2006 (year), 01
	// (month), 02 (day), 002 (day of year), 15 (hour), 04 (minute), 05
	// (second) and .000 (milliseconds); everything else is literal. A part
	// written twice must hold the same digits both times.
	Layout string `yaml:"layout"`
	// Pattern is a regular expression with named groups: year, month and
	// day or doy, optionally hour, minute, second and fraction, such as
	// mms1_fgm_(?P<year>\d{4})(?P<month>\d\d)(?P<day>\d\d).
	Pattern string `yaml:"pattern"`
}

// RegistryIngest is the upload area for ingest.
type RegistryIngest struct {
	// Bucket is "shared" (the shared bucket) or a name under data.datasets.
	// Empty: no ingest area, and the indexer may not write data files.
	Bucket string `yaml:"bucket"`
	// Prefix is the folder of uploads in that bucket, ending in "/".
	Prefix string `yaml:"prefix" default:"ingest/"`
}

// RegistryIndexer sizes the indexer's Lambda function and SQS queue.
type RegistryIndexer struct {
	// BatchSize is the most S3 events one invocation indexes together
	// (1 to 10000); each year file is rewritten once per batch.
	BatchSize int `yaml:"batchSize" default:"100"`
	// BatchWindowSeconds is how long the queue gathers events before it
	// invokes the indexer (0 to 300).
	BatchWindowSeconds int `yaml:"batchWindowSeconds" default:"20"`
	// MaxConcurrency caps simultaneous invocations from the queue (2 to
	// 1000); few writers mean few conflicting writes of the same file.
	MaxConcurrency int `yaml:"maxConcurrency" default:"5"`
	// MemoryMiB is the function's memory (128 to 10240). A rebuild holds
	// the rows of a dataset's largest year: it needs 128 MiB plus 400 bytes
	// per file of the largest registry.datasets.<id>.largestYear.
	// Default: 0, that much, and at least 1024.
	MemoryMiB int `yaml:"memoryMiB"`
	// MaxReceiveCount is how often a message is tried before it moves to the
	// dead-letter queue, which raises an alarm.
	MaxReceiveCount int `yaml:"maxReceiveCount" default:"5"`
	// LogRetentionDays is how long the indexer's logs are kept; one of the
	// values CloudWatch Logs allows.
	LogRetentionDays int `yaml:"logRetentionDays" default:"365"`
	// AlarmEmails are told when a message lands in the dead-letter queue.
	AlarmEmails []string `yaml:"alarmEmails"`
}

// maxLambdaMemoryMiB is the most memory a Lambda function can have.
const maxLambdaMemoryMiB = 10240

// defaultIndexerMemoryMiB is the indexer's memory when nothing asks for
// more: it also buys CPU, which ingest's copies and large merges use.
const defaultIndexerMemoryMiB = 1024

// IndexerMemoryMiB is the indexer function's memory: registry.indexer.memoryMiB,
// or else enough to rebuild the largest declared year, at least
// defaultIndexerMemoryMiB, in steps of 64 MiB.
func (x *Registry) IndexerMemoryMiB() int {
	if x.Indexer.MemoryMiB != 0 {
		return x.Indexer.MemoryMiB
	}
	need := defaultIndexerMemoryMiB
	for _, ds := range x.Datasets {
		if m := registryconfig.RebuildMemoryMiB(ds.LargestYear); m <= maxLambdaMemoryMiB {
			need = max(need, (m+63)/64*64)
		}
	}
	return need
}

// checkRebuildMemory refuses a dataset whose largest year the indexer's
// memory cannot rebuild, and warns of one no Lambda function can.
func (x *Registry) checkRebuildMemory(c *checker) {
	for _, id := range slices.Sorted(maps.Keys(x.Datasets)) {
		n := x.Datasets[id].LargestYear
		p := "registry.datasets." + id + ".largestYear"
		if n < 0 {
			c.errorf(p, "must not be negative, got %d", n)
			continue
		}
		need := registryconfig.RebuildMemoryMiB(n)
		switch mem := x.IndexerMemoryMiB(); {
		case need > maxLambdaMemoryMiB:
			c.warnf(p, "rebuilding %d files in one year needs about %d MiB, more than a Lambda function has (%d MiB): rebuild dataset %s with `heliocloud registry reindex` on a machine with that much memory free; events are indexed as usual", n, need, maxLambdaMemoryMiB, id)
		case need > mem:
			c.errorf(p, "rebuilding %d files in one year needs about %d MiB, but registry.indexer.memoryMiB is %d: raise it to %d or more (or remove it, to derive it from largestYear), or rebuild dataset %s with `heliocloud registry reindex` from a machine with that much memory free and leave largestYear unset, which skips this check (the indexer can rebuild %d files in one year)", n, need, mem, need, id, x.indexerCapacity())
		}
	}
}

// indexerCapacity is how many files in one year the indexer can rebuild.
func (x *Registry) indexerCapacity() int {
	return max(0, (x.IndexerMemoryMiB()-registryconfig.RebuildBaseMiB)<<20/registryconfig.RebuildBytesPerObject)
}

// maxLambdaEnvironment is Lambda's limit on all environment variables of a
// function together, which the registry configuration travels in.
const maxLambdaEnvironment = 4096

var egressKeywords = []string{"free", "user-pays", "public", "private", "egress-allowed", "no-egress"}

// DatasetPrefix is a dataset's data prefix, with its default.
func (x *Registry) DatasetPrefix(id string) string {
	return cmp.Or(x.Datasets[id].Prefix, id+"/")
}

// DatasetIndexPrefix is a dataset's index prefix, with its default: the
// folder holding the data folder.
func (x *Registry) DatasetIndexPrefix(id string) string {
	ds := x.Datasets[id]
	if ds.IndexPrefix != "" {
		return ds.IndexPrefix
	}
	parent := path.Dir(strings.TrimSuffix(x.DatasetPrefix(id), "/"))
	if parent == "." {
		return ""
	}
	return parent + "/"
}

// CatalogEgress is the egress keywords of a bucket's catalog, with its default.
func (cfg *Config) CatalogEgress(bucket string) string {
	if e := cfg.Registry.Catalogs[bucket].Egress; e != "" {
		return e
	}
	ds := cfg.Data.Datasets[bucket]
	pay, vis := "free", "private"
	if ds.RequesterPays {
		pay = "user-pays"
	}
	if ds.Public {
		vis = "public"
	}
	return pay + "," + vis
}

var timeFormats = map[string]catalog.TimeFormat{"seconds": catalog.Seconds, "milliseconds": catalog.Milliseconds, "minutes": catalog.Minutes}

// RegistryConfig is the indexer's view of the registry section: physical
// bucket names, defaults applied. The CLI runs with it and the stack hands
// it to the Lambda function as JSON.
func (cfg *Config) RegistryConfig() *registryconfig.Config {
	x := &cfg.Registry
	out := &registryconfig.Config{Catalogs: map[string]registryconfig.CatalogInfo{}, Extensions: x.Extensions}
	for _, b := range slices.Sorted(maps.Keys(x.Catalogs)) {
		c := x.Catalogs[b]
		out.Catalogs[cfg.DatasetBucketName(b)] = registryconfig.CatalogInfo{
			Name: c.Name, Contact: c.Contact, Egress: cfg.CatalogEgress(b), Description: c.Description, Citation: c.Citation,
		}
	}
	for _, id := range slices.Sorted(maps.Keys(x.Datasets)) {
		ds := x.Datasets[id]
		d, _ := time.ParseDuration(ds.Duration)
		out.Datasets = append(out.Datasets, registryconfig.Dataset{
			ID: id, Title: ds.Title, Bucket: cfg.DatasetBucketName(ds.Bucket),
			Prefix: x.DatasetPrefix(id), IndexPrefix: x.DatasetIndexPrefix(id),
			FileType: ds.FileType, Time: registryconfig.TimeRule{Layout: ds.Time.Layout, Pattern: ds.Time.Pattern},
			Duration: registryconfig.Duration(d), TimeFormat: timeFormats[ds.TimeFormat],
			Description: ds.Description, Resource: ds.Resource, Citation: ds.Citation, Contact: ds.Contact,
			About: ds.About, Tags: ds.Tags, Collections: ds.Collections,
		})
	}
	return out
}

// RegistryJSON is RegistryConfig as the compact JSON the Lambda reads.
func (cfg *Config) RegistryJSON() string {
	b, err := json.Marshal(cfg.RegistryConfig())
	if err != nil {
		// Plain strings, numbers and lists cannot fail to encode.
		panic(err)
	}
	return string(b)
}

// IngestBucketName is the physical name of the ingest bucket, or "".
func (cfg *Config) IngestBucketName() string {
	switch b := cfg.Registry.Ingest.Bucket; b {
	case "":
		return ""
	case "shared":
		return cfg.SharedBucketName()
	default:
		return cfg.DatasetBucketName(b)
	}
}

func (x *Registry) check(c *checker, cfg *Config) {
	buckets := slices.Sorted(maps.Keys(cfg.Data.Datasets))
	bucketList := strings.Join(buckets, ", ")
	if bucketList == "" {
		bucketList = "(none: add them under data.datasets)"
	}
	used := map[string]bool{}
	for _, id := range slices.Sorted(maps.Keys(x.Datasets)) {
		p := "registry.datasets." + id
		ds := x.Datasets[id]
		if _, ok := cfg.Data.Datasets[ds.Bucket]; !ok && ds.Bucket != "" {
			c.errorf(p+".bucket", "%q is not a dataset bucket%s; dataset buckets: %s", ds.Bucket, suggest(ds.Bucket, buckets), bucketList)
		} else if ds.Bucket != "" {
			used[ds.Bucket] = true
			if _, ok := x.Catalogs[ds.Bucket]; !ok {
				c.errorf(p+".bucket", "bucket %q has no catalog description: add registry.catalogs.%s with name and contact", ds.Bucket, ds.Bucket)
			}
		}
		for _, k := range []struct{ key, val string }{{"prefix", ds.Prefix}, {"indexPrefix", ds.IndexPrefix}} {
			if k.val != "" && (!strings.HasSuffix(k.val, "/") || strings.HasPrefix(k.val, "/") || strings.Contains(k.val, "//")) {
				c.errorf(p+"."+k.key, "%q must be a folder: end in '/', not start with '/', no empty parts", k.val)
			}
		}
		if ds.FileType != "" && !catalog.ValidFileType(ds.FileType) {
			c.errorf(p+".filetype", "%q: use one or more of %s, comma-separated without spaces", ds.FileType, strings.Join(catalog.FileTypes, ", "))
		}
		if _, err := (registryconfig.TimeRule{Layout: ds.Time.Layout, Pattern: ds.Time.Pattern}).Compile(); err != nil {
			at := p + ".time"
			if ds.Time.Pattern != "" && ds.Time.Layout == "" {
				at += ".pattern"
			} else if ds.Time.Layout != "" && ds.Time.Pattern == "" {
				at += ".layout"
			}
			c.errorf(at, "%v", err)
		}
		if ds.Duration != "" {
			if d, err := time.ParseDuration(ds.Duration); err != nil || d <= 0 {
				c.errorf(p+".duration", "%q is not a positive Go duration such as 12s, 1h or 24h", ds.Duration)
			}
		}
		// Problems at a key hide later ones below it, so the id (the key
		// itself) is checked after its fields.
		if !catalog.ValidID(id) {
			c.errorf(p, "%q is not a valid dataset id: use letters, digits, '-' and '_' only", id)
		}
	}
	x.checkOverlaps(c)
	for _, b := range slices.Sorted(maps.Keys(x.Catalogs)) {
		p := "registry.catalogs." + b
		if _, ok := cfg.Data.Datasets[b]; !ok {
			c.errorf(p, "%q is not a dataset bucket%s; dataset buckets: %s", b, suggest(b, buckets), bucketList)
			continue
		}
		if e := x.Catalogs[b].Egress; e != "" {
			for _, k := range strings.Split(e, ",") {
				if !slices.Contains(egressKeywords, k) {
					c.errorf(p+".egress", "%q is not an egress keyword; use %s, comma-separated without spaces", k, strings.Join(egressKeywords, ", "))
				}
			}
		}
		if !used[b] {
			c.warnf(p, "no dataset of registry.datasets is in bucket %s, so no catalog.json is written there", b)
		}
		if cfg.Data.Datasets[b].RequesterPays {
			c.warnf(p, "bucket %s is requester-pays: the official client never sends the requester-pays header, so only readers who do can read its catalog", b)
		}
	}
	for _, ft := range slices.Sorted(maps.Keys(x.Extensions)) {
		if !slices.Contains(catalog.FileTypes, ft) {
			c.errorf("registry.extensions."+ft, "%q is not a catalog filetype; use %s", ft, strings.Join(catalog.FileTypes, ", "))
		}
		for i, e := range x.Extensions[ft] {
			if e == "" || e != strings.ToLower(e) || strings.ContainsAny(e, "./ ") {
				c.errorf(fmt.Sprintf("registry.extensions.%s[%d]", ft, i), "%q: write extensions in lower case without the dot", e)
			}
		}
	}
	if b := x.Ingest.Bucket; b != "" && b != "shared" {
		if _, ok := cfg.Data.Datasets[b]; !ok {
			c.errorf("registry.ingest.bucket", "%q is neither shared nor a dataset bucket%s; dataset buckets: %s", b, suggest(b, buckets), bucketList)
		}
	}
	if p := x.Ingest.Prefix; p != "" && (!strings.HasSuffix(p, "/") || strings.HasPrefix(p, "/") || strings.Contains(p, "//")) {
		c.errorf("registry.ingest.prefix", "%q must be a folder: end in '/' and not start with '/'", p)
	}
	x.Indexer.check(c)
	x.checkRebuildMemory(c)
	if x.Enabled && len(x.Datasets) > 0 {
		if n := len(cfg.RegistryJSON()); n > maxLambdaEnvironment-256 {
			c.errorf("registry.datasets", "the datasets' description takes %d bytes, more than the indexer's environment holds (%d): shorten descriptions or split the datasets over instances", n, maxLambdaEnvironment-256)
		}
	}
}

// checkOverlaps refuses two datasets whose files would mix: one data prefix
// inside another's in the same bucket.
func (x *Registry) checkOverlaps(c *checker) {
	ids := slices.Sorted(maps.Keys(x.Datasets))
	for i, a := range ids {
		for _, b := range ids[i+1:] {
			da, db := x.Datasets[a], x.Datasets[b]
			pa, pb := x.DatasetPrefix(a), x.DatasetPrefix(b)
			if da.Bucket == db.Bucket && (strings.HasPrefix(pa, pb) || strings.HasPrefix(pb, pa)) {
				c.errorf("registry.datasets."+b+".prefix", "%q overlaps dataset %s's prefix %q in bucket %s: each file must belong to one dataset", pb, a, pa, da.Bucket)
			}
		}
	}
}

func (ix *RegistryIndexer) check(c *checker) {
	p := "registry.indexer."
	rangeCheck := func(key string, v, lo, hi int) {
		if v < lo || v > hi {
			c.errorf(p+key, "must be between %d and %d, got %d", lo, hi, v)
		}
	}
	rangeCheck("batchSize", ix.BatchSize, 1, 10000)
	rangeCheck("batchWindowSeconds", ix.BatchWindowSeconds, 0, 300)
	rangeCheck("maxConcurrency", ix.MaxConcurrency, 2, 1000)
	if ix.MemoryMiB != 0 {
		rangeCheck("memoryMiB", ix.MemoryMiB, 128, maxLambdaMemoryMiB)
	}
	rangeCheck("maxReceiveCount", ix.MaxReceiveCount, 1, 1000)
	if ix.BatchSize > 10 && ix.BatchWindowSeconds == 0 {
		c.errorf(p+"batchWindowSeconds", "must be at least 1 when batchSize is above 10 (an SQS rule)")
	}
	if !slices.Contains(LogRetentionDays, ix.LogRetentionDays) {
		c.errorf(p+"logRetentionDays", "%d is not a retention CloudWatch Logs allows; use one of %s", ix.LogRetentionDays, joinInts(LogRetentionDays))
	}
	checkEmails(c, p+"alarmEmails", ix.AlarmEmails)
}
