package config

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"net/netip"
	"regexp"
	"slices"
	"strings"
)

// Data is the S3 buckets for datasets, teams, shared work and scratch.
type Data struct {
	// Enabled builds this component's stack.
	Enabled bool `yaml:"enabled"`
	// Datasets are buckets of published data, keyed by name (lower-case
	// letters, digits and hyphens, at most 40 characters). Each is public
	// (anyone may read it anonymously) or private to the instance's users.
	Datasets map[string]DatasetBucket `yaml:"datasets"`
	// TeamBuckets gives each team in the top-level teams a bucket that only
	// its members can read and write.
	TeamBuckets TeamBuckets `yaml:"teamBuckets"`
	// Shared is the bucket every user of the instance can read and write.
	Shared SharedBucket `yaml:"shared"`
	// Scratch is the bucket for temporary results, emptied on a schedule.
	Scratch ScratchBucket `yaml:"scratch"`
	// AccessLogs is the bucket that receives the server access logs of all
	// the other buckets.
	AccessLogs AccessLogBucket `yaml:"accessLogs"`
	// AdminRoleArns are the IAM roles of the account's administrators
	// (break-glass roles), such as
	// arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_AdministratorAccess_0123456789abcdef.
	// The team and dataset buckets' policies deny object access to every
	// principal but the roles that need it (a team's own role; a dataset's
	// writers); these roles are exempt from those denials, so that an
	// administrator can still recover data. They are exempt only: what they
	// may do comes from their own IAM policies.
	AdminRoleArns []string `yaml:"adminRoleArns"`
	// DestroyOnDelete makes deleting the stack delete every bucket with all
	// its objects, and the buckets' KMS keys. For throw-away development
	// instances only: otherwise buckets and keys are retained when the stack is deleted or a bucket is removed
	// from this file, so that no research data is ever lost by a deploy.
	DestroyOnDelete bool `yaml:"destroyOnDelete"`
}

// DatasetBucket is one bucket of published data.
type DatasetBucket struct {
	// Description says what the bucket holds; shown in the stack outputs.
	Description string `yaml:"description"`
	// Public lets anyone read the bucket anonymously (GetObject and
	// ListBucket, so that a missing object answers 404, as CloudCatalog
	// clients need). Otherwise only the instance's users and readerAccounts
	// can read it.
	Public bool `yaml:"public"`
	// RequesterPays makes readers pay the request and transfer costs. Not
	// allowed on a public bucket: the CloudCatalog client never sends the
	// requester-pays header, so the public could not read the catalog.
	RequesterPays bool `yaml:"requesterPays"`
	// BucketName is the bucket's physical (globally unique) name. Default:
	// <instance>-<dataset name>-<account suffix> (docs/data.md).
	BucketName string `yaml:"bucketName"`
	// Encryption at rest: "s3" (SSE-S3, AWS-owned keys) or "kms" (a customer
	// managed KMS key made for this bucket, with yearly rotation). Public
	// buckets must use s3: anonymous readers cannot use a KMS key.
	Encryption string `yaml:"encryption" default:"s3" enum:"s3,kms"`
	// Writers are the teams whose members may add, change and delete
	// objects; everybody else in the instance only reads.
	Writers []string `yaml:"writers"`
	// ReaderAccounts are other AWS accounts (12-digit ids, such as other
	// HelioCloud instances) allowed to read a private bucket.
	ReaderAccounts []string `yaml:"readerAccounts"`
	// NoncurrentVersionExpiryDays deletes overwritten or deleted object
	// versions this many days after they stopped being current; 0 keeps them.
	NoncurrentVersionExpiryDays int `yaml:"noncurrentVersionExpiryDays"`
	// IntelligentTiering moves objects to S3 Intelligent-Tiering, which
	// lowers the cost of data nobody reads for a month or more.
	IntelligentTiering bool `yaml:"intelligentTiering"`
}

