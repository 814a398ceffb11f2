package values_test

// The rules that the software we configure imposes on what we generate,
// each at the version daskhub/versions pins and each citing where it was
// read (file@tag of the upstream repository). They are written from
// reading those sources; none of the upstream code is copied here. When a
// version in the table changes, re-read the cited files at the new tag.

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/heliocloud/heliocloud-go/config"
	"github.com/heliocloud/heliocloud-go/daskhub/values"
	"github.com/heliocloud/heliocloud-go/daskhub/versions"
)

const noDomain = "name: t2\nauth: {enabled: true}\ndaskhub:\n  enabled: true\n  endpoint: {access: private}\n"

// instances covers every domain / no-domain combination the values branch on.
var instances = map[string]string{
	"domain with zone": strings.Replace(instance, "  profiles:", "    hostedZoneId: Z0123456789ABCDEFGHIJ\n  profiles:", 1),
	"domain":           instance,
	"no domain":        noDomain,
}

// atVersion loads an instance on another Kubernetes minor version.
func atVersion(t *testing.T, minor string) *config.Config {
	return load(t, instance+"  kubernetesVersion: \""+minor+"\"\n")
}

func TestVersionTable(t *testing.T) {
	minors := versions.Minors()
	if strings.Join(minors, ",") != "1.34,1.35,1.36" {
		t.Errorf("supported minors %v, want 1.34-1.36", minors)
	}
	for _, m := range minors {
		r := versions.Kubernetes[m]
		// Users should run the autoscaler release of their cluster's minor
		// (cluster-autoscaler/README.md@cluster-autoscaler-1.35.2), and kube-scheduler
		// must not be newer than, nor more than one minor older than, the
		// API server (Kubernetes version-skew policy).
		for what, tag := range map[string]string{"autoscaler image": r.ClusterAutoscalerImage, "kube-scheduler image": r.KubeSchedulerImage} {
			if versions.Minor(tag) != m {
				t.Errorf("%s: %s %s is not of Kubernetes %s", m, what, tag, m)
			}
		}
		// Chart 9.54.0 is the first whose ClusterRole grants get/list/watch
		// on resourceslices, deviceclasses and resourceclaims
		// (charts/cluster-autoscaler/templates/clusterrole.yaml
		// @cluster-autoscaler-chart-9.54.0); from 1.35 the image locks
		// --enable-dynamic-resource-allocation to true and starts those
		// informers (config/flags/flags.go@cluster-autoscaler-1.35.2 and
		// @cluster-autoscaler-1.36.1), so an older chart's autoscaler waits
		// for caches that never fill and never adds a node.
		if versions.Compare(m, "1.35") >= 0 && versions.Compare(r.Charts.ClusterAutoscaler, "9.54.0") < 0 {
			t.Errorf("%s: cluster-autoscaler chart %s lacks the DRA permissions of the %s image", m, r.Charts.ClusterAutoscaler, r.ClusterAutoscalerImage)
		}
		// The chart's image tag must follow the minor: the instance's
		// values set it from the same row.
		vals := values.ClusterAutoscaler(atVersion(t, m), "t1-daskhub", "us-east-1")
		if get(t, vals, "image", "tag") != r.ClusterAutoscalerImage {
			t.Errorf("%s: autoscaler image %v", m, get(t, vals, "image", "tag"))
		}
		hub := values.Jupyterhub(atVersion(t, m), signIn, testSubnets)
		if get(t, hub, "scheduling", "userScheduler", "image", "tag") != r.KubeSchedulerImage {
			t.Errorf("%s: user-scheduler image %v, want %s", m, get(t, hub, "scheduling", "userScheduler", "image", "tag"), r.KubeSchedulerImage)
		}
		if r.Charts.Jupyterhub == "4.4.0" && r.Hub != (versions.Hub{JupyterHub: "5.5.0", OAuthenticator: "17.4.0", KubeSpawner: "7.0.0"}) {
			// images/hub/requirements.txt@4.4.0: jupyterhub==5.5.0,
			// oauthenticator==17.4.0, jupyterhub-kubespawner==7.0.0.
			t.Errorf("%s: hub image of chart 4.4.0 recorded as %+v", m, r.Hub)
		}
	}
	if versions.Compare("9.59.0", "9.54.0") <= 0 || versions.Compare("v1.35.2", "1.35") <= 0 || versions.Compare("1.36", "1.36.0") != 0 {
		t.Errorf("Compare orders versions wrongly")
	}
}

