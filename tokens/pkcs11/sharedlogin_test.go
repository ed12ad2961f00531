package pkcs11

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/signet-project/signet/tokens"
)

// TestSharedLoginChecksPIN: a second token on a slot the process is already
// logged in to (another token, or the same token of the configuration a
// reload replaces) gets CKR_USER_ALREADY_LOGGED_IN from C_Login whatever
// its PIN. It used to take that for success, so a configuration with a
// wrong PIN worked as long as one with the right PIN was loaded first. The
// PIN must be refused as on a fresh slot, by every way of naming the slot,
// whether given to Activate or as the PIN option.
func TestSharedLoginChecksPIN(t *testing.T) {
	ctx := t.Context()
	// The sentence of a wrong PIN on a fresh slot, which the second token
	// must repeat.
	fresh := New(Options{Name: "fresh", Module: hsm.module, SlotType: SlotLabel, SlotValue: labelPIN})
	freshErr := fresh.Activate(ctx, "0000")
	fresh.Close()
	if !errors.Is(freshErr, tokens.ErrBadPIN) {
		t.Fatalf("Activate(wrong PIN) on a fresh slot = %v, want ErrBadPIN", freshErr)
	}

	first := newToken(t, labelPIN, Options{Name: "first"})
	id, index := slotOf(t, labelPIN)
	for _, tc := range []struct {
		name       string
		typ, value string
		pin        string
		auto       bool // the PIN is the PIN option, not given to Activate
		wantOK     bool
	}{
		{"label/wrong", SlotLabel, labelPIN, "0000", false, false},
		{"label/wrong prefix", SlotLabel, labelPIN, testPIN[:2], false, false},
		{"label/wrong longer", SlotLabel, labelPIN, testPIN + "5", false, false},
		{"number/wrong", SlotNumber, strconv.FormatUint(id, 10), "0000", false, false},
		{"index/wrong", SlotIndex, strconv.Itoa(index), "0000", false, false},
		{"label/wrong option", SlotLabel, labelPIN, "0000", true, false},
		{"label/right", SlotLabel, labelPIN, testPIN, false, true},
		{"number/right option", SlotNumber, strconv.FormatUint(id, 10), testPIN, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := Options{Name: "second", Module: hsm.module, SlotType: tc.typ, SlotValue: tc.value}
			if tc.auto {
				opts.PIN = tc.pin
			}
			second := New(opts)
			defer second.Close()
			var err error
			if tc.auto {
				_, err = second.Signer(ctx, "p256")
			} else {
				err = second.Activate(ctx, tc.pin)
			}
			st := second.Status(ctx)
			if tc.wantOK {
				if err != nil || st.State != tokens.Active {
					t.Fatalf("right PIN: err %v, Status %+v, want Active", err, st)
				}
			} else {
				if !tc.auto && (!errors.Is(err, tokens.ErrBadPIN) || err.Error() != freshErr.Error()) {
					t.Errorf("Activate(wrong PIN) with the slot logged in = %v, want %q", err, freshErr)
				}
				if tc.auto && err == nil {
					t.Errorf("Signer with a wrong PIN option succeeded")
				}
				if st.State != tokens.Offline || !strings.Contains(freshErr.Error(), st.Reason) {
					t.Errorf("Status = %+v, want Offline because the token refused the PIN", st)
				}
			}
			// The first token's login is untouched either way.
			if err := signAndVerify(t, first, 4); err != nil {
				t.Fatalf("the first token: %v", err)
			}
		})
	}
}

// TestSharedLoginReload follows a reload that re-opens a token (its
// configuration changed): the new token joins the old one's login, the old
// one closes, and the login the new one holds still refuses a wrong PIN;
// once every token of the slot is closed the slot's login is forgotten, so
// that the next login is checked by the module again.
func TestSharedLoginReload(t *testing.T) {
	ctx := t.Context()
	opts := Options{Module: hsm.module, SlotType: SlotLabel, SlotValue: labelPIN}
	old := newToken(t, labelPIN, opts)
	reloaded := newToken(t, labelPIN, opts)
	old.Close()
	if err := signAndVerify(t, reloaded, 4); err != nil {
		t.Fatalf("the re-opened token after the old one closed: %v", err)
	}
	wrong := New(opts)
	defer wrong.Close()
	if err := wrong.Activate(ctx, "0000"); !errors.Is(err, tokens.ErrBadPIN) {
		t.Fatalf("Activate(wrong PIN) while the re-opened token holds the login = %v, want ErrBadPIN", err)
	}
	reloaded.Close()
	id, _ := slotOf(t, labelPIN)
	ml := loginsOf(hsm.module)
	ml.mu.Lock()
	left := ml.slots[uint(id)]
	ml.mu.Unlock()
	if left != nil {
		t.Fatalf("the slot's login is remembered (%d tokens) with every token of the slot closed, want it forgotten", left.conns)
	}
	if err := wrong.Activate(ctx, "0000"); !errors.Is(err, tokens.ErrBadPIN) {
		t.Fatalf("Activate(wrong PIN) on the logged-out slot = %v, want ErrBadPIN", err)
	}
}
