package checks

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/budgets"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/efs"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/heliocloud/heliocloud-go/config"
	"github.com/heliocloud/heliocloud-go/daskhub/values"
)

// Stack outputs the doctor reads, by the construct ids the stacks give
// their CfnOutputs (stacks/<component>.go); a test synthesizes the stacks
// and checks that each is there.
const (
	OutputUserPoolID      = "UserPoolId"      // stacks/auth.go
	OutputSignInURL       = "SignInUrl"       // stacks/auth.go
	OutputClusterName     = "ClusterName"     // stacks/daskhub.go
	OutputFileSystemID    = "FileSystemId"    // stacks/daskhub_hub.go
	OutputHubURL          = "HubUrl"          // stacks/daskhub_hub.go
	OutputDeadLetterQueue = "DeadLetterQueue" // stacks/registry.go
	OutputPortalURL       = "PortalUrl"       // stacks/portal.go
)

// stackState is what CloudFormation says of one deployed stack.
type stackState struct {
	name, status, reason string
	outputs              map[string]string
	// resources are physical ids by resource type.
	resources map[string][]string
	missing   bool
	err       error
}

type doctor struct {
	cfg    *config.Config
	env    *Env
	region string
	stacks map[string]*stackState

	clusterOnce sync.Once
	cluster     *clusterState
}

// clusterState is the EKS cluster as the Kubernetes checks need it.
type clusterState struct {
	name, arn string
	subnets   []string
	kube      *kube
	err       error
}

// Doctor reads the instance's stacks from CloudFormation and lists the
// checks of each enabled component, end to end.
func Doctor(ctx context.Context, cfg *config.Config, env *Env) []Check {
	d := &doctor{cfg: cfg, env: env, region: Region(cfg, env), stacks: map[string]*stackState{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, comp := range cfg.EnabledComponents() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := d.readStack(ctx, comp)
			mu.Lock()
			d.stacks[comp] = s
			mu.Unlock()
		}()
	}
	wg.Wait()

	var out []Check
	for _, comp := range cfg.EnabledComponents() {
		s := d.stacks[comp]
		out = append(out, Check{"stack " + s.name, func(context.Context) (Status, string, error) { return d.stackStatus(s) }})
	}
	add := func(comp, name string, run func(context.Context, *stackState) (Status, string, error)) {
		if !cfg.Enabled(comp) {
			return
		}
		s := d.stacks[comp]
		out = append(out, Check{name, func(ctx context.Context) (Status, string, error) {
			if s.missing || s.err != nil {
				return skip("stack %s is not usable (see its line)", s.name)
			}
			return run(ctx, s)
		}})
	}
	add("base", "budget", d.budget)
	add("auth", "sign-in metadata", d.signInMetadata)
	add("daskhub", "kubernetes api", d.kubeAPI)
	add("daskhub", "hub health", d.hubHealth)
	add("daskhub", "hub sign-in", d.hubSignIn)
	add("daskhub", "gateway api", d.gateway)
	add("daskhub", "autoscaler", d.autoscaler)
	add("daskhub", "gpu device plugin", d.devicePlugin)
	add("daskhub", "pod s3 access", d.podS3)
	add("daskhub", "efs mount targets", d.efsMounts)
	add("registry", "registry queues", d.registryQueues)
	add("portal", "portal reachable", d.portal)
	if cfg.Portal.HubCosts.Enabled && cfg.Daskhub.Enabled {
		add("portal", "hub costs data", d.hubCosts)
	}
	return out
}

func (d *doctor) readStack(ctx context.Context, component string) *stackState {
	s := &stackState{name: config.StackName(d.cfg.Name, component), outputs: map[string]string{}, resources: map[string][]string{}}
	cf := cloudformation.NewFromConfig(d.env.AWS, func(o *cloudformation.Options) { o.Region = d.region })
	out, err := cf.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(s.name)})
	if err != nil {
		if errorCode(err) == "ValidationError" && strings.Contains(err.Error(), "does not exist") {
			s.missing = true
		} else {
			s.err = err
		}
		return s
	}
	if len(out.Stacks) == 0 {
		s.missing = true
		return s
	}
	st := out.Stacks[0]
	s.status, s.reason = string(st.StackStatus), aws.ToString(st.StackStatusReason)
	for _, o := range st.Outputs {
		s.outputs[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
	}
	pages := cloudformation.NewListStackResourcesPaginator(cf, &cloudformation.ListStackResourcesInput{StackName: aws.String(s.name)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			s.err = err
			return s
		}
		for _, r := range page.StackResourceSummaries {
			t := aws.ToString(r.ResourceType)
			s.resources[t] = append(s.resources[t], aws.ToString(r.PhysicalResourceId))
		}
	}
	return s
}

