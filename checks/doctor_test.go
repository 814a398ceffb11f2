package checks

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heliocloud/heliocloud-go/config"
	"github.com/heliocloud/heliocloud-go/daskhub/values"
)

// fakeHTTP is a server of fixed pages by path, recording what was asked:
// the Kubernetes API (over TLS) or the web (the hub, the portal, Cognito).
type fakeHTTP struct {
	srv    *httptest.Server
	mu     sync.Mutex
	routes map[string]func(*http.Request) (int, string, http.Header)
	seen   []*http.Request
}

func newFakeHTTP(t *testing.T, tls bool) *fakeHTTP {
	f := &fakeHTTP{routes: map[string]func(*http.Request) (int, string, http.Header){}}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.seen = append(f.seen, r)
		route := f.routes[r.URL.Path]
		f.mu.Unlock()
		if route == nil {
			t.Errorf("fake HTTP: unexpected GET %s", r.URL)
			http.NotFound(w, r)
			return
		}
		status, body, header := route(r)
		for k, v := range header {
			w.Header()[k] = v
		}
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	})
	f.srv = httptest.NewUnstartedServer(h)
	// Each doctor run dials the fake anew; its connections closing with the
	// test are not news.
	f.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	if tls {
		f.srv.StartTLS()
	} else {
		f.srv.Start()
	}
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeHTTP) page(path string, status int, body string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.routes[path] = func(*http.Request) (int, string, http.Header) { return status, body, nil }
}

func (f *fakeHTTP) requests(path string) []*http.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*http.Request
	for _, r := range f.seen {
		if r.URL.Path == path {
			out = append(out, r)
		}
	}
	return out
}

// deployment is a fake of a deployed gsfc: CloudFormation, the AWS APIs,
// the cluster's Kubernetes API and the web pages, all healthy until a test
// breaks one.
type deployment struct {
	cfg  *config.Config
	aws  *fakeAWS
	kube *fakeHTTP
	web  *fakeHTTP
	env  *Env
	// outputs and resources of each stack, by stack name.
	outputs   map[string]map[string]string
	resources map[string]map[string][]string
	status    map[string]string
	// allowed decides the policy simulator's answer.
	allowed func(action, resource string) bool
	// hubRows is the billing table's answer: pod rows, labelled rows;
	// hubState the query's final state.
	hubRows  [2]string
	hubState string
}

const (
	gsfcCluster    = "gsfc-daskhub"
	gsfcClusterArn = "arn:aws:eks:us-east-1:111122223333:cluster/gsfc-daskhub"
	gsfcUserRole   = "arn:aws:iam::111122223333:role/gsfc-user"
	gsfcSignIn     = "https://heliocloud-gsfc.auth.us-east-1.amazoncognito.com"
	eventsQueue    = "https://sqs.us-east-1.amazonaws.com/111122223333/gsfc-Registry-Events-1"
	deadLetters    = "https://sqs.us-east-1.amazonaws.com/111122223333/gsfc-Registry-DeadLetters-1"
)

