package tsp

import (
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/digitorus/timestamp"

	"github.com/signet-project/signet/internal/demo"
)

// tsaHandler serves an Authority over HTTP as RFC 3161 section 3.4 says,
// letting a test tamper with the query first.
func tsaHandler(t *testing.T, a *Authority, tamper func(q []byte) []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if ct := r.Header.Get("Content-Type"); ct != "application/timestamp-query" {
			t.Errorf("query content type %q", ct)
		}
		q, err := io.ReadAll(r.Body)
		if err != nil {
			t.Error(err)
			return
		}
		if req, err := timestamp.ParseRequest(q); err != nil || req.Nonce == nil || !req.Certificates {
			t.Errorf("client query lacks a nonce or certReq: %+v %v", req, err)
		}
		if tamper != nil {
			q = tamper(q)
		}
		resp, err := a.Respond(r.Context(), q)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/timestamp-reply")
		w.Write(resp)
	}
}

func TestClient(t *testing.T) {
	p := newPKI(t, "EC-P256")
	a := p.authority(t, nil)
	digest := sha256.Sum256([]byte("signature value"))
	docKey, err := demo.NewKey("EC-P256")
	if err != nil {
		t.Fatal(err)
	}
	docCert, err := p.ca.Issue("Document signer", docKey.Public(), demo.DocumentSigning, time.Hour)
	if err != nil {
		t.Fatal(err)
	}

	// A closed port: listen, note the address, close.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedURL := "http://" + l.Addr().String() + "/tsa"
	l.Close()

	cases := []struct {
		name    string
		handler http.HandlerFunc // nil: closedURL
		client  Client
		kind    error  // nil: success
		msg     string // in the error sentence
	}{
		{name: "good reply", handler: tsaHandler(t, a, nil)},
		{name: "basic auth", client: Client{Username: "alice", Password: "s3cret"}, handler: func(w http.ResponseWriter, r *http.Request) {
			if u, pw, ok := r.BasicAuth(); !ok || u != "alice" || pw != "s3cret" {
				http.Error(w, "who are you", http.StatusUnauthorized)
				return
			}
			tsaHandler(t, a, nil)(w, r)
		}},
		{name: "wrong password", client: Client{Username: "alice", Password: "wrong-password"}, handler: func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "who are you", http.StatusUnauthorized)
		}, kind: ErrUnavailable, msg: "check TSA_USERNAME and TSA_PASSWORD"},
		{name: "server down", kind: ErrUnavailable, msg: "could not be reached"},
		{name: "never answers", client: Client{Timeout: 300 * time.Millisecond}, handler: func(w http.ResponseWriter, r *http.Request) {
			// Read the query so that the server notices the client
			// hanging up, then wait for that.
			io.Copy(io.Discard, r.Body)
			<-r.Context().Done()
		}, kind: ErrUnavailable, msg: "did not answer within 300ms"},
		{name: "HTTP 500", handler: func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "boom", http.StatusInternalServerError)
		}, kind: ErrUnavailable, msg: "answered HTTP 500"},
		{name: "HTML page", handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.Write([]byte("<html>hello</html>"))
		}, kind: ErrBadReply, msg: `content type "text/html"`},
		{name: "garbage reply", handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/timestamp-reply")
			w.Write([]byte("garbage, not DER"))
		}, kind: ErrBadReply, msg: "not a TimeStampResp"},
		{name: "wrong nonce", handler: tsaHandler(t, a, func(q []byte) []byte {
			req, err := timestamp.ParseRequest(q)
			if err != nil {
				t.Fatal(err)
			}
			req.Nonce = new(big.Int).Add(req.Nonce, big.NewInt(1))
			req.ExtraExtensions = nil
			q, err = req.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			return q
		}), kind: ErrBadReply, msg: "did not echo the nonce"},
		{name: "other imprint", handler: tsaHandler(t, a, func(q []byte) []byte {
			req, _ := timestamp.ParseRequest(q)
			req.HashedMessage = make([]byte, 32)
			q, _ = req.Marshal()
			return q
		}), kind: ErrBadReply, msg: "another message imprint"},
		{name: "no certificate", handler: tsaHandler(t, a, func(q []byte) []byte {
			req, _ := timestamp.ParseRequest(q)
			req.Certificates = false
			q, _ = req.Marshal()
			return q
		}), kind: ErrBadReply, msg: "without its certificate"},
		// A token signed by a certificate that is no time-stamping
		// certificate (RFC 3161 2.3) proves no time: a validator does not
		// take it (CheckTimeStampingEKU), so a B-T signature with it is not B-T.
		{name: "not a TSA certificate", handler: func(w http.ResponseWriter, r *http.Request) {
			q, _ := io.ReadAll(r.Body)
			req, err := timestamp.ParseRequest(q)
			if err != nil {
				t.Error(err)
				return
			}
			ts := timestamp.Timestamp{HashAlgorithm: req.HashAlgorithm, HashedMessage: req.HashedMessage, Time: time.Now(),
				Nonce: req.Nonce, Policy: policyDefault, AddTSACertificate: true}
			resp, err := ts.CreateResponseWithOpts(docCert, docKey, crypto.SHA256)
			if err != nil {
				t.Error(err)
				return
			}
			w.Header().Set("Content-Type", "application/timestamp-reply")
			w.Write(resp)
		}, kind: ErrBadReply, msg: "timeStamping"},
		{name: "rejected policy", client: Client{Policy: policyUnknown}, handler: tsaHandler(t, a, nil),
			kind: ErrRejected, msg: "rejected the request: unacceptedPolicy"},
		{name: "accepted policy", client: Client{Policy: policyOther}, handler: tsaHandler(t, a, nil)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.client
			c.URL = closedURL
			if tc.handler != nil {
				srv := httptest.NewServer(tc.handler)
				defer srv.Close()
				c.URL = srv.URL + "/tsa"
			}
			tok, err := c.Stamp(context.Background(), digest[:], crypto.SHA256)
			if tc.kind != nil {
				if !errors.Is(err, tc.kind) {
					t.Fatalf("error %v, want %v", err, tc.kind)
				}
				if !strings.Contains(err.Error(), tc.msg) || !strings.Contains(err.Error(), c.URL) {
					t.Errorf("error %q should name %s and say %q", err, c.URL, tc.msg)
				}
				if c.Password != "" && strings.Contains(err.Error(), c.Password) {
					t.Errorf("error %q leaks the password", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Stamp: %v", err)
			}
			in := p.write(t, "token.der", tok)
			out := mustOpenSSL(t, "ts", "-verify", "-digest", hex.EncodeToString(digest[:]), "-in", in, "-token_in", "-CAfile", p.caPEM)
			if !strings.Contains(out, "Verification: OK") {
				t.Errorf("openssl: %s", out)
			}
			if len(c.Policy) > 0 {
				ts, err := timestamp.Parse(tok)
				if err != nil || !ts.Policy.Equal(c.Policy) {
					t.Errorf("token policy %v (%v), want %v", ts.Policy, err, c.Policy)
				}
			}
		})
	}
}

