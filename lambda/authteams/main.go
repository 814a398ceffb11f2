// Command authteams is the auth stack's pre-token-generation trigger. It
// writes the user's teams into the ID token as one string claim (named by
// HELIOCLOUD_TEAMS_CLAIM: heliocloud:teams), with every team name enclosed
// in colons (":mms:sdo:", or ":" for none), sorted.
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
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

const (
	// EnvTeams lists the instance's team names, comma-separated.
	EnvTeams = "HELIOCLOUD_TEAMS"
	// EnvClaim names the ID-token claim the trigger adds; the auth stack
	// sets it, so the name has one source (stacks.TeamsClaim).
	EnvClaim = "HELIOCLOUD_TEAMS_CLAIM"
)

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
	GroupConfiguration struct {
		GroupsToOverride []string `json:"groupsToOverride"`
	} `json:"groupConfiguration"`
}

type response struct {
	ClaimsOverrideDetails *claimsOverride `json:"claimsOverrideDetails,omitempty"`
}

type claimsOverride struct {
	ClaimsToAddOrOverride map[string]string `json:"claimsToAddOrOverride"`
}

type handler struct {
	claim string
	teams map[string]bool
	log   *slog.Logger
}

func newHandler(claim, teamList string, log *slog.Logger) *handler {
	h := &handler{claim: claim, teams: map[string]bool{}, log: log}
	for _, t := range strings.Split(teamList, ",") {
		if t = strings.TrimSpace(t); t != "" {
			h.teams[t] = true
		}
	}
	return h
}

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	claim := os.Getenv(EnvClaim)
	if claim == "" {
		log.Error("configuration", "error", EnvClaim+" is not set")
		os.Exit(1)
	}
	lambda.Start(newHandler(claim, os.Getenv(EnvTeams), log).handle)
}

// handle adds the claim for every kind of token issue (sign-in, refresh,
// new password, device), so a refreshed token carries current teams.
func (h *handler) handle(_ context.Context, ev event) (event, error) {
	var req request
	if err := json.Unmarshal(ev.Request, &req); err != nil {
		// Not an event Cognito sends; an error shows in the sign-in and
		// the logs rather than a token quietly missing the claim.
		return ev, fmt.Errorf("reading the request of %s: %w", ev.UserName, err)
	}
	var mine []string
	for _, g := range req.GroupConfiguration.GroupsToOverride {
		if h.teams[g] {
			mine = append(mine, g)
		}
	}
	slices.Sort(mine)
	mine = slices.Compact(mine)
	ev.Response = response{ClaimsOverrideDetails: &claimsOverride{
		ClaimsToAddOrOverride: map[string]string{h.claim: TeamsValue(mine)},
	}}
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
