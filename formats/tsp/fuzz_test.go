package tsp

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/asn1"
	"errors"
	"io"
	"net/http"
	"testing"
	"unicode/utf8"
)

// FuzzRespond: any query gets a DER TimeStampResp (granted or rejected),
// never a panic or an error of the authority's own.
func FuzzRespond(f *testing.F) {
	p := newPKI(f, "EC-P256")
	a := p.authority(f, nil)
	sum := sha256.Sum256([]byte("fuzz"))
	f.Add(rawQuery(f, oidSHA256, sum[:], nil))
	f.Add(rawQueryWith(f, 1, asn1.RawValue{}, oidSHA256, sum[:], nil))
	f.Add(rawQueryWith(f, 2, asn1.NullRawValue, oidSHA256, sum[:], nil))
	f.Add([]byte{0x30, 0x00})
	f.Fuzz(func(t *testing.T, q []byte) {
		resp, err := a.Respond(context.Background(), q)
		if err != nil {
			t.Fatalf("Respond: %v", err)
		}
		var r timeStampResp
		if rest, err := asn1.Unmarshal(resp, &r); err != nil || len(rest) > 0 {
			t.Fatalf("the response does not decode: %v", err)
		}
	})
}

// roundTrip answers every request with the fuzzer's bytes.
type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// FuzzClientReply: whatever a time-stamp authority answers, Client.Stamp
// returns a token or a short, printable error wrapping ErrBadReply,
// ErrUnavailable or ErrRejected, never a panic.
func FuzzClientReply(f *testing.F) {
	p := newPKI(f, "EC-P256")
	a := p.authority(f, nil)
	sum := sha256.Sum256([]byte("fuzz"))
	if good, err := a.Respond(context.Background(), rawQuery(f, oidSHA256, sum[:], nil)); err == nil {
		f.Add(good)
	}
	f.Add([]byte{0x30, 0x03, 0x30, 0x01, 0x00})
	f.Add([]byte{})
	// A rejection with 800,000 failInfo bits set and control characters in
	// its text: the error stays a short line (it was megabytes).
	hostile, err := asn1.Marshal(timeStampResp{Status: pkiStatusInfo{Status: statusRejection,
		StatusString: freeText("bad\x1b[2J\nthing"), FailInfo: asn1.BitString{Bytes: bytes.Repeat([]byte{0xff}, 100000), BitLength: 800000}}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(hostile)
	f.Fuzz(func(t *testing.T, reply []byte) {
		c := &Client{URL: "http://tsa.invalid/", HTTPClient: &http.Client{Transport: roundTrip(func(r *http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/timestamp-reply"}},
				Body: io.NopCloser(bytes.NewReader(reply)), Request: r}, nil
		})}}
		tok, err := c.Stamp(context.Background(), sum[:], crypto.SHA256)
		if err == nil && len(tok) == 0 {
			t.Fatal("Stamp returned neither a token nor an error")
		}
		if err != nil && !errors.Is(err, ErrBadReply) && !errors.Is(err, ErrUnavailable) && !errors.Is(err, ErrRejected) {
			t.Fatalf("error %v is neither ErrBadReply, ErrUnavailable nor ErrRejected", err)
		}
		if err != nil && (len(err.Error()) > 1024 || !utf8.ValidString(err.Error())) {
			t.Fatalf("the error for a %d-byte reply is %d bytes of text (valid UTF-8: %v)", len(reply), len(err.Error()), utf8.ValidString(err.Error()))
		}
	})
}
