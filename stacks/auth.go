package stacks

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscertificatemanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscognito"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsssm"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
	"github.com/heliocloud/heliocloud-go/config"
	"github.com/heliocloud/heliocloud-go/constructs/golambda"
)

// Group names in every instance's user pool. Each team of the YAML's
// top-level teams is a group of the same name (TeamGroup).
const (
	// AdminsGroup holds the instance's administrators.
	AdminsGroup = "admins"
	// PendingGroup holds self-registered accounts awaiting approval; they
	// are also disabled. It only lists who is waiting: what keeps them out
	// is that they are not in ApprovedGroup.
	PendingGroup = "pending"
	// ApprovedGroup holds the accounts an admin approved (and the YAML's
	// admins). The pool's token trigger issues tokens only to its members
	// and to users of the institution's identity providers
	// (package approval), so an account is refused unless positively
	// approved, whatever else failed.
	ApprovedGroup = "approved"
)

// ApprovedClaim is the ID-token claim the token trigger adds, "true", to
// every token it issues; the portal's identity pool maps only tokens
// carrying it to a role, so a token from a pool without the trigger gets
// no AWS credentials.
const ApprovedClaim = "heliocloud:approved"

// TeamGroup is the Cognito group of a team: the team's own name.
func TeamGroup(team string) string { return team }

// TeamsClaim is the ID-token claim that lambda/authteams (the pool's
// pre-token-generation trigger, told the name in its environment) adds: the
// user's teams as one string, each name enclosed in colons (":mms:sdo:", or
// ":" for none).
const TeamsClaim = "heliocloud:teams"

// TeamsTagPattern is what a principal tag copied from TeamsClaim matches,
// with IAM's StringLike, exactly when the user is in team.
func TeamsTagPattern(team string) string { return "*:" + TeamGroup(team) + ":*" }

// AuthStack is the instance's sign-in: one Cognito user pool with its hosted
// sign-in domain, groups, first admins and identity providers.
//
// Other stacks (portal, daskhub) never take the pool construct across stacks,
// which would make CloudFormation exports that block later updates of this
// stack. Instead they call, from inside their own stack:
//
//	pool := inst.Auth.ImportUserPool(stack)      // awscognito.IUserPool, read from SSM
//	client := inst.Auth.AddClient(stack, "HubClient", stacks.ClientProps{
//	    CallbackURLs: []string{"https://hub.example.org/hub/oauth_callback"},
//	    GenerateSecret: true,
//	})                                            // app client offering every provider
//	base := inst.Auth.HostedUIBaseURL(stack)      // https://<prefix>.auth.<region>.amazoncognito.com
//	issuer := inst.Auth.IssuerURL(stack)          // https://cognito-idp.<region>.amazonaws.com/<pool id>
//
// AddClient also makes the caller's stack depend on this one. Group names are
// the constants AdminsGroup and PendingGroup and TeamGroup(team); they reach
// applications in the ID token's cognito:groups claim.
type AuthStack struct {
	Stack awscdk.Stack
	// UserPool is the pool, for use inside this stack only: other stacks
	// call ImportUserPool.
	UserPool awscognito.UserPool
	// IdentityProviders are what an app client of this pool may offer: the
	// pool's own accounts (COGNITO) and every identity provider of the YAML,
	// by name. Names are physical, so they are safe to use in any stack.
	IdentityProviders []awscognito.UserPoolClientIdentityProvider
	// DomainPrefix is the hosted sign-in prefix, or "" with a custom domain.
	DomainPrefix string
	// CustomDomain is the custom sign-in domain name, or "".
	CustomDomain string
	// TeamsClaim is the claim carrying the user's teams in ID tokens
	// (the constant TeamsClaim), or "" when the pool has no trigger adding
	// it: the trigger exists when the portal is enabled, whose identity
	// pool turns the claim into a principal tag for IAM conditions.
	TeamsClaim string

	cfg      *config.Config
	groupRes map[string]awscognito.CfnUserPoolGroup
	// imported holds each consumer stack's import of the pool, by stack path.
	imported map[string]awscognito.IUserPool
}

func init() {
	builders["auth"] = func(scope constructs.Construct, inst *Instance) { inst.Auth = NewAuthStack(scope, inst) }
}

