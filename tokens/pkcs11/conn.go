package pkcs11

import (
	"crypto/x509"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/ThalesGroup/crypto11"
	p11 "github.com/miekg/pkcs11"

	"github.com/signet-project/signet/tokens"
)

// conn is one opening of the token: a crypto11 context and a handle on the
// module for health checks. Operations hold its read lock; close takes the
// write lock, so a context is never closed under a running operation and
// crypto11's Close (which waits for its sessions) cannot block forever.
type conn struct {
	c      *crypto11.Context
	probeH *p11.Ctx // the same module, to call C_GetTokenInfo; never initialised or finalised through it
	slot   uint
	serial string        // token serial number when opened
	logins *moduleLogins // the login state c joined; nil until it joined

	rw        sync.RWMutex
	closed    bool
	closeOnce sync.Once

	keyMu  sync.Mutex
	keys   map[string]crypto11.Signer     // alias → key pair, found on this conn
	chains map[string][]*x509.Certificate // alias → its certificate chain, read on this conn; never empty
}

// open loads the module, finds the token and logs in with pin.
func (t *Token) open(pin string) (*conn, error) {
	if err := t.ModuleError(); err != nil {
		return nil, fmt.Errorf("%w: %w", err, tokens.ErrOffline)
	}
	// probeH is made first: it keeps the library loaded, and its function
	// list is that of the instance crypto11 initialises.
	probeH := p11.New(t.module)
	if probeH == nil {
		return nil, fmt.Errorf("%s cannot be loaded as a PKCS#11 module (a library name not in the dynamic loader's path, or a file that is no module): install it or fix SHAREDLIBRARYNAME: %w", t.module, tokens.ErrOffline)
	}
	cfg := &crypto11.Config{Path: t.module, Pin: pin, MaxSessions: t.pool + 1}
	switch t.slotType {
	case SlotLabel:
		cfg.TokenLabel = t.slotValue
	case SlotNumber:
		n, _ := strconv.Atoi(t.slotValue) // checked by validate
		cfg.SlotNumber = &n
	case SlotIndex:
		id, err := slotAtIndex(probeH, t.slotValue)
		if err != nil {
			probeH.Destroy()
			return nil, err
		}
		n := int(id)
		cfg.SlotNumber = &n
	}
	ml := loginsOf(t.module)
	ml.mu.Lock()
	defer ml.mu.Unlock()
	c, err := crypto11.Configure(cfg)
	if err != nil {
		probeH.Destroy()
		return nil, openError(t.slotType, t.slotValue, err)
	}
	cn := &conn{c: c, probeH: probeH, keys: map[string]crypto11.Signer{}, chains: map[string][]*x509.Certificate{}}
	if err := cn.findSlot(t.slotType, t.slotValue); err != nil {
		cn.close()
		return nil, err
	}
	// crypto11 took CKR_USER_ALREADY_LOGGED_IN for success: the PIN is
	// checked against the slot's live login (login.go).
	if err := ml.join(cn.slot, pin); err != nil {
		cn.close()
		return nil, err
	}
	cn.logins = ml
	return cn, nil
}

// slotAtIndex resolves SLOT_INDEX. crypto11 only selects by slot ID, label
// or serial, so the list of slots is read here. When no crypto11 context
// holds the module it is initialised for the time of the listing; an
// opening of another token of the same module at that very moment fails
// once and is retried after RetryInterval.
func slotAtIndex(h *p11.Ctx, value string) (uint, error) {
	idx, _ := strconv.Atoi(value) // checked by validate
	err := h.Initialize()
	own := err == nil
	if err != nil && !isCode(err, p11.CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		return 0, fmt.Errorf("the PKCS#11 module failed to start (%v): %w", err, tokens.ErrOffline)
	}
	slots, err := h.GetSlotList(true)
	if own {
		_ = h.Finalize()
	}
	if err != nil {
		return 0, fmt.Errorf("the PKCS#11 module cannot list its slots (%v): %w", err, tokens.ErrOffline)
	}
	if idx >= len(slots) {
		return 0, fmt.Errorf("SLOT_INDEX %d is past the module's %d slots with a token: %w", idx, len(slots), tokens.ErrOffline)
	}
	return slots[idx], nil
}

// findSlot finds the slot crypto11 chose, for health checks, and remembers
// the token's serial number.
func (c *conn) findSlot(slotType, slotValue string) error {
	slots, err := c.probeH.GetSlotList(true)
	if err != nil {
		return fmt.Errorf("the PKCS#11 module cannot list its slots (%v): %w", err, tokens.ErrOffline)
	}
	idx, _ := strconv.Atoi(slotValue) // for SLOT_INDEX and SLOT_NUMBER; checked by validate
	for i, s := range slots {
		ti, err := c.probeH.GetTokenInfo(s)
		if err != nil {
			continue
		}
		var match bool
		switch slotType {
		case SlotLabel:
			match = ti.Label == slotValue
		case SlotNumber:
			match = uint64(s) == uint64(idx)
		case SlotIndex:
			match = i == idx
		}
		if match {
			c.slot, c.serial = s, ti.SerialNumber
			return nil
		}
	}
	return fmt.Errorf("the token %s %s went away while it was opened: %w", slotType, slotValue, tokens.ErrOffline)
}

// hold takes c's read lock; it reports false when c is closed.
func (c *conn) hold() bool {
	c.rw.RLock()
	if c.closed {
		c.rw.RUnlock()
		return false
	}
	return true
}

func (c *conn) release() { c.rw.RUnlock() }

