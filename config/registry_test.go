package config

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/heliocloud/heliocloud-go/catalog"
)

// reg is a valid instance with two dataset buckets and one dataset, plus
// extra datasets (from line 11), catalogs and other registry keys.
func reg(datasets, catalogs, rest string) string {
	return `name: gsfc
data:
  enabled: true
  datasets:
    helio-public: {public: true}
    archive: {requesterPays: true, readerAccounts: ["123456789012"]}
registry:
  enabled: true
  datasets:
    aia_0094: {title: SDO AIA 94, bucket: helio-public, prefix: sdo/aia/0094/, filetype: fits, time: {layout: "2006/01/02/aia_0094_20060102_150405"}}
` + datasets + `  catalogs:
    helio-public: {name: GSFC public data, contact: data@example.org}
` + catalogs + rest
}

func TestRegistryDefaultsAndIndexerView(t *testing.T) {
	cfg := mustLoad(t, reg("    mms1_fgm: {title: MMS1 FGM, bucket: helio-public, filetype: cdf, duration: 1h, timeFormat: milliseconds, time: {pattern: 'mms1_fgm_(?P<year>\\d{4})(?P<month>\\d\\d)(?P<day>\\d\\d)'}}\n", "", ""))
	rc := cfg.RegistryConfig()
	if err := rc.Compile(); err != nil {
		t.Fatalf("the indexer refuses what config accepted: %v", err)
	}
	aia, mms := rc.Datasets[0], rc.Datasets[1]
	if aia.Bucket != "gsfc-helio-public" || aia.Prefix != "sdo/aia/0094/" || aia.IndexPrefix != "sdo/aia/" || aia.TimeFormat != catalog.Seconds {
		t.Errorf("aia: %+v", aia)
	}
	// Without a prefix a dataset lives in <id>/ and its index beside it, at the root.
	if mms.Prefix != "mms1_fgm/" || mms.IndexPrefix != "" || mms.TimeFormat != catalog.Milliseconds || time.Duration(mms.Duration).String() != "1h0m0s" {
		t.Errorf("mms: %+v", mms)
	}
	if c := rc.Catalogs["gsfc-helio-public"]; c.Egress != "free,public" || c.Name != "GSFC public data" {
		t.Errorf("catalog %+v", c)
	}
	if got := rc.Extensions["fits"]; strings.Join(got, ",") != "fits,fts,fit" {
		t.Errorf("default fits extensions %v", got)
	}
	if len(cfg.RegistryJSON()) > 1500 {
		t.Errorf("environment JSON is %d bytes", len(cfg.RegistryJSON()))
	}
	if (&RegistryIndexer{}).BatchSize != 0 || cfg.Registry.Indexer.BatchSize != 100 || cfg.Registry.Ingest.Prefix != "ingest/" {
		t.Errorf("indexer defaults %+v ingest %+v", cfg.Registry.Indexer, cfg.Registry.Ingest)
	}
}

