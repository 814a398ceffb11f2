package checks

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/heliocloud/heliocloud-go/config"
	"github.com/heliocloud/heliocloud-go/portal"
)

// loadInstance loads one of the repository's instance files: real,
// validated configurations with the deployer's defaults.
func loadInstance(t *testing.T, name string) *config.Config {
	t.Helper()
	cfg, err := config.Load("../instances/" + name + ".yaml")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// runNamed runs the check called name from list and returns its result.
func runNamed(t *testing.T, list []Check, name string) Result {
	t.Helper()
	for _, c := range list {
		if c.Name == name {
			return Run(context.Background(), []Check{c}, 5*time.Second)[0]
		}
	}
	var names []string
	for _, c := range list {
		names = append(names, c.Name)
	}
	t.Fatalf("no check %q among %s", name, strings.Join(names, ", "))
	return Result{}
}

func wantResult(t *testing.T, r Result, status Status, parts ...string) {
	t.Helper()
	if r.Status != status {
		t.Errorf("%s: status %s, want %s (%s)", r.Name, r.Status, status, r.Reason)
	}
	for _, p := range parts {
		if !strings.Contains(r.Reason, p) {
			t.Errorf("%s: reason %q lacks %q", r.Name, r.Reason, p)
		}
	}
}

const (
	gsfcAccount  = "111122223333"
	partnerID    = "360012345678"
	gsfcZone     = "Z04512341ABCDEFGHIJKL"
	gsfcPortalCA = "arn:aws:acm:us-east-1:111122223333:certificate/5c1e0a57-8f1d-4d6b-9a43-2f0c6e7d9b12"
)

const callerIdentityXML = `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>` +
	`<Arn>arn:aws:iam::111122223333:role/HelioCloudPlatformAdmins</Arn><UserId>AROAFAKE</UserId><Account>111122223333</Account>` +
	`</GetCallerIdentityResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></GetCallerIdentityResponse>`

func zoneXML(name string, private bool) string {
	p := "false"
	if private {
		p = "true"
	}
	return `<GetHostedZoneResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><HostedZone><Id>/hostedzone/` + gsfcZone + `</Id>` +
		`<Name>` + name + `</Name><CallerReference>c</CallerReference><Config><PrivateZone>` + p + `</PrivateZone></Config>` +
		`<ResourceRecordSetCount>4</ResourceRecordSetCount></HostedZone></GetHostedZoneResponse>`
}

// healthyAccount answers as an account ready for gsfc.
func healthyAccount(f *fakeAWS) {
	f.answer("sts:GetCallerIdentity", reply{Body: callerIdentityXML})
	f.answer("ssm:GetParameter", jsonReply(map[string]any{"Parameter": map[string]any{"Name": BootstrapVersionParameter, "Value": "30", "Type": "String"}}))
	f.answer("ses:GET /v2/email/account", jsonReply(map[string]any{"ProductionAccessEnabled": true, "SendingEnabled": true}))
	f.answer("ses:GET /v2/email/identities/heliocloud.example.gov", jsonReply(map[string]any{"VerifiedForSendingStatus": true, "VerificationStatus": "SUCCESS"}))
	f.answer("ce:GetCostAndUsage", jsonReply(map[string]any{"ResultsByTime": []any{}}))
	f.on("ce:ListCostAllocationTags", func(c call) reply {
		var tags []any
		for _, k := range c.JSON["TagKeys"].([]any) {
			tags = append(tags, map[string]any{"TagKey": k, "Type": "UserDefined", "Status": "Active"})
		}
		return jsonReply(map[string]any{"CostAllocationTags": tags})
	})
	f.answer("servicequotas:GetServiceQuota", jsonReply(map[string]any{"Quota": map[string]any{"Value": 5000.0}}))
	f.answer("acm:DescribeCertificate", jsonReply(map[string]any{"Certificate": map[string]any{
		"CertificateArn": gsfcPortalCA, "DomainName": "*.heliocloud.example.gov", "Status": "ISSUED",
		"SubjectAlternativeNames": []string{"*.heliocloud.example.gov", "heliocloud.example.gov"},
		"NotAfter":                float64(time.Now().Add(200 * 24 * time.Hour).Unix()),
	}}))
	f.answer("route53:GET /2013-04-01/hostedzone/"+gsfcZone, reply{Body: zoneXML("heliocloud.example.gov.", false)})
	f.answer("organizations:DescribeAccount", jsonReply(map[string]any{"Account": map[string]any{"Id": partnerID, "Name": "Partner HelioCloud", "State": "ACTIVE"}}))
}

// gsfcWithPartner is gsfc with its documentation-example partner account
// replaced by a real-looking one.
func gsfcWithPartner(t *testing.T) *config.Config {
	cfg := loadInstance(t, "gsfc")
	ds := cfg.Data.Datasets["mms"]
	ds.ReaderAccounts = []string{partnerID}
	cfg.Data.Datasets["mms"] = ds
	cfg.Containers.PullAccounts = []string{partnerID}
	return cfg
}

func TestPreflightHealthyAccount(t *testing.T) {
	f := newFakeAWS(t)
	healthyAccount(f)
	cfg := gsfcWithPartner(t)
	results := Run(context.Background(), Preflight(cfg, f.env()), 5*time.Second)
	for _, r := range results {
		if r.Status == Fail || r.Status == Warn {
			t.Errorf("%s %s: %s", r.Status, r.Name, r.Reason)
		}
	}
	// What each fake received: the operation, its region and key parameters.
	if c := f.only("ssm:GetParameter"); c.JSON["Name"] != BootstrapVersionParameter || c.Region != "us-east-1" {
		t.Errorf("bootstrap asked for %v in %s", c.JSON["Name"], c.Region)
	}
	if c := f.only("ses:GET /v2/email/account"); c.Region != "us-east-1" {
		t.Errorf("SES asked in %s, want the instance's region", c.Region)
	}
	if c := f.only("ce:GetCostAndUsage"); c.Region != "us-east-1" || c.JSON["Granularity"] != "DAILY" {
		t.Errorf("Cost Explorer asked in %s with %v", c.Region, c.JSON)
	}
	keys := f.only("ce:ListCostAllocationTags").JSON["TagKeys"]
	for _, want := range []string{"heliocloud:instance", "heliocloud:owner", "cost-center", "project", "owner"} {
		if !strings.Contains(strings.Join(toStrings(keys), ","), want) {
			t.Errorf("cost allocation tags asked %v, lacking %s", keys, want)
		}
	}
	var codes []string
	for _, c := range f.calledWith("servicequotas:GetServiceQuota") {
		if c.JSON["ServiceCode"] != "ec2" || c.Region != "us-east-1" {
			t.Errorf("quota asked for %v in %s", c.JSON, c.Region)
		}
		codes = append(codes, c.JSON["QuotaCode"].(string))
	}
	// gsfc has on-demand and spot groups of standard and GPU types.
	for _, want := range []string{"L-1216C47A", "L-DB2E81BA", "L-34B43A08", "L-3819A6DF"} {
		if !strings.Contains(strings.Join(codes, ","), want) {
			t.Errorf("quotas asked %v, lacking %s", codes, want)
		}
	}
	for _, c := range f.calledWith("acm:DescribeCertificate") {
		if c.JSON["CertificateArn"] != gsfcPortalCA || c.Region != "us-east-1" {
			t.Errorf("certificate asked %v in %s", c.JSON["CertificateArn"], c.Region)
		}
	}
	if n := len(f.calledWith("acm:DescribeCertificate")); n != 2 {
		t.Errorf("asked for %d certificates, want the portal's and the hub's", n)
	}
	if c := f.calledWith("organizations:DescribeAccount"); len(c) != 1 || c[0].JSON["AccountId"] != partnerID {
		t.Errorf("organizations asked %v, want %s once", c, partnerID)
	}
}

func toStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

func TestPreflightCredentials(t *testing.T) {
	f := newFakeAWS(t)
	f.answer("sts:GetCallerIdentity", reply{Body: strings.ReplaceAll(callerIdentityXML, gsfcAccount, "999988887777")})
	r := runNamed(t, Preflight(loadInstance(t, "gsfc"), f.env()), "credentials")
	wantResult(t, r, Fail, "999988887777", gsfcAccount, "AWS_PROFILE")
	if c := f.only("sts:GetCallerIdentity"); c.Region != "us-east-1" {
		t.Errorf("STS asked in %s", c.Region)
	}
}

func TestPreflightBootstrap(t *testing.T) {
	for _, tc := range []struct {
		name  string
		reply reply
		want  []string
	}{
		{"missing", jsonError(400, "ParameterNotFound"), []string{"not bootstrapped", "npx cdk bootstrap aws://111122223333/us-east-1"}},
		{"old", jsonReply(map[string]any{"Parameter": map[string]any{"Value": "5"}}), []string{"version 5 is older than the 6", "npx cdk bootstrap"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeAWS(t)
			f.answer("ssm:GetParameter", tc.reply)
			wantResult(t, runNamed(t, Preflight(loadInstance(t, "gsfc"), f.env()), "cdk bootstrap"), Fail, tc.want...)
		})
	}
}

// An instance outside us-east-1 with portal.hubCosts has its export in a
// stack there, which the CDK must be bootstrapped to deploy.
func TestPreflightBootstrapForTheHubCostsExport(t *testing.T) {
	cfg := loadInstance(t, "gsfc")
	if len(Preflight(cfg, newFakeAWS(t).env())) == 0 {
		t.Fatal("no checks")
	}
	for _, c := range Preflight(cfg, newFakeAWS(t).env()) {
		if strings.HasPrefix(c.Name, "cdk bootstrap ") {
			t.Errorf("gsfc runs in us-east-1 yet gets check %q", c.Name)
		}
	}
	cfg.Region = "us-west-2"
	f := newFakeAWS(t)
	f.on("ssm:GetParameter", func(c call) reply {
		if c.Region == "us-east-1" {
			return jsonError(400, "ParameterNotFound")
		}
		return jsonReply(map[string]any{"Parameter": map[string]any{"Value": "30"}})
	})
	wantResult(t, runNamed(t, Preflight(cfg, f.env()), "cdk bootstrap us-east-1"), Fail, "not bootstrapped for the CDK in us-east-1", "npx cdk bootstrap aws://111122223333/us-east-1")
	wantResult(t, runNamed(t, Preflight(cfg, f.env()), "cdk bootstrap"), OK, "version 30 in us-west-2")
}

func TestPreflightSES(t *testing.T) {
	f := newFakeAWS(t)
	f.answer("ses:GET /v2/email/account", jsonReply(map[string]any{"ProductionAccessEnabled": false, "SendingEnabled": true}))
	f.answer("ses:GET /v2/email/identities/heliocloud.example.gov", jsonError(404, "NotFoundException"))
	f.answer("ses:GET /v2/email/identities/no-reply@heliocloud.example.gov", jsonError(404, "NotFoundException"))
	checks := Preflight(loadInstance(t, "gsfc"), f.env())
	wantResult(t, runNamed(t, checks, "ses production access"), Fail, "sandbox in us-east-1", "2 admins", "Request production access")
	wantResult(t, runNamed(t, checks, "ses sender identity"), Fail, "heliocloud.example.gov", "create-email-identity")

	// With Cognito's own sender, SES is not asked at all.
	cfg := loadInstance(t, "gsfc")
	cfg.Auth.Email.Sender = "cognito"
	f2 := newFakeAWS(t)
	wantResult(t, runNamed(t, Preflight(cfg, f2.env()), "ses production access"), Skip, "cognito")
}

func TestPreflightCostExplorer(t *testing.T) {
	f := newFakeAWS(t)
	f.answer("ce:GetCostAndUsage", jsonError(400, "DataUnavailableException"))
	wantResult(t, runNamed(t, Preflight(loadInstance(t, "gsfc"), f.env()), "cost explorer"), Fail, "Cost Explorer is not enabled", "enable it")
}

func TestPreflightCostTags(t *testing.T) {
	f := newFakeAWS(t)
	f.answer("ce:ListCostAllocationTags", jsonReply(map[string]any{"CostAllocationTags": []any{
		map[string]any{"TagKey": "heliocloud:instance", "Type": "UserDefined", "Status": "Inactive"},
		map[string]any{"TagKey": "heliocloud:owner", "Type": "UserDefined", "Status": "Active"},
	}}))
	r := runNamed(t, Preflight(loadInstance(t, "gsfc"), f.env()), "cost allocation tags")
	wantResult(t, r, Fail, "heliocloud:instance is inactive", "TagKey=heliocloud:instance,Status=Active", "cost-center is not known to Billing yet",
		// gsfc shows DaskHub's costs, which group by the pods' labels.
		"heliocloud.org/user is not known to Billing yet", "heliocloud.org/team is not known", "split cost allocation data must be on in the payer account")
	if c := f.only("ce:ListCostAllocationTags"); c.JSON["Type"] != "UserDefined" || c.Region != "us-east-1" {
		t.Errorf("asked %v in %s", c.JSON, c.Region)
	}

	// Tags Billing has not seen yet cannot be activated before the deploy: a warning.
	f2 := newFakeAWS(t)
	f2.answer("ce:ListCostAllocationTags", jsonReply(map[string]any{"CostAllocationTags": []any{}}))
	wantResult(t, runNamed(t, Preflight(loadInstance(t, "gsfc"), f2.env()), "cost allocation tags"), Warn, "heliocloud:instance is not known to Billing yet")
}

func TestVCPUNeeds(t *testing.T) {
	cfg := &config.Config{}
	cfg.Daskhub.Enabled = true
	cfg.Daskhub.NodeGroups = map[string]config.NodeGroup{
		"core":   {InstanceTypes: []string{"m7i.xlarge"}, Capacity: "onDemand", MaxSize: 3},
		"gpu":    {InstanceTypes: []string{"g5.xlarge", "g5.2xlarge"}, Capacity: "spot", MaxSize: 2},
		"unused": {InstanceTypes: []string{"m7i.8xlarge"}, Capacity: "onDemand", MaxSize: 0},
	}
	cfg.Portal.Enabled = true
	cfg.Portal.Limits.RunningMachines = 3
	cfg.Portal.InstanceTypes = map[string]config.PortalInstanceType{"m7i.large": {}, "m7i.2xlarge": {}, "g4dn.xlarge": {}}
	needs := vcpuNeeds(cfg)
	got := map[string]int{}
	for k, n := range needs {
		got[k] = n.VCPUs
	}
	// core 3 x 4 + one portal user 3 x 8; gpu 2 x 8 (the largest type); portal 3 x 4 GPU.
	want := map[string]int{"onDemand/standard": 12 + 24, "spot/g": 16, "onDemand/g": 12}
	if len(got) != len(want) {
		t.Errorf("needs %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %d vCPUs, want %d", k, got[k], v)
		}
	}
}

