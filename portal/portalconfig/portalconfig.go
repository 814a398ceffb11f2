// Package portalconfig is what the portal and its guard are told about
// their HelioCloud instance, and the tags the portal writes on what it
// creates. The portal stack renders the configurations and conditions IAM
// on the tags, so the package imports neither CDK nor the AWS SDK: the CDK
// app links none of the portal's clients.
package portalconfig

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// Tags the portal writes on every machine and key pair it creates. IAM
// policies in the portal stack condition on TagOwner, TagInstance and
// TagAutoStop, so these names are part of the security model, not
// decoration.
const (
	// TagOwner holds the owner's Cognito sub, which is never reused, unlike
	// a user name a deleted account frees. The key is namespaced: IAM tag
	// keys are case-insensitive, and institutions often tag with "owner".
	TagOwner    = "heliocloud:owner"
	TagInstance = "heliocloud:instance"
	TagTeam     = "heliocloud:team"
	TagImage    = "heliocloud:image"
	// TagUser holds the owner's user name when the machine was launched,
	// only so that people reading cost reports see a name; nothing checks it.
	TagUser = "heliocloud:user"
	// TagAutoStop is on every machine: AutoStopOn, or AutoStopOff to exempt
	// it from auto-stop. It is set at launch and cannot be changed later.
	TagAutoStop = "heliocloud:autostop"
	AutoStopOn  = "on"
	AutoStopOff = "off"
)

// LaunchTagKeys are all the tag keys a launch may set; IAM refuses others.
var LaunchTagKeys = []string{"Name", TagOwner, TagInstance, TagImage, TagTeam, TagUser, TagAutoStop}

// Config is what the portal needs to know about its HelioCloud instance.
// The portal stack renders it as JSON into the function's environment.
type Config struct {
	// Instance is the HelioCloud instance name, the value of TagInstance.
	Instance string `json:"instance"`
	// Region is where machines run and whose prices are shown.
	Region string `json:"region"`
	// BaseURL is the portal's public URL without a trailing slash; the OIDC
	// redirect URI is BaseURL + "/callback".
	BaseURL string `json:"baseURL"`

	// Issuer is the OIDC issuer, for Cognito
	// https://cognito-idp.<region>.amazonaws.com/<user pool id>.
	Issuer   string `json:"issuer"`
	ClientID string `json:"clientID"`
	// AuthorizeURL, TokenURL and JWKSURL override discovery from the issuer.
	AuthorizeURL string `json:"authorizeURL,omitempty"`
	TokenURL     string `json:"tokenURL,omitempty"`
	JWKSURL      string `json:"jwksURL,omitempty"`
	// LogoutURL ends the hosted UI session (Cognito's /logout endpoint,
	// which discovery does not announce). Empty means sign-out only clears
	// the portal's own cookie.
	LogoutURL string `json:"logoutURL,omitempty"`

	UserPoolID     string `json:"userPoolID"`
	IdentityPoolID string `json:"identityPoolID"`
	// AdminGroup members see the Admin page and everyone's costs. The
	// group names are the auth stack's; the portal stack passes them.
	AdminGroup string `json:"adminGroup"`
	// PendingGroup holds self-registered users awaiting approval. Disabled
	// users are treated as pending too.
	PendingGroup string `json:"pendingGroup"`
	// ApprovedGroup holds the accounts an admin approved; only its members
	// (and identity-provider users) get tokens. Approve adds the user to it.
	ApprovedGroup string `json:"approvedGroup"`

	Images        []Image        `json:"images"`
	InstanceTypes []InstanceType `json:"instanceTypes"`
	Volume        VolumeBounds   `json:"volume"`
	Teams         []Team         `json:"teams"`
	// InstanceProfileARN is given to machines launched without a team; it
	// must allow Session Manager.
	InstanceProfileARN string `json:"instanceProfileARN"`

	// Subnets are tried in order when a launch meets
	// InsufficientInstanceCapacity.
	Subnets          []Subnet `json:"subnets"`
	SecurityGroupIDs []string `json:"securityGroupIDs"`
	// SSH is true when the instance allows SSH from listed CIDRs; machines
	// are otherwise reached through Session Manager only.
	SSH bool `json:"ssh"`

	// MaxRunning is the most machines one user may have pending or running.
	MaxRunning int `json:"maxRunning"`
	// MonthlySpendLimit in USD stops launches once a user's month-to-date
	// cost reaches it; 0 means no limit.
	MonthlySpendLimit float64 `json:"monthlySpendLimit"`
	// AutoStop describes the schedule, shown to users on the launch page.
	AutoStop AutoStop `json:"autoStop"`
	// HubCosts, when set, is where admins' Costs page reads what each
	// user's and team's notebook servers and Dask clusters cost.
	HubCosts *HubCosts `json:"hubCosts,omitempty"`
}

