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
	"github.com/heliocloud/heliocloud-go/portal"
	"github.com/heliocloud/heliocloud-go/portal/autostop"
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
	// ownerTag comes from cognito:username; IAM compares it with each
	// resource's Owner tag.
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

	p.Api = awsapigatewayv2.NewHttpApi(stack, jsii.String("Api"), &awsapigatewayv2.HttpApiProps{
		ApiName:     jsii.String(cfg.Name + "-portal"),
		Description: jsii.String("HelioCloud " + cfg.Name + " portal"),
	})
	defaultURL := p.Api.ApiEndpoint()
	urls := []string{*defaultURL}
	var domain awsapigatewayv2.DomainName
	if d := pc.Domain; d.Name != "" {
		domain = awsapigatewayv2.NewDomainName(stack, jsii.String("Domain"), &awsapigatewayv2.DomainNameProps{
			DomainName:  jsii.String(d.Name),
			Certificate: awscertificatemanager.Certificate_FromCertificateArn(stack, jsii.String("Certificate"), jsii.String(d.CertificateArn)),
		})
		awsapigatewayv2.NewApiMapping(stack, jsii.String("DomainMapping"), &awsapigatewayv2.ApiMappingProps{
			Api: p.Api, DomainName: domain, Stage: p.Api.DefaultStage(),
		})
		urls = append([]string{"https://" + d.Name}, urls...)
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
		PrincipalTags:        map[string]string{ownerTag: "cognito:username", teamsTag: inst.Auth.TeamsClaim},
		UseDefaults:          jsii.Bool(false),
	})
	p.userRole(inst)
	awscognito.NewCfnIdentityPoolRoleAttachment(stack, jsii.String("IdentityPoolRoles"), &awscognito.CfnIdentityPoolRoleAttachmentProps{
		IdentityPoolId: p.IdentityPool.Ref(),
		Roles:          map[string]any{"authenticated": p.UserRole.RoleArn()},
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
	awscdk.NewCfnOutput(stack, jsii.String("PortalUrl"), &awscdk.CfnOutputProps{Value: p.URL, Description: jsii.String("Open the portal here")})
	return p
}

// userRole is what the identity pool hands a signed-in user. Every EC2
// change is conditioned on tags: the caller's principal tag "owner" must
// equal the resource's Owner tag (or the Owner tag requested at creation),
// and the resource must carry this instance's tag.
func (p *PortalStack) userRole(inst *Instance) {
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
	owner := "${aws:PrincipalTag/" + ownerTag + "}"
	requestTags := map[string]any{"StringEquals": map[string]any{
		"aws:RequestTag/" + portal.TagOwner:    owner,
		"aws:RequestTag/" + portal.TagInstance: cfg.Name,
	}}
	resourceTags := map[string]any{"StringEquals": map[string]any{
		"aws:ResourceTag/" + portal.TagOwner:    owner,
		"aws:ResourceTag/" + portal.TagInstance: cfg.Name,
	}}
	statements := []awsiam.PolicyStatement{
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("ListOnly"),
			Actions:   jsii.Strings("ec2:DescribeInstances", "ec2:DescribeImages", "ec2:DescribeKeyPairs"),
			Resources: jsii.Strings("*"),
		}),
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:        jsii.String("LaunchTaggedAsOwner"),
			Actions:    jsii.Strings("ec2:RunInstances"),
			Resources:  jsii.Strings(arn("ec2", "instance/*"), arn("ec2", "volume/*")),
			Conditions: &requestTags,
		}),
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:     jsii.String("LaunchWith"),
			Actions: jsii.Strings("ec2:RunInstances"),
			Resources: jsii.Strings(
				arn("ec2", "network-interface/*"), arn("ec2", "subnet/*"), arn("ec2", "key-pair/*"),
				arn("ec2", "security-group/"+*p.MachineSecurityGroup.SecurityGroupId()),
				"arn:"+*awscdk.Aws_PARTITION()+":ec2:"+*awscdk.Aws_REGION()+"::image/*",
			),
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
			Conditions: &resourceTags,
		}),
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:        jsii.String("CreateKeysTaggedAsOwner"),
			Actions:    jsii.Strings("ec2:CreateKeyPair"),
			Resources:  jsii.Strings(arn("ec2", "key-pair/*")),
			Conditions: &requestTags,
		}),
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:        jsii.String("OwnKeys"),
			Actions:    jsii.Strings("ec2:DeleteKeyPair"),
			Resources:  jsii.Strings(arn("ec2", "key-pair/*")),
			Conditions: &resourceTags,
		}),
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:        jsii.String("PassUserMachineRole"),
			Actions:    jsii.Strings("iam:PassRole"),
			Resources:  jsii.Strings(roleARN(inst.Data.UserRoleName())),
			Conditions: &map[string]any{"StringEquals": map[string]any{"iam:PassedToService": "ec2.amazonaws.com"}},
		}),
	}
	policy := awsiam.NewPolicy(stack, jsii.String("UserPolicy"), &awsiam.PolicyProps{Statements: &statements, Roles: &[]awsiam.IRole{p.UserRole}})
	p.teamRolePolicies(inst)
	cdknag.NagSuppressions_AddResourceSuppressions(policy, &[]*cdknag.NagPackSuppression{{
		Id: jsii.String("AwsSolutions-IAM5"),
		Reason: jsii.String("EC2 Describe actions support no resource scoping. Every action that changes something is limited by tag conditions (Owner equal to the caller's principal tag, heliocloud:instance equal to this instance) " +
			"on instance, volume and key-pair ARNs whose ids are unknown before creation; RunInstances also needs the subnets, images and network interfaces it uses, which carry no owner."),
	}}, jsii.Bool(false))
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

