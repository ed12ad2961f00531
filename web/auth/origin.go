package auth

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
)

// ErrCrossSite is the error of CheckSameOrigin.
var ErrCrossSite = errors.New("cross-site requests are refused: call this API from the command line or from Signet's own pages")

// ErrOtherScheme is the error of CheckSameOrigin for a page of this
// server's host under the other scheme: what a reverse proxy terminating
// TLS looks like when the server does not trust it. The surfaces answer
// it with OtherSchemeRefusal, which names the fix.
var ErrOtherScheme = errors.New("the page's origin has the other scheme (https or http) than the request")

// OtherSchemeRefusal is the sentence of ErrOtherScheme, on every surface.
const OtherSchemeRefusal = "A page of this server under the other scheme (https, this request http, or the reverse) sent this request, which is refused: behind a reverse proxy that terminates TLS, list the proxy in server trustedProxies and have it send X-Forwarded-Proto."

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
		return ErrOtherScheme
	}
	return nil
}