func (d *doctor) stackStatus(s *stackState) (Status, string, error) {
	deploy := fmt.Sprintf("npx cdk deploy %s --context instance=%s", s.name, d.cfg.Name)
	switch {
	case s.err != nil:
		return Fail, "", s.err
	case s.missing:
		return fail("not deployed in %s: %s", d.region, deploy)
	case s.status == "CREATE_COMPLETE" || s.status == "UPDATE_COMPLETE":
		return pass("%s", s.status)
	case s.status == "UPDATE_ROLLBACK_COMPLETE":
		return fail("the last update rolled back, so the stack runs the version before it: read the stack's events for the first failure, fix it and %s", deploy)
	case strings.HasSuffix(s.status, "_IN_PROGRESS"):
		return fail("%s: a deploy is running; run the doctor again when it has finished", s.status)
	}
	return fail("%s (%s): read the stack's events in the CloudFormation console for the first failure, fix it and %s", s.status, s.reason, deploy)
}

func (d *doctor) output(s *stackState, key string) (string, error) {
	v := s.outputs[key]
	if v == "" {
		return "", fmt.Errorf("stack %s has no output %s: deploy it again with this version of the deployer", s.name, key)
	}
	return v, nil
}

func (d *doctor) budget(ctx context.Context, s *stackState) (Status, string, error) {
	limit := d.cfg.Base.Budget.MonthlyLimitUsd
	if limit <= 0 {
		return skip("base.budget.monthlyLimitUsd is 0")
	}
	names := s.resources["AWS::Budgets::Budget"]
	if len(names) == 0 {
		return fail("stack %s has no budget although base.budget.monthlyLimitUsd is %g: deploy it again", s.name, limit)
	}
	who, err := sts.NewFromConfig(d.env.AWS, func(o *sts.Options) { o.Region = d.region }).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return Fail, "", err
	}
	out, err := budgets.NewFromConfig(d.env.AWS, func(o *budgets.Options) { o.Region = billingRegion }).DescribeBudget(ctx, &budgets.DescribeBudgetInput{
		AccountId: who.Account, BudgetName: aws.String(names[0]),
	})
	if errorCode(err) == "NotFoundException" {
		return fail("budget %s is in the stack but not in AWS Budgets (deleted by hand?): deploy %s again", names[0], s.name)
	}
	if err != nil {
		return Fail, "", err
	}
	b := out.Budget
	amount, _ := strconv.ParseFloat(aws.ToString(b.BudgetLimit.Amount), 64)
	if amount != limit {
		return fail("budget %s allows $%g a month but the instance file says $%g: deploy %s again", names[0], amount, limit, s.name)
	}
	spent := ""
	if b.CalculatedSpend != nil && b.CalculatedSpend.ActualSpend != nil {
		spent = fmt.Sprintf(", $%s spent this month", aws.ToString(b.CalculatedSpend.ActualSpend.Amount))
	}
	return pass("%s: $%g a month%s", names[0], limit, spent)
}

// getJSON fetches url with the plain HTTP client and decodes a JSON body.
func (d *doctor) getJSON(ctx context.Context, u string, v any) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, err
	}
	resp, err := d.env.http().Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, nil
	}
	return resp.StatusCode, json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(v)
}

// head GETs a public page without following redirects and returns its
// status and headers.
func (d *doctor) head(ctx context.Context, u string) (int, http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, nil, err
	}
	resp, err := d.env.http().Do(req)
	if err != nil {
		return 0, nil, err
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header, nil
}

// discovery is the part of an OpenID Connect discovery document we check.
type discovery struct {
	Issuer                string `json:"issuer"`
	AuthorizationEndpoint string `json:"authorization_endpoint"`
	JwksURI               string `json:"jwks_uri"`
}

