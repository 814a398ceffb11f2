package stacks

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
)

const containersYAML = `
name: t1
teams: {sdo: {}, mms: {}}
data: {enabled: true}
containers:
  enabled: true
  pullAccounts: ["222233334444"]
  repositories:
    sdo/aia-tools: {team: sdo, description: AIA calibration}
    mms/fpi: {team: mms, immutableTags: false, scanOnPush: false, encryption: KMS, keepLastImages: 5, untaggedExpireDays: 2, pullAccounts: ["333344445555", "222233334444"]}
    base-notebook: {keepLastImages: 0, untaggedExpireDays: 0}
  pullThroughCache:
    k8s: null
`

// repositories maps each repository's physical name to its properties.
func repositories(tpl assertions.Template) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, r := range resources(tpl, "AWS::ECR::Repository") {
		out[props(r)["RepositoryName"].(string)] = r
	}
	return out
}

func TestContainersRepositories(t *testing.T) {
	tpl := synthYAML(t, containersYAML, Options{})["containers"]
	repos := repositories(tpl)
	if len(repos) != 3 {
		t.Fatalf("want 3 repositories, got %d", len(repos))
	}
	aia, fpi, nb := repos["t1/sdo/aia-tools"], repos["t1/mms/fpi"], repos["t1/base-notebook"]
	if aia == nil || fpi == nil || nb == nil {
		t.Fatalf("repositories: %v", repos)
	}
	for name, r := range repos {
		if r["DeletionPolicy"] != "Retain" || r["UpdateReplacePolicy"] != "Retain" {
			t.Errorf("%s: deletion %v; want Retain", name, r["DeletionPolicy"])
		}
		if _, ok := props(r)["EmptyOnDelete"]; ok {
			t.Errorf("%s: empties itself on delete", name)
		}
	}
	check := func(name string, r map[string]any, key, want string) {
		t.Helper()
		if got := toJSON(t, props(r)[key]); got != want {
			t.Errorf("%s %s: %s, want %s", name, key, got, want)
		}
	}
	check("aia", aia, "ImageScanningConfiguration", `{"ScanOnPush":true}`)
	check("aia", aia, "ImageTagMutability", `"IMMUTABLE"`)
	// AES256 is what ECR does without an encryption configuration.
	check("aia", aia, "EncryptionConfiguration", `null`)
	check("fpi", fpi, "ImageScanningConfiguration", `{"ScanOnPush":false}`)
	check("fpi", fpi, "ImageTagMutability", `"MUTABLE"`)
	check("fpi", fpi, "EncryptionConfiguration", `{"EncryptionType":"KMS"}`)
	check("notebook", nb, "LifecyclePolicy", `null`)

	lifecycle := func(r map[string]any) []map[string]any {
		var doc struct{ Rules []map[string]any }
		text := props(r)["LifecyclePolicy"].(map[string]any)["LifecyclePolicyText"].(string)
		if err := json.Unmarshal([]byte(text), &doc); err != nil {
			t.Fatal(err)
		}
		return doc.Rules
	}
	rules := lifecycle(fpi)
	if len(rules) != 2 {
		t.Fatalf("fpi lifecycle: %v", rules)
	}
	if got := toJSON(t, rules[0]["selection"]); got != `{"countNumber":2,"countType":"sinceImagePushed","countUnit":"days","tagStatus":"untagged"}` {
		t.Errorf("untagged rule %s", got)
	}
	// ECR requires the rule that selects any tag status to come last.
	if got := toJSON(t, rules[1]["selection"]); got != `{"countNumber":5,"countType":"imageCountMoreThan","tagStatus":"any"}` || rules[1]["rulePriority"].(float64) <= rules[0]["rulePriority"].(float64) {
		t.Errorf("keep-last rule %v", rules[1])
	}
	if got := toJSON(t, lifecycle(aia)[1]["selection"]); !strings.Contains(got, `"countNumber":100`) {
		t.Errorf("default keep-last %s", got)
	}

	// Other accounts pull: the shared list everywhere, per-repo additions
	// where listed; nobody outside pushes.
	allPull := `"Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer","ecr:BatchCheckLayerAvailability"],"Effect":"Allow","Principal":{"AWS":`
	for name, r := range repos {
		policy := toJSON(t, props(r)["RepositoryPolicyText"])
		if !strings.Contains(policy, allPull) || !strings.Contains(policy, ":iam::222233334444:root") {
			t.Errorf("%s: policy %s does not let the shared account pull", name, policy)
		}
		if strings.Contains(policy, "PutImage") {
			t.Errorf("%s: another account may push: %s", name, policy)
		}
		if other := strings.Contains(policy, "333344445555"); other != (name == "t1/mms/fpi") {
			t.Errorf("%s: per-repository account %v in %s", name, other, policy)
		}
		if n := strings.Count(policy, "222233334444"); n != 1 {
			t.Errorf("%s: shared account listed %d times", name, n)
		}
	}

	// Team push policies, attached by name to the data stack's team roles.
	sdo := policyDoc(t, tpl, "t1-containers-team-sdo")
	if !strings.Contains(sdo, `"ecr:PutImage"`) || !strings.Contains(sdo, `:repository/t1/sdo/aia-tools"`) || strings.Contains(sdo, "mms") || strings.Contains(sdo, "base-notebook") {
		t.Errorf("sdo push policy %s", sdo)
	}
	tpl.HasResourceProperties(jsii.String("AWS::IAM::ManagedPolicy"), map[string]any{"ManagedPolicyName": "t1-containers-team-sdo", "Roles": []any{"t1-team-sdo"}})
	tpl.HasResourceProperties(jsii.String("AWS::IAM::ManagedPolicy"), map[string]any{"ManagedPolicyName": "t1-containers-team-mms", "Roles": []any{"t1-team-mms"}})
	// Everyone pulls.
	tpl.HasResourceProperties(jsii.String("AWS::IAM::ManagedPolicy"), map[string]any{"ManagedPolicyName": "t1-containers-pull", "Roles": []any{"t1-user", "t1-team-mms", "t1-team-sdo"}})
	pull := policyDoc(t, tpl, "t1-containers-pull")
	for _, want := range []string{`:repository/t1/*"`, `:repository/ecr-public/*"`, `:repository/quay/*"`, `"ecr:BatchImportUpstreamImage"`, `"Action":"ecr:GetAuthorizationToken","Effect":"Allow","Resource":"*"`} {
		if !strings.Contains(pull, want) {
			t.Errorf("pull policy %s\nlacks %s", pull, want)
		}
	}
	if strings.Contains(pull, "k8s") || strings.Contains(pull, "PutImage") {
		t.Errorf("pull policy reaches a removed cache or pushes: %s", pull)
	}

	// Pull-through caches: the defaults minus the removed one.
	tpl.ResourceCountIs(jsii.String("AWS::ECR::PullThroughCacheRule"), jsii.Number(2))
	tpl.HasResourceProperties(jsii.String("AWS::ECR::PullThroughCacheRule"), map[string]any{"EcrRepositoryPrefix": "quay", "UpstreamRegistry": "quay", "UpstreamRegistryUrl": "quay.io"})
	tpl.HasResourceProperties(jsii.String("AWS::ECR::PullThroughCacheRule"), map[string]any{"EcrRepositoryPrefix": "ecr-public", "UpstreamRegistryUrl": "public.ecr.aws"})

	// Outputs give the URI to push to.
	outputs := (*tpl.ToJSON())["Outputs"].(map[string]any)
	out, ok := outputs["ReposdoSaiaXtoolsUri"].(map[string]any)
	if !ok {
		t.Fatalf("no URI output for sdo/aia-tools among %v", outputs)
	}
	if got := toJSON(t, out); !strings.Contains(got, `".dkr.ecr."`) || out["Description"] != "AIA calibration (pushed by team sdo)" {
		t.Errorf("URI output %s", got)
	}
}

