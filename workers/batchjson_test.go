package workers

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

// decodeStd decodes a batch request with encoding/json, the reference that
// decodeBatch must agree with.
func decodeStd(body []byte) ([]BatchItem, bool) {
	var br BatchRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&br); err != nil || dec.More() {
		return nil, false
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, false
	}
	return br.SignatureRequests, true
}

var batchJSONSeeds = []string{
	`{"signatureRequests":[{"data":"AAEC","hashingAlgorithm":"SHA-256","customIdentifier":"a"}]}`,
	" {\n \"signatureRequests\" : [ { \"data\" : \"x\" } , {\"customIdentifier\":\"b\",\"data\":\"y\"} ] } \n",
	`{"signatureRequests":[]}`,
	`{"signatureRequests":[{}]}`,
	`{"signatureRequests":[null,{"data":"a"}]}`,
	`{"signatureRequests":[{"data":"a","data":"b"}]}`,
	`{"signatureRequests":[{"Data":"a","data":"b"}]}`,
	`{"signatureRequests":[{"data":"a","customIdentifier":"\u00fc","customIdentifier":"b"}]}`,
	`{"signatureRequests":[{"Data":"a"}]}`,
	`{"SIGNATUREREQUESTS":[{"data":"a"}]}`,
	`{"signatureRequests":[{"data":"a\"b"}]}`,
	`{"signatureRequests":[{"data":"ü","customIdentifier":"\u00fc\ud83d\ude00"}]}`,
	`{"signatureRequests":[{"data":1}]}`,
	`{"signatureRequests":[{"data":{"a":[1,"]"]}}]}`,
	`{"signatureRequests":[{"data":null}]}`,
	`{"signatureRequests":null}`,
	`{"signatureRequests":[{"data":"a"}]} x`,
	`{"signatureRequests":[{"data":"a"}]}]`,
	`{"signatureRequests":[{"data":"a"},]}`,
	`{"signatureRequests":[{"data":"a"}],"other":1}`,
	`{"signatureRequests":[{"unknown":"a"}]}`,
	`{"signatureRequests":[1]}`,
	`{"signatureRequests":{}}`,
	`{}`,
	`null`,
	`[]`,
	``,
	`{"signatureRequests":[{"data":"a"}`,
}

// refusedOnPurpose reports whether decodeBatch may refuse a body that
// encoding/json accepts: a key given twice (of the request or an item), a
// customIdentifier that encoding/json would alter, or an item without data
// (null, {}, "data": null), which encoding/json reads as an empty document.
func refusedOnPurpose(err error) bool {
	return err != nil && (errors.Is(err, errInexact) || strings.Contains(err.Error(), " twice: send it once.") || strings.Contains(err.Error(), "customIdentifier is not valid UTF-8") || strings.Contains(err.Error(), "has no data"))
}

// agree checks decodeBatch against encoding/json on one body.
func agree(t *testing.T, body []byte) {
	t.Helper()
	got, err := decodeBatch(bytes.NewReader(body), 1<<20, 1<<30)
	want, ok := decodeStd(body)
	switch {
	case err == nil && !ok:
		t.Fatalf("%q: decodeBatch accepts what encoding/json rejects", body)
	case err != nil && ok && !refusedOnPurpose(err):
		t.Fatalf("%q: decodeBatch rejects (%v) what encoding/json accepts", body, err)
	case err == nil && len(got)+len(want) > 0 && !reflect.DeepEqual(got, want):
		t.Fatalf("%q: decodeBatch %+v, encoding/json %+v", body, got, want)
	case err != nil && !errors.Is(err, ErrIllegalRequest):
		t.Fatalf("%q: error %v is not an illegal request", body, err)
	}
}

func TestDecodeBatchAgreesWithEncodingJSON(t *testing.T) {
	t.Parallel()
	for _, s := range batchJSONSeeds {
		agree(t, []byte(s))
	}
}

// TestDecodeBatchLongStrings: strings longer than the decoder's 32 KiB
// buffer, with an escape or the closing quote on either side of a buffer's
// end, decode as encoding/json decodes them, whatever size the reads are.
func TestDecodeBatchLongStrings(t *testing.T) {
	t.Parallel()
	const prefix = `{"signatureRequests":[{"customIdentifier":"`
	var bodies []string
	for _, at := range []int{32<<10 - 2, 32<<10 - 1, 32 << 10, 32<<10 + 1, 64<<10 - 1} {
		for _, esc := range []string{`"`, `\`, `é`, `"`} {
			id := strings.Repeat("a", at-len(prefix)) + esc
			if esc != `"` {
				id += strings.Repeat("b", 40<<10) + `"`
			}
			bodies = append(bodies, prefix+id+`,"data":"`+strings.Repeat("A", 70<<10)+`"}]}`)
		}
	}
	bodies = append(bodies, prefix+strings.Repeat("a", 40<<10)) // cut in a string
	for _, body := range bodies {
		agree(t, []byte(body))
		want, werr := decodeBatch(strings.NewReader(body), 1<<20, 1<<30)
		for name, r := range map[string]io.Reader{"one byte": iotest.OneByteReader(strings.NewReader(body)), "halves": iotest.HalfReader(strings.NewReader(body))} {
			got, err := decodeBatch(r, 1<<20, 1<<30)
			if (err == nil) != (werr == nil) || !reflect.DeepEqual(got, want) {
				t.Errorf("%d-byte body read in %s: %d items, %v; read whole: %d items, %v", len(body), name, len(got), err, len(want), werr)
			}
		}
	}
}