// TeamBuckets are the settings of the per-team buckets.
type TeamBuckets struct {
	// Enabled makes one bucket per team, named
	// <instance>-team-<team>-<account suffix> (docs/data.md).
	Enabled bool `yaml:"enabled" default:"true"`
	// BucketNames overrides the physical name of a team's bucket, keyed by
	// team name.
	BucketNames map[string]string `yaml:"bucketNames"`
	// Encryption at rest: "s3" (SSE-S3) or "kms" (one customer managed KMS
	// key per team bucket).
	Encryption string `yaml:"encryption" default:"s3" enum:"s3,kms"`
	// NoncurrentVersionExpiryDays deletes overwritten or deleted object
	// versions this many days after they stopped being current, so that a
	// mistake can be undone for that long; 0 keeps them forever.
	NoncurrentVersionExpiryDays int `yaml:"noncurrentVersionExpiryDays" default:"30"`
	// IntelligentTiering moves objects to S3 Intelligent-Tiering.
	IntelligentTiering bool `yaml:"intelligentTiering"`
}

// SharedBucket is the instance-wide read-write bucket.
type SharedBucket struct {
	// BucketName is the physical name. Default:
	// <instance>-shared-<account suffix> (docs/data.md).
	BucketName string `yaml:"bucketName"`
	// Encryption at rest: "s3" (SSE-S3) or "kms" (a customer managed key).
	Encryption string `yaml:"encryption" default:"s3" enum:"s3,kms"`
	// NoncurrentVersionExpiryDays deletes overwritten or deleted object
	// versions this many days after they stopped being current; 0 keeps them.
	NoncurrentVersionExpiryDays int `yaml:"noncurrentVersionExpiryDays" default:"30"`
	// IntelligentTiering moves objects to S3 Intelligent-Tiering.
	IntelligentTiering bool `yaml:"intelligentTiering"`
}

// ScratchBucket is the instance-wide bucket for temporary files.
type ScratchBucket struct {
	// BucketName is the physical name. Default:
	// <instance>-scratch-<account suffix> (docs/data.md).
	BucketName string `yaml:"bucketName"`
	// Encryption at rest: "s3" (SSE-S3) or "kms" (a customer managed key).
	Encryption string `yaml:"encryption" default:"s3" enum:"s3,kms"`
	// ExpireDays deletes every object this many days after it was written.
	ExpireDays int `yaml:"expireDays" default:"7"`
}

// AccessLogBucket receives the S3 server access logs of the instance.
type AccessLogBucket struct {
	// BucketName is the physical name. Default:
	// <instance>-access-logs-<account suffix> (docs/data.md).
	BucketName string `yaml:"bucketName"`
	// ExpireDays deletes log files this many days after they were written.
	ExpireDays int `yaml:"expireDays" default:"365"`
}

// BucketKind tells the instance's buckets apart.
type BucketKind string

// The kinds of bucket the data component makes.
const (
	DatasetKind   BucketKind = "dataset"
	TeamKind      BucketKind = "team"
	SharedKind    BucketKind = "shared"
	ScratchKind   BucketKind = "scratch"
	AccessLogKind BucketKind = "accessLogs"
	// HubCostsKind receives the billing data export behind DaskHub's
	// per-user costs (portal.hubCosts) and the portal's Athena results.
	HubCostsKind BucketKind = "hubCosts"
)

// BucketRef names one bucket of the instance: its kind, its name within the
// kind (dataset or team name; empty for shared, scratch and access logs),
// its physical name and the key path it is configured under.
type BucketRef struct {
	Kind     BucketKind
	Name     string
	Physical string
	Path     string
}

