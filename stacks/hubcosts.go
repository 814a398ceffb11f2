package stacks

import (
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsathena"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsbcmdataexports"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsglue"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/heliocloud/heliocloud-go/config"
	"github.com/heliocloud/heliocloud-go/daskhub/values"
	"github.com/heliocloud/heliocloud-go/portal/portalconfig"
)

// DaskHub's per-user costs (portal.hubCosts) come from a CUR 2.0 data
// export with EKS split cost allocation data: AWS splits each node's cost
// among the pods that ran on it and writes a row per pod, hour and usage
// type, carrying the pod's labels. The data stack holds the bucket the
// export writes to; the portal stack holds the export, an Athena table over
// it and the workgroup the portal queries in.

// Where things live in the hub costs bucket. Data Exports writes a month's
// files under <prefix>/<export name>/data/BILLING_PERIOD=<yyyy-MM>/ and
// rewrites them until the month's bill is final.
const (
	hubCostsExportPrefix = "exports"
	hubCostsResultPrefix = "athena"
	// hubCostsResultDays is how long Athena's result files are kept; the
	// portal caches answers for an hour and Athena reuses them for as long.
	hubCostsResultDays = 7
	// hubCostsScanCap stops any one query after this many bytes: a year of
	// a busy cluster's pod rows is a few hundred MB of Parquet, and the cap
	// bounds what a wrong query can cost (at $5 per TB, half a cent).
	hubCostsScanCap = 1 << 30
)

// hubCostsColumns are the export's columns and the table's, in the CUR 2.0
// table dictionary's names and Athena types. Only these are exported: the
// portal needs no other, and fewer columns are smaller files and cheaper
// scans. Selecting split_line_item_* needs INCLUDE_SPLIT_COST_ALLOCATION_DATA,
// and line_item_resource_id needs INCLUDE_RESOURCES.
var hubCostsColumns = []struct{ name, typ string }{
	{"line_item_usage_start_date", "timestamp"},
	{"line_item_operation", "string"},
	{"line_item_usage_type", "string"},
	{"line_item_resource_id", "string"},
	{"resource_tags", "map<string,string>"},
	{"split_line_item_parent_resource_id", "string"},
	{"split_line_item_split_cost", "double"},
	{"split_line_item_unused_cost", "double"},
}

// hubCostsQuery is the export's query, in Data Exports' SQL subset.
func hubCostsQuery() string {
	names := make([]string, len(hubCostsColumns))
	for i, c := range hubCostsColumns {
		names[i] = c.name
	}
	return "SELECT " + strings.Join(names, ", ") + " FROM COST_AND_USAGE_REPORT"
}

// hubCostsData is the folder that holds the export's monthly folders.
func hubCostsData(n config.HubCostsNames) string {
	return "s3://" + n.Bucket + "/" + hubCostsExportPrefix + "/" + n.Export + "/data/"
}

