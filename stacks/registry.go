package stacks

import (
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambdaeventsources"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3notifications"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/heliocloud/heliocloud-go/config"
	"github.com/heliocloud/heliocloud-go/constructs/golambda"
	"github.com/heliocloud/heliocloud-go/registry/registryconfig"
)

// RegistryStack is the CloudCatalog indexer: S3 events of each dataset
// prefix go to an encrypted SQS queue, which feeds the indexer Lambda in
// batches; messages that keep failing land in a dead-letter queue whose
// alarm tells the admins.
type RegistryStack struct {
	Stack awscdk.Stack
	// Queue receives the datasets' object events.
	Queue awssqs.Queue
	// DeadLetters holds events that failed MaxReceiveCount times.
	DeadLetters awssqs.Queue
	// Indexer is the Lambda function (also invoked directly to reindex or ingest).
	Indexer *golambda.Function
}

func init() {
	builders["registry"] = func(scope constructs.Construct, inst *Instance) { NewRegistryStack(scope, inst) }
}

// IndexerRoleName is the physical name of the indexer's role.
func IndexerRoleName(instance string) string { return instance + "-registry-indexer" }

// indexerTimeout is the Lambda maximum, since a direct reindex of a large
// dataset lists every object.
const indexerTimeoutMinutes = 15

// indexerScratchMiB is the indexer's /tmp, Lambda's largest: rebuilds spill
// rows there (see NewRegistryStack).
const indexerScratchMiB = 10240

// NewRegistryStack builds the queue, the indexer and the bucket notifications.
func NewRegistryStack(scope constructs.Construct, inst *Instance) *RegistryStack {
	cfg := inst.Config
	x := &cfg.Registry
	stack := newStack(scope, inst, "registry", "CloudCatalog indexer keeping catalog.json and the index files of each dataset up to date")
	r := &RegistryStack{Stack: stack}

	// A customer managed key, because S3 can only send events to an
	// encrypted queue whose key policy lets it (AWS managed keys cannot).
	key := awskms.NewKey(stack, jsii.String("QueueKey"), &awskms.KeyProps{
		Description:       jsii.String(cfg.Name + " registry: encrypts the queued S3 events and alarm notifications"),
		EnableKeyRotation: jsii.Bool(true),
	})
	r.DeadLetters = awssqs.NewQueue(stack, jsii.String("DeadLetters"), &awssqs.QueueProps{
		Encryption:          awssqs.QueueEncryption_KMS,
		EncryptionMasterKey: key,
		EnforceSSL:          jsii.Bool(true),
		RetentionPeriod:     awscdk.Duration_Days(jsii.Number(14)),
	})
	r.Queue = awssqs.NewQueue(stack, jsii.String("Events"), &awssqs.QueueProps{
		Encryption:          awssqs.QueueEncryption_KMS,
		EncryptionMasterKey: key,
		EnforceSSL:          jsii.Bool(true),
		// Lambda requires at least the function's timeout; the margin
		// keeps a slow batch from being handed out twice at once.
		VisibilityTimeout: awscdk.Duration_Minutes(jsii.Number(indexerTimeoutMinutes + 5)),
		DeadLetterQueue:   &awssqs.DeadLetterQueue{Queue: r.DeadLetters, MaxReceiveCount: jsii.Number(x.Indexer.MaxReceiveCount)},
	})

	r.Indexer = golambda.New(stack, "Indexer", &golambda.Props{
		Package:     "./lambda/registry",
		Description: "Indexes the datasets of " + cfg.Name + " in the CloudCatalog format; invoke with {\"action\":\"reindex\",\"all\":true} to rebuild",
		Environment: map[string]string{registryconfig.EnvConfig: cfg.RegistryJSON()},
		MemoryMiB:   x.IndexerMemoryMiB(),
		// A rebuild spills each year's rows to /tmp once they pass 32 MB
		// (registry/spill.go): about 15 bytes a file plus its key below the
		// dataset's prefix, 55 for keys like
		// 2010/05/13/aia_0094_20100513_000002.fits (docs/registry.md).
		// Lambda's default 512 MB holds some 9 million such files, its
		// largest /tmp about 190 million. Beyond 512 MB it is billed only
		// while the function runs ($0.0000000309 a GB-second: under a tenth
		// of a cent for an hour of rebuilding).
		ScratchMiB:   indexerScratchMiB,
		Timeout:      awscdk.Duration_Minutes(jsii.Number(indexerTimeoutMinutes)),
		LogRetention: Retention(x.Indexer.LogRetentionDays),
	})
	// A fixed name, so that the data stack's bucket policies can let this
	// role (and no other) write index files without a reference to it.
	r.Indexer.Role.Node().DefaultChild().(awsiam.CfnRole).SetRoleName(jsii.String(IndexerRoleName(cfg.Name)))
	r.Indexer.Function.AddEventSource(awslambdaeventsources.NewSqsEventSource(r.Queue, &awslambdaeventsources.SqsEventSourceProps{
		BatchSize:               jsii.Number(x.Indexer.BatchSize),
		MaxBatchingWindow:       awscdk.Duration_Seconds(jsii.Number(x.Indexer.BatchWindowSeconds)),
		ReportBatchItemFailures: jsii.Bool(true),
		MaxConcurrency:          jsii.Number(x.Indexer.MaxConcurrency),
	}))
	r.grant(inst)
	r.notifications(inst, key)
	r.alarm(inst, key)

	awscdk.NewCfnOutput(stack, jsii.String("IndexerFunction"), &awscdk.CfnOutputProps{
		Value:       r.Indexer.Function.FunctionName(),
		Description: jsii.String("Invoke with {\"action\":\"reindex\",\"dataset\":\"<id>\"} (or \"all\": true) to rebuild indexes, or {\"action\":\"ingest\",\"source\":\"s3://...\"}"),
	})
	awscdk.NewCfnOutput(stack, jsii.String("DeadLetterQueue"), &awscdk.CfnOutputProps{
		Value:       r.DeadLetters.QueueUrl(),
		Description: jsii.String("S3 events the indexer failed on; after fixing the cause, redrive them to the events queue"),
	})
	return r
}

