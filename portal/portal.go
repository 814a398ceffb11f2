// Package portal is HelioCloud's self-service web app: a scientist signs
// in through the instance's Cognito hosted UI, launches, starts, stops and
// terminates virtual machines, manages SSH key pairs and sees what they
// spend; an admin approves new users and puts them in teams.
//
// The app is a plain http.Handler rendered on the server, so it works
// without JavaScript and runs unchanged behind API Gateway on Lambda or
// under httptest. Every EC2 call runs with credentials that Cognito's
// identity pool issues for the signed-in user, so IAM enforces ownership
// by tag even if the app's own checks were wrong.
package portal

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cognitoidentity"
	"github.com/aws/aws-sdk-go-v2/service/costexplorer"
	"golang.org/x/oauth2"
)

// Options are the parts of a Portal that differ between Lambda and tests.
type Options struct {
	// SessionSecret keys cookie encryption and CSRF tokens; at least 32
	// random bytes, the same for every function instance.
	SessionSecret []byte
	// HTTPClient talks to the identity provider. Default http.DefaultClient.
	HTTPClient *http.Client
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger receives errors that users see only in summary. Default slog.Default().
	Logger *slog.Logger
	// AthenaWait bounds how long the Costs page waits for DaskHub's Athena
	// queries. Default 15 s, which keeps the page under API Gateway's 29 s.
	AthenaWait time.Duration
}

// Portal is the web app. Create it with New.
type Portal struct {
	cfg    Config
	aws    AWS
	seal   *sealer
	oidc   *oidcClient
	now    func() time.Time
	log    *slog.Logger
	mux    *http.ServeMux
	prices *ttlCache[float64]
	spend  *ttlCache[*costexplorer.GetCostAndUsageOutput]

	// DaskHub's costs: the rows of finished Athena queries, the executions
	// a page load left running, by query; and user names by sub.
	athenaRows    *ttlCache[[][]string]
	athenaRunning *ttlCache[string]
	subNames      *ttlCache[map[string]string]
	athenaWait    time.Duration

	credMu sync.Mutex
	creds  map[string]aws.Credentials

	// csp is the Content-Security-Policy header; it depends only on the
	// config, so it is built once.
	csp string
}

// New checks cfg and returns the portal.
func New(cfg Config, clients AWS, opts Options) (*Portal, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.HubCosts != nil && clients.Athena == nil {
		return nil, errors.New("portal: config has hubCosts but no Athena client was given")
	}
	s, err := newSealer(opts.SessionSecret)
	if err != nil {
		return nil, err
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = http.DefaultClient
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.AthenaWait == 0 {
		opts.AthenaWait = defaultAthenaWait
	}
	p := &Portal{
		cfg: cfg, aws: clients, seal: s, now: opts.Now, log: opts.Logger,
		prices:     newTTLCache[float64](priceTTL),
		spend:      newTTLCache[*costexplorer.GetCostAndUsageOutput](costTTL),
		athenaRows: newTTLCache[[][]string](costTTL), athenaRunning: newTTLCache[string](costTTL),
		subNames: newTTLCache[map[string]string](costTTL), athenaWait: opts.AthenaWait,
		creds: map[string]aws.Credentials{},
	}
	p.oidc = &oidcClient{cfg: &p.cfg, http: opts.HTTPClient, now: opts.Now}
	p.csp = "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; form-action 'self' " + p.formActionOrigins() + "; frame-ancestors 'none'; base-uri 'none'"
	p.routes()
	return p, nil
}

func (p *Portal) routes() {
	m := http.NewServeMux()
	m.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintln(w, "ok")
	})
	m.HandleFunc("GET /{$}", p.home)
	m.HandleFunc("GET /login", p.login)
	m.HandleFunc("GET /callback", p.callback)
	m.HandleFunc("GET /signed-out", p.signedOut)
	m.HandleFunc("POST /logout", p.user(p.logout))

	m.HandleFunc("GET /machines", p.user(p.machines))
	m.HandleFunc("POST /machines/{id}/{action}", p.user(p.machineAction))
	m.HandleFunc("GET /launch", p.user(p.launchForm))
	m.HandleFunc("POST /launch", p.user(p.launch))
	m.HandleFunc("GET /keys", p.user(p.keys))
	m.HandleFunc("POST /keys", p.user(p.createKey))
	m.HandleFunc("POST /keys/{name}/delete", p.user(p.deleteKey))
	m.HandleFunc("GET /costs", p.user(p.costs))
	m.HandleFunc("GET /admin", p.admin(p.adminPage))
	m.HandleFunc("POST /admin/users/{name}/{action}", p.admin(p.adminAction))
	p.mux = m
}

