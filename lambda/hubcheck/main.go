// Command hubcheck is the DaskHub stack's deploy check, an AWS Lambda
// function (provided.al2023, arm64) behind two CloudFormation custom
// resources.
//
// The check: on Create and Update it waits until the hub, the gateway, the
// autoscaler and the device plugin work (see package hubcheck) and fails the
// deploy with the reason when they do not. On Delete, when the whole stack
// is going away, it removes the hub's load balancer and its security
// groups, which Kubernetes made outside CloudFormation.
//
// The load balancer switch (Action replaceLoadBalancers), which runs before
// the JupyterHub release: on Create and Update it removes a hub Service
// whose load balancer cannot become what the release will ask for (a
// Classic one, or one in other subnets), so that the release makes it
// again; on Delete it does nothing.
//
// It reaches the cluster's API in the VPC with a token of its own role, which
// the cluster admits through an access entry bound to read-only Roles.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"

	"github.com/heliocloud/heliocloud-go/daskhub/hubcheck"
	"github.com/heliocloud/heliocloud-go/daskhub/hubcheck/ekstoken"
)

// Properties are the custom resource's properties.
type Properties struct {
	ClusterName string
	// Endpoint is the cluster's API server URL.
	Endpoint string
	// CertificateAuthority is the cluster's CA certificate, base64 PEM as EKS gives it.
	CertificateAuthority string
	// Namespace holds the hub and its load balancer.
	Namespace string
	// Spec is a hubcheck.Spec in JSON (a string, since CloudFormation hands
	// custom resources every number as a string).
	Spec string
	// Revision changes whenever a release's chart or values change, so that
	// every such deploy is checked again.
	Revision string
	// Action is empty for the check, or hubcheck.ActionReplaceLoadBalancers.
	Action string
	// Annotations are, for the switch, the load balancer annotations the
	// cloud provider cannot change in place, as the release will set them.
	Annotations map[string]string
}

// reasonLimit keeps the failure reason inside CloudFormation's 4,096-byte
// custom resource response, with room for the response's other fields.
const reasonLimit = 3000

// margin is the time kept at the end of an invocation to send the answer:
// a function that times out sends none, and CloudFormation waits an hour.
const margin = 45 * time.Second

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	cfg, err := awsconfig.LoadDefaultConfig(context.Background())
	if err != nil {
		log.Error("aws configuration", "error", err.Error())
		os.Exit(1)
	}
	cf := cloudformation.NewFromConfig(cfg)
	h := &handler{
		log:      log,
		interval: 15 * time.Second,
		stackStatus: func(ctx context.Context, stackID string) (string, error) {
			out, err := cf.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(stackID)})
			if err != nil {
				return "", err
			}
			if len(out.Stacks) == 0 {
				return "", fmt.Errorf("stack %s not found", stackID)
			}
			return string(out.Stacks[0].StackStatus), nil
		},
		client: func(p Properties) (*hubcheck.Client, error) {
			c, err := clusterClient(p)
			if err != nil {
				return nil, err
			}
			c.Token = ekstoken.New(cfg, p.ClusterName)
			return c, nil
		},
	}
	lambda.Start(cfn.LambdaWrap(h.handle))
}

type handler struct {
	log      *slog.Logger
	interval time.Duration
	// stackStatus is the CloudFormation status of a stack, by id.
	stackStatus func(ctx context.Context, stackID string) (string, error)
	client      func(Properties) (*hubcheck.Client, error)
}

func (h *handler) handle(ctx context.Context, ev cfn.Event) (string, map[string]any, error) {
	// One id for the life of the resource: a new id would make
	// CloudFormation delete the old one, and a Delete may clean up.
	physical := ev.PhysicalResourceID
	var p Properties
	raw, _ := json.Marshal(ev.ResourceProperties)
	if err := json.Unmarshal(raw, &p); err != nil {
		return physical, nil, fmt.Errorf("properties: %w", err)
	}
	if ev.RequestType == cfn.RequestCreate {
		physical = "daskhub-check-" + p.ClusterName
		if p.Action == hubcheck.ActionReplaceLoadBalancers {
			physical = "daskhub-lb-switch-" + p.ClusterName
		}
	}
	if p.Action != "" && p.Action != hubcheck.ActionReplaceLoadBalancers {
		return physical, nil, fmt.Errorf("unknown action %q", p.Action)
	}
	if p.Action == hubcheck.ActionReplaceLoadBalancers && ev.RequestType == cfn.RequestDelete {
		// The check's own Delete removes every load balancer at teardown.
		return physical, nil, nil
	}
	c, err := h.client(p)
	if err != nil {
		return physical, nil, err
	}
	if deadline, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline.Add(-margin))
		defer cancel()
	}
	start := time.Now()
	if p.Action == hubcheck.ActionReplaceLoadBalancers {
		if len(p.Annotations) == 0 {
			return physical, nil, errors.New("property Annotations is empty: the switch would replace every load balancer")
		}
		if err := hubcheck.ReplaceLoadBalancers(ctx, c, p.Namespace, p.Annotations, h.interval); err != nil {
			return physical, nil, err
		}
		h.log.Info("load balancers match the release", "namespace", p.Namespace, "after", time.Since(start).Round(time.Second).String())
		return physical, nil, nil
	}
	switch ev.RequestType {
	case cfn.RequestCreate, cfn.RequestUpdate:
		var spec hubcheck.Spec
		if err := json.Unmarshal([]byte(p.Spec), &spec); err != nil {
			return physical, nil, fmt.Errorf("property Spec: %w", err)
		}
		problems := hubcheck.Wait(ctx, c, spec, hubcheck.Options{}, h.interval)
		if len(problems) == 0 {
			h.log.Info("DaskHub works", "after", time.Since(start).Round(time.Second).String())
			return physical, nil, nil
		}
		for _, pr := range problems {
			h.log.Error("not working", "component", pr.Component, "detail", pr.Detail)
		}
		head := fmt.Sprintf("DaskHub does not work after %s of waiting (docs/daskhub.md, \"When a deploy fails\"):\n", time.Since(start).Round(time.Second))
		return physical, nil, errors.New(head + hubcheck.Report(problems, reasonLimit-len(head)))
	case cfn.RequestDelete:
		status, err := h.stackStatus(ctx, ev.StackID)
		if err != nil {
			return physical, nil, fmt.Errorf("reading the stack's status, to tell a teardown from an update: %w", err)
		}
		if !hubcheck.Teardown(status) {
			h.log.Info("not a teardown: the load balancer stays", "stackStatus", status)
			return physical, nil, nil
		}
		if err := hubcheck.RemoveLoadBalancers(ctx, c, p.Namespace, h.interval); err != nil {
			return physical, nil, err
		}
		h.log.Info("load balancers removed", "namespace", p.Namespace, "after", time.Since(start).Round(time.Second).String())
		return physical, nil, nil
	}
	return physical, nil, fmt.Errorf("unknown request type %q", ev.RequestType)
}

// clusterClient is an HTTP client of the API server that trusts only the
// cluster's certificate authority.
func clusterClient(p Properties) (*hubcheck.Client, error) {
	pem, err := base64.StdEncoding.DecodeString(p.CertificateAuthority)
	if err != nil {
		return nil, fmt.Errorf("property CertificateAuthority: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, errors.New("property CertificateAuthority holds no PEM certificate")
	}
	return &hubcheck.Client{
		BaseURL: p.Endpoint,
		HTTP: &http.Client{
			Timeout:   30 * time.Second,
			Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}},
		},
	}, nil
}