func TestPreflightQuota(t *testing.T) {
	f := newFakeAWS(t)
	f.on("servicequotas:GetServiceQuota", func(c call) reply {
		if c.JSON["QuotaCode"] == "L-DB2E81BA" {
			return jsonError(400, "NoSuchResourceException")
		}
		return jsonReply(map[string]any{"Quota": map[string]any{"Value": 16.0}})
	})
	f.answer("servicequotas:GetAWSDefaultServiceQuota", jsonReply(map[string]any{"Quota": map[string]any{"Value": 0.0}}))
	cfg := loadInstance(t, "gsfc")
	checks := Preflight(cfg, f.env())
	needs := vcpuNeeds(cfg)
	r := runNamed(t, checks, "vcpu quota onDemand/standard")
	wantResult(t, r, Fail, "is 16 in us-east-1", "--quota-code L-1216C47A", "node group user")
	if !strings.Contains(r.Reason, "--desired-value "+strconv.Itoa(needs["onDemand/standard"].VCPUs)) {
		t.Errorf("reason %q does not ask for the %d vCPUs needed", r.Reason, needs["onDemand/standard"].VCPUs)
	}
	wantResult(t, runNamed(t, checks, "vcpu quota onDemand/g"), Fail, "is 0", "L-DB2E81BA")
	if c := f.only("servicequotas:GetAWSDefaultServiceQuota"); c.JSON["QuotaCode"] != "L-DB2E81BA" {
		t.Errorf("default quota asked for %v", c.JSON)
	}
}