func newDeployment(t *testing.T) *deployment {
	d := &deployment{
		cfg: loadInstance(t, "gsfc"), aws: newFakeAWS(t), kube: newFakeHTTP(t, true), web: newFakeHTTP(t, false),
		outputs: map[string]map[string]string{}, resources: map[string]map[string][]string{}, status: map[string]string{},
	}
	d.env = d.aws.env()
	d.env.OIDCIssuer = func(region, pool string) string { return d.web.srv.URL + "/" + region + "/" + pool }
	for _, comp := range d.cfg.EnabledComponents() {
		name := config.StackName("gsfc", comp)
		d.outputs[name], d.resources[name], d.status[name] = map[string]string{}, map[string][]string{}, "UPDATE_COMPLETE"
	}
	d.outputs["gsfc-Auth"][OutputUserPoolID] = "us-east-1_Pool"
	d.outputs["gsfc-Auth"][OutputSignInURL] = gsfcSignIn
	d.outputs["gsfc-Daskhub"][OutputClusterName] = gsfcCluster
	d.outputs["gsfc-Daskhub"][OutputFileSystemID] = "fs-0123"
	d.outputs["gsfc-Daskhub"][OutputHubURL] = d.web.srv.URL
	d.outputs["gsfc-Registry"][OutputDeadLetterQueue] = deadLetters
	d.outputs["gsfc-Portal"][OutputPortalURL] = d.web.srv.URL + "/portal"
	d.resources["gsfc-Base"]["AWS::Budgets::Budget"] = []string{"gsfc-monthly"}
	d.resources["gsfc-Registry"]["AWS::SQS::Queue"] = []string{eventsQueue, deadLetters}

	d.aws.on("cloudformation:DescribeStacks", func(c call) reply {
		name := c.Form.Get("StackName")
		status, ok := d.status[name]
		if !ok {
			return reply{Status: 400, Body: `<ErrorResponse><Error><Type>Sender</Type><Code>ValidationError</Code><Message>Stack with id ` + name + ` does not exist</Message></Error></ErrorResponse>`}
		}
		var outs strings.Builder
		for k, v := range d.outputs[name] {
			fmt.Fprintf(&outs, "<member><OutputKey>%s</OutputKey><OutputValue>%s</OutputValue></member>", k, v)
		}
		return reply{Body: `<DescribeStacksResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><DescribeStacksResult><Stacks><member>` +
			`<StackName>` + name + `</StackName><StackStatus>` + status + `</StackStatus><StackStatusReason>fake reason</StackStatusReason><CreationTime>2026-11-01T00:00:00Z</CreationTime>` +
			`<Outputs>` + outs.String() + `</Outputs></member></Stacks></DescribeStacksResult></DescribeStacksResponse>`}
	})
	d.aws.on("cloudformation:ListStackResources", func(c call) reply {
		var b strings.Builder
		for typ, ids := range d.resources[c.Form.Get("StackName")] {
			for i, id := range ids {
				fmt.Fprintf(&b, "<member><LogicalResourceId>R%d</LogicalResourceId><PhysicalResourceId>%s</PhysicalResourceId><ResourceType>%s</ResourceType><LastUpdatedTimestamp>2026-11-01T00:00:00Z</LastUpdatedTimestamp><ResourceStatus>CREATE_COMPLETE</ResourceStatus></member>", i, id, typ)
			}
		}
		return reply{Body: `<ListStackResourcesResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><ListStackResourcesResult><StackResourceSummaries>` + b.String() + `</StackResourceSummaries></ListStackResourcesResult></ListStackResourcesResponse>`}
	})
	d.aws.answer("sts:GetCallerIdentity", reply{Body: callerIdentityXML})
	d.aws.answer("budgets:DescribeBudget", jsonReply(map[string]any{"Budget": map[string]any{
		"BudgetName": "gsfc-monthly", "BudgetType": "COST", "TimeUnit": "MONTHLY",
		"BudgetLimit":     map[string]any{"Amount": "25000.0", "Unit": "USD"},
		"CalculatedSpend": map[string]any{"ActualSpend": map[string]any{"Amount": "1234.5", "Unit": "USD"}},
	}}))
	ca := base64.StdEncoding.EncodeToString(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: d.kube.srv.Certificate().Raw}))
	d.aws.answer("eks:GET /clusters/"+gsfcCluster, jsonReply(map[string]any{"cluster": map[string]any{
		"name": gsfcCluster, "arn": gsfcClusterArn, "status": "ACTIVE", "endpoint": d.kube.srv.URL,
		"certificateAuthority": map[string]any{"data": ca},
		"resourcesVpcConfig":   map[string]any{"subnetIds": []string{"subnet-a", "subnet-b", "subnet-c"}},
	}}))
	d.aws.answer("eks:GET /clusters/"+gsfcCluster+"/pod-identity-associations", jsonReply(map[string]any{"associations": []any{
		map[string]any{"associationId": "a-123", "namespace": "daskhub", "serviceAccount": values.UserServiceAccount},
	}}))
	d.aws.answer("eks:GET /clusters/"+gsfcCluster+"/pod-identity-associations/a-123", jsonReply(map[string]any{"association": map[string]any{"associationId": "a-123", "roleArn": gsfcUserRole}}))
	d.allowed = func(action, resource string) bool {
		return action != "s3:PutObject" || strings.Contains(resource, ":::"+d.cfg.SharedBucketName()+"/") || strings.Contains(resource, ":::"+d.cfg.ScratchBucketName()+"/")
	}
	d.aws.on("iam:SimulatePrincipalPolicy", func(c call) reply {
		action, resource := c.Form.Get("ActionNames.member.1"), c.Form.Get("ResourceArns.member.1")
		decision := "implicitDeny"
		if d.allowed(action, resource) {
			decision = "allowed"
		}
		return reply{Body: `<SimulatePrincipalPolicyResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><SimulatePrincipalPolicyResult><IsTruncated>false</IsTruncated><EvaluationResults><member>` +
			`<EvalActionName>` + action + `</EvalActionName><EvalResourceName>` + resource + `</EvalResourceName><EvalDecision>` + decision + `</EvalDecision></member></EvaluationResults></SimulatePrincipalPolicyResult></SimulatePrincipalPolicyResponse>`}
	})
	d.aws.answer("elasticfilesystem:GET /2015-02-01/mount-targets", jsonReply(map[string]any{"MountTargets": []any{
		map[string]any{"MountTargetId": "fsmt-a", "FileSystemId": "fs-0123", "SubnetId": "subnet-a", "LifeCycleState": "available"},
		map[string]any{"MountTargetId": "fsmt-b", "FileSystemId": "fs-0123", "SubnetId": "subnet-b", "LifeCycleState": "available"},
		map[string]any{"MountTargetId": "fsmt-c", "FileSystemId": "fs-0123", "SubnetId": "subnet-c", "LifeCycleState": "available"},
	}}))
	d.queueDepth(eventsQueue, 3)
	d.queueDepth(deadLetters, 0)

	d.kube.page("/version", 200, `{"gitVersion":"v1.35.2-eks-1"}`)
	d.kube.page(proxyPath(d.cfg, "/hub/health"), 200, "")
	d.kube.page(proxyPath(d.cfg, "/services/dask-gateway/api/health"), 200, `{"status":"pass"}`)
	d.kube.page("/apis/apps/v1/namespaces/kube-system/deployments", 200, `{"items":[{"metadata":{"name":"cluster-autoscaler-aws-cluster-autoscaler"},"spec":{"replicas":1},"status":{"availableReplicas":1}}]}`)
	d.kube.page("/apis/apps/v1/namespaces/kube-system/daemonsets", 200, `{"items":[{"metadata":{"name":"nvidia-device-plugin"},"status":{"desiredNumberScheduled":2,"numberAvailable":2}}]}`)

	issuer := d.env.OIDCIssuer("us-east-1", "us-east-1_Pool")
	d.web.page("/us-east-1/us-east-1_Pool/.well-known/openid-configuration", 200,
		`{"issuer":"`+issuer+`","authorization_endpoint":"`+gsfcSignIn+`/oauth2/authorize","jwks_uri":"`+issuer+`/.well-known/jwks.json"}`)
	d.web.page("/hub/health", 200, "")
	d.hubRedirect(gsfcSignIn + "/oauth2/authorize?client_id=hubclient&response_type=code&redirect_uri=" + url.QueryEscape(values.CallbackURL(d.cfg)))
	d.web.page("/portal", 302, "")
	d.fakeAthena()
	return d
}

