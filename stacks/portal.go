package stacks

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2integrations"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscertificatemanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscognito"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsroute53"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsroute53targets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsscheduler"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsschedulertargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/heliocloud/heliocloud-go/constructs/golambda"
	"github.com/heliocloud/heliocloud-go/portal/portalconfig"
)

// PortalStack is the self-service dashboard: a Go web app on Lambda behind
// an API Gateway HTTP API, an app client of the instance's user pool, an
// identity pool that gives each signed-in user AWS credentials tagged with
// their user name, and the auto-stop schedules.
type PortalStack struct {
	Stack awscdk.Stack
	// Function serves the web app and runs auto-stop.
	Function *golambda.Function
	// Api is the HTTP API in front of Function.
	Api awsapigatewayv2.HttpApi
	// Client is the portal's app client of the user pool.
	Client awscognito.UserPoolClient
	// IdentityPool exchanges users' ID tokens for credentials of UserRole.
	IdentityPool awscognito.CfnIdentityPool
	// UserRole is what a signed-in user may do in AWS: EC2 actions limited
	// by IAM conditions to resources tagged with the user as Owner and with
	// this instance.
	UserRole awsiam.Role
	// MachineSecurityGroup is given to every machine the portal launches.
	MachineSecurityGroup awsec2.SecurityGroup
	// URL is where users open the portal.
	URL *string
}

func init() {
	builders["portal"] = func(scope constructs.Construct, inst *Instance) { inst.Portal = NewPortalStack(scope, inst) }
}

// Principal tags the identity pool sets on a user's credentials from claims
// of the ID token.
const (
	// ownerTag comes from the ID token's sub, which Cognito never reuses;
	// IAM compares it with each resource's portalconfig.TagOwner.
	ownerTag = "owner"
	// teamsTag comes from the auth stack's TeamsClaim (":mms:sdo:"); IAM
	// lets the user pass a team's machine role only when it matches
	// TeamsTagPattern(team).
	teamsTag = "teams"
)

// teamsPerPolicy is how many teams' PassRole statements share one managed
// policy: at most about 340 characters each (20-character instance and team
// names) keeps a policy under IAM's 6,144, and the validator's 256-character
// teams tag allows at most 127 teams, so eight policies, within the ten a
// role may have.
const teamsPerPolicy = 16

