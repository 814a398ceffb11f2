package portal_test

import (
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cognitoidentity"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/costexplorer"
	cetypes "github.com/aws/aws-sdk-go-v2/service/costexplorer/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/heliocloud/heliocloud-go/portal"
	"github.com/heliocloud/heliocloud-go/portal/oidctest"
)

func launchForm(csrf string, kv ...string) url.Values {
	f := url.Values{
		"csrf": {csrf}, "token": {"form-token-0123456789"}, "name": {"analysis"}, "image": {"al2023"},
		"type": {"t3.medium"}, "volume": {"64"}, "key": {""}, "team": {"solar"}, "op": {"launch"},
	}
	for i := 0; i+1 < len(kv); i += 2 {
		f.Set(kv[i], kv[i+1])
	}
	return f
}

func tags(kv ...string) []types.Tag {
	var out []types.Tag
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, types.Tag{Key: aws.String(kv[i]), Value: aws.String(kv[i+1])})
	}
	return out
}

// addMachine puts a machine straight into the fake account.
func (e *env) addMachine(id, owner, instance string, state types.InstanceStateName) {
	e.aws.mu.Lock()
	defer e.aws.mu.Unlock()
	e.aws.instances[id] = &types.Instance{
		InstanceId: aws.String(id), InstanceType: types.InstanceTypeT3Medium, State: &types.InstanceState{Name: state},
		LaunchTime: aws.Time(e.clk.Now()), PrivateIpAddress: aws.String("10.0.1.5"),
		// oidctest issues "sub-<user name>" as the sub, the owner tag's value.
		Tags: tags("Name", id+"-name", portal.TagOwner, "sub-"+owner, portal.TagInstance, instance),
	}
}

func TestSignInSetsHardenedSessionCookie(t *testing.T) {
	e := newEnv(t)
	a, landing, _ := e.signIn("alice", "alice-pw")
	if landing.Status != http.StatusOK || !strings.HasSuffix(landing.URL, "/machines") {
		t.Fatalf("after sign-in got %d at %s", landing.Status, landing.URL)
	}
	var session *http.Cookie
	for _, c := range a.cookies {
		if c.Name == "__Host-heliocloud-session" && c.Value != "" {
			session = c
		}
	}
	if session == nil {
		t.Fatal("no session cookie was set")
	}
	if !session.HttpOnly || !session.Secure || session.SameSite != http.SameSiteLaxMode || session.Path != "/" || session.Domain != "" {
		t.Errorf("session cookie flags: HttpOnly=%v Secure=%v SameSite=%v Path=%q Domain=%q", session.HttpOnly, session.Secure, session.SameSite, session.Path, session.Domain)
	}
	for _, leak := range []string{"alice", "YWxpY2", "eyJ"} { // plain, base64 of "alice", JWT header
		if strings.Contains(session.Value, leak) {
			t.Errorf("session cookie is readable: contains %q", leak)
		}
	}
	// PKCE: the provider only issues codes for an S256 challenge and only
	// redeems them with the matching verifier, so reaching /machines proves
	// both; the token endpoint must have been used exactly once.
	if n := tokenRequests(e); n != 1 {
		t.Errorf("token endpoint called %d times, want 1; log %v", n, e.idp.Log)
	}
}

func TestTamperedOrExpiredSessionIsRefused(t *testing.T) {
	e := newEnv(t)
	a, _, _ := e.signIn("alice", "alice-pw")
	val := a.jarCookie("__Host-heliocloud-session")
	flipped := []byte(val)
	flipped[len(flipped)/2] ^= 1
	a.setCookie("__Host-heliocloud-session", string(flipped))
	a.noRedirects()
	if p := a.get("/machines"); p.Status != http.StatusSeeOther {
		t.Errorf("tampered cookie: got %d, want a redirect to sign-in", p.Status)
	}
	a.setCookie("__Host-heliocloud-session", val)
	if p := a.get("/machines"); p.Status != http.StatusOK {
		t.Fatalf("restored cookie: got %d", p.Status)
	}
	e.clk.Add(61 * time.Minute) // the ID token, and so the session, lasts an hour
	if p := a.get("/machines"); p.Status != http.StatusSeeOther {
		t.Errorf("expired session: got %d, want a redirect to sign-in", p.Status)
	}
}

func TestCallbackRejectsWrongState(t *testing.T) {
	e := newEnv(t)
	a := e.agent().noRedirects()
	a.get("/login") // sets the login cookie
	if p := a.get("/callback?code=x&state=forged"); p.Status != http.StatusBadRequest {
		t.Errorf("forged state: got %d, want 400", p.Status)
	}
	if tokenRequests(e) != 0 {
		t.Error("a code was redeemed for a forged state")
	}
}

