package portal

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// oidcClient signs users in with the authorization-code flow and PKCE
// (RFC 7636) against Cognito's hosted UI, or any OpenID provider with the
// same endpoints. go-oidc does discovery, the key set and the ID token's
// signature, algorithm, issuer, audience and expiry; x/oauth2 does the
// code exchange and PKCE. The checks left here are the ones those libraries
// leave to the caller: the nonce, Cognito's token_use and a subject.
type oidcClient struct {
	cfg  *Config
	http *http.Client
	now  func() time.Time

	mu       sync.Mutex
	provider *oidcProvider // nil until the first sign-in needs it
}

type oidcProvider struct {
	oauth    oauth2.Config
	verifier *oidc.IDTokenVerifier
}

// client carries the portal's HTTP client to go-oidc and x/oauth2, which
// take it from the context.
func (o *oidcClient) client(ctx context.Context) context.Context {
	return oidc.ClientContext(ctx, o.http)
}

// endpoints returns the provider, discovering what the config does not
// give. The portal stack gives all of Cognito's endpoints (authorization
// and token live on the hosted-UI domain, not under the issuer), so a
// deployed portal makes no discovery request. A failed discovery is retried
// at the next sign-in rather than remembered.
func (o *oidcClient) endpoints(ctx context.Context) (*oidcProvider, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.provider != nil {
		return o.provider, nil
	}
	pc := oidc.ProviderConfig{IssuerURL: o.cfg.Issuer, AuthURL: o.cfg.AuthorizeURL, TokenURL: o.cfg.TokenURL, JWKSURL: o.cfg.JWKSURL}
	if pc.AuthURL == "" || pc.TokenURL == "" || pc.JWKSURL == "" {
		// NewProvider refuses a discovery document whose issuer is not ours.
		d, err := oidc.NewProvider(o.client(ctx), o.cfg.Issuer)
		if err != nil {
			return nil, fmt.Errorf("oidc discovery: %w", err)
		}
		var found oidc.ProviderConfig
		if err := d.Claims(&found); err != nil {
			return nil, fmt.Errorf("oidc discovery: %w", err)
		}
		pc.AuthURL = cmp.Or(pc.AuthURL, found.AuthURL)
		pc.TokenURL = cmp.Or(pc.TokenURL, found.TokenURL)
		pc.JWKSURL = cmp.Or(pc.JWKSURL, found.JWKSURL)
	}
	if pc.AuthURL == "" || pc.TokenURL == "" || pc.JWKSURL == "" {
		return nil, errors.New("oidc discovery: provider did not announce authorization, token and jwks endpoints")
	}
	// The key set keeps this context for its HTTP client only; it fetches
	// keys again when a token names a key it has not seen (rotation).
	p := pc.NewProvider(o.client(context.WithoutCancel(ctx)))
	o.provider = &oidcProvider{
		oauth: oauth2.Config{
			ClientID:    o.cfg.ClientID,
			RedirectURL: o.cfg.BaseURL + "/callback",
			Scopes:      []string{oidc.ScopeOpenID, "email", "profile"},
			// The portal is a public client without a secret: client_id
			// goes in the form. Auto-detection would first try HTTP Basic
			// with an empty secret and spend the single-use code on it.
			Endpoint: oauth2.Endpoint{AuthURL: pc.AuthURL, TokenURL: pc.TokenURL, AuthStyle: oauth2.AuthStyleInParams},
		},
		// RS256 only: it is what Cognito signs with, and naming it keeps a
		// discovery document from widening the accepted algorithms.
		verifier: p.Verifier(&oidc.Config{ClientID: o.cfg.ClientID, SupportedSigningAlgs: []string{oidc.RS256}, Now: o.now}),
	}
	return o.provider, nil
}

func (o *oidcClient) authorizeURL(ctx context.Context, ls loginState) (string, error) {
	p, err := o.endpoints(ctx)
	if err != nil {
		return "", err
	}
	return p.oauth.AuthCodeURL(ls.State, oidc.Nonce(ls.Nonce), oauth2.S256ChallengeOption(ls.Verifier)), nil
}

// exchange redeems the authorization code and returns the verified ID
// token's claims and the raw token.
func (o *oidcClient) exchange(ctx context.Context, code string, ls loginState) (*claims, string, error) {
	p, err := o.endpoints(ctx)
	if err != nil {
		return nil, "", err
	}
	tok, err := p.oauth.Exchange(o.client(ctx), code, oauth2.VerifierOption(ls.Verifier))
	if err != nil {
		return nil, "", fmt.Errorf("token endpoint: %w", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, "", errors.New("token endpoint returned no id_token")
	}
	c, err := o.verify(ctx, p.verifier, raw)
	if err != nil {
		return nil, "", err
	}
	// The nonce ties the token to the sign-in this browser started, so a
	// token from another sign-in cannot be replayed here; go-oidc leaves
	// this comparison to the caller.
	if c.Nonce != ls.Nonce {
		return nil, "", errors.New("id token nonce does not match the sign-in request")
	}
	return c, raw, nil
}

type claims struct {
	Subject  string   `json:"sub"`
	Nonce    string   `json:"nonce"`
	TokenUse string   `json:"token_use"`
	Username string   `json:"cognito:username"`
	Groups   []string `json:"cognito:groups"`
	Email    string   `json:"email"`
	// PreferredUsername is the readable name federated users get from
	// their institution; cognito:username is then an opaque id.
	PreferredUsername string `json:"preferred_username"`
	// Expires is the token's exp in Unix seconds, as go-oidc parsed it.
	Expires int64 `json:"-"`
}

func (o *oidcClient) verify(ctx context.Context, v *oidc.IDTokenVerifier, raw string) (*claims, error) {
	t, err := v.Verify(ctx, raw)
	if err != nil {
		return nil, fmt.Errorf("id token: %w", err)
	}
	var c claims
	if err := t.Claims(&c); err != nil {
		return nil, fmt.Errorf("id token claims: %w", err)
	}
	// Cognito signs its access tokens with the same keys; token_use says
	// which kind a token is. (Its access tokens also lack aud, but this
	// check does not lean on that.) Other providers omit token_use.
	if c.TokenUse != "" && c.TokenUse != "id" {
		return nil, fmt.Errorf("token_use %q is not an id token", c.TokenUse)
	}
	if c.Subject == "" {
		return nil, errors.New("id token has no subject")
	}
	if c.Username == "" {
		c.Username = c.Subject
	}
	c.Expires = t.Expiry.Unix()
	return &c, nil
}
