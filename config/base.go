package config

import (
	"fmt"
	"maps"
	"net/netip"
	"regexp"
	"slices"
	"strings"
)

// Base is the networking and cost guard every instance has.
type Base struct {
	// VPC is the network the instance's compute runs in.
	VPC VPC `yaml:"vpc"`
	// Budget is a monthly AWS Budget over everything tagged with the instance.
	Budget Budget `yaml:"budget"`
	// DeployLogRetentionDays keeps, in every stack, the logs of the
	// functions the CDK adds to run custom resources during deploys
	// (locking down the default security group, bucket notifications, S3
	// settings, Kubernetes manifests and Helm charts): what to read when a
	// deploy fails. One of CloudWatch's retention periods.
	DeployLogRetentionDays int `yaml:"deployLogRetentionDays" default:"30"`
}

// VPC is either a new network built for the instance or an existing one
// named by ids. Neither is looked up at synth time.
type VPC struct {
	// Mode is "new" to build a VPC, or "existing" to use the one given by
	// vpcId, availabilityZones and subnet ids.
	Mode string `yaml:"mode" default:"new" enum:"new,existing"`
	// Cidr is the address range of a new VPC (a /16 to /24 block). For an
	// existing VPC, its primary range, used in security group rules.
	Cidr string `yaml:"cidr" default:"10.0.0.0/16"`
	// MaxAzs is how many availability zones a new VPC spans (1 to 6).
	MaxAzs int `yaml:"maxAzs" default:"2"`
	// AvailabilityZones names the zones, such as [us-east-1a, us-east-1b].
	// Required for an existing VPC, in the order of its subnet ids. For a new
	// VPC the default is the region's first maxAzs zones from the deployer's
	// table (us-east-1a, us-east-1b; ap-northeast-1a, ap-northeast-1c, since
	// new accounts have no ap-northeast-1b) when the region is known, else
	// CloudFormation picks at deploy time. Each zone must exist in the region.
	AvailabilityZones []string `yaml:"availabilityZones"`
	// NAT gives the private subnets their way out to the internet: AWS's
	// managed NAT gateways, small NAT instances the stack runs, or none.
	NAT NAT `yaml:"nat"`
	// NatGateways is the old spelling of nat, kept so that existing
	// instance files still work: "none" is nat: {type: none}, "one" is
	// nat: {type: gateway}, "perAz" is nat: {type: gateway, perAz: true}.
	// Give nat or natGateways, not both.
	NatGateways string `yaml:"natGateways" enum:"none,one,perAz"`
	// FlowLogs records the VPC's traffic to CloudWatch Logs.
	FlowLogs bool `yaml:"flowLogs" default:"true"`
	// FlowLogTraffic is what flow logs record: "all" (accepted and
	// rejected: who talked to whom, the record an incident needs) or
	// "reject" (only what security groups and network ACLs refused: a
	// fraction of the volume, but no trace of connections that succeeded).
	FlowLogTraffic string `yaml:"flowLogTraffic" default:"all" enum:"all,reject"`
	// FlowLogRetentionDays is how long flow logs are kept; one of
	// CloudWatch's retention periods (1, 3, 5, 7, 14, 30, 60, 90, ...).
	FlowLogRetentionDays int `yaml:"flowLogRetentionDays" default:"90"`
	// S3Endpoint adds a gateway endpoint so S3 traffic skips the NAT
	// gateway: free, and the data is heliophysics-sized.
	S3Endpoint bool `yaml:"s3Endpoint" default:"true"`
	// VpcID of an existing VPC, such as vpc-0123456789abcdef0.
	VpcID string `yaml:"vpcId"`
	// PublicSubnetIDs of an existing VPC, one per availability zone, in the
	// same order. Needed for internet-facing load balancers.
	PublicSubnetIDs []string `yaml:"publicSubnetIds"`
	// PrivateSubnetIDs of an existing VPC, one per availability zone, in the
	// same order. Compute runs here.
	PrivateSubnetIDs []string `yaml:"privateSubnetIds"`
}

