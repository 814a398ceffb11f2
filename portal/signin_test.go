package portal_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/heliocloud/heliocloud-go/portal"
	"github.com/heliocloud/heliocloud-go/portal/oidctest"
)

// A sign-in started with ?return= lands there only when it is a path on the
// portal; everything else, however it is spelled, lands on /machines.
func TestSignInNeverRedirectsOffSite(t *testing.T) {
	e := newEnv(t)
	portalURL, _ := url.Parse(e.srv.URL)
	idpURL, _ := url.Parse(e.idp.Server.URL)
	for _, tc := range []struct{ query, want string }{
		{"/%09/evil.example", "/machines"},
		{"//evil.example", "/machines"},
		{"/%5Cevil.example", "/machines"},
		{"/%252F/evil.example", "/machines"},
		{"https://evil.example", "/machines"},
		{"javascript:alert(1)", "/machines"},
		{"/keys", "/keys"},
		{"/launch%3Fimage%3Dubuntu", "/launch?image=ubuntu"},
	} {
		a := e.agent()
		var offSite []string
		a.c.CheckRedirect = func(req *http.Request, _ []*http.Request) error {
			if req.URL.Host != portalURL.Host && req.URL.Host != idpURL.Host {
				offSite = append(offSite, req.URL.String())
				return http.ErrUseLastResponse
			}
			return nil
		}
		_, landing, _ := e.signInFrom(a, "/login?return="+tc.query, "alice", "alice-pw")
		got, _ := url.Parse(landing.URL)
		if len(offSite) > 0 || got.Host != portalURL.Host || got.RequestURI() != tc.want {
			t.Errorf("return=%s: landed on %s (off-site redirects %v), want %s", tc.query, landing.URL, offSite, tc.want)
		}
		if landing.Status != http.StatusOK || !strings.Contains(landing.Body, "Sign out") {
			t.Errorf("return=%s: landing %d", tc.query, landing.Status)
		}
	}
}

func sessionSet(a *agent) bool {
	for _, c := range a.cookies {
		if c.Name == "__Host-heliocloud-session" && c.Value != "" {
			return true
		}
	}
	return false
}

// The login cookie carries state, nonce and PKCE verifier for ten minutes,
// and it must reach /callback on the provider's cross-site redirect.
func TestLoginCookie(t *testing.T) {
	e := newEnv(t)
	a := e.agent().noRedirects()
	if p := a.get("/login"); p.Status != http.StatusSeeOther {
		t.Fatalf("/login: %d", p.Status)
	}
	var login *http.Cookie
	for _, c := range a.cookies {
		if c.Name == "__Host-heliocloud-login" {
			login = c
		}
	}
	if login == nil || login.MaxAge != 600 || login.SameSite != http.SameSiteLaxMode || !login.Secure || !login.HttpOnly || login.Path != "/" {
		t.Errorf("login cookie %+v", login)
	}
}

// A callback the portal did not start, or started too long ago, redeems
// no code and starts no session.
func TestCallbackRefusals(t *testing.T) {
	for _, tc := range []struct {
		name   string
		before func(e *env, a *agent)
		query  func(state string) string
		status int
		text   string
	}{
		{"no sign-in started", nil, func(string) string { return "code=x&state=" }, http.StatusBadRequest, "expired"},
		{"empty state", func(e *env, a *agent) {}, func(string) string { return "code=x&state=" }, http.StatusBadRequest, "expired"},
		{"after ten minutes", func(e *env, a *agent) { e.clk.Add(10 * time.Minute) }, func(s string) string { return "code=x&state=" + s }, http.StatusBadRequest, "expired"},
		{"provider refused", func(e *env, a *agent) {}, func(s string) string { return "error=access_denied&error_description=no&state=" + s }, http.StatusForbidden, "Sign-in was refused: access_denied"},
		{"bad code", func(e *env, a *agent) {}, func(s string) string { return "code=forged&state=" + s }, http.StatusBadGateway, "Sign-in failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			a := e.agent().noRedirects()
			state := ""
			if tc.before != nil {
				resp, err := a.c.Get(e.srv.URL + "/login")
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				u, _ := url.Parse(resp.Header.Get("Location"))
				state = u.Query().Get("state")
				tc.before(e, a)
			}
			p := a.get("/callback?" + tc.query(state))
			if p.Status != tc.status || !strings.Contains(p.Body, tc.text) {
				t.Errorf("got %d, want %d with %q:\n%s", p.Status, tc.status, tc.text, p.Body)
			}
			if sessionSet(a) {
				t.Error("a session was started")
			}
			// only "bad code" gets as far as the token endpoint
			if tc.status != http.StatusBadGateway && tokenRequests(e) != 0 {
				t.Error("a code was redeemed")
			}
		})
	}
}