func TestPendingUserCannotSignIn(t *testing.T) {
	e := newEnv(t)
	_, landing, _ := e.signIn("carol", "carol-pw")
	if landing.Status != http.StatusForbidden || !strings.Contains(landing.Body, "waiting for an administrator") {
		t.Errorf("pending user: got %d %s", landing.Status, landing.Body)
	}
}

func TestSignedOutVisitorsAreSentToSignIn(t *testing.T) {
	e := newEnv(t)
	a := e.agent().noRedirects()
	for _, path := range []string{"/machines", "/launch", "/keys", "/costs", "/admin"} {
		req, _ := http.NewRequest(http.MethodGet, e.srv.URL+path, nil)
		resp, err := a.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login?return="+url.QueryEscape(path) {
			t.Errorf("GET %s: %d Location %q", path, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	if p := a.post("/machines/i-1/stop", url.Values{}); p.Status != http.StatusUnauthorized {
		t.Errorf("POST without session: %d", p.Status)
	}
	if p := a.get("/health"); p.Status != http.StatusOK || p.Body != "ok\n" {
		t.Errorf("/health: %d %q", p.Status, p.Body)
	}
	if len(e.aws.calls) != 0 {
		t.Errorf("AWS was called for a signed-out visitor: %v", e.aws.calls)
	}
}

func TestEveryStateChangeNeedsCSRFToken(t *testing.T) {
	e := newEnv(t)
	e.addMachine("i-0000000000000a11", "alice", "test", types.InstanceStateNameRunning)
	a, _, tok := e.signIn("alice", "alice-pw")
	_, _, bobTok := e.signIn("bob", "bob-pw")
	posts := []string{"/machines/i-0000000000000a11/stop", "/machines/i-0000000000000a11/terminate", "/launch", "/keys", "/keys/k/delete", "/logout"}
	cases := []struct {
		name string
		form url.Values
		hdr  []string
	}{
		{"missing token", url.Values{}, nil},
		{"wrong token", url.Values{"csrf": {"AAAA"}}, nil},
		{"another session's token", url.Values{"csrf": {bobTok}}, nil},
		{"cross-site origin", url.Values{"csrf": {tok}}, []string{"Origin", "https://evil.example"}},
		{"cross-site fetch", url.Values{"csrf": {tok}}, []string{"Sec-Fetch-Site", "cross-site"}},
	}
	e.aws.reset()
	for _, c := range cases {
		for _, path := range posts {
			if p := a.post(path, c.form, c.hdr...); p.Status != http.StatusForbidden {
				t.Errorf("%s: POST %s got %d, want 403", c.name, path, p.Status)
			}
		}
	}
	if len(e.aws.calls) != 0 {
		t.Errorf("AWS was called for rejected forms: %v", e.aws.calls)
	}
	// The same request with the right token goes through.
	if p := a.post("/machines/i-0000000000000a11/stop", url.Values{"csrf": {tok}}); p.Status != http.StatusOK || len(e.aws.called("StopInstances")) != 1 {
		t.Errorf("valid token: %d, StopInstances calls %d", p.Status, len(e.aws.called("StopInstances")))
	}
}

func TestLaunchTagsOwnerAndInstanceAndUsesUserCredentials(t *testing.T) {
	e := newEnv(t)
	a, _, tok := e.signIn("alice", "alice-pw")
	p := a.post("/launch", launchForm(tok))
	if p.Status != http.StatusOK || !strings.Contains(p.Body, "Launching analysis (i-00000000000000001)") {
		t.Fatalf("launch: %d %s", p.Status, p.Body)
	}
	runs := e.aws.called("RunInstances")
	if len(runs) != 1 {
		t.Fatalf("RunInstances called %d times", len(runs))
	}
	if runs[0].Creds != "ASIA-sub-alice" {
		t.Errorf("RunInstances ran with %q, want the user's identity-pool credentials", runs[0].Creds)
	}
	want := tags("Name", "analysis", "heliocloud:owner", "sub-alice", "heliocloud:user", "alice", "heliocloud:instance", "test", "heliocloud:image", "al2023",
		"heliocloud:team", "solar", "heliocloud:autostop", "on")
	wantIn := &ec2.RunInstancesInput{
		ImageId: aws.String("ami-0al2023x86"), InstanceType: "t3.medium", MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
		SubnetId: aws.String("subnet-a"), SecurityGroupIds: []string{"sg-vm"}, ClientToken: aws.String("form-token-0123456789-0"),
		IamInstanceProfile: &types.IamInstanceProfileSpecification{Arn: aws.String("arn:aws:iam::111122223333:instance-profile/test-team-solar")},
		BlockDeviceMappings: []types.BlockDeviceMapping{{DeviceName: aws.String("/dev/xvda"), Ebs: &types.EbsBlockDevice{
			VolumeSize: aws.Int32(64), VolumeType: types.VolumeTypeGp3, Encrypted: aws.Bool(true), DeleteOnTermination: aws.Bool(true)}}},
		MetadataOptions: &types.InstanceMetadataOptionsRequest{HttpTokens: types.HttpTokensStateRequired, HttpEndpoint: types.InstanceMetadataEndpointStateEnabled,
			HttpPutResponseHopLimit: aws.Int32(1)},
		TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeInstance, Tags: want}, {ResourceType: types.ResourceTypeVolume, Tags: want}},
	}
	if got := runs[0].Input.(*ec2.RunInstancesInput); !reflect.DeepEqual(got, wantIn) {
		t.Errorf("RunInstances input\n got %+v\nwant %+v", got, wantIn)
	}
	// The credentials came from the identity pool for alice's ID token.
	ids := e.aws.called("GetId")
	if len(ids) == 0 {
		t.Fatal("GetId was not called")
	}
	in := ids[0].Input.(*cognitoidentity.GetIdInput)
	provider := strings.TrimPrefix(e.idp.Issuer(), "http://")
	if aws.ToString(in.IdentityPoolId) != "us-east-1:pool-id" || len(in.Logins) != 1 || in.Logins[provider] == "" {
		t.Errorf("GetId input: pool %q logins %v", aws.ToString(in.IdentityPoolId), in.Logins)
	}
	// The image was resolved at run time from the public SSM parameter.
	wantParam := &ssm.GetParametersInput{Names: []string{"/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"}}
	if got := e.aws.called("GetParameters"); len(got) != 1 || !reflect.DeepEqual(got[0].Input, wantParam) {
		t.Errorf("GetParameters calls: %+v", got)
	}

	// A double-submitted form reuses the client token: still one machine.
	a.post("/launch", launchForm(tok))
	if n := len(e.aws.instances); n != 1 {
		t.Errorf("double submit made %d machines", n)
	}
}

