package nethsm

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"testing"
)

// FuzzReplies: every answer of a NetHSM (or of something posing as one) is
// read by the token's parsers into a value or an error, never a panic: the
// health state, a public key PEM, the key list, a key's type and size, and
// a sign answer over P-384 and Ed25519 keys.
func FuzzReplies(f *testing.F) {
	ec, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	ed, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&ec.PublicKey)
	pubs := []any{&ec.PublicKey, ed}
	f.Add(0, []byte(`{"state":"Operational"}`))
	f.Add(0, []byte(`{"state":""}`))
	f.Add(1, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	f.Add(1, []byte("-----BEGIN PUBLIC KEY-----\nMAA=\n-----END PUBLIC KEY-----\n"))
	f.Add(2, []byte(`[{"id":"signer"},{"id":"../x"},{}]`))
	f.Add(3, []byte(`{"type":"RSA","public":{"modulus":"AAAAxyz"}}`))
	f.Add(3, []byte(`{"type":"RSA","public":{"modulus":"AA=="}}`))
	f.Add(3, []byte(`{"type":"EC_P256","public":{"x":"AA"}}`))
	f.Add(4, []byte(`{"signature":""}`))
	f.Add(4, []byte(`{"signature":"MAYCAQECAQE="}`))
	f.Add(5, []byte(`{"signature":"AAAA"}`))
	f.Fuzz(func(t *testing.T, kind int, body []byte) {
		switch k := uint(kind); k % 6 {
		case 0:
			if s, ok := parseState(body); ok && s == "" {
				t.Fatal("an empty state")
			}
		case 1:
			if pub, err := parsePublicPEM(body); (err == nil) == (pub == nil) {
				t.Fatalf("public key %v, error %v", pub, err)
			}
		case 2:
			parseKeyIDs(body)
		case 3:
			if info, ok, err := parseKeyInfo(body); ok && (err != nil || info.Algorithm == "" || info.Bits <= 0) {
				t.Fatalf("key %+v (error %v)", info, err)
			}
		default:
			sig, err := parseSignature(body, pubs[k%2])
			if (err == nil) == (sig == nil) {
				t.Fatalf("signature %x, error %v", sig, err)
			}
		}
	})
}
