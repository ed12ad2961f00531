package auth

import (
	"sync"
	"time"
)

// Throttle slows password guessing down per user name and client address.
// The first FreeFailures failures cost nothing; each one after them locks
// the pair out for Base, then twice as long, and so on up to Max. While a
// pair is locked out its attempts are refused (429 with Retry-After)
// without looking at the password, so that the right password guessed
// during a lock-out does not get in either. A success clears the pair.
//
// Keying by user and address together keeps one attacker from locking a
// user out everywhere, and one address from trying many users unslowed
// is the job of a rate limiter in front, not of this.
type Throttle struct {
	FreeFailures int
	Base, Max    time.Duration
	now          func() time.Time

	mu    sync.Mutex
	pairs map[throttleKey]*throttleState
}

type throttleKey struct{ user, addr string }

type throttleState struct {
	failures int
	until    time.Time // locked out until
	last     time.Time
}

// maxPairs bounds the pairs remembered; past it the ones not locked out
// are forgotten.
const maxPairs = 100000

// NewThrottle returns a Throttle with 3 free failures, then 1s doubling up
// to 15 minutes.
func NewThrottle() *Throttle {
	return &Throttle{FreeFailures: 3, Base: time.Second, Max: 15 * time.Minute, now: time.Now, pairs: map[throttleKey]*throttleState{}}
}

// Wait returns how long user from addr must wait before an attempt is
// looked at; 0 when it may be tried now.
func (t *Throttle) Wait(user, addr string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.pairs[throttleKey{user, addr}]
	if s == nil {
		return 0
	}
	return max(s.until.Sub(t.now()), 0)
}

// Failed records a failed attempt and returns the lock-out it starts (0
// while the failures are free).
func (t *Throttle) Failed(user, addr string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	k := throttleKey{user, addr}
	s := t.pairs[k]
	if s == nil {
		if len(t.pairs) >= maxPairs {
			t.prune(now)
		}
		s = &throttleState{}
		t.pairs[k] = s
	}
	s.failures++
	s.last = now
	over := s.failures - t.FreeFailures
	if over <= 0 {
		return 0
	}
	d := t.Base
	for i := 1; i < over && d < t.Max; i++ {
		d *= 2
	}
	d = min(d, t.Max)
	s.until = now.Add(d)
	return d
}

// Succeeded clears the failures of user from addr.
func (t *Throttle) Succeeded(user, addr string) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.pairs, throttleKey{user, addr})
}

// prune forgets pairs not locked out whose last failure is older than Max.
func (t *Throttle) prune(now time.Time) {
	for k, s := range t.pairs {
		if now.After(s.until) && now.Sub(s.last) > t.Max {
			delete(t.pairs, k)
		}
	}
}