func (p *Portal) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", p.csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Strict-Transport-Security", "max-age=31536000")
	h.Set("Cache-Control", "no-store")
	p.mux.ServeHTTP(w, r)
}

// formActionOrigins allows the sign-out form's redirect to the identity
// provider's logout endpoint.
func (p *Portal) formActionOrigins() string {
	if u, err := url.Parse(p.cfg.LogoutURL); err == nil && u.Host != "" {
		return u.Scheme + "://" + u.Host
	}
	return ""
}

// session returns the request's session if it has one that has not expired.
func (p *Portal) session(r *http.Request) (Session, bool) {
	var s Session
	// Every ownership tag and cost filter is the subject: a session
	// without one must not act, or it would match untagged resources or
	// everyone's costs.
	ok := p.seal.readCookie(r, sessionCookie, &s) && p.now().Before(s.Expires) && s.Subject != ""
	return s, ok
}

type userHandler func(w http.ResponseWriter, r *http.Request, s *Session)

// user requires a session, and on state-changing requests a valid CSRF
// token and a same-origin request.
func (p *Portal) user(h userHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, ok := p.session(r)
		if !ok {
			// HEAD is GET without a body: a signed-out one is sent to sign in too.
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				http.Redirect(w, r, "/login?return="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			p.fail(w, r, nil, http.StatusUnauthorized, "Your session has ended. Please sign in again.")
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if !p.sameOrigin(r) || !p.seal.checkCSRF(s.ID, r.PostFormValue("csrf")) {
				p.fail(w, r, &s, http.StatusForbidden, "This form has expired or did not come from the portal. Reload the page and try again.")
				return
			}
		}
		h(w, r, &s)
	}
}

func (p *Portal) admin(h userHandler) http.HandlerFunc {
	return p.user(func(w http.ResponseWriter, r *http.Request, s *Session) {
		if !p.isAdmin(s) {
			p.fail(w, r, s, http.StatusForbidden, "Only members of the "+p.cfg.AdminGroup+" group can use the admin page.")
			return
		}
		h(w, r, s)
	})
}

func (p *Portal) isAdmin(s *Session) bool { return slices.Contains(s.Groups, p.cfg.AdminGroup) }

// sameOrigin rejects cross-site form posts in browsers that send
// Sec-Fetch-Site or Origin; the CSRF token covers the others.
func (p *Portal) sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return false
	}
	if o := r.Header.Get("Origin"); o != "" && o != "null" && o != p.cfg.BaseURL {
		return false
	}
	return true
}

func (p *Portal) home(w http.ResponseWriter, r *http.Request) {
	if _, ok := p.session(r); ok {
		http.Redirect(w, r, "/machines", http.StatusSeeOther)
		return
	}
	p.render(w, r, nil, http.StatusOK, "home", nil)
}

func (p *Portal) signedOut(w http.ResponseWriter, r *http.Request) {
	p.render(w, r, nil, http.StatusOK, "signedout", nil)
}

func (p *Portal) login(w http.ResponseWriter, r *http.Request) {
	ret := returnPath(r.URL.Query().Get("return"))
	ls := loginState{State: randomString(24), Nonce: randomString(24), Verifier: oauth2.GenerateVerifier(), Return: ret, Expires: p.now().Add(10 * time.Minute)}
	u, err := p.oidc.authorizeURL(r.Context(), ls)
	if err != nil {
		p.log.Error("sign-in", "err", err)
		p.fail(w, r, nil, http.StatusBadGateway, "The sign-in service cannot be reached. Try again in a minute.")
		return
	}
	// Lax, not Strict: the identity provider's redirect back to /callback
	// is a cross-site navigation that must carry this cookie.
	if err := p.seal.setCookie(w, loginCookie, ls, ls.Expires.Sub(p.now()), http.SameSiteLaxMode); err != nil {
		p.fail(w, r, nil, http.StatusInternalServerError, "Could not start sign-in.")
		return
	}
	http.Redirect(w, r, u, http.StatusSeeOther)
}

