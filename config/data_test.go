package config

import (
	"slices"
	"strings"
	"testing"
)

// dataBase is a small valid instance with data on; fixtures add lines under
// data from line 5.
const dataBase = "name: x\nteams: {sdo: {}, mms: {}}\ndata:\n  enabled: true\n"

func TestDataDefaults(t *testing.T) {
	cfg := mustLoad(t, dataBase+"  datasets:\n    sdo-aia: {public: true, writers: [sdo]}\n")
	d := cfg.Data
	if d.Scratch.ExpireDays != 7 || d.TeamBuckets.NoncurrentVersionExpiryDays != 30 || !d.TeamBuckets.Enabled ||
		d.AccessLogs.ExpireDays != 365 || d.Datasets["sdo-aia"].Encryption != "s3" || d.DestroyOnDelete {
		t.Errorf("defaults: %+v", d)
	}
	var names []string
	for _, b := range cfg.Buckets() {
		names = append(names, string(b.Kind)+":"+b.Physical)
	}
	want := []string{"dataset:x-sdo-aia", "team:x-team-mms", "team:x-team-sdo", "shared:x-shared", "scratch:x-scratch", "accessLogs:x-access-logs"}
	if !slices.Equal(names, want) {
		t.Errorf("buckets %v, want %v", names, want)
	}
	if len(cfg.Warnings) > 0 {
		t.Errorf("defaults warn: %v", cfg.Warnings)
	}
}

// Default bucket names live in S3's global namespace: with the account in
// the file they end in a suffix of the account and region (the same in
// every load, different for another account or region); explicit names
// are kept as written, and without an account the names stay bare.
func TestDataDefaultNamesCarryTheAccount(t *testing.T) {
	const datasets = "  datasets:\n    sdo-aia: {public: true, writers: [sdo]}\n    mms: {bucketName: gsfc-mms-burst}\n"
	load := func(account, region string) *Config {
		return mustLoad(t, "name: x\naccount: \""+account+"\"\nregion: "+region+"\nteams: {sdo: {}, mms: {}}\ndata:\n  enabled: true\n"+datasets)
	}
	names := func(cfg *Config) []string {
		var out []string
		for _, b := range cfg.Buckets() {
			out = append(out, b.Physical)
		}
		return out
	}
	got := names(load("111122223333", "us-east-1"))
	// sha256("111122223333/us-east-1") begins 885c9a1d.
	want := []string{"gsfc-mms-burst", "x-sdo-aia-885c9a1d", "x-team-mms-885c9a1d", "x-team-sdo-885c9a1d", "x-shared-885c9a1d", "x-scratch-885c9a1d", "x-access-logs-885c9a1d"}
	if !slices.Equal(got, want) {
		t.Errorf("buckets %v, want %v", got, want)
	}
	if again := names(load("111122223333", "us-east-1")); !slices.Equal(again, got) {
		t.Errorf("a second load gave %v, the first %v", again, got)
	}
	for _, other := range [][2]string{{"444455556666", "us-east-1"}, {"111122223333", "eu-north-1"}} {
		if n := names(load(other[0], other[1]))[1]; n == got[1] {
			t.Errorf("account %s region %s gives the same name %s", other[0], other[1], n)
		}
	}
	if n := names(mustLoad(t, dataBase+datasets))[1]; n != "x-sdo-aia" {
		t.Errorf("without an account the dataset bucket is %s, want x-sdo-aia", n)
	}
}

func TestDataExplicitNames(t *testing.T) {
	cfg := mustLoad(t, dataBase+"  datasets:\n    aia: {bucketName: gsfc-heliocloud-aia}\n  teamBuckets:\n    bucketNames: {sdo: sdo-team-data}\n  shared: {bucketName: x-common}\n")
	if got := cfg.DatasetBucketName("aia"); got != "gsfc-heliocloud-aia" {
		t.Errorf("dataset name %s", got)
	}
	if got := cfg.TeamBucketName("sdo"); got != "sdo-team-data" {
		t.Errorf("team name %s", got)
	}
	if got := cfg.TeamBucketName("mms"); got != "x-team-mms" {
		t.Errorf("derived team name %s", got)
	}
	if got := cfg.SharedBucketName(); got != "x-common" {
		t.Errorf("shared name %s", got)
	}
}

