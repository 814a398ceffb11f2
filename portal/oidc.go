package portal

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// oidcClient speaks the authorization-code flow with PKCE (RFC 7636) to
// Cognito's hosted UI, or to any provider with the same endpoints, and
// verifies the RS256 ID tokens it returns.
type oidcClient struct {
	cfg  *Config
	http *http.Client
	now  func() time.Time

	mu        sync.Mutex
	endpoints *endpoints
	keys      map[string]*rsa.PublicKey
	keysAt    time.Time
}

type endpoints struct {
	Authorize string `json:"authorization_endpoint"`
	Token     string `json:"token_endpoint"`
	JWKS      string `json:"jwks_uri"`
}

func (o *oidcClient) discover(ctx context.Context) (*endpoints, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.endpoints != nil {
		return o.endpoints, nil
	}
	e := &endpoints{Authorize: o.cfg.AuthorizeURL, Token: o.cfg.TokenURL, JWKS: o.cfg.JWKSURL}
	if e.Authorize == "" || e.Token == "" || e.JWKS == "" {
		var d endpoints
		if err := o.getJSON(ctx, strings.TrimSuffix(o.cfg.Issuer, "/")+"/.well-known/openid-configuration", &d); err != nil {
			return nil, fmt.Errorf("oidc discovery: %w", err)
		}
		if e.Authorize == "" {
			e.Authorize = d.Authorize
		}
		if e.Token == "" {
			e.Token = d.Token
		}
		if e.JWKS == "" {
			e.JWKS = d.JWKS
		}
	}
	if e.Authorize == "" || e.Token == "" || e.JWKS == "" {
		return nil, errors.New("oidc discovery: provider did not announce authorization, token and jwks endpoints")
	}
	o.endpoints = e
	return e, nil
}

func (o *oidcClient) getJSON(ctx context.Context, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := o.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(v)
}

func pkceChallenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func (o *oidcClient) authorizeURL(ctx context.Context, ls loginState) (string, error) {
	e, err := o.discover(ctx)
	if err != nil {
		return "", err
	}
	q := url.Values{
		"response_type":         {"code"},
		"client_id":             {o.cfg.ClientID},
		"redirect_uri":          {o.cfg.BaseURL + "/callback"},
		"scope":                 {"openid email profile"},
		"state":                 {ls.State},
		"nonce":                 {ls.Nonce},
		"code_challenge":        {pkceChallenge(ls.Verifier)},
		"code_challenge_method": {"S256"},
	}
	return e.Authorize + "?" + q.Encode(), nil
}

// exchange redeems the authorization code and returns the verified ID
// token's claims and the raw token.
func (o *oidcClient) exchange(ctx context.Context, code string, ls loginState) (*claims, string, error) {
	e, err := o.discover(ctx)
	if err != nil {
		return nil, "", err
	}
	form := url.Values{
		"grant_type":    {"authorization_code"},
		"client_id":     {o.cfg.ClientID},
		"code":          {code},
		"redirect_uri":  {o.cfg.BaseURL + "/callback"},
		"code_verifier": {ls.Verifier},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.Token, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := o.http.Do(req)
	if err != nil {
		return nil, "", fmt.Errorf("token endpoint: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return nil, "", fmt.Errorf("token endpoint: %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	var tok struct {
		IDToken string `json:"id_token"`
	}
	if err := json.Unmarshal(body, &tok); err != nil || tok.IDToken == "" {
		return nil, "", errors.New("token endpoint returned no id_token")
	}
	c, err := o.verify(ctx, tok.IDToken)
	if err != nil {
		return nil, "", err
	}
	if c.Nonce != ls.Nonce {
		return nil, "", errors.New("id token nonce does not match the sign-in request")
	}
	return c, tok.IDToken, nil
}

type claims struct {
	Issuer   string   `json:"iss"`
	Subject  string   `json:"sub"`
	Audience audience `json:"aud"`
	Expires  int64    `json:"exp"`
	Nonce    string   `json:"nonce"`
	TokenUse string   `json:"token_use"`
	Username string   `json:"cognito:username"`
	Groups   []string `json:"cognito:groups"`
	Email    string   `json:"email"`
	// PreferredUsername is the readable name federated users get from
	// their institution; cognito:username is then an opaque id.
	PreferredUsername string `json:"preferred_username"`
}

// audience accepts both forms RFC 7519 allows: a string or an array.
type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		*a = audience{s}
		return nil
	}
	var l []string
	if err := json.Unmarshal(b, &l); err != nil {
		return err
	}
	*a = l
	return nil
}

func (o *oidcClient) verify(ctx context.Context, token string) (*claims, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, errors.New("id token is not a JWS")
	}
	var hdr struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
	}
	if err := decodeSegment(parts[0], &hdr); err != nil {
		return nil, fmt.Errorf("id token header: %w", err)
	}
	if hdr.Alg != "RS256" {
		return nil, fmt.Errorf("id token algorithm %q is not RS256", hdr.Alg)
	}
	key, err := o.key(ctx, hdr.Kid)
	if err != nil {
		return nil, err
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return nil, fmt.Errorf("id token signature: %w", err)
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(key, crypto.SHA256, digest[:], sig); err != nil {
		return nil, errors.New("id token signature is invalid")
	}
	var c claims
	if err := decodeSegment(parts[1], &c); err != nil {
		return nil, fmt.Errorf("id token claims: %w", err)
	}
	switch {
	case c.Issuer != o.cfg.Issuer:
		return nil, fmt.Errorf("id token issuer %q is not %q", c.Issuer, o.cfg.Issuer)
	case !slices.Contains(c.Audience, o.cfg.ClientID):
		return nil, errors.New("id token is not for this client")
	case c.TokenUse != "" && c.TokenUse != "id":
		return nil, errors.New("token is not an id token")
	case o.now().Unix() >= c.Expires:
		return nil, errors.New("id token has expired")
	case c.Subject == "":
		return nil, errors.New("id token has no subject")
	}
	if c.Username == "" {
		c.Username = c.Subject
	}
	return &c, nil
}

func decodeSegment(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// key returns the signing key with the given id, refetching the key set
// at most once a minute so that key rotation is picked up.
func (o *oidcClient) key(ctx context.Context, kid string) (*rsa.PublicKey, error) {
	o.mu.Lock()
	k, ok := o.keys[kid]
	fresh := o.now().Sub(o.keysAt) < time.Minute
	o.mu.Unlock()
	if ok {
		return k, nil
	}
	if fresh {
		return nil, fmt.Errorf("id token key %q is unknown", kid)
	}
	e, err := o.discover(ctx)
	if err != nil {
		return nil, err
	}
	var set struct {
		Keys []struct {
			Kty, Kid, N, E string
		} `json:"keys"`
	}
	if err := o.getJSON(ctx, e.JWKS, &set); err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	keys := map[string]*rsa.PublicKey{}
	for _, jk := range set.Keys {
		if jk.Kty != "RSA" {
			continue
		}
		n, err1 := base64.RawURLEncoding.DecodeString(jk.N)
		e, err2 := base64.RawURLEncoding.DecodeString(jk.E)
		if err1 != nil || err2 != nil {
			continue
		}
		keys[jk.Kid] = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	}
	o.mu.Lock()
	o.keys, o.keysAt = keys, o.now()
	o.mu.Unlock()
	if k, ok := keys[kid]; ok {
		return k, nil
	}
	return nil, fmt.Errorf("id token key %q is unknown", kid)
}