// A config that pins an autoscaler chart without the DRA permissions on a
// cluster that needs them is refused, naming the key.
func TestConfigRefusesAutoscalerChartWithoutDRA(t *testing.T) {
	_, err := config.Parse("x.yaml", []byte(instance+"  kubernetesVersion: \"1.36\"\n  charts: {clusterAutoscaler: 9.50.1}\n"))
	if err == nil || !strings.Contains(err.Error(), "daskhub.charts.clusterAutoscaler") || !strings.Contains(err.Error(), "9.54.0") {
		t.Errorf("want chart 9.50.1 refused on 1.36, got %v", err)
	}
	pinned := load(t, instance+"  charts: {jupyterhub: 4.3.5}\n")
	if !slices.ContainsFunc(pinned.Warnings, func(p config.Problem) bool { return p.Path == "daskhub.charts.jupyterhub" }) {
		t.Errorf("a chart pinned off the table draws no warning: %v", pinned.Warnings)
	}
	cfg := load(t, instance+"  kubernetesVersion: \"1.34\"\n")
	if ch := cfg.Daskhub.Charts; versions.Charts(ch) != versions.Kubernetes["1.34"].Charts {
		t.Errorf("charts %+v do not follow the table's 1.34 row", cfg.Daskhub.Charts)
	}
}

// OAuthenticator 17.4.0 (oauthenticator/oauth2.py@17.4.0).
func TestOAuthenticatorRules(t *testing.T) {
	for name, text := range instances {
		t.Run(name, func(t *testing.T) {
			oauth := get(t, values.Jupyterhub(load(t, text), signIn, testSubnets), "hub", "config", "GenericOAuthenticator").(map[string]any)
			// _validate_userdata_url: "Cannot specify both
			// authenticator.userdata_url and authenticator.userdata_from_id_token";
			// the hub does not start.
			if url, _ := oauth["userdata_url"].(string); url != "" && oauth["userdata_from_id_token"] == true {
				t.Errorf("userdata_url %q beside userdata_from_id_token: the hub refuses to start", url)
			}
			// _requires_manage_groups: admin_groups, allowed_groups and
			// auth_state_groups_key raise unless manage_groups is True.
			for _, k := range []string{"admin_groups", "allowed_groups", "auth_state_groups_key"} {
				if _, ok := oauth[k]; ok && oauth["manage_groups"] != true {
					t.Errorf("%s needs manage_groups", k)
				}
			}
			// Every key must be a trait of GenericOAuthenticator, or
			// traitlets ignores it with a warning (the listed names are the
			// traits of oauth2.py and generic.py@17.4.0, and of
			// jupyterhub/auth.py@5.5.0 for manage_groups).
			traits := strings.Fields(`login_service allow_all allow_existing_users allowed_groups admin_groups
				auth_state_groups_key modify_auth_state_hook authorize_url token_url userdata_from_id_token
				userdata_url username_claim refresh_user_hook logout_redirect_url userdata_params
				userdata_token_method token_params scope allowed_scopes extra_authorize_params
				oauth_callback_url basic_auth enable_pkce client_id client_secret validate_server_cert
				http_request_kwargs claim_groups_key manage_groups`)
			for k := range oauth {
				if !slices.Contains(traits, k) {
					t.Errorf("GenericOAuthenticator has no trait %s at 17.4.0", k)
				}
			}
			// The refresh settings are traits of JupyterHub's Authenticator
			// (enable_auth_state, auth_refresh_age, refresh_pre_spawn in
			// jupyterhub/auth.py@5.5.0).
			base := get(t, values.Jupyterhub(load(t, text), signIn, testSubnets), "hub", "config", "Authenticator").(map[string]any)
			for k := range base {
				if !slices.Contains([]string{"enable_auth_state", "auth_refresh_age", "refresh_pre_spawn"}, k) {
					t.Errorf("Authenticator has no trait %s at JupyterHub 5.5.0", k)
				}
			}
			// token_to_user decodes the ID token into the user info, and
			// build_auth_state_dict stores it under user_auth_state_key
			// "oauth_user"; get_user_groups walks auth_state_groups_key split
			// on ".". A Cognito ID token (openid scope) carries sub and
			// cognito:groups.
			idToken := map[string]any{"sub": "7f1e0c1a-0000-4000-8000-000000000001", "email": "a@example.org", "cognito:username": "ann", "cognito:groups": []any{"admins", "ml"}}
			authState := map[string]any{"oauth_user": idToken, "access_token": "x"}
			var v any = authState
			for _, part := range strings.Split(oauth["auth_state_groups_key"].(string), ".") {
				v = v.(map[string]any)[part]
			}
			if fmt.Sprint(v) != "[admins ml]" {
				t.Errorf("auth_state_groups_key finds %v in the auth state", v)
			}
			if !slices.Contains(oauth["scope"].([]any), "openid") {
				t.Errorf("without the openid scope Cognito returns no ID token")
			}
			// user_info_to_username reads username_claim from the user info:
			// it must be in the ID token, and name a user for good.
			if oauth["username_claim"] != "sub" {
				t.Errorf("users named by %v: e-mail addresses and freed usernames can pass to another person", oauth["username_claim"])
			}
			if _, ok := idToken[oauth["username_claim"].(string)]; !ok {
				t.Errorf("username claim %v is not in Cognito's ID token", oauth["username_claim"])
			}
			// pyproject.toml@17.4.0 registers the entry point generic-oauth.
			if get(t, values.Jupyterhub(load(t, text), signIn, testSubnets), "hub", "config", "JupyterHub", "authenticator_class") != "generic-oauth" {
				t.Errorf("authenticator class is not OAuthenticator's generic-oauth")
			}
		})
	}
}

