// Package pkcs11 is a Signet crypto token over any PKCS#11 module (an HSM's
// library, SoftHSM2 in tests), built on github.com/ThalesGroup/crypto11. Its
// options mirror SignServer's PKCS11CryptoToken: SHAREDLIBRARYNAME (Module),
// SLOTLABELTYPE and SLOTLABELVALUE (SlotType, SlotValue), PIN and POOLSIZE.
//
// Keys are found by CKA_LABEL, which is the key alias. Certificates are
// CKO_CERTIFICATE objects: the signer certificate has the label of its key
// (and its CKA_ID), the rest of the chain the labels alias+"-chain-1",
// alias+"-chain-2", … in chain order, which is how Chain reads them back.
//
// The token signs one digest per PKCS#11 call over a pool of PoolSize
// sessions, so it implements tokens.Parallelizer rather than
// tokens.BatchSigner: tokens.SignAll keeps PoolSize signatures in flight.
// RSA keys sign PKCS#1 v1.5 and PSS (*rsa.PSSOptions), EC keys ECDSA; crypto11
// has no Ed25519.
//
// # Health
//
// A token is Offline, with the reason, until it is activated and whenever
// the module stops answering for it: a PKCS#11 error that means the token,
// its session or its login is gone (CKR_DEVICE_REMOVED, CKR_TOKEN_NOT_PRESENT,
// CKR_SESSION_HANDLE_INVALID, CKR_PIN_INCORRECT, …), or a C_GetTokenInfo
// check that fails or finds another token in the slot. The token then closes
// its crypto11 context, and the next Status or use re-opens it with the
// remembered PIN, at most once per RetryInterval, so it comes back on its own
// once the module answers again. A PIN the module refuses is forgotten rather
// than retried, since retrying would lock the PIN of a real HSM: the token
// then waits for Activate.
//
// crypto11 shares one initialised module among all its contexts on the same
// library path and calls C_Finalize only when the last one closes. A module
// in a state that only C_Finalize clears (SoftHSM2 after a token's folder
// vanished) therefore recovers only once every token of this process on that
// module has been closed; while one token of a module is broken, crypto11 may
// also fail to open the others, since it reads the token information of every
// slot when it looks for one.
package pkcs11

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/signet-project/signet/tokens"
)

// Slot selectors for Options.SlotType, SignServer's SLOTLABELTYPE values.
const (
	// SlotNumber selects the slot whose PKCS#11 slot ID is SlotValue.
	SlotNumber = "SLOT_NUMBER"
	// SlotIndex selects the slot at index SlotValue (from 0) in the
	// module's list of slots with a token.
	SlotIndex = "SLOT_INDEX"
	// SlotLabel selects the slot whose token label is SlotValue.
	SlotLabel = "SLOT_LABEL"
)

// Defaults for Options.
const (
	DefaultPoolSize      = 8
	DefaultRetryInterval = 5 * time.Second
)

// Options configure a PKCS#11 token.
type Options struct {
	// Name is the token's configured name.
	Name string
	// Module is the path of the PKCS#11 library (SHAREDLIBRARYNAME).
	Module string
	// SlotType says how SlotValue selects the token (SLOTLABELTYPE):
	// SlotNumber, SlotIndex or SlotLabel.
	SlotType string
	// SlotValue is the slot ID, index or token label (SLOTLABELVALUE).
	SlotValue string
	// PoolSize is the number of signing sessions, and so of signatures in
	// flight (POOLSIZE; DefaultPoolSize when zero). The token opens one
	// more session to hold the login.
	PoolSize int
	// PIN is the user PIN for auto-activation (PIN): when set, the token
	// activates itself on first use. When empty it waits for Activate.
	PIN string
	// RetryInterval is the shortest time between two attempts to re-open
	// or re-check the token (DefaultRetryInterval when zero).
	RetryInterval time.Duration
	// Now is the clock RetryInterval is measured by; time.Now when nil.
	// Tests pass their own, so that a re-check is due when they say so.
	Now func() time.Time
}

// Token is a PKCS#11 crypto token. It is safe for concurrent use.
type Token struct {
	name      string
	module    string
	slotType  string
	slotValue string
	pool      int
	retry     time.Duration
	now       func() time.Time
	cfgErr    error // a configuration error keeps the token Offline

	cur atomic.Pointer[conn] // nil while Offline

	mu      sync.Mutex // guards the fields below; never held while a conn closes
	pin     string
	reason  string    // why the token is Offline
	checked time.Time // start of the last open attempt or health check
}

const notActivated = "not activated: activate the token with its user PIN"

