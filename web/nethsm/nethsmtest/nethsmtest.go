// Package nethsmtest holds test helpers for the NetHSM API: an in-memory
// crypto token over crypto.Signer keys, and an http.RoundTripper that checks
// every request and response against the NetHSM API description with
// kin-openapi.
package nethsmtest

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/signet-project/signet/tokens"
)

// SpecPath is the NetHSM API description, relative to the repository
// root. It is a copy of the team's shared/openapi/nethsm-api.yaml, kept in
// the repository so that the contract checks run wherever it is cloned.
const SpecPath = "testdata/openapi/nethsm-api.yaml"

// SpecDirEnv names the environment variable that, when set, is the folder
// holding the API description, instead of SpecPath.
const SpecDirEnv = "SIGNET_OPENAPI_DIR"

// specFile returns the API description's path: in $SIGNET_OPENAPI_DIR when
// that is set, else SpecPath resolved against the repository root, the
// nearest folder above the working directory that holds go.mod.
func specFile() (string, error) {
	if d := os.Getenv(SpecDirEnv); d != "" {
		return filepath.Join(d, filepath.Base(SpecPath)), nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, filepath.FromSlash(SpecPath)), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// Spec is a loaded NetHSM API description and its router.
type Spec struct {
	Doc    *openapi3.T
	Router routers.Router
}

var registerPEM sync.Once

// LoadSpec loads and validates the NetHSM API description at SpecPath. It
// fails the test when the file is absent or does not load.
//
// The description's server URL (https://{host}/api/{version}) is replaced by
// its path alone, /api/v1, so that requests to a test server on any host and
// scheme route, while paths still need the /api/v1 base.
func LoadSpec(t testing.TB) *Spec {
	t.Helper()
	path, err := specFile()
	if err != nil {
		t.Fatal(err)
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile(path)
	if err != nil {
		t.Fatalf("load %s: %v", path, err)
	}
	// The published description has examples that break their own schemas
	// (a null label); examples do not matter for the contract.
	if err := doc.Validate(loader.Context, openapi3.DisableExamplesValidation()); err != nil {
		t.Fatalf("validate %s: %v", path, err)
	}
	base, err := basePath(doc)
	if err != nil {
		t.Fatal(err)
	}
	doc.Servers = openapi3.Servers{{URL: base}}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatalf("router for %s: %v", path, err)
	}
	// kin-openapi has no decoder for PEM responses; they are text.
	registerPEM.Do(func() { openapi3filter.RegisterBodyDecoder("application/x-pem-file", openapi3filter.PlainBodyDecoder) })
	return &Spec{Doc: doc, Router: router}
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

// Exchange is one checked request and response.
type Exchange struct {
	Method, Path string
	Status       int
	// RequestErr is why the request does not conform to the description
	// (nil when it does); ResponseErr the same for the response.
	RequestErr, ResponseErr error
}

// Transport is an http.RoundTripper that validates each request before
// sending it and each response after receiving it, and records the results.
type Transport struct {
	Spec *Spec
	Base http.RoundTripper

	mu        sync.Mutex
	exchanges []Exchange
}

// NewTransport returns a validating transport over base
// (http.DefaultTransport when nil).
func NewTransport(spec *Spec, base http.RoundTripper) *Transport {
	if base == nil {
		base = http.DefaultTransport
	}
	return &Transport{Spec: spec, Base: base}
}

func basicAuth(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	if in.SecurityScheme == nil || in.SecurityScheme.Type != "http" || in.SecurityScheme.Scheme != "basic" {
		return fmt.Errorf("unexpected security scheme %q", in.SecuritySchemeName)
	}
	if _, _, ok := in.RequestValidationInput.Request.BasicAuth(); !ok {
		return errors.New("no basic credentials")
	}
	return nil
}

// RoundTrip validates req, sends it, and validates the response.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ex := Exchange{Method: req.Method, Path: req.URL.Path}
	var body []byte
	if req.Body != nil {
		var err error
		body, err = io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
	}
	opts := &openapi3filter.Options{AuthenticationFunc: basicAuth, IncludeResponseStatus: true, MultiError: true}
	route, params, err := t.Spec.Router.FindRoute(req)
	var in *openapi3filter.RequestValidationInput
	if err != nil {
		ex.RequestErr = fmt.Errorf("route %s %s: %w", req.Method, req.URL.Path, err)
	} else {
		check := req.Clone(req.Context())
		check.Body = io.NopCloser(bytes.NewReader(body))
		in = &openapi3filter.RequestValidationInput{Request: check, PathParams: params, Route: route, Options: opts}
		ex.RequestErr = openapi3filter.ValidateRequest(req.Context(), in)
	}
	if req.Body != nil {
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	resp, err := t.Base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	ex.Status = resp.StatusCode
	rbody, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(rbody))
	if in != nil {
		ex.ResponseErr = openapi3filter.ValidateResponse(req.Context(), &openapi3filter.ResponseValidationInput{
			RequestValidationInput: in,
			Status:                 resp.StatusCode,
			Header:                 resp.Header,
			Body:                   io.NopCloser(bytes.NewReader(rbody)),
			Options:                opts,
		})
	} else {
		ex.ResponseErr = errors.New("no route to validate the response against")
	}
	t.mu.Lock()
	t.exchanges = append(t.exchanges, ex)
	t.mu.Unlock()
	return resp, nil
}

// Exchanges returns the exchanges recorded so far and forgets them.
func (t *Transport) Exchanges() []Exchange {
	t.mu.Lock()
	defer t.mu.Unlock()
	ex := t.exchanges
	t.exchanges = nil
	return ex
}

// RequireValid fails the test for every recorded exchange whose request or
// response does not conform, and forgets the exchanges.
func (t *Transport) RequireValid(tb testing.TB) {
	tb.Helper()
	for _, ex := range t.Exchanges() {
		if ex.RequestErr != nil {
			tb.Errorf("%s %s: request does not conform to the NetHSM API: %v", ex.Method, ex.Path, ex.RequestErr)
		}
		if ex.ResponseErr != nil {
			tb.Errorf("%s %s: %d response does not conform to the NetHSM API: %v", ex.Method, ex.Path, ex.Status, ex.ResponseErr)
		}
	}
}

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