func TestPreflightCertificates(t *testing.T) {
	for _, tc := range []struct {
		name string
		cert map[string]any
		want []string
	}{
		{"pending", map[string]any{"DomainName": "*.heliocloud.example.gov", "Status": "PENDING_VALIDATION"}, []string{"PENDING_VALIDATION", "validation records"}},
		{"other name", map[string]any{"DomainName": "www.example.org", "Status": "ISSUED"}, []string{"is for www.example.org, not portal.heliocloud.example.gov"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeAWS(t)
			f.answer("acm:DescribeCertificate", jsonReply(map[string]any{"Certificate": tc.cert}))
			wantResult(t, runNamed(t, Preflight(loadInstance(t, "gsfc"), f.env()), "certificate portal.domain"), Fail, tc.want...)
		})
	}
	t.Run("missing", func(t *testing.T) {
		f := newFakeAWS(t)
		f.answer("acm:DescribeCertificate", jsonError(400, "ResourceNotFoundException"))
		wantResult(t, runNamed(t, Preflight(loadInstance(t, "gsfc"), f.env()), "certificate daskhub.domain"), Fail, "no such certificate in us-east-1", "request-certificate", "daskhub.heliocloud.example.gov")
	})
	t.Run("wrong region", func(t *testing.T) {
		// The hub's load balancer is regional: a us-east-1 certificate does not serve a us-west-2 hub.
		f := newFakeAWS(t)
		cfg := loadInstance(t, "gsfc")
		cfg.Region = "us-west-2"
		wantResult(t, runNamed(t, Preflight(cfg, f.env()), "certificate daskhub.domain"), Fail, "is in us-east-1 but must be in us-west-2")
		if n := len(f.calledWith("acm:DescribeCertificate")); n != 0 {
			t.Errorf("asked ACM %d times for a certificate in the wrong region", n)
		}
	})
}

