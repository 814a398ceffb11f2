package config

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// daskhubBase is the smallest instance with daskhub on that draws no
// warning; fixtures add lines under daskhub from line 7.
const daskhubBase = "name: x\nauth: {enabled: true}\ndaskhub:\n  enabled: true\n  endpoint: {publicCidrs: [192.0.2.0/24]}\n  admins: [arn:aws:iam::123456789012:role/Admin]\n"

func TestDaskhubDefaultsAreValid(t *testing.T) {
	cfg := mustLoad(t, daskhubBase)
	d := cfg.Daskhub
	if d.KubernetesVersion != KubectlLayerVersion {
		t.Errorf("default Kubernetes version %s, want the kubectl layer's %s", d.KubernetesVersion, KubectlLayerVersion)
	}
	purposes := map[string]NodeGroup{}
	for _, g := range d.NodeGroups {
		purposes[g.Purpose] = g
	}
	for _, p := range []string{"core", "user", "big-user", "gpu-user", "dask-worker", "dask-gpu-worker"} {
		g, ok := purposes[p]
		if !ok {
			t.Errorf("no default group with purpose %s", p)
			continue
		}
		if p == "core" {
			if g.MinSize != 2 || g.Capacity != "onDemand" {
				t.Errorf("core group: min %d capacity %s, want 2 onDemand", g.MinSize, g.Capacity)
			}
		} else if g.MinSize != 0 || g.DesiredSize != 0 {
			t.Errorf("%s group does not scale from zero: min %d desired %d", p, g.MinSize, g.DesiredSize)
		}
	}
	if purposes["dask-worker"].Capacity != "spot" || purposes["dask-gpu-worker"].Capacity != "spot" {
		t.Errorf("Dask worker groups should be spot")
	}
	if len(cfg.Warnings) > 0 {
		t.Errorf("defaults warn: %v", cfg.Warnings)
	}
}

// An instance may override one field of a default group and remove another
// group (with the profiles and options that target it) without repeating
// the rest.
func TestDaskhubOverlayAndRemoval(t *testing.T) {
	cfg := mustLoad(t, daskhubBase+"  nodeGroups:\n    user: {maxSize: 4}\n    dask-gpu-worker: null\n  dask: {gpuWorkerNodeGroup: \"\"}\n")
	g := cfg.Daskhub.NodeGroups["user"]
	if g.MaxSize != 4 || g.InstanceTypes[0] != "m7i.2xlarge" || len(g.Taints) != 1 {
		t.Errorf("user group after overlay: %+v", g)
	}
	if _, ok := cfg.Daskhub.NodeGroups["dask-gpu-worker"]; ok {
		t.Errorf("dask-gpu-worker not removed")
	}
}

