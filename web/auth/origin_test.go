package auth

import (
	"net/http/httptest"
	"testing"
)

func TestCheckSameOrigin(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, site, origin string
		ok                 bool
	}{
		{"command line", "", "", true},
		{"same origin", "same-origin", "http://example.com", true},
		{"typed", "none", "", true},
		{"cross-site", "cross-site", "https://evil.example", false},
		{"same-site other origin", "same-site", "", false},
		{"foreign Origin only", "", "https://evil.example", false},
		{"Origin with other scheme", "", "https://example.com", false},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("POST", "http://example.com/admin/api/reload", nil)
		if tt.site != "" {
			r.Header.Set("Sec-Fetch-Site", tt.site)
		}
		if tt.origin != "" {
			r.Header.Set("Origin", tt.origin)
		}
		if err := CheckSameOrigin(r); (err == nil) != tt.ok {
			t.Errorf("%s: CheckSameOrigin = %v, want ok %v", tt.name, err, tt.ok)
		}
	}
}
