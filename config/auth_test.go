package config

import (
	"path/filepath"
	"strings"
	"testing"
)

// authYAML is a valid instance with auth on; each fixture appends to it.
const authYAML = `name: gsfc
region: us-east-1
teams:
  sdo: {}
  mms: {}
auth:
  enabled: true
`

// One fixture per kind of auth mistake, with the problem line it must
// produce (matched as a substring of file:line: error: path: message).
func TestAuthErrors(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"prefix with upper case", "  domain: {prefix: GSFC-Helio}\n",
			`test.yaml:8: error: auth.domain.prefix: "GSFC-Helio" is not a valid Cognito domain prefix: use 1-63 lower-case letters, digits and hyphens, not starting or ending with a hyphen`},
		{"prefix ending with a hyphen", "  domain: {prefix: helio-}\n",
			`auth.domain.prefix: "helio-" is not a valid Cognito domain prefix: use 1-63 lower-case letters`},
		{"prefix with a reserved word", "  domain: {prefix: gsfc-aws-login}\n",
			`test.yaml:8: error: auth.domain.prefix: "gsfc-aws-login" is not a valid Cognito domain prefix: it must not contain the reserved word "aws" (reserved: aws, amazon, cognito)`},
		{"prefix and custom domain", "  domain: {prefix: gsfc-login, custom: login.example.edu, certificateArn: 'arn:aws:acm:us-east-1:111122223333:certificate/12345678-1234-1234-1234-123456789012'}\n",
			`test.yaml:8: error: auth.domain.prefix: give either prefix or custom, not both`},
		{"custom domain without certificate", "  domain: {custom: login.example.edu}\n",
			`test.yaml:8: error: auth.domain.certificateArn: a custom domain needs an ACM certificate in us-east-1`},
		{"certificate outside us-east-1", "  domain: {custom: login.example.edu, certificateArn: 'arn:aws:acm:eu-west-1:111122223333:certificate/12345678-1234-1234-1234-123456789012'}\n",
			`auth.domain.certificateArn: "arn:aws:acm:eu-west-1:111122223333:certificate/12345678-1234-1234-1234-123456789012" is not an ACM certificate ARN in us-east-1`},
		{"bad custom domain", "  domain: {custom: 'login example', certificateArn: 'arn:aws:acm:us-east-1:111122223333:certificate/12345678-1234-1234-1234-123456789012'}\n",
			`auth.domain.custom: "login example" is not a domain name`},
		{"certificate without custom domain", "  domain: {certificateArn: 'arn:aws:acm:us-east-1:111122223333:certificate/12345678-1234-1234-1234-123456789012'}\n",
			`auth.domain.certificateArn: only applies with a custom domain`},
		{"destroy with deletion protection", "  removalPolicy: destroy\n",
			`test.yaml:8: error: auth.removalPolicy: destroy cannot delete a pool with deletion protection: set auth.deletionProtection: false as well`},
		{"bad removal policy", "  removalPolicy: DESTROY\n",
			`test.yaml:8: error: auth.removalPolicy: "DESTROY" is not allowed (did you mean "destroy"?); allowed values: retain, destroy`},
		{"bad mfa", "  mfa: sms\n",
			`test.yaml:8: error: auth.mfa: "sms" is not allowed; allowed values: off, optional, required`},
		{"threat protection without plus", "  featurePlan: essentials\n",
			`auth.threatProtection: "enforced" needs featurePlan: plus; with featurePlan: essentials set threatProtection: off`},
		{"short password", "  password: {minLength: 6}\n",
			`test.yaml:8: error: auth.password.minLength: must be from 8 to 99, got 6`},
		{"temporary password validity", "  password: {temporaryValidityDays: 400}\n",
			`auth.password.temporaryValidityDays: must be from 1 to 365, got 400`},
		{"ses without from-address", "  email: {sender: ses}\n",
			`test.yaml:8: error: auth.email.fromAddress: is required with sender: ses`},
		{"ses from-address without a domain", "  email: {sender: ses, fromAddress: no-reply}\n",
			`test.yaml:8: error: auth.email.fromAddress: "no-reply" is not an e-mail address with a domain, such as no-reply@heliocloud.example.edu`},
		{"ses from-address with a bad domain", "  email: {sender: ses, fromAddress: no-reply@localhost}\n",
			`auth.email.fromAddress: "no-reply@localhost" is not an e-mail address with a domain`},
		{"ses key with cognito sender", "  email: {fromAddress: no-reply@nasa.gov}\n",
			`test.yaml:8: error: auth.email.fromAddress: only applies with sender: ses`},
		{"bad reply-to", "  email: {replyTo: help-desk}\n",
			`auth.email.replyTo: "help-desk" is not an e-mail address`},
		{"admin in an unknown team", "  admins:\n    jdoe: {email: jdoe@nasa.gov, teams: [sdo, psp]}\n",
			`test.yaml:9: error: auth.admins.jdoe.teams[1]: "psp" is not a team; defined teams: mms, sdo`},
		{"admin team with a typo", "  admins:\n    jdoe: {email: jdoe@nasa.gov, teams: [sod]}\n",
			`auth.admins.jdoe.teams[0]: "sod" is not a team (did you mean "sdo"?); defined teams: mms, sdo`},
		{"admin team listed twice", "  admins:\n    jdoe: {email: jdoe@nasa.gov, teams: [sdo, mms, sdo]}\n",
			`test.yaml:9: error: auth.admins.jdoe.teams[2]: "sdo" is listed twice`},
		{"admins differing only in case", "  admins:\n    jdoe: {email: jdoe@nasa.gov}\n    JDoe: {email: john.doe@nasa.gov}\n",
			`auth.admins.jdoe: "JDoe" and "jdoe" are the same user name to Cognito, which ignores case`},
		{"admins sharing an e-mail", "  admins:\n    jdoe: {email: jdoe@nasa.gov}\n    jane: {email: JDoe@nasa.gov}\n",
			`auth.admins.jdoe.email: jdoe@nasa.gov is also the e-mail of jane; an address can sign in to one account only`},
		{"admin without e-mail", "  admins:\n    jdoe: {teams: [sdo]}\n",
			`test.yaml:9: error: auth.admins.jdoe.email: is required but not given`},
		{"admin named by e-mail", "  admins:\n    jdoe@nasa.gov: {email: jdoe@nasa.gov}\n",
			`auth.admins.jdoe@nasa.gov: "jdoe@nasa.gov": the user name must not be an e-mail address`},
		{"admin with a bad e-mail", "  admins:\n    jdoe: {email: jdoe}\n",
			`auth.admins.jdoe.email: "jdoe" is not an e-mail address`},
		{"saml without metadata", "  identityProviders:\n    launchpad: {type: saml}\n",
			`test.yaml:9: error: auth.identityProviders.launchpad: a SAML provider needs its metadata: give metadataUrl or metadataFile`},
		{"saml with both metadata", "  identityProviders:\n    launchpad: {type: saml, metadataUrl: 'https://idp.example.gov/md', metadataFile: md.xml}\n",
			`auth.identityProviders.launchpad.metadataFile: give either metadataUrl or metadataFile, not both`},
		{"saml metadata over http", "  identityProviders:\n    launchpad: {type: saml, metadataUrl: 'http://idp.example.gov/md'}\n",
			`auth.identityProviders.launchpad.metadataUrl: "http://idp.example.gov/md" is not an https URL`},
		{"saml metadata file missing", "  identityProviders:\n    launchpad: {type: saml, metadataFile: nowhere.xml}\n",
			`auth.identityProviders.launchpad.metadataFile: cannot read nowhere.xml (paths are relative to the instance file)`},
		{"oidc without issuer", "  identityProviders:\n    uni: {type: oidc, clientId: abc, clientSecretName: uni}\n",
			`test.yaml:9: error: auth.identityProviders.uni.issuer: an OIDC provider needs its issuer URL`},
		{"oidc without client", "  identityProviders:\n    uni: {type: oidc, issuer: 'https://login.example.edu'}\n",
			`auth.identityProviders.uni.clientId: an OIDC provider needs the id of the client registered for this instance`},
		{"oidc without secret", "  identityProviders:\n    uni: {type: oidc, issuer: 'https://login.example.edu', clientId: abc}\n",
			`auth.identityProviders.uni.clientSecretName: an OIDC provider needs the name of the Secrets Manager secret`},
		{"oidc without openid scope", "  identityProviders:\n    uni: {type: oidc, issuer: 'https://login.example.edu', clientId: abc, clientSecretName: uni, scopes: [email]}\n",
			`auth.identityProviders.uni.scopes: must include openid`},
		{"saml key on oidc", "  identityProviders:\n    uni: {type: oidc, issuer: 'https://login.example.edu', clientId: abc, clientSecretName: uni, metadataUrl: 'https://x.example.edu'}\n",
			`auth.identityProviders.uni.metadataUrl: only applies with type: saml`},
		{"provider without type", "  identityProviders:\n    uni: {issuer: 'https://login.example.edu'}\n",
			`test.yaml:9: error: auth.identityProviders.uni.type: is required but not given`},
		{"provider named like Cognito's", "  identityProviders:\n    Google: {type: saml, metadataUrl: 'https://idp.example.gov/md'}\n",
			`auth.identityProviders.Google: "Google" is reserved by Cognito for its own providers`},
		{"provider with a bad name", "  identityProviders:\n    nasa_launchpad: {type: saml, metadataUrl: 'https://idp.example.gov/md'}\n",
			`auth.identityProviders.nasa_launchpad: "nasa_launchpad" is not a valid provider name`},
		{"provider name too short", "  identityProviders:\n    ab: {type: saml, metadataUrl: 'https://idp.example.gov/md'}\n",
			`auth.identityProviders.ab: "ab" is not a valid provider name: 3-32 letters`},
		{"provider without e-mail mapping", "  identityProviders:\n    launchpad: {type: saml, metadataUrl: 'https://idp.example.gov/md', attributes: {email: ''}}\n",
			`auth.identityProviders.launchpad.attributes.email: the provider attribute holding the e-mail address is required`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantProblem(t, authYAML+tt.yaml, tt.want)
		})
	}
}