func TestLaunchOptOutOfAutoStopAndArmImage(t *testing.T) {
	e := newEnv(t, func(c *portal.Config) {
		c.InstanceTypes = append(c.InstanceTypes, portal.InstanceType{Name: "m7g.large", Group: "general"})
	})
	e.aws.prices["m7g.large"] = "0.0816"
	a, _, tok := e.signIn("alice", "alice-pw")
	if p := a.post("/launch", launchForm(tok, "keep_running", "on", "type", "m7g.large", "team", "")); p.Status != http.StatusOK {
		t.Fatalf("launch: %d %s", p.Status, p.Body)
	}
	in := e.aws.called("RunInstances")[0].Input.(*ec2.RunInstancesInput)
	if aws.ToString(in.ImageId) != "ami-0al2023arm" {
		t.Errorf("a Graviton type got image %s, want the arm64 build", aws.ToString(in.ImageId))
	}
	if got := in.TagSpecifications[0].Tags; tagOf(got, "heliocloud:autostop") != "off" || tagOf(got, "heliocloud:team") != "" {
		t.Errorf("tags %v: want heliocloud:autostop=off and no team", got)
	}
	if aws.ToString(in.IamInstanceProfile.Arn) != "arn:aws:iam::111122223333:instance-profile/test-vm" {
		t.Errorf("no team should get the default instance profile, got %s", aws.ToString(in.IamInstanceProfile.Arn))
	}
	// The GPU image has no arm64 build: a clear error, no launch.
	p := a.post("/launch", launchForm(tok, "image", "dlami", "type", "m7g.large", "token", "another-token-0123456"))
	if p.Status != http.StatusUnprocessableEntity || !strings.Contains(p.Body, "has no arm64 build") {
		t.Errorf("dlami on arm: %d %s", p.Status, p.Body)
	}
}

