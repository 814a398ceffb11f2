package config

import (
	"fmt"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// Auth is the sign-in component: Cognito users, groups and teams.
type Auth struct {
	// Enabled builds this component's stack.
	Enabled bool `yaml:"enabled"`
	// Domain is where the hosted sign-in pages are served.
	Domain AuthDomain `yaml:"domain"`
	// SelfSignUp lets people register themselves on the sign-in page. A
	// self-registered account lands in the pending group, disabled, until an
	// admin approves it. Off: only admins create accounts.
	SelfSignUp bool `yaml:"selfSignUp" default:"false"`
	// Mfa is multi-factor authentication with an authenticator app (TOTP):
	// "off", "optional" (each user chooses) or "required" (set up at first
	// sign-in).
	Mfa string `yaml:"mfa" default:"required" enum:"off,optional,required"`
	// Password is the policy for passwords of accounts in the pool (not of
	// users who sign in through an identity provider).
	Password PasswordPolicy `yaml:"password"`
	// FeaturePlan is Cognito's pricing tier: "plus" adds threat protection
	// (compromised-password and risky sign-in detection) at a higher price
	// per monthly active user; "essentials" is the cheaper tier without it.
	FeaturePlan string `yaml:"featurePlan" default:"plus" enum:"essentials,plus"`
	// ThreatProtection is what the plus plan does with risky sign-ins and
	// compromised passwords: "enforced" blocks or challenges them, "audit"
	// only records them, "off" does neither. Anything but off needs
	// featurePlan: plus.
	ThreatProtection string `yaml:"threatProtection" default:"enforced" enum:"off,audit,enforced"`
	// DeletionProtection makes CloudFormation and the console refuse to delete
	// the user pool. Turn it off only together with removalPolicy: destroy.
	DeletionProtection bool `yaml:"deletionProtection" default:"true"`
	// RemovalPolicy is what happens to the user pool (every account in it)
	// when the stack is deleted or the pool replaced: "retain" keeps it,
	// "destroy" deletes it, for development instances only.
	RemovalPolicy string `yaml:"removalPolicy" default:"retain" enum:"retain,destroy"`
	// Email is how the pool sends verification codes and invitations.
	Email AuthEmail `yaml:"email"`
	// Admins are the accounts the stack creates and puts in the admins group,
	// keyed by user name (letters, digits and . _ -, not an e-mail address).
	// Cognito e-mails each a temporary password. Removing an admin here
	// removes the group memberships but keeps the account.
	Admins map[string]Admin `yaml:"admins"`
	// IdentityProviders are institutional single sign-on systems (SAML or
	// OpenID Connect) offered on the sign-in page, keyed by the name shown on
	// its button (3 to 32 letters, digits and hyphens).
	IdentityProviders map[string]IdentityProvider `yaml:"identityProviders"`
	// LogRetentionDays keeps the logs of the sign-up and team-claim
	// triggers this long; one of CloudWatch's retention periods.
	LogRetentionDays int `yaml:"logRetentionDays" default:"90"`
}

// AuthDomain is the address of the hosted sign-in pages: a Cognito domain
// prefix, or a custom domain with its own certificate.
type AuthDomain struct {
	// Prefix makes https://<prefix>.auth.<region>.amazoncognito.com; it must
	// be unique in the region across all AWS accounts. Lower-case letters,
	// digits and hyphens, not starting or ending with a hyphen, without the
	// words aws, amazon or cognito. Default: heliocloud-<name>.
	Prefix string `yaml:"prefix"`
	// Custom is a domain name of the institution's own, such as
	// login.heliocloud.example.edu, used instead of the prefix. Its parent
	// domain must already resolve, and a CNAME or alias record to the
	// stack's SignInCloudFront output is needed after the deploy.
	Custom string `yaml:"custom"`
	// CertificateArn is the ACM certificate for custom, which must be in
	// us-east-1 (Cognito serves custom domains through CloudFront).
	CertificateArn string `yaml:"certificateArn"`
}

// PasswordPolicy is the rule passwords must follow.
type PasswordPolicy struct {
	// MinLength is the shortest password accepted (8 to 99).
	MinLength int `yaml:"minLength" default:"12"`
	// RequireLowercase asks for at least one lower-case letter.
	RequireLowercase bool `yaml:"requireLowercase" default:"true"`
	// RequireUppercase asks for at least one upper-case letter.
	RequireUppercase bool `yaml:"requireUppercase" default:"true"`
	// RequireDigits asks for at least one digit.
	RequireDigits bool `yaml:"requireDigits" default:"true"`
	// RequireSymbols asks for at least one symbol such as ! or %.
	RequireSymbols bool `yaml:"requireSymbols" default:"true"`
	// TemporaryValidityDays is how long a temporary password sent to a new
	// account works before an admin must send a new one (1 to 365).
	TemporaryValidityDays int `yaml:"temporaryValidityDays" default:"7"`
}

// AuthEmail chooses who sends the pool's e-mail.
type AuthEmail struct {
	// Sender is "cognito" (Cognito's own address, at most 50 messages a day:
	// enough for a small instance) or "ses" (the institution's address
	// through Amazon SES: the domain of fromAddress must be verified in SES
	// beforehand).
	Sender string `yaml:"sender" default:"cognito" enum:"cognito,ses"`
	// FromAddress is the sender address with SES, such as
	// no-reply@heliocloud.example.edu. Required with sender: ses.
	FromAddress string `yaml:"fromAddress"`
	// FromName is the display name of the sender with SES. Default: the
	// institution's name.
	FromName string `yaml:"fromName"`
	// ReplyTo is where replies go, such as a help desk address.
	ReplyTo string `yaml:"replyTo"`
	// SesRegion is the region of the SES identity. Default: the instance's
	// region.
	SesRegion string `yaml:"sesRegion"`
}

// Admin is one administrator account created by the stack.
type Admin struct {
	// Email is the admin's address: the temporary password goes there, and
	// it can be used to sign in instead of the user name. It is used when the
	// account is created; change a live admin's address in Cognito, not here.
	Email string `yaml:"email" required:"true"`
	// Teams the admin also belongs to, by name from the top-level teams.
	Teams []string `yaml:"teams"`
}

// IdentityProvider is an institution's single sign-on system.
type IdentityProvider struct {
	// Type is "saml" (such as NASA Launchpad) or "oidc" (OpenID Connect, such
	// as a university's Microsoft Entra ID, Okta or Keycloak).
	Type string `yaml:"type" required:"true" enum:"saml,oidc"`
	// MetadataURL is where the SAML provider publishes its metadata (https).
	// SAML only; give this or metadataFile.
	MetadataURL string `yaml:"metadataUrl"`
	// MetadataFile is the SAML provider's metadata XML, as a path relative to
	// the instance file. SAML only; give this or metadataUrl.
	MetadataFile string `yaml:"metadataFile"`
	// Issuer is the OpenID Connect issuer URL (https), from which Cognito
	// discovers the provider's endpoints. OIDC only; required.
	Issuer string `yaml:"issuer"`
	// ClientID is the id of the client registered at the OIDC provider for
	// this instance. OIDC only; required.
	ClientID string `yaml:"clientId"`
	// ClientSecretName is the name of the AWS Secrets Manager secret holding
	// that client's secret (plain text), created before the deploy; the
	// secret is read by CloudFormation and never written in the YAML. OIDC
	// only; required.
	ClientSecretName string `yaml:"clientSecretName"`
	// Scopes requested from the OIDC provider.
	Scopes []string `yaml:"scopes" default:"[openid, email, profile]"`
	// Attributes maps the provider's attributes (SAML attribute names or
	// OIDC claims) to the pool's.
	Attributes AttributeMapping `yaml:"attributes"`
}

// AttributeMapping names the provider's attributes that fill the pool's.
type AttributeMapping struct {
	// Email is the provider attribute holding the e-mail address, such as
	// the OIDC claim email or a SAML attribute name like
	// http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress.
	Email string `yaml:"email" default:"email"`
	// Username is the provider attribute that becomes the user's
	// preferred_username (the name JupyterHub and the portal show), such as
	// preferred_username or uid. Default: not mapped.
	Username string `yaml:"username"`
}

// DefaultDomainPrefix is the hosted sign-in prefix of an instance that sets none.
func DefaultDomainPrefix(instance string) string { return "heliocloud-" + instance }

// DomainPrefix is the hosted sign-in prefix in effect.
func (x *Auth) DomainPrefix(instance string) string {
	if x.Domain.Prefix != "" {
		return x.Domain.Prefix
	}
	return DefaultDomainPrefix(instance)
}

var (
	domainPrefixRe = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$`)
	acmUSEast1Re   = regexp.MustCompile(`^arn:aws[a-z-]*:acm:us-east-1:[0-9]{12}:certificate/[0-9a-f-]{36}$`)
	usernameRe     = regexp.MustCompile(`^[A-Za-z0-9._-]{1,128}$`)
	providerNameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]{1,30}[A-Za-z0-9]$`)
	// reservedDomainWords may not appear in a Cognito domain prefix.
	reservedDomainWords = []string{"aws", "amazon", "cognito"}
	// reservedProviders are Cognito's own provider names.
	reservedProviders = []string{"cognito", "google", "facebook", "loginwithamazon", "signinwithapple"}
)