// New returns a token for opts. It does not load the module: the token is
// Offline until Activate, or until its first use when opts.PIN is set. An
// invalid option keeps the token Offline with the reason.
func New(opts Options) *Token {
	t := &Token{
		name:      opts.Name,
		module:    opts.Module,
		slotType:  strings.ToUpper(strings.TrimSpace(opts.SlotType)),
		slotValue: opts.SlotValue,
		pool:      opts.PoolSize,
		retry:     opts.RetryInterval,
		now:       opts.Now,
		pin:       opts.PIN,
		reason:    notActivated,
	}
	if t.pool <= 0 {
		t.pool = DefaultPoolSize
	}
	if t.retry <= 0 {
		t.retry = DefaultRetryInterval
	}
	if t.now == nil {
		t.now = time.Now
	}
	t.cfgErr = t.validate()
	if t.cfgErr != nil {
		t.reason = t.cfgErr.Error()
	}
	return t
}

func (t *Token) validate() error {
	if t.module == "" {
		return fmt.Errorf("pkcs11 token %s: set SHAREDLIBRARYNAME to the path of the PKCS#11 module", t.name)
	}
	if t.slotValue == "" {
		return fmt.Errorf("pkcs11 token %s: set SLOTLABELVALUE to the slot number, index or token label", t.name)
	}
	switch t.slotType {
	case SlotLabel:
	case SlotNumber, SlotIndex:
		if n, err := strconv.Atoi(t.slotValue); err != nil || n < 0 {
			return fmt.Errorf("pkcs11 token %s: SLOTLABELVALUE %q must be a number for SLOTLABELTYPE %s", t.name, t.slotValue, t.slotType)
		}
	default:
		return fmt.Errorf("pkcs11 token %s: SLOTLABELTYPE %q must be SLOT_NUMBER, SLOT_INDEX or SLOT_LABEL", t.name, t.slotType)
	}
	return nil
}

// ConfigError returns what is wrong with the token's options (the module,
// the slot), or nil: such a token stays OFFLINE whatever its PIN, so that
// `signet config check` reports it.
func (t *Token) ConfigError() error { return t.cfgErr }

// ModuleError returns why the module file cannot be read (not installed,
// or a wrong SHAREDLIBRARYNAME), or nil: the token is OFFLINE until it
// can, so opening the token checks it first and `signet config check`
// reports it. A name without a '/' is the dynamic loader's to find, in its
// own search path, when the module is loaded.
func (t *Token) ModuleError() error {
	if !strings.ContainsRune(t.module, '/') {
		return nil
	}
	if _, err := os.Stat(t.module); err != nil {
		return fmt.Errorf("PKCS#11 module %s cannot be read: install it or fix SHAREDLIBRARYNAME", t.module)
	}
	return nil
}

// Name returns the token's configured name.
func (t *Token) Name() string { return t.name }

// Parallelism reports the session pool size: how many signatures
// tokens.SignAll asks for at once.
func (t *Token) Parallelism() int { return t.pool }

// Status reports whether the token can sign. An Active token is checked
// with C_GetTokenInfo, and an Offline one with a remembered PIN is
// re-opened, when the last check is older than RetryInterval.
func (t *Token) Status(ctx context.Context) tokens.Status {
	if c := t.cur.Load(); c != nil {
		t.mu.Lock()
		now := t.now()
		due := now.Sub(t.checked) >= t.retry
		if due {
			t.checked = now
		}
		t.mu.Unlock()
		if due {
			t.check(c)
		}
	} else {
		_ = t.reopen(ctx, false)
	}
	if t.cur.Load() != nil {
		return tokens.Status{State: tokens.Active}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return tokens.Status{State: tokens.Offline, Reason: t.reason}
}

// Activate logs in with pin and keeps it for re-opening the token after a
// failure. A PIN the module refuses wraps tokens.ErrBadPIN and is not kept;
// a module or token that cannot be reached wraps tokens.ErrOffline, and the
// PIN is kept so that the token becomes Active when it can be reached.
func (t *Token) Activate(ctx context.Context, pin string) error {
	if t.cfgErr != nil {
		return t.cfgErr
	}
	if pin == "" {
		return fmt.Errorf("pkcs11 token %s: the PIN is empty: %w", t.name, tokens.ErrNoPIN)
	}
	// Close the current context first: the login of a PKCS#11 token is
	// shared by all sessions of the process, so a new PIN is only checked
	// once the old sessions are gone. Closing under t.mu cannot deadlock:
	// operations never take t.mu while they hold a conn.
	t.mu.Lock()
	defer t.mu.Unlock()
	oldPIN := t.pin
	t.pin = pin
	old := t.cur.Swap(nil)
	if old != nil {
		old.close()
	}
	err := t.reopenLocked(ctx, true)
	if errors.Is(err, tokens.ErrBadPIN) && old != nil && oldPIN != pin {
		// A wrong PIN given to an Active token changes nothing: log in
		// again with the PIN it was working with, so that a typo does not
		// take it Offline.
		t.pin = oldPIN
		if rerr := t.reopenLocked(ctx, true); rerr != nil && t.reason == "" {
			t.reason = reasonFor(rerr) // not tried: the context ended
		}
	}
	return err
}

// Deactivate logs out, forgets the PIN and releases the module; the token
// is Offline until activated again. It waits for signatures in flight.
func (t *Token) Deactivate(context.Context) error {
	t.mu.Lock()
	t.pin = ""
	t.reason = notActivated
	if t.cfgErr != nil {
		t.reason = t.cfgErr.Error()
	}
	old := t.cur.Swap(nil)
	t.mu.Unlock()
	if old != nil {
		old.close()
	}
	return nil
}

// Close is Deactivate: it releases the module and the PIN.
func (t *Token) Close() error { return t.Deactivate(context.Background()) }

// reopen opens the token with the remembered PIN when it is Offline and,
// unless force is set, the last attempt is older than RetryInterval. It
// returns nil when the token is Active afterwards.
func (t *Token) reopen(ctx context.Context, force bool) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.reopenLocked(ctx, force)
}

