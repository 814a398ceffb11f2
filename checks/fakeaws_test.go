package checks

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// call is one request the fake AWS received, as the SDK sent it.
type call struct {
	// Service and Region are those of the SigV4 signature's scope.
	Service, Region string
	// Op is the operation: X-Amz-Target's or the query protocol's Action,
	// else "METHOD /path" for REST services.
	Op     string
	Path   string
	Query  url.Values
	Form   url.Values
	JSON   map[string]any
	Header http.Header
}

// reply is what a route answers.
type reply struct {
	Status int
	Body   string
	Header map[string]string
}

func jsonReply(v any) reply {
	b, _ := json.Marshal(v)
	return reply{Status: 200, Body: string(b)}
}

// jsonError is an error of the JSON protocols (awsJson1.0/1.1, restJson).
func jsonError(status int, code string) reply {
	return reply{Status: status, Body: fmt.Sprintf(`{"__type":%q,"message":"fake %s"}`, code, code), Header: map[string]string{"X-Amzn-Errortype": code}}
}

// xmlError is an error of the query and REST-XML protocols.
func xmlError(status int, code string) reply {
	return reply{Status: status, Body: fmt.Sprintf(`<ErrorResponse><Error><Type>Sender</Type><Code>%s</Code><Message>fake %s</Message></Error><RequestId>r</RequestId></ErrorResponse>`, code, code)}
}

// fakeAWS is an HTTP server standing in for every AWS API: routes are keyed
// "service:Op" ("sesv2:GET /v2/email/account"); any other request fails the
// test. It records every call for the test to assert on.
type fakeAWS struct {
	t      *testing.T
	srv    *httptest.Server
	mu     sync.Mutex
	calls  []call
	routes map[string]func(call) reply
}

var scopeRe = regexp.MustCompile(`Credential=[^/]+/[0-9]+/([^/]+)/([^/]+)/aws4_request`)

func newFakeAWS(t *testing.T) *fakeAWS {
	f := &fakeAWS{t: t, routes: map[string]func(call) reply{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeAWS) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	c := call{Path: r.URL.Path, Query: r.URL.Query(), Header: r.Header}
	if m := scopeRe.FindStringSubmatch(r.Header.Get("Authorization")); m != nil {
		c.Region, c.Service = m[1], m[2]
	}
	switch target := r.Header.Get("X-Amz-Target"); {
	case target != "":
		c.Op = target[strings.LastIndex(target, ".")+1:]
		_ = json.Unmarshal(body, &c.JSON)
	case strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded"):
		c.Form, _ = url.ParseQuery(string(body))
		c.Op = c.Form.Get("Action")
	default:
		c.Op = r.Method + " " + r.URL.Path
		_ = json.Unmarshal(body, &c.JSON)
	}
	f.mu.Lock()
	f.calls = append(f.calls, c)
	route := f.routes[c.Service+":"+c.Op]
	f.mu.Unlock()
	if route == nil {
		f.t.Errorf("fake AWS: unexpected call %s:%s", c.Service, c.Op)
		http.Error(w, "no route", http.StatusNotImplemented)
		return
	}
	rep := route(c)
	for k, v := range rep.Header {
		w.Header().Set(k, v)
	}
	if strings.HasPrefix(rep.Body, "<") {
		w.Header().Set("Content-Type", "text/xml")
	} else {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	}
	w.WriteHeader(cmpOr(rep.Status, 200))
	io.WriteString(w, rep.Body)
}

func cmpOr(a, b int) int {
	if a != 0 {
		return a
	}
	return b
}

// on routes "service:Op" to fn.
func (f *fakeAWS) on(key string, fn func(call) reply) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.routes[key] = fn
}

// answer routes "service:Op" to a fixed reply.
func (f *fakeAWS) answer(key string, r reply) { f.on(key, func(call) reply { return r }) }

// calledWith returns the calls of "service:Op".
func (f *fakeAWS) calledWith(key string) []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []call
	for _, c := range f.calls {
		if c.Service+":"+c.Op == key {
			out = append(out, c)
		}
	}
	return out
}

// only asserts that "service:Op" was called exactly once and returns it.
func (f *fakeAWS) only(key string) call {
	f.t.Helper()
	cs := f.calledWith(key)
	if len(cs) != 1 {
		var all []string
		for _, c := range f.calls {
			all = append(all, c.Service+":"+c.Op)
		}
		f.t.Fatalf("%s called %d times, want once; calls: %s", key, len(cs), strings.Join(slices.Compact(slices.Sorted(slices.Values(all))), ", "))
	}
	return cs[0]
}

// env is an Env whose SDK clients all talk to the fake, without retries.
func (f *fakeAWS) env() *Env {
	return &Env{AWS: aws.Config{
		Region:       "us-west-2",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDFAKE", "secret", ""),
		BaseEndpoint: aws.String(f.srv.URL),
		HTTPClient:   f.srv.Client(),
		Retryer:      func() aws.Retryer { return aws.NopRetryer{} },
	}}
}
