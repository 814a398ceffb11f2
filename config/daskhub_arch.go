package config

import (
	"maps"
	"slices"

	"github.com/heliocloud/heliocloud-go/daskhub/versions"
)

// checkArchitectures lets a Graviton (arm64) node group run only images
// published for arm64. An image built for x86_64 alone fails there with
// "exec format error" when its container starts.
//
// What runs on a group: on a core group, the charts' and add-ons' images
// of versions.CoreImages; on any group, the servers of every profile whose
// pods fit it (its own group, or one with the same labels and taints); and
// on a group where Dask schedulers or workers fit, the image of any server,
// since a Dask cluster runs the image of the server that starts it.
func (x *Daskhub) checkArchitectures(c *checker) {
	for _, name := range slices.Sorted(maps.Keys(x.NodeGroups)) {
		g := x.NodeGroups[name]
		if !g.Arm64() {
			continue
		}
		p := "daskhub.nodeGroups." + name
		if g.Purpose == "core" {
			for _, im := range versions.CoreImages(x.KubernetesVersion) {
				if !im.Arm64 {
					c.errorf(p+".instanceTypes", "is arm64 (Graviton), but %s:%s (%s) is published for x86_64 only: core groups need x86_64 types", im.Name, im.Tag, im.Runs)
				}
			}
		}
		dask := false
		for _, target := range []string{x.Dask.WorkerNodeGroup, x.Dask.GPUWorkerNodeGroup, x.Dask.SchedulerNodeGroup} {
			if t, ok := x.NodeGroups[target]; ok && fits(t, g) {
				dask = true
			}
		}
		for _, pn := range slices.Sorted(maps.Keys(x.Profiles)) {
			pr := x.Profiles[pn]
			if pr.MultiArchImage {
				continue
			}
			t, ok := x.NodeGroups[pr.NodeGroup]
			switch {
			case ok && fits(t, g):
				c.errorf("daskhub.profiles."+pn+".multiArchImage", "the profile's servers run on arm64 (Graviton) group %s, but its image %s is not marked as published for arm64: set multiArchImage: true once `docker manifest inspect %s` lists linux/arm64, or give the group x86_64 types", name, pr.Image, pr.Image)
			case dask:
				c.errorf("daskhub.profiles."+pn+".multiArchImage", "Dask clusters run the image of the server that starts them, and group %s, where Dask pods run, is arm64 (Graviton), but this profile's image %s is not marked as published for arm64: set multiArchImage: true once `docker manifest inspect %s` lists linux/arm64, or give the group x86_64 types", name, pr.Image, pr.Image)
			}
		}
	}
}
