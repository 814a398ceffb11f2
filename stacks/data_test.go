package stacks

import (
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/jsii-runtime-go"
)

// dataYAML has one bucket of every kind and every option that changes a
// bucket: a public dataset written by sdo, a private KMS requester-pays
// dataset read by another account, team buckets with Intelligent-Tiering.
const dataYAML = `
name: t1
teams: {sdo: {}, mms: {}}
data:
  enabled: true
  datasets:
    sdo-aia: {public: true, writers: [sdo], intelligentTiering: true}
    mms: {encryption: kms, requesterPays: true, readerAccounts: ["222233334444"], noncurrentVersionExpiryDays: 90}
  teamBuckets: {intelligentTiering: true, noncurrentVersionExpiryDays: 45}
  shared: {bucketName: t1-common}
  scratch: {expireDays: 3}
  accessLogs: {expireDays: 180}
`

// bucketsByName maps each bucket's physical name to its resource.
func bucketsByName(t *testing.T, tpl assertions.Template) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for _, r := range resources(tpl, "AWS::S3::Bucket") {
		out[props(r)["BucketName"].(string)] = r
	}
	return out
}

// logicalID is the id of the bucket (or role, or repository) with the given
// physical name property.
func logicalIDs(tpl assertions.Template, typ, nameProp string) map[string]string {
	out := map[string]string{}
	for id, r := range resources(tpl, typ) {
		if name, ok := props(r)[nameProp].(string); ok {
			out[name] = id
		}
	}
	return out
}