// notifications sends the created and removed events of each dataset
// prefix to the queue. The buckets belong to the data stack, so CDK updates
// their notification configuration through a custom resource that keeps
// notifications it did not make.
//
// The destination lets s3.amazonaws.com use the queue's key with no
// condition; the override limits it to this account's dataset buckets, so
// no other bucket's events can be encrypted into, or read from, this
// queue's key. CDK gives no handle on that statement, so the override names
// its place in the key policy (third: after the account's own and the first
// bucket's send grant, which CDK conditions on that bucket's ARN);
// TestRegistryStack fails if any statement for S3 is left without a
// condition.
func (r *RegistryStack) notifications(inst *Instance, key awskms.Key) {
	cfg := inst.Config
	dest := awss3notifications.NewSqsDestination(r.Queue)
	var buckets []string
	for _, name := range uniqueSorted(registryBuckets(cfg)) {
		buckets = append(buckets, "arn:"+*awscdk.Aws_PARTITION()+":s3:::"+cfg.DatasetBucketName(name))
	}
	if len(buckets) > 0 {
		key.Node().DefaultChild().(awskms.CfnKey).AddPropertyOverride(jsii.String("KeyPolicy.Statement.2.Condition"), map[string]any{
			"StringEquals": map[string]any{"aws:SourceAccount": *awscdk.Aws_ACCOUNT_ID()},
			"ArnLike":      map[string]any{"aws:SourceArn": buckets},
		})
	}
	for _, id := range slices.Sorted(maps.Keys(cfg.Registry.Datasets)) {
		ds := cfg.Registry.Datasets[id]
		bucket := inst.Data.DatasetBucket(r.Stack, ds.Bucket)
		filter := &awss3.NotificationKeyFilter{}
		if p := cfg.Registry.DatasetPrefix(id); p != "" {
			filter.Prefix = jsii.String(p)
		}
		bucket.AddEventNotification(awss3.EventType_OBJECT_CREATED, dest, filter)
		bucket.AddEventNotification(awss3.EventType_OBJECT_REMOVED, dest, filter)
	}
	handler := r.Stack.Node().TryFindChild(jsii.String("BucketNotificationsHandler050a0587b7544547bf325f094a3db834"))
	if handler == nil {
		return
	}
	cdknag.NagSuppressions_AddResourceSuppressions(handler, &[]*cdknag.NagPackSuppression{{
		Id:     jsii.String("AwsSolutions-IAM4"),
		Reason: jsii.String("CDK's bucket-notifications handler uses AWSLambdaBasicExecutionRole only to write its own logs."),
		AppliesTo: &[]any{
			"Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
		},
	}, {
		Id: jsii.String("AwsSolutions-IAM5"),
		Reason: jsii.String("CDK's bucket-notifications handler needs s3:PutBucketNotification on buckets of another stack, " +
			"which it can only name by wildcard; it runs only during deploys."),
		AppliesTo: &[]any{"Resource::*"},
	}}, jsii.Bool(true))
}

