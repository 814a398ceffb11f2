package config

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// portalYAML is a valid instance with the portal on; rest is appended
// under portal: (from line 8).
func portalYAML(rest string) string {
	return `name: gsfc
region: us-east-1
teams: {solar: {}}
auth: {enabled: true}
data: {enabled: true}
portal:
  enabled: true
` + rest
}

func TestPortalDefaults(t *testing.T) {
	cfg := mustLoad(t, portalYAML("  autoStop: {dailyTime: \"19:00\", timeZone: America/New_York}\n"))
	p := cfg.Portal
	if p.Volume != (PortalVolume{MinGiB: 32, DefaultGiB: 64, MaxGiB: 512}) || p.Limits.RunningMachines != 3 || p.Limits.MonthlySpendUSD != 500 {
		t.Errorf("volume %+v limits %+v", p.Volume, p.Limits)
	}
	if p.AutoStop.IdleHours != 3 || p.AutoStop.IdleCPUPercent != 5 || p.AutoStop.DailyTime != "19:00" || p.AutoStop.TimeZone != "America/New_York" {
		t.Errorf("auto-stop %+v", p.AutoStop)
	}
	if len(p.SSHCidrs) != 0 {
		t.Errorf("SSH must be closed by default, got %v", p.SSHCidrs)
	}
	for _, id := range []string{"al2023", "ubuntu", "pytorch"} {
		if _, ok := p.Images[id]; !ok {
			t.Errorf("default image %s missing", id)
		}
	}
	if p.Images["ubuntu"].Arch["x86_64"] != "amd64" || p.Images["pytorch"].User != "ubuntu" {
		t.Errorf("images %+v", p.Images)
	}
	names := p.PortalInstanceTypeNames()
	if names[0] != "m7g.large" || p.InstanceTypes[names[len(names)-1]].Group != "gpu" {
		t.Errorf("launch page order %v", names)
	}
	groups := map[string]bool{}
	for _, it := range p.InstanceTypes {
		groups[it.Group] = true
	}
	if n := p.environmentBytes(cfg); n > portalEnvBudget || n < 1000 {
		t.Errorf("defaults take %d of the %d bytes budget", n, portalEnvBudget)
	}
	if len(groups) != 4 {
		t.Errorf("default types cover groups %v, want all four", groups)
	}
}

func TestPortalOverridesMergeWithDefaults(t *testing.T) {
	cfg := mustLoad(t, portalYAML(`  instanceTypes:
    g6.12xlarge: {group: gpu}
    t3.medium: null
  images:
    pytorch: null
  sshCidrs: [203.0.113.0/24, "2001:db8::/32"]
  domain: {name: portal.helio.example.org, certificateArn: "arn:aws:acm:us-east-1:123456789012:certificate/12345678-1234-1234-1234-123456789012", hostedZoneId: Z0123456789ABCDEFGHIJ}
`))
	p := cfg.Portal
	if _, ok := p.InstanceTypes["g6.12xlarge"]; !ok {
		t.Error("added type missing")
	}
	if _, ok := p.InstanceTypes["t3.medium"]; ok {
		t.Error("removed type still offered")
	}
	if _, ok := p.InstanceTypes["m7i.large"]; !ok {
		t.Error("a default type vanished when another was added")
	}
	if _, ok := p.Images["pytorch"]; ok || len(p.Images) != 2 {
		t.Errorf("images %v", p.Images)
	}
}