// One fixture per kind of mistake, with the line and message it must give.
// A fixture starting with "!" is a whole file rather than lines added to
// daskhubBase.
func TestDaskhubErrors(t *testing.T) {
	tests := []struct {
		name, extra, want string
	}{
		{"GPU group with non-GPU type", "  nodeGroups:\n    gpu-user: {instanceTypes: [m7i.2xlarge]}\n",
			`test.yaml:8: error: daskhub.nodeGroups.gpu-user.instanceTypes[0]: "m7i.2xlarge" has no GPU but the group is gpu: true; GPU types: g4dn.2xlarge`},
		{"GPU type in non-GPU group", "  nodeGroups:\n    user: {instanceTypes: [g6.2xlarge]}\n",
			`test.yaml:8: error: daskhub.nodeGroups.user.instanceTypes[0]: "g6.2xlarge" is a GPU type but the group is not gpu: true`},
		{"unknown instance type", "  nodeGroups:\n    user: {instanceTypes: [m7i.2xlarg]}\n",
			`daskhub.nodeGroups.user.instanceTypes[0]: "m7i.2xlarg" is not a known instance type (did you mean "m7i.2xlarge"?); allowed: c7g.2xlarge, c7g.xlarge, c7i.2xlarge`},
		{"mixed sizes", "  nodeGroups:\n    dask-worker: {instanceTypes: [m7i.8xlarge, r7i.8xlarge]}\n",
			`daskhub.nodeGroups.dask-worker.instanceTypes[1]: "r7i.8xlarge" (32 vCPU, 256 GiB, 0 GPU) differs in size from "m7i.8xlarge"`},
		{"min above max", "  nodeGroups:\n    user:\n      minSize: 5\n      maxSize: 3\n      desiredSize: 4\n",
			`test.yaml:9: error: daskhub.nodeGroups.user.minSize: 5 must not exceed maxSize (3)`},
		{"desired outside range", "  nodeGroups:\n    user: {desiredSize: 20}\n",
			`daskhub.nodeGroups.user.desiredSize: 20 must be from minSize (0) to maxSize (15)`},
		{"no core group", "  nodeGroups:\n    core: {minSize: 0, desiredSize: 0}\n",
			`daskhub.nodeGroups: needs a group with purpose: core and minSize of at least 1`},
		{"GPU purpose without gpu", "  nodeGroups:\n    extra-gpu: {purpose: gpu-user, instanceTypes: [m7i.xlarge], labels: {a: b}}\n  profiles:\n    p: {displayName: P, image: x/y:1, nodeGroup: extra-gpu}\n",
			`daskhub.nodeGroups.extra-gpu.gpu: a gpu-user group must be gpu: true`},
		{"profile on missing group", "  profiles:\n    server: {nodeGroup: usr}\n",
			`test.yaml:8: error: daskhub.profiles.server.nodeGroup: "usr" is not one of daskhub.nodeGroups (did you mean "user"?); node groups: big-user, core, dask-gpu-worker, dask-worker, gpu-user, user`},
		{"profile on worker group", "  profiles:\n    server: {nodeGroup: dask-worker}\n",
			`daskhub.profiles.server.nodeGroup: "dask-worker" has purpose dask-worker; profiles run on groups whose purpose is user, big-user, gpu-user`},
		{"profile GPU on CPU group", "  profiles:\n    server: {gpus: 1}\n",
			`daskhub.profiles.server.gpus: asks for 1 GPU but node group "user" is not gpu: true`},
		{"guarantee above limit", "  profiles:\n    server: {cpuGuarantee: 4, cpuLimit: 2}\n",
			`daskhub.profiles.server.cpuGuarantee: 4 must not exceed cpuLimit (2)`},
		{"guarantee does not fit", "  profiles:\n    server: {memoryGuaranteeGib: 31, memoryLimitGib: 32}\n",
			`daskhub.profiles.server.memoryGuaranteeGib: 31 does not fit on a m7i.2xlarge (32 GiB`},
		{"profile for unknown team", "  profiles:\n    server: {teams: [solar]}\n",
			`daskhub.profiles.server.teams[0]: "solar" is not one of the instance's teams`},
		{"two defaults", "  profiles:\n    big-server: {default: true}\n",
			`daskhub.profiles.server.default: only one profile may be default; big-server and server are`},
		{"unpinned image", "  profiles:\n    server: {image: pangeo/pangeo-notebook}\n",
			`daskhub.profiles.server.image: "pangeo/pangeo-notebook" is not a container image with a tag or digest`},
		{"unknown Kubernetes version", "  kubernetesVersion: \"1.29\"\n",
			`test.yaml:7: error: daskhub.kubernetesVersion: "1.29" is not a Kubernetes version this deployer can run; allowed: 1.34, 1.35, 1.36`},
		{"domain without certificate", "  domain: {name: heliocloud.example.org}\n",
			`test.yaml:7: error: daskhub.domain.certificateArn: a domain needs an ACM certificate for daskhub.heliocloud.example.org`},
		{"certificate in another region", "  domain: {name: heliocloud.example.org, certificateArn: \"arn:aws:acm:eu-west-1:123456789012:certificate/0f0e0d0c-0b0a-0908-0706-050403020100\"}\nregion: us-east-1\n",
			`daskhub.domain.certificateArn: the certificate is in eu-west-1 but the load balancer is in us-east-1`},
		{"certificate without domain", "  domain: {certificateArn: \"arn:aws:acm:us-east-1:123456789012:certificate/0f0e0d0c-0b0a-0908-0706-050403020100\"}\n",
			`daskhub.domain.certificateArn: only applies with a domain name`},
		{"tainted group nobody targets", "  nodeGroups:\n    spare: {purpose: user, instanceTypes: [m7i.xlarge], labels: {a: b}, taints: [{key: example.org/spare, value: \"yes\"}]}\n",
			`test.yaml:8: error: daskhub.nodeGroups.spare.taints: taint example.org/spare=yes:NoSchedule is tolerated by no profile and no Dask worker option`},
		{"worker group missing", "  dask: {workerNodeGroup: workers}\n",
			`daskhub.dask.workerNodeGroup: "workers" is not one of daskhub.nodeGroups`},
		{"worker group of wrong purpose", "  dask: {gpuWorkerNodeGroup: gpu-user}\n",
			`daskhub.dask.gpuWorkerNodeGroup: "gpu-user" has purpose gpu-user; it needs purpose dask-gpu-worker`},
		{"scheduler group missing", "  dask: {schedulerNodeGroup: core-x}\n",
			`daskhub.dask.schedulerNodeGroup: "core-x" is not one of daskhub.nodeGroups (did you mean "core"?)`},
		{"worker larger than node", "  dask: {maxWorkerCores: 40, maxCoresPerCluster: 64}\n",
			`daskhub.dask.maxWorkerCores: 40 is more than a m7i.8xlarge node of group "dask-worker" has (32 vCPU)`},
		{"public endpoint without CIDRs", "!name: x\nauth: {enabled: true}\ndaskhub:\n  enabled: true\n",
			`daskhub.endpoint.publicCidrs: list the networks admins run kubectl from`},
		{"CIDRs on private endpoint", "!name: x\nauth: {enabled: true}\ndaskhub:\n  enabled: true\n  endpoint: {access: private, publicCidrs: [192.0.2.0/24]}\n",
			`daskhub.endpoint.publicCidrs: only applies with access: publicAndPrivate`},
		{"bad admin ARN", "!name: x\nauth: {enabled: true}\ndaskhub:\n  enabled: true\n  endpoint: {publicCidrs: [192.0.2.0/24]}\n  admins: [arn:aws:iam::123:root]\n",
			`test.yaml:6: error: daskhub.admins[0]: "arn:aws:iam::123:root" is not an IAM role or user ARN`},
		{"bad namespace", "  namespace: kube-system\n",
			`daskhub.namespace: "kube-system" is Kubernetes' own`},
		{"unpinned chart", "  charts: {jupyterhub: \"4\"}\n",
			`daskhub.charts.jupyterhub: "4" is not a chart version such as 1.2.3`},
		{"EFS lifecycle", "  storage: {transitionToIaDays: 45}\n",
			`daskhub.storage.transitionToIaDays: 45 is not an EFS lifecycle period; allowed: 1, 7, 14, 30, 60, 90, 180, 270, 365`},
		{"bad taint effect", "  nodeGroups:\n    user: {taints: [{key: a, effect: NoRun}]}\n",
			`daskhub.nodeGroups.user.taints[0].effect: "NoRun" is not allowed; allowed values: NoSchedule, PreferNoSchedule, NoExecute`},
		{"reserved label", "  nodeGroups:\n    user: {labels: {eks.amazonaws.com/nodegroup: x}}\n",
			`daskhub.nodeGroups.user.labels.eks.amazonaws.com/nodegroup: labels under eks.amazonaws.com/ are set by Kubernetes or EKS`},
		{"culling", "  culling: {idleTimeoutMinutes: 10, everyMinutes: 20}\n",
			`daskhub.culling.everyMinutes: must be from 1 to idleTimeoutMinutes (10)`},
		{"no NAT", "base:\n  vpc: {natGateways: none}\n",
			`base.vpc.natGateways: daskhub needs a way out of the private subnets`},
		{"unknown purpose", "  nodeGroups:\n    user: {purpose: users}\n",
			`daskhub.nodeGroups.user.purpose: "users" is not allowed (did you mean "user"?); allowed values: core, user, big-user, gpu-user, dask-worker, dask-gpu-worker`},
		{"mixed architectures", "  nodeGroups:\n    core: {instanceTypes: [t4g.large, t3a.large]}\n",
			`daskhub.nodeGroups.core.instanceTypes[1]: "t3a.large" is x86_64 but "t4g.large" is arm64 (Graviton): a group runs one AMI, so all its types must be of one architecture`},
		{"Graviton type in a GPU group", "  nodeGroups:\n    gpu-user: {instanceTypes: [m7g.2xlarge]}\n",
			`daskhub.nodeGroups.gpu-user.instanceTypes[0]: "m7g.2xlarge" has no GPU but the group is gpu: true`},
		{"server image not marked multi-arch on a Graviton group", "  nodeGroups:\n    user: {instanceTypes: [m7g.2xlarge]}\n  profiles:\n    server: {multiArchImage: false}\n",
			`test.yaml:10: error: daskhub.profiles.server.multiArchImage: the profile's servers run on arm64 (Graviton) group user, but its image pangeo/pangeo-notebook:2026.01.30 is not marked as published for arm64: set multiArchImage: true once ` + "`docker manifest inspect pangeo/pangeo-notebook:2026.01.30`" + ` lists linux/arm64, or give the group x86_64 types`},
		{"Graviton Dask workers need every server image multi-arch", "  nodeGroups:\n    dask-worker: {instanceTypes: [m7g.2xlarge]}\n  dask: {maxWorkerCores: 4}\n  profiles:\n    server: {multiArchImage: true}\n",
			`daskhub.profiles.big-server.multiArchImage: Dask clusters run the image of the server that starts them, and group dask-worker, where Dask pods run, is arm64 (Graviton), but this profile's image pangeo/pangeo-notebook:2026.01.30 is not marked as published for arm64`},
		{"unknown log type", "  controlPlaneLogTypes: [audit, controller]\n",
			`test.yaml:7: error: daskhub.controlPlaneLogTypes[1]: "controller" is not allowed; allowed values: api, audit, authenticator, controllerManager, scheduler`},
		{"log type twice", "  controlPlaneLogTypes: [audit, authenticator, audit]\n",
			`daskhub.controlPlaneLogTypes[2]: log type audit is listed twice (also as [0])`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantProblem(t, fixture(daskhubBase, tt.extra), tt.want)
		})
	}
}