func (d *doctor) signInMetadata(ctx context.Context, s *stackState) (Status, string, error) {
	pool, err := d.output(s, OutputUserPoolID)
	if err != nil {
		return Fail, "", err
	}
	base, err := d.output(s, OutputSignInURL)
	if err != nil {
		return Fail, "", err
	}
	issuer := d.env.issuer(d.region, pool)
	var doc discovery
	status, err := d.getJSON(ctx, issuer+"/.well-known/openid-configuration", &doc)
	switch {
	case err != nil:
		return fail("the pool's OpenID Connect discovery document at %s/.well-known/openid-configuration: %v", issuer, err)
	case status != http.StatusOK:
		return fail("the pool's OpenID Connect discovery answers HTTP %d at %s: does user pool %s still exist? (output %s of %s)", status, issuer, pool, OutputUserPoolID, s.name)
	case doc.Issuer != issuer:
		return fail("the discovery document names issuer %q, not %q", doc.Issuer, issuer)
	case doc.JwksURI == "":
		return fail("the discovery document lists no jwks_uri: clients cannot verify tokens")
	case doc.AuthorizationEndpoint == "":
		return fail("the pool has no hosted sign-in domain (no authorization_endpoint in its discovery document): deploy %s again", s.name)
	case doc.AuthorizationEndpoint != base+"/oauth2/authorize":
		// Cognito may name the prefix domain where a custom one is in use.
		return warn("the pool's discovery document sends browsers to %s, the stack's output %s says %s", doc.AuthorizationEndpoint, OutputSignInURL, base)
	}
	return pass("issuer %s, sign-in at %s", issuer, base)
}

// clusterFor describes the EKS cluster once and builds its Kubernetes client.
func (d *doctor) clusterFor(ctx context.Context, s *stackState) *clusterState {
	d.clusterOnce.Do(func() {
		c := &clusterState{}
		d.cluster = c
		name, err := d.output(s, OutputClusterName)
		if err != nil {
			c.err = err
			return
		}
		c.name = name
		out, err := eks.NewFromConfig(d.env.AWS, func(o *eks.Options) { o.Region = d.region }).DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String(name)})
		if err != nil {
			c.err = fmt.Errorf("describing cluster %s: %w", name, err)
			return
		}
		cl := out.Cluster
		c.arn = aws.ToString(cl.Arn)
		if cl.ResourcesVpcConfig != nil {
			c.subnets = cl.ResourcesVpcConfig.SubnetIds
		}
		if cl.Status != "ACTIVE" {
			c.err = fmt.Errorf("cluster %s is %s, not ACTIVE", name, cl.Status)
			return
		}
		token, err := eksToken(ctx, d.env.AWS, d.region, name)
		if err != nil {
			c.err = err
			return
		}
		ca := ""
		if cl.CertificateAuthority != nil {
			ca = aws.ToString(cl.CertificateAuthority.Data)
		}
		c.kube, c.err = newKube(aws.ToString(cl.Endpoint), ca, token)
	})
	return d.cluster
}

// kubeGet is a GET on the cluster's API that turns the usual refusals into
// reasons naming the fix.
func (d *doctor) kubeGet(ctx context.Context, s *stackState, path string) (int, http.Header, []byte, error) {
	c := d.clusterFor(ctx, s)
	if c.err != nil {
		return 0, nil, nil, c.err
	}
	status, h, body, err := c.kube.get(ctx, path)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("cannot reach the Kubernetes API of %s (%v): with daskhub.endpoint.access private, run the doctor from inside the VPC; else add your network to daskhub.endpoint.publicCidrs", c.name, err)
	}
	if status == http.StatusUnauthorized || status == http.StatusForbidden {
		return 0, nil, nil, fmt.Errorf("the Kubernetes API of %s refuses your credentials (HTTP %d): add your IAM role's ARN to daskhub.admins and deploy %s", c.name, status, s.name)
	}
	return status, h, body, nil
}

func (d *doctor) kubeAPI(ctx context.Context, s *stackState) (Status, string, error) {
	status, _, body, err := d.kubeGet(ctx, s, "/version")
	if err != nil {
		return Fail, "", err
	}
	if status != http.StatusOK {
		return fail("GET /version answered HTTP %d", status)
	}
	var v struct {
		GitVersion string `json:"gitVersion"`
	}
	_ = json.Unmarshal(body, &v)
	return pass("%s answers, Kubernetes %s", d.cluster.name, v.GitVersion)
}