// NewPortalStack builds the portal from cfg.Portal.
func NewPortalStack(scope constructs.Construct, inst *Instance) *PortalStack {
	cfg := inst.Config
	pc := cfg.Portal
	stack := newStack(scope, inst, "portal", "self-service virtual machines, SSH keys and costs")
	p := &PortalStack{Stack: stack}
	vpc := inst.Base.ImportVpc(stack)

	p.MachineSecurityGroup = awsec2.NewSecurityGroup(stack, jsii.String("MachineSecurityGroup"), &awsec2.SecurityGroupProps{
		Vpc:               vpc,
		SecurityGroupName: jsii.String(cfg.Name + "-portal-machines"),
		Description:       jsii.String("Portal machines of " + cfg.Name + ": SSH only from the CIDRs in the YAML, Session Manager otherwise"),
		AllowAllOutbound:  jsii.Bool(true),
	})
	for _, cidr := range pc.SSHCidrs {
		peer := awsec2.Peer_Ipv4(jsii.String(cidr))
		if strings.Contains(cidr, ":") {
			peer = awsec2.Peer_Ipv6(jsii.String(cidr))
		}
		p.MachineSecurityGroup.AddIngressRule(peer, awsec2.Port_Tcp(jsii.Number(22)), jsii.String("SSH from "+cidr), nil)
	}

	secret := awssecretsmanager.NewSecret(stack, jsii.String("SessionSecret"), &awssecretsmanager.SecretProps{
		Description: jsii.String("Keys the portal's session cookies; generated in AWS, never in the template"),
		GenerateSecretString: &awssecretsmanager.SecretStringGenerator{
			PasswordLength: jsii.Number(64), ExcludePunctuation: jsii.Bool(true),
		},
	})
	cdknag.NagSuppressions_AddResourceSuppressions(secret, &[]*cdknag.NagPackSuppression{{
		Id:     jsii.String("AwsSolutions-SMG4"),
		Reason: jsii.String("The secret only keys session cookies that live at most as long as an ID token (an hour by default); rotating it would sign everyone out and protect nothing longer-lived. Replace it by hand to revoke all sessions."),
	}}, jsii.Bool(false))

	// With a custom domain the API's own execute-api URL is switched off,
	// so the portal is reached only by the name the institution chose (and
	// its certificate); without one that URL is the only address.
	p.Api = awsapigatewayv2.NewHttpApi(stack, jsii.String("Api"), &awsapigatewayv2.HttpApiProps{
		ApiName:                   jsii.String(cfg.Name + "-portal"),
		Description:               jsii.String("HelioCloud " + cfg.Name + " portal"),
		DisableExecuteApiEndpoint: jsii.Bool(pc.Domain.Name != ""),
	})
	var urls []string
	if pc.Domain.Name == "" {
		urls = []string{*p.Api.ApiEndpoint()}
	}
	var domain awsapigatewayv2.DomainName
	if d := pc.Domain; d.Name != "" {
		domain = awsapigatewayv2.NewDomainName(stack, jsii.String("Domain"), &awsapigatewayv2.DomainNameProps{
			DomainName:  jsii.String(d.Name),
			Certificate: awscertificatemanager.Certificate_FromCertificateArn(stack, jsii.String("Certificate"), jsii.String(d.CertificateArn)),
		})
		awsapigatewayv2.NewApiMapping(stack, jsii.String("DomainMapping"), &awsapigatewayv2.ApiMappingProps{
			Api: p.Api, DomainName: domain, Stage: p.Api.DefaultStage(),
		})
		urls = []string{"https://" + d.Name}
	}
	p.URL = jsii.String(urls[0])

	pool := inst.Auth.ImportUserPool(stack)
	var callbacks, logouts []string
	for _, u := range urls {
		callbacks = append(callbacks, u+"/callback")
		logouts = append(logouts, u+"/signed-out")
	}
	p.Client = inst.Auth.AddClient(stack, "PortalClient", ClientProps{Name: "portal", CallbackURLs: callbacks, LogoutURLs: logouts})

	if inst.Auth.TeamsClaim == "" {
		panic("stacks: the auth stack adds no teams claim to ID tokens, so the portal cannot limit team roles by IAM")
	}
	issuer := inst.Auth.IssuerURL(stack)
	provider := strings.TrimPrefix(*issuer, "https://")
	p.IdentityPool = awscognito.NewCfnIdentityPool(stack, jsii.String("IdentityPool"), &awscognito.CfnIdentityPoolProps{
		IdentityPoolName:               jsii.String(cfg.Name + "-portal"),
		AllowUnauthenticatedIdentities: jsii.Bool(false),
		CognitoIdentityProviders: []any{&awscognito.CfnIdentityPool_CognitoIdentityProviderProperty{
			ClientId: p.Client.UserPoolClientId(), ProviderName: jsii.String(provider), ServerSideTokenCheck: jsii.Bool(true),
		}},
	})
	awscognito.NewCfnIdentityPoolPrincipalTag(stack, jsii.String("PrincipalTags"), &awscognito.CfnIdentityPoolPrincipalTagProps{
		IdentityPoolId:       p.IdentityPool.Ref(),
		IdentityProviderName: jsii.String(provider),
		PrincipalTags:        map[string]string{ownerTag: "sub", teamsTag: inst.Auth.TeamsClaim},
		UseDefaults:          jsii.Bool(false),
	})
	p.userRole(inst, vpc)
	// Only tokens carrying ApprovedClaim, which the auth stack's token
	// trigger adds for approved users alone, map to the user role; any
	// other token gets no credentials (Deny), so credentials fail closed
	// even if the trigger were detached from the pool.
	awscognito.NewCfnIdentityPoolRoleAttachment(stack, jsii.String("IdentityPoolRoles"), &awscognito.CfnIdentityPoolRoleAttachmentProps{
		IdentityPoolId: p.IdentityPool.Ref(),
		Roles:          map[string]any{"authenticated": p.UserRole.RoleArn()},
		RoleMappings: map[string]any{"approved": &awscognito.CfnIdentityPoolRoleAttachment_RoleMappingProperty{
			Type:                    jsii.String("Rules"),
			IdentityProvider:        jsii.String(provider + ":" + *p.Client.UserPoolClientId()),
			AmbiguousRoleResolution: jsii.String("Deny"),
			RulesConfiguration: &awscognito.CfnIdentityPoolRoleAttachment_RulesConfigurationTypeProperty{
				Rules: []any{&awscognito.CfnIdentityPoolRoleAttachment_MappingRuleProperty{
					Claim: jsii.String(ApprovedClaim), MatchType: jsii.String("Equals"), Value: jsii.String("true"), RoleArn: p.UserRole.RoleArn(),
				}},
			},
		}},
	})
	p.machineRoles(inst)

	appCfg := p.appConfig(inst, vpc, pool, issuer, urls[0])
	cfgJSON, err := json.Marshal(appCfg)
	if err != nil {
		panic(err)
	}
	p.Function = golambda.New(stack, "Function", &golambda.Props{
		Package:     "./lambda/portal",
		Description: "HelioCloud " + cfg.Name + " portal web app and machine auto-stop",
		Environment: map[string]string{
			"PORTAL_CONFIG":      string(cfgJSON),
			"SESSION_SECRET_ARN": *secret.SecretArn(),
			"AUTOSTOP_CPU":       strconv.FormatFloat(pc.AutoStop.IdleCPUPercent, 'f', -1, 64),
		},
		MemoryMiB:    512,
		Timeout:      awscdk.Duration_Seconds(jsii.Number(29)), // API Gateway waits at most 30 s
		LogRetention: Retention(pc.LogRetentionDays),
	})
	secret.GrantRead(p.Function.Role, nil)
	p.functionPolicy(inst, pool)
	if pc.HubCosts.Enabled {
		p.hubCosts(scope, inst)
	}

	p.Api.AddRoutes(&awsapigatewayv2.AddRoutesOptions{
		Path:        jsii.String("/{proxy+}"),
		Methods:     &[]awsapigatewayv2.HttpMethod{awsapigatewayv2.HttpMethod_GET, awsapigatewayv2.HttpMethod_POST},
		Integration: awsapigatewayv2integrations.NewHttpLambdaIntegration(jsii.String("Integration"), p.Function.Function, nil),
	})
	p.Api.AddRoutes(&awsapigatewayv2.AddRoutesOptions{
		Path:        jsii.String("/"),
		Methods:     &[]awsapigatewayv2.HttpMethod{awsapigatewayv2.HttpMethod_GET},
		Integration: awsapigatewayv2integrations.NewHttpLambdaIntegration(jsii.String("RootIntegration"), p.Function.Function, nil),
	})
	p.stageSettings(inst)
	for _, r := range *p.Api.Node().FindAll(constructs.ConstructOrder_PREORDER) {
		if _, ok := r.(awsapigatewayv2.HttpRoute); ok {
			cdknag.NagSuppressions_AddResourceSuppressions(r, &[]*cdknag.NagPackSuppression{{
				Id:     jsii.String("AwsSolutions-APIG4"),
				Reason: jsii.String("The portal authenticates every request itself (OIDC sign-in with the instance's Cognito pool, sealed session cookie, CSRF tokens); its sign-in, sign-out and health pages must be reachable without a token."),
			}}, jsii.Bool(true))
		}
	}

	if domain != nil && pc.Domain.HostedZoneID != "" {
		zone := awsroute53.HostedZone_FromHostedZoneAttributes(stack, jsii.String("Zone"), &awsroute53.HostedZoneAttributes{
			HostedZoneId: jsii.String(pc.Domain.HostedZoneID), ZoneName: jsii.String(pc.Domain.Name),
		})
		target := awsroute53.RecordTarget_FromAlias(awsroute53targets.NewApiGatewayv2DomainProperties(domain.RegionalDomainName(), domain.RegionalHostedZoneId()))
		// A trailing dot makes the record name absolute, so the zone's own
		// name (unknown here) does not matter.
		awsroute53.NewARecord(stack, jsii.String("DomainA"), &awsroute53.ARecordProps{Zone: zone, RecordName: jsii.String(pc.Domain.Name + "."), Target: target})
		awsroute53.NewAaaaRecord(stack, jsii.String("DomainAAAA"), &awsroute53.AaaaRecordProps{Zone: zone, RecordName: jsii.String(pc.Domain.Name + "."), Target: target})
	} else if domain != nil {
		awscdk.NewCfnOutput(stack, jsii.String("DomainTarget"), &awscdk.CfnOutputProps{
			Value:       domain.RegionalDomainName(),
			Description: jsii.String("Point a CNAME or alias for " + pc.Domain.Name + " at this name"),
		})
	}

	p.schedules(inst)
	p.guard(inst, pool)
	awscdk.NewCfnOutput(stack, jsii.String("PortalUrl"), &awscdk.CfnOutputProps{Value: p.URL, Description: jsii.String("Open the portal here")})
	return p
}