// fakeAthena answers the hub costs check's query: running once, then
// hubState, with hubRows.
func (d *deployment) fakeAthena() {
	athenaPoll = time.Millisecond
	d.hubRows, d.hubState = [2]string{"1200", "900"}, "SUCCEEDED"
	d.aws.answer("athena:StartQueryExecution", jsonReply(map[string]any{"QueryExecutionId": "q-1"}))
	polls := 0
	d.aws.on("athena:GetQueryExecution", func(c call) reply {
		polls++
		state, reason := "RUNNING", ""
		if polls > 1 {
			state, reason = d.hubState, "TABLE_NOT_FOUND: line 1:50: Table 'awsdatacatalog.gsfc_hubcosts.pods' does not exist"
		}
		return jsonReply(map[string]any{"QueryExecution": map[string]any{"QueryExecutionId": "q-1", "Status": map[string]any{"State": state, "StateChangeReason": reason}}})
	})
	d.aws.on("athena:GetQueryResults", func(c call) reply {
		cell := func(v string) map[string]any { return map[string]any{"VarCharValue": v} }
		return jsonReply(map[string]any{"ResultSet": map[string]any{"Rows": []any{
			map[string]any{"Data": []any{cell("_col0"), cell("_col1")}},
			map[string]any{"Data": []any{cell(d.hubRows[0]), cell(d.hubRows[1])}},
		}}})
	})
}

