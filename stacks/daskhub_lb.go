package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsssm"
	"github.com/aws/jsii-runtime-go"
)

// loadBalancerSubnets are the public subnets of the zones the hub's load
// balancer stands in (config.LoadBalancerZones), for the cloud provider's
// subnets annotation: an existing VPC's by the ids in the YAML, a new VPC's
// read from the base stack's SSM parameter at deploy time. Nil without a
// domain, when the hub has no load balancer.
func (d *DaskhubStack) loadBalancerSubnets() []string {
	cfg := d.inst.Config
	if cfg.Daskhub.Domain.Name == "" {
		return nil
	}
	zones := cfg.LoadBalancerZones()
	var out []string
	if v := cfg.Base.VPC; v.Mode == "existing" {
		for _, i := range zones {
			out = append(out, v.PublicSubnetIDs[i])
		}
		return out
	}
	// One token per subnet, each an Fn::Select of the split parameter.
	ids := *awscdk.Fn_Split(jsii.String(","), awsssm.StringParameter_ValueForStringParameter(d.Stack, d.inst.Base.vpcParam("public"), nil), jsii.Number(cfg.NetworkZoneCount()))
	for _, i := range zones {
		out = append(out, *ids[i])
	}
	return out
}