// userRole is what the identity pool hands a signed-in user. Every EC2
// change is conditioned on tags: the caller's principal tag "owner" (their
// Cognito sub) must equal the resource's portalconfig.TagOwner (or the one
// requested at creation), and the resource must carry this instance's tag.
// Launches are also held to the launch page's limits (launchStatements),
// so credentials used outside the portal cannot exceed them.
func (p *PortalStack) userRole(inst *Instance, vpc awsec2.IVpc) {
	cfg := inst.Config
	stack := p.Stack
	principal := awsiam.NewFederatedPrincipal(jsii.String("cognito-identity.amazonaws.com"), &map[string]any{
		"StringEquals":           map[string]any{"cognito-identity.amazonaws.com:aud": p.IdentityPool.Ref()},
		"ForAnyValue:StringLike": map[string]any{"cognito-identity.amazonaws.com:amr": "authenticated"},
	}, jsii.String("sts:AssumeRoleWithWebIdentity")).WithSessionTags()
	p.UserRole = awsiam.NewRole(stack, jsii.String("UserRole"), &awsiam.RoleProps{
		RoleName:           jsii.String(cfg.Name + "-portal-user"),
		Description:        jsii.String("Signed-in users of the " + cfg.Name + " portal: their own machines and key pairs only"),
		AssumedBy:          principal,
		MaxSessionDuration: awscdk.Duration_Hours(jsii.Number(1)),
	})
	statements := append(p.launchStatements(inst, vpc),
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("ListOnly"),
			Actions:   jsii.Strings("ec2:DescribeInstances", "ec2:DescribeImages", "ec2:DescribeKeyPairs"),
			Resources: jsii.Strings("*"),
		}),
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:        jsii.String("TagOnlyAtCreation"),
			Actions:    jsii.Strings("ec2:CreateTags"),
			Resources:  jsii.Strings(arn("ec2", "instance/*"), arn("ec2", "volume/*"), arn("ec2", "key-pair/*")),
			Conditions: &map[string]any{"StringEquals": map[string]any{"ec2:CreateAction": []string{"RunInstances", "CreateKeyPair"}}},
		}),
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:        jsii.String("OwnMachines"),
			Actions:    jsii.Strings("ec2:StartInstances", "ec2:StopInstances", "ec2:TerminateInstances"),
			Resources:  jsii.Strings(arn("ec2", "instance/*")),
			Conditions: ownResource("aws:ResourceTag/", cfg.Name),
		}),
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:        jsii.String("CreateKeysTaggedAsOwner"),
			Actions:    jsii.Strings("ec2:CreateKeyPair"),
			Resources:  jsii.Strings(arn("ec2", "key-pair/*")),
			Conditions: ownResource("aws:RequestTag/", cfg.Name),
		}),
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:        jsii.String("OwnKeys"),
			Actions:    jsii.Strings("ec2:DeleteKeyPair"),
			Resources:  jsii.Strings(arn("ec2", "key-pair/*")),
			Conditions: ownResource("aws:ResourceTag/", cfg.Name),
		}),
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:        jsii.String("PassUserMachineRole"),
			Actions:    jsii.Strings("iam:PassRole"),
			Resources:  jsii.Strings(roleARN(inst.Data.UserRoleName())),
			Conditions: &map[string]any{"StringEquals": map[string]any{"iam:PassedToService": "ec2.amazonaws.com"}},
		}),
		// Session Manager checks ssm:StartSession on the target machine and
		// on the session document. ssm:resourceTag reads the machine's EC2
		// tags, so only the owner of a machine can open a shell on it.
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:        jsii.String("SessionsOnOwnMachines"),
			Actions:    jsii.Strings("ssm:StartSession"),
			Resources:  jsii.Strings(arn("ec2", "instance/*")),
			Conditions: ownResource("ssm:resourceTag/", cfg.Name),
		}),
		// The shell (aws ssm start-session), SSH through Session Manager and
		// a port of the machine itself forwarded to the laptop (Jupyter,
		// VNC), the commands docs/portal.md shows. Forwarding to other hosts
		// (AWS-StartPortForwardingSessionToRemoteHost) is not granted: it
		// would turn a machine into a way into the VPC.
		// TerminateSession and ResumeSession are not granted either: a
		// session's id starts with the caller's role session name, which the
		// identity pool sets to the same value for every user, so no
		// condition can tell one user's sessions from another's, and
		// ResumeSession would reattach to someone else's shell.
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:     jsii.String("SessionDocuments"),
			Actions: jsii.Strings("ssm:StartSession"),
			Resources: jsii.Strings(
				arn("ssm", "document/"+SessionShellDocument),
				"arn:"+*awscdk.Aws_PARTITION()+":ssm:"+*awscdk.Aws_REGION()+"::document/"+SessionSSHDocument,
				"arn:"+*awscdk.Aws_PARTITION()+":ssm:"+*awscdk.Aws_REGION()+"::document/"+SessionPortDocument,
			),
		}),
	)
	policy := awsiam.NewPolicy(stack, jsii.String("UserPolicy"), &awsiam.PolicyProps{Statements: &statements, Roles: &[]awsiam.IRole{p.UserRole}})
	p.teamRolePolicies(inst)
	cdknag.NagSuppressions_AddResourceSuppressions(policy, &[]*cdknag.NagPackSuppression{{
		Id: jsii.String("AwsSolutions-IAM5"),
		Reason: jsii.String("EC2 Describe actions support no resource scoping. Every action that changes something is limited by tag conditions (" + portalconfig.TagOwner + " equal to the caller's principal tag, heliocloud:instance equal to this instance) " +
			"on instance, volume and key-pair ARNs whose ids are unknown before creation; RunInstances also needs the images, network interfaces and key pairs it uses, which carry no owner and are limited by owner, subnet and launch conditions instead."),
	}}, jsii.Bool(false))
}

