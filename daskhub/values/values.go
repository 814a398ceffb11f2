// Package values writes the Helm values of the DaskHub stack's charts
// (JupyterHub, Dask Gateway, Cluster Autoscaler, NVIDIA device plugin) from
// the instance's configuration. It knows nothing of CDK, so the values are
// checked by plain, fast tests, including against the JupyterHub chart's
// own schema; the stack passes the maps to its Helm releases unchanged.
//
// JupyterHub and Dask Gateway are wired together as the daskhub chart does:
// the gateway sits behind the hub's proxy at /services/dask-gateway, trusts
// the hub for sign-in with an API token the hub chart generates, and users'
// servers find it through DASK_GATEWAY__* variables.
package values

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/heliocloud/heliocloud-go/config"
	"github.com/heliocloud/heliocloud-go/daskhub/versions"
)

// Names shared by the stack and the values: Kubernetes objects the stack
// makes that the charts refer to, and the releases' names.
const (
	JupyterhubRelease  = "jupyterhub"
	DaskGatewayRelease = "dask-gateway"
	// AutoscalerRelease and DevicePluginRelease are installed in
	// kube-system; `heliocloud doctor` finds their workloads by these names.
	AutoscalerRelease   = "cluster-autoscaler"
	DevicePluginRelease = "nvidia-device-plugin"
	// UserServiceAccount runs users' servers, Dask schedulers and workers;
	// its Pod Identity role reads datasets and writes shared and scratch.
	UserServiceAccount = "heliocloud-user"
	// HubServiceAccount is the JupyterHub chart's hub account; its Pod
	// Identity role may only read the hub's Cognito app client.
	HubServiceAccount = "hub"
	// AutoscalerServiceAccount runs the Cluster Autoscaler in kube-system.
	AutoscalerServiceAccount = "cluster-autoscaler"
	// HomeStorageClass provisions one EFS access point per user's home.
	HomeStorageClass = "efs-home"
	// SharedClaim is the PersistentVolumeClaim of the shared directory.
	SharedClaim = "shared"
	// AdminsGroup is the Cognito group whose members are hub admins.
	AdminsGroup = "admins"
	// UserSchedulerServiceAccount runs the JupyterHub chart's
	// user-scheduler; the stack grants it what the chart's role lacks.
	UserSchedulerServiceAccount = "user-scheduler"
	// secretDir holds the client secret inside the hub pod, in memory.
	secretDir = "/etc/heliocloud-cognito"
	// gatewayTraefik is the Dask Gateway chart's proxy service for the
	// release named DaskGatewayRelease.
	gatewayTraefik = "traefik-" + DaskGatewayRelease
	// GatewayServiceAccount runs the Dask Gateway API of the release named
	// DaskGatewayRelease ("api-" + fullname, dask-gateway.apiName in the
	// chart's templates/_helpers.tpl at 2025.4.0); it writes each
	// cluster's network policy (clusterPolicyPy).
	GatewayServiceAccount = "api-" + DaskGatewayRelease
	// UserLabel and TeamLabel mark the pods of users' servers and Dask
	// clusters with the user's sub and the team whose account the pod
	// runs with (none without a team), so that costs can be split by user
	// and team (docs/cost.md, per-user costs).
	UserLabel = "heliocloud.org/user"
	TeamLabel = "heliocloud.org/team"
)

// Sign-in is what the hub needs of the auth stack's Cognito pool. Fields may
// hold CDK tokens, resolved at deploy time: the values are only strings.
type SignIn struct {
	// BaseURL of the hosted sign-in pages, https://<prefix>.auth.<region>.amazoncognito.com.
	BaseURL string
	// UserPoolID and ClientID name the hub's app client; its secret is
	// read inside the cluster, never written into a template or log.
	UserPoolID, ClientID string
	// Region of the user pool.
	Region string
}

// NodegroupName is the EKS name of a node group, which EKS also puts in its
// auto scaling group's name (eks-<name>-<uuid>): <instance>-<group>-<digest>.
// The digest covers every setting the stack turns into a node group property
// that CloudFormation can only change by replacing the group (instance
// types, capacity, AMI type, subnets). A replacement is made before the old group
// is deleted, and EKS refuses a second group of the same name, so such an
// edit must also rename the group; other edits keep the name and update the
// group in place. stacks.TestNodegroupReplacementRenames checks the list
// against CloudFormation's resource specification.
func NodegroupName(cfg *config.Config, group string) string {
	g := cfg.Daskhub.NodeGroups[group]
	v := cfg.Base.VPC
	subnets := "every private subnet"
	if g.Purpose == "core" {
		subnets = fmt.Sprintf("private subnet %d", cfg.CoreZoneIndex())
	}
	inputs := []any{g.InstanceTypes, g.Capacity, g.GPU, subnets, v.Mode, v.MaxAzs, v.AvailabilityZones, v.PrivateSubnetIDs}
	// The AMI type: g.GPU told the two x86_64 AMI types apart before groups
	// could be Graviton; any other type is added at the end, so that groups
	// deployed before keep their names.
	if ami := g.AMIType(); ami != "AL2023_x86_64_STANDARD" && ami != "AL2023_x86_64_NVIDIA" {
		inputs = append(inputs, ami)
	}
	replacing, err := json.Marshal(inputs)
	if err != nil {
		panic(err) // strings, numbers and booleans always marshal
	}
	sum := sha256.Sum256(replacing)
	return cfg.Name + "-" + group + "-" + hex.EncodeToString(sum[:4])
}

// HubURL is where users reach the hub: https://<host> with a domain, else
// the local end of `kubectl port-forward` (see docs/daskhub.md).
func HubURL(cfg *config.Config) string {
	if h := cfg.Daskhub.Domain.Host(); h != "" {
		return "https://" + h
	}
	return "http://localhost:8080"
}

// CallbackURL is the hub's OAuth callback, registered with the app client.
func CallbackURL(cfg *config.Config) string { return HubURL(cfg) + "/hub/oauth_callback" }

// LogoutURL is where Cognito sends users after signing out of the hub.
func LogoutURL(cfg *config.Config) string { return HubURL(cfg) + "/" }

