package auth

import (
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/signet-project/signet/config"
	"golang.org/x/crypto/bcrypt"
)

func hash(t *testing.T, pw string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

func TestAuthenticator(t *testing.T) {
	t.Parallel()
	users := []config.User{{Name: "admin", Roles: []string{config.RoleAdmin}, PasswordHash: hash(t, "pw")}}
	a := New(func() []config.User { return users })
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
		if got := a.Decide(tt.name, tt.pw, tt.role) == Allowed; got != tt.want {
			t.Errorf("Decide(%q, %q, %s) == Allowed: %v, want %v", tt.name, tt.pw, tt.role, got, tt.want)
		}
	}
	// A new hash (password changed, configuration reloaded) misses the cache.
	users = []config.User{{Name: "admin", Roles: []string{config.RoleAdmin}, PasswordHash: hash(t, "new")}}
	if ok := a.Decide("admin", "pw", config.RoleAdmin) == Allowed; ok {
		t.Error("old password accepted after the hash changed")
	}
	if ok := a.Decide("admin", "new", config.RoleAdmin) == Allowed; !ok {
		t.Error("new password refused")
	}
	// A check expires after the TTL and is made again against the hash.
	now = now.Add(cacheTTL + time.Second)
	if ok := a.Decide("admin", "new", config.RoleAdmin) == Allowed; !ok {
		t.Error("password refused after the cache entry expired")
	}
	// A removed user is refused at once.
	users = nil
	if ok := a.Decide("admin", "new", config.RoleAdmin) == Allowed; ok {
		t.Error("removed user accepted from the cache")
	}
}

// TestHashFile checks that a hash kept in a file is read from memory within
// hashTTL, and that a file rewritten in place is in force after it.
func TestHashFile(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "pw.bcrypt")
	if err := os.WriteFile(file, []byte(hash(t, "one")), 0o600); err != nil {
		t.Fatal(err)
	}
	users := []config.User{{Name: "op", Roles: []string{config.RoleOperator}, PasswordHashFrom: config.Secret{File: file}}}
	a := New(func() []config.User { return users })
	now := time.Unix(1000, 0)
	a.now = func() time.Time { return now }
	if ok := a.Decide("op", "one", config.RoleOperator) == Allowed; !ok {
		t.Fatal("password from the hash file refused")
	}
	if err := os.WriteFile(file, []byte(hash(t, "two")), 0o600); err != nil {
		t.Fatal(err)
	}
	// Within hashTTL the hash comes from memory: the file is not read.
	if ok := a.Decide("op", "one", config.RoleOperator) == Allowed; !ok {
		t.Error("password refused within hashTTL of reading its hash")
	}
	now = now.Add(hashTTL)
	if ok := a.Decide("op", "one", config.RoleOperator) == Allowed; ok {
		t.Error("old password accepted after the hash file was rewritten")
	}
	if ok := a.Decide("op", "two", config.RoleOperator) == Allowed; !ok {
		t.Error("new password of the rewritten hash file refused")
	}
}

func TestDecideAndKeys(t *testing.T) {
	t.Parallel()
	users := []config.User{
		{Name: "admin", Roles: []string{config.RoleAdmin}, PasswordHash: hash(t, "a")},
		{Name: "op", Roles: []string{config.RoleOperator}, PasswordHash: hash(t, "o"), Keys: []string{"demo/k1", "k2"}},
	}
	a := New(func() []config.User { return users })
	for _, tt := range []struct {
		name, pw, role string
		want           Decision
	}{
		{"admin", "a", config.RoleAdmin, Allowed},
		{"admin", "x", config.RoleAdmin, Denied},
		{"op", "o", config.RoleAdmin, Forbidden},
		{"op", "x", config.RoleAdmin, Denied}, // no 403 without the password
		{"op", "o", config.RoleOperator, Allowed},
		{"nobody", "a", config.RoleAdmin, Denied},
	} {
		if got := a.Decide(tt.name, tt.pw, tt.role); got != tt.want {
			t.Errorf("Decide(%q, %q, %s) = %d, want %d", tt.name, tt.pw, tt.role, got, tt.want)
		}
	}
	for _, tt := range []struct {
		user, token, alias string
		want               bool
	}{
		{"admin", "any", "key", true}, // no keys list: every key
		{"op", "demo", "k1", true},
		{"op", "other", "k1", false},
		{"op", "other", "k2", true},
		{"op", "demo", "k3", false},
		{"nobody", "demo", "k1", false},
	} {
		if got := a.MayUseKey(tt.user, tt.token, tt.alias); got != tt.want {
			t.Errorf("MayUseKey(%q, %q, %q) = %v, want %v", tt.user, tt.token, tt.alias, got, tt.want)
		}
	}
}

