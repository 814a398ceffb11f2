package checks

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/acm"
	acmtypes "github.com/aws/aws-sdk-go-v2/service/acm/types"
	"github.com/aws/aws-sdk-go-v2/service/costexplorer"
	cetypes "github.com/aws/aws-sdk-go-v2/service/costexplorer/types"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/servicequotas"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/heliocloud/heliocloud-go/config"
	"github.com/heliocloud/heliocloud-go/daskhub/values"
)

// BootstrapVersionParameter is where `cdk bootstrap` records the version of
// its stack, for the default qualifier hnb659fds that this app uses.
const BootstrapVersionParameter = "/cdk-bootstrap/hnb659fds/version"

// MinBootstrapVersion is the oldest bootstrap stack the app's templates
// accept: MIN_BOOTSTRAP_STACK_VERSION in aws-cdk-lib 2.276.0's
// core/lib/stack-synthesizers/default-synthesizer.js.
const MinBootstrapVersion = 6

// Cost allocation tags the deployment filters costs by: the portal's
// TagInstance and TagOwner (portal/config.go; a test holds them equal,
// without the CLI linking the portal's EC2 client).
const (
	tagInstance = "heliocloud:instance"
	tagOwner    = "heliocloud:owner"
)

// billingRegion is where Cost Explorer and its cost allocation tags answer
// (the portal's function asks there too).
const billingRegion = "us-east-1"

type preflight struct {
	cfg    *config.Config
	env    *Env
	region string
}

// Region is the region the instance deploys to: the file's, else the
// admin's default.
func Region(cfg *config.Config, env *Env) string {
	if cfg.Region != "" {
		return cfg.Region
	}
	return env.AWS.Region
}

// Preflight lists the checks to run before the first deploy of cfg: what
// the deploy needs but cannot set up itself.
func Preflight(cfg *config.Config, env *Env) []Check {
	p := &preflight{cfg: cfg, env: env, region: Region(cfg, env)}
	if p.region == "" {
		// Every other check asks a regional API: one clear line beats a dozen SDK errors.
		return []Check{{"credentials", p.credentials}}
	}
	checks := []Check{
		{"credentials", p.credentials},
		{"cdk bootstrap", p.bootstrap},
	}
	if cfg.HubCostsExportStack() {
		// portal.hubCosts puts the export in a stack of its own there.
		checks = append(checks, Check{"cdk bootstrap " + config.HubCostsExportRegion, func(ctx context.Context) (Status, string, error) {
			return p.bootstrapIn(ctx, config.HubCostsExportRegion)
		}})
	}
	checks = append(checks, []Check{
		{"ses production access", p.sesProduction},
		{"ses sender identity", p.sesIdentity},
		{"cost explorer", p.costExplorer},
		{"cost allocation tags", p.costTags},
	}...)
	needs := vcpuNeeds(cfg)
	for _, key := range slices.Sorted(maps.Keys(vcpuQuotas)) {
		if n := needs[key]; n != nil {
			checks = append(checks, Check{"vcpu quota " + key, func(ctx context.Context) (Status, string, error) { return p.quota(ctx, vcpuQuotas[key], n) }})
		}
	}
	for _, c := range p.certificates() {
		checks = append(checks, Check{"certificate " + c.path, func(ctx context.Context) (Status, string, error) { return p.certificate(ctx, c) }})
	}
	for _, z := range p.zones() {
		checks = append(checks, Check{"hosted zone " + z.path, func(ctx context.Context) (Status, string, error) { return p.zone(ctx, z) }})
	}
	checks = append(checks, Check{"partner accounts", p.partners})
	return checks
}

