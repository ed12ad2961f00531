package dn

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"strings"
	"testing"
)

func TestParseDNEmailIsIA5(t *testing.T) {
	seq, err := Parse("E=a@b.c,CN=x")
	if err != nil {
		t.Fatal(err)
	}
	der, err := asn1.Marshal(seq)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(der), "\x16\x05a@b.c") {
		t.Errorf("emailAddress is not an IA5String: % x", der)
	}
}

func TestParseDN(t *testing.T) {
	tests := []struct {
		in, want string // want: pkix.Name.String() of the result, or "error: …"
	}{
		{"CN=Signer,O=Example,C=DE", "CN=Signer,O=Example,C=DE"},
		{"CN = Signer , O = Example , C = DE", "CN=Signer,O=Example,C=DE"},
		{"/C=DE/O=Example/CN=Signer", "CN=Signer,O=Example,C=DE"},
		{`CN=Doe\, John,O="Example, Inc.",C=DE`, `CN=Doe\, John,O=Example\, Inc.,C=DE`},
		{`CN=caf\C3\A9`, "CN=café"},
		{"CN=a+SERIALNUMBER=42,OU=Unit,ST=Bayern,L=Munich", "CN=a+SERIALNUMBER=42,OU=Unit,ST=Bayern,L=Munich"},
		{"E=a@b.c,CN=x", "1.2.840.113549.1.9.1=#0c056140622e63,CN=x"},
		{"2.5.4.3=ByOID", "CN=ByOID"},
		{"", "error: empty"},
		{"CN", "error: not type=value"},
		{"CN=", "error: empty value"},
		{"FOO=x", "error: unknown attribute"},
		{"C=DEU", "error: two-letter"},
		{`CN="open`, "error: unclosed"},
		{"CN=#0403414243", "error: hex-encoded"},
		{`CN=x\`, "error: lone backslash"},
		{"E=caf\u00e9@example.com", "error: ASCII"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			seq, err := Parse(tt.in)
			if want, ok := strings.CutPrefix(tt.want, "error: "); ok {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Fatalf("Parse(%q) error %v, want one saying %q", tt.in, err, want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			der, err := asn1.Marshal(seq)
			if err != nil {
				t.Fatal(err)
			}
			var back pkix.RDNSequence
			if rest, err := asn1.Unmarshal(der, &back); err != nil || len(rest) > 0 {
				t.Fatalf("not DER: %v", err)
			}
			if got := back.String(); got != tt.want {
				t.Errorf("Parse(%q) = %s, want %s", tt.in, got, tt.want)
			}
		})
	}
}