func TestPortalErrors(t *testing.T) {
	tests := []struct{ name, rest, want string }{
		{"ssh open to the world", "  sshCidrs: [0.0.0.0/0]\n",
			`test.yaml:8: error: portal.sshCidrs[0]: 0.0.0.0/0 opens SSH to the whole internet`},
		{"ssh open to the world, v6", "  sshCidrs: [\"::/0\"]\n", `portal.sshCidrs[0]: ::/0 opens SSH to the whole internet`},
		{"not a cidr", "  sshCidrs: [campus]\n", `portal.sshCidrs[0]: "campus" is not a CIDR block`},
		{"host bits", "  sshCidrs: [203.0.113.7/24]\n", `portal.sshCidrs[0]: 203.0.113.7/24 has host bits set; did you mean 203.0.113.0/24?`},
		{"group", "  instanceTypes: {m7i.large: {group: fast}}\n", `portal.instanceTypes.m7i.large.group`},
		{"type name", "  instanceTypes: {M7i-large: {group: general}}\n", `portal.instanceTypes.M7i-large: "M7i-large" is not a known instance type (did you mean "m7i.large"?); allowed: c7g.2xlarge,`},
		{"type typo", "  instanceTypes: {m5.xlarg: {group: general}}\n", `test.yaml:8: error: portal.instanceTypes.m5.xlarg: "m5.xlarg" is not a known instance type (did you mean "m5.xlarge"?)`},
		{"gpu type outside gpu group", "  instanceTypes: {g5.xlarge: {group: compute}}\n", `portal.instanceTypes.g5.xlarge.group: g5.xlarge has 1 NVIDIA A10G GPU(s): list it under group: gpu`},
		{"cpu type in gpu group", "  instanceTypes: {m7i.large: {group: gpu}}\n", `portal.instanceTypes.m7i.large.group: m7i.large has no GPU but is listed under gpu`},
		{"arm type without arm image", "  images: {al2023: null, ubuntu: null}\n", `portal.instanceTypes.m7g.large: m7g.large is an arm64 type, but no image in portal.images lists arm64 under arch`},
		{"private parameter", "  images: {mine: {name: Mine, parameter: /mycorp/ami, arch: {x86_64: x86_64}, user: ec2-user, owner: amazon}}\n",
			`portal.images.mine.parameter: must be a public SSM parameter under /aws/service/`},
		{"image owner", "  images: {al2023: {owner: Amazon}}\n", `portal.images.al2023.owner: "Amazon" is neither amazon nor a 12-digit AWS account id`},
		{"arch", "  images: {al2023: {arch: {aarch64: arm64}}}\n", `portal.images.al2023.arch.aarch64: unknown processor "aarch64"; allowed: x86_64, arm64`},
		{"volume order", "  volume: {minGiB: 100, defaultGiB: 50}\n", `portal.volume.defaultGiB: must lie between minGiB (100) and maxGiB (512)`},
		{"volume max", "  volume: {maxGiB: 20000}\n", `portal.volume.maxGiB: must be at most 16384`},
		{"limit", "  limits: {runningMachines: 0}\n", `portal.limits.runningMachines: must be at least 1`},
		{"daily time", "  autoStop: {dailyTime: 7pm}\n", `portal.autoStop.dailyTime: "7pm" is not a time of day as HH:MM`},
		{"time zone", "  autoStop: {timeZone: America/NewYork}\n", `test.yaml:8: error: portal.autoStop.timeZone: "America/NewYork" is not a time zone in the IANA database (did you mean "America/New_York"?)`},
		{"time zone case", "  autoStop: {timeZone: europe/paris}\n", `"europe/paris" is not a time zone in the IANA database (did you mean "Europe/Paris"?)`},
		{"time zone Local", "  autoStop: {timeZone: Local}\n", `"Local" is not a time zone in the IANA database; use a name such as UTC`},
		{"idle cpu", "  autoStop: {idleCPUPercent: 0}\n", `portal.autoStop.idleCPUPercent: must be between 0 and 100`},
		{"log retention", "  logRetentionDays: 42\n", `portal.logRetentionDays: 42 is not a CloudWatch retention period`},
		{"domain without certificate", "  domain: {name: portal.example.org}\n", `portal.domain.certificateArn: required with a custom domain`},
		{"certificate in another region", "  domain: {name: portal.example.org, certificateArn: \"arn:aws:acm:us-west-2:123456789012:certificate/12345678-1234-1234-1234-123456789012\"}\n",
			`portal.domain.certificateArn: the certificate is in us-west-2 but the portal's regional API is in us-east-1`},
		{"too many types for the environment", "  instanceTypes: {" + manyTypes(120) + "}\n",
			`portal.instanceTypes: the offered instance types, images and teams take about`},
		{"zone without domain", "  domain: {hostedZoneId: Z123}\n", `portal.domain.name: certificateArn and hostedZoneId need the domain name`},
		{"bad zone", "  domain: {name: portal.example.org, certificateArn: \"arn:aws:acm:us-east-1:123456789012:certificate/12345678-1234-1234-1234-123456789012\", hostedZoneId: zone1}\n",
			`portal.domain.hostedZoneId: "zone1" is not a Route 53 hosted zone id`},
		{"hub costs without daskhub", "  hubCosts: {enabled: true}\n", `portal.hubCosts.enabled: shows DaskHub's costs, but daskhub is not enabled`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantProblem(t, portalYAML(tc.rest), tc.want)
		})
	}
}

// The export is made in us-east-1 and must name its bucket's region, which
// a file without region cannot; GovCloud bills elsewhere.
func TestPortalHubCostsNeedsARegionItCanBill(t *testing.T) {
	const daskhub = "daskhub: {enabled: true, endpoint: {access: private}}\n"
	for _, tc := range []struct{ region, want string }{
		{"", "needs the instance's region set"},
		{"us-gov-west-1", "is not supported in us-gov-west-1"},
	} {
		text := strings.Replace(portalYAML("  hubCosts: {enabled: true}\n"), "region: us-east-1\n", "", 1)
		if tc.region != "" {
			text = "region: " + tc.region + "\n" + text
		}
		wantProblem(t, text+daskhub, "portal.hubCosts.enabled: "+tc.want)
	}
	wantProblem(t, portalYAML("  hubCosts: {enabled: true, keepDays: 90}\n")+daskhub,
		"portal.hubCosts.keepDays: 90 days would delete months the Costs page's 12-month trend shows")
	cfg := mustLoad(t, portalYAML("  hubCosts: {enabled: true}\n")+daskhub)
	if !cfg.Portal.HubCosts.Enabled || cfg.Portal.HubCosts.KeepDays != 400 {
		t.Errorf("hub costs %+v", cfg.Portal.HubCosts)
	}
}