// hubCostsBucket makes the bucket the export writes to. It holds billing
// data rather than users' work, but it is kept like every bucket of the
// stack: a deleted instance's bills are still wanted.
func (d *DataStack) hubCostsBucket(ref config.BucketRef, logs awss3.IBucket) awss3.IBucket {
	rules := []*awss3.LifecycleRule{{
		Id:                                  jsii.String("expire-query-results"),
		Prefix:                              jsii.String(hubCostsResultPrefix + "/"),
		Expiration:                          awscdk.Duration_Days(jsii.Number(hubCostsResultDays)),
		AbortIncompleteMultipartUploadAfter: awscdk.Duration_Days(jsii.Number(1)),
	}, {
		// The export rewrites a month's files on each refresh: the
		// replaced versions are worth nothing after a day.
		Id:                          jsii.String("drop-replaced-versions"),
		NoncurrentVersionExpiration: awscdk.Duration_Days(jsii.Number(1)),
		ExpiredObjectDeleteMarker:   jsii.Bool(true),
	}}
	if days := d.cfg.Portal.HubCosts.KeepDays; days > 0 {
		rules = append(rules, &awss3.LifecycleRule{
			Id:         jsii.String("expire-billing-months"),
			Prefix:     jsii.String(hubCostsExportPrefix + "/"),
			Expiration: awscdk.Duration_Days(jsii.Number(days)),
		})
	}
	// SSE-S3: Data Exports writes only to buckets encrypted so, or with a
	// KMS key whose policy admits it.
	props := d.bucketProps(ref)
	props.Encryption = awss3.BucketEncryption_S3_MANAGED
	props.ServerAccessLogsBucket = logs
	props.ServerAccessLogsPrefix = jsii.String(string(ref.Kind) + "/" + ref.Physical + "/")
	props.LifecycleRules = &rules
	b := awss3.NewBucket(d.Stack, jsii.String(bucketConstructID(ref)), props)
	// Data Exports checks at creation that it may write here, acting for
	// an export of this account only (the confused-deputy conditions).
	source := &map[string]any{
		"StringEquals": map[string]any{"aws:SourceAccount": *awscdk.Aws_ACCOUNT_ID()},
		"ArnLike": map[string]any{"aws:SourceArn": "arn:" + *awscdk.Aws_PARTITION() + ":bcm-data-exports:" + config.HubCostsExportRegion + ":" +
			*awscdk.Aws_ACCOUNT_ID() + ":export/*"},
	}
	principal := awsiam.NewServicePrincipal(jsii.String("bcm-data-exports.amazonaws.com"), nil)
	b.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("DataExportsWrites"),
		Principals: &[]awsiam.IPrincipal{principal},
		Actions:    jsii.Strings("s3:PutObject"),
		Resources:  jsii.Strings(*b.ArnForObjects(jsii.String(hubCostsExportPrefix + "/*"))),
		Conditions: source,
	}))
	b.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("DataExportsChecksPolicy"),
		Principals: &[]awsiam.IPrincipal{principal},
		Actions:    jsii.Strings("s3:GetBucketPolicy"),
		Resources:  jsii.Strings(*b.BucketArn()),
		Conditions: source,
	}))
	d.output(ref, b, "Billing data export behind DaskHub's per-user costs, and the portal's Athena results")
	return b
}