func TestContainersDestroyOptIn(t *testing.T) {
	tpl := synthYAML(t, `
name: dev
data: {enabled: true}
containers:
  enabled: true
  destroyOnDelete: true
  repositories:
    scratch-images: {}
`, Options{})["containers"]
	tpl.HasResource(jsii.String("AWS::ECR::Repository"), map[string]any{
		"DeletionPolicy": "Delete",
		"Properties":     assertions.Match_ObjectLike(&map[string]any{"EmptyOnDelete": true}),
	})
	// No teams, so no push policies; pulls still go to the user role.
	tpl.ResourceCountIs(jsii.String("AWS::IAM::ManagedPolicy"), jsii.Number(1))
	tpl.HasResourceProperties(jsii.String("AWS::IAM::ManagedPolicy"), map[string]any{"Roles": []any{"dev-user"}})
}

// The containers stack reaches the data stack's roles by name: a stack
// dependency, and no export.
func TestContainersUseDataRolesByName(t *testing.T) {
	inst, _ := buildInstance(t, containersYAML, Options{})
	found := false
	for _, d := range *inst.Containers.Stack.Dependencies() {
		found = found || d == inst.Data.Stack
	}
	if !found {
		t.Errorf("containers stack does not depend on the data stack")
	}
	got := templateJSON(t, assertions.Template_FromStack(inst.Containers.Stack, nil))
	if strings.Contains(got, "Fn::ImportValue") {
		t.Errorf("containers stack imports exports")
	}
	resolve := func(s string) string { return toJSON(t, inst.Containers.Stack.Resolve(jsii.String(s))) }
	want := `{"Fn::Join":["",[{"Ref":"AWS::AccountId"},".dkr.ecr.",{"Ref":"AWS::Region"},".",{"Ref":"AWS::URLSuffix"},"/t1/sdo/aia-tools"]]}`
	if got := resolve(inst.Containers.RepositoryURI("sdo/aia-tools")); got != want {
		t.Errorf("repository URI %s, want %s", got, want)
	}
	if got := resolve(inst.Containers.CachedImageURI("quay", "jupyterhub/k8s-hub")); !strings.Contains(got, `"/quay/jupyterhub/k8s-hub"`) {
		t.Errorf("cached image URI %s", got)
	}
	st := toJSON(t, inst.Containers.PullPolicyStatements()[1].ToStatementJson())
	if !strings.Contains(st, ":repository/t1/*") {
		t.Errorf("pull statement %s", st)
	}
}