// selector is how pods find a node group: its labels and its taints.
func selector(g config.NodeGroup) (nodeSelector map[string]any, tolerations []any) {
	nodeSelector = map[string]any{}
	for k, v := range g.Labels {
		nodeSelector[k] = v
	}
	for _, t := range g.Taints {
		tolerations = append(tolerations, toleration(t))
	}
	return nodeSelector, tolerations
}

func toleration(t config.Taint) map[string]any {
	if t.Value == "" {
		return map[string]any{"key": t.Key, "operator": "Exists", "effect": t.Effect}
	}
	return map[string]any{"key": t.Key, "operator": "Equal", "value": t.Value, "effect": t.Effect}
}

// gib writes a memory size in KubeSpawner's and Kubernetes' units.
func gib(v float64) string {
	if v == math.Trunc(v) {
		return strconv.Itoa(int(v)) + "G"
	}
	return strconv.Itoa(int(math.Round(v*1024))) + "M"
}

// ProfileNames lists the profiles in the order users see them.
func ProfileNames(d *config.Daskhub) []string {
	names := slices.Sorted(maps.Keys(d.Profiles))
	sort.SliceStable(names, func(i, j int) bool { return d.Profiles[names[i]].Order < d.Profiles[names[j]].Order })
	return names
}

// Description is a profile's description with the hourly price of its
// node group's instance type, so users see what their choice costs.
func Description(d *config.Daskhub, name string) string {
	p := d.Profiles[name]
	g := d.NodeGroups[p.NodeGroup]
	it := g.GroupInstanceType()
	share := ""
	if n := math.Floor(float64(it.VCPU) / p.CPUGuarantee); n > 1 {
		share = fmt.Sprintf(", shared by up to %d servers", int(n))
	}
	price := fmt.Sprintf("%s node %s (on-demand, %s)%s", g.InstanceTypes[0], config.FormatPrice(it.PriceUSDPerHour), config.PriceRegion, share)
	if g.Capacity == "spot" {
		price = fmt.Sprintf("%s node, spot (on-demand %s in %s)%s", g.InstanceTypes[0], config.FormatPrice(it.PriceUSDPerHour), config.PriceRegion, share)
	}
	if p.Description == "" {
		return price
	}
	return p.Description + ". " + price
}

func profileList(d *config.Daskhub) []any {
	var out []any
	for _, name := range ProfileNames(d) {
		p := d.Profiles[name]
		nodeSelector, tolerations := selector(d.NodeGroups[p.NodeGroup])
		override := map[string]any{
			"image":         p.Image,
			"cpu_guarantee": p.CPUGuarantee,
			"cpu_limit":     p.CPULimit,
			"mem_guarantee": gib(p.MemoryGuaranteeGib),
			"mem_limit":     gib(p.MemoryLimitGib),
			"node_selector": nodeSelector,
		}
		if len(tolerations) > 0 {
			override["tolerations"] = tolerations
		}
		if p.GPUs > 0 {
			override["extra_resource_limits"] = map[string]any{"nvidia.com/gpu": strconv.Itoa(p.GPUs)}
		}
		entry := map[string]any{
			"slug":                 name,
			"display_name":         p.DisplayName,
			"description":          Description(d, name),
			"kubespawner_override": override,
		}
		if p.Default {
			entry["default"] = true
		}
		out = append(out, entry)
	}
	return out
}

// profileTeams maps each profile limited to teams to those teams' groups.
func profileTeams(d *config.Daskhub) map[string][]string {
	out := map[string][]string{}
	for name, p := range d.Profiles {
		if len(p.Teams) > 0 {
			out[name] = slices.Sorted(slices.Values(p.Teams))
		}
	}
	return out
}

// pyJSON embeds a value in Python source as a JSON string literal that
// json.loads reads back, so no quoting of ours can break the code.
func pyJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return strconv.Quote(string(b))
}

// loadBalancerAnnotation begins the names of the AWS cloud provider's
// Service annotations.
const loadBalancerAnnotation = "service.beta.kubernetes.io/aws-load-balancer-"

// TLSPolicy is the hub's load balancer's TLS policy: TLS 1.3 and 1.2 only,
// with forward-secret ciphers.
const TLSPolicy = "ELBSecurityPolicy-TLS13-1-2-2021-06"

// LoadBalancerAnnotations make the AWS cloud provider, which EKS runs at the
// cluster's minor version, serve the hub's proxy-public Service with a
// Network Load Balancer. Each was read in pkg/providers/v1/aws.go and
// aws_loadbalancer.go of kubernetes/cloud-provider-aws at v1.34.3, v1.35.2
// and v1.36.1, where they behave alike:
//   - type "nlb": a Network Load Balancer (isNLB), with instance targets
//     on the Service's node port;
//   - ssl-cert and ssl-ports "https": the port named https gets a TLS
//     listener with the certificate, forwarding plain TCP (EnsureLoadBalancer:
//     TLS front end, TCP traffic protocol unless backend-protocol is ssl);
//     the NLB's TLS listener passes WebSockets as any TCP stream;
//   - ssl-negotiation-policy: the listener's SslPolicy (without it, the
//     provider sends none and ELB applies its default, which allows TLS 1.0);
//   - subnets: the load balancer's subnets, one per zone, by id
//     (getLoadBalancerSubnets, resolveSubnetNameOrIDs); fixed once the load
//     balancer exists ("Subnets cannot be modified on NLBs", ensureLoadBalancerv2);
//   - target-node-labels: only nodes with every listed label are targets
//     (filterTargetNodes); the core nodes, where the proxy runs, all in
//     coreZone, rather than every node the autoscaler adds and removes;
//   - cross-zone-load-balancing-enabled "true" with more than one zone, so
//     that the other zones forward to the targets in coreZone
//     (reconcileLBAttributes sets load_balancing.cross_zone.enabled, false
//     without the annotation);
//   - additional-resource-tags: the instance's tags on the load balancer and
//     its target groups, so the budget and cost reports, which filter by
//     heliocloud:instance, see it ("key=value" pairs split at "," and "=",
//     getKeyValuePropertiesFromAnnotation; tags holding "=" are left out,
//     and validation warns of them).
func LoadBalancerAnnotations(cfg *config.Config, subnets []string) map[string]any {
	const p = loadBalancerAnnotation
	tags := []string{"heliocloud:instance=" + cfg.Name, "heliocloud:component=daskhub"}
	for _, k := range slices.Sorted(maps.Keys(cfg.Tags)) {
		// Tag keys and values cannot hold "," (config checks), but may hold "=".
		if !strings.Contains(k+cfg.Tags[k], "=") {
			tags = append(tags, k+"="+cfg.Tags[k])
		}
	}
	a := map[string]any{
		p + "type":                     "nlb",
		p + "ssl-cert":                 cfg.Daskhub.Domain.CertificateArn,
		p + "ssl-ports":                "https",
		p + "ssl-negotiation-policy":   TLSPolicy,
		p + "subnets":                  strings.Join(subnets, ","),
		p + "target-node-labels":       config.CoreNodeLabel + "=core",
		p + "additional-resource-tags": strings.Join(tags, ","),
	}
	if cfg.Daskhub.LoadBalancer.Zones > 1 {
		a[p+"cross-zone-load-balancing-enabled"] = "true"
	}
	return a
}