// Session documents users may start sessions with: the account's default
// shell document (Session Manager creates it with the account's
// preferences), AWS's SSH document and AWS's forwarding of a port of the
// target machine itself.
const (
	SessionShellDocument = "SSM-SessionManagerRunShell"
	SessionSSHDocument   = "AWS-StartSSHSession"
	SessionPortDocument  = "AWS-StartPortForwardingSession"
)

// ownResource is the condition that a resource (or, with prefix
// aws:RequestTag/, the request creating it) belongs to the caller and to
// this instance.
func ownResource(prefix, instance string) *map[string]any {
	return &map[string]any{"StringEquals": map[string]any{
		prefix + portalconfig.TagOwner:    "${aws:PrincipalTag/" + ownerTag + "}",
		prefix + portalconfig.TagInstance: instance,
	}}
}

// launchStatements allow ec2:RunInstances only within the launch page's
// limits, each resource of the launch checked on its own: the instance (type,
// IMDSv2 with hop limit 1, shared tenancy, owner and auto-stop tags, no other
// tags), its volumes (gp3, encrypted, within the volume bounds, baseline
// performance), the private subnets, network interfaces in them, the
// portal's security group, and images of the configured owners. Machines
// at once and spending cannot be written as IAM conditions; the guard
// function (guard) stops machines beyond them.
func (p *PortalStack) launchStatements(inst *Instance, vpc awsec2.IVpc) []awsiam.PolicyStatement {
	cfg := inst.Config
	pc := cfg.Portal
	var subnets []string
	for _, s := range *vpc.PrivateSubnets() {
		subnets = append(subnets, arn("ec2", "subnet/"+*s.SubnetId()))
	}
	owners := map[string]bool{}
	for _, im := range pc.Images {
		owners[im.Owner] = true
	}
	tagged := func(extra map[string]any) *map[string]any {
		cond := *ownResource("aws:RequestTag/", cfg.Name)
		maps.Copy(cond["StringEquals"].(map[string]any), extra)
		cond["ForAllValues:StringEquals"] = map[string]any{"aws:TagKeys": portalconfig.LaunchTagKeys}
		return &cond
	}
	machine := tagged(map[string]any{
		"ec2:InstanceType":                           slices.Sorted(maps.Keys(pc.InstanceTypes)),
		"ec2:MetadataHttpTokens":                     "required",
		"ec2:Tenancy":                                "default",
		"aws:RequestTag/" + portalconfig.TagAutoStop: []string{portalconfig.AutoStopOn, portalconfig.AutoStopOff},
	})
	(*machine)["NumericLessThanEquals"] = map[string]any{"ec2:MetadataHttpPutResponseHopLimit": portalconfig.MetadataHopLimit}
	volume := tagged(map[string]any{"ec2:VolumeType": "gp3"})
	(*volume)["Bool"] = map[string]any{"ec2:Encrypted": "true"}
	(*volume)["NumericGreaterThanEquals"] = map[string]any{"ec2:VolumeSize": pc.Volume.MinGiB}
	(*volume)["NumericLessThanEquals"] = map[string]any{"ec2:VolumeSize": pc.Volume.MaxGiB}
	// gp3's baseline; more IOPS or throughput is billed extra.
	(*volume)["NumericLessThanEqualsIfExists"] = map[string]any{"ec2:VolumeIops": 3000, "ec2:VolumeThroughput": 125}
	return []awsiam.PolicyStatement{
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid: jsii.String("LaunchMachine"), Actions: jsii.Strings("ec2:RunInstances"),
			Resources: jsii.Strings(arn("ec2", "instance/*")), Conditions: machine,
		}),
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid: jsii.String("LaunchVolume"), Actions: jsii.Strings("ec2:RunInstances"),
			Resources: jsii.Strings(arn("ec2", "volume/*")), Conditions: volume,
		}),
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid: jsii.String("LaunchInPrivateSubnets"), Actions: jsii.Strings("ec2:RunInstances"),
			Resources: jsii.Strings(subnets...),
		}),
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid: jsii.String("LaunchInterfaceInPrivateSubnets"), Actions: jsii.Strings("ec2:RunInstances"),
			Resources:  jsii.Strings(arn("ec2", "network-interface/*")),
			Conditions: &map[string]any{"StringEquals": map[string]any{"ec2:Subnet": subnets}},
		}),
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid: jsii.String("LaunchWithMachineSecurityGroup"), Actions: jsii.Strings("ec2:RunInstances"),
			Resources: jsii.Strings(arn("ec2", "security-group/"+*p.MachineSecurityGroup.SecurityGroupId())),
		}),
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid: jsii.String("LaunchImagesOfConfiguredOwners"), Actions: jsii.Strings("ec2:RunInstances"),
			Resources:  jsii.Strings("arn:" + *awscdk.Aws_PARTITION() + ":ec2:" + *awscdk.Aws_REGION() + "::image/*"),
			Conditions: &map[string]any{"StringEquals": map[string]any{"ec2:Owner": slices.Sorted(maps.Keys(owners))}},
		}),
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid: jsii.String("LaunchWithKeyPairs"), Actions: jsii.Strings("ec2:RunInstances"),
			Resources: jsii.Strings(arn("ec2", "key-pair/*")),
		}),
	}
}

