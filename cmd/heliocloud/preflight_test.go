package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// fakeAccount answers the AWS APIs preflight calls for the minimal
// instance; bootstrapped says whether the CDK bootstrap parameter exists.
// It records "service:operation" of every request.
func fakeAccount(t *testing.T, bootstrapped bool) (calls func() []string) {
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		op := r.Header.Get("X-Amz-Target")
		if op == "" {
			form, _ := url.ParseQuery(string(body))
			op = form.Get("Action")
		}
		service := regexp.MustCompile(`/[0-9]{8}/[^/]+/([^/]+)/aws4_request`).FindStringSubmatch(r.Header.Get("Authorization"))
		mu.Lock()
		seen = append(seen, service[1]+":"+op)
		mu.Unlock()
		switch op {
		case "GetCallerIdentity":
			w.Header().Set("Content-Type", "text/xml")
			io.WriteString(w, `<GetCallerIdentityResponse><GetCallerIdentityResult><Arn>arn:aws:iam::360012345678:role/Admin</Arn><Account>360012345678</Account><UserId>x</UserId></GetCallerIdentityResult></GetCallerIdentityResponse>`)
		case "AmazonSSM.GetParameter":
			if !bootstrapped {
				w.WriteHeader(400)
				io.WriteString(w, `{"__type":"ParameterNotFound","message":"no"}`)
				return
			}
			io.WriteString(w, `{"Parameter":{"Name":"/cdk-bootstrap/hnb659fds/version","Value":"30"}}`)
		case "AWSInsightsIndexService.ListCostAllocationTags":
			io.WriteString(w, `{"CostAllocationTags":[{"TagKey":"heliocloud:instance","Type":"UserDefined","Status":"Active"}]}`)
		default:
			t.Errorf("unexpected call %s %q", r.URL.Path, op)
			w.WriteHeader(501)
		}
	}))
	t.Cleanup(srv.Close)
	fakeAccountEnv(t, srv.URL)
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), seen...)
	}
}

// fakeAccountEnv points the AWS SDK's default configuration at endpoint,
// with made-up credentials and no retries, away from any real profile.
func fakeAccountEnv(t *testing.T, endpoint string) {
	t.Setenv("AWS_ENDPOINT_URL", endpoint)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDFAKE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_REGION", "us-west-2")
	t.Setenv("AWS_MAX_ATTEMPTS", "1")
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	t.Setenv("AWS_PROFILE", "")
}

func TestPreflightCommand(t *testing.T) {
	inRoot(t)
	calls := fakeAccount(t, true)
	code, out, errOut := runCLI(t, "preflight", "minimal")
	if code != 0 {
		t.Fatalf("exit %d, want 0\n%s%s", code, out, errOut)
	}
	// One line per check: status, name, reason.
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	line := regexp.MustCompile(`^(ok  |warn|FAIL|skip)  [a-z0-9 ./-]+?  +\S.*$`)
	for _, l := range lines {
		if !line.MatchString(l) {
			t.Errorf("line %q is not <status> <name> <reason>", l)
		}
	}
	for _, want := range []string{
		"ok    credentials",
		"arn:aws:iam::360012345678:role/Admin in account 360012345678, region us-west-2",
		"ok    cdk bootstrap ",
		"skip  ses production access",
		"ok    cost allocation tags",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	got := strings.Join(calls(), ",")
	for _, want := range []string{"sts:GetCallerIdentity", "ssm:AmazonSSM.GetParameter", "ce:AWSInsightsIndexService.ListCostAllocationTags"} {
		if !strings.Contains(got, want) {
			t.Errorf("calls %s lack %s", got, want)
		}
	}
}

func TestPreflightCommandFails(t *testing.T) {
	inRoot(t)
	fakeAccount(t, false)
	code, out, _ := runCLI(t, "preflight", "minimal")
	if code != 1 {
		t.Errorf("exit %d, want 1 when a check fails", code)
	}
	if !strings.Contains(out, "FAIL  cdk bootstrap") || !strings.Contains(out, "npx cdk bootstrap aws://<account>/us-west-2") {
		t.Errorf("output does not name the failure and its fix:\n%s", out)
	}
}

func TestPreflightCommandUsage(t *testing.T) {
	if code, _, errOut := runCLI(t, "preflight"); code != 2 || !strings.Contains(errOut, "usage: heliocloud preflight") {
		t.Errorf("without an instance: exit %d, %q", code, errOut)
	}
}
