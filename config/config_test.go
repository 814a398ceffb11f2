package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// loadText parses an instance given as text, as Load does with a file.
func loadText(t *testing.T, text string) (*Config, Problems) {
	t.Helper()
	cfg, err := Parse("test.yaml", []byte(text))
	if err == nil {
		return cfg, nil
	}
	var problems Problems
	if !errors.As(err, &problems) {
		t.Fatalf("want Problems, got %T: %v", err, err)
	}
	return nil, problems
}

// fixture lays a test's extra lines under a component's base text; extra
// starting with "!" is the whole file instead.
func fixture(base, extra string) string {
	if whole, ok := strings.CutPrefix(extra, "!"); ok {
		return whole
	}
	return base + extra
}

// wantProblem loads text and fails unless one of its problems contains want.
func wantProblem(t *testing.T, text, want string) {
	t.Helper()
	_, problems := loadText(t, text)
	if problems == nil {
		t.Fatalf("accepted; want %q", want)
	}
	if got := problems.Error(); !strings.Contains(got, want) {
		t.Errorf("problems:\n%s\nwant a line containing:\n%s", got, want)
	}
}

// mustLoad parses text and fails the test unless it is valid.
func mustLoad(t *testing.T, text string) *Config {
	t.Helper()
	cfg, problems := loadText(t, text)
	if problems != nil {
		t.Fatalf("refused:\n%v", problems)
	}
	return cfg
}

// warningsText is cfg's warnings, one line each, for tests to search.
func warningsText(cfg *Config) string {
	var b strings.Builder
	for _, w := range cfg.Warnings {
		b.WriteString(w.String() + "\n")
	}
	return b.String()
}