// proxyPath is the API server's service proxy to the port of proxy-public
// that values.ProxyURL reaches for cfg: https (443, plain HTTP behind TLS
// offload) with a domain, http without; the fake answers no other port.
func proxyPath(cfg *config.Config, p string) string {
	return "/api/v1/namespaces/daskhub/services/proxy-public:" + values.ProxyPortName(cfg) + "/proxy" + p
}

func (d *deployment) hubRedirect(location string) {
	d.web.routes["/hub/oauth_login"] = func(*http.Request) (int, string, http.Header) {
		return 302, "", http.Header{"Location": {location}}
	}
}

func (d *deployment) queueDepth(queue string, n int) {
	prev := d.aws.routes["sqs:GetQueueAttributes"]
	d.aws.on("sqs:GetQueueAttributes", func(c call) reply {
		if c.JSON["QueueUrl"] != queue {
			return prev(c)
		}
		return jsonReply(map[string]any{"Attributes": map[string]string{
			"ApproximateNumberOfMessages": fmt.Sprint(n), "ApproximateNumberOfMessagesNotVisible": "1", "QueueArn": "arn:aws:sqs:us-east-1:111122223333:" + queue[strings.LastIndex(queue, "/")+1:],
		}})
	})
}

func (d *deployment) run(t *testing.T) map[string]Result {
	t.Helper()
	out := map[string]Result{}
	for _, r := range Run(context.Background(), Doctor(context.Background(), d.cfg, d.env), 5*time.Second) {
		out[r.Name] = r
	}
	return out
}