// close waits for the operations on c, then closes the crypto11 context
// (which finalises the module if it is its last user) and the probe handle,
// and leaves the slot's login once its sessions are gone. The caller must
// not hold c's read lock.
func (c *conn) close() {
	c.closeOnce.Do(func() {
		c.rw.Lock()
		c.closed = true
		c.rw.Unlock()
		if c.logins != nil {
			c.logins.mu.Lock()
			defer c.logins.mu.Unlock()
			defer c.logins.leave(c.slot)
		}
		_ = c.c.Close()
		c.probeH.Destroy()
	})
}

// probe checks with C_GetTokenInfo that the slot still holds the token c
// opened and that its user PIN is not locked. The caller must not hold c's
// read lock.
func (c *conn) probe() error {
	if !c.hold() {
		return errors.New("the token was closed")
	}
	ti, err := c.probeH.GetTokenInfo(c.slot)
	c.release()
	switch {
	case err != nil:
		return fmt.Errorf("the module no longer answers for the token (%s): check the HSM and its PKCS#11 module", errName(err))
	case ti.SerialNumber != c.serial:
		return fmt.Errorf("the slot holds another token now (serial %s, was %s): check the HSM", ti.SerialNumber, c.serial)
	case ti.Flags&p11.CKF_USER_PIN_LOCKED != 0:
		return errors.New("the user PIN of the token is locked: unlock it with the SO PIN")
	}
	return nil
}

// key returns the key pair labelled alias, nil when there is none. The
// caller holds c's read lock.
func (c *conn) key(alias string) (crypto11.Signer, error) {
	c.keyMu.Lock()
	k, ok := c.keys[alias]
	c.keyMu.Unlock()
	if ok {
		return k, nil
	}
	ks, err := c.c.FindKeyPairs(nil, []byte(alias))
	if err != nil || len(ks) == 0 {
		return nil, err
	}
	if len(ks) > 1 {
		return nil, fmt.Errorf("%d key pairs have the label %q: give each key its own label", len(ks), alias)
	}
	c.keyMu.Lock()
	c.keys[alias] = ks[0]
	c.keyMu.Unlock()
	return ks[0], nil
}

// forget drops the cached key pair and chain of alias.
func (c *conn) forget(alias string) {
	c.keyMu.Lock()
	delete(c.keys, alias)
	delete(c.chains, alias)
	c.keyMu.Unlock()
}

// openError turns a crypto11.Configure error into one a user can act on.
func openError(slotType, slotValue string, err error) error {
	if code, ok := p11Code(err); ok {
		switch code {
		case p11.CKR_PIN_INCORRECT, p11.CKR_PIN_INVALID, p11.CKR_PIN_LEN_RANGE:
			return errRefusedPIN()
		case p11.CKR_PIN_LOCKED:
			return fmt.Errorf("the user PIN of the token is locked: unlock it with the SO PIN: %w", tokens.ErrBadPIN)
		case p11.CKR_PIN_EXPIRED:
			return fmt.Errorf("the user PIN of the token expired: set a new one: %w", tokens.ErrBadPIN)
		}
	}
	return fmt.Errorf("cannot open the token %s %s (%v): check the slot settings and the HSM: %w", slotType, slotValue, err, tokens.ErrOffline)
}

// reasonFor is the Status reason for an open error: its text without the
// sentinel's.
func reasonFor(err error) string {
	s := err.Error()
	for _, sentinel := range []error{tokens.ErrOffline, tokens.ErrBadPIN} {
		if errors.Is(err, sentinel) {
			s = strings.TrimSuffix(s, ": "+sentinel.Error())
		}
	}
	return s
}

// p11Code finds the PKCS#11 return value in err.
func p11Code(err error) (uint, bool) {
	var pe p11.Error
	if errors.As(err, &pe) {
		return uint(pe), true
	}
	return 0, false
}

func isCode(err error, code uint) bool {
	c, ok := p11Code(err)
	return ok && c == code
}

// tokenGone reports whether a return value means the token, the session or
// the login is gone: the token must be re-opened.
func tokenGone(code uint) bool {
	switch code {
	case p11.CKR_DEVICE_REMOVED, p11.CKR_TOKEN_NOT_PRESENT, p11.CKR_TOKEN_NOT_RECOGNIZED,
		p11.CKR_DEVICE_ERROR, p11.CKR_DEVICE_MEMORY, p11.CKR_GENERAL_ERROR,
		p11.CKR_SESSION_HANDLE_INVALID, p11.CKR_SESSION_CLOSED, p11.CKR_SLOT_ID_INVALID,
		p11.CKR_USER_NOT_LOGGED_IN, p11.CKR_PIN_INCORRECT, p11.CKR_PIN_EXPIRED, p11.CKR_PIN_LOCKED,
		p11.CKR_CRYPTOKI_NOT_INITIALIZED:
		return true
	}
	return false
}

// staleHandle reports whether a return value means an object handle is no
// longer valid: the key was deleted, or the token was replaced.
func staleHandle(code uint) bool {
	return code == p11.CKR_OBJECT_HANDLE_INVALID || code == p11.CKR_KEY_HANDLE_INVALID
}

// codeName is the CKR_ name of a return value.
func codeName(code uint) string { return errName(p11.Error(code)) }

// errName is the CKR_ name in a PKCS#11 error, or its text.
func errName(err error) string {
	var pe p11.Error
	if errors.As(err, &pe) {
		s := pe.Error() // "pkcs11: 0x5: CKR_GENERAL_ERROR"
		for i := len(s) - 1; i >= 0; i-- {
			if s[i] == ' ' {
				return s[i+1:]
			}
		}
		return s
	}
	return err.Error()
}
