package stacks

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/customresources"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
	"github.com/heliocloud/heliocloud-go/config"
	"github.com/heliocloud/heliocloud-go/daskhub/values"
)

// DataStack holds the instance's buckets and the IAM roles through which
// users reach them.
//
// Other stacks use its methods, never its constructs: every name and
// policy they return is derived from the configuration, so that referring to
// a bucket or role from another stack creates no CloudFormation export
// (exports block later changes of this stack). The methods that take a scope
// make that scope's stack depend on this one, so that the roles exist
// before they are used.
type DataStack struct {
	Stack awscdk.Stack
	cfg   *config.Config
	// keys are the KMS keys of buckets that use kms encryption, by physical
	// bucket name; for use inside this stack only.
	keys map[string]awskms.IKey
	// imports are the roles, policies and buckets imported into other
	// stacks, by scope path and id, so that each is imported once.
	imports map[string]any
	// providerSuppressed records that the AwsCustomResource Lambda's
	// findings are justified already.
	providerSuppressed bool
}

func init() {
	builders["data"] = func(scope constructs.Construct, inst *Instance) { inst.Data = NewDataStack(scope, inst) }
}

// NewDataStack builds the access log bucket, the dataset, team, shared and
// scratch buckets, and one IAM role per team plus an instance-wide user role.
func NewDataStack(scope constructs.Construct, inst *Instance) *DataStack {
	cfg := inst.Config
	stack := newStack(scope, inst, "data", "S3 buckets for datasets, teams, shared work and scratch, and the roles that reach them")
	// Without this flag CDK grants log delivery through an ACL, which
	// buckets with ACLs disabled (object ownership enforced) refuse.
	stack.Node().SetContext(jsii.String("@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy"), jsii.Bool(true))
	d := &DataStack{Stack: stack, cfg: cfg, keys: map[string]awskms.IKey{}, imports: map[string]any{}}

	var logs awss3.IBucket
	refs := cfg.Buckets()
	for _, ref := range refs {
		if ref.Kind == config.AccessLogKind {
			logs = d.accessLogBucket(ref)
		}
	}
	for _, ref := range refs {
		switch ref.Kind {
		case config.AccessLogKind:
		case config.HubCostsKind:
			d.hubCostsBucket(ref, logs)
		default:
			d.bucket(ref, logs)
		}
	}
	d.roles()
	return d
}

// bucketConstructID keys a bucket's constructs by kind and name, never by
// position, so that adding an entry leaves the others' logical ids alone.
func bucketConstructID(ref config.BucketRef) string {
	kind := strings.ToUpper(string(ref.Kind[:1])) + string(ref.Kind[1:])
	return kind + nameToID(ref.Name)
}

// idSpelling maps the separators that names may hold to upper-case letters,
// which validated names never hold.
var idSpelling = strings.NewReplacer("-", "X", ".", "D", "_", "U", "/", "S")

// nameToID spells a validated name (lower-case letters, digits and the
// separators - . _ /) with letters and digits only, one to one. CDK drops
// other characters from logical ids, so "sdo-aia" and "sdoaia" would
// otherwise share the logical id of an output.
func nameToID(name string) string {
	return idSpelling.Replace(name)
}

func (d *DataStack) removal() awscdk.RemovalPolicy {
	if d.cfg.Data.DestroyOnDelete {
		return awscdk.RemovalPolicy_DESTROY
	}
	return awscdk.RemovalPolicy_RETAIN
}

// bucketSpec is what differs between the kinds of bucket.
type bucketSpec struct {
	noncurrentDays int
	expireDays     int
	tiering        bool
	public         bool
	requesterPays  bool
	readerAccounts []string
	description    string
}

func (d *DataStack) spec(ref config.BucketRef) bucketSpec {
	data := d.cfg.Data
	switch ref.Kind {
	case config.DatasetKind:
		ds := data.Datasets[ref.Name]
		return bucketSpec{noncurrentDays: ds.NoncurrentVersionExpiryDays, tiering: ds.IntelligentTiering,
			public: ds.Public, requesterPays: ds.RequesterPays, readerAccounts: ds.ReaderAccounts,
			description: cmp.Or(ds.Description, "dataset "+ref.Name)}
	case config.TeamKind:
		tb := data.TeamBuckets
		return bucketSpec{noncurrentDays: tb.NoncurrentVersionExpiryDays, tiering: tb.IntelligentTiering,
			description: "team " + ref.Name + "'s bucket"}
	case config.SharedKind:
		return bucketSpec{noncurrentDays: data.Shared.NoncurrentVersionExpiryDays,
			tiering: data.Shared.IntelligentTiering, description: "shared by every user of the instance"}
	case config.ScratchKind:
		// Versions of expired scratch objects are kept one day only: the
		// point of scratch is that it empties itself.
		return bucketSpec{noncurrentDays: 1, expireDays: data.Scratch.ExpireDays,
			description: fmt.Sprintf("scratch: objects expire after %d days", data.Scratch.ExpireDays)}
	}
	panic("stacks: no bucket spec for kind " + string(ref.Kind))
}

