package auth

import (
	"errors"
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
//
// scheme is the scheme of the client's request as the web server decides
// it (echo's Context.Scheme: TLS, or the word of a trusted reverse proxy):
// behind a proxy that terminates TLS the browser's Origin is https while
// this server's connection is not.
func CheckSameOrigin(r *http.Request, scheme string) error {
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
	if (scheme == "https") != (u.Scheme == "https") {
		return ErrCrossSite
	}
	return nil
}
