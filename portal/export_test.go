package portal

import "time"

// Cookies the portal never writes itself but that its key opens, for tests
// of the checks that stand behind the cookie's seal.

// SealedSession is a session cookie value holding s, sealed with secret.
func SealedSession(secret []byte, s Session) string {
	return mustSeal(secret, sessionCookie, s)
}

// SealedLogin is a login cookie value with state, valid until expires.
func SealedLogin(secret []byte, state string, expires time.Time) string {
	return mustSeal(secret, loginCookie, loginState{State: state, Nonce: "nonce", Verifier: "verifier", Return: homePath, Expires: expires})
}

func mustSeal(secret []byte, name string, v any) string {
	s, err := newSealer(secret)
	if err != nil {
		panic(err)
	}
	val, err := s.seal(name, v)
	if err != nil {
		panic(err)
	}
	return val
}