func TestClientCancelled(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		<-r.Context().Done()
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c := &Client{URL: srv.URL}
	digest := sha256.Sum256(nil)
	_, err := c.Stamp(ctx, digest[:], crypto.SHA256)
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "cancelled") {
		t.Errorf("error %v, want a cancellation", err)
	}
}

func TestClientRedactsURLPassword(t *testing.T) {
	c := &Client{URL: "http://bob:hunter2@127.0.0.1:1/tsa", Timeout: time.Second}
	digest := sha256.Sum256(nil)
	_, err := c.Stamp(context.Background(), digest[:], crypto.SHA256)
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error %v should exist and not show the password", err)
	}
}

func TestClientRefusesBadDigest(t *testing.T) {
	c := &Client{URL: "http://127.0.0.1:1/"}
	for _, tc := range []struct {
		d []byte
		h crypto.Hash
	}{{make([]byte, 20), crypto.SHA256}, {make([]byte, 28), crypto.SHA224}} {
		if _, err := c.Stamp(context.Background(), tc.d, tc.h); err == nil {
			t.Errorf("Stamp(%d bytes, %v) succeeded", len(tc.d), tc.h)
		}
	}
}

// Both implementations satisfy Stamper.
var (
	_ Stamper = (*Authority)(nil)
	_ Stamper = (*Client)(nil)
)