// FixedLoadBalancerAnnotations are those of LoadBalancerAnnotations that
// the cloud provider cannot apply to a live load balancer, its type and
// subnets: the stack replaces a Service whose annotations differ in these
// (hubcheck.ReplaceLoadBalancers) before the release sets them.
func FixedLoadBalancerAnnotations(cfg *config.Config, subnets []string) map[string]string {
	all := LoadBalancerAnnotations(cfg, subnets)
	out := map[string]string{}
	for _, k := range []string{loadBalancerAnnotation + "type", loadBalancerAnnotation + "subnets"} {
		out[k] = all[k].(string)
	}
	return out
}

// GatewayPrefix is where the hub's proxy serves the Dask Gateway, as the
// hub service "dask-gateway".
const GatewayPrefix = "/services/dask-gateway"

// httpPortOpen says whether the hub's proxy-public service keeps its plain
// HTTP port 80: not with a domain, whose load balancer would carry session
// cookies in the clear on it.
func httpPortOpen(cfg *config.Config) bool { return cfg.Daskhub.Domain.Name == "" }

// ProxyURL is the in-cluster address of the hub's proxy (the
// proxy-public service) that servers and the gateway use. It speaks plain
// HTTP on every port: without a domain on 80; with one, the chart opens
// only 443 and, with TLS offloaded to the load balancer, sends it to the
// proxy's HTTP port (templates/proxy/service.yaml of the JupyterHub chart).
func ProxyURL(cfg *config.Config) string {
	host := "http://proxy-public." + cfg.Daskhub.Namespace
	if httpPortOpen(cfg) {
		return host
	}
	return host + ":443"
}

// ProxyPortName is the name of the proxy-public service's port that
// ProxyURL reaches, for the API server's service proxy
// (services/proxy-public:<name>/proxy): the chart names port 80 "http"
// and port 443 "https", whatever protocol the latter carries.
func ProxyPortName(cfg *config.Config) string {
	if httpPortOpen(cfg) {
		return "http"
	}
	return "https"
}

// ServerEnv is the environment of users' servers, as the programs in them
// read it: Dask Gateway's client finds the gateway through the hub's proxy
// and its scheduler proxy directly; Dask fills {JUPYTER_IMAGE_SPEC} and
// the dashboard link's fields in itself, inside the server.
func ServerEnv(cfg *config.Config) map[string]string {
	gateway := ProxyURL(cfg) + GatewayPrefix
	return map[string]string{
		"DASK_GATEWAY__ADDRESS":                       gateway,
		"DASK_GATEWAY__PROXY_ADDRESS":                 "gateway://" + gatewayTraefik + "." + cfg.Daskhub.Namespace + ":80",
		"DASK_GATEWAY__PUBLIC_ADDRESS":                GatewayPrefix + "/",
		"DASK_GATEWAY__AUTH__TYPE":                    "jupyterhub",
		"DASK_GATEWAY__CLUSTER__OPTIONS__IMAGE":       "{JUPYTER_IMAGE_SPEC}",
		"DASK_DISTRIBUTED__DASHBOARD__LINK":           "{JUPYTERHUB_SERVICE_PREFIX}proxy/{port}/status",
		"DASK_LABEXTENSION__FACTORY__MODULE":          "dask_gateway",
		"DASK_LABEXTENSION__FACTORY__CLASS":           "GatewayCluster",
		"DASK_LABEXTENSION__FACTORY__KWARGS__ADDRESS": gateway,
	}
}

// kubespawnerLiterals writes env for KubeSpawner, which runs every
// environment value through Python's str.format with the user's
// properties ({username}, {servername}, ...): doubled braces come out
// single, so each value reaches the server as written.
func kubespawnerLiterals(env map[string]string) map[string]any {
	escape := strings.NewReplacer("{", "{{", "}", "}}")
	out := map[string]any{}
	for k, v := range env {
		out[k] = escape.Replace(v)
	}
	return out
}

