package portal_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
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
