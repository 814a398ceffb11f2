package config

import (
	"fmt"
	"net/mail"
	"net/netip"
	"slices"
	"strings"
)

// Checks that compare settings of several components, or a setting with
// the instance's account and region.

// arnParts are the fields of an ARN that must agree with the instance.
type arnParts struct {
	partition, region, account string
}

func parseARN(arn string) (arnParts, bool) {
	f := strings.SplitN(arn, ":", 6)
	if len(f) != 6 || f[0] != "arn" {
		return arnParts{}, false
	}
	return arnParts{partition: f[1], region: f[3], account: f[4]}, true
}

// arnField is one ARN the instance file names, and whether it must live in
// the instance's own account (a certificate cannot be used across accounts).
type arnField struct {
	path, arn   string
	sameAccount bool
}

func (cfg *Config) arnFields() []arnField {
	var out []arnField
	for i, a := range cfg.Data.AdminRoleArns {
		out = append(out, arnField{fmt.Sprintf("data.adminRoleArns[%d]", i), a, false})
	}
	if cfg.Daskhub.Enabled {
		for i, a := range cfg.Daskhub.Admins {
			out = append(out, arnField{fmt.Sprintf("daskhub.admins[%d]", i), a, false})
		}
		out = append(out, arnField{"daskhub.domain.certificateArn", cfg.Daskhub.Domain.CertificateArn, true})
	}
	if cfg.Portal.Enabled {
		out = append(out, arnField{"portal.domain.certificateArn", cfg.Portal.Domain.CertificateArn, true})
	}
	if cfg.Auth.Enabled {
		out = append(out, arnField{"auth.domain.certificateArn", cfg.Auth.Domain.CertificateArn, true})
	}
	return out
}

// checkARNs holds every ARN to the partition of the instance's region
// (GovCloud ARNs start arn:aws-us-gov:, and a policy naming arn:aws: there
// is refused at deploy) and certificates to the instance's account.
func (cfg *Config) checkARNs(c *checker) {
	want := partitionOf(cfg.Region)
	for _, f := range cfg.arnFields() {
		a, ok := parseARN(f.arn)
		if !ok {
			continue // the component's own check reports what is not an ARN
		}
		if want != "" && a.partition != want {
			c.errorf(f.path, "%q is in partition %s, but region %s is in partition %s: the ARN must start arn:%s:", f.arn, a.partition, cfg.Region, want, want)
		}
		if f.sameAccount && cfg.Account != "" && a.account != cfg.Account {
			c.errorf(f.path, "the certificate belongs to account %s, but the instance deploys into %s: ACM certificates work only in their own account; request or import one there", a.account, cfg.Account)
		}
	}
}

// partitionOf is the ARN partition of a known region, or "".
func partitionOf(region string) string {
	return Regions[region].Partition
}

// checkHosts refuses one host name served by two components: both would
// claim its DNS record and its certificate.
func (cfg *Config) checkHosts(c *checker) {
	type host struct{ path, name string }
	var hosts []host
	if cfg.Auth.Enabled && cfg.Auth.Domain.Custom != "" {
		hosts = append(hosts, host{"auth.domain.custom", cfg.Auth.Domain.Custom})
	}
	if cfg.Portal.Enabled && cfg.Portal.Domain.Name != "" {
		hosts = append(hosts, host{"portal.domain.name", cfg.Portal.Domain.Name})
	}
	if cfg.Daskhub.Enabled && cfg.Daskhub.Domain.Name != "" {
		hosts = append(hosts, host{"daskhub.domain.record", cfg.Daskhub.Domain.Host()})
	}
	seen := map[string]string{}
	for _, h := range hosts {
		key := strings.ToLower(strings.TrimSuffix(h.name, "."))
		if first, ok := seen[key]; ok {
			c.errorf(h.path, "%s is also the host name of %s: each component needs its own name (both would claim its DNS record)", h.name, first)
			continue
		}
		seen[key] = h.path
	}
}

