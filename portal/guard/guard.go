// Package guard holds the portal's limits that IAM cannot express, and
// revokes access that IAM would otherwise keep until credentials expire.
//
// IAM bounds every launch (types, volumes, images, subnets, tags) but cannot
// count machines or add up spending, and a user's credentials, issued for
// an hour, still carry the teams they had when issued. So the guard looks
// at every pending or running machine of the instance, whenever EC2 starts
// one, whenever an admin disables a user or removes them from a group, and
// every few minutes, and stops:
//
//   - every machine of an owner who no longer exists, is disabled or is not
//     approved (package approval), and ends Session Manager sessions on it;
//   - a machine running with a team's role whose owner has left the team,
//     likewise ending its sessions;
//   - a machine with a role the portal does not hand out (IAM lets users
//     pass only the portal's roles; this catches a role added by hand);
//   - an owner's newest machines beyond the running-machines limit;
//   - all of an owner's machines once their month-to-date cost reaches the
//     spending limit (checked on launches and hourly: Cost Explorer bills
//     each request and lags by hours anyway).
//
// A user removed from a team, or not approved, is also signed out
// everywhere (their refresh tokens are revoked), so no new token carries
// the old teams.
package guard

import (
	"context"
	"errors"
	"fmt"
	"github.com/heliocloud/heliocloud-go/portal/portalconfig"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/costexplorer"
	cetypes "github.com/aws/aws-sdk-go-v2/service/costexplorer/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/heliocloud/heliocloud-go/approval"
	"github.com/heliocloud/heliocloud-go/portal"
)

// EC2, Users, Sessions and Costs are the guard's boundary with AWS; each
// method has the signature of the aws-sdk-go-v2 client's.
type EC2 interface {
	DescribeInstances(context.Context, *ec2.DescribeInstancesInput, ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error)
	StopInstances(context.Context, *ec2.StopInstancesInput, ...func(*ec2.Options)) (*ec2.StopInstancesOutput, error)
}

type Users interface {
	ListUsers(context.Context, *cip.ListUsersInput, ...func(*cip.Options)) (*cip.ListUsersOutput, error)
	AdminListGroupsForUser(context.Context, *cip.AdminListGroupsForUserInput, ...func(*cip.Options)) (*cip.AdminListGroupsForUserOutput, error)
	AdminUserGlobalSignOut(context.Context, *cip.AdminUserGlobalSignOutInput, ...func(*cip.Options)) (*cip.AdminUserGlobalSignOutOutput, error)
}

type Sessions interface {
	DescribeSessions(context.Context, *ssm.DescribeSessionsInput, ...func(*ssm.Options)) (*ssm.DescribeSessionsOutput, error)
	TerminateSession(context.Context, *ssm.TerminateSessionInput, ...func(*ssm.Options)) (*ssm.TerminateSessionOutput, error)
}

type Costs interface {
	GetCostAndUsage(context.Context, *costexplorer.GetCostAndUsageInput, ...func(*costexplorer.Options)) (*costexplorer.GetCostAndUsageOutput, error)
}

// Clients bundles the AWS clients, all used with the guard's own role.
type Clients struct {
	EC2      EC2
	Users    Users
	Sessions Sessions
	Costs    Costs
}

// Config is what the guard knows of its instance; see portalconfig.Guard.
type Config = portalconfig.Guard

// Check says what one run looks at beyond owners, teams and counts.
type Check struct {
	// Spend asks Cost Explorer for every owner's month-to-date cost.
	Spend bool
	// SignOut names a user (by user name) whom an admin just disabled or
	// removed from a group: they are signed out everywhere even when they
	// have no machine, so their next token carries their current groups.
	SignOut string
}

// Result says what a run did, for the log and tests.
type Result struct {
	// Stopped maps each stopped machine to why.
	Stopped map[string]string `json:"stopped"`
	// SignedOut lists users whose refresh tokens were revoked.
	SignedOut []string `json:"signedOut"`
	// Sessions lists the Session Manager sessions ended.
	Sessions []string `json:"sessions"`
}

// Values of the schedules' {"guard": ...} input: a sweep checks owners,
// teams and counts; a spend run also asks Cost Explorer.
const (
	ModeSweep = portalconfig.GuardSweep
	ModeSpend = portalconfig.GuardSpend
)

// Reasons a machine is stopped.
const (
	ReasonNoUser     = "owner no longer exists"
	ReasonDisabled   = "owner is disabled"
	ReasonUnapproved = "owner is not approved"
	ReasonLeftTeam   = "owner is not in the team whose role the machine has"
	ReasonRole       = "machine has a role the portal does not hand out"
	ReasonCount      = "owner is over the running-machines limit"
	ReasonSpend      = "owner reached the monthly spending limit"
)