func (x *Auth) check(c *checker, cfg *Config) {
	if !x.Enabled {
		return
	}
	x.checkDomain(c, cfg)
	x.checkSecurity(c)
	checkRetention(c, "auth.logRetentionDays", x.LogRetentionDays)
	x.Email.check(c, cfg)
	// Cognito compares user names and e-mail aliases without case.
	names, emails := map[string]string{}, map[string]string{}
	for _, name := range slices.Sorted(maps.Keys(x.Admins)) {
		a := x.Admins[name]
		a.check(c, cfg, name)
		if other, ok := names[strings.ToLower(name)]; ok {
			c.errorf("auth.admins."+name, "%q and %q are the same user name to Cognito, which ignores case", other, name)
		}
		names[strings.ToLower(name)] = name
		if other, ok := emails[strings.ToLower(a.Email)]; ok && a.Email != "" {
			c.errorf("auth.admins."+name+".email", "%s is also the e-mail of %s; an address can sign in to one account only", a.Email, other)
		}
		emails[strings.ToLower(a.Email)] = name
	}
	for _, name := range slices.Sorted(maps.Keys(x.IdentityProviders)) {
		p := x.IdentityProviders[name]
		p.check(c, cfg, name)
	}
}

func (x *Auth) checkDomain(c *checker, cfg *Config) {
	const p = "auth.domain"
	d := x.Domain
	if d.Custom != "" {
		if !dnsNameRe.MatchString(d.Custom) || len(d.Custom) > 253 {
			c.errorf(p+".custom", "%q is not a domain name such as login.heliocloud.example.edu", d.Custom)
		}
		if d.Prefix != "" {
			c.errorf(p+".prefix", "give either prefix or custom, not both")
		}
		if d.CertificateArn == "" {
			c.errorf(p+".certificateArn", "a custom domain needs an ACM certificate in us-east-1")
		} else if !acmUSEast1Re.MatchString(d.CertificateArn) {
			c.errorf(p+".certificateArn", "%q is not an ACM certificate ARN in us-east-1 (arn:aws:acm:us-east-1:<account>:certificate/<id>); Cognito needs the certificate there whatever the instance's region", d.CertificateArn)
		}
		return
	}
	if d.CertificateArn != "" {
		c.errorf(p+".certificateArn", "only applies with a custom domain")
	}
	prefix, path := x.DomainPrefix(cfg.Name), p+".prefix"
	derived := d.Prefix == ""
	var problems []string
	if len(prefix) > 63 || !domainPrefixRe.MatchString(prefix) {
		problems = append(problems, "use 1-63 lower-case letters, digits and hyphens, not starting or ending with a hyphen")
	}
	for _, w := range reservedDomainWords {
		if strings.Contains(prefix, w) {
			problems = append(problems, fmt.Sprintf("it must not contain the reserved word %q (reserved: aws, amazon, cognito)", w))
		}
	}
	for _, msg := range problems {
		if derived {
			c.errorf(path, "the default prefix %q (from the instance name) is not valid: %s; set auth.domain.prefix", prefix, msg)
		} else {
			c.errorf(path, "%q is not a valid Cognito domain prefix: %s", prefix, msg)
		}
	}
}