// bucketProps are what every bucket of the stack shares: its physical
// name, TLS 1.2 only, no ACLs, no public access, versions, and kept when
// the stack is deleted unless data.destroyOnDelete. Encryption, logging
// and lifecycle differ by kind.
func (d *DataStack) bucketProps(ref config.BucketRef) *awss3.BucketProps {
	return &awss3.BucketProps{
		BucketName:        jsii.String(ref.Physical),
		EnforceSSL:        jsii.Bool(true),
		MinimumTLSVersion: jsii.Number(1.2),
		BlockPublicAccess: awss3.BlockPublicAccess_BLOCK_ALL(),
		ObjectOwnership:   awss3.ObjectOwnership_BUCKET_OWNER_ENFORCED,
		Versioned:         jsii.Bool(true),
		RemovalPolicy:     d.removal(),
		AutoDeleteObjects: jsii.Bool(d.cfg.Data.DestroyOnDelete),
	}
}

// accessLogBucket receives the server access logs of the other buckets. S3
// delivers access logs only to SSE-S3 buckets.
func (d *DataStack) accessLogBucket(ref config.BucketRef) awss3.IBucket {
	days := d.cfg.Data.AccessLogs.ExpireDays
	props := d.bucketProps(ref)
	props.Encryption = awss3.BucketEncryption_S3_MANAGED
	props.LifecycleRules = &[]*awss3.LifecycleRule{{
		Id:                          jsii.String("expire-logs"),
		Expiration:                  awscdk.Duration_Days(jsii.Number(days)),
		NoncurrentVersionExpiration: awscdk.Duration_Days(jsii.Number(1)),
	}, {
		Id:                        jsii.String("remove-delete-markers"),
		ExpiredObjectDeleteMarker: jsii.Bool(true),
	}}
	b := awss3.NewBucket(d.Stack, jsii.String(bucketConstructID(ref)), props)
	cdknag.NagSuppressions_AddResourceSuppressions(b, &[]*cdknag.NagPackSuppression{{
		Id:     jsii.String("AwsSolutions-S1"),
		Reason: jsii.String("This is the access log bucket of the instance: logging its own accesses into itself would loop."),
	}}, jsii.Bool(false))
	d.output(ref, b, fmt.Sprintf("S3 server access logs of the instance's buckets, kept %d days", days))
	return b
}

