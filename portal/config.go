package portal

import "github.com/heliocloud/heliocloud-go/portal/portalconfig"

// The portal's configuration and tags live in portalconfig, which imports
// no AWS SDK, so that the CDK app can render them without linking the
// portal's clients.
type (
	Config       = portalconfig.Config
	Image        = portalconfig.Image
	InstanceType = portalconfig.InstanceType
	VolumeBounds = portalconfig.VolumeBounds
	Team         = portalconfig.Team
	Subnet       = portalconfig.Subnet
	AutoStop     = portalconfig.AutoStop
	HubCosts     = portalconfig.HubCosts
)

// Tags the portal writes; see portalconfig.
const (
	TagOwner    = portalconfig.TagOwner
	TagInstance = portalconfig.TagInstance
	TagTeam     = portalconfig.TagTeam
	TagImage    = portalconfig.TagImage
	TagUser     = portalconfig.TagUser
	TagAutoStop = portalconfig.TagAutoStop
	AutoStopOn  = portalconfig.AutoStopOn
	AutoStopOff = portalconfig.AutoStopOff
)

// Arch is portalconfig.Arch.
func Arch(instanceType string) string { return portalconfig.Arch(instanceType) }
