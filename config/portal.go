package config

import (
	"fmt"
	"maps"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"time"
	_ "time/tzdata" // time zones are checked against the database the binary carries
	"unicode"
)

// Portal is the self-service dashboard where users launch, stop and
// terminate their own virtual machines, keep SSH keys and see their costs.
// It runs on Lambda behind an API Gateway HTTP API, so it costs nothing
// while nobody uses it.
type Portal struct {
	// Enabled builds this component's stack.
	Enabled bool `yaml:"enabled"`
	// InstanceTypes users may launch, keyed by EC2 instance type (such as
	// m7i.large) from the deployer's table of types (config/instancetypes.go,
	// shared with DaskHub); each names its group on the launch page. Prices are read
	// from the AWS Price List API for the instance's region at run time.
	InstanceTypes map[string]PortalInstanceType `yaml:"instanceTypes"`
	// Images are the operating systems offered, keyed by a short id, each
	// resolved at launch from a public SSM parameter so that no AMI id is
	// tied to a region.
	Images map[string]PortalImage `yaml:"images"`
	// Volume bounds the root disk a user may choose.
	Volume PortalVolume `yaml:"volume"`
	// Limits cap what one user may run and spend.
	Limits PortalLimits `yaml:"limits"`
	// AutoStop stops forgotten machines.
	AutoStop PortalAutoStop `yaml:"autoStop"`
	// SSHCidrs may reach the machines on port 22, such as an institution's
	// VPN range (203.0.113.0/24). Default: none; machines are then reached
	// only through AWS Systems Manager Session Manager. Never 0.0.0.0/0.
	SSHCidrs []string `yaml:"sshCidrs"`
	// Domain serves the portal on a custom domain name. Default: the API's
	// own https://<id>.execute-api.<region>.amazonaws.com address.
	Domain PortalDomain `yaml:"domain"`
	// LogRetentionDays keeps the portal's function and access logs this long.
	LogRetentionDays int `yaml:"logRetentionDays" default:"90"`
	// HubCosts shows admins, on the Costs page, what each user's and team's
	// DaskHub notebook servers and Dask clusters cost, from a CUR 2.0 data
	// export with EKS split cost allocation data. Default: off.
	HubCosts PortalHubCosts `yaml:"hubCosts"`
}

// HubCostsExportRegion is the only commercial region whose CloudFormation
// offers AWS::BCMDataExports::Export (Data Exports answers there for every
// region); HubCostsExportComponent names the stack that holds the export
// there when the instance runs elsewhere.
const (
	HubCostsExportRegion    = "us-east-1"
	HubCostsExportComponent = "hubCostsExport"
)

// HubCostsExportStack tells whether the instance needs the export's own
// stack in HubCostsExportRegion (and so the CDK bootstrapped there).
func (cfg *Config) HubCostsExportStack() bool {
	return cfg.Portal.Enabled && cfg.Portal.HubCosts.Enabled && cfg.Region != HubCostsExportRegion
}

// HubCostsNames are the names of portal.hubCosts' resources, derived from
// the instance's name so that the stacks, the portal and heliocloud doctor
// agree without referring to each other.
type HubCostsNames struct {
	Export, WorkGroup, Database, Table, Bucket string
}

// HubCostsNames names portal.hubCosts' resources.
func (cfg *Config) HubCostsNames() HubCostsNames {
	return HubCostsNames{
		Export:    cfg.Name + "-hubcosts",
		WorkGroup: cfg.Name + "-hubcosts",
		// Glue and Athena want database names of lower-case letters,
		// digits and underscores; instance names may hold hyphens.
		Database: strings.ReplaceAll(cfg.Name, "-", "_") + "_hubcosts",
		Table:    "pods",
		Bucket:   cfg.HubCostsBucketName(),
	}
}

// PortalHubCosts is the billing data behind DaskHub's per-user costs.
// Turning it on creates the export (in us-east-1, the only region whose
// CloudFormation offers it: a small extra stack when the instance runs
// elsewhere), a bucket for it, and an Athena table. Two steps remain in the
// organization's management (payer) account: enable split cost allocation
// data for Amazon EKS, and activate the heliocloud.org/user and
// heliocloud.org/team labels as cost allocation tags (docs/cost.md).
type PortalHubCosts struct {
	// Enabled creates the export and shows the costs. Needs daskhub.
	Enabled bool `yaml:"enabled"`
	// KeepDays deletes a month's billing files this many days after they
	// were last rewritten (AWS rewrites a month's files until its bill is
	// final); the Costs page's 12-month trend needs 400. 0 keeps them.
	KeepDays int `yaml:"keepDays" default:"400"`
}