// bucket makes one dataset, team, shared or scratch bucket.
func (d *DataStack) bucket(ref config.BucketRef, logs awss3.IBucket) awss3.IBucket {
	s := d.spec(ref)
	id := bucketConstructID(ref)
	props := d.bucketProps(ref)
	props.ServerAccessLogsBucket = logs
	props.ServerAccessLogsPrefix = jsii.String(string(ref.Kind) + "/" + ref.Physical + "/")
	props.LifecycleRules = bucketLifecycleRules(s)
	if s.public {
		// Publishing is the point of a public dataset bucket: its policy
		// may grant anonymous reads, while ACLs stay blocked.
		props.BlockPublicAccess = awss3.NewBlockPublicAccess(&awss3.BlockPublicAccessOptions{
			BlockPublicAcls: jsii.Bool(true), IgnorePublicAcls: jsii.Bool(true),
			BlockPublicPolicy: jsii.Bool(false), RestrictPublicBuckets: jsii.Bool(false),
		})
	}
	if d.cfg.BucketEncryption(ref) == "kms" {
		key := awskms.NewKey(d.Stack, jsii.String(id+"Key"), &awskms.KeyProps{
			Alias:             jsii.String("alias/" + d.cfg.Name + "/" + ref.Physical),
			Description:       jsii.String("Encrypts S3 bucket " + ref.Physical),
			EnableKeyRotation: jsii.Bool(true),
			RemovalPolicy:     d.removal(),
		})
		d.keys[ref.Physical] = key
		props.Encryption = awss3.BucketEncryption_KMS
		props.EncryptionKey = key
		// A bucket key cuts KMS requests (and their cost) by orders of
		// magnitude, and makes the encryption context the bucket's ARN,
		// which the policies below rely on.
		props.BucketKeyEnabled = jsii.Bool(true)
	} else {
		props.Encryption = awss3.BucketEncryption_S3_MANAGED
	}
	b := awss3.NewBucket(d.Stack, jsii.String(id), props)

	if s.public {
		b.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:        jsii.String("PublicReadObjects"),
			Principals: &[]awsiam.IPrincipal{awsiam.NewAnyPrincipal()},
			Actions:    jsii.Strings("s3:GetObject"),
			Resources:  jsii.Strings(*b.ArnForObjects(jsii.String("*"))),
		}))
		// ListBucket makes a missing object answer 404 instead of 403;
		// the CloudCatalog client skips a missing year only on 404.
		b.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:        jsii.String("PublicList"),
			Principals: &[]awsiam.IPrincipal{awsiam.NewAnyPrincipal()},
			Actions:    jsii.Strings("s3:ListBucket"),
			Resources:  jsii.Strings(*b.BucketArn()),
		}))
		cdknag.NagSuppressions_AddResourceSuppressions(b, &[]*cdknag.NagPackSuppression{{
			Id:     jsii.String("AwsSolutions-S2"),
			Reason: jsii.String("A public dataset bucket publishes heliophysics data to anyone (data." + "datasets." + ref.Name + ".public: true); ACLs stay blocked and only reads are granted."),
		}}, jsii.Bool(false))
	}
	if len(s.readerAccounts) > 0 {
		var principals []awsiam.IPrincipal
		for _, a := range s.readerAccounts {
			principals = append(principals, awsiam.NewAccountPrincipal(jsii.String(a)))
		}
		b.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:        jsii.String("ReaderAccounts"),
			Principals: &principals,
			Actions:    jsii.Strings(append(s3ReadObjectActions, s3ReadBucketActions...)...),
			Resources:  jsii.Strings(*b.BucketArn(), *b.ArnForObjects(jsii.String("*"))),
		}))
		// A partner account may use the bucket's key only through S3 and
		// for this bucket's objects, not to decrypt anything it can reach
		// directly with the key.
		if key, ok := d.keys[ref.Physical]; ok {
			key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid:        jsii.String("ReaderAccountsThroughS3"),
				Principals: &principals,
				Actions:    jsii.Strings("kms:Decrypt"),
				Resources:  jsii.Strings("*"),
				Conditions: &map[string]any{
					"StringEquals": map[string]any{"kms:ViaService": "s3." + *awscdk.Aws_REGION() + ".amazonaws.com"},
					"StringLike":   map[string]any{"kms:EncryptionContext:aws:s3:arn": []string{d.bucketARN(ref.Physical), d.bucketARN(ref.Physical) + "/*"}},
				},
			}), nil)
		}
	}
	if s.requesterPays {
		d.requesterPays(id, ref.Physical, b)
	}
	for _, st := range d.denyStatements(ref, b) {
		b.AddToResourcePolicy(st)
	}
	d.output(ref, b, s.description)
	return b
}

func bucketLifecycleRules(s bucketSpec) *[]*awss3.LifecycleRule {
	rules := []*awss3.LifecycleRule{{
		Id:                                  jsii.String("abort-incomplete-uploads"),
		AbortIncompleteMultipartUploadAfter: awscdk.Duration_Days(jsii.Number(7)),
	}}
	if s.expireDays > 0 {
		rules = append(rules, &awss3.LifecycleRule{
			Id:         jsii.String("expire-objects"),
			Expiration: awscdk.Duration_Days(jsii.Number(s.expireDays)),
		})
	}
	if s.noncurrentDays > 0 {
		rules = append(rules, &awss3.LifecycleRule{
			Id:                          jsii.String("expire-noncurrent-versions"),
			NoncurrentVersionExpiration: awscdk.Duration_Days(jsii.Number(s.noncurrentDays)),
		}, &awss3.LifecycleRule{
			Id:                        jsii.String("remove-delete-markers"),
			ExpiredObjectDeleteMarker: jsii.Bool(true),
		})
	}
	if s.tiering {
		rules = append(rules, &awss3.LifecycleRule{
			Id: jsii.String("intelligent-tiering"),
			Transitions: &[]*awss3.Transition{{
				StorageClass:    awss3.StorageClass_INTELLIGENT_TIERING(),
				TransitionAfter: awscdk.Duration_Days(jsii.Number(0)),
			}},
		})
	}
	return &rules
}

