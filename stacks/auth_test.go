package stacks

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

func TestAuthDefaultPool(t *testing.T) {
	tpl := synthYAML(t, `
name: t1
teams: {sdo: {description: SDO}, ml-helio: {}}
auth:
  enabled: true
`, Options{})["auth"]
	tpl.ResourceCountIs(jsii.String("AWS::Cognito::UserPool"), jsii.Number(1))
	tpl.HasResource(jsii.String("AWS::Cognito::UserPool"), map[string]any{
		"DeletionPolicy":      "Retain",
		"UpdateReplacePolicy": "Retain",
		"Properties": assertions.Match_ObjectLike(&map[string]any{
			"UserPoolName":          "t1-users",
			"DeletionProtection":    "ACTIVE",
			"MfaConfiguration":      "ON",
			"EnabledMfas":           []any{"SOFTWARE_TOKEN_MFA"},
			"AliasAttributes":       []any{"email"},
			"UsernameConfiguration": map[string]any{"CaseSensitive": false},
			"AdminCreateUserConfig": assertions.Match_ObjectLike(&map[string]any{"AllowAdminCreateUserOnly": true}),
		}),
	})
	for _, g := range []string{"admins", "pending", "approved", "sdo", "ml-helio"} {
		tpl.HasResourceProperties(jsii.String("AWS::Cognito::UserPoolGroup"), map[string]any{"GroupName": g})
	}
	tpl.ResourceCountIs(jsii.String("AWS::Cognito::UserPoolGroup"), jsii.Number(5))
	tpl.ResourceCountIs(jsii.String("AWS::Cognito::UserPoolIdentityProvider"), jsii.Number(0))
	tpl.HasResourceProperties(jsii.String("AWS::Cognito::UserPoolDomain"), map[string]any{"Domain": "heliocloud-t1"})
	tpl.HasResourceProperties(jsii.String("AWS::SSM::Parameter"), map[string]any{"Name": "/heliocloud/t1/auth/user-pool-id"})

	// A changed logical id would make CloudFormation replace the pool (a new,
	// empty pool; the old one retained) or a team's group: they are pinned.
	for id, typ := range map[string]string{
		"UserPool6BA7E5F2":     "AWS::Cognito::UserPool",
		"GroupssdoF2259ED8":    "AWS::Cognito::UserPoolGroup",
		"GroupsadminsB0FB0A6D": "AWS::Cognito::UserPoolGroup",
	} {
		res := tpl.FindResources(jsii.String(typ), nil)
		if _, ok := (*res)[id]; !ok {
			t.Errorf("logical id %s (%s) changed", id, typ)
		}
	}
}

func TestAuthSecureDefaults(t *testing.T) {
	tpl := synthYAML(t, "name: t2\nauth: {enabled: true}\n", Options{})["auth"]
	tpl.HasResourceProperties(jsii.String("AWS::Cognito::UserPool"), map[string]any{
		"Policies": map[string]any{"PasswordPolicy": map[string]any{
			"MinimumLength": 12, "RequireLowercase": true, "RequireUppercase": true,
			"RequireNumbers": true, "RequireSymbols": true, "TemporaryPasswordValidityDays": 7,
		}},
		"UserPoolTier":           "PLUS",
		"UserPoolAddOns":         map[string]any{"AdvancedSecurityMode": "ENFORCED"},
		"AccountRecoverySetting": map[string]any{"RecoveryMechanisms": []any{map[string]any{"Name": "verified_email", "Priority": 1}}},
		"AutoVerifiedAttributes": []any{"email"},
		"Schema": assertions.Match_ArrayWith(&[]any{
			map[string]any{"Name": "email", "Required": true, "Mutable": true},
			assertions.Match_ObjectLike(&map[string]any{"Name": "access_code", "AttributeDataType": "String", "Mutable": true}),
			assertions.Match_ObjectLike(&map[string]any{"Name": "affiliation", "AttributeDataType": "String", "Mutable": true}),
		}),
		"EmailConfiguration": map[string]any{"EmailSendingAccount": "COGNITO_DEFAULT"},
	})
	checkApprovalTrigger(t, tpl)
	tpl.ResourceCountIs(jsii.String("AWS::Cognito::UserPoolUser"), jsii.Number(0))
}

