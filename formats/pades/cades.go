package pades

import (
	"context"
	"time"

	"github.com/signet-project/signet/formats/cms"
)

// StampFunc adds a signature time-stamp to the SignedData der whose
// signature value is signature (the worker's time-stamper does, from
// TSA_WORKER or TSA_URL).
type StampFunc func(ctx context.Context, der, signature []byte) ([]byte, error)

// SignFunc signs the input of a cms.Pending (a token does, in the worker).
type SignFunc func(ctx context.Context, input []byte) ([]byte, error)

// tsReserve is the room kept for a signature time-stamp token: its TSA
// chain and signature, generous for RSA-4096 chains of three.
const tsReserve = 12 << 10

// Reserve returns the /Contents size for signatures by s: the CAdES
// SignedData with the largest signature value Signet makes, plus room for
// a time-stamp token when timeStamped.
func Reserve(s *cms.Signer, timeStamped bool) int {
	p, err := s.Prepare(make([]byte, s.Hash().Size()), time.Now())
	if err != nil {
		return 32 << 10
	}
	n := int(p.Size(1024, 0)) + 64
	if timeStamped {
		n += tsReserve
	}
	return n
}

// Encapsulate finishes a prepared document with the SignedData of pending
// and its signature value, time-stamped by stamp when it is not nil
// (PAdES-BASELINE-T).
func Encapsulate(ctx context.Context, p *Prepared, pending *cms.Pending, signature []byte, stamp StampFunc) ([]byte, error) {
	der, err := pending.Encode(signature, nil)
	if err != nil {
		return nil, err
	}
	if stamp != nil {
		if der, err = stamp(ctx, der, signature); err != nil {
			return nil, err
		}
	}
	return p.Finish(der)
}

// Sign makes a PAdES signature of doc in one call: Prepare, the CAdES
// signed attributes over the ByteRange digest (no signing-time: s must be
// made with OmitSigningTime), sign, and Encapsulate.
func Sign(ctx context.Context, doc []byte, s *cms.Signer, sign SignFunc, stamp StampFunc, opts Options) ([]byte, error) {
	if opts.ContentsSize == 0 {
		opts.ContentsSize = Reserve(s, stamp != nil)
	}
	p, err := Prepare(ctx, doc, opts)
	if err != nil {
		return nil, err
	}
	pending, err := s.Prepare(p.Digest(s.Hash()), opts.Time)
	if err != nil {
		return nil, err
	}
	sig, err := sign(ctx, pending.Input())
	if err != nil {
		return nil, err
	}
	return Encapsulate(ctx, p, pending, sig, stamp)
}