func TestDataBuckets(t *testing.T) {
	tpl := synthYAML(t, dataYAML, Options{})["data"]
	buckets := bucketsByName(t, tpl)
	names := slices.Sorted(maps.Keys(buckets))
	want := []string{"t1-access-logs", "t1-common", "t1-mms", "t1-scratch", "t1-sdo-aia", "t1-team-mms", "t1-team-sdo"}
	if !slices.Equal(names, want) {
		t.Fatalf("buckets %v, want %v", names, want)
	}
	logsID := logicalIDs(tpl, "AWS::S3::Bucket", "BucketName")["t1-access-logs"]

	for name, r := range buckets {
		p := props(r)
		if r["DeletionPolicy"] != "Retain" || r["UpdateReplacePolicy"] != "Retain" {
			t.Errorf("%s: deletion %v, replace %v; want Retain", name, r["DeletionPolicy"], r["UpdateReplacePolicy"])
		}
		if got := toJSON(t, p["VersioningConfiguration"]); got != `{"Status":"Enabled"}` {
			t.Errorf("%s: versioning %s", name, got)
		}
		if got := toJSON(t, p["OwnershipControls"]); got != `{"Rules":[{"ObjectOwnership":"BucketOwnerEnforced"}]}` {
			t.Errorf("%s: ownership %s", name, got)
		}
		wantBlock := `{"BlockPublicAcls":true,"BlockPublicPolicy":true,"IgnorePublicAcls":true,"RestrictPublicBuckets":true}`
		if name == "t1-sdo-aia" {
			wantBlock = `{"BlockPublicAcls":true,"BlockPublicPolicy":false,"IgnorePublicAcls":true,"RestrictPublicBuckets":false}`
		}
		if got := toJSON(t, p["PublicAccessBlockConfiguration"]); got != wantBlock {
			t.Errorf("%s: public access block %s, want %s", name, got, wantBlock)
		}
		enc := toJSON(t, p["BucketEncryption"])
		if name == "t1-mms" {
			if !strings.Contains(enc, `"SSEAlgorithm":"aws:kms"`) || !strings.Contains(enc, `"BucketKeyEnabled":true`) || !strings.Contains(enc, `"KMSMasterKeyID":{"Fn::GetAtt":["Datasetmms`) {
				t.Errorf("%s: encryption %s, want the bucket's own KMS key with a bucket key", name, enc)
			}
		} else if enc != `{"ServerSideEncryptionConfiguration":[{"ServerSideEncryptionByDefault":{"SSEAlgorithm":"AES256"}}]}` {
			t.Errorf("%s: encryption %s, want SSE-S3", name, enc)
		}
		logging := toJSON(t, p["LoggingConfiguration"])
		if name == "t1-access-logs" {
			if p["LoggingConfiguration"] != nil {
				t.Errorf("the log bucket logs to %s", logging)
			}
		} else if !strings.Contains(logging, `"DestinationBucketName":{"Ref":"`+logsID+`"}`) || !strings.Contains(logging, `/`+name+`/"`) {
			t.Errorf("%s: logging %s, want to %s under a prefix naming the bucket", name, logging, logsID)
		}
	}

	// Lifecycle rules, by bucket.
	rules := func(name string) string { return toJSON(t, props(buckets[name])["LifecycleConfiguration"]) }
	for _, c := range []struct{ bucket, want string }{
		{"t1-scratch", `{"ExpirationInDays":3,"Id":"expire-objects","Status":"Enabled"}`},
		{"t1-scratch", `{"Id":"expire-noncurrent-versions","NoncurrentVersionExpiration":{"NoncurrentDays":1},"Status":"Enabled"}`},
		{"t1-team-sdo", `{"Id":"expire-noncurrent-versions","NoncurrentVersionExpiration":{"NoncurrentDays":45},"Status":"Enabled"}`},
		{"t1-team-sdo", `{"Id":"intelligent-tiering","Status":"Enabled","Transitions":[{"StorageClass":"INTELLIGENT_TIERING","TransitionInDays":0}]}`},
		{"t1-common", `{"Id":"expire-noncurrent-versions","NoncurrentVersionExpiration":{"NoncurrentDays":30},"Status":"Enabled"}`},
		{"t1-mms", `{"Id":"expire-noncurrent-versions","NoncurrentVersionExpiration":{"NoncurrentDays":90},"Status":"Enabled"}`},
		{"t1-sdo-aia", `{"Id":"intelligent-tiering"`},
		{"t1-access-logs", `{"ExpirationInDays":180,"Id":"expire-logs","NoncurrentVersionExpiration":{"NoncurrentDays":1},"Status":"Enabled"}`},
	} {
		if got := rules(c.bucket); !strings.Contains(got, c.want) {
			t.Errorf("%s: lifecycle %s\nwant a rule %s", c.bucket, got, c.want)
		}
	}
	for _, name := range []string{"t1-sdo-aia", "t1-common", "t1-scratch"} {
		if strings.Contains(rules(name), "expire-noncurrent") && name == "t1-sdo-aia" {
			t.Errorf("%s keeps old versions by default but has %s", name, rules(name))
		}
		if strings.Contains(rules(name), "intelligent-tiering") && name != "t1-sdo-aia" {
			t.Errorf("%s: Intelligent-Tiering not asked for: %s", name, rules(name))
		}
	}

	// Bucket policies: TLS only everywhere; anonymous reads on the public
	// dataset only; the reader account on mms only.
	ids := logicalIDs(tpl, "AWS::S3::Bucket", "BucketName")
	policies := map[string]string{}
	for _, r := range resources(tpl, "AWS::S3::BucketPolicy") {
		ref := props(r)["Bucket"].(map[string]any)["Ref"].(string)
		policies[ref] = toJSON(t, props(r)["PolicyDocument"])
	}
	for name, id := range ids {
		doc, ok := policies[id]
		if !ok {
			t.Errorf("%s has no bucket policy", name)
			continue
		}
		if !strings.Contains(doc, `"Condition":{"Bool":{"aws:SecureTransport":"false"}},"Effect":"Deny"`) ||
			!strings.Contains(doc, `"Condition":{"NumericLessThan":{"s3:TlsVersion":1.2}},"Effect":"Deny"`) {
			t.Errorf("%s: no TLS-only statements in %s", name, doc)
		}
		public := strings.Contains(doc, `"Effect":"Allow","Principal":{"AWS":"*"}`)
		if public != (name == "t1-sdo-aia") {
			t.Errorf("%s: anonymous access %v in %s", name, public, doc)
		}
		if reader := strings.Contains(doc, "222233334444"); reader != (name == "t1-mms") {
			t.Errorf("%s: reader account %v in %s", name, reader, doc)
		}
	}
	for _, want := range []string{
		`"Action":"s3:GetObject","Effect":"Allow","Principal":{"AWS":"*"},"Resource":{"Fn::Join":["",[{"Fn::GetAtt":["` + ids["t1-sdo-aia"] + `","Arn"]},"/*"]]},"Sid":"PublicReadObjects"`,
		`"Action":"s3:ListBucket","Effect":"Allow","Principal":{"AWS":"*"},"Resource":{"Fn::GetAtt":["` + ids["t1-sdo-aia"] + `","Arn"]},"Sid":"PublicList"`,
	} {
		if !strings.Contains(policies[ids["t1-sdo-aia"]], want) {
			t.Errorf("public bucket policy %s\nlacks %s", policies[ids["t1-sdo-aia"]], want)
		}
	}
	if doc := policies[ids["t1-access-logs"]]; !strings.Contains(doc, `"Principal":{"Service":"logging.s3.amazonaws.com"}`) {
		t.Errorf("log bucket does not admit S3 log delivery: %s", doc)
	}

	// The KMS key is retained, rotated, and lets the reader account decrypt.
	tpl.HasResource(jsii.String("AWS::KMS::Key"), map[string]any{
		"DeletionPolicy": "Retain",
		"Properties": assertions.Match_ObjectLike(&map[string]any{
			"EnableKeyRotation": true,
			"KeyPolicy": assertions.Match_ObjectLike(&map[string]any{"Statement": assertions.Match_ArrayWith(&[]any{
				assertions.Match_ObjectLike(&map[string]any{"Action": "kms:Decrypt", "Principal": map[string]any{"AWS": map[string]any{
					"Fn::Join": []any{"", []any{"arn:", map[string]any{"Ref": "AWS::Partition"}, ":iam::222233334444:root"}}}}}),
			})}),
		}),
	})
	tpl.ResourceCountIs(jsii.String("AWS::KMS::Key"), jsii.Number(1))
	tpl.HasResourceProperties(jsii.String("AWS::KMS::Alias"), map[string]any{"AliasName": "alias/t1/t1-mms"})
	// The partner may decrypt only through S3 and only this bucket's
	// objects: no statement of the key gives it the key unconditioned.
	partner := `{"AWS":{"Fn::Join":["",["arn:",{"Ref":"AWS::Partition"},":iam::222233334444:root"]]}}`
	for _, k := range resources(tpl, "AWS::KMS::Key") {
		found := 0
		for _, st := range props(k)["KeyPolicy"].(map[string]any)["Statement"].([]any) {
			st := st.(map[string]any)
			if toJSON(t, st["Principal"]) != partner {
				continue
			}
			found++
			want := `{"StringEquals":{"kms:ViaService":{"Fn::Join":["",["s3.",{"Ref":"AWS::Region"},".amazonaws.com"]]}},` +
				`"StringLike":{"kms:EncryptionContext:aws:s3:arn":[{"Fn::Join":["",["arn:",{"Ref":"AWS::Partition"},":s3:::t1-mms"]]},{"Fn::Join":["",["arn:",{"Ref":"AWS::Partition"},":s3:::t1-mms/*"]]}]}}`
			if got := toJSON(t, st["Condition"]); st["Action"] != "kms:Decrypt" || got != want {
				t.Errorf("partner key statement %s %s, want kms:Decrypt with %s", st["Action"], got, want)
			}
		}
		if found != 1 {
			t.Errorf("%d key statements for the partner, want 1", found)
		}
	}

	// Requester-pays is set by an SDK call on mms only, and undone when
	// the option goes.
	crs := resources(tpl, "Custom::AWS")
	if len(crs) != 1 {
		t.Fatalf("want one requester-pays call, got %d", len(crs))
	}
	for _, r := range crs {
		p := props(r)
		if !strings.Contains(p["Create"].(string), `"Bucket":"t1-mms","RequestPaymentConfiguration":{"Payer":"Requester"}`) ||
			!strings.Contains(p["Delete"].(string), `"Payer":"BucketOwner"`) {
			t.Errorf("requester-pays call %v", p)
		}
	}

	tpl.HasOutput(jsii.String("DatasetsdoXaiaName"), map[string]any{"Value": map[string]any{"Ref": ids["t1-sdo-aia"]}})
}

