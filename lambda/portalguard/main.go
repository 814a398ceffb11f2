// Command portalguard is the portal's guard function (package
// portal/guard). EventBridge invokes it with:
//
//   - EC2 state-change notifications (pending, running): a machine started,
//     perhaps with credentials used outside the portal;
//   - CloudTrail records of Cognito admin calls that take access away
//     (AdminDisableUser, AdminRemoveUserFromGroup, AdminDeleteUser);
//   - its schedules, {"guard":"sweep"} every few minutes and
//     {"guard":"spend"} hourly.
//
// Environment: GUARD_CONFIG, the guard.Config as JSON (rendered by the
// portal stack).
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/costexplorer"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/heliocloud/heliocloud-go/portal/guard"
)

func main() {
	slog.SetDefault(slog.New(slog.NewJSONHandler(os.Stderr, nil)))
	var cfg guard.Config
	if err := json.Unmarshal([]byte(os.Getenv("GUARD_CONFIG")), &cfg); err != nil {
		slog.Error("GUARD_CONFIG is not valid JSON", "err", err)
		os.Exit(1)
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(context.Background())
	if err != nil {
		slog.Error("aws config", "err", err)
		os.Exit(1)
	}
	// Cost Explorer's endpoint is in us-east-1 whatever the region.
	ceCfg := awsCfg.Copy()
	ceCfg.Region = "us-east-1"
	c := guard.Clients{EC2: ec2.NewFromConfig(awsCfg), Users: cip.NewFromConfig(awsCfg), Sessions: ssm.NewFromConfig(awsCfg), Costs: costexplorer.NewFromConfig(ceCfg)}
	lambda.Start(func(ctx context.Context, raw json.RawMessage) (*guard.Result, error) {
		chk, err := checkFor(raw, cfg.UserPoolID)
		if err != nil {
			return nil, err
		}
		res, err := guard.Run(ctx, cfg, c, chk, time.Now())
		slog.Info("guard", "check", chk, "result", res, "err", err)
		return res, err
	})
}

// event is the part of an EventBridge event, or a schedule's input, that
// the guard reads.
type event struct {
	Guard      string `json:"guard"`
	Source     string `json:"source"`
	DetailType string `json:"detail-type"`
	Detail     struct {
		EventName         string `json:"eventName"`
		RequestParameters struct {
			UserPoolID string `json:"userPoolId"`
			Username   string `json:"username"`
		} `json:"requestParameters"`
	} `json:"detail"`
}

// checkFor says what an event asks the guard to look at. Every event
// checks every machine; a launch also checks spending, and an admin's
// Cognito call also signs the user out.
func checkFor(raw json.RawMessage, pool string) (guard.Check, error) {
	var ev event
	if err := json.Unmarshal(raw, &ev); err != nil {
		return guard.Check{}, fmt.Errorf("event is not JSON: %w", err)
	}
	switch {
	case ev.Guard == guard.ModeSweep:
		return guard.Check{}, nil
	case ev.Guard == guard.ModeSpend:
		return guard.Check{Spend: true}, nil
	case ev.Source == "aws.ec2" && ev.DetailType == "EC2 Instance State-change Notification":
		return guard.Check{Spend: true}, nil
	case ev.Source == "aws.cognito-idp" && ev.DetailType == "AWS API Call via CloudTrail":
		chk := guard.Check{}
		// The rule matches only this pool; the check keeps a changed rule
		// from signing out a namesake in another pool.
		if ev.Detail.RequestParameters.UserPoolID == pool && ev.Detail.EventName != "AdminDeleteUser" {
			chk.SignOut = ev.Detail.RequestParameters.Username
		}
		return chk, nil
	}
	return guard.Check{}, fmt.Errorf("unknown event: source %q, detail-type %q, guard %q", ev.Source, ev.DetailType, ev.Guard)
}
