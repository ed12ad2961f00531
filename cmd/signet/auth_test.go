package main

import (
	"testing"
	"time"

	"github.com/signet-project/signet/config"
	"golang.org/x/crypto/bcrypt"
)

func TestAuthenticator(t *testing.T) {
	h, _ := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	users := []config.User{{Name: "admin", Roles: []string{config.RoleAdmin}, PasswordHash: string(h)}}
	a := newAuthenticator(func() []config.User { return users })
	now := time.Unix(1000, 0)
	a.now = func() time.Time { return now }
	for _, tt := range []struct {
		name, pw, role string
		want           bool
	}{
		{"admin", "pw", config.RoleAdmin, true},
		{"admin", "pw", config.RoleAdmin, true}, // cached
		{"admin", "PW", config.RoleAdmin, false},
		{"admin", "pw", config.RoleOperator, false},
		{"nobody", "pw", config.RoleAdmin, false},
		{"", "", config.RoleAdmin, false},
	} {
		if _, got := a.check(tt.name, tt.pw, tt.role); got != tt.want {
			t.Errorf("check(%q, %q, %s) = %v, want %v", tt.name, tt.pw, tt.role, got, tt.want)
		}
	}
	// A new hash (password changed, configuration reloaded) misses the cache.
	h2, _ := bcrypt.GenerateFromPassword([]byte("new"), bcrypt.MinCost)
	users = []config.User{{Name: "admin", Roles: []string{config.RoleAdmin}, PasswordHash: string(h2)}}
	if _, ok := a.check("admin", "pw", config.RoleAdmin); ok {
		t.Error("old password accepted after the hash changed")
	}
	if _, ok := a.check("admin", "new", config.RoleAdmin); !ok {
		t.Error("new password refused")
	}
	// A removed user is refused at once.
	users = nil
	if _, ok := a.check("admin", "new", config.RoleAdmin); ok {
		t.Error("removed user accepted from the cache")
	}
}
