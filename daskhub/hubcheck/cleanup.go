package hubcheck

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// LoadBalancerFinalizer holds a Service of type LoadBalancer until the cloud
// provider has deleted its load balancer; the AWS provider deletes the load
// balancer's security groups in the same step. (k8s.io/cloud-provider
// service/helpers/helper.go and controllers/service/controller.go at v0.35.6,
// which cloud-provider-aws v1.35.0 uses: the finalizer is removed only after
// EnsureLoadBalancerDeleted returned without error.)
const LoadBalancerFinalizer = "service.kubernetes.io/load-balancer-cleanup"

// Teardown tells whether a custom resource deleted while its stack has
// status is being deleted with everything around it. Only then may the
// hub's load balancer go: a resource is also deleted when an update removes
// or replaces it, or when CloudFormation cleans up after a failed update,
// and the hub must keep serving then.
func Teardown(stackStatus string) bool {
	// ROLLBACK_IN_PROGRESS is the rollback of a stack's first creation,
	// which deletes everything.
	return stackStatus == "DELETE_IN_PROGRESS" || stackStatus == "ROLLBACK_IN_PROGRESS"
}

// RemoveLoadBalancers deletes the Services of type LoadBalancer in namespace
// and waits, checking every interval, until the cloud provider has removed
// them, so that no load balancer or security group of theirs is left to
// block deleting the VPC. When ctx ends first, the error names the Services
// left and the cloud provider's last warnings about them.
func RemoveLoadBalancers(ctx context.Context, c *Client, namespace string, interval time.Duration) error {
	return removeLoadBalancers(ctx, c, namespace, interval, func(service) bool { return true })
}

// ActionReplaceLoadBalancers is the Action property of the custom resource
// whose function (lambda/hubcheck) runs ReplaceLoadBalancers.
const ActionReplaceLoadBalancers = "replaceLoadBalancers"

// ReplaceLoadBalancers deletes the Services of type LoadBalancer in
// namespace whose annotations differ from fixed on any of its keys, and
// waits until the cloud provider has removed their load balancers, for Helm
// to make the Services again as fixed says. fixed holds what the AWS cloud
// provider cannot change on a live load balancer: its type (changing
// service.beta.kubernetes.io/aws-load-balancer-type makes a load balancer
// of the new kind and
// leaves the old one behind, since EnsureLoadBalancer and
// EnsureLoadBalancerDeleted deal only with the Service's present kind) and
// its subnets (ensureLoadBalancerv2 ignores a change: "Subnets cannot be
// modified on NLBs"); pkg/providers/v1/aws.go and aws_loadbalancer.go of
// kubernetes/cloud-provider-aws at v1.34.3, v1.35.2 and v1.36.1.
func ReplaceLoadBalancers(ctx context.Context, c *Client, namespace string, fixed map[string]string, interval time.Duration) error {
	return removeLoadBalancers(ctx, c, namespace, interval, func(s service) bool {
		for k, v := range fixed {
			if s.Metadata.Annotations[k] != v {
				return true
			}
		}
		return false
	})
}

// removeLoadBalancers removes the load balancer Services of namespace that
// match, as RemoveLoadBalancers says.
func removeLoadBalancers(ctx context.Context, c *Client, namespace string, interval time.Duration, match func(service) bool) error {
	// seen is what the last complete listing left: when ctx ends in the
	// middle of a request, that, not the cut request, is the reason.
	var seen []service
	for {
		var list serviceList
		err := c.getJSON(ctx, "/api/v1/namespaces/"+namespace+"/services", nil, &list)
		if isNotFound(err) {
			return nil
		}
		if err != nil && ctx.Err() != nil && seen != nil {
			return stuck(c, namespace, seen)
		}
		if err != nil {
			return fmt.Errorf("listing the Services of namespace %s: %w", namespace, err)
		}
		var left []service
		for _, s := range list.Items {
			if (s.Spec.Type == "LoadBalancer" || slices.Contains(s.Metadata.Finalizers, LoadBalancerFinalizer)) && match(s) {
				left = append(left, s)
			}
		}
		if len(left) == 0 {
			return nil
		}
		seen = left
		for _, s := range left {
			if s.Metadata.DeletionTimestamp != "" {
				continue
			}
			_, err := c.do(ctx, http.MethodDelete, "/api/v1/namespaces/"+namespace+"/services/"+s.Metadata.Name, nil)
			if err != nil && ctx.Err() != nil {
				return stuck(c, namespace, left)
			}
			if err != nil && !isNotFound(err) {
				return fmt.Errorf("deleting Service %s/%s: %w", namespace, s.Metadata.Name, err)
			}
		}
		select {
		case <-ctx.Done():
			return stuck(c, namespace, left)
		case <-time.After(interval):
		}
	}
}

// stuck words the Services still waiting for their load balancers' removal.
func stuck(c *Client, namespace string, left []service) error {
	// ctx has ended: the last look gets a moment of its own.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var parts []string
	for _, s := range left {
		part := "Service " + namespace + "/" + s.Metadata.Name + " still waits for its load balancer's removal"
		var evs eventList
		q := url.Values{"fieldSelector": {"involvedObject.kind=Service,involvedObject.name=" + s.Metadata.Name}}
		if c.getJSON(ctx, "/api/v1/namespaces/"+namespace+"/events", q, &evs) == nil {
			for _, e := range evs.Items {
				if e.Type == "Warning" {
					part += "; " + e.Reason + ": " + clip(e.Message, 300)
				}
			}
		}
		parts = append(parts, part)
	}
	return fmt.Errorf("%s (the load balancer and its security groups may be left; see docs/daskhub.md)", strings.Join(parts, "\n"))
}