func TestPreflightHostedZone(t *testing.T) {
	for _, tc := range []struct {
		name  string
		reply reply
		want  []string
	}{
		{"missing", xmlError(404, "NoSuchHostedZone"), []string{"no hosted zone " + gsfcZone, "create-hosted-zone"}},
		{"private", reply{Body: zoneXML("heliocloud.example.gov.", true)}, []string{"is private"}},
		{"other domain", reply{Body: zoneXML("example.org.", false)}, []string{"is example.org, which cannot hold portal.heliocloud.example.gov"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeAWS(t)
			f.answer("route53:GET /2013-04-01/hostedzone/"+gsfcZone, tc.reply)
			wantResult(t, runNamed(t, Preflight(loadInstance(t, "gsfc"), f.env()), "hosted zone portal.domain"), Fail, tc.want...)
		})
	}
}

func TestPreflightPartners(t *testing.T) {
	// gsfc's partner is 444455556666, an id from AWS's documentation.
	f := newFakeAWS(t)
	f.answer("sts:GetCallerIdentity", reply{Body: callerIdentityXML})
	wantResult(t, runNamed(t, Preflight(loadInstance(t, "gsfc"), f.env()), "partner accounts"), Fail, "444455556666 (data.datasets.mms.readerAccounts, containers.pullAccounts) is an example account id")
	if n := len(f.calledWith("organizations:DescribeAccount")); n != 0 {
		t.Errorf("looked up an example account %d times", n)
	}

	f2 := newFakeAWS(t)
	f2.answer("sts:GetCallerIdentity", reply{Body: callerIdentityXML})
	f2.answer("organizations:DescribeAccount", jsonError(400, "AccountNotFoundException"))
	wantResult(t, runNamed(t, Preflight(gsfcWithPartner(t), f2.env()), "partner accounts"), OK, partnerID+" is outside your organization")

	f3 := newFakeAWS(t)
	f3.answer("sts:GetCallerIdentity", reply{Body: callerIdentityXML})
	cfg := gsfcWithPartner(t)
	cfg.Containers.PullAccounts = []string{gsfcAccount}
	f3.answer("organizations:DescribeAccount", jsonReply(map[string]any{"Account": map[string]any{"Id": partnerID, "Name": "p", "State": "SUSPENDED"}}))
	wantResult(t, runNamed(t, Preflight(cfg, f3.env()), "partner accounts"), Fail, "111122223333 (containers.pullAccounts) is this instance's own account", partnerID+" (data.datasets.mms.readerAccounts) is suspended")
}

