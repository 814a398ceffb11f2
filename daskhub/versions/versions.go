// Package versions is the one table of what DaskHub installs for each
// Kubernetes minor version the deployer supports: Helm chart versions, the
// images we set in their values, and the versions of the software inside
// the images we configure (the JupyterHub chart's hub image). The config
// package takes its defaults and checks from it, the values package its
// image tags, and the tests the rules each pinned version imposes.
//
// Every entry was checked upstream at its tag; docs/daskhub.md lists the
// sources. Changing a version here means reading that software's source at
// the new tag against the rules in daskhub/values/upstream_test.go.
package versions

import (
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Charts are Helm chart versions.
type Charts struct {
	// Jupyterhub is the JupyterHub chart (https://hub.jupyter.org/helm-chart/).
	Jupyterhub string
	// DaskGateway is the Dask Gateway chart (https://helm.dask.org).
	DaskGateway string
	// ClusterAutoscaler is the Cluster Autoscaler chart
	// (https://kubernetes.github.io/autoscaler).
	ClusterAutoscaler string
	// NvidiaDevicePlugin is NVIDIA's device plugin chart
	// (https://nvidia.github.io/k8s-device-plugin).
	NvidiaDevicePlugin string
}

// Hub is what runs inside the JupyterHub chart's hub image, which our hub
// configuration (authenticator, spawner) is written for.
type Hub struct {
	// JupyterHub, OAuthenticator and KubeSpawner versions, from
	// images/hub/requirements.txt of the chart's tag.
	JupyterHub, OAuthenticator, KubeSpawner string
}

// Release is what goes with one Kubernetes minor version.
type Release struct {
	// Charts installed on a cluster of this version.
	Charts Charts
	// ClusterAutoscalerImage is the tag of
	// registry.k8s.io/autoscaling/cluster-autoscaler: the autoscaler
	// supports only the Kubernetes minor version it was built for.
	ClusterAutoscalerImage string
	// KubeSchedulerImage is the tag of registry.k8s.io/kube-scheduler that
	// the JupyterHub chart's user-scheduler runs: a scheduler newer than
	// the API server is unsupported, and more than one minor older is
	// outside Kubernetes' version-skew policy.
	KubeSchedulerImage string
	// Hub is the software of the JupyterHub chart's hub image.
	Hub Hub
	// EKSAddons would pin the managed add-ons; it is empty on purpose:
	// add-on versions are published per cluster version only through the
	// EKS API (DescribeAddonVersions), which synthesis does not call, so
	// the stack leaves the version out and EKS installs its default for
	// the cluster's version.
	EKSAddons map[string]string
}

// hub440 is the hub image of JupyterHub chart 4.4.0
// (images/hub/requirements.txt@4.4.0 of jupyterhub/zero-to-jupyterhub-k8s).
var hub440 = Hub{JupyterHub: "5.5.0", OAuthenticator: "17.4.0", KubeSpawner: "7.0.0"}

// Kubernetes is the table, keyed by minor version ("1.35").
//
// Cluster Autoscaler: chart 9.53.0 is the last whose appVersion is 1.34
// (2025-12-03); 9.54.0 is the first whose ClusterRole grants the
// resource.k8s.io (DRA) reads that images from 1.35 on need, because they
// lock --enable-dynamic-resource-allocation to true
// (cluster-autoscaler/config/flags/flags.go@cluster-autoscaler-1.35.2).
// 9.59.0 is the newest chart; no chart names 1.36 yet, and the 1.36 image
// watches the same three DRA resources as 1.35's.
//
// kube-scheduler tags are Kubernetes releases: v1.34.9 and v1.36.2 are the
// k8s.io/kubernetes versions the autoscaler 1.34.5 and 1.36.1 build
// against (their go.mod), v1.35.7 the tag z2jh's main branch runs.
var Kubernetes = map[string]Release{
	"1.34": {
		Charts:                 Charts{Jupyterhub: "4.4.0", DaskGateway: "2025.4.0", ClusterAutoscaler: "9.53.0", NvidiaDevicePlugin: "0.17.4"},
		ClusterAutoscalerImage: "v1.34.5",
		KubeSchedulerImage:     "v1.34.9",
		Hub:                    hub440,
	},
	"1.35": {
		Charts:                 Charts{Jupyterhub: "4.4.0", DaskGateway: "2025.4.0", ClusterAutoscaler: "9.59.0", NvidiaDevicePlugin: "0.17.4"},
		ClusterAutoscalerImage: "v1.35.2",
		KubeSchedulerImage:     "v1.35.7",
		Hub:                    hub440,
	},
	"1.36": {
		Charts:                 Charts{Jupyterhub: "4.4.0", DaskGateway: "2025.4.0", ClusterAutoscaler: "9.59.0", NvidiaDevicePlugin: "0.17.4"},
		ClusterAutoscalerImage: "v1.36.1",
		KubeSchedulerImage:     "v1.36.2",
		Hub:                    hub440,
	},
}

// AwsCliImage fetches the hub's Cognito client secret when the hub starts;
// it does not depend on the cluster's version.
const AwsCliImage = "public.ecr.aws/aws-cli/aws-cli:2.27.0"

// Minors lists the supported Kubernetes minor versions, oldest first.
func Minors() []string {
	return slices.SortedFunc(maps.Keys(Kubernetes), Compare)
}

// Compare orders dotted version numbers ("9.54.0", "v1.35.2", "1.36")
// numerically, part by part; a leading "v" and any pre-release or build
// suffix are ignored, and a missing part counts as 0.
func Compare(a, b string) int {
	pa, pb := parts(a), parts(b)
	for i := range max(len(pa), len(pb)) {
		var x, y int
		if i < len(pa) {
			x = pa[i]
		}
		if i < len(pb) {
			y = pb[i]
		}
		if x != y {
			return x - y
		}
	}
	return 0
}

func parts(v string) []int {
	v = strings.TrimPrefix(v, "v")
	if i := strings.IndexAny(v, "-+"); i >= 0 {
		v = v[:i]
	}
	var out []int
	for _, s := range strings.Split(v, ".") {
		n, _ := strconv.Atoi(s)
		out = append(out, n)
	}
	return out
}

// Minor is the "major.minor" of a version such as v1.35.2.
func Minor(v string) string {
	p := parts(v)
	if len(p) < 2 {
		return ""
	}
	return strconv.Itoa(p[0]) + "." + strconv.Itoa(p[1])
}