// policyDoc is the policy document of the managed policy with this name.
func policyDoc(t *testing.T, tpl assertions.Template, name string) string {
	t.Helper()
	for _, r := range resources(tpl, "AWS::IAM::ManagedPolicy") {
		if props(r)["ManagedPolicyName"] == name {
			return toJSON(t, props(r)["PolicyDocument"])
		}
	}
	t.Fatalf("no managed policy %s", name)
	return ""
}

// arnJoin is how a bucket ARN built from a name appears in a template.
func arnJoin(suffix string) string {
	return `{"Fn::Join":["",["arn:",{"Ref":"AWS::Partition"},":s3:::` + suffix + `"]]}`
}

func TestDataRoles(t *testing.T) {
	tpl := synthYAML(t, dataYAML, Options{})["data"]

	user := policyDoc(t, tpl, "t1-data-user")
	for _, want := range []string{
		`"Resource":[` + arnJoin("t1-mms") + `,` + arnJoin("t1-sdo-aia") + `],"Sid":"ReadDatasetsBuckets"`,
		`"Action":["s3:GetObject","s3:GetObjectVersion","s3:GetObjectAttributes","s3:GetObjectTagging"],"Effect":"Allow","Resource":[` + arnJoin("t1-mms/*") + `,` + arnJoin("t1-sdo-aia/*") + `],"Sid":"ReadDatasetsObjects"`,
		`"Resource":[` + arnJoin("t1-common/*") + `,` + arnJoin("t1-scratch/*") + `],"Sid":"ReadWriteSharedObjects"`,
		`"Action":"kms:Decrypt","Condition":{"StringEquals":{"kms:ViaService":`,
		`"StringLike":{"kms:EncryptionContext:aws:s3:arn":[` + arnJoin("t1-mms") + `,` + arnJoin("t1-mms/*") + `]}`,
	} {
		if !strings.Contains(user, want) {
			t.Errorf("user policy %s\nlacks %s", user, want)
		}
	}
	// Users only read datasets, and nobody may delete object versions.
	if strings.Contains(user, `"s3:PutObject"],"Effect":"Allow","Resource":[`+arnJoin("t1-mms/*")) {
		t.Errorf("users may write a dataset: %s", user)
	}
	sdo := policyDoc(t, tpl, "t1-data-team-sdo")
	if want := `"Resource":[` + arnJoin("t1-team-sdo/*") + `,` + arnJoin("t1-sdo-aia/*") + `],"Sid":"TeamObjects"`; !strings.Contains(sdo, want) {
		t.Errorf("sdo policy %s\nlacks %s", sdo, want)
	}
	if !strings.Contains(sdo, `"s3:PutObject","s3:DeleteObject"`) {
		t.Errorf("sdo policy does not let the team write: %s", sdo)
	}
	mms := policyDoc(t, tpl, "t1-data-team-mms")
	if strings.Contains(mms, "t1-sdo-aia") || strings.Contains(mms, "t1-team-sdo") || !strings.Contains(mms, "t1-team-mms") {
		t.Errorf("mms policy reaches another team's buckets: %s", mms)
	}
	for _, doc := range []string{user, sdo, mms} {
		if strings.Contains(doc, "DeleteObjectVersion") || strings.Contains(doc, `"s3:*"`) {
			t.Errorf("policy lets users destroy versions: %s", doc)
		}
	}

	roles := logicalIDs(tpl, "AWS::IAM::Role", "RoleName")
	for _, name := range []string{"t1-user", "t1-team-sdo", "t1-team-mms"} {
		id, ok := roles[name]
		if !ok {
			t.Fatalf("no role %s among %v", name, roles)
		}
		r := resources(tpl, "AWS::IAM::Role")[id]
		trust := toJSON(t, props(r)["AssumeRolePolicyDocument"])
		if want := `{"Action":"sts:AssumeRole","Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"}}`; !strings.Contains(trust, want) {
			t.Errorf("%s trust %s\nlacks %s", name, trust, want)
		}
		// Without DaskHub no pod may assume the role (with it, see
		// TestDaskhubPodIdentityTrust).
		if strings.Contains(trust, "pods.eks.amazonaws.com") {
			t.Errorf("%s trusts EKS Pod Identity without a DaskHub: %s", name, trust)
		}
		tpl.HasResourceProperties(jsii.String("AWS::IAM::InstanceProfile"), map[string]any{
			"InstanceProfileName": name, "Roles": []any{map[string]any{"Ref": id}},
		})
	}
	managed := toJSON(t, props(resources(tpl, "AWS::IAM::Role")[roles["t1-team-sdo"]])["ManagedPolicyArns"])
	if strings.Count(managed, `"Ref"`) != 2 {
		t.Errorf("team role should have the user and the team policy, has %s", managed)
	}
}

