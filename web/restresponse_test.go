package web

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"reflect"
	"testing"
	"time"

	"github.com/signet-project/signet/workers"
)

// TestRESTResponseMatchesEncodingJSON checks the hand-written REST
// response against encoding/json's encoding of RESTResponse.
func TestRESTResponseMatchesEncodingJSON(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "t"}, NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	cases := []struct {
		name string
		id   string
		resp workers.Response
	}{
		{"plain", "req-1", workers.Response{Data: []byte("signature bytes"), SignerCertificate: cert}},
		{"metadata", `odd "id" <&>`, workers.Response{Data: []byte{0, 1, 2, 255}, Metadata: map[string]string{"B": "two", "A": "ü\"1"}, SignerCertificate: cert}},
		{"no certificate", "x", workers.Response{Data: nil}},
		{"archived", "req-2", workers.Response{Data: []byte("sig"), ArchiveID: "req-2"}},
	}
	var s Server
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for range 2 { // the second time from the certificate cache
				var got RESTResponse
				if err := json.Unmarshal(s.restResponse(c.id, &c.resp), &got); err != nil {
					t.Fatalf("not JSON: %v", err)
				}
				want := RESTResponse{Data: base64.StdEncoding.EncodeToString(c.resp.Data), RequestID: c.id, ArchiveID: c.resp.ArchiveID, MetaData: c.resp.Metadata}
				if want.MetaData == nil {
					want.MetaData = map[string]string{}
				}
				if c.resp.SignerCertificate != nil {
					want.SignerCertificate = base64.StdEncoding.EncodeToString(der)
				}
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("got %+v, want %+v", got, want)
				}
			}
		})
	}
}