// NAT is how a new VPC's private subnets reach the internet.
type NAT struct {
	// Type is "gateway" (AWS's managed NAT gateway: scales to 100 Gbps,
	// nothing to patch), "instance" (a small Graviton EC2 instance running
	// Amazon Linux 2023: with its address about a fifth of a gateway's
	// hourly price and no charge per GB, but its bandwidth, patching and
	// recovery are the instance's), or "none"
	// (private subnets reach only VPC endpoints; DaskHub and the portal
	// need a way out). docs/base.md compares them.
	Type string `yaml:"type" default:"gateway" enum:"gateway,instance,none"`
	// PerAz puts a NAT in every zone, each zone's private subnet using its
	// own, so that losing a zone cuts no other zone off; false shares one
	// NAT, in the first zone, among all zones.
	PerAz bool `yaml:"perAz" default:"false"`
	// InstanceType of each NAT instance (type: instance), a Graviton
	// burstable type: t4g.nano (0.5 GiB, 32 Mbit/s baseline, bursts to
	// 5 Gbit/s) up to t4g.xlarge (1 Gbit/s baseline).
	InstanceType string `yaml:"instanceType" default:"t4g.nano" enum:"t4g.nano,t4g.micro,t4g.small,t4g.medium,t4g.large,t4g.xlarge"`
}

// Count is how many NAT gateways or instances a new VPC over zones
// availability zones gets.
func (n NAT) Count(zones int) int {
	switch {
	case n.Type == "none":
		return 0
	case n.PerAz:
		return zones
	}
	return 1
}

// Describe says what NAT a new VPC over zones availability zones gets,
// such as "3 NAT gateways" or "1 NAT instance (t4g.nano)".
func (n NAT) Describe(zones int) string {
	k := n.Count(zones)
	plural := ""
	if k != 1 {
		plural = "s"
	}
	switch n.Type {
	case "none":
		return "no NAT (private subnets reach only VPC endpoints)"
	case "instance":
		return fmt.Sprintf("%d NAT instance%s (%s)", k, plural, n.InstanceType)
	}
	return fmt.Sprintf("%d NAT gateway%s", k, plural)
}

// Budget is a monthly cost budget over the instance's tagged resources,
// alerting by e-mail.
type Budget struct {
	// MonthlyLimitUsd is the monthly budget in US dollars; 0 makes no budget.
	MonthlyLimitUsd float64 `yaml:"monthlyLimitUsd"`
	// Emails receive the alerts (at most 10, an AWS Budgets limit).
	Emails []string `yaml:"emails"`
	// ForecastPercents alert when the month's forecast passes these
	// percentages of the limit.
	ForecastPercents []float64 `yaml:"forecastPercents" default:"[100, 120]"`
	// ActualPercents alert when the month's actual spend passes these
	// percentages of the limit.
	ActualPercents []float64 `yaml:"actualPercents" default:"[50, 80, 100]"`
}

// LogRetentionDays are the retention periods CloudWatch Logs accepts.
var LogRetentionDays = []int{1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}

var (
	namePattern   = regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`)
	accountRe     = regexp.MustCompile(`^[0-9]{12}$`)
	vpcIDRe       = regexp.MustCompile(`^vpc-[0-9a-f]{8}([0-9a-f]{9})?$`)
	subnetIDRe    = regexp.MustCompile(`^subnet-[0-9a-f]{8}([0-9a-f]{9})?$`)
	dnsNameRe     = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$`)
	tagKeyRe      = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]{1,128}$`)
	tagValueRe    = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]{0,256}$`)
	maxNameLength = 20
)

// checkName reports whether s is a valid instance or team name.
func checkName(c *checker, path, s string, maxLen int) {
	if !namePattern.MatchString(s) || len(s) > maxLen {
		c.errorf(path, "%q is not a valid name: use lower-case letters, digits and single hyphens, start with a letter, at most %d characters", s, maxLen)
	}
}

func (cfg *Config) checkTop(c *checker) {
	checkName(c, "name", cfg.Name, maxNameLength)
	if cfg.Account != "" {
		checkAccount(c, "account", cfg.Account)
	}
	if cfg.Region != "" {
		checkRegion(c, "region", cfg.Region)
	}
	for _, k := range slices.Sorted(maps.Keys(cfg.Tags)) {
		path := "tags." + k
		switch {
		case strings.HasPrefix(strings.ToLower(k), "aws:"):
			c.errorf(path, "tag keys starting with aws: are reserved by AWS")
		case strings.HasPrefix(k, "heliocloud:"):
			c.errorf(path, "tag keys starting with heliocloud: are set by the deployer")
		case !tagKeyRe.MatchString(k):
			c.errorf(path, "%q is not a valid tag key (1-128 letters, digits, spaces and _.:/=+-@)", k)
		case !tagValueRe.MatchString(cfg.Tags[k]):
			c.errorf(path, "%q is not a valid tag value (0-256 letters, digits, spaces and _.:/=+-@)", cfg.Tags[k])
		}
	}
	for _, t := range slices.Sorted(maps.Keys(cfg.Teams)) {
		// Team names reach bucket names and Cognito group names, so they are short and DNS-safe.
		checkName(c, "teams."+t, t, 32)
		if t == "admins" || t == "pending" {
			c.errorf("teams."+t, "%q is reserved for the auth stack's own group", t)
		}
	}
}