// Buckets lists every bucket the data component makes, in a fixed order:
// datasets by name, teams by name, shared, scratch, access logs, and the
// hub costs bucket when portal.hubCosts is on.
func (cfg *Config) Buckets() []BucketRef {
	d := &cfg.Data
	var out []BucketRef
	for _, name := range slices.Sorted(maps.Keys(d.Datasets)) {
		out = append(out, BucketRef{DatasetKind, name, cfg.DatasetBucketName(name), namePath("data.datasets."+name, d.Datasets[name].BucketName)})
	}
	if d.TeamBuckets.Enabled {
		for _, team := range slices.Sorted(maps.Keys(cfg.Teams)) {
			path := "data.teamBuckets"
			if _, ok := d.TeamBuckets.BucketNames[team]; ok {
				path = "data.teamBuckets.bucketNames." + team
			}
			out = append(out, BucketRef{TeamKind, team, cfg.TeamBucketName(team), path})
		}
	}
	out = append(out,
		BucketRef{SharedKind, "", cfg.SharedBucketName(), namePath("data.shared", d.Shared.BucketName)},
		BucketRef{ScratchKind, "", cfg.ScratchBucketName(), namePath("data.scratch", d.Scratch.BucketName)},
		BucketRef{AccessLogKind, "", cfg.AccessLogBucketName(), namePath("data.accessLogs", d.AccessLogs.BucketName)},
	)
	if cfg.Portal.Enabled && cfg.Portal.HubCosts.Enabled {
		out = append(out, BucketRef{HubCostsKind, "", cfg.HubCostsBucketName(), "portal.hubCosts"})
	}
	return out
}

// DatasetBucketName is the physical name of a dataset bucket.
func (cfg *Config) DatasetBucketName(name string) string {
	return cmp.Or(cfg.Data.Datasets[name].BucketName, cfg.defaultBucketName(name))
}

// TeamBucketName is the physical name of a team's bucket.
func (cfg *Config) TeamBucketName(team string) string {
	return cmp.Or(cfg.Data.TeamBuckets.BucketNames[team], cfg.defaultBucketName("team-"+team))
}

// SharedBucketName is the physical name of the shared bucket.
func (cfg *Config) SharedBucketName() string {
	return cmp.Or(cfg.Data.Shared.BucketName, cfg.defaultBucketName("shared"))
}

// ScratchBucketName is the physical name of the scratch bucket.
func (cfg *Config) ScratchBucketName() string {
	return cmp.Or(cfg.Data.Scratch.BucketName, cfg.defaultBucketName("scratch"))
}

// BucketEncryption is the encryption setting, "s3" or "kms", of bucket b;
// the access log and hub costs buckets are always "s3".
func (cfg *Config) BucketEncryption(b BucketRef) string {
	d := &cfg.Data
	switch b.Kind {
	case DatasetKind:
		return d.Datasets[b.Name].Encryption
	case TeamKind:
		return d.TeamBuckets.Encryption
	case SharedKind:
		return d.Shared.Encryption
	case ScratchKind:
		return d.Scratch.Encryption
	}
	return "s3"
}

// HubCostsBucketName is the physical name of the bucket that receives the
// billing export behind DaskHub's per-user costs.
func (cfg *Config) HubCostsBucketName() string {
	return cfg.defaultBucketName("hubcosts")
}

// AccessLogBucketName is the physical name of the access log bucket.
func (cfg *Config) AccessLogBucketName() string {
	return cmp.Or(cfg.Data.AccessLogs.BucketName, cfg.defaultBucketName("access-logs"))
}

// defaultBucketName is the physical name of a bucket whose bucketName the
// instance file leaves out: <instance>-<what>, then, when the file gives
// the account, a dash and 8 hex digits of SHA-256("<account>/<region>").
// Bucket names are global across all of S3, and an instance name alone
// ("minimal") is likely taken by someone; the suffix makes the name this
// account's without randomness, so every synth (and the registry command)
// gets the same name. It comes only from the file, never from the
// deployer's credentials, so that every tool reading the file agrees.
func (cfg *Config) defaultBucketName(what string) string {
	name := cfg.Name + "-" + what
	if cfg.Account == "" {
		return name
	}
	sum := sha256.Sum256([]byte(cfg.Account + "/" + cfg.Region))
	return name + "-" + hex.EncodeToString(sum[:4])
}

// namePath is where a bucket's name problems are reported: at its
// bucketName when the admin wrote one, else at its section.
func namePath(section, explicit string) string {
	if explicit != "" {
		return section + ".bucketName"
	}
	return section
}

