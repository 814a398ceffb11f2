package portal

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func testSealer(t *testing.T) *sealer {
	t.Helper()
	s, err := newSealer([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSessionSecretLength(t *testing.T) {
	if _, err := newSealer([]byte(strings.Repeat("k", 31))); err == nil || !strings.Contains(err.Error(), "at least 32 bytes") {
		t.Errorf("a 31-byte secret: %v", err)
	}
	if _, err := newSealer(nil); err == nil {
		t.Error("no secret was accepted")
	}
	if _, err := newSealer([]byte(strings.Repeat("k", 32))); err != nil {
		t.Errorf("a 32-byte secret: %v", err)
	}
}

type sealed struct{ A string }

func TestSealedCookieRefusesAlteredOrMisplacedValues(t *testing.T) {
	s := testSealer(t)
	v, err := s.seal(sessionCookie, sealed{"alice"})
	if err != nil {
		t.Fatal(err)
	}
	var got sealed
	if err := s.open(sessionCookie, v, &got); err != nil || got.A != "alice" {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	if v2, _ := s.seal(sessionCookie, sealed{"alice"}); v2 == v {
		t.Error("two seals of one value are equal: the nonce is not fresh")
	}
	raw, _ := base64.RawURLEncoding.DecodeString(v)
	nonce := s.aead.NonceSize()
	other, _ := newSealer([]byte(strings.Repeat("j", 32)))
	for name, tc := range map[string]struct{ cookie, value string }{
		"another cookie's name":  {loginCookie, v},
		"a flipped bit":          {sessionCookie, flip(v, len(v)/2)},
		"a flipped nonce bit":    {sessionCookie, flip(v, 1)},
		"cut short":              {sessionCookie, v[:len(v)-1]},
		"only the nonce":         {sessionCookie, base64.RawURLEncoding.EncodeToString(raw[:nonce])},
		"shorter than the nonce": {sessionCookie, base64.RawURLEncoding.EncodeToString(raw[:nonce-1])},
		"empty":                  {sessionCookie, ""},
		"not base64":             {sessionCookie, "!!!!"},
		"padded base64":          {sessionCookie, base64.URLEncoding.EncodeToString(raw)},
	} {
		got = sealed{}
		if err := s.open(tc.cookie, tc.value, &got); err == nil || got.A != "" {
			t.Errorf("%s: opened to %+v", name, got)
		}
	}
	got = sealed{}
	ov, _ := other.seal(sessionCookie, sealed{"mallory"})
	if err := s.open(sessionCookie, ov, &got); err == nil || got.A != "" {
		t.Errorf("sealed with another secret: opened to %+v", got)
	}
	// A sealed value that is not JSON of the type asked for is refused.
	notJSON := base64.RawURLEncoding.EncodeToString(s.aead.Seal(raw[:nonce:nonce], raw[:nonce], []byte("not json"), []byte(sessionCookie)))
	if err := s.open(sessionCookie, notJSON, &got); err == nil {
		t.Error("a sealed non-JSON value was accepted")
	}
}

func flip(s string, i int) string {
	b := []byte(s)
	// Stay inside the base64 alphabet so the change reaches the cipher.
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

func TestCSRFTokenIsBoundToTheSession(t *testing.T) {
	s := testSealer(t)
	tok := s.csrfToken("session-a")
	if !s.checkCSRF("session-a", tok) {
		t.Fatal("the session's own token was refused")
	}
	other, _ := newSealer([]byte(strings.Repeat("j", 32)))
	for name, bad := range map[string]string{
		"empty": "", "another session's": s.csrfToken("session-b"), "another secret's": other.csrfToken("session-a"),
		"truncated": tok[:len(tok)-1], "extended": tok + "A",
	} {
		if s.checkCSRF("session-a", bad) {
			t.Errorf("%s token was accepted", name)
		}
	}
}

func TestCookiesAreHostOnlySecureAndLiveForTheirTTL(t *testing.T) {
	s := testSealer(t)
	for _, tc := range []struct {
		ttl    time.Duration
		maxAge int
	}{{90 * time.Second, 90}, {0, 1}, {-time.Minute, 1}, {time.Hour + 500*time.Millisecond, 3600}} {
		w := httptest.NewRecorder()
		if err := s.setCookie(w, sessionCookie, sealed{"alice"}, tc.ttl, http.SameSiteLaxMode); err != nil {
			t.Fatal(err)
		}
		c := w.Result().Cookies()[0]
		if c.Name != sessionCookie || c.MaxAge != tc.maxAge || !c.Secure || !c.HttpOnly || c.Path != "/" || c.Domain != "" || c.SameSite != http.SameSiteLaxMode {
			t.Errorf("ttl %s: cookie %+v", tc.ttl, c)
		}
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.AddCookie(c)
		var got sealed
		if !s.readCookie(r, sessionCookie, &got) || got.A != "alice" {
			t.Errorf("ttl %s: the cookie does not read back: %+v", tc.ttl, got)
		}
	}
	w := httptest.NewRecorder()
	clearCookie(w, sessionCookie)
	if c := w.Result().Cookies()[0]; c.Name != sessionCookie || c.MaxAge >= 0 || c.Value != "" || !c.Secure || c.Path != "/" {
		t.Errorf("cleared cookie %+v", c)
	}
}

func TestReadCookieRefusesMissingEmptyAndForged(t *testing.T) {
	s := testSealer(t)
	var got sealed
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	if s.readCookie(r, sessionCookie, &got) {
		t.Error("no cookie was read as a session")
	}
	r.AddCookie(&http.Cookie{Name: sessionCookie, Value: ""})
	if s.readCookie(r, sessionCookie, &got) {
		t.Error("an empty cookie was read as a session")
	}
	v, _ := s.seal(loginCookie, sealed{"alice"})
	r = httptest.NewRequest(http.MethodGet, "/", nil)
	r.AddCookie(&http.Cookie{Name: sessionCookie, Value: v})
	if s.readCookie(r, sessionCookie, &got) || got.A != "" {
		t.Errorf("the login cookie's value was read as a session: %+v", got)
	}
}

func TestRandomStringIsFreshAndSized(t *testing.T) {
	a, b := randomString(24), randomString(24)
	if a == b || len(a) != 32 {
		t.Errorf("randomString(24) = %q, %q", a, b)
	}
}