// One fixture per kind of mistake: the file, and the one problem line it
// must produce (file:line: error: path: message, matched as a substring).
func TestErrorsNameFileLineAndPath(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"unknown key with suggestion", "name: x\nregoin: us-east-1\n",
			`test.yaml:2: error: regoin: unknown key (did you mean "region"?); allowed keys: name, institution, account, region`},
		{"unknown nested key", "name: x\nbase:\n  vpc:\n    natGateway: one\n",
			`test.yaml:4: error: base.vpc.natGateway: unknown key (did you mean "natGateways"?)`},
		{"wrong type", "name: x\nbase:\n  vpc:\n    maxAzs: two\n",
			`test.yaml:4: error: base.vpc.maxAzs: expected a whole number, got "two"`},
		{"mapping expected", "name: x\nbase: [1, 2]\n",
			`test.yaml:2: error: base: expected a mapping of keys (vpc, budget, deployLogRetentionDays), got a list`},
		{"list expected", "name: x\nbase:\n  budget:\n    emails: a@b.org\n",
			`test.yaml:4: error: base.budget.emails: expected a list, got "a@b.org"`},
		{"bad enum lists allowed values", "name: x\nbase:\n  vpc:\n    natGateways: two\n",
			`test.yaml:4: error: base.vpc.natGateways: "two" is not allowed; allowed values: none, one, perAz`},
		{"missing required", "institution: X\n",
			`test.yaml:1: error: name: is required but not given`},
		{"CHANGEME placeholder", "name: x\nbase:\n  budget:\n    monthlyLimitUsd: 10\n    emails: [CHANGEME@example.org]\n",
			`test.yaml:5: error: base.budget.emails[0]: still holds the CHANGEME placeholder`},
		{"invalid instance name", "name: My_HelioCloud\n",
			`test.yaml:1: error: name: "My_HelioCloud" is not a valid name`},
		{"bad CIDR", "name: x\nbase:\n  vpc:\n    cidr: 10.0.0.0/33\n",
			`test.yaml:4: error: base.vpc.cidr: "10.0.0.0/33" is not a CIDR block`},
		{"CIDR with host bits", "name: x\nbase:\n  vpc:\n    cidr: 10.1.2.3/16\n",
			`base.vpc.cidr: "10.1.2.3/16" has host bits set; did you mean 10.1.0.0/16?`},
		{"CIDR too large", "name: x\nbase:\n  vpc:\n    cidr: 10.0.0.0/8\n",
			`base.vpc.cidr: "10.0.0.0/8": a new VPC's range must be /16 to /24`},
		{"min above max", "name: x\nbase:\n  vpc:\n    maxAzs: 9\n",
			`test.yaml:4: error: base.vpc.maxAzs: must be from 1 to 6, got 9`},
		{"zones disagree with maxAzs", "name: x\nbase:\n  vpc:\n    maxAzs: 3\n    availabilityZones: [us-east-1a]\n",
			`test.yaml:5: error: base.vpc.availabilityZones: lists 1 zones but maxAzs is 3`},
		{"zone outside region", "name: x\nregion: us-east-1\nbase:\n  vpc:\n    maxAzs: 1\n    availabilityZones: [eu-west-1a]\n",
			`base.vpc.availabilityZones[0]: "eu-west-1a" is not in the instance's region us-east-1`},
		{"existing VPC without ids", "name: x\nbase:\n  vpc:\n    mode: existing\n",
			`test.yaml:3: error: base.vpc.vpcId: is required with mode: existing`},
		{"existing VPC subnet count", "name: x\nbase:\n  vpc:\n    mode: existing\n    vpcId: vpc-0123456789abcdef0\n    availabilityZones: [us-east-1a, us-east-1b]\n    privateSubnetIds: [subnet-0123456789abcdef0]\n",
			`test.yaml:7: error: base.vpc.privateSubnetIds: lists 1 subnets for 2 availability zones`},
		{"new-only key on existing VPC", "name: x\nbase:\n  vpc:\n    mode: existing\n    vpcId: vpc-0123456789abcdef0\n    availabilityZones: [us-east-1a]\n    privateSubnetIds: [subnet-0123456789abcdef0]\n    natGateways: perAz\n",
			`test.yaml:8: error: base.vpc.natGateways: only applies with mode: new`},
		{"retention not allowed", "name: x\nbase:\n  vpc:\n    flowLogRetentionDays: 100\n",
			`base.vpc.flowLogRetentionDays: 100 is not a CloudWatch retention period; allowed: 1, 3, 5`},
		{"budget without e-mail", "name: x\nbase:\n  budget:\n    monthlyLimitUsd: 100\n",
			`test.yaml:3: error: base.budget.emails: a budget needs at least one e-mail address`},
		{"bad percentage", "name: x\nbase:\n  budget:\n    monthlyLimitUsd: 100\n    emails: [a@b.org]\n    actualPercents: [0]\n",
			`test.yaml:6: error: base.budget.actualPercents[0]: 0 is not a percentage`},
		{"bad account", "name: x\naccount: 1234\n",
			`test.yaml:2: error: account: "1234" is not an AWS account id`},
		{"reserved tag", "name: x\ntags:\n  heliocloud:owner: me\n",
			`test.yaml:3: error: tags.heliocloud:owner: tag keys starting with heliocloud: are set by the deployer`},
		{"bad team name", "name: x\nteams:\n  Solar Team: {}\n",
			`test.yaml:3: error: teams.Solar Team: "Solar Team" is not a valid name`},
		{"component without what it needs", "name: x\nportal:\n  enabled: true\n",
			`test.yaml:3: error: portal.enabled: portal needs auth and data: set auth.enabled: true and data.enabled: true`},
		{"duplicate key", "name: x\nname: y\n",
			`test.yaml:2: error: name: key given twice`},
		{"not YAML", "name: [x\n",
			`test.yaml:1: error: (top level): not valid YAML: did not find expected ',' or ']'`},
		{"two documents", "name: x\n---\nname: y\n",
			`error: (top level): holds more than one YAML document`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { wantProblem(t, tt.yaml, tt.want) })
	}
}

func TestEveryProblemIsReportedAtOnce(t *testing.T) {
	_, problems := loadText(t, `
name: Bad_Name
regoin: us-east-1
base:
  vpc:
    mode: nwe
    maxAzs: lots
  budget:
    monthlyLimitUsd: 100
`)
	want := []string{"name", "regoin", "base.vpc.mode", "base.vpc.maxAzs", "base.budget.emails"}
	if len(problems) != len(want) {
		t.Fatalf("want %d problems, got %d:\n%s", len(want), len(problems), problems)
	}
	for i, p := range problems {
		if p.Path != want[i] {
			t.Errorf("problem %d: path %q, want %q (problems are in file order)", i, p.Path, want[i])
		}
	}
	if !strings.HasPrefix(problems.Error(), "5 problem(s) in the configuration:\n  test.yaml:2: error: name:") {
		t.Errorf("unexpected error text:\n%s", problems.Error())
	}
}