// PortalInstanceType is one machine size on the launch page.
type PortalInstanceType struct {
	// Group is the heading the type is listed under.
	Group string `yaml:"group" required:"true" enum:"general,compute,memory,gpu"`
}

// PortalImage is one operating system image.
type PortalImage struct {
	// Name shown on the launch page, such as "Ubuntu 24.04 LTS".
	Name string `yaml:"name" required:"true"`
	// Parameter is the public SSM parameter holding the image id, under
	// /aws/service/; "{arch}" in it is replaced by the word Arch gives for
	// the chosen type's processor.
	Parameter string `yaml:"parameter" required:"true"`
	// Arch maps each supported processor (x86_64, arm64) to the word the
	// parameter uses for it (x86_64, amd64, arm64). A processor missing
	// here cannot run the image.
	Arch map[string]string `yaml:"arch" required:"true"`
	// User is the login name on the image, for the SSH command shown.
	User string `yaml:"user" required:"true"`
	// Owner is who publishes the image, as IAM's ec2:Owner condition
	// names it: "amazon" for AWS's own images, or the publisher's
	// 12-digit account id (Canonical's is 099720109477 in the commercial
	// regions). Users' credentials may launch images of these owners only.
	Owner string `yaml:"owner" required:"true"`
}

// PortalVolume is the range of root disk sizes, in GiB.
type PortalVolume struct {
	// MinGiB is the smallest disk; it must hold the largest image offered.
	MinGiB int `yaml:"minGiB" default:"32"`
	// DefaultGiB is preselected on the launch page.
	DefaultGiB int `yaml:"defaultGiB" default:"64"`
	// MaxGiB is the largest disk a user may ask for.
	MaxGiB int `yaml:"maxGiB" default:"512"`
}

// PortalLimits cap what one user may do.
type PortalLimits struct {
	// RunningMachines is how many machines one user may have pending or
	// running at once.
	RunningMachines int `yaml:"runningMachines" default:"3"`
	// MonthlySpendUSD refuses new launches once a user's cost this month
	// (from Cost Explorer, a day behind) reaches it; 0 means no limit.
	MonthlySpendUSD float64 `yaml:"monthlySpendUSD" default:"500"`
}

// PortalAutoStop stops running machines that are idle or left on
// overnight, unless their owner ticked "keep running" at launch.
type PortalAutoStop struct {
	// IdleHours stops a machine whose CPU stayed below IdleCPUPercent for
	// this many hours, checked hourly; 0 turns idle stopping off.
	IdleHours int `yaml:"idleHours" default:"3"`
	// IdleCPUPercent is the CPU use below which a machine counts as idle.
	IdleCPUPercent float64 `yaml:"idleCPUPercent" default:"5"`
	// DailyTime stops every running machine at this time each day, "HH:MM"
	// in TimeZone. Default: no daily stop.
	DailyTime string `yaml:"dailyTime"`
	// TimeZone of DailyTime, an IANA name such as America/New_York, checked
	// against the time zone database built into the deployer.
	TimeZone string `yaml:"timeZone" default:"UTC"`
}

// PortalDomain is an optional custom domain for the portal.
type PortalDomain struct {
	// Name is the portal's host name, such as portal.helio.example.org.
	Name string `yaml:"name"`
	// CertificateArn is an ACM certificate for Name in the instance's
	// region. Required with Name.
	CertificateArn string `yaml:"certificateArn"`
	// HostedZoneID is the Route 53 zone in which to create Name's alias
	// record. Default: no record; point Name at the API's regional domain
	// (a stack output) yourself.
	HostedZoneID string `yaml:"hostedZoneId"`
}

