package stacks

import (
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
)

// registryYAML gives the account, so default bucket names end in its
// suffix: sha256("123456789012/us-east-1") begins eb805c6c.
const registryYAML = `name: gsfc
account: "123456789012"
region: us-east-1
data:
  enabled: true
  datasets:
    helio-public: {public: true}
    archive: {encryption: kms}
registry:
  enabled: true
  catalogs:
    helio-public: {name: GSFC public data, contact: data@example.org}
    archive: {name: GSFC archive, contact: data@example.org}
  datasets:
    aia_0094: {title: SDO AIA 94, bucket: helio-public, prefix: sdo/aia/0094/, filetype: fits, time: {layout: "2006/01/02/aia_0094_20060102_150405"}, largestYear: 4000000}
    mms1_fgm: {title: MMS1 FGM, bucket: archive, prefix: mms1/fgm/, indexPrefix: index/, filetype: cdf, time: {layout: "20060102150405"}}
  indexer: {alarmEmails: [ops@example.org]}
`

func TestRegistryStack(t *testing.T) {
	tpl := synthYAML(t, registryYAML, Options{Account: "123456789012", Region: "us-east-1"})["registry"]

	tpl.HasResourceProperties(jsii.String("AWS::Lambda::Function"), map[string]any{
		"Runtime":       "provided.al2023",
		"Architectures": []any{"arm64"},
		"Handler":       "bootstrap",
		"Timeout":       900,
		// Derived from largestYear: 128 MiB + 4,000,000 x 400 bytes, in
		// steps of 64 MiB.
		"MemorySize": 1664,
		// Rebuilds spill rows to /tmp: the largest Lambda allows.
		"EphemeralStorage": map[string]any{"Size": 10240},
		"Environment": map[string]any{"Variables": map[string]any{
			"HELIOCLOUD_REGISTRY": assertions.Match_StringLikeRegexp(jsii.String(`"id":"aia_0094".*"bucket":"gsfc-helio-public-eb805c6c","prefix":"sdo/aia/0094/","indexPrefix":"sdo/aia/"`)),
		}},
	})
	tpl.HasResourceProperties(jsii.String("AWS::Lambda::EventSourceMapping"), map[string]any{
		"BatchSize":                      100,
		"MaximumBatchingWindowInSeconds": 20,
		"FunctionResponseTypes":          []any{"ReportBatchItemFailures"},
		"ScalingConfig":                  map[string]any{"MaximumConcurrency": 5},
	})
	// Both queues encrypted with the stack's key; events retry 5 times.
	tpl.ResourcePropertiesCountIs(jsii.String("AWS::SQS::Queue"), map[string]any{
		"KmsMasterKeyId": map[string]any{"Fn::GetAtt": []any{assertions.Match_StringLikeRegexp(jsii.String("^QueueKey")), "Arn"}},
	}, jsii.Number(2))
	tpl.HasResourceProperties(jsii.String("AWS::SQS::Queue"), map[string]any{
		"RedrivePolicy":     map[string]any{"maxReceiveCount": 5, "deadLetterTargetArn": assertions.Match_AnyValue()},
		"VisibilityTimeout": 1200,
	})
	tpl.HasResourceProperties(jsii.String("AWS::CloudWatch::Alarm"), map[string]any{
		"MetricName":   "ApproximateNumberOfMessagesVisible",
		"Threshold":    1,
		"AlarmActions": assertions.Match_AnyValue(),
	})
	tpl.HasResourceProperties(jsii.String("AWS::SNS::Subscription"), map[string]any{"Endpoint": "ops@example.org", "Protocol": "email"})
	tpl.HasResourceProperties(jsii.String("AWS::Logs::LogGroup"), map[string]any{"RetentionInDays": 365})
	// S3 may use the queue's key to send events, for this account's
	// dataset buckets only.
	tpl.HasResourceProperties(jsii.String("AWS::KMS::Key"), map[string]any{
		"EnableKeyRotation": true,
		"KeyPolicy": map[string]any{"Statement": assertions.Match_ArrayWith(&[]any{map[string]any{
			"Action":    []any{"kms:GenerateDataKey*", "kms:Decrypt"},
			"Effect":    "Allow",
			"Principal": map[string]any{"Service": "s3.amazonaws.com"},
			"Resource":  "*",
			"Condition": map[string]any{
				"StringEquals": map[string]any{"aws:SourceAccount": map[string]any{"Ref": "AWS::AccountId"}},
				"ArnLike": map[string]any{"aws:SourceArn": []any{
					map[string]any{"Fn::Join": []any{"", []any{"arn:", map[string]any{"Ref": "AWS::Partition"}, ":s3:::gsfc-archive-eb805c6c"}}},
					map[string]any{"Fn::Join": []any{"", []any{"arn:", map[string]any{"Ref": "AWS::Partition"}, ":s3:::gsfc-helio-public-eb805c6c"}}},
				}},
			},
		}})},
	})
	// No statement lets S3 use the key without those conditions.
	for _, k := range resources(tpl, "AWS::KMS::Key") {
		for _, st := range props(k)["KeyPolicy"].(map[string]any)["Statement"].([]any) {
			st := st.(map[string]any)
			if toJSON(t, st["Principal"]) == `{"Service":"s3.amazonaws.com"}` && st["Condition"] == nil {
				t.Errorf("S3 may use the queue key unconditioned: %s", toJSON(t, st))
			}
		}
	}

	// One created and one removed notification per dataset prefix.
	for _, c := range []struct{ bucket, prefix string }{{"gsfc-helio-public-eb805c6c", "sdo/aia/0094/"}, {"gsfc-archive-eb805c6c", "mms1/fgm/"}} {
		tpl.HasResourceProperties(jsii.String("Custom::S3BucketNotifications"), map[string]any{
			"BucketName": c.bucket,
			"Managed":    false,
			"NotificationConfiguration": map[string]any{"QueueConfigurations": []any{
				map[string]any{"Events": []any{"s3:ObjectCreated:*"}, "Filter": map[string]any{"Key": map[string]any{"FilterRules": []any{map[string]any{"Name": "prefix", "Value": c.prefix}}}}, "QueueArn": assertions.Match_AnyValue()},
				map[string]any{"Events": []any{"s3:ObjectRemoved:*"}, "Filter": map[string]any{"Key": map[string]any{"FilterRules": []any{map[string]any{"Name": "prefix", "Value": c.prefix}}}}, "QueueArn": assertions.Match_AnyValue()},
			}},
		})
	}

	// Least privilege: the indexer writes index files and catalogs only.
	doc := templateJSON(t, tpl)
	for _, want := range []string{
		`"Sid":"WriteIndexes"`,
		`:s3:::gsfc-helio-public-eb805c6c/sdo/aia/aia_0094_*.csv"`,
		`:s3:::gsfc-archive-eb805c6c/index/mms1_fgm_*.csv"`,
		`:s3:::gsfc-helio-public-eb805c6c/catalog.json"`,
		`"Sid":"ListDatasetBuckets"`,
		`"kms:EncryptionContext:aws:s3:arn"`,
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("template lacks %s", want)
		}
	}
	for _, banned := range []string{`"Sid":"IngestData"`, `"s3:DeleteObject"`, `"s3:*"`} {
		if strings.Contains(doc, banned) {
			t.Errorf("template grants %s without an ingest area", banned)
		}
	}
}