// One fixture per kind of mistake, with the line and message it must give.
// A fixture starting with "!" is a whole file rather than lines added to
// dataBase.
func TestDataErrors(t *testing.T) {
	tests := []struct {
		name, extra, want string
	}{
		{"too short", "  datasets:\n    a: {bucketName: ab}\n",
			`test.yaml:6: error: data.datasets.a.bucketName: bucket name "ab" is 2 characters long; S3 bucket names have 3 to 63`},
		{"too long", "  shared: {bucketName: " + strings.Repeat("a", 64) + "}\n",
			`test.yaml:5: error: data.shared.bucketName: bucket name "` + strings.Repeat("a", 64) + `" is 64 characters long`},
		{"upper case", "  datasets:\n    a: {bucketName: My-Bucket}\n",
			`data.datasets.a.bucketName: bucket name "My-Bucket" may hold only lower-case letters, digits, hyphens and dots, and must start and end with a letter or digit`},
		{"underscore", "  scratch: {bucketName: my_scratch}\n",
			`data.scratch.bucketName: bucket name "my_scratch" may hold only lower-case letters`},
		{"ends with hyphen", "  accessLogs: {bucketName: logs-}\n",
			`data.accessLogs.bucketName: bucket name "logs-" may hold only`},
		{"two dots", "  datasets:\n    a: {bucketName: my..bucket}\n",
			`data.datasets.a.bucketName: bucket name "my..bucket" must not hold two dots in a row`},
		{"IP address", "  datasets:\n    a: {bucketName: 192.168.5.4}\n",
			`data.datasets.a.bucketName: bucket name "192.168.5.4" must not look like an IP address`},
		{"xn-- prefix", "  datasets:\n    a: {bucketName: xn--data}\n",
			`data.datasets.a.bucketName: bucket name "xn--data" must not start with "xn--" (reserved by S3)`},
		{"sthree- prefix", "  datasets:\n    a: {bucketName: sthree-data}\n",
			`bucket name "sthree-data" must not start with "sthree-" (reserved by S3)`},
		{"s3alias suffix", "  datasets:\n    a: {bucketName: data-s3alias}\n",
			`bucket name "data-s3alias" must not end with "-s3alias" (reserved by S3)`},
		{"ol-s3 suffix", "  datasets:\n    a: {bucketName: data--ol-s3}\n",
			`bucket name "data--ol-s3" must not end with "--ol-s3" (reserved by S3)`},
		{"bad team bucket name", "  teamBuckets:\n    bucketNames: {sdo: SDO}\n",
			`test.yaml:6: error: data.teamBuckets.bucketNames.sdo: bucket name "SDO" may hold only`},
		{"duplicate explicit names", "  datasets:\n    a: {bucketName: same-name}\n    b: {bucketName: same-name}\n",
			`test.yaml:7: error: data.datasets.b.bucketName: bucket name "same-name" is also the name of data.datasets.a.bucketName; every bucket needs its own name`},
		{"dataset named like shared", "  datasets:\n    shared: {}\n",
			`data.shared: bucket name "x-shared" is also the name of data.datasets.shared; every bucket needs its own name`},
		{"dataset named like a team bucket", "  datasets:\n    team-sdo: {}\n",
			`data.teamBuckets: bucket name "x-team-sdo" is also the name of data.datasets.team-sdo`},
		{"bad dataset key", "  datasets:\n    SDO_AIA: {}\n",
			`test.yaml:6: error: data.datasets.SDO_AIA: "SDO_AIA" is not a valid name: use lower-case letters, digits and single hyphens`},
		{"requester-pays public bucket", "  datasets:\n    aia:\n      public: true\n      requesterPays: true\n",
			`test.yaml:8: error: data.datasets.aia.requesterPays: a public bucket cannot be requester-pays: the official CloudCatalog client reads anonymously and never sends the requester-pays header`},
		{"KMS on public bucket", "  datasets:\n    aia: {public: true, encryption: kms}\n",
			`data.datasets.aia.encryption: a public bucket must use encryption: s3; anonymous readers cannot decrypt with a KMS key`},
		{"unknown encryption", "  datasets:\n    aia: {encryption: aes}\n",
			`data.datasets.aia.encryption: "aes" is not allowed (did you mean "kms"?); allowed values: s3, kms`},
		{"reader accounts on public bucket", "  datasets:\n    aia: {public: true, readerAccounts: [\"123456789012\"]}\n",
			`data.datasets.aia.readerAccounts: only applies to a private bucket`},
		{"bad reader account", "  datasets:\n    mms: {readerAccounts: [\"12345\"]}\n",
			`test.yaml:6: error: data.datasets.mms.readerAccounts[0]: "12345" is not an AWS account id: 12 digits`},
		{"unknown writer team", "  datasets:\n    mms: {writers: [mmms]}\n",
			`data.datasets.mms.writers[0]: "mmms" is not a team (did you mean "mms"?); teams: mms, sdo`},
		{"writer without teams", "!name: x\ndata:\n  enabled: true\n  datasets:\n    mms: {writers: [mms]}\n",
			`data.datasets.mms.writers[0]: "mms" is not a team; teams: (none: add them under the top-level teams key)`},
		{"team bucket name for unknown team", "  teamBuckets:\n    bucketNames: {psp: x-psp}\n",
			`test.yaml:6: error: data.teamBuckets.bucketNames.psp: "psp" is not a team; teams: mms, sdo`},
		{"team bucket names without team buckets", "  teamBuckets:\n    enabled: false\n    bucketNames: {sdo: x-sdo}\n",
			`data.teamBuckets.bucketNames: only applies with teamBuckets.enabled: true`},
		{"negative noncurrent days", "  teamBuckets: {noncurrentVersionExpiryDays: -1}\n",
			`data.teamBuckets.noncurrentVersionExpiryDays: must not be negative, got -1`},
		{"zero scratch expiry", "  scratch: {expireDays: 0}\n",
			`test.yaml:5: error: data.scratch.expireDays: must be at least 1 day, got 0`},
		{"zero log expiry", "  accessLogs: {expireDays: 0}\n",
			`data.accessLogs.expireDays: must be at least 1 day, got 0`},
		{"admin user ARN", "  adminRoleArns: [\"arn:aws:iam::123456789012:user/alice\"]\n",
			`test.yaml:5: error: data.adminRoleArns[0]: "arn:aws:iam::123456789012:user/alice" is not an IAM role ARN such as arn:aws:iam::123456789012:role/Admin`},
		{"admin role wildcard", "  adminRoleArns:\n    - arn:aws:iam::123456789012:role/Admin\n    - arn:aws:iam::123456789012:role/Admin*\n",
			`test.yaml:7: error: data.adminRoleArns[1]: "arn:aws:iam::123456789012:role/Admin*" is not an IAM role ARN`},
		{"admin assumed-role session", "  adminRoleArns: [\"arn:aws:sts::123456789012:assumed-role/Admin/alice\"]\n",
			`data.adminRoleArns[0]: "arn:aws:sts::123456789012:assumed-role/Admin/alice" is not an IAM role ARN`},
		{"admin account too short", "  adminRoleArns: [\"arn:aws:iam::12345:role/Admin\"]\n",
			`data.adminRoleArns[0]: "arn:aws:iam::12345:role/Admin" is not an IAM role ARN`},
		{"admin role name too long", "  adminRoleArns: [\"arn:aws:iam::123456789012:role/" + strings.Repeat("a", 65) + "\"]\n",
			`data.adminRoleArns[0]: "arn:aws:iam::123456789012:role/` + strings.Repeat("a", 65) + `" is not an IAM role ARN`},
		{"admin role twice", "  adminRoleArns:\n    - arn:aws:iam::123456789012:role/Admin\n    - arn:aws:iam::123456789012:role/Admin\n",
			`test.yaml:7: error: data.adminRoleArns[1]: "arn:aws:iam::123456789012:role/Admin" is listed twice`},
		{"unknown key", "  dataset: {}\n",
			`data.dataset: unknown key (did you mean "datasets"?)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantProblem(t, fixture(dataBase, tt.extra), tt.want)
		})
	}
}

func TestDataWarnings(t *testing.T) {
	tests := []struct {
		name, extra, want string
	}{
		{"destroy on delete", "  destroyOnDelete: true\n",
			`test.yaml:5: warning: data.destroyOnDelete: DANGER: deleting the x-Data stack, or removing a bucket from this file, will DELETE the bucket and EVERY OBJECT in it`},
		{"requester-pays nobody else reads", "  datasets:\n    mms: {requesterPays: true}\n",
			`data.datasets.mms.requesterPays: only the instance's own account can read this bucket, so requester-pays changes nothing`},
		{"dots in name", "  datasets:\n    mms: {bucketName: mms.example.org}\n",
			`data.datasets.mms.bucketName: bucket name "mms.example.org" holds dots`},
		{"dataset nobody writes", "  datasets:\n    mms: {}\n",
			`test.yaml:6: warning: data.datasets.mms.writers: nobody may put data into this bucket: its policy denies writes to every principal but the writer teams, data.adminRoleArns and the registry's indexer`},
		{"admin role of another account", "  adminRoleArns: [\"arn:aws:iam::999988887777:role/Admin\"]\naccount: \"111122223333\"\n",
			`test.yaml:5: warning: data.adminRoleArns[0]: role "arn:aws:iam::999988887777:role/Admin" is in account 999988887777, not the instance's account 111122223333: being exempt from the buckets' denials gives it no access`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := mustLoad(t, dataBase+tt.extra)
			if got := warningsText(cfg); !strings.Contains(got, tt.want) {
				t.Errorf("warnings:\n%s\nwant a line containing:\n%s", got, tt.want)
			}
		})
	}
}

