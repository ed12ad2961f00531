// Package apitest holds what the test helpers of Signet's vendor key APIs
// (web/dsm/dsmtest, web/nethsm/nethsmtest) share: loading an OpenAPI
// description from the repository, an http.RoundTripper that checks every
// request and response against it with kin-openapi, and the test keys.
//
// It sits in the module's internal/ folder, not under web/, because the
// tests of the API clients (tokens/dsm, tokens/nethsm) and of the server
// wiring (cmd/signet) check their exchanges with its Transport too; it is
// internal because it is test machinery, not part of Signet's API.
package apitest

import (
	"bytes"
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/labstack/echo/v4"

	"github.com/signet-project/signet/internal/demo"
)

// SpecDirEnv names the environment variable that, when set, is the folder
// holding the API descriptions, instead of testdata/openapi.
const SpecDirEnv = "SIGNET_OPENAPI_DIR"

// specFile returns the path of the API description specPath (relative to
// the repository root): in $SIGNET_OPENAPI_DIR when that is set, else
// resolved against the repository root, the nearest folder above the
// working directory that holds go.mod.
func specFile(specPath string) (string, error) {
	if d := os.Getenv(SpecDirEnv); d != "" {
		return filepath.Join(d, filepath.Base(specPath)), nil
	}
	return repoFile(specPath)
}

// repoFile resolves path against the repository root, the nearest folder
// above the working directory that holds go.mod.
func repoFile(path string) (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, filepath.FromSlash(path)), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// Contract says how to load one API description and check exchanges
// against it.
type Contract struct {
	// API names the API in test failures: "DSM API".
	API string
	// Path is the description's file, relative to the repository root.
	Path string
	// Extra are JSON files, relative to the repository root, whose paths
	// and component schemas are added to the description (a JSON file too)
	// before it is loaded: operations of the vendor's full API reference
	// that the description lacks. They may refer to the description's
	// schemas, and may not redefine any.
	Extra []string
	// Repair, when set, mends the loaded description before it is
	// validated (what the published document gets wrong).
	Repair func(*openapi3.T)
	// Validation are the options of the document's own validation.
	Validation []openapi3.ValidationOption
	// Server returns the server URL that requests are routed under (the
	// description's servers are replaced by it, so that a test server on
	// any host routes).
	Server func(*openapi3.T) (string, error)
	// Outside are routes ("METHOD /path/{param}") that the API serves but
	// the description does not hold: their exchanges are recorded as
	// undocumented, and any other unknown route is an error.
	Outside []string
	// IncludeResponseStatus makes a response status the operation does
	// not list an error; otherwise it is undocumented.
	IncludeResponseStatus bool
	// Formats checks string formats ("byte", "uuid", …).
	Formats bool
}

// Spec is a loaded API description, its router, and its contract.
type Spec struct {
	Doc      *openapi3.T
	Router   routers.Router
	Contract Contract
}

// Load loads, repairs and validates the API description of c. It fails the
// test when the file is absent or does not load.
func Load(t testing.TB, c Contract) *Spec {
	t.Helper()
	path, err := specFile(c.Path)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, extra := range c.Extra {
		if data, err = merge(data, extra); err != nil {
			t.Fatalf("add %s to %s: %v", extra, path, err)
		}
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(data)
	if err != nil {
		t.Fatalf("load %s: %v", path, err)
	}
	if c.Repair != nil {
		c.Repair(doc)
	}
	if err := doc.Validate(loader.Context, c.Validation...); err != nil {
		t.Fatalf("validate %s: %v", path, err)
	}
	server, err := c.Server(doc)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	doc.Servers = openapi3.Servers{{URL: server}}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatalf("router for %s: %v", path, err)
	}
	return &Spec{Doc: doc, Router: router, Contract: c}
}

// merge adds the paths and component schemas of the JSON description in
// the repository file extra to the JSON description data.
func merge(data []byte, extra string) ([]byte, error) {
	file, err := repoFile(extra)
	if err != nil {
		return nil, err
	}
	more, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	type description struct {
		Paths      map[string]json.RawMessage `json:"paths"`
		Components struct {
			Schemas map[string]json.RawMessage `json:"schemas"`
		} `json:"components"`
	}
	var doc map[string]json.RawMessage
	var base, add description
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(data, &base); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(more, &add); err != nil {
		return nil, err
	}
	if base.Paths == nil {
		base.Paths = map[string]json.RawMessage{}
	}
	if base.Components.Schemas == nil {
		base.Components.Schemas = map[string]json.RawMessage{}
	}
	for p, v := range add.Paths {
		if _, dup := base.Paths[p]; dup {
			return nil, fmt.Errorf("path %s is in both", p)
		}
		base.Paths[p] = v
	}
	for n, v := range add.Components.Schemas {
		if _, dup := base.Components.Schemas[n]; dup {
			return nil, fmt.Errorf("schema %s is in both", n)
		}
		base.Components.Schemas[n] = v
	}
	var comps map[string]json.RawMessage
	if raw, ok := doc["components"]; ok {
		if err := json.Unmarshal(raw, &comps); err != nil {
			return nil, err
		}
	}
	if comps == nil {
		comps = map[string]json.RawMessage{}
	}
	if comps["schemas"], err = json.Marshal(base.Components.Schemas); err != nil {
		return nil, err
	}
	if doc["components"], err = json.Marshal(comps); err != nil {
		return nil, err
	}
	if doc["paths"], err = json.Marshal(base.Paths); err != nil {
		return nil, err
	}
	return json.Marshal(doc)
}

