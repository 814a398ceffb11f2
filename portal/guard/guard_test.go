package guard

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	ciptypes "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"
	"github.com/aws/aws-sdk-go-v2/service/costexplorer"
	cetypes "github.com/aws/aws-sdk-go-v2/service/costexplorer/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"
)

// fake is AWS at the SDK boundary: it answers from its fields and records
// every request.
type fake struct {
	machines []types.Instance
	users    map[string]ciptypes.UserType // by sub
	groups   map[string][]string          // by user name
	sessions map[string][]string          // active session ids by target
	spend    map[string]string            // month-to-date by owner sub

	describe   []*ec2.DescribeInstancesInput
	stops      []*ec2.StopInstancesInput
	listUsers  []*cip.ListUsersInput
	signOuts   []*cip.AdminUserGlobalSignOutInput
	descSess   []*ssm.DescribeSessionsInput
	terminated []string
	costs      []*costexplorer.GetCostAndUsageInput
}

func (f *fake) DescribeInstances(_ context.Context, in *ec2.DescribeInstancesInput, _ ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error) {
	f.describe = append(f.describe, in)
	return &ec2.DescribeInstancesOutput{Reservations: []types.Reservation{{Instances: f.machines}}}, nil
}

func (f *fake) StopInstances(_ context.Context, in *ec2.StopInstancesInput, _ ...func(*ec2.Options)) (*ec2.StopInstancesOutput, error) {
	f.stops = append(f.stops, in)
	return &ec2.StopInstancesOutput{}, nil
}

func (f *fake) ListUsers(_ context.Context, in *cip.ListUsersInput, _ ...func(*cip.Options)) (*cip.ListUsersOutput, error) {
	f.listUsers = append(f.listUsers, in)
	sub := strings.TrimSuffix(strings.TrimPrefix(aws.ToString(in.Filter), `sub = "`), `"`)
	if u, ok := f.users[sub]; ok {
		return &cip.ListUsersOutput{Users: []ciptypes.UserType{u}}, nil
	}
	return &cip.ListUsersOutput{}, nil
}

func (f *fake) AdminListGroupsForUser(_ context.Context, in *cip.AdminListGroupsForUserInput, _ ...func(*cip.Options)) (*cip.AdminListGroupsForUserOutput, error) {
	out := &cip.AdminListGroupsForUserOutput{}
	for _, g := range f.groups[aws.ToString(in.Username)] {
		out.Groups = append(out.Groups, ciptypes.GroupType{GroupName: aws.String(g)})
	}
	return out, nil
}

func (f *fake) AdminUserGlobalSignOut(_ context.Context, in *cip.AdminUserGlobalSignOutInput, _ ...func(*cip.Options)) (*cip.AdminUserGlobalSignOutOutput, error) {
	f.signOuts = append(f.signOuts, in)
	for _, u := range f.users {
		if aws.ToString(u.Username) == aws.ToString(in.Username) {
			return &cip.AdminUserGlobalSignOutOutput{}, nil
		}
	}
	return nil, &smithy.GenericAPIError{Code: "UserNotFoundException", Message: "User does not exist."}
}

func (f *fake) DescribeSessions(_ context.Context, in *ssm.DescribeSessionsInput, _ ...func(*ssm.Options)) (*ssm.DescribeSessionsOutput, error) {
	f.descSess = append(f.descSess, in)
	out := &ssm.DescribeSessionsOutput{}
	for _, id := range f.sessions[aws.ToString(in.Filters[0].Value)] {
		out.Sessions = append(out.Sessions, ssmtypes.Session{SessionId: aws.String(id)})
	}
	return out, nil
}

func (f *fake) TerminateSession(_ context.Context, in *ssm.TerminateSessionInput, _ ...func(*ssm.Options)) (*ssm.TerminateSessionOutput, error) {
	f.terminated = append(f.terminated, aws.ToString(in.SessionId))
	return &ssm.TerminateSessionOutput{}, nil
}

func (f *fake) GetCostAndUsage(_ context.Context, in *costexplorer.GetCostAndUsageInput, _ ...func(*costexplorer.Options)) (*costexplorer.GetCostAndUsageOutput, error) {
	f.costs = append(f.costs, in)
	r := cetypes.ResultByTime{}
	for sub, amount := range f.spend {
		r.Groups = append(r.Groups, cetypes.Group{Keys: []string{"heliocloud:owner$" + sub},
			Metrics: map[string]cetypes.MetricValue{"UnblendedCost": {Amount: aws.String(amount), Unit: aws.String("USD")}}})
	}
	return &costexplorer.GetCostAndUsageOutput{ResultsByTime: []cetypes.ResultByTime{r}}, nil
}

var now = time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)

