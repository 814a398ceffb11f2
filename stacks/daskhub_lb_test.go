package stacks

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
)

// hubRelease is the JupyterHub release's resource: its logical id and
// properties.
func hubRelease(t *testing.T, tpl assertions.Template) (string, map[string]any) {
	t.Helper()
	for id, r := range resources(tpl, "Custom::AWSCDK-EKS-HelmChart") {
		if props(r)["Release"] == "jupyterhub" {
			return id, r
		}
	}
	t.Fatal("no jupyterhub release")
	return "", nil
}

// lbSubnets are the values of the subnets annotation in the hub's values:
// literal subnet ids, or "public[<i>]" for the i-th of the base stack's
// public subnets read from SSM at deploy time.
func lbSubnets(t *testing.T, tpl assertions.Template) string {
	t.Helper()
	_, r := hubRelease(t, tpl)
	const key = `"service.beta.kubernetes.io/aws-load-balancer-subnets":"`
	var b strings.Builder
	values := props(r)["Values"]
	parts := []any{values}
	if j, ok := values.(map[string]any)["Fn::Join"].([]any); ok {
		parts = j[1].([]any)
	}
	for _, part := range parts {
		switch x := part.(type) {
		case string:
			b.WriteString(x)
		case map[string]any:
			sel, ok := x["Fn::Select"].([]any)
			if !ok {
				b.WriteString("<token>")
				continue
			}
			split := toJSON(t, sel[1])
			if !strings.Contains(split, `"Fn::Split":[","`) || !strings.Contains(split, "SsmParameterValueheliocloud") || !strings.Contains(split, "vpcpublicsubnetids") {
				t.Errorf("subnet read from %s, want the base stack's public subnet parameter", split)
			}
			b.WriteString("public[" + string(mustJSON(t, sel[0])) + "]")
		}
	}
	text := b.String()
	i := strings.Index(text, key)
	if i < 0 {
		t.Fatalf("no subnets annotation in the hub's values: %s", text)
	}
	rest := text[i+len(key):]
	return rest[:strings.Index(rest, `"`)]
}

func mustJSON(t *testing.T, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The hub's Service is moved off a Classic load balancer before the
// JupyterHub release runs, and the DNS record points at the Network Load
// Balancer's address read after it.
func hubLoadBalancerWiring(t *testing.T, tpl assertions.Template) {
	hubID, hub := hubRelease(t, tpl)
	var switchID string
	for id, r := range resources(tpl, "Custom::HeliocloudDaskhubLoadBalancerSwitch") {
		switchID = id
		p := props(r)
		if p["Action"] != "replaceLoadBalancers" || p["Namespace"] != "daskhub" {
			t.Errorf("load balancer switch properties %v", p)
		}
		// The switch compares the Service with the release's type and
		// subnets, read from the same parameter.
		ann := toJSON(t, p["Annotations"])
		if !strings.Contains(ann, `"service.beta.kubernetes.io/aws-load-balancer-type":"nlb"`) ||
			!strings.Contains(ann, `"service.beta.kubernetes.io/aws-load-balancer-subnets":{"Fn::Select":[0,{"Fn::Split":[","`) {
			t.Errorf("load balancer switch annotations %s", ann)
		}
		if deps := strs(r["DependsOn"]); !slices.ContainsFunc(deps, func(d string) bool { return strings.HasPrefix(d, "DeployCheckAccess") }) {
			t.Errorf("the switch does not wait for the check's access entry: %v", deps)
		}
	}
	if switchID == "" {
		t.Fatal("no load balancer switch")
	}
	if !slices.Contains(strs(hub["DependsOn"]), switchID) {
		t.Errorf("the JupyterHub release (%s) does not wait for the load balancer switch", hubID)
	}
	var address string
	for id, r := range resources(tpl, "Custom::AWSCDK-EKS-KubernetesObjectValue") {
		if strings.HasPrefix(id, "HubNetworkLoadBalancerAddress") {
			address = id
			if !slices.Contains(strs(r["DependsOn"]), hubID) {
				t.Errorf("the load balancer's address is read before the release made the Service")
			}
		}
	}
	if address == "" {
		t.Fatal("no HubNetworkLoadBalancerAddress: the CNAME would keep the Classic load balancer's address")
	}
	for _, r := range resources(tpl, "AWS::Route53::RecordSet") {
		if got := toJSON(t, props(r)["ResourceRecords"]); !strings.Contains(got, address) {
			t.Errorf("the hub's record points at %s, not at %s", got, address)
		}
	}
}

// An existing VPC's public subnets are named by id, coreZone's first.
func TestDaskhubLoadBalancerInAnExistingVPC(t *testing.T) {
	tpl := synthYAML(t, daskhubYAML(`  coreZone: us-east-1b
  loadBalancer: {zones: 2, publicCidrs: [192.0.2.0/24]}
base:
  vpc:
    mode: existing
    vpcId: vpc-0123456789abcdef0
    availabilityZones: [us-east-1a, us-east-1b]
    privateSubnetIds: [subnet-0aaaaaaaaaaaaaaaa, subnet-0bbbbbbbbbbbbbbbb]
    publicSubnetIds: [subnet-0cccccccccccccccc, subnet-0dddddddddddddddd]
`), daskhubOpts)["daskhub"]
	if got := lbSubnets(t, tpl); got != "subnet-0dddddddddddddddd,subnet-0cccccccccccccccc" {
		t.Errorf("load balancer subnets %s, want coreZone's (us-east-1b) first", got)
	}
	svc := chartValues(t, tpl, "jupyterhub")["proxy"].(map[string]any)["service"].(map[string]any)
	if got := toJSON(t, svc["loadBalancerSourceRanges"]); got != `["192.0.2.0/24"]` {
		t.Errorf("source ranges %s", got)
	}
	if got := svc["annotations"].(map[string]any)["service.beta.kubernetes.io/aws-load-balancer-cross-zone-load-balancing-enabled"]; got != "true" {
		t.Errorf("two zones without cross-zone load balancing: %v", got)
	}
}
