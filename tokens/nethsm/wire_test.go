package nethsm

import (
	"encoding/base64"
	"encoding/json"
	"testing"
)

// signAnswerSeeds are SignData answers: as NetHSMs and Signet write them,
// and shapes only encoding/json reads.
var signAnswerSeeds = []string{
	`{"signature":"MEUCIQD1"}`,
	"{\"signature\":\"MEUCIQD1\"}\n",
	`{ "signature": "MEUCIQD1" }`,
	`{"signature":"MEUC\/IQ=="}`,
	`{"signature":"a","signature":"b"}`,
	`{"signature":"a","other":"b"}`,
	`{"Signature":"MEUC"}`,
	`{"signature":"é"}`,
	`{"signature":""}`,
	`{"signature":"a"}x`,
	`{"signature":1}`,
	`{}`,
	`[]`,
	``,
}

func TestSignAnswer(t *testing.T) {
	t.Parallel()
	tests := []struct {
		body, want string
		err        bool
	}{
		{`{"signature":"MEUCIQD1"}`, "MEUCIQD1", false},
		{"{\"signature\":\"MEUCIQD1\"}\n", "MEUCIQD1", false},
		{`{ "signature": "MEUC" }`, "MEUC", false},
		{`{"signature":"MEUC\/IQ=="}`, "MEUC/IQ==", false},
		{`{"signature":"a","other":"b"}`, "a", false},
		{`{"signature":1}`, "", true},
		{`{"signature":"a"}x`, "", true},
		{``, "", true},
	}
	for _, tt := range tests {
		got, err := signAnswer([]byte(tt.body))
		if got != tt.want || (err != nil) != tt.err {
			t.Errorf("signAnswer(%q) = %q, %v; want %q, error %v", tt.body, got, err, tt.want, tt.err)
		}
	}
}

// FuzzSignAnswer holds the one-pass reader of sign answers to
// encoding/json: the same signature, or an error from both.
func FuzzSignAnswer(f *testing.F) {
	for _, s := range signAnswerSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, err := signAnswer(body)
		var want struct {
			Signature string `json:"signature"`
		}
		jerr := json.Unmarshal(body, &want)
		if (err != nil) != (jerr != nil) || (err == nil && got != want.Signature) {
			t.Fatalf("signAnswer(%q) = %q, %v; encoding/json: %q, %v", body, got, err, want.Signature, jerr)
		}
	})
}

// FuzzSignBody: the hand-written sign request is the JSON encoding/json
// reads back to the same mode and message.
func FuzzSignBody(f *testing.F) {
	for _, m := range []string{"ECDSA", "EdDSA", "PKCS1", "PSS_SHA256"} {
		f.Add(m, []byte("0123456789abcdef0123456789abcdef"))
	}
	f.Fuzz(func(t *testing.T, mode string, msg []byte) {
		if !validID(mode) { // modes are API names
			return
		}
		var got struct{ Mode, Message string }
		if err := json.Unmarshal(signBody(mode, msg), &got); err != nil {
			t.Fatalf("signBody(%q, %x) is not JSON: %v", mode, msg, err)
		}
		if got.Mode != mode || got.Message != base64.StdEncoding.EncodeToString(msg) {
			t.Fatalf("signBody(%q, %x) reads back as %+v", mode, msg, got)
		}
	})
}
