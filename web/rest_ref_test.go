package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/signet-project/signet/internal/clienttext"
	"github.com/signet-project/signet/workers"
)

// decodeRESTTwoPass is decodeREST as it was before it read the body in one
// pass: json.Unmarshal into the wire struct, then again into a map to find
// unknown members. It is the reference the one-pass decodeREST must agree
// with, answer for answer and sentence for sentence (TestDecodeRESTAgrees,
// FuzzDecodeRESTAgrees).
func decodeRESTTwoPass(body []byte) (*restRequest, error) {
	type refWire struct {
		Data     *refDataU                  `json:"data"`
		Encoding string                     `json:"encoding"`
		MetaData map[string]json.RawMessage `json:"metaData"`
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, badRequest("The request body is empty: send %s.", restShape)
	}
	var req refWire
	if err := json.Unmarshal(body, &req); err != nil {
		var (
			te *json.UnmarshalTypeError
			se *json.SyntaxError
		)
		switch {
		case errors.As(err, &te) && te.Field == "":
			return nil, badRequest("The request body is a JSON %s, not an object: send %s.", te.Value, restShape)
		case errors.As(err, &te):
			return nil, badRequest("Field %q has the wrong type (%s): data and encoding are strings, metaData maps names to strings.", te.Field, te.Value)
		case errors.As(err, &se) && strings.Contains(se.Error(), "after top-level value"):
			return nil, badRequest("The request body has more after the JSON object: send one object.")
		}
		return nil, badRequest("The request body is not valid JSON: send %s.", restShape)
	}
	var members map[string]refAny
	json.Unmarshal(body, &members) // an object: the first pass said so
	for _, k := range slices.Sorted(maps.Keys(members)) {
		if !slices.ContainsFunc([]string{"data", "encoding", "metaData"}, func(f string) bool { return strings.EqualFold(f, k) }) {
			return nil, badRequest("The request has an unknown field %s: use data, encoding and metaData.", clienttext.Quote(k))
		}
	}
	if k, ok := refRepeated(body); ok {
		return nil, workers.Twice("The request", k)
	}
	if req.Data == nil || req.Data.lit == nil {
		return nil, badRequest("The request has no data field: send the document in data.")
	}
	out := &restRequest{data: req.Data.lit, Encoding: req.Encoding}
	if req.MetaData != nil {
		out.MetaData = make(map[string]string, len(req.MetaData))
	}
	for _, k := range slices.Sorted(maps.Keys(req.MetaData)) {
		var v string
		raw := req.MetaData[k]
		if err := json.Unmarshal(raw, &v); err != nil || string(raw) == "null" {
			return nil, badRequest("metaData value of %s has the wrong type: send every metadata value as a JSON string.", clienttext.Quote(k))
		}
		out.MetaData[k] = v
	}
	return out, nil
}

// refRepeated reports the first of the request's fields that body (an
// object encoding/json accepted) gives twice, matched as encoding/json
// matches keys to fields. It is what decodeREST added to the two passes.
func refRepeated(body []byte) (string, bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') { // null
		return "", false
	}
	seen := map[string]bool{}
	for dec.More() {
		t, _ := dec.Token()
		key, _ := t.(string)
		for _, f := range []string{"data", "encoding", "metaData"} {
			if strings.EqualFold(key, f) {
				if seen[f] {
					return f, true
				}
				seen[f] = true
			}
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return "", false
		}
	}
	return "", false
}

// refDataU is the old restData: the data member's literal, not a copy.
type refDataU struct{ lit []byte }

func (d *refDataU) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	if b[0] != '"' {
		var v string
		return json.Unmarshal(b, &v)
	}
	d.lit = b
	return nil
}

// refAny takes any JSON value and keeps nothing.
type refAny struct{}

func (*refAny) UnmarshalJSON([]byte) error { return nil }

// restAgreeSeeds are bodies on which the one-pass decodeREST and the
// two-pass reference must answer alike: repeated and differently cased
// members, unknown members, wrong types in every order, syntax errors.
var restAgreeSeeds = []string{
	`{"data":"x"}`, ` {"data" : "YQ==" , "encoding":"BASE64", "metaData":{"K":"v"}} `,
	`{"data":"a\"b\u00e9"}`, `{"d\u0061ta":"x"}`, `{"DATA":"x"}`, `{"Data":"x","data":"y"}`, `{"data":"x","DATA":null}`,
	`{"data":"x","data":"y"}`, `{"data":5,"data":"y"}`, `{"data":"x","data":5}`, `{"data":null}`, `{}`, `null`, ` null `,
	`{"encoding":5,"data":5}`, `{"encoding":5,"metaData":[]}`, `{"metaData":"x","encoding":true}`, `{"encoding":5,"data":"x"}`,
	`{"encoding":"BASE64","encoding":null,"data":"x"}`, `{"encoding":"a","ENCODING":"b","data":"x"}`,
	`{"metaData":{"a":"1"},"metaData":{"b":"2"},"data":"x"}`, `{"metaData":{"a":"1"},"metadata":null,"data":"x"}`,
	`{"metaData":{"a":"1","a":"2"},"data":"x"}`, `{"metaData":{"a":1},"data":"x"}`, `{"metaData":{"b":1,"a":null},"data":"x"}`,
	`{"data":"x","zz":1,"aa":2}`, `{"data":5,"zz":1}`, `{"zz":1,"encoding":5,"data":"x"}`, `{"":1,"data":"x"}`, "{\"\xff\":1,\"data\":\"x\"}",
	`{"\u017Fata":"x"}`, `{"data\u0000":"x"}`, `{"dat\u0061":"x","DAT\u0041":"y"}`, `{"ENCODİNG":"x","data":"y"}`, "{\"da\xffta\":\"x\"}",
	`{"data":{"a":[1,2]}}`, `{"data":[1]}`, `{"data":true}`, `{"data":-1.5e3}`, `{"metaData":5,"data":"x"}`,
	`[]`, `[1,2]`, `"str"`, `5`, `true`, `false`, `{"data":"x"} {}`, `{"data":"x"}]`, `{"data":"x",}`, `{"data":"x"`, `{"data":"x}`,
	`{"data" "x"}`, `{data:"x"}`, `{"data":tru}`, `{"data":"x"}x`, `[1] x`, `{"data":"a\qb"}`, "{\"data\":\"a\x01b\"}",
	"{\"data\":\"a\xffb\"}", `{"data":"\ud800"}`, "\t\n{\"data\":\"x\"}\r\n", `{"metaData":{"a":"1"} , "data":"x" , "encoding":"NONE"}`,
	"\u00a0", ` `, ``, "{\"data\":\"x\"}\u00a0",
}

