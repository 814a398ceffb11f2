package stacks

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/heliocloud/heliocloud-go/daskhub/hubcheck"
)

// The deploy check runs after every release, with the cluster's address,
// what to check, and only the access it needs.
func TestDaskhubDeployCheck(t *testing.T) {
	tpl := synthYAML(t, daskhubYAML(""), daskhubOpts)["daskhub"]
	checks := resources(tpl, "Custom::HeliocloudDaskhubCheck")
	if len(checks) != 1 {
		t.Fatalf("%d deploy checks, want 1", len(checks))
	}
	var check map[string]any
	for _, r := range checks {
		check = r
	}
	p := props(check)

	t.Run("after every release", func(t *testing.T) {
		deps := fmt.Sprint(check["DependsOn"])
		charts := resources(tpl, "Custom::AWSCDK-EKS-HelmChart")
		if len(charts) != 4 {
			t.Fatalf("%d releases, want the hub, gateway, autoscaler and device plugin", len(charts))
		}
		for id, r := range charts {
			if !strings.Contains(deps, id) {
				t.Errorf("the check does not wait for release %s (DependsOn %s)", props(r)["Release"], deps)
			}
			// helm's own --wait would fail with a bare timeout before the
			// check could say why; its timeout must leave the 15-minute
			// kubectl handler time to answer.
			if w, ok := props(r)["Wait"]; ok {
				t.Errorf("release %s: Wait = %v; the check waits instead", props(r)["Release"], w)
			}
			if got := props(r)["Timeout"]; got != "600s" {
				t.Errorf("release %s: Timeout = %v, want 600s", props(r)["Release"], got)
			}
		}
		for typ, what := range map[string]string{"AWS::EKS::AccessEntry": "its access entry", "AWS::EC2::SecurityGroupIngress": "its way to the API server"} {
			for id := range resources(tpl, typ) {
				if typ == "AWS::EC2::SecurityGroupIngress" && !strings.Contains(id, "DeployCheck") {
					continue
				}
				if typ == "AWS::EKS::AccessEntry" && !strings.Contains(id, "DeployCheck") {
					continue
				}
				if !strings.Contains(deps, id) {
					t.Errorf("the check does not depend on %s (%s): on delete it would lose it first", what, id)
				}
			}
		}
	})

	t.Run("properties", func(t *testing.T) {
		for key, want := range map[string]string{
			"ClusterName":          `{"Ref":"ClusterEB0386A7"}`,
			"Endpoint":             `{"Fn::GetAtt":["ClusterEB0386A7","Endpoint"]}`,
			"CertificateAuthority": `{"Fn::GetAtt":["ClusterEB0386A7","CertificateAuthorityData"]}`,
			"Namespace":            `"daskhub"`,
			"ServiceTimeout":       `"1200"`,
		} {
			if got := toJSON(t, p[key]); got != want {
				t.Errorf("%s = %s, want %s", key, got, want)
			}
		}
		if st := toJSON(t, p["ServiceToken"]); !strings.Contains(st, "DeployCheckFunction") || !strings.Contains(st, "Arn") {
			t.Errorf("ServiceToken %s is not the check function", st)
		}
		if rev, _ := p["Revision"].(string); len(rev) != 16 {
			t.Errorf("Revision %q", p["Revision"])
		}
		var spec hubcheck.Spec
		if err := json.Unmarshal([]byte(p["Spec"].(string)), &spec); err != nil {
			t.Fatal(err)
		}
		// Workload names are what each chart makes of our release names:
		// cluster-autoscaler chart 9.50.1 templates/_helpers.tpl
		// "cluster-autoscaler.fullname" (release + "-" + cloudProvider + "-cluster-autoscaler");
		// k8s-device-plugin v0.17.4 deployments/helm/nvidia-device-plugin/templates/_helpers.tpl
		// "nvidia-device-plugin.fullname" (the release name, which holds the chart's);
		// zero-to-jupyterhub-k8s 4.4.0 jupyterhub/templates/_helpers-names.tpl (fullnameOverride ""
		// gives hub, proxy, user-scheduler, proxy-public);
		// dask-gateway 2025.4.0 resources/helm/dask-gateway/templates/_helpers.tpl (api-, controller-,
		// traefik- before the release name, which holds the chart's).
		want := []hubcheck.Workload{
			{Component: "cluster autoscaler", Kind: "Deployment", Namespace: "kube-system", Name: "cluster-autoscaler-aws-cluster-autoscaler"},
			{Component: "NVIDIA device plugin", Kind: "DaemonSet", Namespace: "kube-system", Name: "nvidia-device-plugin"},
			{Component: "hub", Kind: "Deployment", Namespace: "daskhub", Name: "hub"},
			{Component: "proxy", Kind: "Deployment", Namespace: "daskhub", Name: "proxy"},
			{Component: "user scheduler", Kind: "Deployment", Namespace: "daskhub", Name: "user-scheduler"},
			{Component: "Dask Gateway api", Kind: "Deployment", Namespace: "daskhub", Name: "api-dask-gateway"},
			{Component: "Dask Gateway controller", Kind: "Deployment", Namespace: "daskhub", Name: "controller-dask-gateway"},
			{Component: "Dask Gateway traefik", Kind: "Deployment", Namespace: "daskhub", Name: "traefik-dask-gateway"},
		}
		if !reflect.DeepEqual(spec.Workloads, want) {
			t.Errorf("workloads\n%+v\nwant\n%+v", spec.Workloads, want)
		}
		// JupyterHub 5.5.0 (the hub image of chart 4.4.0) answers GET /hub/api/ with its
		// version, unauthenticated (jupyterhub/apihandlers/hub.py RootAPIHandler at 5.5.0);
		// dask-gateway 2025.4.0 answers /api/health with {"status": "pass"}
		// (dask-gateway-server/dask_gateway_server/routes.py and app.py).
		hubAPI := hubcheck.Endpoint{Component: "hub API", Address: "http://proxy-public/hub/api/", Namespace: "daskhub", Service: "proxy-public", Path: "/hub/api/", WantField: "version"}
		hubValues := helmValues(t, chartByRelease(t, tpl, "jupyterhub"))
		address := hubValues["singleuser"].(map[string]any)["extraEnv"].(map[string]any)["DASK_GATEWAY__ADDRESS"].(string)
		gateway, err := hubcheck.EndpointAt("Dask Gateway API", address, "daskhub", "/api/health")
		if err != nil {
			t.Fatal(err)
		}
		gateway.WantField, gateway.WantValue = "status", "pass"
		if !reflect.DeepEqual(spec.Endpoints, []hubcheck.Endpoint{hubAPI, gateway}) {
			t.Errorf("endpoints\n%+v\nwant the hub API and the gateway at the notebooks' address %s", spec.Endpoints, address)
		}
	})

	t.Run("least privilege", func(t *testing.T) {
		entries := 0
		for id, r := range resources(tpl, "AWS::EKS::AccessEntry") {
			if !strings.Contains(id, "DeployCheck") {
				continue
			}
			entries++
			ap := props(r)
			if got := toJSON(t, ap["KubernetesGroups"]); got != `["heliocloud-deploy-check"]` {
				t.Errorf("KubernetesGroups %s", got)
			}
			if _, ok := ap["AccessPolicies"]; ok {
				t.Errorf("the check's access entry has EKS access policies %v: its Roles are all it may do", ap["AccessPolicies"])
			}
			if !strings.Contains(toJSON(t, ap["PrincipalArn"]), "DeployCheckFunctionRole") {
				t.Errorf("access entry principal %v", ap["PrincipalArn"])
			}
		}
		if entries != 1 {
			t.Fatalf("%d access entries for the check", entries)
		}
		var rbac []map[string]any
		for id, r := range resources(tpl, "Custom::AWSCDK-EKS-KubernetesResource") {
			if strings.Contains(id, "DeployCheckRbac") {
				if err := json.Unmarshal([]byte(props(r)["Manifest"].(string)), &rbac); err != nil {
					t.Fatal(err)
				}
			}
		}
		rules := map[string]string{}
		for _, o := range rbac {
			md := o["metadata"].(map[string]any)
			switch o["kind"] {
			case "Role":
				var rs []string
				for _, r := range o["rules"].([]any) {
					r := r.(map[string]any)
					rs = append(rs, fmt.Sprintf("%v %v %v", r["apiGroups"], r["resources"], r["verbs"]))
				}
				slices.Sort(rs)
				rules[md["namespace"].(string)] = strings.Join(rs, "; ")
			case "RoleBinding":
				if got := toJSON(t, o["subjects"]); got != `[{"apiGroup":"rbac.authorization.k8s.io","kind":"Group","name":"heliocloud-deploy-check"}]` {
					t.Errorf("binding in %s: subjects %s", md["namespace"], got)
				}
			default:
				t.Errorf("the check's RBAC holds a %v: no cluster-wide grant is needed", o["kind"])
			}
		}
		want := map[string]string{
			"daskhub":     "[] [events] [list]; [] [pods/log] [get]; [] [pods] [list]; [] [services/proxy] [get]; [] [services] [get list delete]; [apps] [deployments daemonsets] [get]",
			"kube-system": "[] [pods/log] [get]; [] [pods] [list]; [apps] [deployments daemonsets] [get]",
		}
		if !reflect.DeepEqual(rules, want) {
			t.Errorf("RBAC rules by namespace\n%v\nwant\n%v", rules, want)
		}

		var fn map[string]any
		for id, r := range resources(tpl, "AWS::Lambda::Function") {
			if strings.Contains(id, "DeployCheck") {
				fn = props(r)
			}
		}
		if fn == nil {
			t.Fatal("no check function")
		}
		if fn["Timeout"] != float64(900) {
			t.Errorf("function timeout %v", fn["Timeout"])
		}
		vpc := toJSON(t, fn["VpcConfig"])
		if !strings.Contains(vpc, "DeployCheckSecurityGroup") || !strings.Contains(vpc, "vpcprivatesubnetids") {
			t.Errorf("the check must run in the private subnets with its own security group: %s", vpc)
		}
		sgs := 0
		for id, r := range resources(tpl, "AWS::EC2::SecurityGroup") {
			if !strings.Contains(id, "DeployCheck") {
				continue
			}
			sgs++
			if got := toJSON(t, props(r)["SecurityGroupEgress"]); got != `[{"CidrIp":"0.0.0.0/0","Description":"HTTPS: the Kubernetes API, CloudFormation and its response URL","FromPort":443,"IpProtocol":"tcp","ToPort":443}]` {
				t.Errorf("the check's egress: %s", got)
			}
		}
		if sgs != 1 {
			t.Errorf("%d check security groups", sgs)
		}
		ingress := 0
		for _, r := range resources(tpl, "AWS::EC2::SecurityGroupIngress") {
			ip := props(r)
			if strings.Contains(toJSON(t, ip["SourceSecurityGroupId"]), "DeployCheckSecurityGroup") {
				ingress++
				if ip["FromPort"] != float64(443) || ip["ToPort"] != float64(443) || !strings.Contains(toJSON(t, ip["GroupId"]), "ClusterSecurityGroupId") {
					t.Errorf("the check's way in: %s", toJSON(t, ip))
				}
			}
		}
		if ingress != 1 {
			t.Errorf("%d ingress rules from the check, want 1 (the API server's port)", ingress)
		}
		var statements []string
		for _, r := range resources(tpl, "AWS::IAM::Policy") {
			if strings.Contains(toJSON(t, props(r)["Roles"]), "DeployCheckFunctionRole") {
				for _, st := range props(r)["PolicyDocument"].(map[string]any)["Statement"].([]any) {
					statements = append(statements, toJSON(t, st))
				}
			}
		}
		wantStatement := `{"Action":"cloudformation:DescribeStacks","Effect":"Allow","Resource":{"Ref":"AWS::StackId"},"Sid":"ReadOwnStackStatus"}`
		if !slices.Contains(statements, wantStatement) {
			t.Errorf("the check may read only its own stack's status; statements:\n%s", strings.Join(statements, "\n"))
		}
		if len(statements) != 2 {
			t.Errorf("the check's role grants more than its log group and its stack's status:\n%s", strings.Join(statements, "\n"))
		}
	})
}