// teamRolePolicies let a user pass a team's machine role, and so launch a
// machine with that team's data access, only when their teams tag names the
// team. EC2 asks for iam:PassRole on the role of the instance profile a
// launch names, so this is what IAM enforces even if the app's own team
// check failed. Nothing grants ec2:AssociateIamInstanceProfile or
// ec2:ReplaceIamInstanceProfileAssociation, so a running machine cannot be
// given another role. The statements sit in managed policies of at most
// teamsPerPolicy teams, since a role's inline policies share 10,240
// characters.
func (p *PortalStack) teamRolePolicies(inst *Instance) {
	teams := slices.Sorted(maps.Keys(inst.Config.Teams))
	for n := 0; n*teamsPerPolicy < len(teams); n++ {
		chunk := teams[n*teamsPerPolicy : min((n+1)*teamsPerPolicy, len(teams))]
		var statements []awsiam.PolicyStatement
		for _, team := range chunk {
			statements = append(statements, awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Actions:   jsii.Strings("iam:PassRole"),
				Resources: jsii.Strings(roleARN(inst.Data.TeamRoleName(team))),
				Conditions: &map[string]any{
					"StringEquals": map[string]any{"iam:PassedToService": "ec2.amazonaws.com"},
					"StringLike":   map[string]any{"aws:PrincipalTag/" + teamsTag: TeamsTagPattern(team)},
				},
			}))
		}
		awsiam.NewManagedPolicy(p.Stack, jsii.String(fmt.Sprintf("TeamMachineRoles%d", n+1)), &awsiam.ManagedPolicyProps{
			// A fixed description: changing one replaces the policy.
			Description: jsii.String(fmt.Sprintf("Portal users of %s may give a machine the role of a team they belong to (part %d)", inst.Config.Name, n+1)),
			Roles:       &[]awsiam.IRole{p.UserRole},
			Statements:  &statements,
		})
	}
}

// machineRoles lets the machines' roles (made by the data stack) register
// with Session Manager, through a managed policy of this stack attached to
// them: AWS's AmazonSSMManagedInstanceCore would also grant reading every
// parameter in the account.
func (p *PortalStack) machineRoles(inst *Instance) {
	roles := inst.Data.Roles(p.Stack)
	mp := awsiam.NewManagedPolicy(p.Stack, jsii.String("SessionManager"), &awsiam.ManagedPolicyProps{
		ManagedPolicyName: jsii.String(inst.Config.Name + "-portal-session-manager"),
		Description:       jsii.String("Lets portal machines of " + inst.Config.Name + " be reached through Session Manager"),
		Roles:             &roles,
		Statements: &[]awsiam.PolicyStatement{
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid: jsii.String("SessionManagerAgent"),
				Actions: jsii.Strings("ssm:UpdateInstanceInformation", "ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel",
					"ssmmessages:OpenControlChannel", "ssmmessages:OpenDataChannel", "ec2messages:AcknowledgeMessage", "ec2messages:DeleteMessage",
					"ec2messages:FailMessage", "ec2messages:GetEndpoint", "ec2messages:GetMessages", "ec2messages:SendReply"),
				Resources: jsii.Strings("*"),
			}),
		},
	})
	cdknag.NagSuppressions_AddResourceSuppressions(mp, &[]*cdknag.NagPackSuppression{{
		Id:     jsii.String("AwsSolutions-IAM5"),
		Reason: jsii.String("The Session Manager agent's channel and message actions support no resource-level permissions; this is the agent's documented minimum."),
	}}, jsii.Bool(false))
}

