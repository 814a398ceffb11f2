package config

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// InstanceType is what the deployer knows of one EC2 instance type: enough
// to check node groups and profiles and to show prices to users.
type InstanceType struct {
	// VCPU and MemoryGiB are the machine's size.
	VCPU      int
	MemoryGiB float64
	// GPUs is the number of NVIDIA GPUs; 0 for CPU-only types.
	GPUs int
	// GPUModel names the GPU, for profile descriptions.
	GPUModel string
	// Arm64 marks Graviton (arm64) types; the others are x86_64.
	Arm64 bool
	// MaxPods is how many pods the VPC CNI lets a node of this type run
	// under its default (no prefix delegation), from the type's network
	// interfaces and their addresses: misc/eni-max-pods.txt of
	// amazon-vpc-cni-k8s at v1.23.0.
	MaxPods int
	// PriceUSDPerHour is the on-demand Linux price in us-east-1. Other
	// regions differ by a few percent to a third; spot is usually 50-70% less.
	PriceUSDPerHour float64
}

// A node keeps roughly a tenth of its memory and a fraction of a core for
// the kubelet, system daemons and Kubernetes' reserve; pods get the rest.

// AllocatableCPU is the cores pods may ask for on a node of this type.
func (t InstanceType) AllocatableCPU() float64 { return float64(t.VCPU) - 0.3 }

// AllocatableMemoryGiB is the memory pods may ask for on a node of this type.
func (t InstanceType) AllocatableMemoryGiB() float64 { return t.MemoryGiB * 0.9 }

// PriceRegion is the region whose on-demand prices InstanceTypes holds.
const PriceRegion = "us-east-1"

