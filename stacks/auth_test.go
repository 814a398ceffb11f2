package stacks

import (
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
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
	for _, g := range []string{"admins", "pending", "sdo", "ml-helio"} {
		tpl.HasResourceProperties(jsii.String("AWS::Cognito::UserPoolGroup"), map[string]any{"GroupName": g})
	}
	tpl.ResourceCountIs(jsii.String("AWS::Cognito::UserPoolGroup"), jsii.Number(4))
	tpl.ResourceCountIs(jsii.String("AWS::Cognito::UserPoolIdentityProvider"), jsii.Number(0))
	tpl.HasResourceProperties(jsii.String("AWS::Cognito::UserPoolDomain"), map[string]any{"Domain": "heliocloud-t1"})
	tpl.HasResourceProperties(jsii.String("AWS::SSM::Parameter"), map[string]any{"Name": "/heliocloud/t1/auth/user-pool-id"})
}
