package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/cfn"

	"github.com/heliocloud/heliocloud-go/daskhub/hubcheck"
)

// kube is a Kubernetes API with one hub namespace: proxy-public (a
// LoadBalancer) until deleted, then gone as the cloud provider finishes.
type kube struct {
	mu       sync.Mutex
	requests []string
	deleted  bool
}

func (k *kube) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.requests = append(k.requests, r.Method+" "+r.URL.Path)
	switch {
	case r.Method == "GET" && r.URL.Path == "/api/v1/namespaces/daskhub/services":
		if k.deleted {
			io.WriteString(w, `{"items":[]}`)
			return
		}
		io.WriteString(w, `{"items":[{"metadata":{"name":"proxy-public","finalizers":["service.kubernetes.io/load-balancer-cleanup"]},"spec":{"type":"LoadBalancer"}}]}`)
	case r.Method == "DELETE" && r.URL.Path == "/api/v1/namespaces/daskhub/services/proxy-public":
		k.deleted = true
		io.WriteString(w, `{}`)
	case r.Method == "GET" && r.URL.Path == "/apis/apps/v1/namespaces/daskhub/deployments/hub":
		io.WriteString(w, `{"metadata":{"generation":1},"spec":{"replicas":1,"selector":{"matchLabels":{"component":"hub"}}},"status":{"observedGeneration":1}}`)
	case r.Method == "GET" && r.URL.Path == "/api/v1/namespaces/daskhub/pods":
		io.WriteString(w, `{"items":[{"metadata":{"name":"hub-1"},"status":{"phase":"Pending","conditions":[{"type":"PodScheduled","status":"False","reason":"Unschedulable","message":"0/2 nodes are available: 2 node(s) had volume node affinity conflict."}]}}]}`)
	default:
		w.WriteHeader(404)
		io.WriteString(w, `{"kind":"Status","message":"not found"}`)
	}
}

func setup(t *testing.T, status string) (*handler, *kube) {
	k := &kube{}
	srv := httptest.NewServer(k)
	t.Cleanup(srv.Close)
	h := &handler{
		log:      slog.New(slog.NewTextHandler(io.Discard, nil)),
		interval: time.Millisecond,
		stackStatus: func(_ context.Context, id string) (string, error) {
			if id != "arn:aws:cloudformation:us-east-1:123456789012:stack/gsfc-Daskhub/1" {
				t.Errorf("status asked of stack %q", id)
			}
			return status, nil
		},
		client: func(p Properties) (*hubcheck.Client, error) {
			return &hubcheck.Client{BaseURL: srv.URL, HTTP: srv.Client()}, nil
		},
	}
	return h, k
}

func event(kind cfn.RequestType) cfn.Event {
	return cfn.Event{
		RequestType: kind, RequestID: "req-1", PhysicalResourceID: "daskhub-check-gsfc-daskhub",
		StackID: "arn:aws:cloudformation:us-east-1:123456789012:stack/gsfc-Daskhub/1",
		ResourceProperties: map[string]any{
			"ServiceToken": "arn:aws:lambda:...", "ClusterName": "gsfc-daskhub", "Namespace": "daskhub",
			"Spec": `{"workloads":[{"component":"hub","kind":"Deployment","namespace":"daskhub","name":"hub"}]}`,
		},
	}
}

func TestDeleteInTeardownRemovesTheLoadBalancer(t *testing.T) {
	h, k := setup(t, "DELETE_IN_PROGRESS")
	id, _, err := h.handle(context.Background(), event(cfn.RequestDelete))
	if err != nil {
		t.Fatal(err)
	}
	if id != "daskhub-check-gsfc-daskhub" {
		t.Errorf("physical id %q changed on delete", id)
	}
	if !k.deleted {
		t.Errorf("proxy-public not deleted: %v", k.requests)
	}
}

func TestDeleteOutsideTeardownKeepsTheHubServing(t *testing.T) {
	for _, status := range []string{"UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS"} {
		h, k := setup(t, status)
		if _, _, err := h.handle(context.Background(), event(cfn.RequestDelete)); err != nil {
			t.Fatal(err)
		}
		if len(k.requests) != 0 {
			t.Errorf("%s: the cluster was touched: %v", status, k.requests)
		}
	}
}

func TestCreateFailsWithTheReason(t *testing.T) {
	h, _ := setup(t, "CREATE_IN_PROGRESS")
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond+margin)
	defer cancel()
	id, _, err := h.handle(ctx, event(cfn.RequestCreate))
	if id != "daskhub-check-gsfc-daskhub" {
		t.Errorf("physical id %q", id)
	}
	if err == nil {
		t.Fatal("an unschedulable hub must fail the deploy")
	}
	msg := err.Error()
	for _, want := range []string{"DaskHub does not work after", "hub (Deployment daskhub/hub): 0 of 1 replicas available",
		"pod hub-1 Pending: Unschedulable: 0/2 nodes are available: 2 node(s) had volume node affinity conflict."} {
		if !strings.Contains(msg, want) {
			t.Errorf("reason lacks %q:\n%s", want, msg)
		}
	}
	if len(msg) > reasonLimit {
		t.Errorf("reason is %d bytes, over %d", len(msg), reasonLimit)
	}
}

// The load balancer switch removes the hub's Classic load balancer Service
// on Create and Update (before the JupyterHub release makes it again as a
// Network Load Balancer's) and never touches the cluster on Delete,
// whatever the stack does.
func TestLoadBalancerSwitch(t *testing.T) {
	switchEvent := func(kind cfn.RequestType) cfn.Event {
		ev := event(kind)
		ev.ResourceProperties["Action"] = hubcheck.ActionReplaceLoadBalancers
		ev.ResourceProperties["Annotations"] = map[string]any{"service.beta.kubernetes.io/aws-load-balancer-type": "nlb"}
		ev.PhysicalResourceID = ""
		if kind != cfn.RequestCreate {
			ev.PhysicalResourceID = "daskhub-lb-switch-gsfc-daskhub"
		}
		return ev
	}
	for _, kind := range []cfn.RequestType{cfn.RequestCreate, cfn.RequestUpdate} {
		h, k := setup(t, "UPDATE_IN_PROGRESS")
		id, _, err := h.handle(context.Background(), switchEvent(kind))
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		if id != "daskhub-lb-switch-gsfc-daskhub" {
			t.Errorf("%s: physical id %q", kind, id)
		}
		if !k.deleted {
			t.Errorf("%s: the Classic load balancer's Service was not removed: %v", kind, k.requests)
		}
	}
	h, k := setup(t, "DELETE_IN_PROGRESS")
	if _, _, err := h.handle(context.Background(), switchEvent(cfn.RequestDelete)); err != nil {
		t.Fatal(err)
	}
	if len(k.requests) != 0 {
		t.Errorf("the switch's Delete touched the cluster: %v", k.requests)
	}
	ev := switchEvent(cfn.RequestCreate)
	delete(ev.ResourceProperties, "Annotations")
	if _, _, err := h.handle(context.Background(), ev); err == nil || !strings.Contains(err.Error(), "property Annotations is empty") {
		t.Errorf("a switch without annotations: %v", err)
	}
	ev = event(cfn.RequestCreate)
	ev.ResourceProperties["Action"] = "replaceEverything"
	if _, _, err := h.handle(context.Background(), ev); err == nil || !strings.Contains(err.Error(), `unknown action "replaceEverything"`) {
		t.Errorf("unknown action: %v", err)
	}
}
