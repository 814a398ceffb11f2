package stacks

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"

	"github.com/heliocloud/heliocloud-go/daskhub/values"
	"github.com/heliocloud/heliocloud-go/internal/testtool"
)

// gatewayHarness runs the gateway's extraConfig as dask-gateway-server
// 2025.4.0 runs it (the chart's templates/gateway/configmap.yaml execs it
// after setting backend_class), with stand-ins for the two modules it
// uses, shaped like them at the versions the gateway image installs:
// KubeBackend.start_cluster creates the DaskCluster object and returns
// "<namespace>.<name>" (backends/kubernetes/backend.py@2025.4.0);
// CustomObjectsApi.get/delete_namespaced_custom_object(group, version,
// namespace, plural, name) and NetworkingV1Api(api_client)
// .create_namespaced_network_policy(namespace, body) are those of
// kubernetes_asyncio 32.3.0 (Dockerfile.requirements.txt@2025.4.0;
// kubernetes_asyncio/client/api/*.py@32.3.0).
const gatewayHarness = `
import asyncio, json, sys, types
inp = json.load(sys.stdin)
calls = []

def module(name, **attrs):
    m = types.ModuleType(name)
    m.__dict__.update(attrs)
    sys.modules[name] = m
    return m

class PublicException(Exception):
    pass

class CustomObjectsApi:
    async def get_namespaced_custom_object(self, group, version, namespace, plural, name):
        calls.append(["get", group, version, namespace, plural, name])
        return {"apiVersion": group + "/" + version, "kind": "DaskCluster",
                "metadata": {"name": name, "namespace": namespace, "uid": "uid-" + name}}
    async def delete_namespaced_custom_object(self, group, version, namespace, plural, name):
        calls.append(["delete", group, version, namespace, plural, name])

class KubeBackend:
    crd_version = "v1alpha1"
    def __init__(self):
        self.api_client = "the backend's api client"
        self.custom_client = CustomObjectsApi()
        self.log = types.SimpleNamespace(exception=lambda *a: calls.append(["log", a[0] % a[1:]]))
    async def start_cluster(self, user, cluster_options):
        calls.append(["create", cluster_options["name"]])
        return "daskhub." + cluster_options["name"]

class NetworkingV1Api:
    def __init__(self, api_client=None):
        self.api_client = api_client
    async def create_namespaced_network_policy(self, namespace, body):
        if inp["fail"]:
            raise RuntimeError("networkpolicies is forbidden")
        calls.append(["policy", namespace, self.api_client, body])

module("dask_gateway_server")
module("dask_gateway_server.backends")
module("dask_gateway_server.backends.base", PublicException=PublicException)
module("dask_gateway_server.backends.kubernetes", KubeBackend=KubeBackend)
module("kubernetes_asyncio")
module("kubernetes_asyncio.client", NetworkingV1Api=NetworkingV1Api)

class Config:  # traitlets' Config makes a section on first use
    def __getattr__(self, name):
        setattr(self, name, types.SimpleNamespace())
        return getattr(self, name)

c = Config()
c.DaskGateway.backend_class = "dask_gateway_server.backends.kubernetes.KubeBackend"
exec(inp["src"], {"c": c})
cls = c.DaskGateway.backend_class
out = {"subclass": isinstance(cls, type) and issubclass(cls, KubeBackend), "started": [], "error": None}
for name in inp["clusters"]:
    try:
        out["started"].append(asyncio.run(cls().start_cluster(types.SimpleNamespace(name="u"), {"name": name})))
    except Exception as e:
        out["error"] = [type(e).__name__, str(e)]
out["calls"] = calls
print(json.dumps(out))
`

type harnessResult struct {
	Subclass bool
	Started  []string
	Error    []string
	Calls    [][]any
}

// runGateway starts clusters through the gateway's configured backend.
func runGateway(t *testing.T, gateway map[string]any, fail bool, clusters ...string) harnessResult {
	t.Helper()
	var src strings.Builder
	extra := gateway["gateway"].(map[string]any)["extraConfig"].(map[string]any)
	keys := make([]string, 0, len(extra))
	for k := range extra {
		keys = append(keys, k)
	}
	slices.Sort(keys) // the chart's order (sortAlpha)
	for _, k := range keys {
		if k == "10-options" {
			continue // needs dask_gateway_server.options; tested in daskhub/values
		}
		src.WriteString(extra[k].(string) + "\n")
	}
	var out harnessResult
	testtool.RunPython(t, gatewayHarness, map[string]any{"src": src.String(), "clusters": clusters, "fail": fail}, &out)
	return out
}

