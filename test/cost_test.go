package test

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/heliocloud/heliocloud-go/config"
	"github.com/heliocloud/heliocloud-go/cost"
)

// freeWhenIdle are the resource types that cost nothing while nobody uses
// the instance, each with why. A type in a template that is neither here
// nor priced by templatePricer fails TestCostAgreesWithTemplates, so a new
// billable resource cannot reach the templates unpriced.
var freeWhenIdle = map[string]string{
	"AWS::EC2::VPC":                               "networks, subnets, routes and gateways to the internet are free",
	"AWS::EC2::Subnet":                            "free",
	"AWS::EC2::RouteTable":                        "free",
	"AWS::EC2::Route":                             "free",
	"AWS::EC2::SubnetRouteTableAssociation":       "free",
	"AWS::EC2::InternetGateway":                   "free; data out is per use",
	"AWS::EC2::VPCGatewayAttachment":              "free",
	"AWS::EC2::SecurityGroup":                     "free",
	"AWS::EC2::SecurityGroupIngress":              "free",
	"AWS::EC2::SecurityGroupEgress":               "free",
	"AWS::EC2::FlowLog":                           "priced through the log group it writes to",
	"AWS::EC2::LaunchTemplate":                    "priced through the node groups and instances that use it",
	"AWS::EC2::EIPAssociation":                    "priced through its EIP",
	"AWS::IAM::Role":                              "IAM is free",
	"AWS::IAM::Policy":                            "free",
	"AWS::IAM::ManagedPolicy":                     "free",
	"AWS::IAM::InstanceProfile":                   "free",
	"AWS::SSM::Parameter":                         "standard parameters are free",
	"AWS::Budgets::Budget":                        "budgets without actions are free",
	"AWS::Lambda::Function":                       "per request and duration; the scheduled runs (hourly, every five minutes) cost cents a month",
	"AWS::Lambda::Permission":                     "free",
	"AWS::Lambda::LayerVersion":                   "code storage within Lambda's free 75 GB",
	"AWS::Cognito::UserPool":                      "per monthly active user",
	"AWS::Cognito::UserPoolDomain":                "free",
	"AWS::Cognito::UserPoolGroup":                 "free",
	"AWS::Cognito::UserPoolUser":                  "counted as monthly active users when they sign in",
	"AWS::Cognito::UserPoolUserToGroupAttachment": "free",
	"AWS::Cognito::UserPoolIdentityProvider":      "federated users are counted when they sign in",
	"AWS::Cognito::UserPoolClient":                "free",
	"AWS::Cognito::IdentityPool":                  "free",
	"AWS::Cognito::IdentityPoolRoleAttachment":    "free",
	"AWS::Cognito::IdentityPoolPrincipalTag":      "free",
	"AWS::S3::Bucket":                             "per GB stored and per request",
	"AWS::S3::BucketPolicy":                       "free",
	"AWS::BCMDataExports::Export":                 "free; its files are billed as S3 storage",
	"AWS::Glue::Database":                         "the first million Data Catalog objects are free",
	"AWS::Glue::Table":                            "the first million Data Catalog objects are free",
	"AWS::Athena::WorkGroup":                      "per TB scanned by a query; none run while no admin opens the Costs page",
	"AWS::KMS::Alias":                             "free",
	"AWS::ECR::Repository":                        "per GB of images",
	"AWS::ECR::PullThroughCacheRule":              "cached images are per GB",
	"AWS::ECR::RegistryPolicy":                    "free",
	"AWS::EKS::Addon":                             "its pods run on the priced nodes",
	"AWS::EKS::AccessEntry":                       "free",
	"AWS::EKS::PodIdentityAssociation":            "free",
	"AWS::EFS::FileSystem":                        "per GB stored; empty when deployed",
	"AWS::EFS::MountTarget":                       "free",
	"AWS::EFS::AccessPoint":                       "free",
	"AWS::Route53::RecordSet":                     "records in an existing zone are free; queries per use",
	"AWS::ApiGatewayV2::Api":                      "per request",
	"AWS::ApiGatewayV2::ApiMapping":               "free",
	"AWS::ApiGatewayV2::DomainName":               "regional custom domains are free",
	"AWS::ApiGatewayV2::Integration":              "free",
	"AWS::ApiGatewayV2::Route":                    "free",
	"AWS::ApiGatewayV2::Stage":                    "free; its access log group is per use",
	"AWS::Events::Rule":                           "scheduled rules and AWS service events are free",
	"AWS::Scheduler::Schedule":                    "$1 a million invocations after 14 million free; an hourly schedule makes 730",
	"AWS::SQS::Queue":                             "per request; an event source's polling is priced on its mapping",
	"AWS::SQS::QueuePolicy":                       "free",
	"AWS::CDK::Metadata":                          "not a resource",
	"Custom::VpcRestrictDefaultSG":                "a Lambda run at deploy",
	"Custom::AWS":                                 "a Lambda run at deploy",
	"Custom::S3BucketNotifications":               "a Lambda run at deploy",
	"Custom::AWSCDK-EKS-KubernetesObjectValue":    "a Lambda run at deploy",
	"Custom::HeliocloudDaskhubCheck":              "a Lambda run at deploy",
	"Custom::HeliocloudDaskhubLoadBalancerSwitch": "a Lambda run at deploy",
}

