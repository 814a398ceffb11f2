package stacks

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"

	"github.com/heliocloud/heliocloud-go/config"
	"github.com/heliocloud/heliocloud-go/daskhub/values"
	"github.com/heliocloud/heliocloud-go/internal/modroot"
)

// groupsByName are the node groups of a template by their YAML name (the
// heliocloud:node-group tag), with their logical ids.
func groupsByName(t *testing.T, tpl assertions.Template) (props_ map[string]map[string]any, ids map[string]string) {
	t.Helper()
	props_, ids = map[string]map[string]any{}, map[string]string{}
	for id, r := range resources(tpl, "AWS::EKS::Nodegroup") {
		name := props(r)["Tags"].(map[string]any)["heliocloud:node-group"].(string)
		props_[name], ids[name] = props(r), id
	}
	return props_, ids
}

// coreGroupSubnet checks that the core group sits in private subnet
// index only, every other group in every zone, and that the hub runs only
// on core nodes, so its zonal volume always has a node in its zone.
func coreGroupSubnet(t *testing.T, tpl assertions.Template, index float64) {
	t.Helper()
	groups, _ := groupsByName(t, tpl)
	for name, p := range groups {
		subnets := p["Subnets"].([]any)
		if name != "core" {
			if len(subnets) != 2 {
				t.Errorf("%s spans %d subnets, want every private subnet (2)", name, len(subnets))
			}
			continue
		}
		if len(subnets) != 1 {
			t.Fatalf("core group spans %v, want one zone's subnet", subnets)
		}
		if sel := subnets[0].(map[string]any)["Fn::Select"].([]any); sel[0] != index {
			t.Errorf("core group in private subnet %v, want %v", sel[0], index)
		}
	}
	hub := chartValues(t, tpl, "jupyterhub")
	if got := hub["scheduling"].(map[string]any)["corePods"]; toJSON(t, got) != `{"nodeAffinity":{"matchNodePurpose":"require"}}` {
		t.Errorf("the hub may run off the core nodes: corePods %v", got)
	}
}

func TestDaskhubCoreZoneMustBeTheNetworks(t *testing.T) {
	problems := mustFailConfig(t, daskhubYAML("  coreZone: us-east-1c\n"))
	if !strings.Contains(problems.Error(), `daskhub.coreZone: "us-east-1c" is not one of the network's zones; allowed: us-east-1a, us-east-1b`) {
		t.Errorf("coreZone outside the network: %v", problems)
	}
	problems = mustFailConfig(t, daskhubYAML("  nodeGroups: {core: {labels: {hub.jupyter.org/node-purpose: user}}}\n"))
	if !strings.Contains(problems.Error(), "daskhub.nodeGroups.core.labels: a core group needs the label hub.jupyter.org/node-purpose: core") {
		t.Errorf("core group without the hub's label: %v", problems)
	}
}

func chartValues(t *testing.T, tpl assertions.Template, release string) map[string]any {
	t.Helper()
	for _, r := range resources(tpl, "Custom::AWSCDK-EKS-HelmChart") {
		if props(r)["Release"] == release {
			return helmValues(t, props(r))
		}
	}
	t.Fatalf("no release %s", release)
	return nil
}