// requesterPays switches a bucket to requester-pays. CloudFormation has no
// property for it, so an SDK call at deploy time sets it, and removing the
// option (which deletes the call's resource) sets the bucket back.
func (d *DataStack) requesterPays(id, name string, b awss3.IBucket) {
	payer := func(who string) *customresources.AwsSdkCall {
		return &customresources.AwsSdkCall{
			Service: jsii.String("S3"),
			Action:  jsii.String("putBucketRequestPayment"),
			Parameters: map[string]any{
				"Bucket":                      name,
				"RequestPaymentConfiguration": map[string]any{"Payer": who},
			},
			PhysicalResourceId: customresources.PhysicalResourceId_Of(jsii.String(name + "-requester-pays")),
		}
	}
	cr := customresources.NewAwsCustomResource(d.Stack, jsii.String(id+"RequesterPays"), &customresources.AwsCustomResourceProps{
		OnCreate: payer("Requester"),
		OnUpdate: payer("Requester"),
		OnDelete: payer("BucketOwner"),
		Policy: customresources.AwsCustomResourcePolicy_FromStatements(&[]awsiam.PolicyStatement{
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Actions:   jsii.Strings("s3:PutBucketRequestPayment"),
				Resources: jsii.Strings(*b.BucketArn()),
			}),
		}),
		// The SDK bundled with the Lambda runtime has this call; fetching
		// the latest at deploy time would make deploys depend on npm.
		InstallLatestAwsSdk: jsii.Bool(false),
	})
	cr.Node().AddDependency(b)
	d.suppressCustomResourceProvider()
}

// suppressCustomResourceProvider justifies the findings on the Lambda that
// CDK shares between all AwsCustomResources of the stack.
func (d *DataStack) suppressCustomResourceProvider() {
	if d.providerSuppressed {
		return
	}
	d.providerSuppressed = true
	// The id CDK gives the singleton Lambda of AwsCustomResource.
	provider := d.Stack.Node().TryFindChild(jsii.String("AWS679f53fac002430cb0da5b7982bd2287"))
	cdknag.NagSuppressions_AddResourceSuppressions(provider, &[]*cdknag.NagPackSuppression{{
		Id:     jsii.String("AwsSolutions-IAM4"),
		Reason: jsii.String("CDK's AwsCustomResource Lambda uses AWSLambdaBasicExecutionRole only to write its own logs."),
		AppliesTo: &[]any{
			"Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
		},
	}, {
		Id:     jsii.String("AwsSolutions-L1"),
		Reason: jsii.String("The runtime of CDK's AwsCustomResource Lambda is chosen by the pinned CDK version; it runs only during deploys."),
	}}, jsii.Bool(true))
}

// Actions the bucket policies deny to everybody but the principals that
// need them. The IAM policies grant less than this; the denials are a second
// line behind them, against broad grants elsewhere in the account (an
// s3:* policy, a mistaken statement) that would otherwise reach a team's
// data or change a published dataset. Bucket configuration (policy,
// notifications, request payment) is not denied: CloudFormation and the
// stack's custom resources change it, and the account's administrators
// must always be able to repair a policy.
var (
	teamDenyActions    = []string{"s3:GetObject*", "s3:PutObject*", "s3:DeleteObject*", "s3:ListBucket*", "s3:ListMultipartUploadParts", "s3:AbortMultipartUpload", "s3:RestoreObject"}
	datasetDenyActions = []string{"s3:PutObject*", "s3:DeleteObject*"}
)

