package stacks

import (
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
)

const portalYAML = `name: gsfc
account: "123456789012"
region: us-east-1
teams: {solar: {}, magneto: {}}
auth: {enabled: true}
data: {enabled: true}
portal:
  enabled: true
  sshCidrs: [203.0.113.0/24]
  autoStop: {idleHours: 2, dailyTime: "19:30", timeZone: America/New_York}
  limits: {runningMachines: 2, monthlySpendUSD: 250}
`

// statements lists every IAM statement of the template's policies, with
// the logical id of the policy holding it.
func statements(tpl assertions.Template) map[string][]map[string]any {
	out := map[string][]map[string]any{}
	for _, typ := range []string{"AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"} {
		for id, r := range resources(tpl, typ) {
			for _, s := range props(r)["PolicyDocument"].(map[string]any)["Statement"].([]any) {
				out[id] = append(out[id], s.(map[string]any))
			}
		}
	}
	return out
}

func strs(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, x := range v {
			b, _ := json.Marshal(x)
			s := string(b)
			if str, ok := x.(string); ok {
				s = str
			}
			out = append(out, s)
		}
		return out
	}
	b, _ := json.Marshal(v)
	return []string{string(b)}
}

// userStatements are the user role's own policy's statements by Sid.
func userStatements(t *testing.T, tpl assertions.Template) map[string]map[string]any {
	t.Helper()
	bySid := map[string]map[string]any{}
	for id, sts := range statements(tpl) {
		if strings.HasPrefix(id, "UserPolicy") {
			for _, s := range sts {
				bySid[s["Sid"].(string)] = s
			}
		}
	}
	if len(bySid) == 0 {
		t.Fatal("no user policy")
	}
	return bySid
}

// Actions that AWS cannot scope to a resource, the only ones allowed on "*".
var unscopable = []string{
	"ec2:DescribeInstances", "ec2:DescribeImages", "ec2:DescribeKeyPairs", "cloudwatch:GetMetricData",
	"pricing:GetProducts", "ce:GetCostAndUsage", "ssm:DescribeSessions",
	"ssm:UpdateInstanceInformation", "ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel",
	"ssmmessages:OpenControlChannel", "ssmmessages:OpenDataChannel", "ec2messages:AcknowledgeMessage", "ec2messages:DeleteMessage",
	"ec2messages:FailMessage", "ec2messages:GetEndpoint", "ec2messages:GetMessages", "ec2messages:SendReply",
}

