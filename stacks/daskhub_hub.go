package stacks

import (
	"fmt"
	"maps"
	"slices"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsefs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseksv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsroute53"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
	"github.com/heliocloud/heliocloud-go/daskhub/values"
)

// PublicDataBuckets are HelioCloud's public datasets every hub user may read.
var PublicDataBuckets = []string{"helio-public"}

// hub installs JupyterHub and Dask Gateway with their namespace, service
// accounts, storage and sign-in, and the DNS record.
func (d *DaskhubStack) hub() {
	ns := d.cfg.Namespace
	namespace := d.Cluster.AddManifest(jsii.String("Namespace"), &map[string]any{
		"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns},
	})
	d.waitForReady(namespace)
	deps := []constructs.IDependable{namespace}
	deps = append(deps, d.userAccount(namespace)...)
	deps = append(deps, d.storage(namespace)...)
	deps = append(deps, d.networkPolicies(namespace))
	signIn, hubAssoc := d.signIn()
	deps = append(deps, hubAssoc)

	// The user-scheduler runs the cluster's own kube-scheduler, which needs
	// more than the chart's role grants.
	rbac := values.UserSchedulerRBAC(d.inst.Config)
	deps = append(deps, d.Cluster.AddManifest(jsii.String("UserSchedulerRBAC"), &rbac[0], &rbac[1]))

	subnets := d.loadBalancerSubnets()
	hubValues := values.Jupyterhub(d.inst.Config, signIn, subnets)
	checker := d.checkFunction(namespace)
	if d.cfg.Domain.Name != "" {
		deps = append(deps, d.loadBalancerSwitch(checker, subnets))
	}
	hub := d.release("Jupyterhub", &awseksv2.HelmChartOptions{
		Chart:      jsii.String("jupyterhub"),
		Repository: jsii.String("https://hub.jupyter.org/helm-chart/"),
		Version:    jsii.String(d.cfg.Charts.Jupyterhub),
		Release:    jsii.String(values.JupyterhubRelease),
		Namespace:  jsii.String(ns),
		Values:     &hubValues,
		// The namespace is a manifest of this stack, made before the service accounts in it.
		CreateNamespace: jsii.Bool(false),
	}, hubWorkloads(ns, hubValues)...)
	hub.Node().AddDependency(deps...)
	d.waitForReady(hub)

	gatewayValues := values.DaskGateway(d.inst.Config)
	gateway := d.release("DaskGateway", &awseksv2.HelmChartOptions{
		Chart:           jsii.String("dask-gateway"),
		Repository:      jsii.String("https://helm.dask.org"),
		Version:         jsii.String(d.cfg.Charts.DaskGateway),
		Release:         jsii.String(values.DaskGatewayRelease),
		Namespace:       jsii.String(ns),
		Values:          &gatewayValues,
		CreateNamespace: jsii.Bool(false),
	}, gatewayWorkloads(ns)...)
	// The gateway reads its API token from the hub's secret.
	gateway.Node().AddDependency(hub)

	d.checkSpec.Endpoints = hubEndpoints(d.inst.Config)
	d.deployCheck(checker)

	d.dns(hub)
	awscdk.NewCfnOutput(d.Stack, jsii.String("HubUrl"), &awscdk.CfnOutputProps{
		Value:       jsii.String(values.HubURL(d.inst.Config)),
		Description: jsii.String("Where users reach the hub (without a domain: after kubectl port-forward, see docs/daskhub.md)"),
	})
}

// userAccount makes the service accounts of users' servers and Dask pods:
// the one every user gets and, with the data component, one per team
// (the hub and the gateway give a team's account only to its members).
// With data they assume the data stack's user and team roles, which hold
// exactly the data policies and which the buckets' deny statements already
// exempt by ARN; DaskHub adds only the public data. Without data, the user
// account gets a role of this stack that reads the public data only.
func (d *DaskhubStack) userAccount(namespace awseksv2.KubernetesManifest) []constructs.IDependable {
	data := d.inst.Data
	if data == nil {
		role := d.podRole("UserRole", "Users' servers and Dask workers of "+ClusterName(d.name()), d.cfg.Namespace, values.UserServiceAccount)
		role.AddToPolicy(publicRead())
		suppressPublicDataWildcards(role)
		return d.serviceAccount("User", values.UserServiceAccount, role, namespace)
	}
	userRole := data.UserRole(d.Stack)
	roles := []awsiam.IRole{userRole}
	out := d.serviceAccount("User", values.UserServiceAccount, userRole, namespace)
	teams := values.TeamAccounts(d.inst.Config)
	for _, team := range slices.Sorted(maps.Keys(teams)) {
		teamRole := data.TeamRole(d.Stack, team)
		roles = append(roles, teamRole)
		out = append(out, d.serviceAccount("Team-"+team, teams[team], teamRole, namespace)...)
	}
	return append(out, d.podsPublicData(roles))
}

