package tsp

import (
	"bytes"
	"crypto"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"testing"
	"time"
)

// refImprint is RFC 3161's MessageImprint for encoding/asn1.
type refImprint struct {
	HashAlgorithm pkix.AlgorithmIdentifier
	HashedMessage []byte
}

// refTSTInfo is RFC 3161's TSTInfo for encoding/asn1, which wrote the
// tokens before appendTSTInfo: the reference the hand-written encoding is
// held to. GenTime and TSA are pre-encoded raw values.
type refTSTInfo struct {
	Version        int
	Policy         asn1.ObjectIdentifier
	MessageImprint asn1.RawValue
	SerialNumber   *big.Int
	GenTime        asn1.RawValue
	Accuracy       accuracy      `asn1:"optional"`
	Ordering       bool          `asn1:"optional,default:false"`
	Nonce          *big.Int      `asn1:"optional"`
	TSA            asn1.RawValue `asn1:"optional"`
}

// TestTSTInfoMatchesEncodingASN1 checks that appendTSTInfo, imprintHead
// and appendGeneralizedTime write byte for byte what encoding/asn1 writes
// for every optional field present or absent, accuracies with and without
// each part, serial numbers and nonces whose top bit needs a zero octet,
// and times with and without a fraction of a second.
func TestTSTInfoMatchesEncodingASN1(t *testing.T) {
	t.Parallel()
	name, err := asn1.Marshal(pkix.Name{CommonName: "Test TSA", Country: []string{"SE"}}.ToRDNSequence())
	if err != nil {
		t.Fatal(err)
	}
	tsa, err := directoryName(name)
	if err != nil {
		t.Fatal(err)
	}
	refTSA, _ := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 4, IsCompound: true, Bytes: name})
	for _, h := range []crypto.Hash{crypto.SHA1, crypto.SHA256, crypto.SHA384, crypto.SHA512} {
		d := bytes.Repeat([]byte{0xcd}, h.Size())
		head, err := imprintHead(h)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := asn1.Marshal(refImprint{pkix.AlgorithmIdentifier{Algorithm: hashOID(h), Parameters: asn1.NullRawValue}, d})
		if got := append(head, d...); !bytes.Equal(got, want) {
			t.Errorf("%s: imprintHead and the digest % x, encoding/asn1 % x", h, got, want)
		}
	}
	sum := bytes.Repeat([]byte{0xab}, 32)
	big0x80 := new(big.Int).Lsh(big.NewInt(0x80), 120) // top bit set: a leading zero octet
	cases := []struct {
		name     string
		acc      time.Duration
		ordering bool
		serial   *big.Int
		nonce    *big.Int
		tsa      bool
		now      time.Time
	}{
		{"bare", 0, false, big.NewInt(1), nil, false, time.Date(2026, 12, 2, 6, 30, 0, 0, time.UTC)},
		{"milliseconds", 0, false, big.NewInt(127), nil, false, time.Date(2026, 12, 2, 6, 30, 1, 120_000_000, time.UTC)},
		{"accuracy 1.25s, ordering", 1250 * time.Millisecond, true, big.NewInt(128), big.NewInt(42), false, time.Date(2026, 1, 2, 3, 4, 5, 6_000_000, time.UTC)},
		{"accuracy 2s", 2 * time.Second, false, big0x80, big0x80, true, time.Date(2049, 12, 31, 23, 59, 59, 999_999_999, time.UTC)},
		{"accuracy 250µs, TSA name", 250 * time.Microsecond, false, big.NewInt(0xffff), big.NewInt(-5), true, time.Date(2051, 6, 1, 0, 0, 0, 250_500, time.FixedZone("x", 3600))},
		{"accuracy 1µs, ordering, nonce, TSA name", time.Microsecond + 1, true, big.NewInt(1 << 40), big.NewInt(0), true, time.Date(1999, 2, 3, 4, 5, 6, 7_000, time.UTC)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			head, err := imprintHead(crypto.SHA256)
			if err != nil {
				t.Fatal(err)
			}
			imprint := append(head, sum...)
			refImp, _ := asn1.Marshal(refImprint{pkix.AlgorithmIdentifier{Algorithm: oidSHA256, Parameters: asn1.NullRawValue}, sum})
			if !bytes.Equal(imprint, refImp) {
				t.Fatalf("imprintHead and the digest % x, encoding/asn1 % x", imprint, refImp)
			}
			policy := asn1.ObjectIdentifier{1, 2, 3, 4, 1}
			ref := refTSTInfo{Version: 1, Policy: policy, MessageImprint: asn1.RawValue{FullBytes: imprint}, SerialNumber: c.serial,
				GenTime: refGeneralizedTime(c.now, c.acc), Accuracy: newAccuracy(c.acc), Ordering: c.ordering, Nonce: c.nonce}
			var tsaDER []byte
			if c.tsa {
				tsaDER = tsa
				ref.TSA = asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: refTSA}
			}
			want, err := asn1.Marshal(ref)
			if err != nil {
				t.Fatal(err)
			}
			policyDER, err := oidDER(policy)
			if err != nil {
				t.Fatal(err)
			}
			got, err := appendTSTInfo([]byte("prefix"), policyDER, imprint, c.serial, appendGeneralizedTime(nil, c.now, genTimeUnit(c.acc, false)), tstInfoTail(newAccuracy(c.acc), c.ordering), c.nonce, tsaDER)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, append([]byte("prefix"), want...)) {
				t.Fatalf("appendTSTInfo\n% x\nencoding/asn1\n% x", got, want)
			}
			var back refTSTInfo
			if rest, err := asn1.Unmarshal(got[len("prefix"):], &back); err != nil || len(rest) > 0 {
				t.Fatalf("encoding/asn1 cannot read it back: %v", err)
			}
		})
	}
}

// refGeneralizedTime is what the authority wrote as genTime before
// appendGeneralizedTime: time.Format with the accuracy's fraction digits.
func refGeneralizedTime(t time.Time, acc time.Duration) asn1.RawValue {
	layout, unit := "20060102150405.999Z", time.Millisecond
	if acc > 0 && acc < time.Millisecond {
		layout, unit = "20060102150405.999999Z", time.Microsecond
	}
	return asn1.RawValue{Tag: asn1.TagGeneralizedTime, Bytes: []byte(t.UTC().Truncate(unit).Format(layout))}
}