// The teams tag of a user in every team must fit a session tag value.
func TestPortalTeamsTagLength(t *testing.T) {
	if n := teamsTagLength(nil); n != 1 {
		t.Errorf("no teams: %d, want 1 (\":\")", n)
	}
	if n := teamsTagLength(map[string]Team{"a": {}, "bc": {}}); n != len(":a:bc:") {
		t.Errorf("two teams: %d, want %d", n, len(":a:bc:"))
	}
	teams := func(count int) string {
		var b strings.Builder
		for i := range count {
			fmt.Fprintf(&b, "team-number-%08d: {}, ", i) // 20 characters
		}
		return b.String()
	}
	yaml := func(count int) string {
		return "name: gsfc\nregion: us-east-1\nteams: {" + teams(count) + "}\nauth: {enabled: true}\ndata: {enabled: true}\nportal: {enabled: true}\n"
	}
	// 12 names of 20 characters: 1 + 12*21 = 253 characters fit, 13 (274) do not.
	wantProblem(t, yaml(13), `test.yaml:3: error: teams: the portal gives each user a session tag listing their teams (":team1:team2:"), which IAM uses to let them pass only their own teams' machine roles; for a user in all 13 teams it takes 274 characters and IAM allows 256`)
	if _, problems := loadText(t, yaml(12)); problems != nil && strings.Contains(problems.Error(), "session tag") {
		t.Errorf("12 teams refused:\n%v", problems)
	}
	// Without the portal no tag is made.
	mustLoad(t, "name: gsfc\nteams: {"+teams(13)+"}\nauth: {enabled: true}\n")
}

func TestPortalNeedsAuthAndData(t *testing.T) {
	wantProblem(t, "name: gsfc\nportal: {enabled: true}\n", "portal needs auth and data")
}

// A disabled portal is not checked: its defaults need no fixing.
func TestPortalDisabledIsNotChecked(t *testing.T) {
	mustLoad(t, "name: gsfc\nportal: {enabled: false, sshCidrs: [0.0.0.0/0]}\n")
}

func manyTypes(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "x%d.large: {group: general}, ", i)
	}
	return b.String()
}

// The default deep-learning image must name a DLAMI line AWS still
// patches: PyTorch 2.7 on Ubuntu 22.04, the former default, is past its
// support date. The newest line, PyTorch 2.12 on Ubuntu 24.04, first
// released 2026-08-22 (DLAMI release notes,
// aws-deep-learning-ami-gpupt212oss-ul2404-2026-08-24), is the floor; the
// parameter follows AWS's naming /aws/service/deeplearning/ami/<arch>/<type>/latest/ami-id.
func TestPortalDefaultDeepLearningImageIsCurrent(t *testing.T) {
	cfg := mustLoad(t, portalYAML("  autoStop: {dailyTime: \"19:00\", timeZone: America/New_York}\n"))
	im := cfg.Portal.Images["pytorch"]
	re := regexp.MustCompile(`^/aws/service/deeplearning/ami/x86_64/oss-nvidia-driver-gpu-pytorch-(\d+)\.(\d+)-ubuntu-(\d+\.\d+)/latest/ami-id$`)
	m := re.FindStringSubmatch(im.Parameter)
	if m == nil {
		t.Fatalf("pytorch image parameter %q does not follow the DLAMI naming", im.Parameter)
	}
	major, _ := strconv.Atoi(m[1])
	minor, _ := strconv.Atoi(m[2])
	if major < 2 || major == 2 && minor < 12 || m[3] != "24.04" {
		t.Errorf("pytorch image is PyTorch %s.%s on Ubuntu %s; want PyTorch 2.12 or later on Ubuntu 24.04", m[1], m[2], m[3])
	}
	if !strings.Contains(im.Name, "PyTorch "+m[1]+"."+m[2]) || !strings.Contains(im.Name, "Ubuntu "+m[3]) {
		t.Errorf("launch page name %q does not say the release line of %s", im.Name, im.Parameter)
	}
	if len(im.Arch) != 1 || im.Arch["x86_64"] != "x86_64" || im.User != "ubuntu" {
		t.Errorf("pytorch image arch %v user %q", im.Arch, im.User)
	}
}