// The API other stacks use gives names and policies without references to
// the data stack's constructs, so no CloudFormation export is made; it adds
// the stack dependency instead.
func TestDataAPIForOtherStacks(t *testing.T) {
	inst, app := buildInstance(t, dataYAML, Options{})
	d := inst.Data
	other := awscdk.NewStack(app, jsii.String("Other"), nil)
	role := d.TeamRole(other, "sdo")
	if d.TeamRole(other, "sdo") != role {
		t.Errorf("a second import into the same scope made a new construct")
	}
	d.UserRole(other)
	d.UserPolicy(other)
	d.DatasetBucket(other, "sdo-aia")
	statements := append(d.UserPolicyStatements(), d.teamOnlyStatements("sdo")...)
	awsiam.NewManagedPolicy(other, jsii.String("Uses"), &awsiam.ManagedPolicyProps{Statements: &statements, Roles: &[]awsiam.IRole{role}})
	deps := *other.Dependencies()
	if len(deps) != 1 || deps[0] != d.Stack {
		t.Errorf("dependencies of the using stack: %v", deps)
	}
	got := templateJSON(t, assertions.Template_FromStack(other, nil))
	if strings.Contains(got, "Fn::ImportValue") {
		t.Errorf("the using stack imports exports: %s", got)
	}
	for _, want := range []string{`"t1-team-sdo"`, arnJoin("t1-team-sdo/*"), arnJoin("t1-sdo-aia")} {
		if !strings.Contains(got, want) {
			t.Errorf("using stack %s\nlacks %s", got, want)
		}
	}
	if d.TeamRoleName("mms") != "t1-team-mms" || d.UserRoleName() != "t1-user" || d.UserPolicyName() != "t1-data-user" {
		t.Errorf("names: %s %s %s", d.TeamRoleName("mms"), d.UserRoleName(), d.UserPolicyName())
	}
	for _, out := range (*assertions.Template_FromStack(d.Stack, nil).ToJSON())["Outputs"].(map[string]any) {
		if _, ok := out.(map[string]any)["Export"]; ok {
			t.Errorf("the data stack exports %v", out)
		}
	}
}