// Jupyterhub is the JupyterHub chart's values. lbSubnets are the public
// subnets of the hub's load balancer (config.LoadBalancerZones), used with
// a domain.
func Jupyterhub(cfg *config.Config, in SignIn, lbSubnets []string) map[string]any {
	d := &cfg.Daskhub
	ns := d.Namespace
	hubConfig := map[string]any{
		"JupyterHub": map[string]any{
			"authenticator_class": "generic-oauth",
		},
		"GenericOAuthenticator": map[string]any{
			"client_id":          in.ClientID,
			"oauth_callback_url": CallbackURL(cfg),
			"authorize_url":      in.BaseURL + "/oauth2/authorize",
			"token_url":          in.BaseURL + "/oauth2/token",
			"logout_redirect_url": in.BaseURL + "/logout?client_id=" + in.ClientID +
				"&logout_uri=" + LogoutURL(cfg),
			"login_service": cfg.Institution,
			"scope":         []any{"openid", "email", "profile"},
			// The ID token is the one source of user data: Cognito puts
			// groups in it and not in userInfo, and OAuthenticator 17.4
			// refuses a userdata_url beside it.
			"userdata_from_id_token": true,
			// Users are named by Cognito's sub, which never changes and is
			// never given to another account: home directories (claim-<sub>)
			// and hub state stay with the person. E-mail can be changed and
			// reused, and the username a deleted account freed can be taken
			// by someone else. Admin rights and teams come from groups, so
			// no list of names needs keeping.
			"username_claim":        "sub",
			"auth_state_groups_key": "oauth_user.cognito:groups",
			"manage_groups":         true,
			"admin_groups":          []any{AdminsGroup},
			// The user pool is the gate: it has no self sign-up, and
			// self-registered accounts stay disabled until approved.
			"allow_all": true,
		},
		// Auth state keeps the Cognito refresh token (encrypted with the
		// CryptKeeper keys the chart generates into the hub secret,
		// templates/hub/_helpers-passwords.tpl@4.4.0) so that the hub asks
		// Cognito again every auth_refresh_age seconds of a user's activity
		// and before each spawn (hubRefreshPy).
		"Authenticator": map[string]any{"enable_auth_state": true, "auth_refresh_age": AuthRefreshSeconds, "refresh_pre_spawn": true},
		"KubeSpawner":   map[string]any{"start_timeout": d.SpawnTimeoutSeconds, "http_timeout": 120},
	}

	extraConfig := map[string]any{
		// The app client's secret is read from a file an init container
		// fetched from Cognito with the hub's Pod Identity role.
		"10-cognito-secret": "with open(" + strconv.Quote(secretDir+"/client_secret") + ") as f:\n" +
			"    c.GenericOAuthenticator.client_secret = f.read().strip()\n",
		// Profiles limited to teams are offered only to those teams'
		// members (and admins); KubeSpawner also refuses a profile not in
		// the list it offered, so the limit holds server-side.
		"20-profiles-by-team": strings.NewReplacer(
			"__PROFILE_TEAMS__", pyJSON(profileTeams(d)),
			"__TEAM_ACCOUNTS__", pyJSON(TeamAccounts(cfg)),
			"__ADMINS__", strconv.Quote(AdminsGroup),
			"__USER_LABEL__", strconv.Quote(UserLabel),
			"__TEAM_LABEL__", strconv.Quote(TeamLabel),
		).Replace(hubProfilesPy),
		// Team changes, disabling and sign-out reach the hub within
		// AuthRefreshSeconds of the user's next activity.
		"30-refresh-from-cognito": strings.NewReplacer("__TEAM_ACCOUNTS__", pyJSON(TeamAccounts(cfg)),
			"__DASK__", pyJSON(map[string]string{"namespace": cfg.Daskhub.Namespace, "team_label": TeamLabel, "version": DaskClusterVersion})).Replace(hubRefreshPy),
	}

	storage := &d.Storage
	shm := map[string]any{"name": "dshm", "emptyDir": map[string]any{"medium": "Memory", "sizeLimit": strconv.Itoa(storage.ShmGib) + "Gi"}}
	proxyService := map[string]any{"type": "ClusterIP"}
	https := map[string]any{"enabled": false}
	if d.Domain.Name != "" {
		proxyService = map[string]any{"type": "LoadBalancer", "annotations": LoadBalancerAnnotations(cfg, lbSubnets)}
		if cidrs := d.LoadBalancer.PublicCidrs; len(cidrs) > 0 {
			var ranges []any
			for _, c := range cidrs {
				ranges = append(ranges, c)
			}
			proxyService["loadBalancerSourceRanges"] = ranges
		}
		https = map[string]any{"enabled": true, "type": "offload", "hosts": []any{d.Domain.Host()}}
	}
	// ProxyURL follows this: servers and the gateway reach the proxy on
	// the port the service keeps.
	proxyService["disableHttpPort"] = !httpPortOpen(cfg)

	return map[string]any{
		"hub": map[string]any{
			"config":      hubConfig,
			"extraConfig": extraConfig,
			"services": map[string]any{
				// The chart generates the service's API token into the hub
				// secret, where the Dask Gateway chart reads it.
				"dask-gateway": map[string]any{"url": "http://" + gatewayTraefik + "." + ns, "display": false},
			},
			"loadRoles": map[string]any{
				// Users' tokens must reach the gateway service to sign in to it.
				"user": map[string]any{"scopes": []any{"self", "access:services"}},
			},
			"serviceAccount": map[string]any{"create": true, "name": HubServiceAccount},
			"initContainers": []any{map[string]any{
				"name":  "cognito-client-secret",
				"image": versions.AwsCliImage,
				"command": []any{"sh", "-c",
					"aws cognito-idp describe-user-pool-client --region \"$REGION\" --user-pool-id \"$POOL\" --client-id \"$CLIENT\" " +
						"--query UserPoolClient.ClientSecret --output text > " + secretDir + "/client_secret"},
				"env": []any{
					map[string]any{"name": "REGION", "value": in.Region},
					map[string]any{"name": "POOL", "value": in.UserPoolID},
					map[string]any{"name": "CLIENT", "value": in.ClientID},
					map[string]any{"name": "HOME", "value": "/tmp"},
				},
				"securityContext": map[string]any{"runAsUser": 1000, "runAsGroup": 1000, "allowPrivilegeEscalation": false},
				"volumeMounts":    []any{map[string]any{"name": "cognito-secret", "mountPath": secretDir}},
			}},
			"extraVolumes":      []any{map[string]any{"name": "cognito-secret", "emptyDir": map[string]any{"medium": "Memory", "sizeLimit": "1Mi"}}},
			"extraVolumeMounts": []any{map[string]any{"name": "cognito-secret", "mountPath": secretDir, "readOnly": true}},
		},
		"proxy": map[string]any{
			"service": proxyService,
			"https":   https,
		},
		"singleuser": map[string]any{
			"profileList":        profileList(d),
			"serviceAccountName": UserServiceAccount,
			// KubeSpawner expands label values with the user's
			// properties (_expand_all in get_pod_manifest, kubespawner/
			// spawner.py@7.0.0); the username is the sub.
			"extraLabels":  map[string]any{UserLabel: "{unescaped_username}"},
			"startTimeout": d.SpawnTimeoutSeconds,
			"storage": map[string]any{
				"type":          "dynamic",
				"capacity":      "10Gi", // EFS ignores it; Kubernetes requires one.
				"homeMountPath": storage.HomeMountPath,
				"dynamic": map[string]any{
					"storageClass":       HomeStorageClass,
					"storageAccessModes": []any{"ReadWriteMany"},
				},
				"extraVolumes": []any{
					map[string]any{"name": "shared", "persistentVolumeClaim": map[string]any{"claimName": SharedClaim}},
					shm,
				},
				"extraVolumeMounts": []any{
					map[string]any{"name": "shared", "mountPath": storage.SharedMountPath},
					map[string]any{"name": "dshm", "mountPath": "/dev/shm"},
				},
			},
			"extraEnv": kubespawnerLiterals(ServerEnv(cfg)),
			"networkPolicy": map[string]any{
				// Servers talk to their Dask schedulers through the
				// gateway's proxy, a private address in the namespace.
				"egress": []any{map[string]any{"to": []any{map[string]any{"podSelector": map[string]any{}}}}},
			},
		},
		"scheduling": map[string]any{
			// The hub's database volume is zonal: the hub (and proxy) run
			// only on core nodes, which all sit in daskhub.coreZone, so the
			// volume is made there and always has a node to return to.
			"corePods": map[string]any{"nodeAffinity": map[string]any{"matchNodePurpose": "require"}},
			// Placeholders would keep nodes running for nobody; user groups
			// scale from zero instead.
			"userPlaceholder": map[string]any{"enabled": false, "replicas": 0},
			// The chart's kube-scheduler is years behind the clusters we
			// make; run the one of the cluster's own version (the stack adds
			// the permissions the chart's role lacks for it).
			"userScheduler": map[string]any{
				"enabled": true,
				// One replica where the core group may shrink to one node
				// (config.Daskhub.CoreReplicas); the chart runs two.
				"replicas":       d.CoreReplicas(),
				"image":          map[string]any{"tag": versions.Kubernetes[d.KubernetesVersion].KubeSchedulerImage},
				"serviceAccount": map[string]any{"create": true, "name": UserSchedulerServiceAccount},
			},
		},
		// Pre-pulling images would start every user node at each upgrade.
		"prePuller": map[string]any{
			"hook":       map[string]any{"enabled": false},
			"continuous": map[string]any{"enabled": false},
		},
		"cull": map[string]any{
			"enabled": true,
			"timeout": d.Culling.IdleTimeoutMinutes * 60,
			"every":   d.Culling.EveryMinutes * 60,
			"maxAge":  d.Culling.MaxAgeHours * 3600,
			"users":   false,
		},
	}
}

