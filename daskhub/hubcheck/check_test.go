package hubcheck

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

const ns = "daskhub"

var (
	hubWorkload     = Workload{Component: "hub", Kind: "Deployment", Namespace: ns, Name: "hub"}
	autoscaler      = Workload{Component: "cluster autoscaler", Kind: "Deployment", Namespace: "kube-system", Name: "cluster-autoscaler-aws-cluster-autoscaler"}
	devicePlugin    = Workload{Component: "NVIDIA device plugin", Kind: "DaemonSet", Namespace: "kube-system", Name: "nvidia-device-plugin"}
	hubAPI          = Endpoint{Component: "hub API", Address: "http://proxy-public/hub/api/", Namespace: ns, Service: "proxy-public", Path: "/hub/api/", WantField: "version"}
	gatewayHealth   = mustEndpoint("dask-gateway API", "http://proxy-public/services/dask-gateway", ns, "/api/health")
	hubSelectorPath = "/api/v1/namespaces/daskhub/pods?labelSelector=app%3Djupyterhub%2Ccomponent%3Dhub%2Crelease%3Djupyterhub"
)

func mustEndpoint(component, address, namespace, path string) Endpoint {
	e, err := EndpointAt(component, address, namespace, path)
	if err != nil {
		panic(err)
	}
	e.WantField, e.WantValue = "status", "pass"
	return e
}

// hubDeployment is the chart's hub Deployment (z2jh 4.4.0 selects its pods
// by the legacy labels app, component and release) with available replicas.
func hubDeployment(available int) string {
	return `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"hub","namespace":"daskhub","generation":2},
	"spec":{"replicas":1,"selector":{"matchLabels":{"app":"jupyterhub","component":"hub","release":"jupyterhub"}}},
	"status":{"observedGeneration":2,"replicas":1,"updatedReplicas":1,"readyReplicas":` + itoa(available) + `,"availableReplicas":` + itoa(available) + `,"unavailableReplicas":` + itoa(1-available) + `,
	"conditions":[{"type":"Available","status":"` + map[int]string{0: "False", 1: "True"}[available] + `","reason":"MinimumReplicasUnavailable","message":"Deployment does not have minimum availability."},
	{"type":"Progressing","status":"True","reason":"ReplicaSetUpdated","message":"ReplicaSet \"hub-6d5f7c9b8d\" is progressing."}]}}`
}

func itoa(n int) string { return string(rune('0' + n)) }

// crashingHub is a hub pod whose container keeps exiting, as when the
// authenticator refuses its configuration at start-up.
const crashingHub = `{"kind":"PodList","apiVersion":"v1","items":[{"metadata":{"name":"hub-6d5f7c9b8d-x2x7q","namespace":"daskhub"},
"status":{"phase":"Running","conditions":[{"type":"Ready","status":"False","reason":"ContainersNotReady","message":"containers with unready status: [hub]"},{"type":"PodScheduled","status":"True"}],
"initContainerStatuses":[{"name":"cognito-client-secret","ready":true,"restartCount":0,"state":{"terminated":{"exitCode":0,"reason":"Completed"}}}],
"containerStatuses":[{"name":"hub","ready":false,"restartCount":4,
"state":{"waiting":{"reason":"CrashLoopBackOff","message":"back-off 1m20s restarting failed container=hub pod=hub-6d5f7c9b8d-x2x7q_daskhub(0b1c)"}},
"lastState":{"terminated":{"exitCode":1,"reason":"Error","startedAt":"2026-12-02T10:01:02Z","finishedAt":"2026-12-02T10:01:09Z"}}}]}}]}`

const hubTraceback = `[E 2026-12-02 10:01:09.113 JupyterHub app:3859]
    Traceback (most recent call last):
      File "/usr/local/lib/python3.12/site-packages/oauthenticator/generic.py", line 212, in _validate_config
    ValueError: userdata_from_id_token and userdata_url cannot be used together
`

