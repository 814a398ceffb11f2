package stacks

import (
	"cmp"
	"maps"
	"slices"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecr"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
	"github.com/heliocloud/heliocloud-go/config"
)

// ContainersStack holds the instance's ECR repositories and pull-through
// cache rules. Team roles (from the data stack) may push to their team's
// repositories; the user role and every team role may pull from all.
type ContainersStack struct {
	Stack awscdk.Stack
	cfg   *config.Config
}

func init() {
	builders["containers"] = func(scope constructs.Construct, inst *Instance) { inst.Containers = NewContainersStack(scope, inst) }
}

// ECR actions of the access policies.
var (
	ecrPullActions = []string{"ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"}
	ecrPushActions = []string{"ecr:PutImage", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload",
		"ecr:BatchCheckLayerAvailability", "ecr:DescribeImages", "ecr:ListImages"}
)

// NewContainersStack builds the repositories, their sharing policies and
// the pull-through cache rules.
func NewContainersStack(scope constructs.Construct, inst *Instance) *ContainersStack {
	cfg := inst.Config
	stack := newStack(scope, inst, "containers", "ECR repositories and pull-through caches")
	c := &ContainersStack{Stack: stack, cfg: cfg}
	cc := cfg.Containers

	teamRepos := map[string][]string{}
	for _, name := range slices.Sorted(maps.Keys(cc.Repositories)) {
		r := cc.Repositories[name]
		c.repository(name, r)
		if r.Team != "" {
			teamRepos[r.Team] = append(teamRepos[r.Team], c.repositoryARN(cfg.RepositoryName(name)))
		}
	}
	for _, prefix := range slices.Sorted(maps.Keys(cc.PullThroughCache)) {
		upstream := cc.PullThroughCache[prefix].Upstream
		awsecr.NewCfnPullThroughCacheRule(stack, jsii.String("PullThrough"+nameToID(prefix)), &awsecr.CfnPullThroughCacheRuleProps{
			EcrRepositoryPrefix: jsii.String(prefix),
			UpstreamRegistry:    jsii.String(upstream),
			UpstreamRegistryUrl: jsii.String(config.UpstreamRegistryURLs[upstream]),
		})
	}

	// Everyone in the instance pulls; each team pushes to its own.
	pullStatements := c.PullPolicyStatements()
	roles := inst.Data.Roles(stack)
	pull := awsiam.NewManagedPolicy(stack, jsii.String("PullPolicy"), &awsiam.ManagedPolicyProps{
		ManagedPolicyName: jsii.String(c.PullPolicyName()),
		Description:       jsii.String("Every user of HelioCloud " + cfg.Name + ": pull images from its repositories and caches"),
		Statements:        &pullStatements,
		Roles:             &roles,
	})
	cdknag.NagSuppressions_AddResourceSuppressions(pull, &[]*cdknag.NagPackSuppression{{
		Id: jsii.String("AwsSolutions-IAM5"),
		Reason: jsii.String("ecr:GetAuthorizationToken has no resource-level permissions; pulls are granted on the instance's own repository prefix, " +
			"and on the pull-through prefixes, whose repositories are created on first pull and cannot be named in advance."),
		AppliesTo: &[]any{
			"Resource::*",
			&cdknag.RegexAppliesTo{Regex: jsii.String(`/^Resource::arn:<AWS::Partition>:ecr:<AWS::Region>:<AWS::AccountId>:repository\/[a-z0-9._\/-]+\/\*$/g`)},
		},
	}}, jsii.Bool(false))
	for _, team := range slices.Sorted(maps.Keys(teamRepos)) {
		awsiam.NewManagedPolicy(stack, jsii.String("PushPolicy"+nameToID(team)), &awsiam.ManagedPolicyProps{
			ManagedPolicyName: jsii.String(cfg.Name + "-containers-team-" + team),
			Description:       jsii.String("Team " + team + " of HelioCloud " + cfg.Name + ": push to its repositories"),
			Statements: &[]awsiam.PolicyStatement{awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid:       jsii.String("PushTeamRepositories"),
				Actions:   jsii.Strings(ecrPushActions...),
				Resources: jsii.Strings(teamRepos[team]...),
			})},
			Roles: &[]awsiam.IRole{inst.Data.TeamRole(stack, team)},
		})
	}
	return c
}

// repositoryARN is a repository's ARN from its physical name, usable in any
// stack of the instance's account and region.
func (c *ContainersStack) repositoryARN(name string) string {
	return arn("ecr", "repository/"+name)
}

// repositoryID keys a repository's constructs by name, never by position.
func repositoryID(name string) string {
	return "Repo" + nameToID(name)
}

