package portal

import (
	"net/url"
	"strings"
)

// homePath is where a sign-in lands when it was not asked to go elsewhere,
// or was asked to go somewhere it must not.
const homePath = "/machines"

// returnPath is where a sign-in started at /login?return=ret lands: ret
// when it is a path on this site, homePath otherwise. Anything else would
// make the portal an open redirect that lends its name to phishing links.
func returnPath(ret string) string {
	u, err := url.PathUnescape(ret)
	if err != nil || offSite(ret) || offSite(u) || strings.ContainsFunc(ret, notURLChar) {
		return homePath
	}
	return ret
}

// offSite reports whether a browser could read s as something other than
// a path on the current site. Browsers drop tabs and newlines from a URL
// and read a backslash as a slash, so "/\t/evil.example" and "/\evil.example"
// are the network-path reference "//evil.example".
func offSite(s string) bool {
	s = strings.Map(func(r rune) rune {
		switch {
		case r == '\\':
			return '/'
		case r <= ' ':
			return -1
		}
		return r
	}, s)
	return !strings.HasPrefix(s, "/") || strings.HasPrefix(s, "//")
}

// notURLChar is true for what has no place in a path the portal makes
// itself (its paths come from RequestURI, which is ASCII and escaped):
// spaces, control characters, non-ASCII and backslashes.
func notURLChar(r rune) bool { return r <= ' ' || r >= 0x7f || r == '\\' }