func (p *Portal) callback(w http.ResponseWriter, r *http.Request) {
	var ls loginState
	q := r.URL.Query()
	if !p.seal.readCookie(r, loginCookie, &ls) || !p.now().Before(ls.Expires) || q.Get("state") != ls.State || ls.State == "" {
		p.fail(w, r, nil, http.StatusBadRequest, "This sign-in link has expired. Please sign in again.")
		return
	}
	clearCookie(w, loginCookie)
	if e := q.Get("error"); e != "" {
		p.fail(w, r, nil, http.StatusForbidden, "Sign-in was refused: "+e+" "+q.Get("error_description"))
		return
	}
	c, idToken, err := p.oidc.exchange(r.Context(), q.Get("code"), ls)
	if err != nil {
		p.log.Error("sign-in", "err", err)
		p.fail(w, r, nil, http.StatusBadGateway, "Sign-in failed. Please try again.")
		return
	}
	if slices.Contains(c.Groups, p.cfg.PendingGroup) {
		p.fail(w, r, nil, http.StatusForbidden, "Your account is waiting for an administrator's approval.")
		return
	}
	s := Session{
		ID: randomString(18), Subject: c.Subject, Username: c.Username, Email: c.Email,
		Groups: c.Groups, IDToken: idToken, Expires: time.Unix(c.Expires, 0), Name: c.PreferredUsername,
	}
	if s.Name == "" {
		s.Name = s.Username
	}
	if err := p.seal.setCookie(w, sessionCookie, s, s.Expires.Sub(p.now()), http.SameSiteLaxMode); err != nil {
		p.fail(w, r, nil, http.StatusInternalServerError, "Could not start the session.")
		return
	}
	http.Redirect(w, r, ls.Return, http.StatusSeeOther)
}

func (p *Portal) logout(w http.ResponseWriter, r *http.Request, s *Session) {
	clearCookie(w, sessionCookie)
	p.credMu.Lock()
	delete(p.creds, s.IDToken)
	p.credMu.Unlock()
	if p.cfg.LogoutURL == "" {
		http.Redirect(w, r, "/signed-out", http.StatusSeeOther)
		return
	}
	q := url.Values{"client_id": {p.cfg.ClientID}, "logout_uri": {p.cfg.BaseURL + "/signed-out"}}
	http.Redirect(w, r, p.cfg.LogoutURL+"?"+q.Encode(), http.StatusSeeOther)
}

// ec2For returns an EC2 client that acts as the user: the identity pool
// turns the user's ID token into credentials whose principal tag "owner"
// (the token's sub) IAM compares with each machine's TagOwner.
func (p *Portal) ec2For(ctx context.Context, s *Session) (EC2, error) {
	p.credMu.Lock()
	c, ok := p.creds[s.IDToken]
	p.credMu.Unlock()
	if ok && c.Expires.After(p.now().Add(5*time.Minute)) {
		return p.aws.EC2For(c), nil
	}
	provider := strings.TrimPrefix(strings.TrimPrefix(p.cfg.Issuer, "https://"), "http://")
	logins := map[string]string{provider: s.IDToken}
	id, err := p.aws.Identity.GetId(ctx, &cognitoidentity.GetIdInput{IdentityPoolId: aws.String(p.cfg.IdentityPoolID), Logins: logins})
	if err != nil {
		return nil, fmt.Errorf("identity pool GetId: %w", err)
	}
	out, err := p.aws.Identity.GetCredentialsForIdentity(ctx, &cognitoidentity.GetCredentialsForIdentityInput{IdentityId: id.IdentityId, Logins: logins})
	if err != nil {
		return nil, fmt.Errorf("identity pool GetCredentialsForIdentity: %w", err)
	}
	if out.Credentials == nil {
		return nil, errors.New("identity pool returned no credentials")
	}
	c = aws.Credentials{
		AccessKeyID: aws.ToString(out.Credentials.AccessKeyId), SecretAccessKey: aws.ToString(out.Credentials.SecretKey),
		SessionToken: aws.ToString(out.Credentials.SessionToken), Source: "cognito-identity",
		CanExpire: true, Expires: aws.ToTime(out.Credentials.Expiration),
	}
	p.credMu.Lock()
	for k, v := range p.creds {
		if !v.Expires.After(p.now()) {
			delete(p.creds, k)
		}
	}
	p.creds[s.IDToken] = c
	p.credMu.Unlock()
	return p.aws.EC2For(c), nil
}