// userPoolIDParam is the SSM parameter through which other stacks find the pool.
func userPoolIDParam(instance string) string { return ParamName(instance, "auth", "user-pool-id") }

// NewAuthStack builds the user pool and everything around it from cfg.Auth.
func NewAuthStack(scope constructs.Construct, inst *Instance) *AuthStack {
	cfg := inst.Config
	ac := cfg.Auth
	stack := newStack(scope, inst, "auth", "sign-in: Cognito users, groups and teams")
	a := &AuthStack{Stack: stack, cfg: cfg, imported: map[string]awscognito.IUserPool{}}
	a.UserPool = a.userPool(stack)
	a.domain(stack)
	a.groups(stack)
	a.admins(stack)
	a.identityProviders(stack)
	if ac.SelfSignUp {
		a.pendingTrigger(stack)
	}
	a.tokenTrigger(stack, cfg.Portal.Enabled)

	awsssm.NewStringParameter(stack, jsii.String("Param-user-pool-id"), &awsssm.StringParameterProps{
		ParameterName: jsii.String(userPoolIDParam(cfg.Name)),
		StringValue:   a.UserPool.UserPoolId(),
		Description:   jsii.String("Read by the instance's other stacks; written by " + *stack.StackName()),
	})
	awscdk.NewCfnOutput(stack, jsii.String("UserPoolId"), &awscdk.CfnOutputProps{
		Value:       a.UserPool.UserPoolId(),
		Description: jsii.String("The instance's Cognito user pool"),
	})
	base := *a.HostedUIBaseURL(stack)
	awscdk.NewCfnOutput(stack, jsii.String("SignInUrl"), &awscdk.CfnOutputProps{
		Value:       jsii.String(base),
		Description: jsii.String("Base URL of the hosted sign-in pages"),
	})
	// What an institution's identity team asks for when connecting its SSO
	// (docs/auth.md), so nobody has to assemble them by hand.
	awscdk.NewCfnOutput(stack, jsii.String("SamlEntityId"), &awscdk.CfnOutputProps{
		Value:       jsii.String("urn:amazon:cognito:sp:" + *a.UserPool.UserPoolId()),
		Description: jsii.String("Entity ID (audience) to register at a SAML identity provider"),
	})
	awscdk.NewCfnOutput(stack, jsii.String("SamlReplyUrl"), &awscdk.CfnOutputProps{
		Value:       jsii.String(base + "/saml2/idpresponse"),
		Description: jsii.String("Reply (ACS) URL to register at a SAML identity provider"),
	})
	awscdk.NewCfnOutput(stack, jsii.String("OidcRedirectUri"), &awscdk.CfnOutputProps{
		Value:       jsii.String(base + "/oauth2/idpresponse"),
		Description: jsii.String("Redirect URI to register at an OpenID Connect identity provider"),
	})
	return a
}