func TestDataDestroyOptIn(t *testing.T) {
	tpl := synthYAML(t, `
name: dev
data:
  enabled: true
  destroyOnDelete: true
  datasets:
    a: {encryption: kms}
    x-y: {}
    xy: {}
`, Options{})["data"]
	// Names that differ only in separators get outputs of their own.
	tpl.HasOutput(jsii.String("DatasetxXyName"), map[string]any{"Description": "dataset x-y"})
	tpl.HasOutput(jsii.String("DatasetxyName"), map[string]any{"Description": "dataset xy"})
	tpl.AllResources(jsii.String("AWS::S3::Bucket"), map[string]any{"DeletionPolicy": "Delete", "UpdateReplacePolicy": "Delete"})
	tpl.AllResources(jsii.String("AWS::KMS::Key"), map[string]any{"DeletionPolicy": "Delete"})
	// Every bucket, the log bucket included, is emptied before deletion,
	// so that the stack can be deleted at all.
	tpl.ResourceCountIs(jsii.String("AWS::S3::Bucket"), jsii.Number(6))
	tpl.ResourceCountIs(jsii.String("Custom::S3AutoDeleteObjects"), jsii.Number(6))
	// No teams: only the user role.
	tpl.ResourceCountIs(jsii.String("AWS::IAM::Role"), jsii.Number(2))
	tpl.HasResourceProperties(jsii.String("AWS::IAM::Role"), map[string]any{"RoleName": "dev-user"})
}

// Logical ids are keyed by name: adding a dataset, a team and a repository
// in the middle of the YAML leaves the ids of the others unchanged.
func TestLogicalIDsAreKeyedByName(t *testing.T) {
	before := `
name: t1
teams:
  aaa: {}
  zzz: {}
data:
  enabled: true
  datasets:
    alpha: {}
    omega: {public: true}
containers:
  enabled: true
  repositories:
    aaa/one: {team: aaa}
    zzz/two: {}
`
	after := `
name: t1
teams:
  aaa: {}
  mmm: {}
  zzz: {}
data:
  enabled: true
  datasets:
    alpha: {}
    middle: {encryption: kms}
    omega: {public: true}
containers:
  enabled: true
  repositories:
    aaa/one: {team: aaa}
    mmm/new: {team: mmm}
    zzz/two: {}
`
	a, b := synthYAML(t, before, Options{}), synthYAML(t, after, Options{})
	for _, c := range []struct{ stack, typ, prop string }{
		{"data", "AWS::S3::Bucket", "BucketName"},
		{"data", "AWS::IAM::Role", "RoleName"},
		{"data", "AWS::IAM::ManagedPolicy", "ManagedPolicyName"},
		{"data", "AWS::IAM::InstanceProfile", "InstanceProfileName"},
		{"containers", "AWS::ECR::Repository", "RepositoryName"},
		{"containers", "AWS::IAM::ManagedPolicy", "ManagedPolicyName"},
	} {
		idsBefore, idsAfter := logicalIDs(a[c.stack], c.typ, c.prop), logicalIDs(b[c.stack], c.typ, c.prop)
		if len(idsAfter) <= len(idsBefore) && c.typ != "AWS::IAM::ManagedPolicy" {
			t.Errorf("%s: nothing was added (%d before, %d after)", c.typ, len(idsBefore), len(idsAfter))
		}
		for name, id := range idsBefore {
			if idsAfter[name] != id {
				t.Errorf("%s %s: logical id %s became %q", c.typ, name, id, idsAfter[name])
			}
		}
	}
}

