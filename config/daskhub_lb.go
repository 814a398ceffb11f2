package config

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

func (lb *LoadBalancer) check(c *checker, cfg *Config) {
	const p = "daskhub.loadBalancer"
	if cfg.Daskhub.Domain.Name == "" {
		onlyWith(c, p, "a domain (without one the hub has no load balancer): set daskhub.domain.name", "zones", "publicCidrs")
		return
	}
	v := cfg.Base.VPC
	if v.Mode == "existing" && len(v.PublicSubnetIDs) == 0 {
		c.errorf("daskhub.domain.name", "the hub's load balancer stands in public subnets, and base.vpc lists none: set base.vpc.publicSubnetIds (one per zone, in the order of availabilityZones)")
	}
	if n := cfg.NetworkZoneCount(); lb.Zones < 1 || (n > 0 && lb.Zones > n) {
		c.errorf(p+".zones", "%d must be from 1 to the network's %d zones", lb.Zones, n)
	}
	for i, s := range lb.PublicCidrs {
		checkPublicCidr(c, fmt.Sprintf("%s.publicCidrs[%d]", p, i), s,
			"the load balancer is on the internet and sees the addresses users come from (their network's NAT or VPN exit): list those")
	}
	if slices.Contains(lb.PublicCidrs, "0.0.0.0/0") {
		c.warnf(p+".publicCidrs", "0.0.0.0/0 lets in everyone, as leaving publicCidrs out does; list narrower ranges or none")
	}
	for _, k := range slices.Sorted(maps.Keys(cfg.Tags)) {
		if strings.Contains(k+cfg.Tags[k], "=") {
			c.warnf("tags."+k, "the hub's load balancer, which Kubernetes makes, cannot carry this tag: the cloud provider reads its tags as key=value pairs, so a key or value may not hold \"=\"; it gets heliocloud:instance and the other tags")
		}
	}
}

// NetworkZoneCount is how many zones the network has (and so private and
// public subnets, one each per zone): the zones of an existing VPC, the
// zones given for a new one, else maxAzs.
func (cfg *Config) NetworkZoneCount() int {
	if v := cfg.Base.VPC; len(v.AvailabilityZones) > 0 {
		return len(v.AvailabilityZones)
	} else if v.Mode == "new" {
		return v.MaxAzs
	}
	return 0
}

// LoadBalancerZones are the positions, among the network's zones and so
// among its public subnets, of the zones the hub's load balancer stands
// in: coreZone first, then the zones after it, wrapping around.
func (cfg *Config) LoadBalancerZones() []int {
	n := cfg.NetworkZoneCount()
	if n == 0 {
		return nil
	}
	core := cfg.CoreZoneIndex()
	var out []int
	for i := range min(cfg.Daskhub.LoadBalancer.Zones, n) {
		out = append(out, (core+i)%n)
	}
	return out
}