func (a *AuthStack) userPool(stack awscdk.Stack) awscognito.UserPool {
	cfg := a.cfg
	ac := cfg.Auth
	pw := ac.Password
	removal := awscdk.RemovalPolicy_RETAIN
	if ac.RemovalPolicy == "destroy" {
		removal = awscdk.RemovalPolicy_DESTROY
	}
	props := &awscognito.UserPoolProps{
		UserPoolName:        jsii.String(cfg.Name + "-users"),
		SignInAliases:       &awscognito.SignInAliases{Username: jsii.Bool(true), Email: jsii.Bool(true)},
		SignInCaseSensitive: jsii.Bool(false),
		StandardAttributes: &awscognito.StandardAttributes{
			Email:             &awscognito.StandardAttribute{Required: jsii.Bool(true), Mutable: jsii.Bool(true)},
			PreferredUsername: &awscognito.StandardAttribute{Required: jsii.Bool(false), Mutable: jsii.Bool(true)},
		},
		AutoVerify: &awscognito.AutoVerifiedAttrs{Email: jsii.Bool(true)},
		// A changed address stays unused until its owner proves it, so a
		// stolen session cannot redirect password resets.
		KeepOriginal: &awscognito.KeepOriginalAttrs{Email: jsii.Bool(true)},
		CustomAttributes: &map[string]awscognito.ICustomAttribute{
			"affiliation": awscognito.NewStringAttribute(&awscognito.StringAttributeProps{MaxLen: jsii.Number(256), Mutable: jsii.Bool(true)}),
			"access_code": awscognito.NewStringAttribute(&awscognito.StringAttributeProps{MaxLen: jsii.Number(256), Mutable: jsii.Bool(true)}),
		},
		AccountRecovery:   awscognito.AccountRecovery_EMAIL_ONLY,
		SelfSignUpEnabled: jsii.Bool(ac.SelfSignUp),
		PasswordPolicy: &awscognito.PasswordPolicy{
			MinLength:            jsii.Number(pw.MinLength),
			RequireLowercase:     jsii.Bool(pw.RequireLowercase),
			RequireUppercase:     jsii.Bool(pw.RequireUppercase),
			RequireDigits:        jsii.Bool(pw.RequireDigits),
			RequireSymbols:       jsii.Bool(pw.RequireSymbols),
			TempPasswordValidity: awscdk.Duration_Days(jsii.Number(pw.TemporaryValidityDays)),
		},
		Mfa:            map[string]awscognito.Mfa{"off": awscognito.Mfa_OFF, "optional": awscognito.Mfa_OPTIONAL, "required": awscognito.Mfa_REQUIRED}[ac.Mfa],
		FeaturePlan:    map[string]awscognito.FeaturePlan{"essentials": awscognito.FeaturePlan_ESSENTIALS, "plus": awscognito.FeaturePlan_PLUS}[ac.FeaturePlan],
		Email:          a.email(stack),
		UserInvitation: a.invitation(),
		UserVerification: &awscognito.UserVerificationConfig{
			EmailSubject: jsii.String(fmt.Sprintf("Your HelioCloud verification code (%s)", cfg.Institution)),
			EmailBody:    jsii.String(fmt.Sprintf("Your verification code for HelioCloud at %s is {####}", cfg.Institution)),
			EmailStyle:   awscognito.VerificationEmailStyle_CODE,
		},
		DeletionProtection: jsii.Bool(ac.DeletionProtection),
		RemovalPolicy:      removal,
	}
	if ac.Mfa != "off" {
		props.MfaSecondFactor = &awscognito.MfaSecondFactor{Otp: jsii.Bool(true), Sms: jsii.Bool(false)}
	}
	if ac.ThreatProtection != "off" {
		props.StandardThreatProtectionMode = map[string]awscognito.StandardThreatProtectionMode{
			"audit": awscognito.StandardThreatProtectionMode_AUDIT_ONLY, "enforced": awscognito.StandardThreatProtectionMode_FULL_FUNCTION,
		}[ac.ThreatProtection]
	}
	pool := awscognito.NewUserPool(stack, jsii.String("UserPool"), props)

	var suppressions []*cdknag.NagPackSuppression
	if pw.MinLength < 8 || !pw.RequireUppercase || !pw.RequireDigits || !pw.RequireSymbols {
		suppressions = append(suppressions, &cdknag.NagPackSuppression{
			Id:     jsii.String("AwsSolutions-COG1"),
			Reason: jsii.String("The institution relaxed the password policy in its instance file (auth.password); the validator warned about it."),
		})
	}
	if ac.Mfa != "required" {
		suppressions = append(suppressions, &cdknag.NagPackSuppression{
			Id:     jsii.String("AwsSolutions-COG2"),
			Reason: jsii.String(fmt.Sprintf("The institution chose auth.mfa: %s in its instance file; users who sign in through the institution's identity provider get that provider's MFA.", ac.Mfa)),
		})
	}
	if ac.FeaturePlan != "plus" {
		suppressions = append(suppressions, &cdknag.NagPackSuppression{
			Id:     jsii.String("AwsSolutions-COG8"),
			Reason: jsii.String(fmt.Sprintf("The institution chose auth.featurePlan: %s in its instance file, giving up threat protection to save its per-user cost.", ac.FeaturePlan)),
		})
	}
	if len(suppressions) > 0 {
		cdknag.NagSuppressions_AddResourceSuppressions(pool, &suppressions, jsii.Bool(false))
	}
	return pool
}