// denyYAML has every principal the bucket policies' denials must tell
// apart: two teams, an administrator role with a path, dataset writers,
// the registry's indexer on one dataset, and DaskHub's team pods (which
// assume the team roles).
const denyYAML = `
name: t3
teams: {sdo: {}, mms: {}}
auth: {enabled: true}
data:
  enabled: true
  adminRoleArns:
    - arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_0123456789abcdef
  datasets:
    sdo-aia: {public: true, writers: [sdo]}
    mms: {writers: [sdo, mms]}
    archive: {}
registry:
  enabled: true
  catalogs:
    archive: {name: Archive, contact: ops@example.edu}
  datasets:
    magnetometer_1s:
      title: Ground magnetometer
      bucket: archive
      prefix: mag/1s/
      filetype: cdf
      time:
        pattern: 'mag_1s_(?P<year>\d{4})(?P<month>\d\d)(?P<day>\d\d)\.cdf$'
daskhub:
  enabled: true
  endpoint: {access: private}
  nodeGroups: {gpu-user: null, dask-gpu-worker: null}
  profiles: {gpu-pytorch: null, gpu-tensorflow: null}
  dask: {gpuWorkerNodeGroup: ""}
`

// bucketStatements maps each bucket's physical name to its policy
// statements by Sid.
func bucketStatements(t *testing.T, tpl assertions.Template) map[string]map[string]map[string]any {
	t.Helper()
	names := map[string]string{}
	for name, id := range logicalIDs(tpl, "AWS::S3::Bucket", "BucketName") {
		names[id] = name
	}
	out := map[string]map[string]map[string]any{}
	for _, r := range resources(tpl, "AWS::S3::BucketPolicy") {
		name := names[props(r)["Bucket"].(map[string]any)["Ref"].(string)]
		out[name] = map[string]map[string]any{}
		for i, st := range props(r)["PolicyDocument"].(map[string]any)["Statement"].([]any) {
			st := st.(map[string]any)
			sid, _ := st["Sid"].(string)
			if sid == "" {
				sid = fmt.Sprint(i)
			}
			out[name][sid] = st
		}
	}
	return out
}

// How names known at synth time appear in the template.
func roleARNJSON(name string) string {
	return `{"Fn::Join":["",["arn:",{"Ref":"AWS::Partition"},":iam::",{"Ref":"AWS::AccountId"},":role/` + name + `"]]}`
}

func sessionARNJSON(name string) string {
	return `{"Fn::Join":["",["arn:",{"Ref":"AWS::Partition"},":sts::",{"Ref":"AWS::AccountId"},":assumed-role/` + name + `/*"]]}`
}

const (
	adminARN      = `"arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_0123456789abcdef"`
	adminSession  = `"arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/*"`
	teamDenied    = `["s3:GetObject*","s3:PutObject*","s3:DeleteObject*","s3:ListBucket*","s3:ListMultipartUploadParts","s3:AbortMultipartUpload","s3:RestoreObject"]`
	datasetDenied = `["s3:PutObject*","s3:DeleteObject*"]`
	anyoneJSON    = `{"AWS":"*"}`
)