// KubeSpawner 7.0.0 (kubespawner/spawner.py@7.0.0): the profile overrides
// we write are traits of KubeSpawner or of JupyterHub's Spawner
// (jupyterhub/spawner.py@5.5.0); an unknown key fails the spawn.
func TestKubeSpawnerOverrideKeys(t *testing.T) {
	known := []string{"image", "node_selector", "tolerations", "extra_resource_limits", "service_account", // KubeSpawner
		"cpu_guarantee", "cpu_limit", "mem_guarantee", "mem_limit"} // Spawner
	cfg := load(t, withData)
	for _, p := range get(t, values.Jupyterhub(cfg, signIn, testSubnets), "singleuser", "profileList").([]any) {
		for k := range p.(map[string]any)["kubespawner_override"].(map[string]any) {
			if !slices.Contains(known, k) {
				t.Errorf("profile %v overrides %s, not a trait at KubeSpawner 7.0.0", p.(map[string]any)["slug"], k)
			}
		}
	}
	for k := range get(t, values.Jupyterhub(cfg, signIn, testSubnets), "hub", "config", "KubeSpawner").(map[string]any) {
		if !slices.Contains([]string{"start_timeout", "http_timeout"}, k) {
			t.Errorf("KubeSpawner.%s is not a Spawner trait at JupyterHub 5.5.0", k)
		}
	}
}

// servicePorts is what JupyterHub chart 4.4.0 makes of proxy.service and
// proxy.https (jupyterhub/templates/proxy/service.yaml@4.4.0): port 443
// when HTTPS is enabled with a valid type, aimed at the proxy's http port
// with type offload (and at https otherwise); port 80 aimed at http unless
// disableHttpPort is true. It maps port to target port.
func servicePorts(t *testing.T, vals map[string]any) map[string]string {
	ports := map[string]string{}
	https, _ := get(t, vals, "proxy", "https").(map[string]any)
	if https["enabled"] == true && slices.Contains([]any{"offload", "manual", "secret", "letsencrypt"}, https["type"]) {
		if https["type"] == "offload" {
			ports["443"] = "http"
		} else {
			ports["443"] = "https"
		}
	}
	if get(t, vals, "proxy", "service", "disableHttpPort") != true {
		ports["80"] = "http"
	}
	return ports
}