// The default prefix comes from the instance name, so a name with a
// reserved word needs an explicit prefix; the message says so.
func TestAuthDerivedPrefixWithReservedWord(t *testing.T) {
	wantProblem(t, strings.Replace(authYAML, "name: gsfc", "name: amazon-test", 1),
		`test.yaml:6: error: auth.domain.prefix: the default prefix "heliocloud-amazon-test" (from the instance name) is not valid: it must not contain the reserved word "amazon" (reserved: aws, amazon, cognito); set auth.domain.prefix`)
}

// SES is regional: without the instance's region the SES identity's region
// must be given.
func TestAuthSesNeedsARegion(t *testing.T) {
	wantProblem(t, strings.Replace(authYAML, "region: us-east-1\n", "", 1)+"  email: {sender: ses, fromAddress: no-reply@nasa.gov}\n",
		`test.yaml:7: error: auth.email.sesRegion: is required with sender: ses when the instance sets no region`)
}

// Every mistake is reported at once, not only the first.
func TestAuthReportsAllProblems(t *testing.T) {
	_, problems := loadText(t, authYAML+"  domain: {prefix: aws}\n  removalPolicy: destroy\n  admins:\n    jdoe: {email: jdoe@nasa.gov, teams: [psp]}\n  identityProviders:\n    launchpad: {type: saml}\n")
	if n := len(problems.Errors()); n != 4 {
		t.Fatalf("want 4 errors, got %d:\n%v", n, problems)
	}
}

