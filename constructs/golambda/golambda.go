// Package golambda builds a Go main package from this repository into an
// AWS Lambda function during synth: linux/arm64, provided.al2023, with a
// log group of its own (kept when the function goes) and a role that may
// write only to that log group.
//
// The build is reproducible (-trimpath, no VCS stamp, no build id) and the
// package is a zip made here (executable `bootstrap`, fixed time), so the
// same source gives the same asset hash on every machine and deploys do not
// churn.
package golambda

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// Props configures a Go Lambda function.
type Props struct {
	// Package is the main package to build, relative to the module root,
	// such as "./lambda/registry". Required.
	Package string
	// Description of the function. Default: none.
	Description string
	// Environment variables. Default: none.
	Environment map[string]string
	// MemoryMiB is the function's memory. Default: 256.
	MemoryMiB int
	// Timeout of one invocation. Default: 30 seconds.
	Timeout awscdk.Duration
	// ScratchMiB is the size of the function's /tmp (512 to 10240).
	// Default: Lambda's 512.
	ScratchMiB int
	// LogRetention is how long the function's logs are kept. Default: three months.
	LogRetention awslogs.RetentionDays
	// ReservedConcurrency caps simultaneous invocations. Default: no cap.
	ReservedConcurrency int
	// Vpc puts the function in a VPC, for what only the VPC reaches (a
	// private EKS endpoint). Default: outside any VPC.
	Vpc awsec2.IVpc
	// VpcSubnets are the subnets of Vpc. Default: its private subnets.
	VpcSubnets *awsec2.SubnetSelection
	// SecurityGroups of the function in Vpc. Default: one that CDK makes,
	// allowing all outbound traffic.
	SecurityGroups []awsec2.ISecurityGroup
}

// Function is a built Go Lambda function with its role and log group.
type Function struct {
	constructs.Construct
	// Function is the Lambda function.
	Function awslambda.Function
	// Role is the function's execution role; grant it what the code needs.
	Role awsiam.Role
	// LogGroup receives the function's logs; it is retained when the
	// function is deleted.
	LogGroup awslogs.LogGroup
}

// New builds props.Package for linux/arm64 and wraps it in a function.
func New(scope constructs.Construct, id string, props *Props) *Function {
	c := constructs.NewConstruct(scope, jsii.String(id))
	zipPath, err := Build(props.Package)
	if err != nil {
		// A synth cannot go on without the code; the message says what failed.
		panic(err)
	}
	logRetention := props.LogRetention
	if logRetention == "" {
		logRetention = awslogs.RetentionDays_THREE_MONTHS
	}
	// The logs are a record (who signed up, what was indexed, who launched
	// what) that must outlive the function: deleting the function or its
	// stack, or switching its feature off, keeps the group until its
	// retention ends. CloudFormation names the group
	// (<stack>-<construct path>-<suffix>), so a function made again later
	// gets a group of its own instead of failing on the kept one's name.
	logGroup := awslogs.NewLogGroup(c, jsii.String("Logs"), &awslogs.LogGroupProps{
		Retention:     logRetention,
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
	role := awsiam.NewRole(c, jsii.String("Role"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		Description: jsii.String(fmt.Sprintf("Runs %s; writes only its own log group", props.Package)),
	})
	logGroup.GrantWrite(role)
	memory := props.MemoryMiB
	if memory == 0 {
		memory = 256
	}
	timeout := props.Timeout
	if timeout == nil {
		timeout = awscdk.Duration_Seconds(jsii.Number(30))
	}
	env := map[string]*string{}
	for k, v := range props.Environment {
		env[k] = jsii.String(v)
	}
	fnProps := &awslambda.FunctionProps{
		Runtime:      awslambda.Runtime_PROVIDED_AL2023(),
		Architecture: awslambda.Architecture_ARM_64(),
		Handler:      jsii.String("bootstrap"),
		Code:         awslambda.Code_FromAsset(jsii.String(zipPath), nil),
		MemorySize:   jsii.Number(memory),
		Timeout:      timeout,
		Role:         role,
		LogGroup:     logGroup,
		Environment:  &env,
	}
	if props.ScratchMiB > 0 {
		fnProps.EphemeralStorageSize = awscdk.Size_Mebibytes(jsii.Number(props.ScratchMiB))
	}
	if props.Description != "" {
		fnProps.Description = jsii.String(props.Description)
	}
	if props.ReservedConcurrency > 0 {
		fnProps.ReservedConcurrentExecutions = jsii.Number(props.ReservedConcurrency)
	}
	if props.Vpc != nil {
		fnProps.Vpc = props.Vpc
		fnProps.VpcSubnets = props.VpcSubnets
		if len(props.SecurityGroups) > 0 {
			fnProps.SecurityGroups = &props.SecurityGroups
		}
	}
	fn := awslambda.NewFunction(c, jsii.String("Function"), fnProps)
	return &Function{Construct: c, Function: fn, Role: role, LogGroup: logGroup}
}