// A development instance: everything relaxed that the YAML can relax. The
// synth passing cdk-nag proves each relaxation carries its suppression.
func TestAuthDevelopmentInstance(t *testing.T) {
	tpl := synthYAML(t, `
name: dev
institution: Example Lab
auth:
  enabled: true
  mfa: optional
  removalPolicy: destroy
  deletionProtection: false
  featurePlan: essentials
  threatProtection: "off"
  selfSignUp: true
  password: {minLength: 8, requireSymbols: false, temporaryValidityDays: 3}
`, Options{})["auth"]
	tpl.HasResource(jsii.String("AWS::Cognito::UserPool"), map[string]any{
		"DeletionPolicy": "Delete",
		"Properties": assertions.Match_ObjectLike(&map[string]any{
			"DeletionProtection":    "INACTIVE",
			"MfaConfiguration":      "OPTIONAL",
			"EnabledMfas":           []any{"SOFTWARE_TOKEN_MFA"},
			"UserPoolTier":          "ESSENTIALS",
			"UserPoolAddOns":        assertions.Match_Absent(),
			"AdminCreateUserConfig": assertions.Match_ObjectLike(&map[string]any{"AllowAdminCreateUserOnly": false}),
			"Policies": map[string]any{"PasswordPolicy": assertions.Match_ObjectLike(&map[string]any{
				"MinimumLength": 8, "RequireSymbols": false, "TemporaryPasswordValidityDays": 3,
			})},
			"EmailVerificationSubject": "Your HelioCloud verification code (Example Lab)",
			"LambdaConfig":             map[string]any{"PostConfirmation": map[string]any{"Fn::GetAtt": assertions.Match_AnyValue()}},
		}),
	})
	// Self sign-up: the trigger holds new accounts, and may do only that,
	// only on this pool.
	tpl.HasResourceProperties(jsii.String("AWS::Lambda::Function"), map[string]any{
		"Environment": map[string]any{"Variables": map[string]any{"HELIOCLOUD_PENDING_GROUP": "pending"}},
		"Runtime":     "provided.al2023",
	})
	tpl.HasResourceProperties(jsii.String("AWS::IAM::Policy"), map[string]any{
		"PolicyDocument": map[string]any{"Statement": []any{map[string]any{
			"Action":   []any{"cognito-idp:AdminDisableUser", "cognito-idp:AdminAddUserToGroup"},
			"Effect":   "Allow",
			"Resource": map[string]any{"Fn::GetAtt": []any{assertions.Match_StringLikeRegexp(jsii.String("^UserPool")), "Arn"}},
		}}},
	})
	tpl.HasResourceProperties(jsii.String("AWS::Lambda::Permission"), map[string]any{
		"Principal": "cognito-idp.amazonaws.com",
		"SourceArn": map[string]any{"Fn::GetAtt": []any{assertions.Match_StringLikeRegexp(jsii.String("^UserPool")), "Arn"}},
	})
}

func TestAuthMfaOff(t *testing.T) {
	tpl := synthYAML(t, "name: t3\nauth: {enabled: true, mfa: \"off\"}\n", Options{})["auth"]
	tpl.HasResourceProperties(jsii.String("AWS::Cognito::UserPool"), map[string]any{
		"MfaConfiguration": "OFF",
		"EnabledMfas":      assertions.Match_Absent(),
	})
}