// The team buckets deny object access to all but the team's role (which
// its DaskHub pods assume) and the administrators; dataset buckets deny writes to all
// but their writers, the indexer where it writes and the administrators.
func TestDataDenyStatements(t *testing.T) {
	tpls := synthYAML(t, denyYAML, Options{})
	st := bucketStatements(t, tpls["data"])
	check := func(bucket, sid, field, want string) {
		t.Helper()
		s, ok := st[bucket][sid]
		if !ok {
			t.Errorf("%s: no statement %s among %v", bucket, sid, slices.Sorted(maps.Keys(st[bucket])))
			return
		}
		if got := toJSON(t, s[field]); got != want {
			t.Errorf("%s %s %s:\n got %s\nwant %s", bucket, sid, field, got, want)
		}
	}
	for _, team := range []string{"sdo", "mms"} {
		b := "t3-team-" + team
		check(b, "TeamOnly", "Effect", `"Deny"`)
		check(b, "TeamOnly", "Principal", anyoneJSON)
		check(b, "TeamOnly", "Action", teamDenied)
		// Exactly the team's own role, its sessions and the administrator:
		// not the other team, not the instance-wide user role.
		check(b, "TeamOnly", "Condition", `{"ArnNotLike":{"aws:PrincipalArn":[`+roleARNJSON(b)+`,`+sessionARNJSON(b)+`,`+adminARN+`,`+adminSession+`]}}`)
		ids := logicalIDs(tpls["data"], "AWS::S3::Bucket", "BucketName")
		check(b, "TeamOnly", "Resource", `[{"Fn::GetAtt":["`+ids[b]+`","Arn"]},{"Fn::Join":["",[{"Fn::GetAtt":["`+ids[b]+`","Arn"]},"/*"]]}]`)
		for sid, s := range st[b] {
			if s["Effect"] == "Allow" {
				t.Errorf("%s grants %s: %s", b, sid, toJSON(t, s))
			}
		}
	}

	check("t3-mms", "WritersOnly", "Action", datasetDenied)
	check("t3-mms", "WritersOnly", "Condition", `{"ArnNotLike":{"aws:PrincipalArn":[`+roleARNJSON("t3-team-mms")+`,`+sessionARNJSON("t3-team-mms")+`,`+
		roleARNJSON("t3-team-sdo")+`,`+sessionARNJSON("t3-team-sdo")+`,`+adminARN+`,`+adminSession+`]}}`)
	check("t3-sdo-aia", "WritersOnly", "Condition", `{"ArnNotLike":{"aws:PrincipalArn":[`+roleARNJSON("t3-team-sdo")+`,`+sessionARNJSON("t3-team-sdo")+`,`+adminARN+`,`+adminSession+`]}}`)
	// The indexer writes index files of archive only; with no writer
	// team, no DaskHub pod may write it.
	check("t3-archive", "WritersOnly", "Condition", `{"ArnNotLike":{"aws:PrincipalArn":[`+roleARNJSON("t3-registry-indexer")+`,`+sessionARNJSON("t3-registry-indexer")+`,`+adminARN+`,`+adminSession+`]}}`)
	// DaskHub's pods assume the team roles, so the role ARNs cover them:
	// no statement tells pods apart by the session tags of EKS Pod Identity.
	for b, sts := range st {
		for sid, s := range sts {
			if (strings.HasPrefix(sid, "TeamOnly") || strings.HasPrefix(sid, "WritersOnly")) && sid != "TeamOnly" && sid != "WritersOnly" {
				t.Errorf("%s has an extra denial %s", b, sid)
			}
			if c := toJSON(t, s["Condition"]); strings.Contains(c, "PrincipalTag") || strings.Contains(c, "eks-cluster") || strings.Contains(c, "kubernetes-") {
				t.Errorf("%s %s tells principals apart by session tag: %s", b, sid, c)
			}
		}
	}
	// Public reads stay: the dataset denials are about writes only.
	check("t3-sdo-aia", "PublicReadObjects", "Effect", `"Allow"`)
	for _, b := range []string{"t3-sdo-aia", "t3-mms", "t3-archive"} {
		check(b, "WritersOnly", "Resource", `{"Fn::Join":["",[{"Fn::GetAtt":["`+logicalIDs(tpls["data"], "AWS::S3::Bucket", "BucketName")[b]+`","Arn"]},"/*"]]}`)
	}
	for _, b := range []string{"t3-shared", "t3-scratch", "t3-access-logs"} {
		for sid := range st[b] {
			if strings.HasPrefix(sid, "TeamOnly") || strings.HasPrefix(sid, "WritersOnly") {
				t.Errorf("%s, which every user shares, has %s", b, sid)
			}
		}
	}

	// The exempt names are those the other stacks really use: the
	// registry's role, and the team roles that DaskHub's team service
	// accounts assume.
	tpls["registry"].HasResourceProperties(jsii.String("AWS::IAM::Role"), map[string]any{"RoleName": "t3-registry-indexer"})
	for _, team := range []string{"sdo", "mms"} {
		var arn any
		if err := json.Unmarshal([]byte(roleARNJSON("t3-team-"+team)), &arn); err != nil {
			t.Fatal(err)
		}
		tpls["daskhub"].HasResourceProperties(jsii.String("AWS::EKS::PodIdentityAssociation"), map[string]any{
			"Namespace": "daskhub", "ServiceAccount": "heliocloud-team-" + team, "RoleArn": arn,
		})
	}
}

// iamMatch tells whether an IAM action pattern (with * wildcards) covers
// action, case-insensitively as IAM does.
func iamMatch(pattern, action string) bool {
	re := "^" + strings.ReplaceAll(regexp.QuoteMeta(strings.ToLower(pattern)), `\*`, ".*") + "$"
	return regexp.MustCompile(re).MatchString(strings.ToLower(action))
}