// subRe is the form of a Cognito sub (a UUID); an owner tag of any other
// form cannot belong to a user, and never reaches a ListUsers filter.
var subRe = regexp.MustCompile(`^[0-9a-fA-F-]{1,64}$`)

type user struct {
	name     string
	enabled  bool
	status   string
	groups   []string
	exists   bool
	approved bool
}

// Run checks every pending or running machine of the instance.
func Run(ctx context.Context, cfg Config, c Clients, chk Check, now time.Time) (*Result, error) {
	res := &Result{Stopped: map[string]string{}}
	machines, err := liveMachines(ctx, c.EC2, cfg.Instance)
	if err != nil {
		return nil, err
	}
	byOwner := map[string][]types.Instance{}
	for _, m := range machines {
		o := tag(m.Tags, portal.TagOwner)
		byOwner[o] = append(byOwner[o], m)
	}
	var spent map[string]float64
	if chk.Spend && cfg.MonthlySpendLimit > 0 && len(machines) > 0 {
		if spent, err = monthSpend(ctx, c.Costs, cfg.Instance, now); err != nil {
			return nil, err
		}
	}
	revoked := map[string]bool{} // machines whose sessions must end
	signOut := map[string]bool{}
	if chk.SignOut != "" {
		signOut[chk.SignOut] = true
	}
	var errs []error
	owners := make([]string, 0, len(byOwner))
	for o := range byOwner {
		owners = append(owners, o)
	}
	sort.Strings(owners)
	for _, owner := range owners {
		ms := byOwner[owner]
		u, err := lookUp(ctx, c.Users, cfg, owner)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		stop := func(m types.Instance, why string, revoke bool) {
			id := aws.ToString(m.InstanceId)
			res.Stopped[id] = why
			if revoke {
				revoked[id] = true
			}
		}
		var whole string
		switch {
		case !u.exists:
			whole = ReasonNoUser
		case !u.enabled:
			whole = ReasonDisabled
		case !u.approved:
			whole = ReasonUnapproved
		}
		if whole != "" {
			for _, m := range ms {
				stop(m, whole, true)
			}
			if u.exists && u.enabled {
				signOut[u.name] = true
			}
			continue
		}
		var kept []types.Instance
		for _, m := range ms {
			profile := profileName(m)
			team, isTeam := cfg.TeamProfiles[profile]
			switch {
			case isTeam && !slices.Contains(u.groups, team):
				stop(m, ReasonLeftTeam, true)
				signOut[u.name] = true
			case !isTeam && profile != cfg.UserProfile && profile != "":
				stop(m, ReasonRole, true)
			default:
				kept = append(kept, m)
			}
		}
		if cfg.MonthlySpendLimit > 0 && spent[owner] >= cfg.MonthlySpendLimit {
			for _, m := range kept {
				stop(m, ReasonSpend, false)
			}
			continue
		}
		if cfg.MaxRunning > 0 && len(kept) > cfg.MaxRunning {
			// The newest go: the owner keeps what they started first.
			sort.SliceStable(kept, func(i, j int) bool {
				return aws.ToTime(kept[i].LaunchTime).Before(aws.ToTime(kept[j].LaunchTime))
			})
			for _, m := range kept[cfg.MaxRunning:] {
				stop(m, ReasonCount, false)
			}
		}
	}

	ids := make([]string, 0, len(res.Stopped))
	for id := range res.Stopped {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for start := 0; start < len(ids); start += 50 {
		batch := ids[start:min(start+50, len(ids))]
		if _, err := c.EC2.StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: batch}); err != nil {
			errs = append(errs, fmt.Errorf("guard: stopping %v: %w", batch, err))
		}
	}
	for _, id := range ids {
		if !revoked[id] {
			continue
		}
		ended, err := endSessions(ctx, c.Sessions, id)
		res.Sessions = append(res.Sessions, ended...)
		if err != nil {
			errs = append(errs, err)
		}
	}
	names := make([]string, 0, len(signOut))
	for n := range signOut {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		_, err := c.Users.AdminUserGlobalSignOut(ctx, &cip.AdminUserGlobalSignOutInput{UserPoolId: aws.String(cfg.UserPoolID), Username: aws.String(n)})
		if apiCode(err) == "UserNotFoundException" {
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("guard: signing out %s: %w", n, err))
			continue
		}
		res.SignedOut = append(res.SignedOut, n)
	}
	return res, errors.Join(errs...)
}

func liveMachines(ctx context.Context, c EC2, instance string) ([]types.Instance, error) {
	in := &ec2.DescribeInstancesInput{Filters: []types.Filter{
		{Name: aws.String("tag:" + portal.TagInstance), Values: []string{instance}},
		{Name: aws.String("instance-state-name"), Values: []string{"pending", "running"}},
	}}
	out, err := portal.Instances(ctx, c, in)
	if err != nil {
		return nil, fmt.Errorf("guard: listing machines: %w", err)
	}
	return out, nil
}