// podsPublicData lets the data stack's roles read the public HelioCloud
// data, through a managed policy of this stack (an imported role takes no
// inline policy). The roles are shared with the portal's machines, so the
// grant holds only in sessions that EKS Pod Identity opened for this
// cluster: the machines keep exactly the data stack's access.
func (d *DaskhubStack) podsPublicData(roles []awsiam.IRole) awsiam.ManagedPolicy {
	read := publicRead()
	read.AddCondition(jsii.String("StringEquals"), map[string]any{"aws:PrincipalTag/eks-cluster-arn": d.Cluster.ClusterArn()})
	p := awsiam.NewManagedPolicy(d.Stack, jsii.String("PodsPublicData"), &awsiam.ManagedPolicyProps{
		ManagedPolicyName: jsii.String(ClusterName(d.name()) + "-public-data"),
		Description:       jsii.String("Users' servers and Dask workers of " + ClusterName(d.name()) + ": read HelioCloud's public data"),
		Roles:             &roles,
		Statements:        &[]awsiam.PolicyStatement{read},
	})
	suppressPublicDataWildcards(p)
	return p
}

// serviceAccount makes a service account in the hub's namespace that
// assumes role through Pod Identity.
func (d *DaskhubStack) serviceAccount(id, name string, role awsiam.IRole, namespace awseksv2.KubernetesManifest) []constructs.IDependable {
	sa := d.Cluster.AddManifest(jsii.String(id+"ServiceAccount"), &map[string]any{
		"apiVersion": "v1", "kind": "ServiceAccount",
		"metadata": map[string]any{"name": name, "namespace": d.cfg.Namespace},
	})
	sa.Node().AddDependency(namespace)
	return []constructs.IDependable{sa, d.associate(id+"PodIdentity", d.cfg.Namespace, name, role)}
}

// publicRead reads HelioCloud's public datasets.
func publicRead() awsiam.PolicyStatement {
	var public []string
	for _, b := range PublicDataBuckets {
		public = append(public, "arn:"+*awscdk.Aws_PARTITION()+":s3:::"+b, "arn:"+*awscdk.Aws_PARTITION()+":s3:::"+b+"/*")
	}
	return awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("ReadPublicHelioCloudData"),
		Actions:   jsii.Strings("s3:GetObject", "s3:ListBucket", "s3:GetBucketLocation"),
		Resources: jsii.Strings(public...),
	})
}

func suppressPublicDataWildcards(policyHolder constructs.IConstruct) {
	cdknag.NagSuppressions_AddResourceSuppressions(policyHolder, &[]*cdknag.NagPackSuppression{
		{Id: jsii.String("AwsSolutions-IAM5"), Reason: jsii.String("Reads are of every object of HelioCloud's named public data buckets (bucket/*): a dataset is read as a whole.")},
	}, jsii.Bool(true))
}