// denyStatements keep a team's bucket to the team, and a dataset's writes to
// its writers. The exempt principals are named by aws:PrincipalArn, which
// is a role's ARN for all of its sessions; the assumed-role form is listed
// too, as a session ARN is what other condition contexts carry. DaskHub's
// pods assume the team roles themselves (through EKS Pod Identity), so the
// team role's ARN covers them too. No AWS service principal is exempt: none
// acts on these buckets directly (access logs go to the log bucket, which
// has no such denial).
func (d *DataStack) denyStatements(ref config.BucketRef, b awss3.IBucket) []awsiam.PolicyStatement {
	var roles []string
	var actions, resources []string
	switch ref.Kind {
	case config.TeamKind:
		roles = []string{d.TeamRoleName(ref.Name)}
		actions, resources = teamDenyActions, []string{*b.BucketArn(), *b.ArnForObjects(jsii.String("*"))}
	case config.DatasetKind:
		for _, w := range slices.Sorted(slices.Values(d.cfg.Data.Datasets[ref.Name].Writers)) {
			roles = append(roles, d.TeamRoleName(w))
		}
		if d.registryWrites(ref.Name) {
			roles = append(roles, IndexerRoleName(d.cfg.Name))
		}
		actions, resources = datasetDenyActions, []string{*b.ArnForObjects(jsii.String("*"))}
	default:
		return nil
	}
	var exempt []string
	for _, r := range roles {
		exempt = append(exempt, roleARN(r), d.sessionARN(r))
	}
	for _, arn := range d.cfg.Data.AdminRoleArns {
		exempt = append(exempt, arn, adminSessionARN(arn))
	}
	if arn := d.autoDeleteRoleARN(); arn != "" {
		exempt = append(exempt, arn)
	}
	st := awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String(map[config.BucketKind]string{config.TeamKind: "TeamOnly", config.DatasetKind: "WritersOnly"}[ref.Kind]),
		Effect:     awsiam.Effect_DENY,
		Principals: &[]awsiam.IPrincipal{awsiam.NewAnyPrincipal()},
		Actions:    jsii.Strings(actions...),
		Resources:  jsii.Strings(resources...),
	})
	if len(exempt) > 0 {
		st.AddCondition(jsii.String("ArnNotLike"), map[string]any{"aws:PrincipalArn": exempt})
	}
	return []awsiam.PolicyStatement{st}
}

// registryWrites tells whether the registry's indexer writes into the
// dataset bucket of this name: index files and catalog.json of the
// datasets it holds, or reports and copies when it is the ingest area.
func (d *DataStack) registryWrites(dataset string) bool {
	r := d.cfg.Registry
	if !r.Enabled {
		return false
	}
	if r.Ingest.Bucket == dataset {
		return true
	}
	for _, ds := range r.Datasets {
		if ds.Bucket == dataset {
			return true
		}
	}
	return false
}

// arn is an ARN in the stack's partition, region and account.
func arn(service, resource string) string {
	return "arn:" + *awscdk.Aws_PARTITION() + ":" + service + ":" + *awscdk.Aws_REGION() + ":" + *awscdk.Aws_ACCOUNT_ID() + ":" + resource
}

// roleARN is the ARN of the account's role of this name, such as the data
// stack's machine roles (each in an instance profile of the same name).
func roleARN(name string) string {
	return "arn:" + *awscdk.Aws_PARTITION() + ":iam::" + *awscdk.Aws_ACCOUNT_ID() + ":role/" + name
}

// sessionARN matches every session of the account's role of this name.
func (d *DataStack) sessionARN(name string) string {
	return "arn:" + *awscdk.Aws_PARTITION() + ":sts::" + *awscdk.Aws_ACCOUNT_ID() + ":assumed-role/" + name + "/*"
}

// adminSessionARN matches every session of a validated role ARN: session
// ARNs carry the role's name without its path.
func adminSessionARN(roleARN string) string {
	parts := strings.SplitN(roleARN, ":", 6)
	name := parts[5][strings.LastIndex(parts[5], "/")+1:]
	return strings.Join(parts[:2], ":") + ":sts::" + parts[4] + ":assumed-role/" + name + "/*"
}

// autoDeleteRoleARN is the role of CDK's provider that empties buckets
// before the stack deletes them (destroyOnDelete), or "" without one: it
// lists and deletes every object version, so the denials must spare it.
func (d *DataStack) autoDeleteRoleARN() string {
	provider := d.Stack.Node().TryFindChild(jsii.String("Custom::S3AutoDeleteObjectsCustomResourceProvider"))
	if provider == nil {
		return ""
	}
	role, ok := provider.Node().TryFindChild(jsii.String("Role")).(awscdk.CfnResource)
	if !ok {
		panic("stacks: CDK's auto-delete provider has no role construct; the bucket policies could not exempt it")
	}
	return *awscdk.Token_AsString(role.GetAtt(jsii.String("Arn"), awscdk.ResolutionTypeHint_STRING), nil)
}

// output names a bucket in the stack outputs, for users and scripts.
func (d *DataStack) output(ref config.BucketRef, b awss3.IBucket, description string) {
	awscdk.NewCfnOutput(d.Stack, jsii.String(bucketConstructID(ref)+"Name"), &awscdk.CfnOutputProps{
		Value:       b.BucketName(),
		Description: jsii.String(description),
	})
}

