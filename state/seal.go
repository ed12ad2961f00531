package state

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/signet-project/signet/internal/atomicfile"
)

// Seal keeps the head of the audit chain (the number and hash of the last
// record) outside the state database, with an HMAC-SHA256 under a key that
// is not in the database either. A chain that verifies record by record
// says nothing about records cut from its end, a wiped table or an older
// copy of the database put back; the sealed head does: Verify compares the
// log with it.
//
// The key is a file (created with 32 random bytes, mode 0600, when it does
// not exist); the head is written next to it as KEYFILE.head on every
// Append. Keep both outside the data folder, so that restoring the data
// folder does not restore them.
type Seal struct {
	key  []byte
	head string
}

// HeadFile is the file that keeps the sealed head, beside the key: an error
// that means "the state was deleted" names it, since deleting the state on
// purpose (a fresh demo) takes deleting this file too.
func (s *Seal) HeadFile() string { return s.head }

// Head is a sealed chain head.
type Head struct {
	Seq  int64
	Hash []byte
}

// ErrNoHead reports that no head was sealed yet.
var ErrNoHead = errors.New("no audit head was sealed yet")

// OpenSeal reads the seal key at keyFile, creating it when it does not
// exist and create is true.
func OpenSeal(keyFile string, create bool) (*Seal, error) {
	b, err := os.ReadFile(keyFile)
	if errors.Is(err, fs.ErrNotExist) && create {
		key := make([]byte, 32)
		rand.Read(key)
		if err := os.MkdirAll(filepath.Dir(keyFile), 0o700); err != nil {
			return nil, fmt.Errorf("create the audit seal key: %w", err)
		}
		if err := atomicfile.Write(keyFile, []byte(hex.EncodeToString(key)+"\n"), 0o600); err != nil {
			return nil, fmt.Errorf("create the audit seal key: %w", err)
		}
		return &Seal{key: key, head: keyFile + ".head"}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the audit seal key: %w", err)
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(key) < 16 {
		return nil, fmt.Errorf("the audit seal key %s is not 16 or more bytes in hex", keyFile)
	}
	return &Seal{key: key, head: keyFile + ".head"}, nil
}

func (s *Seal) mac(h Head) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte("signet-audit-head-v1\x00"))
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(h.Seq))
	m.Write(n[:])
	m.Write(h.Hash)
	return m.Sum(nil)
}

// MAC returns the seal of h, for a backend that keeps the sealed head
// beside the log: a cluster's database, which every node appends to.
func (s *Seal) MAC(h Head) []byte { return s.mac(h) }

// Write seals h as the head.
func (s *Seal) Write(h Head) error {
	text := fmt.Sprintf("seq %d\nhash %x\nmac %x\n", h.Seq, h.Hash, s.mac(h))
	if err := atomicfile.Write(s.head, []byte(text), 0o600); err != nil {
		return fmt.Errorf("seal the audit head: %w", err)
	}
	return nil
}

// Read returns the sealed head; ErrNoHead when there is none, an error when
// its MAC does not match (the head file was edited or made without the
// key).
func (s *Seal) Read() (Head, error) {
	b, err := os.ReadFile(s.head)
	if errors.Is(err, fs.ErrNotExist) {
		return Head{}, ErrNoHead
	}
	if err != nil {
		return Head{}, fmt.Errorf("read the audit head: %w", err)
	}
	var h Head
	var mac []byte
	for line := range strings.SplitSeq(strings.TrimSpace(string(b)), "\n") {
		k, v, _ := strings.Cut(line, " ")
		switch k {
		case "seq":
			h.Seq, err = strconv.ParseInt(v, 10, 64)
		case "hash":
			h.Hash, err = hex.DecodeString(v)
		case "mac":
			mac, err = hex.DecodeString(v)
		}
		if err != nil {
			break
		}
	}
	if err != nil || !hmac.Equal(mac, s.mac(h)) {
		return Head{}, fmt.Errorf("the audit head %s does not carry a valid seal: it was edited, or written with another key", s.head)
	}
	return h, nil
}

// Sealed is an Audit whose head is sealed on every Append and checked by
// Verify. It works over any backend.
type Sealed struct {
	Audit
	seal *Seal
	mu   sync.Mutex // Append and its seal in one order
}

// NewSealed returns a seals the head of a with s.
func NewSealed(a Audit, s *Seal) *Sealed { return &Sealed{Audit: a, seal: s} }

