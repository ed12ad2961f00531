// Package auth decides who may use Signet's HTTP surfaces: it checks
// credentials against the users of the configuration in force and answers
// whether a user holds a role or may sign with a key. Every surface (the
// admin API, the vendor-compatible APIs, and later the admin UI, client
// certificates and sessions) asks this package, so that one user, one
// password and one role mean the same everywhere.
//
// The Authenticator is the one place that knows users; a new way to prove
// who one is (a client certificate, a session cookie) is a new method here
// that ends in the same role and key checks.
package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/signet-project/signet/config"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/sync/singleflight"
)

// Decision is the outcome of checking a user's credentials for a role.
type Decision int

// Decisions of Authenticator.Decide.
const (
	// Denied: unknown user or wrong password (HTTP 401).
	Denied Decision = iota
	// Forbidden: right password, but the user does not hold the role (403).
	Forbidden
	// Allowed: right password and the role.
	Allowed
)

// cacheTTL is how long a successful password check is remembered.
const cacheTTL = 5 * time.Minute

// cacheMax bounds the remembered checks: past it the cache is cleared
// rather than grown.
const cacheMax = 10000

// Authenticator checks HTTP basic credentials against the users of the
// configuration in force. A bcrypt comparison costs tens of milliseconds by
// design; clients of the vendor APIs send the same credentials with every
// request (NetHSM signs one message per call), so a successful check is
// remembered for a while, keyed by an HMAC of user, hash and password under
// a key that lives only in memory. A changed hash or password misses the
// cache; a removed user is refused at once because the user is looked up
// first.
type Authenticator struct {
	// ClientCAs returns the client CA bundle in force (nil: none), which
	// the client certificates of users are verified against (CertUser).
	ClientCAs func() *x509.CertPool

	users func() []config.User
	ttl   time.Duration
	now   func() time.Time

	key    [32]byte
	mu     sync.Mutex
	seen   map[[sha256.Size]byte]time.Time
	hashes map[config.Secret]hashEntry // hashes kept in files or the environment
	// checks runs one bcrypt check at a time per name, hash and password:
	// the clients that send the same credentials at once (32 connections
	// of one client starting together, or all of them when the cache
	// entry expires) wait for its answer instead of each running their
	// own, some 75 ms of CPU apiece.
	checks  singleflight.Group
	compare func(hash, password []byte) error // bcrypt's; a test's that counts
}

// hashTTL is how long a password hash read from its file (or environment
// variable) is used from memory. Reading the file on every check cost a
// fifth of a NetHSM or DSM sign request, whose clients send credentials
// with every call; a hash file rewritten in place is in force within this
// time, as before without a reload.
const hashTTL = time.Second

type hashEntry struct {
	hash string
	err  error
	at   time.Time
}

// New returns an Authenticator over users, called on every check so that a
// reloaded configuration is in force at once.
func New(users func() []config.User) *Authenticator {
	a := &Authenticator{users: users, ttl: cacheTTL, now: time.Now, seen: map[[sha256.Size]byte]time.Time{}, hashes: map[config.Secret]hashEntry{},
		compare: bcrypt.CompareHashAndPassword}
	rand.Read(a.key[:]) // never fails (crypto/rand)
	return a
}

// user returns the user named name.
func (a *Authenticator) user(name string) (config.User, bool) {
	for _, c := range a.users() {
		if c.Name == name {
			return c, true
		}
	}
	return config.User{}, false
}

// Decide checks credentials for a surface that roles may use (the admin
// API: admin, operator, auditor; a vendor API: its one role), with one
// password check: Allowed for a user who holds one of roles, Forbidden for
// a user with the right password who holds none (never a 403 to someone
// who does not know it), Denied for anyone else — in the same time whether
// the user exists or not.
func (a *Authenticator) Decide(name, password string, roles ...string) Decision {
	u, found := a.user(name)
	if !found {
		CheckPassword("", password) // the time of a real check
		return Denied
	}
	if !a.password(u, password) {
		return Denied
	}
	if slices.ContainsFunc(roles, u.HasRole) {
		return Allowed
	}
	return Forbidden
}

