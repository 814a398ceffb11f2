package portal_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/athena"
	athenatypes "github.com/aws/aws-sdk-go-v2/service/athena/types"
	"github.com/aws/aws-sdk-go-v2/service/cognitoidentity"
	citypes "github.com/aws/aws-sdk-go-v2/service/cognitoidentity/types"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	ciptypes "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"
	"github.com/aws/aws-sdk-go-v2/service/costexplorer"
	cetypes "github.com/aws/aws-sdk-go-v2/service/costexplorer/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/pricing"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"

	"github.com/heliocloud/heliocloud-go/portal"
)

// call is one request the fake received. Creds is set for EC2 calls: the
// access key names the user the identity pool issued it to.
type call struct {
	API   string
	Input any
	Creds string
}

// fakeAWS stands in for every AWS service at the portal's boundary. It
// keeps just enough state to behave like AWS for the flows under test,
// records every request, and refuses EC2 mutations whose credentials do
// not match the resource's Owner tag, as the portal stack's IAM policy does.
type fakeAWS struct {
	mu    sync.Mutex
	now   func() time.Time
	calls []call
	seq   int

	instances map[string]*types.Instance
	tokens    map[string]string // client token -> instance id
	keys      map[string]*types.KeyPairInfo
	noCap     map[string]bool // subnet ids without capacity
	prices    map[string]string
	params    map[string]string

	users  map[string]*ciptypes.UserType
	groups map[string][]string // group -> usernames
	costs  float64
	// identityErr makes GetCredentialsForIdentity fail.
	identityErr error
	hub         fakeHub
}

func newFakeAWS(now func() time.Time) *fakeAWS {
	return &fakeAWS{
		now: now, instances: map[string]*types.Instance{}, tokens: map[string]string{},
		keys: map[string]*types.KeyPairInfo{}, noCap: map[string]bool{},
		prices: map[string]string{"t3.medium": "0.0416", "m7i.large": "0.1008", "c7i.xlarge": "0.1785", "r7i.large": "0.1323", "g5.xlarge": "1.006", "ebs:gp3": "0.08"},
		params: map[string]string{
			"/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64":              "ami-0al2023x86",
			"/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64":               "ami-0al2023arm",
			"/aws/service/canonical/ubuntu/server/24.04/stable/current/amd64/hvm/ebs-gp3/ami-id": "ami-0ubuntu",
		},
		users: map[string]*ciptypes.UserType{}, groups: map[string][]string{},
		costs: 12.5,
	}
}

func (f *fakeAWS) clients() portal.AWS {
	return portal.AWS{
		Identity: fakeIdentity{f}, EC2For: func(c aws.Credentials) portal.EC2 { return &fakeEC2{f, c.AccessKeyID} },
		Parameters: fakeSSM{f}, Prices: fakePricing{f}, Costs: fakeCE{f}, Users: fakeIDP{f},
		Athena: fakeAthena{f},
	}
}

func (f *fakeAWS) record(api string, in any, creds string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call{api, in, creds})
}

// called returns the recorded requests to api.
func (f *fakeAWS) called(api string) []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []call
	for _, c := range f.calls {
		if c.API == api {
			out = append(out, c)
		}
	}
	return out
}

func (f *fakeAWS) reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = nil
}

func apiErr(code, msg string) error { return &smithy.GenericAPIError{Code: code, Message: msg} }

// ---- Cognito identity pool ----

type fakeIdentity struct{ f *fakeAWS }

// userOf reads the sub from an ID token without verifying it;
// the portal verified it already, and the real service would too.
func userOf(logins map[string]string) string {
	for _, tok := range logins {
		parts := strings.Split(tok, ".")
		if len(parts) == 3 {
			// The identity pool's principal tag "owner" comes from sub.
			var c struct {
				U string `json:"sub"`
			}
			if decodeJWTPart(parts[1], &c) == nil {
				return c.U
			}
		}
	}
	return ""
}

func (i fakeIdentity) GetId(_ context.Context, in *cognitoidentity.GetIdInput, _ ...func(*cognitoidentity.Options)) (*cognitoidentity.GetIdOutput, error) {
	i.f.record("GetId", in, "")
	u := userOf(in.Logins)
	if u == "" {
		return nil, apiErr("NotAuthorizedException", "invalid login token")
	}
	return &cognitoidentity.GetIdOutput{IdentityId: aws.String("us-east-1:id-" + u)}, nil
}

