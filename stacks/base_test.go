package stacks

import (
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
	"github.com/heliocloud/heliocloud-go/config"
)

func TestBaseNewVpc(t *testing.T) {
	tpl := synthYAML(t, `
name: t1
tags: {project: helio}
base:
  vpc: {cidr: 10.8.0.0/16, maxAzs: 3, nat: {type: gateway, perAz: true}, flowLogRetentionDays: 30}
  budget: {monthlyLimitUsd: 500, emails: [a@example.org], forecastPercents: [110], actualPercents: [90]}
`, Options{Account: "111122223333", Region: "eu-west-1"})["base"]

	tpl.ResourceCountIs(jsii.String("AWS::EC2::VPC"), jsii.Number(1))
	tpl.HasResourceProperties(jsii.String("AWS::EC2::VPC"), map[string]any{"CidrBlock": "10.8.0.0/16"})
	tpl.ResourceCountIs(jsii.String("AWS::EC2::NatGateway"), jsii.Number(3))
	tpl.ResourceCountIs(jsii.String("AWS::EC2::EIP"), jsii.Number(3))
	tpl.ResourceCountIs(jsii.String("AWS::EC2::Instance"), jsii.Number(0))
	// The gateways' addresses, for partners to allow-list.
	if out := toJSON(t, (*tpl.ToJSON())["Outputs"].(map[string]any)["NatAddresses"]); strings.Count(out, `{"Ref":`) != 3 {
		t.Errorf("output NatAddresses %s, want the 3 gateways' Elastic IPs", out)
	}
	tpl.ResourceCountIs(jsii.String("AWS::EC2::Subnet"), jsii.Number(6))
	for _, az := range []string{"eu-west-1a", "eu-west-1b", "eu-west-1c"} {
		tpl.HasResourceProperties(jsii.String("AWS::EC2::Subnet"), map[string]any{"AvailabilityZone": az})
	}
	tpl.HasResourceProperties(jsii.String("AWS::Logs::LogGroup"), map[string]any{"RetentionInDays": 30})
	tpl.ResourceCountIs(jsii.String("AWS::EC2::FlowLog"), jsii.Number(1))
	tpl.ResourcePropertiesCountIs(jsii.String("AWS::EC2::Subnet"), map[string]any{
		"Tags": assertions.Match_ArrayWith(&[]any{map[string]any{"Key": "kubernetes.io/role/elb", "Value": "1"}}),
	}, jsii.Number(3))
	tpl.ResourcePropertiesCountIs(jsii.String("AWS::EC2::Subnet"), map[string]any{
		"Tags": assertions.Match_ArrayWith(&[]any{map[string]any{"Key": "kubernetes.io/role/internal-elb", "Value": "1"}}),
	}, jsii.Number(3))
	// The load-balancer tags mark subnets only, not their route tables,
	// gateways or addresses.
	for id, r := range (*tpl.ToJSON())["Resources"].(map[string]any) {
		r := r.(map[string]any)
		if r["Type"] != "AWS::EC2::Subnet" && strings.Contains(toJSON(t, r), "kubernetes.io/role/") {
			t.Errorf("%s (%s) carries a kubernetes.io/role tag", id, r["Type"])
		}
	}
	tpl.HasResourceProperties(jsii.String("AWS::EC2::VPCEndpoint"), map[string]any{"VpcEndpointType": "Gateway"})
	tpl.HasResourceProperties(jsii.String("AWS::SSM::Parameter"), map[string]any{"Name": "/heliocloud/t1/vpc/private-subnet-ids"})
	tpl.HasResourceProperties(jsii.String("AWS::EC2::VPC"), map[string]any{
		"Tags": assertions.Match_ArrayWith(&[]any{
			map[string]any{"Key": "heliocloud:component", "Value": "base"},
			map[string]any{"Key": "heliocloud:instance", "Value": "t1"},
			map[string]any{"Key": "project", "Value": "helio"},
		}),
	})
	tpl.HasResourceProperties(jsii.String("AWS::Budgets::Budget"), map[string]any{
		"Budget": map[string]any{
			"BudgetName":  "t1-monthly",
			"BudgetLimit": map[string]any{"Amount": 500, "Unit": "USD"},
			"CostFilters": map[string]any{"TagKeyValue": []any{"user:heliocloud:instance$t1"}},
		},
		"NotificationsWithSubscribers": []any{
			assertions.Match_ObjectLike(&map[string]any{"Notification": map[string]any{"NotificationType": "FORECASTED", "Threshold": 110, "ComparisonOperator": "GREATER_THAN", "ThresholdType": "PERCENTAGE"}}),
			assertions.Match_ObjectLike(&map[string]any{"Notification": map[string]any{"NotificationType": "ACTUAL", "Threshold": 90, "ComparisonOperator": "GREATER_THAN", "ThresholdType": "PERCENTAGE"}}),
		},
	})
}

func TestBaseNoNatMakesIsolatedSubnetsAndNoBudget(t *testing.T) {
	tpl := synthYAML(t, `
name: t2
base:
  vpc: {nat: {type: none}, flowLogs: false, s3Endpoint: false}
`, Options{})["base"]
	tpl.ResourceCountIs(jsii.String("AWS::EC2::NatGateway"), jsii.Number(0))
	tpl.ResourceCountIs(jsii.String("AWS::EC2::Instance"), jsii.Number(0))
	tpl.ResourceCountIs(jsii.String("AWS::EC2::FlowLog"), jsii.Number(0))
	tpl.ResourceCountIs(jsii.String("AWS::EC2::VPCEndpoint"), jsii.Number(0))
	tpl.ResourceCountIs(jsii.String("AWS::Budgets::Budget"), jsii.Number(0))
	if _, ok := (*tpl.ToJSON())["Outputs"].(map[string]any)["NatAddresses"]; ok {
		t.Error("an output of NAT addresses without NAT")
	}
	// Isolated subnets have no default route at all.
	tpl.ResourceCountIs(jsii.String("AWS::EC2::Route"), jsii.Number(2))
}

func TestBaseExistingVpcCreatesNoNetwork(t *testing.T) {
	tpl := synthYAML(t, `
name: t3
region: us-west-2
base:
  vpc:
    mode: existing
    vpcId: vpc-0123456789abcdef0
    cidr: 172.31.0.0/16
    availabilityZones: [us-west-2a, us-west-2b]
    privateSubnetIds: [subnet-0aaaaaaaaaaaaaaaa, subnet-0bbbbbbbbbbbbbbbb]
    publicSubnetIds: [subnet-0cccccccccccccccc, subnet-0dddddddddddddddd]
`, Options{Account: "111122223333", Region: "us-west-2"})["base"]
	for _, typ := range []string{"AWS::EC2::VPC", "AWS::EC2::Subnet", "AWS::EC2::NatGateway", "AWS::SSM::Parameter"} {
		tpl.ResourceCountIs(jsii.String(typ), jsii.Number(0))
	}
	tpl.HasOutput(jsii.String("VpcId"), map[string]any{"Value": "vpc-0123456789abcdef0"})
}

// Every retention period the configuration accepts has a CDK name.
func TestRetentionCoversEveryAllowedPeriod(t *testing.T) {
	for _, days := range config.LogRetentionDays {
		if Retention(days) == "" {
			t.Errorf("no retention for %d days", days)
		}
	}
}
