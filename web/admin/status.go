package admin

import (
	"context"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/signet-project/signet/internal/clienttext"
	"github.com/signet-project/signet/state"
	"github.com/signet-project/signet/tokens"
	"github.com/signet-project/signet/workers"
)

// WorkerStatus is one worker as GET /workers reports it.
type WorkerStatus struct {
	Name   string   `json:"name"`
	ID     int      `json:"id"`
	Kind   string   `json:"kind"`
	Status string   `json:"status"` // ACTIVE, OFFLINE or DISABLED
	Errors []string `json:"errors,omitempty"`
	// KeyUsage is the signatures counted for the worker's key, against its
	// KEYUSAGELIMIT, when the worker counts them.
	KeyUsage *KeyUsage `json:"keyUsage,omitempty"`
	Token    string    `json:"token,omitempty"`
	Key      string    `json:"key,omitempty"`
	// Certificate is the worker's signer certificate, when its token is
	// active and the key has a chain.
	Certificate *Certificate `json:"certificate,omitempty"`
}

// KeyUsage is a key's usage count and limit.
type KeyUsage struct {
	Used  int64 `json:"used"`
	Limit int64 `json:"limit"` // -1: no limit
}

// Certificate describes a certificate.
type Certificate struct {
	Subject   string    `json:"subject"`
	Issuer    string    `json:"issuer"`
	Serial    string    `json:"serial"`
	NotBefore time.Time `json:"notBefore"`
	NotAfter  time.Time `json:"notAfter"`
	// Expired is true when NotAfter has passed.
	Expired bool `json:"expired,omitempty"`
}

func describeCert(c *x509.Certificate, now time.Time) *Certificate {
	return &Certificate{
		Subject:   c.Subject.String(),
		Issuer:    c.Issuer.String(),
		Serial:    hex.EncodeToString(c.SerialNumber.Bytes()),
		NotBefore: c.NotBefore.UTC(),
		NotAfter:  c.NotAfter.UTC(),
		Expired:   now.After(c.NotAfter),
	}
}

func workerStatus(ctx context.Context, set *workers.Set, w workers.Worker) WorkerStatus {
	st := w.Status(ctx)
	ws := WorkerStatus{Name: w.Name(), ID: w.ID(), Kind: w.Kind(), Status: "OFFLINE", Errors: st.Errors}
	if st.Active {
		ws.Status = "ACTIVE"
	}
	if d, ok := w.(workers.Disableable); ok && d.Disabled() {
		ws.Status = "DISABLED"
	}
	if u, ok := w.(workers.UsageReporter); ok {
		if used, limit, counted := u.KeyUsage(ctx); counted {
			ws.KeyUsage = &KeyUsage{Used: used, Limit: limit}
		}
	}
	if k, ok := w.(workers.Keyed); ok {
		ws.Token, ws.Key = k.TokenName(), k.KeyAlias()
		if tok := set.Tokens()[ws.Token]; tok != nil && ws.Key != "" && tok.Status(ctx).State == tokens.Active {
			if ch, err := tok.Chain(ctx, ws.Key); err == nil && len(ch) > 0 {
				ws.Certificate = describeCert(ch[0], time.Now())
			}
		}
	}
	return ws
}

// listWorkers handles GET /workers.
func (h *Handler) listWorkers(c echo.Context) error {
	ctx := c.Request().Context()
	return c.JSON(http.StatusOK, workerStatuses(ctx, h.setIn(ctx)))
}

// workerStatuses is the status of every worker of set: GET /workers, and
// the workers of POST /reload's answer.
func workerStatuses(ctx context.Context, set *workers.Set) []WorkerStatus {
	out := make([]WorkerStatus, 0, len(set.Workers()))
	for _, w := range set.Workers() {
		out = append(out, workerStatus(ctx, set, w))
	}
	return out
}

// getWorker handles GET /workers/{name}: by name or numeric ID.
func (h *Handler) getWorker(c echo.Context) error {
	set := h.setIn(c.Request().Context())
	w, err := set.Lookup(param(c, "name"))
	if err != nil {
		return fail(c, http.StatusNotFound, fmt.Sprintf("No worker named or numbered %s: see GET %s/workers for the workers.", clienttext.Quote(param(c, "name")), BasePath))
	}
	return c.JSON(http.StatusOK, workerStatus(c.Request().Context(), set, w))
}

// TokenStatus is one crypto token as GET /tokens reports it.
type TokenStatus struct {
	Name   string `json:"name"`
	Status string `json:"status"` // ACTIVE or OFFLINE
	Reason string `json:"reason,omitempty"`
	// Capabilities are the life-cycle operations the token supports:
	// "generate" and "remove" (keys), "chain" (store a certificate chain).
	Capabilities []string `json:"capabilities"`
	// Workers are the names of the workers using the token.
	Workers []string `json:"workers,omitempty"`
	// Keys are listed when the token is active.
	Keys []Key `json:"keys,omitempty"`
	// KeysError says why the keys could not be listed.
	KeysError string `json:"keysError,omitempty"`
}

// Key describes a key of a token.
type Key struct {
	Alias     string `json:"alias"`
	Algorithm string `json:"algorithm"`
	Bits      int    `json:"bits,omitempty"`
	Curve     string `json:"curve,omitempty"`
	HasChain  bool   `json:"hasChain"`
	// NotAfter is the expiry of the signer certificate, when there is one.
	NotAfter *time.Time `json:"notAfter,omitempty"`
	// Workers are the workers configured with this key.
	Workers []string `json:"workers,omitempty"`
	// PublicKey is the PEM public key; set by GET of one key and by key
	// generation.
	PublicKey string `json:"publicKey,omitempty"`
}