// Users' Dask clusters are kept apart by the network: each cluster's pods
// reach each other, the gateway reaches them, and no other pod does. The
// policies are evaluated with Kubernetes NetworkPolicy semantics (a pod
// selected by a policy of a direction admits only what some rule of those
// policies allows; a connection needs the source's egress and the
// destination's ingress), over pods labelled as Dask Gateway 2025.4.0
// labels them.
func daskClusterIsolation(t *testing.T, tpl assertions.Template) {
	gateway := chartValues(t, tpl, values.DaskGatewayRelease)
	run := runGateway(t, gateway, false, "aaaa", "bbbb")
	if !run.Subclass || run.Error != nil || !slices.Equal(run.Started, []string{"daskhub.aaaa", "daskhub.bbbb"}) {
		t.Fatalf("the configured backend did not start clusters: %+v", run)
	}
	objects := dhManifests(t, tpl)
	policies := []netpol{{ns: "daskhub", spec: objects["NetworkPolicy/dask-clusters"]["spec"].(map[string]any)}}
	for _, call := range run.Calls {
		if call[0] != "policy" {
			continue
		}
		body := call[3].(map[string]any)
		meta := body["metadata"].(map[string]any)
		name := strings.TrimPrefix(meta["name"].(string), "dask-cluster-")
		owner := toJSON(t, meta["ownerReferences"])
		if want := `[{"apiVersion":"gateway.dask.org/v1alpha1","kind":"DaskCluster","name":"` + name + `","uid":"uid-` + name + `"}]`; owner != want {
			t.Errorf("policy of %s owned by %s, want %s (deleted with its cluster)", name, owner, want)
		}
		if call[1] != "daskhub" || call[2] != "the backend's api client" {
			t.Errorf("policy written to %v with %v, want the cluster's namespace with the gateway's client", call[1], call[2])
		}
		policies = append(policies, netpol{ns: call[1].(string), spec: body["spec"].(map[string]any)})
	}
	if len(policies) != 3 {
		t.Fatalf("%d policies for two clusters", len(policies)-1)
	}

	dask := func(cluster, component, ip string) endpoint {
		return endpoint{ns: "daskhub", ip: ip, labels: map[string]string{
			"app.kubernetes.io/name": "dask-gateway", "app.kubernetes.io/version": "2025.4.0",
			"gateway.dask.org/instance": "dask-gateway", values.ClusterLabel: cluster, "app.kubernetes.io/component": component}}
	}
	gw := func(component, ip string) endpoint {
		return endpoint{ns: "daskhub", ip: ip, labels: map[string]string{"app.kubernetes.io/name": "dask-gateway",
			"app.kubernetes.io/instance": "dask-gateway", "gateway.dask.org/instance": "dask-gateway", "app.kubernetes.io/component": component}}
	}
	var (
		schedA, workerA, workerA2 = dask("aaaa", "dask-scheduler", "10.0.1.10"), dask("aaaa", "dask-worker", "10.0.1.11"), dask("aaaa", "dask-worker", "10.0.2.12")
		schedB, workerB           = dask("bbbb", "dask-scheduler", "10.0.1.20"), dask("bbbb", "dask-worker", "10.0.2.21")
		api, traefik, controller  = gw("gateway", "10.0.1.30"), gw("traefik", "10.0.1.31"), gw("controller", "10.0.1.32")
		notebook                  = endpoint{ns: "daskhub", ip: "10.0.2.40", labels: map[string]string{"app": "jupyterhub", "component": "singleuser-server"}}
		dns                       = endpoint{ns: "kube-system", ip: "10.0.1.50", labels: map[string]string{"k8s-app": "kube-dns"}}
		metadata, mountTarget     = endpoint{ip: "169.254.169.254"}, endpoint{ip: "10.0.3.5"}
		internet                  = endpoint{ip: "52.216.1.1"}
	)
	cases := []struct {
		what     string
		src, dst endpoint
		port     int
		proto    string
		want     bool
	}{
		{"a worker to its scheduler", workerA, schedA, 8786, "TCP", true},
		{"a scheduler to its worker", schedA, workerA, 40000, "TCP", true},
		{"a worker to a worker of its cluster", workerA, workerA2, 40000, "TCP", true},
		{"the gateway's proxy to a scheduler", traefik, schedA, 8786, "TCP", true},
		{"the gateway's API to a scheduler's API", api, schedA, 8788, "TCP", true},
		{"a scheduler's heartbeat to the gateway's API", schedA, api, 8000, "TCP", true},
		{"a worker to cluster DNS", workerA, dns, 53, "UDP", true},
		{"a worker to the internet", workerA, internet, 443, "TCP", true},
		{"another user's worker to a scheduler", workerB, schedA, 8786, "TCP", false},
		{"another user's scheduler to a worker", schedB, workerA, 40000, "TCP", false},
		{"a worker to another user's scheduler", workerA, schedB, 8786, "TCP", false},
		{"a worker to another user's worker", workerA, workerB, 40000, "TCP", false},
		{"a notebook straight to a scheduler", notebook, schedA, 8786, "TCP", false},
		{"a notebook straight to a worker", notebook, workerA, 40000, "TCP", false},
		{"the gateway's controller to a scheduler", controller, schedA, 8786, "TCP", false},
		{"a worker to the node's credentials", workerA, metadata, 80, "TCP", false},
		{"a worker to an EFS mount target", workerA, mountTarget, 2049, "TCP", false},
	}
	for _, c := range cases {
		if got := allowed(policies, c.src, c.dst, c.port, c.proto); got != c.want {
			t.Errorf("%s: allowed %v, want %v", c.what, got, c.want)
		}
	}

	// The evaluation can fail: the static policy as it was before clusters
	// had their own (ingress from and egress to every Dask Gateway pod) admits another
	// user's worker, and without the clusters' policies a cluster is cut
	// off from itself rather than open.
	loose := map[string]any{}
	for k, v := range policies[0].spec {
		loose[k] = v
	}
	everyDaskPod := []any{map[string]any{"podSelector": map[string]any{"matchLabels": map[string]any{"app.kubernetes.io/name": "dask-gateway"}}}}
	loose["ingress"] = []any{map[string]any{"from": everyDaskPod}}
	loose["egress"] = append([]any{map[string]any{"to": everyDaskPod}}, loose["egress"].([]any)...)
	if !allowed([]netpol{{ns: "daskhub", spec: loose}}, workerB, schedA, 8786, "TCP") {
		t.Errorf("the evaluation does not notice a static policy admitting every Dask pod")
	}
	if allowed(policies[:1], workerA, schedA, 8786, "TCP") {
		t.Errorf("without its own policy a cluster's pods reach each other: the static policy is open")
	}

	// A cluster whose policy cannot be written is deleted, and the user is
	// told why (PublicException: routes.py answers 422 with its text).
	failed := runGateway(t, gateway, true, "cccc")
	if len(failed.Error) != 2 || failed.Error[0] != "PublicException" || !strings.Contains(failed.Error[1], "isolated") {
		t.Errorf("a cluster without its policy ended with %v, want a PublicException", failed.Error)
	}
	if !slices.ContainsFunc(failed.Calls, func(c []any) bool {
		return fmt.Sprint(c) == "[delete gateway.dask.org v1alpha1 daskhub daskclusters cccc]"
	}) {
		t.Errorf("a cluster without its policy was not deleted: %v", failed.Calls)
	}

	// The gateway may write policies, through the chart's own service
	// account for the API (api-<fullname>, templates/gateway/rbac.yaml and
	// _helpers.tpl@2025.4.0; fullname is the release name when it holds the
	// chart's name), and do nothing else with them.
	role := toJSON(t, objects["Role/dask-gateway-cluster-policies"]["rules"])
	if role != `[{"apiGroups":["networking.k8s.io"],"resources":["networkpolicies"],"verbs":["create"]}]` {
		t.Errorf("gateway's policy role %s", role)
	}
	subjects := toJSON(t, objects["RoleBinding/dask-gateway-cluster-policies"]["subjects"])
	if want := `[{"kind":"ServiceAccount","name":"api-dask-gateway","namespace":"daskhub"}]`; subjects != want || !strings.Contains(values.DaskGatewayRelease, "dask-gateway") {
		t.Errorf("gateway's policy role bound to %s, want %s", subjects, want)
	}

	// The hub may list and delete DaskCluster objects in its namespace, to
	// stop a revoked user's clusters (values.hubRefreshPy), through its own
	// service account (hub.serviceAccount.name in the values), and nothing
	// more of the gateway's.
	if r := toJSON(t, objects["Role/hub-dask-clusters"]["rules"]); r != `[{"apiGroups":["gateway.dask.org"],"resources":["daskclusters"],"verbs":["list","delete"]}]` {
		t.Errorf("hub's Dask cluster role %s", r)
	}
	hubSubjects := toJSON(t, objects["RoleBinding/hub-dask-clusters"]["subjects"])
	if want := `[{"kind":"ServiceAccount","name":"` + values.HubServiceAccount + `","namespace":"daskhub"}]`; hubSubjects != want {
		t.Errorf("hub's Dask cluster role bound to %s, want %s", hubSubjects, want)
	}
}

