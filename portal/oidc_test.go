package portal

import (
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/heliocloud/heliocloud-go/portal/oidctest"
)

// These tests drive the sign-in code against the local provider through
// its real login form and token endpoint, with one thing wrong per case;
// each names the check that must refuse it.

var signInNow = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

const testClient = "portal-client"

func startProvider(t *testing.T) *oidctest.Provider {
	t.Helper()
	idp := oidctest.Start(
		[]oidctest.User{{Username: "alice", Password: "pw", Email: "alice@example.org", Groups: []string{"solar", "admins"}}},
		oidctest.Client{ID: testClient, RedirectURIs: []string{"https://portal.example/callback"}},
	)
	idp.Now = func() time.Time { return signInNow }
	t.Cleanup(idp.Close)
	return idp
}

func newClient(cfg *Config) *oidcClient {
	return &oidcClient{cfg: cfg, http: http.DefaultClient, now: func() time.Time { return signInNow }}
}

func providerConfig(idp *oidctest.Provider) *Config {
	return &Config{Issuer: idp.Issuer(), ClientID: testClient, BaseURL: "https://portal.example"}
}

// code signs alice in at the provider's login form for the authorization
// request that o builds for ls, and returns the code it redirects with.
func code(t *testing.T, idp *oidctest.Provider, o *oidcClient, ls loginState) string {
	t.Helper()
	u, err := o.authorizeURL(context.Background(), ls)
	if err != nil {
		t.Fatal(err)
	}
	au, _ := url.Parse(u)
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.PostForm(idp.Server.URL+"/login", url.Values{"query": {au.RawQuery}, "username": {"alice"}, "password": {"pw"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	back, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || back.Query().Get("code") == "" || back.Query().Get("state") != ls.State {
		t.Fatalf("provider answered %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	return back.Query().Get("code")
}

// signInTampered runs a whole sign-in in which the provider's ID token is
// changed by tamper before it is signed.
func signInTampered(t *testing.T, idp *oidctest.Provider, tamper func(*oidctest.Token)) (*claims, string, error) {
	t.Helper()
	idp.Tamper = tamper
	defer func() { idp.Tamper = nil }()
	o := newClient(providerConfig(idp))
	ls := newLoginState()
	return o.exchange(context.Background(), code(t, idp, o, ls), ls)
}

func newLoginState() loginState {
	return loginState{State: randomString(24), Nonce: randomString(24), Verifier: "v-" + randomString(40)}
}

func TestAuthorizeURLAsksForCodeWithS256AndNonce(t *testing.T) {
	idp := startProvider(t)
	o := newClient(providerConfig(idp))
	ls := newLoginState()
	u, err := o.authorizeURL(context.Background(), ls)
	if err != nil {
		t.Fatal(err)
	}
	au, _ := url.Parse(u)
	sum := sha256.Sum256([]byte(ls.Verifier))
	want := url.Values{
		"response_type": {"code"}, "client_id": {testClient}, "redirect_uri": {"https://portal.example/callback"},
		"scope": {"openid email profile"}, "state": {ls.State}, "nonce": {ls.Nonce},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
	}
	if got := au.Query(); got.Encode() != want.Encode() {
		t.Errorf("authorize query\n got %s\nwant %s", got.Encode(), want.Encode())
	}
	if au.Scheme+"://"+au.Host+au.Path != idp.Issuer()+"/oauth2/authorize" {
		t.Errorf("authorize endpoint %s is not the discovered one", u)
	}
}

func TestSignInAcceptsAGoodToken(t *testing.T) {
	idp := startProvider(t)
	o := newClient(providerConfig(idp))
	ls := newLoginState()
	c, raw, err := o.exchange(context.Background(), code(t, idp, o, ls), ls)
	if err != nil {
		t.Fatal(err)
	}
	if c.Subject != "sub-alice" || c.Username != "alice" || c.Email != "alice@example.org" || !slices.Equal(c.Groups, []string{"solar", "admins"}) {
		t.Errorf("claims %+v", c)
	}
	if c.Expires != signInNow.Add(time.Hour).Unix() {
		t.Errorf("expires %d, want the token's exp %d", c.Expires, signInNow.Add(time.Hour).Unix())
	}
	if strings.Count(raw, ".") != 2 {
		t.Errorf("raw token %q", raw)
	}
}

func TestSignInRefusesBadTokens(t *testing.T) {
	idp := startProvider(t)
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pubDER := x509.MarshalPKCS1PublicKey(idp.PublicKey())
	for _, tc := range []struct {
		name   string
		tamper func(*oidctest.Token)
		want   string
	}{
		{"signed by another key", func(tk *oidctest.Token) {
			tk.Sign = func(input string) []byte { return oidctest.SignPKCS1(other, crypto.SHA256, input) }
		}, "failed to verify signature"},
		{"signature of other claims", func(tk *oidctest.Token) {
			tk.Sign = func(input string) []byte { return idp.SignRS256(input + "x") }
		}, "failed to verify signature"},
		{"alg none", func(tk *oidctest.Token) {
			tk.Header["alg"] = "none"
			tk.Sign = func(string) []byte { return nil }
		}, "malformed jwt"},
		// The classic confusion: an HMAC keyed with the public key.
		{"HS256 with the public key", func(tk *oidctest.Token) {
			tk.Header["alg"] = "HS256"
			tk.Sign = func(input string) []byte {
				m := hmac.New(sha256.New, pubDER)
				m.Write([]byte(input))
				return m.Sum(nil)
			}
		}, "malformed jwt"},
		// A real signature by the provider's key, in an algorithm we did not allow.
		{"RS512", func(tk *oidctest.Token) {
			tk.Header["alg"] = "RS512"
			tk.Sign = idp.SignRS512
		}, "malformed jwt"},
		{"other issuer", func(tk *oidctest.Token) { tk.Claims["iss"] = "https://evil.example" }, "issued by a different provider"},
		{"issuer with a trailing slash", func(tk *oidctest.Token) { tk.Claims["iss"] = idp.Issuer() + "/" }, "issued by a different provider"},
		{"other audience", func(tk *oidctest.Token) { tk.Claims["aud"] = "another-client" }, "expected audience"},
		{"no audience", func(tk *oidctest.Token) { delete(tk.Claims, "aud") }, "expected audience"},
		{"access token", func(tk *oidctest.Token) { tk.Claims["token_use"] = "access" }, `token_use "access" is not an id token`},
		{"empty subject", func(tk *oidctest.Token) { tk.Claims["sub"] = "" }, "no subject"},
		{"no subject", func(tk *oidctest.Token) { delete(tk.Claims, "sub") }, "no subject"},
		{"expired a second ago", func(tk *oidctest.Token) { tk.Claims["exp"] = signInNow.Unix() - 1 }, "token is expired"},
		{"no expiry", func(tk *oidctest.Token) { delete(tk.Claims, "exp") }, "token is expired"},
		{"other nonce", func(tk *oidctest.Token) { tk.Claims["nonce"] = "replayed" }, "nonce does not match"},
		{"no nonce", func(tk *oidctest.Token) { delete(tk.Claims, "nonce") }, "nonce does not match"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, raw, err := signInTampered(t, idp, tc.tamper)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %+v %q %v, want an error with %q", c, raw, err, tc.want)
			}
		})
	}
}

// What other providers send, or Cognito sends for some users, is accepted.
func TestSignInAcceptsOptionalClaimsMissing(t *testing.T) {
	idp := startProvider(t)
	for _, tc := range []struct {
		name   string
		tamper func(*oidctest.Token)
		check  func(*claims) bool
	}{
		{"no token_use", func(tk *oidctest.Token) { delete(tk.Claims, "token_use") }, func(c *claims) bool { return c.TokenUse == "" }},
		{"audience list", func(tk *oidctest.Token) { tk.Claims["aud"] = []string{"other", testClient} }, func(c *claims) bool { return true }},
		{"no cognito:username", func(tk *oidctest.Token) { delete(tk.Claims, "cognito:username") }, func(c *claims) bool { return c.Username == "sub-alice" }},
		{"expires this second", func(tk *oidctest.Token) { tk.Claims["exp"] = signInNow.Unix() }, func(c *claims) bool { return c.Expires == signInNow.Unix() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _, err := signInTampered(t, idp, tc.tamper)
			if err != nil || !tc.check(c) {
				t.Fatalf("got %+v %v", c, err)
			}
		})
	}
}

func TestSignInRefusesAWrongVerifierOrCode(t *testing.T) {
	idp := startProvider(t)
	o := newClient(providerConfig(idp))
	ls := newLoginState()
	cd := code(t, idp, o, ls)
	wrong := ls
	wrong.Verifier = "v-" + randomString(40)
	if _, _, err := o.exchange(context.Background(), cd, wrong); err == nil || !strings.Contains(err.Error(), "token endpoint") {
		t.Errorf("wrong PKCE verifier: %v", err)
	}
	// The provider spent the code on the failed attempt.
	if _, _, err := o.exchange(context.Background(), cd, ls); err == nil || !strings.Contains(err.Error(), "invalid_grant") {
		t.Errorf("second use of a code: %v", err)
	}
}

// The portal stack gives every endpoint, so a deployed portal never asks
// for the discovery document; given none, the portal discovers them all.
func TestEndpointsFromConfigOrDiscovery(t *testing.T) {
	idp := startProvider(t)
	cfg := providerConfig(idp)
	cfg.AuthorizeURL, cfg.TokenURL, cfg.JWKSURL = idp.Issuer()+"/oauth2/authorize", idp.Issuer()+"/oauth2/token", idp.Issuer()+"/.well-known/jwks.json"
	o := newClient(cfg)
	ls := newLoginState()
	if _, _, err := o.exchange(context.Background(), code(t, idp, o, ls), ls); err != nil {
		t.Fatal(err)
	}
	if slices.Contains(idp.Log, "GET /.well-known/openid-configuration") {
		t.Errorf("discovery was requested although the config gave every endpoint: %v", idp.Log)
	}

	// Any one endpoint missing is discovered; the given ones are kept.
	for _, drop := range []func(*Config){
		func(c *Config) { c.AuthorizeURL = "" }, func(c *Config) { c.TokenURL = "" }, func(c *Config) { c.JWKSURL = "" },
	} {
		idp.Log = nil
		partial := *cfg
		drop(&partial)
		o = newClient(&partial)
		ls = newLoginState()
		if _, _, err := o.exchange(context.Background(), code(t, idp, o, ls), ls); err != nil {
			t.Errorf("%+v: %v", partial, err)
		}
		if !slices.Contains(idp.Log, "GET /.well-known/openid-configuration") {
			t.Errorf("%+v: discovery was not requested: %v", partial, idp.Log)
		}
	}

	// Only the JWKS given: the rest is discovered, and the given one used.
	idp.Log = nil
	cfg = providerConfig(idp)
	cfg.JWKSURL = idp.Issuer() + "/nowhere"
	o = newClient(cfg)
	ls = newLoginState()
	if _, _, err := o.exchange(context.Background(), code(t, idp, o, ls), ls); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("the configured JWKS URL was not used: %v", err)
	}
	if !slices.Contains(idp.Log, "GET /.well-known/openid-configuration") {
		t.Errorf("discovery was not requested: %v", idp.Log)
	}
}

func TestDiscoveryFailuresAreReportedAndRetried(t *testing.T) {
	idp := startProvider(t)
	// A provider whose discovery document names another issuer is refused.
	cfg := providerConfig(idp)
	cfg.Issuer += "/"
	if _, err := newClient(cfg).authorizeURL(context.Background(), newLoginState()); err == nil || !strings.Contains(err.Error(), "did not match the issuer") {
		t.Errorf("issuer mismatch: %v", err)
	}

	// A document without endpoints is refused.
	var doc string
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(doc))
	}))
	defer fake.Close()
	cfg = &Config{Issuer: fake.URL, ClientID: testClient, BaseURL: "https://portal.example"}
	o := newClient(cfg)
	for _, missing := range []string{"authorization_endpoint", "token_endpoint", "jwks_uri"} {
		fields := map[string]string{"authorization_endpoint": `"` + fake.URL + `/a"`, "token_endpoint": `"` + fake.URL + `/t"`, "jwks_uri": `"` + fake.URL + `/k"`}
		delete(fields, missing)
		doc = `{"issuer":"` + fake.URL + `"`
		for k, v := range fields {
			doc += `,"` + k + `":` + v
		}
		doc += "}"
		if _, err := o.authorizeURL(context.Background(), newLoginState()); err == nil || !strings.Contains(err.Error(), "did not announce") {
			t.Errorf("discovery without %s: %v", missing, err)
		}
	}
	// A failure is not remembered: once the document is right, sign-in works.
	doc = `{"issuer":"` + fake.URL + `","authorization_endpoint":"` + fake.URL + `/a","token_endpoint":"` + fake.URL + `/t","jwks_uri":"` + fake.URL + `/k"}`
	u, err := o.authorizeURL(context.Background(), newLoginState())
	if err != nil || !strings.HasPrefix(u, fake.URL+"/a?") {
		t.Errorf("after the provider recovered: %q %v", u, err)
	}
	// And once discovered, the endpoints are kept.
	doc = "{}"
	if u, err := o.authorizeURL(context.Background(), newLoginState()); err != nil || !strings.HasPrefix(u, fake.URL+"/a?") {
		t.Errorf("discovered endpoints were not kept: %q %v", u, err)
	}
}

func TestTokenEndpointWithoutIDToken(t *testing.T) {
	var answer string
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(answer))
	}))
	defer fake.Close()
	cfg := &Config{Issuer: fake.URL, ClientID: testClient, BaseURL: "https://portal.example",
		AuthorizeURL: fake.URL + "/a", TokenURL: fake.URL + "/t", JWKSURL: fake.URL + "/k"}
	o := newClient(cfg)
	for _, a := range []string{`{"access_token":"x","token_type":"Bearer"}`, `{"access_token":"x","token_type":"Bearer","id_token":""}`, `{"access_token":"x","token_type":"Bearer","id_token":7}`} {
		answer = a
		if _, _, err := o.exchange(context.Background(), "code", newLoginState()); err == nil || !strings.Contains(err.Error(), "no id_token") {
			t.Errorf("%s: %v", a, err)
		}
	}
}