var (
	// An IAM role ARN: partition, account, optional path, name of at most
	// 64 characters, and no wildcards.
	roleArnRe    = regexp.MustCompile(`^arn:aws(-[a-z]+)*:iam::([0-9]{12}):role/([\w+=,.@-]+/)*([\w+=,.@-]{1,64})$`)
	bucketNameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]*[a-z0-9]$`)
	// Prefixes and suffixes S3 reserves for its own features.
	bucketReservedPrefixes = []string{"xn--", "sthree-", "amzn-s3-demo-"}
	bucketReservedSuffixes = []string{"-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"}
)

// bucketNameProblem says why name is not a valid S3 bucket name, or "".
func bucketNameProblem(name string) string {
	switch {
	case len(name) < 3 || len(name) > 63:
		return fmt.Sprintf("is %d characters long; S3 bucket names have 3 to 63", len(name))
	case !bucketNameRe.MatchString(name):
		return "may hold only lower-case letters, digits, hyphens and dots, and must start and end with a letter or digit"
	case strings.Contains(name, ".."):
		return "must not hold two dots in a row"
	}
	if _, err := netip.ParseAddr(name); err == nil {
		return "must not look like an IP address"
	}
	for _, p := range bucketReservedPrefixes {
		if strings.HasPrefix(name, p) {
			return fmt.Sprintf("must not start with %q (reserved by S3)", p)
		}
	}
	for _, s := range bucketReservedSuffixes {
		if strings.HasSuffix(name, s) {
			return fmt.Sprintf("must not end with %q (reserved by S3)", s)
		}
	}
	return ""
}

func (x *Data) check(c *checker, cfg *Config) {
	for _, name := range slices.Sorted(maps.Keys(x.Datasets)) {
		p := "data.datasets." + name
		ds := x.Datasets[name]
		checkName(c, p, name, 40)
		if ds.Public && ds.RequesterPays {
			c.errorf(p+".requesterPays", "a public bucket cannot be requester-pays: the official CloudCatalog client reads anonymously and never sends the requester-pays header, so nobody outside the instance could read the catalog or the data; make the bucket private (public: false) to charge readers")
		}
		if ds.Public && ds.Encryption == "kms" {
			c.errorf(p+".encryption", "a public bucket must use encryption: s3; anonymous readers cannot decrypt with a KMS key")
		}
		if ds.Public && len(ds.ReaderAccounts) > 0 {
			c.errorf(p+".readerAccounts", "only applies to a private bucket: a public bucket is readable by every account")
		}
		if ds.RequesterPays && !ds.Public && len(ds.ReaderAccounts) == 0 {
			c.warnf(p+".requesterPays", "only the instance's own account can read this bucket, so requester-pays changes nothing; list the paying accounts in readerAccounts")
		}
		if len(ds.Writers) == 0 && len(x.AdminRoleArns) == 0 && !cfg.ingestFeeds(name) {
			c.warnf(p+".writers", "nobody may put data into this bucket: its policy denies writes to every principal but the writer teams, data.adminRoleArns and the registry's indexer (which writes only index files here); list the teams that publish it, or your administrators' roles")
		}
		checkTeams(c, p+".writers", ds.Writers, cfg)
		checkAccounts(c, p+".readerAccounts", ds.ReaderAccounts)
		checkNonNegative(c, p+".noncurrentVersionExpiryDays", ds.NoncurrentVersionExpiryDays)
	}
	for _, team := range slices.Sorted(maps.Keys(x.TeamBuckets.BucketNames)) {
		if _, ok := cfg.Teams[team]; !ok {
			c.errorf("data.teamBuckets.bucketNames."+team, "%q is not a team; teams: %s", team, teamList(cfg))
		}
	}
	if !x.TeamBuckets.Enabled && len(x.TeamBuckets.BucketNames) > 0 {
		c.errorf("data.teamBuckets.bucketNames", "only applies with teamBuckets.enabled: true")
	}
	checkNonNegative(c, "data.teamBuckets.noncurrentVersionExpiryDays", x.TeamBuckets.NoncurrentVersionExpiryDays)
	checkNonNegative(c, "data.shared.noncurrentVersionExpiryDays", x.Shared.NoncurrentVersionExpiryDays)
	if x.Scratch.ExpireDays < 1 {
		c.errorf("data.scratch.expireDays", "must be at least 1 day, got %d", x.Scratch.ExpireDays)
	}
	if x.AccessLogs.ExpireDays < 1 {
		c.errorf("data.accessLogs.expireDays", "must be at least 1 day, got %d", x.AccessLogs.ExpireDays)
	}
	seen := map[string]bool{}
	for i, arn := range x.AdminRoleArns {
		p := fmt.Sprintf("data.adminRoleArns[%d]", i)
		m := roleArnRe.FindStringSubmatch(arn)
		switch {
		case m == nil:
			c.errorf(p, "%q is not an IAM role ARN such as arn:aws:iam::123456789012:role/Admin (no wildcards, users or assumed-role sessions: the role's sessions are covered by its ARN)", arn)
		case seen[arn]:
			c.errorf(p, "%q is listed twice", arn)
		case cfg.Account != "" && m[2] != cfg.Account:
			c.warnf(p, "role %q is in account %s, not the instance's account %s: being exempt from the buckets' denials gives it no access", arn, m[2], cfg.Account)
		}
		seen[arn] = true
	}

	if !x.Enabled {
		return
	}
	owner := map[string]string{}
	for _, b := range cfg.Buckets() {
		derived := !strings.HasSuffix(b.Path, ".bucketName") && !strings.HasPrefix(b.Path, "data.teamBuckets.bucketNames.")
		if derived && !namePattern.MatchString(cfg.Name) {
			// The instance name is reported already; names made from it
			// would only repeat the problem.
			continue
		}
		if msg := bucketNameProblem(b.Physical); msg != "" {
			c.errorf(b.Path, "bucket name %q %s", b.Physical, msg)
		} else if strings.Contains(b.Physical, ".") {
			c.warnf(b.Path, "bucket name %q holds dots: HTTPS to <bucket>.s3.amazonaws.com fails its certificate check for such names", b.Physical)
		}
		if first, ok := owner[b.Physical]; ok {
			c.errorf(b.Path, "bucket name %q is also the name of %s; every bucket needs its own name", b.Physical, first)
		} else {
			owner[b.Physical] = b.Path
		}
	}
	if x.DestroyOnDelete {
		c.warnf("data.destroyOnDelete", "DANGER: deleting the %s-Data stack, or removing a bucket from this file, will DELETE the bucket and EVERY OBJECT in it, with no way back; use this only for a throw-away development instance", cfg.Name)
	}
}

// ingestFeeds tells whether the registry's ingest copies uploads into the
// dataset bucket of this name.
func (cfg *Config) ingestFeeds(dataset string) bool {
	r := &cfg.Registry
	if !r.Enabled || r.Ingest.Bucket == "" {
		return false
	}
	for _, ds := range r.Datasets {
		if ds.Bucket == dataset {
			return true
		}
	}
	return false
}

// checkTeams reports the names in list that are not teams of the instance.
func checkTeams(c *checker, path string, list []string, cfg *Config) {
	for i, t := range list {
		checkTeam(c, fmt.Sprintf("%s[%d]", path, i), t, cfg)
	}
}

// checkTeam reports team if it is not a team of the instance.
func checkTeam(c *checker, path, team string, cfg *Config) {
	if _, ok := cfg.Teams[team]; !ok {
		c.errorf(path, "%q is not a team%s; teams: %s", team, suggest(team, slices.Sorted(maps.Keys(cfg.Teams))), teamList(cfg))
	}
}

func teamList(cfg *Config) string {
	if len(cfg.Teams) == 0 {
		return "(none: add them under the top-level teams key)"
	}
	return strings.Join(slices.Sorted(maps.Keys(cfg.Teams)), ", ")
}

func checkNonNegative(c *checker, path string, n int) {
	if n < 0 {
		c.errorf(path, "must not be negative, got %d", n)
	}
}