// S3 actions granted by the access policies. Deleting an object version is
// not among them: a deleted or overwritten object stays recoverable until
// its bucket's noncurrent-version expiry.
var (
	s3ReadObjectActions  = []string{"s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectAttributes", "s3:GetObjectTagging"}
	s3ReadBucketActions  = []string{"s3:ListBucket", "s3:ListBucketVersions", "s3:GetBucketLocation"}
	s3WriteObjectActions = []string{"s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts", "s3:PutObjectTagging"}
	s3WriteBucketActions = []string{"s3:ListBucketMultipartUploads"}
)

// bucketARN is a bucket's ARN from its physical name: no reference to the
// bucket construct, so that it can be used in any stack.
func (d *DataStack) bucketARN(name string) string {
	return "arn:" + *awscdk.Aws_PARTITION() + ":s3:::" + name
}

// encryption is the setting of the bucket with this physical name.
func (d *DataStack) encryption(physical string) string {
	for _, ref := range d.cfg.Buckets() {
		if ref.Physical == physical && ref.Kind != config.AccessLogKind {
			return d.cfg.BucketEncryption(ref)
		}
	}
	return "s3"
}

// accessStatements grants read (or read and write) access to the buckets
// named, and the use of the KMS keys of those that have one.
func (d *DataStack) accessStatements(sid string, write bool, names []string) []awsiam.PolicyStatement {
	if len(names) == 0 {
		return nil
	}
	var buckets, objects, kmsBuckets []string
	for _, n := range names {
		buckets = append(buckets, d.bucketARN(n))
		objects = append(objects, d.bucketARN(n)+"/*")
		if d.encryption(n) == "kms" {
			kmsBuckets = append(kmsBuckets, n)
		}
	}
	objActions, bucketActions, kmsActions := s3ReadObjectActions, s3ReadBucketActions, []string{"kms:Decrypt"}
	if write {
		objActions = append(append([]string{}, objActions...), s3WriteObjectActions...)
		bucketActions = append(append([]string{}, bucketActions...), s3WriteBucketActions...)
		kmsActions = []string{"kms:Decrypt", "kms:GenerateDataKey"}
	}
	out := []awsiam.PolicyStatement{
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid: jsii.String(sid + "Buckets"), Actions: jsii.Strings(bucketActions...), Resources: jsii.Strings(buckets...),
		}),
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid: jsii.String(sid + "Objects"), Actions: jsii.Strings(objActions...), Resources: jsii.Strings(objects...),
		}),
	}
	if len(kmsBuckets) > 0 {
		out = append(out, d.bucketKeyStatement(sid+"Keys", kmsActions, kmsBuckets))
	}
	return out
}

// bucketKeyStatement grants actions on the KMS keys of the buckets named,
// through S3 only. A key's id is not known until deploy, so the grant is
// scoped by the buckets' encryption context instead.
func (d *DataStack) bucketKeyStatement(sid string, actions, names []string) awsiam.PolicyStatement {
	var context []string
	for _, n := range names {
		context = append(context, d.bucketARN(n), d.bucketARN(n)+"/*")
	}
	return awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String(sid),
		Actions:   jsii.Strings(actions...),
		Resources: jsii.Strings(arn("kms", "key/*")),
		Conditions: &map[string]any{
			"StringEquals": map[string]any{"kms:ViaService": "s3." + *awscdk.Aws_REGION() + ".amazonaws.com"},
			"StringLike":   map[string]any{"kms:EncryptionContext:aws:s3:arn": context},
		},
	})
}

// UserPolicyStatements grant what every user of the instance may do: read
// every dataset bucket, read and write the shared and scratch buckets. Each
// call builds new statements from names known at synth time, for use in
// any stack (for a role of that stack).
func (d *DataStack) UserPolicyStatements() []awsiam.PolicyStatement {
	var datasets []string
	for _, name := range slices.Sorted(maps.Keys(d.cfg.Data.Datasets)) {
		datasets = append(datasets, d.cfg.DatasetBucketName(name))
	}
	out := d.accessStatements("ReadDatasets", false, datasets)
	return append(out, d.accessStatements("ReadWriteShared", true, []string{d.cfg.SharedBucketName(), d.cfg.ScratchBucketName()})...)
}