// proxyTarget checks that address reaches the proxy-public service of the
// hub's namespace on a port that serves plain HTTP.
func proxyTarget(t *testing.T, what, address, ns string, ports map[string]string) {
	t.Helper()
	u, err := url.Parse(address)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	host := u.Hostname()
	if host != "proxy-public" && host != "proxy-public."+ns {
		t.Errorf("%s %s is not the hub's proxy-public service", what, address)
	}
	if u.Scheme != "http" || ports[port] != "http" {
		t.Errorf("%s %s: the proxy-public service has ports %v (port: target), so this port does not carry plain HTTP to the proxy", what, address, ports)
	}
}

// The notebooks' gateway addresses and the gateway's hub API URL reach the
// port the hub's proxy-public service really has, with and without a
// domain; the hub's service entry reaches the gateway's traefik service,
// which the Dask Gateway chart opens on port 80 (values.yaml@2025.4.0
// traefik.service.ports.web.port).
func TestGatewayAndHubAddressesMatchServices(t *testing.T) {
	for name, text := range instances {
		t.Run(name, func(t *testing.T) {
			cfg := load(t, text)
			ns := cfg.Daskhub.Namespace
			hub := values.Jupyterhub(cfg, signIn, testSubnets)
			ports := servicePorts(t, hub)
			if len(ports) == 0 {
				t.Fatalf("proxy-public would have no port")
			}
			env := values.ServerEnv(cfg)
			proxyTarget(t, "DASK_GATEWAY__ADDRESS", env["DASK_GATEWAY__ADDRESS"], ns, ports)
			proxyTarget(t, "DASK_LABEXTENSION__FACTORY__KWARGS__ADDRESS", env["DASK_LABEXTENSION__FACTORY__KWARGS__ADDRESS"], ns, ports)
			gw := values.DaskGateway(cfg)
			proxyTarget(t, "gateway.auth.jupyterhub.apiUrl", get(t, gw, "gateway", "auth", "jupyterhub", "apiUrl").(string), ns, ports)
			if !strings.HasSuffix(get(t, gw, "gateway", "auth", "jupyterhub", "apiUrl").(string), "/hub/api") {
				t.Errorf("hub API URL %v", get(t, gw, "gateway", "auth", "jupyterhub", "apiUrl"))
			}
			// The proxy routes /services/<name>/ to the hub service; the
			// gateway serves under gateway.prefix.
			prefix := get(t, gw, "gateway", "prefix").(string)
			if prefix != "/services/dask-gateway" || !strings.HasSuffix(env["DASK_GATEWAY__ADDRESS"], prefix) || env["DASK_GATEWAY__PUBLIC_ADDRESS"] != prefix+"/" {
				t.Errorf("gateway prefix %s, addresses %v", prefix, env)
			}
			svc := get(t, hub, "hub", "services", "dask-gateway", "url").(string)
			if svc != "http://traefik-dask-gateway."+ns {
				t.Errorf("hub service dask-gateway at %s, want the gateway's traefik on port 80", svc)
			}
			// With a domain, plain HTTP must stay closed on the load balancer.
			if cfg.Daskhub.Domain.Name != "" {
				if _, open := ports["80"]; open {
					t.Errorf("port 80 open on the public load balancer")
				}
			}
		})
	}
}

