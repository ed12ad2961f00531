package postgres

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/signet-project/signet/state"
)

// lease is a key's signatures leased to this node.
type lease struct {
	avail   int64 // leased and not used yet
	db      int64 // the cluster count stored at the last lease
	pending int64 // unlimited signatures made while the database was unreachable, not stored yet
	used    bool  // granted from since the last lease tick (giveBackIdle)
}

// reservation is one Reserve call waiting for the writer.
type reservation struct {
	key      string
	n, limit int64
	count    int64
	granted  bool
	err      error
	done     chan struct{}
}

// grant is the SQL expression of the signatures leased: what is needed
// ($2) plus up to Lease ($4) or an eighth of what the limit ($3) leaves,
// never past the limit. c is the stored count.
func grant(c string) string {
	return fmt.Sprintf("GREATEST(0, LEAST($3::bigint - %[1]s, $2::bigint + LEAST($4::bigint, GREATEST(0, ($3::bigint - %[1]s - $2::bigint) / 8))))", c)
}

// leaseSQL leases signatures of key $1 and adds $5 unlimited signatures
// made without a lease, in one statement; it returns the new count and the
// signatures leased.
var leaseSQL = `INSERT INTO key_usage AS u (key, count, granted) VALUES ($1, ` + grant("0") + ` + $5::bigint, ` + grant("0") + `)
	ON CONFLICT (key) DO UPDATE SET count = u.count + ` + grant("u.count") + ` + $5::bigint, granted = ` + grant("u.count") + `
	RETURNING count, granted`

// Reserve implements state.Counters: it grants n signatures of key from
// this node's lease, leasing more from the database when it runs out. A
// key with a limit (limit >= 0) is refused while the database is
// unreachable; an unlimited key goes on and is counted when it returns.
func (s *Store) Reserve(ctx context.Context, key string, n, limit int64) (int64, error) {
	if n < 0 {
		return 0, fmt.Errorf("reserve %d signatures of key %s: the number must not be negative", n, key)
	}
	if n == 0 {
		return s.Count(ctx, key)
	}
	if limit >= 0 {
		if err := s.Health(); err != nil {
			return 0, fmt.Errorf("key %s has a usage limit shared by the cluster: %w", key, err)
		}
	}
	s.mu.Lock()
	if k := s.keys[key]; k != nil && !s.closing && k.covers(n, limit) {
		k.avail -= n
		k.used = true
		c := k.db - k.avail
		s.mu.Unlock()
		return c, nil
	}
	s.mu.Unlock()
	r := &reservation{key: key, n: n, limit: limit, done: make(chan struct{})}
	if err := state.Submit(ctx, s.reqs, s.quit, r, r.done, ErrClosed); err != nil {
		return 0, err
	}
	return r.count, r.err
}

// counterWriter leases for the reservations, grouping those that wait
// together into one round trip, and gives back idle leases on each value
// of tick (every LeaseIdle when nil). Both run here, so that a lease is
// never given back while a lease of the same key is on its way.
func (s *Store) counterWriter(tick <-chan time.Time) {
	defer s.wg.Done()
	if tick == nil {
		t := time.NewTicker(LeaseIdle)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-s.quit:
			s.release()
			return
		case <-tick:
			s.giveBackIdle()
		case r := <-s.reqs:
			group := state.Gather(r, s.reqs, maxGroup)
			s.lease(group)
			for _, r := range group {
				close(r.done)
			}
		}
	}
}

// giveBackIdle gives back the unused leases of the keys not granted from
// since the last tick. A lease was only given back by Close otherwise, and
// near a key's limit the other nodes were refused (ErrLimit) while this one
// held signatures it did not use. Nothing is given back while the database
// is known to be down: the lease stays usable.
func (s *Store) giveBackIdle() {
	if s.Health() != nil {
		return
	}
	s.mu.Lock()
	b := &pgx.Batch{}
	for key, k := range s.keys {
		if !k.used && k.avail > 0 {
			// Dropped here before the database is asked: if the answer is
			// lost, the signatures are lost to the limit, never made twice.
			b.Queue(`UPDATE key_usage SET count = GREATEST(0, count - $2::bigint) WHERE key = $1`, key, k.avail)
			k.db -= k.avail
			k.avail = 0
		}
		k.used = false
	}
	s.mu.Unlock()
	s.giveBack(b, "idle key usage leases")
}

// covers reports whether the lease grants n signatures under limit: a
// lease taken under a higher limit (KEYUSAGELIMIT lowered by a reload)
// grants none past the lower one.
func (k *lease) covers(n, limit int64) bool {
	return k.avail >= n && (limit < 0 || k.db-k.avail+n <= limit)
}

// take grants r from its key's lease when it covers it.
func (s *Store) take(r *reservation) bool {
	k := s.keys[r.key]
	if k == nil || !k.covers(r.n, r.limit) {
		return false
	}
	k.avail -= r.n
	k.used = true
	r.count, r.granted = k.db-k.avail, true
	return true
}

