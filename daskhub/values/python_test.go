package values_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/heliocloud/heliocloud-go/daskhub/values"
	"github.com/heliocloud/heliocloud-go/internal/testtool"
)

// runPython runs script with input as JSON on stdin and decodes the JSON
// it prints.
func runPython(t *testing.T, script string, input, output any) {
	t.Helper()
	testtool.RunPython(t, script, input, output)
}

const withData = instance + "data: {enabled: true}\n"

// The hub's profile code, run as the hub runs it (over the profile list
// the chart makes from singleuser.profileList), for users of different
// groups.
func TestHubOffersProfilesByTeam(t *testing.T) {
	cfg := load(t, withData)
	vals := values.Jupyterhub(cfg, signIn, testSubnets)
	input := map[string]any{
		"src":      get(t, vals, "hub", "extraConfig", "20-profiles-by-team"),
		"profiles": get(t, vals, "singleuser", "profileList"),
		"cases":    map[string][]string{"nobody": {}, "ml": {"ml"}, "admin": {"admins"}},
	}
	const script = `
import json, sys, types
inp = json.load(sys.stdin)
c = types.SimpleNamespace(KubeSpawner=types.SimpleNamespace(profile_list=inp["profiles"]))
exec(inp["src"], {"c": c})
out = {}
for case, groups in inp["cases"].items():
    user = types.SimpleNamespace(groups=[types.SimpleNamespace(name=g) for g in groups])
    out[case] = c.KubeSpawner.profile_list(types.SimpleNamespace(user=user))
print(json.dumps(out))
`
	var got map[string][]map[string]any
	runPython(t, script, input, &got)
	slugs := func(ps []map[string]any) (out []string) {
		for _, p := range ps {
			out = append(out, p["slug"].(string))
		}
		return out
	}
	if s := slugs(got["nobody"]); len(s) != 3 || contains(s, "gpu-pytorch") {
		t.Errorf("a user in no team sees %v; gpu-pytorch is for ml only", s)
	}
	if s := slugs(got["ml"]); len(s) != 4 {
		t.Errorf("an ml member sees %v", s)
	}
	if s := slugs(got["admin"]); len(s) != 4 {
		t.Errorf("an admin sees %v", s)
	}
	if _, ok := got["nobody"][0]["profile_options"]; ok {
		t.Errorf("a user in no team is offered team data access")
	}
	choice := got["ml"][0]["profile_options"].(map[string]any)["team"].(map[string]any)["choices"].(map[string]any)["ml"].(map[string]any)
	if choice["kubespawner_override"].(map[string]any)["service_account"] != "heliocloud-team-ml" || choice["default"] != true {
		t.Errorf("ml member's team choice %v", choice)
	}
	// The override replaces singleuser.extraLabels, so it repeats the
	// user's label beside the team's.
	labels, _ := json.Marshal(choice["kubespawner_override"].(map[string]any)["extra_labels"])
	base, _ := json.Marshal(get(t, vals, "singleuser", "extraLabels"))
	if string(labels) != `{"heliocloud.org/team":"ml","heliocloud.org/user":"{unescaped_username}"}` || string(base) != `{"heliocloud.org/user":"{unescaped_username}"}` {
		t.Errorf("server labels %s, with the team %s", base, labels)
	}
}