func (i fakeIdentity) GetCredentialsForIdentity(_ context.Context, in *cognitoidentity.GetCredentialsForIdentityInput, _ ...func(*cognitoidentity.Options)) (*cognitoidentity.GetCredentialsForIdentityOutput, error) {
	i.f.record("GetCredentialsForIdentity", in, "")
	if i.f.identityErr != nil {
		return nil, i.f.identityErr
	}
	u := userOf(in.Logins)
	if aws.ToString(in.IdentityId) != "us-east-1:id-"+u {
		return nil, apiErr("NotAuthorizedException", "identity does not match token")
	}
	return &cognitoidentity.GetCredentialsForIdentityOutput{IdentityId: in.IdentityId, Credentials: &citypes.Credentials{
		AccessKeyId: aws.String("ASIA-" + u), SecretKey: aws.String("secret"), SessionToken: aws.String("session"),
		Expiration: aws.Time(i.f.now().Add(time.Hour)),
	}}, nil
}

// ---- EC2 ----

type fakeEC2 struct {
	f     *fakeAWS
	creds string
}

func (e *fakeEC2) caller() string { return strings.TrimPrefix(e.creds, "ASIA-") }

func tagOf(tags []types.Tag, k string) string {
	for _, t := range tags {
		if aws.ToString(t.Key) == k {
			return aws.ToString(t.Value)
		}
	}
	return ""
}

func matches(tags []types.Tag, state string, filters []types.Filter) bool {
	for _, fl := range filters {
		name := aws.ToString(fl.Name)
		switch {
		case strings.HasPrefix(name, "tag:"):
			if !slices.Contains(fl.Values, tagOf(tags, strings.TrimPrefix(name, "tag:"))) {
				return false
			}
		case name == "instance-state-name":
			if !slices.Contains(fl.Values, state) {
				return false
			}
		default:
			panic("fake EC2 does not know filter " + name)
		}
	}
	return true
}

func (e *fakeEC2) DescribeInstances(_ context.Context, in *ec2.DescribeInstancesInput, _ ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error) {
	e.f.record("DescribeInstances", in, e.creds)
	e.f.mu.Lock()
	defer e.f.mu.Unlock()
	var res []types.Instance
	for _, id := range in.InstanceIds {
		if _, ok := e.f.instances[id]; !ok {
			return nil, apiErr("InvalidInstanceID.NotFound", "The instance ID '"+id+"' does not exist")
		}
	}
	ids := make([]string, 0, len(e.f.instances))
	for id := range e.f.instances {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		i := e.f.instances[id]
		if len(in.InstanceIds) > 0 && !slices.Contains(in.InstanceIds, id) {
			continue
		}
		if matches(i.Tags, string(i.State.Name), in.Filters) {
			res = append(res, *i)
		}
	}
	return &ec2.DescribeInstancesOutput{Reservations: []types.Reservation{{Instances: res}}}, nil
}

func (e *fakeEC2) DescribeImages(_ context.Context, in *ec2.DescribeImagesInput, _ ...func(*ec2.Options)) (*ec2.DescribeImagesOutput, error) {
	e.f.record("DescribeImages", in, e.creds)
	var out []types.Image
	for _, id := range in.ImageIds {
		root := "/dev/xvda"
		if strings.Contains(id, "ubuntu") {
			root = "/dev/sda1"
		}
		out = append(out, types.Image{ImageId: aws.String(id), RootDeviceName: aws.String(root)})
	}
	return &ec2.DescribeImagesOutput{Images: out}, nil
}

// allowedTags mirrors the IAM condition on RunInstances and CreateKeyPair:
// the request must tag the resource with the caller as Owner and with the
// instance tag.
func (e *fakeEC2) allowedTags(specs []types.TagSpecification, rt types.ResourceType) bool {
	for _, s := range specs {
		if s.ResourceType == rt {
			return tagOf(s.Tags, portal.TagOwner) == e.caller() && tagOf(s.Tags, portal.TagInstance) == "test"
		}
	}
	return false
}