func TestLaunchLimits(t *testing.T) {
	t.Run("running machines", func(t *testing.T) {
		e := newEnv(t)
		e.addMachine("i-0000000000000001", "alice", "test", types.InstanceStateNameRunning)
		e.addMachine("i-0000000000000002", "alice", "test", types.InstanceStateNamePending)
		e.addMachine("i-0000000000000003", "alice", "test", types.InstanceStateNameStopped)
		e.addMachine("i-0000000000000004", "bob", "test", types.InstanceStateNameRunning)
		a, _, tok := e.signIn("alice", "alice-pw")
		p := a.post("/launch", launchForm(tok))
		if p.Status != http.StatusConflict || !strings.Contains(p.Body, "Limit reached: you have 2 running machines and the limit is 2") {
			t.Errorf("launch over the limit: %d %s", p.Status, p.Body)
		}
		p = a.post("/machines/i-0000000000000003/start", url.Values{"csrf": {tok}})
		if p.Status != http.StatusConflict || !strings.Contains(p.Body, "Limit reached") {
			t.Errorf("start over the limit: %d", p.Status)
		}
		if n := len(e.aws.called("RunInstances")) + len(e.aws.called("StartInstances")); n != 0 {
			t.Errorf("%d launches/starts went through over the limit", n)
		}
	})
	t.Run("monthly spend", func(t *testing.T) {
		e := newEnv(t)
		e.aws.costs = 100.01
		a, _, tok := e.signIn("alice", "alice-pw")
		p := a.post("/launch", launchForm(tok))
		if p.Status != http.StatusConflict || !strings.Contains(p.Body, "you have spent $100.01 this month and the monthly limit is $100.00") {
			t.Errorf("launch over the spend limit: %d %s", p.Status, p.Body)
		}
		if len(e.aws.called("RunInstances")) != 0 {
			t.Error("launched over the spend limit")
		}
		ce := e.aws.called("GetCostAndUsage")
		if len(ce) != 1 {
			t.Fatalf("GetCostAndUsage called %d times", len(ce))
		}
		want := &costexplorer.GetCostAndUsageInput{
			TimePeriod:  &cetypes.DateInterval{Start: aws.String("2026-11-01"), End: aws.String("2026-11-26")},
			Granularity: cetypes.GranularityMonthly, Metrics: []string{"UnblendedCost"},
			Filter: &cetypes.Expression{And: []cetypes.Expression{
				{Tags: &cetypes.TagValues{Key: aws.String("heliocloud:owner"), Values: []string{"sub-alice"}, MatchOptions: []cetypes.MatchOption{"EQUALS"}}},
				{Tags: &cetypes.TagValues{Key: aws.String("heliocloud:instance"), Values: []string{"test"}, MatchOptions: []cetypes.MatchOption{"EQUALS"}}},
			}},
		}
		if !reflect.DeepEqual(ce[0].Input, want) {
			t.Errorf("spend query\n got %+v\nwant %+v", ce[0].Input, want)
		}
	})
}

func TestLaunchValidationReportsEveryProblem(t *testing.T) {
	e := newEnv(t)
	a, _, tok := e.signIn("alice", "alice-pw")
	p := a.post("/launch", launchForm(tok, "name", "", "type", "p5.48xlarge", "volume", "4096", "team", "magneto", "key", "bobs-key", "image", "windows"))
	for _, want := range []string{"Name:", "Operating system:", "Machine type:", "Disk size: choose between 32 and 256 GiB.", "Key pair:", "Team: you can only pick a team you belong to."} {
		if !strings.Contains(p.Body, want) {
			t.Errorf("missing %q in the error", want)
		}
	}
	if p.Status != http.StatusUnprocessableEntity || len(e.aws.called("RunInstances")) != 0 {
		t.Errorf("invalid launch: %d, RunInstances %d", p.Status, len(e.aws.called("RunInstances")))
	}
}

func TestLaunchCapacity(t *testing.T) {
	e := newEnv(t)
	e.aws.noCap["subnet-a"] = true
	a, _, tok := e.signIn("alice", "alice-pw")
	if p := a.post("/launch", launchForm(tok)); p.Status != http.StatusOK {
		t.Fatalf("launch with capacity in the second zone: %d %s", p.Status, p.Body)
	}
	runs := e.aws.called("RunInstances")
	if len(runs) != 2 || aws.ToString(runs[1].Input.(*ec2.RunInstancesInput).SubnetId) != "subnet-b" {
		t.Fatalf("want a retry in subnet-b, got %d calls", len(runs))
	}
	e.aws.noCap["subnet-b"] = true
	p := a.post("/launch", launchForm(tok, "token", "second-form-token-0123"))
	if p.Status != http.StatusServiceUnavailable || !strings.Contains(p.Body, "AWS has no t3.medium capacity in us-east-1a, us-east-1b right now") {
		t.Errorf("no capacity anywhere: %d %s", p.Status, p.Body)
	}
}

