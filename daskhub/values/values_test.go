package values_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/heliocloud/heliocloud-go/config"
	"github.com/heliocloud/heliocloud-go/daskhub/values"
	"github.com/heliocloud/heliocloud-go/daskhub/values/chartschema"
	"github.com/heliocloud/heliocloud-go/daskhub/versions"
)

const instance = `
name: t1
institution: Test Heliophysics
region: us-east-1
teams: {ml: {}}
auth: {enabled: true}
daskhub:
  enabled: true
  endpoint: {publicCidrs: [192.0.2.0/24]}
  domain:
    name: helio.example.org
    certificateArn: arn:aws:acm:us-east-1:123456789012:certificate/0f0e0d0c-0b0a-0908-0706-050403020100
  profiles:
    gpu-pytorch: {teams: [ml]}
`

func load(t *testing.T, text string) *config.Config {
	t.Helper()
	cfg, err := config.Parse("test.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// testSubnets stand for the public subnet of the hub's load balancer.
var testSubnets = []string{"subnet-0aaaaaaaaaaaaaaaa"}

var signIn = values.SignIn{BaseURL: "https://heliocloud-t1.auth.us-east-1.amazoncognito.com", UserPoolID: "us-east-1_abc", ClientID: "client123", Region: "us-east-1"}

func validateJupyterhub(t *testing.T, vals map[string]any) error {
	t.Helper()
	chartschema.Require(t)
	return chartschema.ValidateJupyterhub(vals)
}

func TestJupyterhubValuesMatchChartSchema(t *testing.T) {
	for name, text := range map[string]string{
		"domain":    instance,
		"no domain": "name: t2\nauth: {enabled: true}\ndaskhub:\n  enabled: true\n  endpoint: {access: private}\n",
	} {
		t.Run(name, func(t *testing.T) {
			if err := validateJupyterhub(t, values.Jupyterhub(load(t, text), signIn, testSubnets)); err != nil {
				t.Fatalf("values refused by the chart's schema:\n%v", err)
			}
		})
	}
}

// The schema check must be able to fail: a misspelt key is refused.
func TestSchemaCheckRefusesUnknownKeys(t *testing.T) {
	vals := values.Jupyterhub(load(t, instance), signIn, testSubnets)
	vals["singleuser"].(map[string]any)["profilelist"] = []any{}
	if err := validateJupyterhub(t, vals); err == nil || !strings.Contains(err.Error(), "profilelist") {
		t.Fatalf("want the misspelt key refused, got %v", err)
	}
}

func get(t *testing.T, v any, path ...string) any {
	t.Helper()
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("%s: not a mapping at %q", strings.Join(path, "."), k)
		}
		v = m[k]
	}
	return v
}

func TestProfilesComeFromConfig(t *testing.T) {
	cfg := load(t, instance)
	vals := values.Jupyterhub(cfg, signIn, testSubnets)
	list := get(t, vals, "singleuser", "profileList").([]any)
	var slugs []string
	for _, p := range list {
		slugs = append(slugs, p.(map[string]any)["slug"].(string))
	}
	if got := strings.Join(slugs, ","); got != "server,big-server,gpu-pytorch,gpu-tensorflow" {
		t.Errorf("profile order %s", got)
	}
	gpu := list[2].(map[string]any)
	if d := gpu["description"].(string); !strings.Contains(d, "g6.2xlarge node $0.98/h (on-demand, us-east-1)") || strings.Contains(d, "onDemand") {
		t.Errorf("GPU profile description lacks the price: %q", d)
	}
	o := gpu["kubespawner_override"].(map[string]any)
	if o["node_selector"].(map[string]any)["heliocloud.org/node-purpose"] != "gpu-user" {
		t.Errorf("node selector %v", o["node_selector"])
	}
	tol := o["tolerations"].([]any)[0].(map[string]any)
	if tol["key"] != "heliocloud.org/dedicated" || tol["value"] != "gpu-user" || tol["effect"] != "NoSchedule" {
		t.Errorf("toleration %v", tol)
	}
	if o["extra_resource_limits"].(map[string]any)["nvidia.com/gpu"] != "1" || o["mem_guarantee"] != "24G" {
		t.Errorf("override %v", o)
	}
	teams := get(t, vals, "hub", "extraConfig", "20-profiles-by-team").(string)
	if !strings.Contains(teams, `{\"gpu-pytorch\":[\"ml\"]}`) {
		t.Errorf("team limits not passed to the hub:\n%s", teams)
	}
}

