package auth

import (
	"net/http/httptest"
	"testing"
)

func TestCheckSameOrigin(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, site, origin, scheme string
		ok                         bool
	}{
		{"command line", "", "", "http", true},
		{"same origin", "same-origin", "http://example.com", "http", true},
		{"same origin over https", "same-origin", "https://example.com", "https", true},
		{"typed", "none", "", "http", true},
		{"cross-site", "cross-site", "https://evil.example", "https", false},
		{"same-site other origin", "same-site", "", "http", false},
		{"foreign Origin only", "", "https://evil.example", "http", false},
		{"Origin with other scheme", "", "https://example.com", "http", false},
		{"http Origin, https request", "", "http://example.com", "https", false},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("POST", "http://example.com/admin/api/reload", nil)
		if tt.site != "" {
			r.Header.Set("Sec-Fetch-Site", tt.site)
		}
		if tt.origin != "" {
			r.Header.Set("Origin", tt.origin)
		}
		if err := CheckSameOrigin(r, tt.scheme); (err == nil) != tt.ok {
			t.Errorf("%s: CheckSameOrigin = %v, want ok %v", tt.name, err, tt.ok)
		}
	}
}