// grant gives the indexer exactly what it uses: list and read each dataset
// prefix, read and write the dataset's index files and its bucket's
// catalog.json, and, with an ingest area, read uploads, write their
// reports and copy into the dataset prefixes.
func (r *RegistryStack) grant(inst *Instance) {
	cfg := inst.Config
	x := &cfg.Registry
	bucketARN := inst.Data.bucketARN
	datasetBuckets := map[string]bool{}
	var readObjects, indexObjects, dataObjects []string
	kmsBuckets := map[string]bool{}
	for _, id := range slices.Sorted(maps.Keys(x.Datasets)) {
		ds := x.Datasets[id]
		b := cfg.DatasetBucketName(ds.Bucket)
		prefix, index := x.DatasetPrefix(id), x.DatasetIndexPrefix(id)
		datasetBuckets[b] = true
		readObjects = append(readObjects, bucketARN(b)+"/"+prefix+"*")
		dataObjects = append(dataObjects, bucketARN(b)+"/"+prefix+"*")
		indexObjects = append(indexObjects, bucketARN(b)+"/"+index+id+"_*.csv", bucketARN(b)+"/"+"catalog.json")
		if inst.Data.encryption(b) == "kms" {
			kmsBuckets[b] = true
		}
	}
	ingest := cfg.IngestBucketName()
	if ingest != "" {
		readObjects = append(readObjects, bucketARN(ingest)+"/"+x.Ingest.Prefix+"*")
		if inst.Data.encryption(ingest) == "kms" {
			kmsBuckets[ingest] = true
		}
	}
	role := r.Indexer.Role
	// ListBucket on the whole dataset bucket, not only the prefixes:
	// without it S3 answers 403 instead of 404 to the HEAD of a deleted
	// object, and the indexer could not tell a removal from a refusal.
	var datasetARNs []string
	for _, b := range slices.Sorted(maps.Keys(datasetBuckets)) {
		datasetARNs = append(datasetARNs, bucketARN(b))
	}
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid: jsii.String("ListDatasetBuckets"), Actions: jsii.Strings("s3:ListBucket"), Resources: jsii.Strings(datasetARNs...),
	}))
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid: jsii.String("ReadData"), Actions: jsii.Strings("s3:GetObject"), Resources: jsii.Strings(uniqueSorted(readObjects)...),
	}))
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid: jsii.String("WriteIndexes"), Actions: jsii.Strings("s3:GetObject", "s3:PutObject"), Resources: jsii.Strings(uniqueSorted(indexObjects)...),
	}))
	if ingest != "" {
		p := x.Ingest.Prefix
		role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:        jsii.String("ListIngest"),
			Actions:    jsii.Strings("s3:ListBucket"),
			Resources:  jsii.Strings(bucketARN(ingest)),
			Conditions: &map[string]any{"StringLike": map[string]any{"s3:prefix": []string{p + "*"}}},
		}))
		role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid: jsii.String("WriteIngestReports"), Actions: jsii.Strings("s3:PutObject"), Resources: jsii.Strings(bucketARN(ingest) + "/" + p + "*" + registryconfig.ReportFile),
		}))
		// Ingest copies accepted uploads into the dataset prefixes, large
		// files in parts (a failed copy aborts its upload), with their tags.
		role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("IngestData"),
			Actions:   jsii.Strings("s3:PutObject", "s3:PutObjectTagging", "s3:AbortMultipartUpload"),
			Resources: jsii.Strings(uniqueSorted(dataObjects)...),
		}))
		role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid: jsii.String("ReadIngestTags"), Actions: jsii.Strings("s3:GetObjectTagging"), Resources: jsii.Strings(bucketARN(ingest) + "/" + p + "*"),
		}))
	}
	if len(kmsBuckets) > 0 {
		role.AddToPrincipalPolicy(inst.Data.bucketKeyStatement("BucketKeys", []string{"kms:Decrypt", "kms:GenerateDataKey"}, slices.Sorted(maps.Keys(kmsBuckets))))
	}
	cdknag.NagSuppressions_AddResourceSuppressions(role, &[]*cdknag.NagPackSuppression{{
		Id: jsii.String("AwsSolutions-IAM5"),
		Reason: jsii.String("Object wildcards are each limited to one dataset's prefix, its <id>_*.csv index files, or the ingest prefix; " +
			"the KMS wildcard is limited by encryption context to the dataset buckets that use KMS, through S3 only."),
	}}, jsii.Bool(true))
}