func (p *PortalStack) appConfig(inst *Instance, vpc awsec2.IVpc, pool awscognito.IUserPool, issuer *string, baseURL string) portalconfig.Config {
	cfg := inst.Config
	pc := cfg.Portal
	hosted := *inst.Auth.HostedUIBaseURL(p.Stack)
	c := portalconfig.Config{
		Instance: cfg.Name, Region: *p.Stack.Region(), BaseURL: baseURL,
		Issuer: *issuer, ClientID: *p.Client.UserPoolClientId(),
		AuthorizeURL: hosted + "/oauth2/authorize", TokenURL: hosted + "/oauth2/token",
		JWKSURL: *issuer + "/.well-known/jwks.json", LogoutURL: hosted + "/logout",
		UserPoolID: *pool.UserPoolId(), IdentityPoolID: *p.IdentityPool.Ref(),
		AdminGroup: AdminsGroup, PendingGroup: PendingGroup, ApprovedGroup: ApprovedGroup,
		Volume:             portalconfig.VolumeBounds{MinGiB: int32(pc.Volume.MinGiB), MaxGiB: int32(pc.Volume.MaxGiB), DefaultGiB: int32(pc.Volume.DefaultGiB)},
		InstanceProfileARN: "arn:" + *awscdk.Aws_PARTITION() + ":iam::" + *awscdk.Aws_ACCOUNT_ID() + ":instance-profile/" + inst.Data.UserRoleName(),
		SecurityGroupIDs:   []string{*p.MachineSecurityGroup.SecurityGroupId()},
		SSH:                len(pc.SSHCidrs) > 0,
		MaxRunning:         pc.Limits.RunningMachines, MonthlySpendLimit: pc.Limits.MonthlySpendUSD,
		AutoStop: portalconfig.AutoStop{IdleHours: pc.AutoStop.IdleHours},
	}
	if pc.HubCosts.Enabled {
		c.HubCosts = hubCostsConfig(cfg)
	}
	if pc.AutoStop.DailyTime != "" {
		c.AutoStop.DailyTime = pc.AutoStop.DailyTime + " " + pc.AutoStop.TimeZone
	}
	for _, id := range slices.Sorted(maps.Keys(pc.Images)) {
		im := pc.Images[id]
		c.Images = append(c.Images, portalconfig.Image{Key: id, Name: im.Name, Parameter: im.Parameter, Arch: im.Arch, User: im.User})
	}
	for _, name := range pc.PortalInstanceTypeNames() {
		c.InstanceTypes = append(c.InstanceTypes, portalconfig.InstanceType{Name: name, Group: pc.InstanceTypes[name].Group})
	}
	for _, team := range slices.Sorted(maps.Keys(cfg.Teams)) {
		c.Teams = append(c.Teams, portalconfig.Team{Name: TeamGroup(team), InstanceProfileARN: "arn:" + *awscdk.Aws_PARTITION() + ":iam::" + *awscdk.Aws_ACCOUNT_ID() + ":instance-profile/" + inst.Data.TeamRoleName(team)})
	}
	for _, s := range *vpc.PrivateSubnets() {
		c.Subnets = append(c.Subnets, portalconfig.Subnet{ID: *s.SubnetId(), AZ: *s.AvailabilityZone()})
	}
	return c
}

// functionPolicy grants the function what the web app and auto-stop call
// with its own role; users' EC2 calls use the identity pool's role instead.
func (p *PortalStack) functionPolicy(inst *Instance, pool awscognito.IUserPool) {
	cfg := inst.Config
	statements := []awsiam.PolicyStatement{
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("PublicImageParameters"),
			Actions:   jsii.Strings("ssm:GetParameters"),
			Resources: jsii.Strings("arn:" + *awscdk.Aws_PARTITION() + ":ssm:" + *awscdk.Aws_REGION() + "::parameter/aws/service/*"),
		}),
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("PricesAndCosts"),
			Actions:   jsii.Strings("pricing:GetProducts", "ce:GetCostAndUsage"),
			Resources: jsii.Strings("*"),
		}),
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid: jsii.String("AdminPage"),
			Actions: jsii.Strings("cognito-idp:ListUsers", "cognito-idp:ListUsersInGroup", "cognito-idp:AdminListGroupsForUser",
				"cognito-idp:AdminEnableUser", "cognito-idp:AdminDeleteUser", "cognito-idp:AdminAddUserToGroup", "cognito-idp:AdminRemoveUserFromGroup"),
			Resources: jsii.Strings(*pool.UserPoolArn()),
		}),
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("AutoStopRead"),
			Actions:   jsii.Strings("ec2:DescribeInstances", "cloudwatch:GetMetricData"),
			Resources: jsii.Strings("*"),
		}),
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:        jsii.String("AutoStopThisInstance"),
			Actions:    jsii.Strings("ec2:StopInstances"),
			Resources:  jsii.Strings(arn("ec2", "instance/*")),
			Conditions: &map[string]any{"StringEquals": map[string]any{"aws:ResourceTag/" + portalconfig.TagInstance: cfg.Name}},
		}),
	}
	policy := awsiam.NewPolicy(p.Stack, jsii.String("FunctionPolicy"), &awsiam.PolicyProps{Statements: &statements, Roles: &[]awsiam.IRole{p.Function.Role}})
	cdknag.NagSuppressions_AddResourceSuppressions(policy, &[]*cdknag.NagPackSuppression{{
		Id: jsii.String("AwsSolutions-IAM5"),
		Reason: jsii.String("Price List, Cost Explorer, EC2 Describe and CloudWatch GetMetricData support no resource scoping; image parameters are AWS's public ones under /aws/service/; " +
			"StopInstances covers machines unknown at deploy time and is limited to this instance's tag."),
	}}, jsii.Bool(false))
}