func TestEstimateBeforeLaunch(t *testing.T) {
	e := newEnv(t)
	a, _, tok := e.signIn("alice", "alice-pw")
	form := a.get("/launch")
	for _, want := range []string{"t3.medium — $0.0416/hour", "g5.xlarge — $1.0060/hour", "x9z.huge — price unknown", `<optgroup label="GPU">`} {
		if !strings.Contains(form.Body, want) {
			t.Errorf("launch form lacks %q", want)
		}
	}
	p := a.post("/launch", launchForm(tok, "op", "estimate", "volume", "100"))
	// 0.0416/h; disk 100 GiB * $0.08 = $8/month; day = 8h + 1/30 month of disk.
	if !strings.Contains(p.Body, "$0.0416 per running hour, plus $8.00 a month for the disk") || !strings.Contains(p.Body, "About $0.60 for an 8-hour day, $38.37 for a month") {
		t.Errorf("estimate missing: %s", p.Body)
	}
	p = a.post("/launch", launchForm(tok, "op", "estimate", "type", "x9z.huge"))
	if !strings.Contains(p.Body, "Price unknown") {
		t.Error("unknown price not shown")
	}
	if len(e.aws.called("RunInstances")) != 0 {
		t.Error("an estimate launched a machine")
	}
}

func TestActionsCheckOwnershipFirst(t *testing.T) {
	e := newEnv(t)
	e.addMachine("i-00000000000000b0", "bob", "test", types.InstanceStateNameRunning)
	e.addMachine("i-00000000000000a0", "alice", "other-instance", types.InstanceStateNameRunning)
	e.aws.keys["bobs-key"] = &types.KeyPairInfo{KeyName: aws.String("bobs-key"), KeyPairId: aws.String("key-b"), Tags: tags(portal.TagOwner, "sub-bob", "heliocloud:instance", "test")}
	a, _, tok := e.signIn("alice", "alice-pw")
	e.aws.reset()
	for _, id := range []string{"i-00000000000000b0", "i-00000000000000a0", "i-doesnotexist000"} {
		for _, action := range []string{"start", "stop", "terminate"} {
			p := a.post("/machines/"+id+"/"+action, url.Values{"csrf": {tok}, "confirm": {"yes"}})
			if p.Status != http.StatusNotFound || !strings.Contains(p.Body, "There is no machine "+id+" of yours.") {
				t.Errorf("%s %s: %d", action, id, p.Status)
			}
		}
	}
	if p := a.post("/keys/bobs-key/delete", url.Values{"csrf": {tok}}); p.Status != http.StatusNotFound {
		t.Errorf("deleting bob's key: %d", p.Status)
	}
	for _, api := range []string{"StartInstances", "StopInstances", "TerminateInstances", "DeleteKeyPair"} {
		if n := len(e.aws.called(api)); n != 0 {
			t.Errorf("%s was called %d times on resources alice does not own", api, n)
		}
	}
	// Each check looked the resource up by id with alice's credentials.
	for _, c := range e.aws.called("DescribeInstances") {
		in := c.Input.(*ec2.DescribeInstancesInput)
		if c.Creds != "ASIA-sub-alice" || len(in.InstanceIds) != 1 {
			t.Errorf("ownership lookup %+v with %s", in, c.Creds)
		}
	}
	if n := len(e.aws.called("DescribeInstances")); n != 9 {
		t.Errorf("DescribeInstances called %d times, want one per action (9)", n)
	}
}

func TestStopStartTerminateOwnMachine(t *testing.T) {
	e := newEnv(t)
	id := "i-00000000000000a1"
	e.addMachine(id, "alice", "test", types.InstanceStateNameRunning)
	a, _, tok := e.signIn("alice", "alice-pw")
	if p := a.post("/machines/"+id+"/stop", url.Values{"csrf": {tok}}); !strings.Contains(p.Body, "Stopping "+id+"-name.") {
		t.Errorf("stop: %d %s", p.Status, p.Body)
	}
	if p := a.post("/machines/"+id+"/start", url.Values{"csrf": {tok}}); !strings.Contains(p.Body, "Starting "+id+"-name.") {
		t.Errorf("start: %d", p.Status)
	}
	p := a.post("/machines/"+id+"/terminate", url.Values{"csrf": {tok}})
	if !strings.Contains(p.Body, "This cannot be undone") || len(e.aws.called("TerminateInstances")) != 0 {
		t.Fatalf("terminate without confirmation: %d", p.Status)
	}
	a.post("/machines/"+id+"/terminate", url.Values{"csrf": {tok}, "confirm": {"yes"}})
	for api, in := range map[string]any{
		"StopInstances":      &ec2.StopInstancesInput{InstanceIds: []string{id}},
		"StartInstances":     &ec2.StartInstancesInput{InstanceIds: []string{id}},
		"TerminateInstances": &ec2.TerminateInstancesInput{InstanceIds: []string{id}},
	} {
		c := e.aws.called(api)
		if len(c) != 1 || !reflect.DeepEqual(c[0].Input, in) || c[0].Creds != "ASIA-sub-alice" {
			t.Errorf("%s: %+v", api, c)
		}
	}
	if s := e.aws.instances[id].State.Name; s != types.InstanceStateNameTerminated {
		t.Errorf("machine is %s", s)
	}
}