// An edit the docs present as ordinary deploys: a group CloudFormation must
// replace gets a new name (create-before-delete cannot reuse it), and a
// group it updates in place keeps its name. The impact of each change comes
// from the engine of `cdk diff` (npm @aws-cdk/cloudformation-diff), which
// reads CloudFormation's resource specification.
//
// The same two synths check the other node boundaries (subtests below).
func TestNodegroupReplacementRenames(t *testing.T) {
	all := synthYAML(t, daskhubYAML(""), daskhubOpts)
	before := all["daskhub"]
	after := synthYAML(t, daskhubYAML(`  coreZone: us-east-1b
  controlPlaneLogTypes: [api, controllerManager, scheduler]
  loadBalancer: {zones: 2}
  nodeGroups:
    core: {instanceTypes: [t4g.large]}
    user: {instanceTypes: [m7g.2xlarge]}
    dask-worker: {capacity: onDemand}
    gpu-user: {instanceTypes: [g6.2xlarge], gpu: true, maxSize: 6, labels: {extra: "yes"}}
    big-user: {diskSizeGib: 300}
  profiles:
    server: {multiArchImage: true}
    big-server: {multiArchImage: true}
    gpu-pytorch: {multiArchImage: true}
    gpu-tensorflow: {multiArchImage: true}
`), daskhubOpts)["daskhub"]

	dir := t.TempDir()
	paths := []string{filepath.Join(dir, "before.json"), filepath.Join(dir, "after.json")}
	for i, tpl := range []assertions.Template{before, after} {
		if err := os.WriteFile(paths[i], []byte(templateJSON(t, tpl)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	root, err := modroot.Dir()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("node", append([]string{filepath.Join(root, "stacks", "testdata", "cfndiff.js")}, paths...)...)
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("cloudformation-diff: %v\n%s", err, out)
	}
	var changes []struct{ ID, Type, Impact string }
	if err := json.Unmarshal(out, &changes); err != nil {
		t.Fatalf("cloudformation-diff output %s: %v", out, err)
	}
	impact := map[string]string{}
	for _, c := range changes {
		impact[c.ID] = c.Impact
	}
	b, ids := groupsByName(t, before)
	a, _ := groupsByName(t, after)
	var replaced, kept []string
	for name, id := range ids {
		renamed := b[name]["NodegroupName"] != a[name]["NodegroupName"]
		if impact[id] == "" {
			// A new launch template version reaches the group through
			// LatestVersionNumber: an update in place.
			impact[id] = impact[b[name]["LaunchTemplate"].(map[string]any)["Id"].(map[string]any)["Ref"].(string)]
		}
		switch {
		case impact[id] == "WILL_REPLACE" && !renamed:
			t.Errorf("%s is replaced but keeps its name %v: the new group would clash with the old", name, b[name]["NodegroupName"])
		case impact[id] != "WILL_REPLACE" && renamed:
			t.Errorf("%s is renamed (%v -> %v) though nothing else forces a replacement (%s)", name, b[name]["NodegroupName"], a[name]["NodegroupName"], impact[id])
		case impact[id] == "WILL_REPLACE":
			replaced = append(replaced, name)
		case impact[id] != "":
			kept = append(kept, name)
		}
	}
	slices.Sort(replaced)
	slices.Sort(kept)
	// The edits above: new instance types (Graviton ones for core and user,
	// with EKS's ARM AMI type), capacity and zone replace; a label, a size
	// limit and a disk size (a new launch template version) update in place.
	if got := strings.Join(replaced, " "); got != "core dask-worker user" {
		t.Errorf("replaced groups %q, want core dask-worker user", got)
	}
	if got := strings.Join(kept, " "); got != "big-user gpu-user" {
		t.Errorf("groups updated in place %q, want big-user gpu-user", got)
	}
	for _, n := range []string{"user", "core"} {
		if name := a[n]["NodegroupName"].(string); !strings.HasPrefix(name, "t1-"+n+"-") || len(name) != len("t1-"+n+"-")+8 {
			t.Errorf("group name %s, want t1-%s-<8 hex digits>", name, n)
		}
	}
	// The autoscaler's expander and the device plugin name the groups the
	// same way.
	ca := toJSON(t, chartValues(t, after, "cluster-autoscaler"))
	if !strings.Contains(ca, "^eks-"+a["dask-gpu-worker"]["NodegroupName"].(string)+"-[0-9a-f-]+$") {
		t.Errorf("autoscaler priorities do not name the spot group %v: %s", a["dask-gpu-worker"]["NodegroupName"], ca)
	}
	dp := toJSON(t, chartValues(t, after, "nvidia-device-plugin"))
	if !strings.Contains(dp, `"`+a["gpu-user"]["NodegroupName"].(string)+`"`) {
		t.Errorf("device plugin affinity does not name %v: %s", a["gpu-user"]["NodegroupName"], dp)
	}

	t.Run("control-plane log types as configured", func(t *testing.T) {
		for _, r := range resources(after, "AWS::EKS::Cluster") {
			got := toJSON(t, props(r)["Logging"])
			if want := `{"ClusterLogging":{"EnabledTypes":[{"Type":"api"},{"Type":"controllerManager"},{"Type":"scheduler"}]}}`; got != want {
				t.Errorf("logging %s, want %s", got, want)
			}
		}
	})
	t.Run("Graviton groups get the ARM AMI type and the same launch template", func(t *testing.T) {
		templates := resources(after, "AWS::EC2::LaunchTemplate")
		for name, ami := range map[string]string{"core": "AL2023_ARM_64_STANDARD", "user": "AL2023_ARM_64_STANDARD", "big-user": "AL2023_x86_64_STANDARD", "gpu-user": "AL2023_x86_64_NVIDIA"} {
			if a[name]["AmiType"] != ami {
				t.Errorf("%s: AMI type %v, want %s", name, a[name]["AmiType"], ami)
			}
			id := a[name]["LaunchTemplate"].(map[string]any)["Id"].(map[string]any)["Ref"].(string)
			data := props(templates[id])["LaunchTemplateData"].(map[string]any)
			if got := toJSON(t, data["MetadataOptions"]); got != `{"HttpEndpoint":"enabled","HttpPutResponseHopLimit":1,"HttpTokens":"required"}` {
				t.Errorf("%s: metadata options %s", name, got)
			}
		}
	})
	t.Run("the hub's load balancer starts in the hub's zone", func(t *testing.T) {
		if got := lbSubnets(t, after); got != "public[1],public[0]" {
			t.Errorf("load balancer subnets %s, want coreZone's (the second) first", got)
		}
	})
	t.Run("core group in the hub volume's zone", func(t *testing.T) {
		coreGroupSubnet(t, before, 0)
		coreGroupSubnet(t, after, 1)
	})
	t.Run("GPU groups carry the autoscaler's accelerator label", func(t *testing.T) { acceleratorLabels(t, b) })
	t.Run("launch templates with IMDSv2 and hop limit 1", func(t *testing.T) { launchTemplates(t, before) })
	t.Run("network policy enforcement and Dask pods' policy", func(t *testing.T) { networkPolicy(t, before) })
	t.Run("each Dask cluster fenced off from the others", func(t *testing.T) { daskClusterIsolation(t, before) })
	t.Run("EFS file system policy", func(t *testing.T) { efsPolicy(t, before) })
	t.Run("Pod Identity trust names account, cluster and service account", func(t *testing.T) { podIdentityTrust(t, before, all["data"]) })
}

func acceleratorLabels(t *testing.T, groups map[string]map[string]any) {
	for name, want := range map[string]string{"gpu-user": "nvidia-l4", "dask-gpu-worker": "nvidia", "user": "", "core": ""} {
		got, _ := groups[name]["Labels"].(map[string]any)[AcceleratorLabel].(string)
		if got != want {
			t.Errorf("%s: %s=%q, want %q", name, AcceleratorLabel, got, want)
		}
	}
}

func roleID(t *testing.T, tpl assertions.Template, description string) string {
	t.Helper()
	for id, r := range resources(tpl, "AWS::IAM::Role") {
		if props(r)["Description"] == description {
			return id
		}
	}
	t.Fatalf("no role %q", description)
	return ""
}

func launchTemplates(t *testing.T, tpl assertions.Template) {
	templates := resources(tpl, "AWS::EC2::LaunchTemplate")
	groups, _ := groupsByName(t, tpl)
	for name, p := range groups {
		if _, ok := p["DiskSize"]; ok {
			t.Errorf("%s sets DiskSize beside a launch template", name)
		}
		ref, _ := p["LaunchTemplate"].(map[string]any)
		id, _ := ref["Id"].(map[string]any)["Ref"].(string)
		lt, ok := templates[id]
		if !ok {
			t.Errorf("%s: launch template %v is none of the stack's", name, ref)
			continue
		}
		data := props(lt)["LaunchTemplateData"].(map[string]any)
		if got := toJSON(t, data["MetadataOptions"]); got != `{"HttpEndpoint":"enabled","HttpPutResponseHopLimit":1,"HttpTokens":"required"}` {
			t.Errorf("%s: metadata options %s", name, got)
		}
		disk := map[string]float64{"core": 50, "gpu-user": 200, "dask-gpu-worker": 200}[name]
		if disk == 0 {
			disk = 100
		}
		if got, want := toJSON(t, data["BlockDeviceMappings"]), `[{"DeviceName":"/dev/xvda","Ebs":{"Encrypted":true,"VolumeSize":`+strconv.Itoa(int(disk))+`,"VolumeType":"gp3"}}]`; got != want {
			t.Errorf("%s: disks %s, want %s", name, got, want)
		}
	}
}

func networkPolicy(t *testing.T, tpl assertions.Template) {
	var cni map[string]any
	for _, r := range resources(tpl, "AWS::EKS::Addon") {
		if props(r)["AddonName"] == "vpc-cni" {
			cni = props(r)
		}
	}
	if cni["ConfigurationValues"] != `{"enableNetworkPolicy":"true"}` {
		t.Errorf("vpc-cni configuration %v: network policies would not be enforced", cni["ConfigurationValues"])
	}
	np := dhManifests(t, tpl)["NetworkPolicy/dask-clusters"]
	if np["metadata"].(map[string]any)["namespace"] != "daskhub" {
		t.Errorf("Dask pods' network policy in namespace %v", np["metadata"])
	}
	const gatewayPods = `{"podSelector":{"matchExpressions":[{"key":"app.kubernetes.io/component","operator":"In","values":["gateway","traefik"]}],"matchLabels":{"app.kubernetes.io/name":"dask-gateway"}}}`
	want := `{` +
		`"egress":[{"to":[` + gatewayPods + `]},` +
		`{"ports":[{"port":53,"protocol":"UDP"},{"port":53,"protocol":"TCP"}],"to":[{"namespaceSelector":{"matchLabels":{"kubernetes.io/metadata.name":"kube-system"}},"podSelector":{"matchLabels":{"k8s-app":"kube-dns"}}}]},` +
		`{"to":[{"ipBlock":{"cidr":"0.0.0.0/0","except":["10.0.0.0/8","172.16.0.0/12","192.168.0.0/16","100.64.0.0/10","169.254.169.254/32","10.0.0.0/16"]}}]}],` +
		`"ingress":[{"from":[` + gatewayPods + `]}],` +
		`"podSelector":{"matchExpressions":[{"key":"app.kubernetes.io/component","operator":"In","values":["dask-scheduler","dask-worker"]}],"matchLabels":{"app.kubernetes.io/name":"dask-gateway"}},` +
		`"policyTypes":["Ingress","Egress"]}`
	if got := toJSON(t, np["spec"]); got != want {
		t.Errorf("Dask pods' network policy\n got %s\nwant %s", got, want)
	}
}

func efsPolicy(t *testing.T, tpl assertions.Template) {
	node := `{"Fn::GetAtt":["` + roleID(t, tpl, "Nodes of t1-daskhub") + `","Arn"]}`
	var fs map[string]any
	for _, r := range resources(tpl, "AWS::EFS::FileSystem") {
		fs = props(r)
	}
	actions := `["elasticfilesystem:ClientMount","elasticfilesystem:ClientWrite","elasticfilesystem:ClientRootAccess"]`
	want := `{"Statement":[` +
		`{"Action":["elasticfilesystem:ClientMount","elasticfilesystem:ClientWrite"],"Condition":{"Bool":{"aws:SecureTransport":"true","elasticfilesystem:AccessedViaMountTarget":"true"},"Null":{"elasticfilesystem:AccessPointArn":"false"}},"Effect":"Allow","Principal":{"AWS":` + node + `},"Sid":"NodesMountThroughAccessPoints"},` +
		`{"Action":` + actions + `,"Condition":{"Bool":{"aws:SecureTransport":"false"}},"Effect":"Deny","Principal":{"AWS":"*"},"Sid":"DenyWithoutTLS"},` +
		`{"Action":` + actions + `,"Condition":{"Null":{"elasticfilesystem:AccessPointArn":"true"}},"Effect":"Deny","Principal":{"AWS":"*"},"Sid":"DenyWithoutAccessPoint"},` +
		`{"Action":` + actions + `,"Condition":{"ArnNotEquals":{"aws:PrincipalArn":` + node + `}},"Effect":"Deny","Principal":{"AWS":"*"},"Sid":"DenyOtherPrincipals"}` +
		`],"Version":"2012-10-17"}`
	if got := toJSON(t, fs["FileSystemPolicy"]); got != want {
		t.Errorf("file system policy\n got %s\nwant %s", got, want)
	}
	// The policy admits IAM-signed TLS mounts through an access point only:
	// what the CSI driver does with these options and volume handles.
	objects := dhManifests(t, tpl)
	if got := toJSON(t, objects["StorageClass/efs-home"]["mountOptions"]); got != `["tls","iam"]` {
		t.Errorf("home storage class mount options %s", got)
	}
	pv := objects["PersistentVolume/daskhub-shared"]["spec"].(map[string]any)
	if got := toJSON(t, pv["mountOptions"]); got != `["tls","iam"]` {
		t.Errorf("shared volume mount options %s", got)
	}
	if h := pv["csi"].(map[string]any)["volumeHandle"].(string); !strings.Contains(h, "::") {
		t.Errorf("shared volume handle %q names no access point", h)
	}
}

// Every role EKS Pod Identity may hand out names the account, this cluster,
// and the one namespace and service account that uses it.
func podIdentityTrust(t *testing.T, tpl, data assertions.Template) {
	cluster := `{"Fn::Join":["",["arn:",{"Ref":"AWS::Partition"},":eks:",{"Ref":"AWS::Region"},":",{"Ref":"AWS::AccountId"},":cluster/t1-daskhub"]]}`
	trust := func(ns, sa string) string {
		return `{"Action":["sts:AssumeRole","sts:TagSession"],"Condition":{"ArnEqualsIfExists":{"aws:SourceArn":` + cluster + `},` +
			`"StringEquals":{"aws:RequestTag/eks-cluster-arn":` + cluster + `,"aws:RequestTag/kubernetes-namespace":"` + ns + `",` +
			`"aws:RequestTag/kubernetes-service-account":"` + sa + `","aws:SourceAccount":{"Ref":"AWS::AccountId"}}},` +
			`"Effect":"Allow","Principal":{"Service":"pods.eks.amazonaws.com"}}`
	}
	for desc, sa := range map[string]string{
		"JupyterHub of t1-daskhub: reads its Cognito app client": "daskhub/hub",
		"Cluster Autoscaler of t1-daskhub":                       "kube-system/cluster-autoscaler",
		"The aws-ebs-csi-driver controller of t1-daskhub":        "kube-system/ebs-csi-controller-sa",
		"The aws-efs-csi-driver controller of t1-daskhub":        "kube-system/efs-csi-controller-sa",
	} {
		ns, name, _ := strings.Cut(sa, "/")
		r := resources(tpl, "AWS::IAM::Role")[roleID(t, tpl, desc)]
		want := `{"Statement":[` + trust(ns, name) + `],"Version":"2012-10-17"}`
		if got := toJSON(t, props(r)["AssumeRolePolicyDocument"]); got != want {
			t.Errorf("%s trust\n got %s\nwant %s", desc, got, want)
		}
	}
	roles := logicalIDs(data, "AWS::IAM::Role", "RoleName")
	for role, sa := range map[string]string{"t1-user": "heliocloud-user", "t1-team-ml": "heliocloud-team-ml"} {
		got := toJSON(t, props(resources(data, "AWS::IAM::Role")[roles[role]])["AssumeRolePolicyDocument"])
		if !strings.Contains(got, trust("daskhub", sa)) || strings.Count(got, "pods.eks.amazonaws.com") != 1 {
			t.Errorf("data role %s trust\n got %s\nwant the statement %s", role, got, trust("daskhub", sa))
		}
	}
}

// A GPU model without the autoscaler's name would stop the synth (see
// acceleratorType); the table must cover every GPU type the config allows.
func TestEveryGPUModelHasAnAcceleratorName(t *testing.T) {
	for name, it := range config.InstanceTypes {
		if it.GPUs == 0 {
			continue
		}
		if _, ok := acceleratorTypes[it.GPUModel]; !ok {
			t.Errorf("%s: GPU model %q has no entry in acceleratorTypes", name, it.GPUModel)
		}
	}
}

// addonConfigs maps each EKS add-on to its configuration values.
func addonConfigs(tpl assertions.Template) map[string]string {
	out := map[string]string{}
	for _, r := range resources(tpl, "AWS::EKS::Addon") {
		v, _ := props(r)["ConfigurationValues"].(string)
		out[props(r)["AddonName"].(string)] = v
	}
	return out
}

// A core group that may shrink to one node runs one replica of CoreDNS,
// of each CSI controller and of the user-scheduler, so that the core
// services fit a t4g.medium's 17 pods (config.Daskhub.CorePods); with two
// core nodes the add-ons and the chart keep their two.
func TestSingleCoreNodeRunsOneReplicaOfEach(t *testing.T) {
	one := synthYAML(t, daskhubYAML("  nodeGroups:\n    core: {instanceTypes: [t4g.medium], minSize: 1, desiredSize: 1, maxSize: 2}\n"), daskhubOpts)["daskhub"]
	got := addonConfigs(one)
	want := map[string]string{
		"coredns":            `{"replicaCount":1}`,
		"aws-ebs-csi-driver": `{"controller":{"replicaCount":1}}`,
		"aws-efs-csi-driver": `{"controller":{"replicaCount":1}}`,
		"vpc-cni":            `{"enableNetworkPolicy":"true"}`,
		"kube-proxy":         "",
	}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("one core node: %s configured %q, want %q", name, got[name], w)
		}
	}
	hub := chartValues(t, one, values.JupyterhubRelease)
	if r := hub["scheduling"].(map[string]any)["userScheduler"].(map[string]any)["replicas"]; r != float64(1) {
		t.Errorf("one core node: user-scheduler replicas %v, want 1", r)
	}
	two := addonConfigs(synthYAML(t, daskhubYAML(""), daskhubOpts)["daskhub"])
	for _, name := range []string{"coredns", "aws-ebs-csi-driver", "aws-efs-csi-driver"} {
		if two[name] != "" {
			t.Errorf("two core nodes: %s configured %q, want the add-on's defaults", name, two[name])
		}
	}
}