func (p *preflight) credentials(ctx context.Context) (Status, string, error) {
	if p.region == "" {
		return fail("no region: set region in %s or AWS_REGION", p.cfg.File)
	}
	out, err := sts.NewFromConfig(p.env.AWS, p.inRegion).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return fail("cannot use your AWS credentials (%v): set AWS_PROFILE to an administrator of the account, or run aws sso login", err)
	}
	account := aws.ToString(out.Account)
	if p.cfg.Account != "" && account != p.cfg.Account {
		return fail("your credentials are for account %s but %s deploys to %s: switch AWS_PROFILE", account, p.cfg.File, p.cfg.Account)
	}
	return pass("%s in account %s, region %s", aws.ToString(out.Arn), account, p.region)
}

func (p *preflight) inRegion(o *sts.Options) { o.Region = p.region }

func (p *preflight) bootstrap(ctx context.Context) (Status, string, error) {
	return p.bootstrapIn(ctx, p.region)
}

func (p *preflight) bootstrapIn(ctx context.Context, region string) (Status, string, error) {
	fix := fmt.Sprintf("run npx cdk bootstrap aws://%s/%s", orPlaceholder(p.cfg.Account, "<account>"), region)
	out, err := ssm.NewFromConfig(p.env.AWS, func(o *ssm.Options) { o.Region = region }).GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(BootstrapVersionParameter)})
	if errorCode(err) == "ParameterNotFound" {
		return fail("the account is not bootstrapped for the CDK in %s (no %s): %s", region, BootstrapVersionParameter, fix)
	}
	if err != nil {
		return Fail, "", err
	}
	v, err := strconv.Atoi(aws.ToString(out.Parameter.Value))
	if err != nil {
		return fail("%s holds %q, not a version number: %s", BootstrapVersionParameter, aws.ToString(out.Parameter.Value), fix)
	}
	if v < MinBootstrapVersion {
		return fail("bootstrap stack version %d is older than the %d the templates need: %s to upgrade it", v, MinBootstrapVersion, fix)
	}
	return pass("bootstrap stack version %d in %s", v, region)
}

func orPlaceholder(s, placeholder string) string {
	if s == "" {
		return placeholder
	}
	return s
}

// sesRegion is where the pool's SES identity lives.
func (p *preflight) sesRegion() string {
	return orPlaceholder(p.cfg.Auth.Email.SesRegion, p.region)
}

// usesSES says why the SES checks are skipped, or "" when they apply.
func (p *preflight) sesSkip() string {
	switch {
	case !p.cfg.Auth.Enabled:
		return "auth is off"
	case p.cfg.Auth.Email.Sender != "ses":
		return "auth.email.sender is cognito: Cognito sends the invitations itself (at most 50 e-mails a day)"
	}
	return ""
}

func (p *preflight) ses() *sesv2.Client {
	return sesv2.NewFromConfig(p.env.AWS, func(o *sesv2.Options) { o.Region = p.sesRegion() })
}

func (p *preflight) sesProduction(ctx context.Context) (Status, string, error) {
	if why := p.sesSkip(); why != "" {
		return skip("%s", why)
	}
	out, err := p.ses().GetAccount(ctx, &sesv2.GetAccountInput{})
	if err != nil {
		return Fail, "", err
	}
	region := p.sesRegion()
	if !out.ProductionAccessEnabled {
		return fail("the account is in the SES sandbox in %s: it sends only to verified addresses, so the invitations to the %d admins of auth.admins fail and with them the Auth stack; "+
			"request production access (SES console > Account dashboard > Request production access, or aws sesv2 put-account-details --region %s --production-access-enabled --mail-type TRANSACTIONAL --website-url <url> --use-case-description <text>)",
			region, len(p.cfg.Auth.Admins), region)
	}
	if !out.SendingEnabled {
		return fail("sending is paused for the account in %s (SES enforcement): see the SES console's Reputation metrics, then aws sesv2 put-account-sending-attributes --region %s --sending-enabled", region, region)
	}
	return pass("production access in %s, sending enabled", region)
}

