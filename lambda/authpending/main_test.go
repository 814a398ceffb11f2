package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
)

// call is one request the fake Cognito endpoint received.
type call struct {
	Action string
	Body   map[string]string
}

// fakeCognito answers the Cognito JSON API at the HTTP boundary, so the
// real SDK client builds and sends the requests that are then asserted.
// failOn names an action that answers with a service error.
func fakeCognito(t *testing.T, failOn string) (*cip.Client, *[]call) {
	t.Helper()
	var mu sync.Mutex
	var calls []call
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		action := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "AWSCognitoIdentityProviderService.")
		raw, _ := io.ReadAll(r.Body)
		body := map[string]string{}
		if err := json.Unmarshal(raw, &body); err != nil {
			t.Errorf("request body of %s is not flat JSON: %s", action, raw)
		}
		mu.Lock()
		calls = append(calls, call{action, body})
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		if action == failOn {
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"__type":"ResourceNotFoundException","message":"Group not found."}`)
			return
		}
		io.WriteString(w, `{}`)
	}))
	t.Cleanup(srv.Close)
	client := cip.New(cip.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(srv.URL),
		Credentials:      aws.AnonymousCredentials{},
		RetryMaxAttempts: 1,
	})
	return client, &calls
}

func event(source, user string, attrs map[string]string) events.CognitoEventUserPoolsPostConfirmation {
	var ev events.CognitoEventUserPoolsPostConfirmation
	ev.TriggerSource = source
	ev.UserPoolID = "us-east-1_AbCdEf123"
	ev.UserName = user
	ev.Request.UserAttributes = attrs
	return ev
}

func newHandler(client *cip.Client) *handler {
	return &handler{pool: client, group: "pending", log: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

func TestSelfSignUpIsDisabledAndPending(t *testing.T) {
	client, calls := fakeCognito(t, "")
	ev := event("PostConfirmation_ConfirmSignUp", "new-user", map[string]string{"email": "new@example.edu"})
	out, err := newHandler(client).handle(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	if out.UserName != "new-user" || out.TriggerSource != ev.TriggerSource {
		t.Errorf("the event must go back to Cognito unchanged, got %+v", out)
	}
	want := []call{
		{"AdminDisableUser", map[string]string{"UserPoolId": "us-east-1_AbCdEf123", "Username": "new-user"}},
		{"AdminAddUserToGroup", map[string]string{"UserPoolId": "us-east-1_AbCdEf123", "Username": "new-user", "GroupName": "pending"}},
	}
	assertCalls(t, *calls, want)
}

func TestPasswordResetAndFederatedUsersPass(t *testing.T) {
	client, calls := fakeCognito(t, "")
	h := newHandler(client)
	for _, ev := range []events.CognitoEventUserPoolsPostConfirmation{
		event("PostConfirmation_ConfirmForgotPassword", "old-user", map[string]string{"email": "old@example.edu"}),
		event("PostConfirmation_ConfirmSignUp", "launchpad_abc123", map[string]string{
			"email": "x@nasa.gov", "identities": `[{"providerName":"launchpad","providerType":"SAML","userId":"abc123"}]`,
		}),
	} {
		if _, err := h.handle(context.Background(), ev); err != nil {
			t.Fatalf("%s: %v", ev.TriggerSource, err)
		}
	}
	assertCalls(t, *calls, nil)
}

// When Cognito refuses, the trigger fails so the confirmation shows an
// error, and the account has already been disabled.
func TestFailureIsReported(t *testing.T) {
	client, calls := fakeCognito(t, "AdminAddUserToGroup")
	_, err := newHandler(client).handle(context.Background(), event("PostConfirmation_ConfirmSignUp", "new-user", nil))
	if err == nil || !strings.Contains(err.Error(), "adding new-user to group pending") || !strings.Contains(err.Error(), "Group not found") {
		t.Fatalf("want an error naming the user, group and cause, got %v", err)
	}
	if len(*calls) != 2 || (*calls)[0].Action != "AdminDisableUser" {
		t.Fatalf("want the account disabled before the group failed, got %+v", *calls)
	}
}

// If the account cannot be disabled, the trigger fails: Cognito then
// reports the confirmation as failed instead of leaving an enabled account
// that nothing marks as pending (issue 11, item 5). Nothing else is tried.
func TestFailedDisableFailsTheTrigger(t *testing.T) {
	client, calls := fakeCognito(t, "AdminDisableUser")
	_, err := newHandler(client).handle(context.Background(), event("PostConfirmation_ConfirmSignUp", "new-user", map[string]string{"email": "new@example.edu"}))
	if err == nil || !strings.Contains(err.Error(), "holding new-user for approval") || !strings.Contains(err.Error(), "Group not found") {
		t.Fatalf("want an error naming the user and cause, got %v", err)
	}
	assertCalls(t, *calls, []call{{"AdminDisableUser", map[string]string{"UserPoolId": "us-east-1_AbCdEf123", "Username": "new-user"}}})
}

// Only a non-empty identities attribute marks a federated user; an empty
// one is a self sign-up like any other.
func TestEmptyIdentitiesIsASignUp(t *testing.T) {
	client, calls := fakeCognito(t, "")
	if _, err := newHandler(client).handle(context.Background(), event("PostConfirmation_ConfirmSignUp", "new-user", map[string]string{"identities": ""})); err != nil {
		t.Fatal(err)
	}
	if len(*calls) != 2 {
		t.Errorf("want the account held, got %+v", *calls)
	}
}

func assertCalls(t *testing.T, got, want []call) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("want %d requests, got %d: %+v", len(want), len(got), got)
	}
	for i := range want {
		if got[i].Action != want[i].Action {
			t.Errorf("request %d: want %s, got %s", i, want[i].Action, got[i].Action)
		}
		for k, v := range want[i].Body {
			if got[i].Body[k] != v {
				t.Errorf("request %d (%s): %s = %q, want %q", i, got[i].Action, k, got[i].Body[k], v)
			}
		}
		if len(got[i].Body) != len(want[i].Body) {
			t.Errorf("request %d (%s): unexpected fields in %v", i, got[i].Action, got[i].Body)
		}
	}
}