// The portal turns a token that fails verification into a refused sign-in.
func TestForgedTokenStartsNoSession(t *testing.T) {
	e := newEnv(t)
	e.idp.Tamper = func(tk *oidctest.Token) { tk.Claims["nonce"] = "from another sign-in" }
	a, landing, _ := e.signIn("alice", "alice-pw")
	if landing.Status != http.StatusBadGateway || !strings.Contains(landing.Body, "Sign-in failed") || sessionSet(a) {
		t.Errorf("forged token: %d, session %v", landing.Status, sessionSet(a))
	}
}

// The session lasts as long as the ID token, to the second.
func TestSessionEndsWithTheIDToken(t *testing.T) {
	e := newEnv(t)
	a, _, _ := e.signIn("alice", "alice-pw")
	a.noRedirects()
	e.clk.Add(time.Hour - time.Second)
	if p := a.get("/machines"); p.Status != http.StatusOK {
		t.Errorf("a second before the token expires: %d", p.Status)
	}
	e.clk.Add(time.Second)
	if p := a.get("/machines"); p.Status != http.StatusSeeOther {
		t.Errorf("when the token expires: %d", p.Status)
	}
}

// Same-origin form posts go through; the Origin and Sec-Fetch-Site checks
// refuse only cross-site ones (TestEveryStateChangeNeedsCSRFToken).
func TestSameOriginPostsAreAccepted(t *testing.T) {
	e := newEnv(t)
	a, _, tok := e.signIn("alice", "alice-pw")
	for _, hdr := range [][]string{
		nil,
		{"Origin", e.srv.URL},
		{"Origin", "null"},
		{"Sec-Fetch-Site", "same-origin"},
		{"Sec-Fetch-Site", "none"},
		{"Sec-Fetch-Site", "same-origin", "Origin", e.srv.URL},
	} {
		if p := a.post("/keys", url.Values{"csrf": {tok}, "name": {"k"}}, hdr...); p.Status == http.StatusForbidden {
			t.Errorf("%v: refused as cross-site", hdr)
		}
	}
	for _, hdr := range [][]string{
		{"Sec-Fetch-Site", "same-site"},
		{"Origin", e.srv.URL + ".evil.example"},
		{"Origin", strings.Replace(e.srv.URL, "https:", "http:", 1)},
	} {
		if p := a.post("/keys", url.Values{"csrf": {tok}, "name": {"k"}}, hdr...); p.Status != http.StatusForbidden {
			t.Errorf("%v: got %d, want 403", hdr, p.Status)
		}
	}
}

// setCookie puts a cookie into a's jar for the portal, as a browser that
// kept or copied it would send it.
func (a *agent) setCookie(name, value string) {
	u, _ := url.Parse(a.e.srv.URL)
	a.c.Jar.SetCookies(u, []*http.Cookie{{Name: name, Value: value, Path: "/", Secure: true}})
}