// gpuWorker is the size of a GPU Dask worker: one GPU and most of the
// node, leaving room for the system and the node's daemons.
func gpuWorker(g config.NodeGroup) (cores int, memoryGiB float64) {
	it := g.GroupInstanceType()
	cores = max(1, it.VCPU-1)
	memoryGiB = math.Floor(it.MemoryGiB * 0.75)
	return cores, memoryGiB
}

// DaskGateway is the Dask Gateway chart's values.
func DaskGateway(cfg *config.Config) map[string]any {
	d := &cfg.Daskhub
	dk := &d.Dask
	cpuSel, cpuTol := selector(d.NodeGroups[dk.WorkerNodeGroup])
	schedSel, schedTol := selector(d.NodeGroups[dk.SchedulerNodeGroup])
	settings := map[string]any{
		"cpu":             map[string]any{"node_selector": cpuSel, "tolerations": nonNil(cpuTol)},
		"scheduler":       map[string]any{"node_selector": schedSel, "tolerations": nonNil(schedTol)},
		"max_cores":       dk.MaxWorkerCores,
		"max_memory_gib":  dk.MaxWorkerMemoryGib,
		"shm_fraction":    dk.ShmFraction,
		"service_account": UserServiceAccount,
		"team_accounts":   TeamAccounts(cfg),
		"user_label":      UserLabel,
		"team_label":      TeamLabel,
		"default_image":   defaultImage(d),
	}
	profiles := []string{"cpu"}
	if dk.GPUWorkerNodeGroup != "" {
		g := d.NodeGroups[dk.GPUWorkerNodeGroup]
		sel, tol := selector(g)
		cores, mem := gpuWorker(g)
		settings["gpu"] = map[string]any{"node_selector": sel, "tolerations": nonNil(tol), "cores": cores, "memory_gib": mem}
		profiles = append(profiles, "gpu")
	}
	settings["profiles"] = profiles

	options := strings.Replace(gatewayOptionsPy, "__SETTINGS__", pyJSON(settings), 1)
	limits := fmt.Sprintf("c.ClusterConfig.idle_timeout = %d\n"+
		"c.ClusterConfig.cluster_max_cores = %d\n"+
		"c.ClusterConfig.cluster_max_memory = %d\n"+
		"c.ClusterConfig.cluster_max_workers = %d\n",
		dk.IdleTimeoutMinutes*60, dk.MaxCoresPerCluster, int64(dk.MaxMemoryGibPerCluster)<<30, dk.MaxWorkersPerCluster)

	return map[string]any{
		"gateway": map[string]any{
			"prefix": GatewayPrefix,
			"auth": map[string]any{
				"type": "jupyterhub",
				"jupyterhub": map[string]any{
					"apiUrl":                 ProxyURL(cfg) + "/hub/api",
					"apiTokenFromSecretName": "hub",
					"apiTokenFromSecretKey":  "hub.services.dask-gateway.apiToken",
				},
			},
			"extraConfig": map[string]any{
				"10-options":        options,
				"20-limits":         limits,
				"30-cluster-policy": clusterPolicyPy,
			},
		},
		"traefik": map[string]any{"service": map[string]any{"type": "ClusterIP"}},
	}
}

