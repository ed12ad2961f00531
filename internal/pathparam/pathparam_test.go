package pathparam

import (
	"net/http/httptest"
	"strings"
	"testing"
)

// TestDecode: a parameter is decoded once when the router gave it raw,
// left alone when the router gave it decoded.
func TestDecode(t *testing.T) {
	for _, tt := range []struct {
		target, param, want string
	}{
		{"/w/Dept%2FSigner", "Dept%2FSigner", "Dept/Signer"}, // raw path: the router gave it as sent
		{"/w/B%c3%bccher", "B%c3%bccher", "Bücher"},
		{"/w/x%2541", "x%41", "x%41"}, // decoded path: not decoded again
		{"/w/My%20Worker", "My Worker", "My Worker"},
		{"/w/a%2Fb%zz", "a%2Fb%zz", "a%2Fb%zz"}, // does not decode: left for a 404
	} {
		r := httptest.NewRequest("GET", "http://x"+strings.Replace(tt.target, "%zz", "%25zz", 1), nil)
		if strings.Contains(tt.target, "%zz") {
			r.URL.RawPath = tt.target
		}
		if got := Decode(r, tt.param); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.target, got, tt.want)
		}
	}
}
