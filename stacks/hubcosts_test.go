package stacks

import (
	"encoding/json"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"

	"github.com/heliocloud/heliocloud-go/daskhub/values"
	"github.com/heliocloud/heliocloud-go/portal/portalconfig"
)

// hubCostsYAML is an instance with the portal showing DaskHub's costs.
func hubCostsYAML(region string) string {
	return strings.Replace(portalYAML, "region: us-east-1", "region: "+region, 1) + `  hubCosts: {enabled: true, keepDays: 800}
daskhub:
  enabled: true
  endpoint: {access: private}
`
}

// only returns the one resource of a type in a template.
func only(t *testing.T, tpl assertions.Template, typ string) map[string]any {
	t.Helper()
	rs := resources(tpl, typ)
	if len(rs) != 1 {
		t.Fatalf("%d resources of type %s, want 1", len(rs), typ)
	}
	for _, r := range rs {
		return r
	}
	return nil
}

// portalHubCosts reads the hubCosts the portal function is told, from the
// literal parts of its PORTAL_CONFIG (hub costs names are all literal).
func portalHubCosts(t *testing.T, tpl assertions.Template) *portalconfig.HubCosts {
	t.Helper()
	for id, fn := range resources(tpl, "AWS::Lambda::Function") {
		env, ok := props(fn)["Environment"].(map[string]any)["Variables"].(map[string]any)["PORTAL_CONFIG"].(map[string]any)
		if !ok || strings.HasPrefix(id, "Guard") {
			continue
		}
		var literal strings.Builder
		for _, part := range env["Fn::Join"].([]any)[1].([]any) {
			if s, ok := part.(string); ok {
				literal.WriteString(s)
			}
		}
		m := regexp.MustCompile(`"hubCosts":(\{[^{}]*\})`).FindStringSubmatch(literal.String())
		if m == nil {
			return nil
		}
		var h portalconfig.HubCosts
		if err := json.Unmarshal([]byte(m[1]), &h); err != nil {
			t.Fatal(err)
		}
		return &h
	}
	t.Fatal("no portal function")
	return nil
}

