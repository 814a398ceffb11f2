package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"

	"github.com/aws/aws-lambda-go/lambda"
)

// cognitoEvent is a V1_0 event as Cognito sends it on a hosted-UI sign-in
// of a confirmed (not federated) account.
func cognitoEvent(groups string) []byte { return cognitoEventWithStatus(groups, "CONFIRMED") }

func cognitoEventWithStatus(groups, status string) []byte {
	return []byte(`{
  "version": "1",
  "triggerSource": "TokenGeneration_HostedAuth",
  "region": "us-east-1",
  "userPoolId": "us-east-1_EXAMPLE",
  "userName": "ada",
  "callerContext": {"awsSdkVersion": "aws-sdk-unknown-unknown", "clientId": "1example23456789"},
  "request": {
    "userAttributes": {"sub": "a1b2c3d4-0000-1111-2222-333344445555", "cognito:user_status": "` + status + `", "email": "ada@example.org", "email_verified": "true"},
    "groupConfiguration": {"groupsToOverride": ` + groups + `, "iamRolesToOverride": [], "preferredRole": null}
  },
  "response": {"claimsOverrideDetails": null}
}`)
}

// invoke runs the handler through aws-lambda-go's JSON handling, the path a
// real invocation takes, and returns the reply as generic JSON.
func invoke(t *testing.T, teams string, payload []byte) map[string]any {
	t.Helper()
	h := newHandler("heliocloud:teams", teams, "approved", "heliocloud:approved", discard)
	out, err := lambda.NewHandler(h.handle).Invoke(context.Background(), payload)
	if err != nil {
		t.Fatalf("handler failed: %v", err)
	}
	var reply map[string]any
	if err := json.Unmarshal(out, &reply); err != nil {
		t.Fatalf("reply is not JSON: %s", out)
	}
	return reply
}

func TestTeamsClaim(t *testing.T) {
	for _, tc := range []struct {
		name, teams, groups, want string
	}{
		{"teams only, sorted", "sdo,mms,solar", `["sdo", "admins", "approved", "mms"]`, ":mms:sdo:"},
		{"one team", "sdo,mms", `["approved", "mms"]`, ":mms:"},
		{"groups that are not teams are left out", "sdo", `["admins", "approved", "made-in-console"]`, ":"},
		{"no team", "sdo", `["approved"]`, ":"},
		{"no teams configured", "", `["approved", "sdo"]`, ":"},
		{"names compared whole", "sdo", `["approved", "sd", "sdo-extra"]`, ":"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reply := invoke(t, tc.teams, cognitoEvent(tc.groups))
			got, _ := json.Marshal(reply["response"])
			want, _ := json.Marshal(map[string]any{"claimsOverrideDetails": map[string]any{"claimsToAddOrOverride": map[string]any{
				"heliocloud:approved": "true", "heliocloud:teams": tc.want}}})
			if !bytes.Equal(got, want) {
				t.Errorf("response %s, want %s", got, want)
			}
		})
	}
}

// Cognito needs the event back: header and request unchanged, and no group
// override, which would replace the token's cognito:groups.
func TestEventReturnedWithoutGroupOverride(t *testing.T) {
	in := cognitoEvent(`["sdo", "admins", "approved"]`)
	reply := invoke(t, "sdo", in)
	var sent map[string]any
	if err := json.Unmarshal(in, &sent); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"version", "triggerSource", "region", "userPoolId", "userName", "callerContext", "request"} {
		a, _ := json.Marshal(sent[key])
		b, _ := json.Marshal(reply[key])
		if !bytes.Equal(a, b) {
			t.Errorf("%s came back as %s, was %s", key, b, a)
		}
	}
	details := reply["response"].(map[string]any)["claimsOverrideDetails"].(map[string]any)
	for key := range details {
		if key != "claimsToAddOrOverride" {
			t.Errorf("response carries %s", key)
		}
	}
}

func TestTeamsValue(t *testing.T) {
	if got := TeamsValue(nil); got != ":" {
		t.Errorf("no teams: %q", got)
	}
	if got := TeamsValue([]string{"a", "b-c"}); got != ":a:b-c:" {
		t.Errorf("two teams: %q", got)
	}
}

func TestMalformedRequestFails(t *testing.T) {
	h := newHandler("heliocloud:teams", "sdo", "approved", "heliocloud:approved", discard)
	payload := []byte(`{"userName": "ada", "request": {"groupConfiguration": {"groupsToOverride": "sdo"}}}`)
	if _, err := lambda.NewHandler(h.handle).Invoke(context.Background(), payload); err == nil {
		t.Error("a request whose groups are not a list was accepted")
	}
}

// The claim's name is the one the stack configures.
func TestClaimNameFromConfiguration(t *testing.T) {
	h := newHandler("other:teams", "sdo", "ok", "other:approved", discard)
	out, err := lambda.NewHandler(h.handle).Invoke(context.Background(), cognitoEvent(`["sdo", "ok"]`))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(out, []byte(`"claimsToAddOrOverride":{"other:approved":"true","other:teams":":sdo:"}`)) {
		t.Errorf("reply %s", out)
	}
}

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

// Approval fails closed: a token is issued only to a member of the approved
// group or a user of the institution's identity provider; everyone else,
// including an account whose sign-up trigger failed half way (enabled, in
// no group), is refused, and Cognito then refuses the sign-in or refresh.
func TestOnlyApprovedUsersGetTokens(t *testing.T) {
	for _, tc := range []struct {
		name, groups, status, approvedGroup string
		ok                                  bool
	}{
		{"approved", `["approved"]`, "CONFIRMED", "approved", true},
		{"identity provider", `[]`, "EXTERNAL_PROVIDER", "approved", true},
		{"sign-up trigger failed: enabled, no group", `[]`, "CONFIRMED", "approved", false},
		{"pending", `["pending"]`, "CONFIRMED", "approved", false},
		{"team member, never approved", `["sdo", "admins"]`, "CONFIRMED", "approved", false},
		{"group compared whole", `["approved-x", "not-approved"]`, "CONFIRMED", "approved", false},
		{"no status", `[]`, "", "approved", false},
		{"admin-created, password not yet changed", `[]`, "FORCE_CHANGE_PASSWORD", "approved", false},
		{"no approved group configured", `[""]`, "CONFIRMED", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHandler("heliocloud:teams", "sdo", tc.approvedGroup, "heliocloud:approved", discard)
			out, err := lambda.NewHandler(h.handle).Invoke(context.Background(), cognitoEventWithStatus(tc.groups, tc.status))
			if tc.ok != (err == nil) {
				t.Fatalf("approved %v, got reply %s error %v", tc.ok, out, err)
			}
			if !tc.ok && !bytes.Contains([]byte(err.Error()), []byte("not approved")) {
				t.Errorf("error %v does not tell the user why", err)
			}
			if tc.ok && !bytes.Contains(out, []byte(`"heliocloud:approved":"true"`)) {
				t.Errorf("approved token lacks the claim: %s", out)
			}
		})
	}
}

// Without the portal there is no teams claim, only the approval.
func TestNoTeamsClaimWithoutThePortal(t *testing.T) {
	h := newHandler("", "sdo", "approved", "heliocloud:approved", discard)
	out, err := lambda.NewHandler(h.handle).Invoke(context.Background(), cognitoEvent(`["approved", "sdo"]`))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(out, []byte(`"claimsToAddOrOverride":{"heliocloud:approved":"true"}`)) {
		t.Errorf("reply %s", out)
	}
}
