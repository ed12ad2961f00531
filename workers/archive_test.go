package workers_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/digitorus/timestamp"

	"github.com/signet-project/signet/config"
	"github.com/signet-project/signet/internal/racetest"
	"github.com/signet-project/signet/state"
	"github.com/signet-project/signet/workers"
)

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// TestArchivers: a worker with ARCHIVERS keeps, per request ID, what
// ARCHIVE_OF_TYPE says — for a single document, a batch (one item: the
// batch request and answer) and a PDF — and nothing of a refused request.
func TestArchivers(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	batch := "BATCHSIGNING: true\nCLIENTSIDEHASHING: true\nDETACHEDSIGNATURE: true\nACCEPTED_HASH_DIGEST_ALGORITHMS: SHA-256\n"
	tests := []struct {
		name, kind, props string
		doc               []byte
		request, response bool // kept
	}{
		{"response by default", config.KindCAdESSigner, "ARCHIVERS: OldDatabaseArchiver", []byte("doc"), false, true},
		{"request", config.KindCMSSigner, "ARCHIVERS: OldDatabaseArchiver\nARCHIVE_OF_TYPE: REQUEST", []byte("doc"), true, false},
		{"both, by SignServer's class name", config.KindCAdESSigner,
			"ARCHIVERS: org.signserver.server.archive.olddbarchiver.OldDatabaseArchiver\nARCHIVE_OF_TYPE: REQUEST_AND_RESPONSE", []byte("doc"), true, true},
		{"a plain signature", config.KindPlainSigner, "ARCHIVERS: OldDatabaseArchiver\nARCHIVE_OF_TYPE: REQUEST_AND_RESPONSE", []byte("doc"), true, true},
		{"a batch, as one item", config.KindCAdESSigner, batch + "ARCHIVERS: OldDatabaseArchiver\nARCHIVE_OF_TYPE: REQUEST_AND_RESPONSE",
			batchJSON(digestItem("a", "SHA-256", crypto.SHA256, "doc1"), digestItem("b", "SHA-256", crypto.SHA256, "doc2")), true, true},
		{"a PDF", config.KindPDFSigner, "ARCHIVERS: OldDatabaseArchiver\nARCHIVE_OF_TYPE: REQUEST_AND_RESPONSE", onePage(), true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			arch := &state.MemoryArchive{}
			f.archive, f.now = arch, func() time.Time { return t0 }
			w := f.workerOf(t, tt.kind, tt.props)
			if st := w.Status(t.Context()); !st.Active {
				t.Fatalf("status %v", st.Errors)
			}
			resp, err := w.Process(t.Context(), &workers.Request{Data: bytes.NewReader(tt.doc), Size: int64(len(tt.doc)), ID: "req-1"})
			if err != nil {
				t.Fatal(err)
			}
			if resp.ArchiveID != "req-1" {
				t.Errorf("ArchiveID %q, want the request ID", resp.ArchiveID)
			}
			items, _ := arch.Get(t.Context(), "req-1")
			if len(items) != 1 {
				t.Fatalf("%d items archived, want 1", len(items))
			}
			it := items[0]
			if it.Worker != "W" || !it.Time.Equal(t0) {
				t.Errorf("item of %s at %v", it.Worker, it.Time)
			}
			want := state.ArchiveItem{RequestID: "req-1", Time: it.Time, Worker: "W", RequestSize: -1, ResponseSize: -1}
			if tt.request {
				want.Request, want.RequestSize, want.RequestSHA256 = tt.doc, int64(len(tt.doc)), sha(tt.doc)
			}
			if tt.response {
				want.Response, want.ResponseSize, want.ResponseSHA256 = resp.Data, int64(len(resp.Data)), sha(resp.Data)
			}
			if !bytes.Equal(it.Request, want.Request) || !bytes.Equal(it.Response, want.Response) || it.RequestSize != want.RequestSize ||
				it.RequestSHA256 != want.RequestSHA256 || it.ResponseSize != want.ResponseSize || it.ResponseSHA256 != want.ResponseSHA256 {
				t.Errorf("archived request %d bytes (%d, %s), response %d bytes (%d, %s); want %d (%d, %s) and %d (%d, %s)",
					len(it.Request), it.RequestSize, it.RequestSHA256, len(it.Response), it.ResponseSize, it.ResponseSHA256,
					len(want.Request), want.RequestSize, want.RequestSHA256, len(want.Response), want.ResponseSize, want.ResponseSHA256)
			}
			// A refused request is not archived.
			if _, err := w.Process(t.Context(), &workers.Request{Data: strings.NewReader("x"), Size: 1, ID: "req-2",
				Metadata: map[string]string{"USING_BATCHSIGNING": "maybe"}}); err == nil {
				t.Fatal("a bad request was signed")
			}
			if items, _ := arch.Get(t.Context(), "req-2"); len(items) != 0 {
				t.Errorf("a refused request was archived: %+v", items)
			}
		})
	}
}