func (e *fakeEC2) RunInstances(_ context.Context, in *ec2.RunInstancesInput, _ ...func(*ec2.Options)) (*ec2.RunInstancesOutput, error) {
	e.f.record("RunInstances", in, e.creds)
	if !e.allowedTags(in.TagSpecifications, types.ResourceTypeInstance) {
		return nil, apiErr("UnauthorizedOperation", "You are not authorized to perform this operation.")
	}
	e.f.mu.Lock()
	defer e.f.mu.Unlock()
	if e.f.noCap[aws.ToString(in.SubnetId)] {
		return nil, apiErr("InsufficientInstanceCapacity", "We currently do not have sufficient capacity in the Availability Zone you requested.")
	}
	if id, ok := e.f.tokens[aws.ToString(in.ClientToken)]; ok {
		return &ec2.RunInstancesOutput{Instances: []types.Instance{*e.f.instances[id]}}, nil
	}
	e.f.seq++
	id := fmt.Sprintf("i-%017d", e.f.seq)
	var tags []types.Tag
	for _, s := range in.TagSpecifications {
		if s.ResourceType == types.ResourceTypeInstance {
			tags = s.Tags
		}
	}
	inst := &types.Instance{
		InstanceId: aws.String(id), InstanceType: in.InstanceType, ImageId: in.ImageId, KeyName: in.KeyName,
		State: &types.InstanceState{Name: types.InstanceStateNameRunning}, LaunchTime: aws.Time(e.f.now()),
		Placement:        &types.Placement{AvailabilityZone: aws.String("us-east-1a")},
		PrivateIpAddress: aws.String(fmt.Sprintf("10.0.1.%d", 10+e.f.seq)), Tags: tags, SubnetId: in.SubnetId,
	}
	e.f.instances[id] = inst
	e.f.tokens[aws.ToString(in.ClientToken)] = id
	return &ec2.RunInstancesOutput{Instances: []types.Instance{*inst}}, nil
}

// transition records op and moves the machines to state s, refusing as
// IAM does (the Owner and instance condition on start/stop/terminate)
// unless the caller owns every one.
func (e *fakeEC2) transition(op string, in any, ids []string, s types.InstanceStateName) error {
	e.f.record(op, in, e.creds)
	e.f.mu.Lock()
	defer e.f.mu.Unlock()
	for _, id := range ids {
		i, ok := e.f.instances[id]
		if !ok {
			return apiErr("InvalidInstanceID.NotFound", id)
		}
		if tagOf(i.Tags, portal.TagOwner) != e.caller() || tagOf(i.Tags, portal.TagInstance) != "test" {
			return apiErr("UnauthorizedOperation", "You are not authorized to perform this operation.")
		}
	}
	for _, id := range ids {
		e.f.instances[id].State = &types.InstanceState{Name: s}
		if s == types.InstanceStateNameRunning {
			e.f.instances[id].LaunchTime = aws.Time(e.f.now())
		}
	}
	return nil
}

func (e *fakeEC2) StartInstances(_ context.Context, in *ec2.StartInstancesInput, _ ...func(*ec2.Options)) (*ec2.StartInstancesOutput, error) {
	if err := e.transition("StartInstances", in, in.InstanceIds, types.InstanceStateNameRunning); err != nil {
		return nil, err
	}
	return &ec2.StartInstancesOutput{}, nil
}

func (e *fakeEC2) StopInstances(_ context.Context, in *ec2.StopInstancesInput, _ ...func(*ec2.Options)) (*ec2.StopInstancesOutput, error) {
	if err := e.transition("StopInstances", in, in.InstanceIds, types.InstanceStateNameStopped); err != nil {
		return nil, err
	}
	return &ec2.StopInstancesOutput{}, nil
}

func (e *fakeEC2) TerminateInstances(_ context.Context, in *ec2.TerminateInstancesInput, _ ...func(*ec2.Options)) (*ec2.TerminateInstancesOutput, error) {
	if err := e.transition("TerminateInstances", in, in.InstanceIds, types.InstanceStateNameTerminated); err != nil {
		return nil, err
	}
	return &ec2.TerminateInstancesOutput{}, nil
}