func TestRegistryErrors(t *testing.T) {
	tests := []struct{ name, datasets, catalogs, rest, want string }{
		{"bad id", "    aia 94: {title: A, bucket: helio-public, prefix: a/, filetype: fits, time: {layout: '20060102'}}\n", "", "",
			`test.yaml:11: error: registry.datasets.aia 94: "aia 94" is not a valid dataset id: use letters, digits, '-' and '_' only`},
		{"unknown bucket", "    b: {title: B, bucket: helio-publik, prefix: b/, filetype: fits, time: {layout: '20060102'}}\n", "", "",
			`test.yaml:11: error: registry.datasets.b.bucket: "helio-publik" is not a dataset bucket (did you mean "helio-public"?); dataset buckets: archive, helio-public`},
		{"bucket without catalog", "    b: {title: B, bucket: archive, prefix: b/, filetype: fits, time: {layout: '20060102'}}\n", "", "",
			`registry.datasets.b.bucket: bucket "archive" has no catalog description: add registry.catalogs.archive`},
		{"overlapping prefixes", "    aia_all: {title: B, bucket: helio-public, prefix: sdo/aia/, filetype: fits, time: {layout: '20060102'}}\n", "", "",
			`registry.datasets.aia_all.prefix: "sdo/aia/" overlaps dataset aia_0094's prefix "sdo/aia/0094/" in bucket helio-public`},
		{"pattern that does not compile", "    b: {title: B, bucket: helio-public, prefix: b/, filetype: fits, time: {pattern: '(?P<year>\\d{4}'}}\n", "", "",
			`test.yaml:11: error: registry.datasets.b.time.pattern: pattern does not compile: error parsing regexp: missing closing )`},
		{"pattern without year", "    b: {title: B, bucket: helio-public, prefix: b/, filetype: fits, time: {pattern: 'x(?P<month>\\d\\d)'}}\n", "", "",
			`registry.datasets.b.time.pattern: needs a year`},
		{"layout without day", "    b: {title: B, bucket: helio-public, prefix: b/, filetype: fits, time: {layout: '200601'}}\n", "", "",
			`registry.datasets.b.time.layout: needs month and day (01 and 02), or doy (002)`},
		{"no time rule", "    b: {title: B, bucket: helio-public, prefix: b/, filetype: fits, time: {}}\n", "", "",
			`registry.datasets.b.time: set layout or pattern`},
		{"filetype", "    b: {title: B, bucket: helio-public, prefix: b/, filetype: 'cdf, fits', time: {layout: '20060102'}}\n", "", "",
			`registry.datasets.b.filetype: "cdf, fits": use one or more of fits, csv, cdf`},
		{"prefix", "    b: {title: B, bucket: helio-public, prefix: /b, filetype: fits, time: {layout: '20060102'}}\n", "", "",
			`registry.datasets.b.prefix: "/b" must be a folder`},
		{"duration", "    b: {title: B, bucket: helio-public, prefix: b/, filetype: fits, duration: 5 minutes, time: {layout: '20060102'}}\n", "", "",
			`registry.datasets.b.duration: "5 minutes" is not a positive Go duration`},
		{"time format", "    b: {title: B, bucket: helio-public, prefix: b/, filetype: fits, timeFormat: hours, time: {layout: '20060102'}}\n", "", "",
			`registry.datasets.b.timeFormat`},
		{"missing title", "    b: {bucket: helio-public, prefix: b/, filetype: fits, time: {layout: '20060102'}}\n", "", "",
			`registry.datasets.b.title`},
		{"catalog of unknown bucket", "", "    nope: {name: N, contact: c}\n", "",
			`registry.catalogs.nope: "nope" is not a dataset bucket`},
		{"egress keyword", "", "    archive: {name: N, contact: c, egress: 'free,open'}\n", "",
			`registry.catalogs.archive.egress: "open" is not an egress keyword`},
		{"ingest prefix with an empty folder", "", "", "  ingest: {bucket: shared, prefix: a//b/}\n",
			`registry.ingest.prefix: "a//b/" must be a folder`},
		{"ingest bucket", "", "", "  ingest: {bucket: scratch}\n",
			`registry.ingest.bucket: "scratch" is neither shared nor a dataset bucket`},
		{"extension filetype", "", "", "  extensions: {fitz: [fz]}\n",
			`registry.extensions.fitz: "fitz" is not a catalog filetype`},
		{"extension with dot", "", "", "  extensions: {fits: [.fz]}\n",
			`registry.extensions.fits[0]: ".fz": write extensions in lower case without the dot`},
		{"batch window", "", "", "  indexer: {batchWindowSeconds: 0}\n",
			`registry.indexer.batchWindowSeconds: must be at least 1 when batchSize is above 10`},
		{"log retention", "", "", "  indexer: {logRetentionDays: 42}\n",
			`registry.indexer.logRetentionDays: 42 is not a retention CloudWatch Logs allows`},
		{"alarm e-mail", "", "", "  indexer: {alarmEmails: [ops]}\n",
			`registry.indexer.alarmEmails[0]: "ops" is not an e-mail address`},
		{"largest year too big for the indexer's memory", "    big: {title: B, bucket: helio-public, prefix: big/, filetype: fits, time: {layout: '20060102'}, largestYear: 5000000}\n", "", "  indexer: {memoryMiB: 1024}\n",
			"test.yaml:11: error: registry.datasets.big.largestYear: rebuilding 5000000 files in one year needs about 2036 MiB, but registry.indexer.memoryMiB is 1024: raise it to 2036 or more (or remove it, to derive it from largestYear), or rebuild dataset big with `heliocloud registry reindex` from a machine with that much memory free and leave largestYear unset, which skips this check (the indexer can rebuild 2348810 files in one year)"},
		{"negative largest year", "    big: {title: B, bucket: helio-public, prefix: big/, filetype: fits, time: {layout: '20060102'}, largestYear: -1}\n", "", "",
			"test.yaml:11: error: registry.datasets.big.largestYear: must not be negative, got -1"},
		{"too big for the environment", "    big: {title: B, bucket: helio-public, prefix: big/, filetype: fits, time: {layout: '20060102'}, description: '" + strings.Repeat("x", 4000) + "'}\n", "", "",
			`registry.datasets: the datasets' description takes`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantProblem(t, reg(tc.datasets, tc.catalogs, tc.rest), tc.want)
		})
	}
}