// proxyPublic is where pods reach the hub: the port of proxy-public that
// values.ProxyURL names, the address the notebooks' Dask Gateway client
// uses too (80 without a domain, 443 carrying plain HTTP with one).
func (d *doctor) proxyPublic(path string) string {
	return serviceProxy(d.cfg.Daskhub.Namespace, "proxy-public", values.ProxyPortName(d.cfg), path)
}

// hubHealth asks JupyterHub's /hub/health, which the z2jh 4.4.0 chart
// probes (templates/hub/deployment.yaml), through the hub's proxy: from
// inside the cluster and, with a domain, from the internet.
func (d *doctor) hubHealth(ctx context.Context, s *stackState) (Status, string, error) {
	status, _, body, err := d.kubeGet(ctx, s, d.proxyPublic("/hub/health"))
	if err != nil {
		return Fail, "", err
	}
	if status != http.StatusOK {
		return fail("the hub behind proxy-public answers HTTP %d at /hub/health (%s): kubectl -n %s get pods; kubectl -n %s logs deploy/hub", status, snippet(body), d.cfg.Daskhub.Namespace, d.cfg.Daskhub.Namespace)
	}
	host := d.cfg.Daskhub.Domain.Host()
	if host == "" {
		return pass("healthy through proxy-public (no domain: users reach it with kubectl port-forward)")
	}
	hub, err := d.output(s, OutputHubURL)
	if err != nil {
		return Fail, "", err
	}
	status, _, err = d.head(ctx, hub+"/hub/health")
	if err != nil {
		return fail("healthy inside the cluster, but %s/hub/health is unreachable (%v): check that %s points at the load balancer (output HubLoadBalancer of %s)", hub, err, host, s.name)
	}
	if status != http.StatusOK {
		return fail("healthy inside the cluster, but %s/hub/health answers HTTP %d: check the load balancer and the certificate of daskhub.domain", hub, status)
	}
	return pass("healthy through proxy-public and at %s", hub)
}

func snippet(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > 120 {
		s = s[:120] + "..."
	}
	return s
}

// hubSignIn follows the hub's login button one step: it must send the
// browser to the pool's sign-in pages with the hub's callback.
func (d *doctor) hubSignIn(ctx context.Context, s *stackState) (Status, string, error) {
	auth := d.stacks["auth"]
	if auth == nil || auth.missing || auth.err != nil {
		return skip("the auth stack is not usable")
	}
	base, err := d.output(auth, OutputSignInURL)
	if err != nil {
		return Fail, "", err
	}
	var location string
	if hub := d.cfg.Daskhub.Domain.Host(); hub != "" {
		hubURL, err := d.output(s, OutputHubURL)
		if err != nil {
			return Fail, "", err
		}
		status, h, err := d.head(ctx, hubURL+"/hub/oauth_login")
		if err != nil {
			return fail("%s/hub/oauth_login is unreachable: %v", hubURL, err)
		}
		if status != http.StatusFound && status != http.StatusSeeOther {
			return fail("%s/hub/oauth_login answers HTTP %d, not a redirect to sign-in", hubURL, status)
		}
		location = h.Get("Location")
	} else {
		status, h, _, err := d.kubeGet(ctx, s, d.proxyPublic("/hub/oauth_login"))
		if err != nil {
			return Fail, "", err
		}
		if status != http.StatusFound && status != http.StatusSeeOther {
			return fail("/hub/oauth_login answers HTTP %d, not a redirect to sign-in: kubectl -n %s logs deploy/hub", status, d.cfg.Daskhub.Namespace)
		}
		location = h.Get("Location")
	}
	u, err := url.Parse(location)
	if err != nil {
		return fail("the hub redirects to %q, not a URL", location)
	}
	want := values.CallbackURL(d.cfg)
	switch {
	case u.Scheme+"://"+u.Host+u.Path != base+"/oauth2/authorize":
		return fail("the hub sends users to %s, not to the pool's sign-in pages %s/oauth2/authorize: deploy %s again", u.Scheme+"://"+u.Host+u.Path, base, s.name)
	case u.Query().Get("client_id") == "":
		return fail("the hub's sign-in redirect names no client_id")
	case u.Query().Get("redirect_uri") != want:
		return fail("the hub asks Cognito to return to %q, but its app client allows %s: deploy %s again", u.Query().Get("redirect_uri"), want, s.name)
	}
	return pass("the login button goes to %s/oauth2/authorize and back to %s", base, want)
}