func TestDaskhubWarnings(t *testing.T) {
	cfg := mustLoad(t, "name: x\nauth: {enabled: true}\ndaskhub:\n  enabled: true\n  endpoint: {publicCidrs: [0.0.0.0/0]}\n  controlPlaneLogTypes: [authenticator]\n  nodeGroups:\n    user: {capacity: spot}\n")
	got := warningsText(cfg)
	for _, want := range []string{
		"daskhub.nodeGroups.user.capacity: a spot interruption stops users' servers",
		"daskhub.endpoint.publicCidrs[0]: the Kubernetes API is open to the whole internet",
		"daskhub.admins: no admins: nobody can run kubectl",
		"daskhub.controlPlaneLogTypes: without audit there is no record of who did what in the cluster",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("warnings:\n%s\nwant %q", got, want)
		}
	}
}

// A Graviton core group needs nothing else: every image on core nodes is
// published for arm64 (versions.CoreImages). A Graviton user group is
// valid once its profiles' images are marked multi-arch, and gets EKS's
// ARM AMI; GPU groups keep the x86_64 NVIDIA AMI.
func TestDaskhubGravitonGroups(t *testing.T) {
	cfg := mustLoad(t, daskhubBase+`  nodeGroups:
    core: {instanceTypes: [t4g.large], minSize: 1, desiredSize: 1}
    big-user: {instanceTypes: [m7g.2xlarge]}
  profiles:
    big-server: {multiArchImage: true, cpuGuarantee: 6, cpuLimit: 8, memoryGuaranteeGib: 24, memoryLimitGib: 28}
`)
	want := map[string]string{"core": "AL2023_ARM_64_STANDARD", "big-user": "AL2023_ARM_64_STANDARD", "user": "AL2023_x86_64_STANDARD", "gpu-user": "AL2023_x86_64_NVIDIA"}
	for name, ami := range want {
		if g := cfg.Daskhub.NodeGroups[name]; g.AMIType() != ami {
			t.Errorf("%s: AMI type %s, want %s", name, g.AMIType(), ami)
		}
	}
	if len(cfg.Warnings) > 0 {
		t.Errorf("warnings: %v", cfg.Warnings)
	}
}