// The indexer's memory follows the largest declared year unless set, and a
// year no Lambda function can rebuild is sent to the command line.
func TestRegistryIndexerMemory(t *testing.T) {
	for _, tc := range []struct {
		largest string
		want    int
	}{{"", 1024}, {"largestYear: 1000000, ", 1024}, {"largestYear: 5000000, ", 2048}, {"largestYear: 30000000, ", 1024}} {
		cfg := mustLoad(t, reg("    big: {"+tc.largest+"title: B, bucket: helio-public, prefix: big/, filetype: fits, time: {layout: '20060102'}}\n", "", ""))
		if got := cfg.Registry.IndexerMemoryMiB(); got != tc.want {
			t.Errorf("%q: memory %d MiB, want %d", tc.largest, got, tc.want)
		}
	}
	cfg := mustLoad(t, reg("    big: {largestYear: 30000000, title: B, bucket: helio-public, prefix: big/, filetype: fits, time: {layout: '20060102'}}\n", "", ""))
	if want := "test.yaml:11: warning: registry.datasets.big.largestYear: rebuilding 30000000 files in one year needs about 11573 MiB, more than a Lambda function has (10240 MiB): rebuild dataset big with `heliocloud registry reindex` on a machine with that much memory free; events are indexed as usual"; !strings.Contains(warningsText(cfg), want) {
		t.Errorf("warnings:\n%s\nwant a line containing:\n%s", warningsText(cfg), want)
	}
}

// Every mistake of a file is reported at once.
func TestRegistryReportsAllProblems(t *testing.T) {
	_, problems := loadText(t, reg("    b: {title: B, bucket: nope, filetype: x, time: {}}\n    c d: {title: C, bucket: helio-public, filetype: fits, time: {layout: '2006'}}\n", "", ""))
	if n := len(problems.Errors()); n < 5 {
		t.Fatalf("want every problem, got %d:\n%v", n, problems)
	}
}

func TestRegistryWarnsOnRequesterPaysCatalog(t *testing.T) {
	cfg := mustLoad(t, reg("    old: {title: O, bucket: archive, prefix: old/, filetype: cdf, time: {layout: '20060102'}}\n", "    archive: {name: A, contact: c}\n", ""))
	if !strings.Contains(cfg.Warnings.Error()+" "+warningsText(cfg), "requester-pays") {
		t.Fatalf("warnings: %v", warningsText(cfg))
	}
}

// The declaration example of docs/registry.md is a valid instance.
func TestRegistryDocsExampleIsValid(t *testing.T) {
	doc, err := os.ReadFile("../docs/registry.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "## Declaring a dataset")
	if !ok {
		t.Fatal("docs/registry.md has no declaration section")
	}
	_, block, _ := strings.Cut(rest, "```yaml\n")
	block, _, _ = strings.Cut(block, "```")
	cfg := mustLoad(t, "name: gsfc\nteams: {sdo: {}}\n"+block)
	if d := cfg.RegistryConfig().Datasets[0]; d.Bucket != "gsfc-sdo-aia" || d.IndexPrefix != "sdo/aia/" {
		t.Fatalf("docs example gives %+v", d)
	}
}
