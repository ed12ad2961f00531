package tsp

import (
	"context"
	"crypto/rand"
	"fmt"
	"math/big"
	"sync"
	"time"
)

// RandomSerials returns a SerialSource for one authority process. A serial
// number (at most 126 bits, always positive) is a nanosecond Unix time that
// is strictly increasing within the source (the last value plus one when the
// clock has not moved on) followed by 63 bits drawn at random for each number.
//
// This is SignServer's way to never reuse a serial number across restarts
// without keeping state: its TimeStampSigner draws serials of at least 64
// bits from a secure random source, and so does this one (63 random bits
// from crypto/rand below a 63-bit timestamp), so a restarted server needs no
// counter on disk.
//
// Within one source numbers are unique by construction. Two sources (after a
// restart, or on another node sharing the key) can only repeat a number if
// they hand one out for the very same nanosecond and draw the same 63 random
// bits, a chance of 2^-63 per such coincidence. Deployments that want
// uniqueness by construction across nodes plug in a database sequence.
func RandomSerials() SerialSource {
	return &randomSerials{now: time.Now}
}

type randomSerials struct {
	now  func() time.Time
	mu   sync.Mutex
	last int64
}

// NextSerial returns the next serial number.
func (s *randomSerials) NextSerial(ctx context.Context) (*big.Int, error) {
	var low [8]byte
	if _, err := rand.Read(low[:]); err != nil {
		return nil, fmt.Errorf("read random serial number bits: %w", err)
	}
	low[0] &= 0x7f
	s.mu.Lock()
	t := max(s.now().UnixNano(), s.last+1) // ≥ 1: last starts at 0
	s.last = t
	s.mu.Unlock()
	n := new(big.Int).SetInt64(t)
	n.Lsh(n, 63)
	n.Or(n, new(big.Int).SetBytes(low[:]))
	return n, nil
}
