package remote

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha512"
	"testing"
)

func TestECDSADER(t *testing.T) {
	t.Parallel()
	k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	d := sha512.Sum384([]byte("raw"))
	der, err := ecdsa.SignASN1(rand.Reader, k, d[:])
	if err != nil {
		t.Fatal(err)
	}
	// DER passes through unchanged.
	if out, err := ECDSADER(&k.PublicKey, der); err != nil || string(out) != string(der) {
		t.Errorf("DER input changed: %v", err)
	}
	// r||s (older NetHSM releases) becomes DER.
	r, s, err := ecdsa.Sign(rand.Reader, k, d[:])
	if err != nil {
		t.Fatal(err)
	}
	raw := append(r.FillBytes(make([]byte, 48)), s.FillBytes(make([]byte, 48))...)
	out, err := ECDSADER(&k.PublicKey, raw)
	if err != nil || !ecdsa.VerifyASN1(&k.PublicKey, d[:], out) {
		t.Errorf("r||s not converted to valid DER: %v", err)
	}
	for name, bad := range map[string][]byte{"truncated r||s": raw[:90], "DER and a byte more": append(der[:len(der):len(der)], 0)} {
		if _, err := ECDSADER(&k.PublicKey, bad); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
}