var (
	imageIDRe   = regexp.MustCompile(`^[a-z][a-z0-9-]{0,31}$`)
	dailyTimeRe = regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]$`)
	certArnRe   = regexp.MustCompile(`^arn:aws[a-z-]*:acm:([a-z0-9-]+):[0-9]{12}:certificate/[0-9a-f-]{36}$`)
)

func (x *Portal) check(c *checker, cfg *Config) {
	if !x.Enabled {
		return
	}
	checkRetention(c, "portal.logRetentionDays", x.LogRetentionDays)
	if len(x.InstanceTypes) == 0 {
		c.errorf("portal.instanceTypes", "offer at least one instance type")
	}
	x.checkInstanceTypes(c)
	if len(x.Images) == 0 {
		c.errorf("portal.images", "offer at least one image")
	}
	for _, id := range slices.Sorted(maps.Keys(x.Images)) {
		im := x.Images[id]
		path := "portal.images." + id
		if !imageIDRe.MatchString(id) {
			c.errorf(path, "image ids are lower-case letters, digits and hyphens, starting with a letter, at most 32 characters")
		}
		if !strings.HasPrefix(im.Parameter, "/aws/service/") {
			c.errorf(path+".parameter", "must be a public SSM parameter under /aws/service/ (the portal may read only those)")
		}
		if len(im.Arch) > 1 && !strings.Contains(im.Parameter, "{arch}") {
			c.errorf(path+".parameter", "lists %d processors in arch but has no {arch} placeholder to tell them apart", len(im.Arch))
		}
		if im.Owner != "amazon" && !accountRe.MatchString(im.Owner) {
			c.errorf(path+".owner", "%q is neither amazon nor a 12-digit AWS account id", im.Owner)
		}
		for _, a := range slices.Sorted(maps.Keys(im.Arch)) {
			if a != "x86_64" && a != "arm64" {
				c.errorf(path+".arch."+a, "unknown processor %q; allowed: x86_64, arm64", a)
			}
		}
	}
	if n := teamsTagLength(cfg.Teams); n > maxSessionTagValue {
		c.errorf("teams", "the portal gives each user a session tag listing their teams (\":team1:team2:\"), which IAM uses to let them pass only their own teams' machine roles; "+
			"for a user in all %d teams it takes %d characters and IAM allows %d: use shorter team names or fewer teams", len(cfg.Teams), n, maxSessionTagValue)
	}
	if n := x.environmentBytes(cfg); n > portalEnvBudget {
		c.errorf("portal.instanceTypes", "the offered instance types, images and teams take about %d bytes of the portal function's environment, which Lambda caps at 4 KiB with %d left for them; offer fewer types or images", n, portalEnvBudget)
	}
	v := x.Volume
	if v.MinGiB < 8 {
		c.errorf("portal.volume.minGiB", "must be at least 8 (the smallest image)")
	}
	if v.MaxGiB > 16384 {
		c.errorf("portal.volume.maxGiB", "must be at most 16384 (the gp3 limit)")
	}
	if v.MinGiB > v.MaxGiB {
		c.errorf("portal.volume.minGiB", "%d must not exceed maxGiB (%d)", v.MinGiB, v.MaxGiB)
	} else if v.DefaultGiB < v.MinGiB || v.DefaultGiB > v.MaxGiB {
		c.errorf("portal.volume.defaultGiB", "must lie between minGiB (%d) and maxGiB (%d)", v.MinGiB, v.MaxGiB)
	}
	if x.Limits.RunningMachines < 1 {
		c.errorf("portal.limits.runningMachines", "must be at least 1")
	}
	if x.Limits.MonthlySpendUSD < 0 {
		c.errorf("portal.limits.monthlySpendUSD", "must be 0 (no limit) or more")
	}
	a := x.AutoStop
	if a.IdleHours < 0 || a.IdleHours > 168 {
		c.errorf("portal.autoStop.idleHours", "must be between 0 (off) and 168")
	}
	if a.IdleCPUPercent <= 0 || a.IdleCPUPercent >= 100 {
		c.errorf("portal.autoStop.idleCPUPercent", "must be between 0 and 100")
	}
	if a.DailyTime != "" && !dailyTimeRe.MatchString(a.DailyTime) {
		c.errorf("portal.autoStop.dailyTime", "%q is not a time of day as HH:MM (such as 19:00)", a.DailyTime)
	}
	checkTimeZone(c, "portal.autoStop.timeZone", a.TimeZone)
	seen := map[netip.Prefix]bool{}
	for i, s := range x.SSHCidrs {
		path := fmt.Sprintf("portal.sshCidrs[%d]", i)
		p, err := netip.ParsePrefix(s)
		switch {
		case err != nil:
			c.errorf(path, "%q is not a CIDR block (such as 203.0.113.0/24)", s)
		case p.Bits() == 0:
			c.errorf(path, "%s opens SSH to the whole internet; list your institution's address ranges, or none to use Session Manager only", s)
		case p.Masked() != p:
			c.errorf(path, "%s has host bits set; did you mean %s?", s, p.Masked())
		case seen[p]:
			c.errorf(path, "%s is listed twice", s)
		}
		seen[p] = true
	}
	x.HubCosts.check(c, cfg)
	d := x.Domain
	switch {
	case d.Name == "" && (d.CertificateArn != "" || d.HostedZoneID != ""):
		c.errorf("portal.domain.name", "certificateArn and hostedZoneId need the domain name they are for")
	case d.Name != "":
		if !dnsNameRe.MatchString(d.Name) {
			c.errorf("portal.domain.name", "%q is not a lower-case DNS host name", d.Name)
		}
		if d.CertificateArn == "" {
			c.errorf("portal.domain.certificateArn", "required with a custom domain: an ACM certificate for %s in the instance's region", d.Name)
		} else if m := certArnRe.FindStringSubmatch(d.CertificateArn); m == nil {
			c.errorf("portal.domain.certificateArn", "%q is not an ACM certificate ARN (arn:aws:acm:<region>:<account>:certificate/<uuid>)", d.CertificateArn)
		} else if cfg.Region != "" && m[1] != cfg.Region {
			c.errorf("portal.domain.certificateArn", "the certificate is in %s but the portal's regional API is in %s; request one in %s", m[1], cfg.Region, cfg.Region)
		}
		if d.HostedZoneID != "" && !hostedZoneRe.MatchString(d.HostedZoneID) {
			c.errorf("portal.domain.hostedZoneId", "%q is not a Route 53 hosted zone id (such as Z0123456789ABCDEFGHIJ)", d.HostedZoneID)
		}
	}
}

func (h *PortalHubCosts) check(c *checker, cfg *Config) {
	if !h.Enabled {
		return
	}
	if !cfg.Daskhub.Enabled {
		c.errorf("portal.hubCosts.enabled", "shows DaskHub's costs, but daskhub is not enabled; turn one on or this off")
	}
	if cfg.Region == "" {
		c.errorf("portal.hubCosts.enabled", "needs the instance's region set (top-level region): the export is created in us-east-1 and must name the region of the bucket it writes to")
	} else if partitionOf(cfg.Region) == "aws-us-gov" {
		c.errorf("portal.hubCosts.enabled", "is not supported in %s: the bills of GovCloud accounts are reported in their associated standard account, where Data Exports would have to be created", cfg.Region)
	}
	if h.KeepDays != 0 && h.KeepDays < 400 {
		c.errorf("portal.hubCosts.keepDays", "%d days would delete months the Costs page's 12-month trend shows; use 400 or more, or 0 to keep them", h.KeepDays)
	}
}

// checkInstanceTypes holds the offered types to the instance-type table
// (shared with DaskHub), their group to their GPUs, and each to an image
// that runs on its processor.
func (x *Portal) checkInstanceTypes(c *checker) {
	known := InstanceTypeNames()
	for _, name := range slices.Sorted(maps.Keys(x.InstanceTypes)) {
		path := "portal.instanceTypes." + name
		it, ok := InstanceTypes[name]
		if !ok {
			c.errorf(path, "%q is not a known instance type%s; allowed: %s (add a type to config/instancetypes.go)", name, suggest(name, known), strings.Join(known, ", "))
			continue
		}
		group := x.InstanceTypes[name].Group
		switch {
		case group == "gpu" && it.GPUs == 0:
			c.errorf(path+".group", "%s has no GPU but is listed under gpu; GPU types: %s", name, strings.Join(gpuTypeNames(), ", "))
		case group != "gpu" && it.GPUs > 0:
			c.errorf(path+".group", "%s has %d %s GPU(s): list it under group: gpu, where users look for GPUs", name, it.GPUs, it.GPUModel)
		}
		arch := "x86_64"
		if it.Arm64 {
			arch = "arm64"
		}
		runs := false
		for _, im := range x.Images {
			if _, ok := im.Arch[arch]; ok {
				runs = true
			}
		}
		if !runs && len(x.Images) > 0 {
			c.errorf(path, "%s is an %s type, but no image in portal.images lists %s under arch: users could not launch it", name, arch, arch)
		}
	}
}

// checkTimeZone reports tz unless the IANA database (embedded in the binary
// through time/tzdata, so validate and synth agree on every machine) knows it.
func checkTimeZone(c *checker, path, tz string) {
	if tz != "Local" && tz != "" {
		if _, err := time.LoadLocation(tz); err == nil {
			return
		}
	}
	hint := ""
	if s := suggestTimeZone(tz); s != "" {
		hint = fmt.Sprintf(" (did you mean %q?)", s)
	}
	c.errorf(path, "%q is not a time zone in the IANA database%s; use a name such as UTC, America/New_York or Europe/Paris", tz, hint)
}

// suggestTimeZone repairs the usual ways a zone name is mistyped: spaces
// for underscores, words run together (NewYork) or the wrong case.
func suggestTimeZone(tz string) string {
	spaced := strings.ReplaceAll(strings.TrimSpace(tz), " ", "_")
	var split strings.Builder
	for i, r := range spaced {
		if i > 0 && unicode.IsUpper(r) {
			if prev := rune(spaced[i-1]); unicode.IsLower(prev) {
				split.WriteByte('_')
			}
		}
		split.WriteRune(r)
	}
	titled := []rune(strings.ToLower(spaced))
	for i := range titled {
		if i == 0 || strings.ContainsRune("/_-", titled[i-1]) {
			titled[i] = unicode.ToUpper(titled[i])
		}
	}
	for _, cand := range []string{spaced, split.String(), string(titled), strings.ToUpper(spaced)} {
		if cand == tz || cand == "" || cand == "Local" {
			continue
		}
		if _, err := time.LoadLocation(cand); err == nil {
			return cand
		}
	}
	return ""
}

// maxSessionTagValue is the longest value STS accepts for a session tag,
// which is what the identity pool makes of the ID token's teams claim.
const maxSessionTagValue = 256

// teamsTagLength is the length of the teams tag of a user in every team:
// each name enclosed in colons, ":a:b:" (the format of lambda/authteams).
func teamsTagLength(teams map[string]Team) int {
	n := 1
	for t := range teams {
		n += len(t) + 1
	}
	return n
}

// portalEnvBudget is what the portal function's 4 KiB environment leaves
// for the lists below, after the fixed keys, URLs, resource ids and the
// other variables (about 1.7 KiB once resolved at deploy).
const portalEnvBudget = 2400

// environmentBytes estimates the JSON the portal stack renders for the
// function's environment from the lists an admin can grow.
func (x *Portal) environmentBytes(cfg *Config) int {
	n := 0
	for name, it := range x.InstanceTypes {
		n += len(`{"name":"","group":""},`) + len(name) + len(it.Group)
	}
	for id, im := range x.Images {
		n += len(`{"key":"","name":"","parameter":"","arch":{},"user":""},`) + len(id) + len(im.Name) + len(im.Parameter) + len(im.User)
		for a, w := range im.Arch {
			n += len(a) + len(w) + 6
		}
	}
	for team := range cfg.Teams {
		// Each team carries its instance profile's ARN.
		n += len(`{"name":"","instanceProfileARN":"arn:aws:iam::123456789012:instance-profile/-team-"},`) + 2*len(team) + len(cfg.Name)
	}
	if x.HubCosts.Enabled {
		// Workgroup, database, table and cluster are derived from the name.
		n += len(`"hubCosts":{"workGroup":"-hubcosts","database":"_costs","table":"pods","cluster":"-daskhub","userTag":"user_heliocloud_org_user","teamTag":"user_heliocloud_org_team"},`) + 3*len(cfg.Name)
	}
	return n
}

// PortalInstanceTypeNames lists the offered types by group (general,
// compute, memory, gpu) and then by name, the order of the launch page.
func (x *Portal) PortalInstanceTypeNames() []string {
	groups := []string{"general", "compute", "memory", "gpu"}
	names := slices.Sorted(maps.Keys(x.InstanceTypes))
	slices.SortStableFunc(names, func(a, b string) int {
		return slices.Index(groups, x.InstanceTypes[a].Group) - slices.Index(groups, x.InstanceTypes[b].Group)
	})
	return names
}