func TestAuthAdminsAndTeams(t *testing.T) {
	tpl := synthYAML(t, `
name: t4
teams: {sdo: {description: Solar Dynamics Observatory}, mms: {}, ml-helio: {}, mlhelio: {}}
auth:
  enabled: true
  admins:
    jdoe: {email: jane.doe@example.gov, teams: [sdo, ml-helio]}
    r.smith: {email: r.smith@example.gov}
`, Options{})["auth"]
	tpl.ResourceCountIs(jsii.String("AWS::Cognito::UserPoolGroup"), jsii.Number(7))
	tpl.HasResourceProperties(jsii.String("AWS::Cognito::UserPoolGroup"), map[string]any{"GroupName": "sdo", "Description": "Solar Dynamics Observatory"})
	tpl.HasResourceProperties(jsii.String("AWS::Cognito::UserPoolGroup"), map[string]any{"GroupName": "mlhelio"})
	tpl.HasResourceProperties(jsii.String("AWS::Cognito::UserPoolGroup"), map[string]any{"GroupName": "ml-helio"})
	tpl.ResourceCountIs(jsii.String("AWS::Cognito::UserPoolUser"), jsii.Number(2))
	tpl.HasResource(jsii.String("AWS::Cognito::UserPoolUser"), map[string]any{
		"DeletionPolicy": "Retain",
		"Properties": map[string]any{
			"UserPoolId":             map[string]any{"Ref": assertions.Match_StringLikeRegexp(jsii.String("^UserPool"))},
			"Username":               "jdoe",
			"DesiredDeliveryMediums": []any{"EMAIL"},
			"UserAttributes": []any{
				map[string]any{"Name": "email", "Value": "jane.doe@example.gov"},
				map[string]any{"Name": "email_verified", "Value": "true"},
			},
		},
	})
	// jdoe: admins, approved, sdo, ml-helio; r.smith: admins, approved.
	// The YAML's admins are approved, or the token trigger would refuse them.
	tpl.ResourceCountIs(jsii.String("AWS::Cognito::UserPoolUserToGroupAttachment"), jsii.Number(6))
	groups := tpl.FindResources(jsii.String("AWS::Cognito::UserPoolGroup"), nil)
	logicalID := func(name string) string {
		for id, res := range *groups {
			if (*res)["Properties"].(map[string]any)["GroupName"] == name {
				return id
			}
		}
		t.Fatalf("no group %s", name)
		return ""
	}
	for _, g := range []string{"admins", "sdo", "ml-helio"} {
		tpl.HasResourceProperties(jsii.String("AWS::Cognito::UserPoolUserToGroupAttachment"), map[string]any{
			"GroupName": map[string]any{"Ref": logicalID(g)},
			"Username":  map[string]any{"Ref": assertions.Match_StringLikeRegexp(jsii.String("^Adminsjdoe"))},
		})
	}
	// Names differing only in a hyphen keep separate logical ids.
	if logicalID("ml-helio") == logicalID("mlhelio") {
		t.Fatal("ml-helio and mlhelio share a logical id")
	}
}

func TestAuthIdentityProviders(t *testing.T) {
	metadata := filepath.Join(t.TempDir(), "launchpad.xml")
	xml := `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://idp.example.gov/saml"/>`
	if err := os.WriteFile(metadata, []byte(xml), 0o644); err != nil {
		t.Fatal(err)
	}
	tpl := synthYAML(t, `
name: t5
auth:
  enabled: true
  identityProviders:
    launchpad:
      type: saml
      metadataFile: `+metadata+`
      attributes: {email: "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress", username: uid}
    partner:
      type: saml
      metadataUrl: https://sso.partner.example.org/metadata
    uni:
      type: oidc
      issuer: https://login.example.edu/oidc
      clientId: heliocloud-t5
      clientSecretName: heliocloud/t5/uni
`, Options{})["auth"]
	tpl.ResourceCountIs(jsii.String("AWS::Cognito::UserPoolIdentityProvider"), jsii.Number(3))
	tpl.HasResourceProperties(jsii.String("AWS::Cognito::UserPoolIdentityProvider"), map[string]any{
		"ProviderName":    "launchpad",
		"ProviderType":    "SAML",
		"ProviderDetails": assertions.Match_ObjectLike(&map[string]any{"MetadataFile": xml}),
		"AttributeMapping": map[string]any{
			"email":              "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
			"preferred_username": "uid",
		},
	})
	tpl.HasResourceProperties(jsii.String("AWS::Cognito::UserPoolIdentityProvider"), map[string]any{
		"ProviderName":     "partner",
		"ProviderType":     "SAML",
		"ProviderDetails":  assertions.Match_ObjectLike(&map[string]any{"MetadataURL": "https://sso.partner.example.org/metadata"}),
		"AttributeMapping": map[string]any{"email": "email"},
	})
	tpl.HasResourceProperties(jsii.String("AWS::Cognito::UserPoolIdentityProvider"), map[string]any{
		"ProviderName": "uni",
		"ProviderType": "OIDC",
		"ProviderDetails": assertions.Match_ObjectLike(&map[string]any{
			"client_id":        "heliocloud-t5",
			"client_secret":    "{{resolve:secretsmanager:heliocloud/t5/uni:SecretString:::}}",
			"oidc_issuer":      "https://login.example.edu/oidc",
			"authorize_scopes": "openid email profile",
		}),
		"AttributeMapping": map[string]any{"email": "email"},
	})
}

