package stacks

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseksv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
	"github.com/heliocloud/heliocloud-go/config"
	"github.com/heliocloud/heliocloud-go/constructs/golambda"
	"github.com/heliocloud/heliocloud-go/daskhub/hubcheck"
	"github.com/heliocloud/heliocloud-go/daskhub/values"
)

// DeployCheckGroup is the Kubernetes group of the deploy check's access
// entry; the Roles bound to it are all the check may do in the cluster.
const DeployCheckGroup = "heliocloud-deploy-check"

// helmTimeout bounds each helm command of a release. aws-eks-v2's kubectl
// handler runs `helm upgrade --install` synchronously in a Lambda function
// of 15 minutes (aws-cdk-lib 2.276.0, aws-eks-v2/lib/kubectl-provider.js and
// custom-resource-handlers/dist/aws-eks-v2/kubectl-handler/helm), after
// writing a kubeconfig and fetching the chart: a helm timeout near 15
// minutes would let the function die first, with no message at all.
const helmTimeoutMinutes = 10

// release installs a Helm chart whose workloads the deploy check must find
// available, and records it for the check.
//
// Releases do not pass --wait to helm: in the kubectl handler a release that
// never becomes ready fails with helm's bare "context deadline exceeded",
// and CloudFormation stops there, before the check that could say why. The
// check waits for the workloads instead and names the pod's state and logs.
func (d *DaskhubStack) release(id string, opts *awseksv2.HelmChartOptions, workloads ...hubcheck.Workload) awseksv2.HelmChart {
	opts.Timeout = awscdk.Duration_Minutes(jsii.Number(helmTimeoutMinutes))
	chart := d.Cluster.AddHelmChart(jsii.String(id), opts)
	d.releases = append(d.releases, chart)
	d.checkSpec.Workloads = append(d.checkSpec.Workloads, workloads...)
	d.releaseInputs = append(d.releaseInputs, []any{*opts.Chart, *opts.Version, opts.Values})
	return chart
}

// tokenPattern matches CDK tokens, which are resolved only at deploy time.
var tokenPattern = regexp.MustCompile(`\$\{Token\[[^\]]*\]\}`)

// revision changes when a release's chart, version or values change, so
// that CloudFormation calls the check again on every deploy that changes a
// release. Tokens are left out: their text is an artefact of synthesis.
func (d *DaskhubStack) revision() string {
	b, err := json.Marshal(d.releaseInputs)
	if err != nil {
		panic(fmt.Sprintf("stacks: the releases' values do not marshal: %v", err))
	}
	sum := sha256.Sum256(tokenPattern.ReplaceAll(b, nil))
	return hex.EncodeToString(sum[:8])
}

// hubChecker is the deploy check's function (lambda/hubcheck) and what must
// stand while it works: its way into the cluster and its permissions there.
type hubChecker struct {
	fn     *golambda.Function
	access []constructs.IDependable
}