// agreeREST checks decodeREST against decodeRESTTwoPass on one body.
func agreeREST(t *testing.T, body []byte) {
	t.Helper()
	want, werr := decodeRESTTwoPass(bytes.Clone(body))
	got, err := decodeREST(bytes.Clone(body))
	if (err == nil) != (werr == nil) || err != nil && err.Error() != werr.Error() {
		t.Fatalf("%q: decodeREST error %v, the two-pass reference %v", body, err, werr)
	}
	if err == nil && (!bytes.Equal(got.data, want.data) || got.Encoding != want.Encoding || !reflect.DeepEqual(got.MetaData, want.MetaData)) {
		t.Fatalf("%q: decodeREST %q %q %v, the two-pass reference %q %q %v", body, got.data, got.Encoding, got.MetaData, want.data, want.Encoding, want.MetaData)
	}
}

func TestDecodeRESTAgrees(t *testing.T) {
	t.Parallel()
	for _, s := range restAgreeSeeds {
		agreeREST(t, []byte(s))
	}
}

// FuzzDecodeRESTAgrees holds the one-pass decodeREST to the two passes of
// encoding/json it replaced.
func FuzzDecodeRESTAgrees(f *testing.F) {
	for _, s := range restAgreeSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(agreeREST)
}

// TestDecodeRESTDepth: a member nested as deep as encoding/json allows
// alone makes the object around it too deep, as the two passes found.
func TestDecodeRESTDepth(t *testing.T) {
	t.Parallel()
	for _, n := range []int{9999, 10000} {
		for _, body := range []string{
			`{"data":"x","zz":` + strings.Repeat("[", n) + strings.Repeat("]", n) + `}`,
			`{"data":"x","metaData":` + strings.Repeat(`{"a":`, n-1) + `{}` + strings.Repeat("}", n-1) + `}`,
		} {
			agreeREST(t, []byte(body))
		}
	}
}

// TestDecodeRESTDuplicateKeys: a member given twice refuses the request
// with the batch request's sentence (workers.Twice), a 400. The last data
// was signed silently (encoding/json keeps the last), whereas a batch item
// with data twice was refused. Keys are one key when encoding/json takes
// them for one: case-insensitively, as bytes.EqualFold folds them.
func TestDecodeRESTDuplicateKeys(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, body string
		says       string // "": accepted
	}{
		{"data twice", `{"data":"YQ==","data":"Yg=="}`, "The request has data twice: send it once."},
		{"data twice in two cases", `{"Data":"YQ==","data":"Yg=="}`, "The request has data twice: send it once."},
		{"data twice, the second null", `{"data":"YQ==","DATA":null}`, "The request has data twice: send it once."},
		{"data twice, with an escape", `{"d\u0061ta":"YQ==","data":"Yg=="}`, "The request has data twice: send it once."},
		{"encoding twice, one null", `{"encoding":"BASE64","encoding":null,"data":"YQ=="}`, "The request has encoding twice: send it once."},
		{"metaData twice", `{"metaData":{"a":"1"},"metaData":{"b":"2"},"data":"x"}`, "The request has metaData twice: send it once."},
		{"metaData twice, one null", `{"metaData":{"a":"1"},"metadata":null,"data":"x"}`, "The request has metaData twice: send it once."},
		{"the first repeated named", `{"encoding":"NONE","data":"x","data":"y","encoding":"NONE"}`, "The request has data twice: send it once."},
		{"a wrong type first", `{"data":"x","data":5}`, "Field \"data\" has the wrong type (number): data and encoding are strings, metaData maps names to strings."},
		{"an unknown field first", `{"data":"x","data":"y","zz":1}`, "The request has an unknown field \"zz\": use data, encoding and metaData."},
		{"an unknown field twice", `{"data":"x","zz":1,"zz":2}`, "The request has an unknown field \"zz\": use data, encoding and metaData."},
		{"a metaData name twice", `{"metaData":{"a":"1","a":"2"},"data":"x"}`, ""},
		{"each member once", `{"metaData":{"a":"1"},"encoding":"BASE64","data":"YQ=="}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := decodeREST([]byte(tc.body))
			code, msg, _ := (&Server{}).status(err)
			switch {
			case tc.says == "" && err != nil:
				t.Errorf("%v", err)
			case tc.says != "" && (err == nil || code != http.StatusBadRequest || msg != tc.says):
				t.Errorf("%+v, %d %v; want refused: %q", req, code, err, tc.says)
			}
		})
	}
}