// InstanceTypes is the one table of instance types DaskHub's node groups,
// the portal and the base stack's NAT instances (base.vpc.nat.instanceType)
// may use. A node group of arm64 types runs EKS's AL2023 ARM AMI
// and only where every image on it is published for arm64 (config checks
// which). Prices are on-demand Linux in us-east-1 (PriceRegion).
var InstanceTypes = map[string]InstanceType{
	"t3.medium":    {VCPU: 2, MemoryGiB: 4, MaxPods: 17, PriceUSDPerHour: 0.0416},
	"t3.large":     {VCPU: 2, MemoryGiB: 8, MaxPods: 35, PriceUSDPerHour: 0.0832},
	"t3.xlarge":    {VCPU: 4, MemoryGiB: 16, MaxPods: 58, PriceUSDPerHour: 0.1664},
	"t3a.medium":   {VCPU: 2, MemoryGiB: 4, MaxPods: 17, PriceUSDPerHour: 0.0376},
	"t3a.large":    {VCPU: 2, MemoryGiB: 8, MaxPods: 35, PriceUSDPerHour: 0.0752},
	"t3a.xlarge":   {VCPU: 4, MemoryGiB: 16, MaxPods: 58, PriceUSDPerHour: 0.1504},
	"t4g.nano":     {VCPU: 2, MemoryGiB: 0.5, Arm64: true, MaxPods: 4, PriceUSDPerHour: 0.0042},
	"t4g.micro":    {VCPU: 2, MemoryGiB: 1, Arm64: true, MaxPods: 4, PriceUSDPerHour: 0.0084},
	"t4g.small":    {VCPU: 2, MemoryGiB: 2, Arm64: true, MaxPods: 11, PriceUSDPerHour: 0.0168},
	"t4g.medium":   {VCPU: 2, MemoryGiB: 4, Arm64: true, MaxPods: 17, PriceUSDPerHour: 0.0336},
	"t4g.large":    {VCPU: 2, MemoryGiB: 8, Arm64: true, MaxPods: 35, PriceUSDPerHour: 0.0672},
	"t4g.xlarge":   {VCPU: 4, MemoryGiB: 16, Arm64: true, MaxPods: 58, PriceUSDPerHour: 0.1344},
	"m7g.large":    {VCPU: 2, MemoryGiB: 8, Arm64: true, MaxPods: 29, PriceUSDPerHour: 0.0816},
	"m7g.xlarge":   {VCPU: 4, MemoryGiB: 16, Arm64: true, MaxPods: 58, PriceUSDPerHour: 0.1632},
	"m7g.2xlarge":  {VCPU: 8, MemoryGiB: 32, Arm64: true, MaxPods: 58, PriceUSDPerHour: 0.3264},
	"c7g.xlarge":   {VCPU: 4, MemoryGiB: 8, Arm64: true, MaxPods: 58, PriceUSDPerHour: 0.145},
	"c7g.2xlarge":  {VCPU: 8, MemoryGiB: 16, Arm64: true, MaxPods: 58, PriceUSDPerHour: 0.29},
	"r7g.large":    {VCPU: 2, MemoryGiB: 16, Arm64: true, MaxPods: 29, PriceUSDPerHour: 0.1071},
	"r7g.xlarge":   {VCPU: 4, MemoryGiB: 32, Arm64: true, MaxPods: 58, PriceUSDPerHour: 0.2142},
	"m7i.large":    {VCPU: 2, MemoryGiB: 8, MaxPods: 29, PriceUSDPerHour: 0.1008},
	"m7i.xlarge":   {VCPU: 4, MemoryGiB: 16, MaxPods: 58, PriceUSDPerHour: 0.2016},
	"m7i.2xlarge":  {VCPU: 8, MemoryGiB: 32, MaxPods: 58, PriceUSDPerHour: 0.4032},
	"m7i.4xlarge":  {VCPU: 16, MemoryGiB: 64, MaxPods: 234, PriceUSDPerHour: 0.8064},
	"m7i.8xlarge":  {VCPU: 32, MemoryGiB: 128, MaxPods: 234, PriceUSDPerHour: 1.6128},
	"m7a.2xlarge":  {VCPU: 8, MemoryGiB: 32, MaxPods: 58, PriceUSDPerHour: 0.46368},
	"m7a.4xlarge":  {VCPU: 16, MemoryGiB: 64, MaxPods: 234, PriceUSDPerHour: 0.92736},
	"m7a.8xlarge":  {VCPU: 32, MemoryGiB: 128, MaxPods: 234, PriceUSDPerHour: 1.85472},
	"m6i.2xlarge":  {VCPU: 8, MemoryGiB: 32, MaxPods: 58, PriceUSDPerHour: 0.384},
	"m6i.4xlarge":  {VCPU: 16, MemoryGiB: 64, MaxPods: 234, PriceUSDPerHour: 0.768},
	"m6i.8xlarge":  {VCPU: 32, MemoryGiB: 128, MaxPods: 234, PriceUSDPerHour: 1.536},
	"m6a.2xlarge":  {VCPU: 8, MemoryGiB: 32, MaxPods: 58, PriceUSDPerHour: 0.3456},
	"m6a.4xlarge":  {VCPU: 16, MemoryGiB: 64, MaxPods: 234, PriceUSDPerHour: 0.6912},
	"m6a.8xlarge":  {VCPU: 32, MemoryGiB: 128, MaxPods: 234, PriceUSDPerHour: 1.3824},
	"m5.large":     {VCPU: 2, MemoryGiB: 8, MaxPods: 29, PriceUSDPerHour: 0.096},
	"m5.xlarge":    {VCPU: 4, MemoryGiB: 16, MaxPods: 58, PriceUSDPerHour: 0.192},
	"m5.2xlarge":   {VCPU: 8, MemoryGiB: 32, MaxPods: 58, PriceUSDPerHour: 0.384},
	"m5.4xlarge":   {VCPU: 16, MemoryGiB: 64, MaxPods: 234, PriceUSDPerHour: 0.768},
	"m5.8xlarge":   {VCPU: 32, MemoryGiB: 128, MaxPods: 234, PriceUSDPerHour: 1.536},
	"c7i.xlarge":   {VCPU: 4, MemoryGiB: 8, MaxPods: 58, PriceUSDPerHour: 0.1785},
	"c7i.2xlarge":  {VCPU: 8, MemoryGiB: 16, MaxPods: 58, PriceUSDPerHour: 0.357},
	"c7i.4xlarge":  {VCPU: 16, MemoryGiB: 32, MaxPods: 234, PriceUSDPerHour: 0.714},
	"r7i.large":    {VCPU: 2, MemoryGiB: 16, MaxPods: 29, PriceUSDPerHour: 0.1323},
	"r7i.xlarge":   {VCPU: 4, MemoryGiB: 32, MaxPods: 58, PriceUSDPerHour: 0.2646},
	"r7i.2xlarge":  {VCPU: 8, MemoryGiB: 64, MaxPods: 58, PriceUSDPerHour: 0.5292},
	"r7i.4xlarge":  {VCPU: 16, MemoryGiB: 128, MaxPods: 234, PriceUSDPerHour: 1.0584},
	"r7i.8xlarge":  {VCPU: 32, MemoryGiB: 256, MaxPods: 234, PriceUSDPerHour: 2.1168},
	"r6i.4xlarge":  {VCPU: 16, MemoryGiB: 128, MaxPods: 234, PriceUSDPerHour: 1.008},
	"r6i.8xlarge":  {VCPU: 32, MemoryGiB: 256, MaxPods: 234, PriceUSDPerHour: 2.016},
	"g4dn.xlarge":  {VCPU: 4, MemoryGiB: 16, GPUs: 1, GPUModel: "NVIDIA T4", MaxPods: 29, PriceUSDPerHour: 0.526},
	"g4dn.2xlarge": {VCPU: 8, MemoryGiB: 32, GPUs: 1, GPUModel: "NVIDIA T4", MaxPods: 29, PriceUSDPerHour: 0.752},
	"g4dn.4xlarge": {VCPU: 16, MemoryGiB: 64, GPUs: 1, GPUModel: "NVIDIA T4", MaxPods: 29, PriceUSDPerHour: 1.204},
	"g5.xlarge":    {VCPU: 4, MemoryGiB: 16, GPUs: 1, GPUModel: "NVIDIA A10G", MaxPods: 58, PriceUSDPerHour: 1.006},
	"g5.2xlarge":   {VCPU: 8, MemoryGiB: 32, GPUs: 1, GPUModel: "NVIDIA A10G", MaxPods: 58, PriceUSDPerHour: 1.212},
	"g5.4xlarge":   {VCPU: 16, MemoryGiB: 64, GPUs: 1, GPUModel: "NVIDIA A10G", MaxPods: 234, PriceUSDPerHour: 1.624},
	"g6.xlarge":    {VCPU: 4, MemoryGiB: 16, GPUs: 1, GPUModel: "NVIDIA L4", MaxPods: 58, PriceUSDPerHour: 0.8048},
	"g6.2xlarge":   {VCPU: 8, MemoryGiB: 32, GPUs: 1, GPUModel: "NVIDIA L4", MaxPods: 58, PriceUSDPerHour: 0.9776},
	"g6.4xlarge":   {VCPU: 16, MemoryGiB: 64, GPUs: 1, GPUModel: "NVIDIA L4", MaxPods: 234, PriceUSDPerHour: 1.3232},
	"g6.12xlarge":  {VCPU: 48, MemoryGiB: 192, GPUs: 4, GPUModel: "NVIDIA L4", MaxPods: 234, PriceUSDPerHour: 4.6016},
}

// InstanceTypeNames lists the known instance types, sorted.
func InstanceTypeNames() []string {
	return slices.Sorted(maps.Keys(InstanceTypes))
}

// FormatPrice writes an hourly price for people: "$0.40/h".
func FormatPrice(usdPerHour float64) string {
	s := fmt.Sprintf("%.2f", usdPerHour)
	if usdPerHour < 0.1 {
		s = strings.TrimRight(fmt.Sprintf("%.3f", usdPerHour), "0")
	}
	return "$" + s + "/h"
}