// netpol is a NetworkPolicy's namespace and spec.
type netpol struct {
	ns   string
	spec map[string]any
}

// endpoint is a pod (ns set) or an address outside the cluster.
type endpoint struct {
	ns     string
	ip     string
	labels map[string]string
}

// allowed says whether src may open a connection to dst's port.
func allowed(policies []netpol, src, dst endpoint, port int, proto string) bool {
	return src.ns == "" || admits(policies, "Egress", src, dst, port, proto) &&
		(dst.ns == "" || admits(policies, "Ingress", dst, src, port, proto))
}

// admits applies the policies of one direction that select pod: with none,
// everything passes; otherwise some rule of them must match peer and port.
func admits(policies []netpol, direction string, pod, peer endpoint, port int, proto string) bool {
	isolated := false
	key, peersKey := "ingress", "from"
	if direction == "Egress" {
		key, peersKey = "egress", "to"
	}
	for _, p := range policies {
		if p.ns != pod.ns || !selects(p.spec["podSelector"], pod.labels) || !slices.Contains(p.spec["policyTypes"].([]any), any(direction)) {
			continue
		}
		isolated = true
		rules, _ := p.spec[key].([]any)
		for _, r := range rules {
			rule := r.(map[string]any)
			if portMatches(rule["ports"], port, proto) && peerMatches(rule[peersKey], p.ns, peer) {
				return true
			}
		}
	}
	return !isolated
}