func TestCostTagsAreThePortals(t *testing.T) {
	if tagInstance != portal.TagInstance || tagOwner != portal.TagOwner {
		t.Errorf("preflight checks tags %s and %s, the portal filters by %s and %s", tagInstance, tagOwner, portal.TagInstance, portal.TagOwner)
	}
}

func TestPreflightWithoutRegion(t *testing.T) {
	f := newFakeAWS(t)
	env := f.env()
	env.AWS.Region = ""
	cfg := loadInstance(t, "minimal")
	list := Preflight(cfg, env)
	if len(list) != 1 {
		t.Errorf("%d checks without a region, want only credentials", len(list))
	}
	wantResult(t, runNamed(t, list, "credentials"), Fail, "no region", "AWS_REGION")
}

func TestFamilyClass(t *testing.T) {
	for typ, want := range map[string]string{
		"m7i.large": "standard", "m7g.large": "standard", "t3.medium": "standard", "r7i.xlarge": "standard", "c7i.2xlarge": "standard",
		"g5.xlarge": "g", "g4dn.xlarge": "g", "vt1.3xlarge": "g",
		"p5.48xlarge": "", "inf2.xlarge": "", "trn1.2xlarge": "", "dl1.24xlarge": "", "x2idn.16xlarge": "",
	} {
		if got := familyClass(typ); got != want {
			t.Errorf("familyClass(%s) = %q, want %q", typ, got, want)
		}
	}
}