func (p *preflight) sesIdentity(ctx context.Context) (Status, string, error) {
	if why := p.sesSkip(); why != "" {
		return skip("%s", why)
	}
	from := p.cfg.Auth.Email.FromAddress
	_, domain, _ := strings.Cut(from, "@")
	client := p.ses()
	// Cognito may send from an address whose domain, or the address itself, is verified.
	for _, id := range []string{domain, from} {
		out, err := client.GetEmailIdentity(ctx, &sesv2.GetEmailIdentityInput{EmailIdentity: aws.String(id)})
		if errorCode(err) == "NotFoundException" {
			continue
		}
		if err != nil {
			return Fail, "", err
		}
		if out.VerifiedForSendingStatus {
			return pass("%s is verified in %s", id, p.sesRegion())
		}
		return fail("%s is in SES in %s but not verified (%s): publish its DKIM records in DNS and wait for SES to verify it", id, p.sesRegion(), out.VerificationStatus)
	}
	return fail("neither %s nor %s is an SES identity in %s: create and verify the domain (aws sesv2 create-email-identity --region %s --email-identity %s, then publish its DKIM records)",
		domain, from, p.sesRegion(), p.sesRegion(), domain)
}

func (p *preflight) ce() *costexplorer.Client {
	return costexplorer.NewFromConfig(p.env.AWS, func(o *costexplorer.Options) { o.Region = billingRegion })
}

func (p *preflight) costExplorer(ctx context.Context) (Status, string, error) {
	if !p.cfg.Portal.Enabled || p.cfg.Portal.Limits.MonthlySpendUSD == 0 {
		return skip("no portal spend limit (portal.limits.monthlySpendUSD) reads Cost Explorer")
	}
	end := time.Now().UTC()
	start := end.AddDate(0, 0, -1)
	_, err := p.ce().GetCostAndUsage(ctx, &costexplorer.GetCostAndUsageInput{
		TimePeriod:  &cetypes.DateInterval{Start: aws.String(start.Format(time.DateOnly)), End: aws.String(end.Format(time.DateOnly))},
		Granularity: cetypes.GranularityDaily,
		Metrics:     []string{"UnblendedCost"},
	})
	switch code := errorCode(err); {
	case code == "DataUnavailableException", code == "AccessDeniedException" && strings.Contains(err.Error(), "not enabled"):
		return fail("Cost Explorer is not enabled, and the portal refuses launches while it cannot read a user's spend: open Billing and Cost Management > Cost Explorer once to enable it (data appears within 24 hours)")
	case err != nil:
		return Fail, "", err
	}
	return pass("answers in %s (the portal's spend limit reads it)", billingRegion)
}

// costTag is a tag key Billing must know, and what needs it.
type costTag struct {
	key, usedBy string
	required    bool
}

func (p *preflight) costTagKeys() []costTag {
	var tags []costTag
	if p.cfg.Base.Budget.MonthlyLimitUsd > 0 || p.cfg.Portal.Enabled {
		tags = append(tags, costTag{tagInstance, "the budget and the portal", true})
	}
	if p.cfg.Portal.Enabled && p.cfg.Portal.Limits.MonthlySpendUSD > 0 {
		tags = append(tags, costTag{tagOwner, "the portal's per-user spend limit", true})
	}
	if p.cfg.Portal.Enabled && p.cfg.Portal.HubCosts.Enabled {
		// Pod labels, imported as tags once the payer account has switched
		// on split cost allocation data for EKS (no API tells whether it has).
		for _, l := range []string{values.UserLabel, values.TeamLabel} {
			tags = append(tags, costTag{l, "the portal's DaskHub costs (portal.hubCosts; split cost allocation data must be on in the payer account)", true})
		}
	}
	for _, k := range slices.Sorted(maps.Keys(p.cfg.Tags)) {
		tags = append(tags, costTag{k, "your cost reports (tags in " + p.cfg.File + ")", false})
	}
	return tags
}

