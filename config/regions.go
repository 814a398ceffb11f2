package config

import (
	"maps"
	"slices"
	"strings"
)

// Region is what the deployer knows of one AWS region without asking AWS:
// its partition and the letters of its availability zones.
type Region struct {
	// Partition is the ARN partition: aws, or aws-us-gov for GovCloud.
	Partition string
	// Zones are the letters of the region's zone names (us-east-1a, ...) in
	// the order default zones are taken. A letter maps to a different
	// physical zone in each account, but no account sees a letter missing here.
	Zones string
	// Usable is how many zones one account may use when that is fewer than
	// the letters (us-west-1 shows each account two of its three); 0 means all.
	Usable int
}

// Regions is the one table of regions an instance may name: the commercial
// regions and GovCloud (where NASA's instances run). It follows aws-cdk-lib's
// region list (region-info/lib/aws-entities.js at v2.276.0), leaving out the
// China, ISO and European Sovereign Cloud partitions, whose accounts and
// services differ. When AWS opens a region, add it here.
var Regions = map[string]Region{
	"us-east-1":      {Partition: "aws", Zones: "abcdef"},
	"us-east-2":      {Partition: "aws", Zones: "abc"},
	"us-west-1":      {Partition: "aws", Zones: "abc", Usable: 2},
	"us-west-2":      {Partition: "aws", Zones: "abcd"},
	"af-south-1":     {Partition: "aws", Zones: "abc"},
	"ap-east-1":      {Partition: "aws", Zones: "abc"},
	"ap-east-2":      {Partition: "aws", Zones: "abc"},
	"ap-south-1":     {Partition: "aws", Zones: "abc"},
	"ap-south-2":     {Partition: "aws", Zones: "abc"},
	"ap-southeast-1": {Partition: "aws", Zones: "abc"},
	"ap-southeast-2": {Partition: "aws", Zones: "abc"},
	"ap-southeast-3": {Partition: "aws", Zones: "abc"},
	"ap-southeast-4": {Partition: "aws", Zones: "abc"},
	"ap-southeast-5": {Partition: "aws", Zones: "abc"},
	"ap-southeast-6": {Partition: "aws", Zones: "abc"},
	"ap-southeast-7": {Partition: "aws", Zones: "abc"},
	// ap-northeast-1b exists only for accounts older than 2012: last, so
	// that default zones never pick it.
	"ap-northeast-1": {Partition: "aws", Zones: "acdb"},
	"ap-northeast-2": {Partition: "aws", Zones: "abcd"},
	"ap-northeast-3": {Partition: "aws", Zones: "abc"},
	"ca-central-1":   {Partition: "aws", Zones: "abd"},
	"ca-west-1":      {Partition: "aws", Zones: "abc"},
	"eu-central-1":   {Partition: "aws", Zones: "abc"},
	"eu-central-2":   {Partition: "aws", Zones: "abc"},
	"eu-north-1":     {Partition: "aws", Zones: "abc"},
	"eu-south-1":     {Partition: "aws", Zones: "abc"},
	"eu-south-2":     {Partition: "aws", Zones: "abc"},
	"eu-west-1":      {Partition: "aws", Zones: "abc"},
	"eu-west-2":      {Partition: "aws", Zones: "abc"},
	"eu-west-3":      {Partition: "aws", Zones: "abc"},
	"il-central-1":   {Partition: "aws", Zones: "abc"},
	"me-central-1":   {Partition: "aws", Zones: "abc"},
	"me-south-1":     {Partition: "aws", Zones: "abc"},
	"me-west-1":      {Partition: "aws", Zones: "abc"},
	"mx-central-1":   {Partition: "aws", Zones: "abc"},
	"sa-east-1":      {Partition: "aws", Zones: "abc"},
	"us-gov-east-1":  {Partition: "aws-us-gov", Zones: "abc"},
	"us-gov-west-1":  {Partition: "aws-us-gov", Zones: "abc"},
}

// RegionNames lists the known regions, sorted.
func RegionNames() []string {
	return slices.Sorted(maps.Keys(Regions))
}

// UsableZones is how many zones one account may use in the region.
func (r Region) UsableZones() int {
	if r.Usable > 0 {
		return r.Usable
	}
	return len(r.Zones)
}

// DefaultZones names the first n zones of region in the table's order;
// for a region the table does not hold (a CLI default the instance file
// does not name), the letters a, b, c, ...
func DefaultZones(region string, n int) []string {
	letters := "abcdefghijklmnopqrstuvwxyz"
	if r, ok := Regions[region]; ok {
		letters = r.Zones
	}
	var zones []string
	for i := 0; i < n && i < len(letters); i++ {
		zones = append(zones, region+letters[i:i+1])
	}
	return zones
}

// checkRegion reports region unless the table holds it, suggesting the
// closest name.
func checkRegion(c *checker, path, region string) bool {
	if _, ok := Regions[region]; ok {
		return true
	}
	names := RegionNames()
	c.errorf(path, "%q is not an AWS region%s; regions: %s", region, suggest(region, names), strings.Join(names, ", "))
	return false
}

// checkZone reports az unless it is a zone of region (or, with region
// unknown, of some region in the table).
func checkZone(c *checker, path, az, region string) {
	name, letter := az[:max(len(az)-1, 0)], az[max(len(az)-1, 0):]
	r, ok := Regions[name]
	switch {
	case !ok:
		c.errorf(path, "%q is not an availability zone name such as us-east-1a: %q is not an AWS region%s", az, name, suggest(name, RegionNames()))
	case region != "" && name != region:
		c.errorf(path, "%q is not in the instance's region %s", az, region)
	case !strings.Contains(r.Zones, letter):
		c.errorf(path, "%q does not exist: %s has zones %s", az, name, strings.Join(zoneNames(name, r.Zones), ", "))
	}
}

func zoneNames(region, letters string) []string {
	out := make([]string, len(letters))
	for i := range letters {
		out[i] = region + letters[i:i+1]
	}
	return out
}
