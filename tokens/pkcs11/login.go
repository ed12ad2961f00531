package pkcs11

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"sync"

	"github.com/signet-project/signet/tokens"
)

// A PKCS#11 login belongs to the process, not to a session: once one
// context of a module is logged in to a slot, C_Login on that slot returns
// CKR_USER_ALREADY_LOGGED_IN whatever the PIN, and crypto11 takes that for
// success. A second token on the same slot (another configured token, or
// the same one of the configuration a reload or a cluster node's watch is
// replacing) would so be Active with any PIN. The module cannot check a PIN
// without logging out every other token of the slot, so this process keeps,
// per module and slot, the PIN the live login was made with, and a token
// that joins the login must give the same one.
//
// A consequence: when the user PIN was changed on the HSM while the slot
// stays logged in, a token given the new PIN is refused until every token of
// the slot has been closed (a reload drops the old ones), since the module
// only checks a PIN on a fresh login.

// logins holds the login state of each module path, as crypto11 shares one
// initialised module per path. Entries are never removed: a process uses a
// handful of modules.
var logins = struct {
	mu      sync.Mutex
	modules map[string]*moduleLogins
}{modules: map[string]*moduleLogins{}}

// moduleLogins is the login state of one module's slots.
type moduleLogins struct {
	// mu is held from crypto11.Configure to the join of the new context,
	// and from a context's Close to its leave, so that whether the slot
	// was logged in when C_Login ran is what slots says.
	mu    sync.Mutex
	slots map[uint]*slotLogin
}

// slotLogin is the live login of a slot: the SHA-256 of its PIN (so that
// the comparison takes the same time whatever the length of either PIN)
// and how many open contexts share it.
type slotLogin struct {
	pin   [sha256.Size]byte
	conns int
}

// loginsOf returns the login state of module.
func loginsOf(module string) *moduleLogins {
	logins.mu.Lock()
	defer logins.mu.Unlock()
	m := logins.modules[module]
	if m == nil {
		m = &moduleLogins{slots: map[uint]*slotLogin{}}
		logins.modules[module] = m
	}
	return m
}

// join records a context just opened on slot with pin. When the slot had
// no login, C_Login checked pin and the login is now pin's; otherwise pin
// must be the PIN of the live login, or the token refused it. The caller
// holds m.mu.
func (m *moduleLogins) join(slot uint, pin string) error {
	sum := sha256.Sum256([]byte(pin))
	l := m.slots[slot]
	if l == nil {
		m.slots[slot] = &slotLogin{pin: sum, conns: 1}
		return nil
	}
	if subtle.ConstantTimeCompare(l.pin[:], sum[:]) != 1 {
		return errRefusedPIN()
	}
	l.conns++
	return nil
}

// leave records that a context on slot was closed: with the last one the
// module logged the slot out. The caller holds m.mu.
func (m *moduleLogins) leave(slot uint) {
	if l := m.slots[slot]; l != nil {
		if l.conns--; l.conns <= 0 {
			delete(m.slots, slot)
		}
	}
}

// errRefusedPIN is the one sentence of a wrong PIN, whether the module or
// the live login of the slot refused it.
func errRefusedPIN() error {
	return fmt.Errorf("the token refused the PIN: activate it with the right user PIN: %w", tokens.ErrBadPIN)
}