func (e *fakeEC2) DescribeKeyPairs(_ context.Context, in *ec2.DescribeKeyPairsInput, _ ...func(*ec2.Options)) (*ec2.DescribeKeyPairsOutput, error) {
	e.f.record("DescribeKeyPairs", in, e.creds)
	e.f.mu.Lock()
	defer e.f.mu.Unlock()
	for _, n := range in.KeyNames {
		if _, ok := e.f.keys[n]; !ok {
			return nil, apiErr("InvalidKeyPair.NotFound", "The key pair '"+n+"' does not exist")
		}
	}
	names := make([]string, 0, len(e.f.keys))
	for n := range e.f.keys {
		names = append(names, n)
	}
	slices.Sort(names)
	var out []types.KeyPairInfo
	for _, n := range names {
		k := e.f.keys[n]
		if len(in.KeyNames) > 0 && !slices.Contains(in.KeyNames, n) {
			continue
		}
		if matches(k.Tags, "", in.Filters) {
			out = append(out, *k)
		}
	}
	return &ec2.DescribeKeyPairsOutput{KeyPairs: out}, nil
}

func (e *fakeEC2) CreateKeyPair(_ context.Context, in *ec2.CreateKeyPairInput, _ ...func(*ec2.Options)) (*ec2.CreateKeyPairOutput, error) {
	e.f.record("CreateKeyPair", in, e.creds)
	if !e.allowedTags(in.TagSpecifications, types.ResourceTypeKeyPair) {
		return nil, apiErr("UnauthorizedOperation", "You are not authorized to perform this operation.")
	}
	e.f.mu.Lock()
	defer e.f.mu.Unlock()
	name := aws.ToString(in.KeyName)
	if _, ok := e.f.keys[name]; ok {
		return nil, apiErr("InvalidKeyPair.Duplicate", "The keypair already exists")
	}
	e.f.seq++
	k := &types.KeyPairInfo{
		KeyName: in.KeyName, KeyPairId: aws.String(fmt.Sprintf("key-%017d", e.f.seq)), KeyType: in.KeyType,
		KeyFingerprint: aws.String("SHA256:fake" + name), CreateTime: aws.Time(e.f.now()), Tags: in.TagSpecifications[0].Tags,
	}
	e.f.keys[name] = k
	return &ec2.CreateKeyPairOutput{KeyName: in.KeyName, KeyPairId: k.KeyPairId, KeyFingerprint: k.KeyFingerprint,
		KeyMaterial: aws.String("-----BEGIN OPENSSH PRIVATE KEY-----\nfake-" + name + "\n-----END OPENSSH PRIVATE KEY-----\n")}, nil
}

func (e *fakeEC2) DeleteKeyPair(_ context.Context, in *ec2.DeleteKeyPairInput, _ ...func(*ec2.Options)) (*ec2.DeleteKeyPairOutput, error) {
	e.f.record("DeleteKeyPair", in, e.creds)
	e.f.mu.Lock()
	defer e.f.mu.Unlock()
	for n, k := range e.f.keys {
		if aws.ToString(k.KeyPairId) == aws.ToString(in.KeyPairId) {
			if tagOf(k.Tags, portal.TagOwner) != e.caller() {
				return nil, apiErr("UnauthorizedOperation", "You are not authorized to perform this operation.")
			}
			delete(e.f.keys, n)
		}
	}
	return &ec2.DeleteKeyPairOutput{}, nil
}

// ---- SSM, Pricing, Cost Explorer ----

type fakeSSM struct{ f *fakeAWS }

func (s fakeSSM) GetParameters(_ context.Context, in *ssm.GetParametersInput, _ ...func(*ssm.Options)) (*ssm.GetParametersOutput, error) {
	s.f.record("GetParameters", in, "")
	out := &ssm.GetParametersOutput{}
	for _, n := range in.Names {
		if v, ok := s.f.params[n]; ok {
			out.Parameters = append(out.Parameters, ssmtypes.Parameter{Name: aws.String(n), Value: aws.String(v)})
		} else {
			out.InvalidParameters = append(out.InvalidParameters, n)
		}
	}
	return out, nil
}

type fakePricing struct{ f *fakeAWS }

