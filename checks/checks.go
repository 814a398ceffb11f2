// Package checks holds the checks an admin runs against a real AWS account
// with their own credentials: `heliocloud preflight` before a deploy (what
// the deploy cannot do itself: quotas, billing settings, certificates) and
// `heliocloud doctor` after one (each enabled component, end to end).
//
// Every check is independent: they run concurrently, each under its own
// timeout, and report one line each. The package imports no CDK, so the
// checks run without Node.js; the tests point the AWS SDK and the HTTP
// clients at fakes and need no AWS account.
package checks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/smithy-go"
)

// Status is the outcome of one check.
type Status int

const (
	// OK means the check passed.
	OK Status = iota
	// Warn means nothing is broken yet but the admin has something to do
	// later (such as activating a cost allocation tag Billing has not seen).
	Warn
	// Fail means the deploy (preflight) or the component (doctor) will not
	// work until the admin acts; the reason names the fix.
	Fail
	// Skip means the check does not apply to this instance.
	Skip
)

func (s Status) String() string {
	return [...]string{"ok", "warn", "FAIL", "skip"}[s]
}

// Result is one check's outcome with a reason a person can act on.
type Result struct {
	Name   string
	Status Status
	Reason string
}

// Check is one named check. Run returns the status and reason; an error
// it returns becomes a failure with the error as reason.
type Check struct {
	Name string
	Run  func(ctx context.Context) (Status, string, error)
}

func pass(format string, args ...any) (Status, string, error) {
	return OK, fmt.Sprintf(format, args...), nil
}

func fail(format string, args ...any) (Status, string, error) {
	return Fail, fmt.Sprintf(format, args...), nil
}

func warn(format string, args ...any) (Status, string, error) {
	return Warn, fmt.Sprintf(format, args...), nil
}

func skip(format string, args ...any) (Status, string, error) {
	return Skip, fmt.Sprintf(format, args...), nil
}

// Run runs every check concurrently, each with its own timeout, and returns
// their results in the order of checks.
func Run(ctx context.Context, checks []Check, timeout time.Duration) []Result {
	out := make([]Result, len(checks))
	var wg sync.WaitGroup
	for i, c := range checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = runOne(ctx, c, timeout)
		}()
	}
	wg.Wait()
	return out
}

func runOne(ctx context.Context, c Check, timeout time.Duration) (r Result) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	r.Name = c.Name
	defer func() {
		// A check that panics is a bug of ours; report it as that check's
		// failure instead of losing every other line.
		if p := recover(); p != nil {
			r.Status, r.Reason = Fail, fmt.Sprintf("internal error: %v", p)
		}
	}()
	status, reason, err := c.Run(ctx)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
			return Result{c.Name, Fail, fmt.Sprintf("no answer within %s: %v", timeout, err)}
		}
		return Result{c.Name, Fail, err.Error()}
	}
	return Result{c.Name, status, reason}
}

// Write prints one line per result, "<status> <name>: <reason>", and
// reports whether any failed.
func Write(w io.Writer, results []Result) (failed bool) {
	width := 0
	for _, r := range results {
		width = max(width, len(r.Name))
	}
	for _, r := range results {
		fmt.Fprintf(w, "%-4s  %-*s  %s\n", r.Status, width, r.Name, r.Reason)
		failed = failed || r.Status == Fail
	}
	return failed
}

// Env is what the checks reach the world through.
type Env struct {
	// AWS is the admin's configuration: credentials and default region.
	AWS aws.Config
	// HTTP fetches plain web pages (the portal, the hub, OIDC discovery);
	// it must not follow redirects. Nil: NewHTTPClient.
	HTTP *http.Client
	// OIDCIssuer is the issuer URL of a Cognito user pool. Nil: Cognito's
	// own, https://cognito-idp.<region>.amazonaws.com/<pool id>.
	OIDCIssuer func(region, poolID string) string
}

// NewHTTPClient returns a client that reports redirects instead of
// following them: where a page sends its visitor is part of what is checked.
func NewHTTPClient() *http.Client {
	return &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func (e *Env) http() *http.Client {
	if e.HTTP != nil {
		return e.HTTP
	}
	return NewHTTPClient()
}

func (e *Env) issuer(region, poolID string) string {
	if e.OIDCIssuer != nil {
		return e.OIDCIssuer(region, poolID)
	}
	return "https://cognito-idp." + region + ".amazonaws.com/" + poolID
}

// errorCode is the AWS error code of err ("" if it is not an API error).
func errorCode(err error) string {
	var api smithy.APIError
	if errors.As(err, &api) {
		return api.ErrorCode()
	}
	return ""
}