// hubCosts builds the export, the Athena table and workgroup, and lets the
// portal function query them.
func (p *PortalStack) hubCosts(app constructs.Construct, inst *Instance) {
	cfg := inst.Config
	n := cfg.HubCostsNames()
	p.hubCostsExport(app, inst, n)

	db := awsglue.NewCfnDatabase(p.Stack, jsii.String("HubCostsDatabase"), &awsglue.CfnDatabaseProps{
		CatalogId: awscdk.Aws_ACCOUNT_ID(),
		DatabaseInput: &awsglue.CfnDatabase_DatabaseInputProperty{
			Name:        jsii.String(n.Database),
			Description: jsii.String("HelioCloud " + cfg.Name + ": billing data behind DaskHub's per-user costs"),
		},
	})
	columns := make([]any, len(hubCostsColumns))
	for i, c := range hubCostsColumns {
		columns[i] = &awsglue.CfnTable_ColumnProperty{Name: jsii.String(c.name), Type: jsii.String(c.typ)}
	}
	table := awsglue.NewCfnTable(p.Stack, jsii.String("HubCostsTable"), &awsglue.CfnTableProps{
		CatalogId:    awscdk.Aws_ACCOUNT_ID(),
		DatabaseName: jsii.String(n.Database),
		TableInput: &awsglue.CfnTable_TableInputProperty{
			Name:      jsii.String(n.Table),
			TableType: jsii.String("EXTERNAL_TABLE"),
			// Partition projection computes the monthly folders from the
			// query's billing_period, so no crawler or partition updates are
			// needed as months pass. Athena reads Parquet columns by name.
			Parameters: &map[string]any{
				"classification":                          "parquet",
				"projection.enabled":                      "true",
				"projection.billing_period.type":          "date",
				"projection.billing_period.format":        "yyyy-MM",
				"projection.billing_period.range":         "2024-01,NOW",
				"projection.billing_period.interval":      "1",
				"projection.billing_period.interval.unit": "MONTHS",
				"storage.location.template":               hubCostsData(n) + "BILLING_PERIOD=${billing_period}/",
			},
			PartitionKeys: &[]any{&awsglue.CfnTable_ColumnProperty{Name: jsii.String("billing_period"), Type: jsii.String("string")}},
			StorageDescriptor: &awsglue.CfnTable_StorageDescriptorProperty{
				Location:     jsii.String(hubCostsData(n)),
				InputFormat:  jsii.String("org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"),
				OutputFormat: jsii.String("org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"),
				SerdeInfo: &awsglue.CfnTable_SerdeInfoProperty{
					SerializationLibrary: jsii.String("org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"),
				},
				Columns: &columns,
			},
		},
	})
	table.AddResourceDependency(db, jsii.String("the table lives in the database"))

	awsathena.NewCfnWorkGroup(p.Stack, jsii.String("HubCostsWorkGroup"), &awsathena.CfnWorkGroupProps{
		Name:        jsii.String(n.WorkGroup),
		Description: jsii.String("HelioCloud " + cfg.Name + ": the portal's queries of DaskHub's per-user costs"),
		// The workgroup's settings override a caller's: results always go
		// to the bucket, encrypted, and no query scans more than the cap.
		WorkGroupConfiguration: &awsathena.CfnWorkGroup_WorkGroupConfigurationProperty{
			EnforceWorkGroupConfiguration: jsii.Bool(true),
			BytesScannedCutoffPerQuery:    jsii.Number(hubCostsScanCap),
			ResultConfiguration: &awsathena.CfnWorkGroup_ResultConfigurationProperty{
				OutputLocation:          jsii.String("s3://" + n.Bucket + "/" + hubCostsResultPrefix + "/"),
				EncryptionConfiguration: &awsathena.CfnWorkGroup_EncryptionConfigurationProperty{EncryptionOption: jsii.String("SSE_S3")},
			},
		},
		// Query history is no one's data: deleting the stack may drop it.
		RecursiveDeleteOption: jsii.Bool(true),
	})

	p.hubCostsPolicy(inst, n)
	awscdk.NewCfnOutput(p.Stack, jsii.String("HubCostsTableName"), &awscdk.CfnOutputProps{
		Value:       jsii.String(n.Database + "." + n.Table),
		Description: jsii.String("Pods' split costs for Athena (workgroup " + n.WorkGroup + "), behind the Costs page's DaskHub costs"),
	})
}

// hubCostsPolicy lets the portal function query the table: Athena reads
// the export and writes results with the caller's permissions, so the
// function reads under exports/ and writes under athena/ only.
func (p *PortalStack) hubCostsPolicy(inst *Instance, n config.HubCostsNames) {
	bucketARN := inst.Data.bucketARN(n.Bucket)
	statements := []awsiam.PolicyStatement{
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("HubCostsQueries"),
			Actions:   jsii.Strings("athena:StartQueryExecution", "athena:GetQueryExecution", "athena:GetQueryResults"),
			Resources: jsii.Strings(arn("athena", "workgroup/"+n.WorkGroup)),
		}),
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:     jsii.String("HubCostsTable"),
			Actions: jsii.Strings("glue:GetDatabase", "glue:GetTable", "glue:GetPartitions"),
			Resources: jsii.Strings(arn("glue", "catalog"), arn("glue", "database/"+n.Database),
				arn("glue", "table/"+n.Database+"/"+n.Table)),
		}),
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("HubCostsBucket"),
			Actions:   jsii.Strings("s3:ListBucket", "s3:GetBucketLocation"),
			Resources: jsii.Strings(bucketARN),
		}),
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("HubCostsRead"),
			Actions:   jsii.Strings("s3:GetObject"),
			Resources: jsii.Strings(bucketARN + "/" + hubCostsExportPrefix + "/*"),
		}),
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("HubCostsResults"),
			Actions:   jsii.Strings("s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"),
			Resources: jsii.Strings(bucketARN + "/" + hubCostsResultPrefix + "/*"),
		}),
	}
	policy := awsiam.NewPolicy(p.Stack, jsii.String("HubCostsPolicy"), &awsiam.PolicyProps{Statements: &statements, Roles: &[]awsiam.IRole{p.Function.Role}})
	cdknag.NagSuppressions_AddResourceSuppressions(policy, &[]*cdknag.NagPackSuppression{{
		Id: jsii.String("AwsSolutions-IAM5"),
		Reason: jsii.String("The export writes monthly files and Athena result files under names chosen at run time; " +
			"reads are limited to the bucket's exports/ prefix and writes to its athena/ prefix."),
	}}, jsii.Bool(false))
}