func (p *preflight) costTags(ctx context.Context) (Status, string, error) {
	want := p.costTagKeys()
	if len(want) == 0 {
		return skip("no budget, portal or tags of your own")
	}
	var keys []string
	for _, t := range want {
		keys = append(keys, t.key)
	}
	out, err := p.ce().ListCostAllocationTags(ctx, &costexplorer.ListCostAllocationTagsInput{TagKeys: keys, Type: cetypes.CostAllocationTagTypeUserDefined})
	if err != nil {
		return Fail, "", err
	}
	status := map[string]cetypes.CostAllocationTagStatus{}
	for _, t := range out.CostAllocationTags {
		status[aws.ToString(t.TagKey)] = t.Status
	}
	var failures, later []string
	activate := func(k string) string {
		return fmt.Sprintf("aws ce update-cost-allocation-tags-status --cost-allocation-tags-status TagKey=%s,Status=Active", k)
	}
	for _, t := range want {
		switch s, seen := status[t.key]; {
		case seen && s == cetypes.CostAllocationTagStatusActive:
		case seen && t.required:
			failures = append(failures, fmt.Sprintf("%s is inactive but %s filters costs by it: %s", t.key, t.usedBy, activate(t.key)))
		case seen:
			later = append(later, fmt.Sprintf("%s is inactive (%s): %s", t.key, t.usedBy, activate(t.key)))
		default:
			later = append(later, fmt.Sprintf("%s is not known to Billing yet (it appears up to 24 hours after the first tagged resource); then activate it for %s: %s", t.key, t.usedBy, activate(t.key)))
		}
	}
	switch {
	case len(failures) > 0:
		return fail("%s", strings.Join(append(failures, later...), "; "))
	case len(later) > 0:
		return warn("%s", strings.Join(later, "; "))
	}
	return pass("%s active", strings.Join(keys, ", "))
}

func (p *preflight) quota(ctx context.Context, q quota, need *vcpuNeed) (Status, string, error) {
	client := servicequotas.NewFromConfig(p.env.AWS, func(o *servicequotas.Options) { o.Region = p.region })
	var value float64
	out, err := client.GetServiceQuota(ctx, &servicequotas.GetServiceQuotaInput{ServiceCode: aws.String("ec2"), QuotaCode: aws.String(q.Code)})
	switch {
	case errorCode(err) == "NoSuchResourceException":
		// Not yet applied to the account: the AWS default holds.
		def, err := client.GetAWSDefaultServiceQuota(ctx, &servicequotas.GetAWSDefaultServiceQuotaInput{ServiceCode: aws.String("ec2"), QuotaCode: aws.String(q.Code)})
		if err != nil {
			return Fail, "", err
		}
		value = aws.ToFloat64(def.Quota.Value)
	case err != nil:
		return Fail, "", err
	default:
		value = aws.ToFloat64(out.Quota.Value)
	}
	parts := strings.Join(need.Parts, " + ")
	if float64(need.VCPUs) > value {
		return fail("the configuration can run %d vCPUs (%s) but %q (%s) is %g in %s: aws service-quotas request-service-quota-increase --region %s --service-code ec2 --quota-code %s --desired-value %d, or lower maxSize",
			need.VCPUs, parts, q.Title, q.Code, value, p.region, p.region, q.Code, need.VCPUs)
	}
	return pass("%d of %g vCPUs (%s)", need.VCPUs, value, parts)
}

// certRef is one certificate the instance file names.
type certRef struct {
	path, arn, host, region, why string
}

func (p *preflight) certificates() []certRef {
	var out []certRef
	if a := p.cfg.Auth.Domain; p.cfg.Auth.Enabled && a.CertificateArn != "" {
		out = append(out, certRef{"auth.domain", a.CertificateArn, a.Custom, "us-east-1", "Cognito serves custom domains through CloudFront, which takes certificates from us-east-1 only"})
	}
	if d := p.cfg.Portal.Domain; p.cfg.Portal.Enabled && d.CertificateArn != "" {
		out = append(out, certRef{"portal.domain", d.CertificateArn, d.Name, p.region, "the portal's regional API takes certificates from its own region"})
	}
	if d := p.cfg.Daskhub.Domain; p.cfg.Daskhub.Enabled && d.CertificateArn != "" {
		out = append(out, certRef{"daskhub.domain", d.CertificateArn, d.Host(), p.region, "the hub's load balancer takes certificates from its own region"})
	}
	return out
}

