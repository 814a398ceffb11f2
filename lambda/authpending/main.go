// Command authpending is the auth stack's post-confirmation trigger. When
// self sign-up is on, a person who registers on the sign-in page and
// confirms their e-mail address is disabled and put in the pending group, so
// they cannot sign in until an admin approves them (the portal enables the
// account and removes it from pending).
//
// Only sign-ups are held: the trigger also fires when a user confirms a
// password reset, and users who sign in through an identity provider are
// admitted by that provider, so both pass untouched.
//
// The group name comes from the HELIOCLOUD_PENDING_GROUP environment variable.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
)

// EnvPendingGroup names the group that holds accounts awaiting approval.
const EnvPendingGroup = "HELIOCLOUD_PENDING_GROUP"

// userPool is the part of the Cognito API the trigger calls.
type userPool interface {
	AdminDisableUser(ctx context.Context, in *cip.AdminDisableUserInput, opts ...func(*cip.Options)) (*cip.AdminDisableUserOutput, error)
	AdminAddUserToGroup(ctx context.Context, in *cip.AdminAddUserToGroupInput, opts ...func(*cip.Options)) (*cip.AdminAddUserToGroupOutput, error)
}

type handler struct {
	pool  userPool
	group string
	log   *slog.Logger
}

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	group := os.Getenv(EnvPendingGroup)
	if group == "" {
		log.Error("configuration", "error", EnvPendingGroup+" is not set")
		os.Exit(1)
	}
	cfg, err := awsconfig.LoadDefaultConfig(context.Background())
	if err != nil {
		log.Error("aws configuration", "error", err.Error())
		os.Exit(1)
	}
	h := &handler{pool: cip.NewFromConfig(cfg), group: group, log: log}
	lambda.Start(h.handle)
}

// handle holds a newly confirmed self sign-up. It returns the event as
// Cognito requires; an error makes the confirmation fail visibly, and the
// error is logged for the admins.
func (h *handler) handle(ctx context.Context, ev events.CognitoEventUserPoolsPostConfirmation) (events.CognitoEventUserPoolsPostConfirmation, error) {
	if ev.TriggerSource != "PostConfirmation_ConfirmSignUp" {
		return ev, nil
	}
	if ev.Request.UserAttributes["identities"] != "" {
		h.log.Info("federated user admitted by the identity provider", "user", ev.UserName)
		return ev, nil
	}
	pool, user := aws.String(ev.UserPoolID), aws.String(ev.UserName)
	// Disabling comes first: it is what keeps the account out, the group
	// only lets admins find it.
	if _, err := h.pool.AdminDisableUser(ctx, &cip.AdminDisableUserInput{UserPoolId: pool, Username: user}); err != nil {
		h.log.Error("disabling new sign-up", "user", ev.UserName, "error", err.Error())
		return ev, fmt.Errorf("holding %s for approval: %w", ev.UserName, err)
	}
	if _, err := h.pool.AdminAddUserToGroup(ctx, &cip.AdminAddUserToGroupInput{UserPoolId: pool, Username: user, GroupName: aws.String(h.group)}); err != nil {
		h.log.Error("adding new sign-up to the pending group", "user", ev.UserName, "error", err.Error())
		return ev, fmt.Errorf("adding %s to group %s: %w", ev.UserName, h.group, err)
	}
	h.log.Info("new sign-up held for approval", "user", ev.UserName, "email", ev.Request.UserAttributes["email"])
	return ev, nil
}
