package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// fakeDeployment answers as the deployed minimal instance (base, data,
// registry) with deadLetters messages in the registry's dead-letter queue.
func fakeDeployment(t *testing.T, deadLetters int) {
	const dlq = "https://sqs.us-west-2.amazonaws.com/360012345678/minimal-Registry-DeadLetters"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		op := r.Header.Get("X-Amz-Target") + form.Get("Action")
		switch op {
		case "DescribeStacks":
			outputs := ""
			if form.Get("StackName") == "minimal-Registry" {
				outputs = "<member><OutputKey>DeadLetterQueue</OutputKey><OutputValue>" + dlq + "</OutputValue></member>"
			}
			fmt.Fprintf(w, `<DescribeStacksResponse><DescribeStacksResult><Stacks><member><StackName>%s</StackName><StackStatus>CREATE_COMPLETE</StackStatus><CreationTime>2026-11-01T00:00:00Z</CreationTime><Outputs>%s</Outputs></member></Stacks></DescribeStacksResult></DescribeStacksResponse>`, form.Get("StackName"), outputs)
		case "ListStackResources":
			res := ""
			switch form.Get("StackName") {
			case "minimal-Base":
				res = "<member><LogicalResourceId>MonthlyBudget</LogicalResourceId><PhysicalResourceId>minimal-monthly</PhysicalResourceId><ResourceType>AWS::Budgets::Budget</ResourceType><LastUpdatedTimestamp>2026-11-01T00:00:00Z</LastUpdatedTimestamp><ResourceStatus>CREATE_COMPLETE</ResourceStatus></member>"
			case "minimal-Registry":
				res = "<member><LogicalResourceId>DeadLetters</LogicalResourceId><PhysicalResourceId>" + dlq + "</PhysicalResourceId><ResourceType>AWS::SQS::Queue</ResourceType><LastUpdatedTimestamp>2026-11-01T00:00:00Z</LastUpdatedTimestamp><ResourceStatus>CREATE_COMPLETE</ResourceStatus></member>"
			}
			fmt.Fprintf(w, `<ListStackResourcesResponse><ListStackResourcesResult><StackResourceSummaries>%s</StackResourceSummaries></ListStackResourcesResult></ListStackResourcesResponse>`, res)
		case "GetCallerIdentity":
			io.WriteString(w, `<GetCallerIdentityResponse><GetCallerIdentityResult><Arn>arn:aws:iam::360012345678:role/Admin</Arn><Account>360012345678</Account><UserId>x</UserId></GetCallerIdentityResult></GetCallerIdentityResponse>`)
		case "AWSBudgetServiceGateway.DescribeBudget":
			io.WriteString(w, `{"Budget":{"BudgetName":"minimal-monthly","BudgetType":"COST","TimeUnit":"MONTHLY","BudgetLimit":{"Amount":"50","Unit":"USD"}}}`)
		case "AmazonSQS.GetQueueAttributes":
			fmt.Fprintf(w, `{"Attributes":{"ApproximateNumberOfMessages":"%d","ApproximateNumberOfMessagesNotVisible":"0","QueueArn":"arn:aws:sqs:us-west-2:360012345678:minimal-Registry-DeadLetters"}}`, deadLetters)
		default:
			t.Errorf("unexpected call %s %q", r.URL.Path, op)
			w.WriteHeader(501)
		}
	}))
	t.Cleanup(srv.Close)
	fakeAccountEnv(t, srv.URL)
}

func TestDoctorCommand(t *testing.T) {
	inRoot(t)
	fakeDeployment(t, 0)
	code, out, errOut := runCLI(t, "doctor", "minimal")
	if code != 0 {
		t.Fatalf("exit %d, want 0\n%s%s", code, out, errOut)
	}
	want := []string{
		"ok    stack minimal-Base      CREATE_COMPLETE",
		"ok    stack minimal-Data      CREATE_COMPLETE",
		"ok    stack minimal-Registry  CREATE_COMPLETE",
		"ok    budget                  minimal-monthly: $50 a month",
		"ok    registry queues         dead letters: 0",
	}
	if got := strings.Split(strings.TrimSuffix(out, "\n"), "\n"); len(got) != len(want) {
		t.Errorf("%d lines, want %d:\n%s", len(got), len(want), out)
	}
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
}

func TestDoctorCommandFails(t *testing.T) {
	inRoot(t)
	fakeDeployment(t, 4)
	code, out, _ := runCLI(t, "doctor", "minimal")
	if code != 1 {
		t.Errorf("exit %d, want 1 when a check fails", code)
	}
	if !strings.Contains(out, "FAIL  registry queues         4 events in the dead-letter queue") {
		t.Errorf("output does not name the failure:\n%s", out)
	}
}
