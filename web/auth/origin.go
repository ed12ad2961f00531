package auth

import (
	"errors"
	"mime"
	"net/http"
	"net/url"
	"strings"
)

// ErrCrossSite is the error of CheckSameOrigin.
var ErrCrossSite = errors.New("cross-site requests are refused: call this API from the command line or from Signet's own pages")

// CheckSameOrigin refuses a request that a browser sent on behalf of
// another site (cross-site request forgery): Sec-Fetch-Site, when the
// browser sends it, must be same-origin or none (typed by the user), and
// Origin, when present, must be this server. Clients that are not browsers
// send neither and pass.
func CheckSameOrigin(r *http.Request) error {
	switch site := r.Header.Get("Sec-Fetch-Site"); site {
	case "", "same-origin", "none":
	default:
		return ErrCrossSite
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return nil
	}
	u, err := url.Parse(origin)
	if err != nil || !strings.EqualFold(u.Host, r.Host) {
		return ErrCrossSite
	}
	if (r.TLS != nil) != (u.Scheme == "https") {
		return ErrCrossSite
	}
	return nil
}

// HasContentType reports whether r's body is of one of the media types
// (parameters such as charset aside). A request without a body passes.
// Requiring a type that HTML forms cannot send (application/json) means a
// foreign page cannot post to the API without a CORS preflight, which
// Signet never grants.
func HasContentType(r *http.Request, types ...string) bool {
	if r.ContentLength == 0 && len(r.TransferEncoding) == 0 {
		return true
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return false
	}
	for _, t := range types {
		if mt == t {
			return true
		}
	}
	return false
}
