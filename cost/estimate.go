// Package cost prices an instance file before it is deployed: what the
// instance costs a month while nobody uses it, resource by resource, and
// what each thing users do adds. Prices are one table of on-demand list
// prices (prices.go); the volumes an idle instance produces that no file
// can tell (logs) are estimates (Assumed), marked as such.
//
// The package imports no CDK, so `heliocloud cost` and `heliocloud
// validate` run without Node.js. test/cost_test.go holds the estimate to
// an independent sum over the synthesized templates.
package cost

import (
	"fmt"
	"maps"
	"math"
	"slices"

	"github.com/heliocloud/heliocloud-go/config"
	"github.com/heliocloud/heliocloud-go/daskhub/values"
)

// Estimate prices cfg, a loaded and validated instance.
func Estimate(cfg *config.Config) Report {
	p, note := PriceTable(cfg.Region)
	e := &estimator{cfg: cfg, p: p, r: Report{Instance: cfg.Name, Region: cfg.Region, Prices: p}}
	if note != "" {
		e.note(note)
	}
	e.base()
	for _, comp := range cfg.EnabledComponents()[1:] {
		parts[comp](e)
	}
	e.note("log volumes marked (estimate) are guesses for an idle instance; docs/cost.md says how to measure yours")
	e.note(fmt.Sprintf("KMS keys rotate yearly: each of the first two rotations adds %s a month, so a key costs %s from its third year",
		Dollars(p.KMSKeyMonth), Dollars(3*p.KMSKeyMonth)))
	return e.r
}

// parts prices each component but base.
var parts = map[string]func(*estimator){
	"auth":       (*estimator).auth,
	"data":       (*estimator).data,
	"containers": (*estimator).containers,
	"registry":   (*estimator).registry,
	"portal":     (*estimator).portal,
	"daskhub":    (*estimator).daskhub,
}

type estimator struct {
	cfg *config.Config
	p   Prices
	r   Report
}

func (e *estimator) idle(component, what string, n, price float64, unit string) {
	e.r.Idle = append(e.r.Idle, Line{Component: component, What: what, Count: n, UnitPrice: price, Unit: unit})
}

func (e *estimator) estimated(component, what string, n, price float64, unit string) {
	e.r.Idle = append(e.r.Idle, Line{Component: component, What: what, Count: n, UnitPrice: price, Unit: unit, Approximate: true})
}

func (e *estimator) use(component, what string, price float64, unit, note string) {
	e.r.PerUse = append(e.r.PerUse, Use{Component: component, What: what, Price: price, Unit: unit, Note: note})
}

func (e *estimator) note(s string) { e.r.Notes = append(e.r.Notes, s) }

// logs adds the ingestion of each stream of a log group, by what it is
// and its estimated GB a month, and the group's steady-state storage when
// it keeps them retentionDays.
func (e *estimator) logs(component, group string, streams []stream, ingestGB float64, retentionDays int) {
	total := 0.0
	for _, s := range streams {
		e.estimated(component, s.what+": ingestion", s.gbMonth, ingestGB, "GB")
		total += s.gbMonth
	}
	if total > 0 {
		e.estimated(component, fmt.Sprintf("%s: storage, %d days kept", group, retentionDays), StoredGB(total, retentionDays), e.p.LogsStorageGBMonth, "GB-month")
	}
}

// stream is one source of a log group's entries.
type stream struct {
	what    string
	gbMonth float64
}

// NATInstanceRootGiB is a NAT instance's root volume: the size of the
// Amazon Linux 2023 image's snapshot, which the base stack does not change.
const NATInstanceRootGiB = 8

func (e *estimator) base() {
	if e.cfg.Base.VPC.Mode == "existing" {
		e.note("base: the existing VPC's NAT, endpoints and flow logs are the institution's and not counted")
		e.idle("base", "existing VPC: nothing made that costs money idle", 0, 0, "month")
	} else {
		e.newVPC(e.cfg.Base.VPC)
	}
	e.use("base", "data out to the internet", e.p.DataOutGB, "GB", "after the account's first 100 GB a month")
}

// newVPC prices what a new VPC runs idle: its NAT (config.NAT.Count of
// them) and its flow logs.
func (e *estimator) newVPC(v config.VPC) {
	p := e.p
	n := v.NAT.Count(v.MaxAzs)
	k := float64(n)
	switch v.NAT.Type {
	case "gateway":
		e.idle("base", "NAT gateway", k, p.NATGatewayHour, "h")
		e.idle("base", "public IPv4 address of a NAT gateway", k, p.PublicIPv4Hour, "h")
		e.use("base", "data through a NAT gateway", p.NATGatewayGB, "GB", "S3 traffic skips it through the free gateway endpoint")
	case "instance":
		price, _ := p.InstanceHour(v.NAT.InstanceType)
		e.idle("base", "NAT instance ("+v.NAT.InstanceType+")", k, price, "h")
		e.idle("base", "Elastic IP of a NAT instance (its outbound address)", k, p.PublicIPv4Hour, "h")
		e.idle("base", fmt.Sprintf("NAT instance root volume (%d GiB gp3)", NATInstanceRootGiB), k*NATInstanceRootGiB, p.EBSgp3GBMonth, "GB-month")
		e.use("base", "data through a NAT instance", 0, "GB", "no charge of its own; its bandwidth is the instance type's")
	}
	if v.FlowLogs {
		flow := stream{"VPC flow logs, all traffic", Assumed.FlowLogsGBMonth}
		if v.FlowLogTraffic == "reject" {
			flow = stream{"VPC flow logs, refused traffic", Assumed.FlowLogsRejectGBMonth}
		}
		e.logs("base", "VPC flow logs", []stream{flow}, p.VendedLogsGB, v.FlowLogRetentionDays)
	}
	if n == 0 && !v.FlowLogs {
		e.idle("base", "VPC, subnets, S3 endpoint: free", 0, 0, "month")
	}
}

