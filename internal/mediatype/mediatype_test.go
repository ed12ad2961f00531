package mediatype

import (
	"net/http/httptest"
	"strings"
	"testing"
)

// TestBody: a body must be declared of the type asked for, parameters
// aside; a request without a body passes.
func TestBody(t *testing.T) {
	t.Parallel()
	tests := []struct {
		ctype, body string
		ok          bool
	}{
		{"application/json", "{}", true},
		{"application/json; charset=utf-8", "{}", true},
		{"text/plain", "{}", false},
		{"application/x-www-form-urlencoded", "a=b", false},
		{"", "{}", false},
		{"text/plain", "", true},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("POST", "/x", strings.NewReader(tt.body))
		if tt.ctype != "" {
			r.Header.Set("Content-Type", tt.ctype)
		}
		if got := Body(r, JSON); got != tt.ok {
			t.Errorf("%q with body %q: Body = %v, want %v", tt.ctype, tt.body, got, tt.ok)
		}
	}
}