func (t *Token) reopenLocked(ctx context.Context, force bool) error {
	if t.cur.Load() != nil {
		return nil
	}
	if t.cfgErr != nil {
		return fmt.Errorf("%w: %w", t.cfgErr, tokens.ErrOffline)
	}
	if t.pin == "" || (!force && t.now().Sub(t.checked) < t.retry) {
		return t.offlineErrLocked()
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	t.checked = t.now()
	c, err := t.open(t.pin)
	if err != nil {
		t.reason = reasonFor(err)
		if errors.Is(err, tokens.ErrBadPIN) {
			t.pin = "" // never retry a refused PIN: it would lock a real HSM's PIN
			return err
		}
		return fmt.Errorf("pkcs11 token %s: %w", t.name, err)
	}
	t.cur.Store(c)
	t.reason = ""
	return nil
}

func (t *Token) offlineErrLocked() error {
	return fmt.Errorf("pkcs11 token %s is offline (%s): %w", t.name, t.reason, tokens.ErrOffline)
}

func (t *Token) offlineErr() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.offlineErrLocked()
}

// acquire returns the open context, re-opening it if it is due, with its
// read lock held: release it with c.release().
func (t *Token) acquire(ctx context.Context) (*conn, error) {
	for range 3 {
		c := t.cur.Load()
		if c == nil {
			if err := t.reopen(ctx, false); err != nil {
				return nil, err
			}
			continue
		}
		if c.hold() {
			return c, nil
		}
	}
	return nil, t.offlineErr()
}

// fail takes the token Offline because c failed, and closes c. The caller
// must not hold c's read lock. The next use re-opens at once, then at most
// once per RetryInterval.
func (t *Token) fail(c *conn, reason string) {
	t.mu.Lock()
	if t.cur.CompareAndSwap(c, nil) {
		t.reason = reason
		t.checked = time.Time{}
	}
	t.mu.Unlock()
	c.close()
}

// check asks the module about c's token and takes the token Offline when
// the answer is wrong. It reports whether c is healthy. The caller must not
// hold c's read lock.
func (t *Token) check(c *conn) bool {
	if err := c.probe(); err != nil {
		t.fail(c, err.Error())
		return false
	}
	return true
}

// failure looks at an error of an operation on c, after c was released. An
// error that means the token, its session or login is gone takes the token
// Offline and is returned wrapping tokens.ErrOffline; a stale object handle
// on a healthy token drops c's cached keys and wraps tokens.ErrKeyNotFound.
// Other errors are returned as they are.
func (t *Token) failure(c *conn, alias string, err error) error {
	code, ok := p11Code(err)
	if !ok {
		return err
	}
	switch {
	case tokenGone(code):
		t.fail(c, fmt.Sprintf("the module reported %s: check the HSM and its PKCS#11 module", codeName(code)))
		return t.offlineErr()
	case staleHandle(code):
		if !t.check(c) {
			return t.offlineErr()
		}
		c.forget(alias)
		return fmt.Errorf("pkcs11 token %s: key %q is no longer on the token: %w", t.name, alias, tokens.ErrKeyNotFound)
	}
	return err
}

// Interface checks.
var (
	_ tokens.Token            = (*Token)(nil)
	_ tokens.Parallelizer     = (*Token)(nil)
	_ tokens.KeyGenerator     = (*Token)(nil)
	_ tokens.CertificateStore = (*Token)(nil)
	_ crypto.Signer           = (*signer)(nil)
)