func (x *Auth) checkSecurity(c *checker) {
	if x.RemovalPolicy == "destroy" && x.DeletionProtection {
		c.errorf("auth.removalPolicy", "destroy cannot delete a pool with deletion protection: set auth.deletionProtection: false as well (development instances only)")
	}
	if x.RemovalPolicy == "destroy" {
		c.warnf("auth.removalPolicy", "destroy deletes every account when the stack is deleted; use it for development instances only")
	}
	if x.ThreatProtection != "off" && x.FeaturePlan != "plus" {
		c.errorf("auth.threatProtection", "%q needs featurePlan: plus; with featurePlan: %s set threatProtection: off", x.ThreatProtection, x.FeaturePlan)
	}
	pw := x.Password
	if !pw.RequireUppercase || !pw.RequireDigits || !pw.RequireSymbols {
		c.warnf("auth.password", "passwords without upper-case letters, digits or symbols are easier to guess; cdk-nag's rule AwsSolutions-COG1 is suppressed for this instance")
	}
	if pw.MinLength < 8 || pw.MinLength > 99 {
		c.errorf("auth.password.minLength", "must be from 8 to 99, got %d", pw.MinLength)
	}
	if pw.TemporaryValidityDays < 1 || pw.TemporaryValidityDays > 365 {
		c.errorf("auth.password.temporaryValidityDays", "must be from 1 to 365, got %d", pw.TemporaryValidityDays)
	}
}