func TestMachinesPageShowsCommandUptimeAndCost(t *testing.T) {
	e := newEnv(t)
	a, _, tok := e.signIn("alice", "alice-pw")
	a.post("/keys", url.Values{"csrf": {tok}, "name": {"laptop"}})
	a.post("/launch", launchForm(tok, "key", "laptop", "image", "ubuntu"))
	e.clk.Add(2*time.Hour + 30*time.Minute)
	p := a.get("/machines")
	for _, want := range []string{
		"analysis", "running", "t3.medium", "2h 30m", "10.0.1.12",
		"aws ssm start-session --region us-east-1 --target i-00000000000000002",
		`ssh -i ~/.ssh/laptop.pem -o ProxyCommand=&#34;aws ssm start-session --region us-east-1 --target %h --document-name AWS-StartSSHSession --parameters portNumber=%p&#34; ubuntu@i-00000000000000002`,
		"$0.10", // 2.5 h at $0.0416
	} {
		if !strings.Contains(p.Body, want) {
			t.Errorf("machines page lacks %q", want)
		}
	}
	if strings.Contains(p.Body, "i-0000000000000b") {
		t.Error("shows someone else's machine")
	}
}

func TestSSHCommandWhenSSHIsAllowed(t *testing.T) {
	e := newEnv(t, func(c *portal.Config) { c.SSH = true })
	a, _, tok := e.signIn("alice", "alice-pw")
	a.post("/keys", url.Values{"csrf": {tok}, "name": {"laptop"}})
	a.post("/launch", launchForm(tok, "key", "laptop"))
	if p := a.get("/machines"); !strings.Contains(p.Body, "ssh -i ~/.ssh/laptop.pem ec2-user@10.0.1.12") {
		t.Errorf("no direct ssh command: %s", p.Body)
	}
}

func TestKeys(t *testing.T) {
	e := newEnv(t)
	a, _, tok := e.signIn("alice", "alice-pw")
	p := a.post("/keys", url.Values{"csrf": {tok}, "name": {"laptop"}})
	if !strings.Contains(p.Body, "fake-laptop") || !strings.Contains(p.Body, `download="laptop.pem"`) || !strings.Contains(p.Body, `href="data:application/x-pem-file;base64,`) {
		t.Fatalf("new key page: %d %s", p.Status, p.Body)
	}
	want := &ec2.CreateKeyPairInput{KeyName: aws.String("laptop"), KeyType: types.KeyTypeEd25519, KeyFormat: types.KeyFormatPem,
		TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeKeyPair, Tags: tags(portal.TagOwner, "sub-alice", "heliocloud:instance", "test")}}}
	if c := e.aws.called("CreateKeyPair"); len(c) != 1 || !reflect.DeepEqual(c[0].Input, want) || c[0].Creds != "ASIA-sub-alice" {
		t.Errorf("CreateKeyPair: %+v", c)
	}
	list := a.get("/keys")
	if !strings.Contains(list.Body, "SHA256:fakelaptop") || strings.Contains(list.Body, "fake-laptop") {
		t.Error("key list must show the fingerprint and never the private key again")
	}
	if p := a.post("/keys", url.Values{"csrf": {tok}, "name": {"laptop"}}); p.Status != http.StatusConflict || !strings.Contains(p.Body, "already exists") {
		t.Errorf("duplicate key: %d", p.Status)
	}
	if p := a.post("/keys", url.Values{"csrf": {tok}, "name": {"../etc"}}); p.Status != http.StatusUnprocessableEntity {
		t.Errorf("bad key name: %d", p.Status)
	}
	if p := a.post("/keys/laptop/delete", url.Values{"csrf": {tok}}); !strings.Contains(p.Body, "Deleted key laptop.") {
		t.Errorf("delete: %d", p.Status)
	}
	if c := e.aws.called("DeleteKeyPair"); len(c) != 1 || !reflect.DeepEqual(c[0].Input, &ec2.DeleteKeyPairInput{KeyPairId: aws.String("key-00000000000000001")}) {
		t.Errorf("DeleteKeyPair: %+v", c)
	}
}