func TestPortalStack(t *testing.T) {
	tpl := synthYAML(t, portalYAML, Options{Account: "123456789012", Region: "us-east-1"})["portal"]

	t.Run("function", func(t *testing.T) {
		fns := resources(tpl, "AWS::Lambda::Function")
		if len(fns) != 2 {
			t.Fatalf("%d functions, want the portal and its guard", len(fns))
		}
		for id, fn := range fns {
			if strings.HasPrefix(id, "Guard") {
				continue
			}
			p := props(fn)
			if p["Runtime"] != "provided.al2023" || !slices.Equal(strs(p["Architectures"]), []string{"arm64"}) || p["Timeout"] != float64(29) {
				t.Errorf("function %v %v %v", p["Runtime"], p["Architectures"], p["Timeout"])
			}
			env := p["Environment"].(map[string]any)["Variables"].(map[string]any)
			parts := env["PORTAL_CONFIG"].(map[string]any)["Fn::Join"].([]any)[1].([]any)
			var literal strings.Builder
			tokens := 0
			for _, part := range parts {
				if s, ok := part.(string); ok {
					literal.WriteString(s)
				} else {
					tokens++
				}
			}
			for _, want := range []string{`"instance":"gsfc"`, `"region":"us-east-1"`, `"ssh":true`, `"maxRunning":2`, `"monthlySpendLimit":250`,
				`"adminGroup":"admins","pendingGroup":"pending","approvedGroup":"approved"`, `instance-profile/gsfc-team-solar"`, `instance-profile/gsfc-user"`,
				`"tokenURL":"https://heliocloud-gsfc.auth.us-east-1.amazoncognito.com/oauth2/token"`, `"dailyTime":"19:30 America/New_York"`,
				`{"name":"g5.xlarge","group":"gpu"}`, `"volume":{"minGiB":32,"maxGiB":512,"defaultGiB":64}`} {
				if !strings.Contains(literal.String(), want) {
					t.Errorf("PORTAL_CONFIG lacks %s", want)
				}
			}
			// Lambda allows 4 KiB of environment; tokens resolve to ids and
			// URLs of at most about 64 characters.
			if n := literal.Len() + 64*tokens; n > 3800 {
				t.Errorf("PORTAL_CONFIG may take %d bytes of the 4 KiB environment", n)
			}
			if _, ok := env["SESSION_SECRET_ARN"]; !ok || env["AUTOSTOP_CPU"] != "5" {
				t.Errorf("environment %v", env)
			}
		}
	})

	t.Run("no action on * that AWS can scope", func(t *testing.T) {
		for id, sts := range statements(tpl) {
			for _, s := range sts {
				if !slices.Contains(strs(s["Resource"]), "*") {
					continue
				}
				for _, a := range strs(s["Action"]) {
					if !slices.Contains(unscopable, a) {
						t.Errorf("%s allows %s on every resource", id, a)
					}
				}
			}
		}
	})

	t.Run("user role acts only on own tagged resources", func(t *testing.T) {
		bySid := userStatements(t, tpl)
		own := func(prefix string) string {
			return `{"StringEquals":{"` + prefix + `heliocloud:instance":"gsfc","` + prefix + `heliocloud:owner":"${aws:PrincipalTag/owner}"}}`
		}
		for sid, want := range map[string]struct {
			actions []string
			cond    string
		}{
			"OwnMachines":             {[]string{"ec2:StartInstances", "ec2:StopInstances", "ec2:TerminateInstances"}, own("aws:ResourceTag/")},
			"OwnKeys":                 {[]string{"ec2:DeleteKeyPair"}, own("aws:ResourceTag/")},
			"CreateKeysTaggedAsOwner": {[]string{"ec2:CreateKeyPair"}, own("aws:RequestTag/")},
			// A user cannot open a shell on another user's machine: Session
			// Manager checks StartSession against the target's tags.
			"SessionsOnOwnMachines": {[]string{"ssm:StartSession"}, own("ssm:resourceTag/")},
		} {
			s, ok := bySid[sid]
			if !ok {
				t.Errorf("no statement %s", sid)
				continue
			}
			if got := toJSON(t, s["Condition"]); !slices.Equal(strs(s["Action"]), want.actions) || got != want.cond {
				t.Errorf("%s: actions %v condition %s, want %v %s", sid, s["Action"], got, want.actions, want.cond)
			}
		}
		if r := toJSON(t, bySid["SessionsOnOwnMachines"]["Resource"]); r != `{"Fn::Join":["",["arn:",{"Ref":"AWS::Partition"},":ec2:",{"Ref":"AWS::Region"},":",{"Ref":"AWS::AccountId"},":instance/*"]]}` {
			t.Errorf("StartSession on machines: resource %s", r)
		}
		docs := toJSON(t, bySid["SessionDocuments"]["Resource"])
		if docs != `[{"Fn::Join":["",["arn:",{"Ref":"AWS::Partition"},":ssm:",{"Ref":"AWS::Region"},":",{"Ref":"AWS::AccountId"},":document/SSM-SessionManagerRunShell"]]},`+
			`{"Fn::Join":["",["arn:",{"Ref":"AWS::Partition"},":ssm:",{"Ref":"AWS::Region"},"::document/AWS-StartSSHSession"]]},`+
			`{"Fn::Join":["",["arn:",{"Ref":"AWS::Partition"},":ssm:",{"Ref":"AWS::Region"},"::document/AWS-StartPortForwardingSession"]]}]` {
			t.Errorf("session documents %s", docs)
		}
		// No statement lets users end, resume or list sessions, or start
		// one anywhere else: session ids do not tell identity-pool users apart.
		for _, st := range bySid {
			for _, a := range strs(st["Action"]) {
				if strings.HasPrefix(a, "ssm:") && a != "ssm:StartSession" {
					t.Errorf("%s grants %s", st["Sid"], a)
				}
			}
			if slices.Contains(strs(st["Action"]), "ssm:StartSession") && st["Sid"] != "SessionsOnOwnMachines" && st["Sid"] != "SessionDocuments" {
				t.Errorf("%s also grants ssm:StartSession", st["Sid"])
			}
		}
		tags := toJSON(t, bySid["TagOnlyAtCreation"]["Condition"])
		if tags != `{"StringEquals":{"ec2:CreateAction":["RunInstances","CreateKeyPair"]}}` {
			t.Errorf("CreateTags condition %s", tags)
		}
		pass := toJSON(t, bySid["PassUserMachineRole"])
		if !strings.Contains(pass, `"Condition":{"StringEquals":{"iam:PassedToService":"ec2.amazonaws.com"}}`) ||
			!strings.Contains(pass, `":role/gsfc-user"]]}`) {
			t.Errorf("PassRole of the user machine role %s", pass)
		}
		// Every action of the user role that changes something has a
		// condition or names its resources exactly.
		for sid, s := range bySid {
			if s["Condition"] == nil && !slices.Contains([]string{"ListOnly", "LaunchInPrivateSubnets", "LaunchWithMachineSecurityGroup", "LaunchWithKeyPairs", "SessionDocuments"}, sid) {
				t.Errorf("%s has no condition", sid)
			}
		}
	})

	t.Run("launches held to the launch page's limits", func(t *testing.T) {
		bySid := userStatements(t, tpl)
		types := `["c7i.2xlarge","c7i.4xlarge","c7i.xlarge","g4dn.2xlarge","g4dn.xlarge","g5.2xlarge","g5.xlarge","g6.4xlarge","g6.xlarge","m7g.large","m7g.xlarge",` +
			`"m7i.2xlarge","m7i.large","m7i.xlarge","r7i.2xlarge","r7i.4xlarge","r7i.large","r7i.xlarge","t3.large","t3.medium","t3.xlarge"]`
		tagKeys := `"ForAllValues:StringEquals":{"aws:TagKeys":["Name","heliocloud:owner","heliocloud:instance","heliocloud:image","heliocloud:team","heliocloud:user","heliocloud:autostop"]}`
		for sid, want := range map[string]string{
			"LaunchMachine": `{` + tagKeys + `,"NumericLessThanEquals":{"ec2:MetadataHttpPutResponseHopLimit":1},"StringEquals":{` +
				`"aws:RequestTag/heliocloud:autostop":["on","off"],"aws:RequestTag/heliocloud:instance":"gsfc","aws:RequestTag/heliocloud:owner":"${aws:PrincipalTag/owner}",` +
				`"ec2:InstanceType":` + types + `,"ec2:MetadataHttpTokens":"required","ec2:Tenancy":"default"}}`,
			"LaunchVolume": `{"Bool":{"ec2:Encrypted":"true"},` + tagKeys + `,"NumericGreaterThanEquals":{"ec2:VolumeSize":32},"NumericLessThanEquals":{"ec2:VolumeSize":512},` +
				`"NumericLessThanEqualsIfExists":{"ec2:VolumeIops":3000,"ec2:VolumeThroughput":125},` +
				`"StringEquals":{"aws:RequestTag/heliocloud:instance":"gsfc","aws:RequestTag/heliocloud:owner":"${aws:PrincipalTag/owner}","ec2:VolumeType":"gp3"}}`,
			"LaunchImagesOfConfiguredOwners": `{"StringEquals":{"ec2:Owner":["099720109477","amazon"]}}`,
		} {
			if got := toJSON(t, bySid[sid]["Condition"]); got != want {
				t.Errorf("%s condition\n got %s\nwant %s", sid, got, want)
			}
		}
		// Only the private subnets: each ARN is taken from the base stack's
		// parameter of private subnet ids, none from the public one.
		subnets := strs(bySid["LaunchInPrivateSubnets"]["Resource"])
		nic := toJSON(t, bySid["LaunchInterfaceInPrivateSubnets"]["Condition"])
		if len(subnets) != 2 || strings.Contains(nic, "public") {
			t.Errorf("subnets %v, interface condition %s", subnets, nic)
		}
		for _, sn := range subnets {
			if !strings.Contains(sn, ":subnet/") || !strings.Contains(sn, "private") || strings.Contains(sn, "public") || !strings.Contains(nic, sn) {
				t.Errorf("launch subnet %s is not a private subnet (interfaces: %s)", sn, nic)
			}
		}
		if sg := toJSON(t, bySid["LaunchWithMachineSecurityGroup"]["Resource"]); !strings.Contains(sg, `security-group/",{"Fn::GetAtt":["MachineSecurityGroup`) {
			t.Errorf("security group %s", sg)
		}
		// RunInstances reaches no resource beyond these statements.
		var launch []string
		for sid, s := range bySid {
			if slices.Contains(strs(s["Action"]), "ec2:RunInstances") {
				launch = append(launch, sid)
				if len(strs(s["Action"])) != 1 {
					t.Errorf("%s grants %v with RunInstances", sid, s["Action"])
				}
			}
		}
		slices.Sort(launch)
		if !slices.Equal(launch, []string{"LaunchImagesOfConfiguredOwners", "LaunchInPrivateSubnets", "LaunchInterfaceInPrivateSubnets", "LaunchMachine",
			"LaunchVolume", "LaunchWithKeyPairs", "LaunchWithMachineSecurityGroup"}) {
			t.Errorf("RunInstances statements %v", launch)
		}
	})

	t.Run("team roles only for the team's members", func(t *testing.T) {
		checkTeamPassRole(t, tpl, []string{"magneto", "solar"})
	})

	t.Run("identity pool", func(t *testing.T) {
		tpl.HasResourceProperties(jsii.String("AWS::Cognito::IdentityPool"), map[string]any{
			"AllowUnauthenticatedIdentities": false,
			"CognitoIdentityProviders":       []any{assertions.Match_ObjectLike(&map[string]any{"ServerSideTokenCheck": true})},
		})
		tpl.HasResourceProperties(jsii.String("AWS::Cognito::IdentityPoolPrincipalTag"), map[string]any{
			"PrincipalTags": map[string]any{"owner": "sub", "teams": "heliocloud:teams"}, "UseDefaults": false,
		})
		// Credentials only for tokens with the approval claim; any other
		// token is denied rather than given the default role.
		for _, r := range resources(tpl, "AWS::Cognito::IdentityPoolRoleAttachment") {
			p := props(r)
			m := p["RoleMappings"].(map[string]any)["approved"].(map[string]any)
			rule := toJSON(t, m["RulesConfiguration"])
			if m["Type"] != "Rules" || m["AmbiguousRoleResolution"] != "Deny" || len(m) != 4 ||
				!regexp.MustCompile(`^\{"Rules":\[\{"Claim":"heliocloud:approved","MatchType":"Equals","RoleARN":\{"Fn::GetAtt":\["UserRole[0-9A-F]+","Arn"\]\},"Value":"true"\}\]\}$`).MatchString(rule) {
				t.Errorf("role mapping %s", toJSON(t, m))
			}
			if idp := toJSON(t, m["IdentityProvider"]); !strings.Contains(idp, `":",{"Ref":"PortalClient`) {
				t.Errorf("role mapping for provider %s, want the portal's client", idp)
			}
		}
		tpl.HasResourceProperties(jsii.String("AWS::IAM::Role"), map[string]any{
			"RoleName":           "gsfc-portal-user",
			"MaxSessionDuration": 3600,
			"AssumeRolePolicyDocument": map[string]any{"Statement": []any{map[string]any{
				"Action":    []any{"sts:AssumeRoleWithWebIdentity", "sts:TagSession"},
				"Effect":    "Allow",
				"Principal": map[string]any{"Federated": "cognito-identity.amazonaws.com"},
				"Condition": map[string]any{
					"StringEquals":           map[string]any{"cognito-identity.amazonaws.com:aud": map[string]any{"Ref": assertions.Match_StringLikeRegexp(jsii.String("^IdentityPool"))}},
					"ForAnyValue:StringLike": map[string]any{"cognito-identity.amazonaws.com:amr": "authenticated"},
				},
			}}, "Version": "2012-10-17"},
		})
		tpl.HasResourceProperties(jsii.String("AWS::Cognito::UserPoolClient"), map[string]any{
			"AllowedOAuthFlows": []any{"code"},
			"GenerateSecret":    false,
			"CallbackURLs":      []any{map[string]any{"Fn::Join": []any{"", []any{assertions.Match_AnyValue(), "/callback"}}}},
			"LogoutURLs":        []any{map[string]any{"Fn::Join": []any{"", []any{assertions.Match_AnyValue(), "/signed-out"}}}},
		})
	})

	t.Run("guard", func(t *testing.T) {
		checkGuard(t, tpl)
	})

	t.Run("network", func(t *testing.T) {
		tpl.HasResourceProperties(jsii.String("AWS::EC2::SecurityGroup"), map[string]any{
			"GroupName":            "gsfc-portal-machines",
			"SecurityGroupIngress": []any{map[string]any{"CidrIp": "203.0.113.0/24", "IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "Description": "SSH from 203.0.113.0/24"}},
		})
	})

	t.Run("api", func(t *testing.T) {
		// Without a custom domain the execute-api URL is the only address.
		tpl.HasResourceProperties(jsii.String("AWS::ApiGatewayV2::Api"), map[string]any{"Name": "gsfc-portal", "ProtocolType": "HTTP", "DisableExecuteApiEndpoint": false})
		tpl.HasResourceProperties(jsii.String("AWS::ApiGatewayV2::Stage"), map[string]any{
			"StageName":            "$default",
			"AutoDeploy":           true,
			"AccessLogSettings":    assertions.Match_ObjectLike(&map[string]any{"Format": assertions.Match_StringLikeRegexp(jsii.String(`"status":"\$context.status"`))}),
			"DefaultRouteSettings": map[string]any{"ThrottlingBurstLimit": 100, "ThrottlingRateLimit": 50},
		})
		var keys []string
		for _, r := range resources(tpl, "AWS::ApiGatewayV2::Route") {
			keys = append(keys, props(r)["RouteKey"].(string))
		}
		slices.Sort(keys)
		if !slices.Equal(keys, []string{"GET /", "GET /{proxy+}", "POST /{proxy+}"}) {
			t.Errorf("routes %v", keys)
		}
		tpl.ResourceCountIs(jsii.String("AWS::ApiGatewayV2::DomainName"), jsii.Number(0))
	})

	// Outside /aws/vendedlogs/ the stage would need a statement in the
	// account's log resource policy, whose size limit a busy account has
	// reached; the stage must log to the group named so, which is kept.
	t.Run("access log group", func(t *testing.T) {
		groups := resources(tpl, "AWS::Logs::LogGroup")
		var accessID string
		for id, g := range groups {
			name := toJSON(t, props(g)["LogGroupName"])
			if strings.Contains(name, "portal-access") {
				accessID = id
				if !strings.Contains(name, `{"Fn::Join":["",["/aws/vendedlogs/heliocloud/gsfc/portal-access/",{"Fn::Select":[2,{"Fn::Split":["/",{"Ref":"AWS::StackId"}]}]}]]}`) {
					t.Errorf("access log group name %s: want /aws/vendedlogs/heliocloud/gsfc/portal-access/<stack id>", name)
				}
				if g["DeletionPolicy"] != "Retain" {
					t.Errorf("access log group DeletionPolicy %v, want Retain", g["DeletionPolicy"])
				}
			}
		}
		if accessID == "" {
			t.Fatalf("no portal-access log group among %v", slices.Sorted(maps.Keys(groups)))
		}
		for _, s := range resources(tpl, "AWS::ApiGatewayV2::Stage") {
			dest := toJSON(t, props(s)["AccessLogSettings"].(map[string]any)["DestinationArn"])
			if dest != `{"Fn::GetAtt":["`+accessID+`","Arn"]}` {
				t.Errorf("stage logs to %s, want the access log group %s", dest, accessID)
			}
		}
	})

	t.Run("auto-stop schedules", func(t *testing.T) {
		got := map[string]string{}
		for _, r := range resources(tpl, "AWS::Scheduler::Schedule") {
			p := props(r)
			input := p["Target"].(map[string]any)["Input"].(string)
			tz, _ := p["ScheduleExpressionTimezone"].(string)
			got[input] = fmt.Sprint(p["ScheduleExpression"], " ", tz)
		}
		want := map[string]string{`{"autostop":"idle"}`: "rate(1 hour) Etc/UTC", `{"autostop":"daily"}`: "cron(30 19 * * ? *) America/New_York"}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("schedules %v, want %v", got, want)
		}
		stop := ""
		for id, sts := range statements(tpl) {
			for _, s := range sts {
				if slices.Contains(strs(s["Action"]), "ec2:StopInstances") && strings.HasPrefix(id, "FunctionPolicy") {
					b, _ := json.Marshal(s["Condition"])
					stop = string(b)
				}
			}
		}
		if stop != `{"StringEquals":{"aws:ResourceTag/heliocloud:instance":"gsfc"}}` {
			t.Errorf("auto-stop may stop %s", stop)
		}
	})
}

func TestPortalCustomDomain(t *testing.T) {
	tpl := synthYAML(t, `name: gsfc
account: "123456789012"
region: us-east-1
auth: {enabled: true}
data: {enabled: true}
portal:
  enabled: true
  autoStop: {idleHours: 0}
  domain: {name: portal.helio.example.org, certificateArn: "arn:aws:acm:us-east-1:123456789012:certificate/12345678-1234-1234-1234-123456789012", hostedZoneId: Z0123456789ABCDEFGHIJ}
`, Options{Account: "123456789012", Region: "us-east-1"})["portal"]
	tpl.HasResourceProperties(jsii.String("AWS::ApiGatewayV2::DomainName"), map[string]any{
		"DomainName": "portal.helio.example.org",
		"DomainNameConfigurations": []any{assertions.Match_ObjectLike(&map[string]any{
			"CertificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/12345678-1234-1234-1234-123456789012",
		})},
	})
	tpl.ResourceCountIs(jsii.String("AWS::ApiGatewayV2::ApiMapping"), jsii.Number(1))
	for _, typ := range []string{"A", "AAAA"} {
		tpl.HasResourceProperties(jsii.String("AWS::Route53::RecordSet"), map[string]any{
			"Name": "portal.helio.example.org.", "Type": typ, "HostedZoneId": "Z0123456789ABCDEFGHIJ",
		})
	}
	// The API's own execute-api URL is off: the custom domain is the only
	// way in, and the only sign-in callback.
	tpl.HasResourceProperties(jsii.String("AWS::ApiGatewayV2::Api"), map[string]any{"Name": "gsfc-portal", "DisableExecuteApiEndpoint": true})
	tpl.HasResourceProperties(jsii.String("AWS::Cognito::UserPoolClient"), map[string]any{
		"CallbackURLs": []any{"https://portal.helio.example.org/callback"},
		"LogoutURLs":   []any{"https://portal.helio.example.org/signed-out"},
	})
	tpl.ResourceCountIs(jsii.String("AWS::Scheduler::Schedule"), jsii.Number(0))
	tpl.ResourcePropertiesCountIs(jsii.String("AWS::EC2::SecurityGroup"), map[string]any{"SecurityGroupIngress": assertions.Match_AnyValue()}, jsii.Number(0))
	tpl.HasOutput(jsii.String("PortalUrl"), map[string]any{"Value": "https://portal.helio.example.org"})
}

// checkTeamPassRole asserts that the template lets the portal's users pass
// each team's machine role only with a teams tag naming that team, and that
// no statement hands out machine roles any other way.
func checkTeamPassRole(t *testing.T, tpl assertions.Template, teams []string) {
	t.Helper()
	found := map[string]int{}
	for id, sts := range statements(tpl) {
		for _, s := range sts {
			actions := strs(s["Action"])
			for _, a := range actions {
				switch {
				case a == "ec2:AssociateIamInstanceProfile", a == "ec2:ReplaceIamInstanceProfileAssociation", a == "iam:*", a == "ec2:*":
					t.Errorf("%s grants %s", id, a)
				case a == "iam:PassRole" && slices.Contains(strs(s["Resource"]), "*"):
					t.Errorf("%s lets users pass any role", id)
				}
			}
			if !slices.Contains(actions, "iam:PassRole") {
				continue
			}
			resources := strs(s["Resource"])
			cond, _ := json.Marshal(s["Condition"])
			for _, team := range teams {
				for _, r := range resources {
					if !strings.HasSuffix(r, `":role/gsfc-team-`+team+`"]]}`) {
						continue
					}
					found[team]++
					want := `{"StringEquals":{"iam:PassedToService":"ec2.amazonaws.com"},"StringLike":{"aws:PrincipalTag/teams":"*:` + team + `:*"}}`
					if len(resources) != 1 || !slices.Equal(actions, []string{"iam:PassRole"}) || string(cond) != want {
						t.Errorf("%s: passing %s's role: actions %v resources %v condition %s, want exactly the role with %s", id, team, actions, resources, cond, want)
					}
				}
			}
		}
	}
	for _, team := range teams {
		if found[team] != 1 {
			t.Errorf("team %s's role is passable by %d statements, want 1", team, found[team])
		}
	}
}

// More teams than one managed policy holds: the PassRole statements spread
// over several policies of the user role, each within IAM's size limit.
func TestPortalManyTeams(t *testing.T) {
	var y strings.Builder
	y.WriteString("name: gsfc\naccount: \"123456789012\"\nregion: us-east-1\nteams: {")
	var teams []string
	for i := range 22 {
		teams = append(teams, fmt.Sprintf("t%02d", i))
		fmt.Fprintf(&y, "t%02d: {}, ", i)
	}
	// One type and one image leave the function's environment room for the teams.
	y.WriteString("}\nauth: {enabled: true}\ndata: {enabled: true}\nportal:\n  enabled: true\n  images: {ubuntu: null, pytorch: null}\n  instanceTypes: {")
	for _, it := range []string{"t3.large", "t3.xlarge", "m7i.large", "m7i.xlarge", "m7i.2xlarge", "m7g.large", "m7g.xlarge", "c7i.xlarge", "c7i.2xlarge",
		"c7i.4xlarge", "r7i.large", "r7i.xlarge", "r7i.2xlarge", "r7i.4xlarge", "g4dn.xlarge", "g4dn.2xlarge", "g5.xlarge", "g5.2xlarge", "g6.xlarge", "g6.4xlarge"} {
		y.WriteString(it + ": null, ")
	}
	y.WriteString("}\n")
	tpl := synthYAML(t, y.String(), Options{Account: "123456789012", Region: "us-east-1"})["portal"]
	checkTeamPassRole(t, tpl, teams)

	policies := resources(tpl, "AWS::IAM::ManagedPolicy")
	n := 0
	for id, r := range policies {
		if !strings.HasPrefix(id, "TeamMachineRoles") {
			continue
		}
		n++
		p := props(r)
		roles, _ := json.Marshal(p["Roles"])
		if !regexp.MustCompile(`^\[\{"Ref":"UserRole[0-9A-F]+"\}\]$`).Match(roles) {
			t.Errorf("%s is attached to %s, want the user role", id, roles)
		}
		// Unresolved ARNs are longer than resolved ones, so this bounds
		// the size IAM counts.
		doc, _ := json.Marshal(p["PolicyDocument"])
		if len(doc) > 6144 {
			t.Errorf("%s takes %d characters; IAM allows 6,144 in a managed policy", id, len(doc))
		}
	}
	if n != 2 {
		t.Errorf("%d team policies for 22 teams, want 2", n)
	}
}

// checkGuard asserts the guard function of the gsfc instance of portalYAML:
// its configuration, what its role may do, and the events that run it.
func checkGuard(t *testing.T, tpl assertions.Template) {
	t.Helper()
	var env string
	for id, fn := range resources(tpl, "AWS::Lambda::Function") {
		if strings.HasPrefix(id, "Guard") {
			env = toJSON(t, props(fn)["Environment"])
		}
	}
	for _, want := range []string{`\"instance\":\"gsfc\"`, `\"approvedGroup\":\"approved\"`, `\"userProfile\":\"gsfc-user\"`,
		`\"teamProfiles\":{\"gsfc-team-magneto\":\"magneto\",\"gsfc-team-solar\":\"solar\"}`, `\"maxRunning\":2`, `\"monthlySpendLimit\":250`} {
		if !strings.Contains(env, want) {
			t.Errorf("guard environment lacks %s: %s", want, env)
		}
	}
	var guard []map[string]any
	for id, sts := range statements(tpl) {
		if strings.HasPrefix(id, "GuardPolicy") {
			guard = sts
		}
	}
	bySid := map[string]string{}
	for _, s := range guard {
		bySid[s["Sid"].(string)] = toJSON(t, s["Action"]) + " " + toJSON(t, s["Condition"])
	}
	for sid, want := range map[string]string{
		// It may stop only this instance's machines.
		"StopThisInstancesMachines": `"ec2:StopInstances" {"StringEquals":{"aws:ResourceTag/heliocloud:instance":"gsfc"}}`,
		"EndSessions":               `"ssm:TerminateSession" null`,
		"Users":                     `["cognito-idp:ListUsers","cognito-idp:AdminListGroupsForUser","cognito-idp:AdminUserGlobalSignOut"] null`,
		"Read":                      `["ec2:DescribeInstances","ssm:DescribeSessions","ce:GetCostAndUsage"] null`,
	} {
		if bySid[sid] != want {
			t.Errorf("guard statement %s: %s, want %s", sid, bySid[sid], want)
		}
	}
	if len(bySid) != 4 {
		t.Errorf("guard statements %v", bySid)
	}
	rules := map[string]string{}
	for id, r := range resources(tpl, "AWS::Events::Rule") {
		p := props(r)
		key := toJSON(t, p["EventPattern"])
		if p["ScheduleExpression"] != nil {
			key = p["ScheduleExpression"].(string) + " " + p["Targets"].([]any)[0].(map[string]any)["Input"].(string)
		}
		if !strings.HasPrefix(toJSON(t, p["Targets"].([]any)[0].(map[string]any)["Arn"]), `{"Fn::GetAtt":["Guard`) {
			t.Errorf("rule %s does not invoke the guard", id)
		}
		rules[id[:len(id)-8]] = key
	}
	for id, want := range map[string]string{
		"GuardLaunches": `{"detail":{"state":["pending","running"]},"detail-type":["EC2 Instance State-change Notification"],"source":["aws.ec2"]}`,
		"GuardRevocations": `{"detail":{"eventName":["AdminDisableUser","AdminDeleteUser","AdminRemoveUserFromGroup"],"eventSource":["cognito-idp.amazonaws.com"],` +
			`"requestParameters":{"userPoolId":[{"Ref":"SsmParameterValueheliocloudgsfcauthuserpoolid`,
		"GuardSweep": `rate(5 minutes) {"guard":"sweep"}`,
		"GuardSpend": `rate(1 hour) {"guard":"spend"}`,
	} {
		if !strings.HasPrefix(rules[id], want) {
			t.Errorf("rule %s: %s, want %s", id, rules[id], want)
		}
	}
	if len(rules) != 4 {
		t.Errorf("rules %v", rules)
	}
}
