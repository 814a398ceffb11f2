package stacks

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsbudgets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsssm"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
	"github.com/heliocloud/heliocloud-go/config"
)

// BaseStack holds the instance's network and budget.
type BaseStack struct {
	Stack awscdk.Stack
	// Vpc is the network, for use inside this stack only: other stacks call
	// ImportVpc so that they reference it through SSM parameters.
	Vpc awsec2.IVpc
	cfg *config.Config
	// azCount is how many zones the network spans, known at synth time.
	azCount int
	// azs are the new network's zones when known at synth time (the
	// YAML's, or the region's first ones); empty when environment-agnostic.
	azs []string
}

// NewBaseStack builds the network (new or existing) and the budget.
func NewBaseStack(scope constructs.Construct, inst *Instance) *BaseStack {
	cfg := inst.Config
	stack := newStack(scope, inst, "base", "network and budget")
	b := &BaseStack{Stack: stack, cfg: cfg}
	v := cfg.Base.VPC
	if v.Mode == "existing" {
		b.Vpc = b.existingVpc(stack)
		b.azCount = len(v.AvailabilityZones)
	} else {
		b.Vpc = b.newVpc(stack, inst)
		b.azCount = len(*b.Vpc.AvailabilityZones())
		b.azs = inst.AvailabilityZones()
		b.shareVpc(stack)
	}
	awscdk.NewCfnOutput(stack, jsii.String("VpcId"), &awscdk.CfnOutputProps{
		Value:       b.Vpc.VpcId(),
		Description: jsii.String("The instance's VPC"),
	})
	b.budget(stack)
	return b
}

func (b *BaseStack) newVpc(stack awscdk.Stack, inst *Instance) awsec2.IVpc {
	v := b.cfg.Base.VPC
	nat := v.NAT.Count(v.MaxAzs)
	private := awsec2.SubnetType_PRIVATE_WITH_EGRESS
	if nat == 0 {
		private = awsec2.SubnetType_PRIVATE_ISOLATED
	}
	props := &awsec2.VpcProps{
		IpAddresses: awsec2.IpAddresses_Cidr(jsii.String(v.Cidr)),
		NatGateways: jsii.Number(nat),
		SubnetConfiguration: &[]*awsec2.SubnetConfiguration{
			{Name: jsii.String("public"), SubnetType: awsec2.SubnetType_PUBLIC},
			{Name: jsii.String("private"), SubnetType: private},
		},
		RestrictDefaultSecurityGroup: jsii.Bool(true),
	}
	// Zone names are given rather than looked up: a lookup would need AWS
	// credentials at synth time and could change between synths.
	if azs := inst.AvailabilityZones(); len(azs) > 0 {
		props.AvailabilityZones = jsii.Strings(azs...)
	} else {
		props.MaxAzs = jsii.Number(v.MaxAzs)
	}
	var natInstances awsec2.NatInstanceProviderV2
	if v.NAT.Type == "instance" && nat > 0 {
		natInstances = natInstanceProvider(v.NAT.InstanceType)
		props.NatGatewayProvider = natInstances
	}
	vpc := awsec2.NewVpc(stack, jsii.String("Vpc"), props)
	if natInstances != nil {
		secureNatInstances(natInstances, v.Cidr)
	}
	natAddressesOutput(stack, vpc)
	// Kubernetes finds the subnets for its load balancers by these tags;
	// on the subnets only, not on what sits in them (NAT instances).
	onSubnets := &awscdk.TagProps{IncludeResourceTypes: jsii.Strings("AWS::EC2::Subnet")}
	for _, s := range *vpc.PublicSubnets() {
		awscdk.Tags_Of(s).Add(jsii.String("kubernetes.io/role/elb"), jsii.String("1"), onSubnets)
	}
	for _, s := range append(*vpc.PrivateSubnets(), *vpc.IsolatedSubnets()...) {
		awscdk.Tags_Of(s).Add(jsii.String("kubernetes.io/role/internal-elb"), jsii.String("1"), onSubnets)
	}
	if v.FlowLogs {
		// Flow logs are the network's audit trail: kept until their
		// retention ends even when the stack goes or flow logs are
		// switched off. CloudFormation names the group, so switching them
		// on again makes a new one instead of failing on the kept name.
		logs := awslogs.NewLogGroup(stack, jsii.String("FlowLogs"), &awslogs.LogGroupProps{
			Retention:     Retention(v.FlowLogRetentionDays),
			RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
		})
		vpc.AddFlowLog(jsii.String("FlowLog"), &awsec2.FlowLogOptions{
			Destination: awsec2.FlowLogDestination_ToCloudWatchLogs(logs, nil),
			TrafficType: awsec2.FlowLogTrafficType(strings.ToUpper(v.FlowLogTraffic)),
		})
	} else {
		cdknag.NagSuppressions_AddResourceSuppressions(vpc, &[]*cdknag.NagPackSuppression{{
			Id:     jsii.String("AwsSolutions-VPC7"),
			Reason: jsii.String("The institution switched VPC flow logs off in its instance file (base.vpc.flowLogs: false)."),
		}}, jsii.Bool(false))
	}
	if v.S3Endpoint {
		vpc.AddGatewayEndpoint(jsii.String("S3"), &awsec2.GatewayVpcEndpointOptions{
			Service: awsec2.GatewayVpcEndpointAwsService_S3(),
		})
	}
	return vpc
}