func TestCostsPage(t *testing.T) {
	e := newEnv(t)
	a, _, _ := e.signIn("alice", "alice-pw")
	p := a.get("/costs")
	// The fake answers $12.50 per period: 7 days, 1 month, 12 months.
	for _, want := range []string{`id="cost-week">$87.50`, `id="cost-month">$12.50`, `id="cost-year">$150.00`, "2026-11-19", "2025-12"} {
		if !strings.Contains(p.Body, want) {
			t.Errorf("costs page lacks %q", want)
		}
	}
	if strings.Contains(p.Body, "Everyone") {
		t.Error("a non-admin sees everyone's costs")
	}
	// Charts of the days and the months: the fake's costs are equal, so
	// every bar is full height.
	if n, full := strings.Count(p.Body, "<rect "), strings.Count(p.Body, `height="140.0" fill=`); n != 7+12 || full != n {
		t.Errorf("costs page draws %d bars, %d of full height; want 19 equal bars", n, full)
	}
	for _, c := range e.aws.called("GetCostAndUsage") {
		in := c.Input.(*costexplorer.GetCostAndUsageInput)
		if len(in.Filter.And) != 2 || aws.ToString(in.Filter.And[0].Tags.Key) != "heliocloud:owner" || in.Filter.And[0].Tags.Values[0] != "sub-alice" || in.GroupBy != nil {
			t.Errorf("user cost query not limited to alice: %+v", in.Filter)
		}
	}
	if n := len(e.aws.called("GetCostAndUsage")); n != 3 {
		t.Errorf("%d Cost Explorer requests, want 3", n)
	}
	a.get("/costs")
	if n := len(e.aws.called("GetCostAndUsage")); n != 3 {
		t.Errorf("a second view within the hour made %d requests in all, want 3 (cached)", n)
	}

	adm, _, _ := e.signIn("root", "root-pw")
	e.aws.reset()
	p = adm.get("/costs")
	if !strings.Contains(p.Body, `id="users-month"`) || !strings.Contains(p.Body, "<td>alice</td><td class=\"num\">$12.50</td>") {
		t.Errorf("admin costs page lacks per-user table")
	}
	if !strings.Contains(p.Body, `aria-label="Cost per user this month, largest first"`) || !strings.Contains(p.Body, "<title>alice: $12.50</title>") {
		t.Errorf("admin costs page lacks the per-user chart")
	}
	var groups []string
	for _, c := range e.aws.called("GetCostAndUsage") {
		in := c.Input.(*costexplorer.GetCostAndUsageInput)
		if in.GroupBy != nil {
			groups = append(groups, aws.ToString(in.GroupBy[0].Key))
			if aws.ToString(in.Filter.Tags.Key) != "heliocloud:instance" {
				t.Errorf("admin query not limited to this instance: %+v", in.Filter)
			}
		}
	}
	if !reflect.DeepEqual(groups, []string{"heliocloud:user", "heliocloud:team", "heliocloud:user", "heliocloud:team"}) {
		t.Errorf("admin grouped queries %v", groups)
	}
}