// The Dask Gateway chart (resources/helm/dask-gateway/values.schema.yaml
// @2025.4.0, additionalProperties false throughout) accepts only these key
// paths under what we set, and auth.type is one of its enum; the gateway
// reads its token from the key the JupyterHub chart writes into its "hub"
// secret (jupyterhub/templates/hub/secret.yaml@4.4.0:
// hub.services.<name>.apiToken).
func TestDaskGatewayChartKeys(t *testing.T) {
	allowed := []string{
		"gateway.prefix", "gateway.auth.type",
		"gateway.auth.jupyterhub.apiUrl", "gateway.auth.jupyterhub.apiToken",
		"gateway.auth.jupyterhub.apiTokenFromSecretName", "gateway.auth.jupyterhub.apiTokenFromSecretKey",
		"gateway.extraConfig.*", "traefik.service.type",
	}
	vals := values.DaskGateway(load(t, withData))
	for _, path := range leafPaths("", vals) {
		ok := slices.ContainsFunc(allowed, func(a string) bool {
			return a == path || strings.HasSuffix(a, ".*") && strings.HasPrefix(path, strings.TrimSuffix(a, "*"))
		})
		if !ok {
			t.Errorf("dask-gateway chart 2025.4.0 has no value %s", path)
		}
	}
	if !slices.Contains([]any{"simple", "kerberos", "jupyterhub", "custom"}, get(t, vals, "gateway", "auth", "type")) {
		t.Errorf("auth type %v", get(t, vals, "gateway", "auth", "type"))
	}
	if get(t, vals, "gateway", "auth", "jupyterhub", "apiTokenFromSecretName") != "hub" ||
		get(t, vals, "gateway", "auth", "jupyterhub", "apiTokenFromSecretKey") != "hub.services."+values.DaskGatewayRelease+".apiToken" {
		t.Errorf("the gateway's token is not the one the hub chart generates for service %s", values.DaskGatewayRelease)
	}
	if _, ok := get(t, values.Jupyterhub(load(t, withData), signIn, testSubnets), "hub", "services", values.DaskGatewayRelease).(map[string]any); !ok {
		t.Errorf("no hub service %s, so the hub chart writes no token for it", values.DaskGatewayRelease)
	}
}

func leafPaths(prefix string, v any) []string {
	m, ok := v.(map[string]any)
	if !ok {
		return []string{strings.TrimPrefix(prefix, ".")}
	}
	var out []string
	for k, x := range m {
		out = append(out, leafPaths(prefix+"."+k, x)...)
	}
	return out
}

// The Cluster Autoscaler chart reads these top-level values
// (charts/cluster-autoscaler/values.yaml at chart tags 9.53.0 and 9.59.0),
// and the image has each flag we pass (config/flags/flags.go at
// cluster-autoscaler-1.34.5, -1.35.2 and -1.36.1); an unknown flag stops
// the autoscaler at start.
func TestClusterAutoscalerChartAndFlags(t *testing.T) {
	chartKeys := []string{"cloudProvider", "awsRegion", "autoDiscovery", "image", "rbac", "nodeSelector", "extraArgs", "expanderPriorities"}
	flags := []string{"expander", "balance-similar-node-groups", "skip-nodes-with-local-storage", "scale-down-unneeded-time"}
	for _, m := range versions.Minors() {
		vals := values.ClusterAutoscaler(atVersion(t, m), "t1-daskhub", "us-east-1")
		for k := range vals {
			if !slices.Contains(chartKeys, k) {
				t.Errorf("%s: the chart has no value %s", m, k)
			}
		}
		for f := range vals["extraArgs"].(map[string]any) {
			if !slices.Contains(flags, f) {
				t.Errorf("%s: flag --%s is not one the autoscaler %s has", m, f, versions.Kubernetes[m].ClusterAutoscalerImage)
			}
		}
		// The chart writes expanderPriorities into the priority expander's
		// ConfigMap only when extraArgs.expander names "priority"
		// (templates/_helpers.tpl "cluster-autoscaler.priorityExpanderEnabled").
		if !slices.Contains(strings.Split(fmt.Sprint(get(t, vals, "extraArgs", "expander")), ","), "priority") {
			t.Errorf("%s: expander %v ignores expanderPriorities", m, get(t, vals, "extraArgs", "expander"))
		}
		// With rbac.serviceAccount.create false the chart runs as the named
		// account, which the stack makes for Pod Identity.
		if get(t, vals, "rbac", "serviceAccount", "create") != false || get(t, vals, "rbac", "serviceAccount", "name") != values.AutoscalerServiceAccount {
			t.Errorf("%s: service account %v", m, get(t, vals, "rbac", "serviceAccount"))
		}
	}
	// The AWS provider reads a scaled-to-zero group's labels, taints and
	// resources from tags under k8s.io/cluster-autoscaler/node-template/
	// (cloudprovider/aws/aws_manager.go@cluster-autoscaler-1.35.2:
	// label/, taint/ with value "value:Effect", resources/).
	cfg := load(t, instance)
	for k, v := range values.NodeTemplateTags(cfg.Daskhub.NodeGroups["gpu-user"]) {
		rest, ok := strings.CutPrefix(k, "k8s.io/cluster-autoscaler/node-template/")
		if !ok || !(strings.HasPrefix(rest, "label/") || strings.HasPrefix(rest, "taint/") || strings.HasPrefix(rest, "resources/")) {
			t.Errorf("tag %s is not one the autoscaler reads", k)
		}
		if strings.HasPrefix(rest, "taint/") && !strings.Contains(v, ":No") && !strings.Contains(v, ":Prefer") {
			t.Errorf("taint tag %s=%s lacks its effect", k, v)
		}
	}
}