func (p fakePricing) GetProducts(_ context.Context, in *pricing.GetProductsInput, _ ...func(*pricing.Options)) (*pricing.GetProductsOutput, error) {
	p.f.record("GetProducts", in, "")
	key := ""
	for _, fl := range in.Filters {
		switch aws.ToString(fl.Field) {
		case "instanceType":
			key = aws.ToString(fl.Value)
		case "volumeApiName":
			key = "ebs:" + aws.ToString(fl.Value)
		}
	}
	v, ok := p.f.prices[key]
	if !ok {
		return &pricing.GetProductsOutput{}, nil
	}
	doc := `{"product":{"sku":"SKU"},"terms":{"OnDemand":{"SKU.T":{"priceDimensions":{"SKU.T.D":{"unit":"Hrs","pricePerUnit":{"USD":"` + v + `"}}}}}}}`
	return &pricing.GetProductsOutput{PriceList: []string{doc}}, nil
}

type fakeCE struct{ f *fakeAWS }

func (c fakeCE) GetCostAndUsage(_ context.Context, in *costexplorer.GetCostAndUsageInput, _ ...func(*costexplorer.Options)) (*costexplorer.GetCostAndUsageOutput, error) {
	c.f.record("GetCostAndUsage", in, "")
	amt := func(v float64) map[string]cetypes.MetricValue {
		return map[string]cetypes.MetricValue{"UnblendedCost": {Amount: aws.String(fmt.Sprintf("%.2f", v)), Unit: aws.String("USD")}}
	}
	start, _ := time.Parse("2006-01-02", aws.ToString(in.TimePeriod.Start))
	end, _ := time.Parse("2006-01-02", aws.ToString(in.TimePeriod.End))
	out := &costexplorer.GetCostAndUsageOutput{}
	for t := start; t.Before(end); {
		next := t.AddDate(0, 0, 1)
		if in.Granularity == cetypes.GranularityMonthly {
			next = time.Date(t.Year(), t.Month()+1, 1, 0, 0, 0, 0, time.UTC)
		}
		if next.After(end) {
			next = end
		}
		r := cetypes.ResultByTime{TimePeriod: &cetypes.DateInterval{Start: aws.String(t.Format("2006-01-02")), End: aws.String(next.Format("2006-01-02"))}}
		if len(in.GroupBy) > 0 {
			k := aws.ToString(in.GroupBy[0].Key)
			r.Groups = []cetypes.Group{{Keys: []string{k + "$alice"}, Metrics: amt(c.f.costs)}, {Keys: []string{k + "$bob"}, Metrics: amt(3)}}
		} else {
			r.Total = amt(c.f.costs)
		}
		out.ResultsByTime = append(out.ResultsByTime, r)
		t = next
	}
	return out, nil
}

// ---- Cognito user pool ----

type fakeIDP struct{ f *fakeAWS }

func (f *fakeAWS) addPoolUser(name, email string, enabled bool, groups ...string) {
	f.users[name] = &ciptypes.UserType{Username: aws.String(name), Enabled: enabled, UserStatus: ciptypes.UserStatusTypeConfirmed,
		// oidctest issues "sub-<user name>" as the sub.
		Attributes: []ciptypes.AttributeType{{Name: aws.String("email"), Value: aws.String(email)}, {Name: aws.String("sub"), Value: aws.String("sub-" + name)}}}
	for _, g := range groups {
		f.groups[g] = append(f.groups[g], name)
	}
}

func (i fakeIDP) ListUsers(_ context.Context, in *cip.ListUsersInput, _ ...func(*cip.Options)) (*cip.ListUsersOutput, error) {
	i.f.record("ListUsers", in, "")
	i.f.mu.Lock()
	defer i.f.mu.Unlock()
	// The one filter the portal sends, an exact user name, as Cognito
	// applies it before paging.
	only, filtered := strings.CutPrefix(aws.ToString(in.Filter), `username = "`)
	only = strings.TrimSuffix(only, `"`)
	var out []ciptypes.UserType
	for _, name := range slices.Sorted(maps.Keys(i.f.users)) {
		if !filtered || name == only {
			out = append(out, *i.f.users[name])
		}
	}
	page, next := fakePage(len(out), aws.ToString(in.PaginationToken), 2)
	return &cip.ListUsersOutput{Users: out[page[0]:page[1]], PaginationToken: next}, nil
}