func (a *AuthStack) email(stack awscdk.Stack) awscognito.UserPoolEmail {
	e := a.cfg.Auth.Email
	var replyTo *string
	if e.ReplyTo != "" {
		replyTo = jsii.String(e.ReplyTo)
	}
	if e.Sender != "ses" {
		return awscognito.UserPoolEmail_WithCognito(replyTo)
	}
	fromName := e.FromName
	if fromName == "" {
		fromName = a.cfg.Institution
	}
	_, domain, _ := strings.Cut(e.FromAddress, "@")
	region := e.SesRegion
	if region == "" {
		region = a.cfg.Region
	}
	return awscognito.UserPoolEmail_WithSES(&awscognito.UserPoolSESOptions{
		FromEmail:         jsii.String(e.FromAddress),
		FromName:          jsii.String(fromName),
		ReplyTo:           replyTo,
		SesVerifiedDomain: jsii.String(domain),
		SesRegion:         jsii.String(region),
	})
}

// invitation is the e-mail an account created by an admin receives.
func (a *AuthStack) invitation() *awscognito.UserInvitationConfig {
	inst := a.cfg.Institution
	return &awscognito.UserInvitationConfig{
		EmailSubject: jsii.String(fmt.Sprintf("Your HelioCloud account at %s", inst)),
		EmailBody: jsii.String(fmt.Sprintf("An account on HelioCloud at %s was created for you. "+
			"Your user name is {username} and your temporary password is {####} . "+
			"Sign in within %d days and choose your own password.", inst, a.cfg.Auth.Password.TemporaryValidityDays)),
	}
}

func (a *AuthStack) domain(stack awscdk.Stack) {
	d := a.cfg.Auth.Domain
	if d.Custom != "" {
		a.CustomDomain = d.Custom
		dom := a.UserPool.AddDomain(jsii.String("Domain"), &awscognito.UserPoolDomainOptions{
			CustomDomain: &awscognito.CustomDomainOptions{
				DomainName:  jsii.String(d.Custom),
				Certificate: awscertificatemanager.Certificate_FromCertificateArn(stack, jsii.String("DomainCertificate"), jsii.String(d.CertificateArn)),
			},
		})
		awscdk.NewCfnOutput(stack, jsii.String("SignInCloudFront"), &awscdk.CfnOutputProps{
			Value:       dom.CloudFrontEndpoint(),
			Description: jsii.String(fmt.Sprintf("Point %s here (CNAME, or a Route 53 alias)", d.Custom)),
		})
		return
	}
	a.DomainPrefix = a.cfg.Auth.DomainPrefix(a.cfg.Name)
	a.UserPool.AddDomain(jsii.String("Domain"), &awscognito.UserPoolDomainOptions{
		CognitoDomain: &awscognito.CognitoDomainOptions{DomainPrefix: jsii.String(a.DomainPrefix)},
	})
}

// groups makes admins, pending and one group per team. Their construct
// ids are the names under a parent construct, so logical ids carry a hash of
// the exact name: adding a team never replaces another's group, and names
// differing only in hyphens (ml-helio, mlhelio) cannot collide.
func (a *AuthStack) groups(stack awscdk.Stack) {
	parent := constructs.NewConstruct(stack, jsii.String("Groups"))
	a.groupRes = map[string]awscognito.CfnUserPoolGroup{}
	add := func(name, description string, precedence int) {
		a.groupRes[name] = awscognito.NewCfnUserPoolGroup(parent, jsii.String(name), &awscognito.CfnUserPoolGroupProps{
			UserPoolId:  a.UserPool.UserPoolId(),
			GroupName:   jsii.String(name),
			Description: jsii.String(description),
			Precedence:  jsii.Number(precedence),
		})
	}
	add(AdminsGroup, "Administrators of the instance", 0)
	add(PendingGroup, "Self-registered accounts awaiting an admin's approval (also disabled)", 1)
	add(ApprovedGroup, "Accounts an admin approved: only they (and identity-provider users) get tokens", 2)
	for _, team := range slices.Sorted(maps.Keys(a.cfg.Teams)) {
		desc := a.cfg.Teams[team].Description
		if desc == "" {
			desc = "Team " + team
		}
		// Cognito limits descriptions to 2048 characters.
		if len(desc) > 2048 {
			desc = desc[:2048]
		}
		add(TeamGroup(team), desc, 10)
	}
}