// checkEgress refuses components that need the internet in a new VPC
// whose private subnets have no NAT (the deployer makes no interface
// endpoints that could stand in for it).
func (cfg *Config) checkEgress(c *checker) {
	v := cfg.Base.VPC
	if v.Mode != "new" || v.NAT.Type != "none" {
		return
	}
	path := v.natPath(c)
	if cfg.Daskhub.Enabled {
		c.errorf(path, "daskhub needs a way out of the private subnets (nodes pull images and join EKS over the internet): set nat: {type: gateway} or {type: instance}")
	}
	if cfg.Portal.Enabled {
		c.errorf(path, "the portal's machines need a way out of the private subnets (users reach them through Session Manager, whose agent calls AWS over the internet): set nat: {type: gateway} or {type: instance}")
	}
}

// isEmail reports whether s is a bare e-mail address at a DNS domain, as
// AWS Budgets, Cognito and SNS take it: no display name, no mailto:, no
// trailing dot.
func isEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return false
	}
	_, domain, _ := strings.Cut(s, "@")
	return dnsNameRe.MatchString(strings.ToLower(domain))
}

// emailProblem says why s is not an e-mail address, or "".
func emailProblem(s string) string {
	switch {
	case isEmail(s):
		return ""
	case strings.HasPrefix(strings.ToLower(s), "mailto:"):
		return fmt.Sprintf("%q is a mailto: link; give the bare address %q", s, s[len("mailto:"):])
	case strings.Contains(s, "<"):
		return fmt.Sprintf("%q holds a display name; give only the address, such as ops@example.org", s)
	case strings.HasSuffix(s, "."):
		return fmt.Sprintf("%q ends with a dot; drop it", s)
	}
	return fmt.Sprintf("%q is not an e-mail address such as ops@example.org", s)
}

// checkEmail reports s unless it is an e-mail address.
func checkEmail(c *checker, path, s string) {
	if msg := emailProblem(s); msg != "" {
		c.errorf(path, "%s", msg)
	}
}

// checkEmails reports the entries of list that are not e-mail addresses or
// repeat an earlier one (addresses are compared without case).
func checkEmails(c *checker, path string, list []string) {
	seen := map[string]int{}
	for i, e := range list {
		p := fmt.Sprintf("%s[%d]", path, i)
		checkEmail(c, p, e)
		if j, ok := seen[strings.ToLower(e)]; ok {
			c.errorf(p, "%s is listed twice (also as [%d]; addresses are compared without case)", e, j)
			continue
		}
		seen[strings.ToLower(e)] = i
	}
}

// privateRanges are the blocks no packet from the internet carries as its
// source address (RFC 1918, carrier-grade NAT, loopback, link-local).
var privateRanges = []netip.Prefix{
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.168.0.0/16"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("127.0.0.0/8"),
	netip.MustParsePrefix("169.254.0.0/16"),
}

// isPrivate reports whether p lies inside one of privateRanges.
func isPrivate(p netip.Prefix) bool {
	for _, r := range privateRanges {
		if r.Contains(p.Addr()) && p.Bits() >= r.Bits() {
			return true
		}
	}
	return false
}

// checkListedOnce reports entries of list that repeat an earlier one.
func checkListedOnce(c *checker, path string, list []string, what string) {
	seen := map[string]int{}
	for i, s := range list {
		if j, ok := seen[s]; ok {
			c.errorf(fmt.Sprintf("%s[%d]", path, i), "%s %s is listed twice (also as [%d])", what, s, j)
			continue
		}
		seen[s] = i
	}
}

// checkSubnetsOnce refuses a subnet given both as public and private.
func checkSubnetsOnce(c *checker, p string, public, private []string) {
	for i, id := range private {
		if slices.Contains(public, id) {
			c.errorf(fmt.Sprintf("%s.privateSubnetIds[%d]", p, i), "%s is listed as a public subnet too; a subnet is one or the other", id)
		}
	}
}
