package cost_test

import (
	"math"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/heliocloud/heliocloud-go/config"
	"github.com/heliocloud/heliocloud-go/cost"
)

func parse(t *testing.T, text string) *config.Config {
	t.Helper()
	cfg, err := config.Parse("test.yaml", []byte(text))
	if err != nil {
		t.Fatalf("%v", err)
	}
	return cfg
}

func instance(t *testing.T, name string) *config.Config {
	t.Helper()
	cfg, err := config.Load(filepath.Join("..", "instances", name+".yaml"))
	if err != nil {
		t.Fatalf("%v", err)
	}
	return cfg
}

// line finds the idle line whose description contains what.
func line(t *testing.T, r cost.Report, what string) cost.Line {
	t.Helper()
	for _, l := range r.Idle {
		if strings.Contains(l.What, what) {
			return l
		}
	}
	t.Fatalf("no idle line %q among %d", what, len(r.Idle))
	return cost.Line{}
}

func near(a, b float64) bool { return math.Abs(a-b) < 0.005 }

// gsfc's idle month, item by item at us-east-1 prices: three NAT gateways
// with their addresses, the control plane, two t3a.large core nodes with
// 50 GB disks, the Network load balancer Kubernetes makes for the domain
// in coreZone with its address, keys, logs (audit and authenticator).
func TestGSFCIdleItems(t *testing.T) {
	r := cost.Estimate(instance(t, "gsfc"))
	for _, c := range []struct {
		what    string
		count   float64
		monthly float64
	}{
		{"NAT gateway", 3, 98.55},
		{"public IPv4 address of a NAT gateway", 3, 10.95},
		{"EKS control plane", 1, 73},
		{"node group core: t4g.large", 2, 98.112},
		{"node group core: 50 GiB", 100, 8},
		{"hub load balancer, Network", 1, 16.425},
		{"public IPv4 address of the hub's load balancer", 1, 3.65},
		{"KMS key of Kubernetes secrets", 1, 1},
		{"KMS key of a bucket", 1, 1},
		{"EKS audit log: ingestion", 20, 10},
		{"Secrets Manager secret", 1, 0.40},
	} {
		l := line(t, r, c.what)
		if l.Count != c.count || !near(l.Monthly(), c.monthly) {
			t.Errorf("%s: %g for %s, want %g for %s", c.what, l.Count, cost.Dollars(l.Monthly()), c.count, cost.Dollars(c.monthly))
		}
	}
	if got := r.Total(); !near(got, 323.45) {
		t.Errorf("gsfc idles at %s, want $323.45", cost.Dollars(got))
	}
	byComp := r.ByComponent()
	for _, comp := range []string{"base", "auth", "data", "containers", "registry", "portal", "daskhub"} {
		if _, ok := byComp[comp]; !ok {
			t.Errorf("no line for component %s", comp)
		}
	}
}

// Nodes of user, worker and GPU groups scale from zero: idle they cost
// nothing; a group kept at minSize does.
func TestIdleNodesFollowMinAndDesiredSize(t *testing.T) {
	base := "name: t\nregion: us-east-1\nauth: {enabled: true}\ndaskhub:\n  enabled: true\n  endpoint: {access: private}\n"
	r := cost.Estimate(parse(t, base))
	for _, l := range r.Idle {
		if strings.Contains(l.What, "node group user") || strings.Contains(l.What, "dask-worker") {
			t.Errorf("an idle group from zero is priced: %+v", l)
		}
	}
	if _, ok := r.ByComponent()["daskhub"]; !ok {
		t.Fatal("no daskhub lines")
	}
	r = cost.Estimate(parse(t, base+"  nodeGroups:\n    user: {minSize: 1, desiredSize: 1}\n"))
	if l := line(t, r, "node group user: m7i.2xlarge"); l.Count != 1 || !near(l.Monthly(), 0.4032*730) {
		t.Errorf("user group kept at 1: %+v", l)
	}
	// Without a domain the hub has no load balancer.
	for _, l := range r.Idle {
		if strings.Contains(l.What, "load balancer") {
			t.Errorf("a hub without a domain has a load balancer line: %+v", l)
		}
	}
}