// checkFunction makes the deploy check's function, in the VPC, with its
// access entry and Kubernetes RBAC.
func (d *DaskhubStack) checkFunction(namespace awseksv2.KubernetesManifest) *hubChecker {
	stack := d.Stack
	ns := d.cfg.Namespace
	// The endpoint may be private only: the check runs in the VPC and may
	// reach the API server's port, and nothing else in the cluster.
	sg := awsec2.NewSecurityGroup(stack, jsii.String("DeployCheckSecurityGroup"), &awsec2.SecurityGroupProps{
		Vpc:              d.vpc,
		Description:      jsii.String("The DaskHub deploy check of " + ClusterName(d.name())),
		AllowAllOutbound: jsii.Bool(false),
	})
	// 443 out: the cluster's API and CloudFormation's response URL (S3).
	sg.AddEgressRule(awsec2.Peer_AnyIpv4(), awsec2.Port_Tcp(jsii.Number(443)), jsii.String("HTTPS: the Kubernetes API, CloudFormation and its response URL"), jsii.Bool(false))
	d.Cluster.ClusterSecurityGroup().AddIngressRule(sg, awsec2.Port_Tcp(jsii.Number(443)), jsii.String("The DaskHub deploy check reaches the Kubernetes API"), jsii.Bool(false))

	fn := golambda.New(stack, "DeployCheckFunction", &golambda.Props{
		Package:     "./lambda/hubcheck",
		Description: "Fails the deploy of " + ClusterName(d.name()) + " with the reason when the hub, gateway, autoscaler or device plugin does not work; removes the hub's load balancer before the cluster goes",
		MemoryMiB:   256,
		// The Lambda maximum; the check keeps 45 s of it to answer CloudFormation.
		Timeout:        awscdk.Duration_Minutes(jsii.Number(15)),
		LogRetention:   Retention(d.cfg.LogRetentionDays),
		Vpc:            d.vpc,
		VpcSubnets:     d.privateSubnets(),
		SecurityGroups: []awsec2.ISecurityGroup{sg},
	})
	// On Delete it tells a teardown from an update by its own stack's status.
	fn.Role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("ReadOwnStackStatus"),
		Actions:   jsii.Strings("cloudformation:DescribeStacks"),
		Resources: jsii.Strings(*awscdk.Aws_STACK_ID()),
	}))
	cdknag.NagSuppressions_AddResourceSuppressions(fn.Role, &[]*cdknag.NagPackSuppression{
		{Id: jsii.String("AwsSolutions-IAM4"), Reason: jsii.String("AWSLambdaVPCAccessExecutionRole, which Lambda requires to attach the function to the VPC's subnets; it grants only network interface management.")},
	}, jsii.Bool(true))

	// Kubernetes RBAC, not an EKS access policy: the predefined policies
	// either cannot read logs or may change far more than the check needs.
	access := awseksv2.NewCfnAccessEntry(stack, jsii.String("DeployCheckAccess"), &awseksv2.CfnAccessEntryProps{
		ClusterName:      d.Cluster.ClusterName(),
		PrincipalArn:     fn.Role.RoleArn(),
		Type:             jsii.String("STANDARD"),
		KubernetesGroups: jsii.Strings(DeployCheckGroup),
	})
	rbac := d.Cluster.AddManifest(jsii.String("DeployCheckRbac"), deployCheckRBAC(ns)...)
	rbac.Node().AddDependency(namespace)
	return &hubChecker{fn: fn, access: []constructs.IDependable{access, rbac, sg, d.Cluster.ClusterSecurityGroup()}}
}

// checkResource is a custom resource served by the check's function,
// answering within 20 minutes: a function that dies without answering
// leaves CloudFormation waiting this long, not the default hour.
func (d *DaskhubStack) checkResource(k *hubChecker, id, resourceType string, props map[string]any) awscdk.CustomResource {
	props["ClusterName"] = d.Cluster.ClusterName()
	props["Endpoint"] = d.Cluster.ClusterEndpoint()
	props["CertificateAuthority"] = d.Cluster.ClusterCertificateAuthorityData()
	props["Namespace"] = d.cfg.Namespace
	r := awscdk.NewCustomResource(d.Stack, jsii.String(id), &awscdk.CustomResourceProps{
		ServiceToken:   k.fn.Function.FunctionArn(),
		ResourceType:   jsii.String(resourceType),
		ServiceTimeout: awscdk.Duration_Minutes(jsii.Number(20)),
		Properties:     &props,
	})
	// With its access in place until it is done.
	r.Node().AddDependency(k.access...)
	return r
}

// deployCheck adds the custom resource that fails the deploy, with the
// reason, when the releases do not work, and that removes the hub's load
// balancer before the cluster is deleted (lambda/hubcheck).
func (d *DaskhubStack) deployCheck(k *hubChecker) {
	spec, err := json.Marshal(d.checkSpec)
	if err != nil {
		panic(fmt.Sprintf("stacks: the deploy check's spec does not marshal: %v", err))
	}
	check := d.checkResource(k, "DeployCheck", "Custom::HeliocloudDaskhubCheck", map[string]any{
		"Spec":     string(spec),
		"Revision": d.revision(),
	})
	// After every release (and so, on delete, before them).
	for _, r := range d.releases {
		check.Node().AddDependency(r)
	}
}

// loadBalancerSwitch removes, before the JupyterHub release, a hub Service
// whose load balancer the cloud provider cannot turn into the one the
// release asks for (hubcheck.ReplaceLoadBalancers): a Classic one, from
// before the hub had a Network Load Balancer, which would be left behind,
// or one in other subnets, which would stay there. The release then makes
// the Service again. It runs when its properties change (the load
// balancer's type or subnets); its Delete does nothing.
func (d *DaskhubStack) loadBalancerSwitch(k *hubChecker, subnets []string) awscdk.CustomResource {
	fixed := map[string]any{}
	for key, v := range values.FixedLoadBalancerAnnotations(d.inst.Config, subnets) {
		fixed[key] = v
	}
	return d.checkResource(k, "LoadBalancerSwitch", "Custom::HeliocloudDaskhubLoadBalancerSwitch", map[string]any{
		"Action":      hubcheck.ActionReplaceLoadBalancers,
		"Annotations": fixed,
	})
}