func FuzzDecodeBatch(f *testing.F) {
	for _, s := range batchJSONSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) { agree(t, body) })
}

// countingReader counts the bytes read from it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// TestDecodeBatchStopsAtLimit: a batch over MAX_BATCH_SIZE is refused after
// limit+1 items are read, not after the whole body (issue 14: a
// 1,000,000-item batch was parsed whole before it was refused).
func TestDecodeBatchStopsAtLimit(t *testing.T) {
	t.Parallel()
	item := `{"data":"` + strings.Repeat("A", 44) + `","customIdentifier":"x"},`
	body := `{"signatureRequests":[` + strings.Repeat(item, 1_000_000) + `{"data":""}]}`
	cr := &countingReader{r: strings.NewReader(body)}
	_, err := decodeBatch(cr, 1000, 1<<30)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("error %v, want ErrTooLarge", err)
	}
	if cr.n > 1<<20 {
		t.Errorf("read %d bytes of a %d-byte body before refusing it; want at most 1 MiB", cr.n, len(body))
	}
}

// TestDecodeBatchExactIdentifiers: identifiers come back byte for byte or
// are refused (issue 14: invalid UTF-8 became U+FFFD).
func TestDecodeBatchExactIdentifiers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		id   string // as written in the JSON
		want string // decoded; "" means refused
	}{
		{`plain`, "plain"},
		{`tab\there`, "tab\there"},
		{`\u00fc`, "ü"},
		{`ü`, "ü"},
		{`\ud83d\ude00`, "😀"},
		{`\ufffd`, "\uFFFD"},
		{"\uFFFD", "\uFFFD"},
		{`\\ud800`, `\ud800`},
		{"a\xffb", ""},
		{`\ud800`, ""},
		{`\udc00x`, ""},
		{`\ud800\u0041`, ""},
	} {
		body := `{"signatureRequests":[{"data":"AA==","customIdentifier":"` + tc.id + `"}]}`
		got, err := decodeBatch(strings.NewReader(body), 10, 1<<30)
		switch {
		case tc.want == "" && err == nil:
			t.Errorf("%q: accepted as %q, want refused", tc.id, got[0].CustomIdentifier)
		case tc.want == "" && !strings.Contains(err.Error(), "customIdentifier"):
			t.Errorf("%q: error %q does not name customIdentifier", tc.id, err)
		case tc.want != "" && err != nil:
			t.Errorf("%q: %v", tc.id, err)
		case tc.want != "" && got[0].CustomIdentifier != tc.want:
			t.Errorf("%q: decoded %q, want %q", tc.id, got[0].CustomIdentifier, tc.want)
		}
	}
}