func (b *BaseStack) existingVpc(stack awscdk.Stack) awsec2.IVpc {
	v := b.cfg.Base.VPC
	attrs := &awsec2.VpcAttributes{
		VpcId:             jsii.String(v.VpcID),
		VpcCidrBlock:      jsii.String(v.Cidr),
		AvailabilityZones: jsii.Strings(v.AvailabilityZones...),
		PrivateSubnetIds:  jsii.Strings(v.PrivateSubnetIDs...),
	}
	if len(v.PublicSubnetIDs) > 0 {
		attrs.PublicSubnetIds = jsii.Strings(v.PublicSubnetIDs...)
	}
	return awsec2.Vpc_FromVpcAttributes(stack, jsii.String("Vpc"), attrs)
}

// vpcParams names the SSM parameter (under /heliocloud/<instance>/vpc/) of
// each value other stacks need, by key.
var vpcParams = map[string]string{"id": "id", "cidr": "cidr", "azs": "azs", "private": "private-subnet-ids", "public": "public-subnet-ids"}

func (b *BaseStack) vpcParam(key string) *string {
	return jsii.String(ParamName(b.cfg.Name, "vpc", vpcParams[key]))
}

// shareVpc writes the new VPC's ids to SSM parameters for ImportVpc.
func (b *BaseStack) shareVpc(stack awscdk.Stack) {
	vpc := b.Vpc
	values := map[string]*string{
		"id":      vpc.VpcId(),
		"cidr":    vpc.VpcCidrBlock(),
		"azs":     awscdk.Fn_Join(jsii.String(","), vpc.AvailabilityZones()),
		"private": awscdk.Fn_Join(jsii.String(","), subnetIDs(vpc.PrivateSubnets(), vpc.IsolatedSubnets())),
		"public":  awscdk.Fn_Join(jsii.String(","), subnetIDs(vpc.PublicSubnets())),
	}
	for _, key := range []string{"id", "cidr", "azs", "private", "public"} {
		awsssm.NewStringParameter(stack, jsii.String("Param-"+key), &awsssm.StringParameterProps{
			ParameterName: b.vpcParam(key),
			StringValue:   values[key],
			Description:   jsii.String("Read by the instance's other stacks; written by " + *stack.StackName()),
		})
	}
}

func subnetIDs(groups ...*[]awsec2.ISubnet) *[]*string {
	var ids []*string
	for _, g := range groups {
		for _, s := range *g {
			ids = append(ids, s.SubnetId())
		}
	}
	return &ids
}