func (b *Base) check(c *checker, cfg *Config) {
	b.VPC.check(c, cfg)
	b.Budget.check(c)
	checkRetention(c, "base.deployLogRetentionDays", b.DeployLogRetentionDays)
}

func (v *VPC) check(c *checker, cfg *Config) {
	const p = "base.vpc"
	prefix, err := netip.ParsePrefix(v.Cidr)
	switch {
	case err != nil:
		c.errorf(p+".cidr", "%q is not a CIDR block such as 10.0.0.0/16", v.Cidr)
	case !prefix.Addr().Is4():
		c.errorf(p+".cidr", "%q: the VPC's primary range must be IPv4", v.Cidr)
	case prefix.Masked() != prefix:
		c.errorf(p+".cidr", "%q has host bits set; did you mean %s?", v.Cidr, prefix.Masked())
	case v.Mode == "new" && (prefix.Bits() < 16 || prefix.Bits() > 24):
		c.errorf(p+".cidr", "%q: a new VPC's range must be /16 to /24 (AWS allows /16 to /28, and subnets need room)", v.Cidr)
	}
	for i, az := range v.AvailabilityZones {
		checkZone(c, fmt.Sprintf("%s.availabilityZones[%d]", p, i), az, cfg.Region)
	}
	checkListedOnce(c, p+".availabilityZones", v.AvailabilityZones, "zone")
	switch v.Mode {
	case "new":
		if v.MaxAzs < 1 || v.MaxAzs > 6 {
			c.errorf(p+".maxAzs", "must be from 1 to 6, got %d", v.MaxAzs)
		} else if r, ok := Regions[cfg.Region]; ok && v.MaxAzs > r.UsableZones() {
			c.errorf(p+".maxAzs", "%d zones asked for, but %s has %d zones an account may use", v.MaxAzs, cfg.Region, r.UsableZones())
		}
		if n := len(v.AvailabilityZones); n > 0 && n != v.MaxAzs {
			c.errorf(p+".availabilityZones", "lists %d zones but maxAzs is %d", n, v.MaxAzs)
		}
		onlyWith(c, p, "mode: existing", "vpcId", "publicSubnetIds", "privateSubnetIds")
		v.NAT.check(c)
		if !v.FlowLogs {
			onlyWith(c, p, "flowLogs: true", "flowLogTraffic", "flowLogRetentionDays")
		}
	case "existing":
		if v.VpcID == "" {
			c.errorf(p+".vpcId", "is required with mode: existing")
		} else if !vpcIDRe.MatchString(v.VpcID) {
			c.errorf(p+".vpcId", "%q is not a VPC id such as vpc-0123456789abcdef0", v.VpcID)
		}
		if len(v.AvailabilityZones) == 0 {
			c.errorf(p+".availabilityZones", "is required with mode: existing (no lookups at synth time)")
		}
		if len(v.PrivateSubnetIDs) == 0 {
			c.errorf(p+".privateSubnetIds", "is required with mode: existing")
		}
		for _, list := range []struct {
			key string
			ids []string
		}{{"privateSubnetIds", v.PrivateSubnetIDs}, {"publicSubnetIds", v.PublicSubnetIDs}} {
			if len(list.ids) > 0 && len(list.ids) != len(v.AvailabilityZones) {
				c.errorf(p+"."+list.key, "lists %d subnets for %d availability zones: give one per zone, in the same order", len(list.ids), len(v.AvailabilityZones))
			}
			for i, id := range list.ids {
				if !subnetIDRe.MatchString(id) {
					c.errorf(fmt.Sprintf("%s.%s[%d]", p, list.key, i), "%q is not a subnet id such as subnet-0123456789abcdef0", id)
				}
			}
		}
		checkListedOnce(c, p+".privateSubnetIds", v.PrivateSubnetIDs, "subnet")
		checkListedOnce(c, p+".publicSubnetIds", v.PublicSubnetIDs, "subnet")
		checkSubnetsOnce(c, p, v.PublicSubnetIDs, v.PrivateSubnetIDs)
		onlyWith(c, p, "mode: new (an existing VPC is used as it is)", "maxAzs", "nat", "natGateways", "flowLogs", "flowLogTraffic", "flowLogRetentionDays", "s3Endpoint")
	}
	checkRetention(c, p+".flowLogRetentionDays", v.FlowLogRetentionDays)
}

