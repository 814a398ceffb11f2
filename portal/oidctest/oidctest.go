// Package oidctest is a small OpenID Connect provider for tests that
// behaves like Cognito's hosted UI where the portal relies on it: the
// authorization-code flow with PKCE (S256 required), RS256 ID tokens with
// cognito:username and cognito:groups claims, a JWKS endpoint, a hosted
// session cookie, and Cognito's /logout endpoint with client_id and
// logout_uri.
package oidctest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	_ "crypto/sha512" // SignRS512
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sync"
	"time"
)

// User is an account at the provider.
type User struct {
	Username, Password, Email string
	Groups                    []string
	// PreferredUsername is set for federated users, whose Username is an
	// opaque id such as launchpad_0a1b2c.
	PreferredUsername string
}

// Client is a registered app client.
type Client struct {
	ID           string
	RedirectURIs []string
	LogoutURIs   []string
}

// Provider is a running test identity provider. Its zero value is not
// usable; call Start.
type Provider struct {
	Server *httptest.Server
	// TokenTTL is the ID token lifetime. Default one hour.
	TokenTTL time.Duration
	Now      func() time.Time

	key     *rsa.PrivateKey
	kid     string
	mu      sync.Mutex
	users   map[string]User
	clients map[string]Client
	codes   map[string]grant
	hosted  map[string]string // hosted-UI session id -> username
	// Log records every request path the provider served, in order.
	Log []string
	// Tamper, when set, changes each ID token before it is signed: tests
	// use it to play a provider, or a party in the middle, that gets one
	// thing wrong.
	Tamper func(*Token)
}

// Token is an ID token before it is signed.
type Token struct {
	Header, Claims map[string]any
	// Sign returns the signature of the encoded header and claims. It is
	// RS256 with the provider's key unless Tamper replaces it.
	Sign func(input string) []byte
}

type grant struct {
	client, redirect, challenge, nonce, user string
	expires                                  time.Time
}

// Start runs a provider on a local port with the given users and clients.
func Start(users []User, clients ...Client) *Provider {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	p := &Provider{
		TokenTTL: time.Hour, Now: time.Now, key: key, kid: "test-key-1",
		users: map[string]User{}, clients: map[string]Client{}, codes: map[string]grant{}, hosted: map[string]string{},
	}
	for _, u := range users {
		p.users[u.Username] = u
	}
	for _, c := range clients {
		p.clients[c.ID] = c
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", p.discovery)
	mux.HandleFunc("GET /.well-known/jwks.json", p.jwks)
	mux.HandleFunc("GET /oauth2/authorize", p.authorize)
	mux.HandleFunc("POST /login", p.loginPost)
	mux.HandleFunc("POST /oauth2/token", p.token)
	mux.HandleFunc("GET /logout", p.logout)
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.Log = append(p.Log, r.Method+" "+r.URL.Path)
		p.mu.Unlock()
		mux.ServeHTTP(w, r)
	}))
	return p
}

// Close stops the provider.
func (p *Provider) Close() { p.Server.Close() }

// Issuer is the provider's issuer URL.
func (p *Provider) Issuer() string { return p.Server.URL }

// LogoutURL is the provider's Cognito-style logout endpoint.
func (p *Provider) LogoutURL() string { return p.Server.URL + "/logout" }

// AddUser adds or replaces a user.
func (p *Provider) AddUser(u User) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.users[u.Username] = u
}

// HostedSessions is the number of signed-in hosted-UI sessions.
func (p *Provider) HostedSessions() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.hosted)
}

func (p *Provider) discovery(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                p.Issuer(),
		"authorization_endpoint":                p.Server.URL + "/oauth2/authorize",
		"token_endpoint":                        p.Server.URL + "/oauth2/token",
		"jwks_uri":                              p.Server.URL + "/.well-known/jwks.json",
		"response_types_supported":              []string{"code"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"code_challenge_methods_supported":      []string{"S256"},
	})
}

func (p *Provider) jwks(w http.ResponseWriter, r *http.Request) {
	pub := p.key.PublicKey
	writeJSON(w, http.StatusOK, map[string]any{"keys": []map[string]string{{
		"kty": "RSA", "alg": "RS256", "use": "sig", "kid": p.kid,
		"n": b64(pub.N.Bytes()), "e": b64(big.NewInt(int64(pub.E)).Bytes()),
	}}})
}

var loginPage = template.Must(template.New("login").Parse(`<!doctype html><html><head><meta name="viewport" content="width=device-width"><title>Sign in</title></head>
<body><h1>Test identity provider</h1>{{if .Error}}<p id="error">{{.Error}}</p>{{end}}
<form method="post" action="/login">
<input type="hidden" name="query" value="{{.Query}}">
<label>Username <input id="username" name="username" autocomplete="username"></label>
<label>Password <input id="password" name="password" type="password"></label>
<button id="signin" type="submit">Sign in</button></form></body></html>`))

func (p *Provider) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	c, ok := p.clients[q.Get("client_id")]
	if !ok || !slices.Contains(c.RedirectURIs, q.Get("redirect_uri")) {
		http.Error(w, "invalid client_id or redirect_uri", http.StatusBadRequest)
		return
	}
	if q.Get("response_type") != "code" || q.Get("code_challenge") == "" || q.Get("code_challenge_method") != "S256" {
		http.Error(w, "response_type=code with an S256 code_challenge is required", http.StatusBadRequest)
		return
	}
	if ck, err := r.Cookie("hosted"); err == nil {
		p.mu.Lock()
		user, ok := p.hosted[ck.Value]
		p.mu.Unlock()
		if ok {
			p.issueCode(w, r, q, user)
			return
		}
	}
	loginPage.Execute(w, map[string]string{"Query": q.Encode()})
}

