// Command authteams is the auth stack's pre-token-generation trigger.
//
// First it refuses every token to a user who is not approved (package
// approval: in HELIOCLOUD_APPROVED_GROUP, or signed in through an identity
// provider). Cognito then refuses the sign-in or refresh, so an account
// whose approval never happened, for whatever reason, gets no token from
// any app client. Approved users' ID tokens get the claim named by
// HELIOCLOUD_APPROVED_CLAIM ("true"), which the portal's identity pool
// requires before it issues credentials.
//
// With HELIOCLOUD_TEAMS_CLAIM set (the portal is enabled) it also writes
// the user's teams into the ID token as one string claim (heliocloud:teams),
// with every team name enclosed in colons (":mms:sdo:", or ":" for none),
// sorted.
//
// The claim exists for IAM: the portal's identity pool copies it into the
// session tag "teams" of the user's AWS credentials, and the user role may
// pass a team's machine role only when that tag matches "*:<team>:*". The
// ID token's own cognito:groups claim cannot serve, because an identity
// pool maps only single string claims to tags. Team names hold no colon
// (lower-case letters, digits and hyphens), so the pattern cannot match
// across two names, and the validator keeps the longest value within the
// 256 characters of a session tag.
//
// Only groups named in HELIOCLOUD_TEAMS (comma-separated) count, so admins,
// pending or any group made by hand in the console never reach the tag.
//
// The trigger runs with event version V1_0, available with every feature
// plan; it customises the ID token, which is what the identity pool reads.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/heliocloud/heliocloud-go/approval"
)

const (
	// EnvTeams lists the instance's team names, comma-separated.
	EnvTeams = "HELIOCLOUD_TEAMS"
	// EnvClaim names the teams claim the trigger adds, or is empty for no
	// teams claim; the auth stack sets it, so the name has one source
	// (stacks.TeamsClaim).
	EnvClaim = "HELIOCLOUD_TEAMS_CLAIM"
	// EnvApprovedGroup names the group of approved accounts
	// (stacks.ApprovedGroup).
	EnvApprovedGroup = "HELIOCLOUD_APPROVED_GROUP"
	// EnvApprovedClaim names the claim set to "true" on approved users'
	// tokens (stacks.ApprovedClaim).
	EnvApprovedClaim = "HELIOCLOUD_APPROVED_CLAIM"
)

// errNotApproved is what Cognito shows, prefixed, when it refuses a token.
var errNotApproved = errors.New("this account is not approved yet; an administrator of the instance must approve it")

// event is the V1_0 pre-token-generation event. The response is declared
// here rather than taken from aws-lambda-go, whose response always carries
// groupOverrideDetails (empty when unset): a group override replaces the
// token's cognito:groups, which the portal and DaskHub read, so this
// trigger sends none and leaves the groups as Cognito made them.
// The request goes back to Cognito byte for byte.
type event struct {
	events.CognitoEventUserPoolsHeader
	Request  json.RawMessage `json:"request"`
	Response response        `json:"response"`
}

// request is the part of the event's request the trigger reads.
type request struct {
	UserAttributes     map[string]string `json:"userAttributes"`
	GroupConfiguration struct {
		GroupsToOverride []string `json:"groupsToOverride"`
	} `json:"groupConfiguration"`
}

// statusAttribute is the user attribute in which Cognito passes triggers
// the account's status (approval.ExternalStatus for federated users).
const statusAttribute = "cognito:user_status"

type response struct {
	ClaimsOverrideDetails *claimsOverride `json:"claimsOverrideDetails,omitempty"`
}

type claimsOverride struct {
	ClaimsToAddOrOverride map[string]string `json:"claimsToAddOrOverride"`
}

type handler struct {
	claim         string
	approvedGroup string
	approvedClaim string
	teams         map[string]bool
	log           *slog.Logger
}

func newHandler(claim, teamList, approvedGroup, approvedClaim string, log *slog.Logger) *handler {
	h := &handler{claim: claim, approvedGroup: approvedGroup, approvedClaim: approvedClaim, teams: map[string]bool{}, log: log}
	for _, t := range strings.Split(teamList, ",") {
		if t = strings.TrimSpace(t); t != "" {
			h.teams[t] = true
		}
	}
	return h
}

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	group, claim := os.Getenv(EnvApprovedGroup), os.Getenv(EnvApprovedClaim)
	if group == "" || claim == "" {
		log.Error("configuration", "error", EnvApprovedGroup+" and "+EnvApprovedClaim+" must be set")
		os.Exit(1)
	}
	lambda.Start(newHandler(os.Getenv(EnvClaim), os.Getenv(EnvTeams), group, claim, log).handle)
}

// handle runs for every kind of token issue (sign-in, refresh, new
// password, device), so a refreshed token carries current teams and a
// user whose approval was taken back gets no new token.
func (h *handler) handle(_ context.Context, ev event) (event, error) {
	var req request
	if err := json.Unmarshal(ev.Request, &req); err != nil {
		// Not an event Cognito sends; an error shows in the sign-in and
		// the logs rather than a token quietly missing the claim.
		return ev, fmt.Errorf("reading the request of %s: %w", ev.UserName, err)
	}
	if !approval.Approved(req.GroupConfiguration.GroupsToOverride, req.UserAttributes[statusAttribute], h.approvedGroup) {
		h.log.Warn("token refused", "user", ev.UserName, "source", ev.TriggerSource, "status", req.UserAttributes[statusAttribute])
		return ev, errNotApproved
	}
	claims := map[string]string{h.approvedClaim: "true"}
	if h.claim == "" {
		ev.Response = response{ClaimsOverrideDetails: &claimsOverride{ClaimsToAddOrOverride: claims}}
		return ev, nil
	}
	var mine []string
	for _, g := range req.GroupConfiguration.GroupsToOverride {
		if h.teams[g] {
			mine = append(mine, g)
		}
	}
	slices.Sort(mine)
	mine = slices.Compact(mine)
	claims[h.claim] = TeamsValue(mine)
	ev.Response = response{ClaimsOverrideDetails: &claimsOverride{ClaimsToAddOrOverride: claims}}
	h.log.Info("teams claim", "user", ev.UserName, "source", ev.TriggerSource, "teams", len(mine))
	return ev, nil
}

// TeamsValue encloses each name in colons: ":a:b:", or ":" for none.
func TeamsValue(teams []string) string {
	if len(teams) == 0 {
		return ":"
	}
	return ":" + strings.Join(teams, ":") + ":"
}
