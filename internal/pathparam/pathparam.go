// Package pathparam is the one rule by which every HTTP surface reads a
// name in a request's path (a worker, a crypto token, a key alias, a
// property): percent-decoded once, however the client encoded it.
//
// echo's router matches a request's raw path, and so gives a parameter as
// sent, when the path holds an escape that net/url keeps raw
// (URL.RawPath: an encoded '/', hex digits in lower case), and decoded
// otherwise. A surface that took the parameter as it came answered 404
// for a crypto token named "hsm/1" (sent as hsm%2F1) and for a worker
// named "Bücher" sent as B%c3%bccher; one that always decoded it read
// "x%2541", the name "x%41", as "xA".
//
// The package imports nothing of Signet's, so that web/ and the surfaces
// under it may all use it.
package pathparam

import (
	"net/http"
	"net/url"
)

// Decode returns v, a path parameter of r as echo's router gives it,
// percent-decoded once. A parameter that does not decode is returned as
// it is, for the surface to refuse as an unknown name.
func Decode(r *http.Request, v string) string {
	if r.URL.RawPath == "" {
		return v
	}
	if d, err := url.PathUnescape(v); err == nil {
		return d
	}
	return v
}
