// Package mediatype is the one rule by which Signet's JSON APIs (the
// admin API, SignServer's REST API, the Fortanix DSM and NetHSM APIs) check
// the declared type of a request body.
//
// Requiring a type that an HTML form cannot send (application/json) is
// also what keeps a page of another site from posting to these APIs with a
// user's cached basic credentials: a fetch of that type needs a CORS
// preflight, which Signet never grants. A body of another type must not
// sign, count against a key's usage limit or change anything.
//
// The package imports nothing of Signet's, so that web/ and the vendor
// APIs under it may all use it.
package mediatype

import (
	"mime"
	"net/http"
)

// JSON is the media type of the JSON APIs' bodies.
const JSON = "application/json"

// Is reports whether the Content-Type header value ct names one of types,
// its parameters (such as charset) aside.
func Is(ct string, types ...string) bool {
	mt, _, err := mime.ParseMediaType(ct)
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

// Body reports whether r has no body or one whose declared type is one of
// types: a request without a body has nothing to type, and is refused, if
// at all, for what it lacks.
func Body(r *http.Request, types ...string) bool {
	if r.ContentLength == 0 && len(r.TransferEncoding) == 0 {
		return true
	}
	return Is(r.Header.Get("Content-Type"), types...)
}