// The pieces AWS joins by name must agree, read back from the templates:
// the table lies where the export writes, holds the columns it exports,
// and the portal is told the names of the table, workgroup and cluster
// that the stacks create.
func TestHubCostsPiecesMeet(t *testing.T) {
	tpls := synthYAML(t, hubCostsYAML("us-east-1"), Options{Account: "123456789012", Region: "us-east-1"})
	if _, ok := tpls["hubcostsexport"]; ok {
		t.Error("an instance in us-east-1 needs no export stack of its own")
	}
	portal, data := tpls["portal"], tpls["data"]

	export := props(only(t, portal, "AWS::BCMDataExports::Export"))["Export"].(map[string]any)
	dest := export["DestinationConfigurations"].(map[string]any)["S3Destination"].(map[string]any)
	bucket := dest["S3Bucket"].(string)
	if dest["S3Region"] != "us-east-1" || dest["S3Prefix"] != "exports" {
		t.Errorf("destination %v", dest)
	}
	out := dest["S3OutputConfigurations"].(map[string]any)
	if out["Format"] != "PARQUET" || out["Overwrite"] != "OVERWRITE_REPORT" || out["OutputType"] != "CUSTOM" {
		t.Errorf("output %v", out)
	}
	query := export["DataQuery"].(map[string]any)
	conf := query["TableConfigurations"].(map[string]any)["COST_AND_USAGE_REPORT"].(map[string]any)
	if conf["INCLUDE_SPLIT_COST_ALLOCATION_DATA"] != "TRUE" || conf["INCLUDE_RESOURCES"] != "TRUE" {
		t.Errorf("table configuration %v: split costs and resource ids are what the portal reads", conf)
	}
	stmt := query["QueryStatement"].(string)
	m := regexp.MustCompile(`^SELECT (.+) FROM COST_AND_USAGE_REPORT$`).FindStringSubmatch(stmt)
	if m == nil {
		t.Fatalf("query %q", stmt)
	}
	exported := strings.Split(m[1], ", ")

	// The data stack's bucket is the one the export names, kept, and open
	// to Data Exports of this account only.
	var b map[string]any
	for id, r := range resources(data, "AWS::S3::Bucket") {
		if props(r)["BucketName"] == bucket {
			b = r
			if r["DeletionPolicy"] != "Retain" {
				t.Errorf("%s is %v on deletion, want Retain", id, r["DeletionPolicy"])
			}
		}
	}
	if b == nil {
		t.Fatalf("no bucket %s in the data stack", bucket)
	}
	var grants []map[string]any
	for _, r := range resources(data, "AWS::S3::BucketPolicy") {
		for _, s := range props(r)["PolicyDocument"].(map[string]any)["Statement"].([]any) {
			s := s.(map[string]any)
			if p, ok := s["Principal"].(map[string]any); ok && p["Service"] == "bcm-data-exports.amazonaws.com" {
				grants = append(grants, s)
			}
		}
	}
	if len(grants) != 2 {
		t.Fatalf("%d statements for Data Exports, want PutObject and GetBucketPolicy", len(grants))
	}
	for _, s := range grants {
		c := toJSON(t, s["Condition"])
		if !strings.Contains(c, `"aws:SourceAccount"`) || !strings.Contains(c, `bcm-data-exports:us-east-1:`) {
			t.Errorf("statement %s lacks the source conditions: %s", s["Action"], c)
		}
		if s["Action"] == "s3:PutObject" && !strings.Contains(toJSON(t, s["Resource"]), `/exports/*`) {
			t.Errorf("Data Exports may write %s, want exports/ only", toJSON(t, s["Resource"]))
		}
	}

	// The table lies where the export writes, column for column.
	table := props(only(t, portal, "AWS::Glue::Table"))
	input := table["TableInput"].(map[string]any)
	sd := input["StorageDescriptor"].(map[string]any)
	location := "s3://" + bucket + "/" + dest["S3Prefix"].(string) + "/" + export["Name"].(string) + "/data/"
	if sd["Location"] != location {
		t.Errorf("table at %v, export writes to %s", sd["Location"], location)
	}
	if p := input["Parameters"].(map[string]any); p["storage.location.template"] != location+"BILLING_PERIOD=${billing_period}/" || p["projection.enabled"] != "true" {
		t.Errorf("partition projection %v", p)
	}
	var columns []string
	for _, c := range sd["Columns"].([]any) {
		columns = append(columns, c.(map[string]any)["Name"].(string))
	}
	if !slices.Equal(columns, exported) {
		t.Errorf("table columns %v, export columns %v", columns, exported)
	}

	// The portal is told the names the stacks create.
	h := portalHubCosts(t, portal)
	if h == nil {
		t.Fatal("the portal is not told about the table")
	}
	if db := props(only(t, portal, "AWS::Glue::Database"))["DatabaseInput"].(map[string]any)["Name"]; h.Database != db || table["DatabaseName"] != db {
		t.Errorf("portal database %s, Glue database %v, table's %v", h.Database, db, table["DatabaseName"])
	}
	if h.Table != input["Name"] {
		t.Errorf("portal table %s, Glue table %v", h.Table, input["Name"])
	}
	wg := props(only(t, portal, "AWS::Athena::WorkGroup"))
	if h.WorkGroup != wg["Name"] {
		t.Errorf("portal workgroup %s, workgroup %v", h.WorkGroup, wg["Name"])
	}
	cluster := props(only(t, tpls["daskhub"], "AWS::EKS::Cluster"))["Name"]
	if h.Cluster != cluster {
		t.Errorf("portal filters on cluster %s, the cluster is %v", h.Cluster, cluster)
	}
	if h.UserTag != "user_heliocloud_org_user" || h.TeamTag != "user_heliocloud_org_team" {
		t.Errorf("tag keys %s %s", h.UserTag, h.TeamTag)
	}
	if err := (&portalconfig.Config{HubCosts: h}).Validate(); err != nil && strings.Contains(err.Error(), "hubCosts") {
		t.Errorf("the portal would refuse its hub costs settings: %v", err)
	}

	// Results go to the bucket, encrypted, under a prefix that expires.
	rc := wg["WorkGroupConfiguration"].(map[string]any)
	if rc["EnforceWorkGroupConfiguration"] != true || rc["BytesScannedCutoffPerQuery"] == nil {
		t.Errorf("workgroup %v", rc)
	}
	res := rc["ResultConfiguration"].(map[string]any)
	if res["OutputLocation"] != "s3://"+bucket+"/athena/" || toJSON(t, res["EncryptionConfiguration"]) != `{"EncryptionOption":"SSE_S3"}` {
		t.Errorf("results %v", res)
	}
	rules := toJSON(t, props(b)["LifecycleConfiguration"])
	for _, want := range []string{`"Prefix":"athena/"`, `"ExpirationInDays":7`, `"Prefix":"exports/"`, `"ExpirationInDays":800`} {
		if !strings.Contains(rules, want) {
			t.Errorf("lifecycle lacks %s: %s", want, rules)
		}
	}
}

