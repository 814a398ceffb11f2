package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2/awseksv2"
	"github.com/aws/jsii-runtime-go"
)

// Labels Dask Gateway 2025.4.0 puts on the pods it runs: the chart's own
// (gateway API, controller, traefik proxy; dask-gateway.labels in
// resources/helm/dask-gateway/templates/_helpers.tpl) and the clusters'
// (common_labels and app.kubernetes.io/component in
// dask-gateway-server/dask_gateway_server/backends/kubernetes/backend.py).
const (
	daskNameLabel      = "app.kubernetes.io/name"
	daskNameValue      = "dask-gateway"
	daskComponentLabel = "app.kubernetes.io/component"
)

// daskComponents are the components of users' Dask clusters, which run
// users' code.
var daskComponents = []any{"dask-scheduler", "dask-worker"}

// privateRanges are the private IPv4 ranges and the instance metadata
// service, the destinations users' Dask pods may not reach directly: the
// VPC (the EFS mount targets, the Kubernetes API) and the node's
// credentials. The Pod Identity agent's 169.254.170.23 stays reachable.
// The JupyterHub chart's egressAllowRules.nonPrivateIPs, which guards users'
// servers, excepts the same ranges (jupyterhub/templates/_helpers-netpol.tpl
// at 4.4.0).
var privateRanges = []string{"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.169.254/32"}

// networkPolicies keep users' Dask schedulers and workers to themselves;
// the VPC CNI enforces them (enableNetworkPolicy on the vpc-cni add-on).
// Users' servers are guarded by the JupyterHub chart's own singleuser
// policy: ingress only from the hub and proxy, no metadata service, no
// private addresses. Dask pods get:
//   - ingress only from Dask Gateway's pods (its proxy, API and the
//     clusters' schedulers and workers): users' servers reach their
//     clusters through the gateway's proxy, never directly;
//   - egress to Dask Gateway's pods, to cluster DNS, and to addresses
//     outside the private ranges and the metadata service.
//
// Egress to a Service's cluster IP is allowed where the Service selects
// pods a rule's podSelector selects (getMatchingServiceClusterIPs in
// pkg/resolvers/endpoints.go of amazon-network-policy-controller-k8s at
// v1.1.7): the gateway's API and cluster DNS are reached that way.
//
// A policy cannot name "the same cluster as this pod", so a worker still
// accepts a connection from another user's Dask pod; Dask Gateway's mutual
// TLS, with a certificate per cluster, refuses it (docs/daskhub.md).
func (d *DaskhubStack) networkPolicies(namespace awseksv2.KubernetesManifest) awseksv2.KubernetesManifest {
	except := append([]string{}, privateRanges...)
	if cidr := d.inst.Config.Base.VPC.Cidr; cidr != "" {
		except = append(except, cidr)
	}
	gatewayPods := map[string]any{"podSelector": map[string]any{"matchLabels": map[string]any{daskNameLabel: daskNameValue}}}
	policy := d.Cluster.AddManifest(jsii.String("NetworkPolicyDask"), &map[string]any{
		"apiVersion": "networking.k8s.io/v1",
		"kind":       "NetworkPolicy",
		"metadata":   map[string]any{"name": "dask-clusters", "namespace": d.cfg.Namespace},
		"spec": map[string]any{
			"podSelector": map[string]any{
				"matchLabels":      map[string]any{daskNameLabel: daskNameValue},
				"matchExpressions": []any{map[string]any{"key": daskComponentLabel, "operator": "In", "values": daskComponents}},
			},
			"policyTypes": []any{"Ingress", "Egress"},
			"ingress":     []any{map[string]any{"from": []any{gatewayPods}}},
			"egress": []any{
				map[string]any{"to": []any{gatewayPods}},
				map[string]any{
					"to": []any{map[string]any{
						"namespaceSelector": map[string]any{"matchLabels": map[string]any{"kubernetes.io/metadata.name": "kube-system"}},
						"podSelector":       map[string]any{"matchLabels": map[string]any{"k8s-app": "kube-dns"}},
					}},
					"ports": []any{map[string]any{"port": 53, "protocol": "UDP"}, map[string]any{"port": 53, "protocol": "TCP"}},
				},
				map[string]any{"to": []any{map[string]any{"ipBlock": map[string]any{"cidr": "0.0.0.0/0", "except": except}}}},
			},
		},
	})
	policy.Node().AddDependency(namespace)
	d.waitForReady(policy)
	return policy
}
