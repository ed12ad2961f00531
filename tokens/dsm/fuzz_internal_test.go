package dsm

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"strings"
	"testing"
	"time"
)

// FuzzReplies: every answer of a DSM (or of something posing as one) is
// read by the token's parsers into a value or an error, never a panic: the
// session auth answer, the key list with each key's public key, and the
// batch sign answer with each item's signature over P-256 and RSA keys.
func FuzzReplies(f *testing.F) {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	ecDER, _ := x509.MarshalPKIXPublicKey(&ec.PublicKey)
	rk, err := rsa.GenerateKey(rand.Reader, 1024) // only parsed: its size does not matter
	if err != nil {
		f.Fatal(err)
	}
	pubs := []any{&ec.PublicKey, &rk.PublicKey}
	f.Add(0, []byte(`{"token_type":"Bearer","expires_in":600,"access_token":"abc"}`))
	f.Add(0, []byte(`{"token_type":"bearer","expires_in":9223372036854775807,"access_token":"x"}`))
	f.Add(0, []byte(`{"token_type":"Bearer","expires_in":-5,"access_token":"x"}`))
	f.Add(1, []byte(`[{"kid":"k1","name":"signer","obj_type":"EC","elliptic_curve":"NistP256","pub_key":"`+base64.StdEncoding.EncodeToString(ecDER)+`"}]`))
	f.Add(1, []byte(`[{"kid":"k2","name":"rsa","obj_type":"RSA","key_size":3072,"pub_key":"AAAA"},{"obj_type":"AES"}]`))
	f.Add(2, []byte(`[{"status":200,"body":{"kid":"k1","signature":"`+base64.StdEncoding.EncodeToString(make([]byte, 64))+`"}},{"status":404,"error":"no key"}]`))
	f.Add(3, []byte(`[{"status":200,"body":{"signature":"MAYCAQECAQE="}},{"status":503,"error":"sealed"},{"status":200}]`))
	f.Add(2, []byte(`[{"status":"200"}]`))
	f.Fuzz(func(t *testing.T, kind int, body []byte) {
		k := uint(kind)
		switch k % 4 {
		case 0:
			bearer, life, ok := parseSession(body)
			if ok && (bearer == "" || life <= 0 || life > maxSessionLife) {
				t.Fatalf("session %q for %s", bearer, life)
			}
		case 1:
			list, err := parseKeyList(body)
			if err != nil {
				return
			}
			for _, o := range list {
				o.info()
				if k, err := o.entry(); err == nil && k.pub == nil {
					t.Fatalf("key %q: no public key and no error", o.Name)
				}
			}
		default:
			pub := pubs[k%2]
			tok := &Token{name: "fuzz", keys: map[string]keyEntry{}, now: time.Now}
			out, err := parseBatchReply(body, strings.Count(string(body), "status"))
			if err != nil {
				return
			}
			for _, r := range out {
				sig, err := tok.itemSignature("k", pub, make([]byte, 32), crypto.SHA256, r)
				if (err == nil) == (sig == nil) {
					t.Fatalf("item %+v: signature %x, error %v", r, sig, err)
				}
			}
		}
	})
}