// HubCosts names the Athena table over the instance's CUR 2.0 data export
// with EKS split cost allocation data: one row per pod per hour and usage
// type (vCPU, memory, accelerator), costed from its node's price.
type HubCosts struct {
	// WorkGroup is the Athena workgroup queries run in; it fixes where
	// results go and how much one query may scan.
	WorkGroup string `json:"workGroup"`
	Database  string `json:"database"`
	Table     string `json:"table"`
	// Cluster is the EKS cluster's name: the second part of a pod's
	// line_item_resource_id ("arn:...:pod/<cluster>/<namespace>/<pod>/<uid>").
	Cluster string `json:"cluster"`
	// UserTag and TeamTag are the keys of the resource_tags map under which
	// the pods' user and team labels arrive once they are activated as
	// cost allocation tags (for example "user_heliocloud_org_user").
	UserTag string `json:"userTag"`
	TeamTag string `json:"teamTag"`
}

var tagKeySpelling = regexp.MustCompile(`[^a-z0-9]+`)

// CURTagKey is the key under which a Kubernetes label, imported as a user
// cost allocation tag, appears in CUR 2.0's resource_tags map: "user_" and
// the key in lower case with every run of other characters as one "_".
// AWS's Cloud Intelligence Dashboards read app.kubernetes.io/part-of as
// resource_tags['user_app_kubernetes_io_part_of'] (see stacks'
// TestCURTagKeyOfALabel).
func CURTagKey(label string) string {
	return "user_" + strings.Trim(tagKeySpelling.ReplaceAllString(strings.ToLower(label), "_"), "_")
}

// PodRowsOfCluster is the SQL condition that keeps, of the HubCosts table,
// the rows of pods on EC2 nodes of one cluster, given as the following
// execution parameter: a pod's line_item_resource_id is
// arn:aws:eks:<region>:<account>:pod/<cluster>/<namespace>/<pod>/<uid>.
// The portal's queries and heliocloud doctor's share it.
const PodRowsOfCluster = "line_item_operation = 'EKSPod-EC2' AND split_part(line_item_resource_id, '/', 2) = ?"

// tagKey is the shape of a CUR 2.0 resource_tags key: they are inlined in
// SQL, since Athena's execution parameters cannot stand for map keys.
var tagKey = regexp.MustCompile(`^(user|aws)_[a-z0-9_]+$`)

