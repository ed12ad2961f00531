// Package dsmtest holds test helpers for the Fortanix DSM API: the loaded
// API description (dsm-batch-sign.json) and an http.RoundTripper that checks
// every request and response against it with kin-openapi.
package dsmtest

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/google/uuid"

	"github.com/signet-project/signet/internal/demo"
	"github.com/signet-project/signet/tokens/soft"
)

// SpecPath is the DSM API description, relative to the repository
// root. It is a copy of the team's shared/openapi/dsm-batch-sign.json, kept in
// the repository so that the contract checks run wherever it is cloned.
const SpecPath = "testdata/openapi/dsm-batch-sign.json"

// Outside are the DSM routes Signet serves that the API description does
// not hold (it describes batch sign only). Their exchanges are recorded as
// undocumented, and RequireValid accepts them; any other route that the
// description does not know is an error.
var Outside = []string{
	"POST /sys/v1/session/auth",
	"POST /sys/v1/session/terminate",
	"GET /sys/v1/health",
	"GET /crypto/v1/keys",
	"GET /crypto/v1/keys/{kid}",
}

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

// Spec is a loaded DSM API description and its router.
type Spec struct {
	Doc    *openapi3.T
	Router routers.Router
}

var defineUUID sync.Once

// LoadSpec loads and validates the DSM API description at SpecPath. It
// fails the test when the file is absent or does not load.
//
// The published description needs three repairs before a validator can use
// it, each kept as small as possible:
//
//   - the operation's security requirements name the schemes bearerToken
//     and apiKeyAuth, which the excerpt does not declare; they are declared
//     as DSM's full API declares them (HTTP bearer, HTTP basic);
//   - the two variants of BatchSignResponseItem (success: status and body;
//     error: status and error) have no required properties, so every item
//     matches both and "oneOf" can never pass; each variant is made to
//     require its own distinguishing property (body, error);
//   - the server URL is replaced by "/", so that requests to a test server
//     on any host route.
//
// Formats are checked: "byte" must be base64 and "uuid" a UUID.
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
	if doc.Components == nil {
		doc.Components = &openapi3.Components{}
	}
	if doc.Components.SecuritySchemes == nil {
		doc.Components.SecuritySchemes = openapi3.SecuritySchemes{}
	}
	for name, scheme := range map[string]string{"bearerToken": "bearer", "apiKeyAuth": "basic"} {
		if _, ok := doc.Components.SecuritySchemes[name]; !ok {
			doc.Components.SecuritySchemes[name] = &openapi3.SecuritySchemeRef{Value: openapi3.NewSecurityScheme().WithType("http").WithScheme(scheme)}
		}
	}
	if item := doc.Components.Schemas["BatchSignResponseItem"]; item != nil && item.Value != nil {
		for _, v := range item.Value.OneOf {
			s := v.Value
			for _, prop := range []string{"body", "error"} {
				if _, ok := s.Properties[prop]; ok && !slices.Contains(s.Required, prop) {
					s.Required = append(s.Required, prop)
				}
			}
		}
	}
	if err := doc.Validate(loader.Context); err != nil {
		t.Fatalf("validate %s: %v", path, err)
	}
	doc.Servers = openapi3.Servers{{URL: "/"}}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatalf("router for %s: %v", path, err)
	}
	defineUUID.Do(func() {
		openapi3.DefineStringFormatValidator("uuid", openapi3.NewCallbackValidator(func(s string) error {
			if _, err := uuid.Parse(s); err != nil || len(s) != 36 {
				return fmt.Errorf("%q is not a UUID", s)
			}
			return nil
		}))
	})
	return &Spec{Doc: doc, Router: router}
}

// Exchange is one checked request and response.
type Exchange struct {
	Method, Path string
	Status       int
	// Undocumented is true for a route in Outside, and for a status the
	// description does not list (it lists 2XX only): nothing could be
	// checked for that direction.
	Undocumented bool
	// Validated is true when the response was checked against a schema.
	Validated bool
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

// authenticate checks that the request carries the credentials of the
// scheme: a bearer token or HTTP basic (the API key).
func authenticate(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	r := in.RequestValidationInput.Request
	switch in.SecurityScheme.Scheme {
	case "basic":
		if _, _, ok := r.BasicAuth(); !ok {
			return errors.New("no basic credentials")
		}
		return nil
	case "bearer":
		scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
			return errors.New("no bearer token")
		}
		return nil
	}
	return fmt.Errorf("unexpected security scheme %q", in.SecuritySchemeName)
}