func TestDecodeErrorHidesFollowUpChecksOfTheSameValue(t *testing.T) {
	// A CIDR that fails to decode keeps its default; checking that default
	// would only produce a second, misleading problem.
	_, problems := loadText(t, "name: x\nbase:\n  vpc: 5\n")
	if len(problems) != 1 || problems[0].Path != "base.vpc" {
		t.Fatalf("want exactly the decode problem at base.vpc, got:\n%s", problems)
	}
}

func TestDefaultsApplyAndInstanceOverrides(t *testing.T) {
	cfg := mustLoad(t, "name: x\nbase:\n  vpc:\n    cidr: 10.5.0.0/20\n")
	v := cfg.Base.VPC
	if v.Cidr != "10.5.0.0/20" || v.Mode != "new" || v.MaxAzs != 2 || v.NAT.Type != "gateway" || v.NAT.PerAz || !v.FlowLogs || v.FlowLogRetentionDays != 90 {
		t.Fatalf("defaults not applied or override lost: %+v", v)
	}
	if got := cfg.Base.Budget.ActualPercents; len(got) != 3 || got[2] != 100 {
		t.Fatalf("list default not applied: %v", got)
	}
	if cfg.Institution != "HelioCloud" {
		t.Fatalf("institution default: %q", cfg.Institution)
	}
}

func TestListsReplaceDefaults(t *testing.T) {
	cfg := mustLoad(t, "name: x\nbase:\n  budget:\n    monthlyLimitUsd: 10\n    emails: [a@example.org]\n    actualPercents: [95]\n")
	if got := cfg.Base.Budget.ActualPercents; len(got) != 1 || got[0] != 95 {
		t.Fatalf("want [95], got %v", got)
	}
}

func TestWarningsDoNotFail(t *testing.T) {
	c := &checker{pos: map[string]Pos{"a": {File: "f.yaml", Line: 3}}}
	c.warnf("a.b", "risky")
	ps := c.problems
	if len(ps.Errors()) != 0 || len(ps.Warnings()) != 1 || ps[0].String() != "f.yaml:3: warning: a.b: risky" {
		t.Fatalf("unexpected: %v", ps)
	}
}

func TestComponentsNeedWhatTheyDependOn(t *testing.T) {
	for _, comp := range Components {
		if len(comp.Needs) == 0 {
			continue
		}
		_, problems := loadText(t, "name: x\n"+comp.Name+":\n  enabled: true\n")
		want := comp.Name + ".enabled: " + comp.Name + " needs " + comp.Needs[0]
		if !strings.Contains(problems.Error(), want) {
			t.Errorf("enabling %s alone: want %q, got\n%s", comp.Name, want, problems)
		}
	}
}

// Every instance file shipped in instances/ must be valid as it stands.
func TestInstanceFilesAreValid(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", InstancesDir, "*.yaml"))
	if err != nil || len(files) < 3 {
		t.Fatalf("want at least example, gsfc and minimal in instances/, got %v (%v)", files, err)
	}
	for _, f := range files {
		cfg, err := Load(f)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if want := strings.TrimSuffix(filepath.Base(f), ".yaml"); cfg.Name != want {
			t.Errorf("%s: name is %q; an instance file is named after its instance", f, cfg.Name)
		}
	}
}

func TestResolve(t *testing.T) {
	for in, want := range map[string]string{
		"gsfc":             filepath.Join("instances", "gsfc.yaml"),
		"./my.yaml":        "./my.yaml",
		"/etc/hc/apl.yaml": "/etc/hc/apl.yaml",
		"apl.yml":          "apl.yml",
	} {
		if got := Resolve(in); got != want {
			t.Errorf("Resolve(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("want a not-exist error, got %v", err)
	}
}

func TestStackName(t *testing.T) {
	if got := StackName("gsfc", "daskhub"); got != "gsfc-Daskhub" {
		t.Errorf("StackName = %q, want gsfc-Daskhub", got)
	}
}