// An on-demand fallback for the spot Dask workers (same labels and taints,
// targeted by nothing by name) is a group Dask workers fit, so it is valid.
func TestDaskhubOnDemandFallbackGroup(t *testing.T) {
	mustLoad(t, daskhubBase+`  nodeGroups:
    dask-worker-fallback:
      purpose: dask-worker
      instanceTypes: [m7i.8xlarge]
      labels: {heliocloud.org/node-purpose: dask-worker}
      taints: [{key: heliocloud.org/dedicated, value: dask-worker}]
`)
}

// Disabled, the section's defaults are not checked: an instance without
// daskhub must not need its settings.
func TestDaskhubDisabledIsNotChecked(t *testing.T) {
	mustLoad(t, "name: x\ndaskhub:\n  kubernetesVersion: \"1.20\"\n")
}

// docs/daskhub.md documents every key of the daskhub section: each leaf
// key appears there in backticks, alone or ending a dotted path.
func TestDaskhubDocCoversEveryKey(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "docs", "daskhub.md"))
	if err != nil {
		t.Fatal(err)
	}
	var walk func(typ reflect.Type, path string)
	walk = func(typ reflect.Type, path string) {
		for i := 0; i < typ.NumField(); i++ {
			key := yamlKey(typ.Field(i))
			if key == "" {
				continue
			}
			ft := typ.Field(i).Type
			p := path + "." + key
			for ft.Kind() == reflect.Map || ft.Kind() == reflect.Slice {
				if ft.Kind() == reflect.Map {
					p += ".<name>"
				} else {
					p += "[]"
				}
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				walk(ft, p)
				continue
			}
			if !bytes.Contains(doc, []byte("`"+key+"`")) && !bytes.Contains(doc, []byte("."+key+"`")) {
				t.Errorf("docs/daskhub.md does not mention %s", strings.TrimPrefix(p, "."))
			}
		}
	}
	walk(reflect.TypeOf(Daskhub{}), "")
}

