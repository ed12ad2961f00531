package workers

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/signet-project/signet/internal/clienttext"
	"github.com/signet-project/signet/tokens"
)

// Set is an immutable set of workers and the tokens they use, built from one
// configuration. A reload builds a new Set and swaps it into the Registry.
type Set struct {
	workers []Worker // sorted by ID
	byName  map[string]Worker
	byID    map[int]Worker
	tokens  map[string]tokens.Token
	// fingerprints of the token configurations, to reuse tokens on reload.
	fingerprints map[string]string
	// offline names the workers that were OFFLINE when Build made the Set.
	offline []string

	// refs counts the Registry's hold on the Set (1 while it is current)
	// and the requests that acquired it. When a retired Set's count drops
	// to zero, it closes the tokens in retire.
	refs   atomic.Int64
	retire []tokens.Token // unwrapped (tokens.Unwrap): the tokens themselves, not a Set's guards
}

// acquire takes a reference unless the Set has already been let go.
func (s *Set) acquire() bool {
	for {
		n := s.refs.Load()
		if n <= 0 {
			return false
		}
		if s.refs.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// release drops a reference; the last one closes the retired tokens.
func (s *Set) release() {
	if s.refs.Add(-1) == 0 {
		closeTokens(s.retire)
	}
}

// closeTokens closes the tokens that can be closed (tokens.Closer); they
// are unwrapped already (Swap retires them so).
func closeTokens(toks []tokens.Token) {
	for _, t := range toks {
		if c, ok := t.(tokens.Closer); ok {
			c.Close() // the token is gone whatever the answer; it logs its own trouble
		}
	}
}

// NewSet returns a Set of the given workers and tokens. Worker names are
// matched case-insensitively, as SignServer does.
func NewSet(ws []Worker, toks map[string]tokens.Token) *Set {
	s := &Set{
		workers: slices.Clone(ws),
		byName:  make(map[string]Worker, len(ws)),
		byID:    make(map[int]Worker, len(ws)),
		tokens:  toks,
	}
	s.refs.Store(1) // the Registry's
	slices.SortFunc(s.workers, func(a, b Worker) int { return a.ID() - b.ID() })
	for _, w := range ws {
		s.byName[strings.ToLower(w.Name())] = w
		s.byID[w.ID()] = w
	}
	return s
}

// Workers returns the workers ordered by ID.
func (s *Set) Workers() []Worker { return s.workers }

// Offline returns the names of the workers that were OFFLINE when Build
// made the Set, for whatever reason: configuration problems, a token that
// could not be opened or is not activated, a key that does not fit. A
// reload logs it beside the configuration's problems, which do not count
// the workers that are OFFLINE for reasons outside the configuration.
func (s *Set) Offline() []string { return s.offline }

// Tokens returns the tokens by name.
func (s *Set) Tokens() map[string]tokens.Token { return s.tokens }

// Lookup finds a worker by name or by numeric ID.
func (s *Set) Lookup(idOrName string) (Worker, error) {
	if w, ok := s.byName[strings.ToLower(idOrName)]; ok {
		return w, nil
	}
	if id, err := strconv.Atoi(idOrName); err == nil {
		if w, ok := s.byID[id]; ok {
			return w, nil
		}
	}
	return nil, &Error{Kind: ErrNotFound, Msg: fmt.Sprintf("No worker named or numbered %s: check the worker name.", clienttext.Quote(idOrName))}
}

// Registry holds the live Set. Requests take the current Set once and finish
// on it even when a reload swaps in a new one.
type Registry struct {
	cur atomic.Pointer[Set]
}

// NewRegistry returns a Registry serving s.
func NewRegistry(s *Set) *Registry {
	r := &Registry{}
	r.cur.Store(s)
	return r
}

// Current returns the Set in force.
func (r *Registry) Current() *Set { return r.cur.Load() }

// In returns the Set a request holds, as WithSet put it in ctx, or the Set
// in force for a context without one. A request uses its own Set
// throughout: the Set in force may have been swapped since the request
// acquired its own, and the tokens of a Set that no request holds are
// closed (a PKCS#11 module finalized) under a signature still using them.
func (r *Registry) In(ctx context.Context) *Set {
	if s := SetFrom(ctx); s != nil {
		return s
	}
	return r.Current()
}

type setKey struct{}

// WithSet returns a copy of ctx that carries s, the Set the request it
// serves has acquired (Registry.Acquire).
func WithSet(ctx context.Context, s *Set) context.Context {
	return context.WithValue(ctx, setKey{}, s)
}

// SetFrom returns the Set WithSet put in ctx, or nil.
func SetFrom(ctx context.Context) *Set {
	s, _ := ctx.Value(setKey{}).(*Set)
	return s
}

// Acquire returns the Set in force and holds it, with its tokens open,
// until release is called: a request acquires the Set it runs on.
func (r *Registry) Acquire() (set *Set, release func()) {
	for {
		s := r.cur.Load()
		if s.acquire() {
			return s, sync.OnceFunc(s.release)
		}
	}
}

// Swap installs s and returns the previous Set. The tokens of the previous
// Set that s does not use are closed once the requests that acquired the
// previous Set have released it.
func (r *Registry) Swap(s *Set) *Set {
	old := r.cur.Swap(s)
	if old != nil && old != s {
		// Tokens are compared unwrapped: a reused token is guarded anew
		// by each Set (tokens/guard).
		kept := make(map[tokens.Token]bool, len(s.tokens))
		for _, t := range s.tokens {
			kept[tokens.Unwrap(t)] = true
		}
		for _, t := range old.tokens {
			if u := tokens.Unwrap(t); !kept[u] {
				old.retire = append(old.retire, u)
			}
		}
		old.release()
	}
	return old
}

// Close retires the Set in force for an empty one: every token is closed
// once the requests that hold it have finished. It is the server's last
// step at shutdown.
func (r *Registry) Close() { r.Swap(NewSet(nil, nil)) }

// Lookup finds a worker in the current Set.
func (r *Registry) Lookup(idOrName string) (Worker, error) { return r.Current().Lookup(idOrName) }
