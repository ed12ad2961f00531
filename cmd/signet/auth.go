package main

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"sync"
	"time"

	"github.com/signet-project/signet/config"
	"golang.org/x/crypto/bcrypt"
)

// authenticator checks HTTP basic credentials against the users of the
// configuration in force. A bcrypt comparison costs tens of milliseconds by
// design; clients of the vendor APIs send the same credentials with every
// request (NetHSM signs one message per call), so a successful check is
// remembered for a while, keyed by an HMAC of user, hash and password under
// a key that lives only in memory. A changed hash or password misses the
// cache; a removed user is refused at once because the user is looked up
// first.
type authenticator struct {
	users func() []config.User
	ttl   time.Duration
	now   func() time.Time

	key  [32]byte
	mu   sync.Mutex
	seen map[[sha256.Size]byte]time.Time
}

func newAuthenticator(users func() []config.User) *authenticator {
	a := &authenticator{users: users, ttl: 5 * time.Minute, now: time.Now, seen: map[[sha256.Size]byte]time.Time{}}
	rand.Read(a.key[:]) // never fails (crypto/rand)
	return a
}

// check returns the user named name when password is theirs and they hold
// role.
func (a *authenticator) check(name, password, role string) (config.User, bool) {
	var u config.User
	found := false
	for _, c := range a.users() {
		if c.Name == name {
			u, found = c, true
			break
		}
	}
	if !found || !u.HasRole(role) {
		// Spend the same time as a real check so that user names cannot be
		// told apart by timing.
		bcrypt.CompareHashAndPassword(dummyHash, []byte(password))
		return config.User{}, false
	}
	hash, err := u.Hash()
	if err != nil {
		return config.User{}, false
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
		return u, true
	}
	if bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) != nil {
		return config.User{}, false
	}
	a.mu.Lock()
	if len(a.seen) > 10000 { // bounded: forget everything rather than grow
		clear(a.seen)
	}
	a.seen[k] = now.Add(a.ttl)
	a.mu.Unlock()
	return u, true
}

// dummyHash is compared against when the user is unknown.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("signet"), bcrypt.DefaultCost)