// gateway asks the Dask Gateway API's /api/health (dask-gateway 2025.4.0
// dask_gateway_server/routes.py) at the address notebooks use: behind the
// hub's proxy at /services/dask-gateway, whose prefix the chart's traefik
// strips (resources/helm/dask-gateway/templates/gateway/middleware.yaml).
func (d *doctor) gateway(ctx context.Context, s *stackState) (Status, string, error) {
	status, _, body, err := d.kubeGet(ctx, s, d.proxyPublic("/services/dask-gateway/api/health"))
	if err != nil {
		return Fail, "", err
	}
	var h struct {
		Status string `json:"status"`
	}
	if status != http.StatusOK || json.Unmarshal(body, &h) != nil || h.Status != "pass" {
		return fail("%s/api/health answers HTTP %d (%s): kubectl -n %s get pods -l app.kubernetes.io/instance=%s; kubectl -n %s logs deploy/api-%s",
			values.ProxyURL(d.cfg)+values.GatewayPrefix, status, snippet(body), d.cfg.Daskhub.Namespace, values.DaskGatewayRelease, d.cfg.Daskhub.Namespace, values.DaskGatewayRelease)
	}
	return pass("healthy at %s", values.ProxyURL(d.cfg)+values.GatewayPrefix)
}

// workloads lists the Deployments or DaemonSets of a Helm release in
// kube-system, which the charts label app.kubernetes.io/instance=<release>
// (cluster-autoscaler chart 9.50.1 templates/_helpers.tpl
// "cluster-autoscaler.instance-name"; nvidia-device-plugin chart v0.17.4
// templates/_helpers.tpl "nvidia-device-plugin.templateLabels").
func (d *doctor) workloads(ctx context.Context, s *stackState, kind, release string) ([]workload, error) {
	path := "/apis/apps/v1/namespaces/kube-system/" + kind + "?labelSelector=" + url.QueryEscape("app.kubernetes.io/instance="+release)
	status, _, body, err := d.kubeGet(ctx, s, path)
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, fmt.Errorf("listing %s of %s answered HTTP %d", kind, release, status)
	}
	var list struct {
		Items []workload `json:"items"`
	}
	if err := json.Unmarshal(body, &list); err != nil {
		return nil, fmt.Errorf("listing %s of %s: %w", kind, release, err)
	}
	return list.Items, nil
}

// workload is the part of a Deployment or DaemonSet the doctor reads.
type workload struct {
	Metadata struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		Replicas *int `json:"replicas"`
	} `json:"spec"`
	Status struct {
		AvailableReplicas      int `json:"availableReplicas"`
		DesiredNumberScheduled int `json:"desiredNumberScheduled"`
		NumberAvailable        int `json:"numberAvailable"`
	} `json:"status"`
}

func (d *doctor) autoscaler(ctx context.Context, s *stackState) (Status, string, error) {
	items, err := d.workloads(ctx, s, "deployments", values.AutoscalerRelease)
	if err != nil {
		return Fail, "", err
	}
	logs := fmt.Sprintf("kubectl -n kube-system describe pods -l app.kubernetes.io/instance=%s; kubectl -n kube-system logs -l app.kubernetes.io/instance=%s", values.AutoscalerRelease, values.AutoscalerRelease)
	if len(items) == 0 {
		return fail("no deployment of release %s in kube-system: the Helm release is missing; deploy %s again", values.AutoscalerRelease, s.name)
	}
	w := items[0]
	if w.Status.AvailableReplicas < 1 {
		return fail("%s has no available replica, so no node is ever added: %s", w.Metadata.Name, logs)
	}
	return pass("%s: %d available", w.Metadata.Name, w.Status.AvailableReplicas)
}

func (d *doctor) devicePlugin(ctx context.Context, s *stackState) (Status, string, error) {
	if len(values.GPUGroups(&d.cfg.Daskhub)) == 0 {
		return skip("no GPU node group")
	}
	items, err := d.workloads(ctx, s, "daemonsets", values.DevicePluginRelease)
	if err != nil {
		return Fail, "", err
	}
	if len(items) == 0 {
		return fail("no daemonset of release %s in kube-system, so GPUs stay invisible to Kubernetes: deploy %s again", values.DevicePluginRelease, s.name)
	}
	var desired, available int
	for _, w := range items {
		desired += w.Status.DesiredNumberScheduled
		available += w.Status.NumberAvailable
	}
	if available < desired {
		return fail("%d of %d device plugin pods available: kubectl -n kube-system describe pods -l app.kubernetes.io/instance=%s", available, desired, values.DevicePluginRelease)
	}
	if desired == 0 {
		return pass("installed; no GPU node is running now (they start when a GPU server or worker is asked for)")
	}
	return pass("%d of %d GPU nodes run the plugin", available, desired)
}