// The hub's load balancer: its zones, who may reach it, and what an
// existing VPC must give it.
func TestDaskhubLoadBalancer(t *testing.T) {
	const cert = "arn:aws:acm:us-east-1:123456789012:certificate/12345678-1234-1234-1234-123456789012"
	withDomain := "name: x\nregion: us-east-1\nauth: {enabled: true}\ndaskhub:\n  enabled: true\n  endpoint: {publicCidrs: [192.0.2.0/24]}\n  admins: [arn:aws:iam::123456789012:role/Admin]\n  domain: {name: helio.example.org, certificateArn: \"" + cert + "\"}\n"
	tests := []struct {
		name, yaml, want string
	}{
		{"more zones than the network", withDomain + "  loadBalancer: {zones: 3}\n",
			`test.yaml:9: error: daskhub.loadBalancer.zones: 3 must be from 1 to the network's 2 zones`},
		{"no zone", withDomain + "  loadBalancer: {zones: 0}\n",
			`daskhub.loadBalancer.zones: 0 must be from 1 to the network's 2 zones`},
		{"without a domain", daskhubBase + "  loadBalancer: {zones: 2}\n",
			`daskhub.loadBalancer.zones: only applies with a domain (without one the hub has no load balancer): set daskhub.domain.name`},
		{"private source range", withDomain + "  loadBalancer: {publicCidrs: [10.1.0.0/16]}\n",
			`daskhub.loadBalancer.publicCidrs[0]: 10.1.0.0/16 is a private range, but the load balancer is on the internet and sees the addresses users come from`},
		{"host bits", withDomain + "  loadBalancer: {publicCidrs: [192.0.2.1/24]}\n",
			`daskhub.loadBalancer.publicCidrs[0]: "192.0.2.1/24" has host bits set; did you mean 192.0.2.0/24?`},
		{"not a CIDR", withDomain + "  loadBalancer: {publicCidrs: [campus]}\n",
			`daskhub.loadBalancer.publicCidrs[0]: "campus" is not an IPv4 CIDR block such as 192.0.2.0/24`},
		{"existing VPC without public subnets", withDomain + "base:\n  vpc: {mode: existing, vpcId: vpc-0123456789abcdef0, availabilityZones: [us-east-1a, us-east-1b], privateSubnetIds: [subnet-0aaaaaaaaaaaaaaaa, subnet-0bbbbbbbbbbbbbbbb]}\n",
			`daskhub.domain.name: the hub's load balancer stands in public subnets, and base.vpc lists none: set base.vpc.publicSubnetIds (one per zone, in the order of availabilityZones)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { wantProblem(t, tt.yaml, tt.want) })
	}

	cfg := mustLoad(t, withDomain+"  coreZone: us-east-1b\n  loadBalancer: {zones: 2, publicCidrs: [0.0.0.0/0]}\ntags: {grant: \"NNX=17\"}\n")
	if got := fmt.Sprint(cfg.LoadBalancerZones()); got != "[1 0]" {
		t.Errorf("load balancer zones %s, want coreZone's (1) first", got)
	}
	got := warningsText(cfg)
	for _, want := range []string{
		"daskhub.loadBalancer.publicCidrs: 0.0.0.0/0 lets in everyone, as leaving publicCidrs out does",
		`tags.grant: the hub's load balancer, which Kubernetes makes, cannot carry this tag`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("warnings:\n%s\nwant %q", got, want)
		}
	}
	if got := fmt.Sprint(mustLoad(t, withDomain).LoadBalancerZones()); got != "[0]" {
		t.Errorf("default load balancer zones %s, want [0]: coreZone alone", got)
	}
}

