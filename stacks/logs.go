package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// handlerLogs gives every Lambda function under scope that has no log
// group of its own a retained one, kept days. Those are the functions the
// CDK adds to run custom resources during deploys (the default security
// group's lock-down, bucket notifications, AwsCustomResource's SDK calls,
// the EKS kubectl provider); ours come with their group from golambda.
// Without this, Lambda makes /aws/lambda/<function> at the first run and
// keeps it forever. The group is named by CloudFormation and the function
// writes to it through LoggingConfig: a group named /aws/lambda/<function>
// would collide with the one an earlier deploy already made. The CDK gives
// these functions AWSLambdaBasicExecutionRole, which may write to any group.
//
// It runs once the stacks are built, since the CDK makes these functions
// inside its own constructs.
func handlerLogs(scope constructs.Construct, days int) {
	for _, node := range *scope.Node().FindAll(constructs.ConstructOrder_PREORDER) {
		res, ok := node.(awscdk.CfnResource)
		if !ok {
			continue
		}
		if fn, ok := node.(awslambda.CfnFunction); ok {
			if hasLogGroup(fn.LoggingConfig()) {
				continue
			}
		} else if *res.CfnResourceType() != "AWS::Lambda::Function" {
			continue
		}
		parent, ok := node.Node().Scope().(constructs.Construct)
		if !ok {
			continue // every construct's scope is one; the stack is not a function
		}
		group := awslogs.NewLogGroup(parent, jsii.String(*node.Node().Id()+"Logs"), &awslogs.LogGroupProps{
			Retention:     Retention(days),
			RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
		})
		res.AddPropertyOverride(jsii.String("LoggingConfig.LogGroup"), group.LogGroupName())
	}
}

// hasLogGroup reports whether a function's LoggingConfig names a log group
// (a LoggingConfig may set only the log format and levels, as the EKS
// kubectl provider's framework function's does).
func hasLogGroup(cfg any) bool {
	switch c := cfg.(type) {
	case *awslambda.CfnFunction_LoggingConfigProperty:
		return c.LogGroup != nil
	case map[string]any:
		return c["logGroup"] != nil || c["LogGroup"] != nil
	}
	return cfg != nil // a token: assume it was set with care
}