// teamOnlyStatements grant what a member of team may do beyond
// UserPolicyStatements: read and write on the team's bucket and on the
// dataset buckets that list the team among their writers.
func (d *DataStack) teamOnlyStatements(team string) []awsiam.PolicyStatement {
	d.mustBeTeam(team)
	var names []string
	if d.cfg.Data.TeamBuckets.Enabled {
		names = append(names, d.cfg.TeamBucketName(team))
	}
	for _, name := range slices.Sorted(maps.Keys(d.cfg.Data.Datasets)) {
		for _, w := range d.cfg.Data.Datasets[name].Writers {
			if w == team {
				names = append(names, d.cfg.DatasetBucketName(name))
			}
		}
	}
	return d.accessStatements("Team", true, names)
}

func (d *DataStack) mustBeTeam(team string) {
	if _, ok := d.cfg.Teams[team]; !ok {
		panic(fmt.Sprintf("stacks: %q is not a team of instance %s", team, d.cfg.Name))
	}
}

// UserRoleName is the physical name of the instance-wide user role (and
// its instance profile), assumable by EC2 and by EKS Pod Identity.
func (d *DataStack) UserRoleName() string { return d.cfg.Name + "-user" }

// TeamRoleName is the physical name of a team's role (and of its instance
// profile), assumable by EC2 (the portal's VMs) and by EKS Pod Identity
// (DaskHub's notebook pods).
func (d *DataStack) TeamRoleName(team string) string {
	d.mustBeTeam(team)
	return d.cfg.Name + "-team-" + team
}

// UserPolicyName is the physical name of the managed policy holding
// UserPolicyStatements.
func (d *DataStack) UserPolicyName() string { return d.cfg.Name + "-data-user" }

// UserRole returns the user role for use in scope's stack (for an EKS Pod
// Identity association, say), imported by name, and makes that stack
// depend on this one.
func (d *DataStack) UserRole(scope constructs.Construct) awsiam.IRole {
	return d.importRole(scope, "DataUserRole", d.UserRoleName())
}

// TeamRole returns team's role for use in scope's stack, imported by name,
// and makes that stack depend on this one.
func (d *DataStack) TeamRole(scope constructs.Construct, team string) awsiam.IRole {
	return d.importRole(scope, "DataTeamRole"+nameToID(team), d.TeamRoleName(team))
}

// Roles returns the user role and every team's role (in team name order)
// for use in scope's stack, to attach a managed policy of that stack to all
// of them, and makes that stack depend on this one.
func (d *DataStack) Roles(scope constructs.Construct) []awsiam.IRole {
	roles := []awsiam.IRole{d.UserRole(scope)}
	for _, team := range slices.Sorted(maps.Keys(d.cfg.Teams)) {
		roles = append(roles, d.TeamRole(scope, team))
	}
	return roles
}

// UserPolicy returns the managed policy of every user for use in scope's
// stack (to attach to a role made there), and makes that stack depend on
// this one.
func (d *DataStack) UserPolicy(scope constructs.Construct) awsiam.IManagedPolicy {
	return d.imported(scope, "DataUserPolicy", func(id *string) any {
		return awsiam.ManagedPolicy_FromManagedPolicyName(scope, id, jsii.String(d.UserPolicyName()))
	}).(awsiam.IManagedPolicy)
}

func (d *DataStack) importRole(scope constructs.Construct, id, name string) awsiam.IRole {
	return d.imported(scope, id, func(id *string) any {
		// Immutable: grants made in another stack must not turn into
		// inline policies silently added to a role this stack owns; attach
		// a managed policy of that stack instead (ManagedPolicyProps.Roles).
		return awsiam.Role_FromRoleName(scope, id, jsii.String(name), &awsiam.FromRoleNameOptions{Mutable: jsii.Bool(false)})
	}).(awsiam.IRole)
}

// imported returns what build imports into scope under id, making it only
// once per scope, and makes scope's stack depend on this one.
func (d *DataStack) imported(scope constructs.Construct, id string, build func(id *string) any) any {
	if s := awscdk.Stack_Of(scope); s != d.Stack {
		s.AddStackDependency(d.Stack, jsii.String("uses the data stack's buckets and roles"))
	}
	key := *scope.Node().Path() + "/" + id
	if v, ok := d.imports[key]; ok {
		return v
	}
	v := build(jsii.String(id))
	d.imports[key] = v
	return v
}

// DatasetBucket returns a dataset bucket for use in scope's stack (the
// registry's indexer, say), imported by name.
func (d *DataStack) DatasetBucket(scope constructs.Construct, name string) awss3.IBucket {
	if _, ok := d.cfg.Data.Datasets[name]; !ok {
		panic(fmt.Sprintf("stacks: %q is not a dataset of instance %s", name, d.cfg.Name))
	}
	return d.imported(scope, "DatasetBucket"+nameToID(name), func(id *string) any {
		return awss3.Bucket_FromBucketName(scope, id, jsii.String(d.cfg.DatasetBucketName(name)))
	}).(awss3.IBucket)
}

