package tokens

import (
	"context"
	"crypto"
	"crypto/rand"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
)

// SignAll signs every input with the key alias of tok and returns one Result
// per input, in input order.
//
// When tok implements BatchSigner the inputs go to it in one call. Otherwise
// SignAll signs item by item on at most Parallelism() goroutines (GOMAXPROCS
// for tokens that do not say), so that a token without a batch API still
// serves a batch transparently. Each input is a digest computed with
// opts.HashFunc(), or the whole message when opts.HashFunc() is 0 (Ed25519).
//
// The returned error reports a failure that concerns every item (token
// offline, unknown key, cancelled context); item failures are in the results.
func SignAll(ctx context.Context, tok Token, alias string, inputs [][]byte, opts crypto.SignerOpts) ([]Result, error) {
	if len(inputs) == 0 {
		return nil, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if bs, ok := tok.(BatchSigner); ok {
		res, err := bs.SignBatch(ctx, alias, inputs, opts)
		if err != nil {
			return nil, err
		}
		if len(res) != len(inputs) {
			return nil, fmt.Errorf("token %s returned %d results for %d inputs", tok.Name(), len(res), len(inputs))
		}
		return res, nil
	}
	signer, err := tok.Signer(ctx, alias)
	if err != nil {
		return nil, err
	}
	return signEach(ctx, signer, inputs, opts, parallelism(tok, len(inputs))), nil
}

// SignTrace holds hooks that SignAll and the tokens it calls call as they
// sign, carried by the context as net/http/httptrace's ClientTrace is by a
// request's. A batch uses them to start the work that follows its signing
// (writing its answer) on cores that are still running, and while the
// signatures are being recorded.
type SignTrace struct {
	// SignerDone is called on each goroutine that SignAll signs items on
	// one by one, once that goroutine finds no item left to sign, before
	// it stops; the other goroutines' last items may still be signing, so
	// it must not wait for them. It is not called when the token signs
	// the batch itself (a BatchSigner such as tokens/dsm); one that signs
	// through SignAll in turn (tokens/guard) passes the context on, and
	// the goroutines of that SignAll call it.
	//
	// Goroutines started there begin on a core that is still running.
	// Started once SignAll has returned, when the cores that signed have
	// gone idle, a goroutine waits for the kernel to wake one (about
	// 0.35 ms on a virtual machine, a few percent of a batch of 1000).
	SignerDone func()

	// Signed is called by a token that holds its signatures back until it
	// has done something else with them (tokens/guard: recorded them in
	// the signing log, which waits for a commit to disk), as soon as they
	// exist, on the goroutine that called SignAll, with the results
	// SignAll returns if that succeeds (some of which may have failed:
	// tokens/guard hands out the others). The caller may start its work on
	// them, but must hand nothing out unless SignAll returns them without
	// error. It must not block.
	Signed func(res []Result)
}

type signTraceKey struct{}

// WithSignTrace returns a copy of ctx whose SignAll calls, and the tokens
// they call, call t's hooks.
func WithSignTrace(ctx context.Context, t *SignTrace) context.Context {
	return context.WithValue(ctx, signTraceKey{}, t)
}

// TraceSigned calls the Signed hook of ctx's SignTrace, if it has one: a
// token that holds signatures back calls it as soon as they exist.
func TraceSigned(ctx context.Context, res []Result) {
	if f := traceFrom(ctx).Signed; f != nil {
		f(res)
	}
}

// signerDone returns the SignerDone hook of ctx's SignTrace, or a function
// that does nothing.
func signerDone(ctx context.Context) func() {
	if f := traceFrom(ctx).SignerDone; f != nil {
		return f
	}
	return func() {}
}

// traceFrom returns (a copy of) ctx's SignTrace, one without hooks when
// there is none or a nil one: a value, so that SignAll allocates nothing
// for a context without a trace, a single request's.
func traceFrom(ctx context.Context) SignTrace {
	if t, _ := ctx.Value(signTraceKey{}).(*SignTrace); t != nil {
		return *t
	}
	return SignTrace{}
}

func parallelism(tok Token, n int) int {
	p := runtime.GOMAXPROCS(0)
	if pz, ok := tok.(Parallelizer); ok && pz.Parallelism() > 0 {
		p = pz.Parallelism()
	}
	return min(p, n)
}

// signEach signs inputs on p goroutines. Workers take the next index from a
// shared counter rather than a channel: no per-item allocation or hand-off,
// and each result slot is written by exactly one goroutine.
func signEach(ctx context.Context, signer crypto.Signer, inputs [][]byte, opts crypto.SignerOpts, p int) []Result {
	res := make([]Result, len(inputs))
	one := func(i int) {
		if err := ctx.Err(); err != nil {
			res[i].Err = err
			return
		}
		res[i].Signature, res[i].Err = signer.Sign(rand.Reader, inputs[i], opts)
	}
	done := signerDone(ctx)
	if p <= 1 {
		for i := range inputs {
			one(i)
		}
		done()
		return res
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range p {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(inputs) {
					done()
					return
				}
				one(i)
			}
		})
	}
	wg.Wait()
	return res
}