// access is one S3 request a pod makes, and whether its role must allow it.
type access struct {
	action, resource string
	allowed          bool
	why              string
}

// podAccess lists what a user's pod must and must not do with S3: read
// the datasets, write shared and scratch, and not write datasets (only
// the teams listed as writers may, through their own service accounts).
func (d *doctor) podAccess() []access {
	cfg := d.cfg
	arn := func(bucket string) string { return "arn:aws:s3:::" + bucket }
	var out []access
	for _, name := range slices.Sorted(maps.Keys(cfg.Data.Datasets)) {
		b := cfg.DatasetBucketName(name)
		out = append(out,
			access{"s3:ListBucket", arn(b), true, "list dataset " + name},
			access{"s3:GetObject", arn(b) + "/*", true, "read dataset " + name},
			access{"s3:PutObject", arn(b) + "/*", false, "write dataset " + name})
	}
	for _, b := range []string{cfg.SharedBucketName(), cfg.ScratchBucketName()} {
		out = append(out, access{"s3:PutObject", arn(b) + "/*", true, "write " + b})
	}
	return out
}

// podS3 checks the role that users' pods get through EKS Pod Identity. It
// asks IAM's policy simulator rather than starting a pod: that needs no
// node (the user groups may be at zero), leaves nothing behind, and tells
// which permission is missing. It evaluates the role's identity policies
// with the session tag Pod Identity adds; the buckets' own policies are
// checked by the data stack's tests, not here.
func (d *doctor) podS3(ctx context.Context, s *stackState) (Status, string, error) {
	if !d.cfg.Data.Enabled {
		return skip("without the data component pods read only public data")
	}
	// The simulation needs the cluster's name and ARN, not its API.
	c := d.clusterFor(ctx, s)
	if c.arn == "" {
		return Fail, "", c.err
	}
	client := eks.NewFromConfig(d.env.AWS, func(o *eks.Options) { o.Region = d.region })
	ns := d.cfg.Daskhub.Namespace
	list, err := client.ListPodIdentityAssociations(ctx, &eks.ListPodIdentityAssociationsInput{
		ClusterName: aws.String(c.name), Namespace: aws.String(ns), ServiceAccount: aws.String(values.UserServiceAccount),
	})
	if err != nil {
		return Fail, "", err
	}
	if len(list.Associations) == 0 {
		return fail("service account %s/%s has no Pod Identity association, so users' pods have no AWS access: deploy %s again", ns, values.UserServiceAccount, s.name)
	}
	assoc, err := client.DescribePodIdentityAssociation(ctx, &eks.DescribePodIdentityAssociationInput{
		ClusterName: aws.String(c.name), AssociationId: list.Associations[0].AssociationId,
	})
	if err != nil {
		return Fail, "", err
	}
	role := aws.ToString(assoc.Association.RoleArn)
	sim := iam.NewFromConfig(d.env.AWS, func(o *iam.Options) { o.Region = d.region })
	var wrong []string
	for _, a := range d.podAccess() {
		out, err := sim.SimulatePrincipalPolicy(ctx, &iam.SimulatePrincipalPolicyInput{
			PolicySourceArn: aws.String(role),
			ActionNames:     []string{a.action},
			ResourceArns:    []string{a.resource},
			ContextEntries: []iamtypes.ContextEntry{{
				ContextKeyName:   aws.String("aws:PrincipalTag/eks-cluster-arn"),
				ContextKeyType:   iamtypes.ContextKeyTypeEnumString,
				ContextKeyValues: []string{c.arn},
			}},
		})
		if err != nil {
			return Fail, "", err
		}
		allowed := len(out.EvaluationResults) > 0 && out.EvaluationResults[0].EvalDecision == iamtypes.PolicyEvaluationDecisionTypeAllowed
		if allowed != a.allowed {
			verb := "cannot"
			if allowed {
				verb = "can"
			}
			wrong = append(wrong, fmt.Sprintf("pods %s %s (%s on %s)", verb, a.why, a.action, a.resource))
		}
	}
	if len(wrong) > 0 {
		return fail("role %s: %s; the role's policies differ from the deployer's: deploy the data and daskhub stacks again, and look for policies attached by hand", role, strings.Join(wrong, "; "))
	}
	return pass("role %s reads the datasets, writes shared and scratch, and cannot write datasets", role)
}