func TestAdmin(t *testing.T) {
	e := newEnv(t)
	e.aws.addPoolUser("alice", "alice@example.org", true, "solar")
	e.aws.addPoolUser("root", "root@example.org", true, "admins")
	e.aws.addPoolUser("carol", "carol@example.org", true, "pending")
	e.aws.addPoolUser("dave", "dave@example.org", false)

	a, _, tok := e.signIn("alice", "alice-pw")
	if p := a.get("/admin"); p.Status != http.StatusForbidden {
		t.Errorf("non-admin GET /admin: %d", p.Status)
	}
	if p := a.post("/admin/users/carol/approve", url.Values{"csrf": {tok}}); p.Status != http.StatusForbidden {
		t.Errorf("non-admin approve: %d", p.Status)
	}
	if len(e.aws.called("AdminEnableUser")) != 0 {
		t.Fatal("a non-admin approved a user")
	}

	adm, _, atok := e.signIn("root", "root-pw")
	p := adm.get("/admin")
	if !strings.Contains(p.Body, `id="p-carol"`) || !strings.Contains(p.Body, `id="p-dave"`) || strings.Contains(p.Body, `id="p-alice"`) {
		t.Errorf("pending list wrong:\n%s", p.Body)
	}
	adm.post("/admin/users/carol/approve", url.Values{"csrf": {atok}})
	if c := e.aws.called("AdminEnableUser"); len(c) != 1 || !reflect.DeepEqual(c[0].Input, &cip.AdminEnableUserInput{UserPoolId: aws.String("us-east-1_pool"), Username: aws.String("carol")}) {
		t.Errorf("AdminEnableUser: %+v", c)
	}
	if c := e.aws.called("AdminRemoveUserFromGroup"); len(c) != 1 || aws.ToString(c[0].Input.(*cip.AdminRemoveUserFromGroupInput).GroupName) != "pending" {
		t.Errorf("approval must remove the pending group: %+v", c)
	}
	// Approval is positive: the account joins the approved group, the one
	// the token trigger requires, after it is enabled.
	if c := e.aws.called("AdminAddUserToGroup"); len(c) != 1 || !reflect.DeepEqual(c[0].Input,
		&cip.AdminAddUserToGroupInput{UserPoolId: aws.String("us-east-1_pool"), Username: aws.String("carol"), GroupName: aws.String("approved")}) {
		t.Errorf("approval must add the approved group: %+v", c)
	}
	if p := adm.post("/admin/users/alice/reject", url.Values{"csrf": {atok}}); p.Status != http.StatusConflict {
		t.Errorf("rejecting an approved user: %d", p.Status)
	}
	adm.post("/admin/users/dave/reject", url.Values{"csrf": {atok}})
	if c := e.aws.called("AdminDeleteUser"); len(c) != 1 || aws.ToString(c[0].Input.(*cip.AdminDeleteUserInput).Username) != "dave" {
		t.Errorf("AdminDeleteUser: %+v", c)
	}
	e.aws.reset()
	// In approved and solar, alice's groups take two pages of the fake's
	// answers: the team change must read both to see solar.
	e.aws.mu.Lock()
	e.aws.groups["approved"] = append(e.aws.groups["approved"], "alice")
	e.aws.mu.Unlock()
	adm.post("/admin/users/alice/teams", url.Values{"csrf": {atok}, "team": {"magneto"}})
	add, rm := e.aws.called("AdminAddUserToGroup"), e.aws.called("AdminRemoveUserFromGroup")
	if len(add) != 1 || aws.ToString(add[0].Input.(*cip.AdminAddUserToGroupInput).GroupName) != "magneto" ||
		len(rm) != 1 || aws.ToString(rm[0].Input.(*cip.AdminRemoveUserFromGroupInput).GroupName) != "solar" {
		t.Errorf("team change: add %+v remove %+v", add, rm)
	}
	if p := adm.post("/admin/users/alice/teams", url.Values{"csrf": {atok}, "team": {"admins"}}); p.Status != http.StatusUnprocessableEntity {
		t.Errorf("making someone admin through the team form: %d", p.Status)
	}
}

func TestSignOutEndsBothSessions(t *testing.T) {
	e := newEnv(t)
	a, _, tok := e.signIn("alice", "alice-pw")
	if e.idp.HostedSessions() != 1 {
		t.Fatal("no hosted session")
	}
	p := a.post("/logout", url.Values{"csrf": {tok}})
	if !strings.HasSuffix(p.URL, "/signed-out") || !strings.Contains(p.Body, "You are signed out") {
		t.Errorf("sign-out landed on %s", p.URL)
	}
	if e.idp.HostedSessions() != 0 {
		t.Error("the provider's session survived sign-out")
	}
	if !sessionCleared(a) {
		t.Error("the session cookie was not cleared")
	}
	// Signing in again asks for the password.
	if l := a.get("/machines"); !strings.Contains(l.Body, `name="password"`) {
		t.Errorf("after sign-out, /machines did not lead to the login form: %s", l.URL)
	}
}

func TestSecurityHeaders(t *testing.T) {
	e := newEnv(t)
	resp, err := e.srv.Client().Get(e.srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for k, want := range map[string]string{"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"} {
		if resp.Header.Get(k) != want {
			t.Errorf("%s = %q", k, resp.Header.Get(k))
		}
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("CSP %q", csp)
	}
}

// A federated user is shown by their readable name, while the owner tag
// keeps the immutable sub.
func TestFederatedUserNameAndOwner(t *testing.T) {
	e := newEnv(t)
	if _, landing, _ := e.signIn("alice", "alice-pw"); !strings.Contains(landing.Body, "Sign out alice<") {
		t.Errorf("a user without a preferred name is not shown by their user name")
	}
	e.idp.AddUser(oidctest.User{Username: "launchpad_0a1b2c", Password: "pw", PreferredUsername: "jdoe"})
	a, landing, tok := e.signIn("launchpad_0a1b2c", "pw")
	if !strings.Contains(landing.Body, "Sign out jdoe") {
		t.Errorf("header does not show the preferred name")
	}
	a.post("/launch", launchForm(tok, "team", ""))
	run := e.aws.called("RunInstances")
	if len(run) != 1 || tagOf(run[0].Input.(*ec2.RunInstancesInput).TagSpecifications[0].Tags, "heliocloud:owner") != "sub-launchpad_0a1b2c" {
		t.Errorf("launch: %+v", run)
	}
}
