package portal_test

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heliocloud/heliocloud-go/portal"
	"github.com/heliocloud/heliocloud-go/portal/oidctest"
)

func decodeJWTPart(s string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// clock is a settable time source shared by the portal, the fakes and the
// identity provider.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

var users = []oidctest.User{
	{Username: "alice", Password: "alice-pw", Email: "alice@example.org", Groups: []string{"solar"}},
	{Username: "bob", Password: "bob-pw", Email: "bob@example.org"},
	{Username: "root", Password: "root-pw", Email: "root@example.org", Groups: []string{"admins"}},
	{Username: "carol", Password: "carol-pw", Email: "carol@example.org", Groups: []string{"pending"}},
}

func testConfig() portal.Config {
	return portal.Config{
		Instance: "test", Region: "us-east-1", ClientID: "portal-client",
		UserPoolID: "us-east-1_pool", IdentityPoolID: "us-east-1:pool-id",
		AdminGroup: "admins", PendingGroup: "pending", ApprovedGroup: "approved",
		Images: []portal.Image{
			{Key: "al2023", Name: "Amazon Linux 2023", User: "ec2-user", Parameter: "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-{arch}", Arch: map[string]string{"x86_64": "x86_64", "arm64": "arm64"}},
			{Key: "ubuntu", Name: "Ubuntu 24.04 LTS", User: "ubuntu", Parameter: "/aws/service/canonical/ubuntu/server/24.04/stable/current/{arch}/hvm/ebs-gp3/ami-id", Arch: map[string]string{"x86_64": "amd64", "arm64": "arm64"}},
			{Key: "dlami", Name: "Deep Learning (PyTorch, GPU)", User: "ubuntu", Parameter: "/aws/service/deeplearning/ami/x86_64/oss-nvidia-driver-gpu-pytorch-2.7-ubuntu-22.04/latest/ami-id", Arch: map[string]string{"x86_64": "x86_64"}},
		},
		InstanceTypes: []portal.InstanceType{
			{Name: "t3.medium", Group: "general"}, {Name: "m7i.large", Group: "general"}, {Name: "c7i.xlarge", Group: "compute"},
			{Name: "r7i.large", Group: "memory"}, {Name: "g5.xlarge", Group: "gpu"}, {Name: "x9z.huge", Group: "memory"},
		},
		Volume:             portal.VolumeBounds{MinGiB: 32, MaxGiB: 256, DefaultGiB: 64},
		Teams:              []portal.Team{{Name: "solar", InstanceProfileARN: "arn:aws:iam::111122223333:instance-profile/test-team-solar"}, {Name: "magneto", InstanceProfileARN: "arn:aws:iam::111122223333:instance-profile/test-team-magneto"}},
		InstanceProfileARN: "arn:aws:iam::111122223333:instance-profile/test-vm",
		Subnets:            []portal.Subnet{{ID: "subnet-a", AZ: "us-east-1a"}, {ID: "subnet-b", AZ: "us-east-1b"}},
		SecurityGroupIDs:   []string{"sg-vm"},
		MaxRunning:         2, MonthlySpendLimit: 100,
		AutoStop: portal.AutoStop{IdleHours: 2, DailyTime: "20:00 UTC"},
	}
}

// sessionSecret keys every test portal's cookies.
var sessionSecret = []byte(strings.Repeat("k", 32))

// serverLog fails the test on what net/http logs when a handler goes on
// after its response is written (a second status: a return missing after
// an error page or redirect) or panics. Other server messages, such as TLS
// handshakes a client broke off, are not the handlers' doing.
type serverLog struct{ t testing.TB }

func (l serverLog) Write(b []byte) (int, error) {
	if msg := string(b); strings.Contains(msg, "superfluous response.WriteHeader") || strings.Contains(msg, "panic serving") {
		l.t.Errorf("portal server: %s", msg)
	}
	return len(b), nil
}

// env is one portal served over TLS on localhost with its identity
// provider and fake AWS.
type env struct {
	t   testing.TB
	clk *clock
	aws *fakeAWS
	idp *oidctest.Provider
	srv *httptest.Server
	cfg portal.Config
}

func newEnv(t testing.TB, mods ...func(*portal.Config)) *env {
	t.Helper()
	return newEnvOpts(t, portal.Options{}, mods...)
}

// newEnvOpts is newEnv with the portal's options; the session secret and
// clock are always the env's.
func newEnvOpts(t testing.TB, opts portal.Options, mods ...func(*portal.Config)) *env {
	t.Helper()
	clk := &clock{t: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
	e := &env{t: t, clk: clk, aws: newFakeAWS(clk.Now)}
	e.srv = httptest.NewUnstartedServer(nil)
	e.srv.Config.ErrorLog = log.New(serverLog{t}, "", 0)
	e.srv.StartTLS()
	t.Cleanup(e.srv.Close)
	e.idp = oidctest.Start(users, oidctest.Client{ID: "portal-client", RedirectURIs: []string{e.srv.URL + "/callback"}, LogoutURIs: []string{e.srv.URL + "/signed-out"}})
	e.idp.Now = clk.Now
	t.Cleanup(e.idp.Close)
	e.cfg = testConfig()
	e.cfg.BaseURL, e.cfg.Issuer, e.cfg.LogoutURL = e.srv.URL, e.idp.Issuer(), e.idp.LogoutURL()
	for _, m := range mods {
		m(&e.cfg)
	}
	opts.SessionSecret, opts.Now = sessionSecret, clk.Now
	p, err := portal.New(e.cfg, e.aws.clients(), opts)
	if err != nil {
		t.Fatal(err)
	}
	e.srv.Config.Handler = p
	return e
}

// agent is one browser: a cookie jar, and every response it saw.
type agent struct {
	e       *env
	c       *http.Client
	mu      sync.Mutex
	cookies []*http.Cookie // every Set-Cookie received, in order
}

type recorder struct {
	a    *agent
	base http.RoundTripper
}

func (r recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.base.RoundTrip(req)
	if err == nil {
		r.a.mu.Lock()
		r.a.cookies = append(r.a.cookies, resp.Cookies()...)
		r.a.mu.Unlock()
	}
	return resp, err
}

func (e *env) agent() *agent {
	jar, _ := cookiejar.New(nil)
	a := &agent{e: e}
	a.c = &http.Client{Jar: jar, Transport: recorder{a, e.srv.Client().Transport}}
	return a
}

type page struct {
	Status int
	URL    string
	Body   string
}

func (a *agent) do(req *http.Request) page {
	a.e.t.Helper()
	resp, err := a.c.Do(req)
	if err != nil {
		a.e.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return page{resp.StatusCode, resp.Request.URL.String(), string(b)}
}

func (a *agent) get(path string) page {
	req, _ := http.NewRequest(http.MethodGet, a.e.srv.URL+path, nil)
	return a.do(req)
}

func (a *agent) post(path string, form url.Values, hdr ...string) page {
	req, _ := http.NewRequest(http.MethodPost, a.e.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return a.do(req)
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func csrfOf(t testing.TB, body string) string {
	t.Helper()
	m := csrfRe.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no csrf token in page:\n%s", body)
	}
	return m[1]
}

// signIn runs the whole authorization-code flow through the provider's
// login form and returns the landing page and a CSRF token.
func (e *env) signIn(user, password string) (*agent, page, string) {
	e.t.Helper()
	return e.signInFrom(e.agent(), "/login", user, password)
}

// signInFrom is signIn starting at loginPath with agent a.
func (e *env) signInFrom(a *agent, loginPath, user, password string) (*agent, page, string) {
	e.t.Helper()
	login := a.get(loginPath)
	if !strings.Contains(login.Body, `name="password"`) {
		e.t.Fatalf("expected the provider's login form, got %d %s", login.Status, login.Body)
	}
	q := regexp.MustCompile(`name="query" value="([^"]+)"`).FindStringSubmatch(login.Body)
	req, _ := http.NewRequest(http.MethodPost, e.idp.Server.URL+"/login", strings.NewReader(url.Values{
		"query": {htmlUnescape(q[1])}, "username": {user}, "password": {password},
	}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	landing := a.do(req)
	var tok string
	if m := csrfRe.FindStringSubmatch(landing.Body); m != nil {
		tok = m[1]
	}
	return a, landing, tok
}

func htmlUnescape(s string) string {
	return strings.NewReplacer("&amp;", "&", "&#43;", "+", "&#34;", `"`, "&#39;", "'", "&lt;", "<", "&gt;", ">").Replace(s)
}