func (p *Provider) loginPost(w http.ResponseWriter, r *http.Request) {
	q, err := url.ParseQuery(r.PostFormValue("query"))
	if err != nil {
		http.Error(w, "bad query", http.StatusBadRequest)
		return
	}
	p.mu.Lock()
	u, ok := p.users[r.PostFormValue("username")]
	p.mu.Unlock()
	if !ok || u.Password != r.PostFormValue("password") {
		w.WriteHeader(http.StatusUnauthorized)
		loginPage.Execute(w, map[string]string{"Query": q.Encode(), "Error": "Incorrect username or password."})
		return
	}
	sid := randomString()
	p.mu.Lock()
	p.hosted[sid] = u.Username
	p.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: "hosted", Value: sid, Path: "/", HttpOnly: true})
	p.issueCode(w, r, q, u.Username)
}

func (p *Provider) issueCode(w http.ResponseWriter, r *http.Request, q url.Values, user string) {
	code := randomString()
	p.mu.Lock()
	p.codes[code] = grant{
		client: q.Get("client_id"), redirect: q.Get("redirect_uri"), challenge: q.Get("code_challenge"),
		nonce: q.Get("nonce"), user: user, expires: p.Now().Add(5 * time.Minute),
	}
	p.mu.Unlock()
	back := url.Values{"code": {code}}
	if s := q.Get("state"); s != "" {
		back.Set("state", s)
	}
	http.Redirect(w, r, q.Get("redirect_uri")+"?"+back.Encode(), http.StatusFound)
}

func (p *Provider) token(w http.ResponseWriter, r *http.Request) {
	if r.PostFormValue("grant_type") != "authorization_code" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "unsupported_grant_type"})
		return
	}
	code := r.PostFormValue("code")
	p.mu.Lock()
	g, ok := p.codes[code]
	delete(p.codes, code) // codes are single-use
	u := p.users[g.user]
	p.mu.Unlock()
	sum := sha256.Sum256([]byte(r.PostFormValue("code_verifier")))
	switch {
	case !ok || p.Now().After(g.expires):
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant"})
		return
	case g.client != r.PostFormValue("client_id") || g.redirect != r.PostFormValue("redirect_uri"):
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant", "error_description": "client or redirect_uri mismatch"})
		return
	case b64(sum[:]) != g.challenge:
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant", "error_description": "PKCE verification failed"})
		return
	}
	id := p.Mint(u, g.client, g.nonce)
	writeJSON(w, http.StatusOK, map[string]any{
		"id_token": id, "access_token": randomString(), "refresh_token": randomString(),
		"token_type": "Bearer", "expires_in": int(p.TokenTTL.Seconds()),
	})
}

// Mint signs an ID token for u as the provider would issue it to client.
func (p *Provider) Mint(u User, client, nonce string) string {
	now := p.Now()
	claims := map[string]any{
		"iss": p.Issuer(), "sub": "sub-" + u.Username, "aud": client, "token_use": "id",
		"iat": now.Unix(), "auth_time": now.Unix(), "exp": now.Add(p.TokenTTL).Unix(),
		"cognito:username": u.Username, "email": u.Email, "email_verified": true,
	}
	if nonce != "" {
		claims["nonce"] = nonce
	}
	if len(u.Groups) > 0 {
		claims["cognito:groups"] = u.Groups
	}
	if u.PreferredUsername != "" {
		claims["preferred_username"] = u.PreferredUsername
	}
	t := &Token{Header: map[string]any{"alg": "RS256", "kid": p.kid, "typ": "JWT"}, Claims: claims, Sign: p.SignRS256}
	if p.Tamper != nil {
		p.Tamper(t)
	}
	h, _ := json.Marshal(t.Header)
	c, _ := json.Marshal(t.Claims)
	input := b64(h) + "." + b64(c)
	return input + "." + b64(t.Sign(input))
}

// SignRS256 signs input with the provider's key, as RS256 does.
func (p *Provider) SignRS256(input string) []byte { return SignPKCS1(p.key, crypto.SHA256, input) }

// SignRS512 signs input with the provider's key, as RS512 does: a real
// signature in an algorithm Cognito does not use.
func (p *Provider) SignRS512(input string) []byte { return SignPKCS1(p.key, crypto.SHA512, input) }

// SignPKCS1 signs input with key and hash h (RS256, RS384, RS512).
func SignPKCS1(key *rsa.PrivateKey, h crypto.Hash, input string) []byte {
	d := h.New()
	d.Write([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, h, d.Sum(nil))
	if err != nil {
		panic(err)
	}
	return sig
}

// PublicKey is the provider's signing key as its JWKS publishes it.
func (p *Provider) PublicKey() *rsa.PublicKey { return &p.key.PublicKey }

func (p *Provider) logout(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	c, ok := p.clients[q.Get("client_id")]
	if !ok || !slices.Contains(c.LogoutURIs, q.Get("logout_uri")) {
		http.Error(w, "invalid client_id or logout_uri", http.StatusBadRequest)
		return
	}
	if ck, err := r.Cookie("hosted"); err == nil {
		p.mu.Lock()
		delete(p.hosted, ck.Value)
		p.mu.Unlock()
	}
	http.SetCookie(w, &http.Cookie{Name: "hosted", Value: "", Path: "/", MaxAge: -1})
	http.Redirect(w, r, q.Get("logout_uri"), http.StatusFound)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func randomString() string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err))
	}
	return b64(b)
}
