// Package approval decides whether a Cognito user of a HelioCloud instance
// is approved: the one rule that the pool's token trigger (no token
// otherwise) and the portal's guard (machines stopped otherwise) share.
//
// Approval is positive: an account is approved only when an admin put it
// in the approved group, or when it signed in through the institution's
// identity provider, which already decided who the person is. Anything
// else, including an account whose sign-up trigger failed half way, is
// not approved.
package approval

import "slices"

// ExternalStatus is the user status Cognito gives accounts made by a
// sign-in through an identity provider (SAML or OIDC). Users cannot set it:
// Cognito writes it when it links the provider's identity.
const ExternalStatus = "EXTERNAL_PROVIDER"

// Approved reports whether an account with these groups and this Cognito
// user status may have tokens and credentials.
func Approved(groups []string, status, approvedGroup string) bool {
	if approvedGroup == "" {
		return false
	}
	return status == ExternalStatus || slices.Contains(groups, approvedGroup)
}