func TestAuthValid(t *testing.T) {
	text := authYAML + `  domain: {prefix: gsfc-helio}
  selfSignUp: true
  mfa: optional
  email: {sender: ses, fromAddress: no-reply@heliocloud.nasa.gov, replyTo: help@nasa.gov}
  admins:
    jdoe: {email: jane.doe@nasa.gov, teams: [sdo]}
    r.smith: {email: r.smith@nasa.gov}
  identityProviders:
    launchpad:
      type: saml
      metadataFile: testdata/auth/launchpad-metadata.xml
      attributes: {email: 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress', username: uid}
    uni: {type: oidc, issuer: 'https://login.example.edu', clientId: abc, clientSecretName: heliocloud/uni}
`
	// The metadata file is found relative to the instance file.
	cfg, err := Parse(filepath.Join(".", "test.yaml"), []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	a := cfg.Auth
	if a.DomainPrefix(cfg.Name) != "gsfc-helio" || a.Mfa != "optional" || !a.SelfSignUp {
		t.Errorf("values not read: %+v", a)
	}
	if got := a.IdentityProviders["uni"].Scopes; strings.Join(got, ",") != "openid,email,profile" {
		t.Errorf("default scopes: got %v", got)
	}
	if got := a.IdentityProviders["uni"].Attributes.Email; got != "email" {
		t.Errorf("default e-mail attribute: got %q", got)
	}
	if got := a.Admins["jdoe"].Teams; len(got) != 1 || got[0] != "sdo" {
		t.Errorf("admin teams: got %v", got)
	}
	if len(cfg.Warnings) != 0 {
		t.Errorf("unexpected warnings: %v", cfg.Warnings)
	}
}

func TestAuthDefaults(t *testing.T) {
	cfg := mustLoad(t, authYAML)
	a := cfg.Auth
	if a.DomainPrefix(cfg.Name) != "heliocloud-gsfc" {
		t.Errorf("default prefix: got %q", a.DomainPrefix(cfg.Name))
	}
	if a.Mfa != "required" || a.RemovalPolicy != "retain" || !a.DeletionProtection || a.SelfSignUp ||
		a.FeaturePlan != "plus" || a.ThreatProtection != "enforced" || a.Email.Sender != "cognito" {
		t.Errorf("secure defaults not applied: %+v", a)
	}
	if p := a.Password; p.MinLength != 12 || !p.RequireLowercase || !p.RequireUppercase || !p.RequireDigits || !p.RequireSymbols || p.TemporaryValidityDays != 7 {
		t.Errorf("password defaults: %+v", p)
	}
}

func TestAuthWarnings(t *testing.T) {
	cfg := mustLoad(t, authYAML+"  removalPolicy: destroy\n  deletionProtection: false\n  password: {requireSymbols: false}\n")
	all := warningsText(cfg)
	for _, want := range []string{
		"test.yaml:8: warning: auth.removalPolicy: destroy deletes every account when the stack is deleted",
		"test.yaml:10: warning: auth.password: passwords without upper-case letters, digits or symbols are easier to guess",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("want a warning containing %q, got\n%s", want, all)
		}
	}
}
