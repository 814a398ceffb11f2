// Command portal is the AWS Lambda function behind the portal's API
// Gateway HTTP API. The same binary also runs auto-stop when an
// EventBridge schedule invokes it with {"autostop": "idle"|"daily"}.
//
// Environment:
//
//	PORTAL_CONFIG       the portal.Config as JSON (rendered by the portal stack)
//	SESSION_SECRET_ARN  Secrets Manager secret whose value keys the session cookies
//	PRICING_REGION      Price List API endpoint region (default us-east-1)
//	AUTOSTOP_CPU        idle threshold in percent (default 5)
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/athena"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cognitoidentity"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/costexplorer"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/pricing"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/heliocloud/heliocloud-go/portal"
	"github.com/heliocloud/heliocloud-go/portal/autostop"
)

func main() {
	slog.SetDefault(slog.New(slog.NewJSONHandler(os.Stderr, nil)))
	var cfg portal.Config
	if err := json.Unmarshal([]byte(os.Getenv("PORTAL_CONFIG")), &cfg); err != nil {
		slog.Error("PORTAL_CONFIG is not valid JSON", "err", err)
		os.Exit(1)
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(context.Background())
	if err != nil {
		slog.Error("aws config", "err", err)
		os.Exit(1)
	}
	f := &function{cfg: cfg, aws: awsCfg}
	lambda.Start(f.invoke)
}

type function struct {
	cfg portal.Config
	aws aws.Config

	// mu guards handler, made on the first request; a failed start (say, a
	// passing Secrets Manager error) is retried by the next request instead
	// of being remembered for the life of the instance.
	mu      sync.Mutex
	handler http.Handler
}

// invoke dispatches on the event's shape: API Gateway events carry a
// requestContext, schedule events an "autostop" key.
func (f *function) invoke(ctx context.Context, raw json.RawMessage) (any, error) {
	var probe struct {
		AutoStop       string          `json:"autostop"`
		RequestContext json.RawMessage `json:"requestContext"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return nil, fmt.Errorf("event is not JSON: %w", err)
	}
	switch {
	case probe.AutoStop != "":
		return f.autoStop(ctx, probe.AutoStop)
	case probe.RequestContext != nil:
		var e events.APIGatewayV2HTTPRequest
		if err := json.Unmarshal(raw, &e); err != nil {
			return nil, err
		}
		h, err := f.portal(ctx)
		if err != nil {
			return nil, err
		}
		return serve(ctx, h, e)
	}
	return nil, errors.New("unknown event: neither an API Gateway request nor an auto-stop schedule")
}

func (f *function) portal(ctx context.Context) (http.Handler, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.handler == nil {
		h, err := f.newPortal(ctx)
		if err != nil {
			return nil, err
		}
		f.handler = h
	}
	return f.handler, nil
}

func (f *function) newPortal(ctx context.Context) (http.Handler, error) {
	sm := secretsmanager.NewFromConfig(f.aws)
	sec, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(os.Getenv("SESSION_SECRET_ARN"))})
	if err != nil {
		return nil, fmt.Errorf("reading the session secret: %w", err)
	}
	pricingRegion := os.Getenv("PRICING_REGION")
	if pricingRegion == "" {
		pricingRegion = "us-east-1"
	}
	clients := portal.AWS{
		Identity: newIdentityCalls(cognitoidentity.NewFromConfig(f.aws)),
		EC2For: func(c aws.Credentials) portal.EC2 {
			return newEC2Calls(ec2.NewFromConfig(f.aws, func(o *ec2.Options) {
				o.Credentials = aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return c, nil })
			}))
		},
		Parameters: newParameterCalls(ssm.NewFromConfig(f.aws)),
		Prices:     newPriceCalls(pricing.NewFromConfig(f.aws, func(o *pricing.Options) { o.Region = pricingRegion })),
		// Cost Explorer's endpoint is in us-east-1 whatever the data's region.
		Costs: newCostCalls(costexplorer.NewFromConfig(f.aws, func(o *costexplorer.Options) { o.Region = "us-east-1" })),
		Users: newUserCalls(cip.NewFromConfig(f.aws)),
	}
	// Athena runs in the function's region, where the stack puts the
	// export's table and workgroup.
	if f.cfg.HubCosts != nil {
		clients.Athena = newAthenaCalls(athena.NewFromConfig(f.aws))
	}
	return portal.New(f.cfg, clients, portal.Options{SessionSecret: []byte(aws.ToString(sec.SecretString))})
}

func (f *function) autoStop(ctx context.Context, mode string) (*autostop.Result, error) {
	cpu, _ := strconv.ParseFloat(os.Getenv("AUTOSTOP_CPU"), 64)
	cfg := autostop.Config{Instance: f.cfg.Instance, IdleHours: f.cfg.AutoStop.IdleHours, CPUPercent: cpu}
	res, err := autostop.Run(ctx, cfg, newEC2Calls(ec2.NewFromConfig(f.aws)), newMetricCalls(cloudwatch.NewFromConfig(f.aws)), mode, time.Now())
	if res != nil {
		slog.Info("autostop", "mode", mode, "stopped", res.Stopped, "kept", res.Kept)
	}
	return res, err
}