func TestDoctorHealthyDeployment(t *testing.T) {
	d := newDeployment(t)
	results := d.run(t)
	for _, name := range []string{"stack gsfc-Base", "stack gsfc-Daskhub", "budget", "sign-in metadata", "kubernetes api", "hub health", "hub sign-in",
		"gateway api", "autoscaler", "gpu device plugin", "pod s3 access", "efs mount targets", "registry queues", "portal reachable"} {
		r, ok := results[name]
		if !ok {
			t.Errorf("no check %q", name)
			continue
		}
		if r.Status != OK {
			t.Errorf("%s %s: %s", r.Status, name, r.Reason)
		}
	}
	wantResult(t, results["budget"], OK, "gsfc-monthly: $25000 a month, $1234.5 spent")
	wantResult(t, results["registry queues"], OK, "events: 3 waiting", "dead letters: 0")
	wantResult(t, results["hub costs data"], OK, "1200 rows of gsfc-daskhub's pods", "900 of them a user's")
	// The query asks the instance's table, in its workgroup, for this
	// cluster's pods in this and last month.
	q := d.aws.calledWith("athena:StartQueryExecution")
	if len(q) != 1 {
		t.Fatalf("%d queries", len(q))
	}
	now := time.Now().UTC()
	wantParams := []any{"'" + now.Format("2006-01") + "'", "'" + now.AddDate(0, 0, -now.Day()).Format("2006-01") + "'", "'" + gsfcCluster + "'"}
	sql, _ := q[0].JSON["QueryString"].(string)
	if q[0].JSON["WorkGroup"] != "gsfc-hubcosts" || toJSON(t, q[0].JSON["QueryExecutionContext"]) != `{"Database":"gsfc_hubcosts"}` ||
		toJSON(t, q[0].JSON["ExecutionParameters"]) != toJSON(t, wantParams) || q[0].Region != "us-east-1" {
		t.Errorf("query %v", q[0].JSON)
	}
	for _, want := range []string{`FROM "gsfc_hubcosts"."pods"`, `element_at(resource_tags, 'user_heliocloud_org_user')`, `line_item_operation = 'EKSPod-EC2'`,
		`billing_period IN (?, ?)`, `split_part(line_item_resource_id, '/', 2) = ?`} {
		if !strings.Contains(sql, want) {
			t.Errorf("query lacks %s: %s", want, sql)
		}
	}

	// The requests each fake received.
	var stacks []string
	for _, c := range d.aws.calledWith("cloudformation:DescribeStacks") {
		stacks = append(stacks, c.Form.Get("StackName"))
		if c.Region != "us-east-1" {
			t.Errorf("CloudFormation asked in %s", c.Region)
		}
	}
	if len(stacks) != 7 {
		t.Errorf("described stacks %v, want gsfc's 7", stacks)
	}
	if c := d.aws.only("budgets:DescribeBudget"); c.JSON["AccountId"] != gsfcAccount || c.JSON["BudgetName"] != "gsfc-monthly" {
		t.Errorf("budget asked %v", c.JSON)
	}
	if c := d.aws.only("eks:GET /clusters/" + gsfcCluster + "/pod-identity-associations"); c.Query.Get("namespace") != "daskhub" || c.Query.Get("serviceAccount") != values.UserServiceAccount {
		t.Errorf("pod identity associations asked for %v", c.Query)
	}
	if c := d.aws.only("elasticfilesystem:GET /2015-02-01/mount-targets"); c.Query.Get("FileSystemId") != "fs-0123" {
		t.Errorf("mount targets asked for %v", c.Query)
	}
	sims := d.aws.calledWith("iam:SimulatePrincipalPolicy")
	asked := map[string]bool{}
	for _, c := range sims {
		if c.Form.Get("PolicySourceArn") != gsfcUserRole {
			t.Errorf("simulated %s, want the pod role", c.Form.Get("PolicySourceArn"))
		}
		if c.Form.Get("ContextEntries.member.1.ContextKeyName") != "aws:PrincipalTag/eks-cluster-arn" || c.Form.Get("ContextEntries.member.1.ContextKeyValues.member.1") != gsfcClusterArn {
			t.Errorf("simulation lacks the Pod Identity session tag: %v", c.Form)
		}
		asked[c.Form.Get("ActionNames.member.1")+" "+c.Form.Get("ResourceArns.member.1")] = true
	}
	// gsfc's default bucket names end in its account suffix (config.defaultBucketName).
	for _, want := range []string{"s3:GetObject arn:aws:s3:::gsfc-mms-885c9a1d/*", "s3:ListBucket arn:aws:s3:::gsfc-sdo-aia-885c9a1d", "s3:PutObject arn:aws:s3:::gsfc-shared-885c9a1d/*",
		"s3:PutObject arn:aws:s3:::gsfc-scratch-885c9a1d/*", "s3:PutObject arn:aws:s3:::gsfc-mms-885c9a1d/*"} {
		if !asked[want] {
			t.Errorf("simulated %v, lacking %s", asked, want)
		}
	}
	queues := map[string]bool{}
	for _, c := range d.aws.calledWith("sqs:GetQueueAttributes") {
		queues[c.JSON["QueueUrl"].(string)] = true
	}
	if !queues[eventsQueue] || !queues[deadLetters] {
		t.Errorf("queue depths asked for %v, want both queues", queues)
	}

	// Every Kubernetes request carries an EKS token as aws-iam-authenticator
	// v0.7.18 verifies it (pkg/token/token.go, Verify).
	for _, r := range d.kube.seen {
		checkEKSToken(t, r.Header.Get("Authorization"))
	}
	if r := d.kube.requests("/apis/apps/v1/namespaces/kube-system/deployments"); len(r) != 1 || r[0].URL.Query().Get("labelSelector") != "app.kubernetes.io/instance=cluster-autoscaler" {
		t.Errorf("autoscaler deployments asked %v", r)
	}
	if r := d.kube.requests("/apis/apps/v1/namespaces/kube-system/daemonsets"); len(r) != 1 || r[0].URL.Query().Get("labelSelector") != "app.kubernetes.io/instance=nvidia-device-plugin" {
		t.Errorf("device plugin daemonsets asked %v", r)
	}
}