func describeKey(k tokens.KeyInfo, users []string) Key {
	out := Key{Alias: k.Alias, Algorithm: k.Algorithm, Bits: k.Bits, Curve: k.Curve, HasChain: k.HasChain, Workers: users}
	if !k.NotAfter.IsZero() {
		t := k.NotAfter.UTC()
		out.NotAfter = &t
	}
	return out
}

func capabilities(t tokens.Token) []string {
	caps := []string{}
	if _, ok := tokens.Unwrap(t).(tokens.KeyGenerator); ok {
		caps = append(caps, "generate", "remove")
	}
	if _, ok := tokens.Unwrap(t).(tokens.CertificateStore); ok {
		caps = append(caps, "chain")
	}
	return caps
}

// users returns the names of the workers using token (and alias, when not
// empty).
func users(set *workers.Set, token, alias string) []string {
	var out []string
	for _, w := range set.Workers() {
		if k, ok := w.(workers.Keyed); ok && k.TokenName() == token && (alias == "" || k.KeyAlias() == alias) {
			out = append(out, w.Name())
		}
	}
	return out
}

func tokenStatus(ctx context.Context, set *workers.Set, name string, t tokens.Token) TokenStatus {
	st := t.Status(ctx)
	ts := TokenStatus{Name: name, Status: st.State.String(), Reason: st.Reason, Capabilities: capabilities(t), Workers: users(set, name, "")}
	if st.State != tokens.Active {
		return ts
	}
	keys, err := t.Keys(ctx)
	if err != nil {
		ts.KeysError = tokenError(name, "", err).Error()
		return ts
	}
	for _, k := range keys {
		ts.Keys = append(ts.Keys, describeKey(k, users(set, name, k.Alias)))
	}
	return ts
}

// listTokens handles GET /tokens.
func (h *Handler) listTokens(c echo.Context) error {
	ctx := c.Request().Context()
	set := h.setIn(ctx)
	names := make([]string, 0, len(set.Tokens()))
	for n := range set.Tokens() {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]TokenStatus, 0, len(names))
	for _, n := range names {
		out = append(out, tokenStatus(ctx, set, n, set.Tokens()[n]))
	}
	return c.JSON(http.StatusOK, out)
}

// token returns the token named in the path, or a 404.
func (h *Handler) token(c echo.Context) (*workers.Set, tokens.Token, error) {
	set := h.setIn(c.Request().Context())
	name := param(c, "token")
	t, ok := set.Tokens()[name]
	if !ok || t == nil {
		names := make([]string, 0, len(set.Tokens()))
		for n := range set.Tokens() {
			names = append(names, n)
		}
		slices.Sort(names)
		return nil, nil, errorf(http.StatusNotFound, "No crypto token named %s: use one of %s.", clienttext.Quote(name), orNone(names))
	}
	return set, t, nil
}

func orNone(names []string) string {
	if len(names) == 0 {
		return "none configured"
	}
	return strings.Join(names, ", ")
}

// getToken handles GET /tokens/{token}.
func (h *Handler) getToken(c echo.Context) error {
	set, t, err := h.token(c)
	if err != nil {
		return h.answer(c, 0, nil, err)
	}
	return c.JSON(http.StatusOK, tokenStatus(c.Request().Context(), set, param(c, "token"), t))
}

// tokenError maps a token error to a status code and a sentence.
func tokenError(token, alias string, err error) error {
	var (
		se  *statusError
		wre *state.WriteError
	)
	switch {
	case errors.As(err, &se):
		return err
	case errors.As(err, &wre):
		return errorf(http.StatusServiceUnavailable, "Key %s of crypto token %s cannot sign now: %s.", clienttext.Quote(alias), token, wre.Msg)
	case errors.Is(err, tokens.ErrNotCounted): // before ErrOffline, which it wraps
		return errorf(http.StatusServiceUnavailable, "Key %s of crypto token %s cannot sign now: its usage count could not be stored; the server log names the cause.", clienttext.Quote(alias), token)
	case errors.Is(err, tokens.ErrNotRecorded): // before ErrOffline, which it wraps
		return errorf(http.StatusServiceUnavailable, "Key %s of crypto token %s cannot sign now: the signing log could not record the signature; the server log names the cause.", clienttext.Quote(alias), token)
	case errors.Is(err, tokens.ErrOffline):
		return errorf(http.StatusServiceUnavailable, "Crypto token %s is offline: activate it first (signet admin activate %s).", token, token)
	case errors.Is(err, tokens.ErrKeyNotFound):
		return errorf(http.StatusNotFound, "Crypto token %s has no key %s: list its keys with signet admin keys list %s (GET %s/tokens/%s/keys).", token, clienttext.Quote(alias), token, BasePath, token)
	case errors.Is(err, tokens.ErrBadPIN):
		return errorf(http.StatusBadRequest, "Wrong PIN for crypto token %s: check the PIN.", token)
	case errors.Is(err, tokens.ErrUnsupported):
		return errorf(http.StatusConflict, "Crypto token %s cannot do this: %s.", token, strings.TrimSuffix(err.Error(), "."))
	case errors.Is(err, tokens.ErrUsageLimit), errors.Is(err, tokens.ErrCertificateValidity):
		return errorf(http.StatusServiceUnavailable, "Key %q of crypto token %s may not sign: %s.", alias, token, strings.TrimSuffix(err.Error(), "."))
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return errorf(http.StatusServiceUnavailable, "The request was cancelled before crypto token %s answered: try again.", token)
	}
	return fmt.Errorf("token %s: %w", token, err)
}
