package portal_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

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
	a := e.agent()
	a.c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
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
			a := e.agent()
			a.c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
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
			if tc.status == http.StatusBadRequest {
				for _, l := range e.idp.Log {
					if l == "POST /oauth2/token" {
						t.Error("a code was redeemed")
					}
				}
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
	a.c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
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