func TestCrashLoopNamesComponentStateAndLogs(t *testing.T) {
	f, c := newFake(t)
	f.on("GET", "/apis/apps/v1/namespaces/daskhub/deployments/hub", 200, hubDeployment(0))
	f.on("GET", "/api/v1/namespaces/daskhub/pods", 200, crashingHub)
	f.routes["GET /api/v1/namespaces/daskhub/pods/hub-6d5f7c9b8d-x2x7q/log"] = func(r *http.Request) (int, string) {
		if r.URL.Query().Get("previous") != "true" {
			return 400, `{"kind":"Status","message":"previous terminated container \"hub\" in pod \"hub-6d5f7c9b8d-x2x7q\" not found"}`
		}
		return 200, hubTraceback
	}
	problems := Check(context.Background(), c, Spec{Workloads: []Workload{hubWorkload}}, Options{})
	if len(problems) != 1 {
		t.Fatalf("problems = %v, want one", problems)
	}
	p := problems[0]
	for _, want := range []string{
		"hub (Deployment daskhub/hub): 0 of 1 replicas available",
		"pod hub-6d5f7c9b8d-x2x7q Running: container hub CrashLoopBackOff",
		"4 restarts, last exit 1 (Error)",
		"last log lines: [E 2026-12-02 10:01:09.113 JupyterHub app:3859] | Traceback",
		"ValueError: userdata_from_id_token and userdata_url cannot be used together",
	} {
		if !strings.Contains(p.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, p)
		}
	}
	if !p.Final {
		t.Error("a container that crashed 4 times should end the wait")
	}
	want := []string{
		"GET /apis/apps/v1/namespaces/daskhub/deployments/hub",
		"GET " + hubSelectorPath,
		"GET /api/v1/namespaces/daskhub/pods/hub-6d5f7c9b8d-x2x7q/log?container=hub&previous=true&tailLines=5",
	}
	if got := f.requests(); !slices.Equal(got, want) {
		t.Errorf("requests:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestPendingShowsTheSchedulersReason(t *testing.T) {
	f, c := newFake(t)
	f.on("GET", "/apis/apps/v1/namespaces/kube-system/deployments/cluster-autoscaler-aws-cluster-autoscaler", 200,
		`{"metadata":{"generation":1},"spec":{"replicas":1,"selector":{"matchLabels":{"app.kubernetes.io/instance":"cluster-autoscaler","app.kubernetes.io/name":"aws-cluster-autoscaler"}}},
		"status":{"observedGeneration":1,"replicas":1,"updatedReplicas":1,"unavailableReplicas":1}}`)
	f.on("GET", "/api/v1/namespaces/kube-system/pods", 200, `{"items":[{"metadata":{"name":"cluster-autoscaler-aws-cluster-autoscaler-7b9c-kq2lp"},
		"status":{"phase":"Pending","conditions":[{"type":"PodScheduled","status":"False","reason":"Unschedulable",
		"message":"0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling."}]}}]}`)
	problems := Check(context.Background(), c, Spec{Workloads: []Workload{autoscaler}}, Options{})
	if len(problems) != 1 {
		t.Fatalf("problems = %v", problems)
	}
	want := "cluster autoscaler (Deployment kube-system/cluster-autoscaler-aws-cluster-autoscaler): 0 of 1 replicas available (1 updated); " +
		"pod cluster-autoscaler-aws-cluster-autoscaler-7b9c-kq2lp Pending: Unschedulable: 0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector."
	if got := problems[0].String(); !strings.HasPrefix(got, want) {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if problems[0].Final {
		t.Error("Pending may end when a node joins: not final")
	}
	for _, r := range f.requests() {
		if strings.Contains(r, "/log") {
			t.Errorf("a pod that never ran has no logs to read: %s", r)
		}
	}
	if sel := "GET /api/v1/namespaces/kube-system/pods?labelSelector=app.kubernetes.io%2Finstance%3Dcluster-autoscaler%2Capp.kubernetes.io%2Fname%3Daws-cluster-autoscaler"; f.count("GET", "/api/v1/namespaces/kube-system/pods") != 1 || !slices.Contains(f.requests(), sel) {
		t.Errorf("pods listed by the Deployment's selector: %v", f.requests())
	}
}

func TestImagePullAndInitContainerFailures(t *testing.T) {
	f, c := newFake(t)
	f.on("GET", "/apis/apps/v1/namespaces/kube-system/daemonsets/nvidia-device-plugin", 200,
		`{"metadata":{"generation":1},"spec":{"selector":{"matchLabels":{"app.kubernetes.io/name":"nvidia-device-plugin"}}},
		"status":{"observedGeneration":1,"desiredNumberScheduled":1,"currentNumberScheduled":1,"updatedNumberScheduled":1,"numberAvailable":0,"numberUnavailable":1}}`)
	f.on("GET", "/api/v1/namespaces/kube-system/pods", 200, `{"items":[{"metadata":{"name":"nvidia-device-plugin-4xk9z"},
		"status":{"phase":"Pending","conditions":[{"type":"PodScheduled","status":"True"}],"containerStatuses":[{"name":"nvidia-device-plugin-ctr","ready":false,"restartCount":0,
		"state":{"waiting":{"reason":"ImagePullBackOff","message":"Back-off pulling image \"nvcr.io/nvidia/k8s-device-plugin:v0.17.4\": ErrImagePull: failed to pull and unpack image: i/o timeout"}}}]}}]}`)
	f.on("GET", "/apis/apps/v1/namespaces/daskhub/deployments/hub", 200, hubDeployment(0))
	f.on("GET", "/api/v1/namespaces/daskhub/pods", 200, `{"items":[{"metadata":{"name":"hub-6d5f7c9b8d-x2x7q"},
		"status":{"phase":"Pending","conditions":[{"type":"PodScheduled","status":"True"}],
		"initContainerStatuses":[{"name":"cognito-client-secret","ready":false,"restartCount":3,"state":{"waiting":{"reason":"CrashLoopBackOff"}},"lastState":{"terminated":{"exitCode":254,"reason":"Error"}}}],
		"containerStatuses":[{"name":"hub","ready":false,"restartCount":0,"state":{"waiting":{"reason":"PodInitializing"}}}]}}]}`)
	f.on("GET", "/api/v1/namespaces/daskhub/pods/hub-6d5f7c9b8d-x2x7q/log", 200,
		"An error occurred (AccessDeniedException) when calling the DescribeUserPoolClient operation: User is not authorized\n")
	problems := Check(context.Background(), c, Spec{Workloads: []Workload{devicePlugin, hubWorkload}}, Options{})
	if len(problems) != 2 {
		t.Fatalf("problems = %v", problems)
	}
	if got, want := problems[0].String(), `NVIDIA device plugin (DaemonSet kube-system/nvidia-device-plugin): 0 of 1 pods available (1 updated); pod nvidia-device-plugin-4xk9z Pending: container nvidia-device-plugin-ctr ImagePullBackOff (Back-off pulling image "nvcr.io/nvidia/k8s-device-plugin:v0.17.4": ErrImagePull: failed to pull and unpack image: i/o timeout)`; got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if problems[0].Final {
		t.Error("an image pull may still succeed: not final")
	}
	for _, want := range []string{"init container cognito-client-secret CrashLoopBackOff, 3 restarts, last exit 254 (Error)", "last log lines: An error occurred (AccessDeniedException)"} {
		if !strings.Contains(problems[1].Detail, want) {
			t.Errorf("hub report lacks %q: %s", want, problems[1].Detail)
		}
	}
	if !slices.Contains(f.requests(), "GET /api/v1/namespaces/daskhub/pods/hub-6d5f7c9b8d-x2x7q/log?container=cognito-client-secret&previous=true&tailLines=5") {
		t.Errorf("the failing init container's logs were not read: %v", f.requests())
	}
}

func TestMissingWorkloadAndControllerConditions(t *testing.T) {
	f, c := newFake(t)
	f.on("GET", "/apis/apps/v1/namespaces/daskhub/deployments/hub", 200,
		`{"metadata":{"generation":1},"spec":{"replicas":1,"selector":{"matchLabels":{"component":"hub"}}},"status":{"observedGeneration":1,
		"conditions":[{"type":"ReplicaFailure","status":"True","reason":"FailedCreate","message":"pods \"hub-6d5f7c9b8d-\" is forbidden: exceeded quota: compute"}]}}`)
	f.on("GET", "/api/v1/namespaces/daskhub/pods", 200, `{"items":[]}`)
	problems := Check(context.Background(), c, Spec{Workloads: []Workload{hubWorkload, autoscaler}}, Options{})
	if len(problems) != 2 {
		t.Fatalf("problems = %v", problems)
	}
	if !strings.Contains(problems[0].Detail, `ReplicaFailure=True FailedCreate: pods "hub-6d5f7c9b8d-" is forbidden: exceeded quota: compute`) {
		t.Errorf("no pods: the Deployment's condition should explain: %s", problems[0])
	}
	if got := problems[1].String(); got != "cluster autoscaler (Deployment kube-system/cluster-autoscaler-aws-cluster-autoscaler): not found (was its Helm release installed?)" {
		t.Errorf("missing workload: %s", got)
	}
}

// proxyPublic is the chart's proxy-public Service: with a domain, TLS ends
// at the load balancer and only port 443 may be left.
func proxyPublic(ports string) string {
	return `{"kind":"Service","metadata":{"name":"proxy-public","namespace":"daskhub"},"spec":{"type":"LoadBalancer","ports":[` + ports + `]}}`
}

func TestHealthyHubAndGatewayThroughTheProxy(t *testing.T) {
	f, c := newFake(t)
	f.on("GET", "/apis/apps/v1/namespaces/daskhub/deployments/hub", 200, hubDeployment(1))
	f.on("GET", "/apis/apps/v1/namespaces/kube-system/daemonsets/nvidia-device-plugin", 200,
		`{"metadata":{"generation":3},"status":{"observedGeneration":3,"desiredNumberScheduled":0,"updatedNumberScheduled":0,"numberAvailable":0}}`)
	f.on("GET", "/api/v1/namespaces/daskhub/services/proxy-public", 200, proxyPublic(`{"name":"https","port":443,"targetPort":"http"},{"name":"http","port":80,"targetPort":"http"}`))
	f.on("GET", "/api/v1/namespaces/daskhub/services/http:proxy-public:80/proxy/hub/api/", 200, `{"version": "5.5.0"}`)
	f.on("GET", "/api/v1/namespaces/daskhub/services/http:proxy-public:80/proxy/services/dask-gateway/api/health", 200, `{"status": "pass"}`)
	spec := Spec{Workloads: []Workload{hubWorkload, devicePlugin}, Endpoints: []Endpoint{hubAPI, gatewayHealth}}
	if problems := Wait(context.Background(), c, spec, Options{}, time.Millisecond); len(problems) != 0 {
		t.Fatalf("a working hub has problems: %v", problems)
	}
	for _, want := range []string{
		"GET /api/v1/namespaces/daskhub/services/http:proxy-public:80/proxy/hub/api/",
		"GET /api/v1/namespaces/daskhub/services/http:proxy-public:80/proxy/services/dask-gateway/api/health",
	} {
		if f.count("GET", strings.TrimPrefix(want, "GET ")) != 1 {
			t.Errorf("want one %s, got %v", want, f.requests())
		}
	}
}

func TestGatewayAddressOnAPortTheServiceLacks(t *testing.T) {
	f, c := newFake(t)
	f.on("GET", "/api/v1/namespaces/daskhub/services/proxy-public", 200, proxyPublic(`{"name":"https","port":443,"targetPort":"http"}`))
	f.on("GET", "/api/v1/namespaces/daskhub/services/http:proxy-public:443/proxy/hub/api/", 200, `{"version":"5.5.0"}`)
	problems := Check(context.Background(), c, Spec{Endpoints: []Endpoint{hubAPI, gatewayHealth}}, Options{})
	if len(problems) != 1 {
		t.Fatalf("want only the gateway's problem (the hub answers on its one port): %v", problems)
	}
	if got, want := problems[0].String(), "dask-gateway API (http://proxy-public/services/dask-gateway): Service daskhub/proxy-public has no port 80 (its ports: https/443)"; got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if !problems[0].Final {
		t.Error("a missing port does not appear by waiting")
	}
}

func TestEndpointAnswers(t *testing.T) {
	for _, tc := range []struct {
		name, code, body, want string
	}{
		{"no endpoints", "503", `{"kind":"Status","apiVersion":"v1","status":"Failure","message":"no endpoints available for service \"http:proxy-public:80\"","reason":"ServiceUnavailable","code":503}`,
			`hub API (http://proxy-public/hub/api/): GET /hub/api/ on port 80 answered 503 Service Unavailable: no endpoints available for service "http:proxy-public:80"`},
		{"proxy without hub route", "404", `<html><title>404: Not Found</title></html>`,
			`hub API (http://proxy-public/hub/api/): GET /hub/api/ on port 80 answered 404 Not Found: <html><title>404: Not Found</title></html>`},
		{"not the hub", "200", `{"status":"ok"}`,
			`hub API (http://proxy-public/hub/api/): GET /hub/api/ on port 80 answered {"status":"ok"}, want "version"=""`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, c := newFake(t)
			f.on("GET", "/api/v1/namespaces/daskhub/services/proxy-public", 200, proxyPublic(`{"name":"http","port":80}`))
			code := map[string]int{"503": 503, "404": 404, "200": 200}[tc.code]
			f.on("GET", "/api/v1/namespaces/daskhub/services/http:proxy-public:80/proxy/hub/api/", code, tc.body)
			problems := Check(context.Background(), c, Spec{Endpoints: []Endpoint{hubAPI}}, Options{})
			if len(problems) != 1 || problems[0].String() != tc.want {
				t.Errorf("got  %v\nwant %s", problems, tc.want)
			}
		})
	}
}

func TestWaitEndsOnAFinalProblemOrTheDeadline(t *testing.T) {
	f, c := newFake(t)
	f.on("GET", "/apis/apps/v1/namespaces/daskhub/deployments/hub", 200, hubDeployment(0))
	f.on("GET", "/api/v1/namespaces/daskhub/pods", 200, crashingHub)
	spec := Spec{Workloads: []Workload{hubWorkload}}
	if problems := Wait(context.Background(), c, spec, Options{}, time.Millisecond); len(problems) != 1 || !problems[0].Final {
		t.Fatalf("problems = %v", problems)
	}
	if n := f.count("GET", "/apis/apps/v1/namespaces/daskhub/deployments/hub"); n != 1 {
		t.Errorf("a final problem should end the wait at once; looked %d times", n)
	}

	// Four restarts are not final when ten are allowed: Wait keeps looking until the deadline.
	// The bound leaves a loaded machine time for more than one look.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	problems := Wait(ctx, c, spec, Options{CrashLoops: 10}, 20*time.Millisecond)
	if len(problems) != 1 || problems[0].Final {
		t.Fatalf("problems = %v", problems)
	}
	if n := f.count("GET", "/apis/apps/v1/namespaces/daskhub/deployments/hub"); n < 3 {
		t.Errorf("Wait looked %d times in a second at a 20ms interval", n)
	}
}

func TestEndpointAt(t *testing.T) {
	for _, tc := range []struct {
		address string
		want    Endpoint
		err     string
	}{
		{address: "http://proxy-public/services/dask-gateway", want: Endpoint{Namespace: ns, Service: "proxy-public", Port: 80, Path: "/services/dask-gateway/api/health"}},
		{address: "http://proxy-public:443/services/dask-gateway/", want: Endpoint{Namespace: ns, Service: "proxy-public", Port: 443, Path: "/services/dask-gateway/api/health"}},
		{address: "https://traefik-dask-gateway.gateway.svc.cluster.local", want: Endpoint{Namespace: "gateway", Service: "traefik-dask-gateway", Port: 443, Path: "/api/health"}},
		{address: "gateway://traefik-dask-gateway.daskhub:80", err: "not an http(s) URL"},
	} {
		got, err := EndpointAt("gateway", tc.address, ns, "/api/health")
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: err = %v, want %q", tc.address, err, tc.err)
			}
			continue
		}
		tc.want.Component, tc.want.Address = "gateway", tc.address
		if err != nil || got != tc.want {
			t.Errorf("%s:\ngot  %+v (%v)\nwant %+v", tc.address, got, err, tc.want)
		}
	}
}

func TestReportFitsTheLimit(t *testing.T) {
	long := Problem{Component: "hub", Detail: strings.Repeat("x", 500)}
	short := Problem{Component: "proxy", Detail: "0 of 1 replicas available"}
	got := Report([]Problem{short, long, short, short}, 200)
	want := "proxy: 0 of 1 replicas available\n(and 3 more: see the check's log group)"
	if got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	if got := Report([]Problem{long}, 100); len(got) > 100+len("…") || !strings.HasPrefix(got, "hub: xxx") {
		t.Errorf("one long problem is clipped to the limit: %d bytes", len(got))
	}
}