// The denials leave alone what CloudFormation and the stacks' custom
// resources do to the buckets: set requester-pays, bucket notifications for
// the registry, and the bucket policy that auto-delete rewrites.
func TestDataDenialsSpareBucketConfiguration(t *testing.T) {
	if !iamMatch("s3:GetObject*", "s3:GetObjectVersion") || iamMatch("s3:GetObject*", "s3:GetBucketPolicy") {
		t.Fatal("iamMatch is wrong")
	}
	for _, patterns := range [][]string{teamDenyActions, datasetDenyActions} {
		for _, p := range patterns {
			for _, a := range []string{"s3:PutBucketRequestPayment", "s3:PutBucketNotification", "s3:GetBucketNotification", "s3:PutBucketPolicy", "s3:GetBucketPolicy", "s3:DeleteBucketPolicy", "s3:PutBucketTagging", "s3:DeleteBucket"} {
				if iamMatch(p, a) {
					t.Errorf("denied %s covers %s", p, a)
				}
			}
		}
	}
	for _, a := range []string{"s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion", "s3:ListBucket", "s3:ListBucketVersions"} {
		if !slices.ContainsFunc(teamDenyActions, func(p string) bool { return iamMatch(p, a) }) {
			t.Errorf("team buckets do not deny %s", a)
		}
	}
	for _, a := range []string{"s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion", "s3:PutObjectTagging"} {
		if !slices.ContainsFunc(datasetDenyActions, func(p string) bool { return iamMatch(p, a) }) {
			t.Errorf("dataset buckets do not deny %s", a)
		}
	}
}

// With destroyOnDelete, CDK's auto-delete provider must still empty the
// team and dataset buckets.
func TestDataDenialsSpareAutoDelete(t *testing.T) {
	tpl := synthYAML(t, `
name: dev
teams: {sdo: {}}
data:
  enabled: true
  destroyOnDelete: true
  datasets:
    a: {writers: [sdo]}
`, Options{})["data"]
	var provider string
	for id := range resources(tpl, "AWS::IAM::Role") {
		if strings.HasPrefix(id, "CustomS3AutoDeleteObjectsCustomResourceProviderRole") {
			provider = id
		}
	}
	if provider == "" {
		t.Fatal("no auto-delete provider role")
	}
	st := bucketStatements(t, tpl)
	for bucket, sid := range map[string]string{"dev-team-sdo": "TeamOnly", "dev-a": "WritersOnly"} {
		want := `{"ArnNotLike":{"aws:PrincipalArn":[` + roleARNJSON("dev-team-sdo") + `,` + sessionARNJSON("dev-team-sdo") + `,{"Fn::GetAtt":["` + provider + `","Arn"]}]}}`
		if got := toJSON(t, st[bucket][sid]["Condition"]); got != want {
			t.Errorf("%s %s condition\n got %s\nwant %s", bucket, sid, got, want)
		}
	}
}

// A notification configuration on a data bucket, in the data stack's
// template, would replace the whole configuration at every deploy of that
// stack and silently drop the registry's events. The data stack must never
// set one; the registry adds its events from its own stack through CDK's
// custom resource, which (Managed: false, for a bucket it did not make)
// keeps the notifications it did not write.
func TestDataStackLeavesNotificationsToTheRegistry(t *testing.T) {
	tpls := synthYAML(t, registryYAML, Options{Account: "123456789012", Region: "us-east-1"})
	data := tpls["data"]
	if len(resources(data, "AWS::S3::Bucket")) == 0 {
		t.Fatal("no buckets in the data stack: the test checks nothing")
	}
	for id, b := range resources(data, "AWS::S3::Bucket") {
		if n, ok := props(b)["NotificationConfiguration"]; ok {
			t.Errorf("data bucket %s has a notification configuration: %s", id, toJSON(t, n))
		}
	}
	if n := len(resources(data, "Custom::S3BucketNotifications")); n != 0 {
		t.Errorf("the data stack manages the notifications of %d buckets", n)
	}
	notes := resources(tpls["registry"], "Custom::S3BucketNotifications")
	if len(notes) == 0 {
		t.Fatal("the registry stack adds no bucket notifications")
	}
	for id, n := range notes {
		if m := props(n)["Managed"]; m != false {
			t.Errorf("registry notifications %s: Managed %v, want false (keep notifications others wrote)", id, m)
		}
	}
}