// BenchmarkDecodeBatch reads a CAdES batch of 1000 SHA-256 digests with
// identifiers, as the REST batch client sends it.
func BenchmarkDecodeBatch(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`{"signatureRequests":[`)
	for i := range 1000 {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"data":"%s","hashingAlgorithm":"SHA-256","customIdentifier":"doc-%d"}`, base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{byte(i)}, 32)), i)
	}
	sb.WriteString(`]}`)
	body := sb.String()
	b.ReportAllocs()
	for b.Loop() {
		items, err := decodeBatch(strings.NewReader(body), 1000, 1<<30)
		if err != nil || len(items) != 1000 {
			b.Fatal(len(items), err)
		}
	}
}

// TestDecodeBatchMemoryBound: items are refused with ErrTooLarge once their
// JSON passes the request memory bound (server.maxRequestMemory), and one
// item (or key) larger than the bound is refused while it is read, not
// after the whole body has been copied into the decoder.
func TestDecodeBatchMemoryBound(t *testing.T) {
	t.Parallel()
	const memory = 64 << 10
	big := strings.Repeat("A", 4<<20)
	item := `{"data":"` + strings.Repeat("A", 1000) + `"}`
	for _, tc := range []struct {
		name, body string
		ok         bool
	}{
		{"items within the bound", `{"signatureRequests":[` + strings.Repeat(item+",", 60) + item + `]}`, true},
		{"items past the bound", `{"signatureRequests":[` + strings.Repeat(item+",", 70) + item + `]}`, false},
		{"one large string", `{"signatureRequests":[{"data":"` + big + `"}]}`, false},
		{"one large array", `{"signatureRequests":[{"data":[` + strings.Repeat("1,", 2<<20) + `1]}]}`, false},
		{"one large escaped string", `{"signatureRequests":[{"data":"` + strings.Repeat(`\n`, 2<<20) + `"}]}`, false},
		{"one large key", `{"` + big + `":[]}`, false},
	} {
		cr := &countingReader{r: strings.NewReader(tc.body)}
		_, err := decodeBatch(cr, 1000, memory)
		if tc.ok {
			if err != nil {
				t.Errorf("%s: %.200v", tc.name, err)
			}
			continue
		}
		if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "server.maxRequestMemory") {
			t.Errorf("%s: error %.200v, want ErrTooLarge naming server.maxRequestMemory", tc.name, err)
		}
		if cr.n > memory+256<<10 {
			t.Errorf("%s: read %d bytes of a %d-byte body before refusing it; want at most the bound and a buffer more", tc.name, cr.n, len(tc.body))
		}
	}
}

// TestDecodeBatchItemWithoutData: an item without data (null, {}, data
// null, only other members) refuses the batch, naming the item, instead of
// signing an empty document; "data": "" is an empty document.
func TestDecodeBatchItemWithoutData(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		items string
		item  int // -1: accepted
	}{
		{`null`, 0},
		{`{}`, 0},
		{`{"data":"AA=="},{"data":null}`, 1},
		{`{"data":"AA=="},{"data":"AQ=="},{"customIdentifier":"c","hashingAlgorithm":"SHA-256"}`, 2},
		{`{"customIdentifier":"\u00fc"}`, 0}, // the encoding/json path
		{`{"data":""}`, -1},
		{`{"data":"","customIdentifier":"\u00fc"}`, -1},
	} {
		body := `{"signatureRequests":[` + tc.items + `]}`
		items, err := decodeBatch(strings.NewReader(body), 100, 1<<20)
		switch {
		case tc.item < 0 && err != nil:
			t.Errorf("%s: %v", body, err)
		case tc.item >= 0 && (!errors.Is(err, ErrIllegalRequest) || !strings.Contains(err.Error(), fmt.Sprintf("Item %d of the batch has no data", tc.item))):
			t.Errorf("%s: %d items, %v; want item %d refused for having no data", body, len(items), err, tc.item)
		}
	}
}

// TestDecodeBatchDuplicateKeys: a key given twice, in the request or in an
// item, refuses the batch with the same sentence, naming the item. An item
// with data twice was signed with the last one silently (encoding/json
// keeps the last), whereas signatureRequests twice was refused. Keys are
// one key when encoding/json takes them for one: case-insensitively, as
// bytes.EqualFold folds them ("ſ" is "s").
func TestDecodeBatchDuplicateKeys(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, body string
		says       string // "": accepted
	}{
		{"signatureRequests twice", `{"signatureRequests":[],"signatureRequests":[{"data":"AA=="}]}`, "The batch request has signatureRequests twice: send it once."},
		{"signatureRequests twice in two cases", `{"signatureRequests":[],"SignatureRequests":[]}`, "The batch request has signatureRequests twice: send it once."},
		{"data twice", `{"signatureRequests":[{"data":"AA=="},{"data":"AA==","data":"AQ=="}]}`, "Item 1 of the batch has data twice: send it once."},
		{"data twice, the second null", `{"signatureRequests":[{"data":"AA==","data":null}]}`, "Item 0 of the batch has data twice: send it once."},
		{"data twice in two cases", `{"signatureRequests":[{"Data":"AA==","data":"AQ=="}]}`, "Item 0 of the batch has data twice: send it once."},
		{"data twice, with an escape", `{"signatureRequests":[{"data":"A\u0041==","data":"AQ=="}]}`, "Item 0 of the batch has data twice: send it once."},
		{"hashingAlgorithm twice, one with a long s", `{"signatureRequests":[{"data":"AA==","hashingAlgorithm":"SHA-256","haſhingAlgorithm":"SHA-1"}]}`, "Item 0 of the batch has hashingAlgorithm twice: send it once."},
		{"customIdentifier twice", `{"signatureRequests":[{"customIdentifier":"a","data":"AA==","customIdentifier":"b"}]}`, "Item 0 of the batch has customIdentifier twice: send it once."},
		{"each key once", `{"signatureRequests":[{"customIdentifier":"\u00fc","data":"AA==","hashingAlgorithm":"SHA-256"}]}`, ""},
		{"the same key in two items", `{"signatureRequests":[{"data":"AA=="},{"Data":"AQ=="}]}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			items, err := decodeBatch(strings.NewReader(tc.body), 100, 1<<20)
			switch {
			case tc.says == "" && err != nil:
				t.Errorf("%v", err)
			case tc.says != "" && (!errors.Is(err, ErrIllegalRequest) || err.Error() != tc.says):
				t.Errorf("%d items, %v; want refused: %q", len(items), err, tc.says)
			}
		})
	}
}