func TestRegistryIngestGrantsCopyIntoDatasets(t *testing.T) {
	y := strings.Replace(registryYAML, "  indexer: {alarmEmails: [ops@example.org]}\n", "  ingest: {bucket: shared, prefix: uploads/}\n", 1)
	doc := templateJSON(t, synthYAML(t, y, Options{})["registry"])
	for _, want := range []string{`"Sid":"IngestData"`, `:s3:::gsfc-shared-eb805c6c/uploads/*report.json"`, `"s3:prefix":["uploads/*"]`, `:s3:::gsfc-helio-public-eb805c6c/sdo/aia/0094/*"`,
		`"s3:AbortMultipartUpload"`, `"s3:PutObjectTagging"`, `"Sid":"ReadIngestTags"`} {
		if !strings.Contains(doc, want) {
			t.Errorf("template lacks %s", want)
		}
	}
	if strings.Contains(doc, "AWS::SNS::Topic") {
		t.Error("a topic without alarm e-mails")
	}
}

// Synthesis is deterministic: the Lambda asset (built from source) and the
// configuration JSON give the same template twice.
func TestRegistrySynthIsDeterministic(t *testing.T) {
	a := templateJSON(t, synthYAML(t, registryYAML, Options{})["registry"])
	b := templateJSON(t, synthYAML(t, registryYAML, Options{})["registry"])
	if a != b {
		t.Fatal("two synths differ")
	}
}