// NVIDIA device plugin chart 0.17.4
// (deployments/helm/nvidia-device-plugin/values.yaml@v0.17.4): its default
// affinity wants NFD labels that EKS nodes lack, and helm replaces lists,
// so our nodeSelectorTerms stand alone; its default tolerations are
// replaced too, so ours must keep nvidia.com/gpu.
func TestDevicePluginChartRules(t *testing.T) {
	vals := values.NvidiaDevicePlugin(load(t, instance))
	for k := range vals {
		if k != "tolerations" && k != "affinity" {
			t.Errorf("value %s not checked against chart 0.17.4", k)
		}
	}
	terms := get(t, vals, "affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms").([]any)
	if len(terms) != 1 || strings.Contains(fmt.Sprint(terms), "feature.node.kubernetes.io") {
		t.Errorf("node selector terms %v", terms)
	}
	if !strings.Contains(fmt.Sprint(vals["tolerations"]), "key:nvidia.com/gpu") {
		t.Errorf("tolerations %v lack nvidia.com/gpu", vals["tolerations"])
	}
}

// The user-scheduler of JupyterHub chart 4.4.0 has the role of
// kube-scheduler 1.30 (jupyterhub/templates/scheduling/user-scheduler
// /rbac.yaml@4.4.0). The kube-scheduler we run needs, per Kubernetes'
// system:kube-scheduler role as z2jh main records it (rbac.yaml at commits
// 80bb6e47 and 0ed86599): leases list/watch and leasecandidates (1.31),
// volumeattachments (1.32), the resource.k8s.io objects and pods/finalizers
// (1.34), resourceclaims/binding (1.36). Our extra role must grant them to
// the account the chart runs the scheduler as. The scheduler's own
// configuration (templates/scheduling/user-scheduler/configmap.yaml) is
// the same at 4.4.0 and on the main branch that runs v1.35.7, so the role
// is all that needs adding.
func TestUserSchedulerPermissions(t *testing.T) {
	for _, m := range versions.Minors() {
		cfg := atVersion(t, m)
		hub := values.Jupyterhub(cfg, signIn, testSubnets)
		account := get(t, hub, "scheduling", "userScheduler", "serviceAccount", "name")
		objs := values.UserSchedulerRBAC(cfg)
		granted := map[string]bool{}
		for _, r := range objs[0]["rules"].([]any) {
			rule := r.(map[string]any)
			for _, g := range rule["apiGroups"].([]any) {
				for _, res := range rule["resources"].([]any) {
					for _, v := range rule["verbs"].([]any) {
						granted[fmt.Sprintf("%s/%s:%s", g, res, v)] = true
					}
				}
			}
		}
		need := []string{"coordination.k8s.io/leases:watch", "coordination.k8s.io/leasecandidates:create",
			"storage.k8s.io/volumeattachments:list", "/pods/finalizers:update",
			"resource.k8s.io/deviceclasses:watch", "resource.k8s.io/resourceslices:watch",
			"resource.k8s.io/resourceclaims:watch", "resource.k8s.io/resourceclaims:update", "resource.k8s.io/resourceclaims/status:patch"}
		if versions.Compare(m, "1.36") >= 0 {
			need = append(need, "resource.k8s.io/resourceclaims/binding:patch")
		}
		for _, n := range need {
			if !granted[n] {
				t.Errorf("%s: the user-scheduler lacks %s", m, n)
			}
		}
		subject := objs[1]["subjects"].([]any)[0].(map[string]any)
		if subject["name"] != account || subject["namespace"] != cfg.Daskhub.Namespace {
			t.Errorf("%s: the role is bound to %v, the scheduler runs as %v", m, subject, account)
		}
	}
}

