package portal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Cookie names use the __Host- prefix: browsers accept them only when
// Secure, on Path=/ and without a Domain, so no sibling host can set them.
const (
	sessionCookie = "__Host-heliocloud-session"
	loginCookie   = "__Host-heliocloud-login"
	flashCookie   = "__Host-heliocloud-flash"
)

// sealer encrypts and authenticates cookie values with AES-256-GCM: the
// browser can neither read nor alter them. The cookie name is the
// additional data, so a value cannot be replayed under another name.
type sealer struct {
	aead    cipher.AEAD
	csrfKey []byte
}

func newSealer(secret []byte) (*sealer, error) {
	if len(secret) < 32 {
		return nil, errors.New("session secret must be at least 32 bytes")
	}
	encKey, err := hkdf.Key(sha256.New, secret, nil, "heliocloud portal cookie", 32)
	if err != nil {
		return nil, err
	}
	csrfKey, err := hkdf.Key(sha256.New, secret, nil, "heliocloud portal csrf", 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(encKey)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &sealer{aead: aead, csrfKey: csrfKey}, nil
}

func (s *sealer) seal(name string, v any) (string, error) {
	plain, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	out := s.aead.Seal(nonce, nonce, plain, []byte(name))
	return base64.RawURLEncoding.EncodeToString(out), nil
}

func (s *sealer) open(name, value string, v any) error {
	raw, err := base64.RawURLEncoding.DecodeString(value)
	if err != nil {
		return err
	}
	n := s.aead.NonceSize()
	if len(raw) < n {
		return errors.New("cookie too short")
	}
	plain, err := s.aead.Open(nil, raw[:n], raw[n:], []byte(name))
	if err != nil {
		return err
	}
	return json.Unmarshal(plain, v)
}

// csrfToken binds a form token to the session's random id: an attacker
// who cannot read the session cannot compute it.
func (s *sealer) csrfToken(sessionID string) string {
	m := hmac.New(sha256.New, s.csrfKey)
	m.Write([]byte(sessionID))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (s *sealer) checkCSRF(sessionID, token string) bool {
	return hmac.Equal([]byte(s.csrfToken(sessionID)), []byte(token))
}

// Session is the signed-in user, kept in the session cookie.
type Session struct {
	ID      string `json:"id"`
	Subject string `json:"sub"`
	// Username is cognito:username, the value of every Owner tag.
	Username string `json:"user"`
	// Name is what the pages call the user.
	Name    string    `json:"name,omitempty"`
	Email   string    `json:"email,omitempty"`
	Groups  []string  `json:"groups,omitempty"`
	IDToken string    `json:"idt"`
	Expires time.Time `json:"exp"`
}

// loginState carries the PKCE verifier, state and nonce across the round
// trip to the identity provider.
type loginState struct {
	State    string    `json:"state"`
	Nonce    string    `json:"nonce"`
	Verifier string    `json:"verifier"`
	Return   string    `json:"return"`
	Expires  time.Time `json:"exp"`
}

func randomString(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err))
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// setCookie sets a sealed cookie that lives for ttl. Max-Age rather than
// Expires keeps the lifetime right when the browser's clock is off.
func (s *sealer) setCookie(w http.ResponseWriter, name string, v any, ttl time.Duration, sameSite http.SameSite) error {
	val, err := s.seal(name, v)
	if err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: val, Path: "/", MaxAge: max(1, int(ttl.Seconds())),
		Secure: true, HttpOnly: true, SameSite: sameSite,
	})
	return nil
}

func clearCookie(w http.ResponseWriter, name string) {
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: "", Path: "/", MaxAge: -1,
		Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode,
	})
}

func (s *sealer) readCookie(r *http.Request, name string, v any) bool {
	c, err := r.Cookie(name)
	if err != nil || c.Value == "" {
		return false
	}
	return s.open(name, c.Value, v) == nil
}