const (
	alice = "11111111-aaaa-4aaa-8aaa-111111111111"
	bob   = "22222222-bbbb-4bbb-8bbb-222222222222"
	carol = "33333333-cccc-4ccc-8ccc-333333333333"
	dave  = "44444444-dddd-4ddd-8ddd-444444444444"
	erin  = "55555555-eeee-4eee-8eee-555555555555"
)

var cfg = Config{
	Instance: "gsfc", UserPoolID: "us-east-1_pool", ApprovedGroup: "approved",
	UserProfile: "gsfc-user", TeamProfiles: map[string]string{"gsfc-team-solar": "solar"},
	MaxRunning: 2, MonthlySpendLimit: 100,
}

func machine(id, owner, profile string, age time.Duration) types.Instance {
	m := types.Instance{InstanceId: aws.String(id), LaunchTime: aws.Time(now.Add(-age)),
		Tags: []types.Tag{{Key: aws.String("heliocloud:owner"), Value: aws.String(owner)}, {Key: aws.String("heliocloud:instance"), Value: aws.String("gsfc")}}}
	if profile != "" {
		m.IamInstanceProfile = &types.IamInstanceProfile{Arn: aws.String("arn:aws:iam::123456789012:instance-profile/" + profile)}
	}
	return m
}

func poolUser(name string, enabled bool, status ciptypes.UserStatusType) ciptypes.UserType {
	return ciptypes.UserType{Username: aws.String(name), Enabled: enabled, UserStatus: status}
}

func newFake() *fake {
	return &fake{
		users: map[string]ciptypes.UserType{
			alice: poolUser("alice", true, ciptypes.UserStatusTypeConfirmed),
			bob:   poolUser("bob", false, ciptypes.UserStatusTypeConfirmed),
			carol: poolUser("carol", true, ciptypes.UserStatusTypeConfirmed),
			dave:  poolUser("launchpad_dave", true, ciptypes.UserStatusTypeExternalProvider),
		},
		groups: map[string][]string{
			"alice": {"approved", "solar"},
			"bob":   {"approved", "solar"},
			"carol": {"pending"}, // confirmed, enabled, never approved
		},
		sessions: map[string][]string{},
		spend:    map[string]string{},
	}
}