func (i fakeIDP) ListUsersInGroup(_ context.Context, in *cip.ListUsersInGroupInput, _ ...func(*cip.Options)) (*cip.ListUsersInGroupOutput, error) {
	i.f.record("ListUsersInGroup", in, "")
	i.f.mu.Lock()
	defer i.f.mu.Unlock()
	var out []ciptypes.UserType
	for _, n := range i.f.groups[aws.ToString(in.GroupName)] {
		out = append(out, *i.f.users[n])
	}
	return &cip.ListUsersInGroupOutput{Users: out}, nil
}

func (i fakeIDP) AdminListGroupsForUser(_ context.Context, in *cip.AdminListGroupsForUserInput, _ ...func(*cip.Options)) (*cip.AdminListGroupsForUserOutput, error) {
	i.f.record("AdminListGroupsForUser", in, "")
	i.f.mu.Lock()
	defer i.f.mu.Unlock()
	if _, ok := i.f.users[aws.ToString(in.Username)]; !ok {
		return nil, apiErr("UserNotFoundException", "User does not exist.")
	}
	var out []ciptypes.GroupType
	for _, g := range slices.Sorted(maps.Keys(i.f.groups)) {
		if slices.Contains(i.f.groups[g], aws.ToString(in.Username)) {
			out = append(out, ciptypes.GroupType{GroupName: aws.String(g)})
		}
	}
	// One group a page, as a user in more groups than Cognito's page holds
	// would see: every caller must follow NextToken.
	page, next := fakePage(len(out), aws.ToString(in.NextToken), 1)
	return &cip.AdminListGroupsForUserOutput{Groups: out[page[0]:page[1]], NextToken: next}, nil
}

// fakePage is the [from, to) slice of n items that the page at token holds,
// size a page, and the next page's token (nil after the last).
func fakePage(n int, token string, size int) ([2]int, *string) {
	from, _ := strconv.Atoi(token)
	to := min(from+size, n)
	if to >= n {
		return [2]int{min(from, n), n}, nil
	}
	return [2]int{from, to}, aws.String(strconv.Itoa(to))
}

func (i fakeIDP) AdminEnableUser(_ context.Context, in *cip.AdminEnableUserInput, _ ...func(*cip.Options)) (*cip.AdminEnableUserOutput, error) {
	i.f.record("AdminEnableUser", in, "")
	i.f.mu.Lock()
	defer i.f.mu.Unlock()
	i.f.users[aws.ToString(in.Username)].Enabled = true
	return &cip.AdminEnableUserOutput{}, nil
}

func (i fakeIDP) AdminDeleteUser(_ context.Context, in *cip.AdminDeleteUserInput, _ ...func(*cip.Options)) (*cip.AdminDeleteUserOutput, error) {
	i.f.record("AdminDeleteUser", in, "")
	i.f.mu.Lock()
	defer i.f.mu.Unlock()
	delete(i.f.users, aws.ToString(in.Username))
	for g, us := range i.f.groups {
		i.f.groups[g] = slices.DeleteFunc(us, func(s string) bool { return s == aws.ToString(in.Username) })
	}
	return &cip.AdminDeleteUserOutput{}, nil
}

func (i fakeIDP) AdminAddUserToGroup(_ context.Context, in *cip.AdminAddUserToGroupInput, _ ...func(*cip.Options)) (*cip.AdminAddUserToGroupOutput, error) {
	i.f.record("AdminAddUserToGroup", in, "")
	i.f.mu.Lock()
	defer i.f.mu.Unlock()
	g := aws.ToString(in.GroupName)
	i.f.groups[g] = append(i.f.groups[g], aws.ToString(in.Username))
	return &cip.AdminAddUserToGroupOutput{}, nil
}