// admins creates the YAML's admin accounts, each with a temporary password
// that Cognito generates and e-mails. The accounts are retained even when
// removed from the YAML: dropping an admin must not delete a person's
// account, only their group memberships, which are separate resources.
func (a *AuthStack) admins(stack awscdk.Stack) {
	parent := constructs.NewConstruct(stack, jsii.String("Admins"))
	for _, name := range slices.Sorted(maps.Keys(a.cfg.Auth.Admins)) {
		adm := a.cfg.Auth.Admins[name]
		scope := constructs.NewConstruct(parent, jsii.String(name))
		user := awscognito.NewCfnUserPoolUser(scope, jsii.String("User"), &awscognito.CfnUserPoolUserProps{
			UserPoolId:             a.UserPool.UserPoolId(),
			Username:               jsii.String(name),
			DesiredDeliveryMediums: jsii.Strings("EMAIL"),
			UserAttributes: &[]any{
				&awscognito.CfnUserPoolUser_AttributeTypeProperty{Name: jsii.String("email"), Value: jsii.String(adm.Email)},
				&awscognito.CfnUserPoolUser_AttributeTypeProperty{Name: jsii.String("email_verified"), Value: jsii.String("true")},
			},
		})
		user.ApplyRemovalPolicy(awscdk.RemovalPolicy_RETAIN, nil)
		for _, g := range append([]string{AdminsGroup, ApprovedGroup}, adm.Teams...) {
			group := a.groupRes[TeamGroup(g)]
			awscognito.NewCfnUserPoolUserToGroupAttachment(scope, jsii.String("In-"+g), &awscognito.CfnUserPoolUserToGroupAttachmentProps{
				UserPoolId: a.UserPool.UserPoolId(),
				Username:   user.Ref(),
				GroupName:  group.Ref(),
			})
		}
	}
}

func (a *AuthStack) identityProviders(stack awscdk.Stack) {
	a.IdentityProviders = []awscognito.UserPoolClientIdentityProvider{awscognito.UserPoolClientIdentityProvider_COGNITO()}
	for _, name := range slices.Sorted(maps.Keys(a.cfg.Auth.IdentityProviders)) {
		ip := a.cfg.Auth.IdentityProviders[name]
		mapping := &awscognito.AttributeMapping{Email: awscognito.ProviderAttribute_Other(jsii.String(ip.Attributes.Email))}
		if ip.Attributes.Username != "" {
			mapping.PreferredUsername = awscognito.ProviderAttribute_Other(jsii.String(ip.Attributes.Username))
		}
		switch ip.Type {
		case "saml":
			var md awscognito.UserPoolIdentityProviderSamlMetadata
			if ip.MetadataURL != "" {
				md = awscognito.UserPoolIdentityProviderSamlMetadata_Url(jsii.String(ip.MetadataURL))
			} else {
				// Read at synth: the file is part of the instance's
				// configuration, versioned beside the YAML.
				xml, err := os.ReadFile(ip.MetadataPath(a.cfg.File))
				if err != nil {
					panic(fmt.Sprintf("stacks: auth.identityProviders.%s.metadataFile passed validation but cannot be read: %v", name, err))
				}
				md = awscognito.UserPoolIdentityProviderSamlMetadata_File(jsii.String(string(xml)))
			}
			awscognito.NewUserPoolIdentityProviderSaml(stack, jsii.String("Idp-"+name), &awscognito.UserPoolIdentityProviderSamlProps{
				UserPool:         a.UserPool,
				Name:             jsii.String(name),
				Metadata:         md,
				AttributeMapping: mapping,
			})
		case "oidc":
			// A dynamic reference: CloudFormation reads the secret at deploy
			// time, so it is never in the template or the YAML.
			secret := awscdk.SecretValue_SecretsManager(jsii.String(ip.ClientSecretName), nil)
			awscognito.NewUserPoolIdentityProviderOidc(stack, jsii.String("Idp-"+name), &awscognito.UserPoolIdentityProviderOidcProps{
				UserPool:         a.UserPool,
				Name:             jsii.String(name),
				IssuerUrl:        jsii.String(ip.Issuer),
				ClientId:         jsii.String(ip.ClientID),
				ClientSecret:     secret.UnsafeUnwrap(),
				Scopes:           jsii.Strings(ip.Scopes...),
				AttributeMapping: mapping,
			})
		}
		a.IdentityProviders = append(a.IdentityProviders, awscognito.UserPoolClientIdentityProvider_Custom(jsii.String(name)))
	}
}