func TestAuthSesAndCustomDomain(t *testing.T) {
	tpl := synthYAML(t, `
name: t6
institution: NASA Goddard Space Flight Center
region: us-east-1
auth:
  enabled: true
  domain:
    custom: login.heliocloud.example.gov
    certificateArn: arn:aws:acm:us-east-1:111122223333:certificate/12345678-1234-1234-1234-123456789012
  email:
    sender: ses
    fromAddress: no-reply@heliocloud.example.gov
    replyTo: help@example.gov
`, Options{Account: "111122223333", Region: "us-east-1"})["auth"]
	tpl.HasResourceProperties(jsii.String("AWS::Cognito::UserPool"), map[string]any{
		"EmailConfiguration": map[string]any{
			"EmailSendingAccount": "DEVELOPER",
			"From":                "NASA Goddard Space Flight Center <no-reply@heliocloud.example.gov>",
			"ReplyToEmailAddress": "help@example.gov",
			"SourceArn": map[string]any{"Fn::Join": []any{"", []any{
				"arn:", map[string]any{"Ref": "AWS::Partition"}, ":ses:us-east-1:111122223333:identity/heliocloud.example.gov",
			}}},
		},
		"AdminCreateUserConfig": assertions.Match_ObjectLike(&map[string]any{"InviteMessageTemplate": map[string]any{
			"EmailSubject": "Your HelioCloud account at NASA Goddard Space Flight Center",
			"EmailMessage": assertions.Match_StringLikeRegexp(jsii.String(`\{username\}.*\{####\}`)),
		}}),
	})
	tpl.HasResourceProperties(jsii.String("AWS::Cognito::UserPoolDomain"), map[string]any{
		"Domain":             "login.heliocloud.example.gov",
		"CustomDomainConfig": map[string]any{"CertificateArn": "arn:aws:acm:us-east-1:111122223333:certificate/12345678-1234-1234-1234-123456789012"},
	})
	tpl.HasOutput(jsii.String("SignInUrl"), map[string]any{"Value": "https://login.heliocloud.example.gov"})
	tpl.HasOutput(jsii.String("SamlReplyUrl"), map[string]any{"Value": "https://login.heliocloud.example.gov/saml2/idpresponse"})
	tpl.HasOutput(jsii.String("OidcRedirectUri"), map[string]any{"Value": "https://login.heliocloud.example.gov/oauth2/idpresponse"})
	tpl.HasOutput(jsii.String("SamlEntityId"), map[string]any{"Value": map[string]any{"Fn::Join": []any{"", []any{
		"urn:amazon:cognito:sp:", map[string]any{"Ref": assertions.Match_StringLikeRegexp(jsii.String("^UserPool"))},
	}}}})
	tpl.HasOutput(jsii.String("SignInCloudFront"), map[string]any{"Value": assertions.Match_AnyValue()})
}

