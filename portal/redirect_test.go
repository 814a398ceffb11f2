package portal

import "testing"

func TestReturnPath(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		// Paths on the site are kept, queries included.
		{"/keys", "/keys"},
		{"/launch?type=t3.medium&image=al2023", "/launch?type=t3.medium&image=al2023"},
		{"/machines/i-0abc/stop", "/machines/i-0abc/stop"},
		{"/", "/"},
		{"/!$&'()*+,;=:@~", "/!$&'()*+,;=:@~"},
		{"/keys/my%20key", "/keys/my%20key"},
		// Nothing, or not a path.
		{"", homePath},
		{"keys", homePath},
		{"evil.example", homePath},
		{"https://evil.example/", homePath},
		{"http:evil.example", homePath},
		{"javascript:alert(1)", homePath},
		{"data:text/html,hi", homePath},
		// Network-path references and what browsers turn into one.
		{"//evil.example", homePath},
		{"///evil.example", homePath},
		{"/\\evil.example", homePath},
		{"/\\/evil.example", homePath},
		{"\\\\evil.example", homePath},
		{"/\t/evil.example", homePath}, // what /login?return=/%09/evil.example decodes to
		{"/\n/evil.example", homePath},
		{"/\r\n/evil.example", homePath},
		{"/ /evil.example", homePath},
		{" //evil.example", homePath},
		{"/\x00/evil.example", homePath},
		// The same once more percent-encoded, in case a later hop decodes again.
		{"/%09/evil.example", homePath},
		{"/%2F/evil.example", homePath},
		{"/%2f%2fevil.example", homePath},
		{"/%5Cevil.example", homePath},
		{"/%5c%5cevil.example", homePath},
		{"/%20/evil.example", homePath},
		{"%2F%2Fevil.example", homePath},
		{"%2Fkeys", homePath}, // a path only once decoded is not one
		{"/%zz", homePath},
		// What the portal never makes itself: spaces, controls, non-ASCII, backslashes.
		{"/keys list", homePath},
		{"/keys\x7f", homePath},
		{"/kéys", homePath},
		{"/keys\\list", homePath},
		{"/keys\tlist", homePath},
	} {
		if got := returnPath(tc.in); got != tc.want {
			t.Errorf("returnPath(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