// pendingTrigger holds self sign-ups for approval (lambda/authpending).
func (a *AuthStack) pendingTrigger(stack awscdk.Stack) {
	fn := golambda.New(stack, "PendingSignUps", &golambda.Props{
		Package:      "./lambda/authpending",
		Description:  "Disables self-registered accounts and adds them to the pending group until an admin approves them",
		Environment:  map[string]string{"HELIOCLOUD_PENDING_GROUP": PendingGroup},
		MemoryMiB:    128,
		LogRetention: Retention(a.cfg.Auth.LogRetentionDays),
		Timeout:      awscdk.Duration_Seconds(jsii.Number(5)),
	})
	a.UserPool.AddTrigger(awscognito.UserPoolOperation_POST_CONFIRMATION(), fn.Function, awscognito.LambdaVersion_V1_0)
	// A policy of its own rather than a grant on the role: the function
	// would then depend on the pool that depends on the function.
	awsiam.NewPolicy(stack, jsii.String("PendingSignUpsAccess"), &awsiam.PolicyProps{
		Roles: &[]awsiam.IRole{fn.Role},
		Statements: &[]awsiam.PolicyStatement{awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions:   jsii.Strings("cognito-idp:AdminDisableUser", "cognito-idp:AdminAddUserToGroup"),
			Resources: jsii.Strings(*a.UserPool.UserPoolArn()),
		})},
	})
}

// tokenTrigger is the pool's pre-token-generation trigger
// (lambda/authteams). It refuses tokens to anyone not approved, adds
// ApprovedClaim, and with the portal on adds the user's teams for IAM
// conditions on the portal's credentials. The V1_0 event, available with
// every feature plan, customises the ID token, the one an identity pool
// reads, and carries the user's groups and status, so the function calls no
// AWS API and its role only writes its log group.
func (a *AuthStack) tokenTrigger(stack awscdk.Stack, teamsClaim bool) {
	env := map[string]string{"HELIOCLOUD_APPROVED_GROUP": ApprovedGroup, "HELIOCLOUD_APPROVED_CLAIM": ApprovedClaim}
	description := "Issues tokens only to approved users"
	if teamsClaim {
		teams := make([]string, 0, len(a.cfg.Teams))
		for _, t := range slices.Sorted(maps.Keys(a.cfg.Teams)) {
			teams = append(teams, TeamGroup(t))
		}
		env["HELIOCLOUD_TEAMS"] = strings.Join(teams, ",")
		env["HELIOCLOUD_TEAMS_CLAIM"] = TeamsClaim
		description += ", with their teams as the " + TeamsClaim + " claim for IAM conditions on the portal's credentials"
		a.TeamsClaim = TeamsClaim
	}
	fn := golambda.New(stack, "TeamsClaim", &golambda.Props{
		Package:      "./lambda/authteams",
		Description:  description,
		Environment:  env,
		MemoryMiB:    128,
		LogRetention: Retention(a.cfg.Auth.LogRetentionDays),
		Timeout:      awscdk.Duration_Seconds(jsii.Number(5)),
	})
	a.UserPool.AddTrigger(awscognito.UserPoolOperation_PRE_TOKEN_GENERATION_CONFIG(), fn.Function, awscognito.LambdaVersion_V1_0)
}

// ImportUserPool gives another stack the instance's user pool, read through
// an SSM parameter at deploy time (no export locks this stack). Calling it
// again in the same stack returns the same construct.
func (a *AuthStack) ImportUserPool(scope constructs.Construct) awscognito.IUserPool {
	stack := awscdk.Stack_Of(scope)
	path := *stack.Node().Path()
	if pool, ok := a.imported[path]; ok {
		return pool
	}
	if path == *a.Stack.Node().Path() {
		panic("stacks: ImportUserPool is for other stacks; inside the auth stack use AuthStack.UserPool")
	}
	poolID := awsssm.StringParameter_ValueForStringParameter(stack, jsii.String(userPoolIDParam(a.cfg.Name)), nil)
	pool := awscognito.UserPool_FromUserPoolId(stack, jsii.String("HelioCloudUserPool"), poolID)
	a.imported[path] = pool
	return pool
}