func (i fakeIDP) AdminRemoveUserFromGroup(_ context.Context, in *cip.AdminRemoveUserFromGroupInput, _ ...func(*cip.Options)) (*cip.AdminRemoveUserFromGroupOutput, error) {
	i.f.record("AdminRemoveUserFromGroup", in, "")
	i.f.mu.Lock()
	defer i.f.mu.Unlock()
	g := aws.ToString(in.GroupName)
	i.f.groups[g] = slices.DeleteFunc(i.f.groups[g], func(s string) bool { return s == aws.ToString(in.Username) })
	return &cip.AdminRemoveUserFromGroupOutput{}, nil
}

// ---- Athena ----

// fakeHub is the DaskHub costs table as the fake Athena answers it: the
// rows each of the portal's two queries returns, and how executions go.
type fakeHub struct {
	// Month answers the month's query (user sub, team, day, cost); Year
	// the twelve months' (month, cost).
	Month, Year [][]string
	// Fail ends every execution FAILED with this reason.
	Fail string
	// Stuck keeps every execution RUNNING.
	Stuck bool
	// Page is how many rows one GetQueryResults answer holds (Athena's
	// is up to 1000), so that small tables page too.
	Page int
	// Problems are what the fake found wrong in the requests it received.
	Problems []string
	execs    map[string]*fakeExec
}

type fakeExec struct {
	rows  [][]string
	polls int
}

type fakeAthena struct{ f *fakeAWS }

// hubConfig is the HubCosts the fake expects its requests to follow.
func hubConfig() *portal.HubCosts {
	return &portal.HubCosts{WorkGroup: "test-costs", Database: "test_cur", Table: "data", Cluster: "test-hub",
		UserTag: "user_heliocloud_org_user", TeamTag: "user_heliocloud_org_team"}
}

// check reports what in a StartQueryExecution request does not match the
// table, the config and the way Athena takes parameters; it returns which
// rows the query asks for.
func (a fakeAthena) check(in *athena.StartQueryExecutionInput) ([][]string, []string) {
	hc, h := hubConfig(), &a.f.hub
	sql := aws.ToString(in.QueryString)
	var bad []string
	need := func(ok bool, what string) {
		if !ok {
			bad = append(bad, what)
		}
	}
	need(aws.ToString(in.WorkGroup) == hc.WorkGroup, "workgroup "+aws.ToString(in.WorkGroup))
	need(in.QueryExecutionContext != nil && aws.ToString(in.QueryExecutionContext.Database) == hc.Database, "database")
	reuse := in.ResultReuseConfiguration
	need(reuse != nil && reuse.ResultReuseByAgeConfiguration != nil && reuse.ResultReuseByAgeConfiguration.Enabled &&
		aws.ToInt32(reuse.ResultReuseByAgeConfiguration.MaxAgeInMinutes) == 60, "result reuse up to 60 minutes")
	for _, want := range []string{`FROM "data"`, "line_item_operation = 'EKSPod-EC2'", "split_part(line_item_resource_id, '/', 2) = ?", "split_line_item_split_cost", "split_line_item_unused_cost"} {
		need(strings.Contains(sql, want), "SQL lacks "+want)
	}
	need(strings.Count(sql, "?") == len(in.ExecutionParameters), "one parameter per placeholder")
	need(len(in.ExecutionParameters) > 0 && in.ExecutionParameters[len(in.ExecutionParameters)-1] == "'test-hub'", "cluster parameter 'test-hub'")
	var rows [][]string
	var periods []string
	if strings.Contains(sql, "usage_day") {
		rows = h.Month
		need(strings.Contains(sql, "WHERE billing_period = ?"), "month filtered on billing_period")
		for _, tag := range []string{hc.UserTag, hc.TeamTag} {
			need(strings.Contains(sql, "element_at(resource_tags, '"+tag+"')"), "SQL lacks tag "+tag)
		}
		periods = []string{"'2026-11'"}
	} else {
		rows = h.Year
		need(strings.Contains(sql, "WHERE billing_period IN (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"), "12 months filtered on billing_period")
		periods = []string{"'2025-12'", "'2026-01'", "'2026-02'", "'2026-03'", "'2026-04'", "'2026-05'", "'2026-06'", "'2026-07'", "'2026-08'", "'2026-09'", "'2026-10'", "'2026-11'"}
	}
	if n := len(in.ExecutionParameters); n > 0 {
		need(slices.Equal(in.ExecutionParameters[:n-1], periods), fmt.Sprintf("billing periods %v, want %v", in.ExecutionParameters[:n-1], periods))
	}
	return rows, bad
}