// roles makes the user role and one role per team, each with an instance
// profile of the same name for the portal's VMs, and each trusted by EKS
// Pod Identity for DaskHub's pods.
func (d *DataStack) roles() {
	userStatements := d.UserPolicyStatements()
	userPolicy := awsiam.NewManagedPolicy(d.Stack, jsii.String("UserPolicy"), &awsiam.ManagedPolicyProps{
		ManagedPolicyName: jsii.String(d.UserPolicyName()),
		Description:       jsii.String("Every user of HelioCloud " + d.cfg.Name + ": read datasets, read and write shared and scratch"),
		Statements:        &userStatements,
	})
	d.suppressObjectWildcards(userPolicy)
	d.role("UserRole", d.UserRoleName(), values.UserServiceAccount, "Every user of HelioCloud "+d.cfg.Name, userPolicy)
	for _, team := range slices.Sorted(maps.Keys(d.cfg.Teams)) {
		policies := []awsiam.IManagedPolicy{userPolicy}
		if st := d.teamOnlyStatements(team); len(st) > 0 {
			p := awsiam.NewManagedPolicy(d.Stack, jsii.String("TeamPolicy"+nameToID(team)), &awsiam.ManagedPolicyProps{
				ManagedPolicyName: jsii.String(d.cfg.Name + "-data-team-" + team),
				Description:       jsii.String("Team " + team + " of HelioCloud " + d.cfg.Name + ": read and write its own buckets"),
				Statements:        &st,
			})
			d.suppressObjectWildcards(p)
			policies = append(policies, p)
		}
		d.role("TeamRole"+nameToID(team), d.TeamRoleName(team), values.TeamServiceAccount(team), "Members of team "+team+" of HelioCloud "+d.cfg.Name, policies...)
	}
}

// role makes a role for machines and, with DaskHub, for the pods of the
// hub's service account podAccount.
func (d *DataStack) role(id, name, podAccount, description string, policies ...awsiam.IManagedPolicy) {
	role := awsiam.NewRole(d.Stack, jsii.String(id), &awsiam.RoleProps{
		RoleName:        jsii.String(name),
		Description:     jsii.String(description),
		AssumedBy:       awsiam.NewServicePrincipal(jsii.String("ec2.amazonaws.com"), nil),
		ManagedPolicies: &policies,
	})
	// EKS Pod Identity tags the session with the pod's namespace and
	// service account, so it needs sts:TagSession besides AssumeRole.
	if d.cfg.Daskhub.Enabled {
		role.AssumeRolePolicy().AddStatements(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("pods.eks.amazonaws.com"), nil)},
			Actions:    jsii.Strings("sts:AssumeRole", "sts:TagSession"),
			Conditions: podTrustConditions(d.cfg.Name, d.cfg.Daskhub.Namespace, podAccount),
		}))
	}
	awsiam.NewInstanceProfile(d.Stack, jsii.String(id+"Profile"), &awsiam.InstanceProfileProps{
		InstanceProfileName: jsii.String(name),
		Role:                role,
	})
	awscdk.NewCfnOutput(d.Stack, jsii.String(id+"Arn"), &awscdk.CfnOutputProps{
		Value:       role.RoleArn(),
		Description: jsii.String(description),
	})
}

// suppressObjectWildcards justifies the only wildcards of the access
// policies: objects within named buckets, and KMS keys limited by
// encryption context to those buckets.
func (d *DataStack) suppressObjectWildcards(p awsiam.ManagedPolicy) {
	cdknag.NagSuppressions_AddResourceSuppressions(p, &[]*cdknag.NagPackSuppression{{
		Id:     jsii.String("AwsSolutions-IAM5"),
		Reason: jsii.String("Object access is granted on bucket/* of the instance's named buckets; KMS use is limited by kms:ViaService and the buckets' encryption context because key ids are only known at deploy time."),
		AppliesTo: &[]any{
			&cdknag.RegexAppliesTo{Regex: jsii.String(`/^Resource::arn:<AWS::Partition>:s3:::[a-z0-9.-]+\/\*$/g`)},
			"Resource::arn:<AWS::Partition>:kms:<AWS::Region>:<AWS::AccountId>:key/*",
		},
	}}, jsii.Bool(false))
}