// storage is the EFS file system for homes (an access point per user, made
// by the EFS CSI driver) and the shared directory (one access point here).
func (d *DaskhubStack) storage(namespace awseksv2.KubernetesManifest) []constructs.IDependable {
	st := &d.cfg.Storage
	lifecycle := awsefs.LifecyclePolicy(fmt.Sprintf("AFTER_%d_DAYS", st.TransitionToIaDays))
	if st.TransitionToIaDays == 1 {
		lifecycle = awsefs.LifecyclePolicy_AFTER_1_DAY
	}
	fs := awsefs.NewFileSystem(d.Stack, jsii.String("UserFiles"), &awsefs.FileSystemProps{
		Vpc:                         d.vpc,
		VpcSubnets:                  d.privateSubnets(),
		FileSystemName:              jsii.String(d.name() + "-daskhub-home"),
		Encrypted:                   jsii.Bool(true),
		EnableAutomaticBackups:      jsii.Bool(true),
		LifecyclePolicy:             lifecycle,
		OutOfInfrequentAccessPolicy: awsefs.OutOfInfrequentAccessPolicy_AFTER_1_ACCESS,
		PerformanceMode:             awsefs.PerformanceMode_GENERAL_PURPOSE,
		ThroughputMode:              awsefs.ThroughputMode_ELASTIC,
		RemovalPolicy:               awscdk.RemovalPolicy_RETAIN,
		FileSystemPolicy:            userFilesPolicy(d.nodeRole.RoleArn()),
	})
	// Pods share their node's security groups (the VPC CNI gives them the
	// node's network interfaces), so the group cannot tell the EFS CSI
	// node plugin from a user's pod: the file system policy above and the
	// network policies (users' pods may not reach private addresses) are
	// what keep pods from mounting.
	fs.Connections().AllowDefaultPortFrom(d.Cluster.ClusterSecurityGroup(), jsii.String("NFS from the cluster's nodes (the EFS CSI node plugin)"))
	// Mounts use IAM (the mount option below), so only the nodes may mount.
	d.nodeRole.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("MountUserFiles"),
		Actions:   jsii.Strings("elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"),
		Resources: jsii.Strings(*fs.FileSystemArn()),
	}))
	shared := fs.AddAccessPoint(jsii.String("Shared"), &awsefs.AccessPointOptions{
		Path:      jsii.String("/shared"),
		PosixUser: &awsefs.PosixUser{Uid: jsii.String("1000"), Gid: jsii.String("100")},
		CreateAcl: &awsefs.Acl{OwnerUid: jsii.String("1000"), OwnerGid: jsii.String("100"), Permissions: jsii.String("2775")},
	})

	homes := d.Cluster.AddManifest(jsii.String("StorageClassHome"), &map[string]any{
		"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
		"metadata":    map[string]any{"name": values.HomeStorageClass},
		"provisioner": "efs.csi.aws.com",
		"parameters": map[string]any{
			"provisioningMode": "efs-ap",
			"fileSystemId":     fs.FileSystemId(),
			"directoryPerms":   "700",
			"uid":              "1000",
			"gid":              "100",
			"basePath":         "/home",
			// A user's directory is named after their claim, so a claim
			// made again finds the same files.
			"subPathPattern":        "${.PVC.name}",
			"ensureUniqueDirectory": "false",
		},
		"mountOptions":  []any{"tls", "iam"},
		"reclaimPolicy": "Retain",
	})
	volume := d.Cluster.AddManifest(jsii.String("SharedVolume"), &map[string]any{
		"apiVersion": "v1", "kind": "PersistentVolume",
		"metadata": map[string]any{"name": d.cfg.Namespace + "-shared"},
		"spec": map[string]any{
			"capacity":                      map[string]any{"storage": "1Ti"},
			"accessModes":                   []any{"ReadWriteMany"},
			"persistentVolumeReclaimPolicy": "Retain",
			"storageClassName":              "",
			"mountOptions":                  []any{"tls", "iam"},
			"csi": map[string]any{
				"driver":       "efs.csi.aws.com",
				"volumeHandle": *fs.FileSystemId() + "::" + *shared.AccessPointId(),
			},
		},
	}, &map[string]any{
		"apiVersion": "v1", "kind": "PersistentVolumeClaim",
		"metadata": map[string]any{"name": values.SharedClaim, "namespace": d.cfg.Namespace},
		"spec": map[string]any{
			"accessModes":      []any{"ReadWriteMany"},
			"storageClassName": "",
			"volumeName":       d.cfg.Namespace + "-shared",
			"resources":        map[string]any{"requests": map[string]any{"storage": "1Ti"}},
		},
	})
	volume.Node().AddDependency(namespace)
	for _, m := range []awseksv2.KubernetesManifest{homes, volume} {
		d.waitForReady(m)
		// Mount targets must exist before a pod can mount.
		m.Node().AddDependency(fs.MountTargetsAvailable())
	}
	awscdk.NewCfnOutput(d.Stack, jsii.String("FileSystemId"), &awscdk.CfnOutputProps{
		Value:       fs.FileSystemId(),
		Description: jsii.String("EFS file system of home and shared directories (retained when the stack is deleted)"),
	})
	return []constructs.IDependable{homes, volume}
}

// efsClientActions are the NFS-level permissions EFS checks at mount time.
var efsClientActions = []string{"elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite", "elasticfilesystem:ClientRootAccess"}

// userFilesPolicy is the file system policy of users' files. The EFS CSI
// driver mounts on the node plugin, a host-network pod, with the options
// of our storage class and volume ("tls", "iam") and the access point of
// the volume handle (pkg/driver/node.go, NodePublishVolume, at
// aws-efs-csi-driver v3.4.1); efs-utils signs the mount with the
// credentials it finds, the node role's from instance metadata (the node
// plugin's service account has no Pod Identity association). So:
//   - only the node role may mount (every other principal, and anonymous
//     clients, which present none, are denied);
//   - only over TLS, only through a mount target, only through an access
//     point: each access point fixes the user id (1000) and a directory, so
//     no mount reaches another home or the file system's root;
//   - never as root: ClientRootAccess is granted to nobody, so root on a
//     client is squashed (the access points' user id never needs it).
//
// The driver's controller mounts the root only to delete a home with
// deleteAccessPointRootDir, which the storage class does not set
// (reclaimPolicy Retain keeps homes).
func userFilesPolicy(nodeRole *string) awsiam.PolicyDocument {
	return awsiam.NewPolicyDocument(&awsiam.PolicyDocumentProps{Statements: &[]awsiam.PolicyStatement{
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:        jsii.String("NodesMountThroughAccessPoints"),
			Principals: &[]awsiam.IPrincipal{awsiam.NewArnPrincipal(nodeRole)},
			Actions:    jsii.Strings("elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"),
			Conditions: &map[string]any{
				"Bool": map[string]any{"elasticfilesystem:AccessedViaMountTarget": "true", "aws:SecureTransport": "true"},
				"Null": map[string]any{"elasticfilesystem:AccessPointArn": "false"},
			},
		}),
		denyClients("DenyWithoutTLS", map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}}),
		denyClients("DenyWithoutAccessPoint", map[string]any{"Null": map[string]any{"elasticfilesystem:AccessPointArn": "true"}}),
		denyClients("DenyOtherPrincipals", map[string]any{"ArnNotEquals": map[string]any{"aws:PrincipalArn": *nodeRole}}),
	}})
}