// MayUseKey reports whether the user named name may sign with the key alias
// of token (config.User.Keys).
func (a *Authenticator) MayUseKey(name, token, alias string) bool {
	u, ok := a.user(name)
	return ok && u.MayUseKey(token, alias)
}

// password reports whether password matches u's hash, through the cache.
func (a *Authenticator) password(u config.User, password string) bool {
	hash, err := a.hash(u)
	if err != nil {
		hash = "" // a hash file that cannot be read: refused as no hash
	}
	return a.matches(u.Name, hash, password)
}

// matches reports whether password matches hash, the bcrypt hash of the
// user name, through the cache of successful checks. An empty hash (a user
// of client certificates only, an unreadable hash file, an unknown user) is
// refused in the time of a real check.
func (a *Authenticator) matches(name, hash, password string) bool {
	if hash == "" {
		CheckPassword("", password)
		return false
	}
	m := hmac.New(sha256.New, a.key[:])
	m.Write([]byte(name))
	m.Write([]byte{0})
	m.Write([]byte(hash))
	m.Write([]byte{0})
	m.Write([]byte(password))
	var k [sha256.Size]byte
	m.Sum(k[:0])
	now := a.now()
	a.mu.Lock()
	exp, ok := a.seen[k]
	a.mu.Unlock()
	if ok && now.Before(exp) {
		return true
	}
	v, _, _ := a.checks.Do(string(k[:]), func() (any, error) {
		if a.compare([]byte(hash), []byte(password)) != nil {
			return false, nil
		}
		a.mu.Lock()
		if len(a.seen) > cacheMax {
			clear(a.seen)
		}
		a.seen[k] = now.Add(a.ttl)
		a.mu.Unlock()
		return true, nil
	})
	return v.(bool)
}

// hash returns u's bcrypt hash, from memory when it was read from its file
// less than hashTTL ago.
func (a *Authenticator) hash(u config.User) (string, error) {
	if u.PasswordHash != "" {
		return u.PasswordHash, nil
	}
	now := a.now()
	a.mu.Lock()
	e, ok := a.hashes[u.PasswordHashFrom]
	a.mu.Unlock()
	if ok && !now.Before(e.at) && now.Sub(e.at) < hashTTL {
		return e.hash, e.err
	}
	h, err := u.Hash()
	a.mu.Lock()
	if len(a.hashes) > cacheMax {
		clear(a.hashes)
	}
	a.hashes[u.PasswordHashFrom] = hashEntry{h, err, now}
	a.mu.Unlock()
	return h, err
}

// HashPassword returns the bcrypt hash of password, as a user's passwordHash
// in the configuration takes it.
func HashPassword(password string) (string, error) {
	if password == "" {
		return "", errors.New("the password is empty")
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return "", err
	}
	return string(h), nil
}

// Stamp returns what a session of the user named name depends on, as an
// opaque value: an HMAC, under the Authenticator's in-memory key, of its
// password hash, roles and client certificate rules; "" when there is no
// such user. A session (of the admin UI, a DSM bearer token) keeps the
// stamp of its login and ends when the stamp changes, so that a changed
// password, a removed user or a changed role ends the sessions logged in
// before, instead of leaving them until they idle out. The hash itself
// never leaves this package.
func (a *Authenticator) Stamp(name string) string {
	u, ok := a.user(name)
	if !ok {
		return ""
	}
	hash, err := a.hash(u)
	if err != nil {
		hash = "" // unreadable: the stamp of a user without a password
	}
	m := hmac.New(sha256.New, a.key[:])
	m.Write([]byte("stamp\x00"))
	for _, s := range []string{u.Name, hash} {
		m.Write([]byte(s))
		m.Write([]byte{0})
	}
	for _, r := range u.Roles {
		m.Write([]byte(r))
		m.Write([]byte{1})
	}
	m.Write([]byte{0})
	for _, c := range u.AuthorizedClients {
		for _, s := range []string{c.SubjectType, c.SubjectValue, c.IssuerType, c.IssuerValue} {
			m.Write([]byte(s))
			m.Write([]byte{1})
		}
		m.Write([]byte{2})
	}
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}