func TestHashPassword(t *testing.T) {
	t.Parallel()
	h, err := HashPassword("s3cret")
	if err != nil {
		t.Fatal(err)
	}
	if bcrypt.CompareHashAndPassword([]byte(h), []byte("s3cret")) != nil {
		t.Errorf("hash %q does not match its password", h)
	}
	if _, err := HashPassword(""); err == nil {
		t.Error("an empty password was hashed")
	}
}

// TestStamp checks that the stamp a session keeps changes with what the
// session depends on (password hash, roles, client certificate rules, the
// user itself) and with nothing else.
func TestStamp(t *testing.T) {
	t.Parallel()
	base := config.User{Name: "alice", Roles: []string{config.RoleAdmin}, PasswordHash: hash(t, "pw"), Keys: []string{"k1"}}
	var cur []config.User
	a := New(func() []config.User { return cur })
	cur = []config.User{base}
	was := a.Stamp("alice")
	if was == "" {
		t.Fatal("no stamp for an existing user")
	}
	rule := config.AuthorizedClient{SubjectType: config.MatchSerialNo, SubjectValue: "1A", IssuerValue: "CN=CA"}
	for _, tt := range []struct {
		name   string
		change func(u *config.User) bool // false: remove the user
		same   bool
	}{
		{"nothing changed", func(*config.User) bool { return true }, true},
		{"keys changed (checked on every signature)", func(u *config.User) bool { u.Keys = nil; return true }, true},
		{"password changed", func(u *config.User) bool { u.PasswordHash = hash(t, "new"); return true }, false},
		{"role changed", func(u *config.User) bool { u.Roles = []string{config.RoleAuditor}; return true }, false},
		{"client certificate rule added", func(u *config.User) bool { u.AuthorizedClients = []config.AuthorizedClient{rule}; return true }, false},
		{"user removed", func(*config.User) bool { return false }, false},
	} {
		u := base
		u.Roles = slices.Clone(base.Roles)
		cur = nil
		if tt.change(&u) {
			cur = []config.User{u}
		}
		if got := a.Stamp("alice") == was; got != tt.same {
			t.Errorf("%s: stamp unchanged %v, want %v", tt.name, got, tt.same)
		}
	}
	if a.Stamp("nobody") != "" {
		t.Error("a stamp for an unknown user")
	}
	if !strings.Contains(base.PasswordHash, "$2") || strings.Contains(was, base.PasswordHash) {
		t.Error("the stamp holds the hash")
	}
}