func portMatches(ports any, port int, proto string) bool {
	list, _ := ports.([]any)
	if len(list) == 0 {
		return true
	}
	for _, p := range list {
		pm := p.(map[string]any)
		want, _ := pm["protocol"].(string)
		if want == "" {
			want = "TCP"
		}
		if fmt.Sprint(pm["port"]) == fmt.Sprint(port) && want == proto {
			return true
		}
	}
	return false
}

func peerMatches(peers any, policyNS string, e endpoint) bool {
	list, _ := peers.([]any)
	if peers == nil {
		return true // no from/to: every peer
	}
	for _, p := range list {
		peer := p.(map[string]any)
		if block, ok := peer["ipBlock"].(map[string]any); ok {
			if inBlock(block, e.ip) {
				return true
			}
			continue
		}
		if e.ns == "" {
			continue // pod and namespace selectors name pods only
		}
		nsOK := e.ns == policyNS
		if sel, ok := peer["namespaceSelector"]; ok {
			nsOK = selects(sel, map[string]string{"kubernetes.io/metadata.name": e.ns})
		}
		podOK := true
		if sel, ok := peer["podSelector"]; ok {
			podOK = selects(sel, e.labels)
		}
		if nsOK && podOK {
			return true
		}
	}
	return false
}

func inBlock(block map[string]any, ip string) bool {
	addr := netip.MustParseAddr(ip)
	if !netip.MustParsePrefix(block["cidr"].(string)).Contains(addr) {
		return false
	}
	for _, ex := range block["except"].([]any) {
		if netip.MustParsePrefix(ex.(string)).Contains(addr) {
			return false
		}
	}
	return true
}

// selects applies a label selector (matchLabels and matchExpressions).
func selects(selector any, labels map[string]string) bool {
	sel, _ := selector.(map[string]any)
	if ml, ok := sel["matchLabels"].(map[string]any); ok {
		for k, v := range ml {
			if got, ok := labels[k]; !ok || got != v {
				return false
			}
		}
	}
	exprs, _ := sel["matchExpressions"].([]any)
	for _, e := range exprs {
		expr := e.(map[string]any)
		got, has := labels[expr["key"].(string)]
		vals, _ := expr["values"].([]any)
		in := has && slices.Contains(vals, any(got))
		switch expr["operator"] {
		case "In":
			if !in {
				return false
			}
		case "NotIn":
			if in {
				return false
			}
		case "Exists":
			if !has {
				return false
			}
		case "DoesNotExist":
			if has {
				return false
			}
		default:
			panic(fmt.Sprintf("operator %v", expr["operator"]))
		}
	}
	return true
}
