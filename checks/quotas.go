package checks

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/heliocloud/heliocloud-go/config"
)

// quota is one EC2 vCPU quota of Service Quotas (service code ec2). EC2
// counts running vCPUs per quota, by instance family and purchase option:
// https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/ec2-on-demand-instances.html#ec2-on-demand-instances-limits
// and .../using-spot-limits.html.
type quota struct {
	Code, Title string
}

// vcpuQuotas by purchase option ("onDemand", "spot") and family class
// ("standard": A, C, D, H, I, M, R, T, Z; "g": G and VT).
var vcpuQuotas = map[string]quota{
	"onDemand/standard": {"L-1216C47A", "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances"},
	"onDemand/g":        {"L-DB2E81BA", "Running On-Demand G and VT instances"},
	"spot/standard":     {"L-34B43A08", "All Standard (A, C, D, H, I, M, R, T, Z) Spot Instance Requests"},
	"spot/g":            {"L-3819A6DF", "All G and VT Spot Instance Requests"},
}

// familyClass is the quota class of an instance type ("" for families this
// deployer does not offer, such as P or X).
func familyClass(instanceType string) string {
	family, _, _ := strings.Cut(instanceType, ".")
	switch {
	case strings.HasPrefix(family, "vt"), strings.HasPrefix(family, "g"):
		return "g"
	case family != "" && strings.ContainsRune("acdhimrtz", rune(family[0])) && !hasAnyPrefix(family, "inf", "dl", "trn"):
		return "standard"
	}
	return ""
}

// vcpuNeed is the vCPUs one quota may have to cover, with what makes it up.
type vcpuNeed struct {
	VCPUs int
	Parts []string
}

// vcpuNeeds adds up, per quota, the vCPUs the configuration can run at
// once: every DaskHub node group at maxSize of its largest type, plus one
// portal user at the running-machines limit on the largest offered type of
// each class (the portal has no instance-wide cap, so more users need more).
// The validator holds node group and portal types to config.InstanceTypes.
func vcpuNeeds(cfg *config.Config) map[string]*vcpuNeed {
	needs := map[string]*vcpuNeed{}
	add := func(key string, n int, part string) {
		if needs[key] == nil {
			needs[key] = &vcpuNeed{}
		}
		needs[key].VCPUs += n
		needs[key].Parts = append(needs[key].Parts, part)
	}
	if d := &cfg.Daskhub; d.Enabled {
		for _, name := range slices.Sorted(maps.Keys(d.NodeGroups)) {
			g := d.NodeGroups[name]
			if g.MaxSize == 0 || len(g.InstanceTypes) == 0 {
				continue
			}
			largest, class := 0, ""
			for _, t := range g.InstanceTypes {
				if it := config.InstanceTypes[t]; it.VCPU > largest {
					largest, class = it.VCPU, familyClass(t)
				}
			}
			if largest == 0 || class == "" {
				continue
			}
			add(g.Capacity+"/"+class, g.MaxSize*largest, fmt.Sprintf("node group %s %d x %d", name, g.MaxSize, largest))
		}
	}
	if p := &cfg.Portal; p.Enabled {
		largest := map[string]int{}
		names := map[string]string{}
		for _, t := range slices.Sorted(maps.Keys(p.InstanceTypes)) {
			it := config.InstanceTypes[t]
			if c := familyClass(t); c != "" && it.VCPU > largest[c] {
				largest[c], names[c] = it.VCPU, t
			}
		}
		for _, c := range slices.Sorted(maps.Keys(largest)) {
			n := p.Limits.RunningMachines
			add("onDemand/"+c, n*largest[c], fmt.Sprintf("one portal user %d x %s", n, names[c]))
		}
	}
	return needs
}

func hasAnyPrefix(s string, prefixes ...string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}