func (p *preflight) certificate(ctx context.Context, c certRef) (Status, string, error) {
	fields := strings.Split(c.arn, ":")
	if len(fields) < 6 {
		return fail("%q is not an ACM certificate ARN", c.arn)
	}
	if region := fields[3]; region != c.region {
		return fail("the certificate is in %s but must be in %s (%s): request one for %s there", region, c.region, c.why, c.host)
	}
	client := acm.NewFromConfig(p.env.AWS, func(o *acm.Options) { o.Region = c.region })
	out, err := client.DescribeCertificate(ctx, &acm.DescribeCertificateInput{CertificateArn: aws.String(c.arn)})
	if errorCode(err) == "ResourceNotFoundException" {
		return fail("no such certificate in %s: aws acm request-certificate --region %s --domain-name %s --validation-method DNS, then put its ARN in %s.certificateArn", c.region, c.region, c.host, c.path)
	}
	if err != nil {
		return Fail, "", err
	}
	cert := out.Certificate
	if cert.Status != acmtypes.CertificateStatusIssued {
		return fail("the certificate is %s, not ISSUED: for PENDING_VALIDATION create the DNS validation records (ACM console > the certificate > Create records in Route 53) and wait; otherwise request a new one for %s", cert.Status, c.host)
	}
	names := append([]string{aws.ToString(cert.DomainName)}, cert.SubjectAlternativeNames...)
	if !slices.ContainsFunc(names, func(n string) bool { return covers(n, c.host) }) {
		return fail("the certificate is for %s, not %s: request one that covers %s", strings.Join(slices.Compact(slices.Sorted(slices.Values(names))), ", "), c.host, c.host)
	}
	if cert.NotAfter != nil && time.Until(*cert.NotAfter) < 30*24*time.Hour {
		return warn("issued for %s, but expires %s: check that ACM can renew it (its DNS validation record must stay)", c.host, cert.NotAfter.Format(time.DateOnly))
	}
	return pass("issued for %s in %s", c.host, c.region)
}

// covers reports whether a certificate name (possibly *.example.org)
// matches host.
func covers(name, host string) bool {
	name, host = strings.ToLower(name), strings.ToLower(host)
	if rest, ok := strings.CutPrefix(name, "*."); ok {
		_, parent, found := strings.Cut(host, ".")
		return found && parent == rest
	}
	return name == host
}

// zoneRef is one Route 53 zone the instance file names.
type zoneRef struct {
	path, id, host string
}

func (p *preflight) zones() []zoneRef {
	var out []zoneRef
	if d := p.cfg.Portal.Domain; p.cfg.Portal.Enabled && d.HostedZoneID != "" {
		out = append(out, zoneRef{"portal.domain", d.HostedZoneID, d.Name})
	}
	if d := p.cfg.Daskhub.Domain; p.cfg.Daskhub.Enabled && d.HostedZoneID != "" {
		out = append(out, zoneRef{"daskhub.domain", d.HostedZoneID, d.Host()})
	}
	return out
}

func (p *preflight) zone(ctx context.Context, z zoneRef) (Status, string, error) {
	out, err := route53.NewFromConfig(p.env.AWS).GetHostedZone(ctx, &route53.GetHostedZoneInput{Id: aws.String(z.id)})
	if errorCode(err) == "NoSuchHostedZone" {
		return fail("no hosted zone %s in this account: create the public zone for %s (aws route53 create-hosted-zone) and delegate it from the parent domain, or correct %s.hostedZoneId", z.id, z.host, z.path)
	}
	if err != nil {
		return Fail, "", err
	}
	name := strings.TrimSuffix(aws.ToString(out.HostedZone.Name), ".")
	if out.HostedZone.Config != nil && out.HostedZone.Config.PrivateZone {
		return fail("zone %s (%s) is private: users outside the VPC cannot resolve %s; give a public zone", z.id, name, z.host)
	}
	if z.host != name && !strings.HasSuffix(z.host, "."+name) {
		return fail("zone %s is %s, which cannot hold %s: give the zone of %s's domain", z.id, name, z.host, z.host)
	}
	return pass("public zone %s holds %s", name, z.host)
}

