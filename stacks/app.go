// Package stacks turns a validated configuration into the CloudFormation
// stacks of one HelioCloud instance: base always, then each enabled
// component, each in a stack of its own named <instance>-<Component>.
package stacks

import (
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/heliocloud/heliocloud-go/config"
)

// Options are the settings of one synth that do not come from the YAML.
type Options struct {
	// Account and Region place the stacks; empty leaves them
	// environment-agnostic. The app fills them from the YAML, else from the
	// CDK CLI's CDK_DEFAULT_ACCOUNT and CDK_DEFAULT_REGION.
	Account, Region string
}

// Instance is every stack built for one instance. A component stack finds
// what it builds on here (the VPC in Base, the user pool in Auth, ...);
// fields of disabled components are nil.
type Instance struct {
	Config     *config.Config
	Opts       Options
	Base       *BaseStack
	Auth       *AuthStack
	Data       *DataStack
	Containers *ContainersStack
	Daskhub    *DaskhubStack
	Portal     *PortalStack
}

// builders make the stack of each component that has one. Each component's
// file registers itself in an init func, so adding a component touches only
// its own file and the Instance struct.
var builders = map[string]func(scope constructs.Construct, inst *Instance){}

// Build adds the stacks of cfg's enabled components to scope (the app).
func Build(scope constructs.Construct, cfg *config.Config, opts Options) *Instance {
	inst := &Instance{Config: cfg, Opts: opts}
	inst.Base = NewBaseStack(scope, inst)
	for _, name := range cfg.EnabledComponents() {
		if name == "base" {
			continue
		}
		build, ok := builders[name]
		if !ok {
			// config refuses components whose stack is not built yet, so
			// reaching here means config and stacks disagree.
			panic(fmt.Sprintf("stacks: component %q is enabled but has no stack builder", name))
		}
		build(scope, inst)
	}
	handlerLogs(scope, cfg.Base.DeployLogRetentionDays)
	return inst
}

// AvailabilityZones are the zones the instance's network spans when they
// are known at synth time: the YAML's list, else the first maxAzs zones of
// the region. Empty when the stacks are environment-agnostic.
func (inst *Instance) AvailabilityZones() []string {
	v := inst.Config.Base.VPC
	if len(v.AvailabilityZones) > 0 {
		return v.AvailabilityZones
	}
	if inst.Opts.Region == "" {
		return nil
	}
	return config.DefaultZones(inst.Opts.Region, v.MaxAzs)
}

// StackName is the CloudFormation name of a component's stack.
func StackName(instance, component string) string {
	return config.StackName(instance, component)
}

// newStack makes a component's stack with the instance's environment and
// tags. Every resource in it is tagged with the instance, the component and
// the institution's own tags, so costs split by instance and component.
func newStack(scope constructs.Construct, inst *Instance, component, description string) awscdk.Stack {
	props := &awscdk.StackProps{
		StackName:   jsii.String(StackName(inst.Config.Name, component)),
		Description: jsii.String(fmt.Sprintf("HelioCloud %s: %s", inst.Config.Name, description)),
	}
	if inst.Opts.Account != "" || inst.Opts.Region != "" {
		props.Env = &awscdk.Environment{}
		if inst.Opts.Account != "" {
			props.Env.Account = jsii.String(inst.Opts.Account)
		}
		if inst.Opts.Region != "" {
			props.Env.Region = jsii.String(inst.Opts.Region)
		}
	}
	stack := awscdk.NewStack(scope, props.StackName, props)
	if azs := inst.AvailabilityZones(); inst.Opts.Account != "" && len(azs) > 0 {
		// CDK asks AWS for an environment's zones (a lookup, needing
		// credentials) unless its context already holds them: give it the
		// zones the YAML names, so synth stays offline and deterministic.
		key := fmt.Sprintf("availability-zones:account=%s:region=%s", inst.Opts.Account, inst.Opts.Region)
		stack.Node().SetContext(jsii.String(key), jsii.Strings(azs...))
	}
	tags := awscdk.Tags_Of(stack)
	tags.Add(jsii.String("heliocloud:instance"), jsii.String(inst.Config.Name), nil)
	tags.Add(jsii.String("heliocloud:component"), jsii.String(component), nil)
	keys := make([]string, 0, len(inst.Config.Tags))
	for k := range inst.Config.Tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		tags.Add(jsii.String(k), jsii.String(inst.Config.Tags[k]), nil)
	}
	if component != "base" {
		stack.AddStackDependency(inst.Base.Stack, jsii.String("every component runs in the base network"))
	}
	return stack
}

// ParamName is the SSM parameter through which one stack hands a value to
// another. Parameters, unlike CloudFormation exports, never block an update
// of the stack that writes them.
func ParamName(instance string, parts ...string) string {
	return "/heliocloud/" + instance + "/" + strings.Join(parts, "/")
}
