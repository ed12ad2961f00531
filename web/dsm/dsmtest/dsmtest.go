// Package dsmtest holds test helpers for the Fortanix DSM API: the API
// description (dsm-batch-sign.json) loaded and repaired for
// internal/apitest's validating transport, test keys, and a soft token
// over them.
package dsmtest

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/google/uuid"

	"github.com/signet-project/signet/internal/apitest"
	"github.com/signet-project/signet/tokens/soft"
)

// SpecPath is the DSM API description, relative to the repository
// root. It is a copy of the team's shared/openapi/dsm-batch-sign.json, kept in
// the repository so that the contract checks run wherever it is cloned.
const SpecPath = "testdata/openapi/dsm-batch-sign.json"

// SingleSpecPath holds the single-item operations POST /crypto/v1/sign and
// POST /crypto/v1/verify, and the VerifyRequest and VerifyResponse
// schemas, as the full DSM API reference describes them; LoadSpec adds
// them to SpecPath's description, which lacks them.
const SingleSpecPath = "testdata/openapi/dsm-sign-verify.json"

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

var defineUUID sync.Once

// LoadSpec loads and validates the DSM API description at SpecPath (in
// $SIGNET_OPENAPI_DIR when that is set). It fails the test when the file is
// absent or does not load.
//
// The operations of SingleSpecPath are added to it. The published
// description needs three repairs before a validator can use
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
// Formats are checked: "byte" must be base64 and "uuid" a UUID. Statuses
// the description does not list (it lists 2XX only) are undocumented.
func LoadSpec(t testing.TB) *apitest.Spec {
	t.Helper()
	defineUUID.Do(func() {
		openapi3.DefineStringFormatValidator("uuid", openapi3.NewCallbackValidator(func(s string) error {
			if _, err := uuid.Parse(s); err != nil || len(s) != 36 {
				return fmt.Errorf("%q is not a UUID", s)
			}
			return nil
		}))
	})
	return apitest.Load(t, apitest.Contract{
		API:     "DSM API",
		Path:    SpecPath,
		Extra:   []string{SingleSpecPath},
		Repair:  repair,
		Server:  func(*openapi3.T) (string, error) { return "/", nil },
		Outside: Outside,
		Formats: true,
	})
}

// repair mends the published description (see LoadSpec).
func repair(doc *openapi3.T) {
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
}

// KeySpecs are the test keys TestKeys makes, by alias.
var KeySpecs = apitest.KeySpecs

// TestKeys returns the keys of KeySpecs, made once per test binary: RSA
// generation is slow on a shared machine. Callers must not change the map.
func TestKeys(tb testing.TB) map[string]crypto.Signer { return apitest.TestKeys(tb) }

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