func (p *PortalStack) appConfig(inst *Instance, vpc awsec2.IVpc, pool awscognito.IUserPool, issuer *string, baseURL string) portal.Config {
	cfg := inst.Config
	pc := cfg.Portal
	hosted := *inst.Auth.HostedUIBaseURL(p.Stack)
	c := portal.Config{
		Instance: cfg.Name, Region: *p.Stack.Region(), BaseURL: baseURL,
		Issuer: *issuer, ClientID: *p.Client.UserPoolClientId(),
		AuthorizeURL: hosted + "/oauth2/authorize", TokenURL: hosted + "/oauth2/token",
		JWKSURL: *issuer + "/.well-known/jwks.json", LogoutURL: hosted + "/logout",
		UserPoolID: *pool.UserPoolId(), IdentityPoolID: *p.IdentityPool.Ref(),
		AdminGroup: AdminsGroup, PendingGroup: PendingGroup,
		Volume:             portal.VolumeBounds{MinGiB: int32(pc.Volume.MinGiB), MaxGiB: int32(pc.Volume.MaxGiB), DefaultGiB: int32(pc.Volume.DefaultGiB)},
		InstanceProfileARN: "arn:" + *awscdk.Aws_PARTITION() + ":iam::" + *awscdk.Aws_ACCOUNT_ID() + ":instance-profile/" + inst.Data.UserRoleName(),
		SecurityGroupIDs:   []string{*p.MachineSecurityGroup.SecurityGroupId()},
		SSH:                len(pc.SSHCidrs) > 0,
		MaxRunning:         pc.Limits.RunningMachines, MonthlySpendLimit: pc.Limits.MonthlySpendUSD,
		AutoStop: portal.AutoStop{IdleHours: pc.AutoStop.IdleHours},
	}
	if pc.AutoStop.DailyTime != "" {
		c.AutoStop.DailyTime = pc.AutoStop.DailyTime + " " + pc.AutoStop.TimeZone
	}
	for _, id := range slices.Sorted(maps.Keys(pc.Images)) {
		im := pc.Images[id]
		c.Images = append(c.Images, portal.Image{Key: id, Name: im.Name, Parameter: im.Parameter, Arch: im.Arch, User: im.User})
	}
	for _, name := range pc.PortalInstanceTypeNames() {
		c.InstanceTypes = append(c.InstanceTypes, portal.InstanceType{Name: name, Group: pc.InstanceTypes[name].Group})
	}
	for _, team := range slices.Sorted(maps.Keys(cfg.Teams)) {
		c.Teams = append(c.Teams, portal.Team{Name: TeamGroup(team), InstanceProfileARN: "arn:" + *awscdk.Aws_PARTITION() + ":iam::" + *awscdk.Aws_ACCOUNT_ID() + ":instance-profile/" + inst.Data.TeamRoleName(team)})
	}
	for _, s := range *vpc.PrivateSubnets() {
		c.Subnets = append(c.Subnets, portal.Subnet{ID: *s.SubnetId(), AZ: *s.AvailabilityZone()})
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
			Conditions: &map[string]any{"StringEquals": map[string]any{"aws:ResourceTag/" + portal.TagInstance: cfg.Name}},
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
	logs := awslogs.NewLogGroup(p.Stack, jsii.String("AccessLogs"), &awslogs.LogGroupProps{
		Retention:     Retention(inst.Config.Portal.LogRetentionDays),
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
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
			awsscheduler.ScheduleExpression_Rate(awscdk.Duration_Hours(jsii.Number(1))), autostop.Idle)
	}
	if a.DailyTime != "" {
		h, m, _ := strings.Cut(a.DailyTime, ":")
		hour, _ := strconv.Atoi(h)
		minute, _ := strconv.Atoi(m)
		add("AutoStopDaily", "Stop running portal machines of "+inst.Config.Name+" at "+a.DailyTime+" "+a.TimeZone,
			awsscheduler.ScheduleExpression_Cron(&awsscheduler.CronOptionsWithTimezone{
				Hour: jsii.String(strconv.Itoa(hour)), Minute: jsii.String(strconv.Itoa(minute)),
				TimeZone: awscdk.TimeZone_Of(jsii.String(a.TimeZone)),
			}), autostop.Daily)
	}
	// After the targets, whose grants make the policy this applies to.
	cdknag.NagSuppressions_AddResourceSuppressions(role, &[]*cdknag.NagPackSuppression{{
		Id:     jsii.String("AwsSolutions-IAM5"),
		Reason: jsii.String("The grant names the one portal function; the \":*\" form only adds its versions and aliases."),
	}}, jsii.Bool(true))
}
