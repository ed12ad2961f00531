// Package nethsmtest holds test helpers for the NetHSM API: the API
// description (nethsm-api.yaml) loaded for internal/apitest's validating
// transport, test keys, and an in-memory crypto token over crypto.Signer
// keys.
package nethsmtest

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"

	"github.com/signet-project/signet/internal/apitest"
	"github.com/signet-project/signet/tokens"
)

// SpecPath is the NetHSM API description, relative to the repository
// root. It is a copy of the team's shared/openapi/nethsm-api.yaml, kept in
// the repository so that the contract checks run wherever it is cloned.
const SpecPath = "testdata/openapi/nethsm-api.yaml"

var registerPEM sync.Once

// LoadSpec loads and validates the NetHSM API description at SpecPath (in
// $SIGNET_OPENAPI_DIR when that is set). It fails the test when the file is
// absent or does not load.
//
// The description's server URL (https://{host}/api/{version}) is replaced by
// its path alone, /api/v1, so that requests to a test server on any host and
// scheme route, while paths still need the /api/v1 base. Every response
// status must be one the operation lists.
func LoadSpec(t testing.TB) *apitest.Spec {
	t.Helper()
	// kin-openapi has no decoder for PEM responses; they are text.
	registerPEM.Do(func() { openapi3filter.RegisterBodyDecoder("application/x-pem-file", openapi3filter.PlainBodyDecoder) })
	return apitest.Load(t, apitest.Contract{
		API:  "NetHSM API",
		Path: SpecPath,
		// The published description has examples that break their own
		// schemas (a null label); examples do not matter for the contract.
		Validation:            []openapi3.ValidationOption{openapi3.DisableExamplesValidation()},
		Server:                basePath,
		IncludeResponseStatus: true,
	})
}

// basePath returns the path of the description's first server URL with its
// variables set to their defaults.
func basePath(doc *openapi3.T) (string, error) {
	if len(doc.Servers) == 0 {
		return "", errors.New("the API description names no server")
	}
	s := doc.Servers[0]
	u := s.URL
	for name, v := range s.Variables {
		u = strings.ReplaceAll(u, "{"+name+"}", v.Default)
	}
	parsed, err := url.Parse(u)
	if err != nil {
		return "", fmt.Errorf("server URL %q: %w", s.URL, err)
	}
	return strings.TrimSuffix(parsed.Path, "/"), nil
}

// TestKeys returns the test keys by alias (RSA-2048, EC P-256 and P-384,
// Ed25519), made once per test binary. Callers must not change the map.
func TestKeys(tb testing.TB) map[string]crypto.Signer { return apitest.TestKeys(tb) }

// Token is an in-memory tokens.Token over crypto.Signer keys.
type Token struct {
	name   string
	keys   map[string]crypto.Signer
	chains map[string][]*x509.Certificate

	mu      sync.Mutex
	offline string // reason, empty when active
}

// NewToken returns an active token holding keys by alias, with optional
// certificate chains by alias.
func NewToken(name string, keys map[string]crypto.Signer, chains map[string][]*x509.Certificate) *Token {
	return &Token{name: name, keys: keys, chains: chains}
}

// SetOffline makes the token Offline with the given reason, or Active again
// when reason is empty.
func (t *Token) SetOffline(reason string) {
	t.mu.Lock()
	t.offline = reason
	t.mu.Unlock()
}

func (t *Token) check() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.offline != "" {
		return fmt.Errorf("token %s: %s: %w", t.name, t.offline, tokens.ErrOffline)
	}
	return nil
}

// Name returns the token's name.
func (t *Token) Name() string { return t.name }

// Status reports Active, or Offline with the reason given to SetOffline.
func (t *Token) Status(context.Context) tokens.Status {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.offline != "" {
		return tokens.Status{State: tokens.Offline, Reason: t.offline}
	}
	return tokens.Status{State: tokens.Active}
}

// Activate makes the token Active; any PIN is accepted.
func (t *Token) Activate(context.Context, string) error {
	t.SetOffline("")
	return nil
}

// Deactivate makes the token Offline.
func (t *Token) Deactivate(context.Context) error {
	t.SetOffline("deactivated")
	return nil
}

// Keys lists the token's aliases; only Alias and HasChain are filled in.
func (t *Token) Keys(context.Context) ([]tokens.KeyInfo, error) {
	if err := t.check(); err != nil {
		return nil, err
	}
	var out []tokens.KeyInfo
	for a := range t.keys {
		out = append(out, tokens.KeyInfo{Alias: a, HasChain: len(t.chains[a]) > 0})
	}
	return out, nil
}

// Signer returns the key with the given alias.
func (t *Token) Signer(_ context.Context, alias string) (crypto.Signer, error) {
	if err := t.check(); err != nil {
		return nil, err
	}
	k, ok := t.keys[alias]
	if !ok {
		return nil, fmt.Errorf("token %s: alias %q: %w", t.name, alias, tokens.ErrKeyNotFound)
	}
	return k, nil
}

// Chain returns the key's chain, empty when it has none.
func (t *Token) Chain(_ context.Context, alias string) ([]*x509.Certificate, error) {
	if err := t.check(); err != nil {
		return nil, err
	}
	if _, ok := t.keys[alias]; !ok {
		return nil, fmt.Errorf("token %s: alias %q: %w", t.name, alias, tokens.ErrKeyNotFound)
	}
	return t.chains[alias], nil
}
