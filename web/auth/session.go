package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"sync"
	"time"
)

// Sessions are the browser sessions of the admin web UI: a user who logged
// in with name and password gets a random session ID in a cookie (HttpOnly,
// SameSite=Strict, Secure when the client's request was https, never
// readable by scripts) and a CSRF token that every form posts back. A
// session ends at logout, after its idle timeout without a request, or its
// lifetime after the login, however busy (DefaultIdleTimeout,
// DefaultMaxLifetime). Sessions live in memory only: a restart logs
// everyone out, which is the safe side for an admin surface.
type Sessions struct {
	cookie, path string        // the cookie's name and path
	idle         time.Duration // without a request
	lifetime     time.Duration // after the login, however busy
	now          func() time.Time

	mu sync.Mutex
	m  map[[sha256.Size]byte]*Session // by SHA-256 of the ID: the ID itself is not kept
}

// Session is one logged-in user.
type Session struct {
	User string
	// CSRF is the token every form of this session posts back.
	CSRF string
	// Stamp is what the session depends on, as it was at login
	// (Authenticator.Stamp): the session ends when it changes.
	Stamp   string
	started time.Time // the login
	seen    time.Time // the last request

	mu    sync.Mutex
	flash *Flash
}

// Flash is a message shown once, on the page after a POST redirects.
type Flash struct {
	Error    bool
	Text     string
	Problems []string // configuration problems, file:line: …
	// Form is what a refused form held, for its page to show again
	// (by field name): kept with the session in memory, never in a URL.
	Form map[string]string
}

// SetFlash keeps f for the next page.
func (s *Session) SetFlash(f Flash) {
	s.mu.Lock()
	s.flash = &f
	s.mu.Unlock()
}

// PeekFlash returns the message kept for this page, leaving it for
// TakeFlash: a page reads the refused form's values before it renders.
func (s *Session) PeekFlash() *Flash {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.flash
}

// TakeFlash returns the message kept for this page, once.
func (s *Session) TakeFlash() *Flash {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.flash
	s.flash = nil
	return f
}

// DefaultIdleTimeout ends a session after 15 minutes without a request.
const DefaultIdleTimeout = 15 * time.Minute

// DefaultMaxLifetime ends a session 12 hours after its login, however
// busy: a working day, after which a cookie taken from a browser (shared,
// or copied) is worth nothing even if it was kept in use.
const DefaultMaxLifetime = 12 * time.Hour

// maxSessions bounds the sessions in memory; past it the oldest-seen are
// dropped.
const maxSessions = 10000

// NewSessions returns an empty session store for a cookie named cookie,
// sent for path, that ends sessions after idle without a request (zero:
// DefaultIdleTimeout) and lifetime after their login (zero:
// DefaultMaxLifetime).
func NewSessions(cookie, path string, idle, lifetime time.Duration) *Sessions {
	if idle <= 0 {
		idle = DefaultIdleTimeout
	}
	if lifetime <= 0 {
		lifetime = DefaultMaxLifetime
	}
	return &Sessions{cookie: cookie, path: path, idle: idle, lifetime: lifetime, now: time.Now, m: map[[sha256.Size]byte]*Session{}}
}

func random() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Start begins a session for user (after a successful login), with the
// user's stamp (Authenticator.Stamp; "" for none), and sets its cookie on
// w, Secure when secure: the client's request was https (echo's
// Context.Scheme), over TLS to this server or to a trusted reverse proxy.
// A session the request already had ends: a new ID at login defeats
// session fixation.
func (ss *Sessions) Start(w http.ResponseWriter, r *http.Request, secure bool, user, stamp string) *Session {
	ss.End(w, r, secure)
	id := random()
	now := ss.now()
	s := &Session{User: user, CSRF: random(), Stamp: stamp, started: now, seen: now}
	ss.mu.Lock()
	ss.prune()
	ss.m[sha256.Sum256([]byte(id))] = s
	ss.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: ss.cookie, Value: id, Path: ss.path, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: secure})
	return s
}

// over reports whether s has ended by now: idle too long, or past its
// lifetime.
func (ss *Sessions) over(s *Session, now time.Time) bool {
	return now.Sub(s.seen) > ss.idle || now.Sub(s.started) >= ss.lifetime
}

// prune drops ended sessions, and the oldest when there are too many.
// Called with mu held.
func (ss *Sessions) prune() {
	now := ss.now()
	var oldest [sha256.Size]byte
	var oldestSeen time.Time
	for k, s := range ss.m {
		if ss.over(s, now) {
			delete(ss.m, k)
			continue
		}
		if oldestSeen.IsZero() || s.seen.Before(oldestSeen) {
			oldest, oldestSeen = k, s.seen
		}
	}
	if len(ss.m) >= maxSessions {
		delete(ss.m, oldest)
	}
}

// Get returns the session of the request's cookie, when it exists and has
// not ended (idle too long, or past its lifetime); it counts as activity.
func (ss *Sessions) Get(r *http.Request) (*Session, bool) {
	c, err := r.Cookie(ss.cookie)
	if err != nil || c.Value == "" {
		return nil, false
	}
	k := sha256.Sum256([]byte(c.Value))
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s, ok := ss.m[k]
	if !ok {
		return nil, false
	}
	now := ss.now()
	if ss.over(s, now) {
		delete(ss.m, k)
		return nil, false
	}
	s.seen = now
	return s, true
}

// End ends the request's session, if any, and clears the cookie (Secure
// as Start set it).
func (ss *Sessions) End(w http.ResponseWriter, r *http.Request, secure bool) {
	c, err := r.Cookie(ss.cookie)
	if err != nil {
		return
	}
	ss.mu.Lock()
	delete(ss.m, sha256.Sum256([]byte(c.Value)))
	ss.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: ss.cookie, Value: "", Path: ss.path, MaxAge: -1, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: secure})
}

// CSRFField is the form field that carries the CSRF token.
const CSRFField = "csrf"

// ValidCSRF reports whether the request carries the session's CSRF token,
// in the form field CSRFField or the X-CSRF-Token header.
func (s *Session) ValidCSRF(r *http.Request) bool {
	got := r.Header.Get("X-CSRF-Token")
	if got == "" {
		got = r.FormValue(CSRFField)
	}
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(s.CSRF)) == 1
}