// The gateway's options handler, run with a stand-in for dask-gateway's
// options module: sizes, placement, /dev/shm, GPUs and team accounts.
func TestGatewayOptionsHandler(t *testing.T) {
	cfg := load(t, withData)
	gw := values.DaskGateway(cfg)
	input := map[string]any{
		"src": get(t, gw, "gateway", "extraConfig", "10-options"),
		"cases": map[string]map[string]any{
			"cpu":        {"profile": "cpu", "worker_cores": 2, "worker_memory": 8, "team": "", "groups": []string{}},
			"gpu-ml":     {"profile": "gpu", "worker_cores": 1, "worker_memory": 1, "team": "", "groups": []string{"ml"}},
			"other-team": {"profile": "cpu", "worker_cores": 1, "worker_memory": 1, "team": "ml", "groups": []string{}},
		},
	}
	const script = `
import json, sys, types
inp = json.load(sys.stdin)
pkg = types.ModuleType("dask_gateway_server")
mod = types.ModuleType("dask_gateway_server.options")
class Options:
    def __init__(self, *fields, handler=None):
        self.fields, self.handler = fields, handler
def field(kind):
    return lambda name, *args, **kw: {"kind": kind, "name": name, "kw": kw}
mod.Options, mod.Integer, mod.Float, mod.Select, mod.String = Options, field("int"), field("float"), field("select"), field("string")
sys.modules["dask_gateway_server"], sys.modules["dask_gateway_server.options"] = pkg, mod
c = types.SimpleNamespace(Backend=types.SimpleNamespace())
exec(inp["src"], {"c": c})
opts = c.Backend.cluster_options
out = {"fields": [f["name"] for f in opts.fields]}
for case, o in inp["cases"].items():
    user = types.SimpleNamespace(name="u", groups=set(o["groups"]))
    options = types.SimpleNamespace(image="img:1", **{k: v for k, v in o.items() if k != "groups"})
    try:
        out[case] = opts.handler(options, user)
    except ValueError as e:
        out[case] = {"refused": str(e)}
print(json.dumps(out))
`
	var got map[string]any
	runPython(t, script, input, &got)
	cpu := got["cpu"].(map[string]any)
	// Every key the handler returns must be a field of the cluster
	// configuration, or the gateway refuses the options: KubeClusterConfig
	// (backends/kubernetes/backend.py@2025.4.0) and its base ClusterConfig
	// (backends/base.py@2025.4.0).
	fields := strings.Fields(`namespace image image_pull_policy image_pull_secrets worker_cores worker_cores_limit
		worker_memory worker_memory_limit scheduler_cores scheduler_cores_limit scheduler_memory scheduler_memory_limit
		worker_extra_container_config scheduler_extra_container_config worker_extra_pod_config scheduler_extra_pod_config
		worker_extra_pod_annotations scheduler_extra_pod_annotations worker_extra_pod_labels scheduler_extra_pod_labels
		scheduler_cmd worker_cmd environment worker_threads adaptive_period idle_timeout cluster_max_memory
		cluster_max_cores cluster_max_workers`)
	for _, c := range []string{"cpu", "gpu-ml"} {
		for k := range got[c].(map[string]any) {
			if !contains(fields, k) {
				t.Errorf("%s: the handler returns %s, which is no cluster configuration field at dask-gateway 2025.4.0", c, k)
			}
		}
	}
	if cpu["worker_cores"] != float64(2) || cpu["worker_memory"] != float64(8<<30) {
		t.Errorf("CPU worker size %v cores, %v bytes", cpu["worker_cores"], cpu["worker_memory"])
	}
	pod := cpu["worker_extra_pod_config"].(map[string]any)
	if pod["nodeSelector"].(map[string]any)["heliocloud.org/node-purpose"] != "dask-worker" || pod["serviceAccountName"] != "heliocloud-user" {
		t.Errorf("CPU worker pod %v", pod)
	}
	if shm := pod["volumes"].([]any)[0].(map[string]any)["emptyDir"].(map[string]any)["sizeLimit"]; shm != "2048Mi" {
		t.Errorf("/dev/shm of an 8 GiB worker is %v, want a quarter (2048Mi)", shm)
	}
	sched := cpu["scheduler_extra_pod_config"].(map[string]any)
	if sched["nodeSelector"].(map[string]any)["heliocloud.org/node-purpose"] != "user" {
		t.Errorf("scheduler placed on %v, want the on-demand user group", sched["nodeSelector"])
	}
	gpu := got["gpu-ml"].(map[string]any)
	if gpu["worker_cores"] != float64(3) || gpu["worker_extra_container_config"].(map[string]any)["resources"].(map[string]any)["limits"].(map[string]any)["nvidia.com/gpu"] != "1" {
		t.Errorf("GPU worker %v", gpu)
	}
	if acct := gpu["worker_extra_pod_config"].(map[string]any)["serviceAccountName"]; acct != "heliocloud-team-ml" {
		t.Errorf("an ml member's workers run as %v, want the team's account", acct)
	}
	// Pods carry who and which team they spend for (a user's own
	// workers, without a team, carry no team).
	for c, want := range map[string]string{"cpu": `{"heliocloud.org/user":"u"}`, "gpu-ml": `{"heliocloud.org/team":"ml","heliocloud.org/user":"u"}`} {
		for _, key := range []string{"worker_extra_pod_labels", "scheduler_extra_pod_labels"} {
			if got, _ := json.Marshal(got[c].(map[string]any)[key]); string(got) != want {
				t.Errorf("%s: %s %s, want %s", c, key, got, want)
			}
		}
	}
	if _, ok := got["other-team"].(map[string]any)["refused"]; !ok {
		t.Errorf("a user asking for a team not theirs was not refused: %v", got["other-team"])
	}
	if f := got["fields"].([]any); len(f) != 5 {
		t.Errorf("options %v", f)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// KubeSpawner 7.0.0 runs every value of KubeSpawner.environment (the
// chart's singleuser.extraEnv, files/hub/jupyterhub_config.py@4.4.0)
// through str.format with the user's properties (_expand_env and
// _expand_user_properties in kubespawner/spawner.py@7.0.0); any other
// {name} raises KeyError and the spawn fails. Python's own str.format,
// with the names that version provides, must turn each value we write
// into what the server's programs expect; the raw values must not pass.
func TestServerEnvSurvivesKubeSpawnerExpansion(t *testing.T) {
	cfg := load(t, instance)
	hub := values.Jupyterhub(cfg, signIn, testSubnets)
	written := map[string]any{}
	for k, v := range get(t, hub, "singleuser", "extraEnv").(map[string]any) {
		written[k] = v
	}
	// Labels go through the same expansion (_expand_all on extra_labels).
	written["label:"+values.UserLabel] = get(t, hub, "singleuser", "extraLabels", values.UserLabel)
	input := map[string]any{
		"written": written,
		"raw":     values.ServerEnv(cfg),
	}
	const script = `
import json, sys
inp = json.load(sys.stdin)
ns = {k: "x" for k in ("userid unescaped_username unescaped_servername hubnamespace username servername "
      "user_server safe_username safe_servername safe_user_server escaped_username escaped_servername "
      "escaped_user_server pod_name pvc_name namespace").split()}
def expand(env):
    out = {}
    for k, v in env.items():
        try:
            out[k] = v.format(**ns)
        except (KeyError, IndexError, ValueError) as e:
            out[k] = "error: %r" % e
    return out
print(json.dumps({"written": expand(inp["written"]), "raw": expand(inp["raw"])}))
`
	var got map[string]map[string]string
	runPython(t, script, input, &got)
	if got["written"]["label:"+values.UserLabel] != "x" {
		t.Errorf("the user label expands to %q, want the username", got["written"]["label:"+values.UserLabel])
	}
	want := values.ServerEnv(cfg)
	for k, v := range want {
		if got["written"][k] != v {
			t.Errorf("%s reaches the server as %q, want %q", k, got["written"][k], v)
		}
	}
	if want["DASK_GATEWAY__CLUSTER__OPTIONS__IMAGE"] != "{JUPYTER_IMAGE_SPEC}" || want["DASK_DISTRIBUTED__DASHBOARD__LINK"] != "{JUPYTERHUB_SERVICE_PREFIX}proxy/{port}/status" {
		t.Errorf("Dask's placeholders changed: %v", want)
	}
	// The check must be able to fail: unescaped, the image option breaks.
	if !strings.HasPrefix(got["raw"]["DASK_GATEWAY__CLUSTER__OPTIONS__IMAGE"], "error: KeyError") {
		t.Errorf("the unescaped value expanded without error: %q", got["raw"]["DASK_GATEWAY__CLUSTER__OPTIONS__IMAGE"])
	}
}

// The hub's refresh hook, run with stand-ins shaped like what it calls at
// the pinned versions: OAuthenticator 17.4.0's
// build_refresh_token_request_params, get_token_info(handler, params)
// (which raises tornado's HTTPClientError for an error status through
// fetch) and _token_to_auth_model (oauthenticator/oauth2.py); JupyterHub
// 5.5.0's user.spawners, spawner.ready and user.stop(name)
// (jupyterhub/user.py, spawner.py); KubeSpawner's service_account; and
// for the Dask clusters KubeSpawner 7.0.0's kubespawner.clients
// load_config and shared_client(ClientType), kubernetes_asyncio's
// CustomObjectsApi list_namespaced_custom_object(group, version,
// namespace, plural) and delete_namespaced_custom_object(..., name)
// (kubernetes_asyncio/client/api/custom_objects_api.py at 35.0.1; the hub
// image pins 36.1.0, images/hub/requirements.txt of the chart at 4.4.0,
// which is not mirrored here), and the DaskCluster object dask-gateway
// 2025.4.0 makes: spec.username and spec.config, the cluster config's
// to_dict, which holds worker_extra_pod_labels (make_cluster_object in
// backends/kubernetes/backend.py, ClusterConfig.to_dict in
// backends/base.py).
func TestHubRefreshAsksCognito(t *testing.T) {
	cfg := load(t, strings.Replace(withData, "teams: {ml: {}}", "teams: {ml: {}, astro: {}}", 1))
	vals := values.Jupyterhub(cfg, signIn, testSubnets)
	if get(t, vals, "hub", "config", "Authenticator", "enable_auth_state") != true || get(t, vals, "hub", "config", "Authenticator", "refresh_pre_spawn") != true ||
		get(t, vals, "hub", "config", "Authenticator", "auth_refresh_age") != values.AuthRefreshSeconds {
		t.Errorf("authenticator settings %v: refresh needs auth state, a refresh age and refresh before spawn", get(t, vals, "hub", "config", "Authenticator"))
	}
	servers := map[string]string{"": "heliocloud-team-ml", "astro-work": "heliocloud-team-astro", "plain": "heliocloud-user"}
	input := map[string]any{
		"src":     get(t, vals, "hub", "extraConfig", "30-refresh-from-cognito"),
		"servers": servers,
		"cases": map[string]map[string]any{
			"member of ml only":      {"refresh": "rt-1", "response": map[string]any{"access_token": "a", "id_token": "i"}, "groups": []string{"ml"}},
			"disabled":               {"refresh": "rt-1", "status": 400},
			"cognito down":           {"refresh": "rt-1", "status": 503},
			"no refresh token":       {"refresh": nil},
			"new refresh token kept": {"refresh": "rt-1", "response": map[string]any{"access_token": "a", "id_token": "i", "refresh_token": "rt-2"}, "groups": []string{"ml", "astro"}},
			"kubernetes down":        {"refresh": "rt-1", "status": 400, "k8s_down": true},
		},
		// sub-1's clusters with its user account, ml's and astro's; sub-2's with astro's.
		"clusters": []map[string]any{
			{"name": "c-plain", "user": "sub-1", "labels": map[string]string{values.UserLabel: "sub-1"}},
			{"name": "c-ml", "user": "sub-1", "labels": map[string]string{values.UserLabel: "sub-1", values.TeamLabel: "ml"}},
			{"name": "c-astro", "user": "sub-1", "labels": map[string]string{values.UserLabel: "sub-1", values.TeamLabel: "astro"}},
			{"name": "c-other", "user": "sub-2", "labels": map[string]string{values.UserLabel: "sub-2", values.TeamLabel: "astro"}},
		},
		"where": []string{"gateway.dask.org", values.DaskClusterVersion, cfg.Daskhub.Namespace, "daskclusters"},
	}
	const script = `
import asyncio, json, sys, types
inp = json.load(sys.stdin)

class HTTPClientError(Exception):
    def __init__(self, code):
        self.code = code
class HTTPError(Exception):
    def __init__(self, status_code):
        self.status_code = status_code
for name, attrs in {"tornado": {}, "tornado.httpclient": {"HTTPClientError": HTTPClientError}, "tornado.web": {"HTTPError": HTTPError}}.items():
    m = types.ModuleType(name)
    m.__dict__.update(attrs)
    sys.modules[name] = m

k8s = {"configured": False, "case": None, "deleted": [], "bad_call": []}
class CustomObjectsApi:
    async def list_namespaced_custom_object(self, group, version, namespace, plural):
        if [group, version, namespace, plural] != inp["where"]:
            k8s["bad_call"].append([group, version, namespace, plural])
        if k8s["case"].get("k8s_down"):
            raise OSError("connection refused")
        return {"items": [{"metadata": {"name": c["name"]}, "spec": {"username": c["user"], "options": {}, "config": {"worker_extra_pod_labels": c["labels"], "image": "x"}}}
                          for c in inp["clusters"]]}
    async def delete_namespaced_custom_object(self, group, version, namespace, plural, name):
        if [group, version, namespace, plural] != inp["where"]:
            k8s["bad_call"].append([group, version, namespace, plural])
        k8s["deleted"].append(name)
def load_config(host=None, ssl_ca_cert=None, verify_ssl=None):
    k8s["configured"] = True
def shared_client(ClientType, *args, **kwargs):
    if not k8s["configured"]:
        raise RuntimeError("shared_client before load_config")
    return {"CustomObjectsApi": CustomObjectsApi}[ClientType]()
for name, attrs in {"kubespawner": {}, "kubespawner.clients": {"load_config": load_config, "shared_client": shared_client}}.items():
    m = types.ModuleType(name)
    m.__dict__.update(attrs)
    sys.modules[name] = m

c = types.SimpleNamespace(GenericOAuthenticator=types.SimpleNamespace())
exec(inp["src"], {"c": c})
hook = c.GenericOAuthenticator.refresh_user_hook

async def run(case):
    seen = {"stopped": [], "token_info": None, "params": None, "errors": 0}
    k8s.update(case=case, deleted=[])
    class Authenticator:
        log = types.SimpleNamespace(warning=lambda *a: None, exception=lambda *a: seen.__setitem__("errors", seen["errors"] + 1))
        def build_refresh_token_request_params(self, token):
            return {"grant_type": "refresh_token", "refresh_token": token}
        async def get_token_info(self, handler, params):
            seen["params"] = params
            if case.get("status"):
                raise HTTPClientError(case["status"])
            return dict(case["response"])
        async def _token_to_auth_model(self, token_info):
            seen["token_info"] = token_info
            return {"name": "sub-1", "groups": case["groups"]}
    class User:
        name = "sub-1"
        spawners = {n: types.SimpleNamespace(ready=True, service_account=a) for n, a in inp["servers"].items()}
        async def stop(self, name):
            seen["stopped"].append(name)
    state = {"refresh_token": case["refresh"]} if case["refresh"] else {}
    try:
        out = await hook(Authenticator(), User(), state)
        result = out if out is False else {"groups": out["groups"]}
    except HTTPClientError as e:
        result = "raised %d" % e.code
    await asyncio.sleep(0)
    seen["stopped"].sort()
    return {"result": result, "deleted": sorted(k8s["deleted"]), "bad_call": k8s["bad_call"], **seen}

print(json.dumps({k: asyncio.run(run(v)) for k, v in inp["cases"].items()}))
`
	var got map[string]struct {
		Result    any
		Stopped   []string
		TokenInfo map[string]any `json:"token_info"`
		Params    map[string]any
		Deleted   []string
		BadCall   [][]string `json:"bad_call"`
		Errors    int
	}
	runPython(t, script, input, &got)

	// Dask clusters follow the servers: all of a refused user's, those of a
	// team they left; never another user's; a Kubernetes failure is logged
	// and changes nothing else.
	for name, want := range map[string]string{
		"member of ml only": "[c-astro]", "disabled": "[c-astro c-ml c-plain]", "cognito down": "[]",
		"no refresh token": "[]", "new refresh token kept": "[]", "kubernetes down": "[]",
	} {
		g := got[name]
		if fmt.Sprint(g.Deleted) != want || len(g.BadCall) > 0 {
			t.Errorf("%s: Dask clusters deleted %v (calls off target: %v), want %s", name, g.Deleted, g.BadCall, want)
		}
	}
	if k := got["kubernetes down"]; k.Result != false || k.Errors != 1 || fmt.Sprint(k.Stopped) != "[ astro-work plain]" {
		t.Errorf("Kubernetes unreachable: result %v, errors logged %d, stopped %v; want the refusal unchanged and one error logged", k.Result, k.Errors, k.Stopped)
	}

	ml := got["member of ml only"]
	if fmt.Sprint(ml.Result) != "map[groups:[ml]]" || fmt.Sprint(ml.Stopped) != "[astro-work]" {
		t.Errorf("a user left only in ml: result %v, stopped %v; want the new groups and the astro server stopped", ml.Result, ml.Stopped)
	}
	if ml.Params["refresh_token"] != "rt-1" || ml.TokenInfo["refresh_token"] != "rt-1" {
		t.Errorf("refresh sent %v and kept %v; want the stored refresh token sent and kept (Cognito returns none)", ml.Params, ml.TokenInfo)
	}
	if kept := got["new refresh token kept"]; kept.TokenInfo["refresh_token"] != "rt-2" || len(kept.Stopped) != 0 {
		t.Errorf("a member of both teams: token %v, stopped %v", kept.TokenInfo["refresh_token"], kept.Stopped)
	}
	if d := got["disabled"]; d.Result != false || fmt.Sprint(d.Stopped) != "[ astro-work plain]" {
		t.Errorf("a user Cognito refuses: result %v, stopped %v; want sign-in required and every server stopped", d.Result, d.Stopped)
	}
	if d := got["cognito down"]; d.Result != "raised 503" || len(d.Stopped) != 0 {
		t.Errorf("Cognito unreachable: result %v, stopped %v; want the error raised and nothing stopped", d.Result, d.Stopped)
	}
	if n := got["no refresh token"]; n.Result != false || len(n.Stopped) != 0 || n.Params != nil {
		t.Errorf("no refresh token: result %v, stopped %v; want sign-in required, servers kept", n.Result, n.Stopped)
	}
}