func checkEKSToken(t *testing.T, header string) {
	t.Helper()
	token, ok := strings.CutPrefix(header, "Bearer k8s-aws-v1.")
	if !ok {
		t.Fatalf("Authorization %q is not an EKS bearer token", header)
	}
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		t.Fatalf("token is not base64url without padding: %v", err)
	}
	u, err := url.Parse(string(raw))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	switch {
	case u.Scheme != "https" || u.Host != "sts.us-east-1.amazonaws.com" || u.Path != "/":
		t.Errorf("token URL %s is not STS's regional endpoint (a test endpoint leaked in?)", u)
	case q.Get("Action") != "GetCallerIdentity":
		t.Errorf("token signs action %q", q.Get("Action"))
	case !strings.Contains(q.Get("X-Amz-SignedHeaders"), "x-k8s-aws-id"):
		t.Errorf("token does not sign x-k8s-aws-id: %s", q.Get("X-Amz-SignedHeaders"))
	case q.Get("X-Amz-Expires") != "60":
		t.Errorf("X-Amz-Expires = %q, the authenticator wants 0-900 and we send 60", q.Get("X-Amz-Expires"))
	case q.Get("X-Amz-Date") == "" || !strings.HasPrefix(q.Get("X-Amz-Credential"), "AKIDFAKE/"):
		t.Errorf("token lacks the date or the admin's key: %v", q)
	}
}

// The hub costs check tells apart the two payer-account steps that no API
// reports on: split cost allocation data off (no pod rows), labels not
// activated (pod rows without the user label).
func TestDoctorHubCostsPayerSteps(t *testing.T) {
	d := newDeployment(t)
	d.hubRows = [2]string{"0", "0"}
	wantResult(t, d.run(t)["hub costs data"], Warn, "no rows of gsfc-daskhub's pods", "switched on split cost allocation data")
	d = newDeployment(t)
	d.hubRows = [2]string{"1200", "0"}
	wantResult(t, d.run(t)["hub costs data"], Warn, "1200 rows of gsfc-daskhub's pods but none carries heliocloud.org/user",
		"TagKey=heliocloud.org/user,Status=Active TagKey=heliocloud.org/team,Status=Active")
}

func toJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestDoctorFailures(t *testing.T) {
	for _, tc := range []struct {
		check   string
		breakIt func(d *deployment)
		want    []string
	}{
		{"stack gsfc-Portal", func(d *deployment) { delete(d.status, "gsfc-Portal") }, []string{"not deployed", "npx cdk deploy gsfc-Portal --context instance=gsfc"}},
		{"stack gsfc-Daskhub", func(d *deployment) { d.status["gsfc-Daskhub"] = "UPDATE_ROLLBACK_COMPLETE" }, []string{"rolled back"}},
		{"budget", func(d *deployment) { d.aws.answer("budgets:DescribeBudget", jsonError(400, "NotFoundException")) }, []string{"not in AWS Budgets", "deploy gsfc-Base again"}},
		{"budget", func(d *deployment) { d.resources["gsfc-Base"] = map[string][]string{} }, []string{"has no budget"}},
		{"sign-in metadata", func(d *deployment) {
			d.web.page("/us-east-1/us-east-1_Pool/.well-known/openid-configuration", 404, "")
		}, []string{"HTTP 404", "us-east-1_Pool"}},
		{"sign-in metadata", func(d *deployment) {
			issuer := d.env.OIDCIssuer("us-east-1", "us-east-1_Pool")
			d.web.page("/us-east-1/us-east-1_Pool/.well-known/openid-configuration", 200, `{"issuer":"`+issuer+`","jwks_uri":"x"}`)
		}, []string{"no hosted sign-in domain"}},
		{"hub costs data", func(d *deployment) { d.hubState = "FAILED" }, []string{"query q-1 failed: TABLE_NOT_FOUND", "workgroup gsfc-hubcosts"}},
		{"efs mount targets", func(d *deployment) {
			d.aws.answer("eks:GET /clusters/"+gsfcCluster, jsonError(404, "ResourceNotFoundException"))
		}, []string{"describing cluster gsfc-daskhub", "ResourceNotFoundException"}},
		{"kubernetes api", func(d *deployment) {
			d.aws.answer("eks:GET /clusters/"+gsfcCluster, jsonReply(map[string]any{"cluster": map[string]any{"name": gsfcCluster, "arn": gsfcClusterArn, "status": "UPDATING"}}))
		}, []string{"is UPDATING, not ACTIVE"}},
		{"kubernetes api", func(d *deployment) { d.kube.page("/version", 401, "") }, []string{"refuses your credentials", "daskhub.admins"}},
		{"hub health", func(d *deployment) {
			d.kube.page(proxyPath(d.cfg, "/hub/health"), 503, "no endpoints available for service")
		}, []string{"HTTP 503", "no endpoints", "logs deploy/hub"}},
		{"hub health", func(d *deployment) { d.web.page("/hub/health", 502, "") }, []string{"healthy inside the cluster", "HTTP 502"}},
		{"hub sign-in", func(d *deployment) { d.hubRedirect("https://elsewhere.example.org/oauth2/authorize?client_id=x") }, []string{"not to the pool's sign-in pages"}},
		{"hub sign-in", func(d *deployment) {
			d.hubRedirect(gsfcSignIn + "/oauth2/authorize?client_id=x&redirect_uri=" + url.QueryEscape("http://localhost:8080/hub/oauth_callback"))
		}, []string{"return to \"http://localhost:8080/hub/oauth_callback\""}},
		{"gateway api", func(d *deployment) {
			d.kube.page(proxyPath(d.cfg, "/services/dask-gateway/api/health"), 404, "Not Found")
		}, []string{"HTTP 404", "dask-gateway"}},
		{"autoscaler", func(d *deployment) {
			d.kube.page("/apis/apps/v1/namespaces/kube-system/deployments", 200, `{"items":[{"metadata":{"name":"ca"},"status":{"availableReplicas":0}}]}`)
		}, []string{"no available replica", "no node is ever added"}},
		{"autoscaler", func(d *deployment) {
			d.kube.page("/apis/apps/v1/namespaces/kube-system/deployments", 200, `{"items":[]}`)
		}, []string{"Helm release is missing"}},
		{"gpu device plugin", func(d *deployment) {
			d.kube.page("/apis/apps/v1/namespaces/kube-system/daemonsets", 200, `{"items":[{"status":{"desiredNumberScheduled":2,"numberAvailable":1}}]}`)
		}, []string{"1 of 2 device plugin pods"}},
		{"pod s3 access", func(d *deployment) { d.allowed = func(string, string) bool { return true } }, []string{"pods can write dataset mms", "pods can write dataset sdo-aia"}},
		{"pod s3 access", func(d *deployment) {
			d.allowed = func(a, r string) bool { return a != "s3:PutObject" && !strings.Contains(r, "gsfc-mms") }
		}, []string{"pods cannot read dataset mms", "pods cannot write gsfc-shared"}},
		{"pod s3 access", func(d *deployment) {
			d.aws.answer("eks:GET /clusters/"+gsfcCluster+"/pod-identity-associations", jsonReply(map[string]any{"associations": []any{}}))
		}, []string{"no Pod Identity association"}},
		{"efs mount targets", func(d *deployment) {
			d.aws.answer("elasticfilesystem:GET /2015-02-01/mount-targets", jsonReply(map[string]any{"MountTargets": []any{
				map[string]any{"SubnetId": "subnet-a", "LifeCycleState": "available"}, map[string]any{"SubnetId": "subnet-b", "LifeCycleState": "creating"},
			}}))
		}, []string{"mount target in subnet-b is creating", "no mount target in subnet-c"}},
		{"registry queues", func(d *deployment) { d.queueDepth(deadLetters, 7) }, []string{"7 events in the dead-letter queue", "start-message-move-task", "--source-arn arn:aws:sqs:us-east-1:111122223333:gsfc-Registry-DeadLetters-1"}},
		{"portal reachable", func(d *deployment) { d.web.page("/portal", 500, "") }, []string{"HTTP 500"}},
	} {
		t.Run(tc.check+"/"+strings.Join(tc.want, " ")[:min(30, len(strings.Join(tc.want, " ")))], func(t *testing.T) {
			d := newDeployment(t)
			tc.breakIt(d)
			wantResult(t, d.run(t)[tc.check], Fail, tc.want...)
		})
	}
}