func run(t *testing.T, f *fake, chk Check) *Result {
	t.Helper()
	res, err := Run(context.Background(), cfg, Clients{EC2: f, Users: f, Sessions: f, Costs: f}, chk, now)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func stoppedIDs(f *fake) []string {
	var ids []string
	for _, s := range f.stops {
		ids = append(ids, s.InstanceIds...)
	}
	return ids
}

func TestRevokedOwnersLoseMachinesAndSessions(t *testing.T) {
	f := newFake()
	f.machines = []types.Instance{
		machine("i-alice-team", alice, "gsfc-team-solar", time.Hour),
		machine("i-bob", bob, "gsfc-user", time.Hour),              // disabled
		machine("i-carol", carol, "gsfc-user", time.Hour),          // not approved
		machine("i-ghost", erin, "gsfc-user", time.Hour),           // deleted
		machine("i-forged", "alice", "gsfc-user", time.Hour),       // an owner tag that is no sub
		machine("i-dave", dave, "gsfc-user", time.Hour),            // federated: approved by the IdP
		machine("i-dave-team", dave, "gsfc-team-solar", time.Hour), // but not in solar
	}
	f.sessions["i-bob"] = []string{"CognitoIdentityCredentials-0b0b"}
	f.sessions["i-dave-team"] = []string{"CognitoIdentityCredentials-0d0d", "CognitoIdentityCredentials-0d0e"}
	f.sessions["i-alice-team"] = []string{"CognitoIdentityCredentials-0a0a"}
	res := run(t, f, Check{})

	want := map[string]string{
		"i-bob": ReasonDisabled, "i-carol": ReasonUnapproved, "i-ghost": ReasonNoUser, "i-forged": ReasonNoUser, "i-dave-team": ReasonLeftTeam,
	}
	if !reflect.DeepEqual(res.Stopped, want) {
		t.Errorf("stopped %v, want %v", res.Stopped, want)
	}
	if got := stoppedIDs(f); !slices.Equal(got, []string{"i-bob", "i-carol", "i-dave-team", "i-forged", "i-ghost"}) {
		t.Errorf("StopInstances asked for %v", got)
	}
	// Sessions end on the revoked machines only, and are looked up by target.
	if !slices.Equal(f.terminated, []string{"CognitoIdentityCredentials-0b0b", "CognitoIdentityCredentials-0d0d", "CognitoIdentityCredentials-0d0e"}) {
		t.Errorf("terminated sessions %v", f.terminated)
	}
	for _, in := range f.descSess {
		if in.State != ssmtypes.SessionStateActive || len(in.Filters) != 1 || in.Filters[0].Key != ssmtypes.SessionFilterKeyTargetId {
			t.Errorf("DescribeSessions %+v", in)
		}
	}
	// Carol (enabled, not approved) and Dave (left the team) are signed
	// out; Bob is disabled, which already revoked his tokens.
	var out []string
	for _, in := range f.signOuts {
		if aws.ToString(in.UserPoolId) != "us-east-1_pool" {
			t.Errorf("sign-out in pool %s", aws.ToString(in.UserPoolId))
		}
		out = append(out, aws.ToString(in.Username))
	}
	if !slices.Equal(out, []string{"carol", "launchpad_dave"}) {
		t.Errorf("signed out %v", out)
	}
	// Owners are looked up by sub, in the instance's pool; a tag that is no
	// sub never reaches the filter.
	for _, in := range f.listUsers {
		if aws.ToString(in.UserPoolId) != "us-east-1_pool" || !strings.HasPrefix(aws.ToString(in.Filter), `sub = "`) || strings.Contains(aws.ToString(in.Filter), `"alice"`) {
			t.Errorf("ListUsers %+v", in)
		}
	}
	if len(f.describe) != 1 || fmt.Sprint(f.describe[0].Filters[0].Values, f.describe[0].Filters[1].Values) != "[gsfc] [pending running]" ||
		aws.ToString(f.describe[0].Filters[0].Name) != "tag:heliocloud:instance" {
		t.Errorf("DescribeInstances %+v", f.describe)
	}
	if len(f.costs) != 0 {
		t.Error("asked Cost Explorer without a spend check")
	}
}

func TestRunningLimitStopsTheNewest(t *testing.T) {
	f := newFake()
	f.machines = []types.Instance{
		machine("i-a3", alice, "gsfc-user", time.Minute),
		machine("i-a1", alice, "gsfc-user", 3*time.Hour),
		machine("i-a2", alice, "gsfc-team-solar", 2*time.Hour),
		machine("i-d1", dave, "gsfc-user", time.Hour),
	}
	res := run(t, f, Check{})
	if !reflect.DeepEqual(res.Stopped, map[string]string{"i-a3": ReasonCount}) {
		t.Errorf("stopped %v", res.Stopped)
	}
	// Over the limit is not a revocation: sessions stay, nobody is signed out.
	if len(f.descSess) != 0 || len(f.signOuts) != 0 {
		t.Errorf("sessions %v sign-outs %v", f.descSess, f.signOuts)
	}
}

func TestSpendLimitStopsAllOfAnOwnersMachines(t *testing.T) {
	f := newFake()
	f.machines = []types.Instance{
		machine("i-a1", alice, "gsfc-user", time.Hour),
		machine("i-a2", alice, "gsfc-user", time.Hour),
		machine("i-d1", dave, "gsfc-user", time.Hour),
	}
	f.spend[alice] = "100.00"
	f.spend[dave] = "99.99"
	res := run(t, f, Check{Spend: true})
	if !reflect.DeepEqual(res.Stopped, map[string]string{"i-a1": ReasonSpend, "i-a2": ReasonSpend}) {
		t.Errorf("stopped %v", res.Stopped)
	}
	if len(f.costs) != 1 {
		t.Fatalf("%d Cost Explorer requests, want one for all owners", len(f.costs))
	}
	in := f.costs[0]
	if aws.ToString(in.TimePeriod.Start) != "2026-11-01" || aws.ToString(in.TimePeriod.End) != "2026-11-26" ||
		aws.ToString(in.Filter.Tags.Key) != "heliocloud:instance" || !slices.Equal(in.Filter.Tags.Values, []string{"gsfc"}) ||
		len(in.GroupBy) != 1 || aws.ToString(in.GroupBy[0].Key) != "heliocloud:owner" || in.GroupBy[0].Type != cetypes.GroupDefinitionTypeTag {
		t.Errorf("GetCostAndUsage %+v", in)
	}
}

func TestSignOutFromEventWithoutMachines(t *testing.T) {
	f := newFake()
	res := run(t, f, Check{SignOut: "alice"})
	if !slices.Equal(res.SignedOut, []string{"alice"}) || len(f.signOuts) != 1 || aws.ToString(f.signOuts[0].Username) != "alice" {
		t.Errorf("signed out %v (%v)", res.SignedOut, f.signOuts)
	}
	// A deleted user cannot be signed out, and that is no failure.
	f = newFake()
	if res = run(t, f, Check{SignOut: "gone"}); len(res.SignedOut) != 0 || len(f.signOuts) != 1 {
		t.Errorf("signed out %v", res.SignedOut)
	}
}

func TestStopsAMachineWithARoleThePortalDoesNotHandOut(t *testing.T) {
	f := newFake()
	f.machines = []types.Instance{machine("i-odd", alice, "AdminRole", time.Hour), machine("i-none", alice, "", time.Hour)}
	res := run(t, f, Check{})
	if !reflect.DeepEqual(res.Stopped, map[string]string{"i-odd": ReasonRole}) {
		t.Errorf("stopped %v", res.Stopped)
	}
}