func TestSignInAndHTTPS(t *testing.T) {
	vals := values.Jupyterhub(load(t, instance), signIn, testSubnets)
	oauth := get(t, vals, "hub", "config", "GenericOAuthenticator").(map[string]any)
	if oauth["oauth_callback_url"] != "https://daskhub.helio.example.org/hub/oauth_callback" ||
		oauth["authorize_url"] != signIn.BaseURL+"/oauth2/authorize" ||
		oauth["auth_state_groups_key"] != "oauth_user.cognito:groups" {
		t.Errorf("oauth settings %v", oauth)
	}
	if _, ok := oauth["client_secret"]; ok {
		t.Errorf("the client secret must not be in the values")
	}
	ann := get(t, vals, "proxy", "service", "annotations").(map[string]any)
	if !strings.HasPrefix(ann["service.beta.kubernetes.io/aws-load-balancer-ssl-cert"].(string), "arn:aws:acm:us-east-1:") {
		t.Errorf("no certificate on the load balancer: %v", ann)
	}
	if ann["service.beta.kubernetes.io/aws-load-balancer-type"] != "nlb" {
		t.Errorf("the hub's load balancer must be a Network Load Balancer: %v", ann)
	}
	if get(t, vals, "proxy", "service", "disableHttpPort") != true {
		t.Errorf("plain HTTP must be closed with a domain")
	}
	if get(t, vals, "proxy", "https", "type") != "offload" {
		t.Errorf("TLS not offloaded")
	}

	bare := values.Jupyterhub(load(t, "name: t2\nauth: {enabled: true}\ndaskhub:\n  enabled: true\n  endpoint: {access: private}\n"), signIn, testSubnets)
	if get(t, bare, "proxy", "service", "type") != "ClusterIP" {
		t.Errorf("without a domain the hub must not get a public load balancer")
	}
	if get(t, bare, "hub", "config", "GenericOAuthenticator", "oauth_callback_url") != "http://localhost:8080/hub/oauth_callback" {
		t.Errorf("without a domain the callback is the port-forward's")
	}
}

func TestCullingAndDaskLimits(t *testing.T) {
	cfg := load(t, instance+"  culling: {idleTimeoutMinutes: 45, maxAgeHours: 12}\n  dask: {maxWorkersPerCluster: 7, idleTimeoutMinutes: 20}\n")
	vals := values.Jupyterhub(cfg, signIn, testSubnets)
	if get(t, vals, "cull", "timeout") != 2700 || get(t, vals, "cull", "maxAge") != 43200 {
		t.Errorf("cull %v", get(t, vals, "cull"))
	}
	gw := values.DaskGateway(cfg)
	limits := get(t, gw, "gateway", "extraConfig", "20-limits").(string)
	for _, want := range []string{"idle_timeout = 1200", "cluster_max_workers = 7", "cluster_max_cores = 64", "cluster_max_memory = 274877906944"} {
		if !strings.Contains(limits, want) {
			t.Errorf("limits lack %q:\n%s", want, limits)
		}
	}
	opts := get(t, gw, "gateway", "extraConfig", "10-options").(string)
	for _, want := range []string{`\"dask-gpu-worker\"`, `\"heliocloud-user\"`, "/dev/shm", `nvidia.com/gpu`,
		`\"scheduler\":{\"node_selector\":{\"heliocloud.org/node-purpose\":\"user\"`} {
		if !strings.Contains(opts, want) {
			t.Errorf("options lack %q", want)
		}
	}
	if get(t, gw, "gateway", "auth", "jupyterhub", "apiTokenFromSecretKey") != "hub.services.dask-gateway.apiToken" {
		t.Errorf("gateway does not read the hub's generated token")
	}
}

func TestDevicePluginToleratesEveryGPUTaint(t *testing.T) {
	cfg := load(t, instance)
	vals := values.NvidiaDevicePlugin(cfg)
	var got []string
	for _, tol := range vals["tolerations"].([]any) {
		m := tol.(map[string]any)
		got = append(got, m["key"].(string)+"="+stringOr(m["value"]))
	}
	for _, want := range []string{"heliocloud.org/dedicated=gpu-user", "heliocloud.org/dedicated=dask-gpu-worker"} {
		if !strings.Contains(strings.Join(got, " "), want) {
			t.Errorf("device plugin does not tolerate %s: %v", want, got)
		}
	}
	b, _ := json.Marshal(vals["affinity"])
	if !strings.Contains(string(b), `"`+values.NodegroupName(cfg, "dask-gpu-worker")+`","`+values.NodegroupName(cfg, "gpu-user")+`"`) {
		t.Errorf("affinity %s", b)
	}
}

