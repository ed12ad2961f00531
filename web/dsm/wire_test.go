package dsm

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
)

// FuzzParseBatch checks that the batch reader accepts only what
// encoding/json accepts, and reads it the same.
func FuzzParseBatch(f *testing.F) {
	for _, s := range []string{
		`[]`, ` [ ] `, `[{}]`, `null`, `[{"key":{"name":"p256"},"hash_alg":"SHA256","hash":"AAAA"}]`,
		`[{"hash":"AA==","key":{"kid":"3c1f6f4e-3a9b-4f0e-9a57-5e2f1d8c7b60"},"hash_alg":"SHA256"},{"key":{"name":"x"},"hash_alg":"SHA256","data":"YQ=="}]`,
		`[{"key":{"name":"a"},"key":{"name":"b"}}]`, `[{"Key":{"name":"a"}}]`, `[{"key":{"name":"a\u0041"}}]`,
		`[{"key":{"name":"p"},"hash_alg":"SHA256","hash":"AA"}] x`, `[{"key":{"name":"p"}},]`, `[{"hash":null}]`,
		`[{"key":{"name":"é"}}]`, `[{"key":{"name":"a","kid":"b"}}]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		items, ok := parseBatch(b)
		if !ok {
			return
		}
		var raw []json.RawMessage
		if err := json.Unmarshal(b, &raw); err != nil || raw == nil {
			t.Fatalf("parseBatch read %q, encoding/json refuses it: %v", b, err)
		}
		want := rawItems(raw)
		if !reflect.DeepEqual(items, want) {
			t.Fatalf("%q: parseBatch %+v, encoding/json %+v", b, items, want)
		}
	})
}

// TestAppendResults checks the answer writer against encoding/json.
func TestAppendResults(t *testing.T) {
	out := []itemResult{
		{Status: 200, Body: &signResponse{Kid: "3c1f6f4e-3a9b-4f0e-9a57-5e2f1d8c7b60", Signature: "MEUCIQ=="}},
		{Status: 400, Error: `The item <"x"> & é is not a SignRequest.`},
		{Status: 503},
	}
	want, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	if got := appendResults(nil, out); string(got) != string(want)+"\n" {
		t.Fatalf("appendResults:\n%s\nencoding/json:\n%s", got, want)
	}
	for _, o := range [][]itemResult{nil, {}} {
		if got := appendResults(nil, o); string(got) != "[]\n" {
			t.Errorf("appendResults(%v) = %q", o, got)
		}
	}
}

// batchBody is a batch of n SHA-256 digests by key name, as clients send.
func batchBody(n int) []byte {
	var w []byte
	w = append(w, '[')
	for i := range n {
		if i > 0 {
			w = append(w, ',')
		}
		w = fmt.Appendf(w, `{"key":{"name":"p256"},"hash_alg":"SHA256","hash":"%s"}`, base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{byte(i)}, 32)))
	}
	return append(w, ']')
}

// BenchmarkParseBatch reads a batch of 1000 digests.
func BenchmarkParseBatch(b *testing.B) {
	body := batchBody(1000)
	b.ReportAllocs()
	for b.Loop() {
		if items, ok := parseBatch(body); !ok || len(items) != 1000 {
			b.Fatal(len(items), ok)
		}
	}
}

// BenchmarkAppendResults writes the answer of a batch of 1000 signatures.
func BenchmarkAppendResults(b *testing.B) {
	out := make([]itemResult, 1000)
	for i := range out {
		out[i] = itemResult{Status: 200, Body: &signResponse{Kid: "3c1f6f4e-3a9b-4f0e-9a57-5e2f1d8c7b60", Signature: base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{byte(i)}, 72))}}
	}
	w := make([]byte, 0, resultsSize(len(out)))
	b.ReportAllocs()
	for b.Loop() {
		w = appendResults(w[:0], out)
	}
}
