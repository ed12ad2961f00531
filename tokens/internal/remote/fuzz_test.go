package remote

import "testing"

// FuzzParseCerts: certificate chains come from HSMs (DSM, NetHSM) and
// uploads; any bytes give certificates or an error, never a panic.
func FuzzParseCerts(f *testing.F) {
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"))
	f.Add([]byte{0x30, 0x03, 0x02, 0x01, 0x01})
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\nAA==\n-----END PRIVATE KEY-----\n-----BEGIN"))
	f.Fuzz(func(t *testing.T, data []byte) {
		certs, err := ParseCerts(data)
		if err == nil && len(certs) > 0 && certs[0] == nil {
			t.Fatal("a nil certificate without an error")
		}
	})
}