// applyNatGateways reads the old key natGateways into nat, so that
// everything after it reads one setting. It runs before the checks.
func (v *VPC) applyNatGateways(c *checker) {
	const p = "base.vpc"
	old, ok := map[string]NAT{
		"none":  {Type: "none"},
		"one":   {Type: "gateway"},
		"perAz": {Type: "gateway", PerAz: true},
	}[v.NatGateways]
	if !ok || v.Mode != "new" {
		return // not given, misspelt (the decoder said so) or refused with mode: existing
	}
	if c.given(p + ".nat") {
		c.errorf(p+".natGateways", "is the old spelling of nat: give one of them, not both")
		return
	}
	v.NAT.Type, v.NAT.PerAz = old.Type, old.PerAz
	spelling := "{type: " + old.Type + "}"
	if old.PerAz {
		spelling = "{type: gateway, perAz: true}"
	}
	c.warnf(p+".natGateways", "is the old spelling of nat; natGateways: %s still works and means nat: %s, which also offers NAT instances (docs/base.md)", v.NatGateways, spelling)
}

// natPath is the key an admin wrote to choose the NAT type, for messages
// about it.
func (v *VPC) natPath(c *checker) string {
	if c.given("base.vpc.natGateways") {
		return "base.vpc.natGateways"
	}
	return "base.vpc.nat.type"
}

func (n *NAT) check(c *checker) {
	const p = "base.vpc.nat"
	if n.Type != "instance" {
		onlyWith(c, p, "type: instance", "instanceType")
	}
	if n.Type == "none" {
		onlyWith(c, p, "type: gateway or instance (type: none places no NAT)", "perAz")
	}
}

// onlyWith reports each of keys under section p that the admin wrote
// although it applies only with condition.
func onlyWith(c *checker, p, condition string, keys ...string) {
	for _, k := range keys {
		if c.given(p + "." + k) {
			c.errorf(p+"."+k, "only applies with %s", condition)
		}
	}
}

// checkAccount reports a unless it is an AWS account id.
func checkAccount(c *checker, path, a string) {
	if !accountRe.MatchString(a) {
		c.errorf(path, "%q is not an AWS account id: 12 digits (quote it so YAML keeps leading zeros)", a)
	}
}

// checkAccounts reports the entries of list that are not AWS account ids.
func checkAccounts(c *checker, path string, list []string) {
	for i, a := range list {
		checkAccount(c, fmt.Sprintf("%s[%d]", path, i), a)
	}
}

// checkRetention reports days unless CloudWatch Logs accepts it as a
// retention period (stacks.Retention relies on that).
func checkRetention(c *checker, path string, days int) {
	if !slices.Contains(LogRetentionDays, days) {
		c.errorf(path, "%d is not a CloudWatch retention period; allowed: %s", days, joinInts(LogRetentionDays))
	}
}

func (b *Budget) check(c *checker) {
	const p = "base.budget"
	if b.MonthlyLimitUsd < 0 {
		c.errorf(p+".monthlyLimitUsd", "must not be negative")
	}
	if b.MonthlyLimitUsd > 0 && len(b.Emails) == 0 {
		c.errorf(p+".emails", "a budget needs at least one e-mail address to alert")
	}
	if b.MonthlyLimitUsd == 0 {
		onlyWith(c, p, "a monthlyLimitUsd above 0 (with 0 no budget is made and nobody is alerted)", "emails", "forecastPercents", "actualPercents")
	}
	if len(b.Emails) > 10 {
		c.errorf(p+".emails", "AWS Budgets sends to at most 10 addresses, got %d", len(b.Emails))
	}
	checkEmails(c, p+".emails", b.Emails)
	for _, list := range []struct {
		key      string
		percents []float64
	}{{"forecastPercents", b.ForecastPercents}, {"actualPercents", b.ActualPercents}} {
		seen := map[float64]bool{}
		for i, pct := range list.percents {
			path := fmt.Sprintf("%s.%s[%d]", p, list.key, i)
			switch {
			case pct <= 0 || pct > 1000:
				c.errorf(path, "%g is not a percentage from above 0 to 1000", pct)
			case seen[pct]:
				c.errorf(path, "%g is listed twice: AWS Budgets refuses two identical alerts on one budget", pct)
			}
			seen[pct] = true
		}
	}
	if n := len(b.ForecastPercents) + len(b.ActualPercents); n > 10 && b.MonthlyLimitUsd > 0 {
		c.errorf(p, "AWS Budgets allows 10 alerts per budget; forecastPercents and actualPercents list %d", n)
	}
}
