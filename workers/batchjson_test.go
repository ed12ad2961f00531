package workers

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// decodeStd is the encoding/json path of parseBatch.
func decodeStd(body []byte) (BatchRequest, bool) {
	var br BatchRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&br); err != nil || dec.More() {
		return br, false
	}
	return br, true
}

var batchJSONSeeds = []string{
	`{"signatureRequests":[{"data":"AAEC","hashingAlgorithm":"SHA-256","customIdentifier":"a"}]}`,
	" {\n \"signatureRequests\" : [ { \"data\" : \"x\" } , {\"customIdentifier\":\"b\",\"data\":\"y\"} ] } \n",
	`{"signatureRequests":[]}`,
	`{"signatureRequests":[{}]}`,
	`{"signatureRequests":[{"data":"a","data":"b"}]}`,
	`{"signatureRequests":[{"Data":"a"}]}`,
	`{"signatureRequests":[{"data":"a\"b"}]}`,
	`{"signatureRequests":[{"data":"ü"}]}`,
	`{"signatureRequests":[{"data":1}]}`,
	`{"signatureRequests":[{"data":null}]}`,
	`{"signatureRequests":null}`,
	`{"signatureRequests":[{"data":"a"}]} x`,
	`{"signatureRequests":[{"data":"a"}]}]`,
	`{"signatureRequests":[{"data":"a"},]}`,
	`{"signatureRequests":[{"data":"a"}],"other":1}`,
	`{"signatureRequests":[{"unknown":"a"}]}`,
	`{}`,
	`[]`,
	``,
	`{"signatureRequests":[{"data":"a"}`,
}

// TestFastBatchRequestAgrees checks that whenever the fast decoder accepts a
// body, encoding/json accepts it too and decodes the same request.
func TestFastBatchRequestAgrees(t *testing.T) {
	fast := 0
	for _, s := range batchJSONSeeds {
		got, ok := fastBatchRequest([]byte(s))
		if !ok {
			continue
		}
		fast++
		want, wok := decodeStd([]byte(s))
		if !wok {
			t.Errorf("%q: the fast decoder accepts what encoding/json rejects", s)
			continue
		}
		if !reflect.DeepEqual(got.SignatureRequests, want.SignatureRequests) && !(len(got.SignatureRequests) == 0 && len(want.SignatureRequests) == 0) {
			t.Errorf("%q: fast %+v, encoding/json %+v", s, got, want)
		}
	}
	if fast < 5 {
		t.Errorf("the fast decoder took only %d of the seeds: it is not being exercised", fast)
	}
}

func FuzzFastBatchRequest(f *testing.F) {
	for _, s := range batchJSONSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, ok := fastBatchRequest(body)
		if !ok {
			return
		}
		want, wok := decodeStd(body)
		if !wok {
			t.Fatalf("%q: the fast decoder accepts what encoding/json rejects", body)
		}
		if len(got.SignatureRequests) != len(want.SignatureRequests) || len(got.SignatureRequests) > 0 && !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: fast %+v, encoding/json %+v", body, got, want)
		}
	})
}