// lookUp finds the user whose sub is owner. A machine without a valid
// owner tag has no user, and is stopped.
func lookUp(ctx context.Context, c Users, cfg Config, owner string) (user, error) {
	if !subRe.MatchString(owner) {
		return user{}, nil
	}
	out, err := c.ListUsers(ctx, &cip.ListUsersInput{
		UserPoolId: aws.String(cfg.UserPoolID), Filter: aws.String(`sub = "` + owner + `"`), Limit: aws.Int32(1),
	})
	if err != nil {
		return user{}, fmt.Errorf("guard: looking up owner %s: %w", owner, err)
	}
	if len(out.Users) == 0 {
		return user{}, nil
	}
	cu := out.Users[0]
	u := user{exists: true, name: aws.ToString(cu.Username), enabled: cu.Enabled, status: string(cu.UserStatus)}
	if u.groups, err = portal.UserGroups(ctx, c, cfg.UserPoolID, u.name); err != nil {
		return user{}, fmt.Errorf("guard: groups of %s: %w", u.name, err)
	}
	u.approved = approval.Approved(u.groups, u.status, cfg.ApprovedGroup)
	return u, nil
}

// monthSpend is every owner's month-to-date cost in this instance, from
// one Cost Explorer request grouped by the owner tag.
func monthSpend(ctx context.Context, c Costs, instance string, now time.Time) (map[string]float64, error) {
	now = now.UTC()
	first := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	in := &costexplorer.GetCostAndUsageInput{
		TimePeriod: &cetypes.DateInterval{Start: aws.String(first.Format(time.DateOnly)), End: aws.String(now.AddDate(0, 0, 1).Format(time.DateOnly))},
		// Monthly granularity over a period within one month gives one result.
		Granularity: cetypes.GranularityMonthly, Metrics: []string{"UnblendedCost"},
		Filter:  &cetypes.Expression{Tags: &cetypes.TagValues{Key: aws.String(portal.TagInstance), Values: []string{instance}, MatchOptions: []cetypes.MatchOption{cetypes.MatchOptionEquals}}},
		GroupBy: []cetypes.GroupDefinition{{Type: cetypes.GroupDefinitionTypeTag, Key: aws.String(portal.TagOwner)}},
	}
	spent := map[string]float64{}
	for {
		out, err := c.GetCostAndUsage(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("guard: month-to-date costs: %w", err)
		}
		for _, r := range out.ResultsByTime {
			for _, g := range r.Groups {
				if len(g.Keys) == 0 {
					continue
				}
				// Cost Explorer names a tag group "<key>$<value>".
				_, owner, _ := strings.Cut(g.Keys[0], "$")
				var v float64
				if m, ok := g.Metrics["UnblendedCost"]; ok {
					fmt.Sscan(aws.ToString(m.Amount), &v)
				}
				spent[owner] += v
			}
		}
		if aws.ToString(out.NextPageToken) == "" {
			return spent, nil
		}
		in.NextPageToken = out.NextPageToken
	}
}

// endSessions terminates the active Session Manager sessions on a machine.
func endSessions(ctx context.Context, c Sessions, id string) ([]string, error) {
	in := &ssm.DescribeSessionsInput{State: ssmtypes.SessionStateActive,
		Filters: []ssmtypes.SessionFilter{{Key: ssmtypes.SessionFilterKeyTargetId, Value: aws.String(id)}}}
	var ended []string
	for {
		out, err := c.DescribeSessions(ctx, in)
		if err != nil {
			return ended, fmt.Errorf("guard: sessions on %s: %w", id, err)
		}
		for _, s := range out.Sessions {
			sid := aws.ToString(s.SessionId)
			if _, err := c.TerminateSession(ctx, &ssm.TerminateSessionInput{SessionId: aws.String(sid)}); err != nil {
				return ended, fmt.Errorf("guard: ending session %s on %s: %w", sid, id, err)
			}
			ended = append(ended, sid)
		}
		if aws.ToString(out.NextToken) == "" {
			return ended, nil
		}
		in.NextToken = out.NextToken
	}
}

func profileName(m types.Instance) string {
	if m.IamInstanceProfile == nil {
		return ""
	}
	_, name, _ := strings.Cut(aws.ToString(m.IamInstanceProfile.Arn), ":instance-profile/")
	return name
}

func tag(tags []types.Tag, key string) string {
	for _, t := range tags {
		if aws.ToString(t.Key) == key {
			return aws.ToString(t.Value)
		}
	}
	return ""
}

func apiCode(err error) string {
	var ae interface{ ErrorCode() string }
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}