func (e *estimator) auth() {
	e.idle("auth", "Cognito user pool: billed per monthly active user", 1, 0, "month")
	price, note := e.p.CognitoPlusMAU, "plus plan (threat protection): no free tier"
	if e.cfg.Auth.FeaturePlan == "essentials" {
		price, note = e.p.CognitoEssentialsMAU, "essentials plan: the first 10,000 a month are free (50 for SSO users; none in GovCloud)"
	}
	e.use("auth", "a user who signs in during a month", price, "user-month", note)
}

func (e *estimator) data() {
	buckets := e.cfg.Buckets()
	keys := 0
	for _, b := range buckets {
		if e.cfg.BucketEncryption(b) == "kms" {
			keys++
		}
	}
	e.idle("data", fmt.Sprintf("S3 buckets (%d): billed per GB stored", len(buckets)), float64(len(buckets)), 0, "month")
	if keys > 0 {
		e.idle("data", "KMS key of a bucket with encryption: kms", float64(keys), e.p.KMSKeyMonth, "month")
	}
	e.use("data", "data stored in S3 Standard", e.p.S3StandardGBMonth, "GB-month", "buckets with intelligentTiering move cold objects to cheaper tiers")
}

func (e *estimator) containers() {
	e.idle("containers", "ECR repositories: billed per GB of images", float64(len(e.cfg.Containers.Repositories)), 0, "month")
	e.use("containers", "container images stored (pushed or cached from upstream)", e.p.ECRGBMonth, "GB-month", "")
}

func (e *estimator) registry() {
	p := e.p
	e.idle("registry", "KMS key of the indexer's queues", 1, p.KMSKeyMonth, "month")
	e.idle("registry", "CloudWatch alarm on dead letters", 1, p.AlarmMonth, "month")
	e.estimated("registry", "SQS requests, in millions: the indexer polling its empty queue", Assumed.SQSPollsMonth/1e6, p.SQSMillion, "M requests")
}

func (e *estimator) portal() {
	p, pc := e.p, &e.cfg.Portal
	e.idle("portal", "Secrets Manager secret (session keys)", 1, p.SecretMonth, "month")
	disk := float64(pc.Volume.DefaultGiB) * p.EBSgp3GBMonth / HoursPerMonth
	for _, name := range pc.PortalInstanceTypeNames() {
		price, ok := p.InstanceHour(name)
		if !ok {
			continue
		}
		e.use("portal", "machine "+name+" running", price+disk, "h", fmt.Sprintf("with the default %d GiB disk", pc.Volume.DefaultGiB))
	}
	e.use("portal", "a machine's disk, running or stopped", p.EBSgp3GBMonth, "GB-month", "gp3")
	e.use("portal", "a Cost Explorer request", p.CostExplorerRequest, "request",
		"a user's Costs page makes 3 (kept an hour); with a spending limit the guard makes 1 an hour while any machine runs")
	if pc.HubCosts.Enabled {
		// Athena bills at least 10 MB a query; a month of pod rows is a few MB.
		e.use("portal", "an admin's look at DaskHub costs (2 Athena queries)", 2*10*p.AthenaTB/1e6, "page view",
			"results reused for an hour; the billing export's files are S3 storage")
	}
}