func nonNil(l []any) []any {
	if l == nil {
		return []any{}
	}
	return l
}

func defaultImage(d *config.Daskhub) string {
	names := ProfileNames(d)
	for _, n := range names {
		if d.Profiles[n].Default {
			return d.Profiles[n].Image
		}
	}
	if len(names) == 0 {
		return ""
	}
	return d.Profiles[names[0]].Image
}

// GPUGroups lists the node groups of GPU machines, by name.
func GPUGroups(d *config.Daskhub) []string {
	var out []string
	for _, n := range slices.Sorted(maps.Keys(d.NodeGroups)) {
		if d.NodeGroups[n].GPU {
			out = append(out, n)
		}
	}
	return out
}

// NvidiaDevicePlugin is the device plugin chart's values: it runs on every
// GPU group, tolerating each of their taints (a plugin that does not run on
// a group leaves its GPUs invisible to Kubernetes).
func NvidiaDevicePlugin(cfg *config.Config) map[string]any {
	d := &cfg.Daskhub
	var names []any
	seen := map[string]bool{}
	tolerations := []any{map[string]any{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}}
	for _, n := range GPUGroups(d) {
		names = append(names, NodegroupName(cfg, n))
		for _, t := range d.NodeGroups[n].Taints {
			key := t.Key + "=" + t.Value + ":" + t.Effect
			if !seen[key] {
				seen[key] = true
				tolerations = append(tolerations, toleration(t))
			}
		}
	}
	return map[string]any{
		"tolerations": tolerations,
		// The chart's own affinity looks for labels of NVIDIA's feature
		// discovery, which EKS nodes do not have: select by node group.
		"affinity": map[string]any{"nodeAffinity": map[string]any{"requiredDuringSchedulingIgnoredDuringExecution": map[string]any{
			"nodeSelectorTerms": []any{map[string]any{"matchExpressions": []any{map[string]any{
				"key": "eks.amazonaws.com/nodegroup", "operator": "In", "values": names,
			}}}},
		}}},
	}
}

// ClusterAutoscaler is the Cluster Autoscaler chart's values: it finds the
// managed node groups by their auto scaling groups' tags, scales them from
// zero knowing their labels, taints and GPUs, and prefers spot groups,
// falling back to the others when spot capacity is short.
func ClusterAutoscaler(cfg *config.Config, clusterName, region string) map[string]any {
	d := &cfg.Daskhub
	var spot []any
	for _, n := range slices.Sorted(maps.Keys(d.NodeGroups)) {
		if d.NodeGroups[n].Capacity == "spot" {
			spot = append(spot, "^eks-"+regexp.QuoteMeta(NodegroupName(cfg, n))+"-[0-9a-f-]+$")
		}
	}
	priorities := map[string]any{"10": []any{".*"}}
	if len(spot) > 0 {
		priorities["50"] = spot
	}
	core := map[string]any{}
	for _, n := range slices.Sorted(maps.Keys(d.NodeGroups)) {
		if g := d.NodeGroups[n]; g.Purpose == "core" {
			core, _ = selector(g)
			break
		}
	}
	return map[string]any{
		"cloudProvider": "aws",
		"awsRegion":     region,
		"autoDiscovery": map[string]any{"clusterName": clusterName},
		"image":         map[string]any{"tag": versions.Kubernetes[d.KubernetesVersion].ClusterAutoscalerImage},
		"rbac":          map[string]any{"serviceAccount": map[string]any{"create": false, "name": AutoscalerServiceAccount}},
		"nodeSelector":  core,
		"extraArgs": map[string]any{
			"expander":                      "priority,least-waste",
			"balance-similar-node-groups":   true,
			"skip-nodes-with-local-storage": false,
			"scale-down-unneeded-time":      "10m",
		},
		"expanderPriorities": priorities,
	}
}

// NodeTemplateTags are the tags the Cluster Autoscaler reads to plan a
// node of an empty group: its labels, taints and GPUs.
func NodeTemplateTags(g config.NodeGroup) map[string]string {
	const p = "k8s.io/cluster-autoscaler/node-template/"
	tags := map[string]string{}
	for k, v := range g.Labels {
		tags[p+"label/"+k] = v
	}
	for _, t := range g.Taints {
		tags[p+"taint/"+t.Key] = t.Value + ":" + t.Effect
	}
	if n := g.GroupInstanceType().GPUs; g.GPU && n > 0 {
		tags[p+"resources/nvidia.com/gpu"] = strconv.Itoa(n)
	}
	return tags
}

// TeamAccounts maps each team to the service account whose Pod Identity
// role adds the team's buckets to what every user may reach. Teams have
// accounts only with the data component, which owns those buckets.
func TeamAccounts(cfg *config.Config) map[string]string {
	out := map[string]string{}
	if !cfg.Data.Enabled {
		return out
	}
	for team := range cfg.Teams {
		out[team] = TeamServiceAccount(team)
	}
	return out
}

// TeamServiceAccount is the service account of a team's servers and workers.
func TeamServiceAccount(team string) string { return "heliocloud-team-" + team }

// hubProfilesPy offers each user the profiles their teams may use (admins
// all of them) and, to members of teams, a choice of the team whose data
// the server reaches. KubeSpawner checks a request against the list it
// offered the user, so neither can be forged from the browser.
const hubProfilesPy = `import copy
import json

_profile_teams = json.loads(__PROFILE_TEAMS__)
_team_accounts = json.loads(__TEAM_ACCOUNTS__)
_all_profiles = c.KubeSpawner.profile_list


def _profiles_for(spawner):
    groups = {g.name for g in spawner.user.groups}
    teams = sorted(t for t in _team_accounts if t in groups)
    offered = []
    for profile in _all_profiles:
        allowed = _profile_teams.get(profile["slug"])
        if allowed and __ADMINS__ not in groups and not groups.intersection(allowed):
            continue
        profile = copy.deepcopy(profile)
        if teams:
            profile["profile_options"] = {"team": {
                "display_name": "Data of team",
                "choices": {t: {"display_name": t, "default": i == 0,
                                "kubespawner_override": {
                                    "service_account": _team_accounts[t],
                                    "extra_labels": {__USER_LABEL__: "{unescaped_username}", __TEAM_LABEL__: t},
                                }}
                            for i, t in enumerate(teams)},
            }}
        offered.append(profile)
    return offered


c.KubeSpawner.profile_list = _profiles_for
`