// The portal function may query this workgroup, read the export and write
// results, and nothing wider: no wildcard resource, no write to exports/.
func TestHubCostsFunctionPolicy(t *testing.T) {
	portal := synthYAML(t, hubCostsYAML("us-east-1"), Options{Account: "123456789012", Region: "us-east-1"})["portal"]
	var found bool
	for id, sts := range statements(portal) {
		if !strings.HasPrefix(id, "HubCostsPolicy") {
			continue
		}
		found = true
		for _, s := range sts {
			res := toJSON(t, s["Resource"])
			if strings.Contains(res, `"*"`) {
				t.Errorf("%s grants %v on every resource", s["Sid"], s["Action"])
			}
			writes := slices.Contains(strs(s["Action"]), "s3:PutObject")
			if writes && (strings.Contains(res, "/exports/") || !strings.Contains(res, "/athena/*")) {
				t.Errorf("%s writes %s, want athena/ only", s["Sid"], res)
			}
			if slices.Contains(strs(s["Action"]), "athena:StartQueryExecution") && !strings.Contains(res, ":workgroup/gsfc-hubcosts") {
				t.Errorf("queries run in %s, want the instance's workgroup", res)
			}
		}
	}
	if !found {
		t.Fatal("no HubCostsPolicy on the portal function")
	}
}

// Elsewhere than us-east-1 the export gets a stack of its own there, after
// the bucket exists and before the portal reads it; it writes to the
// instance's region.
func TestHubCostsExportStackOutsideUsEast1(t *testing.T) {
	inst, tpls := synthInstance(t, hubCostsYAML("us-west-2"), Options{Account: "123456789012", Region: "us-west-2"})
	tpl, ok := tpls["hubcostsexport"]
	if !ok {
		t.Fatalf("no export stack among %v", slices.Sorted(maps.Keys(tpls)))
	}
	dest := props(only(t, tpl, "AWS::BCMDataExports::Export"))["Export"].(map[string]any)["DestinationConfigurations"].(map[string]any)["S3Destination"].(map[string]any)
	if dest["S3Region"] != "us-west-2" {
		t.Errorf("export writes to %v, want the instance's region", dest["S3Region"])
	}
	if n := len(resources(tpls["portal"], "AWS::BCMDataExports::Export")); n != 0 {
		t.Errorf("%d exports in the portal stack", n)
	}
	names := func(s awscdk.Stack) []string {
		var out []string
		for _, d := range *s.Dependencies() {
			out = append(out, *d.StackName())
		}
		return out
	}
	portalDeps := names(inst.Portal.Stack)
	for _, want := range []string{"gsfc-HubCostsExport", "gsfc-Data"} {
		if !slices.Contains(portalDeps, want) {
			t.Errorf("portal depends on %v, want %s", portalDeps, want)
		}
	}
	for _, d := range *inst.Portal.Stack.Dependencies() {
		if *d.StackName() != "gsfc-HubCostsExport" {
			continue
		}
		if *d.Region() != "us-east-1" {
			t.Errorf("export stack in %s", *d.Region())
		}
		if on := names(d); !slices.Contains(on, "gsfc-Data") {
			t.Errorf("export stack depends on %v, want gsfc-data (the bucket policy)", on)
		}
	}
}

// CUR 2.0 names a label's tag key as AWS's Cloud Intelligence Dashboards
// read them (dashboards/scad-containers-cost-allocation/
// scad-containers-cost-allocation.yaml in
// aws-solutions-library-samples/cloud-intelligence-dashboards-framework,
// commit 9cecc158b815): app.kubernetes.io/part-of is
// resource_tags['user_app_kubernetes_io_part_of'].
func TestCURTagKeyOfALabel(t *testing.T) {
	for label, want := range map[string]string{
		"app.kubernetes.io/part-of":    "user_app_kubernetes_io_part_of",
		"apps.kubernetes.io/pod-index": "user_apps_kubernetes_io_pod_index",
		"created-by":                   "user_created_by",
		"app":                          "user_app",
		values.UserLabel:               "user_heliocloud_org_user",
		values.TeamLabel:               "user_heliocloud_org_team",
	} {
		if got := portalconfig.CURTagKey(label); got != want {
			t.Errorf("CURTagKey(%q) = %q, want %q", label, got, want)
		}
	}
}

// Everyone's spending is for admins, who see it through the portal: of all
// the identity policies in the instance, only the portal function's names
// the hub costs bucket, the table or the workgroup. Users' and teams'
// roles reach buckets by name (the data stack's grants), so this fails
// when any of them is given the billing data.
func TestOnlyThePortalReadsHubCosts(t *testing.T) {
	inst, tpls := synthInstance(t, hubCostsYAML("us-east-1"), Options{Account: "123456789012", Region: "us-east-1"})
	n := inst.Config.HubCostsNames()
	var readers []string
	for component, tpl := range tpls {
		for id, sts := range statements(tpl) {
			for _, s := range sts {
				res := toJSON(t, s["Resource"])
				if strings.Contains(res, n.Bucket) || strings.Contains(res, n.Database) || strings.Contains(res, "workgroup/"+n.WorkGroup) {
					readers = append(readers, component+"/"+id)
				}
			}
		}
	}
	slices.Sort(readers)
	readers = slices.Compact(readers)
	if len(readers) != 1 || !strings.HasPrefix(readers[0], "portal/HubCostsPolicy") {
		t.Errorf("policies reaching the billing data: %v, want the portal function's HubCostsPolicy only", readers)
	}
}