// Append stores e and seals the new head.
func (s *Sealed) Append(ctx context.Context, e Entry) (Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, err := s.Audit.Append(ctx, e)
	if err != nil {
		return e, err
	}
	return e, s.seal.Write(Head{Seq: e.Seq, Hash: e.Hash})
}

// Verify checks the chain and that it ends at the sealed head.
func (s *Sealed) Verify(ctx context.Context) error {
	_, err := s.VerifyCount(ctx)
	return err
}

// VerifyCount is Verify that also returns the number of records checked.
// Besides what the backend's Verify finds, it reports records cut from
// the end, a wiped log and an older copy of the database put back (the log
// ends before the sealed head), and records added without the seal key.
func (s *Sealed) VerifyCount(ctx context.Context) (int64, error) {
	if err := s.Audit.Verify(ctx); err != nil {
		return 0, err
	}
	return CheckHead(ctx, s.Audit, s.seal)
}

// CheckHead compares the end of a (whose chain is verified) with the head
// sealed by seal, and returns the number of records.
func CheckHead(ctx context.Context, a Audit, seal *Seal) (int64, error) {
	h, err := seal.Read()
	noHead := errors.Is(err, ErrNoHead)
	if err != nil && !noHead {
		return 0, &ChainError{Seq: 0, Reason: err.Error()}
	}
	var tail []Entry
	if h.Seq > 0 {
		tail, err = a.Entries(ctx, h.Seq-1, 2)
	} else {
		tail, err = a.Entries(ctx, 0, 1)
	}
	if err != nil {
		return 0, err
	}
	switch {
	case h.Seq > 0 && (len(tail) == 0 || tail[0].Seq != h.Seq):
		return 0, &ChainError{Seq: h.Seq, Reason: fmt.Sprintf("is missing: the sealed head says %d records were written, but the log ends before (records cut from the end, the table wiped, or an older copy of the database restored)", h.Seq)}
	case h.Seq > 0 && !bytes.Equal(tail[0].Hash, h.Hash):
		return 0, &ChainError{Seq: h.Seq, Reason: "is not the record that was sealed: its hash differs from the sealed head (the log was replaced or rewritten)"}
	case h.Seq > 0 && len(tail) > 1:
		return 0, &ChainError{Seq: tail[1].Seq, Reason: fmt.Sprintf("was not written by Signet: the sealed head ends at record %d", h.Seq)}
	case h.Seq == 0 && len(tail) > 0 && noHead:
		return 0, &ChainError{Seq: 1, Reason: "is not covered by a sealed head: the head file next to the seal key is missing (deleted, or the log was written with another key)"}
	}
	return h.Seq, nil
}

// SealTail seals the one record that a process killed between an Append's
// commit and the sealing of its head left past the sealed head (Sealed
// writes and syncs the head file after the commit, a few milliseconds of
// each Append), and returns its number; 0 when there is none. Without it
// the log of such a kill was refused at the next start as cut or restored,
// its last record "not written by Signet". Only that state is sealed: one
// record, the last, whose hash is right and which follows the sealed head
// (the first record when no head was sealed yet); anything else is left
// for CheckHead to report. Sealed appends one record at a time, so a kill
// cannot leave two. The caller notes the record in the log, so that the
// chain shows that it was sealed after the fact.
func SealTail(ctx context.Context, a Audit, seal *Seal) (int64, error) {
	h, err := seal.Read()
	if err != nil && !errors.Is(err, ErrNoHead) {
		return 0, nil // CheckHead reports it
	}
	tail, err := a.Entries(ctx, h.Seq, 2)
	if err != nil {
		return 0, err
	}
	if len(tail) != 1 {
		return 0, nil
	}
	e := tail[0]
	// The first record's previous hash is the backend's (empty, zeros).
	if e.Seq != h.Seq+1 || (h.Seq > 0 && !bytes.Equal(e.Prev, h.Hash)) || !bytes.Equal(Hash(e), e.Hash) {
		return 0, nil
	}
	if h.Seq > 0 {
		// The sealed head itself must still be the record before.
		prev, err := a.Entries(ctx, h.Seq-1, 1)
		if err != nil {
			return 0, err
		}
		if len(prev) != 1 || prev[0].Seq != h.Seq || !bytes.Equal(prev[0].Hash, h.Hash) {
			return 0, nil
		}
	}
	if err := seal.Write(Head{Seq: e.Seq, Hash: e.Hash}); err != nil {
		return 0, err
	}
	return e.Seq, nil
}
