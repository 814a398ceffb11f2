package config

import (
	"slices"
	"strings"
	"testing"
)

// containersBase is a small valid instance with containers on; fixtures add
// lines under containers from line 6.
const containersBase = "name: x\nteams: {sdo: {}, mms: {}}\ndata: {enabled: true}\ncontainers:\n  enabled: true\n"

func TestContainersDefaults(t *testing.T) {
	cfg := mustLoad(t, containersBase+"  repositories:\n    sdo/aia-tools: {team: sdo}\n")
	r := cfg.Containers.Repositories["sdo/aia-tools"]
	if !r.ScanOnPush || !r.ImmutableTags || r.KeepLastImages != 100 || r.UntaggedExpireDays != 14 || r.Encryption != "AES256" {
		t.Errorf("repository defaults: %+v", r)
	}
	if got := cfg.RepositoryName("sdo/aia-tools"); got != "x/sdo/aia-tools" {
		t.Errorf("physical name %s", got)
	}
	var caches []string
	for prefix, rule := range cfg.Containers.PullThroughCache {
		caches = append(caches, prefix+"="+UpstreamRegistryURLs[rule.Upstream])
	}
	slices.Sort(caches)
	if want := []string{"ecr-public=public.ecr.aws", "k8s=registry.k8s.io", "quay=quay.io"}; !slices.Equal(caches, want) {
		t.Errorf("pull-through caches %v, want %v", caches, want)
	}
	if len(cfg.Warnings) > 0 {
		t.Errorf("defaults warn: %v", cfg.Warnings)
	}
}

func TestContainersRemoveDefaultCache(t *testing.T) {
	cfg := mustLoad(t, containersBase+"  pullThroughCache:\n    quay: null\n    k8s-mirror: {upstream: k8s}\n")
	if _, ok := cfg.Containers.PullThroughCache["quay"]; ok {
		t.Errorf("quay rule not removed")
	}
	if cfg.Containers.PullThroughCache["k8s-mirror"].Upstream != "k8s" {
		t.Errorf("added rule: %+v", cfg.Containers.PullThroughCache)
	}
}

// One fixture per kind of mistake, with the line and message it must give.
func TestContainersErrors(t *testing.T) {
	tests := []struct {
		name, extra, want string
	}{
		{"upper-case repository", "  repositories:\n    SDO/tools: {}\n",
			`test.yaml:7: error: containers.repositories.SDO/tools: "SDO/tools" is not a valid repository name: lower-case letters and digits, with single ".", "_", "-" or "/" between them`},
		{"double separator", "  repositories:\n    sdo//tools: {}\n",
			`containers.repositories.sdo//tools: "sdo//tools" is not a valid repository name`},
		{"trailing separator", "  repositories:\n    tools-: {}\n",
			`containers.repositories.tools-: "tools-" is not a valid repository name`},
		{"too long", "  repositories:\n    " + strings.Repeat("a", 255) + ": {}\n",
			`the repository name "x/` + strings.Repeat("a", 255) + `" is 257 characters long; ECR allows 256`},
		{"unknown team", "  repositories:\n    tools: {team: sd0}\n",
			`test.yaml:7: error: containers.repositories.tools.team: "sd0" is not a team (did you mean "sdo"?); teams: mms, sdo`},
		{"negative keep", "  repositories:\n    tools: {keepLastImages: -5}\n",
			`containers.repositories.tools.keepLastImages: must not be negative, got -5`},
		{"negative untagged", "  repositories:\n    tools: {untaggedExpireDays: -1}\n",
			`containers.repositories.tools.untaggedExpireDays: must not be negative, got -1`},
		{"unknown encryption", "  repositories:\n    tools: {encryption: aes256}\n",
			`containers.repositories.tools.encryption: "aes256" is not allowed (did you mean "AES256"?); allowed values: AES256, KMS`},
		{"bad repository account", "  repositories:\n    tools: {pullAccounts: [\"1234567890123\"]}\n",
			`containers.repositories.tools.pullAccounts[0]: "1234567890123" is not an AWS account id: 12 digits`},
		{"bad shared account", "  pullAccounts: [123456789012, abc]\n",
			`test.yaml:6: error: containers.pullAccounts[1]: "abc" is not an AWS account id: 12 digits`},
		{"unknown upstream", "  pullThroughCache:\n    hub: {upstream: docker-hub}\n",
			`containers.pullThroughCache.hub.upstream: "docker-hub" is not allowed; allowed values: ecr-public, quay, k8s`},
		{"rule without upstream", "  pullThroughCache:\n    hub: {}\n",
			`containers.pullThroughCache.hub.upstream: is required but not given`},
		{"bad prefix", "  pullThroughCache:\n    Quay_IO: {upstream: quay}\n",
			`containers.pullThroughCache.Quay_IO: "Quay_IO" is not a valid pull-through cache prefix: 2 to 30 lower-case letters`},
		{"long prefix", "  pullThroughCache:\n    " + strings.Repeat("q", 31) + ": {upstream: quay}\n",
			`is not a valid pull-through cache prefix: 2 to 30`},
		{"prefix is the instance", "!name: helio\ndata: {enabled: true}\ncontainers:\n  enabled: true\n  pullThroughCache:\n    helio/quay: {upstream: quay}\n",
			`test.yaml:6: error: containers.pullThroughCache.helio/quay: must not start with the instance name "helio"`},
		{"containers without data", "!name: x\ncontainers:\n  enabled: true\n",
			`test.yaml:3: error: containers.enabled: containers needs data: set data.enabled: true`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantProblem(t, fixture(containersBase, tt.extra), tt.want)
		})
	}
}

func TestContainersDestroyWarns(t *testing.T) {
	cfg := mustLoad(t, containersBase+"  destroyOnDelete: true\n")
	want := "test.yaml:6: warning: containers.destroyOnDelete: DANGER: deleting the x-Containers stack, or removing a repository from this file, will DELETE the repository and EVERY IMAGE in it"
	if len(cfg.Warnings) != 1 || !strings.Contains(cfg.Warnings[0].String(), want) {
		t.Errorf("warnings %v, want %q", cfg.Warnings, want)
	}
}