// exampleAccounts are account ids from documentation and templates, which
// no partner has.
var exampleAccounts = []string{"123456789012", "012345678901", "210987654321", "111122223333", "444455556666", "777788889999", "123412341234", "098765432109"}

func fakeLooking(id string) bool {
	return slices.Contains(exampleAccounts, id) || strings.Count(id, id[:1]) == len(id)
}

func (p *preflight) partnerAccounts() map[string][]string {
	out := map[string][]string{}
	add := func(path string, ids []string) {
		for _, id := range ids {
			out[id] = append(out[id], path)
		}
	}
	if p.cfg.Data.Enabled {
		for _, name := range slices.Sorted(maps.Keys(p.cfg.Data.Datasets)) {
			add("data.datasets."+name+".readerAccounts", p.cfg.Data.Datasets[name].ReaderAccounts)
		}
	}
	if c := &p.cfg.Containers; c.Enabled {
		add("containers.pullAccounts", c.PullAccounts)
		for _, name := range slices.Sorted(maps.Keys(c.Repositories)) {
			add("containers.repositories."+name+".pullAccounts", c.Repositories[name].PullAccounts)
		}
	}
	return out
}

// partners checks the other accounts the instance shares with: an id that
// is no account makes its bucket or repository policy fail to deploy
// ("Invalid principal"), and one of a documentation example shares with
// nobody. Organizations can confirm members of the admin's organization;
// others cannot be looked up from outside.
func (p *preflight) partners(ctx context.Context) (Status, string, error) {
	accounts := p.partnerAccounts()
	if len(accounts) == 0 {
		return skip("no readerAccounts or pullAccounts")
	}
	self := ""
	if out, err := sts.NewFromConfig(p.env.AWS, p.inRegion).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err == nil {
		self = aws.ToString(out.Account)
	}
	org := organizations.NewFromConfig(p.env.AWS, func(o *organizations.Options) { o.Region = billingRegion })
	var problems, notes []string
	orgUsable := true
	for _, id := range slices.Sorted(maps.Keys(accounts)) {
		where := strings.Join(accounts[id], ", ")
		switch {
		case id == self:
			problems = append(problems, fmt.Sprintf("%s (%s) is this instance's own account, which needs no grant: remove it", id, where))
			continue
		case len(id) != 12 || fakeLooking(id):
			problems = append(problems, fmt.Sprintf("%s (%s) is an example account id, not a partner's: ask the partner for theirs", id, where))
			continue
		case !orgUsable:
			notes = append(notes, id+" not checkable")
			continue
		}
		out, err := org.DescribeAccount(ctx, &organizations.DescribeAccountInput{AccountId: aws.String(id)})
		switch code := errorCode(err); {
		case err == nil && out.Account.State == "SUSPENDED":
			problems = append(problems, fmt.Sprintf("%s (%s) is suspended in your organization", id, where))
		case err == nil:
			notes = append(notes, fmt.Sprintf("%s is %q in your organization", id, aws.ToString(out.Account.Name)))
		case code == "AccountNotFoundException":
			notes = append(notes, id+" is outside your organization (not checkable from here)")
		case code == "AWSOrganizationsNotInUseException", code == "AccessDeniedException":
			orgUsable = false
			notes = append(notes, id+" not checkable (no access to AWS Organizations)")
		default:
			return Fail, "", err
		}
	}
	if len(problems) > 0 {
		return fail("%s", strings.Join(problems, "; "))
	}
	return pass("%s", strings.Join(notes, "; "))
}