// deployCheckRBAC is what the check may do: read the workloads, pods, logs
// and events of the hub's namespace and kube-system, call the hub's Services
// through the API server's proxy, and delete Services of the hub's namespace
// (its load balancer, at teardown and when the load balancer switch
// replaces it).
func deployCheckRBAC(ns string) []*map[string]any {
	read := []any{
		map[string]any{"apiGroups": []any{"apps"}, "resources": []any{"deployments", "daemonsets"}, "verbs": []any{"get"}},
		map[string]any{"apiGroups": []any{""}, "resources": []any{"pods"}, "verbs": []any{"list"}},
		map[string]any{"apiGroups": []any{""}, "resources": []any{"pods/log"}, "verbs": []any{"get"}},
	}
	hub := append([]any{
		map[string]any{"apiGroups": []any{""}, "resources": []any{"services"}, "verbs": []any{"get", "list", "delete"}},
		map[string]any{"apiGroups": []any{""}, "resources": []any{"services/proxy"}, "verbs": []any{"get"}},
		map[string]any{"apiGroups": []any{""}, "resources": []any{"events"}, "verbs": []any{"list"}},
	}, read...)
	var out []*map[string]any
	for _, r := range []struct {
		namespace string
		rules     []any
	}{{ns, hub}, {"kube-system", read}} {
		out = append(out, &map[string]any{
			"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
			"metadata": map[string]any{"name": DeployCheckGroup, "namespace": r.namespace},
			"rules":    r.rules,
		}, &map[string]any{
			"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
			"metadata": map[string]any{"name": DeployCheckGroup, "namespace": r.namespace},
			"roleRef":  map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": DeployCheckGroup},
			"subjects": []any{map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": DeployCheckGroup}},
		})
	}
	return out
}

// Workload names the charts give for our release names (the test of the
// synthesized check cites each chart's template and tag).
var (
	autoscalerWorkload   = hubcheck.Workload{Component: "cluster autoscaler", Kind: "Deployment", Namespace: "kube-system", Name: autoscalerRelease + "-aws-cluster-autoscaler"}
	devicePluginWorkload = hubcheck.Workload{Component: "NVIDIA device plugin", Kind: "DaemonSet", Namespace: "kube-system", Name: devicePluginRelease}
)

const (
	autoscalerRelease   = "cluster-autoscaler"
	devicePluginRelease = "nvidia-device-plugin"
)

// hubWorkloads are the JupyterHub chart's Deployments for our values.
func hubWorkloads(ns string, hubValues map[string]any) []hubcheck.Workload {
	out := []hubcheck.Workload{
		{Component: "hub", Kind: "Deployment", Namespace: ns, Name: "hub"},
		{Component: "proxy", Kind: "Deployment", Namespace: ns, Name: "proxy"},
	}
	if sched, _ := hubValues["scheduling"].(map[string]any); sched != nil {
		if us, _ := sched["userScheduler"].(map[string]any); us != nil && us["enabled"] == true {
			out = append(out, hubcheck.Workload{Component: "user scheduler", Kind: "Deployment", Namespace: ns, Name: "user-scheduler"})
		}
	}
	return out
}

// gatewayWorkloads are the Dask Gateway chart's Deployments.
func gatewayWorkloads(ns string) []hubcheck.Workload {
	var out []hubcheck.Workload
	for _, part := range []string{"api", "controller", "traefik"} {
		out = append(out, hubcheck.Workload{Component: "Dask Gateway " + part, Kind: "Deployment", Namespace: ns, Name: part + "-" + values.DaskGatewayRelease})
	}
	return out
}

// hubEndpoints are the APIs the check calls: the hub's through its proxy,
// and the gateway's at the address notebooks are given.
func hubEndpoints(cfg *config.Config) []hubcheck.Endpoint {
	ns := cfg.Daskhub.Namespace
	hubAPI := hubcheck.Endpoint{Component: "hub API", Address: "http://proxy-public/hub/api/", Namespace: ns, Service: "proxy-public", Path: "/hub/api/", WantField: "version"}
	address := values.ServerEnv(cfg)["DASK_GATEWAY__ADDRESS"]
	gw, err := hubcheck.EndpointAt("Dask Gateway API", address, ns, "/api/health")
	if err != nil {
		panic(fmt.Sprintf("stacks: the notebooks' gateway address: %v", err))
	}
	gw.WantField, gw.WantValue = "status", "pass"
	return []hubcheck.Endpoint{hubAPI, gw}
}
