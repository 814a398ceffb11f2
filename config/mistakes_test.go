package config

import (
	"slices"
	"strings"
	"testing"

	"github.com/heliocloud/heliocloud-go/portal"
)

// Mistakes that once slipped through validate: each fixture must produce
// the problem line given (file:line: error: path: message, as a substring).
func TestRegionZoneAndInvisibleCharacterMistakes(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"region that does not exist", "name: x\nregion: us-east-7\n",
			`test.yaml:2: error: region: "us-east-7" is not an AWS region (did you mean "us-east-1"?); regions: af-south-1,`},
		{"GovCloud region mistyped", "name: x\nregion: us-gov-west1\n",
			`test.yaml:2: error: region: "us-gov-west1" is not an AWS region (did you mean "us-gov-west-1"?)`},
		{"zone letter that does not exist", "name: x\nregion: ca-central-1\nbase:\n  vpc:\n    availabilityZones: [ca-central-1a, ca-central-1c]\n",
			`test.yaml:5: error: base.vpc.availabilityZones[1]: "ca-central-1c" does not exist: ca-central-1 has zones ca-central-1a, ca-central-1b, ca-central-1d`},
		{"zone of an unknown region", "name: x\nbase:\n  vpc:\n    maxAzs: 1\n    availabilityZones: [us-east-7a]\n",
			`test.yaml:5: error: base.vpc.availabilityZones[0]: "us-east-7a" is not an availability zone name such as us-east-1a: "us-east-7" is not an AWS region (did you mean "us-east-1"?)`},
		{"more zones than the region has", "name: x\nregion: us-west-1\nbase:\n  vpc:\n    maxAzs: 3\n",
			`test.yaml:5: error: base.vpc.maxAzs: 3 zones asked for, but us-west-1 has 2 zones an account may use`},
		{"SES region that does not exist", "name: x\nauth:\n  enabled: true\n  email:\n    sender: ses\n    fromAddress: a@example.org\n    sesRegion: eu-west-9\n",
			`test.yaml:7: error: auth.email.sesRegion: "eu-west-9" is not an AWS region (did you mean "eu-west-1"?)`},
		{"key ending in a no-break space", "name: x\nbase:\n  vpc:\n    flowLogs\u00a0: true\n",
			`test.yaml:4: error: "base.vpc.flowLogs\u00a0": unknown key: it holds the invisible character U+00A0 (no-break space) (did you mean "flowLogs"?)`},
		{"key starting with a byte order mark", "name: x\nbase:\n  vpc:\n    \ufeffcidr: 10.0.0.0/16\n",
			`test.yaml:4: error: "base.vpc.\ufeffcidr": unknown key: it holds the invisible character U+FEFF (byte order mark) (did you mean "cidr"?)`},
		{"value ending in a zero-width space", "name: x\nbase:\n  budget:\n    monthlyLimitUsd: 5\n    emails: [\"a@example.org\u200b\"]\n",
			`test.yaml:5: error: base.budget.emails[0]: "a@example.org\u200b" ends with the invisible character U+200B (zero-width space): delete it`},
		{"team name with a no-break space", "name: x\nteams:\n  solar\u00a0: {}\n",
			`test.yaml:3: error: "teams.solar\u00a0": "solar\u00a0" is not a valid name`},
		{"tab in the indentation", "name: x\nbase:\n  vpc:\n\tcidr: 10.0.0.0/16\n",
			`test.yaml:4: error: (top level): not valid YAML: found character that cannot start any token (the line holds a tab, U+0009: YAML indents with spaces only)`},
		{"merge of something not a mapping", "name: x\nbase:\n  vpc:\n    <<: 5\n",
			`test.yaml:4: error: base.vpc: the merge key << takes a mapping or a list of mappings (such as <<: *defaults), got "5"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { wantProblem(t, tt.yaml, tt.want) })
	}
}

func TestInvisibleCharactersInsideTextAreKept(t *testing.T) {
	// A no-break space inside a name ("Institut d'Astrophysique") or a line
	// break in a block scalar is text, not a paste accident.
	cfg := mustLoad(t, "name: x\ninstitution: \"Institut\u00a0Spatial\"\nteams:\n  solar:\n    description: |\n      two\n      lines\n")
	if cfg.Institution != "Institut\u00a0Spatial" || cfg.Teams["solar"].Description != "two\nlines\n" {
		t.Fatalf("text changed: %q %q", cfg.Institution, cfg.Teams["solar"].Description)
	}
}

func TestYAMLMergeKeys(t *testing.T) {
	cfg := mustLoad(t, `name: x
region: us-east-1
teams:
  solar: &team
    description: Solar imaging
  spase:
    <<: *team
    description: SPASE metadata
  helio:
    <<: *team
base:
  vpc:
    <<: [&net {cidr: 10.9.0.0/16, maxAzs: 3}, {maxAzs: 1, natGateways: perAz}]
    maxAzs: 2
`)
	if d := cfg.Teams["spase"].Description; d != "SPASE metadata" {
		t.Errorf("own key must win over the merged one, got %q", d)
	}
	if d := cfg.Teams["helio"].Description; d != "Solar imaging" {
		t.Errorf("merged key missing, got %q", d)
	}
	v := cfg.Base.VPC
	if v.Cidr != "10.9.0.0/16" || v.MaxAzs != 2 || !v.NAT.PerAz {
		t.Errorf("merge of a list: the earlier mapping wins over the later, own keys over both; got %+v", v)
	}

	// A mistake inside merged keys is reported where the anchor wrote it,
	// under the path of the mapping that merged it.
	wantProblem(t, "name: x\nbase:\n  budget: &b\n    monthlyLimitUsd: 5\n    emails: [nobody]\n  vpc:\n    <<: *b\n",
		`test.yaml:4: error: base.vpc.monthlyLimitUsd: unknown key`)
	wantProblem(t, "name: x\nteams:\n  a: &t\n    description: x\n    descripton: y\n  b:\n    <<: *t\n",
		`test.yaml:5: error: teams.b.descripton: unknown key (did you mean "description"?)`)
	// A key given twice is still an error; a key that also comes through a
	// merge is not.
	wantProblem(t, "name: x\nbase:\n  vpc:\n    <<: {cidr: 10.1.0.0/16}\n    cidr: 10.2.0.0/16\n    cidr: 10.3.0.0/16\n",
		`test.yaml:6: error: base.vpc.cidr: key given twice`)
}

func TestAccountWithLeadingZeroIsKept(t *testing.T) {
	// YAML 1.1 reads 044445555666 as an octal number; the decoder takes
	// the text as written, so the id keeps its zero.
	cfg := mustLoad(t, "name: x\naccount: 044445555666\ndata:\n  enabled: true\n  datasets:\n    d:\n      readerAccounts: [011112222333]\n")
	if cfg.Account != "044445555666" || cfg.Data.Datasets["d"].ReaderAccounts[0] != "011112222333" {
		t.Fatalf("account ids changed: %q %q", cfg.Account, cfg.Data.Datasets["d"].ReaderAccounts)
	}
}

func TestRegionTable(t *testing.T) {
	for name, r := range Regions {
		if r.Partition != "aws" && r.Partition != "aws-us-gov" {
			t.Errorf("%s: partition %q", name, r.Partition)
		}
		if (r.Partition == "aws-us-gov") != strings.HasPrefix(name, "us-gov-") {
			t.Errorf("%s: partition %q does not match its name", name, r.Partition)
		}
		if len(r.Zones) < 2 || r.UsableZones() < 2 {
			t.Errorf("%s: zones %q: every region has at least two for an account", name, r.Zones)
		}
	}
	if got := DefaultZones("ap-northeast-1", 3); !slices.Equal(got, []string{"ap-northeast-1a", "ap-northeast-1c", "ap-northeast-1d"}) {
		t.Errorf("default zones skip ap-northeast-1b, which new accounts lack: %v", got)
	}
	if got := DefaultZones("us-east-1", 2); !slices.Equal(got, []string{"us-east-1a", "us-east-1b"}) {
		t.Errorf("us-east-1: %v", got)
	}
}

// The portal decides at run time which image architecture a type needs
// (portal.Arch); the table the validator checks with must agree.
func TestInstanceTypeTableAgreesWithPortalArch(t *testing.T) {
	for name, it := range InstanceTypes {
		want := "x86_64"
		if it.Arm64 {
			want = "arm64"
		}
		if got := portal.Arch(name); got != want {
			t.Errorf("%s: the table says %s, the portal %s", name, want, got)
		}
	}
}

// The next mistakes an admin makes, found by trying them against validate:
// each was accepted before and would have failed the deploy or silently
// done something else than the file says.
func TestNextMistakes(t *testing.T) {
	const cert = "arn:aws:acm:us-east-1:123456789012:certificate/12345678-1234-1234-1234-123456789012"
	const portalOn = "auth:\n  enabled: true\ndata:\n  enabled: true\nportal:\n  enabled: true\n"
	const hubOn = "auth:\n  enabled: true\ndaskhub:\n  enabled: true\n"
	tests := []struct {
		name, yaml, want string
	}{
		{"ARN in the commercial partition for a GovCloud instance", "name: x\nregion: us-gov-west-1\ndata:\n  adminRoleArns: [arn:aws:iam::123456789012:role/Admin]\n",
			`test.yaml:4: error: data.adminRoleArns[0]: "arn:aws:iam::123456789012:role/Admin" is in partition aws, but region us-gov-west-1 is in partition aws-us-gov: the ARN must start arn:aws-us-gov:`},
		{"certificate of another account", "name: x\naccount: \"111122223333\"\nregion: us-east-1\n" + portalOn + "  domain: {name: portal.example.org, certificateArn: \"arn:aws:acm:us-east-1:444455556666:certificate/12345678-1234-1234-1234-123456789012\"}\n",
			`test.yaml:10: error: portal.domain.certificateArn: the certificate belongs to account 444455556666, but the instance deploys into 111122223333`},
		{"budget e-mail listed twice", "name: x\nbase:\n  budget:\n    monthlyLimitUsd: 100\n    emails: [ops@example.org, OPS@example.org]\n",
			`test.yaml:5: error: base.budget.emails[1]: OPS@example.org is listed twice (also as [0]; addresses are compared without case)`},
		{"budget alert listed twice", "name: x\nbase:\n  budget:\n    monthlyLimitUsd: 100\n    emails: [ops@example.org]\n    forecastPercents: [100, 100]\n",
			`test.yaml:6: error: base.budget.forecastPercents[1]: 100 is listed twice: AWS Budgets refuses two identical alerts on one budget`},
		{"budget e-mails without a limit", "name: x\nbase:\n  budget:\n    emails: [ops@example.org]\n",
			`test.yaml:4: error: base.budget.emails: only applies with a monthlyLimitUsd above 0`},
		{"e-mail as a mailto link", "name: x\nbase:\n  budget:\n    monthlyLimitUsd: 100\n    emails: [\"mailto:ops@example.org\"]\n",
			`base.budget.emails[0]: "mailto:ops@example.org" is a mailto: link; give the bare address "ops@example.org"`},
		{"e-mail with a trailing dot", "name: x\nauth:\n  enabled: true\n  email: {replyTo: help@example.org.}\n",
			`auth.email.replyTo: "help@example.org." ends with a dot; drop it`},
		{"DaskHub in one zone", "name: x\nbase:\n  vpc:\n    maxAzs: 1\n" + hubOn + "  endpoint: {access: private}\n",
			`test.yaml:4: error: base.vpc.maxAzs: daskhub needs at least two availability zones (EKS refuses a cluster in one)`},
		{"private range for the public Kubernetes endpoint", "name: x\n" + hubOn + "  endpoint: {publicCidrs: [10.0.0.0/8]}\n",
			`test.yaml:6: error: daskhub.endpoint.publicCidrs[0]: 10.0.0.0/8 is a private range, but the public endpoint sees the internet addresses kubectl comes from`},
		{"DaskHub admin listed twice", "name: x\n" + hubOn + "  endpoint: {access: private}\n  admins: [arn:aws:iam::123456789012:role/Admin, arn:aws:iam::123456789012:role/Admin]\n",
			`test.yaml:7: error: daskhub.admins[1]: admin arn:aws:iam::123456789012:role/Admin is listed twice (also as [0])`},
		{"one host name for two components", "name: x\nregion: us-east-1\n" + portalOn + "  domain: {name: hub.example.org, certificateArn: \"" + cert + "\"}\ndaskhub:\n  enabled: true\n  endpoint: {access: private}\n  domain: {name: example.org, record: hub, certificateArn: \"" + cert + "\"}\n",
			`daskhub.domain.record: hub.example.org is also the host name of portal.domain.name`},
		{"zone listed twice", "name: x\nbase:\n  vpc:\n    availabilityZones: [us-east-1a, us-east-1a]\n",
			`test.yaml:4: error: base.vpc.availabilityZones[1]: zone us-east-1a is listed twice (also as [0])`},
		{"subnet both public and private", "name: x\nbase:\n  vpc:\n    mode: existing\n    vpcId: vpc-0123456789abcdef0\n    availabilityZones: [us-east-1a]\n    privateSubnetIds: [subnet-0123456789abcdef0]\n    publicSubnetIds: [subnet-0123456789abcdef0]\n",
			`test.yaml:7: error: base.vpc.privateSubnetIds[0]: subnet-0123456789abcdef0 is listed as a public subnet too`},
		{"disk minimum above the maximum", "name: x\n" + portalOn + "  volume: {minGiB: 600}\n",
			`test.yaml:8: error: portal.volume.minGiB: 600 must not exceed maxGiB (512)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { wantProblem(t, tt.yaml, tt.want) })
	}
}