// A consumer stack (as portal and daskhub are) makes its app client through
// the API: the pool arrives through SSM, never a CloudFormation export, and
// the client offers the instance's identity providers.
func TestAuthClientInConsumerStack(t *testing.T) {
	inst, app := buildInstance(t, `
name: t7
teams: {sdo: {}}
auth:
  enabled: true
  identityProviders:
    uni: {type: oidc, issuer: "https://login.example.edu", clientId: abc, clientSecretName: uni}
`, Options{Region: "us-west-2"})
	consumer := newStack(app, inst, "consumer", "test consumer")
	inst.Auth.AddClient(consumer, "HubClient", ClientProps{
		CallbackURLs:   []string{"https://hub.example.org/hub/oauth_callback"},
		LogoutURLs:     []string{"https://hub.example.org/"},
		GenerateSecret: true,
	})
	awscdk.NewCfnOutput(consumer, jsii.String("Issuer"), &awscdk.CfnOutputProps{Value: inst.Auth.IssuerURL(consumer)})
	awscdk.NewCfnOutput(consumer, jsii.String("Base"), &awscdk.CfnOutputProps{Value: inst.Auth.HostedUIBaseURL(consumer)})
	if inst.Auth.ImportUserPool(consumer) != inst.Auth.ImportUserPool(consumer) {
		t.Error("ImportUserPool twice in one stack must give the same construct")
	}
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(nil), nil)
	tpl := assertions.Template_FromStack(consumer, nil)
	if errs := nagErrors(consumer); len(errs) > 0 {
		t.Fatalf("cdk-nag errors: %v", errs)
	}

	tpl.HasResourceProperties(jsii.String("AWS::Cognito::UserPoolClient"), map[string]any{
		"ClientName":                      "t7-HubClient",
		"UserPoolId":                      map[string]any{"Ref": assertions.Match_StringLikeRegexp(jsii.String("^SsmParameterValue"))},
		"GenerateSecret":                  true,
		"AllowedOAuthFlows":               []any{"code"},
		"AllowedOAuthFlowsUserPoolClient": true,
		"AllowedOAuthScopes":              []any{"openid", "email", "profile"},
		"CallbackURLs":                    []any{"https://hub.example.org/hub/oauth_callback"},
		"LogoutURLs":                      []any{"https://hub.example.org/"},
		"SupportedIdentityProviders":      []any{"COGNITO", "uni"},
		"PreventUserExistenceErrors":      "ENABLED",
		"WriteAttributes":                 []any{"custom:affiliation", "email", "name", "preferred_username"},
	})
	tpl.HasParameter(jsii.String("*"), map[string]any{
		"Type":    "AWS::SSM::Parameter::Value<String>",
		"Default": "/heliocloud/t7/auth/user-pool-id",
	})
	tpl.HasOutput(jsii.String("Issuer"), map[string]any{"Value": map[string]any{"Fn::Join": []any{"", []any{
		"https://cognito-idp.us-west-2.amazonaws.com/", map[string]any{"Ref": assertions.Match_StringLikeRegexp(jsii.String("^SsmParameterValue"))},
	}}}})
	tpl.HasOutput(jsii.String("Base"), map[string]any{"Value": "https://heliocloud-t7.auth.us-west-2.amazoncognito.com"})

	// No exports anywhere: the auth stack stays free to change.
	for _, s := range []awscdk.Stack{inst.Auth.Stack, consumer} {
		body := templateJSON(t, assertions.Template_FromStack(s, nil))
		if strings.Contains(body, "Fn::ImportValue") || strings.Contains(body, `"Export"`) {
			t.Errorf("%s uses CloudFormation exports", *s.StackName())
		}
	}
	found := false
	for _, dep := range *consumer.Dependencies() {
		found = found || *dep.StackName() == *inst.Auth.Stack.StackName()
	}
	if !found {
		t.Error("the consumer stack must depend on the auth stack")
	}
}

