package portal

import (
	"errors"
	"net/http"

	"github.com/aws/smithy-go"
)

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// awsFail turns an AWS error into a message a scientist can act on; the
// full error goes to the log.
func (p *Portal) awsFail(w http.ResponseWriter, r *http.Request, s *Session, err error) {
	p.log.Error("aws", "path", r.URL.Path, "err", err)
	code := apiCode(err)
	switch code {
	case "UnauthorizedOperation", "AccessDenied", "AccessDeniedException", "NotAuthorizedException":
		p.fail(w, r, s, http.StatusForbidden, "AWS refused this action for your account ("+code+"). If you think you should be allowed, ask an administrator.")
	case "InsufficientInstanceCapacity":
		p.fail(w, r, s, http.StatusServiceUnavailable, "AWS has no capacity for this machine type in this availability zone right now. Try again later or pick another type.")
	case "IncorrectInstanceState":
		p.fail(w, r, s, http.StatusConflict, "The machine cannot do that in its current state; reload the page to see its state.")
	case "":
		p.fail(w, r, s, http.StatusBadGateway, "Could not reach AWS. Try again in a minute.")
	default:
		p.fail(w, r, s, http.StatusBadGateway, "AWS returned an error ("+code+"). Try again in a minute.")
	}
}