// hubCostsConfig is what the portal is told about the table.
func hubCostsConfig(cfg *config.Config) *portalconfig.HubCosts {
	n := cfg.HubCostsNames()
	return &portalconfig.HubCosts{
		WorkGroup: n.WorkGroup, Database: n.Database, Table: n.Table,
		Cluster: ClusterName(cfg.Name),
		UserTag: portalconfig.CURTagKey(values.UserLabel), TeamTag: portalconfig.CURTagKey(values.TeamLabel),
	}
}

// hubCostsExport creates the export: in the portal stack when the instance
// runs in us-east-1, else in a stack of its own there.
func (p *PortalStack) hubCostsExport(app constructs.Construct, inst *Instance, n config.HubCostsNames) {
	scope := p.Stack
	p.Stack.AddStackDependency(inst.Data.Stack, jsii.String("the hub costs bucket exists before the export and the table over it"))
	if inst.Config.HubCostsExportStack() {
		opts := inst.Opts
		opts.Region = config.HubCostsExportRegion
		sub := &Instance{Config: inst.Config, Opts: opts, Base: inst.Base}
		scope = newStack(app, sub, config.HubCostsExportComponent,
			"the billing data export behind DaskHub's per-user costs (its CloudFormation type exists only in "+config.HubCostsExportRegion+")")
		// The export checks at creation that it may write to the bucket.
		scope.AddStackDependency(inst.Data.Stack, jsii.String("the export writes to the hub costs bucket"))
		p.Stack.AddStackDependency(scope, jsii.String("the portal reads the export"))
	}
	awsbcmdataexports.NewCfnExport(scope, jsii.String("HubCostsExport"), &awsbcmdataexports.CfnExportProps{
		Export: &awsbcmdataexports.CfnExport_ExportProperty{
			Name:        jsii.String(n.Export),
			Description: jsii.String("HelioCloud " + inst.Config.Name + ": pods' split costs for the portal's DaskHub costs"),
			DataQuery: &awsbcmdataexports.CfnExport_DataQueryProperty{
				QueryStatement: jsii.String(hubCostsQuery()),
				TableConfigurations: map[string]any{"COST_AND_USAGE_REPORT": map[string]any{
					"TIME_GRANULARITY":                      "HOURLY",
					"INCLUDE_RESOURCES":                     "TRUE",
					"INCLUDE_SPLIT_COST_ALLOCATION_DATA":    "TRUE",
					"INCLUDE_MANUAL_DISCOUNT_COMPATIBILITY": "FALSE",
				}},
			},
			DestinationConfigurations: &awsbcmdataexports.CfnExport_DestinationConfigurationsProperty{
				S3Destination: &awsbcmdataexports.CfnExport_S3DestinationProperty{
					S3Bucket: jsii.String(n.Bucket),
					S3Prefix: jsii.String(hubCostsExportPrefix),
					S3Region: jsii.String(inst.Config.Region),
					S3OutputConfigurations: &awsbcmdataexports.CfnExport_S3OutputConfigurationsProperty{
						Format: jsii.String("PARQUET"), Compression: jsii.String("PARQUET"),
						OutputType: jsii.String("CUSTOM"), Overwrite: jsii.String("OVERWRITE_REPORT"),
					},
				},
			},
			RefreshCadence: &awsbcmdataexports.CfnExport_RefreshCadenceProperty{Frequency: jsii.String("SYNCHRONOUS")},
		},
	})
}