// Requester-pays is fine on a private bucket that other accounts read.
func TestDataRequesterPaysOnPrivateBucket(t *testing.T) {
	cfg := mustLoad(t, dataBase+"  datasets:\n    mms: {requesterPays: true, readerAccounts: [\"123456789012\"], writers: [mms]}\n")
	if len(cfg.Warnings) > 0 {
		t.Errorf("unexpected warnings: %v", cfg.Warnings)
	}
}

// Role ARNs with paths (as IAM Identity Center makes them) and of other
// partitions are accepted without warnings.
func TestDataAdminRoleArns(t *testing.T) {
	arns := []string{
		"arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_AdministratorAccess_0123456789abcdef",
		"arn:aws-us-gov:iam::111122223333:role/BreakGlass",
		"arn:aws:iam::111122223333:role/ops/team.admin+1@x=y,z",
	}
	cfg := mustLoad(t, "account: \"111122223333\"\n"+dataBase+"  adminRoleArns:\n    - "+strings.Join(arns, "\n    - ")+"\n")
	if !slices.Equal(cfg.Data.AdminRoleArns, arns) || len(cfg.Warnings) > 0 {
		t.Errorf("admin roles %v, warnings %v", cfg.Data.AdminRoleArns, cfg.Warnings)
	}
}