// Exchange is one checked request and response.
type Exchange struct {
	Method, Path string
	Status       int
	// Undocumented is true for a route in Contract.Outside, and for a
	// status the operation does not list: nothing could be checked for
	// that direction.
	Undocumented bool
	// Validated is true when a 2xx response was checked against a schema.
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
// scheme: HTTP basic or a bearer token.
func authenticate(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	r := in.RequestValidationInput.Request
	if in.SecurityScheme == nil || in.SecurityScheme.Type != "http" {
		return fmt.Errorf("unexpected security scheme %q", in.SecuritySchemeName)
	}
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

// outside reports whether the request is to a route of Contract.Outside; a
// "{name}" segment matches any one segment.
func (c *Contract) outside(method, p string) bool {
	for _, route := range c.Outside {
		if ok, _ := path.Match(pathParam.ReplaceAllString(route, "*"), method+" "+p); ok {
			return true
		}
	}
	return false
}

// pathParam is a "{name}" path segment.
var pathParam = regexp.MustCompile(`\{[^/}]+\}`)

// readAll reads and closes body, nil for none.
func readAll(body io.ReadCloser) ([]byte, error) {
	if body == nil {
		return nil, nil
	}
	defer body.Close()
	return io.ReadAll(body)
}

// RoundTrip validates req, sends it, and validates the response.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	c := &t.Spec.Contract
	ex := Exchange{Method: req.Method, Path: req.URL.Path}
	body, err := readAll(req.Body)
	if err != nil {
		return nil, err
	}
	opts := &openapi3filter.Options{
		AuthenticationFunc:    authenticate,
		IncludeResponseStatus: c.IncludeResponseStatus,
		MultiError:            true,
	}
	if c.Formats {
		opts.SchemaValidationOptions = []openapi3.SchemaValidationOption{openapi3.EnableFormatValidation()}
	}
	var in *openapi3filter.RequestValidationInput
	route, params, err := t.Spec.Router.FindRoute(req)
	switch {
	case err == nil:
		check := req.Clone(req.Context())
		check.Body = io.NopCloser(bytes.NewReader(body))
		in = &openapi3filter.RequestValidationInput{Request: check, PathParams: params, Route: route, Options: opts}
		ex.RequestErr = openapi3filter.ValidateRequest(req.Context(), in)
	case c.outside(req.Method, req.URL.Path):
		ex.Undocumented = true
	default:
		ex.RequestErr = fmt.Errorf("route %s %s: %w", req.Method, req.URL.Path, err)
		ex.ResponseErr = errors.New("no route to validate the response against")
	}
	if req.Body != nil {
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	resp, err := t.Base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	ex.Status = resp.StatusCode
	rbody, err := readAll(resp.Body)
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(rbody))
	if in != nil {
		ex.Undocumented = route.Operation.Responses.Status(resp.StatusCode) == nil && route.Operation.Responses.Default() == nil
		ex.Validated = resp.StatusCode/100 == 2 && !ex.Undocumented
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
	api := t.Spec.Contract.API
	n := 0
	for _, ex := range t.Exchanges() {
		if ex.RequestErr != nil {
			tb.Errorf("%s %s: request does not conform to the %s: %v", ex.Method, ex.Path, api, ex.RequestErr)
		}
		if ex.ResponseErr != nil {
			tb.Errorf("%s %s: %d response does not conform to the %s: %v", ex.Method, ex.Path, ex.Status, api, ex.ResponseErr)
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

// Serve starts a test server (closed when the test ends) of a new echo
// instance that register sets up, and returns it with a client whose
// exchanges the returned Transport checks against spec.
func Serve(t testing.TB, spec *Spec, register func(*echo.Echo)) (*httptest.Server, *Transport, *http.Client) {
	t.Helper()
	e := echo.New()
	e.HideBanner = true
	register(e)
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	tr := NewTransport(spec, srv.Client().Transport)
	return srv, tr, &http.Client{Transport: tr}
}