// AuthRefreshSeconds is how old a user's sign-in may grow at the hub before
// the hub asks Cognito again. A running server reports activity for its
// user every 5 minutes (JUPYTERHUB_ACTIVITY_INTERVAL, jupyterhub/singleuser
// at 5.5.0) and every request in that user's name refreshes a sign-in
// older than this (BaseHandler.get_current_user and refresh_auth in
// jupyterhub/handlers/base.py@5.5.0), so a server in use is checked within
// about ten minutes even with its browser closed. A server with no new
// activity sends nothing (notify_activity in jupyterhub/singleuser/
// extension.py@5.5.0) and is culled when idle.
const AuthRefreshSeconds = 300

// hubRefreshPy is the authenticator's refresh_user_hook (OAuthenticator
// 17.4.0, oauthenticator/oauth2.py): it trades the stored refresh token at
// Cognito's token endpoint for a new ID token, whose groups replace the
// user's (admins and teams). OAuthenticator's own refresh would re-read the
// stored ID token (refresh_user and token_to_user with
// userdata_from_id_token), which never shows a new group and, once expired,
// fails with a 500 rather than asking again.
//
//   - Cognito refuses the token (the user was disabled, signed out
//     everywhere, deleted, or is no longer approved: the pre-token trigger
//     runs on refresh too): the user must sign in again, which Cognito
//     refuses, and their running servers are stopped.
//   - The new groups lack the team whose service account a running server
//     uses: that server is stopped.
//   - Cognito cannot be reached: the error is raised, so the request fails
//     and the next one asks again; nothing is granted meanwhile.
//
// The user's Dask clusters go the same way as their servers: all of them
// when Cognito refuses, those running with a team's account when they
// left that team. The hook deletes their DaskCluster objects (the
// gateway's pods and network policy are owned by them, so Kubernetes
// removes those), through the Role stacks.hubDaskClustersRole gives the
// hub. A failure to reach Kubernetes is logged as an error and does not
// change the sign-in's outcome.
//
// A user signed in before auth state was kept has no refresh token and
// signs in again, keeping their servers.
const hubRefreshPy = `import asyncio
import json

from kubespawner.clients import load_config as _k8s_load_config, shared_client as _k8s_shared_client
from tornado.httpclient import HTTPClientError
from tornado.web import HTTPError

_refresh_team_accounts = json.loads(__TEAM_ACCOUNTS__)
_refresh_dask = json.loads(__DASK__)


async def _stop_dask_clusters(authenticator, user, why, keep_team=lambda team: False):
    """Deletes the user's DaskCluster objects, but those whose team (the
    label the gateway's options handler gives their pods, kept in the
    object's config) keep_team approves."""
    try:
        _k8s_load_config()
        api = _k8s_shared_client("CustomObjectsApi")
        where = ("gateway.dask.org", _refresh_dask["version"], _refresh_dask["namespace"], "daskclusters")
        found = await api.list_namespaced_custom_object(*where)
        for cluster in found.get("items", []):
            spec = cluster.get("spec") or {}
            if spec.get("username") != user.name:
                continue
            labels = (spec.get("config") or {}).get("worker_extra_pod_labels") or {}
            if keep_team(labels.get(_refresh_dask["team_label"], "")):
                continue
            name = cluster["metadata"]["name"]
            authenticator.log.warning("Stopping Dask cluster %s of %s: %s", name, user.name, why)
            await api.delete_namespaced_custom_object(*where, name)
    except Exception:
        authenticator.log.exception("Cannot stop the Dask clusters of %s (%s)", user.name, why)


def _stop_servers(authenticator, user, why, keep=lambda spawner: False):
    for name, spawner in list(user.spawners.items()):
        if spawner.ready and not keep(spawner):
            authenticator.log.warning("Stopping server %r of %s: %s", name, user.name, why)
            asyncio.ensure_future(user.stop(name))


async def _refresh_from_cognito(authenticator, user, auth_state):
    refresh_token = (auth_state or {}).get("refresh_token")
    if not refresh_token:
        return False
    params = authenticator.build_refresh_token_request_params(refresh_token)
    try:
        token_info = await authenticator.get_token_info(None, params)
    except (HTTPClientError, HTTPError) as e:
        code = getattr(e, "code", None) or getattr(e, "status_code", 0)
        if 400 <= code < 500:
            why = "Cognito refused to renew their sign-in (%d)" % code
            _stop_servers(authenticator, user, why)
            await _stop_dask_clusters(authenticator, user, why)
            return False
        raise
    if not token_info.get("refresh_token"):
        token_info["refresh_token"] = refresh_token
    model = await authenticator._token_to_auth_model(token_info)
    groups = set(model.get("groups") or ())
    team_accounts = set(_refresh_team_accounts.values())
    theirs = {a for t, a in _refresh_team_accounts.items() if t in groups}
    why = "no longer a member of the team whose data it reaches"
    _stop_servers(authenticator, user, why,
                  keep=lambda s: s.service_account not in team_accounts or s.service_account in theirs)
    await _stop_dask_clusters(authenticator, user, why, keep_team=lambda team: not team or team in groups)
    return model


c.GenericOAuthenticator.refresh_user_hook = _refresh_from_cognito
`

// DaskClusterVersion is the version of the DaskCluster resource the
// gateway makes (KubeBackend.crd_version's default, "v1alpha1", in
// dask-gateway-server/dask_gateway_server/backends/kubernetes/backend.py
// at 2025.4.0; the chart does not set it).
const DaskClusterVersion = "v1alpha1"

// ClusterLabel is the label Dask Gateway 2025.4.0 puts on every pod of one
// Dask cluster, valued with the cluster's name (get_labels in
// dask-gateway-server/dask_gateway_server/backends/kubernetes/controller.py).
const ClusterLabel = "gateway.dask.org/cluster"