// Graviton core groups rest on versions.CoreImages: every image on core
// nodes is published for arm64. The table must name the tags we run (the
// ones our values set, and the charts' defaults at the pinned charts), and
// each entry must say where its architectures were read.
func TestCoreImagesArePublishedForArm64(t *testing.T) {
	for _, m := range versions.Minors() {
		cfg := atVersion(t, m)
		hub := values.Jupyterhub(cfg, signIn, testSubnets)
		ca := values.ClusterAutoscaler(cfg, "t1-daskhub", "us-east-1")
		r := versions.Kubernetes[m]
		tags := map[string]string{}
		for _, im := range versions.CoreImages(m) {
			tags[im.Name] = im.Tag
			if !im.Arm64 || im.Source == "" || im.Runs == "" {
				t.Errorf("%s: %s:%s: arm64 %v, source %q", m, im.Name, im.Tag, im.Arm64, im.Source)
			}
			if im.Verified && !strings.Contains(im.Source, "@") {
				t.Errorf("%s: %s is marked verified but its source names no file@tag: %s", m, im.Name, im.Source)
			}
		}
		initImage := get(t, hub, "hub", "initContainers").([]any)[0].(map[string]any)["image"].(string)
		for name, want := range map[string]any{
			// Set by our values.
			"registry.k8s.io/kube-scheduler":                 get(t, hub, "scheduling", "userScheduler", "image", "tag"),
			"registry.k8s.io/autoscaling/cluster-autoscaler": get(t, ca, "image", "tag"),
			"public.ecr.aws/aws-cli/aws-cli":                 strings.TrimPrefix(initImage, "public.ecr.aws/aws-cli/aws-cli:"),
			// The charts' own tags: chartpress tags the hub and gateway
			// images with the chart's version; jupyterhub/values.yaml@4.4.0
			// pins configurable-http-proxy 5.2.0, and
			// resources/helm/dask-gateway/values.yaml@2025.4.0 traefik 3.3.5.
			"quay.io/jupyterhub/k8s-hub":                 r.Charts.Jupyterhub,
			"ghcr.io/dask/dask-gateway-server":           r.Charts.DaskGateway,
			"quay.io/jupyterhub/configurable-http-proxy": map[string]string{"4.4.0": "5.2.0"}[r.Charts.Jupyterhub],
			"docker.io/traefik":                          map[string]string{"2025.4.0": "3.3.5"}[r.Charts.DaskGateway],
		} {
			if tags[name] != want {
				t.Errorf("%s: CoreImages has %s at %q, but the cluster runs %v", m, name, tags[name], want)
			}
		}
	}
}