func (e *AuthEmail) check(c *checker, cfg *Config) {
	const p = "auth.email"
	if e.ReplyTo != "" {
		checkEmail(c, p+".replyTo", e.ReplyTo)
	}
	if e.Sender != "ses" {
		onlyWith(c, p, "sender: ses", "fromAddress", "fromName", "sesRegion")
		return
	}
	switch {
	case e.FromAddress == "":
		c.errorf(p+".fromAddress", "is required with sender: ses (an address at the domain verified in SES)")
	case !isEmail(e.FromAddress):
		c.errorf(p+".fromAddress", "%q is not an e-mail address with a domain, such as no-reply@heliocloud.example.edu (the domain is the one verified in SES)", e.FromAddress)
	}
	if e.SesRegion != "" {
		checkRegion(c, p+".sesRegion", e.SesRegion)
	}
	if e.SesRegion == "" && cfg.Region == "" {
		c.errorf(p+".sesRegion", "is required with sender: ses when the instance sets no region")
	}
}

func (a Admin) check(c *checker, cfg *Config, name string) {
	p := "auth.admins." + name
	switch {
	case strings.Contains(name, "@"):
		c.errorf(p, "%q: the user name must not be an e-mail address (e-mail is a sign-in alias); use something like jdoe and put the address in email", name)
	case !usernameRe.MatchString(name):
		c.errorf(p, "%q is not a valid user name: 1-128 letters, digits and . _ -", name)
	}
	if a.Email != "" {
		checkEmail(c, p+".email", a.Email)
	}
	teams := slices.Sorted(maps.Keys(cfg.Teams))
	seen := map[string]bool{}
	for i, t := range a.Teams {
		if seen[t] {
			c.errorf(fmt.Sprintf("%s.teams[%d]", p, i), "%q is listed twice", t)
			continue
		}
		seen[t] = true
		if _, ok := cfg.Teams[t]; !ok {
			allowed := "none are defined; add it under the top-level teams"
			if len(teams) > 0 {
				allowed = "defined teams: " + strings.Join(teams, ", ")
			}
			c.errorf(fmt.Sprintf("%s.teams[%d]", p, i), "%q is not a team%s; %s", t, suggest(t, teams), allowed)
		}
	}
}

func (ip *IdentityProvider) check(c *checker, cfg *Config, name string) {
	p := "auth.identityProviders." + name
	if !providerNameRe.MatchString(name) {
		c.errorf(p, "%q is not a valid provider name: 3-32 letters, digits and hyphens, not starting or ending with a hyphen", name)
	}
	for _, r := range reservedProviders {
		if strings.EqualFold(name, r) {
			c.errorf(p, "%q is reserved by Cognito for its own providers", name)
		}
	}
	switch ip.Type {
	case "saml":
		onlyWith(c, p, "type: oidc", "issuer", "clientId", "clientSecretName", "scopes")
		switch {
		case ip.MetadataURL == "" && ip.MetadataFile == "":
			c.errorf(p, "a SAML provider needs its metadata: give metadataUrl or metadataFile")
		case ip.MetadataURL != "" && ip.MetadataFile != "":
			c.errorf(p+".metadataFile", "give either metadataUrl or metadataFile, not both")
		case ip.MetadataURL != "":
			checkHTTPS(c, p+".metadataUrl", ip.MetadataURL)
		default:
			path := ip.MetadataPath(cfg.File)
			if _, err := os.Stat(path); err != nil {
				c.errorf(p+".metadataFile", "cannot read %s (paths are relative to the instance file): %v", path, err)
			}
		}
	case "oidc":
		onlyWith(c, p, "type: saml", "metadataUrl", "metadataFile")
		if ip.Issuer == "" {
			c.errorf(p+".issuer", "an OIDC provider needs its issuer URL, such as https://login.microsoftonline.com/<tenant>/v2.0")
		} else {
			checkHTTPS(c, p+".issuer", ip.Issuer)
		}
		if ip.ClientID == "" {
			c.errorf(p+".clientId", "an OIDC provider needs the id of the client registered for this instance")
		}
		if ip.ClientSecretName == "" {
			c.errorf(p+".clientSecretName", "an OIDC provider needs the name of the Secrets Manager secret holding its client secret")
		}
		if !slices.Contains(ip.Scopes, "openid") {
			c.errorf(p+".scopes", "must include openid")
		}
	}
	if ip.Attributes.Email == "" {
		c.errorf(p+".attributes.email", "the provider attribute holding the e-mail address is required: the pool requires an e-mail")
	}
}

// MetadataPath is where the SAML metadata file is, relative to the
// instance file instanceFile.
func (ip *IdentityProvider) MetadataPath(instanceFile string) string {
	if filepath.IsAbs(ip.MetadataFile) {
		return ip.MetadataFile
	}
	return filepath.Join(filepath.Dir(instanceFile), ip.MetadataFile)
}

func checkHTTPS(c *checker, path, s string) {
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		c.errorf(path, "%q is not an https URL", s)
	}
}
