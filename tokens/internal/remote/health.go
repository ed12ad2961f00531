package remote

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/signet-project/signet/tokens"
)

// Health is the status of a remote token: Active, or Offline with the
// reason, and when the server was last probed. The token probes the server
// again at most once per Every, whether Active or not, so that the status
// follows the server and an Offline token recovers on its own.
//
// A token without credentials (not activated) is never probed, and Offline
// does not overwrite its reason. Health is safe for concurrent use.
type Health struct {
	// Prefix starts every error Health returns ("dsm token NAME").
	Prefix string
	// Every is the shortest time between two probes.
	Every time.Duration
	// Now is the clock probes are due by; time.Now when nil. Tests pass a
	// clock of their own, so that a probe is due when the test says so and
	// not when the machine's load lets a wall-clock interval pass.
	Now func() time.Time

	mu        sync.Mutex
	activated bool
	status    tokens.Status
	probed    time.Time // start of the last probe; zero: never probed
	probing   bool
}

// Reset sets whether the token has credentials and its status, at once.
func (h *Health) Reset(activated bool, st tokens.Status) {
	h.mu.Lock()
	h.activated, h.status = activated, st
	h.mu.Unlock()
}

// SetStatus sets the status as it is, whether the token has credentials or
// not (a test putting a token in a known state).
func (h *Health) SetStatus(st tokens.Status, probed time.Time) {
	h.mu.Lock()
	h.status, h.probed = st, probed
	h.mu.Unlock()
}

// Current returns whether the token has credentials and its status, as
// they are, without probing: what Reset puts back when new credentials are
// refused.
func (h *Health) Current() (activated bool, st tokens.Status) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.activated, h.status
}

// Activated reports whether the token has credentials.
func (h *Health) Activated() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.activated
}

// Active records that the server answered as it should.
func (h *Health) Active() {
	h.mu.Lock()
	if h.activated {
		h.status = tokens.Status{State: tokens.Active}
	}
	h.mu.Unlock()
}

// Offline records the token as Offline for reason (while it has
// credentials) and returns an error wrapping tokens.ErrOffline.
func (h *Health) Offline(reason string) error {
	h.mu.Lock()
	if h.activated {
		h.status = tokens.Status{State: tokens.Offline, Reason: reason}
	}
	h.mu.Unlock()
	return h.offlineErr(reason)
}

func (h *Health) offlineErr(reason string) error {
	return fmt.Errorf("%s: %s: %w", h.Prefix, reason, tokens.ErrOffline)
}

// Status reports the token's status, probing the server first when a probe
// is due.
func (h *Health) Status(ctx context.Context, probe func(context.Context) error) tokens.Status {
	h.mu.Lock()
	due := h.activated && h.dueLocked()
	h.mu.Unlock()
	if due {
		probe(ctx)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.status
}

func (h *Health) dueLocked() bool { return h.now().Sub(h.probed) >= h.Every && !h.probing }

func (h *Health) now() time.Time {
	if h.Now == nil {
		return time.Now()
	}
	return h.Now()
}

// Ready returns nil when the token may send requests: it has credentials
// and is Active, or a due probe finds the server well. notActivated is the
// reason given when the token has no credentials.
func (h *Health) Ready(ctx context.Context, notActivated string, probe func(context.Context) error) error {
	h.mu.Lock()
	st, due, activated := h.status, h.dueLocked(), h.activated
	h.mu.Unlock()
	switch {
	case !activated:
		return h.offlineErr(notActivated)
	case st.State == tokens.Active:
		return nil
	case due:
		return probe(ctx)
	}
	return h.offlineErr(st.Reason)
}

// BeginProbe marks a probe as running and returns the function that ends
// it. When another probe is running it returns nil and the outcome the
// token has now: nil when Active, else an error wrapping ErrOffline.
func (h *Health) BeginProbe() (end func(), current error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.probing {
		if h.status.State == tokens.Active {
			return nil, nil
		}
		return nil, h.offlineErr(h.status.Reason)
	}
	h.probing, h.probed = true, h.now()
	return func() {
		h.mu.Lock()
		h.probing = false
		h.mu.Unlock()
	}, nil
}