// chartHubDatabaseGiB is the JupyterHub chart's own hub database volume
// unless values set hub.db: hub.db.type sqlite-pvc with pvc.storage 1Gi
// (jupyterhub/values.yaml@4.4.0 of jupyterhub/zero-to-jupyterhub-k8s), on
// the cluster's default storage class.
const chartHubDatabaseGiB = 1

// costCases are the instance files priced both ways: every shipped one and
// variants that turn on what the shipped ones leave off.
func costCases(t *testing.T) map[string]string {
	cases := map[string]string{}
	for _, name := range instanceNames(t) {
		cases[name] = filepath.Join(root(t), "instances", name+".yaml")
	}
	dir := t.TempDir()
	write := func(name, text string) {
		f := filepath.Join(dir, name+".yaml")
		if err := os.WriteFile(f, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		cases[name] = f
	}
	example, err := os.ReadFile(filepath.Join(root(t), "instances", "example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// example with DaskHub on, a domain for its load balancer in two zones, in GovCloud.
	hub := strings.Replace(string(example), "  enabled: false\n  endpoint:", "  enabled: true\n  domain: {name: heliocloud.example.org, certificateArn: \"arn:aws-us-gov:acm:us-gov-west-1:123456789012:certificate/0d1e2f3a-4b5c-6d7e-8f90-a1b2c3d4e5f6\"}\n  loadBalancer: {zones: 2}\n  endpoint:", 1)
	hub = strings.Replace(hub, "# region: us-east-1", "region: us-gov-west-1", 1)
	hub = strings.Replace(hub, "name: example", "name: govhub", 1)
	write("govhub", hub)
	// NAT instances, one per zone, in us-west-2; flow logs of refused traffic.
	write("natinst", "name: natinst\nregion: us-west-2\nbase:\n  vpc:\n    maxAzs: 3\n    nat: {type: instance, perAz: true, instanceType: t4g.micro}\n    flowLogTraffic: reject\n    flowLogRetentionDays: 7\n")
	return cases
}

// Each instance file's idle cost from cost.Estimate agrees within 15%
// with an independent sum over its synthesized templates, including what
// Kubernetes makes from the Helm values and manifests; and every resource
// type in the templates is priced or known to be free when idle.
func TestCostAgreesWithTemplates(t *testing.T) {
	cases := costCases(t)
	for _, name := range slices.Sorted(maps.Keys(cases)) {
		t.Run(name, func(t *testing.T) {
			cfg, err := config.Load(cases[name])
			if err != nil {
				t.Fatal(err)
			}
			outdir, stderr, err := synth(t, map[string]string{"config": cases[name]})
			if err != nil {
				t.Fatalf("synth: %v\n%s", err, stderr)
			}
			est := cost.Estimate(cfg)
			tp := priceTemplates(t, outdir)
			for _, u := range tp.unpriced {
				t.Errorf("%s is neither priced by the cross-check nor listed in freeWhenIdle: price it in cost.Estimate and here, or say why it is free", u)
			}
			got, want := est.Total(), tp.total()
			t.Logf("%s (%s prices): cost.Estimate %s, templates %s", name, tp.prices.Region, cost.Dollars(got), cost.Dollars(want))
			byComp := est.ByComponent()
			for _, comp := range slices.Sorted(maps.Keys(tp.byComponent)) {
				t.Logf("  %-10s estimate %9s  templates %9s", comp, cost.Dollars(byComp[comp]), cost.Dollars(tp.byComponent[comp]))
			}
			for _, l := range tp.lines {
				t.Logf("    %s", l)
			}
			if math.Abs(got-want) > 0.15*want {
				t.Errorf("cost.Estimate says %s a month idle, the templates %s: more than 15%% apart", cost.Dollars(got), cost.Dollars(want))
			}
			for comp, want := range tp.byComponent {
				if got := byComp[comp]; math.Abs(got-want) > max(0.15*want, 1) {
					t.Errorf("%s: cost.Estimate says %s, the templates %s", comp, cost.Dollars(got), cost.Dollars(want))
				}
			}
		})
	}
}

// The cross-check fails on a billable resource it does not know: a
// database in a template is reported, not silently left out.
func TestTemplatePricerRefusesUnknownTypes(t *testing.T) {
	dir := t.TempDir()
	tpl := `{"Resources": {"Db": {"Type": "AWS::RDS::DBInstance", "Properties": {"DBInstanceClass": "db.t4g.micro"}},
		"Key": {"Type": "AWS::KMS::Key", "Properties": {}}}}`
	manifest := `{"artifacts": {"x-Data": {"type": "aws:cloudformation:stack", "environment": "aws://111122223333/us-east-1"}}}`
	for file, text := range map[string]string{"x-Data.template.json": tpl, "manifest.json": manifest} {
		if err := os.WriteFile(filepath.Join(dir, file), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tp := priceTemplates(t, dir)
	if len(tp.unpriced) != 1 || !strings.Contains(tp.unpriced[0], "AWS::RDS::DBInstance") {
		t.Errorf("unpriced = %v, want the RDS instance", tp.unpriced)
	}
	if tp.total() != tp.prices.KMSKeyMonth {
		t.Errorf("total %v, want one KMS key", tp.total())
	}
}

// templatePricer sums what the resources of a synthesized app cost a month
// idle, reading only the templates and the manifest.
type templatePricer struct {
	prices cost.Prices
	// stacks are the templates' resources by stack name.
	stacks      map[string]map[string]any
	byComponent map[string]float64
	lines       []string
	unpriced    []string
}

func (tp *templatePricer) total() float64 {
	sum := 0.0
	for _, v := range tp.byComponent {
		sum += v
	}
	return sum
}

func (tp *templatePricer) add(stack, what string, monthly float64) {
	comp := strings.ToLower(stack[strings.LastIndex(stack, "-")+1:])
	tp.byComponent[comp] += monthly
	tp.lines = append(tp.lines, fmt.Sprintf("%-10s %-70s %s", comp, what, cost.Dollars(monthly)))
}

func priceTemplates(t *testing.T, outdir string) *templatePricer {
	t.Helper()
	tp := &templatePricer{stacks: map[string]map[string]any{}, byComponent: map[string]float64{}}
	tp.prices, _ = cost.PriceTable(manifestRegion(t, outdir))
	for stack, tpl := range templates(t, outdir) {
		tp.stacks[stack], _ = tpl["Resources"].(map[string]any)
	}
	for _, stack := range slices.Sorted(maps.Keys(tp.stacks)) {
		res := tp.stacks[stack]
		for _, id := range slices.Sorted(maps.Keys(res)) {
			r := res[id].(map[string]any)
			typ := r["Type"].(string)
			props, _ := r["Properties"].(map[string]any)
			if price, ok := resourcePrices[typ]; ok {
				if !price(tp, stack, id, props) {
					tp.unpriced = append(tp.unpriced, fmt.Sprintf("%s/%s (%s, in a form the cross-check does not know)", stack, id, typ))
				}
				continue
			}
			if _, ok := freeWhenIdle[typ]; !ok {
				tp.unpriced = append(tp.unpriced, fmt.Sprintf("%s/%s (%s)", stack, id, typ))
			}
		}
	}
	return tp
}

// manifestRegion is the region of the app's stacks ("" when they are
// environment-agnostic).
func manifestRegion(t *testing.T, outdir string) string {
	var m struct {
		Artifacts map[string]struct {
			Type        string `json:"type"`
			Environment string `json:"environment"`
		} `json:"artifacts"`
	}
	readJSON(t, filepath.Join(outdir, "manifest.json"), &m)
	for _, a := range m.Artifacts {
		if a.Type == "aws:cloudformation:stack" {
			region := a.Environment[strings.LastIndex(a.Environment, "/")+1:]
			if region != "unknown-region" {
				return region
			}
		}
	}
	return ""
}

// resourcePrices price the billable types; each returns false for a form it
// cannot read (which fails the test rather than guessing).
var resourcePrices = map[string]func(tp *templatePricer, stack, id string, props map[string]any) bool{
	"AWS::EC2::NatGateway": func(tp *templatePricer, stack, id string, _ map[string]any) bool {
		tp.add(stack, "NAT gateway "+id, tp.prices.NATGatewayHour*cost.HoursPerMonth)
		return true
	},
	"AWS::EC2::EIP": func(tp *templatePricer, stack, id string, _ map[string]any) bool {
		tp.add(stack, "Elastic IP "+id, tp.prices.PublicIPv4Hour*cost.HoursPerMonth)
		return true
	},
	"AWS::EC2::VPCEndpoint": func(tp *templatePricer, stack, id string, props map[string]any) bool {
		if props["VpcEndpointType"] == nil || props["VpcEndpointType"] == "Gateway" {
			return true // gateway endpoints are free
		}
		subnets, ok := props["SubnetIds"].([]any)
		if !ok {
			return false
		}
		tp.add(stack, fmt.Sprintf("interface endpoint %s in %d zones", id, len(subnets)), float64(len(subnets))*tp.prices.InterfaceEndpointAZHour*cost.HoursPerMonth)
		return true
	},
	"AWS::KMS::Key": func(tp *templatePricer, stack, id string, _ map[string]any) bool {
		tp.add(stack, "KMS key "+id, tp.prices.KMSKeyMonth)
		return true
	},
	"AWS::SecretsManager::Secret": func(tp *templatePricer, stack, id string, _ map[string]any) bool {
		tp.add(stack, "secret "+id, tp.prices.SecretMonth)
		return true
	},
	"AWS::CloudWatch::Alarm": func(tp *templatePricer, stack, id string, _ map[string]any) bool {
		tp.add(stack, "alarm "+id, tp.prices.AlarmMonth)
		return true
	},
	"AWS::Lambda::EventSourceMapping": func(tp *templatePricer, stack, id string, props map[string]any) bool {
		src, ok := tp.resolve(stack, props["EventSourceArn"])
		if !ok || src["Type"] != "AWS::SQS::Queue" {
			return false
		}
		tp.add(stack, "SQS polls of "+id, cost.Assumed.SQSPollsMonth/1e6*tp.prices.SQSMillion)
		return true
	},
	"AWS::EKS::Cluster": func(tp *templatePricer, stack, id string, _ map[string]any) bool {
		tp.add(stack, "EKS cluster "+id, tp.prices.EKSClusterHour*cost.HoursPerMonth)
		return true
	},
	"AWS::EKS::Nodegroup":                       (*templatePricer).nodegroup,
	"AWS::Logs::LogGroup":                       (*templatePricer).logGroup,
	"AWS::ElasticLoadBalancing::LoadBalancer":   (*templatePricer).classicLB,
	"AWS::ElasticLoadBalancingV2::LoadBalancer": (*templatePricer).elbv2,
	"AWS::EC2::Instance":                        (*templatePricer).instance,
	"Custom::AWSCDK-EKS-HelmChart":              (*templatePricer).helmChart,
	"Custom::AWSCDK-EKS-KubernetesResource":     (*templatePricer).manifest,
}

// resolve follows a Ref or Fn::GetAtt to a resource of the same stack.
func (tp *templatePricer) resolve(stack string, v any) (map[string]any, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, false
	}
	var id string
	switch {
	case m["Ref"] != nil:
		id, _ = m["Ref"].(string)
	case m["Fn::GetAtt"] != nil:
		if a, ok := m["Fn::GetAtt"].([]any); ok && len(a) > 0 {
			id, _ = a[0].(string)
		}
	}
	r, ok := tp.stacks[stack][id].(map[string]any)
	return r, ok
}

func props(r map[string]any) map[string]any {
	p, _ := r["Properties"].(map[string]any)
	return p
}

func num(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case string:
		f, err := strconv.ParseFloat(x, 64)
		return f, err == nil
	}
	return 0, false
}

// gp3 of a launch template's or instance's block device mappings, in GB.
func volumesGB(mappings any) (float64, bool) {
	list, _ := mappings.([]any)
	total := 0.0
	for _, m := range list {
		ebs, _ := m.(map[string]any)["Ebs"].(map[string]any)
		size, ok := num(ebs["VolumeSize"])
		if !ok {
			return 0, false
		}
		total += size
	}
	return total, len(list) > 0
}

func (tp *templatePricer) nodegroup(stack, id string, p map[string]any) bool {
	sc, _ := p["ScalingConfig"].(map[string]any)
	minSize, ok1 := num(sc["MinSize"])
	desired, ok2 := num(sc["DesiredSize"])
	types, _ := p["InstanceTypes"].([]any)
	if !ok1 || !ok2 || len(types) == 0 {
		return false
	}
	n := math.Max(minSize, desired)
	if n == 0 {
		return true
	}
	price, ok := tp.prices.InstanceHour(types[0].(string))
	lt, _ := p["LaunchTemplate"].(map[string]any)
	tmpl, okLT := tp.resolve(stack, lt["Id"])
	if !ok || !okLT {
		return false
	}
	data, _ := props(tmpl)["LaunchTemplateData"].(map[string]any)
	disk, ok := volumesGB(data["BlockDeviceMappings"])
	if !ok {
		return false
	}
	tp.add(stack, fmt.Sprintf("%g x %s nodes of %s with %g GB", n, types[0], id, disk), n*(price*cost.HoursPerMonth+disk*tp.prices.EBSgp3GBMonth))
	return true
}

// logGroup prices what is written to a log group while idle: flow logs
// when a flow log writes to it, the enabled control-plane log types when
// it is an EKS cluster's; other groups (functions' and the API's) receive
// entries only when used.
func (tp *templatePricer) logGroup(stack, id string, p map[string]any) bool {
	days, ok := num(p["RetentionInDays"])
	if !ok {
		return false // a group that never expires would grow without end
	}
	gb, ingest := 0.0, tp.prices.LogsIngestGB
	for s, res := range tp.stacks {
		for _, r := range res {
			r := r.(map[string]any)
			rp := props(r)
			switch r["Type"] {
			case "AWS::EC2::FlowLog":
				if s == stack && refID(rp["LogGroupName"]) == id {
					switch rp["TrafficType"] {
					case "ALL":
						gb += cost.Assumed.FlowLogsGBMonth
					case "REJECT":
						gb += cost.Assumed.FlowLogsRejectGBMonth
					default:
						return false
					}
					ingest = tp.prices.VendedLogsGB
				}
			case "AWS::EKS::Cluster":
				if name, _ := rp["Name"].(string); name != "" && p["LogGroupName"] == "/aws/eks/"+name+"/cluster" {
					logging, _ := rp["Logging"].(map[string]any)
					cl, _ := logging["ClusterLogging"].(map[string]any)
					types, _ := cl["EnabledTypes"].([]any)
					for _, ty := range types {
						gb += cost.Assumed.ControlPlaneLogGBMonth[ty.(map[string]any)["Type"].(string)]
					}
				}
			}
		}
	}
	if gb == 0 {
		return true
	}
	stored := gb * days / (cost.HoursPerMonth / 24.0) * cost.Assumed.StoredPerIngested
	tp.add(stack, fmt.Sprintf("log group %s: %g GB a month, kept %g days", id, gb, days), gb*ingest+stored*tp.prices.LogsStorageGBMonth)
	return true
}

// refID is the logical id a {"Ref": id} names, or "".
func refID(v any) string {
	m, _ := v.(map[string]any)
	id, _ := m["Ref"].(string)
	return id
}

// publicZones is how many zones have a public subnet: those a Kubernetes
// load balancer without a subnets annotation spans.
func (tp *templatePricer) publicZones() int {
	n := 0
	for stack, res := range tp.stacks {
		if !strings.HasSuffix(stack, "-Base") {
			continue
		}
		for _, r := range res {
			r := r.(map[string]any)
			if r["Type"] == "AWS::EC2::Subnet" && props(r)["MapPublicIpOnLaunch"] == true {
				n++
			}
		}
	}
	return n
}

func (tp *templatePricer) classicLB(stack, id string, p map[string]any) bool {
	subnets, _ := p["Subnets"].([]any)
	ips := float64(len(subnets))
	if p["Scheme"] == "internal" {
		ips = 0
	}
	tp.add(stack, "Classic load balancer "+id, (tp.prices.CLBHour+ips*tp.prices.PublicIPv4Hour)*cost.HoursPerMonth)
	return true
}

func (tp *templatePricer) elbv2(stack, id string, p map[string]any) bool {
	zones := 0
	if s, ok := p["Subnets"].([]any); ok {
		zones = len(s)
	} else if s, ok := p["SubnetMappings"].([]any); ok {
		zones = len(s)
	}
	if zones == 0 {
		return false
	}
	hour := tp.prices.ALBHour
	if p["Type"] == "network" {
		hour = tp.prices.NLBHour
	}
	ips := float64(zones)
	if p["Scheme"] == "internal" {
		ips = 0
	}
	tp.add(stack, fmt.Sprintf("%v load balancer %s in %d zones", p["Type"], id, zones), (hour+ips*tp.prices.PublicIPv4Hour)*cost.HoursPerMonth)
	return true
}

// instance prices an EC2 instance (a NAT instance): its type, its volumes
// (the image's 8 GB root when none is given) and a public IPv4 address when
// its subnet gives one.
func (tp *templatePricer) instance(stack, id string, p map[string]any) bool {
	typ, _ := p["InstanceType"].(string)
	price, ok := tp.prices.InstanceHour(typ)
	if !ok {
		return false
	}
	disk, ok := volumesGB(p["BlockDeviceMappings"])
	if !ok {
		disk = 8
	}
	monthly := price*cost.HoursPerMonth + disk*tp.prices.EBSgp3GBMonth
	// An Elastic IP associated with the instance replaces the address EC2
	// gave it at launch, and is priced as an EIP.
	if subnet, ok := tp.resolve(stack, p["SubnetId"]); ok && props(subnet)["MapPublicIpOnLaunch"] == true && !tp.hasElasticIP(stack, id) {
		monthly += tp.prices.PublicIPv4Hour * cost.HoursPerMonth
	}
	tp.add(stack, fmt.Sprintf("instance %s (%s, %g GB)", id, typ, disk), monthly)
	return true
}

// hasElasticIP tells whether an Elastic IP of the stack names instance id.
func (tp *templatePricer) hasElasticIP(stack, id string) bool {
	for _, r := range tp.stacks[stack] {
		r, _ := r.(map[string]any)
		if r["Type"] == "AWS::EC2::EIP" && refID(props(r)["InstanceId"]) == id {
			return true
		}
	}
	return false
}

// flatten turns a template value holding JSON text (a string, or an
// Fn::Join of strings and tokens) into that text, each token replaced by a
// placeholder string; tokens only ever stand inside JSON strings here.
func flatten(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case map[string]any:
		join, ok := x["Fn::Join"].([]any)
		if !ok || len(join) != 2 {
			return "", false
		}
		parts, _ := join[1].([]any)
		var b strings.Builder
		for _, part := range parts {
			if s, ok := part.(string); ok {
				b.WriteString(s)
			} else {
				b.WriteString("TOKEN")
			}
		}
		return b.String(), true
	}
	return "", false
}

// helmChart prices what a chart's values make Kubernetes create: load
// balancer Services and, for the JupyterHub chart, the hub's database
// volume.
func (tp *templatePricer) helmChart(stack, id string, p map[string]any) bool {
	text, ok := flatten(p["Values"])
	if !ok {
		return p["Values"] == nil
	}
	var vals map[string]any
	if err := json.Unmarshal([]byte(text), &vals); err != nil {
		return false
	}
	walk(vals, func(m map[string]any) {
		if svc, ok := m["service"].(map[string]any); ok && svc["type"] == "LoadBalancer" {
			ann, _ := svc["annotations"].(map[string]any)
			tp.kubernetesLB(stack, id+" service", ann)
		}
	})
	if p["Chart"] == "jupyterhub" {
		hub, _ := vals["hub"].(map[string]any)
		db, _ := hub["db"].(map[string]any)
		if t, _ := db["type"].(string); t == "" || t == "sqlite-pvc" {
			gib := float64(chartHubDatabaseGiB)
			if pvc, ok := db["pvc"].(map[string]any); ok && pvc["storage"] != nil {
				q, ok := pvc["storage"].(string)
				if !ok || !strings.HasSuffix(q, "Gi") {
					return false
				}
				gib, _ = strconv.ParseFloat(strings.TrimSuffix(q, "Gi"), 64)
			}
			tp.add(stack, fmt.Sprintf("hub database volume of %s, %g GiB", id, gib), gib*tp.prices.EBSgp3GBMonth)
		}
	}
	return true
}

// manifest prices the objects of a manifest that make billable resources:
// Services of type LoadBalancer. A claim on a storage class would make a
// volume whose class the cross-check cannot price: it is refused (claims
// on a static volume, class "", make nothing).
func (tp *templatePricer) manifest(stack, id string, p map[string]any) bool {
	text, ok := flatten(p["Manifest"])
	if !ok {
		return false
	}
	var objects []map[string]any
	if err := json.Unmarshal([]byte(text), &objects); err != nil {
		return false
	}
	for _, o := range objects {
		spec, _ := o["spec"].(map[string]any)
		meta, _ := o["metadata"].(map[string]any)
		switch o["kind"] {
		case "Service":
			if spec["type"] == "LoadBalancer" {
				ann, _ := meta["annotations"].(map[string]any)
				tp.kubernetesLB(stack, fmt.Sprintf("%s service %v", id, meta["name"]), ann)
			}
		case "PersistentVolumeClaim":
			if class, ok := spec["storageClassName"].(string); !ok || class != "" {
				return false
			}
		}
	}
	return true
}

// kubernetesLB prices a load balancer the AWS cloud provider makes for a
// Service: Classic unless annotated nlb, in every zone with a public
// subnet (findELBSubnets, pkg/providers/v1/aws.go@v1.35.2 of
// kubernetes/cloud-provider-aws, takes one per zone) unless subnets are
// annotated, with a public IPv4 address per zone unless internal.
func (tp *templatePricer) kubernetesLB(stack, what string, ann map[string]any) {
	const pre = "service.beta.kubernetes.io/aws-load-balancer-"
	zones := tp.publicZones()
	if s, ok := ann[pre+"subnets"].(string); ok {
		zones = len(strings.Split(s, ","))
	}
	hour, kind := tp.prices.CLBHour, "Classic"
	if t := ann[pre+"type"]; t == "nlb" || t == "external" {
		hour, kind = tp.prices.NLBHour, "Network"
	}
	ips := float64(zones)
	if ann[pre+"internal"] == "true" || ann[pre+"scheme"] == "internal" {
		ips = 0
	}
	tp.add(stack, fmt.Sprintf("%s load balancer for %s in %d zones", kind, what, zones), (hour+ips*tp.prices.PublicIPv4Hour)*cost.HoursPerMonth)
}

// walk calls f on every mapping in v.
func walk(v any, f func(map[string]any)) {
	switch x := v.(type) {
	case map[string]any:
		f(x)
		for _, k := range slices.Sorted(maps.Keys(x)) {
			walk(x[k], f)
		}
	case []any:
		for _, e := range x {
			walk(e, f)
		}
	}
}