func stringOr(v any) string {
	s, _ := v.(string)
	return s
}

func TestAutoscalerPrefersSpotAndScalesFromZero(t *testing.T) {
	cfg := load(t, instance)
	vals := values.ClusterAutoscaler(cfg, "t1-daskhub", "us-east-1")
	pri := vals["expanderPriorities"].(map[string]any)
	b, _ := json.Marshal(pri["50"])
	if want := `["^eks-` + values.NodegroupName(cfg, "dask-gpu-worker") + `-[0-9a-f-]+$","^eks-` + values.NodegroupName(cfg, "dask-worker") + `-[0-9a-f-]+$"]`; string(b) != want ||
		!strings.HasPrefix(values.NodegroupName(cfg, "dask-worker"), "t1-dask-worker-") {
		t.Errorf("spot priority %s", b)
	}
	if get(t, vals, "image", "tag") != versions.Kubernetes["1.35"].ClusterAutoscalerImage {
		t.Errorf("autoscaler image does not follow Kubernetes 1.35")
	}
	tags := values.NodeTemplateTags(cfg.Daskhub.NodeGroups["dask-gpu-worker"])
	want := map[string]string{
		"k8s.io/cluster-autoscaler/node-template/label/heliocloud.org/node-purpose": "dask-gpu-worker",
		"k8s.io/cluster-autoscaler/node-template/taint/heliocloud.org/dedicated":    "dask-gpu-worker:NoSchedule",
		"k8s.io/cluster-autoscaler/node-template/resources/nvidia.com/gpu":          "1",
	}
	for k, v := range want {
		if tags[k] != v {
			t.Errorf("tag %s = %q, want %q", k, tags[k], v)
		}
	}
}

// Generating every chart's values is part of each synth; it should stay
// far below the synth's own seconds.
func BenchmarkAllValues(b *testing.B) {
	cfg, err := config.Parse("test.yaml", []byte(instance))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		values.Jupyterhub(cfg, signIn, testSubnets)
		values.DaskGateway(cfg)
		values.ClusterAutoscaler(cfg, "t1-daskhub", "us-east-1")
		values.NvidiaDevicePlugin(cfg)
	}
}

// Checking the hub's values against the chart schema, as the tests do.
func BenchmarkSchemaCheck(b *testing.B) {
	cfg, err := config.Parse("test.yaml", []byte(instance))
	if err != nil {
		b.Fatal(err)
	}
	vals := values.Jupyterhub(cfg, signIn, testSubnets)
	chartschema.Require(b)
	for b.Loop() {
		if err := chartschema.ValidateJupyterhub(vals); err != nil {
			b.Fatal(err)
		}
	}
}

// Node group names carry a digest of what CloudFormation replaces a group
// for, the AMI type among them. Groups of x86_64 AMI types keep the names
// they had before Graviton groups existed (a new name would replace every
// deployed group); a Graviton group's name covers its ARM AMI type.
func TestNodegroupNamesCoverTheAMIType(t *testing.T) {
	cfg := load(t, instance)
	for group, want := range map[string]string{
		"core": "t1-core-dcb181de", "user": "t1-user-b733810f",
		"gpu-user": "t1-gpu-user-f629119d", "dask-gpu-worker": "t1-dask-gpu-worker-ec82ba25",
	} {
		if got := values.NodegroupName(cfg, group); got != want {
			t.Errorf("%s: name %s, want %s as before Graviton groups", group, got, want)
		}
	}
	arm := load(t, instance+"  nodeGroups:\n    core: {instanceTypes: [t4g.large]}\n")
	if g := arm.Daskhub.NodeGroups["core"]; g.AMIType() != "AL2023_ARM_64_STANDARD" {
		t.Fatalf("a t4g.large group has AMI type %s", g.AMIType())
	}
	if name := values.NodegroupName(arm, "core"); name == "t1-core-dcb181de" || !strings.HasPrefix(name, "t1-core-") || len(name) != len("t1-core-")+8 {
		t.Errorf("Graviton core group named %s", name)
	}
}
