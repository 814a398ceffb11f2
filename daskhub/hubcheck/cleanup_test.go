package hubcheck

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// lbService is proxy-public as the cloud provider leaves it: type
// LoadBalancer, held by the cleanup finalizer, and being deleted or not.
func lbService(deleting bool) string {
	del := ""
	if deleting {
		del = `"deletionTimestamp":"2026-12-02T12:00:00Z",`
	}
	return `{"metadata":{"name":"proxy-public","namespace":"daskhub",` + del + `"finalizers":["service.kubernetes.io/load-balancer-cleanup"]},
	"spec":{"type":"LoadBalancer","ports":[{"name":"https","port":443}]},
	"status":{"loadBalancer":{"ingress":[{"hostname":"a1b2c3-123456789.us-east-1.elb.amazonaws.com"}]}}}`
}

const clusterIPService = `{"metadata":{"name":"hub","namespace":"daskhub"},"spec":{"type":"ClusterIP","ports":[{"port":8081}]}}`

func TestRemoveLoadBalancersWaitsForTheCloudProvider(t *testing.T) {
	f, c := newFake(t)
	var mu sync.Mutex
	deleted, gone := false, false
	looks := 0
	f.routes["GET /api/v1/namespaces/daskhub/services"] = func(*http.Request) (int, string) {
		mu.Lock()
		defer mu.Unlock()
		looks++
		switch {
		case gone:
			return 200, `{"kind":"ServiceList","items":[` + clusterIPService + `]}`
		case deleted:
			// The cloud provider finishes on the second look after the delete.
			if looks >= 3 {
				gone = true
			}
			return 200, `{"kind":"ServiceList","items":[` + clusterIPService + `,` + lbService(true) + `]}`
		}
		return 200, `{"kind":"ServiceList","items":[` + clusterIPService + `,` + lbService(false) + `]}`
	}
	f.routes["DELETE /api/v1/namespaces/daskhub/services/proxy-public"] = func(*http.Request) (int, string) {
		mu.Lock()
		defer mu.Unlock()
		deleted = true
		return 200, lbService(true)
	}
	if err := RemoveLoadBalancers(context.Background(), c, ns, time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if n := f.count("DELETE", "/api/v1/namespaces/daskhub/services/proxy-public"); n != 1 {
		t.Errorf("proxy-public deleted %d times, want once (a Service being deleted is only waited for)", n)
	}
	if n := f.count("DELETE", "/api/v1/namespaces/daskhub/services/hub"); n != 0 {
		t.Errorf("a ClusterIP Service has no load balancer and must be left to Helm")
	}
	if !gone {
		t.Error("RemoveLoadBalancers returned before the Service was gone")
	}
}

func TestRemoveLoadBalancersReportsWhatIsStuck(t *testing.T) {
	f, c := newFake(t)
	f.on("GET", "/api/v1/namespaces/daskhub/services", 200, `{"items":[`+lbService(true)+`]}`)
	f.routes["GET /api/v1/namespaces/daskhub/events"] = func(r *http.Request) (int, string) {
		if got := r.URL.Query().Get("fieldSelector"); got != "involvedObject.kind=Service,involvedObject.name=proxy-public" {
			t.Errorf("events fieldSelector %q", got)
		}
		return 200, `{"items":[{"type":"Normal","reason":"DeletingLoadBalancer","message":"Deleting load balancer"},
		{"type":"Warning","reason":"DeleteLoadBalancerFailed","message":"Error deleting load balancer: DependencyViolation: resource sg-0abc has a dependent object"}]}`
	}
	// Long enough for one listing on a loaded machine; the deadline may
	// then cut a later request, which must not hide the reason.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := RemoveLoadBalancers(ctx, c, ns, 10*time.Millisecond)
	if err == nil {
		t.Fatal("a Service that never goes must fail the delete")
	}
	for _, want := range []string{"Service daskhub/proxy-public still waits for its load balancer's removal",
		"DeleteLoadBalancerFailed: Error deleting load balancer: DependencyViolation: resource sg-0abc has a dependent object"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if strings.Contains(err.Error(), "DeletingLoadBalancer") {
		t.Errorf("normal events are noise: %v", err)
	}
	if f.count("DELETE", "/api/v1/namespaces/daskhub/services/proxy-public") != 0 {
		t.Error("a Service already being deleted is not deleted again")
	}
}

func TestRemoveLoadBalancersWithoutNamespace(t *testing.T) {
	f, c := newFake(t)
	if err := RemoveLoadBalancers(context.Background(), c, ns, time.Millisecond); err != nil {
		t.Fatalf("a namespace already gone holds no load balancer: %v", err)
	}
	if got := f.requests(); len(got) != 1 || got[0] != "GET /api/v1/namespaces/daskhub/services" {
		t.Errorf("requests %v", got)
	}
}

func TestTeardown(t *testing.T) {
	for status, want := range map[string]bool{
		"DELETE_IN_PROGRESS":                           true,
		"ROLLBACK_IN_PROGRESS":                         true,
		"UPDATE_COMPLETE_CLEANUP_IN_PROGRESS":          false,
		"UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS": false,
		"UPDATE_ROLLBACK_IN_PROGRESS":                  false,
		"UPDATE_IN_PROGRESS":                           false,
	} {
		if got := Teardown(status); got != want {
			t.Errorf("Teardown(%s) = %v, want %v", status, got, want)
		}
	}
}

// Moving the hub from a Classic to a Network Load Balancer, or the Network
// one to other subnets: a Service whose load balancer cannot become what
// the annotations say goes (and with it its load balancer) before Helm makes
// it again; one that matches, and Services without a load balancer, stay.
func TestReplaceLoadBalancersLeavesMatchingOnes(t *testing.T) {
	const typ, subnets = "service.beta.kubernetes.io/aws-load-balancer-type", "service.beta.kubernetes.io/aws-load-balancer-subnets"
	nlb := func(name, subnet string) string {
		return `{"metadata":{"name":"` + name + `","annotations":{"` + typ + `":"nlb","` + subnets + `":"` + subnet + `"},"finalizers":["service.kubernetes.io/load-balancer-cleanup"]},"spec":{"type":"LoadBalancer"}}`
	}
	f, c := newFake(t)
	var mu sync.Mutex
	deleted := map[string]bool{}
	f.routes["GET /api/v1/namespaces/daskhub/services"] = func(*http.Request) (int, string) {
		mu.Lock()
		defer mu.Unlock()
		items := []string{clusterIPService, nlb("matching", "subnet-a")}
		if !deleted["moved"] {
			items = append(items, nlb("moved", "subnet-b"))
		}
		if !deleted["proxy-public"] {
			items = append(items, lbService(false))
		}
		return 200, `{"items":[` + strings.Join(items, ",") + `]}`
	}
	for _, name := range []string{"proxy-public", "moved"} {
		f.routes["DELETE /api/v1/namespaces/daskhub/services/"+name] = func(*http.Request) (int, string) {
			mu.Lock()
			defer mu.Unlock()
			deleted[name] = true
			return 200, `{}`
		}
	}
	if err := ReplaceLoadBalancers(context.Background(), c, ns, map[string]string{typ: "nlb", subnets: "subnet-a"}, time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if !deleted["proxy-public"] || !deleted["moved"] {
		t.Errorf("deleted %v, want the Classic load balancer's Service and the one in other subnets", deleted)
	}
	for _, name := range []string{"matching", "hub"} {
		if n := f.count("DELETE", "/api/v1/namespaces/daskhub/services/"+name); n != 0 {
			t.Errorf("%s deleted %d times", name, n)
		}
	}
}