// ImportVpc gives another stack the instance's VPC. A new VPC is read
// through SSM parameters resolved at deploy time (no export locks the base
// stack); an existing VPC is named by the ids in the YAML.
//
// The imported new VPC has its id, zones and private subnets only: each
// value read becomes a template parameter, and one no resource uses is a
// warning at every synth (W2001) and a needless read at every deploy. No
// stack uses the CIDR (asking for it fails the synth loudly); the public
// subnets are read only by the DaskHub stack, for the hub's load balancer,
// and only with a domain (DaskhubStack.loadBalancerSubnets). Zones
// known at synth time are written in, not read.
func (b *BaseStack) ImportVpc(scope constructs.Construct) awsec2.IVpc {
	v := b.cfg.Base.VPC
	if v.Mode == "existing" {
		return b.existingVpc(awscdk.Stack_Of(scope))
	}
	read := func(key string) *string {
		return awsssm.StringParameter_ValueForStringParameter(scope, b.vpcParam(key), nil)
	}
	n := jsii.Number(b.azCount)
	azs := jsii.Strings(b.azs...)
	if len(b.azs) == 0 {
		azs = awscdk.Fn_Split(jsii.String(","), read("azs"), n)
	}
	return awsec2.Vpc_FromVpcAttributes(scope, jsii.String("BaseVpc"), &awsec2.VpcAttributes{
		VpcId:             read("id"),
		AvailabilityZones: azs,
		PrivateSubnetIds:  awscdk.Fn_Split(jsii.String(","), read("private"), n),
	})
}

// budget adds a monthly cost budget filtered by the instance tag. AWS only
// filters by a tag once it is activated as a cost allocation tag in the
// billing console (docs/base.md says how).
func (b *BaseStack) budget(stack awscdk.Stack) {
	bud := b.cfg.Base.Budget
	if bud.MonthlyLimitUsd <= 0 {
		return
	}
	var subscribers []interface{}
	for _, e := range bud.Emails {
		subscribers = append(subscribers, &awsbudgets.CfnBudget_SubscriberProperty{
			Address: jsii.String(e), SubscriptionType: jsii.String("EMAIL"),
		})
	}
	var notifications []interface{}
	add := func(kind string, pcts []float64) {
		for _, pct := range pcts {
			notifications = append(notifications, &awsbudgets.CfnBudget_NotificationWithSubscribersProperty{
				Notification: &awsbudgets.CfnBudget_NotificationProperty{
					NotificationType:   jsii.String(kind),
					ComparisonOperator: jsii.String("GREATER_THAN"),
					Threshold:          jsii.Number(pct),
					ThresholdType:      jsii.String("PERCENTAGE"),
				},
				Subscribers: &subscribers,
			})
		}
	}
	add("FORECASTED", bud.ForecastPercents)
	add("ACTUAL", bud.ActualPercents)
	awsbudgets.NewCfnBudget(stack, jsii.String("MonthlyBudget"), &awsbudgets.CfnBudgetProps{
		Budget: &awsbudgets.CfnBudget_BudgetDataProperty{
			BudgetName:  jsii.String(b.cfg.Name + "-monthly"),
			BudgetType:  jsii.String("COST"),
			TimeUnit:    jsii.String("MONTHLY"),
			BudgetLimit: &awsbudgets.CfnBudget_SpendProperty{Amount: jsii.Number(bud.MonthlyLimitUsd), Unit: jsii.String("USD")},
			CostFilters: map[string]interface{}{
				"TagKeyValue": []string{"user:heliocloud:instance$" + b.cfg.Name},
			},
		},
		NotificationsWithSubscribers: &notifications,
	})
}

// Retention maps a validated number of days (config.LogRetentionDays) to
// CDK's RetentionDays, whose values are names like THREE_MONTHS.
func Retention(days int) awslogs.RetentionDays {
	names := map[int]string{1: "ONE_DAY", 3: "THREE_DAYS", 5: "FIVE_DAYS", 7: "ONE_WEEK", 14: "TWO_WEEKS",
		30: "ONE_MONTH", 60: "TWO_MONTHS", 90: "THREE_MONTHS", 120: "FOUR_MONTHS", 150: "FIVE_MONTHS",
		180: "SIX_MONTHS", 365: "ONE_YEAR", 400: "THIRTEEN_MONTHS", 545: "EIGHTEEN_MONTHS", 731: "TWO_YEARS",
		1096: "THREE_YEARS", 1827: "FIVE_YEARS", 2192: "SIX_YEARS", 2557: "SEVEN_YEARS", 2922: "EIGHT_YEARS",
		3288: "NINE_YEARS", 3653: "TEN_YEARS"}
	name, ok := names[days]
	if !ok {
		panic(fmt.Sprintf("stacks: retention of %s days passed validation but has no CDK name", strconv.Itoa(days)))
	}
	return awslogs.RetentionDays(name)
}