// The hub's load balancer is a Network Load Balancer made by the AWS cloud
// provider that EKS runs at the cluster's minor version. Every annotation
// below was read in pkg/providers/v1/aws.go and aws_loadbalancer.go of
// kubernetes/cloud-provider-aws at v1.34.3, v1.35.2 and v1.36.1 (the
// functions named in values.LoadBalancerAnnotations behave alike at the
// three tags); the provider ignores annotations it does not know, so a
// misspelt one would silently fall back to a default.
func TestHubLoadBalancerAnnotations(t *testing.T) {
	// The annotation constants of aws.go at the three tags that we use.
	known := map[string]string{
		"type":                              "ServiceAnnotationLoadBalancerType",
		"ssl-cert":                          "ServiceAnnotationLoadBalancerCertificate",
		"ssl-ports":                         "ServiceAnnotationLoadBalancerSSLPorts",
		"ssl-negotiation-policy":            "ServiceAnnotationLoadBalancerSSLNegotiationPolicy",
		"subnets":                           "ServiceAnnotationLoadBalancerSubnets",
		"target-node-labels":                "ServiceAnnotationLoadBalancerTargetNodeLabels",
		"cross-zone-load-balancing-enabled": "ServiceAnnotationLoadBalancerCrossZoneLoadBalancingEnabled",
		"additional-resource-tags":          "ServiceAnnotationLoadBalancerAdditionalTags",
	}
	two := load(t, instance+"  loadBalancer: {zones: 2, publicCidrs: [192.0.2.0/24]}\ntags: {project: helio, grant: \"NNX=17\"}\n")
	for name, tc := range map[string]struct {
		cfg     *config.Config
		subnets []string
		want    map[string]string
	}{
		"one zone": {load(t, instance), testSubnets, map[string]string{
			"type": "nlb", "ssl-cert": "arn:aws:acm:us-east-1:123456789012:certificate/0f0e0d0c-0b0a-0908-0706-050403020100",
			"ssl-ports": "https", "ssl-negotiation-policy": "ELBSecurityPolicy-TLS13-1-2-2021-06",
			"subnets": "subnet-0aaaaaaaaaaaaaaaa", "target-node-labels": "hub.jupyter.org/node-purpose=core",
			"additional-resource-tags": "heliocloud:instance=t1,heliocloud:component=daskhub",
		}},
		"two zones": {two, []string{"subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"}, map[string]string{
			"type": "nlb", "ssl-cert": "arn:aws:acm:us-east-1:123456789012:certificate/0f0e0d0c-0b0a-0908-0706-050403020100",
			"ssl-ports": "https", "ssl-negotiation-policy": "ELBSecurityPolicy-TLS13-1-2-2021-06",
			"subnets": "subnet-0aaaaaaaaaaaaaaaa,subnet-0bbbbbbbbbbbbbbbb", "target-node-labels": "hub.jupyter.org/node-purpose=core",
			"cross-zone-load-balancing-enabled": "true",
			// The tag holding "=" cannot be written in the annotation.
			"additional-resource-tags": "heliocloud:instance=t1,heliocloud:component=daskhub,project=helio",
		}},
	} {
		t.Run(name, func(t *testing.T) {
			vals := values.Jupyterhub(tc.cfg, signIn, tc.subnets)
			got := get(t, vals, "proxy", "service", "annotations").(map[string]any)
			if len(got) != len(tc.want) {
				t.Errorf("annotations %v, want %v", got, tc.want)
			}
			for short, v := range tc.want {
				key := "service.beta.kubernetes.io/aws-load-balancer-" + short
				if _, ok := known[short]; !ok {
					t.Errorf("%s is not an annotation of the cloud provider", key)
				}
				if got[key] != v {
					t.Errorf("%s = %v, want %q", key, got[key], v)
				}
			}
			// ssl-ports names the chart's port, which carries plain HTTP
			// to the proxy with TLS offloaded (templates/proxy/service.yaml@4.4.0).
			if ports := servicePorts(t, vals); ports["443"] != "http" {
				t.Errorf("proxy-public ports %v: the TLS listener's port must be https, sent to the proxy's http port", ports)
			}
		})
	}
	// spec.loadBalancerSourceRanges: the provider opens the nodes to these
	// ranges only (EnsureLoadBalancer, GetLoadBalancerSourceRanges; everyone
	// without them), and the chart writes the key for type LoadBalancer
	// (templates/proxy/service.yaml@4.4.0).
	if got := get(t, values.Jupyterhub(two, signIn, testSubnets), "proxy", "service", "loadBalancerSourceRanges"); fmt.Sprint(got) != "[192.0.2.0/24]" {
		t.Errorf("source ranges %v", got)
	}
	if got := get(t, values.Jupyterhub(load(t, instance), signIn, testSubnets), "proxy", "service"); got.(map[string]any)["loadBalancerSourceRanges"] != nil {
		t.Errorf("source ranges without publicCidrs: %v", got)
	}
}