// alarm raises an alarm as soon as one event lands in the dead-letter
// queue, and e-mails it when addresses are configured.
func (r *RegistryStack) alarm(inst *Instance, key awskms.Key) {
	ix := inst.Config.Registry.Indexer
	alarm := awscloudwatch.NewAlarm(r.Stack, jsii.String("DeadLettersAlarm"), &awscloudwatch.AlarmProps{
		AlarmDescription: jsii.String("S3 events the registry indexer could not index after retries: see the indexer's logs, fix, then redrive the dead-letter queue"),
		Metric: r.DeadLetters.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{
			Period: awscdk.Duration_Minutes(jsii.Number(5)), Statistic: jsii.String("Maximum"),
		}),
		Threshold:          jsii.Number(1),
		EvaluationPeriods:  jsii.Number(1),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
		TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
	})
	if len(ix.AlarmEmails) == 0 {
		return
	}
	topic := awssns.NewTopic(r.Stack, jsii.String("Alarms"), &awssns.TopicProps{
		DisplayName: jsii.String(inst.Config.Name + " registry alarms"),
		MasterKey:   key,
		EnforceSSL:  jsii.Bool(true),
	})
	// CloudWatch must be able to use the topic's key to publish.
	key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("CloudWatchAlarms"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("cloudwatch.amazonaws.com"), nil)},
		Actions:    jsii.Strings("kms:Decrypt", "kms:GenerateDataKey*"),
		Resources:  jsii.Strings("*"),
		Conditions: &map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": *awscdk.Aws_ACCOUNT_ID()}},
	}), nil)
	for _, e := range ix.AlarmEmails {
		awssns.NewSubscription(r.Stack, jsii.String("AlarmEmail"+sidPart(e)), &awssns.SubscriptionProps{
			Topic: topic, Protocol: awssns.SubscriptionProtocol_EMAIL, Endpoint: jsii.String(e),
		})
	}
	alarm.AddAlarmAction(awscloudwatchactions.NewSnsAction(topic))
}

func uniqueSorted(list []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range list {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

// sidPart keeps the letters and digits of s, for construct ids.
func sidPart(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// registryBuckets are the dataset buckets of the registry's datasets.
func registryBuckets(cfg *config.Config) []string {
	var out []string
	for _, ds := range cfg.Registry.Datasets {
		out = append(out, ds.Bucket)
	}
	return out
}