// The core services must fit the pods the VPC CNI gives core nodes
// (misc/eni-max-pods.txt@v1.23.0): one replica of each controller on a
// group that may shrink to one node, two otherwise.
func TestDaskhubCorePodsFit(t *testing.T) {
	core := func(spec string) string { return daskhubBase + "  nodeGroups:\n    core: " + spec + "\n" }
	for _, c := range []struct {
		spec           string
		replicas, pods int
		problem        string
	}{
		{spec: "{instanceTypes: [t3a.large]}", replicas: 2, pods: 14},
		{spec: "{instanceTypes: [t4g.medium], minSize: 1, desiredSize: 1, maxSize: 2}", replicas: 1, pods: 10},
		{spec: "{instanceTypes: [t4g.medium], minSize: 2, desiredSize: 2, maxSize: 2}", replicas: 2, pods: 14},
		{spec: "{instanceTypes: [t4g.small], minSize: 1, desiredSize: 1, maxSize: 1}", replicas: 1, pods: 10,
			problem: "daskhub.nodeGroups.core.instanceTypes: the core nodes cannot hold the core services even at maxSize (room for 6)"},
		{spec: "{instanceTypes: [t4g.small], minSize: 1, desiredSize: 1, maxSize: 3}", replicas: 1, pods: 10,
			problem: "daskhub.nodeGroups.core.instanceTypes: at desiredSize the core nodes have room for 6 pods, so the autoscaler adds core nodes"},
	} {
		cfg, err := Parse("x.yaml", []byte(core(c.spec)))
		var got string
		if err != nil {
			got = err.Error()
		} else {
			got = warningsText(cfg)
			if r := cfg.Daskhub.CoreReplicas(); r != c.replicas || cfg.Daskhub.CorePods() != c.pods {
				t.Errorf("%s: %d replicas, %d pods; want %d, %d", c.spec, r, cfg.Daskhub.CorePods(), c.replicas, c.pods)
			}
		}
		if c.problem == "" && got != "" || !strings.Contains(got, c.problem) {
			t.Errorf("%s: got %q, want %q", c.spec, got, c.problem)
		}
	}
}