// A changed chart version or value checks again; tokens, whose text is an
// artefact of synthesis, do not.
func TestDeployCheckRevision(t *testing.T) {
	rev := func(inputs ...any) string { return (&DaskhubStack{releaseInputs: inputs}).revision() }
	base := rev([]any{"jupyterhub", "4.4.0", map[string]any{"a": "x"}})
	if base != rev([]any{"jupyterhub", "4.4.0", map[string]any{"a": "x"}}) {
		t.Error("revision is not deterministic")
	}
	for name, other := range map[string]string{
		"version": rev([]any{"jupyterhub", "4.5.0", map[string]any{"a": "x"}}),
		"value":   rev([]any{"jupyterhub", "4.4.0", map[string]any{"a": "y"}}),
	} {
		if other == base {
			t.Errorf("a changed %s keeps revision %s", name, base)
		}
	}
	if a, b := rev([]any{"c", "1", "id ${Token[TOKEN.12]}"}), rev([]any{"c", "1", "id ${Token[TOKEN.345]}"}); a != b {
		t.Error("token numbering changes the revision")
	}
}

func chartByRelease(t *testing.T, tpl interface {
	ToJSON() *map[string]any
}, release string) map[string]any {
	t.Helper()
	for _, r := range (*tpl.ToJSON())["Resources"].(map[string]any) {
		r := r.(map[string]any)
		if r["Type"] == "Custom::AWSCDK-EKS-HelmChart" && props(r)["Release"] == release {
			return props(r)
		}
	}
	t.Fatalf("no release %s", release)
	return nil
}
