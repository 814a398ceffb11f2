package config

import (
	"maps"
	"regexp"
	"slices"
	"strings"
)

// Containers is the ECR repositories teams publish images to.
type Containers struct {
	// Enabled builds this component's stack.
	Enabled bool `yaml:"enabled"`
	// Repositories are the ECR repositories, keyed by name (lower-case
	// letters and digits, with single ".", "_", "-" or "/" between them,
	// such as sdo/aia-tools). The physical name is <instance>/<name>.
	Repositories map[string]Repository `yaml:"repositories"`
	// PullAccounts are other AWS accounts (12-digit ids, such as other
	// HelioCloud instances) allowed to pull from every repository.
	PullAccounts []string `yaml:"pullAccounts"`
	// PullThroughCache are ECR pull-through cache rules, keyed by the
	// repository prefix they create (such as quay: an image
	// quay.io/org/img is then pulled as <registry>/quay/org/img), so that
	// big science images are pulled from inside the region. The rules
	// apply to the whole account and region: instances sharing an account
	// need different prefixes. Remove a default rule with `name: null`.
	PullThroughCache map[string]PullThroughRule `yaml:"pullThroughCache"`
	// DestroyOnDelete makes deleting the stack delete every repository with
	// all its images. For throw-away development instances only: otherwise
	// repositories are retained, since images are users' work.
	DestroyOnDelete bool `yaml:"destroyOnDelete"`
}

// Repository is one ECR repository.
type Repository struct {
	// Description says what the images are for; shown in the stack outputs.
	Description string `yaml:"description"`
	// Team whose members may push; empty makes a shared repository that
	// only admins push to. Everyone in the instance may pull either kind.
	Team string `yaml:"team"`
	// ScanOnPush scans each image for known vulnerabilities when pushed.
	ScanOnPush bool `yaml:"scanOnPush" default:"true"`
	// ImmutableTags refuses to push a tag that already exists, so that a
	// tag always names the same image (reproducible notebooks).
	ImmutableTags bool `yaml:"immutableTags" default:"true"`
	// KeepLastImages expires the oldest images beyond this many; 0 keeps all.
	KeepLastImages int `yaml:"keepLastImages" default:"100"`
	// UntaggedExpireDays expires untagged images this many days after they
	// were pushed; 0 keeps them.
	UntaggedExpireDays int `yaml:"untaggedExpireDays" default:"14"`
	// Encryption at rest: "AES256" (S3-managed keys) or "KMS" (the account's
	// AWS managed key for ECR).
	Encryption string `yaml:"encryption" default:"AES256" enum:"AES256,KMS"`
	// PullAccounts are further AWS accounts allowed to pull from this
	// repository, besides containers.pullAccounts.
	PullAccounts []string `yaml:"pullAccounts"`
}

// PullThroughRule caches one public registry that needs no credentials.
type PullThroughRule struct {
	// Upstream is the registry cached: "ecr-public" (public.ecr.aws),
	// "quay" (quay.io) or "k8s" (registry.k8s.io).
	Upstream string `yaml:"upstream" required:"true" enum:"ecr-public,quay,k8s"`
}

// UpstreamRegistryURLs maps a pull-through rule's upstream to its registry.
var UpstreamRegistryURLs = map[string]string{
	"ecr-public": "public.ecr.aws",
	"quay":       "quay.io",
	"k8s":        "registry.k8s.io",
}

// RepositoryName is the physical name of a repository.
func (cfg *Config) RepositoryName(name string) string {
	return cfg.Name + "/" + name
}

var ecrNameRe = regexp.MustCompile(`^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$`)

func (x *Containers) check(c *checker, cfg *Config) {
	for _, name := range slices.Sorted(maps.Keys(x.Repositories)) {
		p := "containers.repositories." + name
		r := x.Repositories[name]
		if phys := cfg.RepositoryName(name); !ecrNameRe.MatchString(name) {
			c.errorf(p, "%q is not a valid repository name: lower-case letters and digits, with single \".\", \"_\", \"-\" or \"/\" between them", name)
		} else if len(phys) > 256 {
			c.errorf(p, "the repository name %q is %d characters long; ECR allows 256", phys, len(phys))
		}
		if r.Team != "" {
			checkTeam(c, p+".team", r.Team, cfg)
		}
		checkNonNegative(c, p+".keepLastImages", r.KeepLastImages)
		checkNonNegative(c, p+".untaggedExpireDays", r.UntaggedExpireDays)
		checkAccounts(c, p+".pullAccounts", r.PullAccounts)
	}
	checkAccounts(c, "containers.pullAccounts", x.PullAccounts)
	for _, prefix := range slices.Sorted(maps.Keys(x.PullThroughCache)) {
		p := "containers.pullThroughCache." + prefix
		if !ecrNameRe.MatchString(prefix) || len(prefix) < 2 || len(prefix) > 30 {
			c.errorf(p, "%q is not a valid pull-through cache prefix: 2 to 30 lower-case letters and digits, with single \".\", \"_\", \"-\" or \"/\" between them", prefix)
		}
		if prefix == cfg.Name || strings.HasPrefix(prefix, cfg.Name+"/") {
			c.errorf(p, "must not start with the instance name %q, under which the instance's own repositories live", cfg.Name)
		}
	}
	if x.Enabled && x.DestroyOnDelete {
		c.warnf("containers.destroyOnDelete", "DANGER: deleting the %s-Containers stack, or removing a repository from this file, will DELETE the repository and EVERY IMAGE in it; use this only for a throw-away development instance", cfg.Name)
	}
}