// lease answers a group of reservations.
func (s *Store) lease(group []*reservation) {
	need := map[string]int64{}  // signatures to lease per key
	limit := map[string]int64{} // the smallest limit asked with the key
	var order []string
	s.mu.Lock()
	for _, r := range group {
		if s.take(r) {
			continue
		}
		if s.keys[r.key] == nil {
			s.keys[r.key] = &lease{}
		}
		if _, ok := need[r.key]; !ok {
			order = append(order, r.key)
			limit[r.key] = math.MaxInt64
		}
		need[r.key] += r.n
		if r.limit >= 0 {
			limit[r.key] = min(limit[r.key], r.limit)
		}
	}
	pending := map[string]int64{}
	b := &pgx.Batch{}
	for _, key := range order {
		k := s.keys[key]
		pending[key] = k.pending
		b.Queue(leaseSQL, key, max(need[key]-k.avail, 1), limit[key], int64(Lease), k.pending)
	}
	s.mu.Unlock()
	if len(order) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	type result struct{ count, granted int64 }
	results := make([]result, len(order))
	err := func() error {
		// Known to be down: the batch would only wait for its failure (a
		// connect timeout of seconds where the server is gone without a
		// reset) before the unlimited keys are counted in memory anyway.
		// The monitor says when it is back.
		if err := s.Health(); err != nil {
			return err
		}
		br := s.pool.SendBatch(ctx, b)
		defer br.Close()
		for i := range order {
			if err := br.QueryRow().Scan(&results[i].count, &results[i].granted); err != nil {
				return err
			}
		}
		return nil
	}()
	if err != nil && !errors.Is(err, ErrClosed) && !errors.Is(err, state.ErrUnavailable) {
		// The database is down only if it does not answer a ping either:
		// right after it restarts, a pooled connection of before fails once
		// while the database answers, and marking it down then flapped Health
		// back to unreachable just after the monitor had seen it recover
		// (workers with a usage limit offline for up to a ping interval).
		pctx, pcancel := context.WithTimeout(context.Background(), time.Second)
		if cerr := s.check(pctx); cerr != nil { // a standby answers a ping
			s.setHealth(cerr)
		}
		pcancel()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil {
		for i, key := range order {
			k := s.keys[key]
			k.avail += results[i].granted
			k.db = results[i].count
			k.pending -= pending[key]
		}
	}
	for _, r := range group {
		if r.granted {
			continue // granted from the lease above
		}
		switch {
		case s.take(r):
		case err != nil && r.limit < 0:
			// Unlimited: sign on and count it when the database is back.
			k := s.keys[r.key]
			k.pending += r.n
			r.count, r.granted = k.db+k.pending, true
		case err != nil:
			s.log.Error("key usage lease", "key", r.key, "error", err)
			r.err = fmt.Errorf("key %s has a usage limit shared by the cluster: %w", r.key, errUnreachable)
		default:
			k := s.keys[r.key]
			used := k.db - k.avail
			r.err = fmt.Errorf("key %s has made %d of its %d signatures in the cluster, %d more were asked for: %w", r.key, used, r.limit, r.n, state.ErrLimit)
		}
	}
}

// release gives the unused leases back and stores the pending counts, when
// the store closes.
func (s *Store) release() {
	s.mu.Lock()
	s.closing = true
	b := &pgx.Batch{}
	for key, k := range s.keys {
		if k.avail != 0 || k.pending != 0 {
			// An INSERT too: a key first used while the database was
			// down has no row yet, and an UPDATE lost its pending count.
			b.Queue(`INSERT INTO key_usage AS u (key, count, granted) VALUES ($1, GREATEST(0, $3::bigint - $2::bigint), 0)
				ON CONFLICT (key) DO UPDATE SET count = GREATEST(0, u.count - $2::bigint + $3::bigint)`, key, k.avail, k.pending)
			k.avail, k.pending = 0, 0
		}
	}
	s.mu.Unlock()
	s.giveBack(b, "the unused key usage leases")
}

// giveBack sends b, statements that give leases back, unless it is empty;
// what names the leases in the error logged when it fails: they were
// dropped before, so the signatures are lost to the limit, never made
// twice.
func (s *Store) giveBack(b *pgx.Batch, what string) {
	if b.Len() == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		s.log.Error(what+" could not be given back: those signatures are lost to the limit", "error", err)
	}
}

// Count implements state.Counters: the signatures of key made or leased in
// the cluster, as this node last saw them.
func (s *Store) Count(ctx context.Context, key string) (int64, error) {
	if err := s.Health(); err != nil {
		return 0, err
	}
	s.mu.Lock()
	if k := s.keys[key]; k != nil && (k.db != 0 || k.avail != 0) {
		c := k.db - k.avail + k.pending
		s.mu.Unlock()
		return c, nil
	}
	s.mu.Unlock()
	var c int64
	err := s.pool.QueryRow(ctx, "SELECT count FROM key_usage WHERE key = $1", key).Scan(&c)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read the usage count of key %s: %w", key, s.hide(err))
	}
	return c, nil
}