func TestDoctorHubWithoutDomain(t *testing.T) {
	// Without a domain the hub has no public address: its health and its
	// login redirect are asked through the API server's service proxy.
	d := newDeployment(t)
	d.cfg.Daskhub.Domain = config.Domain{}
	d.kube.page(proxyPath(d.cfg, "/hub/health"), 200, "")
	d.kube.page(proxyPath(d.cfg, "/services/dask-gateway/api/health"), 200, `{"status":"pass"}`)
	d.kube.routes[proxyPath(d.cfg, "/hub/oauth_login")] = func(*http.Request) (int, string, http.Header) {
		return 302, "", http.Header{"Location": {gsfcSignIn + "/oauth2/authorize?client_id=c&redirect_uri=" + url.QueryEscape("http://localhost:8080/hub/oauth_callback")}}
	}
	results := d.run(t)
	wantResult(t, results["hub health"], OK, "no domain")
	wantResult(t, results["hub sign-in"], OK, "back to http://localhost:8080/hub/oauth_callback")
	if n := len(d.web.requests("/hub/health")); n != 0 {
		t.Errorf("asked a public hub address %d times without a domain", n)
	}
}

func TestDoctorSkipsDisabledComponents(t *testing.T) {
	d := newDeployment(t)
	d.cfg.Daskhub.Enabled, d.cfg.Portal.Enabled = false, false
	results := d.run(t)
	for _, name := range []string{"kubernetes api", "hub health", "portal reachable", "stack gsfc-Daskhub"} {
		if _, ok := results[name]; ok {
			t.Errorf("check %q runs for a disabled component", name)
		}
	}
	if n := len(d.aws.calledWith("eks:GET /clusters/" + gsfcCluster)); n != 0 {
		t.Errorf("described the cluster of a disabled daskhub %d times", n)
	}
}