func (a fakeAthena) StartQueryExecution(_ context.Context, in *athena.StartQueryExecutionInput, _ ...func(*athena.Options)) (*athena.StartQueryExecutionOutput, error) {
	a.f.record("StartQueryExecution", in, "")
	a.f.mu.Lock()
	defer a.f.mu.Unlock()
	rows, bad := a.check(in)
	if len(bad) > 0 {
		a.f.hub.Problems = append(a.f.hub.Problems, bad...)
		return nil, apiErr("InvalidRequestException", strings.Join(bad, "; "))
	}
	if a.f.hub.execs == nil {
		a.f.hub.execs = map[string]*fakeExec{}
	}
	a.f.seq++
	id := fmt.Sprintf("q-%04d", a.f.seq)
	a.f.hub.execs[id] = &fakeExec{rows: rows}
	return &athena.StartQueryExecutionOutput{QueryExecutionId: aws.String(id)}, nil
}

// GetQueryExecution moves an execution through QUEUED and RUNNING, one
// state per poll, to SUCCEEDED or FAILED, as Athena's do.
func (a fakeAthena) GetQueryExecution(_ context.Context, in *athena.GetQueryExecutionInput, _ ...func(*athena.Options)) (*athena.GetQueryExecutionOutput, error) {
	a.f.record("GetQueryExecution", in, "")
	a.f.mu.Lock()
	defer a.f.mu.Unlock()
	x, ok := a.f.hub.execs[aws.ToString(in.QueryExecutionId)]
	if !ok {
		return nil, apiErr("InvalidRequestException", "QueryExecution "+aws.ToString(in.QueryExecutionId)+" was not found")
	}
	x.polls++
	st := &athenatypes.QueryExecutionStatus{State: athenatypes.QueryExecutionStateQueued}
	switch {
	case x.polls >= 3 && a.f.hub.Fail != "":
		st = &athenatypes.QueryExecutionStatus{State: athenatypes.QueryExecutionStateFailed, StateChangeReason: aws.String(a.f.hub.Fail)}
	case x.polls >= 3 && !a.f.hub.Stuck:
		st.State = athenatypes.QueryExecutionStateSucceeded
	case x.polls >= 2:
		st.State = athenatypes.QueryExecutionStateRunning
	}
	return &athena.GetQueryExecutionOutput{QueryExecution: &athenatypes.QueryExecution{QueryExecutionId: in.QueryExecutionId, Status: st}}, nil
}

// GetQueryResults answers a finished execution's rows, the column names
// first, Page rows at a time.
func (a fakeAthena) GetQueryResults(_ context.Context, in *athena.GetQueryResultsInput, _ ...func(*athena.Options)) (*athena.GetQueryResultsOutput, error) {
	page := *in // a copy, in case a caller reuses its request for the next page
	a.f.record("GetQueryResults", &page, "")
	a.f.mu.Lock()
	defer a.f.mu.Unlock()
	x, ok := a.f.hub.execs[aws.ToString(in.QueryExecutionId)]
	if !ok || x.polls < 3 || a.f.hub.Stuck || a.f.hub.Fail != "" {
		return nil, apiErr("InvalidRequestException", "Query has not yet finished. Current state: RUNNING")
	}
	all := append([][]string{{"header", "row"}}, x.rows...)
	start := 0
	if t := aws.ToString(in.NextToken); t != "" {
		start, _ = strconv.Atoi(strings.TrimPrefix(t, "page-"))
	}
	size := a.f.hub.Page
	if size == 0 {
		size = 1000
	}
	end := min(start+size, len(all))
	out := &athena.GetQueryResultsOutput{ResultSet: &athenatypes.ResultSet{}}
	for _, r := range all[start:end] {
		var data []athenatypes.Datum
		for _, v := range r {
			data = append(data, athenatypes.Datum{VarCharValue: aws.String(v)})
		}
		out.ResultSet.Rows = append(out.ResultSet.Rows, athenatypes.Row{Data: data})
	}
	if end < len(all) {
		out.NextToken = aws.String(fmt.Sprintf("page-%d", end))
	}
	return out, nil
}