func (e *estimator) daskhub() {
	p, d := e.p, &e.cfg.Daskhub
	e.idle("daskhub", "EKS control plane", 1, p.EKSClusterHour, "h")
	for _, name := range slices.Sorted(maps.Keys(d.NodeGroups)) {
		g := d.NodeGroups[name]
		n := float64(IdleNodes(g))
		if n == 0 {
			continue
		}
		price, _ := p.InstanceHour(g.InstanceTypes[0])
		what := fmt.Sprintf("node group %s: %s node", name, g.InstanceTypes[0])
		if g.Capacity == "spot" {
			what += " (spot, priced on demand)"
		}
		e.idle("daskhub", what, n, price, "h")
		e.idle("daskhub", fmt.Sprintf("node group %s: %d GiB gp3 root volume each", name, g.DiskSizeGib), n*float64(g.DiskSizeGib), p.EBSgp3GBMonth, "GB-month")
	}
	e.idle("daskhub", "hub database volume (gp3, made by Kubernetes)", Assumed.HubDatabaseGiB, p.EBSgp3GBMonth, "GB-month")
	if d.Domain.Name != "" {
		zones := float64(len(e.cfg.LoadBalancerZones()))
		e.idle("daskhub", "hub load balancer, Network (made by Kubernetes)", 1, p.NLBHour, "h")
		e.idle("daskhub", "public IPv4 address of the hub's load balancer, one per zone", zones, p.PublicIPv4Hour, "h")
		e.use("daskhub", "the hub's load balancer capacity units", p.NLBLCUHour, "LCU-h",
			"an LCU is 50 new TLS connections a second, 3,000 open ones or 1 GB an hour; an idle hub uses next to none")
	}
	e.idle("daskhub", "KMS key of Kubernetes secrets", 1, p.KMSKeyMonth, "month")
	var streams []stream
	for _, t := range d.ControlPlaneLogTypes {
		streams = append(streams, stream{"EKS " + t + " log", Assumed.ControlPlaneLogGBMonth[t]})
	}
	e.logs("daskhub", "EKS control-plane logs", streams, p.LogsIngestGB, d.LogRetentionDays)
	e.idle("daskhub", "EFS file system (homes, shared): billed per GB stored", 1, 0, "month")
	e.perUseDaskhub()
}

// IdleNodes is how many nodes a group keeps with nobody using it: the
// autoscaler takes it down to minSize, but not below the nodes it was made
// with while their pods have nowhere else to go (the core group's system
// pods), so the larger of minSize and desiredSize.
func IdleNodes(g config.NodeGroup) int {
	return max(g.MinSize, g.DesiredSize)
}

// nodeHour is what one node of g costs an hour with its root volume.
func (e *estimator) nodeHour(g config.NodeGroup) float64 {
	price, _ := e.p.InstanceHour(g.InstanceTypes[0])
	return price + float64(g.DiskSizeGib)*e.p.EBSgp3GBMonth/HoursPerMonth
}

// perNode is how many pods asking for cpu cores and memGiB fit on one node
// of g, leaving the share the system keeps.
func perNode(g config.NodeGroup, cpu, memGiB float64) int {
	it := g.GroupInstanceType()
	byCPU := math.Floor(it.AllocatableCPU() / cpu)
	byMem := math.Floor(it.AllocatableMemoryGiB() / memGiB)
	return max(1, int(math.Min(byCPU, byMem)))
}

func (e *estimator) perUseDaskhub() {
	p, d := e.p, &e.cfg.Daskhub
	for _, name := range values.ProfileNames(d) {
		pr := d.Profiles[name]
		g, ok := d.NodeGroups[pr.NodeGroup]
		if !ok {
			continue
		}
		node := e.nodeHour(g)
		n := perNode(g, pr.CPUGuarantee, pr.MemoryGuaranteeGib)
		if pr.GPUs > 0 {
			n = max(1, min(n, g.GroupInstanceType().GPUs/pr.GPUs))
		}
		note := fmt.Sprintf("%s node %s/h shared by up to %d; a lone server keeps the whole node", g.InstanceTypes[0], trim(node), n)
		if n == 1 {
			note = fmt.Sprintf("a whole %s node", g.InstanceTypes[0])
		}
		e.use("daskhub", fmt.Sprintf("notebook server %q", pr.DisplayName), node/float64(n), "h", note)
	}
	dk := &d.Dask
	if g, ok := d.NodeGroups[dk.WorkerNodeGroup]; ok {
		it := g.GroupInstanceType()
		node := e.nodeHour(g)
		note := fmt.Sprintf("%s node %s/h holds %d cores", g.InstanceTypes[0], trim(node), it.VCPU)
		if g.Capacity == "spot" {
			note += "; spot, usually 50-70% less"
		}
		e.use("daskhub", "Dask worker, per core (the default worker has 1 core and 4 GiB)", node/float64(it.VCPU), "h", note)
	}
	if g, ok := d.NodeGroups[dk.GPUWorkerNodeGroup]; ok && dk.GPUWorkerNodeGroup != "" {
		note := "one worker per " + g.InstanceTypes[0] + " node"
		if g.Capacity == "spot" {
			note += "; spot, usually 50-70% less"
		}
		e.use("daskhub", "Dask GPU worker", e.nodeHour(g), "h", note)
	}
	if g, ok := d.NodeGroups[dk.SchedulerNodeGroup]; ok {
		e.use("daskhub", "Dask scheduler (1 core, 4 GiB assumed)", e.nodeHour(g)/float64(perNode(g, 1, 4)), "h", "shares a "+g.InstanceTypes[0]+" node")
	}
	e.use("daskhub", "files in homes and shared (EFS Standard)", p.EFSStandardGBMonth, "GB-month",
		fmt.Sprintf("%s after %d days unread (Infrequent Access); backups add %s", trimGB(p.EFSInfrequentGBMonth), d.Storage.TransitionToIaDays, trimGB(p.EFSBackupGBMonth)))
}

func trim(usd float64) string   { return fmt.Sprintf("$%.4g", usd) }
func trimGB(usd float64) string { return fmt.Sprintf("$%.3g/GB-month", usd) }