// stageSettings logs every request and throttles the default stage.
func (p *PortalStack) stageSettings(inst *Instance) {
	// The access log is the record of who called the portal: kept after
	// the stack is gone. Under /aws/vendedlogs/, API Gateway needs no
	// entry in the account's log resource policy, whose size limit a busy
	// account reaches. The stack's own id ends the name, so a portal
	// deleted and deployed again gets a new group beside the kept one.
	stackID := awscdk.Fn_Select(jsii.Number(2), awscdk.Fn_Split(jsii.String("/"), awscdk.Aws_STACK_ID(), nil))
	logs := awslogs.NewLogGroup(p.Stack, jsii.String("AccessLogs"), &awslogs.LogGroupProps{
		LogGroupName:  awscdk.Fn_Join(jsii.String(""), jsii.Strings(accessLogPrefix(inst.Config.Name), *stackID)),
		Retention:     Retention(inst.Config.Portal.LogRetentionDays),
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
	stage := p.Api.DefaultStage().Node().DefaultChild().(awsapigatewayv2.CfnStage)
	format, _ := json.Marshal(map[string]string{
		"requestId": "$context.requestId", "ip": "$context.identity.sourceIp", "time": "$context.requestTime",
		"method": "$context.httpMethod", "path": "$context.path", "status": "$context.status",
		"latency": "$context.integrationLatency", "error": "$context.integrationErrorMessage",
	})
	stage.SetAccessLogSettings(&awsapigatewayv2.CfnStage_AccessLogSettingsProperty{DestinationArn: logs.LogGroupArn(), Format: jsii.String(string(format))})
	stage.SetDefaultRouteSettings(&awsapigatewayv2.CfnStage_RouteSettingsProperty{ThrottlingBurstLimit: jsii.Number(100), ThrottlingRateLimit: jsii.Number(50)})
}

// accessLogPrefix begins the name of the portal's API access log group.
func accessLogPrefix(instance string) string {
	return "/aws/vendedlogs/heliocloud/" + instance + "/portal-access/"
}

// schedules invoke the function for auto-stop: hourly for idle machines,
// daily at the YAML's time for all machines.
func (p *PortalStack) schedules(inst *Instance) {
	a := inst.Config.Portal.AutoStop
	role := awsiam.NewRole(p.Stack, jsii.String("SchedulerRole"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("scheduler.amazonaws.com"), nil),
		Description: jsii.String("Lets EventBridge Scheduler invoke the portal function for auto-stop"),
	})
	add := func(id, description string, expr awsscheduler.ScheduleExpression, mode string) {
		awsscheduler.NewSchedule(p.Stack, jsii.String(id), &awsscheduler.ScheduleProps{
			Description: jsii.String(description),
			Schedule:    expr,
			Target: awsschedulertargets.NewLambdaInvoke(p.Function.Function, &awsschedulertargets.ScheduleTargetBaseProps{
				Input:         awsscheduler.ScheduleTargetInput_FromObject(map[string]string{"autostop": mode}),
				RetryAttempts: jsii.Number(2),
				Role:          role,
			}),
		})
	}
	if a.IdleHours > 0 {
		add("AutoStopIdle", fmt.Sprintf("Stop portal machines of %s idle for %d hours", inst.Config.Name, a.IdleHours),
			awsscheduler.ScheduleExpression_Rate(awscdk.Duration_Hours(jsii.Number(1))), portalconfig.AutoStopIdle)
	}
	if a.DailyTime != "" {
		h, m, _ := strings.Cut(a.DailyTime, ":")
		hour, _ := strconv.Atoi(h)
		minute, _ := strconv.Atoi(m)
		add("AutoStopDaily", "Stop running portal machines of "+inst.Config.Name+" at "+a.DailyTime+" "+a.TimeZone,
			awsscheduler.ScheduleExpression_Cron(&awsscheduler.CronOptionsWithTimezone{
				Hour: jsii.String(strconv.Itoa(hour)), Minute: jsii.String(strconv.Itoa(minute)),
				TimeZone: awscdk.TimeZone_Of(jsii.String(a.TimeZone)),
			}), portalconfig.AutoStopDaily)
	}
	// After the targets, whose grants make the policy this applies to.
	cdknag.NagSuppressions_AddResourceSuppressions(role, &[]*cdknag.NagPackSuppression{{
		Id:     jsii.String("AwsSolutions-IAM5"),
		Reason: jsii.String("The grant names the one portal function; the \":*\" form only adds its versions and aliases."),
	}}, jsii.Bool(true))
}

// guard makes the function that holds the limits IAM cannot express and
// revokes machines and sessions of users who lost access (package
// portal/guard): on every EC2 launch or start, on Cognito admin calls that
// take access away, every five minutes, and hourly with a spending check.
// The Cognito events reach EventBridge through CloudTrail, which needs a
// trail in the account; the five-minute sweep holds without one.
func (p *PortalStack) guard(inst *Instance, pool awscognito.IUserPool) {
	cfg := inst.Config
	pc := cfg.Portal
	gc := portalconfig.Guard{
		Instance: cfg.Name, UserPoolID: *pool.UserPoolId(), ApprovedGroup: ApprovedGroup,
		UserProfile: inst.Data.UserRoleName(), TeamProfiles: map[string]string{},
		MaxRunning: pc.Limits.RunningMachines, MonthlySpendLimit: pc.Limits.MonthlySpendUSD,
	}
	for team := range cfg.Teams {
		gc.TeamProfiles[inst.Data.TeamRoleName(team)] = TeamGroup(team)
	}
	gcJSON, err := json.Marshal(gc)
	if err != nil {
		panic(err)
	}
	fn := golambda.New(p.Stack, "Guard", &golambda.Props{
		Package:      "./lambda/portalguard",
		Description:  "Stops portal machines of " + cfg.Name + " beyond the limits or of users who lost access, and ends their sessions",
		Environment:  map[string]string{"GUARD_CONFIG": string(gcJSON)},
		MemoryMiB:    256,
		Timeout:      awscdk.Duration_Seconds(jsii.Number(120)),
		LogRetention: Retention(pc.LogRetentionDays),
	})
	policy := awsiam.NewPolicy(p.Stack, jsii.String("GuardPolicy"), &awsiam.PolicyProps{Roles: &[]awsiam.IRole{fn.Role}, Statements: &[]awsiam.PolicyStatement{
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("Read"),
			Actions:   jsii.Strings("ec2:DescribeInstances", "ssm:DescribeSessions", "ce:GetCostAndUsage"),
			Resources: jsii.Strings("*"),
		}),
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:        jsii.String("StopThisInstancesMachines"),
			Actions:    jsii.Strings("ec2:StopInstances"),
			Resources:  jsii.Strings(arn("ec2", "instance/*")),
			Conditions: &map[string]any{"StringEquals": map[string]any{"aws:ResourceTag/" + portalconfig.TagInstance: cfg.Name}},
		}),
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("EndSessions"),
			Actions:   jsii.Strings("ssm:TerminateSession"),
			Resources: jsii.Strings(arn("ssm", "session/*")),
		}),
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("Users"),
			Actions:   jsii.Strings("cognito-idp:ListUsers", "cognito-idp:AdminListGroupsForUser", "cognito-idp:AdminUserGlobalSignOut"),
			Resources: jsii.Strings(*pool.UserPoolArn()),
		}),
	}})
	cdknag.NagSuppressions_AddResourceSuppressions(policy, &[]*cdknag.NagPackSuppression{{
		Id: jsii.String("AwsSolutions-IAM5"),
		Reason: jsii.String("EC2 DescribeInstances, SSM DescribeSessions and Cost Explorer support no resource scoping; StopInstances covers machines unknown at deploy time and is limited to this instance's tag; " +
			"session ids are made per connection and carry no tag, so ending the sessions on a revoked machine needs session/*."),
	}}, jsii.Bool(false))

	target := func(input map[string]string) awsevents.IRuleTarget {
		props := &awseventstargets.LambdaFunctionProps{RetryAttempts: jsii.Number(2)}
		if input != nil {
			props.Event = awsevents.RuleTargetInput_FromObject(input)
		}
		return awseventstargets.NewLambdaFunction(fn.Function, props)
	}
	awsevents.NewRule(p.Stack, jsii.String("GuardLaunches"), &awsevents.RuleProps{
		Description: jsii.String("Portal guard of " + cfg.Name + ": every machine EC2 starts"),
		EventPattern: &awsevents.EventPattern{
			Source: jsii.Strings("aws.ec2"), DetailType: jsii.Strings("EC2 Instance State-change Notification"),
			Detail: &map[string]any{"state": []string{"pending", "running"}},
		},
		Targets: &[]awsevents.IRuleTarget{target(nil)},
	})
	awsevents.NewRule(p.Stack, jsii.String("GuardRevocations"), &awsevents.RuleProps{
		Description: jsii.String("Portal guard of " + cfg.Name + ": an admin disabled, deleted or removed a user from a group"),
		EventPattern: &awsevents.EventPattern{
			Source: jsii.Strings("aws.cognito-idp"), DetailType: jsii.Strings("AWS API Call via CloudTrail"),
			Detail: &map[string]any{
				"eventSource":       []string{"cognito-idp.amazonaws.com"},
				"eventName":         []string{"AdminDisableUser", "AdminDeleteUser", "AdminRemoveUserFromGroup"},
				"requestParameters": map[string]any{"userPoolId": []string{*pool.UserPoolId()}},
			},
		},
		Targets: &[]awsevents.IRuleTarget{target(nil)},
	})
	awsevents.NewRule(p.Stack, jsii.String("GuardSweep"), &awsevents.RuleProps{
		Description: jsii.String("Portal guard of " + cfg.Name + ": every machine, every five minutes"),
		Schedule:    awsevents.Schedule_Rate(awscdk.Duration_Minutes(jsii.Number(5))),
		Targets:     &[]awsevents.IRuleTarget{target(map[string]string{"guard": portalconfig.GuardSweep})},
	})
	if pc.Limits.MonthlySpendUSD > 0 {
		awsevents.NewRule(p.Stack, jsii.String("GuardSpend"), &awsevents.RuleProps{
			Description: jsii.String("Portal guard of " + cfg.Name + ": spending, hourly"),
			Schedule:    awsevents.Schedule_Rate(awscdk.Duration_Hours(jsii.Number(1))),
			Targets:     &[]awsevents.IRuleTarget{target(map[string]string{"guard": portalconfig.GuardSpend})},
		})
	}
}