// identifier is what the portal accepts as an Athena database, table or
// workgroup name, all of which are inlined in SQL or passed verbatim.
var identifier = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,128}$`)

func (h *HubCosts) validate() []error {
	var errs []error
	for _, f := range []struct{ key, v string }{
		{"hubCosts.workGroup", h.WorkGroup}, {"hubCosts.database", h.Database},
		{"hubCosts.table", h.Table}, {"hubCosts.cluster", h.Cluster},
	} {
		if !identifier.MatchString(f.v) {
			errs = append(errs, fmt.Errorf("portal config: %s %q must be 1-128 letters, digits, '_', '.' or '-'", f.key, f.v))
		}
	}
	for _, f := range []struct{ key, v string }{{"hubCosts.userTag", h.UserTag}, {"hubCosts.teamTag", h.TeamTag}} {
		if !tagKey.MatchString(f.v) {
			errs = append(errs, fmt.Errorf("portal config: %s %q must be a resource_tags key such as user_heliocloud_org_user", f.key, f.v))
		}
	}
	return errs
}

// Image is an operating system image resolved at run time from a public
// SSM parameter, so no AMI id is tied to a region.
type Image struct {
	Key  string `json:"key"`
	Name string `json:"name"`
	// Parameter is the SSM parameter name; "{arch}" is replaced by the
	// architecture's name in Arch.
	Parameter string `json:"parameter"`
	// Arch maps "x86_64"/"arm64" to the word the parameter uses
	// ("x86_64", "amd64", ...). An architecture missing here is unsupported.
	Arch map[string]string `json:"arch"`
	// User is the login name on the image.
	User string `json:"user"`
}

// InstanceType is one machine size offered, in a display group
// (general, compute, memory, gpu).
type InstanceType struct {
	Name  string `json:"name"`
	Group string `json:"group"`
}

// VolumeBounds are the root volume sizes a user may choose, in GiB.
type VolumeBounds struct {
	MinGiB     int32 `json:"minGiB"`
	MaxGiB     int32 `json:"maxGiB"`
	DefaultGiB int32 `json:"defaultGiB"`
}

// Team is a Cognito group whose data role a machine can get.
type Team struct {
	Name               string `json:"name"`
	InstanceProfileARN string `json:"instanceProfileARN"`
}

// Subnet is a private subnet machines launch into.
type Subnet struct {
	ID string `json:"id"`
	AZ string `json:"az"`
}

// AutoStop is the auto-stop policy machines are subject to.
type AutoStop struct {
	IdleHours int    `json:"idleHours"`
	DailyTime string `json:"dailyTime"`
}

// Validate reports every missing or inconsistent setting.
func (c *Config) Validate() error {
	var errs []error
	need := func(key, v string) {
		if v == "" {
			errs = append(errs, fmt.Errorf("portal config: %s is required", key))
		}
	}
	need("instance", c.Instance)
	need("region", c.Region)
	need("issuer", c.Issuer)
	need("clientID", c.ClientID)
	need("identityPoolID", c.IdentityPoolID)
	need("adminGroup", c.AdminGroup)
	need("pendingGroup", c.PendingGroup)
	need("approvedGroup", c.ApprovedGroup)
	if u, err := url.Parse(c.BaseURL); err != nil || u.Scheme == "" || u.Host == "" || strings.HasSuffix(c.BaseURL, "/") {
		errs = append(errs, fmt.Errorf("portal config: baseURL %q must be an absolute URL without a trailing slash", c.BaseURL))
	}
	if len(c.Subnets) == 0 {
		errs = append(errs, errors.New("portal config: at least one subnet is required"))
	}
	if c.Volume.MinGiB <= 0 || c.Volume.MaxGiB < c.Volume.MinGiB || c.Volume.DefaultGiB < c.Volume.MinGiB || c.Volume.DefaultGiB > c.Volume.MaxGiB {
		errs = append(errs, fmt.Errorf("portal config: volume bounds %+v must satisfy 0 < min <= default <= max", c.Volume))
	}
	if c.HubCosts != nil {
		errs = append(errs, c.HubCosts.validate()...)
	}
	return errors.Join(errs...)
}

// Team finds a team by name.
func (c *Config) Team(name string) (Team, bool) {
	for _, t := range c.Teams {
		if t.Name == name {
			return t, true
		}
	}
	return Team{}, false
}

// Image finds an image by key.
func (c *Config) Image(key string) (Image, bool) {
	for _, im := range c.Images {
		if im.Key == key {
			return im, true
		}
	}
	return Image{}, false
}

// InstanceType finds an offered instance type by name.
func (c *Config) InstanceType(name string) (InstanceType, bool) {
	for _, t := range c.InstanceTypes {
		if t.Name == name {
			return t, true
		}
	}
	return InstanceType{}, false
}

// Arch is the CPU architecture of an instance type: Graviton families carry
// a "g" in the letters after the generation digit (m7g, c7gn, r6gd, g5g,
// is4gen), which x86 families (g4dn, m7i, p5en) do not.
func Arch(instanceType string) string {
	family, _, _ := strings.Cut(instanceType, ".")
	i := strings.IndexAny(family, "0123456789")
	if i < 0 {
		return "x86_64"
	}
	suffix := strings.TrimLeft(family[i:], "0123456789")
	if strings.Contains(suffix, "g") {
		return "arm64"
	}
	return "x86_64"
}

// MetadataHopLimit is the instance metadata hop limit of every machine: 1
// keeps the machine's role credentials from containers behind a bridge on
// it. The portal stack's IAM policy refuses launches asking for more.
const MetadataHopLimit = 1

// Guard is what the portal's guard function knows of its instance; the portal stack writes
// it as JSON into the function's environment.
type Guard struct {
	Instance      string `json:"instance"`
	UserPoolID    string `json:"userPoolID"`
	ApprovedGroup string `json:"approvedGroup"`
	// UserProfile is the instance profile name machines without a team get.
	UserProfile string `json:"userProfile"`
	// TeamProfiles maps each team's instance profile name to the team's
	// Cognito group.
	TeamProfiles map[string]string `json:"teamProfiles"`
	// MaxRunning is the most pending or running machines per owner.
	MaxRunning int `json:"maxRunning"`
	// MonthlySpendLimit in USD; 0 means no limit.
	MonthlySpendLimit float64 `json:"monthlySpendLimit"`
}

// Values of the guard schedules' {"guard": ...} input: a sweep checks
// owners, teams and counts; a spend run also asks Cost Explorer.
const (
	GuardSweep = "sweep"
	GuardSpend = "spend"
)

// Modes of the auto-stop function's scheduled events: stop machines idle
// for AutoStop.IdleHours, or stop every machine at AutoStop.DailyTime.
const (
	AutoStopIdle  = "idle"
	AutoStopDaily = "daily"
)