// jarCookie is the value of the cookie named name that a would send the
// portal.
func (a *agent) jarCookie(name string) string {
	u, _ := url.Parse(a.e.srv.URL)
	for _, c := range a.c.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// noRedirects makes a stop at the first response.
func (a *agent) noRedirects() *agent {
	a.c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return a
}

func (a *agent) head(path string) int {
	a.e.t.Helper()
	resp, err := a.c.Head(a.e.srv.URL + path)
	if err != nil {
		a.e.t.Fatalf("HEAD %s: %v", path, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func tokenRequests(e *env) int {
	n := 0
	for _, l := range e.idp.Log {
		if l == "POST /oauth2/token" {
			n++
		}
	}
	return n
}

// Every ownership tag and cost filter is the session's subject, so a
// session without one is refused even inside a cookie the portal's key
// opens (the provider's tokens always have one; this is the check behind
// that).
func TestSessionWithoutSubjectIsRefused(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		sub     string
		refused bool
	}{{"", true}, {"sub-alice", false}} {
		a := e.agent().noRedirects()
		a.setCookie("__Host-heliocloud-session", portal.SealedSession(sessionSecret, portal.Session{
			ID: "session-1", Subject: tc.sub, Username: "alice", Expires: e.clk.Now().Add(time.Hour),
		}))
		resp, err := a.c.Get(e.srv.URL + "/machines")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		toSignIn := resp.StatusCode == http.StatusSeeOther && strings.HasPrefix(resp.Header.Get("Location"), "/login")
		if toSignIn != tc.refused {
			t.Errorf("subject %q: %d to %q, want refused %v", tc.sub, resp.StatusCode, resp.Header.Get("Location"), tc.refused)
		}
	}
}

// A login cookie without a state never matches a callback, even one
// whose state is empty too.
func TestLoginStateMustNotBeEmpty(t *testing.T) {
	for _, tc := range []struct {
		state  string
		status int
		tokens int
	}{{"", http.StatusBadRequest, 0}, {"state-1", http.StatusBadGateway, 1}} {
		e := newEnv(t)
		a := e.agent().noRedirects()
		a.setCookie("__Host-heliocloud-login", portal.SealedLogin(sessionSecret, tc.state, e.clk.Now().Add(time.Minute)))
		// "state-1" gets past the state check, so its made-up code reaches
		// the token endpoint and fails there.
		if p := a.get("/callback?code=x&state=" + tc.state); p.Status != tc.status || tokenRequests(e) != tc.tokens {
			t.Errorf("state %q: %d with %d token requests, want %d with %d", tc.state, p.Status, tokenRequests(e), tc.status, tc.tokens)
		}
	}
}

// A login is good for one callback: the login cookie is cleared, so the
// same callback again redeems nothing.
func TestLoginIsUsedOnce(t *testing.T) {
	e := newEnv(t)
	a := e.agent()
	var callback string
	a.c.CheckRedirect = func(req *http.Request, _ []*http.Request) error {
		if req.URL.Path == "/callback" {
			callback = req.URL.RequestURI()
		}
		return nil
	}
	if _, landing, _ := e.signInFrom(a, "/login", "alice", "alice-pw"); landing.Status != http.StatusOK || callback == "" {
		t.Fatalf("sign-in: %d, callback %q", landing.Status, callback)
	}
	if !cookieCleared(a, "__Host-heliocloud-login") {
		t.Error("the login cookie outlived the callback")
	}
	if p := a.get(callback); p.Status != http.StatusBadRequest || tokenRequests(e) != 1 {
		t.Errorf("the same callback again: %d, %d token requests", p.Status, tokenRequests(e))
	}
}

// A provider that cannot be reached gets a message, and no login starts.
func TestSignInServiceUnreachable(t *testing.T) {
	down := httptest.NewServer(nil)
	down.Close()
	e := newEnv(t, func(c *portal.Config) { c.Issuer = down.URL })
	a := e.agent().noRedirects()
	if p := a.get("/login"); p.Status != http.StatusBadGateway || !strings.Contains(p.Body, "cannot be reached") {
		t.Errorf("/login with the provider down: %d %s", p.Status, p.Body)
	}
	if len(a.cookies) != 0 {
		t.Errorf("cookies set: %v", a.cookies)
	}
}

// Forms may post to the portal and, for sign-out, to the provider's
// logout host; without a logout URL to the portal alone.
func TestFormActionsAllowTheLogoutHostOnly(t *testing.T) {
	for _, tc := range []struct {
		logout bool
		want   func(e *env) string
	}{
		{true, func(e *env) string { return "form-action 'self' " + e.idp.Server.URL }},
		{false, func(*env) string { return "form-action 'self'" }},
	} {
		e := newEnv(t, func(c *portal.Config) {
			if !tc.logout {
				c.LogoutURL = ""
			}
		})
		resp, err := e.srv.Client().Get(e.srv.URL + "/health")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		var got string
		for d := range strings.SplitSeq(resp.Header.Get("Content-Security-Policy"), ";") {
			if d = strings.Join(strings.Fields(d), " "); strings.HasPrefix(d, "form-action ") {
				got = d
			}
		}
		if want := tc.want(e); got != want {
			t.Errorf("logout URL %v: %q, want %q", tc.logout, got, want)
		}
	}
}

// Without a logout URL, sign-out ends the portal's session only and lands
// on the portal's own page.
func TestSignOutWithoutProviderLogout(t *testing.T) {
	e := newEnv(t, func(c *portal.Config) { c.LogoutURL = "" })
	a, _, tok := e.signIn("alice", "alice-pw")
	p := a.post("/logout", url.Values{"csrf": {tok}})
	if p.URL != e.srv.URL+"/signed-out" || !strings.Contains(p.Body, "You are signed out") || !sessionCleared(a) {
		t.Errorf("sign-out landed on %s %d, session cookie cleared %v", p.URL, p.Status, sessionCleared(a))
	}
	if e.idp.HostedSessions() != 1 {
		t.Errorf("the provider's session was ended")
	}
}

func sessionCleared(a *agent) bool { return cookieCleared(a, "__Host-heliocloud-session") }

// cookieCleared tells whether the last cookie named name that a received
// cleared it.
func cookieCleared(a *agent, name string) bool {
	cleared := false
	for _, c := range a.cookies {
		if c.Name == name {
			cleared = c.MaxAge < 0
		}
	}
	return cleared
}

// Sign-out forgets the AWS credentials the portal got for the session: a
// copy of the session cookie taken before (it stays sealed and unexpired
// until the ID token expires) has to ask the identity pool again, which
// may refuse.
func TestSignOutForgetsTheSessionsCredentials(t *testing.T) {
	e := newEnv(t)
	a, _, tok := e.signIn("alice", "alice-pw")
	copied := a.jarCookie("__Host-heliocloud-session")
	if n := len(e.aws.called("GetCredentialsForIdentity")); n != 1 {
		t.Fatalf("credentials fetched %d times on sign-in, want 1", n)
	}
	a.post("/logout", url.Values{"csrf": {tok}})
	e.aws.mu.Lock()
	e.aws.identityErr = apiErr("NotAuthorizedException", "Invalid login token")
	e.aws.mu.Unlock()
	b := e.agent()
	b.setCookie("__Host-heliocloud-session", copied)
	if p := b.get("/machines"); p.Status != http.StatusForbidden || len(e.aws.called("GetCredentialsForIdentity")) != 2 {
		t.Errorf("copied cookie after sign-out: %d, credentials fetched %d times, want 403 after asking again", p.Status, len(e.aws.called("GetCredentialsForIdentity")))
	}
}

// The home page is for visitors; a signed-in user goes to their machines.
// A signed-in HEAD is answered like GET, without a CSRF token; a
// signed-out one is sent to sign in, like GET.
func TestHomeAndHead(t *testing.T) {
	e := newEnv(t)
	v := e.agent().noRedirects()
	if s := v.head("/machines"); s != http.StatusSeeOther {
		t.Errorf("signed-out HEAD /machines: %d, want a redirect to sign in", s)
	}
	if p := v.get("/"); p.Status != http.StatusOK || !strings.Contains(p.Body, `href="/login"`) {
		t.Errorf("visitor at /: %d", p.Status)
	}
	a, _, _ := e.signIn("alice", "alice-pw")
	a.noRedirects()
	resp, err := a.c.Get(e.srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/machines" {
		t.Errorf("signed in at /: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if s := a.head("/machines"); s != http.StatusOK {
		t.Errorf("signed in HEAD /machines: %d", s)
	}
}

// A session the cookie cannot hold is not started: an ID token whose exp is
// past year 9999 verifies, but its expiry has no JSON form.
func TestTokenTheSessionCannotHold(t *testing.T) {
	e := newEnv(t)
	e.idp.Tamper = func(tk *oidctest.Token) { tk.Claims["exp"] = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC).Unix() }
	a, landing, _ := e.signIn("alice", "alice-pw")
	if landing.Status != http.StatusInternalServerError || !strings.Contains(landing.Body, "Could not start the session") || sessionSet(a) {
		t.Errorf("exp in year 10000: %d at %s, session %v", landing.Status, landing.URL, sessionSet(a))
	}
}