// The NAT choice and flow logs are the base's idle cost.
func TestBaseLevers(t *testing.T) {
	none := cost.Estimate(parse(t, "name: t\nregion: us-east-1\nbase:\n  vpc: {natGateways: none, flowLogs: false}\n"))
	if got := none.Total(); got != 0 {
		t.Errorf("a VPC without NAT or flow logs costs %s idle, want $0", cost.Dollars(got))
	}
	one := cost.Estimate(parse(t, "name: t\nregion: us-east-1\nbase:\n  vpc: {natGateways: one, flowLogs: false}\n"))
	if got := one.Total(); !near(got, (0.045+0.005)*730) {
		t.Errorf("one NAT gateway with its address: %s, want $36.50", cost.Dollars(got))
	}
	perAz := cost.Estimate(parse(t, "name: t\nregion: us-east-1\nbase:\n  vpc: {maxAzs: 3, natGateways: perAz, flowLogs: false}\n"))
	if got := perAz.Total(); !near(got, 3*(0.045+0.005)*730) {
		t.Errorf("three NAT gateways: %s, want $109.50", cost.Dollars(got))
	}
	// A t4g.nano, its public address and its 8 GiB root volume, per zone.
	nat := cost.Estimate(parse(t, "name: t\nregion: us-east-1\nbase:\n  vpc: {maxAzs: 2, nat: {type: instance, perAz: true}, flowLogs: false}\n"))
	if got := nat.Total(); !near(got, 2*((0.0042+0.005)*730+8*0.08)) {
		t.Errorf("two NAT instances: %s, want $14.71", cost.Dollars(got))
	}
}

// Prices come from the instance's region where the table has it, and
// from us-east-1 with a note where it does not.
func TestPriceTableByRegion(t *testing.T) {
	for _, c := range []struct {
		region, priced, note string
	}{
		{"us-east-1", "us-east-1", ""},
		{"us-west-2", "us-west-2", ""},
		{"us-gov-west-1", "us-gov-west-1", "approximate"},
		{"eu-west-1", "us-east-1", "no price table for eu-west-1"},
		{"", "us-east-1", "names no region"},
	} {
		p, note := cost.PriceTable(c.region)
		if p.Region != c.priced || (c.note == "") != (note == "") || !strings.Contains(note, c.note) {
			t.Errorf("%q: prices of %s, note %q; want %s and a note containing %q", c.region, p.Region, note, c.priced, c.note)
		}
	}
	east, _ := cost.PriceTable("us-east-1")
	gov, _ := cost.PriceTable("us-gov-west-1")
	if gov.NATGatewayHour <= east.NATGatewayHour || gov.EBSgp3GBMonth <= east.EBSgp3GBMonth {
		t.Error("GovCloud is not dearer than us-east-1")
	}
	if h, ok := gov.InstanceHour("t3a.large"); !ok || h <= 0.0752 {
		t.Errorf("t3a.large in GovCloud %v", h)
	}
	if _, ok := east.InstanceHour("x9.huge"); ok {
		t.Error("an unknown type has a price")
	}
	r := cost.Estimate(parse(t, "name: t\nregion: eu-west-1\n"))
	if !strings.Contains(strings.Join(r.Notes, "\n"), "priced as us-east-1") {
		t.Errorf("no fallback note: %v", r.Notes)
	}
}

// The report's last line is exactly "idle: $<amount>/month" with the
// total; a notebook server's price is its share of the node.
func TestReportOutput(t *testing.T) {
	r := cost.Estimate(instance(t, "gsfc"))
	var b strings.Builder
	if err := r.Write(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	last := lines[len(lines)-1]
	if !regexp.MustCompile(`^idle: \$[0-9]+\.[0-9]{2}/month$`).MatchString(last) || last != "idle: "+cost.Dollars(r.Total())+"/month" {
		t.Errorf("last line %q", last)
	}
	for _, want := range []string{
		"component   resource",
		`notebook server "Server"`, "shared by up to 2",
		"machine m7i.large running",
		"Dask worker, per core",
		"taken " + cost.PricesTaken,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	// m7i.2xlarge (8 vCPU, 32 GiB) holds two "Server" profiles (3 cores,
	// 12 GiB guaranteed): each pays half the node and its 100 GB disk.
	half := (0.4032 + 100*0.08/730) / 2
	for _, u := range r.PerUse {
		if u.What == `notebook server "Server"` && !near(u.Price, half) {
			t.Errorf("Server costs %v/h, want %v", u.Price, half)
		}
	}
}
