package stacks

import (
	_ "embed"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// natImageParameter is AWS's public SSM parameter holding the newest
// Amazon Linux 2023 arm64 image. The template reads it through a
// CloudFormation parameter, so the image is chosen at each deploy, never at
// synth: nothing is looked up and two synths give the same template.
const natImageParameter = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64"

// natRootDevice is the root device of Amazon Linux 2023 images; the block
// device mapping that encrypts the root volume must name it, or EC2 would
// add a second, empty volume instead.
const natRootDevice = "/dev/xvda"

// natBootScript turns a fresh Amazon Linux 2023 instance into a NAT.
//
//go:embed natinstance.sh
var natBootScript string

// natInstanceProvider makes the VPC's NAT from EC2 instances with the CDK's
// NatInstanceProviderV2, which places one instance in a public subnet per
// NAT and routes each private subnet to its zone's instance (or the only
// one). The CDK's defaults are replaced where they fall short:
//   - the image is named by its SSM parameter (see natImageParameter);
//   - no inbound traffic by default (its default admits every IPv4
//     address); secureNatInstances admits the VPC's range only;
//   - standard CPU credits: a busy NAT slows down rather than running up
//     surplus-credit charges (T4g defaults to unlimited);
//   - our own boot script: the CDK's installs iptables-services once and
//     fails when dnf races cloud-init (aws/aws-cdk#36717).
func natInstanceProvider(instanceType string) awsec2.NatInstanceProviderV2 {
	return awsec2.NatProvider_InstanceV2(&awsec2.NatInstanceProps{
		InstanceType: awsec2.NewInstanceType(jsii.String(instanceType)),
		MachineImage: awsec2.MachineImage_FromSsmParameter(jsii.String(natImageParameter), &awsec2.SsmParameterImageOptions{
			Os:              awsec2.OperatingSystemType_LINUX,
			CachedInContext: jsii.Bool(false),
		}),
		DefaultAllowedTraffic: awsec2.NatTrafficDirection_OUTBOUND_ONLY,
		CreditSpecification:   awsec2.CpuCredits_STANDARD,
		UserData:              awsec2.UserData_Custom(jsii.String(natBootScript)),
	})
}

// secureNatInstances finishes the NAT instances once the VPC has made
// them: traffic from the VPC only, IMDSv2, an encrypted root volume,
// Session Manager instead of SSH (no key pair, no port 22), and an Elastic
// IP, so the outbound address partners allow-list survives a stop and
// start and the instance's replacement by a new image.
func secureNatInstances(nat awsec2.NatInstanceProviderV2, vpcCidr string) {
	nat.Connections().AllowFrom(awsec2.Peer_Ipv4(jsii.String(vpcCidr)), awsec2.Port_AllTraffic(),
		jsii.String("Traffic from the VPC's subnets to forward to the internet"))
	for _, inst := range *nat.GatewayInstances() {
		cfn := inst.Instance()
		// The instance runs no containers, so one hop is enough; SSM's
		// agent takes its credentials from IMDS with a token.
		cfn.SetMetadataOptions(&awsec2.CfnInstance_MetadataOptionsProperty{
			HttpEndpoint:            jsii.String("enabled"),
			HttpTokens:              jsii.String("required"),
			HttpPutResponseHopLimit: jsii.Number(1),
		})
		// Associating it releases the address EC2 gave at launch, so the
		// instance still holds one public IPv4 address, at the same price.
		// A replacement instance is created first and the address moves to
		// it in the same update, before the old instance is deleted.
		awsec2.NewCfnEIP(inst, jsii.String("ElasticIp"), &awsec2.CfnEIPProps{
			Domain:     jsii.String("vpc"),
			InstanceId: inst.InstanceId(),
		})
		cfn.SetBlockDeviceMappings(&[]any{&awsec2.CfnInstance_BlockDeviceMappingProperty{
			DeviceName: jsii.String(natRootDevice),
			Ebs: &awsec2.CfnInstance_EbsProperty{
				Encrypted:           jsii.Bool(true),
				VolumeType:          jsii.String("gp3"),
				DeleteOnTermination: jsii.Bool(true),
			},
		}})
		inst.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid: jsii.String("SessionManagerAgent"),
			Actions: jsii.Strings("ssm:UpdateInstanceInformation", "ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel",
				"ssmmessages:OpenControlChannel", "ssmmessages:OpenDataChannel", "ec2messages:AcknowledgeMessage", "ec2messages:DeleteMessage",
				"ec2messages:FailMessage", "ec2messages:GetEndpoint", "ec2messages:GetMessages", "ec2messages:SendReply"),
			Resources: jsii.Strings("*"),
		}))
		cdknag.NagSuppressions_AddResourceSuppressions(inst, &[]*cdknag.NagPackSuppression{
			{
				Id: jsii.String("AwsSolutions-EC28"),
				Reason: jsii.String("Detailed monitoring costs about $2.10 a month per instance (seven metrics), two thirds of a t4g.nano's price; " +
					"five-minute metrics and EC2's status checks are enough to see a NAT instance is down."),
			},
			{
				Id: jsii.String("AwsSolutions-EC29"),
				Reason: jsii.String("CloudFormation replaces the NAT instance when AWS publishes a new Amazon Linux image, which is how it is patched; " +
					"termination protection would make that replacement fail. An Auto Scaling group would not update the private subnets' routes to a new instance."),
			},
			{
				Id:     jsii.String("AwsSolutions-IAM5"),
				Reason: jsii.String("The Session Manager agent's channel and message actions support no resource-level permissions; this is the agent's documented minimum."),
			},
		}, jsii.Bool(true))
	}
}

// natAddressesOutput names the VPC's outbound addresses, the Elastic IPs of
// its NAT gateways or instances, for partners to allow-list.
func natAddressesOutput(stack awscdk.Stack, vpc awsec2.Vpc) {
	var ips []*string
	for _, c := range *vpc.Node().FindAll(constructs.ConstructOrder_PREORDER) {
		if eip, ok := c.(awsec2.CfnEIP); ok {
			ips = append(ips, eip.Ref())
		}
	}
	if len(ips) == 0 {
		return
	}
	awscdk.NewCfnOutput(stack, jsii.String("NatAddresses"), &awscdk.CfnOutputProps{
		Value:       awscdk.Fn_Join(jsii.String(","), &ips),
		Description: jsii.String("The public addresses the VPC's traffic leaves from (NAT), for partners to allow-list"),
	})
}
