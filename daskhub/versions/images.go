package versions

import "strings"

// Image is a container image that runs on the core nodes (or on every
// node) of a cluster, and what was read of the architectures it is
// published for. A core node group may use Graviton (arm64) types only
// when every image in CoreImages is published for linux/arm64.
type Image struct {
	// Name is the image without its tag.
	Name string
	// Tag is the tag we pin or the chart's default at its pinned version;
	// "EKS" for the managed add-ons, whose versions EKS chooses.
	Tag string
	// Runs says what runs it: a chart's workload or an add-on.
	Runs string
	// Arm64 says it is published for linux/arm64 as well as linux/amd64.
	Arm64 bool
	// Verified is true when Source is the upstream build configuration at
	// the tag in use; false when it could not be read there offline, and
	// Source says what was read instead.
	Verified bool
	// Source is where the architectures were read (file@tag of the
	// upstream repository).
	Source string
}

// CoreImages are the images that run on core nodes on a cluster of the
// given minor version: the JupyterHub chart's hub, proxy and
// user-scheduler (the chart's corePods affinity keeps them on core nodes),
// the hub's init container, Dask Gateway's api, controller and proxy and
// the Cluster Autoscaler (which have no node selector of ours but the
// autoscaler's, and so run on the untainted core nodes), and the managed
// add-ons (DaemonSets on every node, CoreDNS and the CSI controllers on
// untainted nodes). The NVIDIA device plugin runs on GPU groups only,
// which are x86_64.
func CoreImages(minor string) []Image {
	r := Kubernetes[minor]
	return []Image{
		{Name: "quay.io/jupyterhub/k8s-hub", Tag: r.Charts.Jupyterhub, Runs: "JupyterHub hub", Arm64: true, Verified: true,
			Source: "ci/publish@4.4.0 of jupyterhub/zero-to-jupyterhub-k8s: chartpress --platform linux/amd64 --platform linux/arm64 for every image of chartpress.yaml"},
		{Name: "quay.io/jupyterhub/configurable-http-proxy", Tag: "5.2.0", Runs: "JupyterHub proxy (the chart's default, jupyterhub/values.yaml@4.4.0)", Arm64: true, Verified: true,
			Source: ".github/workflows/publish.yml@5.2.0 of jupyterhub/configurable-http-proxy: platforms linux/amd64,linux/arm64"},
		{Name: "registry.k8s.io/kube-scheduler", Tag: r.KubeSchedulerImage, Runs: "JupyterHub user-scheduler", Arm64: true, Verified: false,
			Source: "hack/lib/golang.sh of kubernetes/kubernetes lists linux/arm64 among the server platforms and kube-scheduler among the server images, read at an older snapshot, not at this tag (no mirror of kubernetes/kubernetes here)"},
		{Name: "public.ecr.aws/aws-cli/aws-cli", Tag: tagOf(AwsCliImage), Runs: "the hub's init container (reads the Cognito client secret)", Arm64: true, Verified: false,
			Source: "built outside aws/aws-cli (docker/Dockerfile takes the installer zip, x86_64 by default, as a build argument); the architectures of the published image could not be read offline"},
		{Name: "ghcr.io/dask/dask-gateway-server", Tag: r.Charts.DaskGateway, Runs: "Dask Gateway api and controller", Arm64: true, Verified: true,
			Source: "continuous_integration/kubernetes/build-publish-helm-chart.sh@2025.4.0 of dask/dask-gateway: chartpress --platform=linux/amd64 --platform=linux/arm64"},
		{Name: "docker.io/traefik", Tag: "3.3.5", Runs: "Dask Gateway proxy (the chart's default, resources/helm/dask-gateway/values.yaml@2025.4.0)", Arm64: true, Verified: false,
			Source: "library/traefik of docker-library/official-images lists amd64 and arm64v8 for every Linux Traefik release in the version read (2.9.4), not for 3.3.5"},
		{Name: "registry.k8s.io/autoscaling/cluster-autoscaler", Tag: r.ClusterAutoscalerImage, Runs: "Cluster Autoscaler (on core nodes by its node selector)", Arm64: true, Verified: true,
			Source: "cluster-autoscaler/Makefile@cluster-autoscaler-" + strings.TrimPrefix(r.ClusterAutoscalerImage, "v") + " of kubernetes/autoscaler: ALL_ARCH = amd64 arm64 s390x, joined in one manifest"},
		{Name: "amazon-k8s-cni", Tag: "EKS", Runs: "vpc-cni add-on (aws-node, every node)", Arm64: true, Verified: true,
			Source: "Makefile@v1.23.0 of aws/amazon-vpc-cni-k8s: MULTI_PLATFORM_BUILD_TARGETS linux/amd64,linux/arm64 (EKS picks the add-on version; the network policy agent's image in the same pod, from aws/aws-network-policy-agent, was not read)"},
		{Name: "eks-pod-identity-agent", Tag: "EKS", Runs: "eks-pod-identity-agent add-on (every node)", Arm64: true, Verified: true,
			Source: ".github/workflows/release.yaml@v0.1.37 of aws/eks-pod-identity-agent: --platform=linux/amd64,linux/arm64"},
		{Name: "aws-ebs-csi-driver", Tag: "EKS", Runs: "aws-ebs-csi-driver add-on (node plugin on every node, controller)", Arm64: true, Verified: true,
			Source: "Makefile@v1.64.0 of kubernetes-sigs/aws-ebs-csi-driver: ALL_ARCH_linux amd64 arm64 (the CSI sidecars EKS ships with it were not read)"},
		{Name: "aws-efs-csi-driver", Tag: "EKS", Runs: "aws-efs-csi-driver add-on (node plugin on every node, controller)", Arm64: true, Verified: true,
			Source: "Makefile@v3.4.1 of kubernetes-sigs/aws-efs-csi-driver: ALL_ARCH_linux amd64 arm64, PLATFORM linux/amd64,linux/arm64"},
		{Name: "kube-proxy, coredns", Tag: "EKS", Runs: "kube-proxy (every node) and coredns add-ons", Arm64: true, Verified: false,
			Source: "EKS builds these images itself; no build configuration to read. EKS's AL2023 ARM AMI type for managed node groups presupposes them, and AWS's EKS Blueprints add-on page lists both for arm64"},
	}
}

// tagOf is the tag of an image reference name:tag.
func tagOf(ref string) string { return ref[strings.LastIndex(ref, ":")+1:] }