// denyClients denies every principal the NFS-level permissions under
// conditions.
func denyClients(sid string, conditions map[string]any) awsiam.PolicyStatement {
	return awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String(sid),
		Effect:     awsiam.Effect_DENY,
		Principals: &[]awsiam.IPrincipal{awsiam.NewAnyPrincipal()},
		Actions:    jsii.Strings(efsClientActions...),
		Conditions: &conditions,
	})
}

// signIn makes the hub's Cognito app client and lets the hub's service
// account read that client's secret, which the hub fetches at start-up:
// the secret never appears in a template, a Helm release or a log.
func (d *DaskhubStack) signIn() (values.SignIn, constructs.IDependable) {
	auth := d.inst.Auth
	client := auth.AddClient(d.Stack, "HubClient", ClientProps{
		Name:           "daskhub",
		CallbackURLs:   []string{values.CallbackURL(d.inst.Config)},
		LogoutURLs:     []string{values.LogoutURL(d.inst.Config)},
		GenerateSecret: true,
	})
	// AddClient has imported the pool into this stack already; this returns
	// that same import.
	poolID := auth.ImportUserPool(d.Stack).UserPoolId()
	role := d.podRole("HubRole", "JupyterHub of "+ClusterName(d.name())+": reads its Cognito app client", d.cfg.Namespace, values.HubServiceAccount)
	role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("ReadHubClient"),
		Actions:   jsii.Strings("cognito-idp:DescribeUserPoolClient"),
		Resources: jsii.Strings(arn("cognito-idp", "userpool/"+*poolID)),
	}))
	assoc := d.associate("HubPodIdentity", d.cfg.Namespace, values.HubServiceAccount, role)
	return values.SignIn{
		BaseURL:    *auth.HostedUIBaseURL(d.Stack),
		UserPoolID: *poolID,
		ClientID:   *client.UserPoolClientId(),
		Region:     *d.Stack.Region(),
	}, assoc
}

// dns outputs the hub's load balancer and, with a hosted zone, points
// <record>.<domain> at it.
func (d *DaskhubStack) dns(hub awseksv2.HelmChart) {
	dom := d.cfg.Domain
	if dom.Name == "" {
		return
	}
	// Named for the Network Load Balancer: the Classic one's address, read
	// by a resource of another name, is gone, and a new resource reads the
	// new address once.
	address := awseksv2.NewKubernetesObjectValue(d.Stack, jsii.String("HubNetworkLoadBalancerAddress"), &awseksv2.KubernetesObjectValueProps{
		Cluster:         d.Cluster,
		ObjectType:      jsii.String("service"),
		ObjectName:      jsii.String("proxy-public"),
		ObjectNamespace: jsii.String(d.cfg.Namespace),
		JsonPath:        jsii.String(".status.loadBalancer.ingress[0].hostname"),
		Timeout:         awscdk.Duration_Minutes(jsii.Number(10)),
	})
	address.Node().AddDependency(hub)
	awscdk.NewCfnOutput(d.Stack, jsii.String("HubLoadBalancer"), &awscdk.CfnOutputProps{
		Value:       address.Value(),
		Description: jsii.String("The hub's load balancer: point " + dom.Host() + " at it (CNAME) unless a hosted zone id is configured"),
	})
	if dom.HostedZoneID == "" {
		return
	}
	zone := awsroute53.HostedZone_FromHostedZoneAttributes(d.Stack, jsii.String("Zone"), &awsroute53.HostedZoneAttributes{
		HostedZoneId: jsii.String(dom.HostedZoneID),
		ZoneName:     jsii.String(dom.Name),
	})
	awsroute53.NewCnameRecord(d.Stack, jsii.String("HubRecord"), &awsroute53.CnameRecordProps{
		Zone:       zone,
		RecordName: jsii.String(dom.Record),
		DomainName: address.Value(),
		Ttl:        awscdk.Duration_Minutes(jsii.Number(5)),
		Comment:    jsii.String("HelioCloud " + d.name() + " hub"),
	})
}