// With the portal on, the pool's pre-token-generation trigger (V1_0, which
// customises the ID token the portal's identity pool reads) adds the teams
// claim, knowing the instance's teams and nothing else.
func TestAuthTeamsClaimTrigger(t *testing.T) {
	tpl := synthYAML(t, portalYAML, Options{Account: "123456789012", Region: "us-east-1"})["auth"]
	fns := tpl.FindResources(jsii.String("AWS::Lambda::Function"), &map[string]any{
		"Properties": map[string]any{"Environment": map[string]any{"Variables": map[string]any{"HELIOCLOUD_TEAMS": "magneto,solar", "HELIOCLOUD_TEAMS_CLAIM": "heliocloud:teams",
			"HELIOCLOUD_APPROVED_GROUP": "approved", "HELIOCLOUD_APPROVED_CLAIM": "heliocloud:approved"}}},
	})
	if len(*fns) != 1 {
		t.Fatalf("%d functions with the instance's teams, want 1", len(*fns))
	}
	var fnID string
	for id, fn := range *fns {
		fnID = id
		p := (*fn)["Properties"].(map[string]any)
		if p["Runtime"] != "provided.al2023" || p["Timeout"] != float64(5) {
			t.Errorf("trigger runtime %v timeout %v", p["Runtime"], p["Timeout"])
		}
	}
	tpl.HasResourceProperties(jsii.String("AWS::Cognito::UserPool"), map[string]any{
		"LambdaConfig": map[string]any{"PreTokenGenerationConfig": map[string]any{
			"LambdaArn":     map[string]any{"Fn::GetAtt": []any{fnID, "Arn"}},
			"LambdaVersion": "V1_0",
		}},
	})
	tpl.HasResourceProperties(jsii.String("AWS::Lambda::Permission"), map[string]any{
		"Action": "lambda:InvokeFunction", "Principal": "cognito-idp.amazonaws.com",
		"FunctionName": map[string]any{"Fn::GetAtt": []any{fnID, "Arn"}},
	})
	// The function calls no AWS API: its role may only write its logs.
	granted := 0
	for id, sts := range statements(tpl) {
		if !strings.HasPrefix(id, "TeamsClaim") {
			continue
		}
		for _, s := range sts {
			for _, a := range strs(s["Action"]) {
				granted++
				if !strings.HasPrefix(a, "logs:") {
					t.Errorf("the teams trigger's role is granted %s", a)
				}
			}
		}
	}
	if granted == 0 {
		t.Error("found no policy of the teams trigger's role")
	}
}

// checkApprovalTrigger asserts that the pool's one function is its
// pre-token-generation trigger (V1_0), told the approved group and claim
// and, without the portal, no teams claim: tokens only for approved users.
func checkApprovalTrigger(t *testing.T, tpl assertions.Template) {
	t.Helper()
	fns := resources(tpl, "AWS::Lambda::Function")
	if len(fns) != 1 {
		t.Fatalf("%d functions, want the token trigger", len(fns))
	}
	for id, fn := range fns {
		env := toJSON(t, props(fn)["Environment"])
		if env != `{"Variables":{"HELIOCLOUD_APPROVED_CLAIM":"heliocloud:approved","HELIOCLOUD_APPROVED_GROUP":"approved"}}` {
			t.Errorf("token trigger environment %s", env)
		}
		tpl.HasResourceProperties(jsii.String("AWS::Cognito::UserPool"), map[string]any{
			"LambdaConfig": map[string]any{"PreTokenGenerationConfig": map[string]any{
				"LambdaArn": map[string]any{"Fn::GetAtt": []any{id, "Arn"}}, "LambdaVersion": "V1_0",
			}},
		})
	}
}

// Without the portal nobody reads the teams claim; the trigger still
// refuses tokens to users who are not approved.
func TestAuthNoTeamsClaimWithoutPortal(t *testing.T) {
	tpl := synthYAML(t, "name: t9\nteams: {sdo: {}}\nauth: {enabled: true}\n", Options{})["auth"]
	checkApprovalTrigger(t, tpl)
}
