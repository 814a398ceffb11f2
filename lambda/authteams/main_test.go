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

// cognitoEvent is a V1_0 event as Cognito sends it on a hosted-UI sign-in.
func cognitoEvent(groups string) []byte {
	return []byte(`{
  "version": "1",
  "triggerSource": "TokenGeneration_HostedAuth",
  "region": "us-east-1",
  "userPoolId": "us-east-1_EXAMPLE",
  "userName": "ada",
  "callerContext": {"awsSdkVersion": "aws-sdk-unknown-unknown", "clientId": "1example23456789"},
  "request": {
    "userAttributes": {"sub": "a1b2c3d4-0000-1111-2222-333344445555", "email": "ada@example.org", "email_verified": "true"},
    "groupConfiguration": {"groupsToOverride": ` + groups + `, "iamRolesToOverride": [], "preferredRole": null}
  },
  "response": {"claimsOverrideDetails": null}
}`)
}

// invoke runs the handler through aws-lambda-go's JSON handling, the path a
// real invocation takes, and returns the reply as generic JSON.
func invoke(t *testing.T, teams string, payload []byte) map[string]any {
	t.Helper()
	h := newHandler("heliocloud:teams", teams, slog.New(slog.NewTextHandler(io.Discard, nil)))
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
		{"teams only, sorted", "sdo,mms,solar", `["sdo", "admins", "mms"]`, ":mms:sdo:"},
		{"one team", "sdo,mms", `["mms"]`, ":mms:"},
		{"groups that are not teams are left out", "sdo", `["admins", "pending", "made-in-console"]`, ":"},
		{"no groups", "sdo", `[]`, ":"},
		{"no teams configured", "", `["sdo"]`, ":"},
		{"names compared whole", "sdo", `["sd", "sdo-extra"]`, ":"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reply := invoke(t, tc.teams, cognitoEvent(tc.groups))
			got, _ := json.Marshal(reply["response"])
			want, _ := json.Marshal(map[string]any{"claimsOverrideDetails": map[string]any{"claimsToAddOrOverride": map[string]any{"heliocloud:teams": tc.want}}})
			if !bytes.Equal(got, want) {
				t.Errorf("response %s, want %s", got, want)
			}
		})
	}
}

// Cognito needs the event back: header and request unchanged, and no group
// override, which would replace the token's cognito:groups.
func TestEventReturnedWithoutGroupOverride(t *testing.T) {
	in := cognitoEvent(`["sdo", "admins"]`)
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
	h := newHandler("heliocloud:teams", "sdo", slog.New(slog.NewTextHandler(io.Discard, nil)))
	payload := []byte(`{"userName": "ada", "request": {"groupConfiguration": {"groupsToOverride": "sdo"}}}`)
	if _, err := lambda.NewHandler(h.handle).Invoke(context.Background(), payload); err == nil {
		t.Error("a request whose groups are not a list was accepted")
	}
}

// The claim's name is the one the stack configures.
func TestClaimNameFromConfiguration(t *testing.T) {
	h := newHandler("other:teams", "sdo", slog.New(slog.NewTextHandler(io.Discard, nil)))
	out, err := lambda.NewHandler(h.handle).Invoke(context.Background(), cognitoEvent(`["sdo"]`))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(out, []byte(`"claimsToAddOrOverride":{"other:teams":":sdo:"}`)) {
		t.Errorf("reply %s", out)
	}
}