// clusterPolicyPy gives each Dask cluster a NetworkPolicy that lets its own
// scheduler and workers reach each other, and nobody else. The static
// policy (stacks/daskhub_netpol.go) admits to Dask pods only the gateway's
// API and proxy, so a cluster without its policy is cut off, never open:
// the policy is written by the gateway itself, as it creates the cluster,
// and a cluster whose policy cannot be written is deleted and the user told
// why (PublicException, which routes.py answers with 422 and its text).
//
// It extends the KubeBackend of dask-gateway-server 2025.4.0
// (backends/kubernetes/backend.py): start_cluster creates the DaskCluster
// object and returns "<namespace>.<name>"; the chart sets backend_class
// before running extraConfig (templates/gateway/configmap.yaml), so this
// class replaces it. The policy is owned by the DaskCluster object, so
// Kubernetes deletes it with the cluster (the controller deletes finished
// clusters after completedClusterMaxAge). The gateway's service account may
// create policies through the Role in stacks/daskhub_netpol.go. The API
// clients are those of kubernetes_asyncio 32.3.0, which the gateway image
// installs (Dockerfile.requirements.txt@2025.4.0).
const clusterPolicyPy = `from dask_gateway_server.backends.base import PublicException
from dask_gateway_server.backends.kubernetes import KubeBackend
from kubernetes_asyncio import client as _k8s_client

_CLUSTER_LABEL = "` + ClusterLabel + `"


def _cluster_policy(cluster):
    name = cluster["metadata"]["name"]
    own = {"podSelector": {"matchLabels": {_CLUSTER_LABEL: name}}}
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {
            "name": "dask-cluster-" + name,
            "labels": {_CLUSTER_LABEL: name},
            "ownerReferences": [{
                "apiVersion": cluster["apiVersion"],
                "kind": cluster["kind"],
                "name": name,
                "uid": cluster["metadata"]["uid"],
            }],
        },
        "spec": {
            "podSelector": own["podSelector"],
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [{"from": [own]}],
            "egress": [{"to": [own]}],
        },
    }


class HelioCloudKubeBackend(KubeBackend):
    """KubeBackend that fences every cluster off from the others."""

    async def start_cluster(self, user, cluster_options):
        cluster_name = await super().start_cluster(user, cluster_options)
        namespace, name = cluster_name.split(".")
        args = ("gateway.dask.org", self.crd_version, namespace, "daskclusters", name)
        try:
            cluster = await self.custom_client.get_namespaced_custom_object(*args)
            policies = _k8s_client.NetworkingV1Api(api_client=self.api_client)
            await policies.create_namespaced_network_policy(namespace, _cluster_policy(cluster))
        except Exception as exc:
            self.log.exception("Cannot write the network policy of cluster %s; deleting the cluster", cluster_name)
            try:
                await self.custom_client.delete_namespaced_custom_object(*args)
            except Exception:
                self.log.exception("Cannot delete cluster %s", cluster_name)
            raise PublicException("The cluster could not be isolated from other users' clusters, so it was not "
                                  "started; please tell your administrator (gateway log: %s)" % type(exc).__name__)
        return cluster_name


c.DaskGateway.backend_class = HelioCloudKubeBackend
`

// gatewayOptionsPy is what users may set on a Dask cluster and how it
// becomes pods: CPU workers sized by the user within the limits, GPU
// workers sized to their node, both on their groups (tolerating the
// groups' taints) with /dev/shm a share of their memory; schedulers on
// their on-demand group; all with the service account of the user's team
// (the first, or the one asked for, which must be theirs) or the users',
// and labelled with the user and that team (UserLabel, TeamLabel).
const gatewayOptionsPy = `import json
from dask_gateway_server.options import Float, Integer, Options, Select, String

_h = json.loads(__SETTINGS__)


def _team(team, user):
    mine = sorted(t for t in _h["team_accounts"] if t in user.groups)
    team = team or (mine[0] if mine else "")
    if team and team not in mine:
        raise ValueError("%s is not a member of team %r" % (user.name, team))
    return team


def _options(options, user):
    team = _team(options.team, user)
    account = _h["team_accounts"][team] if team else _h["service_account"]
    if options.profile == "gpu":
        sel = _h["gpu"]
        cores, memory = sel["cores"], sel["memory_gib"]
    else:
        sel = _h["cpu"]
        cores, memory = options.worker_cores, options.worker_memory
    shm = max(1, int(memory * _h["shm_fraction"] * 1024))
    labels = {_h["user_label"]: user.name}
    if team:
        labels[_h["team_label"]] = team
    pod = {
        "nodeSelector": sel["node_selector"],
        "tolerations": sel["tolerations"],
        "serviceAccountName": account,
        "volumes": [{"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": "%dMi" % shm}}],
    }
    container = {"volumeMounts": [{"name": "dshm", "mountPath": "/dev/shm"}]}
    if options.profile == "gpu":
        container["resources"] = {"limits": {"nvidia.com/gpu": "1"}}
    scheduler = _h["scheduler"]
    return {
        "image": options.image,
        "worker_cores": cores,
        "worker_cores_limit": cores,
        "worker_memory": int(memory * 2**30),
        "worker_memory_limit": int(memory * 2**30),
        "worker_extra_pod_config": pod,
        "worker_extra_pod_labels": labels,
        "scheduler_extra_pod_labels": labels,
        "worker_extra_container_config": container,
        "scheduler_extra_pod_config": {
            "nodeSelector": scheduler["node_selector"],
            "tolerations": scheduler["tolerations"],
            "serviceAccountName": account,
        },
    }


c.Backend.cluster_options = Options(
    Integer("worker_cores", default=1, min=1, max=_h["max_cores"], label="Worker cores (CPU workers)"),
    Float("worker_memory", default=4, min=1, max=_h["max_memory_gib"], label="Worker memory in GiB (CPU workers)"),
    Select("profile", _h["profiles"], default="cpu", label="Worker kind"),
    String("image", default=_h["default_image"], label="Image"),
    String("team", default="", label="Team whose data workers reach (default: your first team)"),
    handler=_options,
)
`