func (c *ContainersStack) repository(name string, r config.Repository) {
	id := repositoryID(name)
	props := &awsecr.RepositoryProps{
		RepositoryName:     jsii.String(c.cfg.RepositoryName(name)),
		ImageScanOnPush:    jsii.Bool(r.ScanOnPush),
		ImageTagMutability: awsecr.TagMutability_MUTABLE,
		Encryption:         awsecr.RepositoryEncryption_AES_256(),
		RemovalPolicy:      awscdk.RemovalPolicy_RETAIN,
	}
	if r.ImmutableTags {
		props.ImageTagMutability = awsecr.TagMutability_IMMUTABLE
	}
	if r.Encryption == "KMS" {
		props.Encryption = awsecr.RepositoryEncryption_KMS()
	}
	if c.cfg.Containers.DestroyOnDelete {
		props.RemovalPolicy = awscdk.RemovalPolicy_DESTROY
		props.EmptyOnDelete = jsii.Bool(true)
	}
	var rules []*awsecr.LifecycleRule
	if r.UntaggedExpireDays > 0 {
		rules = append(rules, &awsecr.LifecycleRule{
			Description: jsii.String("expire untagged images"),
			TagStatus:   awsecr.TagStatus_UNTAGGED,
			MaxImageAge: awscdk.Duration_Days(jsii.Number(r.UntaggedExpireDays)),
		})
	}
	if r.KeepLastImages > 0 {
		rules = append(rules, &awsecr.LifecycleRule{
			Description:   jsii.String("keep the newest images only"),
			TagStatus:     awsecr.TagStatus_ANY,
			MaxImageCount: jsii.Number(r.KeepLastImages),
		})
	}
	if len(rules) > 0 {
		props.LifecycleRules = &rules
	}
	repo := awsecr.NewRepository(c.Stack, jsii.String(id), props)

	accounts := append(append([]string{}, c.cfg.Containers.PullAccounts...), r.PullAccounts...)
	slices.Sort(accounts)
	accounts = slices.Compact(accounts)
	if len(accounts) > 0 {
		var principals []awsiam.IPrincipal
		for _, a := range accounts {
			principals = append(principals, awsiam.NewAccountPrincipal(jsii.String(a)))
		}
		repo.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:        jsii.String("PullAccounts"),
			Principals: &principals,
			Actions:    jsii.Strings(ecrPullActions...),
		}))
	}
	who := "admins"
	if r.Team != "" {
		who = "team " + r.Team
	}
	awscdk.NewCfnOutput(c.Stack, jsii.String(id+"Uri"), &awscdk.CfnOutputProps{
		Value:       repo.RepositoryUri(),
		Description: jsii.String(cmp.Or(r.Description, name) + " (pushed by " + who + ")"),
	})
}

// RepositoryURI is where the image repository of the instance named name
// (a key of containers.repositories) is pushed to and pulled from, such as
// 111122223333.dkr.ecr.us-east-1.amazonaws.com/gsfc/sdo/aia-prep, for any
// stack of the instance's account and region (DaskHub's image settings, for
// instance). Append ":tag" or "@sha256:..." to name an image.
func (c *ContainersStack) RepositoryURI(name string) string {
	if _, ok := c.cfg.Containers.Repositories[name]; !ok {
		panic("stacks: " + name + " is not a repository of instance " + c.cfg.Name)
	}
	return c.registry() + "/" + c.cfg.RepositoryName(name)
}

// CachedImageURI is where an image of a public registry is pulled through
// the cache rule with this prefix: CachedImageURI("quay", "jupyterhub/k8s-hub")
// for quay.io/jupyterhub/k8s-hub.
func (c *ContainersStack) CachedImageURI(prefix, image string) string {
	if _, ok := c.cfg.Containers.PullThroughCache[prefix]; !ok {
		panic("stacks: " + prefix + " is not a pull-through cache prefix of instance " + c.cfg.Name)
	}
	return c.registry() + "/" + prefix + "/" + image
}

func (c *ContainersStack) registry() string {
	return *awscdk.Aws_ACCOUNT_ID() + ".dkr.ecr." + *awscdk.Aws_REGION() + "." + *awscdk.Aws_URL_SUFFIX()
}

// PullPolicyName is the physical name of the managed policy holding
// PullPolicyStatements, attached to the user role and every team role.
func (c *ContainersStack) PullPolicyName() string { return c.cfg.Name + "-containers-pull" }

// PullPolicyStatements grant pulling every image of the instance's
// repositories and pull-through caches, for roles made in other stacks
// (DaskHub's node role pulls the notebook images, for instance). Each call
// builds new statements from names known at synth time.
func (c *ContainersStack) PullPolicyStatements() []awsiam.PolicyStatement {
	out := []awsiam.PolicyStatement{
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("EcrSignIn"),
			Actions:   jsii.Strings("ecr:GetAuthorizationToken"),
			Resources: jsii.Strings("*"),
		}),
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("PullInstanceRepositories"),
			Actions:   jsii.Strings(ecrPullActions...),
			Resources: jsii.Strings(c.repositoryARN(c.cfg.Name + "/*")),
		}),
	}
	var caches []string
	for _, prefix := range slices.Sorted(maps.Keys(c.cfg.Containers.PullThroughCache)) {
		caches = append(caches, c.repositoryARN(prefix+"/*"))
	}
	if len(caches) > 0 {
		// The first pull of an upstream image creates its repository and
		// imports the image, both in the puller's name.
		out = append(out, awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("PullThroughCaches"),
			Actions:   jsii.Strings(append(append([]string{}, ecrPullActions...), "ecr:BatchImportUpstreamImage", "ecr:CreateRepository")...),
			Resources: jsii.Strings(caches...),
		}))
	}
	return out
}