// TestWorkerPasswordsCached: a worker's USERNAME_PASSWORD check goes
// through the Authenticator's caches, its own users' inline hashes and the
// shared users' alike: a second request with the same credentials costs no
// bcrypt comparison (it cost one, tens of milliseconds, per signing
// request), while a wrong password, a changed hash or an unknown user is
// refused as before.
func TestWorkerPasswordsCached(t *testing.T) {
	t.Parallel()
	shared := []config.User{{Name: "alice", Roles: []string{config.RoleAdmin}, PasswordHash: hash(t, "alice-pw")}}
	a := New(func() []config.User { return shared })
	w := &WorkerAuthorizer{Passwords: a}
	acc := config.Access{Type: config.AuthUsernamePassword, Users: []config.WorkerUser{
		{Name: "bob", PasswordHash: hash(t, "bob-pw")},
		{Name: "alice", Shared: true},
	}}
	check := func(user, pw string) bool {
		r, _ := http.NewRequest(http.MethodPost, "/signserver/worker/W", nil)
		r.SetBasicAuth(user, pw)
		_, err := w.Authorize(r, "192.0.2.1", "W", acc)
		return err == nil
	}
	cached := func() int { a.mu.Lock(); defer a.mu.Unlock(); return len(a.seen) }
	for _, tc := range []struct {
		user, pw string
		want     bool
		cached   int // successful checks remembered after this one
	}{
		{"bob", "bob-pw", true, 1},
		{"bob", "bob-pw", true, 1}, // from the cache
		{"bob", "BOB-PW", false, 1},
		{"alice", "alice-pw", true, 2},
		{"alice", "alice-pw", true, 2},
		{"alice", "bob-pw", false, 2},
		{"carol", "pw", false, 2},
	} {
		if got := check(tc.user, tc.pw); got != tc.want {
			t.Errorf("%s/%s: allowed %v, want %v", tc.user, tc.pw, got, tc.want)
		}
		if n := cached(); n != tc.cached {
			t.Errorf("%s/%s: %d checks remembered, want %d", tc.user, tc.pw, n, tc.cached)
		}
	}
	// A shared user's new hash (configuration reloaded) misses the cache.
	shared = []config.User{{Name: "alice", Roles: []string{config.RoleAdmin}, PasswordHash: hash(t, "new")}}
	if check("alice", "alice-pw") || !check("alice", "new") {
		t.Error("a shared user's changed password is not in force")
	}
}

// TestConcurrentChecksShareOneBcrypt: clients sending the same
// credentials at once (a client's 32 connections starting together, or
// every client when the cache entry expires) wait for one bcrypt check,
// some 75 ms of CPU each at the demo's cost, instead of each running
// their own; other credentials are checked apart.
func TestConcurrentChecksShareOneBcrypt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		users := []config.User{{Name: "admin", Roles: []string{config.RoleAdmin}, PasswordHash: hash(t, "pw")}}
		a := New(func() []config.User { return users })
		release := make(chan struct{})
		var calls atomic.Int32
		a.compare = func(h, p []byte) error {
			calls.Add(1)
			<-release
			return bcrypt.CompareHashAndPassword(h, p)
		}
		const n = 16
		allowed := make(chan bool, n+1)
		for range n {
			go func() { allowed <- a.Decide("admin", "pw", config.RoleAdmin) == Allowed }()
		}
		go func() { allowed <- a.Decide("admin", "wrong", config.RoleAdmin) == Allowed }()
		synctest.Wait() // every check waits: in bcrypt, or for another's
		if got := calls.Load(); got != 2 {
			t.Errorf("%d bcrypt checks for %d requests with the same credentials and one with others, want 2", got, n)
		}
		close(release)
		yes := 0
		for range n + 1 {
			if <-allowed {
				yes++
			}
		}
		if yes != n {
			t.Errorf("%d of %d requests allowed, want the %d with the right password", yes, n+1, n)
		}
	})
}

// TestRoleLessUserSignsOnly: a user of the users section without roles,
// whom a worker lists, signs with that worker and may use no API a role
// opens (config allows such a user only when a worker lists it).
func TestRoleLessUserSignsOnly(t *testing.T) {
	t.Parallel()
	users := []config.User{{Name: "app", PasswordHash: hash(t, "app-pw")}}
	a := New(func() []config.User { return users })
	w := &WorkerAuthorizer{Passwords: a}
	acc := config.Access{Type: config.AuthUsernamePassword, Users: []config.WorkerUser{{Name: "app", Shared: true}}}
	r, _ := http.NewRequest(http.MethodPost, "/signserver/worker/W", nil)
	r.SetBasicAuth("app", "app-pw")
	if who, err := w.Authorize(r, "192.0.2.1", "W", acc); err != nil || who != "app" {
		t.Errorf("the worker refused its listed user: %q, %v", who, err)
	}
	for _, role := range config.Roles() {
		if d := a.Decide("app", "app-pw", role); d == Allowed {
			t.Errorf("a user without roles is allowed the %s role's API", role)
		}
	}
}