// TestArchiveTimeStamps: a TimeStampSigner archives the query and the
// reply (SignServer's TSA archiving).
func TestArchiveTimeStamps(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.addTSAKey(t, "tsa", nil)
	arch := &state.MemoryArchive{}
	f.archive = arch
	w := lookup(t, f.set(t, tsaYAML+"      ARCHIVERS: OldDatabaseArchiver\n      ARCHIVE_OF_TYPE: REQUEST_AND_RESPONSE\n"), "TSA")
	digest := sha256.Sum256([]byte("doc"))
	q, err := (&timestamp.Request{HashAlgorithm: crypto.SHA256, HashedMessage: digest[:], Certificates: true}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	resp, err := w.Process(t.Context(), &workers.Request{Data: bytes.NewReader(q), Size: int64(len(q)), ID: "ts-1"})
	if err != nil {
		t.Fatal(err)
	}
	items, _ := arch.Get(t.Context(), "ts-1")
	if len(items) != 1 || !bytes.Equal(items[0].Request, q) || !bytes.Equal(items[0].Response, resp.Data) || items[0].Worker != "TSA" {
		t.Fatalf("archived %+v", items)
	}
	// ParseResponse also verifies the token's signature.
	if ts, err := timestamp.ParseResponse(items[0].Response); err != nil || !bytes.Equal(ts.HashedMessage, digest[:]) || ts.HashAlgorithm != crypto.SHA256 {
		t.Errorf("the archived reply is not a time-stamp of the query's digest: %+v, %v", ts, err)
	}
}

// zeros is an endless stream of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// TestArchiveLargeRequest: a streamed document larger than the archive
// keeps is archived as its size and SHA-256, without holding it: signing
// 64 MiB allocates far less than the document.
func TestArchiveLargeRequest(t *testing.T) { // not parallel: it measures the process's allocations
	f := newFixture(t)
	arch := &state.MemoryArchive{}
	f.archive = arch
	w := f.workerOf(t, config.KindCAdESSigner, "DETACHEDSIGNATURE: true\nARCHIVERS: OldDatabaseArchiver\nARCHIVE_OF_TYPE: REQUEST_AND_RESPONSE")
	for _, size := range []int64{64 << 20, -1} { // known, and unknown (then kept until it is too large)
		const n = 64 << 20
		h := sha256.New()
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		resp, err := w.Process(context.Background(), &workers.Request{Data: io.TeeReader(io.LimitReader(zeros{}, n), h), Size: size, ID: "big"})
		runtime.ReadMemStats(&after)
		if err != nil {
			t.Fatal(err)
		}
		items, _ := arch.Get(context.Background(), "big")
		it := items[len(items)-1]
		if it.Request != nil || it.RequestSize != n || it.RequestSHA256 != hex.EncodeToString(h.Sum(nil)) || !bytes.Equal(it.Response, resp.Data) {
			t.Fatalf("size %d: archived request of %d bytes kept (size %d, %s), response kept %v", size, len(it.Request), it.RequestSize, it.RequestSHA256, it.Response != nil)
		}
		limit := uint64(4 << 20)
		if size < 0 {
			limit = 2*config.ArchiveMaxKept + 4<<20 // the buffer grows to the bound, then is let go
		}
		alloc := after.TotalAlloc - before.TotalAlloc
		t.Logf("size %d: %d MiB allocated", size, alloc>>20)
		if alloc > limit && !racetest.Enabled {
			t.Errorf("size %d: signing and archiving %d MiB allocated %d MiB, want at most %d MiB", size, n>>20, alloc>>20, limit>>20)
		}
	}
}

// failingArchive refuses every item.
type failingArchive struct{ state.MemoryArchive }

func (*failingArchive) Put(context.Context, state.ArchiveItem) error { return errors.New("disk full") }

// TestArchiveRefusal: an answer that cannot be archived is withheld, and a
// worker that archives on a server without an archive is offline.
func TestArchiveRefusal(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.archive = &failingArchive{}
	_, err := process(f.workerOf(t, config.KindCAdESSigner, "ARCHIVERS: OldDatabaseArchiver"), []byte("doc"), nil)
	wantErr(t, err, workers.ErrUnavailable, "could not keep the request, so the answer is withheld")

	f.archive = nil
	w := f.workerOf(t, config.KindCAdESSigner, "ARCHIVERS: OldDatabaseArchiver")
	if st := w.Status(t.Context()); st.Active || !strings.Contains(strings.Join(st.Errors, " "), "keeps no archive") {
		t.Errorf("status %+v", st)
	}
	_, err = process(w, []byte("doc"), nil)
	wantErr(t, err, workers.ErrUnavailable, "this server keeps no archive")
}

// TestPurgeArchive: each worker's items older than its ARCHIVE_RETENTION
// at the time given are deleted; a worker without retention keeps its own,
// and so are kept the items of a worker no longer configured (retention is
// a property of a configured worker; SignServer keeps archives for ever).
func TestPurgeArchive(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	arch := &state.MemoryArchive{}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	f.archive, f.now = arch, func() time.Time { return now }
	y := `tokens:
  - name: t
    type: soft
    properties: {KEYSTOREPATH: ks.p12}
workers:
  - {name: Kept, id: 1, kind: CAdESSigner, token: t, key: k, properties: {AUTHTYPE: NOAUTH, ARCHIVERS: OldDatabaseArchiver}}
  - {name: Day, id: 2, kind: CAdESSigner, token: t, key: k, properties: {AUTHTYPE: NOAUTH, ARCHIVERS: OldDatabaseArchiver, ARCHIVE_RETENTION: 24h}}
  - {name: Plain, id: 3, kind: PlainSigner, token: t, key: k, properties: {AUTHTYPE: NOAUTH}}
`
	set := f.build(t, y)
	sign := func(worker, id string, at time.Time) {
		t.Helper()
		now = at
		w, err := set.Lookup(worker)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Process(t.Context(), &workers.Request{Data: strings.NewReader("doc"), Size: 3, ID: id}); err != nil {
			t.Fatal(err)
		}
	}
	t0 := now
	sign("Kept", "k-old", t0)
	sign("Day", "d-old", t0)
	sign("Day", "d-new", t0.Add(20*time.Hour))
	sign("Plain", "p", t0)
	if err := arch.Put(t.Context(), state.ArchiveItem{RequestID: "gone-old", Worker: "Gone", Time: t0, Response: []byte("sig")}); err != nil {
		t.Fatal(err) // of a worker with ARCHIVE_RETENTION removed from the configuration since
	}
	tests := []struct {
		at      time.Time
		deleted int64
		left    []string
	}{
		{t0.Add(23 * time.Hour), 0, []string{"k-old", "d-old", "d-new", "gone-old"}},
		{t0.Add(24*time.Hour + time.Nanosecond), 1, []string{"k-old", "d-new", "gone-old"}},
		{t0.Add(100 * 24 * time.Hour), 1, []string{"k-old", "gone-old"}},
	}
	for _, tt := range tests {
		n, err := workers.PurgeArchive(t.Context(), set, tt.at)
		if err != nil || n != tt.deleted {
			t.Errorf("purge at %v: %d, %v; want %d", tt.at, n, err, tt.deleted)
		}
		for _, id := range []string{"k-old", "d-old", "d-new", "gone-old"} {
			items, _ := arch.Get(t.Context(), id)
			if want := strings.Contains(strings.Join(tt.left, " "), id); (len(items) == 1) != want {
				t.Errorf("after the purge at %v, %s archived: %v, want %v", tt.at, id, len(items) == 1, want)
			}
		}
	}
}