// outside reports whether the request is to a route of Outside; a
// "{name}" segment matches any one segment.
func outside(method, path string) bool {
	got := strings.Split(method+" "+path, "/")
	for _, route := range Outside {
		want := strings.Split(route, "/")
		if len(want) != len(got) {
			continue
		}
		match := true
		for i := range want {
			if want[i] != got[i] && !(strings.HasPrefix(want[i], "{") && got[i] != "") {
				match = false
				break
			}
		}
		if match {
			return true
		}
	}
	return false
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
	opts := &openapi3filter.Options{
		AuthenticationFunc:      authenticate,
		MultiError:              true,
		SchemaValidationOptions: []openapi3.SchemaValidationOption{openapi3.EnableFormatValidation()},
	}
	var in *openapi3filter.RequestValidationInput
	route, params, err := t.Spec.Router.FindRoute(req)
	switch {
	case err == nil:
		check := req.Clone(req.Context())
		check.Body = io.NopCloser(bytes.NewReader(body))
		in = &openapi3filter.RequestValidationInput{Request: check, PathParams: params, Route: route, Options: opts}
		ex.RequestErr = openapi3filter.ValidateRequest(req.Context(), in)
	case outside(req.Method, req.URL.Path):
		ex.Undocumented = true
	default:
		ex.RequestErr = fmt.Errorf("route %s %s: %w", req.Method, req.URL.Path, err)
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
		if resp.StatusCode/100 == 2 {
			ex.Validated = true
		} else {
			ex.Undocumented = true
		}
		ex.ResponseErr = openapi3filter.ValidateResponse(req.Context(), &openapi3filter.ResponseValidationInput{
			RequestValidationInput: in,
			Status:                 resp.StatusCode,
			Header:                 resp.Header,
			Body:                   io.NopCloser(bytes.NewReader(rbody)),
			Options:                opts,
		})
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
// response does not conform, and forgets the exchanges. It returns how many
// responses were checked against a schema, so that a test can tell that
// the contract was exercised.
func (t *Transport) RequireValid(tb testing.TB) int {
	tb.Helper()
	n := 0
	for _, ex := range t.Exchanges() {
		if ex.RequestErr != nil {
			tb.Errorf("%s %s: request does not conform to the DSM API: %v", ex.Method, ex.Path, ex.RequestErr)
		}
		if ex.ResponseErr != nil {
			tb.Errorf("%s %s: %d response does not conform to the DSM API: %v", ex.Method, ex.Path, ex.Status, ex.ResponseErr)
		}
		if ex.Validated {
			n++
		}
	}
	return n
}

var (
	keysOnce sync.Once
	keySet   map[string]crypto.Signer
	keyErr   error
)

// KeySpecs are the test keys TestKeys makes, by alias.
var KeySpecs = map[string]string{
	"rsa2048": "RSA-2048",
	"p256":    "EC-P256",
	"p384":    "EC-P384",
	"ed25519": "Ed25519",
}

// TestKeys returns the keys of KeySpecs, made once per test binary: RSA
// generation is slow on a shared machine. Callers must not change the map.
func TestKeys(tb testing.TB) map[string]crypto.Signer {
	tb.Helper()
	keysOnce.Do(func() {
		keySet = map[string]crypto.Signer{}
		for alias, spec := range KeySpecs {
			k, err := demo.NewKey(spec)
			if err != nil {
				keyErr = err
				return
			}
			keySet[alias] = k
		}
	})
	if keyErr != nil {
		tb.Fatal(keyErr)
	}
	return keySet
}

// SoftToken returns an active soft token (PEM keystore in a temporary
// folder) named name, holding keys by alias.
func SoftToken(tb testing.TB, name string, keys map[string]crypto.Signer) *soft.Token {
	tb.Helper()
	dir := tb.TempDir()
	for alias, k := range keys {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			tb.Fatal(err)
		}
		p := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
		if err := os.WriteFile(filepath.Join(dir, alias+".key"), p, 0o600); err != nil {
			tb.Fatal(err)
		}
	}
	tok, err := soft.Open(soft.Options{Path: dir, Type: soft.TypePEM, Name: name})
	if err != nil {
		tb.Fatal(err)
	}
	if err := tok.Activate(context.Background(), ""); err != nil {
		tb.Fatal(err)
	}
	return tok
}
