package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2/awseksv2"
	"github.com/aws/jsii-runtime-go"

	"github.com/heliocloud/heliocloud-go/daskhub/values"
)

// Labels Dask Gateway 2025.4.0 puts on the pods it runs: the chart's own
// (gateway API, controller, traefik proxy; dask-gateway.labels and the
// deployments' app.kubernetes.io/component in resources/helm/dask-gateway/
// templates) and the clusters' (common_labels and app.kubernetes.io/component
// in dask-gateway-server/dask_gateway_server/backends/kubernetes/backend.py).
const (
	daskNameLabel      = "app.kubernetes.io/name"
	daskNameValue      = "dask-gateway"
	daskComponentLabel = "app.kubernetes.io/component"
)

// daskComponents are the components of users' Dask clusters, which run
// users' code.
var daskComponents = []any{"dask-scheduler", "dask-worker"}

// gatewayComponents are the gateway's own pods that talk to clusters: the
// API (which calls a scheduler's API on port 8788, backends/kubernetes/
// backend.py) and the traefik proxy (which forwards users' connections and
// dashboards). The controller only talks to the Kubernetes API.
var gatewayComponents = []any{"gateway", "traefik"}

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
// private addresses. Dask pods get, from this static policy:
//   - ingress only from Dask Gateway's API and proxy: users' servers reach
//     their clusters through the gateway's proxy, never directly;
//   - egress to the gateway's API and proxy, to cluster DNS, and to
//     addresses outside the private ranges and the metadata service.
//
// and from the policy the gateway writes for each cluster as it creates it
// (values.clusterPolicyPy): ingress from and egress to the pods of the same
// cluster. Policies add up, so a cluster whose own policy is missing is cut
// off, never open to other clusters.
//
// Egress to a Service's cluster IP is allowed where the Service selects
// pods a rule's podSelector selects (getMatchingServiceClusterIPs in
// pkg/resolvers/endpoints.go of amazon-network-policy-controller-k8s at
// v1.1.7): the gateway's API and cluster DNS are reached that way. A
// scheduler's Service is headless (make_service in the gateway's
// backends/kubernetes/controller.py), so workers reach their scheduler's
// pod address, which the cluster's own policy admits.
// hubDaskClustersRole lets the hub stop a revoked user's Dask clusters.
const hubDaskClustersRole = "hub-dask-clusters"

func (d *DaskhubStack) networkPolicies(namespace awseksv2.KubernetesManifest) awseksv2.KubernetesManifest {
	except := append([]string{}, privateRanges...)
	if cidr := d.inst.Config.Base.VPC.Cidr; cidr != "" {
		except = append(except, cidr)
	}
	gatewayPods := map[string]any{"podSelector": map[string]any{
		"matchLabels":      map[string]any{daskNameLabel: daskNameValue},
		"matchExpressions": []any{map[string]any{"key": daskComponentLabel, "operator": "In", "values": gatewayComponents}},
	}}
	ns := d.cfg.Namespace
	policy := d.Cluster.AddManifest(jsii.String("NetworkPolicyDask"), &map[string]any{
		"apiVersion": "networking.k8s.io/v1",
		"kind":       "NetworkPolicy",
		"metadata":   map[string]any{"name": "dask-clusters", "namespace": ns},
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
	}, &map[string]any{
		// The gateway API writes each cluster's policy (values.clusterPolicyPy);
		// the chart's own ClusterRole covers only secrets and daskclusters
		// (templates/gateway/rbac.yaml at 2025.4.0). It may create policies
		// in this namespace, nothing else: it cannot change or delete the
		// static one, and Kubernetes deletes each cluster's with the cluster.
		"apiVersion": "rbac.authorization.k8s.io/v1",
		"kind":       "Role",
		"metadata":   map[string]any{"name": "dask-gateway-cluster-policies", "namespace": ns},
		"rules": []any{map[string]any{
			"apiGroups": []any{"networking.k8s.io"},
			"resources": []any{"networkpolicies"},
			"verbs":     []any{"create"},
		}},
	}, &map[string]any{
		"apiVersion": "rbac.authorization.k8s.io/v1",
		"kind":       "RoleBinding",
		"metadata":   map[string]any{"name": "dask-gateway-cluster-policies", "namespace": ns},
		"subjects":   []any{map[string]any{"kind": "ServiceAccount", "name": values.GatewayServiceAccount, "namespace": ns}},
		"roleRef":    map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "dask-gateway-cluster-policies"},
	}, &map[string]any{
		// The hub stops the Dask clusters of a user Cognito refuses, or of
		// a team they left (values.hubRefreshPy): it may list and delete
		// DaskCluster objects in this namespace, nothing else of the
		// gateway's (the chart's hub Role covers pods, volumes claims,
		// secrets and services only: templates/hub/rbac.yaml at 4.4.0).
		"apiVersion": "rbac.authorization.k8s.io/v1",
		"kind":       "Role",
		"metadata":   map[string]any{"name": hubDaskClustersRole, "namespace": ns},
		"rules": []any{map[string]any{
			"apiGroups": []any{"gateway.dask.org"},
			"resources": []any{"daskclusters"},
			"verbs":     []any{"list", "delete"},
		}},
	}, &map[string]any{
		"apiVersion": "rbac.authorization.k8s.io/v1",
		"kind":       "RoleBinding",
		"metadata":   map[string]any{"name": hubDaskClustersRole, "namespace": ns},
		"subjects":   []any{map[string]any{"kind": "ServiceAccount", "name": values.HubServiceAccount, "namespace": ns}},
		"roleRef":    map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": hubDaskClustersRole},
	})
	policy.Node().AddDependency(namespace)
	d.waitForReady(policy)
	return policy
}