// HostedUIBaseURL is the base URL of the hosted sign-in pages, as seen from
// scope's stack: https://<prefix>.auth.<region>.amazoncognito.com or
// https://<custom domain>. The OAuth endpoints are <base>/oauth2/authorize,
// /oauth2/token, /oauth2/userInfo and <base>/logout.
func (a *AuthStack) HostedUIBaseURL(scope constructs.Construct) *string {
	if a.CustomDomain != "" {
		return jsii.String("https://" + a.CustomDomain)
	}
	region := awscdk.Stack_Of(scope).Region()
	return jsii.String("https://" + a.DomainPrefix + ".auth." + *region + ".amazoncognito.com")
}

// IssuerURL is the pool's OpenID Connect issuer, as seen from scope's stack
// (for OIDC clients such as JupyterHub that discover endpoints from
// <issuer>/.well-known/openid-configuration).
func (a *AuthStack) IssuerURL(scope constructs.Construct) *string {
	pool := a.ImportUserPool(scope)
	region := awscdk.Stack_Of(scope).Region()
	return jsii.String("https://cognito-idp." + *region + ".amazonaws.com/" + *pool.UserPoolId())
}

// ClientProps configures an app client made with AddClient.
type ClientProps struct {
	// Name of the client, shown in the Cognito console. Default: the id.
	Name string
	// CallbackURLs the hosted UI may return to after sign-in (https, or
	// http://localhost for development). Required.
	CallbackURLs []string
	// LogoutURLs the hosted UI may return to after sign-out. Default: none.
	LogoutURLs []string
	// GenerateSecret makes a confidential client, for server-side apps
	// (JupyterHub, the portal's backend). Default: a public client.
	GenerateSecret bool
	// ExtraScopes beyond openid, email and profile, such as
	// aws.cognito.signin.user.admin. Default: none.
	ExtraScopes []string
}

// AddClient makes an app client of the instance's pool in scope's stack
// (never in the auth stack, so a consumer's clients come and go with it).
// The client uses the authorization-code flow with scopes openid, email and
// profile, offers every identity provider of the instance (IdentityProviders),
// hides whether a user exists, and may write only the attributes a user or
// identity provider may change (not custom:access_code, which admins set).
// It makes scope's stack depend on the auth stack.
func (a *AuthStack) AddClient(scope constructs.Construct, id string, props ClientProps) awscognito.UserPoolClient {
	if len(props.CallbackURLs) == 0 {
		panic("stacks: AuthStack.AddClient needs at least one callback URL")
	}
	stack := awscdk.Stack_Of(scope)
	stack.AddStackDependency(a.Stack, jsii.String("app clients of the instance's user pool"))
	scopes := []awscognito.OAuthScope{awscognito.OAuthScope_OPENID(), awscognito.OAuthScope_EMAIL(), awscognito.OAuthScope_PROFILE()}
	for _, s := range props.ExtraScopes {
		scopes = append(scopes, awscognito.OAuthScope_Custom(jsii.String(s)))
	}
	name := props.Name
	if name == "" {
		name = id
	}
	oauth := &awscognito.OAuthSettings{
		Flows:        &awscognito.OAuthFlows{AuthorizationCodeGrant: jsii.Bool(true)},
		Scopes:       &scopes,
		CallbackUrls: jsii.Strings(props.CallbackURLs...),
	}
	if len(props.LogoutURLs) > 0 {
		oauth.LogoutUrls = jsii.Strings(props.LogoutURLs...)
	}
	providers := append([]awscognito.UserPoolClientIdentityProvider(nil), a.IdentityProviders...)
	return awscognito.NewUserPoolClient(scope, jsii.String(id), &awscognito.UserPoolClientProps{
		UserPool:                   a.ImportUserPool(scope),
		UserPoolClientName:         jsii.String(a.cfg.Name + "-" + name),
		GenerateSecret:             jsii.Bool(props.GenerateSecret),
		OAuth:                      oauth,
		SupportedIdentityProviders: &providers,
		PreventUserExistenceErrors: jsii.Bool(true),
		EnableTokenRevocation:      jsii.Bool(true),
		AuthFlows:                  &awscognito.AuthFlow{UserSrp: jsii.Bool(true)},
		WriteAttributes: awscognito.NewClientAttributes().
			WithStandardAttributes(&awscognito.StandardAttributesMask{Email: jsii.Bool(true), Fullname: jsii.Bool(true), PreferredUsername: jsii.Bool(true)}).
			WithCustomAttributes(jsii.String("affiliation")),
	})
}