func (d *doctor) efsMounts(ctx context.Context, s *stackState) (Status, string, error) {
	fsID, err := d.output(s, OutputFileSystemID)
	if err != nil {
		return Fail, "", err
	}
	c := d.clusterFor(ctx, s)
	if len(c.subnets) == 0 {
		if c.err != nil {
			return Fail, "", c.err
		}
		return fail("cluster %s lists no subnets to compare the mount targets with", c.name)
	}
	out, err := efs.NewFromConfig(d.env.AWS, func(o *efs.Options) { o.Region = d.region }).DescribeMountTargets(ctx, &efs.DescribeMountTargetsInput{FileSystemId: aws.String(fsID)})
	if err != nil {
		return Fail, "", err
	}
	state := map[string]string{}
	for _, mt := range out.MountTargets {
		state[aws.ToString(mt.SubnetId)] = string(mt.LifeCycleState)
	}
	var problems []string
	for _, subnet := range c.subnets {
		switch st := state[subnet]; st {
		case "available":
		case "":
			problems = append(problems, "no mount target in "+subnet)
		default:
			problems = append(problems, fmt.Sprintf("the mount target in %s is %s", subnet, st))
		}
	}
	if len(problems) > 0 {
		return fail("%s: %s; pods in those subnets cannot mount their homes: deploy %s again", fsID, strings.Join(problems, ", "), s.name)
	}
	return pass("%s available in all %d subnets of the cluster", fsID, len(c.subnets))
}

func (d *doctor) registryQueues(ctx context.Context, s *stackState) (Status, string, error) {
	dlq, err := d.output(s, OutputDeadLetterQueue)
	if err != nil {
		return Fail, "", err
	}
	client := sqs.NewFromConfig(d.env.AWS, func(o *sqs.Options) { o.Region = d.region })
	depth := func(q string) (visible, inFlight int, arn string, err error) {
		out, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(q), AttributeNames: []sqstypes.QueueAttributeName{
			sqstypes.QueueAttributeNameApproximateNumberOfMessages, sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible, sqstypes.QueueAttributeNameQueueArn,
		}})
		if err != nil {
			return 0, 0, "", fmt.Errorf("queue %s: %w", q, err)
		}
		visible, _ = strconv.Atoi(out.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessages)])
		inFlight, _ = strconv.Atoi(out.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible)])
		return visible, inFlight, out.Attributes[string(sqstypes.QueueAttributeNameQueueArn)], nil
	}
	report := ""
	for _, q := range s.resources["AWS::SQS::Queue"] {
		if q == dlq {
			continue
		}
		waiting, inFlight, _, err := depth(q)
		if err != nil {
			return Fail, "", err
		}
		report = fmt.Sprintf("events: %d waiting, %d being indexed; ", waiting, inFlight)
	}
	dead, _, arn, err := depth(dlq)
	if err != nil {
		return Fail, "", err
	}
	if dead > 0 {
		return fail("%s%d events in the dead-letter queue: the indexer gave up on them; read its log (output IndexerFunction of %s), fix the cause, then aws sqs start-message-move-task --region %s --source-arn %s",
			report, dead, s.name, d.region, arn)
	}
	return pass("%sdead letters: 0", report)
}

func (d *doctor) portal(ctx context.Context, s *stackState) (Status, string, error) {
	u, err := d.output(s, OutputPortalURL)
	if err != nil {
		return Fail, "", err
	}
	status, _, err := d.head(ctx, u)
	if err != nil {
		return fail("%s is unreachable (%v): with portal.domain, check its DNS record points at output DomainTarget of %s", u, err, s.name)
	}
	if status >= 400 {
		return fail("%s answers HTTP %d: read the portal function's log in CloudWatch (log group of %s)", u, status, s.name)
	}
	return pass("%s answers HTTP %d", u, status)
}
